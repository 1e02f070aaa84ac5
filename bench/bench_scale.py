"""Benchmark: how the pipeline scales, from 10 x 10 to a GTAP-like 60 x 40 (issue 14).

For each size (regions x sectors) a calibrated all-Melitz economy with
input-output links (:func:`random_benchmark`, calibrated with
:func:`calibration.calibrate`) is built (build: calibration, model
construction, start values), its benchmark solved (replication), then every
tariff of the largest region cut by 10%. Each size runs in a fresh subprocess,
so that its peak memory (resident set) is its own.

Printed, in the layout of issue 14's table, once in wall seconds and once in
CPU seconds of the process (steadier on a busy machine): build, benchmark,
shock (the ``Equilibrium.solve`` call, from new parameter values to result
tables), the solver's own time in the shock (all IPOPT and :mod:`cge.newton` calls
of the homotopy), peak memory, and the issue's goals next to them; then, when
IPOPT solved the shock, its linear algebra from MUMPS's own statistics (``mumps_print_level: 2``, read from the
child's output: printing them costs nothing measurable): the order and
non-zeros of the KKT matrix, the entries of its LU factors (fill-in), the
factorisations and their seconds; and the issue's measurements before the
work, for comparison.

    .venv/bin/python bench/bench_scale.py                    # 10x10 20x15 30x20
    .venv/bin/python bench/bench_scale.py 10x10 60x40        # any sizes
    .venv/bin/python bench/bench_scale.py --all              # 10x10 ... 60x40
    .venv/bin/python bench/bench_scale.py --route-unknowns   # the formulation with route unknowns
    .venv/bin/python bench/bench_scale.py --no-fill          # without MUMPS's statistics

Not a test: run it by hand and report the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

DEFAULT_SIZES = ("10x10", "20x15", "30x20")
ALL_SIZES = ("10x10", "20x15", "30x20", "45x30", "60x40")
#: Goals of issue 14 (wall seconds, GB)
GOAL_OVERHEAD = 1.5          # shock / IPOPT's own time, at 10x10 and 30x20
GOAL_60x40_TOTAL = 120.0     # build + benchmark + shock at 60x40
GOAL_60x40_MEMORY = 4.0      # peak GB at 60x40
#: Issue 14's measurements before the work (wall seconds, GB): build, benchmark,
#: shock, IPOPT in the shock, peak memory
BEFORE = {"10x10": (1, 3, 1, 0.4, 0.2), "20x15": (4, 7, 6, 1.7, 0.45),
          "30x20": (10, 17, 23, 11, 1.0), "45x30": (36, 66, 115, 60, 3.4),
          "60x40": (111, 233, 352, 233, 8.8)}


def random_benchmark(regions: int, sectors: int, seed: int = 1, mobile: int = 2):
    """A consistent random benchmark (flows in values) with input-output links.

    Gravity trade shares with home bias, random tariffs, Cobb-Douglas
    final-demand and input-output shares, ``mobile`` mobile factors plus one
    sector-specific factor per sector (so that the equilibrium stays interior
    after a shock). Output values solve the linear accounting system
    :math:`Y = M Y` (sales equal costs, spending equals income; no deficits),
    so the data are an equilibrium by construction and the calibrated model
    replicates them.
    """
    import numpy as np

    from calibration.benchmark import BenchmarkData

    rng = np.random.default_rng(seed)
    nR, nS = regions, sectors
    R = [f"R{i:02d}" for i in range(nR)]
    S = [f"S{j:02d}" for j in range(nS)]
    F = ["labour", "capital", "land", "skill"][:mobile] + [f"specific_{s}" for s in S]
    size = rng.lognormal(0.0, 1.0, size=nR)
    pos = rng.uniform(0, 1, size=(nR, 2))
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=2) + 0.1
    tariff = rng.uniform(0.0, 0.15, size=(nR, nR, nS))
    tariff[np.arange(nR), np.arange(nR)] = 0.0
    weight = size[None, :, None] * dist[:, :, None] ** -2.0 * rng.uniform(0.5, 1.5, (nR, nR, nS))
    weight[np.arange(nR), np.arange(nR)] *= 20.0  # home bias
    pi = weight / weight.sum(axis=1, keepdims=True)  # n's spending share on i's s (tariff-incl.)
    beta = rng.dirichlet(np.ones(nS), size=nR)
    io_total = rng.uniform(0.2, 0.5, size=(nR, nS))
    gamma = rng.dirichlet(np.ones(nS), size=(nR, nS)) * io_total[:, :, None]  # (i, s, u)
    va = 1 - io_total
    # Y[i,s] = sum_n pi[n,i,s]/(1+t) (beta[n,s] I_n + sum_u gamma[n,u,s] Y[n,u]),
    # I_n = sum_s va[n,s] Y[n,s] + sum_{i,s} t X[n,i,s]: power iteration on Y.
    net = pi / (1 + tariff)
    Y = np.outer(size, np.ones(nS))
    for _ in range(20000):
        E_int = np.einsum("nus,nu->ns", gamma, Y)
        # income: value added plus tariff revenue, spending E = beta I + E_int;
        # revenue t/(1+t) pi E is linear in I: solve for I per region
        tshare = (pi * tariff / (1 + tariff)).sum(axis=1)  # (n, s)
        I = ((va * Y).sum(axis=1) + (tshare * E_int).sum(axis=1)) / (1 - (tshare * beta).sum(axis=1))
        E = beta * I[:, None] + E_int
        Y_new = np.einsum("nis,ns->is", net, E)
        Y_new *= Y.sum() / Y_new.sum()
        if np.abs(Y_new / Y - 1).max() < 1e-14:
            Y = Y_new
            break
        Y = Y_new
    E_int = np.einsum("nus,nu->ns", gamma, Y)
    tshare = (pi * tariff / (1 + tariff)).sum(axis=1)
    I = ((va * Y).sum(axis=1) + (tshare * E_int).sum(axis=1)) / (1 - (tshare * beta).sum(axis=1))
    E = beta * I[:, None] + E_int
    trade = net * E[:, None, :]
    Y = trade.sum(axis=0)  # sales, exactly
    mobile_split = rng.dirichlet(np.ones(mobile), size=(nR, nS)) * 0.5
    factor_payments = np.zeros((nR, nS, len(F)))
    factor_payments[:, :, :mobile] = (va * Y)[:, :, None] * mobile_split
    factor_payments[:, np.arange(nS), mobile + np.arange(nS)] = 0.5 * va * Y
    intermediate = gamma * Y[:, :, None]
    sigma = rng.uniform(3.0, 5.0, size=nS)
    return BenchmarkData(
        regions=R, sectors=S, factors=F, trade=trade, tariff=tariff,
        factor_payments=factor_payments, intermediate=intermediate,
        final_demand=beta * I[:, None], sigma=sigma, k=sigma - 1 + rng.uniform(1.0, 2.0, nS),
        market_structure="melitz", name=f"random_{nR}x{nS}")


def measure(regions: int, sectors: int, seed: int, route_unknowns: bool | None = None,
            fill: bool = True) -> dict:
    """One size, in this process (called in a child): the row of the table. With
    ``fill``, MUMPS prints its statistics during the shock (to this process's stdout,
    read by the parent)."""
    t0 = time.perf_counter()
    import numpy as np

    from cge import Equilibrium

    t_import = time.perf_counter() - t0
    from calibration.calibrate import calibrate, set_start

    data = random_benchmark(regions, sectors, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    prim, start = calibrate(data)
    eq = Equilibrium(prim, route_unknowns=route_unknowns)
    set_start(eq, start)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    peak_build = _peak_gb()
    t0, c0 = time.perf_counter(), time.process_time()
    eq.solve()
    t_bench, c_bench = time.perf_counter() - t0, time.process_time() - c0
    peak_bench = _peak_gb()
    bench_calls = list(eq.ipopt_calls)
    # the largest region (by factor income) cuts every tariff it levies by 10%
    big = int(np.argmax(prim["endowment"].sum(axis=1)))
    tariff = prim["tariff"].copy()
    tariff[big] *= 0.9
    eq.ipopt_calls.clear()
    if fill:
        eq.options["mumps_print_level"] = 2
    t0, c0 = time.perf_counter(), time.process_time()
    eq.solve(tariff=tariff)
    t_shock, c_shock = time.perf_counter() - t0, time.process_time() - c0
    sys.stdout.flush()
    shock_calls = list(eq.ipopt_calls)
    peak = _peak_gb()
    return {
        "size": f"{regions}x{sectors}", "equations": eq.n_equations(), "import": t_import,
        "build": t_build, "benchmark": t_bench,
        "bench_ipopt": sum(s.solver_time for s in bench_calls),
        "bench_iterations": sum(s.iterations for s in bench_calls),
        "bench_calls": len(bench_calls),
        "shock": t_shock, "shock_ipopt": sum(s.solver_time for s in shock_calls),
        "shock_iterations": sum(s.iterations for s in shock_calls),
        "shock_steps": len(eq.steps), "compilations": eq.compilations,
        "cpu_build": c_build, "cpu_benchmark": c_bench, "cpu_shock": c_shock,
        "cpu_shock_ipopt": sum(s.solver_cpu_time for s in shock_calls),
        "peak_gb": peak, "peak_build_gb": peak_build, "peak_benchmark_gb": peak_bench,
    }


def _peak_gb() -> float:
    """Peak resident memory of this process so far, GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KB -> GB


