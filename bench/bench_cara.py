"""Benchmark: a tariff cut in a 10x10 economy whose sectors are CARA, against the same economy
with CES-Melitz sectors.

The CES-Melitz economy is ``cge.examples.random_economy`` (all melitz,
input-output linkages); the CARA economy is calibrated to that economy's
equilibrium (read back with ``calibration.benchmark_from_equilibrium``), so
both have the same benchmark flows. Each starts from its solved benchmark (the
CARA one replicated in 0 IPOPT iterations) and faces the same 10% cut of every
tariff. Prints, per structure, the equations, benchmark iterations and the
tariff cut's IPOPT iterations and wall time (median of ``--repeat`` runs).

    .venv/bin/python bench/bench_cara.py [--regions 10] [--sectors 10] [--seed 1] [--repeat 3]

Not a test: run it by hand and report the table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyomo.environ as pyo

from calibration import benchmark_from_equilibrium
from calibration.calibrate import calibrate, set_start
from cge import Equilibrium
from cge.examples import random_economy


def benchmark_data(regions: int, sectors: int, seed: int):
    eq = Equilibrium(random_economy(regions, sectors, seed=seed, io=True, market_structure="melitz"))
    eq.solve()
    return benchmark_from_equilibrium(eq)


def run_once(args, data, structure: str) -> dict:
    t0 = time.perf_counter()
    if structure == "melitz":
        prim = random_economy(args.regions, args.sectors, seed=args.seed, io=True,
                              market_structure="melitz")
        eq = Equilibrium(prim)
    else:
        data.market_structure = {s: structure for s in data.sectors}
        prim, start = calibrate(data, cara_tau="lowest")
        eq = Equilibrium(prim)
        set_start(eq, start)
    base = eq.solve()
    t1 = time.perf_counter()
    cut = eq.solve(tariff=prim["tariff"] * 0.9)
    t2 = time.perf_counter()
    n_con = sum(1 for _ in eq.model.component_data_objects(pyo.Constraint, active=True))
    return {"equations": n_con, "bench_iter": base.info.get("iterations"),
            "bench_total": t1 - t0, "cut_iter": cut.info.get("iterations"), "cut_total": t2 - t1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--sectors", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = benchmark_data(args.regions, args.sectors, args.seed)
    print(f"{args.regions} regions x {args.sectors} sectors, IO linkages, seed {args.seed}; "
          f"median of {args.repeat} runs; 10% cut of every tariff from the calibrated benchmark")
    print(f"{'structure':<10}{'equations':>10}{'bench iter':>11}{'build+bench s':>14}"
          f"{'cut iter':>9}{'cut s':>8}")
    out = {}
    for structure in ("melitz", "cara"):
        runs = [run_once(args, data, structure) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        out[structure] = med
        print(f"{structure:<10}{med['equations']:>10.0f}{med['bench_iter']:>11.0f}"
              f"{med['bench_total']:>14.2f}{med['cut_iter']:>9.0f}{med['cut_total']:>8.2f}")
    print(f"cara / melitz tariff-cut time: {out['cara']['cut_total'] / out['melitz']['cut_total']:.2f}")


if __name__ == "__main__":
    main()
