"""Results pinned to what `cge` computed before the speed work of issue 14.

Every optimisation (compiled systems, Newton warm solves, reduced formulations,
faster I/O) must leave the equilibria where they were: the bundled runs'
counterfactual prices, quantities and welfare are stored in
``tests/data/pinned/<run>.json`` and compared to 1e-9 of each column's scale.

The stored values were written by ``python -m tests.tools.pin_results`` at
commit 976bd30 (before this session's speed work). Write them again only for a
change in the economics, and say why in the commit message.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

PINNED = Path(__file__).parent / "data" / "pinned"

#: Relative tolerance of a pinned value, per column scale (issue 14: "results identical
#: to today's (1e-9)").
PIN_REL = 1e-9

#: Columns pinned from a run's in-memory results, table by table.
RESULT_COLUMNS = {
    "regions": ["income", "cpi", "tariff_revenue", "trade_balance"],
    "sectors": ["price_index", "expenditure", "input_price", "output", "entry_mass",
                "domestic_cutoff"],
    "factors": ["factor_price"],
}
#: The same quantities read from a results folder's CSV files (runs made with `cge run`).
FOLDER_COLUMNS = {
    "summary.csv": (["model", "region"], ["welfare_log_points", "income_new", "cpi_new",
                                          "tariff_revenue_new", "trade_balance_new"]),
    "prices_factors.csv": (["model", "region", "price", "item"], ["new"]),
    "firms.csv": (["model", "region", "sector"], ["output_new", "entry_mass_new",
                                                  "domestic_cutoff_new"]),
}


def _key(index) -> str:
    return "|".join(map(str, index)) if isinstance(index, tuple) else str(index)


def _columns(frame: pd.DataFrame, columns: list[str], prefix: str) -> dict[str, dict[str, float]]:
    out = {}
    for col in columns:
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        kept = values[np.isfinite(values.to_numpy(dtype=float))]
        if len(kept):
            out[f"{prefix}{col}"] = {_key(k): float(v) for k, v in kept.items()}
    return out


def from_result(result) -> dict[str, dict[str, float]]:
    """The pinned quantities of a :class:`cge.scenario.ScenarioResult`, model by model."""
    out = {}
    for label, run in result.runs.items():
        for table, columns in RESULT_COLUMNS.items():
            out.update(_columns(getattr(run.new, table), columns, f"{label}/{table}/"))
        out.update(_columns(run.welfare.regions, ["total"], f"{label}/welfare/"))
    return out


def from_folder(folder: Path) -> dict[str, dict[str, float]]:
    """The pinned quantities of a results folder written by ``cge run``."""
    out = {}
    for name, (index, columns) in FOLDER_COLUMNS.items():
        frame = pd.read_csv(Path(folder) / name).set_index(index)
        out.update(_columns(frame, columns, f"{name}/"))
    return out


def load(run: str) -> dict[str, dict[str, float]]:
    return json.loads((PINNED / f"{run}.json").read_text())


def save(run: str, values: dict[str, dict[str, float]]) -> Path:
    PINNED.mkdir(parents=True, exist_ok=True)
    path = PINNED / f"{run}.json"
    path.write_text(json.dumps(values, indent=0, sort_keys=True) + "\n")
    return path


def differences(actual: dict, expected: dict, rel: float = PIN_REL) -> list[str]:
    """Every pinned column whose values moved by more than ``rel`` of the column's scale
    (largest absolute pinned value, at least 1 for quantities that are near zero, such as
    welfare changes in log points, and at least the largest income for trade balances and
    tariff revenue),
    or whose entries appeared or disappeared."""
    problems = []
    for column in sorted(set(expected) | set(actual)):
        exp, act = expected.get(column), actual.get(column)
        if exp is None or act is None:
            problems.append(f"{column}: {'new' if exp is None else 'missing'} column")
            continue
        if set(exp) != set(act):
            problems.append(f"{column}: entries differ ({sorted(set(exp) ^ set(act))[:5]})")
            continue
        keys = sorted(exp)
        e = np.array([exp[k] for k in keys])
        a = np.array([act[k] for k in keys])
        scale = max(1.0, float(np.abs(e).max())) if column.endswith(("welfare/total",
                                                                     "welfare_log_points")) \
            else float(np.abs(e).max()) or 1.0
        for part in ("trade_balance", "tariff_revenue"):
            if part not in column:
                continue
            # trade balances: a difference of flows the size of income, zero by
            # construction under the zero_baseline deficit closure; tariff revenue: a part
            # of income, zero by construction without tariffs (the Borderland runs). There
            # their own largest value is rounding noise (1e-26), on the scale of income.
            income = expected.get(column.replace(part, "income"))
            if income:
                scale = max(scale, float(np.abs(list(income.values())).max()))
        err = np.abs(a - e)
        worst = int(err.argmax())
        if err[worst] > rel * scale:
            problems.append(f"{column}[{keys[worst]}]: {a[worst]!r} vs pinned {e[worst]!r} "
                            f"(difference {err[worst]:.3e} > {rel:g} x scale {scale:.3e})")
    return problems
