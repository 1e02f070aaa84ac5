"""A national SAM (one country, with a rest-of-world account) as a calibration workbook.

``cge national sam.csv --accounts accounts.csv --region ZAF -o zaf.xlsx`` (or
:func:`build_national_workbook`) reads

* ``sam.csv``: the square SAM, first column and header the account names, rows
  receive and columns pay; exports booked in activity rows (paid by the
  rest-of-world column), imports in commodity columns (received by the
  rest-of-world row), tariff revenue (if any) in the tariff row;
* ``accounts.csv``: columns ``account, type, label`` as in the multi-region
  workbook (``docs/calibration.md``), with one account of type
  ``rest_of_world``, one ``household`` and one ``savings_investment``;
* ``parameters.csv`` (optional): ``sector, sigma, k, market_structure, delta``;
  default :data:`DEFAULT_PARAMETERS` for every sector,

closes it with a constructed rest of the world
(:func:`calibration.single_country.with_rest_of_world`: the home cost
structure at ``row_scale`` times home's output, selling home's imports and
buying its exports) and writes a two-region workbook (``.xlsx``, or a CSV
folder when the output has no suffix) that ``cge check``, ``cge calibrate``
and a scenario's ``data:`` read like any other.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cge.errors import InputError

from .single_country import ROW_SCALE, with_rest_of_world

__all__ = ["DEFAULT_PARAMETERS", "read_national_sam", "national_workbook_parts",
           "build_national_workbook"]

#: Sector parameters when no parameters file is given (illustrative, as for South Africa).
DEFAULT_PARAMETERS = {"sigma": 3.8, "k": 4.6, "market_structure": "melitz", "delta": 1.0}


def read_national_sam(sam: str | Path, accounts: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The SAM (accounts in the accounts file's order) and the accounts table; every
    problem names the file, account and cell."""
    problems = []
    try:
        acc = pd.read_csv(accounts, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{accounts}: cannot read the accounts file: {exc}") from None
    missing = [c for c in ("account", "type", "label") if c not in acc.columns]
    if missing:
        raise InputError(f"{accounts}: missing column(s) {missing}; expected account, type, label")
    try:
        table = pd.read_csv(sam, index_col=0, skipinitialspace=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{sam}: cannot read the SAM: {exc}") from None
    table.index = [str(i).strip() for i in table.index]
    table.columns = [str(c).strip() for c in table.columns]
    names = list(acc["account"])
    for where, labels in (("row", list(table.index)), ("column", list(table.columns))):
        absent = [a for a in names if a not in labels]
        extra = [a for a in labels if a not in names and a.lower() != "total"]
        if absent:
            problems.append(f"{sam}: accounts {absent} have no {where}")
        if extra:
            problems.append(f"{sam}: {where}s {extra} are not in {Path(accounts).name}")
    for kind in ("rest_of_world", "household", "savings_investment"):
        if (acc["type"] == kind).sum() != 1:
            problems.append(f"{accounts}: needs exactly one account of type {kind}, found "
                            f"{int((acc['type'] == kind).sum())}")
    if problems:
        raise InputError(problems)
    table = table.loc[names, names]
    bad = [(r, c) for r in names for c in names
           if not pd.api.types.is_number(table.loc[r, c]) or pd.isna(table.loc[r, c])]
    if bad:
        raise InputError([f"{sam}: cell [{r}, {c}] is not a number" for r, c in bad[:20]])
    return table.astype(float), acc


def national_workbook_parts(sam, accounts, region: str, *, parameters=None,
                            row_region: str = "ROW", row_scale: float = ROW_SCALE,
                            output: str = "scaled", units: str = "",
                            name: str | None = None) -> dict:
    """The parts of the two-region workbook (for :func:`calibration.write_workbook`)."""
    home, acc = read_national_sam(sam, accounts)
    sams, trade = with_rest_of_world(home, acc, home_region=region, row_region=row_region,
                                     row_scale=row_scale, output=output)
    sectors = list(acc.loc[acc["type"] == "activity", "label"])
    if parameters is not None:
        par = pd.read_csv(parameters, skipinitialspace=True)
        unknown = sorted(set(par.get("sector", [])) - set(sectors))
        if "sector" not in par.columns or unknown:
            raise InputError(f"{parameters}: needs a 'sector' column naming the sectors "
                             f"{sectors}" + (f"; unknown {unknown}" if unknown else ""))
        par = par.set_index("sector").reindex(sectors)
        for key, val in DEFAULT_PARAMETERS.items():
            par[key] = par[key].fillna(val) if key in par.columns else val
        par = par.reset_index()
    else:
        par = pd.DataFrame([{"sector": s, **DEFAULT_PARAMETERS} for s in sectors])
    info = {
        "name": name or f"{region.lower()}_national",
        "units": units or "illustrative (the SAM's currency unit)",
        "source": f"national SAM {Path(sam).name} with accounts {Path(accounts).name}",
        "built_by": "cge national (calibration/national.py)",
        row_region: (f"constructed, not data: {region}'s cost structure at {row_scale:g} times "
                     f"its gross output ({output}); sells {region}'s imports and buys its "
                     "exports; no tariffs; its foreign savings are minus the home region's"),
        "parameters": "from " + (Path(parameters).name if parameters is not None
                                 else f"the defaults {DEFAULT_PARAMETERS} (illustrative)"),
    }
    return {"sams": sams, "accounts": acc, "trade": trade, "parameters": par, "info": info}


def build_national_workbook(sam, accounts, region: str, path: str | Path, **kwargs) -> Path:
    """Write the two-region workbook (``.xlsx``, or a CSV folder if ``path`` has no suffix)."""
    from .south_africa import write_parts

    return write_parts(path, national_workbook_parts(sam, accounts, region, **kwargs))
