"""Write the pinned results of the bundled runs (tests/pinned.py) from this checkout.

    PYTHONPATH=tests .venv/bin/python tests/tools/pin_results.py [RUN ...] [--nafta]

Without names it pins every run of ``runs/`` that the test suite runs (sweeps and
NAFTA excepted); ``--nafta`` also builds Caliendo and Parro's workbook from
``../shared/data`` in a temporary folder and pins ``runs/nafta.yaml``. Pins record
what the code computes now: write them again only for a change in the economics.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pinned  # noqa: E402  (tests/pinned.py)


def main(argv=None) -> int:
    from cge.scenario import run_scenario
    from test_scenarios import RUNS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="run names (stems of runs/*.yaml)")
    ap.add_argument("--nafta", action="store_true", help="pin runs/nafta.yaml too")
    args = ap.parse_args(argv)
    stems = args.runs or [p.stem for p in RUNS]
    for stem in stems:
        print(pinned.save(stem, pinned.from_result(run_scenario(ROOT / "runs" / f"{stem}.yaml"))))
    if args.nafta:
        from typer.testing import CliRunner

        from calibration import caliendo_parro as cp
        from cge.cli import app

        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            assert cp.main(["--data", str(ROOT.parent / "shared" / "data" / "caliendo_parro_2015"),
                            "-o", str(home / "data" / "cp1993.xlsx")]) == 0
            shutil.copy(ROOT / "runs" / "nafta.yaml", home / "nafta.yaml")
            res = CliRunner().invoke(app, ["run", str(home / "nafta.yaml"), "--strict"])
            assert res.exit_code == 0, res.output
            print(pinned.save("nafta", pinned.from_folder(home / "results" / "nafta")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
