"""Benchmark: a 10-region x 10-sector all-Melitz economy with input-output linkages.

Builds the model, solves the benchmark equilibrium, then a 10% cut of every
tariff starting from the benchmark, and prints for each phase: build time,
solver set-up time (PyNumero/ASL: writing and loading the NLP), IPOPT's own
time, iterations and the total.

    .venv/bin/python bench/bench_tariff_cut.py [--regions 10] [--sectors 10] [--seed 1] [--repeat 3]

Not a test: run it by hand and report the table.
"""

from __future__ import annotations

import argparse
import statistics
import time

from cge import Equilibrium
from cge.examples import random_economy


def run_once(regions: int, sectors: int, seed: int) -> dict:
    prim = random_economy(regions, sectors, seed=seed, io=True, market_structure="melitz")
    t0 = time.perf_counter()
    eq = Equilibrium(prim)
    t_build = time.perf_counter() - t0
    t1 = time.perf_counter()
    eq.solve()
    bench = eq.last_stats
    t_bench = time.perf_counter() - t1
    t2 = time.perf_counter()
    eq.solve(tariff=prim["tariff"] * 0.9)
    cut = eq.last_stats
    t_cut = time.perf_counter() - t2
    m = eq.model
    n_con = sum(1 for _ in m.component_data_objects(ctype=__import__("pyomo.environ").environ.Constraint,
                                                     active=True))
    return {
        "equations": n_con,
        "build": t_build,
        "bench_total": t_bench, "bench_iter": bench.iterations,
        "bench_setup": bench.setup_time, "bench_ipopt": bench.ipopt_time,
        "cut_total": t_cut, "cut_iter": cut.iterations, "cut_steps": len(eq.steps),
        "cut_setup": cut.setup_time, "cut_ipopt": cut.ipopt_time,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--sectors", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs = [run_once(args.regions, args.sectors, args.seed) for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"{args.regions} regions x {args.sectors} sectors, all melitz, IO linkages, "
          f"seed {args.seed}: {med['equations']:.0f} equations; median of {args.repeat} runs")
    print(f"{'phase':<24}{'build':>8}{'setup':>8}{'ipopt':>8}{'iter':>6}{'total':>8}")
    print(f"{'model build':<24}{med['build']:>8.2f}{'':>8}{'':>8}{'':>6}{med['build']:>8.2f}")
    print(f"{'benchmark (cold start)':<24}{'':>8}{med['bench_setup']:>8.2f}{med['bench_ipopt']:>8.2f}"
          f"{med['bench_iter']:>6.0f}{med['bench_total']:>8.2f}")
    print(f"{'10% tariff cut':<24}{'':>8}{med['cut_setup']:>8.2f}{med['cut_ipopt']:>8.2f}"
          f"{med['cut_iter']:>6.0f}{med['cut_total']:>8.2f}")
    print("(setup and ipopt are for the last IPOPT call of the phase; total includes "
          "checks, homotopy steps and results)")


if __name__ == "__main__":
    main()
