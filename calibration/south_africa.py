r"""The South African 2015 macro SAM (UNU-WIDER / National Treasury) as a benchmark.

``python -m calibration.south_africa --data ../shared/data/south_africa_sam_2015 -o zaf2015.xlsx``
maps the 14 x 14 macro SAM (``sasam2015_macro_sam_Rbillion.csv``, R billion,
2015) to the workbook's accounts, closes it with a constructed rest of the
world exactly as the bundled Japanese workbook is closed
(:func:`calibration.single_country.with_rest_of_world`), writes the workbook
and reads it back with RAS balancing (the source's rows and columns agree
only to 0.002 R billion, rounding). Source: van Seventer, Davies, Bold and
Gabriel, "A 2015 Social Accounting Matrix (SAM) for South Africa", UNU-WIDER
(2019). Its licence is not verified (see the dataset's ``SOURCE.md``):
nothing built from it is committed; tests read it from the shared data folder.

Accounts (source -> workbook type): Activities -> activity and Commodities
-> commodity of the single sector ``economy``; Labour, Capital -> factor;
Enterprises -> enterprise; Households -> household; Government ->
government; Income taxes -> tax; Net activity taxes -> production_tax; Import
duties -> tariff; Accumulation -> savings_investment; Rest of the world ->
rest_of_world.

Mapping steps (each reported by :func:`zaf_home_sam`, cell by cell):

1. **Exports** are booked in the source's commodity row (Commodities <- Rest
   of the world, 1221.748); the format books them in the activity row, so
   they move there and the activity's domestic sales fall by the same amount.
2. **Net product taxes** (``Net dom prod taxes``, 381.399, paid by the
   commodity account: VAT, excises, fuel levies net of subsidies) have no
   account type. They are treated as a production tax: the activity's
   domestic sales rise by the tax (sales at tax-inclusive value) and it pays
   the tax to ``Net activity taxes``, which passes it to the government. With
   the reader's default ``production_taxes="tax"`` all production taxes (net
   activity and net product taxes) are the benchmark's production tax,
   revenue of the regional household, and factor payments are value added
   at factor cost (``"pro_rata"`` would fold them into factor payments, value
   added at market prices). Import duties stay the only tariff.
3. **Changes in inventories** (29.155) become investment demand:
   ``Ch in inventories`` is merged into ``Accumulation``.

Sector parameters (:data:`PARAMETERS`): one ``melitz`` sector with the
package's illustrative sigma = 3.8 and k = 4.6 (as for the Yotov and Japan
workbooks); ``market_structure="armington"`` is an option.

The 195-account micro SAM of the same source (18 sectors by default) is
converted by :mod:`calibration.south_africa_micro`
(``build_zaf_micro_workbook``, ``zaf_micro_benchmark``); on the command
line, ``python -m calibration.south_africa --micro [--aggregation CSV]
[--mapping-csv FILE]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cge.errors import InputError

from . import _cli
from .single_country import ROW_SCALE, balance_report, with_rest_of_world

DEFAULT_SOURCE = Path(os.environ.get("CGE_DATA", "/work/shared/data")) / "south_africa_sam_2015"
MACRO_FILE = "sasam2015_macro_sam_Rbillion.csv"
REGION = "ZAF"
SECTOR = "economy"
UNITS = "billion ZAR (2015)"
PARAMETERS = {"sigma": 3.8, "k": 4.6, "market_structure": "melitz", "delta": 1.0}
CITATION = (
    "van Seventer, D., Davies, R. (UNU-WIDER), Bold, S. and Gabriel, S. (National Treasury), "
    "A 2015 Social Accounting Matrix (SAM) for South Africa, UNU-WIDER, 2019; macro SAM of "
    "SASAM-2015-Data-Resource.xlsx via EAPD-DRB/SAM-files; licence not verified (SOURCE.md): "
    "not for redistribution")

#: Source account -> (workbook account, type, label). Accounts mapped to None are merged away.
ACCOUNTS = {
    "Activities": ("a_economy", "activity", SECTOR),
    "Commodities": ("c_economy", "commodity", SECTOR),
    "Labour": ("labour", "factor", "labour"),
    "Capital": ("capital", "factor", "capital"),
    "Enterprises": ("enterprises", "enterprise", None),
    "Households": ("households", "household", None),
    "Government": ("government", "government", None),
    "Net activity taxes": ("activity_taxes", "production_tax", None),
    "Net dom prod taxes": None,     # step 2
    "Import duties": ("import_duties", "tariff", None),
    "Income taxes": ("income_taxes", "tax", None),
    "Ch in inventories": None,      # step 3
    "Accumulation": ("accumulation", "savings_investment", None),
    "Rest of the world": ("rest_of_world", "rest_of_world", None),
}


def read_macro_sam(source: str | Path = DEFAULT_SOURCE) -> pd.DataFrame:
    """The source's macro SAM (rows receive, columns pay; R billion), labels as given."""
    return read_source_sam(Path(source) / MACRO_FILE, ACCOUNTS)


