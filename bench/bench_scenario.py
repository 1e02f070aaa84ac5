"""Benchmark: one scenario file end to end, phase by phase (what `cge run` does).

Prints, per phase: preparing the scenario (reading, checking and calibrating
the data, applying the shocks), for each model the benchmark and the shock
(IPOPT iterations included), and writing the results folder (CSV tables, the
Excel workbook, the pictures).

    .venv/bin/python bench/bench_scenario.py runs/us_china_tariffs.yaml [--repeat 3]
    .venv/bin/python bench/bench_scenario.py runs/nafta.yaml   # needs runs/data/cp1993.xlsx

Not a test: run it by hand and report the table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cge.scenario import prepare_scenario, run_scenario


def run_once(path: Path) -> list[tuple[str, float, str]]:
    rows = []
    t0 = time.perf_counter()
    prepared = prepare_scenario(path)
    rows.append(("prepare (read, check, calibrate, shocks)", time.perf_counter() - t0, ""))
    t1 = time.perf_counter()
    result = run_scenario(prepared)
    total_solve = time.perf_counter() - t1
    for label, run in result.runs.items():
        st = run.stats
        rows.append((f"{label}: benchmark", st["benchmark_seconds"],
                     f"{st['benchmark_iterations']} it"))
        rows.append((f"{label}: shock", st["shock_seconds"],
                     f"{st['shock_iterations']} it, steps {st['homotopy_steps']}"))
    rows.append(("welfare, identities, expectations", total_solve - sum(
        r.stats["benchmark_seconds"] + r.stats["shock_seconds"] for r in result.runs.values()), ""))
    with tempfile.TemporaryDirectory() as tmp:
        t2 = time.perf_counter()
        result.write(Path(tmp) / "out")
        rows.append(("write results (CSV, Excel, PNG)", time.perf_counter() - t2, ""))
    rows.append(("total", time.perf_counter() - t0, ""))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    runs = [run_once(args.scenario) for _ in range(args.repeat)]
    print(f"{args.scenario} ({args.repeat} run(s); median seconds)")
    for j, (name, _, note) in enumerate(runs[0]):
        med = statistics.median(r[j][1] for r in runs)
        print(f"  {name:<45s} {med:8.2f}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
