"""Units and meanings of every column of a run's tables: the data dictionary.

Every table written by :func:`cge.report.write_results` (CSV, Parquet, Excel,
netCDF) has one row per column in the data dictionary (``units.csv``, the
``units`` sheet of ``results.xlsx`` and ``run_info.json["units"]``), giving
its unit and meaning. The units used:

``money``
    the data's currency at benchmark prices: a calibrated workbook states it
    (``info`` sheet, key ``units``: e.g. *million USD (2006)*); primitives
    without a currency are in *numeraire units*. Every value is measured in
    the numeraire, which calibration sets to 1 at the benchmark, so a value of
    1 is one unit of the data's currency at benchmark prices.
``%``
    percent change, :math:`100\\,(x'/x - 1)`.
``log points``
    :math:`100\\,\\Delta\\ln x`: the welfare total and its components, which add
    up exactly (a percent change does not split into additive parts).
``log``
    :math:`\\Delta\\ln x` (margins of trade: extensive plus intensive is the
    log change of trade).
``index``
    a price index, 1 at benchmark prices of 1 (the CPI is normalised to
    :math:`\\prod_s P_{ns}^{\\beta_{ns}}`).
``rate``
    a decimal rate (0.25 is 25 %).

:func:`data_dictionary` builds the table; :func:`unit_of` answers for one
column and raises :class:`KeyError` for a column it does not know, so a new
column without a unit is caught by the tests.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["WELFARE_MEASURE", "money_unit", "unit_of", "data_dictionary", "units_by_table"]

#: The one welfare measure of tables, console and pictures: total and components.
WELFARE_MEASURE = ("log points: 100 x change in the log of real income (welfare_log_points, "
                   "the welfare table's total; it and its components add up exactly); "
                   "welfare_change_pct is the same change in % (100 x (exp(log points / 100) "
                   "- 1)) and ev the equivalent variation in money")

_LABELS = {
    "model": ("label", "market structure of the model (as_specified unless structures are compared)"),
    "region": ("label", "region"),
    "destination": ("label", "importing region n"),
    "origin": ("label", "exporting region i"),
    "sector": ("label", "sector"),
    "factor": ("label", "factor of production"),
    "item": ("label", "factor or sector the price belongs to"),
    "price": ("label", "which price"),
    "market_structure": ("label", "melitz, krugman or armington"),
    "equilibrium": ("label", "benchmark, counterfactual or change"),
    "identity": ("label", "accounting identity checked"),
    "statement": ("text", "expected qualitative result"),
    "passed": ("true/false", "whether the expectation holds"),
    "ok": ("true/false", "whether the identity holds within the tolerance"),
    "tolerance": ("relative", "tolerance of the identity check"),
    "shock": ("label", "shock of the scenario (label, or type and position)"),
    "table": ("label", "table of the results folder"),
    "column": ("label", "column of that table"),
    "unit": ("text", "unit of the column"),
    "meaning": ("text", "what the column measures"),
    "quantity": ("label", "result being decomposed"),
    "partner": ("label", "exporting region of a trade quantity (empty for regional results)"),
    "nodes": ("count", "Gauss-Legendre nodes of the path integral"),
}

# Welfare components (log points) and their money counterparts.
_COMPONENT_TEXT = {
    "terms_of_trade": "factor prices relative to the factor cost of the region's purchases",
    "endowments": "quantities of factors",
    "tariffs": "tariff revenue net of what the region's own tariffs add to its prices",
    "production_taxes": "production-tax revenue net of what production taxes add to prices",
    "trade_costs": "iceberg trade costs",
    "variety": "mass of sellers (variety)",
    "selection": "average productivity of sellers (selection)",
    "market_size": "market size (markups that vary with the size of the market)",
    "consumer_surplus": "consumer surplus of the linear (Melitz-Ottaviano) sectors, in units "
    "of the outside good q0",
    "profits": "profit income",
    "transfers": "trade deficit (transfers)",
    "government": "paying for fixed real government consumption",
    "investment": "paying for fixed real investment",
    "residual": "total minus the sum of the components (solver tolerance)",
}

# Caliendo and Parro's (2015) first-order welfare terms (cge.welfare.first_order):
# a linearisation, reported next to the exact change, never in place of it.
_FIRST_ORDER = {
    "first_order_terms_of_trade": "FIRST-ORDER terms of trade (Caliendo-Parro 2015): export "
    "minus import price changes weighted by benchmark flows; not the exact welfare change",
    "first_order_volume_of_trade": "FIRST-ORDER volume of trade (Caliendo-Parro 2015): import "
    "quantity changes weighted by the tariff wedge; not the exact welfare change",
    "first_order_total": "FIRST-ORDER welfare (Caliendo-Parro 2015's published measure): terms "
    "plus volume of trade; compare with welfare_change_pct, the exact change",
}

# Levels: unit by variable name (without _base/_new/_change_pct suffixes).
_LEVELS = {
    "income": ("money", "income of the regional household"),
    "population": ("persons (data units)", "population"),
    "real_income_per_capita": ("money per person", "real income per head (benchmark money)"),
    "real_income": ("money", "real income: income deflated by the CPI (benchmark money)"),
    "cpi": ("index", "consumer price index prod_s P_ns^beta_ns (1 at unit prices)"),
    "tariff_revenue": ("money", "tariff revenue"),
    "production_tax_revenue": ("money", "production-tax revenue"),
    "exports": ("money", "exports (c.i.f. value, before tariffs)"),
    "imports": ("money", "imports (c.i.f. value, before tariffs)"),
    "trade_balance": ("money", "exports minus imports"),
    "trade_value": ("money", "bilateral trade at c.i.f. value, before tariffs"),
    "trade_share": ("share", "share of the destination's spending on the sector (0 to 1)"),
    "sellers": ("mass of firms", "firms of the origin selling in the destination"),
    "cutoff": ("productivity", "productivity of the least productive seller (Pareto units)"),
    "tariff": ("rate", "ad valorem tariff (0.25 is 25%)"),
    "tau": ("factor >= 1", "iceberg trade cost"),
    "output": ("money", "sales of the sector (value)"),
    "entry_mass": ("mass of firms", "firms entering per period"),
    "producers": ("mass of firms", "firms producing"),
    "domestic_cutoff": ("productivity", "productivity of the least productive producer"),
    "exporter_share": ("share", "share of producers that export (0 to 1)"),
    "average_productivity": ("productivity", "Melitz average productivity of producers"),
    "value": ("see identity or statement", "value checked"),
    "base": ("see price", "benchmark level"),
    "new": ("see price", "counterfactual level"),
}

_SECTOR_TEXT = {
    "beta": ("share", "final-demand share of the sector"),
    "price_index_drop": ("log points", "-100 x change in the log of the sector's price index"),
    "input_cost": ("log points", "direct channel of the price index: input costs"),
    "variety_domestic": ("log points", "variety of domestic sellers"),
    "variety_imported": ("log points", "variety of imported sellers"),
    "selection_domestic": ("log points", "selection among domestic sellers"),
    "selection_imported": ("log points", "selection among importers"),
    "varieties_available_pct": ("%", "mass of varieties available (descriptive)"),
    "seller_productivity_pct": ("%", "average productivity of all sellers (descriptive)"),
}


def money_unit(units: str | None) -> str:
    """The money unit of a run: the data's currency at benchmark prices, or numeraire units."""
    units = (units or "").strip()
    if not units or units.lower().startswith("illustrative"):
        return "numeraire units (benchmark money)"
    return f"{units}, benchmark prices"