def read_source_sam(path: Path, accounts) -> pd.DataFrame:
    """A square SAM from a CSV file of the dataset, checked to have exactly ``accounts``."""
    if not path.exists():
        raise InputError(f"{path}: no such file (the South Africa 2015 SAM, see SOURCE.md)")
    sam = pd.read_csv(path, index_col=0)
    sam.index = sam.index.astype(str).str.strip()
    sam.columns = sam.columns.astype(str).str.strip()
    problems = []
    if list(sam.index) != list(sam.columns):
        problems.append(f"{path.name}: row and column labels differ")
    unknown = [a for a in sam.index if a not in accounts]
    missing = [a for a in accounts if a not in sam.index]
    if unknown or missing:
        problems.append(f"{path.name}: unknown accounts {unknown}, missing {missing}")
    if problems:
        raise InputError(problems)
    return sam.astype(float)


def _move(S: pd.DataFrame, rows: list, cell_from, cell_to, amount: float, step: str,
          reason: str) -> None:
    """Move ``amount`` from one cell to another (either may be None) and record both."""
    for cell, sign in ((cell_from, -1.0), (cell_to, 1.0)):
        if cell is None:
            continue
        before = float(S.loc[cell])
        S.loc[cell] = before + sign * amount
        rows.append({"step": step, "row": cell[0], "column": cell[1], "before": before,
                     "after": before + sign * amount, "reason": reason})


def zaf_home_sam(source: str | Path | pd.DataFrame = DEFAULT_SOURCE):
    """The home region's SAM in workbook accounts, the accounts table and the mapping record.

    Returns ``(sam, accounts, adjustments)``; ``adjustments`` has one row per
    changed source cell (step, row, column, before, after, reason), with the
    source's account labels.
    """
    src = source if isinstance(source, pd.DataFrame) else read_macro_sam(source)
    S = src.copy()
    rows: list[dict] = []
    # 1. exports from the commodity row to the activity row
    exports = float(S.loc["Commodities", "Rest of the world"])
    _move(S, rows, ("Commodities", "Rest of the world"), ("Activities", "Rest of the world"),
          exports, "exports", "exports are booked in the activity row")
    _move(S, rows, ("Activities", "Commodities"), None, exports, "exports",
          "domestic sales = activity output - exports")
    # 2. net product taxes -> production tax of the activity
    ptax = float(S.loc["Net dom prod taxes", "Commodities"])
    reason = "net product taxes treated as a production tax (no sales-tax account type)"
    _move(S, rows, ("Net dom prod taxes", "Commodities"), ("Activities", "Commodities"), ptax,
          "product_taxes", reason)
    _move(S, rows, None, ("Net activity taxes", "Activities"), ptax, "product_taxes", reason)
    gov_ptax = float(S.loc["Government", "Net dom prod taxes"])
    _move(S, rows, ("Government", "Net dom prod taxes"), ("Government", "Net activity taxes"),
          gov_ptax, "product_taxes", reason)
    # 3. inventories -> investment
    stock = float(S.loc["Commodities", "Ch in inventories"])
    reason = "changes in inventories are investment demand (merged into Accumulation)"
    _move(S, rows, ("Commodities", "Ch in inventories"), ("Commodities", "Accumulation"), stock,
          "inventories", reason)
    _move(S, rows, ("Ch in inventories", "Accumulation"), None,
          float(S.loc["Ch in inventories", "Accumulation"]), "inventories", reason)
    for gone in ("Net dom prod taxes", "Ch in inventories"):
        left = S.loc[gone].abs().sum() + S[gone].abs().sum()
        if left > 1e-9:
            raise InputError(f"{MACRO_FILE}: account {gone!r} still has entries after mapping "
                             f"(sum of absolute values {left:.6g}); the source changed")
    keep = [a for a, m in ACCOUNTS.items() if m is not None]
    S = S.loc[keep, keep]
    names = [ACCOUNTS[a][0] for a in keep]
    S.index, S.columns = names, names
    accounts = pd.DataFrame([ACCOUNTS[a] for a in keep], columns=["account", "type", "label"])
    return S, accounts, pd.DataFrame(rows, columns=["step", "row", "column", "before", "after",
                                                    "reason"])


