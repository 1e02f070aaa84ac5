r"""Build the workbooks in ``sam_data/`` from the shared source data.

Run ``python -m calibration.build_workbooks [--source DIR] [--out DIR]``
(``DIR`` defaults: ``/work/shared/data`` or ``$CGE_DATA``; ``sam_data/``).

``yotov2016_mfg.xlsx``
    Manufacturing trade of 69 countries in 2006 (Yotov, Piermartini, Monteiro
    and Larch, 2016, *An Advanced Guide to Trade Policy Analysis: The
    Structural Gravity Model*, WTO and UNCTAD; CC BY 4.0) aggregated to the
    nine largest manufacturing markets plus a rest of the world, one Melitz
    manufacturing sector and a non-traded rest of the economy built from
    stated ratios (:data:`YOTOV_ASSUMPTIONS`).
``hosoe_japan_2005.xlsx``
    The Japanese 2005 four-sector SAM of Hosoe, Gasawa and Hashimoto's
    DYNCGE model (via JCGEExamples.jl, Apache-2.0) as region ``JPN``, closed
    by a constructed rest of the world (:data:`HOSOE_ASSUMPTIONS`).

Everything the sources do not contain is an assumption stated here, in the
workbook's ``info`` sheet and in ``sam_data/README.md``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from cge.errors import InputError

from .benchmark import BenchmarkData
from .sam import write_benchmark_workbook, write_workbook

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path(os.environ.get("CGE_DATA", "/work/shared/data"))
DEFAULT_OUT = ROOT / "sam_data"

YOTOV_FILE = "yotov2016/yotov2016_trade_without_border_2006.csv"
HOSOE_FILE = "hosoe_dyncge_sam/dyncge_sam.csv"

#: Stated assumptions that build the non-manufacturing part of the Yotov benchmark.
YOTOV_ASSUMPTIONS = {
    "regions": 9,                  # largest manufacturing markets kept; the rest is ROW
    "mfg_share_of_gdp": 0.16,      # manufacturing value added / GDP, every region
    # cost shares of gross output (value added split labour/capital; intermediates by sector)
    "mfg_costs": {"labour": 0.35 * 0.65, "capital": 0.35 * 0.35, "mfg": 0.45, "oth": 0.20},
    "oth_costs": {"labour": 0.60 * 0.60, "capital": 0.60 * 0.40, "mfg": 0.10, "oth": 0.30},
    "sigma": {"mfg": 3.8, "oth": 2.0},
    "k": {"mfg": 4.6, "oth": 4.0},
}
#: Stated assumptions of the rest-of-world closure of the Japanese SAM.
HOSOE_ASSUMPTIONS = {
    "row_scale": 9.0,  # rest-of-world gross output, sector by sector, relative to Japan
    "market_structure": {"AGR": "armington", "LMN": "melitz", "HMN": "melitz", "SRV": "armington"},
    "sigma": {"AGR": 2.0, "LMN": 3.8, "HMN": 3.8, "SRV": 2.0},
    "k": {"AGR": 4.0, "LMN": 4.6, "HMN": 4.6, "SRV": 4.0},
}

YOTOV_CITATION = (
    "Yotov, Y. V., Piermartini, R., Monteiro, J.-A. and Larch, M. (2016), An Advanced Guide to "
    "Trade Policy Analysis: The Structural Gravity Model, WTO and UNCTAD; dataset "
    "1_TradeWithoutBorder (2006), via pachadotdev/tradepolicy; licence CC BY 4.0")
HOSOE_CITATION = (
    "Hosoe, N., Gasawa, K. and Hashimoto, H., Textbook of Computable General Equilibrium "
    "Modeling: Programming and Simulations, 2nd ed., University of Tokyo Press; SAM of the "
    "DYNCGE model (Japan 2005, billion JPY) as redistributed in equicirco/JCGEExamples.jl "
    "(Apache License 2.0), models/DynCGE/data/sam.csv")


# ===================================================================== Yotov
def yotov_benchmark(source: Path = DEFAULT_SOURCE, assumptions: dict | None = None) -> BenchmarkData:
    r"""The 10-region, 2-sector benchmark built from the Yotov et al. (2016) data.

    * Regions: the ``regions`` largest manufacturing markets (importer
      expenditure ``E``) and ``ROW`` (all others; flows among its members are
      its domestic sales). Germany, coded ``ZZZ`` in the source, is ``DEU``.
    * ``mfg`` (melitz): bilateral and domestic shipments as given (million
      USD, 2006); no tariffs (the data have none).
    * ``oth`` (armington, non-traded): the rest of the economy. With
      manufacturing value added :math:`VA^m_n = v_m Y_n` (``v_m`` the value-added
      share of ``mfg_costs``, :math:`Y_n` manufacturing output), GDP is
      :math:`VA^m_n/` ``mfg_share_of_gdp`` and the rest of the economy's gross
      output is :math:`(GDP_n - VA^m_n)/v_o`.
    * Intermediate use and factor payments follow the cost shares; final
      demand is what remains of absorption; the deficit is manufacturing
      imports minus exports.
    """
    a = dict(YOTOV_ASSUMPTIONS, **(assumptions or {}))
    d = pd.read_csv(Path(source) / YOTOV_FILE)
    d = d.replace({"exporter": {"ZZZ": "DEU"}, "importer": {"ZZZ": "DEU"}})
    spend = d.groupby("importer")["trade"].sum().sort_values(ascending=False)
    keep = list(spend.index[: a["regions"]])
    regions = keep + ["ROW"]
    region_of = {c: (c if c in keep else "ROW") for c in set(d["exporter"]) | set(d["importer"])}
    d["o"], d["n"] = d["exporter"].map(region_of), d["importer"].map(region_of)
    flows = d.groupby(["n", "o"])["trade"].sum().unstack().reindex(index=regions, columns=regions)
    flows = flows.fillna(0.0).to_numpy()
    nR = len(regions)
    sectors, factors = ("mfg", "oth"), ("labour", "capital")
    mc, oc = a["mfg_costs"], a["oth_costs"]
    for name, costs in (("mfg_costs", mc), ("oth_costs", oc)):
        if abs(sum(costs.values()) - 1) > 1e-12:
            raise InputError(f"{name}: cost shares sum to {sum(costs.values())}, must be 1")
    Y = flows.sum(axis=0)  # manufacturing output by origin
    va_m = (mc["labour"] + mc["capital"]) * Y
    gdp = va_m / a["mfg_share_of_gdp"]
    Y_o = (gdp - va_m) / (oc["labour"] + oc["capital"])
    X = np.zeros((nR, nR, 2))
    X[:, :, 0] = flows
    X[np.arange(nR), np.arange(nR), 1] = Y_o
    out = np.stack([Y, Y_o], axis=1)  # (region, sector)
    shares = [mc, oc]
    Z = np.stack([[[shares[j][u] * out[i, j] for u in sectors] for j in range(2)] for i in range(nR)])
    V = np.stack([[[shares[j][f] * out[i, j] for f in factors] for j in range(2)] for i in range(nR)])
    absorption = X.sum(axis=1)
    C = absorption - Z.sum(axis=1)
    if (C <= 0).any():
        bad = [(regions[n], sectors[j]) for n, j in zip(*np.nonzero(C <= 0))]
        raise InputError(f"yotov: final demand would be negative for {bad}; lower the "
                         "intermediate shares or raise mfg_share_of_gdp")
    imports = flows.sum(axis=1) - np.diag(flows)
    exports = flows.sum(axis=0) - np.diag(flows)
    D = imports - exports
    return BenchmarkData(
        regions=regions, sectors=sectors, factors=factors, trade=X,
        tariff=np.zeros((nR, nR, 2)), factor_payments=V, intermediate=Z, final_demand=C,
        deficit=D, sigma=np.array([a["sigma"][s] for s in sectors]),
        k=np.array([a["k"][s] for s in sectors]),
        market_structure={"mfg": "melitz", "oth": "armington"},
        name="yotov2016_mfg", units="million USD (2006)",
        notes=[YOTOV_CITATION],
    )


def build_yotov(source: Path = DEFAULT_SOURCE, out: Path = DEFAULT_OUT) -> Path:
    data = yotov_benchmark(source)
    a = YOTOV_ASSUMPTIONS
    info = {
        "source": YOTOV_CITATION,
        "licence": "CC BY 4.0: redistributable with attribution (cite the source above). The "
                   "manufacturing trade flows are the source's; everything else is built from the "
                   "assumptions below.",
        "built_by": "python -m calibration.build_workbooks (calibration/build_workbooks.py)",
        "regions": f"the {a['regions']} largest manufacturing markets (importer expenditure) and "
                   "ROW (all other 60 countries; flows among them are ROW's domestic sales); "
                   "Germany is coded ZZZ in the source and DEU here",
        "mfg": "melitz; bilateral and domestic shipments as given; no tariffs (the data have none)",
        "oth": "armington, non-traded rest of the economy: gross output = (GDP - mfg value "
               f"added) / oth value-added share, GDP = mfg value added / {a['mfg_share_of_gdp']}",
        "cost_shares_mfg": str(a["mfg_costs"]),
        "cost_shares_oth": str(a["oth_costs"]),
        "elasticities": f"sigma {a['sigma']}, k {a['k']} (illustrative, not estimated here)",
        "closure": "one regional household buys all final demand; the deficit is manufacturing "
                   "imports minus exports (foreign savings)",
    }
    return write_benchmark_workbook(data, Path(out) / "yotov2016_mfg.xlsx", info=info)


# ===================================================================== Hosoe
def _hosoe_sam(source: Path) -> pd.DataFrame:
    sam = pd.read_csv(Path(source) / HOSOE_FILE, index_col=0)
    sam.index = sam.index.str.strip()
    sam.columns = sam.columns.str.strip()
    return sam


def hosoe_workbook_parts(source: Path = DEFAULT_SOURCE, assumptions: dict | None = None) -> dict:
    r"""The parts of the Japan + rest-of-world workbook (see :func:`build_hosoe`)."""
    a = dict(HOSOE_ASSUMPTIONS, **(assumptions or {}))
    h = _hosoe_sam(source)
    S = ["AGR", "LMN", "HMN", "SRV"]
    F = ["CAP", "LAB"]
    accounts = ([(f"a_{s}", "activity", s) for s in S] + [(f"c_{s}", "commodity", s) for s in S]
                + [(f, "factor", f) for f in F]
                + [("HOH", "household", None), ("GOV", "government", None),
                   ("INV", "savings_investment", None), ("IDT", "production_tax", None),
                   ("TRF", "tariff", None), ("EXT", "rest_of_world", None)])
    names = [x[0] for x in accounts]
    acc = pd.DataFrame(accounts, columns=["account", "type", "label"])

    # ---- Japan: split Hosoe's combined sector accounts into activity and commodity
    J = pd.DataFrame(0.0, index=names, columns=names)
    gross = {}
    for s in S:
        for u in S:
            J.loc[f"c_{u}", f"a_{s}"] = h.loc[u, s]
        for f in F:
            J.loc[f, f"a_{s}"] = h.loc[f, s]
        J.loc["IDT", f"a_{s}"] = h.loc["IDT", s]
        gross[s] = float(J[f"a_{s}"].sum())
        J.loc[f"a_{s}", "EXT"] = h.loc[s, "EXT"]
        J.loc[f"a_{s}", f"c_{s}"] = gross[s] - h.loc[s, "EXT"]
        J.loc["EXT", f"c_{s}"] = h.loc["EXT", s]
        J.loc["TRF", f"c_{s}"] = h.loc["TRF", s]
        for inst in ("HOH", "GOV", "INV"):
            J.loc[f"c_{s}", inst] = h.loc[s, inst]
    for f in F:
        J.loc["HOH", f] = h.loc["HOH", f]
    J.loc["GOV", "HOH"] = h.loc["GOV", "HOH"]
    J.loc["INV", "HOH"] = h.loc["INV", "HOH"]
    J.loc["GOV", "IDT"] = h.loc["GOV", "IDT"]
    J.loc["GOV", "TRF"] = h.loc["GOV", "TRF"]
    J.loc["INV", "GOV"] = h.loc["INV", "GOV"]
    J.loc["INV", "EXT"] = h.loc["INV", "EXT"]

    # ---- rest of the world: Japan's cost structure at `row_scale` times Japan's output
    lam = a["row_scale"]
    W = pd.DataFrame(0.0, index=names, columns=names)
    for s in S:
        act, com = f"a_{s}", f"c_{s}"
        costs = J[act] * lam  # intermediate, factor and production-tax payments per sector
        W[act] = costs
        exports = J.loc["EXT", com]  # ROW sells Japan's imports, Japan's exports are ROW's imports
        W.loc[act, "EXT"] = exports
        W.loc[act, com] = gross[s] * lam - exports
        W.loc["EXT", com] = J.loc[act, "EXT"]
    for s in S:
        com = f"c_{s}"
        supply = W.loc[f"a_{s}", com] + W.loc["EXT", com]  # no tariffs in ROW (no data)
        W.loc[com, "HOH"] = supply - W.loc[com, [f"a_{u}" for u in S]].sum()
    for f in F:
        W.loc["HOH", f] = W.loc[f, [f"a_{s}" for s in S]].sum()
    W.loc["HOH", "IDT"] = W.loc["IDT", [f"a_{s}" for s in S]].sum()
    deficit = W.loc["EXT", [f"c_{s}" for s in S]].sum() - W.loc[[f"a_{s}" for s in S], "EXT"].sum()
    W.loc["INV", "EXT"] = deficit
    W.loc["INV", "HOH"] = -deficit

    trade = []
    for s in S:
        trade.append({"origin": "ROW", "destination": "JPN", "sector": s,
                      "value": float(h.loc["EXT", s]),
                      "tariff_rate": float(h.loc["TRF", s] / h.loc["EXT", s])})
        trade.append({"origin": "JPN", "destination": "ROW", "sector": s,
                      "value": float(h.loc[s, "EXT"]), "tariff_rate": 0.0})
    parameters = pd.DataFrame({"sector": S, "sigma": [a["sigma"][s] for s in S],
                               "k": [a["k"][s] for s in S],
                               "market_structure": [a["market_structure"][s] for s in S],
                               "delta": 1.0})
    info = {
        "name": "hosoe_japan_2005", "units": "billion JPY (2005)",
        "source": HOSOE_CITATION,
        "licence": "Apache-2.0 as redistributed in JCGEExamples.jl (attribution above); the "
                   "upstream textbook / GAMS Model Library table states no data licence",
        "built_by": "python -m calibration.build_workbooks (calibration/build_workbooks.py)",
        "JPN": "Hosoe's SAM with each sector split into an activity (gross output incl. "
               "production taxes IDT) and a commodity (domestic sales + imports EXT + tariffs TRF); "
               "exports leave from the activity row",
        "ROW": f"constructed, not data: Japan's cost structure (per unit of gross output) at "
               f"{lam:g} times Japan's gross output in every sector; it sells Japan's imports "
               "and buys Japan's exports; no tariffs; one household buys all final demand; its "
               "foreign savings are minus Japan's",
        "elasticities": f"market structures {a['market_structure']}, sigma {a['sigma']}, "
                        f"k {a['k']} (illustrative)",
    }
    return {"sams": {"JPN": J, "ROW": W}, "accounts": acc, "trade": pd.DataFrame(trade),
            "parameters": parameters, "info": info}


def build_hosoe(source: Path = DEFAULT_SOURCE, out: Path = DEFAULT_OUT) -> Path:
    parts = hosoe_workbook_parts(source)
    return write_workbook(Path(out) / "hosoe_japan_2005.xlsx", **parts)


BUILDERS = {"yotov2016_mfg.xlsx": build_yotov, "hosoe_japan_2005.xlsx": build_hosoe}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="shared data directory")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = p.parse_args(argv)
    for name, build in BUILDERS.items():
        path = build(args.source, args.out)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
