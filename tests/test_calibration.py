"""Calibration to benchmark data and social accounting matrices (package ``calibration``)."""

from __future__ import annotations

import numpy as np
import pytest

import calibration as cal
from calibration.checks import (
    check_activity, check_deficits, check_income, check_market_clearing, check_nonnegative,
    check_sector_parameters, check_tariffs, check_zero_profit,
)
from calibration.examples import toy_benchmark
from cge import Equilibrium
from cge.errors import InputError
from cge.examples import three_by_three
from cge.solve import max_residual, residuals
from cge.tolerance import limit
from flows import assert_flows_match  # tests/flows.py

# Calibrated flows reproduced through up to 100 equations (cge.tolerance).
REL = limit(terms=100)


# ----------------------------------------------------------------- helpers
def percent_changes(base, new):
    c = new.compare(base)
    return np.concatenate([
        c.welfare["welfare_change_pct"].to_numpy(), c.routes["trade_value_pct"].to_numpy(),
        c.sectors["price_index_pct"].to_numpy(), c.sectors["output_pct"].to_numpy(),
        c.factors["factor_price_pct"].to_numpy(),
    ])


@pytest.fixture(scope="module")
def toy():
    return toy_benchmark()


@pytest.fixture(scope="module")
def solved_example():
    eq = Equilibrium(three_by_three())
    base = eq.solve()
    return eq, base


# ------------------------------------------------------------ BenchmarkData
def test_toy_benchmark_is_consistent(toy):
    assert cal.benchmark_problems(toy) == []
    summary = toy.summary()
    assert np.allclose(summary["output"], summary["costs"])
    assert np.allclose(summary["absorption"], summary["demand"])
    assert abs(toy.deficit.sum()) < limit(toy.deficit, terms=len(toy.deficit), rel=1e-12)


def test_from_mapping_round_trips(toy):
    again = cal.BenchmarkData.from_mapping(toy.to_mapping())
    for name in ("trade", "tariff", "factor_payments", "intermediate", "final_demand", "deficit"):
        np.testing.assert_array_equal(getattr(again, name), getattr(toy, name))
    assert again.market_structure == toy.market_structure


def test_from_mapping_names_unknown_labels():
    with pytest.raises(InputError, match=r"trade\[destination=A\]: unknown origin 'Z'"):
        cal.BenchmarkData.from_mapping({
            "regions": ["A"], "sectors": ["s"], "factors": ["L"], "sigma": 3.0,
            "trade": {"A": {"Z": 1.0}}, "factor_payments": 1.0, "final_demand": 1.0})


def test_check_zero_profit_names_region_sector_and_amounts(toy):
    V = toy.factor_payments.copy()
    V[1, 2, 0] += 5.0  # South, srv, labour
    problems = check_zero_profit(toy.copy(factor_payments=V))
    assert len(problems) == 1
    assert "region=South, sector=srv" in problems[0]
    assert "difference -5" in problems[0]


def test_check_market_clearing_names_region_sector(toy):
    C = toy.final_demand.copy()
    C[2, 1] *= 1.01  # East, agr
    problems = check_market_clearing(toy.copy(final_demand=C))
    assert len(problems) == 1 and "region=East, sector=agr" in problems[0]
    assert f"final demand {C[2, 1]:.10g}" in problems[0]


def test_check_income_and_deficits(toy):
    D = toy.deficit.copy()
    D[0] += 3.0
    bad = toy.copy(deficit=D)
    income = check_income(bad)
    assert len(income) == 1 and "region=North" in income[0] and "difference 3" in income[0]
    deficits = check_deficits(bad)
    assert len(deficits) == 1 and "deficits sum to 3" in deficits[0]


def test_check_negative_tariff_and_parameters(toy):
    Z = toy.intermediate.copy()
    Z[0, 1, 2] = -1.0
    neg = check_nonnegative(toy.copy(intermediate=Z))
    assert any("intermediate[region=North, sector=agr, input=srv] = -1 is negative" in p for p in neg)
    t = toy.tariff.copy()
    t[1, 1, 0] = 0.1
    assert any("destination=South, origin=South, sector=mfg" in p for p in check_tariffs(toy.copy(tariff=t)))
    k = toy.k.copy()
    k[0] = 2.5
    msgs = check_sector_parameters(toy.copy(k=k))
    assert msgs == ["k[sector=mfg] = 2.5 must exceed sigma - 1 = 2.8 (melitz)"]


