"""Closures of final demand: government (regional_household | fixed_real) and investment
(savings_driven | investment_driven), on the bundled Japan SAM and a two-region SAM.

Every closure must replicate the calibrated benchmark, be homogeneous of degree one
in the numeraire, satisfy Walras' law, hold fixed what it says it holds fixed, give
an exact welfare decomposition, and reduce to today's one-agent model under the
defaults.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
import yaml

import calibration as cal
import cge.equilibrium
from cge import Equilibrium, Primitives
from cge import shocks as sh
from cge.errors import InputError
from cge.examples import three_by_three
from cge.model import build_model
from cge.parameters import AGENT_PARAMETERS, AGENTS
from cge.primitives import Closure
from cge.welfare import COMPONENTS, decompose
from cge.tolerance import limit, WALRAS_TERMS

pytestmark = pytest.mark.solver

ROOT = Path(__file__).resolve().parents[1]
WORKBOOKS = {"japan": ROOT / "sam_data" / "hosoe_japan_2005.xlsx",
             "two_regions": ROOT / "sam_data" / "template_multiregion.xlsx"}
#: The region each data set's tariff shock acts on (as importer).
HOME = {"japan": "JPN", "two_regions": "North"}
CLOSURES = [(g, v) for g in ("regional_household", "fixed_real")
            for v in ("savings_driven", "investment_driven")]
CLOSURE_IDS = [f"{g}-{v}" for g, v in CLOSURES]
AGENT_FAMILIES = ("government_spending", "investment_spending", "household_spending")


@pytest.fixture(scope="module", params=sorted(WORKBOOKS))
def data(request):
    return request.param, cal.read_workbook(WORKBOOKS[request.param])


@pytest.fixture(scope="module")
def japan():
    return cal.read_workbook(WORKBOOKS["japan"])


def calibrated(data, closure):
    prim, start = cal.calibrate(data, closure={"government": closure[0], "investment": closure[1]})
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    return eq, prim


def tariff_shock(prim, home):
    """The home region raises its tariff on every import by 10 points."""
    return sh.tariff(prim, "add", 0.1, importers=home)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


# ======================================================================
# benchmark replication
# ======================================================================
@pytest.mark.parametrize("closure", CLOSURES, ids=CLOSURE_IDS)
def test_benchmark_is_replicated_by_agent(data, closure):
    name, bench = data
    eq, prim = calibrated(bench, closure)
    assert prim.closure == Closure(*closure)
    base = eq.solve()
    assert eq.last_stats.iterations <= 1
    assert base.max_residual < limit()
    assert abs(base.walras_residual) < limit(terms=WALRAS_TERMS)
    # The model has the agents exactly when the closure is not the default.
    has_agents = hasattr(eq.model, "log_agent_spending")
    assert has_agents == (closure != CLOSURES[0])
    # Every final-demand cell, by agent.
    R, S = bench.regions, bench.sectors
    idx = [(r, s) for r in R for s in S]
    want = bench.agent_demand()  # (n, a, s)
    scale = bench.final_demand.max()
    for k, a in enumerate(AGENTS):
        got = base.sectors.loc[idx, f"{a}_demand"].to_numpy(float).reshape(len(R), len(S))
        np.testing.assert_allclose(got, want[:, k], rtol=1e-6, atol=1e-9 * scale, err_msg=a)
        spend = base.regions.loc[list(R), f"{a}_spending"].to_numpy(float)
        np.testing.assert_allclose(spend, want[:, k].sum(axis=1), rtol=1e-6, atol=limit(scale, terms=len(R)))
    # The SAM has a government and investment in the home region: the split is not trivial.
    h = R.index(HOME[name])
    assert want[h, 1].sum() > 0 and want[h, 2].sum() > 0


@pytest.mark.parametrize("closure", CLOSURES, ids=CLOSURE_IDS)
def test_benchmark_is_found_from_the_initial_guess(data, closure):
    """Without the calibrated start the model's own guess leads to the same benchmark."""
    name, bench = data
    prim, start = cal.calibrate(bench, closure={"government": closure[0], "investment": closure[1]})
    guessed = Equilibrium(prim).solve()
    eq, _ = calibrated(bench, closure)
    # IPOPT's tolerance is relative to each block's value scale (its spending), so
    # small values (tariff revenue of a huge sector) are accurate to ~1e-10 of that.
    _assert_same_results(guessed, eq.solve(), 1e-6, floor=1e-9)


