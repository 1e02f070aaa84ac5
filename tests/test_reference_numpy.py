"""cge against an independent numpy solver of the same equilibrium (bench/reference_numpy.py).

The reference writes the all-Melitz economy with input-output links from
docs/model.md and Melitz-Redding in its own reduced unknowns (price indices,
entrants, expenditure, factor prices, income) with an analytic Jacobian and
Newton's method, importing nothing of cge's model or solvers. Both solve the
benchmark from their own starting points and a tariff cut from their own
benchmark; wages, price indices, cutoffs and welfare (with entrants,
expenditure and income) must agree to a relative 1e-8 (the solver's accepted
residual, :func:`cge.tolerance.limit`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from cge import Equilibrium
from cge.examples import random_economy, three_by_three
from cge.tolerance import limit

_spec = importlib.util.spec_from_file_location(
    "reference_numpy", Path(__file__).resolve().parents[1] / "bench" / "reference_numpy.py")
reference_numpy = sys.modules.setdefault("reference_numpy", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(reference_numpy)
Reference = reference_numpy.Reference

#: Agreement asked for: relative, the solver's accepted residual (1e-8).
REL = limit()
QUANTITIES = ("factor_price", "price_index", "cutoff", "real_income", "entry_mass",
              "expenditure", "income")


def _assert_agree(ref_solution, cge_results, prim, what):
    values = reference_numpy._cge_values(cge_results, prim)
    for name in QUANTITIES:
        np.testing.assert_allclose(getattr(ref_solution, name), values[name], rtol=REL, atol=0,
                                   err_msg=f"{what}: {name}")


def _economy(seed, deficit=None):
    prim = random_economy(3, 3, seed=seed, io=True, market_structure="melitz")
    if deficit is not None:
        prim = prim.copy(deficit=np.asarray(deficit, dtype=float))
    return prim


def _both(prim, tariff):
    """(reference benchmark, reference cut, cge benchmark, cge cut)."""
    ref = Reference(prim)
    rb = ref.benchmark()
    rc = ref.solve(tariff, start=rb)
    eq = Equilibrium(prim)
    cb = eq.solve()
    cc = eq.solve(tariff=tariff)
    return ref, rb, rc, cb, cc


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ten_percent_tariff_cut_agrees_with_cge(seed):
    prim = _economy(seed)
    ref, rb, rc, cb, cc = _both(prim, 0.9 * prim["tariff"])
    _assert_agree(rb, cb, prim, f"seed {seed} benchmark")
    _assert_agree(rc, cc, prim, f"seed {seed} 10% cut")
    # the agreement is not that of two unchanged points: the cut moves every region's welfare
    assert np.min(np.abs(rc.real_income / rb.real_income - 1)) > 1e3 * REL
    # the reference's own checks: residuals at its tolerance, Walras' law
    assert rc.max_residual <= reference_numpy.TOL
    assert abs(rc.walras_residual) <= limit(terms=ref.nz)


def test_one_region_cutting_its_own_tariffs_agrees_with_cge():
    prim = _economy(0)
    tariff = prim["tariff"].copy()
    tariff[0] *= 0.9  # R00 cuts the tariffs it levies on imports; nobody else does
    ref, rb, rc, cb, cc = _both(prim, tariff)
    _assert_agree(rc, cc, prim, "R00 cuts its own tariffs")
    cut_all = ref.solve(0.9 * prim["tariff"], start=rb)
    assert np.max(np.abs(cut_all.real_income / rc.real_income - 1)) > 1e3 * REL


def test_deficits_held_as_world_income_shares_agree_with_cge():
    """With deficits (cge's default deficit closure: benchmark shares of world income)."""
    prim = _economy(4, deficit=[20.0, -5.0, -15.0])
    assert prim.closure.deficit == "world_income_share"
    ref, rb, rc, cb, cc = _both(prim, 0.9 * prim["tariff"])
    _assert_agree(rb, cb, prim, "deficits, benchmark")
    _assert_agree(rc, cc, prim, "deficits, 10% cut")
    # Walras: each region's trade balance (c.i.f., net of tariffs) is minus its deficit,
    # which stays the benchmark's share of world factor income
    domestic = np.einsum("nns->n", rc.trade_value)
    imports = rc.trade_value.sum(axis=(1, 2)) - domestic
    exports = rc.trade_value.sum(axis=(0, 2)) - domestic
    np.testing.assert_allclose((imports - exports) / rc.world_income,
                               ref.deficit * ref.pbar / rb.world_income,
                               rtol=0, atol=limit(terms=ref.nz))
    assert abs(rc.world_income / rb.world_income - 1) > 1e3 * REL  # the share is what is held


def test_benchmark_by_trade_cost_continuation_is_the_direct_one():
    """The reference's fallback (from near autarky, iceberg costs stepped back) finds the
    benchmark Newton finds from the closed-economy guess."""
    ref = Reference(_economy(5))
    direct = ref.benchmark()
    stepped = ref.benchmark(autarky_factor=10.0, direct=False)
    assert stepped.iterations > direct.iterations  # it did go the long way
    for name in QUANTITIES:
        np.testing.assert_allclose(getattr(stepped, name), getattr(direct, name), rtol=REL,
                                   atol=0, err_msg=name)


def test_analytic_jacobian_matches_finite_differences():
    prim = _economy(3)
    ref = Reference(prim)
    z = ref.guess() + 0.05 * np.random.default_rng(1).standard_normal(ref.nz)
    K = ref.constants(0.9 * prim["tariff"])
    world0 = 1.3 * float((np.exp(z[ref.oW:ref.oY]).reshape(ref.N, ref.F) * ref.endowment).sum())
    ref.deficit = np.array([3.0, -1.0, -2.0])  # so that the deficit's derivative is exercised
    _, J, _ = ref.evaluate(z, K, "world", world0)
    h = 1e-6
    fd = np.empty_like(J)
    for j in range(ref.nz):
        e = np.zeros(ref.nz)
        e[j] = h
        fd[:, j] = (ref.evaluate(z + e, K, "world", world0, jacobian=False)[0]
                    - ref.evaluate(z - e, K, "world", world0, jacobian=False)[0]) / (2 * h)
    np.testing.assert_allclose(J, fd, rtol=0, atol=1e-7 * max(1.0, np.abs(J).max()))


def test_reference_refuses_what_it_does_not_model():
    with pytest.raises(reference_numpy.Unsupported, match="armington"):
        Reference(three_by_three())