def test_check_activity_names_missing_production(toy):
    X = toy.trade.copy()
    X[:, 2, 1] = 0.0  # East produces no agr
    msgs = check_activity(toy.copy(trade=X))
    assert any("region=East, sector=agr: no output" in p for p in msgs)
    with pytest.raises(InputError, match="zero profit fails for region=East, sector=agr"):
        cal.check_benchmark(toy.copy(trade=X))


# ----------------------------------------------------------------- calibrate
def test_benchmark_replication(toy):
    prim, start = cal.calibrate(toy)
    eq = Equilibrium(prim)
    assert cal.set_start(eq, start) > 0
    res = residuals(eq.model)
    assert max(abs(r) for r in res.values()) < limit(), sorted(res.items(), key=lambda kv: -abs(kv[1]))[:3]
    results = eq.solve()
    assert eq.last_stats.iterations <= 1
    assert_flows_match(eq, toy)
    # prices at one, as the units were chosen
    assert np.allclose(results.factors["factor_price"], 1.0, atol=1e-9)
    assert np.allclose(results.sectors["price_index"], 1.0, atol=1e-9)
    np.testing.assert_allclose(results.regions["tariff_revenue"],
                               toy.tariff_revenue().sum(axis=1), rtol=REL)
    # structure of the calibrated parameters
    tau = prim["tau"]
    assert np.all(np.diagonal(tau, axis1=0, axis2=1)[[0, 2]] == 1.0)  # mfg, srv domestic tau = 1
    assert np.isinf(tau[0, 2, 1]) and tau[0, 2, 1] > 0  # agr East -> North: no trade
    # The default split (Head-Ries) puts the symmetric part of the friction into tau >= 1 in
    # every structure and the rest into preference weights; without it ("implied")
    # armington has tau = 1 and every friction in its preference weights.
    for j in range(tau.shape[2]):
        X = toy.trade[:, :, j]
        on = X > 0
        eps = toy.k[j] if toy.market_structure[toy.sectors[j]] == "melitz" else toy.sigma[j] - 1
        both = on & on.T
        head_ries = (np.outer(np.diag(X), np.diag(X)) / (X * X.T))[both] ** (1 / (2 * eps))
        np.testing.assert_allclose(tau[:, :, j][both], np.maximum(head_ries, 1.0), rtol=1e-12)
    implied, _ = cal.calibrate(toy, trade_costs="implied")
    tau1 = implied["tau"][:, :, 1]
    assert np.all(tau1[np.isfinite(tau1)] == 1.0)  # armington without the split: tau = 1
    assert np.all(prim["tau"][:, :, 1][np.isfinite(tau1)] > 1.0 - 1e-15)


def test_replication_with_every_numeraire(toy):
    for num in ({"price_index": "srv", "region": "East"}, {"cpi": "South"},
                {"factor": "capital", "region": "South"}):
        prim, start = cal.calibrate(toy, numeraire=num)
        eq = Equilibrium(prim)
        cal.set_start(eq, start)
        assert max_residual(eq.model) < limit(), num
        eq.solve()
        assert eq.last_stats.iterations <= 1
        assert_flows_match(eq, toy)


def test_calibration_neutrality(toy):
    """Percentage changes of a tariff cut do not depend on the firm normalisation
    (nor, under Pareto, on the assumed seller shares)."""
    changes = []
    rng = np.random.default_rng(3)
    variants = [dict(firm_normalisation=1.0), dict(firm_normalisation=37.0),
                dict(firm_normalisation=rng.uniform(0.1, 10, (3, 3))),
                dict(firm_normalisation=2.0, survival=0.3, exporter_share=0.1)]
    for kw in variants:
        prim, start = cal.calibrate(toy, **kw)
        eq = Equilibrium(prim)
        cal.set_start(eq, start)
        base = eq.solve()
        cut = eq.solve(tariff=0.9 * prim["tariff"])
        changes.append(percent_changes(base, cut))
    assert np.abs(changes[0]).max() > 1e-3  # the shock does something
    for other in changes[1:]:
        np.testing.assert_allclose(other, changes[0], rtol=0, atol=limit(100, terms=10))


