"""Melitz and Ottaviano (2008) as in Melitz and Redding (2014), section 8 (cge.melitz_ottaviano).

Expected values come from MR's closed forms (eq. 28 and the closed-economy
cutoff) or from integrals over firms computed here; the model solves its own
linear systems.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from cge.melitz_ottaviano import MOError, solve_melitz_ottaviano

# c_D = 1 at L = 1000; spending on differentiated goods 16% of income
PAR = dict(alpha=2.0, gamma=1.0, eta=5.0, k=3.0, c_max=2.0, f_e=3.125)
REL = 1e-10


def phi(k, c_max, f_e):
    return 2 * (k + 1) * (k + 2) * c_max ** k * f_e


def closed(L, **kw):
    par = {**PAR, **kw}
    return solve_melitz_ottaviano(["A"], [L], [[1.0]], **par).table.loc["A"]


@pytest.mark.parametrize("L", [1e3, 5e4])
def test_closed_economy_cutoff(L):
    out = closed(L)
    expected = (PAR["gamma"] * phi(PAR["k"], PAR["c_max"], PAR["f_e"]) / L) ** (1 / (PAR["k"] + 2))
    assert out["cost_cutoff"] == pytest.approx(expected, rel=REL)


def test_symmetric_open_economy_cutoff_mr_eq_28():
    m, tau, L = 3, 1.4, 2e3
    t = np.full((m, m), tau)
    np.fill_diagonal(t, 1.0)
    out = solve_melitz_ottaviano(list("ABC"), L, t, **PAR)
    k = PAR["k"]
    expected = (PAR["gamma"] * phi(k, PAR["c_max"], PAR["f_e"])
                / (L * (1 + (m - 1) * tau ** -k))) ** (1 / (k + 2))
    np.testing.assert_allclose(out.table["cost_cutoff"], expected, rtol=REL)
    np.testing.assert_allclose(out.export_cutoff.loc["A", "B"], expected / tau, rtol=REL)


def test_market_size_is_pro_competitive_and_relative_markups_do_not_move():
    small, large = closed(1e3), closed(1e4)
    assert large["cost_cutoff"] < small["cost_cutoff"]
    assert large["sellers"] > small["sellers"]
    c = 0.5 * large["cost_cutoff"]
    assert (large["cost_cutoff"] - c) / 2 < (small["cost_cutoff"] - c) / 2  # margin p - c
    # p/c = (c_D + c)/(2c) at the same quantile z = c/c_D of the sellers' costs
    z = np.linspace(0.05, 0.95, 10)
    rel = [((r["cost_cutoff"] + z * r["cost_cutoff"]) / (2 * z * r["cost_cutoff"]))
           for r in (small, large)]
    np.testing.assert_allclose(rel[0], rel[1], rtol=1e-14)
    assert large["welfare_per_capita"] > small["welfare_per_capita"]


def test_two_symmetric_regions_without_trade_costs_are_one_economy():
    """tau -> 1 (at tau = 1 exactly firm location is indeterminate: a named error)."""
    one = closed(2e3)
    t = np.array([[1.0, 1 + 1e-6], [1 + 1e-6, 1.0]])
    two = solve_melitz_ottaviano(["A", "B"], 1e3, t, **PAR).table
    for col in ("cost_cutoff", "sellers", "welfare_per_capita", "mean_price"):
        assert two.loc["A", col] == pytest.approx(one[col], rel=1e-5)
    assert two["entrants"].sum() == pytest.approx(one["entrants"], rel=1e-5)
    with pytest.raises(MOError, match="firm location is indeterminate"):
        solve_melitz_ottaviano(["A", "B"], 1e3, np.ones((2, 2)), **PAR)


def test_welfare_and_spending_against_integrals_over_firms():
    """MR's indirect utility against MO's closed form U = 1 + (alpha - c_D)(alpha -
    (k+1)c_D/(k+2))/(2 eta); spending per head against the integral of p q over sellers."""
    k, g, a, e = PAR["k"], PAR["gamma"], PAR["alpha"], PAR["eta"]
    r = closed(2e3)
    cd = r["cost_cutoff"]
    assert r["welfare_per_capita"] == pytest.approx(
        1 + (a - cd) * (a - (k + 1) / (k + 2) * cd) / (2 * e), rel=1e-12)
    per_seller = quad(lambda c: (cd + c) / 2 * (cd - c) / (2 * g) * k * c ** (k - 1) / cd ** k,
                      0, cd)[0]
    assert r["spending_differentiated_per_capita"] == pytest.approx(r["sellers"] * per_seller,
                                                                    rel=1e-10)


def test_outside_good_not_produced_names_the_region():
    """A small country with a low entry cost next to a large one: its firms need more workers
    than it has, so it cannot produce the numeraire good and its wage is not 1."""
    t = np.array([[1.0, 1.2], [1.2, 1.0]])
    ok = solve_melitz_ottaviano(["A", "B"], [1e4, 1e3], t, **{**PAR, "f_e": [3.125, 2.0]})
    assert (ok.table["labour_differentiated"] < ok.table["population"]).all()
    with pytest.raises(MOError, match=r"region=B: the outside \(numeraire\) good is not produced"):
        solve_melitz_ottaviano(["A", "B"], [1e4, 600.0], t, **{**PAR, "f_e": [3.125, 1.9]})


@pytest.mark.parametrize("field, value, named", [("alpha", 0.0, "alpha"), ("k", -1.0, "k"),
                                                 ("population", 0.0, "population[region=A]")])
def test_bad_parameters_are_named(field, value, named):
    par = {**PAR}
    L = 1e3
    if field == "population":
        L = value
    else:
        par[field] = value
    with pytest.raises(MOError, match=named.replace("[", r"\[").replace("]", r"\]")):
        solve_melitz_ottaviano(["A"], [L], [[1.0]], **par)
