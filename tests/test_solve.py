"""The solve machinery: re-solves, structural checks, selection, homotopy and failures."""

from __future__ import annotations

import re

import numpy as np
import pytest
import pyomo.environ as pyo

from cge import Equilibrium, SelectionError, SolveError, StructureError, examples
from cge.solve import Diagnosis, check_structure
from cge.tolerance import limit, WALRAS_TERMS

from conftest import REL, asymmetric_economy, closed_economy, domestic_share, foreign_mask

approx = pytest.approx


# =====================================================================
# 9. Re-solving at a solution
# =====================================================================
def test_resolve_at_benchmark_and_after_shock():
    prim = examples.three_by_three()
    eq = Equilibrium(prim)
    eq.solve()
    stats = eq.resolve()
    assert stats.success and stats.iterations <= 1, stats
    tariff = prim["tariff"] * 0.5
    eq.solve(tariff=tariff)
    stats = eq.resolve()
    assert stats.success and stats.iterations <= 1, stats
    # Solving again at the same parameters changes nothing and needs no homotopy.
    again = eq.solve(tariff=tariff)
    assert again.info["changed"] == []


# =====================================================================
# 11. Structural checks
# =====================================================================
@pytest.fixture(params=[True, False], ids=["route_unknowns", "reduced"])
def solved_symmetric(request):
    eq = Equilibrium(examples.symmetric(2, 1), route_unknowns=request.param)
    eq.solve()
    return eq


def test_structure_ok(solved_symmetric):
    nv, nc = check_structure(solved_symmetric.model)
    assert nv == nc > 0


def test_deactivated_constraint_is_named(solved_symmetric):
    m = solved_symmetric.model
    m.sector["s0"].free_entry["r0"].deactivate()
    with pytest.raises(StructureError) as err:
        check_structure(m)
    e = err.value
    msg = str(e)
    assert "degrees of freedom 1" in msg
    assert len(e.unmatched_variables) == 1 and not e.unmatched_constraints
    name = e.unmatched_variables[0]
    assert name in msg
    assert m.find_component(name) is not None
    if solved_symmetric._route_unknowns:
        # The free variable is one that free entry of r0 pinned down (its cutoffs or entry).
        assert re.fullmatch(r"sector\[s0\]\.log_(cutoff\[\w+,r0\]|entry_mass\[r0\])", name), name
    # Equilibrium refuses to solve it, with the same error.
    with pytest.raises(StructureError, match=re.escape(name)):
        solved_symmetric.resolve()


def test_fixed_variable_is_named(solved_symmetric):
    m = solved_symmetric.model
    # a route unknown where there are route unknowns, else an aggregate
    var = m.sector["s0"].log_cutoff["r1", "r0"] if solved_symmetric._route_unknowns \
        else m.sector["s0"].log_entry_mass["r0"]
    var.fix()
    with pytest.raises(StructureError) as err:
        check_structure(m)
    e = err.value
    msg = str(e)
    assert "degrees of freedom -1" in msg
    assert len(e.unmatched_constraints) == 1 and not e.unmatched_variables
    name = e.unmatched_constraints[0]
    assert name in msg
    assert m.find_component(name) is not None
    var.unfix()
    assert check_structure(m)[0] == check_structure(m)[1]


def test_square_but_singular_is_caught_before_the_solve(solved_symmetric):
    """Equal counts are not enough: free entry replaced by a second numeraire equation
    (on the one variable the numeraire already pins down) leaves the system square but
    structurally singular. The fast check on the compiled Jacobian sees it and the
    named analysis reports it."""
    m = solved_symmetric.model
    m.sector["s0"].free_entry["r0"].deactivate()
    m._extra = pyo.Constraint(expr=m.log_factor_price["r0", "labour"] == 0.0)
    try:
        with pytest.raises(StructureError) as err:
            solved_symmetric.resolve()
        e = err.value
        assert len(e.unmatched_variables) == 1 and len(e.unmatched_constraints) == 1
        assert e.unmatched_variables[0] in str(e) and e.unmatched_constraints[0] in str(e)
    finally:
        m.del_component(m._extra)
        m.sector["s0"].free_entry["r0"].activate()
    assert solved_symmetric.resolve().iterations <= 1


def test_walras_residual_measures_the_left_out_market():
    """The market left out (numeraire region's labour) is checked after the solve: an
    excess demand of 10% there shows up as a relative residual of ln 1.1."""
    from cge.solve import walras_residual

    eq = Equilibrium(examples.symmetric(2, 2))
    eq.solve()
    m = eq.model
    assert m._walras_index == ("r0", "labour")
    assert abs(walras_residual(m)) < limit(terms=WALRAS_TERMS)
    for s in m.sectors:
        m.sector[s].log_input_demand["r0"].value += np.log(1.1)
    assert abs(walras_residual(m)) == approx(np.log(1.1), rel=1e-6)