def test_round_trip_from_shocked_equilibrium(solved_example):
    eq, base = solved_example
    prim0 = eq.primitives
    shocked = eq.solve(tariff=0.5 * prim0["tariff"])
    data = cal.benchmark_from_equilibrium(eq)
    assert cal.benchmark_problems(data) == []
    prim, start = cal.calibrate(data)
    eq2 = Equilibrium(prim)
    cal.set_start(eq2, start)
    assert max_residual(eq2.model) < limit()
    again = eq2.solve()
    assert eq2.last_stats.iterations <= 1
    assert_flows_match(eq2, data)
    np.testing.assert_allclose(again.routes["trade_value"], shocked.routes["trade_value"], rtol=REL)
    np.testing.assert_allclose(again.regions["income"], shocked.regions["income"], rtol=REL)
    # With price indices normalised to 1 the data identify trade costs up to
    # destination and origin factors, tau_ni a_n / a_i; the bilateral index
    # tau_ni tau_in / (tau_nn tau_ii) is recovered exactly. The calibration splits the
    # friction into tau and a preference weight a (a tau^(1-sigma) is what the data
    # identify), so the index is that of the effective cost tau a^(1/(1-sigma)).
    for j, s in enumerate(prim.sectors):
        if prim.market_structure[s] != "armington":
            def index(p):
                tau = p["tau"][:, :, j] * p["pref_weight"][:, :, j] ** (1 / (1 - p["sigma"][j]))
                d = np.diagonal(tau)
                return tau * tau.T / np.outer(d, d)
            np.testing.assert_allclose(index(prim), index(prim0), rtol=1e-7)
    for name in ("factor_share", "input_share", "beta", "tariff"):
        np.testing.assert_allclose(prim[name], prim0[name] if name != "tariff" else 0.5 * prim0[name],
                                   rtol=1e-7, atol=1e-12)
    # Deficits are held as a share of world income (the default deficit closure), so the
    # recalibrated deficits are the shocked equilibrium's, not the original data's.
    np.testing.assert_allclose(prim["deficit"], shocked.regions["deficit"].to_numpy()
                               / prim0.numeraire.value, rtol=1e-7, atol=1e-12)
    assert np.abs(prim["deficit"] / prim0["deficit"] - 1).max() > 1e-4
    # the recalibrated model responds to a further shock as the original does
    orig = eq.solve(tariff=0.0 * prim0["tariff"])
    recal = eq2.solve(tariff=0.0 * prim["tariff"])
    np.testing.assert_allclose(percent_changes(again, recal), percent_changes(shocked, orig),
                               rtol=0, atol=limit(100, terms=100))
    eq.solve(tariff=prim0["tariff"])  # leave the shared fixture at its benchmark


def test_implied_tau_below_one_names_the_route(toy):
    expo = np.full(toy.exporter_share.shape, np.nan)
    expo[0, 1, 0] = 1e-4  # almost no firm of South sells in North, yet it sells 18
    with pytest.raises(cal.CalibrationError,
                       match=r"destination=North, origin=South, sector=mfg \(melitz\): the data "
                             r"imply an iceberg cost tau = 0\.\d+ < 1"):
        cal.calibrate(toy.copy(exporter_share=expo), trade_costs="implied")
    # with the default split the same data calibrate: the friction below the Head-Ries trade
    # cost is a preference for South's varieties in North
    prim, _ = cal.calibrate(toy.copy(exporter_share=expo))
    assert prim["tau"][0, 1, 0] >= 1.0 and prim["pref_weight"][0, 1, 0] > 1.0


def test_seller_share_above_one_is_reported(toy):
    with pytest.raises(cal.CalibrationError, match="share of drawn firms selling there"):
        cal.calibrate(toy, survival=0.8, exporter_share=2.0)


def test_set_start_rejects_start_values_of_another_economy(toy):
    prim, start = cal.calibrate(toy)
    other = Equilibrium(three_by_three())
    with pytest.raises(InputError, match="sector 'mfg', which the model does not have"):
        cal.set_start(other, start)


# ------------------------------------------------------------------ workbooks
from calibration.sam import (  # noqa: E402
    WorkbookError, read_workbook, write_benchmark_workbook,
)


