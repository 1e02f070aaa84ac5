r"""Multi-region social accounting matrices in Excel workbooks: reading, checking, writing.

The workbook format is documented in ``docs/calibration.md``; in short:

``regions``     columns ``region``, ``sheet``: the regions, in order, and the sheet
                holding each region's SAM.
``accounts``    columns ``account``, ``type``, ``label``: the accounts every regional
                SAM has. Types: ``activity`` and ``commodity`` (label: the sector),
                ``factor`` (label: the factor), ``household``, ``government``,
                ``enterprise``, ``tax`` (direct and other taxes), ``tariff``,
                ``production_tax``, ``savings_investment``, ``rest_of_world``.
SAM sheets      one per region, rows receive and columns pay, either a square matrix
                (account labels in the first row and the first column; a row or
                column labelled ``total`` is ignored) or a long table with the
                header ``row, column, value`` (absent pairs are zero).
``trade``       columns ``origin, destination, sector, value, tariff_rate`` and
                optionally ``exporter_share``: international flows at c.i.f. value
                net of tariff (domestic rows are optional and must match the SAMs).
``parameters``  columns ``sector, sigma, k, market_structure`` and optionally ``delta``.
``firms``       optional; columns ``region, sector`` and any of ``survival``, ``entrants``.
``trade_costs`` optional; columns ``origin, destination, sector, trade_cost``: the trade-cost
                index T = tau^-epsilon of each route (e.g. written by ``cge gravity``).
``info``        optional; columns ``key, value`` (name, units, source, ...).

Closure (how SAM accounts map into :class:`~calibration.BenchmarkData`):
household, government, enterprises, tax accounts and savings-investment form
one *regional household* (as in GTAP): its final demand is every purchase of a
commodity by these accounts (private and government consumption, investment),
and transfers among them cancel. The split of final demand by agent is kept
for the other closures of final demand (:class:`cge.primitives.Closure`):
commodity purchases of ``government`` and ``tax`` accounts are
``government_demand``, those of ``savings_investment`` accounts
``investment_demand``, those of ``household`` and ``enterprise`` accounts the
household's (the rest of ``final_demand``). A negative government or
investment purchase (a stock drawdown) is netted against the household's
purchases of that commodity. Foreign savings are the deficit, which by the
balance of the rest-of-world account equals imports minus exports. Net
production taxes (the cells production_tax <- activity) are read one of three
ways (option ``production_taxes``):

``"tax"`` (default)
    as such: the benchmark's ``production_tax`` field, which calibration turns
    into the model's ad valorem production tax :math:`t^P_{is}` (tax over factor
    payments plus intermediate purchases). Factor payments are value added at
    factor cost (the tax is not in them); value added plus the tax is the
    SAM's value added at market prices. The revenue is income of the
    regional household: the production-tax account's payments to the
    government or the household are transfers within it. A counterfactual can
    change the rate (``type: parameter``, ``parameter: production_tax``).
``"pro_rata"``
    added to the factor payments of the activity in proportion to those
    payments (value added at market prices, no production tax): a
    counterfactual then holds them as factor income.
``"factor"``
    booked as a separate factor ``production_tax`` (non-negative taxes only).

Every SAM account thus has a place in the model by default: production taxes
are government revenue, as tariffs are.

Every problem found is reported at once in a :class:`WorkbookError` naming the
sheet, the account and the cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cge.errors import InputError
from cge.parameters import MARKET_STRUCTURES

from .balance import imbalances, ras_balance
from .benchmark import BenchmarkData
from .checks import TOL, benchmark_problems

ACCOUNT_TYPES = ("activity", "commodity", "factor", "household", "government", "enterprise",
                 "tax", "tariff", "production_tax", "savings_investment", "rest_of_world")
#: Accounts that together form the regional household.
INSTITUTIONS = ("household", "government", "enterprise", "tax")
PRODUCTION_TAXES = ("tax", "pro_rata", "factor")
#: The default reading of the production-tax cells (:func:`read_workbook`).
DEFAULT_PRODUCTION_TAXES = "tax"
_MAX_LISTED = 12


class WorkbookError(InputError):
    """Problems in a workbook; each names the sheet, the account or column, and the cell."""


# ====================================================================== cells
class _Book:
    """An openpyxl workbook read for cached values, with formulas looked up on demand.

    Every location in a message comes from :meth:`at`, so that other containers
    of the same sheets (a folder of CSV files, :class:`calibration.csv_io.CsvFolder`)
    reuse the reader and all its checks with their own names for sheets and cells.
    """

    kind = "sheet"           # what a sheet is called in messages
    sep = "!"                # between the sheet and the cell in a location
    numbers_as_text = False  # True: every cell is text and numbers are parsed (CSV)

    def __init__(self, path: Path):
        import openpyxl

        from cge import fsio

        self.path = path
        self.problems: list[str] = []  # problems found while reading the container itself
        try:  # an .xls, a CSV or garbage named .xlsx: say what the file is
            fsio.check_workbook_file(path)
        except InputError as exc:
            raise WorkbookError(exc.problems) from None
        try:
            self.values = openpyxl.load_workbook(path, data_only=True)
        except Exception as exc:  # not a workbook, corrupt, ...
            raise WorkbookError(f"{path}: cannot be read as an Excel workbook: {exc}") from None
        self._formulas = None

    def formula(self, sheet: str, coord: str):
        if self._formulas is None:
            import openpyxl

            self._formulas = openpyxl.load_workbook(self.path, data_only=False)
        val = self._formulas[sheet][coord].value
        if isinstance(val, str) and val.startswith("="):
            return val
        if getattr(val, "text", None):  # array formulas
            return str(val.text)
        return None

    def has(self, sheet: str) -> bool:
        return sheet in self.values.sheetnames

    @property
    def sheetnames(self) -> list[str]:
        return list(self.values.sheetnames)

    def at(self, sheet: str, cell=None) -> str:
        """Where a sheet (``trade``) or one of its cells (``trade!E3``) is, for messages."""
        return sheet if cell is None else f"{sheet}{self.sep}{cell.coordinate}"


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(book: _Book, sheet: str, cell, what: str, problems: list[str], *,
            blank: float | None = None) -> float:
    """The numeric value of ``cell``; problems name the sheet, the cell and ``what``."""
    value = cell.value
    where = f"{book.at(sheet, cell)} ({what})"
    if book.numbers_as_text and isinstance(value, str) and not _blank(value):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool):
        problems.append(f"{where}: {value!r} where a number is expected")
        return math.nan
    if isinstance(value, (int, float)):
        x = float(value)
        if not math.isfinite(x):
            problems.append(f"{where}: {value!r} is not a finite number")
            return math.nan
        return x
    if _blank(value):
        formula = book.formula(sheet, cell.coordinate)
        if formula is not None:
            problems.append(f"{where}: formula {formula!r} has no cached value (the file was "
                            "saved by a program that does not compute formulas); open and save "
                            "it in Excel or LibreOffice, or write values instead")
            return math.nan
        if blank is not None:
            return blank
        problems.append(f"{where}: blank cell where a number is expected (write 0 for zero)")
        return math.nan
    if isinstance(value, str):
        hint = ""
        try:
            float(value)
            hint = " (a number stored as text?)"
        except ValueError:
            pass
        problems.append(f"{where}: text {value!r} where a number is expected{hint}")
        return math.nan
    problems.append(f"{where}: {type(value).__name__} {value!r} where a number is expected")
    return math.nan


def _label(value) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# ===================================================================== tables
@dataclass
class _Table:
    """A header-and-rows sheet: the cells of each row by lower-case column name."""

    sheet: str
    columns: dict[str, int]
    rows: list[dict[str, object]]  # column name -> openpyxl cell
    book: _Book


def _read_table(book: _Book, sheet: str, required: Sequence[str], optional: Sequence[str],
                problems: list[str], *, needed: bool = True) -> _Table | None:
    if not book.has(sheet):
        if needed:
            problems.append(f"{book.kind} {book.at(sheet)!r} is missing "
                            f"({book.kind}s: {book.sheetnames})")
        return None
    ws = book.values[sheet]
    header = {}
    for cell in ws[1]:
        name = _label(cell.value)
        if name is None:
            continue
        key = name.lower()
        if key in header:
            problems.append(f"{book.at(sheet, cell)}: duplicate column {name!r}")
        header[key] = cell.column - 1
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(f"{book.at(sheet)}: missing column(s) {missing} in the first row "
                        f"(found {list(header)}; expected {list(required)} and optionally "
                        f"{list(optional)})")
        return None
    keep = {c: header[c] for c in list(required) + list(optional) if c in header}
    rows = []
    for row in ws.iter_rows(min_row=2):
        cells = {c: row[j] if j < len(row) else None for c, j in keep.items()}
        if all(cell is None or _blank(cell.value) for cell in cells.values()):
            continue
        rows.append(cells)
    return _Table(sheet, keep, rows, book)


def _text_cell(table: _Table, row: dict, col: str, problems: list[str]) -> str | None:
    cell = row[col]
    value = _label(cell.value) if cell is not None else None
    if value is None:
        book = table.book
        where = book.at(table.sheet, cell) if cell is not None else f"{book.at(table.sheet)}{book.sep}?"
        problems.append(f"{where} ({col}): blank cell")
    return value


# ======================================================================= SAMs
@dataclass
class RegionalSAM:
    """One region's SAM: accounts, values (rows receive, columns pay) and cell references."""

    region: str
    sheet: str
    accounts: list[str]
    values: np.ndarray
    cells: dict[tuple[str, str], str] = field(default_factory=dict)
    sep: str = "!"  # between sheet and cell reference (" " for CSV files: "sam_X.csv row 4, ...")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.accounts, columns=self.accounts)

    def cell(self, row: str, col: str) -> str:
        ref = self.cells.get((row, col))
        return f"{self.sheet}{self.sep}{ref}" if ref else f"{self.sheet} (row {row}, column {col}; absent)"

    def get(self, row: str, col: str) -> float:
        return float(self.values[self.accounts.index(row), self.accounts.index(col)])


