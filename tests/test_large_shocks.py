"""Large shocks: the path (cge.continuation), the predictor and step sizes, autarky-like
trade costs, very high tariffs and large endowment changes; where no equilibrium
exists on the path, the error names the condition that fails.

The slow tests use the bundled US-China data (sam_data/yotov2016_mfg.xlsx, as
runs/us_china_tariffs.yaml loads it) with the shocks of issue 13.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

import calibration as cal
from cge import Equilibrium
from cge.continuation import EASY_STEP, HARD_STEP, Path as SolutionPath, interpolate, next_step
from cge.errors import SolveError
from cge.examples import three_by_three
from cge.tolerance import SOLVER_TOL, WALRAS_TERMS, limit

WORKBOOK = Path(__file__).resolve().parents[1] / "sam_data" / "yotov2016_mfg.xlsx"


def foreign(prim) -> np.ndarray:
    return ~np.eye(len(prim.regions), dtype=bool)[:, :, None] & np.isfinite(prim["tau"])


# ------------------------------------------------------------------ the path
def test_path_is_geometric_for_costs_and_rates_and_linear_for_shares():
    a = three_by_three()
    tau = np.where(foreign(a), a["tau"] * 100.0, a["tau"])
    tariff = np.where(foreign(a), 3.0, a["tariff"])  # 1 + t: (1 + t0) -> 4
    beta = a["beta"][:, ::-1].copy()
    deficit = -a["deficit"]
    endowment = a["endowment"] * 0.01
    b = a.copy(tau=tau, tariff=tariff, beta=beta, deficit=deficit, endowment=endowment)
    half = interpolate(a, b, 0.5)
    np.testing.assert_allclose(half["tau"][foreign(a)], a["tau"][foreign(a)] * 10.0, rtol=1e-12)
    np.testing.assert_allclose(half["endowment"], a["endowment"] * 0.1, rtol=1e-12)
    np.testing.assert_allclose(1 + half["tariff"][foreign(a)],
                               np.sqrt((1 + a["tariff"][foreign(a)]) * 4.0), rtol=1e-12)
    np.testing.assert_allclose(half["beta"], (a["beta"] + beta) / 2, rtol=1e-12)
    np.testing.assert_allclose(half["beta"].sum(axis=1), 1.0, rtol=1e-12)  # shares add up
    np.testing.assert_allclose(half["deficit"], 0.0, atol=1e-12)  # linear through zero
    np.testing.assert_array_equal(np.isinf(half["tau"]), np.isinf(a["tau"]))
    assert interpolate(a, b, 1.0) is b
    np.testing.assert_array_equal(interpolate(a, b, 0.0)["tau"], a["tau"])


def test_step_size_follows_the_correctors_iterations():
    assert next_step(0.1, EASY_STEP) == pytest.approx(0.2)
    assert next_step(0.1, HARD_STEP) == pytest.approx(0.1)
    assert next_step(0.1, HARD_STEP + 1) == pytest.approx(0.05)


def test_secant_predictor_extrapolates_along_the_path():
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1], initialize=0.0)
    m.y = pyo.Var(initialize=5.0)
    m.y.fix()
    path = SolutionPath(m)
    assert not path.can_predict
    for lam in (0.2, 0.4):
        m.x[0].value, m.x[1].value = 1 + 3 * lam, -lam
        path.record(lam)
    path.predict(0.7)
    assert m.x[0].value == pytest.approx(1 + 3 * 0.7) and m.x[1].value == pytest.approx(-0.7)
    assert m.y.value == 5.0  # fixed variables stay


def test_predictor_saves_iterations():
    """The same shock in the same fixed steps, with and without the predictor (with
    trade values and cutoffs as unknowns: in the reduced formulation this shock takes
    as many corrector iterations either way). Effort is counted in factorisations: from
    a predicted point near the solution the corrector is the Newton method (one
    factorisation, several cheap back-solves), from the last solution IPOPT."""
    from cge.equilibrium import _restore, _snapshot
    from cge.model import set_parameters

    prim = three_by_three()
    target = prim.copy(tau=np.where(foreign(prim), prim["tau"] * 3.0, prim["tau"]))
    eq = Equilibrium(prim, route_unknowns=True)
    eq.solve()
    start = _snapshot(eq.model)
    totals = {}
    for predict in (True, False):
        _restore(eq.model, start)
        path = SolutionPath(eq.model)
        path.record(0.0)
        total = 0
        for lam in (0.25, 0.5, 0.75, 1.0):
            set_parameters(eq.model, interpolate(prim, target, lam))
            if predict and path.can_predict:
                path.predict(lam)
            stats = eq._run(warm=True)
            assert stats.success
            total += stats.effort  # factorisations: IPOPT's iterations or Newton's
            path.record(lam)
        totals[predict] = total
    assert totals[True] < totals[False], totals


# ------------------------------------------------- autarky-like trade costs
def test_prohibitive_trade_costs_from_a_zero_deficit_baseline():
    """Iceberg costs x 1e6 on every foreign route: trade all but vanishes (autarky), and
    with deficits closed first the equilibrium exists and is found."""
    prim = three_by_three().with_closure({"deficit": "zero_baseline"})
    eq = Equilibrium(prim)
    eq.solve()
    new = eq.solve(tau=np.where(foreign(prim), prim["tau"] * 1e6, prim["tau"]))
    assert abs(new.walras_residual) < limit(terms=WALRAS_TERMS) and new.max_residual < limit()
    reg = new.regions
    assert (reg["imports"] / reg["income"]).max() < 1e-9  # autarky-like
    assert (reg["trade_balance"].abs() / reg["income"]).max() < 1e-10
    assert eq.resolve().iterations <= 1


def test_prohibitive_trade_costs_with_deficits_name_the_failing_condition():
    """With North's deficit held at its share of world income, trade costs of x 1e6 leave
    North's imports to carry it alone: the error says so instead of 'no convergence'."""
    prim = three_by_three()
    assert prim["deficit"][0] > 0
    eq = Equilibrium(prim)
    eq.solve()
    with pytest.raises(SolveError) as err:
        eq.solve(tau=np.where(foreign(prim), prim["tau"] * 1e6, prim["tau"]))
    msg = str(err.value)
    assert "why: deficits (each held at its benchmark share of world income) can no longer be " \
           "carried" in msg
    assert "North (deficit" in msg and "its exports" in msg and "zero_baseline" in msg
    # the model is left at the last solution on the path
    assert eq.resolve().iterations <= 1