def _cell(ws, row_account, col_account):
    """The cell of a square SAM sheet at (row account, column account)."""
    cols = {c.value: c.column for c in ws[1]}
    for row in ws.iter_rows(min_row=2, max_col=1):
        if row[0].value == row_account:
            return ws.cell(row=row[0].row, column=cols[col_account])
    raise KeyError(row_account)


@pytest.fixture(scope="module")
def toy_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("wb") / "toy.xlsx"
    return write_benchmark_workbook(toy_benchmark(), path)


def _edited(toy_book, tmp_path, edit):
    import openpyxl

    wb = openpyxl.load_workbook(toy_book)
    edit(wb)
    out = tmp_path / "edited.xlsx"
    wb.save(out)
    return out


@pytest.mark.parametrize("layout", ["matrix", "long"])
def test_workbook_round_trip_and_replication(toy, tmp_path, layout):
    path = write_benchmark_workbook(toy, tmp_path / f"toy_{layout}.xlsx", layout=layout)
    data = read_workbook(path)
    for name in ("trade", "tariff", "factor_payments", "intermediate", "final_demand", "deficit"):
        np.testing.assert_allclose(getattr(data, name), getattr(toy, name), rtol=1e-12, atol=1e-9)
    prim, start = cal.calibrate(data)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    eq.solve()
    assert eq.last_stats.iterations <= 1
    assert_flows_match(eq, toy)


def test_workbook_text_in_numeric_cell(toy_book, tmp_path):
    def edit(wb):
        _cell(wb["SAM_South"], "labour", "a_agr").value = "n/a"
    with pytest.raises(WorkbookError) as err:
        read_workbook(_edited(toy_book, tmp_path, edit))
    msg = str(err.value)
    assert "SAM_South!C8 (row account labour, column account a_agr): text 'n/a'" in msg


def test_workbook_formula_without_cached_value(toy_book, tmp_path):
    def edit(wb):
        _cell(wb["SAM_East"], "c_mfg", "a_srv").value = "=B2*2"
    with pytest.raises(WorkbookError, match=r"SAM_East!D5 \(row account c_mfg, column account "
                                            r"a_srv\): formula '=B2\*2' has no cached value"):
        read_workbook(_edited(toy_book, tmp_path, edit))


def test_workbook_blank_cell(toy_book, tmp_path):
    def edit(wb):
        _cell(wb["SAM_North"], "household", "capital").value = None
        wb["trade"]["E3"].value = None  # a tariff rate
    path = _edited(toy_book, tmp_path, edit)
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    msg = str(err.value)
    assert "SAM_North!I10 (row account household, column account capital): blank cell" in msg
    assert "trade!E3 (tariff_rate East -> North, mfg): blank cell" in msg


def test_workbook_negative_where_not_allowed(toy_book, tmp_path):
    def edit(wb):
        _cell(wb["SAM_South"], "c_srv", "household").value = -5.0
    with pytest.raises(WorkbookError, match=r"SAM_South!J7 \(row account c_srv, column account "
                                            r"household\) = -5: a commodity account cannot receive"):
        read_workbook(_edited(toy_book, tmp_path, edit))


def test_workbook_labels_must_match_across_sheets(toy_book, tmp_path):
    def edit(wb):
        _cell(wb["SAM_East"], "a_mfg", "a_mfg").parent.cell(row=1, column=3).value = "a_agri"
        wb["trade"]["C2"].value = "manufacturing"
        wb["parameters"]["A3"].value = "agriculture"
    with pytest.raises(WorkbookError) as err:
        read_workbook(_edited(toy_book, tmp_path, edit))
    msg = str(err.value)
    assert "SAM_East: column account(s) ['a_agri'] are not in the accounts sheet" in msg
    assert "SAM_East: column account(s) ['a_agr'] of the accounts sheet are missing" in msg
    assert "trade!C2 (sector): 'manufacturing' is not a known sector" in msg
    assert "parameters!A3: sector 'agriculture' has no activity account" in msg