def zaf_workbook_parts(source: str | Path = DEFAULT_SOURCE, *, row_scale: float = ROW_SCALE,
                       market_structure: str = "melitz") -> tuple[dict, pd.DataFrame]:
    """The parts of the ZAF + ROW workbook (for :func:`calibration.write_workbook`) and the
    mapping record of :func:`zaf_home_sam`."""
    home, accounts, adjustments = zaf_home_sam(source)
    sams, trade = with_rest_of_world(home, accounts, home_region=REGION, row_scale=row_scale)
    par = dict(PARAMETERS, market_structure=market_structure)
    parameters = pd.DataFrame([{"sector": SECTOR, **par}])
    info = {
        "name": "south_africa_2015", "units": UNITS, "source": CITATION,
        "licence": "NOT verified; do not redistribute or commit (SOURCE.md)",
        "built_by": "python -m calibration.south_africa (calibration/south_africa.py)",
        "ZAF": "the macro SAM, one sector: exports moved to the activity row; net product taxes "
               "as a production tax; changes in inventories merged into Accumulation",
        "ROW": f"constructed, not data: ZAF's cost structure at {row_scale:g} times ZAF's gross "
               "output; sells ZAF's imports and buys its exports; no tariffs; one household buys "
               "all final demand; its foreign savings are minus ZAF's",
        "balancing": "read with balance='ras' (the source balances to 0.002 R billion)",
        "elasticities": f"{market_structure}, sigma {par['sigma']}, k {par['k']} (illustrative)",
    }
    return {"sams": sams, "accounts": accounts, "trade": trade, "parameters": parameters,
            "info": info}, adjustments


def write_parts(path: str | Path, parts: dict) -> Path:
    """Write workbook parts as ``.xlsx``, or as a CSV folder if ``path`` has no suffix."""
    from .sam import write_workbook

    path = Path(path)
    if path.suffix == "":
        from .csv_io import write_csv_folder

        return write_csv_folder(path, **parts)
    return write_workbook(path, **parts)


def build_zaf_workbook(path: str | Path, source: str | Path = DEFAULT_SOURCE, **kwargs) -> Path:
    """Write the ZAF + ROW workbook (``.xlsx``, or a CSV folder if ``path`` has no suffix)."""
    parts, _ = zaf_workbook_parts(source, **kwargs)
    return write_parts(path, parts)


def zaf_benchmark(source: str | Path = DEFAULT_SOURCE, *, workdir: str | Path | None = None,
                  production_taxes: str | None = None, **kwargs):
    """Map, write (to ``workdir`` or a temporary folder) and read back with RAS balancing.

    ``production_taxes``: the reader's reading of the production taxes
    (:func:`calibration.read_workbook`; default ``"tax"``). Returns
    ``(BenchmarkData, mapping adjustments, calibration.ReadReport)``.
    """
    from .sam import DEFAULT_PRODUCTION_TAXES, read_workbook

    with tempfile.TemporaryDirectory() as tmp:
        path = build_zaf_workbook(Path(workdir or tmp) / "zaf2015.xlsx", source, **kwargs)
        data, report = read_workbook(path, balance="ras", with_report=True,
                                     production_taxes=production_taxes or DEFAULT_PRODUCTION_TAXES)
    _, adjustments = zaf_workbook_parts(source, **kwargs)
    return data, adjustments, report