@pytest.mark.parametrize("closure", CLOSURES[1:], ids=CLOSURE_IDS[1:])
def test_cpi_numeraire_is_the_households_price_index(japan, closure):
    prim, start = cal.calibrate(japan, numeraire={"cpi": "JPN"},
                                closure={"government": closure[0], "investment": closure[1]})
    # The CPI is normalised to prod_s P_ns^beta_nhs: 1 at the calibrated benchmark.
    assert prim.numeraire.value == 1.0
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    base = eq.solve()
    assert eq.last_stats.iterations <= 1
    assert base.regions.loc["JPN", "cpi"] == pytest.approx(prim.numeraire.value, rel=1e-12)


def test_workbook_split_follows_the_sam_columns(japan):
    """GOV column -> government, INV column -> investment, HOH -> household (Hosoe's SAM)."""
    wb = cal.load_workbook(WORKBOOKS["japan"])
    sam = wb.sams["JPN"]
    j = japan.regions.index("JPN")
    for s_, sector in enumerate(japan.sectors):
        com = wb.account("commodity", sector)
        assert japan.government_demand[j, s_] == pytest.approx(sam.get(com, "GOV"), abs=1e-9)
        assert japan.investment_demand[j, s_] == pytest.approx(sam.get(com, "INV"), abs=1e-9)
        assert japan.household_demand()[j, s_] == pytest.approx(sam.get(com, "HOH"), rel=1e-12)
    r = japan.regions.index("ROW")  # the constructed rest of the world has a household only
    assert japan.government_demand[r].sum() == 0 and japan.investment_demand[r].sum() == 0


def test_negative_agent_purchases_are_netted_against_the_household():
    from calibration.sam import _agent_split

    assert _agent_split(105.0, 10.0, -5.0) == (10.0, 0.0)   # stock drawdown: household nets it
    assert _agent_split(27.0, 10.0, 20.0) == (10.0, 17.0)    # household purchases were -3
    assert _agent_split(5.0, 10.0, 20.0) == (5.0, 0.0)
    g, v = _agent_split(50.0, 10.0, 20.0)
    assert (g, v) == (10.0, 20.0)


# ======================================================================
# homogeneity and Walras' law
# ======================================================================
NOMINAL = ["income", "cpi", "household_spending", "government_spending", "investment_spending",
           "tariff_revenue", "deficit"]
REAL = ["real_income", "real_government", "real_investment"]


@pytest.mark.parametrize("closure", CLOSURES, ids=CLOSURE_IDS)
def test_doubling_the_numeraire_doubles_nominal_values(data, closure):
    name, bench = data
    eq, prim = calibrated(bench, closure)
    base = eq.solve()
    doubled = eq.solve(numeraire=2.0 * prim.numeraire.value)
    for c in NOMINAL:
        np.testing.assert_allclose(doubled.regions[c], 2.0 * base.regions[c], rtol=1e-9,
                                   atol=1e-12 * base.regions["income"].max(), err_msg=c)
    for c in REAL:
        np.testing.assert_allclose(doubled.regions[c], base.regions[c], rtol=1e-9, atol=1e-12,
                                   err_msg=c)
    for a in AGENTS:
        np.testing.assert_allclose(doubled.sectors[f"{a}_demand"], 2 * base.sectors[f"{a}_demand"],
                                   rtol=limit(), atol=limit(base.sectors[f"{a}_demand"]))
    np.testing.assert_allclose(doubled.sectors["input_demand"], base.sectors["input_demand"],
                               rtol=1e-9)