def test_workbook_tariff_revenue_inconsistent_with_rates(toy_book, tmp_path):
    def edit(wb):
        ws = wb["trade"]
        for row in ws.iter_rows(min_row=2):
            if (row[0].value, row[1].value, row[2].value) == ("South", "North", "mfg"):
                row[4].value = 0.2  # was 0.08
    with pytest.raises(WorkbookError) as err:
        read_workbook(_edited(toy_book, tmp_path, edit))
    msg = str(err.value)
    assert ("SAM_North!E11 (tariff revenue of North on mfg) = 2.69 but the trade sheet gives 4.85 "
            "(sum of value x tariff_rate; difference -2.16)") in msg


def test_workbook_imbalance_reports_largest_first_and_ras_fixes_it(toy, toy_book, tmp_path):
    def edit(wb):
        ws = wb["SAM_South"]
        _cell(ws, "c_srv", "a_mfg").value *= 1.05      # intermediate use of srv by mfg
        _cell(ws, "labour", "a_agr").value *= 0.98
    path = _edited(toy_book, tmp_path, edit)
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    lines = [p for p in err.value.problems if "does not balance" in p]
    assert lines and all(p.startswith("edited.xlsx: SAM_South: account") for p in lines)
    assert "account c_srv does not balance" in lines[0] or "account a_mfg" in lines[0]
    data, rep = read_workbook(path, balance="ras", with_report=True)
    assert cal.benchmark_problems(data) == []
    adj = rep.adjustments
    assert set(adj["region"]) == {"South"} and (adj["reason"] == "RAS scaling").all()
    edited = adj.set_index(["row_account", "column_account"])
    assert ("c_srv", "a_mfg") in edited.index and ("labour", "a_agr") in edited.index
    assert {"sheet", "cell", "before", "after", "relative_change"} <= set(adj.columns)
    assert adj["relative_change"].abs().max() < 0.06
    # the trade sheet is held fixed: trade and tariffs are the original ones
    np.testing.assert_allclose(data.trade[:, :, 0] - np.diag(np.diag(data.trade[:, :, 0])),
                               toy.trade[:, :, 0] - np.diag(np.diag(toy.trade[:, :, 0])))
    prim, start = cal.calibrate(data)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    eq.solve()
    assert eq.last_stats.iterations <= 1
    assert_flows_match(eq, data)


def test_workbook_production_taxes(toy, toy_book, tmp_path):
    """A production tax paid by the mfg activity, received by the household: the model's
    production tax (default, ``"tax"``), folded into factor payments pro rata
    (``"pro_rata"``), or booked as a separate factor (``"factor"``)."""
    def edit(wb):
        wb["accounts"].append(["ptax", "production_tax", None])
        for sheet in ("SAM_North", "SAM_South", "SAM_East"):
            ws = wb[sheet]
            ws.insert_rows(12)  # a ptax row and column before rest_of_world
            ws.insert_cols(12)
            ws.cell(row=12, column=1).value = "ptax"
            ws.cell(row=1, column=12).value = "ptax"
            for c in range(2, ws.max_column + 1):
                ws.cell(row=12, column=c).value = 0.0
            for r in range(2, ws.max_row + 1):
                ws.cell(row=r, column=12).value = 0.0
            _cell(ws, "ptax", "a_mfg").value = 6.0
            _cell(ws, "labour", "a_mfg").value -= 4.0
            _cell(ws, "capital", "a_mfg").value -= 2.0
            _cell(ws, "household", "labour").value -= 4.0
            _cell(ws, "household", "capital").value -= 2.0
            _cell(ws, "household", "ptax").value = 6.0
    path = _edited(toy_book, tmp_path, edit)
    V0 = toy.factor_payments[0, 0]
    # default: the tax is its own flow, factor payments are value added at factor cost,
    # and value added plus the tax is the SAM's value added at market prices
    tax = read_workbook(path)
    assert tax.factors == ("labour", "capital")
    np.testing.assert_allclose(tax.production_tax[:, 0], 6.0)
    assert (tax.production_tax[:, 1:] == 0).all()
    np.testing.assert_allclose(tax.factor_payments[:, 0], toy.factor_payments[:, 0] - [4.0, 2.0])
    np.testing.assert_allclose(tax.factor_payments[:, 0].sum(axis=1) + tax.production_tax[:, 0],
                               toy.factor_payments[:, 0].sum(axis=1))
    np.testing.assert_allclose(tax.factor_payments[:, 1:], toy.factor_payments[:, 1:], rtol=1e-12)
    assert cal.benchmark_problems(tax) == []
    explicit = read_workbook(path, production_taxes="tax")
    np.testing.assert_array_equal(explicit.production_tax, tax.production_tax)
    np.testing.assert_array_equal(explicit.factor_payments, tax.factor_payments)
    # "pro_rata": folded into factor payments in proportion to them, no production tax
    pro = read_workbook(path, production_taxes="pro_rata")
    scaled = (V0 - [4.0, 2.0]) * (V0.sum() / (V0.sum() - 6.0))
    np.testing.assert_allclose(pro.factor_payments[0, 0], scaled)
    assert (pro.production_tax == 0).all()
    fac = read_workbook(path, production_taxes="factor")
    assert fac.factors == ("labour", "capital", "production_tax")
    np.testing.assert_allclose(fac.factor_payments[:, 0, 2], 6.0)
    assert (fac.production_tax == 0).all()
    assert cal.benchmark_problems(fac) == []


