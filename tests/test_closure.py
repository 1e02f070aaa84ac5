"""The small-open-economy closure: the rest of the world held at its benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from cge import Equilibrium, InputError
from cge.examples import three_by_three
from cge.solve import check_structure
from cge.tolerance import limit, WALRAS_TERMS


def _south_cuts_manufacturing_tariffs(prim):
    t = prim["tariff"].copy()
    j = prim.sectors.index("manufacturing")
    t[prim.regions.index("South"), :, j] = 0.0
    return t


@pytest.fixture(scope="module")
def soe():
    prim = three_by_three()
    eq = Equilibrium(prim, small_open_economy="East")
    base = eq.solve()
    bench_iterations = eq.last_stats.iterations
    new = eq.solve(tariff=_south_cuts_manufacturing_tariffs(prim))
    return eq, base, new, bench_iterations


def test_closure_is_square_and_replicates_the_benchmark(soe):
    eq, base, _, bench_iterations = soe
    check_structure(eq.model)
    assert bench_iterations <= 1
    assert abs(base.walras_residual) < limit(terms=WALRAS_TERMS)


def test_rest_of_world_is_held_fixed(soe):
    _, base, new, _ = soe
    east = ("East", slice(None))
    for col in ("price_index", "expenditure", "entry_mass"):
        a = base.sectors.loc[east, col].dropna().to_numpy()
        b = new.sectors.loc[east, col].dropna().to_numpy()
        np.testing.assert_allclose(b, a, rtol=1e-10)
    np.testing.assert_allclose(new.factors.loc["East", "factor_price"],
                               base.factors.loc["East", "factor_price"], rtol=1e-10)


def test_foreign_firms_select_into_home_and_home_firms_into_the_world(soe):
    _, base, new, _ = soe
    # East's firms face South's lower tariff: more of them clear South's export cutoff.
    route = ("South", "East", "manufacturing")
    assert new.routes.loc[route, "cutoff"] < base.routes.loc[route, "cutoff"]
    assert new.routes.loc[route, "sellers"] > base.routes.loc[route, "sellers"]
    # South's exporters to East respond through their own cutoff (South's costs move).
    out = ("East", "South", "manufacturing")
    assert new.routes.loc[out, "cutoff"] != pytest.approx(base.routes.loc[out, "cutoff"], rel=1e-9)


def test_home_balance_of_payments_is_walras_check(soe):
    _, _, new, _ = soe
    assert abs(new.walras_residual) < limit(terms=WALRAS_TERMS)
    home = new.regions.loc[["North", "South"]]
    np.testing.assert_allclose((home["exports"] - home["imports"] + home["deficit"]).sum(), 0.0,
                               atol=1e-8 * home["income"].sum())


def _welfare_changes(prim, shock, soe):
    eq = Equilibrium(prim, small_open_economy=soe)
    base = eq.solve()
    return eq.solve(tariff=shock).compare(base).welfare["welfare_change_pct"]


@pytest.mark.slow
def test_growing_rest_of_world_approaches_the_closure():
    """As the rest of the world grows in full GE, home outcomes approach the fixed closure."""
    from cge.examples import symmetric

    prim = symmetric(3, 1, tariff=0.1)
    gaps = []
    for scale in (1.0, 10.0, 100.0):
        end = prim["endowment"].copy()
        end[2] *= scale
        big = prim.copy(endowment=end)
        shock = big["tariff"].copy()
        shock[0, :, 0] = 0.0  # r0 removes its tariffs
        full = _welfare_changes(big, shock, None)
        fixed = _welfare_changes(big, shock, "r2")
        gaps.append(abs(fixed["r0"] - full["r0"]))
        if scale == 100.0:
            assert fixed["r0"] == pytest.approx(full["r0"], rel=1e-2)
    assert gaps[0] > gaps[1] > gaps[2]


def test_unknown_region_is_named():
    with pytest.raises(InputError, match="small_open_economy: unknown region 'Mars'"):
        Equilibrium(three_by_three(), small_open_economy="Mars")