def unit_of(column: str, table: str = "", money: str = "money") -> tuple[str, str]:
    """``(unit, meaning)`` of ``column`` of ``table``; :class:`KeyError` if unknown."""
    col = str(column)
    if col in _LABELS:
        return _LABELS[col]

    def out(unit, text):
        return (money if unit == "money" else unit), text

    if table == "subtotals" and col == "value":
        return "unit of the quantity (column unit)", ("contribution of the shock to the change "
                                                      "of the quantity, or its total")
    if table == "subtotals" and col == "unit":
        return "text", "unit of the quantity and of its contributions"
    if table == "welfare_sectors" and col in _SECTOR_TEXT:
        return out(*_SECTOR_TEXT[col])
    if table == "welfare_sectors" and col in ("tariffs", "trade_costs", "residual", "market_size"):
        return "log points", f"direct channel of the price index: {col.replace('_', ' ')}"
    if col == "welfare_change_pct":
        return "%", ("the same welfare change as welfare_log_points (the welfare total), in %: "
                     "100 x (U'/U - 1) = 100 x (exp(log points / 100) - 1), U real income; not "
                     "additive (the components add up to the log points)")
    if col == "total" or col == "welfare_log_points":
        return "log points", "welfare change: 100 x change in the log of real income"
    if col in _COMPONENT_TEXT:
        return "log points", f"welfare component: {_COMPONENT_TEXT[col]}"
    if col in _FIRST_ORDER:
        return "% of benchmark income", _FIRST_ORDER[col]
    if col == "ev":
        return money, "equivalent variation: income change at benchmark prices giving the new welfare"
    if col == "ev_pct_of_income":
        return "%", "equivalent variation in % of benchmark income"
    m = re.fullmatch(r"ev_(.+)", col)
    if m and m.group(1) in _COMPONENT_TEXT:
        return money, f"equivalent variation, component: {_COMPONENT_TEXT[m.group(1)]}"
    if col == "change_pct" or col.endswith("_change_pct") or col.endswith("_pct"):
        base = re.sub(r"(_change)?_pct$", "", col)
        return "%", f"% change of {base.replace('_', ' ') or 'the price'}"
    if col.endswith("_log"):
        what = {"extensive_margin_log": "extensive margin: change in the log of sellers",
                "intensive_margin_log": "intensive margin: change in the log of sales per seller"}
        return "log", what.get(col, f"change in the log of {col[:-4].replace('_', ' ')}")
    m = re.fullmatch(r"(.+)_(base|new)", col)
    if m and m.group(1) in _LEVELS:
        unit, text = _LEVELS[m.group(1)]
        return out(unit, f"{text} ({'benchmark' if m.group(2) == 'base' else 'counterfactual'})")
    if col in _LEVELS:
        unit, text = _LEVELS[col]
        if table == "prices_factors" and col in ("base", "new"):
            return "index (price, 1 at a calibrated benchmark)", text
        return out(unit, text)
    raise KeyError(f"{table}.{col}: no unit known for this column")


