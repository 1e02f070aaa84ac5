"""Welfare decomposition: exactness, theory's signs, numeraire invariance."""

from __future__ import annotations

import numpy as np
import pytest

from cge import Equilibrium
from cge import shocks as sh
from cge.examples import symmetric, three_by_three
from cge.welfare import COMPONENTS, decompose, log_mean
from cge.tolerance import limit, WALRAS_TERMS

pytestmark = pytest.mark.solver


def solve_pair(prim, shocked):
    eq = Equilibrium(prim)
    base = eq.solve()
    new = eq.solve(shocked)
    return decompose(base, new, prim, shocked), base, new


def test_log_mean():
    assert log_mean(2.0, 2.0) == pytest.approx(2.0)
    assert log_mean(1.0, np.e) == pytest.approx((np.e - 1.0))
    a, b = 0.3, 0.7
    assert min(a, b) < log_mean(a, b) < (a + b) / 2


def assert_exact(d, base):
    w = d.regions
    parts = w[list(COMPONENTS)].sum(axis=1)
    np.testing.assert_allclose(parts + w["residual"], w["total"], atol=1e-12)
    assert np.abs(w["residual"]).max() < limit(terms=WALRAS_TERMS), w["residual"]
    np.testing.assert_allclose(w["total"], 100 * np.log(1 + w["welfare_change_pct"] / 100), atol=1e-10)
    ev_parts = w[[f"ev_{c}" for c in COMPONENTS]].sum(axis=1) + w["ev_residual"]
    np.testing.assert_allclose(ev_parts, w["ev"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w["ev"], (base.regions["real_income"] * 0 + 1)
                               * base.regions["income"] * w["welfare_change_pct"] / 100, rtol=1e-10)
    s = d.sectors
    sparts = s[["input_cost", "tariffs", "trade_costs", "variety_domestic", "variety_imported",
                "selection_domestic", "selection_imported"]].sum(axis=1)
    np.testing.assert_allclose(sparts + s["residual"], s["price_index_drop"], atol=1e-12)
    assert np.abs(s["residual"]).max() < limit(terms=WALRAS_TERMS)


@pytest.mark.parametrize("shock", [
    lambda p: sh.tariff(p, "cut_pct", 50),
    lambda p: sh.tariff(p, "add", 0.2, importers="North", exporters="South"),
    lambda p: sh.iceberg(p, "cut_pct", 20, sectors="manufacturing"),
    lambda p: sh.endowment(p, "change_pct", 10, regions="South", factors="labour"),
    lambda p: sh.fixed_cost(p, "scale", 0.7),
    lambda p: sh.productivity(p, "change_pct", 5, regions="East"),
    lambda p: sh.deficit(p, "scale", 0.0),
], ids=["tariff_cut", "unilateral_tariff", "tau_cut", "population", "fixed_cost",
        "productivity", "close_deficits"])
def test_parts_sum_to_total(shock):
    p = three_by_three()
    d, base, _ = solve_pair(p, shock(p))
    assert_exact(d, base)


def test_symmetric_multilateral_tau_cut_signs():
    """Symmetric Melitz-Pareto economy, tau cut on every foreign route.

    Theory (Melitz 2003; Arkolakis, Costinot and Rodriguez-Clare 2012): the
    domestic cutoff rises (the least productive exit: domestic selection
    raises welfare) and exporters that are less productive than incumbents
    enter (imported selection lowers it); fewer domestic and more foreign
    sellers. With f_x > f the total number of varieties available falls, and
    average productivity of sellers rises. Weighted by expenditure, selection
    and variety net out exactly and the whole gain is the direct trade-cost
    effect, -sum_i lambda_ni dln tau_ni (ACR).
    """
    p = symmetric(regions=3, sectors=1, tau=1.5, f=1.0, f_x=1.5)
    d, base, new = solve_pair(p, sh.iceberg(p, "cut_pct", 40))
    assert_exact(d, base)
    w, s = d.regions, d.sectors
    assert (w["total"] > 0).all()
    np.testing.assert_allclose(w["trade_costs"], w["total"], atol=limit(100, terms=10))
    for c in ("variety", "selection", "terms_of_trade", "tariffs"):
        np.testing.assert_allclose(w[c], 0.0, atol=1e-8)
    assert (s["selection_domestic"] > 0).all() and (s["selection_imported"] < 0).all()
    assert (s["variety_domestic"] < 0).all() and (s["variety_imported"] > 0).all()
    assert (s["varieties_available_pct"] < 0).all()
    assert (s["seller_productivity_pct"] > 0).all()
    assert (new.compare(base).sectors["domestic_cutoff_pct"] > 0).all()


def test_symmetric_tariff_cut_has_no_revenue_effect_without_tariffs_left():
    p = symmetric(regions=2, sectors=1, tau=1.3, tariff=0.2)
    d, base, _ = solve_pair(p, sh.tariff(p, "set", 0.0))
    assert_exact(d, base)
    w = d.regions
    assert (w["total"] > 0).all() and (w["tariffs"] > 0).all()
    np.testing.assert_allclose(w["terms_of_trade"], 0.0, atol=1e-8)


@pytest.mark.parametrize("structure", ["krugman", "armington"])
def test_homogeneous_firm_models_have_no_selection(structure):
    p = symmetric(regions=2, sectors=1, tau=1.5, market_structure=structure)
    d, base, _ = solve_pair(p, sh.iceberg(p, "cut_pct", 40))
    assert_exact(d, base)
    np.testing.assert_allclose(d.regions["selection"], 0.0, atol=1e-10)
    if structure == "armington":
        np.testing.assert_allclose(d.regions["variety"], 0.0, atol=1e-10)


def test_components_do_not_depend_on_the_numeraire():
    # Deficits are fixed in numeraire units, so close them: then a different numeraire
    # describes the same real economy, and every component must be the same.
    p = sh.deficit(three_by_three(), "scale", 0.0)
    shocked = sh.tariff(p, "add", 0.2, importers="North", exporters="South")
    d1, _, _ = solve_pair(p, shocked)
    m = p.to_mapping()
    m["numeraire"] = {"factor": "labour", "region": "South", "value": 3.0}
    from cge import Primitives

    q = Primitives.from_mapping(m)
    d2, _, _ = solve_pair(q, q.copy(tariff=shocked["tariff"]))
    cols = list(COMPONENTS) + ["total"]
    np.testing.assert_allclose(d1.regions[cols], d2.regions[cols], atol=1e-7)