def _read_sam(book: _Book, region: str, sheet: str, accounts: list[str], problems: list[str],
              blank_as_zero: bool) -> RegionalSAM | None:
    if not book.has(sheet):
        problems.append(f"{book.at('regions')}: the SAM {book.kind} {book.at(sheet)!r} of region "
                        f"{region} is missing ({book.kind}s: {book.sheetnames})")
        return None
    ws = book.values[sheet]
    first = [_label(c.value) for c in ws[1][:3]]
    index = {a: j for j, a in enumerate(accounts)}
    A = np.zeros((len(accounts), len(accounts)))
    cells: dict[tuple[str, str], str] = {}
    local: list[str] = []
    if [x.lower() if x else x for x in first] == ["row", "column", "value"]:
        seen = {}
        for row in ws.iter_rows(min_row=2):
            if all(_blank(c.value) for c in row[:3]):
                continue
            if len(row) < 3:
                local.append(f"{book.at(sheet, row[0])}: a long-format row needs row, column and value")
                continue
            r, c = _label(row[0].value), _label(row[1].value)
            for lab, cell, what in ((r, row[0], "row account"), (c, row[1], "column account")):
                if lab is None:
                    local.append(f"{book.at(sheet, cell)} ({what}): blank cell")
                elif lab not in index:
                    local.append(f"{book.at(sheet, cell)} ({what}): account {lab!r} is not in "
                                 "the accounts sheet")
            if r not in index or c not in index:
                continue
            if (r, c) in seen:
                local.append(f"{book.at(sheet, row[0])}: pair (row {r}, column {c}) appears "
                             f"twice (also row {seen[r, c]})")
                continue
            seen[r, c] = row[0].row
            val = _number(book, sheet, row[2], f"row account {r}, column account {c}", local)
            A[index[r], index[c]] = val
            cells[r, c] = row[2].coordinate
    else:
        col_labels = {}
        for cell in ws[1][1:]:
            lab = _label(cell.value)
            if lab is None or lab.lower() == "total":
                continue
            if lab in col_labels.values():
                local.append(f"{book.at(sheet, cell)}: column account {lab!r} appears twice")
                continue
            col_labels[cell.column - 1] = lab
        row_labels = {}
        for row in ws.iter_rows(min_row=2, max_col=1):
            cell = row[0]
            lab = _label(cell.value)
            if lab is None or lab.lower() == "total":
                continue
            if lab in row_labels.values():
                local.append(f"{book.at(sheet, cell)}: row account {lab!r} appears twice")
                continue
            row_labels[cell.row] = lab
        for what, labels in (("row", row_labels.values()), ("column", col_labels.values())):
            extra = [x for x in labels if x not in index]
            missing = [a for a in accounts if a not in labels]
            if extra:
                local.append(f"{book.at(sheet)}: {what} account(s) {extra} are not in the accounts sheet")
            if missing:
                local.append(f"{book.at(sheet)}: {what} account(s) {missing} of the accounts sheet "
                             "are missing")
        for r_idx, r in row_labels.items():
            if r not in index:
                continue
            row = ws[r_idx]
            for c_idx, c in col_labels.items():
                if c not in index:
                    continue
                cell = row[c_idx] if c_idx < len(row) else ws.cell(row=r_idx, column=c_idx + 1)
                val = cell.value
                kind = val.__class__
                if (kind is float or kind is int) and math.isfinite(val):  # (most cells)
                    val = float(val)
                else:
                    val = _number(book, sheet, cell, f"row account {r}, column account {c}",
                                  local, blank=0.0 if blank_as_zero else None)
                A[index[r], index[c]] = val
                cells[r, c] = cell.coordinate
    problems += local
    if local:
        return None
    return RegionalSAM(region, book.at(sheet), list(accounts), A, cells, book.sep)


# ================================================================== workbook
@dataclass
class Workbook:
    """Everything read from a workbook, before it is mapped into :class:`BenchmarkData`."""

    path: str
    regions: list[str]
    accounts: pd.DataFrame  # account, type, label
    sams: dict[str, RegionalSAM]
    trade: pd.DataFrame  # origin, destination, sector, value, tariff_rate, exporter_share, cell
    parameters: pd.DataFrame
    firms: pd.DataFrame | None
    info: dict[str, str]
    trade_costs: pd.DataFrame | None = None  # origin, destination, sector, trade_cost
    #: With ``load_workbook(..., partial=True)``: the problems found while reading, and the
    #: tables (``accounts``, ``regions``, ``parameters``, ``trade``, ``firms``,
    #: ``trade_costs``, ``info``, ``files``) that had some; a region whose SAM had some is
    #: not in ``sams``.
    problems: list[str] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)

    def accounts_of(self, kind: str) -> list[str]:
        return list(self.accounts.loc[self.accounts["type"] == kind, "account"])

    def account(self, kind: str, label: str) -> str:
        # A dict built once per accounts table (rebuilt if the table is replaced): reading
        # a 31-region, 40-sector workbook asks tens of thousands of times.
        cache = self.__dict__.get("_account_cache")
        if cache is None or cache[0] is not self.accounts:
            lookup: dict = {}
            a = self.accounts
            for acc, typ, lab in zip(a["account"], a["type"], a["label"]):
                lookup.setdefault((typ, lab), acc)
            cache = (self.accounts, lookup)
            self.__dict__["_account_cache"] = cache
        if (kind, label) not in cache[1]:
            raise IndexError(f"no account of type {kind!r} with label {label!r}")
        return str(cache[1][kind, label])