#: The unit given to a column :func:`unit_of` does not know (the tests require none).
UNDOCUMENTED = "undocumented"


def data_dictionary(tables: dict[str, pd.DataFrame], money: str) -> pd.DataFrame:
    """One row per (table, column) of ``tables``: unit and meaning. A column without a
    known unit gets :data:`UNDOCUMENTED` (results are still written; the test suite
    fails on it)."""
    rows = []
    described = {**tables, "units": pd.DataFrame(columns=["table", "column", "unit", "meaning"])}
    for name, frame in described.items():
        for col in frame.columns:
            try:
                unit, text = unit_of(col, name, money)
            except KeyError:
                unit, text = UNDOCUMENTED, "no unit documented in cge.units for this column"
            rows.append({"table": name, "column": str(col), "unit": unit, "meaning": text})
    return pd.DataFrame(rows, columns=["table", "column", "unit", "meaning"])


def units_by_table(dictionary: pd.DataFrame) -> dict[str, dict[str, str]]:
    """``{table: {column: unit}}`` (for ``run_info.json``)."""
    out: dict[str, dict[str, str]] = {}
    for row in dictionary.itertuples(index=False):
        out.setdefault(row.table, {})[row.column] = row.unit
    return out


def folder_checksum(folder) -> str:
    """sha256 over the CSV files of a data folder (names and contents, in name order)."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256()
    for p in sorted(Path(folder).glob("*.csv")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()
