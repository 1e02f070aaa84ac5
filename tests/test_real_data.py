"""Calibration to real data that may not be redistributed: Caliendo-Parro 1993 and the
South Africa 2015 SAM.

The data are read from the shared data folder next to the repository
(``../shared/data``); nothing derived from them is stored in the repository,
and no number of theirs is written here: every expected value is read from the
source files at test time. The tests are skipped only when that folder is
absent. The slow tests build and solve the 31-region, 40-sector model (about
33,000 unknowns; about a minute in all).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import calibration as cal
from calibration import caliendo_parro as cp
from calibration import south_africa as za
from cge import Equilibrium
from cge.solve import max_residual
from cge.tolerance import limit, WALRAS_TERMS
from flows import assert_flows_match  # tests/flows.py

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CP_DIR = DATA / "caliendo_parro_2015"
ZA_DIR = DATA / "south_africa_sam_2015"

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"shared data folder {DATA} is absent (the Caliendo-Parro and "
                              "South Africa data are not redistributable, so they are not in "
                              "the repository)")



# ------------------------------------------------------------------ helpers
def replicate(data, **kwargs):
    """Calibrate, build, start at the benchmark and solve; check the replication."""
    options = kwargs.pop("options", None)
    prim, start = cal.calibrate(data, **kwargs)
    eq = Equilibrium(prim, options=options)
    cal.set_start(eq, start)
    worst = max_residual(eq.model)
    assert worst < limit(), f"largest residual at the benchmark {worst:.3e}"
    base = eq.solve()
    assert eq.last_stats.iterations <= 1
    assert_flows_match(eq, data)
    return eq, prim, base


# ========================================================== Caliendo-Parro
@pytest.fixture(scope="module")
def cp_source():
    return cp.read_cp(CP_DIR)


@pytest.fixture(scope="module")
def cp_data(cp_source):
    return cp.cp_benchmark(cp_source)


def test_cp_read_matches_the_csv_files(cp_source):
    src = cp_source
    assert src.trade.shape == (31, 31, 40) and src.intermediate.shape == (31, 40, 40)
    assert {"CAN", "MEX", "USA", "ROW"} <= set(src.regions)
    assert src.names[src.regions.index("MEX")] == "Mexico"
    tr = pd.read_csv(CP_DIR / cp.FILES["trade"])
    row = tr.query("sector == 'Auto' and exporter == 'Mexico' and importer == 'USA'").iloc[0]
    n, i, j = src.regions.index("USA"), src.regions.index("MEX"), src.sectors.index("Auto")
    assert src.trade[n, i, j] == pytest.approx(row["trade_value_usd"] / cp.UNIT, rel=1e-15)
    assert src.tariff[n, i, j] == row["tariff_1993"]
    assert src.trade.sum() == pytest.approx(tr["trade_value_usd"].sum() / cp.UNIT, rel=1e-12)
    iu = pd.read_csv(CP_DIR / cp.FILES["intermediate"])
    row = iu.query("input_sector == 'Food' and using_sector == 'Retail' and region == 'Japan'")
    assert src.intermediate[src.regions.index("JPN"), src.sectors.index("Retail"),
                            src.sectors.index("Food")] == pytest.approx(
        row["value_usd"].item() / cp.UNIT, rel=1e-15)


def test_cp_source_fails_the_checks_and_every_adjustment_is_reported(cp_source, cp_data):
    src = cp_source
    data, report = cp_data
    raw = data.copy(trade=src.trade, intermediate=src.intermediate,
                    final_demand=src.final_demand, deficit=src.deficit,
                    factor_payments=src.value_added[:, :, None] * np.eye(len(data.factors))[0],
                    survival=np.nan, exporter_share=np.nan, entrants=np.nan)
    problems = cal.benchmark_problems(raw)
    assert any("market clearing fails" in p for p in problems)
    assert any("intermediate[region=CAN" in p and "is negative" in p for p in problems)

    adj = report.adjustments
    assert {"negative", "deficit", "ras"} <= set(adj["step"])
    assert set(adj.columns) >= {"step", "region", "sector", "account", "before", "after",
                                "relative_change", "reason"}
    neg = adj[adj["step"] == "negative"]
    assert len(neg) == (src.intermediate < 0).sum() and (neg["after"] == 0).all()
    # the report is complete: replaying it on the source gives the balanced benchmark
    Z = np.where(src.intermediate < 0, 0.0, src.intermediate)
    C = src.final_demand.copy()
    ras = adj[adj["step"] == "ras"]
    R, S = list(data.regions), list(data.sectors)
    for r, account, after in zip(ras["region"], ras["account"], ras["after"]):
        row, col = account.split(" <- ")
        u = S.index(row[2:])
        if col == "household":
            C[R.index(r), u] = after
        else:
            Z[R.index(r), S.index(col[2:]), u] = after
    np.testing.assert_allclose(Z, data.intermediate, rtol=1e-12, atol=0)
    np.testing.assert_allclose(C, data.final_demand, rtol=1e-12, atol=0)
    assert (ras["before"] > 0).all() and (ras["after"] > 0).all()  # RAS keeps zeros and signs
    text = report.summary()
    assert "RAS scaling of intermediate use and final demand" in text
    assert "placeholder output kept" in text


def test_cp_balanced_benchmark_passes_the_checks_with_trade_and_value_added_unchanged(
        cp_source, cp_data):
    src = cp_source
    data, report = cp_data
    assert cal.benchmark_problems(data) == []
    np.testing.assert_array_equal(data.trade, src.trade)   # no domestic floor was needed
    np.testing.assert_array_equal(data.tariff, src.tariff)
    np.testing.assert_allclose(data.factor_payments.sum(axis=2), src.value_added, rtol=1e-12)
    np.testing.assert_allclose(data.deficit, src.deficit, rtol=1e-8)
    assert abs(data.deficit.sum()) <= 1e-9 * np.abs(data.deficit).sum()
    assert report.balancing["max_imbalance"].max() < 1e-12
    # placeholders: CP's 1-USD output cells keep it; their demand is scaled to that supply
    ph = report.placeholders
    assert len(ph) > 0 and (ph["output"] * cp.UNIT <= 1 + 1e-9).all()
    for r, s in zip(ph["region"], ph["sector"]):
        n, j = data.regions.index(r), data.sectors.index(s)
        assert data.demand()[n, j] == pytest.approx(data.absorption()[n, j], rel=1e-8)


def test_cp_market_structures_and_parameters(cp_source, cp_data):
    src = cp_source
    data, report = cp_data
    dom = np.einsum("nns->ns", src.trade)
    theta = dict(zip(src.sectors, src.theta))
    par = report.parameters.set_index("sector")
    for j, s in enumerate(src.sectors):
        ms = data.market_structure[s]
        manufacturing = j < cp.N_TRADABLE and s not in cp.PRIMARY
        if manufacturing and (dom[:, j] > 0).all():
            assert ms == "melitz", s
            assert data.k[j] == theta[s] and data.k[j] > data.sigma[j] - 1
            assert data.sigma[j] == min(cp.SIGMA_MAX, 1 + theta[s] / cp.K_OVER_SIGMA)
        else:
            assert ms == "armington", s
            assert data.sigma[j] == 1 + theta[s]
        if manufacturing and not (dom[:, j] > 0).all():
            missing = [src.regions[i] for i in np.nonzero(dom[:, j] <= 0)[0]]
            assert par.loc[s, "reason"].endswith(", ".join(missing))
    # one labour factor plus a specific factor per firm sector, 1/3 of value added
    firm = [s for s in data.sectors if data.market_structure[s] == "melitz"]
    assert data.factors == ("labour",) + tuple(f"capital_{s}" for s in firm)
    j = data.sectors.index(firm[0])
    np.testing.assert_allclose(data.factor_payments[:, j, 1],
                               cp.SPECIFIC_FACTOR_SHARE * src.value_added[:, j], rtol=1e-12)
    # seller shares make every iceberg cost >= 1 (checked by calibrate) with cutoffs >= 2 phi_min
    cap = np.minimum(cp.MAX_SELLER_SHARE, cp.CUTOFF_MARGIN ** -data.k)
    for j, s in enumerate(data.sectors):
        if s in firm:
            share = data.survival[:, j][None, :] * np.where(np.isnan(data.exporter_share[:, :, j]),
                                                            1.0, data.exporter_share[:, :, j])
            assert (share <= cap[j] * (1 + 1e-12)).all()


def test_cp_forced_melitz_sector_gets_a_reported_domestic_floor(cp_source):
    ms = cp.default_market_structure(cp_source.sectors, cp_source.trade)
    ms["Office"] = "melitz"
    data, report = cp.cp_benchmark(cp_source, market_structure=ms)
    floor = report.adjustments[report.adjustments["step"] == "domestic_floor"]
    j = data.sectors.index("Office")
    zero = np.nonzero(np.einsum("nns->ns", cp_source.trade)[:, j] <= 0)[0]
    assert sorted(floor["region"]) == sorted(data.regions[i] for i in zero)
    assert (floor["sector"] == "Office").all()
    out = cp_source.trade.sum(axis=0)
    for i in zero:
        assert data.trade[i, i, j] == pytest.approx(cp.DOMESTIC_FLOOR * out[i, j], rel=1e-12)
    assert cal.benchmark_problems(data) == []


def test_cp_cli_reports_without_writing(capsys):
    assert cp.main(["--data", str(CP_DIR)]) == 0
    out = capsys.readouterr().out
    assert "melitz (8)" in out and "RAS scaling" in out and "seller shares" in out


@pytest.mark.slow
def test_cp_workbook_round_trip(cp_data, tmp_path):
    data, report = cp_data
    path = cp.write_cp_workbook(data, report, tmp_path / "cp1993.xlsx")
    back = cal.read_workbook(path)
    assert back.regions == data.regions and back.sectors == data.sectors
    assert back.factors == data.factors and back.market_structure == data.market_structure
    for name in ("trade", "tariff", "factor_payments", "intermediate", "final_demand",
                 "deficit", "survival", "exporter_share", "entrants"):
        a, b = getattr(back, name), getattr(data, name)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.nanmax(np.abs(b)),
                                   err_msg=name)
    import openpyxl

    sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
    assert {"adjustments", "ras_summary", "placeholders", "sector_rules",
            "seller_shares"} <= set(sheets)


@pytest.fixture(scope="module")
def cp_model(cp_data):
    """The calibrated 31 x 40 model at its benchmark (solved once, shared)."""
    data, _ = cp_data
    eq, prim, base = replicate(data, numeraire=cp.NUMERAIRE, options=cp.SOLVER_OPTIONS)
    return data, eq, prim, base


@pytest.mark.slow
def test_cp_calibrates_and_replicates_the_benchmark(cp_model):
    data, eq, prim, base = cp_model
    assert np.allclose(base.factors["factor_price"], 1.0, atol=1e-9)
    assert np.allclose(base.sectors["price_index"], 1.0, atol=1e-9)
    assert abs(base.walras_residual) < limit(terms=WALRAS_TERMS)
    melitz = [j for j, s in enumerate(data.sectors) if data.market_structure[s] == "melitz"]
    np.testing.assert_allclose(prim["phi_min"][:, melitz], 1.0, rtol=1e-9)  # the normalisation
    tau = prim["tau"][:, :, melitz]
    assert (tau[np.isfinite(tau)] >= 1.0).all()


@pytest.mark.slow
def test_cp_nafta_tariff_removal_solves_with_walras(cp_model):
    data, eq, prim, base = cp_model
    new_tariff = cp.tariffs_among(data, cp.NAFTA, 0.0)
    idx = [data.regions.index(r) for r in cp.NAFTA]
    assert (new_tariff[np.ix_(idx, idx)] == 0).all()
    assert prim["tariff"][np.ix_(idx, idx)].max() > 0.1  # a real shock (Mexico's tariffs)
    others = np.ones(len(data.regions), dtype=bool)
    others[idx] = False
    np.testing.assert_array_equal(new_tariff[others], prim["tariff"][others])
    nafta = eq.solve(tariff=new_tariff)
    assert abs(nafta.walras_residual) < limit(terms=WALRAS_TERMS)
    assert nafta.max_residual < limit()
    welfare = nafta.compare(base).welfare["welfare_change_pct"]
    assert np.isfinite(welfare).all() and welfare["MEX"] > 0
    tv = nafta.routes["trade_value"]
    tb = base.routes["trade_value"]
    dst = tb.index.get_level_values("destination")
    org = tb.index.get_level_values("origin")
    inside = dst.isin(cp.NAFTA) & org.isin(cp.NAFTA) & (dst != org)
    assert tv[inside].sum() > tb[inside].sum()          # trade among the members rises
    usa_to_mex = (dst == "MEX") & (org == "USA")
    assert tv[usa_to_mex].sum() > tb[usa_to_mex].sum()


# ============================================================ South Africa
@pytest.fixture(scope="module")
def zaf():
    return za.zaf_benchmark(ZA_DIR)


def test_zaf_macro_sam_maps_balances_and_passes_the_checks(zaf):
    data, mapping, report = zaf
    src = pd.read_csv(ZA_DIR / za.MACRO_FILE, index_col=0)
    assert data.regions == ("ZAF", "ROW") and data.sectors == (za.SECTOR,)
    assert data.factors == ("labour", "capital")
    assert cal.benchmark_problems(data) == []
    # trade and tariffs as in the source (the trade sheet is held fixed by RAS)
    imports = src.loc["Rest of the world", "Commodities"]
    exports = src.loc["Commodities", "Rest of the world"]
    assert data.trade[0, 1, 0] == pytest.approx(imports, rel=1e-12)
    assert data.trade[1, 0, 0] == pytest.approx(exports, rel=1e-12)
    assert data.tariff_revenue()[0, 0] == pytest.approx(src.loc["Import duties", "Commodities"],
                                                        rel=1e-12)
    assert data.deficit[0] == pytest.approx(imports - exports, rel=1e-12)
    # final demand: households, government, investment and stock changes
    final = sum(src.loc["Commodities", c] for c in ("Households", "Government", "Accumulation",
                                                    "Ch in inventories"))
    assert data.final_demand[0, 0] == pytest.approx(final, rel=1e-5)
    # value added at factor cost; the net activity and product taxes are the production tax
    # (the reader's default), and together they are value added at market prices
    factor_cost = sum(src.loc[r, "Activities"] for r in ("Labour", "Capital"))
    taxes = src.loc["Net activity taxes", "Activities"] + src.loc["Net dom prod taxes",
                                                                  "Commodities"]
    assert data.factor_payments[0, 0].sum() == pytest.approx(factor_cost, rel=1e-5)
    assert data.production_tax[0, 0] == pytest.approx(taxes, rel=1e-5)
    assert data.factor_payments[0, 0].sum() + data.production_tax[0, 0] == pytest.approx(
        factor_cost + taxes, rel=1e-5)
    # with production_taxes="pro_rata" they are folded into factor payments instead
    folded, _, _ = za.zaf_benchmark(ZA_DIR, production_taxes="pro_rata")
    assert folded.factor_payments[0, 0].sum() == pytest.approx(factor_cost + taxes, rel=1e-5)
    assert (folded.production_tax == 0).all()
    # every mapping step and every RAS change is reported; RAS changes are rounding-sized
    assert set(mapping["step"]) == {"exports", "product_taxes", "inventories"}
    assert len(report.adjustments) > 0
    assert report.adjustments["relative_change"].abs().max() < 1e-5


def test_zaf_calibrates_and_replicates(zaf):
    data, _, _ = zaf
    eq, prim, base = replicate(data)
    assert abs(base.walras_residual) < limit(terms=WALRAS_TERMS)
    cut = eq.solve(tariff=0.0 * prim["tariff"])
    assert abs(cut.walras_residual) < limit(terms=WALRAS_TERMS)
    assert cut.routes.loc[("ZAF", "ROW", za.SECTOR), "trade_value"] > \
        base.routes.loc[("ZAF", "ROW", za.SECTOR), "trade_value"]


def test_zaf_cli_writes_a_readable_workbook(tmp_path, capsys):
    out = tmp_path / "zaf2015.xlsx"
    assert za.main(["--data", str(ZA_DIR), "-o", str(out)]) == 0
    assert "RAS balancing changed" in capsys.readouterr().out
    data = cal.read_workbook(out, balance="ras")
    assert cal.benchmark_problems(data) == []
