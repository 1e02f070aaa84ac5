"""Production taxes as a model instrument: t^P_is on the value of the composite input.

The producer of (i, s) pays (1+t^P_is) per unit of its composite input, factors and
intermediate inputs are paid the tax-exclusive value c Y/(1+t^P), and the revenue
t^P/(1+t^P) c Y is income of region i. Checked here: closed forms, homogeneity and
Walras' law, benchmark replication from workbooks with production taxes, the income
identity, the exact welfare decomposition, bad rates, scenario shocks, and the
write -> read round trip of a SAM that keeps every account.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import calibration as cal
from calibration.examples import toy_benchmark
from calibration.sam import (
    check_sam_balance, load_workbook, read_workbook, write_benchmark_workbook,
)
from cge import Equilibrium, Primitives
from cge import shocks as sh
from cge.errors import InputError
from cge.examples import three_by_three
from cge.parameters import AGENTS
from cge.scenario import _identities_of, run_scenario
from cge.solve import max_residual
from cge.welfare import COMPONENTS, decompose
from cge.tolerance import limit, WALRAS_TERMS
from flows import assert_flows_match  # tests/flows.py

pytestmark = pytest.mark.solver

ROOT = Path(__file__).resolve().parents[1]
JAPAN = ROOT / "sam_data" / "hosoe_japan_2005.xlsx"
CLOSURE = {"government": "fixed_real", "investment": "investment_driven"}


# ----------------------------------------------------------------- helpers
def with_taxes(prim, values):
    """``prim`` with production taxes {(region, sector): rate}."""
    t = prim["production_tax"].copy()
    for (r, s), v in values.items():
        t[prim.regions.index(r), prim.sectors.index(s)] = v
    return prim.copy(production_tax=t)


TAXES = {("North", "manufacturing"): 0.12, ("South", "services"): -0.08,
         ("East", "agriculture"): 0.05}


@pytest.fixture(scope="module")
def taxed():
    """three_by_three with production taxes (and a subsidy), solved."""
    prim = with_taxes(three_by_three(), TAXES)
    eq = Equilibrium(prim)
    return eq, prim, eq.solve()


def toy_with_taxes(agents: bool = False) -> cal.BenchmarkData:
    """The toy benchmark with part of the factor payments paid as production taxes (one
    cell subsidised) and, if asked, final demand split among household, government and
    investment."""
    toy = toy_benchmark()
    x = np.zeros((3, 3))
    x[0, 0], x[1, 2], x[2, 1], x[1, 0] = 0.2, -0.1, 0.05, 0.15
    V = toy.factor_payments
    kw = {"factor_payments": V * (1 - x)[:, :, None], "production_tax": x * V.sum(axis=2)}
    if agents:
        kw["government_demand"] = 0.2 * toy.final_demand
        kw["investment_demand"] = 0.15 * toy.final_demand
    return toy.copy(**kw)


def one_region(sectors, market_structure, beta, sigma=3.8):
    return Primitives.from_mapping({
        "regions": ["Home"], "sectors": list(sectors), "factors": ["labour"],
        "market_structure": market_structure, "sigma": sigma, "k": 4.2,
        "beta": {"Home": dict(zip(sectors, beta))}, "endowment": 100.0,
        "factor_share": 1.0, "numeraire": {"factor": "labour", "region": "Home"},
    })


def assert_exact(w):
    """The welfare parts sum to the total exactly, in log points and in money."""
    parts = w[list(COMPONENTS)].sum(axis=1)
    np.testing.assert_allclose(parts + w["residual"], w["total"], atol=1e-12)
    assert w["residual"].abs().max() < limit(terms=WALRAS_TERMS), w["residual"]
    ev_parts = w[[f"ev_{c}" for c in COMPONENTS]].sum(axis=1) + w["ev_residual"]
    np.testing.assert_allclose(ev_parts, w["ev"], rtol=1e-10, atol=1e-12)


# ============================================================ closed forms
@pytest.mark.parametrize("rate", [0.25, -0.2])
def test_uniform_tax_raises_prices_by_one_plus_t_and_leaves_real_income(rate):
    """One region, one melitz sector, labour only, revenue rebated lump-sum. With free
    entry the cutoff (zero-cutoff profit and free entry do not involve c) and the mass of
    entrants M_E = (sigma-1) R/(sigma k c f_E) (R = c Y, income spent on the one good)
    do not change, so P is proportional to c = (1+t) w: at a fixed wage the price index
    rises by exactly (1+t), income I = wL + t/(1+t) I = (1+t) wL, and real income
    I/P is unchanged."""
    prim = one_region(["good"], "melitz", [1.0])
    eq = Equilibrium(prim)
    base = eq.solve()
    new = eq.solve(production_tax=np.full((1, 1), rate))
    assert new.factors["factor_price"].iloc[0] == pytest.approx(1.0, rel=1e-12)  # numeraire
    P0, P1 = base.sectors["price_index"].iloc[0], new.sectors["price_index"].iloc[0]
    assert P1 / P0 == pytest.approx(1 + rate, rel=1e-9)
    assert new.sectors["input_price"].iloc[0] / base.sectors["input_price"].iloc[0] == \
        pytest.approx(1 + rate, rel=1e-9)
    assert new.regions["income"].iloc[0] == pytest.approx((1 + rate) * 100.0, rel=1e-9)
    assert new.regions["production_tax_revenue"].iloc[0] == pytest.approx(rate * 100.0, rel=1e-9)
    assert new.regions["real_income"].iloc[0] == pytest.approx(base.regions["real_income"].iloc[0],
                                                               rel=1e-9)
    for col in ("entry_mass", "domestic_cutoff", "producers"):
        assert new.sectors[col].iloc[0] == pytest.approx(base.sectors[col].iloc[0], rel=1e-8), col
    # The welfare decomposition: the revenue exactly offsets what the tax adds to prices.
    w = decompose(base, new, prim, eq.primitives).regions
    assert_exact(w)
    assert abs(w["total"].iloc[0]) < limit(terms=WALRAS_TERMS)
    assert abs(w["production_taxes"].iloc[0]) < limit(terms=WALRAS_TERMS)


def test_differential_taxes_distort_by_the_closed_form():
    """One region, two armington sectors (one national variety each, P_s = c_s =
    (1+t_s) w), labour only, Cobb-Douglas shares beta_s. Income I = wL + sum_s
    t_s/(1+t_s) beta_s I, so I = wL / sum_s beta_s/(1+t_s), and real income relative
    to the untaxed economy is [1/sum_s beta_s/(1+t_s)] / prod_s (1+t_s)^beta_s
    (= 1 for a uniform rate, < 1 otherwise)."""
    beta = np.array([0.3, 0.7])
    prim = one_region(["a", "b"], "armington", beta, sigma=2.0)
    eq = Equilibrium(prim)
    base = eq.solve()
    t = np.array([0.3, -0.1])
    new = eq.solve(production_tax=t[None, :])
    P = new.sectors["price_index"].to_numpy(float) / base.sectors["price_index"].to_numpy(float)
    np.testing.assert_allclose(P, 1 + t, rtol=1e-9)
    income = 100.0 / (beta / (1 + t)).sum()
    assert new.regions["income"].iloc[0] == pytest.approx(income, rel=1e-9)
    ratio = (1 / (beta / (1 + t)).sum()) / np.prod((1 + t) ** beta)
    assert ratio < 1
    assert new.regions["real_income"].iloc[0] / base.regions["real_income"].iloc[0] == \
        pytest.approx(ratio, rel=1e-9)
    # labour follows the tax-exclusive value of each sector's output
    rev = new.sectors["production_tax_revenue"].to_numpy(float)
    np.testing.assert_allclose(rev, t / (1 + t) * beta * income, rtol=1e-9)
    assert_exact(decompose(base, new, prim, eq.primitives).regions)


# ============================================== homogeneity and Walras' law
def test_homogeneity_and_walras_with_taxes(taxed):
    eq, prim, res = taxed
    assert abs(res.walras_residual) < limit(terms=WALRAS_TERMS) and res.max_residual < limit()
    np.testing.assert_allclose(res.regions["trade_balance"], -res.regions["deficit"],
                               atol=1e-8 * res.regions["income"].max())
    assert (res.regions.loc["North", "production_tax_revenue"] > 0
            and res.regions.loc["South", "production_tax_revenue"] < 0)
    other = Equilibrium(prim)
    doubled = other.solve(numeraire=2.0)
    assert abs(doubled.walras_residual) < limit(terms=WALRAS_TERMS)
    for table, cols in (("regions", ["income", "production_tax_revenue", "tariff_revenue",
                                     "factor_income", "cpi"]),
                        ("sectors", ["price_index", "input_price", "production_tax_revenue",
                                     "expenditure"]),
                        ("factors", ["factor_price"])):
        a, b = getattr(res, table)[cols], getattr(doubled, table)[cols]
        np.testing.assert_allclose(b.to_numpy(float), 2 * a.to_numpy(float), rtol=limit(),
                                   atol=limit(a.to_numpy(float), rel=1e-10), err_msg=table)
    np.testing.assert_allclose(doubled.regions["real_income"], res.regions["real_income"],
                               rtol=1e-8)
    np.testing.assert_allclose(doubled.routes["trade_value"], 2 * res.routes["trade_value"],
                               rtol=1e-8)


def test_income_equals_sources_with_taxes(taxed):
    eq, prim, res = taxed
    ids = _identities_of(res, prim, list(prim.regions))
    assert max(ids.values()) < limit(terms=WALRAS_TERMS), ids
    reg = res.regions
    sources = (reg["factor_income"] + reg["tariff_revenue"] + reg["production_tax_revenue"]
               + reg["profits"] + reg["deficit"])
    np.testing.assert_allclose(reg["income"], sources, rtol=1e-10)
    # revenue = t/(1+t) c Y, sector by sector, and the regions' sums
    sec = res.sectors
    cy = sec["input_price"] * sec["input_demand"]
    np.testing.assert_allclose(sec["production_tax_revenue"],
                               sec["production_tax"] / (1 + sec["production_tax"]) * cy, rtol=1e-12)
    np.testing.assert_allclose(reg["production_tax_revenue"],
                               sec["production_tax_revenue"].groupby(level="region").sum()
                               .reindex(reg.index), rtol=1e-12)
    # leaving the revenue out breaks the identity: the check would notice a missing source
    assert np.abs(reg["income"] - sources + reg["production_tax_revenue"]).max() > 1e-3


# ========================================================= welfare is exact
def test_welfare_parts_sum_under_a_production_tax_shock(taxed):
    eq, prim, res = taxed
    new_prim = sh.parameter(prim, "production_tax", "add", 0.1, where={"region": "North"})
    eq2 = Equilibrium(prim)
    eq2.solve()
    new = eq2.solve(new_prim)
    w = decompose(res, new, prim, new_prim).regions
    assert_exact(w)
    assert abs(w.loc["North", "production_taxes"]) > 1e-3
    # the component is what the revenue brings net of what the taxes add to prices
    assert np.abs(w["production_taxes"]).max() > 1e-3


def test_welfare_parts_sum_under_a_tariff_shock_with_taxes(taxed):
    eq, prim, res = taxed
    shocked = sh.tariff(prim, "add", 0.2, importers="North", exporters="South")
    eq2 = Equilibrium(prim)
    eq2.solve()
    new = eq2.solve(shocked)
    w = decompose(res, new, prim, shocked).regions
    assert_exact(w)
    # rates unchanged, but the revenue moves with the tax base: a nonzero component
    assert np.abs(w["production_taxes"]).max() > 1e-6
    assert abs(w.loc["North", "tariffs"]) > 1e-3


def test_welfare_parts_sum_under_a_non_default_closure():
    data = toy_with_taxes(agents=True)
    prim, start = cal.calibrate(data, closure=CLOSURE)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    base = eq.solve()
    for shocked in (sh.parameter(prim, "production_tax", "scale", 2.0),
                    sh.tariff(with_taxes(prim, {("South", "mfg"): 0.3}), "add", 0.1,
                              importers="North")):
        new = eq.solve(shocked)
        w = decompose(base, new, prim, shocked).regions
        assert_exact(w)
        assert np.abs(w["production_taxes"]).max() > 1e-4
        eq.solve(prim)


# ======================================================== inadmissible rates
def test_a_rate_at_or_below_minus_one_is_named():
    m = three_by_three().to_mapping()
    m["production_tax"] = {"South": {"services": -1.0}, "East": {"agriculture": -1.5}}
    with pytest.raises(InputError) as err:
        Primitives.from_mapping(m)
    msg = str(err.value)
    assert "production_tax[region=South, sector=services] = -1 must be > -1" in msg
    assert "production_tax[region=East, sector=agriculture] = -1.5 must be > -1" in msg
    with pytest.raises(sh.ShockError, match=r"production_tax\[region=North, "
                                            r"sector=manufacturing\] would be -1\.2"):
        sh.parameter(three_by_three(), "production_tax", "set", -1.2,
                     where={"region": "North", "sector": "manufacturing"})
    eq = Equilibrium(three_by_three())
    t = np.zeros((3, 3))
    t[0, 0] = -2.0
    with pytest.raises(InputError, match=r"production_tax\[region=North, sector=agriculture\] "
                                         r"= -2 must be > -1"):
        eq.solve(production_tax=t)
    # in benchmark data: a subsidy at least as large as the costs it subsidises
    toy = toy_benchmark()
    bad = np.zeros((3, 3))
    bad[1, 2] = -2 * toy.costs()[1, 2]
    problems = cal.benchmark_problems(toy.copy(production_tax=bad))
    assert any(p.startswith("production_tax[region=South, sector=srv]") and "must exceed -1" in p
               for p in problems), problems


# ====================================================== benchmark replication
def test_calibration_formula_and_replication_from_a_workbook(tmp_path):
    data = toy_with_taxes()
    path = write_benchmark_workbook(data, tmp_path / "taxed.xlsx")
    read = read_workbook(path)  # the default reading is production_taxes="tax"
    np.testing.assert_allclose(read.production_tax, data.production_tax, rtol=1e-12, atol=1e-12)
    explicit = read_workbook(path, production_taxes="tax")
    for name in ("production_tax", "factor_payments", "intermediate", "final_demand"):
        np.testing.assert_array_equal(getattr(explicit, name), getattr(read, name), err_msg=name)
    np.testing.assert_allclose(read.factor_payments, data.factor_payments, rtol=1e-12)
    prim, start = cal.calibrate(read)
    # t^P = tax / (factor payments + intermediate purchases)
    K = read.factor_payments.sum(axis=2) + read.intermediate.sum(axis=2)
    np.testing.assert_allclose(prim["production_tax"], read.production_tax / K, rtol=1e-14)
    assert prim["production_tax"][1, 2] < 0 < prim["production_tax"][0, 0]
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    assert max_residual(eq.model) < limit()
    res = eq.solve()
    assert eq.last_stats.iterations == 0
    assert_flows_match(eq, read)
    # every tax cell of the SAMs, read from the workbook itself, to 1e-6
    wb = load_workbook(path)
    rev = res.sectors["production_tax_revenue"]
    for r in read.regions:
        for s in read.sectors:
            cell = wb.sams[r].get("production_taxes", f"a_{s}")
            assert rev[(r, s)] == pytest.approx(cell, rel=1e-6, abs=1e-9), (r, s)
    # the pro-rata reading folds the same taxes into factor payments: same sales, no tax
    folded = read_workbook(path, production_taxes="pro_rata")
    assert (folded.production_tax == 0).all()
    np.testing.assert_allclose(folded.factor_payments.sum(axis=2),
                               data.factor_payments.sum(axis=2) + data.production_tax, rtol=1e-12)


def test_japan_workbook_with_production_taxes_replicates():
    data = read_workbook(JAPAN, production_taxes="tax")
    wb = load_workbook(JAPAN)
    jpn = wb.sams["JPN"]
    idt = np.array([jpn.get("IDT", wb.account("activity", s)) for s in data.sectors])
    np.testing.assert_allclose(data.production_tax[0], idt, rtol=1e-15)
    assert idt[0] == pytest.approx(433.854, rel=1e-12)
    # value added at factor cost: the IDT cell is no longer in the factor payments
    assert data.factor_payments[0, 0].sum() == pytest.approx(5082.506 + 1435.01, rel=1e-12)
    eq, prim = cal.calibrated_equilibrium(data)
    assert max_residual(eq.model) < limit()
    res = eq.solve()
    assert eq.last_stats.iterations == 0
    assert_flows_match(eq, data)
    rev = res.sectors.loc["JPN", "production_tax_revenue"].reindex(list(data.sectors))
    np.testing.assert_allclose(rev.to_numpy(float), idt, rtol=1e-6)
    assert res.regions.loc["JPN", "production_tax_revenue"] == pytest.approx(idt.sum(), rel=1e-6)


# ============================================================== scenarios
SCENARIO = """\
name: production_taxes
data: {example: three_by_three}
shocks:
  - {type: parameter, parameter: production_tax, mode: set, value: 0.1,
     where: {region: North, sector: manufacturing}}
  - {type: parameter, parameter: production_tax, mode: add, value: -0.05,
     where: {region: South}}
  - {type: parameter, parameter: production_tax, mode: scale, value: 2.0,
     where: {region: North}}