# =====================================================================
# 12. Selection into markets
# =====================================================================
def test_selection_error_closed_economy():
    sigma, k, delta, f, f_e, phi_min = 3.0, 4.0, 1.0, 0.05, 1.0, 1.0
    phi_star = phi_min * ((sigma - 1) / (k - sigma + 1) * f / (delta * f_e)) ** (1 / k)
    assert phi_star < phi_min
    eq = Equilibrium(closed_economy(sigma=sigma, k=k, delta=delta, f=f, f_e=f_e, phi_min=phi_min))
    with pytest.raises(SelectionError) as err:
        eq.solve()
    e = err.value
    assert e.routes == [("home", "home", "goods")]
    msg = str(e)
    assert "destination=home, origin=home, sector=goods" in msg
    # The message reports the (closed-form) cutoff and the bound it violates.
    assert f"cutoff {phi_star:.6g}" in msg and f"phi_min {phi_min:.6g}" in msg
    assert isinstance(e, SolveError)


def test_selection_error_names_export_routes_only():
    """Cheap exporting: the export cutoff tau (f_x/f)^(1/(sigma-1)) phi_d falls below
    phi_min while domestic selection holds."""
    sigma, k, tau, f, f_x = 3.0, 4.0, 1.05, 1.0, 0.2
    ratio = tau * (f_x / f) ** (1 / (sigma - 1))
    assert ratio < 1
    with pytest.raises(SelectionError) as err:
        Equilibrium(examples.symmetric(2, 1, sigma=sigma, k=k, tau=tau, f=f, f_x=f_x)).solve()
    assert sorted(err.value.routes) == [("r0", "r1", "s0"), ("r1", "r0", "s0")]
    assert "destination=r0, origin=r1, sector=s0" in str(err.value)
    assert "destination=r0, origin=r0" not in str(err.value)


# =====================================================================
# 14. Large shocks and failures
# =====================================================================
def _large_shock_economy():
    """Three asymmetric regions with tau = 2 on every foreign route (export fixed
    costs high enough that selection holds at tau = 1.1 too)."""
    return asymmetric_economy(3, tau={"*": {"*": 2.0}, "A": {"A": 1.0}, "B": {"B": 1.0},
                                      "C": {"C": 1.0}},
                              f={"*": {"*": 1.0}, "A": {"B": 3.0, "C": 3.5},
                                 "B": {"A": 2.8, "C": 3.2}, "C": {"A": 3.6, "B": 3.1}})


@pytest.mark.parametrize("max_iter", [None, 5])
def test_large_shock_is_stepped_in(max_iter):
    """tau 2.0 -> 1.1 on all foreign routes. With IPOPT limited to 5 iterations per
    attempt the full step fails and the shock must be stepped in (with trade values and
    cutoffs as unknowns: the reduced formulation takes this shock in one step)."""
    prim = _large_shock_economy()
    eq = Equilibrium(prim, route_unknowns=True)
    base = eq.solve()
    if max_iter is not None:
        eq.options = {"max_iter": max_iter}
    tau = np.where(foreign_mask(prim), 1.1, 1.0)
    new = eq.solve(tau=tau)
    steps = list(eq.steps)
    assert steps and steps[-1] == 1.0
    assert all(0 < a < b for a, b in zip(steps, steps[1:]))
    if max_iter is not None:
        assert len(steps) >= 2 and eq.last_stats.iterations <= max_iter
    assert new.info["homotopy_steps"] == steps and new.info["changed"] == ["tau"]
    np.testing.assert_array_equal(eq.primitives["tau"], tau)
    assert eq.resolve().iterations <= 1
    # The result is the equilibrium at the target: solving it from scratch agrees,
    assert abs(new.walras_residual) < limit(terms=WALRAS_TERMS)
    direct = Equilibrium(prim.copy(tau=tau)).solve()
    np.testing.assert_allclose(new.routes["trade_value"], direct.routes["trade_value"], rtol=REL)
    np.testing.assert_allclose(new.welfare, direct.welfare, rtol=REL)
    # and ACR holds across the whole (large) change.
    k = prim["k"][0]
    for n in prim.regions:
        lam_hat = domestic_share(new, n, "goods") / domestic_share(base, n, "goods")
        assert lam_hat < 0.9
        assert new.welfare[n] / base.welfare[n] == approx(lam_hat ** (-1 / k), rel=REL)