def mumps_statistics(text: str) -> dict:
    """The linear algebra of a solve from MUMPS's statistics (``mumps_print_level: 2``):
    the KKT matrix's order and non-zeros, the most entries in the factors of any
    factorisation, the number of factorisations and their seconds."""
    kkt = re.findall(r"JOB, N, NNZ =\s+2\s+(\d+)\s+(\d+)", text)
    entries = [int(x) for x in re.findall(r"INFOG\(29\)\s+Number of entries in factors\s+=\s+(\d+)", text)]
    seconds = [float(x) for x in re.findall(r"Elapsed time for factorization\s+=\s+([0-9.Ee+-]+)", text)]
    if not kkt or not entries:
        return {}
    return {"kkt_order": int(kkt[-1][0]), "kkt_nnz": int(kkt[-1][1]), "factor_entries": max(entries),
            "factorizations": len(seconds), "factor_seconds": sum(seconds)}


def _ratio(row: dict, total: str, part: str) -> float:
    return row[total] / row[part] if row[part] > 0 else float("inf")


def run_child(size: str, seed: int, route_unknowns: bool = False, fill: bool = True) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "row.json")
        cmd = [sys.executable, __file__, "--child", size, "--seed", str(seed), "--out", out_path]
        if route_unknowns:
            cmd.append("--route-unknowns")
        if not fill:
            cmd.append("--no-fill")
        out = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if out.returncode != 0 or not os.path.exists(out_path):
            raise SystemExit(f"{size} failed:\n{out.stderr[-3000:]}")
        with open(out_path) as f:
            row = json.load(f)
    row.update(mumps_statistics(out.stdout))
    return row