# ------------------------------------------------------------------ real data
from pathlib import Path  # noqa: E402

from calibration import build_workbooks  # noqa: E402

SAM_DATA = Path(__file__).resolve().parents[1] / "sam_data"
SOURCE = build_workbooks.DEFAULT_SOURCE
needs_source = pytest.mark.skipif(not (SOURCE / build_workbooks.YOTOV_FILE).exists(),
                                  reason=f"shared source data not found in {SOURCE}")


def _calibrated(data):
    prim, start = cal.calibrate(data)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    assert max_residual(eq.model) < limit()
    results = eq.solve()
    assert eq.last_stats.iterations <= 1
    assert_flows_match(eq, data)
    return eq, prim, results


def test_yotov_workbook_calibrates_and_replicates():
    data = read_workbook(SAM_DATA / "yotov2016_mfg.xlsx")
    assert data.regions == ("USA", "CHN", "JPN", "DEU", "FRA", "ITA", "GBR", "KOR", "BEL", "ROW")
    assert data.sectors == ("mfg", "oth") and data.market_structure["mfg"] == "melitz"
    assert np.all(data.trade[:, :, 0] > 0)  # every manufacturing route trades
    off = ~np.eye(len(data.regions), dtype=bool)
    assert np.all(data.trade[:, :, 1][off] == 0)  # the rest of the economy is not traded
    eq, prim, results = _calibrated(data)
    tau = prim["tau"][:, :, 0]
    assert np.all(np.diag(tau) == 1.0) and np.all(tau[off] > 1.0)
    assert np.all(np.isinf(prim["tau"][:, :, 1][off]))
    # a 10% cut of (tau - 1) on every manufacturing route raises welfare everywhere
    cut = np.where(np.isfinite(prim["tau"]), 1 + 0.9 * (prim["tau"] - 1), np.inf)
    welfare = eq.solve(tau=cut).compare(results).welfare["welfare_change_pct"]
    assert (welfare > 0).all()


@needs_source
def test_yotov_workbook_matches_source_and_builder(tmp_path):
    import pandas as pd

    committed = read_workbook(SAM_DATA / "yotov2016_mfg.xlsx")
    rebuilt = read_workbook(build_workbooks.build_yotov(SOURCE, tmp_path))
    for name in ("trade", "tariff", "factor_payments", "intermediate", "final_demand", "deficit"):
        np.testing.assert_allclose(getattr(rebuilt, name), getattr(committed, name), rtol=1e-12)
    src = pd.read_csv(SOURCE / build_workbooks.YOTOV_FILE)
    assert committed.trade[:, :, 0].sum() == pytest.approx(src["trade"].sum(), rel=1e-12)
    usa_from_chn = src.query("exporter == 'CHN' and importer == 'USA'")["trade"].item()
    assert committed.trade[0, 1, 0] == pytest.approx(usa_from_chn, rel=1e-12)
    deu_home = src.query("exporter == 'ZZZ' and importer == 'ZZZ'")["trade"].item()
    assert committed.trade[3, 3, 0] == pytest.approx(deu_home, rel=1e-12)


