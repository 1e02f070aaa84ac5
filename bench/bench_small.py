"""Small cases against the numpy reference (issue 14): a 3x3 10% tariff cut.

Issue 14's goals measured here:

* "a 3x3 tariff cut within 3 times the numpy reference time of the same
  equilibrium": the reference (bench/reference_numpy.py, numpy only) and
  ``cge.Equilibrium.solve(tariff=...)`` solve the same 10% cut of every tariff
  of ``cge.examples.random_economy(3, 3, seed=SEED, io=True,
  market_structure="melitz")``, each from its own solved benchmark, in this
  process after warm-up; the median of many repeats is compared.
* "import cge plus the first solve under 2 s": a fresh interpreter imports
  cge, builds the model and solves the benchmark (and then the first shock).

What each side's timed call does, exactly:

``reference``
    ``ref.solve(tariff, start=benchmark)``: the intercepts at the new tariff,
    Newton's method (analytic Jacobian, dense LU of the 45 x 45 system) to a
    largest residual of 1e-12 from the benchmark solution, and a
    :class:`reference_numpy.Solution` of numpy arrays. Not timed: reading the
    primitives and building the constant matrices (``Reference(prim)``, done
    once per economy like cge's model build), and the benchmark solve.
    ``reference incl. reading`` also times ``Reference(prim)`` in every call.
``cge``
    the whole call ``eq.solve(tariff=tariff)`` on an ``Equilibrium`` whose
    benchmark is solved: checking the primitives, writing the parameters,
    the homotopy bookkeeping, the solve (cge's Newton method or IPOPT, to
    IPOPT's tolerance 1e-10), the checks after it (Walras' law, selection)
    and the pandas ``Results`` (``cge.results.extract``, also timed alone on
    the solved model, called as ``solve()`` calls it). Between timed calls an untimed
    ``eq.solve(tariff=benchmark tariff)`` returns the model to the benchmark
    (its solution to solver precision), so every timed call starts from the
    benchmark as the reference's does.

Wall seconds (``time.perf_counter``) and CPU seconds of this process
(``time.process_time``) are both reported: on a shared machine the CPU
seconds are the steadier measure.

    python bench/bench_small.py [--seed 0] [--repeats 300] [--cge-repeats 40] [--fresh 3]
                                [--profile 25] [--importtime 15]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load_reference():
    spec = importlib.util.spec_from_file_location("reference_numpy", HERE / "reference_numpy.py")
    mod = sys.modules.setdefault("reference_numpy", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(mod)
    return mod


def _time(call, repeats: int, between=None) -> tuple[float, float, list]:
    """Median wall and CPU seconds of ``call()`` over ``repeats`` (``between()`` untimed
    after each), and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = call()
        w1, c1 = time.perf_counter(), time.process_time()
        walls.append(w1 - w0)
        cpus.append(c1 - c0)
        if between is not None:
            between()
    return statistics.median(walls), statistics.median(cpus), out


FRESH = r"""
import json, time, sys
w0, c0 = time.perf_counter(), time.process_time()
import cge
from cge.examples import random_economy
w1, c1 = time.perf_counter(), time.process_time()
prim = random_economy(3, 3, seed=SEED, io=True, market_structure="melitz")
eq = cge.Equilibrium(prim)
w2, c2 = time.perf_counter(), time.process_time()
eq.solve()
w3, c3 = time.perf_counter(), time.process_time()
eq.solve(tariff=0.9 * prim["tariff"])
w4, c4 = time.perf_counter(), time.process_time()
print(json.dumps({"import": [w1 - w0, c1 - c0], "build": [w2 - w1, c2 - c1],
                  "benchmark": [w3 - w2, c3 - c2], "shock": [w4 - w3, c4 - c3]}))
"""


