"""Command-line pieces shared by the real-data converters (``python -m
calibration.caliendo_parro``, ``python -m calibration.south_africa``): the common
arguments, the error exit and the optional calibration check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parser(prog: str, description: str, default_source: Path,
           output_help: str) -> argparse.ArgumentParser:
    """A parser with the common arguments ``--data`` (the dataset folder) and ``-o/--output``."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--data", type=Path, default=default_source,
                   help="folder of the dataset (default: %(default)s)")
    p.add_argument("-o", "--output", type=Path, default=None, help=output_help)
    return p


def add_calibrate(p: argparse.ArgumentParser, help: str = "also calibrate and replicate") -> None:
    p.add_argument("--calibrate", action="store_true", help=help)


def error(exc: Exception) -> int:
    """Print an input error the way the converters do; the exit status 1."""
    print(f"error: {exc}", file=sys.stderr)
    return 1


def calibrate_and_report(data, *, numeraire=None, options: dict | None = None) -> None:
    """Calibrate ``data``, start at the benchmark, solve, and print the residual and the
    number of IPOPT iterations (0 or 1 when the benchmark replicates)."""
    from cge import Equilibrium
    from cge.solve import max_residual

    from .calibrate import calibrate, set_start

    prim, start = calibrate(data, numeraire=numeraire)
    eq = Equilibrium(prim, options=options)
    set_start(eq, start)
    print(f"calibrated; largest residual at the benchmark {max_residual(eq.model):.2e}")
    eq.solve()
    print(f"benchmark solve: {eq.last_stats.iterations} IPOPT iterations")