@pytest.mark.parametrize("closure", CLOSURES, ids=CLOSURE_IDS)
def test_walras_law_after_a_tariff_shock(data, closure):
    name, bench = data
    eq, prim = calibrated(bench, closure)
    eq.solve()
    new = eq.solve(tariff_shock(prim, HOME[name]))
    assert new.max_residual < limit()
    # The market left out of the system clears ...
    m = eq.model
    con = next(iter(m.walras_market.values()))
    assert not con.active
    assert abs(pyo.value(con.body) - pyo.value(con.upper)) < limit(terms=WALRAS_TERMS)
    # ... so every region's trade balance is minus its deficit, and income is spent.
    reg = new.regions
    np.testing.assert_allclose(reg["trade_balance"] + reg["deficit"], 0.0,
                               atol=1e-8 * reg["income"].max())
    spent = reg[[f"{a}_spending" for a in AGENTS]].sum(axis=1)
    np.testing.assert_allclose(spent, reg["income"], rtol=1e-10)


# ======================================================================
# what each closure holds fixed
# ======================================================================
@pytest.mark.parametrize("closure", CLOSURES, ids=CLOSURE_IDS)
def test_tariff_shock_holds_the_closure_fixed(data, closure):
    name, bench = data
    eq, prim = calibrated(bench, closure)
    base = eq.solve()
    new = eq.solve(tariff_shock(prim, HOME[name]))
    h = HOME[name]
    b, n = base.regions, new.regions
    fixed_g, fixed_v = closure[0] == "fixed_real", closure[1] == "investment_driven"
    spends = b["government_spending"] > 0
    if fixed_g:
        np.testing.assert_allclose(n.loc[spends, "real_government"],
                                   b.loc[spends, "real_government"], rtol=1e-8)
    else:  # a fixed share of income: real government consumption moves with the shock
        np.testing.assert_allclose(n["government_spending"] / n["income"],
                                   b["government_spending"] / b["income"], rtol=1e-10)
        assert rel(n.loc[h, "real_government"], b.loc[h, "real_government"]) > 1e-5
    invests = b["investment_spending"] > 0
    if fixed_v:
        np.testing.assert_allclose(n.loc[invests, "real_investment"],
                                   b.loc[invests, "real_investment"], rtol=1e-8)
    else:
        np.testing.assert_allclose(n["investment_spending"] / n["income"],
                                   b["investment_spending"] / b["income"], rtol=1e-10)
        assert rel(n.loc[h, "real_investment"], b.loc[h, "real_investment"]) > 1e-5
    # The household absorbs: it spends what is left, and its share of income moves
    # whenever something is fixed in real terms.
    np.testing.assert_allclose(
        n["household_spending"],
        n["income"] - n["government_spending"] - n["investment_spending"], rtol=1e-10)
    share0 = b.loc[h, "household_spending"] / b.loc[h, "income"]
    share1 = n.loc[h, "household_spending"] / n.loc[h, "income"]
    if fixed_g or fixed_v:
        assert abs(share1 / share0 - 1) > 1e-6
        # Welfare is the household's real consumption.
        np.testing.assert_allclose(n["real_income"], n["household_spending"] / n["cpi"], rtol=1e-12)
    else:
        assert share1 == pytest.approx(share0, rel=1e-10)
        np.testing.assert_allclose(n["real_income"], n["income"] / n["cpi"], rtol=1e-12)


def test_more_real_government_consumption_costs_the_household(japan):
    """fixed_real: G up 10% in Japan, financed lump-sum: household consumption falls by
    about the cost, and the welfare decomposition puts it under `government`."""
    eq, prim = calibrated(japan, ("fixed_real", "savings_driven"))
    base = eq.solve()
    G = prim["real_government"].copy()
    G[prim.regions.index("JPN")] *= 1.1
    new = eq.solve(real_government=G)
    b, n = base.regions.loc["JPN"], new.regions.loc["JPN"]
    assert n["real_government"] == pytest.approx(1.1 * b["real_government"], rel=1e-9)
    assert n["real_income"] < b["real_income"]
    d = decompose(base, new, prim, eq.primitives)
    w = d.regions.loc["JPN"]
    assert w["government"] < 0 and abs(w["residual"]) < limit(terms=WALRAS_TERMS)
    # Roughly the extra spending, as a share of household consumption.
    cost = 100 * 0.1 * b["government_spending"] / b["household_spending"]
    assert w["government"] == pytest.approx(-cost, rel=0.05)