@dataclass
class ReadReport:
    """What :func:`read_workbook` did: RAS adjustments (every changed cell), notes."""

    adjustments: pd.DataFrame
    imbalances_before: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)


def load_workbook(path: str | Path, *, blank_as_zero: bool = False,
                  partial: bool = False) -> Workbook:
    """Read and structurally check every sheet (labels, numbers, cells); no accounting checks.

    ``path`` is an ``.xlsx`` workbook or a folder of CSV files, one per sheet
    (:mod:`calibration.csv_io`). Raises :class:`WorkbookError` listing every
    problem found; with ``partial=True`` returns what could be read instead, with
    the problems and the unreadable tables in :attr:`Workbook.problems` and
    :attr:`Workbook.unreadable` (:func:`calibration.diagnose.workbook_problems`).
    """
    path = Path(path)
    if not path.exists():
        raise WorkbookError(f"{path}: no such file")
    if path.is_dir():
        from .csv_io import CsvFolder

        book = CsvFolder(path)
    else:
        from .excel_io import open_workbook  # calamine values, openpyxl formulas on demand

        book = open_workbook(path)
    problems: list[str] = []
    unreadable: set[str] = set()
    start = 0

    def part(name: str) -> None:  # the problems since the last part belong to ``name``
        nonlocal start
        if len(problems) > start:
            unreadable.add(name)
        start = len(problems)

    # ------------------------------------------------------------- accounts
    acc = _read_table(book, "accounts", ("account", "type"), ("label",), problems)
    accounts = []
    if acc is not None:
        for row in acc.rows:
            name = _text_cell(acc, row, "account", problems)
            kind = _text_cell(acc, row, "type", problems)
            label = _label(row["label"].value) if row.get("label") is not None else None
            if kind is not None and kind not in ACCOUNT_TYPES:
                problems.append(f"{book.at('accounts', row['type'])} (type of {name}): {kind!r} is "
                                f"not one of {list(ACCOUNT_TYPES)}")
            if kind in ("activity", "commodity", "factor") and label is None:
                problems.append(f"{book.at('accounts', row['account'])}: account {name!r} of type "
                                f"{kind} needs a label (its sector or factor)")
            if name in [a[0] for a in accounts]:
                problems.append(f"{book.at('accounts', row['account'])}: account {name!r} is listed "
                                "twice")
            accounts.append((name, kind, label))
    accounts_df = pd.DataFrame(accounts, columns=["account", "type", "label"])
    if acc is not None:
        for kind in ("rest_of_world",):
            n = int((accounts_df["type"] == kind).sum())
            if n != 1:
                problems.append(f"{book.at('accounts')}: need exactly one account of type {kind}, found {n}")
        for kind in ("tariff", "production_tax", "savings_investment"):
            n = int((accounts_df["type"] == kind).sum())
            if n > 1:
                problems.append(f"{book.at('accounts')}: at most one account of type {kind}, found {n}")
        if not (accounts_df["type"] == "household").any():
            problems.append(f"{book.at('accounts')}: no account of type household")
        for kind in ("activity", "commodity", "factor"):
            sub = accounts_df[accounts_df["type"] == kind]
            dupes = sorted(set(sub["label"][sub["label"].duplicated()]))
            if dupes:
                problems.append(f"{book.at('accounts')}: {kind} labels {dupes} appear more than once")
        acts = set(accounts_df.loc[accounts_df["type"] == "activity", "label"])
        coms = set(accounts_df.loc[accounts_df["type"] == "commodity", "label"])
        if acts != coms:
            problems.append(f"{book.at('accounts')}: sectors with an activity but no commodity account: "
                            f"{sorted(acts - coms)}; with a commodity but no activity account: "
                            f"{sorted(coms - acts)}")
    sectors = list(dict.fromkeys(accounts_df.loc[accounts_df["type"] == "activity", "label"]))
    account_names = [a for a in accounts_df["account"] if a is not None]
    part("accounts")

    # -------------------------------------------------------------- regions
    reg = _read_table(book, "regions", ("region", "sheet"), (), problems)
    regions, sheets = [], {}
    if reg is not None:
        for row in reg.rows:
            r = _text_cell(reg, row, "region", problems)
            sh = _text_cell(reg, row, "sheet", problems)
            if r in sheets:
                problems.append(f"{book.at('regions', row['region'])}: region {r!r} listed twice")
            if r is not None and sh is not None:
                regions.append(r)
                sheets[r] = sh
        if not regions:
            problems.append(f"{book.at('regions')}: no regions listed")
    part("regions")

    # ----------------------------------------------------------- parameters
    par = _read_table(book, "parameters", ("sector", "sigma", "k", "market_structure"),
                      ("delta",), problems)
    par_rows = []
    if par is not None:
        for row in par.rows:
            s = _text_cell(par, row, "sector", problems)
            if s is not None and sectors and s not in sectors:
                problems.append(f"{book.at('parameters', row['sector'])}: sector {s!r} has no "
                                f"activity account (sectors: {sectors})")
            sig = _number(book, "parameters", row["sigma"], f"sigma of {s}", problems)
            k = _number(book, "parameters", row["k"], f"k of {s}", problems)
            ms = _text_cell(par, row, "market_structure", problems)
            if ms is not None and ms not in MARKET_STRUCTURES:
                problems.append(f"{book.at('parameters', row['market_structure'])} (market_structure "
                                f"of {s}): {ms!r} is not one of {list(MARKET_STRUCTURES)}")
            delta = (_number(book, "parameters", row["delta"], f"delta of {s}", problems, blank=1.0)
                     if "delta" in par.columns and row.get("delta") is not None else 1.0)
            par_rows.append({"sector": s, "sigma": sig, "k": k, "market_structure": ms,
                             "delta": delta})
        listed = [r["sector"] for r in par_rows]
        missing = [s for s in sectors if s not in listed]
        if missing:
            problems.append(f"{book.at('parameters')}: no row for sector(s) {missing}")
        dupes = sorted({s for s in listed if s is not None and listed.count(s) > 1})
        if dupes:
            problems.append(f"{book.at('parameters')}: sector(s) {dupes} listed more than once")
    parameters = pd.DataFrame(par_rows, columns=["sector", "sigma", "k", "market_structure", "delta"])
    part("parameters")

    # ---------------------------------------------------------------- trade
    tr = _read_table(book, "trade", ("origin", "destination", "sector", "value", "tariff_rate"),
                     ("exporter_share",), problems)
    trade_rows = []
    if tr is not None:
        seen = {}
        for row in tr.rows:
            o = _text_cell(tr, row, "origin", problems)
            d = _text_cell(tr, row, "destination", problems)
            s = _text_cell(tr, row, "sector", problems)
            for lab, col, pool in ((o, "origin", regions), (d, "destination", regions),
                                   (s, "sector", sectors)):
                if lab is not None and pool and lab not in pool:
                    problems.append(f"{book.at('trade', row[col])} ({col}): {lab!r} is not a known "
                                    f"{'region' if col != 'sector' else 'sector'} ({pool})")
            what = f"{o} -> {d}, {s}"
            val = _number(book, "trade", row["value"], f"value {what}", problems)
            rate = _number(book, "trade", row["tariff_rate"], f"tariff_rate {what}", problems)
            if val < 0:
                problems.append(f"{book.at('trade', row['value'])} (value {what}) = {val:g}: trade "
                                "values must be >= 0")
            if rate <= -1:
                problems.append(f"{book.at('trade', row['tariff_rate'])} (tariff_rate {what}) = "
                                f"{rate:g}: must exceed -1")
            if o is not None and o == d and rate not in (0.0,) and not math.isnan(rate):
                problems.append(f"{book.at('trade', row['tariff_rate'])} (tariff_rate {what}) = "
                                f"{rate:g}: domestic sales bear no import tariff")
            share = math.nan
            if row.get("exporter_share") is not None and not _blank(row["exporter_share"].value):
                share = _number(book, "trade", row["exporter_share"], f"exporter_share {what}",
                                problems)
            key = (o, d, s)
            if key in seen:
                problems.append(f"{book.at('trade', row['origin'])}: route {what} appears twice "
                                f"(also row {seen[key]})")
            seen[key] = row["origin"].row
            trade_rows.append({"origin": o, "destination": d, "sector": s, "value": val,
                               "tariff_rate": rate, "exporter_share": share,
                               "cell": book.at("trade", row["value"])})
    trade = pd.DataFrame(trade_rows, columns=["origin", "destination", "sector", "value",
                                              "tariff_rate", "exporter_share", "cell"])
    part("trade")

    # ---------------------------------------------------------------- firms
    firms = None
    fm = _read_table(book, "firms", ("region", "sector"), ("survival", "entrants"), problems,
                     needed=False)
    if fm is not None:
        rows = []
        for row in fm.rows:
            r = _text_cell(fm, row, "region", problems)
            s = _text_cell(fm, row, "sector", problems)
            rec = {"region": r, "sector": s}
            for col in ("survival", "entrants"):
                rec[col] = (_number(book, "firms", row[col], f"{col} of {r}, {s}", problems,
                                    blank=math.nan) if row.get(col) is not None else math.nan)
            rows.append(rec)
        firms = pd.DataFrame(rows, columns=["region", "sector", "survival", "entrants"])
    part("firms")

    # ---------------------------------------------------------- trade costs
    trade_costs = None
    tc = _read_table(book, "trade_costs", ("origin", "destination", "sector", "trade_cost"), (),
                     problems, needed=False)
    if tc is not None:
        rows = []
        for row in tc.rows:
            o, d, s = (_text_cell(tc, row, c, problems) for c in ("origin", "destination", "sector"))
            what = f"trade_cost {o} -> {d}, {s}"
            value = _number(book, "trade_costs", row["trade_cost"], what, problems)
            if math.isfinite(value) and value <= 0:
                problems.append(f"{book.at('trade_costs', row['trade_cost'])} ({what}): {value:g}; "
                                "a trade-cost index T = tau^-epsilon must be > 0")
            rows.append({"origin": o, "destination": d, "sector": s, "trade_cost": value})
        trade_costs = pd.DataFrame(rows, columns=["origin", "destination", "sector", "trade_cost"])
    part("trade_costs")

    info = {}
    inf = _read_table(book, "info", ("key", "value"), (), problems, needed=False)
    if inf is not None:
        for row in inf.rows:
            k = _label(row["key"].value)
            if k is not None:
                info[k] = "" if row["value"] is None or row["value"].value is None else str(row["value"].value)
    part("info")

    # ----------------------------------------------------------------- SAMs
    sams = {}
    if account_names and regions:
        for r in regions:
            sam = _read_sam(book, r, sheets[r], account_names, problems, blank_as_zero)
            if sam is not None:
                sams[r] = sam
    if book.problems:
        unreadable.add("files")
    problems = [f"{path.name}: {p}" for p in book.problems + problems]
    if problems and not partial:
        raise WorkbookError(problems)
    return Workbook(str(path), regions, accounts_df, sams, trade, parameters, firms, info,
                    trade_costs, problems, unreadable)