def fresh_process(seed: int) -> dict:
    """One fresh interpreter: import cge, build, first solve (the benchmark), first shock;
    the phases timed inside it, and the whole process's wall and CPU seconds from
    outside (interpreter start-up included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", FRESH.replace("SEED", str(int(seed)))],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process"] = [wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)]
    return out


def slowest_imports(seed: int, count: int) -> list[tuple[float, str]]:
    """The ``count`` imports with the largest cumulative time (seconds) in a fresh
    interpreter that imports cge, builds the 3x3 model and solves its benchmark."""
    script = FRESH.replace("SEED", str(int(seed)))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", script],
                          capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]) * 1e-6, parts[2].rstrip()))
    return sorted(rows, reverse=True)[:count]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cut", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=300, help="timed reference solves")
    ap.add_argument("--cge-repeats", type=int, default=40, help="timed cge solves")
    ap.add_argument("--fresh", type=int, default=3, help="fresh interpreters (0: skip)")
    ap.add_argument("--importtime", type=int, default=0, metavar="N",
                    help="also print the N slowest imports (cumulative) of a fresh interpreter's "
                         "import cge + build + first solve (python -X importtime)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also profile cge's timed call and print its N most expensive functions")
    args = ap.parse_args(argv)

    rn = _load_reference()
    import numpy as np

    from cge import Equilibrium
    from cge.examples import random_economy

    prim = random_economy(3, 3, seed=args.seed, io=True, market_structure="melitz")
    base_tariff = prim["tariff"].copy()
    cut = (1 - args.cut) * base_tariff

    # ---------------------------------------------------------------- reference
    ref = rn.Reference(prim)
    ref_base = ref.benchmark()
    for _ in range(20):  # warm-up
        ref.solve(cut, start=ref_base)
    r_wall, r_cpu, r_sol = _time(lambda: ref.solve(cut, start=ref_base), args.repeats)
    rr_wall, rr_cpu, _ = _time(lambda: rn.Reference(prim).solve(cut, start=ref_base),
                               args.repeats)

    def cold():
        fresh = rn.Reference(prim)
        return fresh.solve(cut, start=fresh.benchmark())

    rc_wall, rc_cpu, _ = _time(cold, max(10, args.repeats // 10))

    # ---------------------------------------------------------------------- cge
    eq = Equilibrium(prim)
    cge_base = eq.solve()
    back = lambda: eq.solve(tariff=base_tariff)  # noqa: E731
    for _ in range(3):  # warm-up: compiled system, caches
        eq.solve(tariff=cut)
        back()
    stats = []

    def cge_cut():
        res = eq.solve(tariff=cut)
        stats.append(eq.last_stats)
        return res

    c_wall, c_cpu, c_res = _time(cge_cut, args.cge_repeats, between=back)
    from cge.results import extract

    # as solve() calls it (the solver reported the largest residual: not recomputed)
    x_wall, x_cpu, _ = _time(lambda: extract(eq.model, {"max_residual": 0.0}),
                             max(5, args.cge_repeats // 4))
    eq.solve(tariff=cut)  # so that the first timed way back starts from the cut
    b_wall, b_cpu, _ = _time(back, max(5, args.cge_repeats // 4),
                             between=lambda: eq.solve(tariff=cut))
    last = stats[-1]
    solver_wall = statistics.median(getattr(s, "solver_time", s.ipopt_time) for s in stats)
    solver_cpu = statistics.median(getattr(s, "newton_cpu_time", 0.0) + s.ipopt_cpu_time
                                   for s in stats)

    diffs = rn.compare(r_sol, rn._cge_values(c_res, prim))
    worst = max(diffs.values())
    dw = 100 * (r_sol.real_income / ref_base.real_income - 1)

    print(f"3x3 10% tariff cut, random_economy(3, 3, seed={args.seed}, io=True, melitz): "
          f"{ref.nz} unknowns in the reference, {eq.n_equations()} equations in cge")
    print(f"welfare change % (reference): {np.array2string(dw, precision=4)}; "
          f"largest relative difference reference vs cge: {worst:.1e} "
          f"({max(diffs, key=diffs.get)})")
    def row(label, wall, cpu, note=""):
        print(f"{label:<44}{1e3 * wall:>10.3f}{1e3 * cpu:>10.3f}" + (f"   {note}" if note else ""))

    print(f"{'':<44}{'wall ms':>10}{'CPU ms':>10}")
    row("reference: ref.solve(tariff, start=benchmark)", r_wall, r_cpu,
        f"median of {args.repeats}; {r_sol.iterations} Newton iterations")
    row("reference incl. reading the primitives", rr_wall, rr_cpu)
    row("reference cold: read, benchmark, cut", rc_wall, rc_cpu,
        "(benchmark by Newton from its closed-economy guess)")
    row("cge: eq.solve(tariff=...) from benchmark", c_wall, c_cpu,
        f"median of {args.cge_repeats}; method {getattr(last, 'method', '?')}, "
        f"{len(eq.steps)} homotopy step(s)")
    row("  of which cge solver (Newton/IPOPT) time", solver_wall, solver_cpu)
    row("  cge.results.extract alone (its tables)", x_wall, x_cpu,
        "timed separately on the solved model")
    row("cge: the untimed way back (raise to base)", b_wall, b_cpu)
    print(f"ratio cge / reference: {c_wall / r_wall:.1f} x wall, {c_cpu / r_cpu:.1f} x CPU "
          f"(issue 14's goal: within 3 x); against the reference incl. reading: "
          f"{c_wall / rr_wall:.1f} x wall, {c_cpu / rr_cpu:.1f} x CPU")
    del cge_base
    if args.profile:
        import cProfile
        import pstats

        back()  # every profiled call starts from the benchmark
        prof = cProfile.Profile()
        for _ in range(10):
            prof.enable()
            eq.solve(tariff=cut)
            prof.disable()
            back()
        print(f"cge's timed call profiled (10 calls, cumulative seconds, top {args.profile}):")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.profile)

    # ------------------------------------------------------- fresh interpreter
    if args.fresh > 0:
        runs = [fresh_process(args.seed) for _ in range(args.fresh)]
        med = {k: [statistics.median(r[k][j] for r in runs) for j in (0, 1)] for k in runs[0]}
        first = [med["import"][j] + med["build"][j] + med["benchmark"][j] for j in (0, 1)]
        print(f"fresh interpreter (median of {args.fresh}), wall / CPU s:")
        for k in ("import", "build", "benchmark", "shock"):
            label = {"import": "import cge", "build": "Equilibrium(prim) (build)",
                     "benchmark": "eq.solve() (first solve: benchmark)",
                     "shock": "eq.solve(tariff=...) (first shock)"}[k]
            print(f"  {label:<40}{med[k][0]:>8.2f}{med[k][1]:>8.2f}")
        print(f"  {'import cge + first solve':<40}{first[0]:>8.2f}{first[1]:>8.2f}"
              f"   (issue 14's goal: under 2 s)")
        print(f"  {'whole process incl. interpreter start':<40}{med['process'][0]:>8.2f}"
              f"{med['process'][1]:>8.2f}   (and the first shock)")
    if args.importtime:
        print(f"slowest imports of a fresh interpreter (cumulative wall s, {args.importtime}):")
        for seconds, name in slowest_imports(args.seed, args.importtime):
            print(f"  {seconds:>6.3f}  {name}")


if __name__ == "__main__":
    main()
