r"""A single-country SAM as a two-region workbook: the home region and a constructed rest
of the world.

The model needs every region's SAM; a national SAM has only a rest-of-world
*account*. :func:`with_rest_of_world` builds the second region the way the
bundled Japanese workbook does (``calibration.build_workbooks``,
``docs/calibration.md`` section 4), so that any national SAM in the workbook's
accounts can be calibrated:

* ROW has the home region's cost structure: each of its activity columns is
  the home column scaled to ROW's gross output (intermediate inputs, factor
  payments and production taxes). With ``output="scaled"`` (the default)
  ROW's gross output is ``row_scale`` times home's, sector by sector, and its
  final demand is what is left of its supply. With ``output="leontief"``
  ROW's final demand is ``row_scale`` times home's, sector by sector, and its
  gross output is what its market clearing requires with home's input
  coefficients :math:`A`: :math:`Y^* = (I - A)^{-1}(\lambda F + M - E)`
  (:math:`F` home's final demand, :math:`M, E` home's imports and exports,
  which ROW sells and buys). "scaled" fails for a sector whose home
  intermediate use exceeds its home output (a net importer of an input),
  whatever ``row_scale``; "leontief" does not, as long as ``row_scale`` times
  home's final demand exceeds its exports;
* it sells the home region's imports and buys its exports (the trade sheet
  has exactly these two flows per sector), levies no tariffs, and one
  household buys all its final demand, receiving its factor income and
  production taxes;
* its foreign savings are minus the home region's (imports minus exports of
  the trade sheet), so deficits sum to zero.

Everything else about ROW is constructed, not data; the workbook's ``info``
sheet says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cge.errors import InputError

from .sam import INSTITUTIONS

#: Default size of the rest of the world relative to the home region (as for Japan).
ROW_SCALE = 9.0


def _one(accounts: pd.DataFrame, kind: str, required: bool = True) -> str | None:
    found = list(accounts.loc[accounts["type"] == kind, "account"])
    if not found:
        if required:
            raise InputError(f"accounts: no account of type {kind}")
        return None
    return str(found[0])


def _row_factor(home, accounts, acts, com_of, ext, row_scale, output) -> dict[str, float]:
    """ROW's gross output over home's, by activity account (module docstring)."""
    act_names = list(acts["account"])
    if output == "scaled":
        return dict.fromkeys(act_names, row_scale)
    gross = home[act_names].sum(axis=0)
    if (gross <= 0).any():
        raise InputError(f"home SAM: activities {list(gross.index[gross <= 0])} have no output")
    coms = [com_of[s] for s in acts["label"]]
    final = [a for a, k in zip(accounts["account"], accounts["type"])
             if k in INSTITUTIONS + ("savings_investment",)]
    A = home.loc[coms, act_names].to_numpy() / gross.to_numpy()[None, :]
    F = home.loc[coms, final].sum(axis=1).to_numpy()
    net = home.loc[ext, coms].to_numpy() - home.loc[act_names, ext].to_numpy()
    try:
        Y = np.linalg.solve(np.eye(len(coms)) - A, row_scale * F + net)
    except np.linalg.LinAlgError:
        raise InputError("home SAM: I - A is singular (input coefficients); use "
                         "output='scaled'") from None
    bad = [s for s, y in zip(acts["label"], Y) if not y > 0]
    if bad:
        raise InputError(f"sectors {bad}: ROW's gross output would not be positive; raise "
                         f"row_scale (now {row_scale:g})")
    return dict(zip(act_names, Y / gross.to_numpy()))


def with_rest_of_world(home: pd.DataFrame, accounts: pd.DataFrame, *, home_region: str,
                       row_region: str = "ROW", row_scale: float = ROW_SCALE,
                       output: str = "scaled") -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The two regional SAMs and the trade sheet of ``home`` closed by a constructed ROW.

    ``home`` is a square DataFrame (rows receive, columns pay) indexed by the
    account names of ``accounts`` (columns ``account, type, label``, the
    workbook's account types); exports must be booked in activity rows and
    imports in commodity columns. ``output``: how ROW's gross output is set,
    ``"scaled"`` or ``"leontief"`` (module docstring). Returns
    ``({home_region: SAM, row_region: SAM}, trade)`` ready for
    :func:`calibration.write_workbook`.
    """
    if not row_scale > 0:
        raise InputError(f"row_scale: must be positive, got {row_scale}")
    if output not in ("scaled", "leontief"):
        raise InputError(f"output: expected 'scaled' or 'leontief', got {output!r}")
    names = list(accounts["account"])
    if list(home.index) != names or list(home.columns) != names:
        raise InputError("home SAM: rows and columns must be the accounts, in the accounts' order")
    acts = accounts[accounts["type"] == "activity"]
    sectors = list(acts["label"])
    com_of = dict(zip(accounts.loc[accounts["type"] == "commodity", "label"],
                      accounts.loc[accounts["type"] == "commodity", "account"]))
    ext = _one(accounts, "rest_of_world")
    hh = _one(accounts, "household")
    si = _one(accounts, "savings_investment")
    trf = _one(accounts, "tariff", required=False)
    ptax = _one(accounts, "production_tax", required=False)
    factors = list(accounts.loc[accounts["type"] == "factor", "account"])

    W = pd.DataFrame(0.0, index=names, columns=names)
    trade = []
    problems = []
    factor = _row_factor(home, accounts, acts, com_of, ext, row_scale, output)
    for act, s in zip(acts["account"], sectors):
        com = com_of[s]
        gross = float(home[act].sum())
        imports = float(home.loc[ext, com])
        exports = float(home.loc[act, ext])
        W[act] = home[act] * factor[act]
        W.loc[act, ext] = imports           # ROW sells the home region's imports
        W.loc[act, com] = gross * factor[act] - imports
        W.loc[ext, com] = exports           # and buys its exports
        if W.loc[act, com] <= 0:
            problems.append(f"sector {s}: ROW's domestic sales would be {W.loc[act, com]:.6g}; "
                            f"raise row_scale (now {row_scale:g})")
        revenue = float(home.loc[trf, com]) if trf else 0.0
        if imports > 0:
            trade.append({"origin": row_region, "destination": home_region, "sector": s,
                          "value": imports, "tariff_rate": revenue / imports})
        elif revenue:
            problems.append(f"sector {s}: tariff revenue {revenue:.6g} but no imports")
        if exports > 0:
            trade.append({"origin": home_region, "destination": row_region, "sector": s,
                          "value": exports, "tariff_rate": 0.0})
    if problems:
        raise InputError(problems)
    act_names = list(acts["account"])
    for act, s in zip(act_names, sectors):
        com = com_of[s]
        supply = W.loc[act, com] + W.loc[ext, com]  # no tariffs in ROW
        W.loc[com, hh] = supply - W.loc[com, act_names].sum()
        if W.loc[com, hh] < 0:
            raise InputError(f"sector {s}: ROW's final demand would be negative "
                             f"({W.loc[com, hh]:.6g})")
    for f in factors:
        W.loc[hh, f] = W.loc[f, act_names].sum()
    if ptax:
        W.loc[hh, ptax] = W.loc[ptax, act_names].sum()
    coms = [com_of[s] for s in sectors]
    deficit = W.loc[ext, coms].sum() - W.loc[act_names, ext].sum()
    W.loc[si, ext] = deficit
    W.loc[si, hh] = -deficit
    return {home_region: home.copy(), row_region: W}, pd.DataFrame(
        trade, columns=["origin", "destination", "sector", "value", "tariff_rate"])


def balance_report(read_report) -> pd.DataFrame:
    """The RAS adjustments of :func:`calibration.read_workbook` (``with_report=True``), largest
    relative change first."""
    adj = read_report.adjustments
    if adj.empty:
        return adj
    return adj.reindex(adj["relative_change"].abs().replace(np.inf, np.nan)
                       .sort_values(ascending=False).index).reset_index(drop=True)


__all__ = ["with_rest_of_world", "balance_report", "ROW_SCALE"]