# ============================================================ accounting checks
def _types(wb: Workbook) -> dict[str, str]:
    return dict(zip(wb.accounts["account"], wb.accounts["type"]))


def check_sam_balance(wb: Workbook, tol: float = TOL) -> list[str]:
    """Row total equals column total for every account of every regional SAM (largest first)."""
    out = []
    for r, sam in wb.sams.items():
        tab = imbalances(sam.values, sam.accounts)
        bad = tab[tab["relative"] > tol]
        for _, row in bad.head(_MAX_LISTED).iterrows():
            out.append(f"{sam.sheet}: account {row['account']} does not balance: row total "
                       f"{row['row_total']:.10g} != column total {row['column_total']:.10g} "
                       f"(difference {row['difference']:.6g}, relative {row['relative']:.2e})")
        if len(bad) > _MAX_LISTED:
            out.append(f"{sam.sheet}: {len(bad) - _MAX_LISTED} more accounts do not balance")
    return out


def check_sam_signs(wb: Workbook) -> list[str]:
    """Negative entries only where allowed: production taxes (subsidies) and the
    savings-investment row and column (negative savings, stock changes)."""
    t = _types(wb)
    out = []
    for r, sam in wb.sams.items():
        for a, b in zip(*np.nonzero(sam.values < 0)):
            ra, cb = sam.accounts[a], sam.accounts[b]
            if t[ra] == "savings_investment" or t[cb] == "savings_investment":
                continue
            if t[ra] == "production_tax" and t[cb] == "activity":
                continue
            out.append(f"{sam.cell(ra, cb)} (row account {ra}, column account {cb}) = "
                       f"{sam.values[a, b]:.10g}: a {t[ra]} account cannot receive a negative "
                       f"payment from a {t[cb]} account")
    return out[:_MAX_LISTED * 2]


def _allowed(rt: str, ct: str, same_sector: bool) -> bool:
    household = INSTITUTIONS + ("savings_investment",)
    block = household + ("factor", "tariff", "production_tax", "rest_of_world")
    if rt == "commodity" and ct == "activity":
        return True  # intermediate use
    if rt in ("factor", "production_tax") and ct == "activity":
        return True
    if rt == "activity" and ct == "commodity":
        return same_sector  # domestic sales
    if rt == "activity" and ct == "rest_of_world":
        return True  # exports
    if rt in ("rest_of_world", "tariff") and ct == "commodity":
        return True  # imports, tariffs
    if rt == "commodity" and ct in household:
        return True  # final demand
    if rt in block and ct in block and not (rt == ct == "rest_of_world"):
        return rt != "factor" or ct == "rest_of_world"  # transfers within the regional household
    return False


