"""Zero-trade routes are structural: inactive routes are absent from the system."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cge import Equilibrium, InputError
from cge.examples import symmetric
from cge.tolerance import limit, WALRAS_TERMS


def _three_regions_one_route_closed(market_structure):
    prim = symmetric(3, 1, tau=1.4, market_structure=market_structure)
    tau = prim["tau"].copy()
    tau[0, 2, 0] = math.inf  # r0 buys nothing from r2
    return prim.copy(tau=tau)


@pytest.mark.parametrize("market_structure", ["melitz", "krugman", "armington"])
def test_inactive_route_is_absent_and_equilibrium_holds(market_structure):
    prim = _three_regions_one_route_closed(market_structure)
    eq = Equilibrium(prim)
    res = eq.solve()
    assert ("r0", "r2", "s0") not in res.routes.index
    assert ("r2", "r0", "s0") in res.routes.index
    assert res.max_residual < limit() and abs(res.walras_residual) < limit(terms=WALRAS_TERMS)
    # r0 and r1 are symmetric except that r0 cannot buy from r2: r2 sells less abroad,
    # and r0's consumers face a higher price index than r1's.
    p = res.sectors["price_index"]
    assert p[("r0", "s0")] > p[("r1", "s0")]
    # trade balances: exports = imports for every region (no deficits)
    assert np.allclose(res.regions["trade_balance"], 0.0, atol=limit(res.regions["income"], terms=len(res.regions)))


def test_switching_a_route_on_needs_a_rebuild():
    prim = _three_regions_one_route_closed("melitz")
    eq = Equilibrium(prim)
    eq.solve()
    tau = prim["tau"].copy()
    tau[0, 2, 0] = 1.4
    with pytest.raises(InputError, match=r"tau\[sector=s0\].*r0.*r2"):
        eq.solve(tau=tau)
