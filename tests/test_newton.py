"""Warm solves as Newton solves (cge.newton): same equilibria as IPOPT, IPOPT when it gives up."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cge import Equilibrium, examples, newton
from cge.solve import max_residual
from cge.tolerance import RESIDUAL_TOL, SOLVER_TOL

from tables import assert_same_tables  # tests/tables.py


@pytest.fixture(scope="module")
def economy():
    return examples.three_by_three()


def _shocked(prim, **kwargs):
    eq = Equilibrium(prim, **kwargs)
    eq.solve()
    eq.ipopt_calls.clear()
    return eq, eq.solve(tariff=prim["tariff"] * 0.5)


def test_a_shock_is_a_newton_solve_with_ipopt_s_equilibrium(economy):
    eq, res = _shocked(economy)
    ref_eq, ref = _shocked(economy, newton=False)
    stats = eq.last_stats
    assert stats.method == "newton" and stats.success
    assert stats.factorizations >= 1 and stats.newton_steps == stats.iterations > 0
    assert stats.ipopt_time == 0.0 and stats.newton_time > 0 and stats.solver_time == stats.newton_time
    assert stats.max_residual <= SOLVER_TOL
    assert all(s.method == "ipopt" for s in ref_eq.ipopt_calls)
    assert_same_tables(ref, res)


def test_newton_falls_back_to_ipopt_when_it_stalls(economy, monkeypatch):
    """Every step counts as slow and one factorisation is allowed: the method stalls
    after its first step and IPOPT solves from the same start."""
    monkeypatch.setattr(newton, "MAX_FACTORIZATIONS", 1)
    monkeypatch.setattr(newton, "SLOW_CONTRACTION", 0.0)
    eq, res = _shocked(economy)
    stats = eq.last_stats
    assert stats.method == "ipopt" and stats.success
    assert stats.newton_failure.startswith("stalled"), stats.newton_failure
    assert stats.factorizations == 1 and stats.newton_time > 0
    assert "Newton method gave up" in stats.message
    monkeypatch.undo()
    _, ref = _shocked(economy, newton=False)
    assert_same_tables(ref, res)


def test_newton_gives_up_far_from_a_solution_and_leaves_the_model():
    """From a start far from the equilibrium (every log-variable 5 off) the method gives
    up with a reason; the model's variables are untouched."""
    from cge.compiled import CompiledSystem
    from cge.toolchain import configure_pynumero

    configure_pynumero()
    eq = Equilibrium(examples.symmetric(2, 1))
    eq.solve()
    m = eq.model
    for v in m.component_data_objects(pyo.Var, descend_into=True):
        v.set_value(v.value + 5.0 * (-1) ** len(v.name))
    before = [v.value for v in m.component_data_objects(pyo.Var, descend_into=True)]
    system = CompiledSystem(m)
    system.update()
    res = newton.solve(system, max_factorizations=2, max_steps=5)
    assert not res.converged and res.reason
    assert res.max_residual > RESIDUAL_TOL
    assert [v.value for v in m.component_data_objects(pyo.Var, descend_into=True)] == before


def test_a_step_leaving_the_bounds_falls_back_to_ipopt(economy):
    """Bounds the Newton step would cross send the solve to IPOPT (which respects them)."""
    eq = Equilibrium(economy)
    eq.solve()
    blk = eq.model.sector["manufacturing"]
    r = next(iter(eq.model.regions))
    v = blk.log_price_index[r]
    v.setlb(v.value - 1e-6)
    v.setub(v.value + 1e-6)
    eq.ipopt_calls.clear()
    try:
        eq.solve(tariff=economy["tariff"] * 0.5)
    except Exception:  # IPOPT may find no equilibrium inside so tight a box
        pass
    first = eq.ipopt_calls[0]
    assert first.method == "ipopt"
    assert first.newton_failure == "a Newton step leaves the variables' bounds"


def test_homotopy_steps_and_a_sequence_of_shocks_agree_with_ipopt(economy):
    """A shock stepped in over several homotopy steps, then a second shock: Newton (with
    IPOPT where it gives up) and IPOPT alone reach the same equilibria."""
    tau = economy["tau"].copy()
    tau[~np.eye(len(economy.regions), dtype=bool)] *= 100.0
    results = []
    for use_newton in (True, False):
        eq = Equilibrium(economy, newton=use_newton)
        eq.solve()
        first = eq.solve(tau=tau)
        steps = list(eq.steps)
        second = eq.solve(tau=tau, tariff=economy["tariff"] * 0.8)
        results.append((first, second, steps, eq))
    (n1, n2, steps, eq), (i1, i2, _, _) = results
    assert len(steps) > 1
    assert any(s.method == "newton" for s in eq.ipopt_calls)
    assert max_residual(eq.model) <= RESIDUAL_TOL
    assert_same_tables(i1, n1)
    assert_same_tables(i2, n2)


def test_systems_too_large_for_parameter_columns_are_tapes_and_use_newton(
        economy, monkeypatch):
    """Above cge.solve.PARAMETRIC_MAX_WORK residuals and Jacobian come from a numpy tape
    (cge.tape) compiled once per structure: the shock compiles nothing, Newton solves it
    on the tape, and the equilibrium is IPOPT's."""
    from cge import solve
    from cge.tape import TapeSystem

    monkeypatch.setattr(solve, "PARAMETRIC_MAX_WORK", 0)
    eq, res = _shocked(economy)
    assert eq.last_stats.method == "newton" and not eq.last_stats.compiled
    (entry,) = eq._compiled.values()
    assert isinstance(entry["system"], TapeSystem)
    monkeypatch.undo()
    _, ref = _shocked(economy, newton=False)
    assert_same_tables(ref, res)