def check_sam_structure(wb: Workbook) -> list[str]:
    """Non-zero entries only in cells the format gives a meaning to (see the docs)."""
    t = _types(wb)
    lab = dict(zip(wb.accounts["account"], wb.accounts["label"]))
    hints = {
        ("commodity", "rest_of_world"): "exports are booked in the activity row",
        ("rest_of_world", "activity"): "imports are booked in the commodity column",
        ("activity", "commodity"): "an activity sells only its own commodity",
    }
    out = []
    for r, sam in wb.sams.items():
        for a, b in zip(*np.nonzero(sam.values != 0)):
            ra, cb = sam.accounts[a], sam.accounts[b]
            if _allowed(t[ra], t[cb], lab[ra] == lab[cb]):
                continue
            hint = hints.get((t[ra], t[cb]), "the format has no such flow")
            out.append(f"{sam.cell(ra, cb)} (row account {ra}, column account {cb}) = "
                       f"{sam.values[a, b]:.10g}: a payment from a {t[cb]} to a {t[ra]} account "
                       f"is not supported ({hint})")
    return out[:_MAX_LISTED * 2]


def _trade_arrays(wb: Workbook, sectors: list[str]):
    R = wb.regions
    nR, nS = len(R), len(sectors)
    X = np.zeros((nR, nR, nS))
    t = np.zeros((nR, nR, nS))
    share = np.full((nR, nR, nS), np.nan)
    domestic = {}
    for row in wb.trade.itertuples(index=False):
        n, i, j = R.index(row.destination), R.index(row.origin), sectors.index(row.sector)
        if n == i:
            domestic[n, j] = (row.value, row.cell)
            continue
        X[n, i, j] = row.value
        t[n, i, j] = row.tariff_rate
        share[n, i, j] = row.exporter_share
    return X, t, share, domestic


def check_trade_consistency(wb: Workbook, tol: float = TOL) -> list[str]:
    """Imports, exports and tariff revenue of every SAM agree with the trade sheet; domestic
    rows of the trade sheet, where given, agree with the SAMs' domestic sales."""
    sectors = list(wb.parameters["sector"])
    X, t, _, domestic = _trade_arrays(wb, sectors)
    out = []
    row_acc = wb.accounts_of("rest_of_world")[0]
    tariff_acc = (wb.accounts_of("tariff") or [None])[0]
    for n, r in enumerate(wb.regions):
        if r not in wb.sams:  # its sheet could not be read (load_workbook(partial=True))
            continue
        sam = wb.sams[r]
        for j, s in enumerate(sectors):
            act, com = wb.account("activity", s), wb.account("commodity", s)
            checks = [
                (sam.get(row_acc, com), X[n, :, j].sum(), sam.cell(row_acc, com),
                 f"imports of {s} into {r}", "sum of trade rows with destination " + r),
                (sam.get(act, row_acc), X[:, n, j].sum(), sam.cell(act, row_acc),
                 f"exports of {s} from {r}", "sum of trade rows with origin " + r),
            ]
            rev = float((t[n, :, j] * X[n, :, j]).sum())
            if tariff_acc is not None:
                checks.append((sam.get(tariff_acc, com), rev, sam.cell(tariff_acc, com),
                               f"tariff revenue of {r} on {s}", "sum of value x tariff_rate"))
            elif rev != 0:
                out.append(f"trade: tariff revenue of {r} on {s} is {rev:.10g} but the accounts "
                           "sheet has no tariff account")
            if (n, j) in domestic:
                val, cell = domestic[n, j]
                checks.append((sam.get(act, com), val, sam.cell(act, com),
                               f"domestic sales of {s} in {r}", f"domestic row {cell}"))
            for sam_val, trade_val, cell, what, how in checks:
                if abs(sam_val - trade_val) > tol * max(abs(sam_val), abs(trade_val), 1e-300):
                    out.append(f"{cell} ({what}) = {sam_val:.10g} but the trade sheet gives "
                               f"{trade_val:.10g} ({how}; difference {sam_val - trade_val:.6g})")
    return out


# ==================================================================== mapping
def _map(wb: Workbook, production_taxes: str) -> BenchmarkData:
    t_ = _types(wb)
    sectors = list(wb.parameters["sector"])
    factors = list(dict.fromkeys(wb.accounts.loc[wb.accounts["type"] == "factor", "label"]))
    R = wb.regions
    nR, nS = len(R), len(sectors)
    X, t, share, _ = _trade_arrays(wb, sectors)
    ptax_acc = (wb.accounts_of("production_tax") or [None])[0]
    rh = [a for a in wb.accounts["account"] if t_[a] in INSTITUTIONS + ("savings_investment",)]
    # Final demand by agent: government and tax accounts -> government, savings-investment
    # -> investment, household and enterprise accounts -> household.
    gov_acc = [a for a in rh if t_[a] in ("government", "tax")]
    inv_acc = [a for a in rh if t_[a] == "savings_investment"]
    extra = production_taxes == "factor" and ptax_acc is not None
    as_tax = production_taxes == "tax"
    PT = np.zeros((nR, nS))
    all_factors = factors + (["production_tax"] if extra else [])
    V = np.zeros((nR, nS, len(all_factors)))
    Z = np.zeros((nR, nS, nS))
    C = np.zeros((nR, nS))
    CG = np.zeros((nR, nS))
    CV = np.zeros((nR, nS))
    problems = []
    for n, r in enumerate(R):
        sam = wb.sams[r]
        for j, s in enumerate(sectors):
            act, com = wb.account("activity", s), wb.account("commodity", s)
            X[n, n, j] = sam.get(act, com)
            for g, f in enumerate(factors):
                V[n, j, g] = sam.get(wb.account("factor", f), act)
            for u, su in enumerate(sectors):
                Z[n, j, u] = sam.get(wb.account("commodity", su), act)
            C[n, j] = sum(sam.get(com, a) for a in rh)
            if C[n, j] < 0:
                problems.append(f"{sam.sheet}: final demand for {s} (row {com}, summed over "
                                f"{rh}) = {C[n, j]:.10g} is negative")
            else:
                CG[n, j], CV[n, j] = _agent_split(C[n, j], sum(sam.get(com, a) for a in gov_acc),
                                                  sum(sam.get(com, a) for a in inv_acc))
            if ptax_acc is not None:
                tax = sam.get(ptax_acc, act)
                if as_tax:
                    PT[n, j] = tax
                    costs = V[n, j].sum() + Z[n, j].sum()
                    if tax != 0 and not costs + tax > 0:
                        problems.append(f"{sam.cell(ptax_acc, act)}: subsidy {tax:.10g} to {s} "
                                        f"is not smaller than its factor payments and "
                                        f"intermediate purchases {costs:.10g} (the rate must "
                                        "exceed -1)")
                elif extra:
                    V[n, j, -1] = tax
                    if tax < 0:
                        problems.append(f"{sam.cell(ptax_acc, act)}: net production tax of {s} = "
                                        f"{tax:.10g} < 0 cannot be a factor payment; use "
                                        "production_taxes='tax' (the default) or 'pro_rata'")
                elif tax != 0:
                    va = V[n, j, :len(factors)].sum()
                    if va + tax <= 0:
                        problems.append(f"{sam.cell(ptax_acc, act)}: subsidy {tax:.10g} to {s} "
                                        f"exceeds its factor payments {va:.10g}")
                    else:
                        V[n, j, :len(factors)] *= (va + tax) / va
    if problems:
        raise WorkbookError(problems)
    par = wb.parameters.set_index("sector").loc[sectors]
    imports = X.sum(axis=(1, 2)) - np.einsum("nnj->n", X)
    exports = X.sum(axis=(0, 2)) - np.einsum("nnj->n", X)
    D = imports - exports
    survival = np.full((nR, nS), np.nan)
    entrants = np.full((nR, nS), np.nan)
    if wb.firms is not None:
        for row in wb.firms.itertuples(index=False):
            if row.region in R and row.sector in sectors:
                survival[R.index(row.region), sectors.index(row.sector)] = row.survival
                entrants[R.index(row.region), sectors.index(row.sector)] = row.entrants
    trade_cost = np.full((nR, nR, nS), np.nan)
    if wb.trade_costs is not None:
        tc_problems, seen = [], set()
        for j, row in enumerate(wb.trade_costs.itertuples(index=False), start=2):
            unknown = [f"{c} {v!r}" for c, v, known in (("origin", row.origin, R),
                                                       ("destination", row.destination, R),
                                                       ("sector", row.sector, sectors))
                       if v not in known]
            if unknown:
                tc_problems.append(f"trade_costs row {j}: unknown " + ", ".join(unknown))
                continue
            key = (R.index(row.destination), R.index(row.origin), sectors.index(row.sector))
            if key in seen:
                tc_problems.append(f"trade_costs row {j}: the route {row.origin} -> "
                                   f"{row.destination}, {row.sector} is already given")
            seen.add(key)
            trade_cost[key] = row.trade_cost
        if tc_problems:
            raise WorkbookError(tc_problems[:20])
    return BenchmarkData(
        regions=tuple(R), sectors=tuple(sectors), factors=tuple(all_factors),
        trade=X, tariff=t, factor_payments=V, intermediate=Z, final_demand=C, deficit=D,
        government_demand=CG, investment_demand=CV, production_tax=PT,
        sigma=par["sigma"].to_numpy(float), k=par["k"].to_numpy(float),
        delta=par["delta"].to_numpy(float), market_structure=dict(par["market_structure"]),
        survival=survival, exporter_share=share, entrants=entrants, trade_cost=trade_cost,
        name=wb.info.get("name", Path(wb.path).stem), units=wb.info.get("units", ""),
    )


