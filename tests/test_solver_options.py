"""Solver options chosen by size (:mod:`cge.solver_options`): what a large structure
gets, checked without solving a large model, and that the large-size options leave
the equilibrium unchanged. Speed is measured in ``bench/bench_scale.py``, not here."""

from __future__ import annotations

import pytest

from cge import Equilibrium, solver_options
from cge.examples import three_by_three
from cge.tolerance import assert_close

#: Equations of bench_scale's 60 x 40 economy (reduced formulation) and of its 30 x 20
#: economy with route unknowns
GTAP_REDUCED, ROUTES_30x20 = 16_980, 40_290


def test_a_gtap_sized_structure_gets_the_large_size_options():
    big = solver_options.choose(GTAP_REDUCED, route_unknowns=False, warm=True)
    assert big["hessian_approximation"] == "limited-memory"
    assert big["constr_mult_init_max"] == 0.0, "no least-squares multipliers: one factorisation fewer"
    assert big["compiled_kept"] == 1, "two compiled systems of this size never coexist"
    assert "hessian_approximation" not in solver_options.choose(GTAP_REDUCED, warm=False), \
        "a cold start keeps the exact Hessian at every size"
    assert solver_options.choose(ROUTES_30x20, route_unknowns=True)["hessian_approximation"] \
        == "limited-memory"
    # MUMPS keeps its defaults at every size (the measured best; see the module)
    assert solver_options.linear_solver_options(GTAP_REDUCED) == {}


def test_a_small_structure_keeps_the_exact_hessian():
    small = solver_options.choose(50)  # the 3 x 3 example
    assert "hessian_approximation" not in small and small["compiled_kept"] == 2
    # with route unknowns the threshold is higher: 4,000 equations is small
    assert "hessian_approximation" not in solver_options.choose(4_000, route_unknowns=True)
    assert solver_options.choose(4_000)["hessian_approximation"] == "limited-memory"


def test_equilibrium_uses_the_thresholds_of_solver_options():
    import cge.equilibrium as E

    assert E.LARGE_MODEL == solver_options.LARGE_MODEL
    assert E.LARGE_REDUCED_MODEL == solver_options.LARGE_REDUCED_MODEL
    assert E.LARGE_MODEL_OPTIONS == solver_options.LIMITED_MEMORY


def _solve_soe():
    """Benchmark, then the small-open-economy closure (a second structure), then a tariff
    cut: returns the shocked results and the equilibrium."""
    prim = three_by_three()
    eq = Equilibrium(prim, small_open_economy="East")
    eq.solve()
    return eq.solve(tariff=prim["tariff"] * 0.5), eq


@pytest.fixture(scope="module")
def reference():
    return _solve_soe()


def test_large_size_options_leave_the_equilibrium_unchanged(reference, monkeypatch):
    """The 3 x 3 economy solved as if it were large (limited-memory Hessian, one compiled
    system kept) reaches the same equilibrium, within the solver's tolerance."""
    import cge.equilibrium as E

    ref, ref_eq = reference
    assert len(ref_eq._compiled) == 2, "benchmark and closure structures both kept when small"
    assert "hessian_approximation" not in ref_eq.last_stats.options
    monkeypatch.setattr(E, "LARGE_REDUCED_MODEL", 10)
    monkeypatch.setattr(E, "LARGE_MODEL", 10)
    monkeypatch.setattr(solver_options, "LARGE_COMPILED", 10)
    big, eq = _solve_soe()
    assert eq.last_stats.options["hessian_approximation"] == "limited-memory"
    assert len(eq._compiled) == 1, "a large model keeps one compiled system"
    for table, column in (("routes", "trade_value"), ("routes", "cutoff"),
                          ("regions", "real_income"), ("regions", "income")):
        assert_close(getattr(big, table)[column], getattr(ref, table)[column], rel=1e-9,
                     err_msg=f"{table}.{column}")