def test_dense_jacobian_is_the_systems_jacobian(economy):
    """The dense Jacobian of small systems is exactly ``system.jacobian()`` (the free
    columns of the compiled NLP's Jacobian), and a shock solved with the dense LU is the
    equilibrium solved with the sparse one."""
    eq, res = _shocked(economy)
    system = next(iter(eq._compiled.values()))["system"]
    system.update()
    dense = newton.dense_jacobian(system)
    assert dense is not None and dense.shape == (len(system.free),) * 2
    np.testing.assert_array_equal(dense, system.jacobian().toarray())
    assert eq.last_stats.method == "newton"
    sparse = pytest.MonkeyPatch()
    sparse.setattr(newton, "DENSE_MAX", 0)
    try:
        eq2, res2 = _shocked(economy)
    finally:
        sparse.undo()
    assert eq2.last_stats.method == "newton"
    assert_same_tables(res2, res)


def test_dense_lu_refuses_a_singular_matrix():
    with pytest.raises(RuntimeError, match="singular"):
        newton._DenseLU(np.array([[1.0, 2.0], [2.0, 4.0]]))
    np.testing.assert_allclose(newton._DenseLU(np.array([[2.0, 0.0], [1.0, 1.0]])).solve(
        np.array([2.0, 3.0])), [1.0, 2.0])


def test_gmres_with_a_nearby_factorisation_solves_the_equation():
    """cge.newton.gmres: preconditioned by the factors of a perturbed matrix it solves
    A x = b to the tolerance asked (the residual is the equation's own), and says so
    (None) when the iterations allowed do not get there."""
    from scipy.sparse import eye, random as sparse_random
    from scipy.sparse.linalg import splu

    rng = np.random.default_rng(3)
    n = 300
    a = (eye(n) * 4.0 + sparse_random(n, n, density=0.02, random_state=rng)).tocsc()
    nearby = (a + 0.3 * sparse_random(n, n, density=0.01, random_state=rng)).tocsc()
    b = rng.standard_normal(n)
    lu = splu(nearby)
    x = newton.gmres(a, b, lu.solve, 1e-10, 60)
    assert x is not None
    assert np.linalg.norm(a @ x - b) <= 1e-10 * np.linalg.norm(b)
    exact = splu(a).solve(b)
    assert np.abs(x - exact).max() <= 1e-8 * np.abs(exact).max()
    assert newton.gmres(a, b, lu.solve, 1e-14, 1) is None
    assert not newton.gmres(a, np.zeros(n), lu.solve, 1e-10, 5).any()


def test_krylov_steps_on_a_path_share_one_factorisation(economy, monkeypatch):
    """Paths on large systems (cge.continuation.newton_first; here forced on a 3 x 3
    economy) hand each step's factors to the next (cge.newton.solve(factors=...,
    krylov=True)): a step factorises nothing when the kept factors, as chord steps or as
    GMRES's preconditioner for Newton steps, carry it; the equilibria are IPOPT's."""
    from cge import continuation

    tau = economy["tau"].copy()
    tau[~np.eye(len(economy.regions), dtype=bool)] *= 30.0
    monkeypatch.setattr(continuation, "NEWTON_FIRST_ABOVE", 0)
    calls = []
    solve = newton.solve

    def counted(system, *args, **kwargs):
        res = solve(system, *args, **kwargs)
        calls.append((kwargs.get("factors") is not None, res))
        return res

    monkeypatch.setattr(newton, "solve", counted)
    eq = Equilibrium(economy)
    eq.solve()
    first = eq.solve(tau=tau)
    second = eq.solve(tau=tau, tariff=economy["tariff"] * 0.8)
    monkeypatch.undo()
    assert len(calls) >= 2 and all(inherited for inherited, _ in calls[1:])
    assert all(res.converged for _, res in calls[-1:])
    assert sum(res.factorizations for _, res in calls) < len(calls)
    assert any(res.krylov_steps > 0 and res.factorizations == 0 and res.converged
               for _, res in calls)
    ref = Equilibrium(economy, newton=False)
    ref.solve()
    assert_same_tables(ref.solve(tau=tau), first)
    assert_same_tables(ref.solve(tau=tau, tariff=economy["tariff"] * 0.8), second)


def test_factorisations_above_the_limit_are_not_kept_between_solves(economy, monkeypatch):
    """A factorisation larger than cge.solve.FACTORS_KEPT_MAX entries is not kept for the
    next step (memory at scale): every step of the path factorises its own Jacobian."""
    from cge import continuation, solve

    tau = economy["tau"].copy()
    tau[~np.eye(len(economy.regions), dtype=bool)] *= 30.0
    monkeypatch.setattr(continuation, "NEWTON_FIRST_ABOVE", 0)
    monkeypatch.setattr(solve, "FACTORS_KEPT_MAX", 0)
    calls = []
    original = newton.solve

    def counted(system, *args, **kwargs):
        calls.append(kwargs.get("factors") is not None)
        return original(system, *args, **kwargs)

    monkeypatch.setattr(newton, "solve", counted)
    eq = Equilibrium(economy)
    eq.solve()
    eq.solve(tau=tau)
    assert calls and not any(calls)
    assert all("factors" not in entry for entry in eq._compiled.values())