def _agent_split(total: float, gov: float, inv: float) -> tuple[float, float]:
    """The government and investment parts of a final-demand cell, non-negative and together
    at most ``total`` (the household buys the rest). A negative part (a stock drawdown in
    the savings-investment column, say) is netted against the household's purchases; if
    those cannot absorb it, against the other agent's."""
    gov, inv = max(gov, 0.0), max(inv, 0.0)
    excess = gov + inv - total
    if excess > 0:  # the household's own purchases were negative
        cut = min(inv, excess)
        inv -= cut
        gov -= excess - cut
    return max(gov, 0.0), max(inv, 0.0)


# ====================================================================== RAS
def _ras_workbook(wb: Workbook, tol: float,
                  method: str = "ras") -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Balance every regional SAM in place, taking the trade sheet as given.

    The cells that follow from the trade sheet (imports, exports, tariff
    revenue) are set from it and held fixed, the foreign-savings cell
    (rest of world -> savings-investment) absorbs the imbalance of the
    rest-of-world account, and ``method`` adjusts every other positive entry:
    ``"ras"`` (:func:`calibration.balance.ras_balance`) or ``"cross_entropy"``
    (:func:`calibration.balance.cross_entropy_balance`). Returns every changed
    cell and the imbalances before balancing.
    """
    from .balance import cross_entropy_balance

    balance_sam = {"ras": ras_balance, "cross_entropy": cross_entropy_balance}[method]
    reason = {"ras": "RAS scaling", "cross_entropy": "cross-entropy adjustment"}[method]
    sectors = list(wb.parameters["sector"])
    X, t, _, _ = _trade_arrays(wb, sectors)
    row_acc = wb.accounts_of("rest_of_world")[0]
    tariff_acc = (wb.accounts_of("tariff") or [None])[0]
    si = (wb.accounts_of("savings_investment") or [None])[0]
    records, before = [], {}
    for n, r in enumerate(wb.regions):
        sam = wb.sams[r]
        acc = sam.accounts
        old = sam.values.copy()
        before[r] = imbalances(old, acc)
        A = sam.values
        fixed = np.zeros_like(A, dtype=bool)
        ir = acc.index(row_acc)
        fixed[ir, :] = True
        fixed[:, ir] = True
        for j, s in enumerate(sectors):
            a, c = acc.index(wb.account("activity", s)), acc.index(wb.account("commodity", s))
            A[ir, c] = X[n, :, j].sum()
            A[a, ir] = X[:, n, j].sum()
            if tariff_acc is not None:
                it = acc.index(tariff_acc)
                A[it, c] = float((t[n, :, j] * X[n, :, j]).sum())
                fixed[it, c] = True
        gap = A[ir, :].sum() - A[:, ir].sum()
        if abs(gap) > tol * 1e-3 * max(np.abs(A[ir, :]).sum(), np.abs(A[:, ir]).sum()):
            if si is None:
                raise WorkbookError(f"{sam.sheet}: the rest-of-world account does not balance "
                                    f"(difference {gap:.6g}) and there is no savings_investment "
                                    "account to book foreign savings")
            A[acc.index(si), ir] += gap
        res = balance_sam(A, ~fixed, tol=min(tol * 1e-3, 1e-12), accounts=acc)
        sam.values = res.matrix
        noise = 1e-13 * np.maximum(np.abs(old), np.abs(old).max())
        for a, b in zip(*np.nonzero(np.abs(sam.values - old) > noise)):
            ra, cb = acc[a], acc[b]
            records.append({
                "region": r, "sheet": sam.sheet, "cell": sam.cells.get((ra, cb), ""),
                "row_account": ra, "column_account": cb, "before": old[a, b],
                "after": sam.values[a, b], "change": sam.values[a, b] - old[a, b],
                "relative_change": (sam.values[a, b] - old[a, b]) / old[a, b] if old[a, b] else math.inf,
                "reason": ("set from the trade sheet" if fixed[a, b] and (ra, cb) != (si, row_acc)
                           else "foreign savings balance the rest-of-world account"
                           if (ra, cb) == (si, row_acc) else reason),
            })
    cols = ["region", "sheet", "cell", "row_account", "column_account", "before", "after",
            "change", "relative_change", "reason"]
    return pd.DataFrame(records, columns=cols), before


def read_workbook(path: str | Path, *, balance: str | None = None,
                  production_taxes: str = DEFAULT_PRODUCTION_TAXES, tol: float = TOL,
                  blank_as_zero: bool = False, with_report: bool = False):
    """Read a multi-region SAM workbook into :class:`BenchmarkData` (format: module docstring).

    ``path`` is an ``.xlsx`` workbook or a folder with one CSV file per sheet
    (:mod:`calibration.csv_io`); both are read and checked by the same code.

    Parameters
    ----------
    balance:
        ``None`` (default): the workbook must be consistent within ``tol``.
        ``"ras"``: the trade sheet is taken as given and each regional SAM is
        balanced by RAS (:func:`calibration.balance.ras_balance`); every
        adjustment is listed in the report.
        ``"cross_entropy"``: the same, but each regional SAM is balanced at the
        least cross entropy from the data
        (:func:`calibration.balance.cross_entropy_balance`).
    production_taxes:
        ``"tax"`` (default: production taxes as the model's production-tax
        instrument, revenue to regional income), ``"pro_rata"`` (folded into
        factor payments) or ``"factor"`` (a separate factor), see the module
        docstring.
    tol:
        Relative tolerance of every accounting identity.
    blank_as_zero:
        Read blank cells inside a square SAM as zero (default: a blank cell is
        an error; write 0 explicitly).
    with_report:
        Also return a :class:`ReadReport`.

    Raises :class:`WorkbookError` naming sheet, account and cell of every problem:
    when a pass fails, every independent problem of the workbook is listed at once
    (:func:`calibration.diagnose.workbook_problems`), not only that pass's.
    """
    options = dict(balance=balance, production_taxes=production_taxes, tol=tol,
                   blank_as_zero=blank_as_zero)
    try:
        return _read_workbook(path, with_report=with_report, **options)
    except WorkbookError as exc:
        if balance not in (None, "ras", "cross_entropy") or production_taxes not in PRODUCTION_TAXES:
            raise
        from .diagnose import workbook_problems

        found = workbook_problems(path, **options)
        if not found or set(found) <= set(exc.problems):
            raise
        raise WorkbookError(found) from None


def _read_workbook(path: str | Path, *, balance: str | None, production_taxes: str, tol: float,
                   blank_as_zero: bool, with_report: bool):
    """:func:`read_workbook`'s passes, stopping at the first that finds a problem."""
    if balance not in (None, "ras", "cross_entropy"):
        raise InputError(f"balance: expected None, 'ras' or 'cross_entropy', got {balance!r}")
    if production_taxes not in PRODUCTION_TAXES:
        raise InputError(f"production_taxes: expected one of {PRODUCTION_TAXES}, got {production_taxes!r}")
    wb = load_workbook(path, blank_as_zero=blank_as_zero)
    name = Path(path).name
    problems = check_sam_signs(wb) + check_sam_structure(wb)
    if problems:
        raise WorkbookError([f"{name}: {p}" for p in problems])
    extreme = [f"{name}: {p}" for p in extreme_sam_cells(wb)]  # valid, but probably a typo
    for msg in extreme:
        import warnings

        from cge.errors import ExtremeValueWarning

        warnings.warn(msg, ExtremeValueWarning, stacklevel=2)
    adjustments = pd.DataFrame()
    before = {}
    if balance is not None:
        adjustments, before = _ras_workbook(wb, tol, balance)
    problems = check_sam_balance(wb, tol) + check_trade_consistency(wb, tol)
    if problems:
        raise WorkbookError([f"{name}: {p}" for p in problems])
    data = _map(wb, production_taxes)
    problems = benchmark_problems(data, tol)
    if problems:
        raise WorkbookError([f"{name}: {p}" for p in problems])
    notes = [f"read from {name}"]
    if balance is not None:
        label = {"ras": "RAS balancing", "cross_entropy": "cross-entropy balancing"}[balance]
        notes.append(f"{label} changed {len(adjustments)} cells; largest relative change "
                     f"{adjustments['relative_change'].abs().replace(math.inf, np.nan).max():.3g}"
                     if len(adjustments) else f"{label}: nothing to change")
    data.notes = notes + [f"warning: {m}" for m in extreme]
    if with_report:
        return data, ReadReport(adjustments, before, notes)
    return data


