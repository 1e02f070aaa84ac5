r"""A small, balanced multi-region SAM to copy and fill in: ``sam_data/template_multiregion*``.

Run ``python -m calibration.template [--out DIR]`` to (re)write
``template_multiregion.xlsx`` and its CSV twin ``template_multiregion_csv/``
(default ``DIR``: ``sam_data/``). Both hold the same cells and read to the same
:class:`~calibration.BenchmarkData`; the numbers are invented round numbers
(no data source) chosen so that every account balances exactly.

Contents (see :func:`template_parts`, ``docs/calibration.md`` and
``sam_data/README.md``):

* regions ``North`` and ``South``, SAM sheets / files ``sam_North``, ``sam_South``;
* sectors ``mfg`` (melitz, sigma 3.8, k 4.6, delta 0.1) and ``agr``
  (armington, sigma 2; its k is not used), each with an activity (``a_*``)
  and a commodity (``c_*``) account, both traded;
* factors ``labour`` and ``capital``;
* institutions ``household`` (receives factor income, pays a direct tax,
  consumes, saves) and ``government`` (receives the tax and the tariffs,
  consumes, saves), which form the regional household with ``savings``;
* ``tariffs``: North levies 10% on mfg and 5% on agr from South, South 20% on
  mfg and 10% on agr from North;
* a deficit: North exports 80 and imports 90 (foreign savings, the deficit,
  +10), South the reverse (-10, a surplus);
* the optional ``firms`` sheet (survival 0.5 and one entrant per period in
  mfg) and ``exporter_share`` column (0.25 on mfg routes), which are the
  calibration's defaults; and an ``info`` sheet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from .csv_io import write_csv_folder
from .sam import write_workbook

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "sam_data"
XLSX_NAME = "template_multiregion.xlsx"
CSV_NAME = "template_multiregion_csv"

REGIONS = ("North", "South")
SECTORS = ("mfg", "agr")
FACTORS = ("labour", "capital")
ACCOUNTS = [
    ("a_mfg", "activity", "mfg"), ("a_agr", "activity", "agr"),
    ("c_mfg", "commodity", "mfg"), ("c_agr", "commodity", "agr"),
    ("labour", "factor", "labour"), ("capital", "factor", "capital"),
    ("household", "household", None), ("government", "government", None),
    ("tariffs", "tariff", None), ("savings", "savings_investment", None),
    ("rest_of_world", "rest_of_world", None),
]

#: International trade (c.i.f., net of tariff) and tariff rates: (origin, destination, sector).
TRADE = {
    ("South", "North", "mfg"): (50.0, 0.10), ("South", "North", "agr"): (40.0, 0.05),
    ("North", "South", "mfg"): (60.0, 0.20), ("North", "South", "agr"): (20.0, 0.10),
}

#: The non-zero cells of each regional SAM, (row receives, column pays) -> value.
SAM_CELLS = {
    "North": {
        # activities: domestic sales (from the commodity) and exports (from the rest of the world)
        ("a_mfg", "c_mfg"): 400, ("a_mfg", "rest_of_world"): 60,
        ("a_agr", "c_agr"): 200, ("a_agr", "rest_of_world"): 20,
        # commodities: intermediate use and final demand
        ("c_mfg", "a_mfg"): 130, ("c_mfg", "a_agr"): 20, ("c_mfg", "household"): 230,
        ("c_mfg", "government"): 10, ("c_mfg", "savings"): 65,
        ("c_agr", "a_mfg"): 40, ("c_agr", "a_agr"): 40, ("c_agr", "household"): 120,
        ("c_agr", "government"): 30, ("c_agr", "savings"): 12,
        # factors are paid by activities and pay the household
        ("labour", "a_mfg"): 170, ("labour", "a_agr"): 100,
        ("capital", "a_mfg"): 120, ("capital", "a_agr"): 60,
        ("household", "labour"): 270, ("household", "capital"): 180,
        # government: direct tax and tariff revenue
        ("government", "household"): 40, ("government", "tariffs"): 7,
        ("tariffs", "c_mfg"): 5, ("tariffs", "c_agr"): 2,
        # savings of the household and the government, and foreign savings (the deficit)
        ("savings", "household"): 60, ("savings", "government"): 7,
        ("savings", "rest_of_world"): 10,
        # imports (c.i.f.) are paid by the commodity
        ("rest_of_world", "c_mfg"): 50, ("rest_of_world", "c_agr"): 40,
    },
    "South": {
        ("a_mfg", "c_mfg"): 250, ("a_mfg", "rest_of_world"): 50,
        ("a_agr", "c_agr"): 300, ("a_agr", "rest_of_world"): 40,
        ("c_mfg", "a_mfg"): 90, ("c_mfg", "a_agr"): 30, ("c_mfg", "household"): 150,
        ("c_mfg", "government"): 20, ("c_mfg", "savings"): 32,
        ("c_agr", "a_mfg"): 30, ("c_agr", "a_agr"): 60, ("c_agr", "household"): 160,
        ("c_agr", "government"): 40, ("c_agr", "savings"): 32,
        ("labour", "a_mfg"): 110, ("labour", "a_agr"): 170,
        ("capital", "a_mfg"): 70, ("capital", "a_agr"): 80,
        ("household", "labour"): 280, ("household", "capital"): 150,
        ("government", "household"): 50, ("government", "tariffs"): 14,
        ("tariffs", "c_mfg"): 12, ("tariffs", "c_agr"): 2,
        # negative foreign savings: South has a trade surplus
        ("savings", "household"): 70, ("savings", "government"): 4,
        ("savings", "rest_of_world"): -10,
        ("rest_of_world", "c_mfg"): 60, ("rest_of_world", "c_agr"): 20,
    },
}

PARAMETERS = pd.DataFrame({
    "sector": list(SECTORS), "sigma": [3.8, 2.0], "k": [4.6, 4.0],
    "market_structure": ["melitz", "armington"], "delta": [0.1, 1.0],
})

INFO = {
    "name": "template_multiregion",
    "units": "illustrative (any one currency unit, e.g. million USD)",
    "source": "none: invented round numbers that balance exactly; no third-party data",
    "built_by": "python -m calibration.template (calibration/template.py)",
    "purpose": "a template of the multi-region SAM format (docs/calibration.md): copy it, keep "
               "the sheet names and columns, replace labels and numbers",
    "regions": "sheet regions: one row per region and the sheet (CSV: file without .csv) "
               "holding its SAM",
    "accounts": "sheet accounts: every regional SAM has these accounts; activity and commodity "
                "accounts are labelled with their sector, factor accounts with their factor",
    "sam": "sheets sam_<region>: rows receive, columns pay; every cell holds a number (0 for "
           "none); a row or column labelled total would be ignored",
    "trade": "sheet trade: one row per international route (origin, destination, sector), "
             "value at c.i.f. net of tariff, ad valorem tariff_rate; optional exporter_share "
             "(melitz only)",
    "parameters": "sheet parameters: sigma, k (used by melitz only), market_structure "
                  "(melitz, krugman or armington), delta",
    "firms": "sheet firms (optional): survival share and entrants of melitz sectors",
    "closure": "household, government and savings form one regional household; foreign "
               "savings (savings <- rest_of_world) = imports - exports = the deficit",
    "balance": "North: exports 80, imports 90, tariff revenue 7, deficit 10; South: exports "
               "90, imports 80, tariff revenue 14, deficit -10 (a surplus)",
}


def template_parts() -> dict:
    """The parts of the template for :func:`calibration.sam.write_workbook` and
    :func:`calibration.csv_io.write_csv_folder`."""
    names = [a[0] for a in ACCOUNTS]
    sams = {}
    for r in REGIONS:
        A = pd.DataFrame(0.0, index=names, columns=names)
        for (row, col), value in SAM_CELLS[r].items():
            A.loc[row, col] = float(value)
        sams[r] = A
    trade = pd.DataFrame([
        {"origin": o, "destination": d, "sector": s, "value": v, "tariff_rate": t,
         "exporter_share": 0.25 if s == "mfg" else None}
        for (o, d, s), (v, t) in TRADE.items()])
    firms = pd.DataFrame([{"region": r, "sector": "mfg", "survival": 0.5, "entrants": 1.0}
                          for r in REGIONS])
    return {
        "sams": sams, "accounts": pd.DataFrame(ACCOUNTS, columns=["account", "type", "label"]),
        "trade": trade, "parameters": PARAMETERS.copy(), "firms": firms, "info": dict(INFO),
        "sheet_names": {r: f"sam_{r}" for r in REGIONS},
    }


def build_template(out: str | Path = DEFAULT_OUT) -> tuple[Path, Path]:
    """Write ``template_multiregion.xlsx`` and ``template_multiregion_csv/`` into ``out``."""
    out = Path(out)
    xlsx = write_workbook(out / XLSX_NAME, **template_parts())
    folder = write_csv_folder(out / CSV_NAME, **template_parts())
    return xlsx, folder


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = p.parse_args(argv)
    for path in build_template(args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