# ======================================================================
# the default closure is today's model
# ======================================================================
def _without_agents(prim: Primitives) -> Primitives:
    m = prim.to_mapping()
    for name in AGENT_PARAMETERS + ("closure",):
        m.pop(name, None)
    return Primitives.from_mapping(m)


def _component_names(m, kind):
    return sorted((c.name, len(c)) for c in m.component_objects(kind, descend_into=True))


#: Result columns of the final-demand agents: the one-agent model reports all final
#: demand as the household's, the same model with agent parameters splits it.
AGENT_COLUMNS = {f"{a}_spending" for a in AGENTS} | {f"{a}_demand" for a in AGENTS} | {
    "real_government", "real_investment"}


def _assert_same_results(a, b, tol, floor=1e-12):
    # Values that are zero in theory (free-entry profits) are round-off: compare them on
    # the scale of incomes.
    floor = floor * b.regions["income"].abs().max()
    for table in ("regions", "factors", "sectors", "routes"):
        x, y = getattr(a, table), getattr(b, table)
        cols = [c for c in y.columns if c in x.columns and pd.api.types.is_numeric_dtype(y[c])
                and c not in AGENT_COLUMNS]
        assert cols
        for c in cols:
            xv, yv = x[c].reindex(y.index).to_numpy(float), y[c].to_numpy(float)
            scale = np.nanmax(np.abs(yv)) if np.isfinite(yv).any() else 0.0
            np.testing.assert_allclose(xv, yv, rtol=tol, atol=tol * scale + floor, equal_nan=True,
                                       err_msg=f"{table}.{c}")


def test_default_closure_is_todays_model(japan):
    """The explicit default closure, with the agent parameters given, builds the same
    constraints and variables as primitives without the closure field and gives the
    same results (1e-10) after a shock."""
    prim, start = cal.calibrate(japan, closure={"government": "regional_household",
                                               "investment": "savings_driven"})
    assert prim.closure.is_default and prim.given("agent_share")
    plain = _without_agents(prim)
    assert not plain.given("agent_share") and "closure" not in plain.to_mapping()
    m1, m0 = build_model(prim), build_model(plain)
    for kind in (pyo.Constraint, pyo.Var, pyo.Expression):
        assert _component_names(m1, kind) == _component_names(m0, kind), kind
    results = []
    for p in (prim, plain):
        eq = Equilibrium(p)
        cal.set_start(eq, start)  # agent start values are skipped: the model has none
        eq.solve()
        assert eq.last_stats.iterations <= 1
        results.append(eq.solve(tariff_shock(p, "JPN")))
    _assert_same_results(results[0], results[1], 1e-10)
    # Existing primitives files (no closure field, no agent parameters) stay valid.
    assert Primitives.from_mapping(three_by_three().to_mapping()).closure == Closure()


def agent_equilibrium(prim, monkeypatch) -> Equilibrium:
    """An Equilibrium that builds the final-demand agents even under the default closure."""
    with monkeypatch.context() as mp:
        mp.setattr(cge.equilibrium, "build_model", functools.partial(build_model, agents=True))
        return Equilibrium(prim)


@pytest.mark.parametrize("shares", ["identical", "calibrated"])
def test_agents_under_the_defaults_are_the_one_agent_model(shares, japan, monkeypatch):
    """Written agent by agent, the default closure is the one-agent model: with every
    agent buying the same basket (identical shares), and with the calibrated,
    different baskets whose aggregate is beta."""
    if shares == "identical":
        prim = three_by_three()
        nR = len(prim.regions)
        omega = np.tile([0.6, 0.25, 0.15], (nR, 1))
        prim = prim.copy(agent_share=omega,
                         agent_beta=np.repeat(prim["beta"][:, None, :], 3, axis=1))
        home = "North"
    else:
        prim, _ = cal.calibrate(japan)
        home = "JPN"
    shocked = tariff_shock(prim, home)
    eq = agent_equilibrium(prim, monkeypatch)
    assert hasattr(eq.model, "log_agent_spending")
    for fam in AGENT_FAMILIES:
        assert len(getattr(eq.model, fam)) > 0
    eq.solve()
    agents = eq.solve(shocked)
    one = Equilibrium(_without_agents(prim))
    assert not hasattr(one.model, "log_agent_spending")
    one.solve()
    one_agent = one.solve(_without_agents(shocked))
    _assert_same_results(agents, one_agent, 1e-10)
    np.testing.assert_allclose(agents.regions["real_income"], one_agent.regions["real_income"],
                               rtol=1e-10)
    # The agents spend their shares of income on their own baskets.
    reg = agents.regions
    for k, a in enumerate(AGENTS):
        np.testing.assert_allclose(reg[f"{a}_spending"], prim["agent_share"][:, k] * reg["income"],
                                   rtol=1e-10)