"""


def test_scenario_parameter_shock_on_production_tax(tmp_path):
    path = tmp_path / "ptax.yaml"
    path.write_text(SCENARIO)
    res = run_scenario(path)
    run = res.runs["as_specified"]
    t = run.shocked["production_tax"]
    prim = run.primitives
    R, S = prim.regions, prim.sectors
    want = np.zeros((3, 3))
    want[R.index("North"), S.index("manufacturing")] = 0.2  # set 0.1, then scaled by 2
    want[R.index("South")] = -0.05
    np.testing.assert_allclose(t, want, rtol=1e-15)
    assert (prim["production_tax"] == 0).all()
    assert res.identities_hold, res.identities[~res.identities["ok"]].to_string()
    ids = res.identities.set_index(["equilibrium", "identity"])["value"]
    assert ids[("counterfactual", "income_equals_sources")] < limit(terms=WALRAS_TERMS)
    new = run.new
    assert new.sectors.loc[("North", "manufacturing"), "production_tax"] == pytest.approx(0.2)
    assert new.regions.loc["North", "production_tax_revenue"] > 0
    assert new.regions.loc["South", "production_tax_revenue"] < 0
    assert (run.base.regions["production_tax_revenue"] == 0).all()
    assert abs(run.welfare.regions.loc["North", "production_taxes"]) > 1e-3


def test_scenario_with_taxed_data_small_open_economy(tmp_path):
    """Data with production taxes, a tariff and a tax shock, the rest of the world (East)
    held at its benchmark: every identity holds and the home welfare parts sum."""
    prim = with_taxes(three_by_three(), TAXES)
    (tmp_path / "taxed.yaml").write_text(yaml.safe_dump(prim.to_mapping()))
    text = ("name: soe_ptax\ndata: taxed.yaml\nclosure: {small_open_economy: East}\nshocks:\n"
            "  - {type: tariff, importers: North, mode: add, value: 0.1}\n"
            "  - {type: parameter, parameter: production_tax, mode: add, value: 0.05,\n"
            "     where: {region: South, sector: manufacturing}}\n")
    (tmp_path / "s.yaml").write_text(text)
    res = run_scenario(tmp_path / "s.yaml")
    assert res.identities_hold, res.identities[~res.identities["ok"]].to_string()
    w = res.runs["as_specified"].welfare.regions
    assert (w.loc["East"] == 0).all()
    assert np.abs(w.loc[["North", "South"], "production_taxes"]).max() > 1e-4


# =================================== write -> read -> calibrate round trip
def test_sam_round_trip_keeps_every_account(tmp_path):
    """A shocked equilibrium under fixed real government consumption and investment, with
    production taxes, written as a SAM, read back and recalibrated, is the same
    equilibrium: every flow to 1e-6, 0 iterations."""
    prim, start = cal.calibrate(toy_with_taxes(agents=True), closure=CLOSURE)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    eq.solve()
    shocked = sh.parameter(sh.tariff(prim, "add", 0.1, importers="North"),
                           "production_tax", "add", 0.05, where={"region": "South"})
    new = eq.solve(shocked)
    data = cal.benchmark_from_equilibrium(eq)
    assert cal.benchmark_problems(data) == []
    assert (data.government_demand > 0).all() and (data.investment_demand > 0).all()
    path = write_benchmark_workbook(data, tmp_path / "shocked.xlsx")
    # every account balances and the split of final demand is in the SAM
    wb = load_workbook(path)
    assert {"government", "savings", "production_taxes"} <= set(wb.accounts["account"])
    assert check_sam_balance(wb) == []
    back = read_workbook(path, production_taxes="tax")
    for name in ("trade", "tariff", "factor_payments", "intermediate", "final_demand",
                 "government_demand", "investment_demand", "production_tax", "deficit"):
        np.testing.assert_allclose(getattr(back, name), getattr(data, name), rtol=1e-9,
                                   atol=1e-9, err_msg=name)
    prim2, start2 = cal.calibrate(back, closure=CLOSURE)
    eq2 = Equilibrium(prim2)
    cal.set_start(eq2, start2)
    assert max_residual(eq2.model) < limit()
    again = eq2.solve()
    assert eq2.last_stats.iterations == 0
    assert_flows_match(eq2, back)
    np.testing.assert_allclose(prim2["production_tax"], shocked["production_tax"], rtol=1e-8)

    def same(a, b, what):
        a, b = np.asarray(a, float), np.asarray(b, float)
        err = np.abs(a - b) / np.maximum(np.abs(b), 1e-9 * np.abs(b).max())
        assert err.max() < 1e-6, f"{what}: relative error {err.max():.2e}"

    same(again.routes["trade_value"], new.routes["trade_value"], "trade")
    cols = ["income", "factor_income", "tariff_revenue", "production_tax_revenue", "deficit"]
    cols += [f"{a}_spending" for a in AGENTS]
    for col in cols:
        same(again.regions[col], new.regions[col], col)
    for col in ["output", "production_tax_revenue", "tariff_revenue"] + [f"{a}_demand" for a in AGENTS]:
        same(again.sectors[col], new.sectors[col].reindex(again.sectors.index), col)
    # factor payments and intermediate purchases (tax-exclusive values)
    net = lambda r: (r.sectors["input_price"] * r.sectors["input_demand"]
                     / (1 + r.sectors["production_tax"]))
    same(net(again), net(new).reindex(again.sectors.index), "cost values")
    # what the recalibrated closure holds fixed is the shocked economy's spending
    same(again.regions["real_government"], prim2["real_government"], "real_government")
    same(again.regions["real_investment"], prim2["real_investment"], "real_investment")