def test_hosoe_japan_workbook_calibrates_and_replicates():
    data = read_workbook(SAM_DATA / "hosoe_japan_2005.xlsx")
    assert data.regions == ("JPN", "ROW")
    assert data.deficit[0] == pytest.approx(-6059.608, abs=1e-6)  # foreign savings INV <- EXT
    assert data.tariff_revenue()[0].sum() == pytest.approx(4774.091, rel=1e-12)  # TRF row total
    # household, government and investment demand together: HMN = 27648.678 + 4.931 + 34979.803
    assert data.final_demand[0, 2] == pytest.approx(27648.678 + 4.931 + 34979.803, rel=1e-12)
    # production taxes (IDT) are the model's production tax (the default reading): value
    # added at factor cost, and value added plus the tax is value added at market prices
    assert data.factor_payments[0, 0].sum() == pytest.approx(5082.506 + 1435.01, rel=1e-12)
    assert data.production_tax[0, 0] == pytest.approx(433.854, rel=1e-12)
    assert data.factor_payments[0, 0].sum() + data.production_tax[0, 0] == pytest.approx(
        5082.506 + 1435.01 + 433.854, rel=1e-12)
    assert (data.production_tax > 0).all()  # ROW has Japan's cost structure, IDT included
    eq, prim, _ = _calibrated(data)
    assert (prim["production_tax"] > 0).all()
    # with production_taxes="pro_rata" they are folded into factor payments instead
    folded = read_workbook(SAM_DATA / "hosoe_japan_2005.xlsx", production_taxes="pro_rata")
    assert folded.factor_payments[0, 0].sum() == pytest.approx(5082.506 + 1435.01 + 433.854,
                                                               rel=1e-12)
    assert (folded.production_tax == 0).all()
    _calibrated(folded)


@needs_source
def test_hosoe_builder_reproduces_committed_workbook(tmp_path):
    committed = read_workbook(SAM_DATA / "hosoe_japan_2005.xlsx")
    rebuilt = read_workbook(build_workbooks.build_hosoe(SOURCE, tmp_path))
    for name in ("trade", "tariff", "factor_payments", "intermediate", "final_demand", "deficit",
                 "production_tax"):
        np.testing.assert_allclose(getattr(rebuilt, name), getattr(committed, name), rtol=1e-12)


def test_workbook_unsupported_cell_and_missing_sheet(toy_book, tmp_path):
    def edit(wb):
        ws = wb["SAM_North"]
        _cell(ws, "c_mfg", "rest_of_world").value = 3.0  # exports booked on the commodity
        del wb["parameters"]
    with pytest.raises(WorkbookError) as err:
        read_workbook(_edited(toy_book, tmp_path, edit))
    assert "sheet 'parameters' is missing" in str(err.value)

    def edit2(wb):
        _cell(wb["SAM_North"], "c_mfg", "rest_of_world").value = 3.0
    with pytest.raises(WorkbookError, match=r"SAM_North!M5 \(row account c_mfg, column account "
                                            r"rest_of_world\) = 3: .*exports are booked in the "
                                            r"activity row"):
        read_workbook(_edited(toy_book, tmp_path, edit2))


def test_ras_balance_keeps_zeros_fixed_cells_and_signs():
    from calibration.balance import imbalances, ras_balance

    A = np.array([[0.0, 10.0, 5.0, 0.0],
                  [8.0, 0.0, 4.0, 2.0],
                  [6.0, 3.0, 0.0, -1.0],
                  [2.0, 3.0, 0.0, 0.0]])
    fixed = np.zeros_like(A, dtype=bool)
    fixed[0, 1] = True
    res = ras_balance(A, ~fixed, tol=1e-13, accounts=list("abcd"))
    B = res.matrix
    assert np.allclose(B.sum(axis=0), B.sum(axis=1), rtol=1e-12)
    assert B[0, 1] == 10.0 and B[2, 3] == -1.0  # fixed and negative entries untouched
    assert np.array_equal(B == 0, A == 0)       # zero structure kept
    assert imbalances(B, list("abcd"))["relative"].max() < 1e-12
    with pytest.raises(InputError, match="RAS did not converge in 50 sweeps.*account 'a'"):
        ras_balance(np.array([[0.0, 50.0], [1.0, 0.0]]), np.zeros((2, 2), dtype=bool),
                    accounts=["a", "b"], max_iter=50)
