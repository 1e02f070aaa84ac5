"""Benchmark: a 64-member sweep on the bundled US-China data, serial against a LocalCluster.

The sweep (``runs/us_china_tariffs.yaml`` with a ``sweep:`` section) is an 8 x 8
grid: the US tariff increase on Chinese manufactures (5 to 40 percentage points)
times the share of it China mirrors (0 to 1). Every member has the benchmark of
the data, so each process builds one model and starts each member from the
nearest solved one.

Reported: the wall time of one ``cge run`` of the scenario in this process (after
imports, cold: benchmark from the calibrated start, shock stepped in from the
benchmark) and as a fresh ``python -m cge run`` process; the sweep serially and on
a LocalCluster of ``--workers`` processes (cluster start-up included); the
speed-up and the time per member. Run from the repository root::

    PYTHONPATH=$PWD python bench/bench_sweep.py [--members 64] [--workers 2]

The figures depend on how loaded the machine is: the script prints the load
average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def sweep_file(folder: Path, side: int) -> Path:
    base = yaml.safe_load((ROOT / "runs" / "us_china_tariffs.yaml").read_text())
    base["data"] = str(ROOT / "sam_data" / "yotov2016_mfg.xlsx")
    base.pop("expect", None)
    base["name"] = "us_china_grid"
    base["sweep"] = {"axes": {
        "us_tariff": {"path": "shocks[0].value", "grid": {"from": 0.05, "to": 0.40, "num": side}},
        "retaliation": {"path": "shocks[1].retaliation.share",
                        "grid": {"from": 0.0, "to": 1.0, "num": side}},
    }}
    path = folder / "us_china_grid.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=64, help="a square number")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    side = int(round(args.members ** 0.5))
    from cge.scenario import run_scenario
    from cge.sweep import clear_caches, run_sweep

    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    path = sweep_file(tmp, side)

    scenario = ROOT / "runs" / "us_china_tariffs.yaml"
    run_scenario(scenario)  # imports, first IPOPT call
    t = time.perf_counter()
    run_scenario(scenario)
    single = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cge", "run", str(scenario), "-o", str(tmp / "single"),
                    "--no-excel", "--no-plots"], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    single_process = time.perf_counter() - t

    clear_caches()
    t = time.perf_counter()
    serial = run_sweep(path, tmp / "serial", scheduler="serial", progress=None, plots=False)
    t_serial = time.perf_counter() - t
    t = time.perf_counter()
    parallel = run_sweep(path, tmp / "dask", scheduler="local", workers=args.workers,
                         progress=None, plots=False)
    t_dask = time.perf_counter() - t
    n = len(serial.members)
    ok = int((serial.members["status"] == "ok").sum()), int((parallel.members["status"] == "ok").sum())
    warm = serial.members["start"].ne("benchmark").sum()
    figures = {
        "members": n, "solved": {"serial": ok[0], "dask": ok[1]}, "workers": args.workers,
        "cores": os.cpu_count(),
        "single_cge_run_in_process_s": single, "single_cge_run_process_s": single_process,
        "serial_s": t_serial, "dask_s": t_dask, "speedup": t_serial / t_dask,
        "serial_per_member_s": t_serial / n, "dask_per_member_s": t_dask / n,
        "serial_member_median_s": float(serial.members["seconds"].median()),
        "warm_started_members_serial": int(warm),
        "load_average_before": load0, "load_average_after": os.getloadavg(),
    }
    for k, v in figures.items():
        print(f"{k:32s} {v:.3f}" if isinstance(v, float) else f"{k:32s} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