def test_agent_shares_are_irrelevant_under_the_defaults(japan):
    """Under the defaults the model uses beta only; a non-default closure uses the
    agents' baskets, so changing them changes its results."""
    prim, _ = cal.calibrate(japan)
    beta_a = prim["agent_beta"].copy()
    j = prim.regions.index("JPN")
    beta_a[j, 1] = beta_a[j, 0]  # the government buys the household's basket
    other = prim.copy(agent_beta=beta_a)
    a, b = Equilibrium(prim).solve(), Equilibrium(other).solve()
    _assert_same_results(a, b, 1e-12)
    fixed = {"government": "fixed_real", "investment": "savings_driven"}
    m1, m2 = prim.to_mapping(), other.to_mapping()
    m1["closure"] = m2["closure"] = fixed
    c, d = Equilibrium(m1).solve(), Equilibrium(m2).solve()
    assert rel(c.sectors["expenditure"], d.sectors["expenditure"]).max() > 1e-3


# ======================================================================
# welfare
# ======================================================================
@pytest.mark.parametrize("closure", CLOSURES, ids=CLOSURE_IDS)
@pytest.mark.parametrize("shock", ["tariff", "endowment", "deficit", "savings_rate"])
def test_welfare_parts_sum_to_the_total(japan, closure, shock):
    eq, prim = calibrated(japan, closure)
    base = eq.solve()
    if shock == "tariff":
        shocked = tariff_shock(prim, "JPN")
    elif shock == "endowment":
        shocked = sh.endowment(prim, "change_pct", 5, regions="JPN", factors="LAB")
    elif shock == "deficit":
        shocked = sh.deficit(prim, "scale", 0.0)
    else:  # a higher savings rate in Japan (used by savings_driven only)
        omega = prim["agent_share"].copy()
        omega[0] += [-0.02, 0.0, 0.02]
        shocked = prim.copy(agent_share=omega)
    new = eq.solve(shocked)
    d = decompose(base, new, prim, shocked)
    w = d.regions
    parts = w[list(COMPONENTS)].sum(axis=1)
    np.testing.assert_allclose(parts + w["residual"], w["total"], atol=1e-12)
    assert w["residual"].abs().max() < limit(terms=WALRAS_TERMS), w["residual"]
    np.testing.assert_allclose(w["total"], 100 * np.log(new.regions["real_income"]
                                                       / base.regions["real_income"]), atol=1e-10)
    ev_parts = w[[f"ev_{c}" for c in COMPONENTS]].sum(axis=1) + w["ev_residual"]
    np.testing.assert_allclose(ev_parts, w["ev"], rtol=1e-10, atol=1e-9)
    who = "income" if closure == CLOSURES[0] else "household_spending"
    np.testing.assert_allclose(w["ev"], base.regions[who] * w["welfare_change_pct"] / 100, rtol=1e-9)
    if closure == CLOSURES[0]:
        np.testing.assert_allclose(w[["government", "investment"]], 0.0, atol=0)
    if shock == "savings_rate":
        jpn = w.loc["JPN"]
        if closure == CLOSURES[0]:  # the regional household: agent shares are not used
            assert abs(jpn["total"]) < limit()
        elif closure[1] == "savings_driven":  # saving more means consuming less
            assert jpn["total"] < -1 and jpn["investment"] < -1
        else:  # investment_driven: the savings rate is not a parameter; nothing moves
            assert abs(jpn["total"]) < limit(terms=WALRAS_TERMS)
            assert new.regions.loc["JPN", "real_investment"] == pytest.approx(
                base.regions.loc["JPN", "real_investment"], rel=1e-8)