def test_solve_error_carries_diagnosis():
    prim = asymmetric_economy(3)
    eq = Equilibrium(prim)
    base = eq.solve()
    eq.options = {"max_iter": 0}
    tau = np.where(foreign_mask(prim), 1.1, 1.0)
    with pytest.raises(SolveError) as err:
        eq.solve(tau=tau)
    e = err.value
    assert not isinstance(e, SelectionError)
    d = e.diagnosis
    assert isinstance(d, Diagnosis)
    assert d.status == "maximum_iterations_exceeded"
    assert d.last_step == 0.0 and d.steps == []
    msg = str(e)
    assert "IPOPT status: maximum_iterations_exceeded" in msg
    assert "largest residuals" in msg
    assert "could not be stepped in" in msg
    # The residuals describe the failed attempt, not the last good point.
    name, worst = d.largest_residuals[0]
    assert name in msg and abs(worst) > 1e-6
    # The model is left at the last solution: with normal options a re-solve
    # takes at most one iteration and reproduces the benchmark.
    eq.options = {}
    assert eq.resolve().iterations <= 1
    np.testing.assert_allclose(eq.solve().welfare, base.welfare, rtol=REL)


def test_solver_options_from_yaml_types():
    """YAML gives ``max_wall_time: 30`` as an integer for a real-valued IPOPT option: it is
    passed as a float. An option IPOPT rejects is an input error naming it."""
    from cge.errors import InputError

    eq = Equilibrium(examples.symmetric(2, 1), options={"max_wall_time": 30, "max_iter": 50})
    eq.solve()
    assert eq.last_stats.success
    with pytest.raises(InputError, match=r"solver option max_wal_time=30: IPOPT rejects it"):
        Equilibrium(examples.symmetric(2, 1), options={"max_wal_time": 30}).solve()


@pytest.mark.parametrize("size, seed", [((6, 6), 5), ((6, 6), 3)])
def test_benchmark_found_by_trade_cost_continuation(size, seed):
    """Asymmetric economies whose benchmark IPOPT does not find from the closed-economy
    guess are solved from the economy near autarky (foreign trade costs tripled), with
    the trade costs stepped back; the result is an equilibrium (Walras, residuals, a
    re-solve takes at most one iteration). With trade values and cutoffs as unknowns:
    the reduced formulation solves these from the guess directly."""
    from cge.examples import random_economy
    from cge.solve import run_ipopt

    prim = random_economy(*size, seed=seed)
    direct = Equilibrium(prim, route_unknowns=True)
    assert not run_ipopt(direct.model, None, {"max_wall_time": 60.0}).success, \
        "this economy no longer needs the continuation: pick another"
    eq = Equilibrium(prim, time_limit=120, route_unknowns=True)
    res = eq.solve()
    assert any(st.startswith("trade-cost continuation") for st in eq.benchmark_stages), \
        eq.benchmark_stages
    assert res.max_residual < limit() and abs(res.walras_residual) < limit(terms=WALRAS_TERMS)
    assert eq.resolve().iterations <= 1
    assert eq.primitives is prim or np.array_equal(eq.primitives["tau"], prim["tau"])


def test_large_models_near_a_solution_use_a_limited_memory_hessian(monkeypatch):
    """Above LARGE_MODEL equations, solves that start near a solution (re-solves, shocks)
    get the limited-memory Hessian; a cold start keeps the exact one, as does a caller who
    names a Hessian. The equilibrium is the same either way."""
    import cge.equilibrium as E

    prim = examples.three_by_three()
    ref = Equilibrium(prim)
    ref.solve()
    ref_cut = ref.solve(tariff=prim["tariff"] * 0.5)
    monkeypatch.setattr(E, "LARGE_MODEL", 10)
    eq = Equilibrium(prim)
    eq.solve()
    assert "hessian_approximation" not in eq.last_stats.options, "cold start: exact Hessian"
    cut = eq.solve(tariff=prim["tariff"] * 0.5)
    assert eq.last_stats.options["hessian_approximation"] == "limited-memory"
    np.testing.assert_allclose(cut.routes["trade_value"], ref_cut.routes["trade_value"],
                               rtol=1e-8)
    np.testing.assert_allclose(cut.regions["real_income"], ref_cut.regions["real_income"],
                               rtol=1e-8)
    own = Equilibrium(prim, options={"hessian_approximation": "exact"})
    own.solve()
    own.solve(tariff=prim["tariff"] * 0.5)
    assert own.last_stats.options["hessian_approximation"] == "exact"
