"""Benchmark: the overhead of a shock's ``Equilibrium.solve`` call around the solver (issue 14).

Issue 14's goal: the wall time of the solve call (everything from new
parameter values to result tables) at most 1.5 times the solver's own time, at
10 x 10 and 30 x 20. This script repeats a 10% tariff cut of the largest
region (and the way back: each call is a shock from the last solution) many
times on economies already solved, and prints the median split of one call:

``parameters``
    checking the new values (``Equilibrium._target``, :func:`cge.checks.check_primitives`),
    finding what changed, interpolating along the homotopy path and writing the
    values into the model (:func:`cge.model.set_parameters`);
``solver``
    the numerical solvers' own time (``SolveStats.solver_time``: IPOPT's and
    :mod:`cge.newton`'s, as ``bench/bench_scale.py`` counts it);
``compiled io``
    copying values into the compiled system and the solution back into the
    model (:meth:`cge.compiled.CompiledSystem.update` and ``load``);
``results``
    the result tables (:func:`cge.results.extract`, called by the solve);
``verify``
    the checks after the solve (Walras' law, selection, the outside good);
``other``
    the rest (structure signatures, snapshots of the path, bookkeeping);
``gc``
    seconds inside the garbage collector during the call (part of the others).

With ``--cpu`` every time is CPU seconds of the process (``time.process_time``;
the solver's from ``SolveStats.solver_cpu_time``): steadier than wall seconds
when other processes share the cores.

The result tables are built inside the solve call, so the ``total`` is what a
user sees when the call returns its :class:`cge.results.Results`.

    .venv/bin/python bench/bench_overhead.py                 # 3x3 (the bundled example) and 10x10
    .venv/bin/python bench/bench_overhead.py 3x3 10x10 30x20 --repeat 40

Economies: ``3x3`` is :func:`cge.examples.three_by_three`; ``RxS`` the
calibrated random all-Melitz economy with input-output links of
``bench/bench_scale.py``. Not a test: run it by hand and report the table.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PHASES = ("parameters", "solver", "compiled io", "results", "verify", "other")


class Clock:
    """Seconds spent in wrapped functions (outermost call only) and in the collector."""

    def __init__(self, now=time.perf_counter):
        self.now = now
        self.spent = defaultdict(float)
        self._depth = defaultdict(int)
        self._gc_start = None
        gc.callbacks.append(self._gc)

    def _gc(self, phase, info):
        if phase == "start":
            self._gc_start = self.now()
        elif self._gc_start is not None:
            self.spent["gc"] += self.now() - self._gc_start
            self._gc_start = None

    def wrap(self, owner, name: str, phase: str) -> None:
        inner = getattr(owner, name)
        clock = self

        def timed(*args, **kwargs):
            clock._depth[phase] += 1
            t0 = clock.now()
            try:
                return inner(*args, **kwargs)
            finally:
                clock._depth[phase] -= 1
                if not clock._depth[phase]:
                    clock.spent[phase] += clock.now() - t0

        setattr(owner, name, timed)


def instrument(cpu: bool = False) -> Clock:
    import cge.checks
    import cge.compiled
    import cge.equilibrium as eqm

    clock = Clock(time.process_time if cpu else time.perf_counter)
    clock.wrap(eqm.Equilibrium, "_target", "parameters")
    clock.wrap(eqm.Equilibrium, "_changed", "parameters")
    clock.wrap(eqm, "set_parameters", "parameters")
    clock.wrap(eqm, "interpolate", "parameters")
    clock.wrap(cge.compiled.CompiledSystem, "update", "compiled io")
    clock.wrap(cge.compiled.CompiledSystem, "load", "compiled io")
    clock.wrap(eqm, "extract", "results")
    clock.wrap(eqm.Equilibrium, "_verify", "verify")
    return clock


def economy(size: str, seed: int = 1):
    """A solved :class:`cge.Equilibrium` of ``size`` and the tariff arrays of the shock and
    of the way back."""
    import numpy as np

    from cge import Equilibrium, examples

    if size == "3x3":
        prim = examples.three_by_three()
        eq = Equilibrium(prim)
    else:
        from bench_scale import random_benchmark
        from calibration.calibrate import calibrate, set_start

        r, s = (int(x) for x in size.lower().split("x"))
        prim, start = calibrate(random_benchmark(r, s, seed))
        eq = Equilibrium(prim)
        set_start(eq, start)
    eq.solve()
    big = int(np.argmax(prim["endowment"].sum(axis=1)))
    cut = prim["tariff"].copy()
    cut[big] *= 0.9
    return eq, [cut, prim["tariff"]]


def measure(size: str, repeat: int, clock: Clock) -> dict:
    eq, tariffs = economy(size)
    for j in range(4):  # warm up (first calls compile, fill caches)
        eq.solve(tariff=tariffs[j % 2])
    rows = []
    for j in range(repeat):
        clock.spent.clear()
        eq.ipopt_calls.clear()
        t0 = clock.now()
        eq.solve(tariff=tariffs[j % 2])
        total = clock.now() - t0
        row = dict(clock.spent)
        row["total"] = total
        row["solver"] = sum(s.solver_cpu_time if clock.now is time.process_time else s.solver_time
                            for s in eq.ipopt_calls)
        row["steps"] = len(eq.steps)
        row["methods"] = "+".join(sorted({s.method for s in eq.ipopt_calls}))
        row["other"] = total - sum(row.get(p, 0.0) for p in PHASES if p != "other")
        rows.append(row)
    med = {k: statistics.median(r.get(k, 0.0) for r in rows)
           for k in (*PHASES, "gc", "total", "steps")}
    med["ratio"] = statistics.median(r["total"] / r["solver"] for r in rows if r["solver"] > 0)
    med["methods"] = ", ".join(sorted({r["methods"] for r in rows}))
    med["size"] = size
    med["equations"] = eq.n_equations()
    return med


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", help="3x3 or regions x sectors, e.g. 10x10")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--cpu", action="store_true",
                    help="CPU seconds of the process (steadier on a busy machine) instead of wall")
    args = ap.parse_args(argv)
    clock = instrument(args.cpu)
    sizes = args.sizes or ["3x3", "10x10"]
    print(f"median of {args.repeat} shocks (10% tariff cut of the largest region, and back); "
          f"{'CPU' if args.cpu else 'wall'} milliseconds per solve call")
    print("| size | equations | steps | method | " + " | ".join(PHASES)
          + " | (gc) | total | total / solver |")
    print("|---|---|---|---|" + "---|" * (len(PHASES) + 3))
    for size in sizes:
        r = measure(size, args.repeat, clock)
        cells = " | ".join(f"{1e3 * r[p]:.1f}" for p in PHASES)
        print(f"| {size} | {r['equations']:,} | {r['steps']:.0f} | {r['methods']} | {cells} | "
              f"{1e3 * r['gc']:.1f} | {1e3 * r['total']:.1f} | {r['ratio']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