# ======================================================================
# the small-open-economy closure alongside
# ======================================================================
def test_small_open_economy_with_fixed_real_closures(japan):
    prim, start = cal.calibrate(japan, closure={"government": "fixed_real",
                                               "investment": "investment_driven"})
    eq = Equilibrium(prim, small_open_economy="ROW")
    cal.set_start(eq, start)
    base = eq.solve()
    new = eq.solve(tariff_shock(prim, "JPN"))
    assert new.max_residual < limit() and abs(new.walras_residual) < limit(terms=WALRAS_TERMS)
    b, n = base.regions, new.regions
    assert n.loc["JPN", "real_government"] == pytest.approx(b.loc["JPN", "real_government"], rel=1e-8)
    assert n.loc["JPN", "real_investment"] == pytest.approx(b.loc["JPN", "real_investment"], rel=1e-8)
    assert n.loc["ROW", "household_spending"] == pytest.approx(b.loc["ROW", "household_spending"],
                                                               rel=1e-12)
    d = decompose(base, new, prim, eq.primitives, fixed_region="ROW")
    assert abs(d.regions.loc["JPN", "residual"]) < limit(terms=WALRAS_TERMS)


# ======================================================================
# bad input names the culprit
# ======================================================================
def _mapping(japan, **closure):
    prim, _ = cal.calibrate(japan)
    m = prim.to_mapping()
    m["closure"] = closure
    return m


def _problems(mapping) -> str:
    with pytest.raises(InputError) as exc:
        Primitives.from_mapping(mapping)
    return "\n".join(exc.value.problems)


def test_unknown_closure_names_the_options(japan):
    msg = _problems(_mapping(japan, government="fixed_nominal"))
    assert "closure.government" in msg and "'fixed_nominal'" in msg
    assert "regional_household" in msg and "fixed_real" in msg
    msg = _problems(_mapping(japan, investment="keynesian"))
    assert "closure.investment" in msg and "savings_driven" in msg and "investment_driven" in msg
    msg = _problems(_mapping(japan, savings="fixed"))
    assert "unknown keys ['savings']" in msg
    with pytest.raises(InputError, match="options are"):
        Closure.parse({"government": "x"})
    with pytest.raises(InputError, match="closure.investment"):
        cal.calibrate(japan, closure={"investment": "x"})


def test_missing_agent_parameters_are_named(japan):
    plain = _without_agents(cal.calibrate(japan)[0]).to_mapping()
    plain["closure"] = {"government": "fixed_real"}
    msg = _problems(plain)
    for r in ("JPN", "ROW"):
        assert f"agent_share[region={r}]: missing" in msg
        assert f"real_government[region={r}]: missing" in msg
    assert "fixed_real" in msg
    # The default closure does not need them.
    plain["closure"] = {"government": "regional_household", "investment": "savings_driven"}
    Primitives.from_mapping(plain)
    # agent_beta of an agent that spends
    m = _mapping(japan, investment="investment_driven")
    del m["agent_beta"]["JPN"]["investment"]
    msg = _problems(m)
    assert "agent_beta[region=JPN, agent=investment]: missing" in msg
    m = _mapping(japan, investment="investment_driven")
    del m["real_investment"]
    assert "real_investment[region=JPN]: missing" in _problems(m)


def test_shares_that_do_not_sum_to_one_are_named(japan):
    m = _mapping(japan, government="fixed_real")
    m["agent_share"]["JPN"]["government"] += 0.1
    msg = _problems(m)
    assert "agent_share[region=JPN] sums to" in msg and "must be 1" in msg
    m = _mapping(japan)
    m["agent_beta"]["JPN"]["government"]["SRV"] *= 0.5
    msg = _problems(m)
    assert "agent_beta[region=JPN, agent=government] sums to" in msg
    m = _mapping(japan)
    m["agent_share"]["ROW"]["household"] = 1.5
    assert "agent_share[region=ROW, agent=household] = 1.5 must be <= 1" in _problems(m)
    m = _mapping(japan, government="fixed_real")
    m["real_government"]["JPN"] = 0.0
    assert "real_government[region=JPN] = 0 but agent_share[region=JPN, agent=government]" \
        in _problems(m)


