"""Benchmark: calibration of the Caliendo-Parro (2015) 1993 data, 31 regions x 40 sectors.

Times each step from the CSV files to a solved benchmark and prints a table:
reading the CSVs, checking the source (the check_* rules, which fail before
balancing), the pre-balancing adjustments and RAS balancing, sector
parameters and seller shares, checking the balanced benchmark, calibration
(``calibration.calibrate``), building the model, writing the start values,
and the benchmark replication solve (IPOPT set-up and solve, iterations).
Optionally also the NAFTA counterfactual (tariffs among CAN, MEX, USA to zero)
and the workbook round trip.

    .venv/bin/python bench/bench_calibrate_cp.py [--data ../shared/data/caliendo_parro_2015]
        [--repeat 3] [--nafta] [--workbook]

The data phases (read to calibrate) are the median of ``--repeat`` runs; the
model phases run once. Not a test: run it by hand and report the table. The
data are not redistributable: they are read from the shared data folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

import calibration as cal
from calibration import caliendo_parro as cp

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "caliendo_parro_2015"


def data_phases(source: Path) -> tuple[dict[str, float], object, object]:
    t = {}
    t0 = time.perf_counter()
    src = cp.read_cp(source)
    t["read CSV files"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    raw = cal.BenchmarkData(
        regions=src.regions, sectors=src.sectors, factors=(cp.FACTOR,), trade=src.trade,
        tariff=src.tariff, factor_payments=src.value_added[:, :, None],
        intermediate=src.intermediate, final_demand=src.final_demand, deficit=src.deficit,
        sigma=np.full(len(src.sectors), 3.0), k=np.full(len(src.sectors), 4.0),
        market_structure=cp.default_market_structure(src.sectors, src.trade))
    problems = cal.benchmark_problems(raw)
    t["check the source"] = time.perf_counter() - t0
    t["  (problems found)"] = len(problems)

    data, report = cp.cp_benchmark(src)
    t["adjust + RAS balance"] = report.timings["prepare"] + report.timings["balance"]
    t["parameters, shares, checks"] = report.timings["parameters_and_checks"]

    t0 = time.perf_counter()
    prim, start = cal.calibrate(data, numeraire=cp.NUMERAIRE)
    t["calibrate"] = time.perf_counter() - t0
    t["= data total"] = sum(v for k, v in t.items() if not k.startswith(" "))
    return t, data, (prim, start, report)


def model_phases(data, prim, start, nafta: bool) -> list[tuple]:
    from cge import Equilibrium
    from cge.solve import max_residual

    rows = []
    t0 = time.perf_counter()
    eq = Equilibrium(prim, options=cp.SOLVER_OPTIONS)
    rows.append(("build model", time.perf_counter() - t0, None, None, None))
    t0 = time.perf_counter()
    cal.set_start(eq, start)
    rows.append(("set start values", time.perf_counter() - t0, None, None, None))
    t0 = time.perf_counter()
    worst = max_residual(eq.model)
    rows.append((f"residuals at start ({worst:.1e})", time.perf_counter() - t0, None, None, None))
    t0 = time.perf_counter()
    base = eq.solve()
    st = eq.last_stats
    rows.append(("benchmark solve", time.perf_counter() - t0, st.setup_time, st.ipopt_time,
                 st.iterations))
    if nafta:
        t0 = time.perf_counter()
        new = eq.solve(tariff=cp.tariffs_among(data))
        st = eq.last_stats
        rows.append((f"NAFTA solve (walras {new.walras_residual:.0e})", time.perf_counter() - t0,
                     st.setup_time, st.ipopt_time, st.iterations))
        welfare = new.compare(base).welfare["welfare_change_pct"]
        rows.append(("  welfare % CAN/MEX/USA: " + " / ".join(
            f"{welfare[r]:+.3f}" for r in cp.NAFTA), None, None, None, None))
    n_var = sum(1 for v in eq.model.component_data_objects(pyo.Var) if not v.fixed)
    rows.append((f"  ({n_var} unknowns)", None, None, None, None))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nafta", action="store_true", help="also solve the NAFTA counterfactual")
    ap.add_argument("--workbook", action="store_true", help="also time the workbook round trip")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: no such folder (the Caliendo-Parro 2015 data)")
    runs = []
    for _ in range(args.repeat):
        t, data, (prim, start, report) = data_phases(args.data)
        runs.append(t)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"Caliendo-Parro 1993: {len(data.regions)} regions x {len(data.sectors)} sectors, "
          f"{len(data.factors)} factors; data phases: median of {args.repeat} runs")
    print(f"{'phase':<40}{'total s':>9}{'setup':>8}{'ipopt':>8}{'iter':>6}")
    for k, v in med.items():
        if k.startswith("  "):
            print(f"{k:<40}{v:>9.0f}")
        else:
            print(f"{k:<40}{v:>9.2f}")
    if args.workbook:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            path = cp.write_cp_workbook(data, report, Path(tmp) / "cp1993.xlsx")
            print(f"{'write workbook':<40}{time.perf_counter() - t0:>9.2f}")
            t0 = time.perf_counter()
            cal.read_workbook(path)
            print(f"{'read workbook (with checks)':<40}{time.perf_counter() - t0:>9.2f}")
    for name, total, setup, ipopt, it in model_phases(data, prim, start, args.nafta):
        cells = [f"{total:>9.2f}" if total is not None else " " * 9,
                 f"{setup:>8.2f}" if setup is not None else " " * 8,
                 f"{ipopt:>8.2f}" if ipopt is not None else " " * 8,
                 f"{it:>6d}" if it is not None else ""]
        print(f"{name:<40}" + "".join(cells))
    print("(setup and ipopt are for the last IPOPT call of the phase; the solve totals include "
          "the structure check, Walras and selection checks and the results tables)")


if __name__ == "__main__":
    main()