#: A SAM cell this many times the median of the SAM's non-zero cells is reported.
EXTREME_CELL_RATIO = 1e6


def extreme_sam_cells(wb: Workbook, ratio: float = EXTREME_CELL_RATIO) -> list[str]:
    """Cells of a regional SAM many orders of magnitude above the rest (a unit or typing
    error that balancing would spread into iceberg costs of thousands)."""
    out = []
    for r, sam in wb.sams.items():
        vals = np.abs(sam.values)
        nonzero = vals[vals > 0]
        if nonzero.size < 4:
            continue
        median = float(np.median(nonzero))
        for a, b in zip(*np.nonzero(vals > ratio * median)):
            row, col = sam.accounts[a], sam.accounts[b]
            out.append(f"{sam.cell(row, col)} (row {row}, column {col}) = {sam.values[a, b]:g} is "
                       f"{vals[a, b] / median:.2g} times the median non-zero cell of the SAM of "
                       f"{r} ({median:g}): a unit or typing error?")
    return out


# ==================================================================== writing
def benchmark_sams(data: BenchmarkData) -> dict[str, pd.DataFrame]:
    r"""Regional SAMs (rows receive, columns pay) of a benchmark, in the workbook's accounts.

    Accounts (:func:`_default_accounts`): ``a_<sector>``, ``c_<sector>``, one
    per factor, ``household``, ``tariffs``, ``savings`` (savings-investment),
    ``rest_of_world``, ``government`` and, when some production tax is not
    zero, ``production_taxes``. Every account balances and
    :func:`read_workbook` maps the flows back:

    * activity ``s`` pays its intermediate inputs, its factors and its net
      production tax :math:`T^P_{ns}` (``production_taxes`` row; read back as
      such by default, ``production_taxes="tax"``) and receives domestic sales
      and exports;
    * commodity ``s`` pays domestic sales, imports (``rest_of_world``) and
      tariffs, and is bought by the activities (intermediate use), the
      household (:math:`C_{ns} - C_{ngs} - C_{nvs}`), ``government``
      (:math:`C_{ngs}`, read back as ``government_demand``) and ``savings``
      (:math:`C_{nvs}`, ``investment_demand``);
    * the household receives all factor income and pays the government the
      transfer that balances its budget, :math:`E_{ng} - T_n - T^P_n`
      (tariff and production-tax revenue accrue to ``government``; a negative
      transfer is booked as a payment from the government to the household),
      and saves :math:`E_{nv} - D_n`;
    * ``savings`` receives foreign savings :math:`D_n` from ``rest_of_world``
      (which pays for them with the trade balance) and the household's savings,
      and pays for investment.
    """
    accounts, _ = _written_accounts(data)
    R, S, F = data.regions, data.sectors, data.factors
    out = {}
    X = data.trade
    household = np.maximum(data.household_demand(), 0.0)  # (round-off below 0 dropped)
    tariffs = data.tariff_revenue().sum(axis=1)
    ptax = data.production_tax.sum(axis=1)

    def pay(A, to, frm, value):
        """``frm`` pays ``to`` ``value``; a negative value is booked the other way round."""
        if value >= 0:
            A.loc[to, frm] += value
        else:
            A.loc[frm, to] += -value

    for n, r in enumerate(R):
        A = pd.DataFrame(0.0, index=accounts, columns=accounts)
        for j, s in enumerate(S):
            act, com = f"a_{s}", f"c_{s}"
            A.loc[act, com] = X[n, n, j]
            A.loc[act, "rest_of_world"] = X[:, n, j].sum() - X[n, n, j]
            A.loc["rest_of_world", com] = X[n, :, j].sum() - X[n, n, j]
            A.loc["tariffs", com] = float((data.tariff[n, :, j] * X[n, :, j]).sum())
            for u, su in enumerate(S):
                A.loc[f"c_{su}", act] = data.intermediate[n, j, u]
            for g, f in enumerate(F):
                A.loc[f, act] = data.factor_payments[n, j, g]
            if "production_taxes" in accounts:
                A.loc["production_taxes", act] = data.production_tax[n, j]
            A.loc[com, "household"] = household[n, j]
            A.loc[com, "government"] = data.government_demand[n, j]
            A.loc[com, "savings"] = data.investment_demand[n, j]
        for g, f in enumerate(F):
            A.loc["household", f] = data.factor_payments[n, :, g].sum()
        pay(A, "government", "tariffs", tariffs[n])
        if "production_taxes" in accounts:
            pay(A, "government", "production_taxes", ptax[n])
        spend_g = data.government_demand[n].sum()
        pay(A, "government", "household", spend_g - tariffs[n] - ptax[n])
        A.loc["savings", "rest_of_world"] = data.deficit[n]
        A.loc["savings", "household"] = data.investment_demand[n].sum() - data.deficit[n]
        out[r] = A
    return out