def test_benchmark_split_is_checked(japan):
    gov = japan.government_demand.copy()
    gov[0, 3] = japan.final_demand[0, 3] * 1.5
    with pytest.raises(InputError, match=r"government_demand \+ investment_demand \[region=JPN, "
                                         r"sector=SRV\].*exceeds final_demand"):
        cal.check_benchmark(japan.copy(government_demand=gov))
    inv = japan.investment_demand.copy()
    inv[1, 0] = -1.0
    with pytest.raises(InputError, match=r"investment_demand\[region=ROW, sector=AGR\] = -1 is negative"):
        cal.check_benchmark(japan.copy(investment_demand=inv))


def test_with_closure(japan):
    prim, _ = cal.calibrate(japan)
    fixed = prim.with_closure({"government": "fixed_real"})
    assert fixed.closure == Closure("fixed_real", "savings_driven") and prim.closure == Closure()
    both = fixed.with_closure({"investment": "investment_driven"})
    assert both.closure == Closure("fixed_real", "investment_driven")
    assert both.with_closure(Closure()).closure.is_default
    with pytest.raises(InputError, match=r"agent_share\[region=North\]: missing"):
        three_by_three().with_closure({"investment": "investment_driven"})


def test_changing_the_closure_needs_a_new_model(japan):
    prim, _ = cal.calibrate(japan)
    eq = Equilibrium(prim)
    eq.solve()
    m = prim.to_mapping()
    m["closure"] = {"government": "fixed_real"}
    with pytest.raises(InputError, match="closure: changing the closure"):
        eq.solve(Primitives.from_mapping(m))


# ======================================================================
# calibration round trips
# ======================================================================
def test_benchmark_from_a_solved_equilibrium_keeps_the_split(japan):
    eq, prim = calibrated(japan, ("fixed_real", "investment_driven"))
    eq.solve()
    new = eq.solve(tariff_shock(prim, "JPN"))
    back = cal.benchmark_from_equilibrium(eq)
    assert cal.benchmark_problems(back) == []
    R, S = list(prim.regions), list(prim.sectors)
    idx = [(r, s) for r in R for s in S]
    for k, a in enumerate(AGENTS):
        np.testing.assert_allclose(back.agent_demand()[:, k].reshape(-1),
                                   new.sectors.loc[idx, f"{a}_demand"], rtol=limit(),
                                   atol=limit(new.sectors[f"{a}_demand"]))
    prim2, start2 = cal.calibrate(back, closure=prim.closure)
    eq2 = Equilibrium(prim2)
    cal.set_start(eq2, start2)
    eq2.solve()
    assert eq2.last_stats.iterations <= 1


def test_primitives_round_trip_with_the_closure(japan, tmp_path):
    prim, _ = cal.calibrate(japan, closure={"government": "fixed_real"})
    path = tmp_path / "japan.yaml"
    path.write_text(yaml.safe_dump(prim.to_mapping()))
    again = Primitives.from_file(path)
    assert again.closure == Closure("fixed_real", "savings_driven")
    for name in AGENT_PARAMETERS:
        np.testing.assert_allclose(again[name], prim[name], rtol=1e-15)


