"""Calibration of :mod:`cge` models to benchmark data and social accounting matrices.

* :class:`BenchmarkData` - a labelled, consistent multi-region benchmark
  (bilateral trade, tariffs, factor payments, production taxes, intermediate and
  final demand, deficits, sector parameters); checked by the ``check_*`` functions of
  :mod:`calibration.checks`.
* :func:`calibrate` - primitives under which the benchmark is an equilibrium at
  unit prices, plus the benchmark values of every unknown; :func:`set_start`
  writes those into a built :class:`cge.Equilibrium`.
* :func:`read_workbook` / :func:`write_workbook` - the multi-region SAM
  workbook format (see ``docs/calibration.md``), with checks naming sheet,
  account and cell, and optional RAS balancing (:mod:`calibration.balance`).
"""

from .benchmark import BenchmarkData
from .calibrate import (
    DEFAULT_EXPORTER_SHARE, DEFAULT_SURVIVAL, CalibrationError, CalibrationReport, StartValues,
    TRADE_COST_RULES, benchmark_from_equilibrium, calibrate, calibrated_equilibrium, set_start,
    trade_cost_split,
)
from .balance import cross_entropy_balance, ras_balance
from .checks import benchmark_problems, check_benchmark
from .sam import (
    ReadReport, WorkbookError, load_workbook, read_workbook, write_benchmark_workbook,
    write_workbook,
)

__all__ = [
    "BenchmarkData", "CalibrationError", "CalibrationReport", "DEFAULT_EXPORTER_SHARE",
    "DEFAULT_SURVIVAL", "StartValues", "benchmark_from_equilibrium", "benchmark_problems",
    "calibrate", "calibrated_equilibrium", "check_benchmark", "set_start", "trade_cost_split",
    "TRADE_COST_RULES",
    "ReadReport", "WorkbookError", "load_workbook", "ras_balance", "cross_entropy_balance", "read_workbook",
    "write_benchmark_workbook", "write_workbook",
]
