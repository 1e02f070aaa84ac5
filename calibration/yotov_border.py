r"""USA-Canada border removal on the 69-country Yotov et al. (2016) data, three market structures.

The experiment of Behrens, Mion, Murata and Suedekum (seed 000), on real
data: remove the border between the USA and Canada only, and compare the
heterogeneous-firm model with variable mark-ups (``cara``) with CES-Melitz
and Armington, each calibrated separately to the same benchmark.

Data. ``yotov2016_trade_without_border_2006.csv`` (Yotov, Piermartini,
Monteiro and Larch 2016, *An Advanced Guide to Trade Policy Analysis*, WTO and
UNCTAD, chapter 2; CC BY 4.0): manufacturing shipments of 69 countries in
2006 in millions of current USD, domestic sales included. One sector
(``manufacturing``), one factor (``labour``) paid the value of output, final
demand the importer's expenditure, the trade deficit the difference. Foreign
routes without shipments (138 of 4,761) are inactive routes in every
structure (for ``cara`` with ``cara_zero_flows="inactive"``, since a choke
price with Pareto draws cannot give zero sales at a finite trade cost).
By default twelve countries are
kept as regions (USA, CAN, MEX, CHN, JPN, KOR, ZZZ, FRA, GBR, ITA, BRA, IND;
ZZZ is Germany, the book's reference country, coded so in the data) and
the other 57 summed into ``ROW`` (``keep``); ``--all-countries`` runs all 69.
There is no population in the data: :math:`L_n = 1` (per-capita units). In
the ``cara`` model the level of :math:`L_n` does not change a trade-cost
counterfactual: with :math:`\tilde p_n = L_n p^d_n` and
:math:`\tilde\tau_{ni} = L_n\tau_{ni}` the equations lose :math:`L_n`, and the
calibration absorbs it in :math:`\tau`.

The border effect. PPML with exporter and importer fixed effects and log
distance, contiguity, common language, colonial ties and an international
border dummy, as in Yotov et al. (2016) chapter 2, through
:func:`cge.gravity.estimate_gravity` when that module is present (branch
``gravity``); otherwise the coefficient is a documented input,
:data:`BORDER_COEFFICIENT_YOTOV` = -2.474 (their estimate of the
``INTL_BRDR`` coefficient with ``ln DIST`` and ``CNTG``; the ``gravity``
branch reproduces it). The border multiplies flows by
:math:`e^{b}`, so in a structure with trade elasticity :math:`\epsilon`
(:math:`k` for melitz and cara, :math:`\sigma-1` for armington) it is the
iceberg factor :math:`B = e^{-b/\epsilon}`; removing it divides
:math:`\tau_{\text{USA,CAN}}` and :math:`\tau_{\text{CAN,USA}}` by :math:`B`.
Elasticities (inputs, stated in the output): ``k = 4`` (melitz, cara),
``sigma = 3.8`` (melitz), ``sigma = 5`` (armington, so that its trade
elasticity is also 4).

Seller shares. Removing a border of this size raises the share of Canadian
firms that sell in the USA about twelvefold, so the calibration's seller
shares are set low (:data:`SURVIVAL`, :data:`MAX_SELECTION`: 5% of entrants
sell on their most frequented route) to keep every cutoff above the Pareto
lower bound; under Pareto the percentage changes do not depend on them as long
as they do.

Units. Calibration sets :math:`\tau_{ii} = 1`, which can leave less room
than the border factor on the USA-Canada routes. Each origin's productivity
units are then rescaled, :math:`\tau_{ni} \to b_i\tau_{ni}`,
:math:`\varphi_{\min,i} \to b_i\varphi_{\min,i}` (neutral in every structure:
only :math:`\tau/\varphi` enters), with :math:`b_i` the smallest factor that
keeps every shocked :math:`\tau \ge 1`.

Run: ``python -m calibration.yotov_border [--out DIR]``.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .benchmark import BenchmarkData

__all__ = ["BORDER_COEFFICIENT_YOTOV", "STRUCTURES", "border_coefficient", "read_yotov",
           "run_border_removal"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATHS = (ROOT / "sam_data" / "yotov2016_trade_without_border_2006.csv.gz",
                 ROOT.parent / "shared" / "data" / "yotov2016" /
                 "yotov2016_trade_without_border_2006.csv")
#: INTL_BRDR coefficient of Yotov et al. (2016), ch. 2 (PPML, exporter and importer fixed effects).
BORDER_COEFFICIENT_YOTOV = -2.474
#: structure -> (sigma, k) used in the comparison; trade elasticity 4 in all three.
STRUCTURES = {"melitz": (3.8, 4.0), "cara": (3.8, 4.0), "armington": (5.0, 4.0)}
PAIR = ("USA", "CAN")
#: Seller shares of the calibration (melitz: survival; cara: selection share on the most
#: frequented route): the border factor raises the USA-Canada selection shares about
#: twelvefold, which must stay below 1.
SURVIVAL, MAX_SELECTION = 0.05, 0.05
#: Countries kept as regions by default (the others form ROW): the 69-country model's
#: counterfactual takes longer than the 600 s solve limit on a shared 2-core machine.
DEFAULT_KEEP = ("USA", "CAN", "MEX", "CHN", "JPN", "KOR", "ZZZ", "FRA", "GBR", "ITA", "BRA",
                "IND")


def _path(path=None) -> Path:
    if path is not None:
        return Path(path)
    for p in DEFAULT_PATHS:
        if p.exists():
            return p
    raise FileNotFoundError("yotov2016_trade_without_border_2006.csv not found in "
                            + ", ".join(str(p) for p in DEFAULT_PATHS))


def read_yotov(path=None, keep=None) -> tuple[BenchmarkData, pd.DataFrame]:
    """The benchmark (one sector, one factor) and the raw table.

    ``keep``: countries kept as regions; the others are summed into one region
    ``ROW`` (their flows among themselves become ROW's domestic sales). ``None``:
    all 69 countries.
    """
    df = pd.read_csv(_path(path))
    raw = df
    if keep is not None:
        keep = list(keep)
        missing = [c for c in keep if c not in set(df["exporter"])]
        if missing:
            raise ValueError(f"keep: countries not in the data: {missing}")
        df = df.assign(exporter=df["exporter"].where(df["exporter"].isin(keep), "ROW"),
                       importer=df["importer"].where(df["importer"].isin(keep), "ROW"))
        df = df.groupby(["exporter", "importer"], as_index=False)["trade"].sum()
    regions = sorted(set(df["exporter"]) | set(df["importer"]))
    pos = {r: j for j, r in enumerate(regions)}
    n = len(regions)
    X = np.zeros((n, n, 1))
    X[df["importer"].map(pos).to_numpy(), df["exporter"].map(pos).to_numpy(), 0] = df["trade"]
    output, spending = X.sum(axis=0)[:, 0], X.sum(axis=1)[:, 0]
    data = BenchmarkData(
        regions=tuple(regions), sectors=("manufacturing",), factors=("labour",), trade=X,
        factor_payments=output[:, None, None], final_demand=spending[:, None],
        deficit=spending - output, sigma=np.array([3.8]), k=np.array([4.0]),
        market_structure={"manufacturing": "melitz"}, name="yotov2016_mfg_69",
        units="millions of current USD, 2006")
    return data, raw


def border_coefficient(table: pd.DataFrame) -> tuple[float, str]:
    """The INTL_BRDR coefficient: estimated by PPML if :mod:`cge.gravity` exists, else the
    documented input :data:`BORDER_COEFFICIENT_YOTOV`. Returns ``(b, source)``."""
    try:
        from cge.gravity import estimate_gravity
    except ImportError:
        return BORDER_COEFFICIENT_YOTOV, ("documented input: Yotov et al. (2016) ch. 2, INTL_BRDR "
                                          "(cge.gravity not available on this branch)")
    fit = estimate_gravity(table, flow="trade", variables=["DIST", "CNTG", "INTL_BRDR"],
                           log=["DIST"])
    return float(fit.coefficients["INTL_BRDR"]), "PPML (cge.gravity.estimate_gravity)"


def _money_metric(structure, k, per_capita_pct):
    """Equivalent variation in % of income, one sector without intermediate inputs.

    Real income per consumer is money-metric under CES (homothetic); under cara it is
    the sub-utility u, and the local equivalent variation is
    d ln W = (p^d u/(alpha e)) d ln u = (kappa_4/kappa_1) d ln u (docs/model.md), so
    ln W'/W = (kappa_4/kappa_1) ln u'/u exactly.
    """
    if structure != "cara":
        return per_capita_pct
    from cge.blocks.cara import cara_constants
    c = cara_constants(k)
    return 100 * math.expm1(c["utility"] / c["spending"] * math.log1p(per_capita_pct / 100))


def _rescale_origins(prim, factor_on):
    """Origin productivity units b_i so that tau / factor_on stays >= 1 (neutral)."""
    tau = prim["tau"][:, :, 0]
    need = np.ones(len(prim.regions))
    for (n, i), f in factor_on.items():
        need[i] = max(need[i], f / tau[n, i])
    prim.arrays["tau"] = prim["tau"] * need[None, :, None]
    prim.arrays["phi_min"] = prim["phi_min"] * need[:, None]
    return need


def run_border_removal(path=None, *, structures=("melitz", "cara", "armington"), pair=PAIR,
                       coefficient=None, keep=DEFAULT_KEEP) -> dict:
    """Calibrate each structure to the data, remove the border between ``pair`` and solve.

    Returns ``{"coefficient", "source", "regions": DataFrame, "routes": DataFrame,
    "stats": DataFrame}``: region rows of the two countries and the rest of the world
    (welfare, per capita, wages, varieties available), USA-Canada route rows, and the
    IPOPT iterations per structure.
    """
    from cge import Equilibrium
    from cge.welfare import decompose

    from .calibrate import calibrate, set_start

    data, table = read_yotov(path, keep)
    b, source = (coefficient, "given") if coefficient is not None else border_coefficient(table)
    R = list(data.regions)
    a, c = (R.index(x) for x in pair)
    reg_rows, route_rows, stats = [], [], []
    for ms in structures:
        sigma, k = STRUCTURES[ms]
        eps = k if ms in ("melitz", "cara") else sigma - 1
        factor = math.exp(-b / eps)
        data.market_structure = {"manufacturing": ms}
        data.sigma, data.k = np.array([sigma]), np.array([k])
        # Seller shares low enough that every cutoff stays interior after the border
        # falls (neutral for percentage changes as long as they do; docs/calibration.md).
        prim, start = calibrate(data, cara_zero_flows="inactive", survival=SURVIVAL,
                                max_selection=MAX_SELECTION)
        scale = _rescale_origins(prim, {(a, c): factor, (c, a): factor})
        for (s_name, name, idx, _v) in list(start.items()):
            if name == "log_cutoff":
                start.sectors[s_name][name][idx] += math.log(scale[R.index(idx[1])])
        eq = Equilibrium(prim)
        set_start(eq, start)
        base = eq.solve()
        shocked = prim.copy()
        tau = prim["tau"].copy()
        tau[a, c, 0] /= factor
        tau[c, a, 0] /= factor
        shocked.arrays["tau"] = tau
        new = eq.solve(shocked)
        wel = decompose(base, new, prim, shocked)
        cmp = new.compare(base)
        stats.append({"structure": ms, "sigma": sigma, "k": k, "trade_elasticity": eps,
                      "border_factor": factor,
                      "benchmark_iterations": base.info.get("iterations"),
                      "counterfactual_iterations": new.info.get("iterations")})
        inactive = int((~np.isfinite(prim["tau"])).sum())
        stats[-1]["inactive_routes"] = inactive
        for r in R:
            row = {"structure": ms, "region": r,
                   "welfare_change_pct": cmp.welfare.loc[r, "welfare_change_pct"],
                   "welfare_per_capita_change_pct":
                       cmp.welfare.loc[r, "welfare_per_capita_change_pct"],
                   "welfare_money_metric_pct": _money_metric(
                       ms, k, cmp.welfare.loc[r, "welfare_per_capita_change_pct"]),
                   "wage_change_pct": cmp.factors.loc[(r, "labour"), "factor_price_pct"],
                   "varieties_available_pct":
                       wel.sectors.loc[(r, "manufacturing"), "varieties_available_pct"],
                   "domestic_cutoff_pct": cmp.sectors.loc[(r, "manufacturing"),
                                                          "domestic_cutoff_pct"],
                   "domestic_share_base": base.routes.loc[(r, r, "manufacturing"), "trade_share"],
                   "domestic_share_new": new.routes.loc[(r, r, "manufacturing"), "trade_share"]}
            if ms == "cara":
                row["choke_price_pct"] = 100 * (new.routes.loc[(r, r, "manufacturing"), "choke_price"]
                                                / base.routes.loc[(r, r, "manufacturing"),
                                                                  "choke_price"] - 1)
                row["domestic_margin_mean_pct"] = 100 * (
                    new.routes.loc[(r, r, "manufacturing"), "margin_mean"]
                    / base.routes.loc[(r, r, "manufacturing"), "margin_mean"] - 1)
                # relative to the unit cost of the local composite input
                cost = (new.sectors.loc[(r, "manufacturing"), "input_price"]
                        / base.sectors.loc[(r, "manufacturing"), "input_price"])
                row["domestic_margin_rel_cost_pct"] = 100 * (
                    (1 + row["domestic_margin_mean_pct"] / 100) / cost - 1)
            reg_rows.append(row)
        for n, i in ((R[a], R[c]), (R[c], R[a]), (R[a], R[a]), (R[c], R[c])):
            key = (n, i, "manufacturing")
            route_rows.append({"structure": ms, "destination": n, "origin": i,
                               "trade_value_base": base.routes.loc[key, "trade_value"],
                               "trade_value_pct": cmp.routes.loc[key, "trade_value_pct"],
                               "sellers_pct": cmp.routes.loc[key, "sellers_pct"],
                               **({"markup_mean": new.routes.loc[key, "markup_mean"],
                                   "margin_mean_pct": 100 * (new.routes.loc[key, "margin_mean"]
                                                             / base.routes.loc[key, "margin_mean"]
                                                             - 1)}
                                  if ms == "cara" else {})})
    return {"coefficient": b, "source": source, "regions": pd.DataFrame(reg_rows),
            "routes": pd.DataFrame(route_rows), "stats": pd.DataFrame(stats)}


def _atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="the Yotov et al. (2016) ch. 2 CSV")
    p.add_argument("--out", default=None, help="folder for regions.csv, routes.csv, stats.csv")
    p.add_argument("--all-countries", action="store_true",
                   help="keep all 69 countries (slow) instead of the default 12 + ROW")
    p.add_argument("--coefficient", type=float, default=None,
                   help="INTL_BRDR coefficient to use instead of estimating it")
    args = p.parse_args(argv)
    out = run_border_removal(args.data, coefficient=args.coefficient,
                             keep=None if args.all_countries else DEFAULT_KEEP)
    pd.set_option("display.width", 200)
    print(f"border coefficient b = {out['coefficient']:.4f} ({out['source']})")
    print(out["stats"].to_string(index=False))
    focus = out["regions"][out["regions"]["region"].isin(PAIR)]
    print(focus.to_string(index=False))
    rest = out["regions"][~out["regions"]["region"].isin(PAIR)]
    print("rest of the world, welfare change % (min, median, max) by structure:")
    print(rest.groupby("structure")["welfare_change_pct"].describe()[["min", "50%", "max"]])
    print(out["routes"].to_string(index=False))
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("regions", "routes", "stats"):
            _atomic_csv(out[name], folder / f"{name}.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