# ======================================================================
# scenarios
# ======================================================================
def test_scenario_yaml_with_the_closure_field(tmp_path):
    from cge.scenario import ScenarioError, run_scenario

    text = f"""
name: japan_tariffs_fixed_real
data: {{workbook: {WORKBOOKS['japan']}}}
closure: {{government: fixed_real, investment: investment_driven}}
shocks:
  - {{type: tariff, importers: JPN, mode: add, value: 0.1}}
"""
    path = tmp_path / "closure.yaml"
    path.write_text(text)
    result = run_scenario(path)
    run = result.runs["as_specified"]
    assert run.primitives.closure == Closure("fixed_real", "investment_driven")
    assert run.stats["closure"] == {"government": "fixed_real", "investment": "investment_driven",
                                    "deficit": "world_income_share"}
    assert run.stats["benchmark_iterations"] <= 1
    assert result.identities_hold, result.identities
    w = run.welfare.regions
    parts = w[list(COMPONENTS) + ["residual"]].sum(axis=1)
    np.testing.assert_allclose(parts, w["total"], atol=1e-12)
    assert w["residual"].abs().max() < limit(terms=WALRAS_TERMS)
    b, n = run.base.regions, run.new.regions
    assert n.loc["JPN", "real_government"] == pytest.approx(b.loc["JPN", "real_government"], rel=1e-8)
    assert n.loc["JPN", "real_investment"] == pytest.approx(b.loc["JPN", "real_investment"], rel=1e-8)
    assert abs(w.loc["JPN", "government"]) + abs(w.loc["JPN", "investment"]) > 0

    # Alongside the small open economy, and only one of the two keys.
    path.write_text(text.replace("closure: {government: fixed_real, investment: investment_driven}",
                                 "closure: {small_open_economy: ROW, government: fixed_real}"))
    result = run_scenario(path)
    run = result.runs["as_specified"]
    assert run.primitives.closure == Closure("fixed_real", "savings_driven")
    assert run.stats["closure"] == {"government": "fixed_real", "investment": "savings_driven",
                                    "deficit": "world_income_share", "small_open_economy": "ROW"}
    assert result.identities_hold, result.identities

    # A bad name points at the line.
    path.write_text(text.replace("investment: investment_driven", "investment: keynesian"))
    with pytest.raises(ScenarioError, match=r"closure.yaml:4: closure.investment: .*"
                                            r"'savings_driven'.*'investment_driven'"):
        run_scenario(path)


def test_scenario_closure_without_agent_parameters_names_the_field(tmp_path):
    from cge.scenario import ScenarioError, prepare_scenario

    path = tmp_path / "x.yaml"
    path.write_text("name: x\ndata: {example: three_by_three}\n"
                    "closure: {government: fixed_real}\n")
    with pytest.raises(ScenarioError) as exc:
        prepare_scenario(path)
    msg = str(exc.value)
    assert "x.yaml:3: closure.government: agent_share[region=North]: missing" in msg


@pytest.mark.parametrize("name", ["real_government", "real_investment"])
def test_shocking_the_fixed_regions_agents_is_rejected_as_inert(tmp_path, name):
    """Under the small-open-economy closure the rest of the world's final-demand agents
    are held at the benchmark: a shock to their parameters would do nothing."""
    from cge.scenario import ScenarioError, prepare_scenario

    path = tmp_path / "inert.yaml"
    path.write_text(f"""name: inert
data: {{workbook: {WORKBOOKS['two_regions']}}}
closure: {{small_open_economy: South, government: fixed_real, investment: investment_driven}}
shocks:
  - {{type: parameter, parameter: {name}, where: {{region: South}}, mode: scale, value: 1.1}}
""")
    with pytest.raises(ScenarioError, match=rf"inert.yaml:5: .*changes {name} of South.*no effect"):
        prepare_scenario(path)


# ======================================================================
# documentation
# ======================================================================
def test_agent_families_are_documented(japan):
    doc = (ROOT / "docs" / "model.md").read_text()
    prim, _ = cal.calibrate(japan, closure={"government": "fixed_real",
                                           "investment": "investment_driven"})
    m = build_model(prim)
    for fam in AGENT_FAMILIES:
        comp = getattr(m, fam)
        assert f"`{fam}`" in doc
        assert comp.doc and "math::" in comp.doc
    for name in ("closure", "fixed_real", "investment_driven", "regional_household",
                 "savings_driven"):
        assert name in doc
    for page in ("calibration.md", "scenarios.md", "welfare.md"):
        text = (ROOT / "docs" / page).read_text()
        assert "fixed_real" in text and "investment_driven" in text, page