def _written_accounts(data: BenchmarkData):
    """The accounts of :func:`benchmark_sams`: the default ones, ``government`` and, where
    some production tax is not zero, ``production_taxes``."""
    return _default_accounts(data, government=True,
                             production_tax=bool(np.any(data.production_tax != 0)))


def _default_accounts(data: BenchmarkData, *, government: bool = False,
                      production_tax: bool = False):
    """Accounts of a written benchmark: activities, commodities, factors, ``household``,
    ``tariffs``, ``savings``, ``rest_of_world`` and, if asked, ``government`` and
    ``production_taxes`` (after the others, so that the cells of the first ones keep
    their places)."""
    rows = [(f"a_{s}", "activity", s) for s in data.sectors]
    rows += [(f"c_{s}", "commodity", s) for s in data.sectors]
    rows += [(f, "factor", f) for f in data.factors]
    rows += [("household", "household", None), ("tariffs", "tariff", None),
             ("savings", "savings_investment", None), ("rest_of_world", "rest_of_world", None)]
    if government:
        rows.append(("government", "government", None))
    if production_tax:
        rows.append(("production_taxes", "production_tax", None))
    taken = [r[0] for r in rows]
    dupes = sorted({a for a in taken if taken.count(a) > 1})
    if dupes:
        raise InputError(f"write_workbook: account names {dupes} collide; rename factors or sectors")
    return [r[0] for r in rows], pd.DataFrame(rows, columns=["account", "type", "label"])


def write_workbook(path: str | Path, *, sams: dict[str, pd.DataFrame], accounts: pd.DataFrame,
                   trade: pd.DataFrame, parameters: pd.DataFrame, firms: pd.DataFrame | None = None,
                   info: dict[str, str] | None = None, layout: str = "matrix",
                   sheet_names: dict[str, str] | None = None, sources: pd.DataFrame | None = None,
                   trade_costs: pd.DataFrame | None = None) -> Path:
    """Write a workbook in the format of this module from its parts (DataFrames).

    ``sams[region]`` is a square DataFrame (rows receive, columns pay) indexed
    by account names; ``layout`` is ``"matrix"`` or ``"long"`` (non-zero cells
    only). ``sources`` (optional) is written as a ``sources`` sheet, ``trade_costs``
    (optional: ``origin, destination, sector, trade_cost``) as the ``trade_costs`` sheet.
    """
    if layout not in ("matrix", "long"):
        raise InputError(f"layout: expected 'matrix' or 'long', got {layout!r}")
    from cge.fsio import atomic_write

    sheet_names = sheet_names or {r: f"SAM_{r}" for r in sams}
    # written to a temporary file and moved into place: never a half-written workbook
    return atomic_write(path, lambda tmp: _write_parts(
        tmp, sams=sams, accounts=accounts, trade=trade, parameters=parameters, firms=firms,
        info=info, layout=layout, sheet_names=sheet_names, sources=sources,
        trade_costs=trade_costs))


def _write_parts(path, *, sams, accounts, trade, parameters, firms, info, layout, sheet_names,
                 sources, trade_costs=None) -> None:
    from .excel_io import excel_writer  # XlsxWriter; its refusals as InputError

    with excel_writer(path) as xw:
        if info:
            pd.DataFrame({"key": list(info), "value": list(info.values())}).to_excel(
                xw, sheet_name="info", index=False)
        pd.DataFrame({"region": list(sams), "sheet": [sheet_names[r] for r in sams]}).to_excel(
            xw, sheet_name="regions", index=False)
        accounts.to_excel(xw, sheet_name="accounts", index=False)
        parameters.to_excel(xw, sheet_name="parameters", index=False)
        trade.to_excel(xw, sheet_name="trade", index=False)
        if firms is not None:
            firms.to_excel(xw, sheet_name="firms", index=False)
        if trade_costs is not None:
            trade_costs.to_excel(xw, sheet_name="trade_costs", index=False)
        for r, A in sams.items():
            if layout == "matrix":
                A.to_excel(xw, sheet_name=sheet_names[r], index=True, index_label=f"{r}: receiving \\ paying")
            else:
                long = A.stack()
                long = long[long != 0].reset_index()
                long.columns = ["row", "column", "value"]
                long.to_excel(xw, sheet_name=sheet_names[r], index=False)
        if sources is not None:
            sources.to_excel(xw, sheet_name="sources", index=False)


def write_benchmark_workbook(data: BenchmarkData, path: str | Path, *, layout: str = "matrix",
                             info: dict[str, str] | None = None) -> Path:
    """Write ``data`` as a workbook (accounts of :func:`benchmark_sams`); reading it back with
    :func:`read_workbook` gives ``data`` again (up to the firm information not given), with
    the split of final demand among household, government and investment; production
    taxes come back as such with the default ``production_taxes="tax"`` (``"pro_rata"``
    folds them into factor payments)."""
    _, accounts = _written_accounts(data)
    rows = []
    R, S = data.regions, data.sectors
    for j, s in enumerate(S):
        for n, dst in enumerate(R):
            for i, org in enumerate(R):
                if n == i:
                    continue
                rows.append({"origin": org, "destination": dst, "sector": s,
                             "value": float(data.trade[n, i, j]),
                             "tariff_rate": float(data.tariff[n, i, j]),
                             "exporter_share": float(data.exporter_share[n, i, j])})
    trade = pd.DataFrame(rows)
    if trade["exporter_share"].isna().all():
        trade = trade.drop(columns="exporter_share")
    parameters = pd.DataFrame({"sector": list(S), "sigma": data.sigma, "k": data.k,
                               "market_structure": [data.market_structure[s] for s in S],
                               "delta": data.delta})
    firms = None
    if np.isfinite(data.survival).any() or np.isfinite(data.entrants).any():
        firms = pd.DataFrame([{"region": r, "sector": s, "survival": data.survival[i, j],
                               "entrants": data.entrants[i, j]}
                              for i, r in enumerate(R) for j, s in enumerate(S)])
    trade_costs = None
    if np.isfinite(data.trade_cost).any():
        trade_costs = pd.DataFrame([
            {"origin": org, "destination": dst, "sector": s, "trade_cost": float(data.trade_cost[n, i, j])}
            for j, s in enumerate(S) for n, dst in enumerate(R) for i, org in enumerate(R)
            if np.isfinite(data.trade_cost[n, i, j])])
    meta = {"name": data.name, "units": data.units}
    meta.update(info or {})
    return write_workbook(path, sams=benchmark_sams(data), accounts=accounts, trade=trade,
                          parameters=parameters, firms=firms, info=meta, layout=layout,
                          trade_costs=trade_costs)


__all__ = ["read_workbook", "load_workbook", "write_workbook", "write_benchmark_workbook",
           "benchmark_sams", "check_sam_balance", "check_sam_signs", "check_sam_structure",
           "check_trade_consistency", "Workbook", "RegionalSAM", "ReadReport", "WorkbookError",
           "ACCOUNT_TYPES", "INSTITUTIONS", "PRODUCTION_TAXES",
           "DEFAULT_PRODUCTION_TAXES"]