def _goal(row: dict, cpu: bool) -> str:
    """The goal of issue 14 that applies to this size, and whether it holds."""
    size = row["size"]
    if size in ("10x10", "30x20"):
        ratio = _ratio(row, "cpu_shock" if cpu else "shock", "cpu_shock_ipopt" if cpu else "shock_ipopt")
        return f"shock/IPOPT {ratio:.2f} (<= {GOAL_OVERHEAD:g}) {'OK' if ratio <= GOAL_OVERHEAD else 'MISSED'}"
    if size == "60x40":
        total = sum(row[("cpu_" if cpu else "") + k] for k in ("build", "benchmark", "shock"))
        return (f"total {total:.0f} s (< {GOAL_60x40_TOTAL:g}) "
                f"{'OK' if total < GOAL_60x40_TOTAL else 'MISSED'}; peak "
                f"{'OK' if row['peak_gb'] < GOAL_60x40_MEMORY else 'MISSED'} (< {GOAL_60x40_MEMORY:g} GB)")
    return ""


def print_table(rows: list[dict], cpu: bool) -> None:
    p = "cpu_" if cpu else ""
    print(f"\n{'CPU' if cpu else 'wall'} seconds")
    print(f"| size | equations | build | benchmark (iterations) | shock | solver in the shock "
          f"(iterations; IPOPT or cge.newton) | peak memory | goal (issue 14) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ipopt = r["cpu_shock_ipopt"] if cpu else r["shock_ipopt"]
        print(f"| {r['size']} | {r['equations']:,} | {r[p + 'build']:.1f} s | "
              f"{r[p + 'benchmark']:.1f} s ({r['bench_iterations']}) | {r[p + 'shock']:.1f} s | "
              f"{ipopt:.1f} s ({r['shock_iterations']}) | {r['peak_gb']:.2f} GB | {_goal(r, cpu)} |",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", help="regions x sectors, e.g. 10x10 30x20")
    ap.add_argument("--all", action="store_true", help="10x10 to 60x40")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--route-unknowns", action="store_true",
                    help="trade values and cutoffs as unknowns (the formulation before issue 14)")
    ap.add_argument("--no-fill", action="store_true", help="without MUMPS's statistics")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        r, s = (int(x) for x in args.child.lower().split("x"))
        row = measure(r, s, args.seed, True if args.route_unknowns else None, not args.no_fill)
        with open(args.out, "w") as f:
            json.dump(row, f)
        return 0
    sizes = ALL_SIZES if args.all else (args.sizes or DEFAULT_SIZES)
    print("all-Melitz random economy with IO links, seed", args.seed,
          "; shock = 10% cut of the largest region's tariffs;",
          "route unknowns" if args.route_unknowns else "reduced formulation")
    rows = []
    for size in sizes:
        row = run_child(size, args.seed, args.route_unknowns, not args.no_fill)
        rows.append(row)
        print(f"  {size}: done (wall: build {row['build']:.1f} s, benchmark {row['benchmark']:.1f} s, "
              f"shock {row['shock']:.1f} s, peak {row['peak_gb']:.2f} GB)", flush=True)
    print_table(rows, cpu=False)
    print_table(rows, cpu=True)
    if any("factor_entries" in r for r in rows):
        print("\nlinear algebra of the shock (MUMPS's statistics)")
        print("| size | KKT order | KKT non-zeros | entries in LU factors (fill) | factorisations "
              "| seconds per factorisation | homotopy steps | NLP compilations "
              "| peak GB after build / benchmark / shock |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if "factor_entries" not in r:
                continue
            n = max(r["factorizations"], 1)
            print(f"| {r['size']} | {r['kkt_order']:,} | {r['kkt_nnz']:,} | "
                  f"{r['factor_entries'] / 1e6:.1f} M ({r['factor_entries'] / r['kkt_nnz']:.0f} x) | "
                  f"{r['factorizations']} | {r['factor_seconds'] / n:.2f} | {r['shock_steps']} | "
                  f"{r['compilations']} | {r['peak_build_gb']:.2f} / {r['peak_benchmark_gb']:.2f} / "
                  f"{r['peak_gb']:.2f} |")
    print("\nbefore (issue 14's measurements, wall seconds)")
    print("| size | build | benchmark | shock | IPOPT in the shock | peak memory |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["size"] in BEFORE:
            b = BEFORE[r["size"]]
            print(f"| {r['size']} | {b[0]:g} s | {b[1]:g} s | {b[2]:g} s | {b[3]:g} s | {b[4]:g} GB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