# ---------------------------------------------------- the US-China data (slow)
@pytest.fixture(scope="module")
def us_china():
    return cal.read_workbook(WORKBOOK)


def solved(data, deficit: str):
    prim, start = cal.calibrate(data, closure={"deficit": deficit})
    eq = Equilibrium(prim, time_limit=900)
    cal.set_start(eq, start)
    eq.solve()
    return eq, prim


def all_tariffs(prim, rate):
    return prim.copy(tariff=np.where(~np.eye(len(prim.regions), dtype=bool)[:, :, None],
                                     rate, prim["tariff"]))


def trade_costs_times(prim, factor):
    return prim.copy(tau=np.where(foreign(prim), prim["tau"] * factor, prim["tau"]))


def usa_labour(prim, change):
    e = prim["endowment"].copy()
    e[prim.regions.index("USA"), prim.factors.index("labour")] *= 1 + change
    return prim.copy(endowment=e)


def assert_equilibrium(eq, new):
    assert abs(new.walras_residual) < limit(terms=WALRAS_TERMS) and new.max_residual < limit()
    assert eq.resolve().iterations <= 1


@pytest.mark.slow
@pytest.mark.parametrize("shock", [
    pytest.param(lambda p: all_tariffs(p, 10.0), id="tariffs 1000%"),
    pytest.param(lambda p: trade_costs_times(p, 100.0), id="iceberg x100"),
])
def test_large_shocks_converge_with_deficits_held(us_china, shock):
    eq, prim = solved(us_china, "world_income_share")
    assert_equilibrium(eq, eq.solve(shock(prim)))


@pytest.mark.slow
@pytest.mark.parametrize("shock", [
    pytest.param(lambda p: all_tariffs(p, 20.0), id="tariffs 2000%"),
    pytest.param(lambda p: trade_costs_times(p, 1e3), id="iceberg x1e3"),
    pytest.param(lambda p: trade_costs_times(p, 1e6), id="iceberg x1e6"),
    pytest.param(lambda p: usa_labour(p, -0.9), id="USA labour -90%"),
])
def test_large_shocks_converge_from_a_zero_deficit_baseline(us_china, shock):
    """Without deficits every listed shock has an equilibrium and it is found."""
    eq, prim = solved(us_china, "zero_baseline")
    new = eq.solve(shock(prim))
    assert_equilibrium(eq, new)
    reg = new.regions
    # The trade balance follows from incomes that include tariff revenue t M: its error
    # is the solver's relative tolerance times (1 + t) (21 under tariffs of 2000%).
    tariff = float(np.max(eq.primitives["tariff"]))
    assert (reg["trade_balance"].abs() / reg["income"]).max() < limit(1 + tariff, rel=SOLVER_TOL)


@pytest.mark.slow
def test_autarky_is_autarky(us_china):
    """From the zero-deficit baseline, iceberg costs x 100 and x 1e6 and tariffs of 2000%
    all reach (nearly) the same autarky: welfare changes agree to 0.01 points."""
    changes = []
    for shock in (lambda p: trade_costs_times(p, 100.0), lambda p: trade_costs_times(p, 1e6),
                  lambda p: all_tariffs(p, 20.0)):
        eq, prim = solved(us_china, "zero_baseline")
        base = eq.solve()
        new = eq.solve(shock(prim))
        changes.append(100 * (new.regions["real_income"] / base.regions["real_income"] - 1))
    assert (changes[0] < 0).all()
    for other in changes[1:]:
        assert float((other - changes[0]).abs().max()) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("shock", [
    pytest.param(lambda p: all_tariffs(p, 20.0), id="tariffs 2000%"),
    pytest.param(lambda p: trade_costs_times(p, 1e6), id="iceberg x1e6"),
])
def test_autarky_like_shocks_with_deficits_name_the_regions(us_china, shock):
    """Deficits held at their share of world income cannot be carried once trade all
    but vanishes: the error names the regions and the balance-of-payments condition."""
    eq, prim = solved(us_china, "world_income_share")
    with pytest.raises(SolveError, match=r"why: deficits .* can no longer be carried"):
        eq.solve(shock(prim))


@pytest.mark.slow
def test_usa_labour_minus_90_with_its_deficit_names_the_sector_that_shuts_down(us_china):
    """With the USA's deficit held at its share of world income, USA labour -90% makes the
    deficit a quarter of US income; it buys the manufactures the USA no longer makes,
    and the USA's Melitz sector shuts down (a corner): the error says so."""
    eq, prim = solved(us_china, "world_income_share")
    with pytest.raises(SolveError, match=r"why: sector mfg in USA is shutting down.*"
                                         r"Its deficit, \d+% of its income"):
        eq.solve(usa_labour(prim, -0.9))