def _read_aggregation(path: Path) -> dict[str, str]:
    """A commodity -> sector mapping from a CSV file with the columns ``commodity, sector``."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    table = pd.read_csv(path, dtype=str)
    cols = {c.strip().lower(): c for c in table.columns}
    if not {"commodity", "sector"} <= set(cols):
        raise InputError(f"{path}: needs the columns commodity, sector (found {list(table.columns)})")
    dupes = sorted(set(table[cols["commodity"]][table[cols["commodity"]].duplicated()]))
    if dupes:
        raise InputError(f"{path}: commodity accounts {dupes} are listed more than once")
    return dict(zip(table[cols["commodity"]].str.strip(), table[cols["sector"]].str.strip()))


def main(argv=None) -> int:
    p = _cli.parser(
        "python -m calibration.south_africa",
        "Map the South Africa 2015 macro SAM (one sector) or, with --micro, the micro SAM "
        "(18 sectors by default) to a ZAF + ROW workbook, balance it by RAS, check it and "
        "(optionally) calibrate it.",
        DEFAULT_SOURCE, "workbook to write (.xlsx, or a folder for CSV files)")
    p.add_argument("--micro", action="store_true",
                   help="convert the 195-account micro SAM (calibration/south_africa_micro.py)")
    p.add_argument("--aggregation", type=Path, default=None, metavar="CSV",
                   help="with --micro: commodity -> sector mapping, a CSV file with the columns "
                        "commodity, sector (default: the module's 18-sector aggregation)")
    p.add_argument("--mapping-csv", type=Path, default=None,
                   help="also write the mapping record (every moved amount) to this CSV file")
    p.add_argument("--row-scale", type=float, default=ROW_SCALE,
                   help="ROW's size relative to ZAF (default: %(default)s)")
    p.add_argument("--market-structure", choices=("melitz", "krugman", "armington"),
                   default=None, help="for every sector (default: melitz for the macro SAM; "
                                      "with --micro melitz for manufacturing, else armington)")
    _cli.add_calibrate(p)
    args = p.parse_args(argv)
    from .sam import read_workbook

    try:
        if args.aggregation is not None and not args.micro:
            raise InputError("--aggregation needs --micro")
        if args.micro:
            from . import south_africa_micro as micro

            kw = dict(row_scale=args.row_scale, market_structure=args.market_structure,
                      aggregation=("default" if args.aggregation is None
                                   else _read_aggregation(args.aggregation)))
            parts, mapping = micro.zaf_micro_workbook_parts(args.data, **kw)
        else:
            kw = dict(row_scale=args.row_scale,
                      market_structure=args.market_structure or "melitz")
            parts, mapping = zaf_workbook_parts(args.data, **kw)
        if args.output:
            path = write_parts(args.output, parts)
            data, report = read_workbook(path, balance="ras", with_report=True)
            print(f"wrote {path}")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = write_parts(Path(tmp) / "zaf2015.xlsx", parts)
                data, report = read_workbook(path, balance="ras", with_report=True)
    except InputError as exc:
        return _cli.error(exc)
    if args.micro:
        print("mapping of the source SAM (R million), by step ("
              + (f"every moved amount in {args.mapping_csv}" if args.mapping_csv
                 else "every moved amount: --mapping-csv FILE") + "):")
        print(micro.step_summary(mapping).to_string(index=False, float_format="{:,.1f}".format))
    else:
        print("mapping of the source SAM (R billion):")
        print(mapping.to_string(index=False))
    if args.mapping_csv:
        args.mapping_csv.parent.mkdir(parents=True, exist_ok=True)
        mapping.to_csv(args.mapping_csv, index=False)
    ras = balance_report(report)
    print(f"RAS balancing changed {len(ras)} cells; largest relative change "
          f"{ras['relative_change'].abs().replace(np.inf, np.nan).max():.3g}" if len(ras)
          else "RAS balancing: nothing to change")
    print(data.summary().to_string())
    if args.calibrate:
        _cli.calibrate_and_report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
