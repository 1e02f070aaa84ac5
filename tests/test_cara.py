r"""The CARA market structure (Behrens, Mion, Murata and Suedekum; ``market_structure: cara``).

Expected numbers are computed here from the primitives and first principles
(the consumer's and the firm's problems solved numerically, integrals over
firms by quadrature), never read back from the model. Closed economy, one
sector, labour only, wage :math:`w`, population = workforce :math:`L`:
free entry makes profits the share :math:`\kappa_3/\kappa_1` of sales
:math:`wL`, so :math:`M_E = \kappa_3 L/(\kappa_1 f_E)`, and the budget
:math:`w = p^d\kappa_1 M_E (\varphi_{\min} p^d/w)^k/\alpha` gives the cost
cutoff

.. math:: m^* = \frac{p^d}{w} = \left(\frac{\alpha f_E}{\kappa_3 L \varphi_{\min}^k}\right)^{1/(k+1)} .
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq, minimize_scalar

from cge import Equilibrium, Numeraire, Primitives, examples
from cge.blocks.cara import cara_constants, lambert_w, markup_of_firm
from cge.errors import InputError
from cge.solve import check_structure
from cge.tolerance import WALRAS_TERMS, limit

REL = 1e-8


def closed(L=2.0, *, k=3.0, f_e=0.01, alpha=1.0, phi_min=1.0):
    d = examples.symmetric(1, 1, market_structure="cara", k=k, f_e=f_e, labour=L).to_mapping()
    d.update(population=L, cara_alpha=alpha, phi_min=phi_min)
    return Primitives.from_mapping(d)


def two_regions(L=(2.0, 1.0), *, tau=1.3, k=3.0, f_e=0.01):
    d = examples.symmetric(2, 1, market_structure="cara", k=k, f_e=f_e, tau=tau).to_mapping()
    d.update(population=list(L), endowment=[[x] for x in L])
    return Primitives.from_mapping(d)


def cost_cutoff_closed_form(L, k, f_e, alpha, phi_min):
    return (alpha * f_e / (cara_constants(k)["profit"] * L * phi_min ** k)) ** (1 / (k + 1))


# --------------------------------------------------------------- first principles
@pytest.mark.parametrize("c, pd", [(0.3, 1.0), (0.9, 1.0), (2.0, 7.5)])
def test_lambert_w_price_maximises_profit(c, pd):
    """p = c/W(e c/p^d) maximises (p - c) ln(p^d/p), the firm's profit per unit of 1/alpha."""
    best = minimize_scalar(lambda p: -(p - c) * math.log(pd / p), bounds=(c, pd),
                           method="bounded", options={"xatol": 1e-12})
    p, markup, margin = markup_of_firm(c, pd)
    assert p == pytest.approx(best.x, rel=1e-6)
    assert markup == pytest.approx(best.x / c, rel=1e-6)
    assert np.isnan(markup_of_firm(pd * 1.01, pd)[0])  # above the choke price: no sales


@pytest.mark.parametrize("k", [0.7, 2.0, 4.5])
def test_pareto_constants_against_integrals_over_firms(k):
    """The kappa's against direct integration over marginal input requirements m.

    A route with choke price p^d, delivered cost per unit of m ``d`` and
    Pareto(m_max, k) draws: sellers are m < m* = p^d/d; spending per consumer
    of a firm is p q = p (1 - W)/alpha, its variable cost c q, its
    sub-utility 1 - exp(-alpha q).
    """
    pd, d, m_max, alpha = 1.7, 0.9, 3.0, 2.5
    m_star = pd / d
    dens = lambda m: k * m ** (k - 1) / m_max ** k  # noqa: E731

    def over_firms(g):
        return quad(lambda m: g(d * m) * dens(m), 0, m_star, epsabs=1e-14, epsrel=1e-11,
                    limit=400)[0]

    def w(c):
        return lambert_w(math.e * c / pd)

    spend = over_firms(lambda c: c / w(c) * (1 - w(c)) / alpha)
    cost = over_firms(lambda c: c * (1 - w(c)) / alpha)
    util = over_firms(lambda c: 1 - math.exp(-(1 - w(c))))
    share = (m_star / m_max) ** k  # sellers per drawn firm
    kap = cara_constants(k)
    assert spend == pytest.approx(kap["spending"] * pd / alpha * share, rel=1e-8)
    assert cost == pytest.approx(kap["variable_cost"] * pd / alpha * share, rel=1e-8)
    assert spend - cost == pytest.approx(kap["profit"] * pd / alpha * share, rel=1e-8)
    assert util == pytest.approx(kap["utility"] * share, rel=1e-8)
    # Operating profits are the share 1/(k+1) of sales (stated in docs/model.md).
    assert kap["profit"] / kap["spending"] == pytest.approx(1 / (k + 1), rel=1e-9)


def test_choke_price_is_the_consumers_marginal_utility():
    """Given the sellers and their prices, the consumer's own optimum spends the budget at the
    model's choke price: solve the consumer's problem for p^d and compare."""
    L, k = 3.0, 3.0
    res = Equilibrium(closed(L, k=k)).solve()
    route = res.routes.iloc[0]
    pd_model, sellers, w = route["choke_price"], route["sellers"], 1.0
    m_star = route["cost_cutoff"]
    prices = lambda u: markup_of_firm(w * m_star * u ** (1 / k), pd_model)[0]  # noqa: E731

    def budget(pd):  # spending per consumer with demand (1/alpha) ln(pd/p), alpha = 1
        return sellers * quad(lambda u: prices(u) * max(math.log(pd / prices(u)), 0.0), 0, 1,
                              epsrel=1e-12, limit=200)[0]
    pd_consumer = brentq(lambda pd: budget(pd) - w, 0.5 * pd_model, 2 * pd_model, xtol=1e-14)
    assert pd_consumer == pytest.approx(pd_model, rel=1e-7)
    # Welfare per capita is the consumer's sub-utility (alpha = 1): sellers times the average
    # of 1 - exp(-alpha q) over them.
    util = sellers * quad(lambda u: 1 - math.exp(-math.log(pd_model / prices(u))), 0, 1,
                          epsrel=1e-12, limit=200)[0]
    assert res.regions.iloc[0]["real_income_per_capita"] == pytest.approx(util, rel=1e-7)


# ------------------------------------------------------------ closed economy
@pytest.mark.parametrize("L, k, f_e, alpha, phi_min",
                         [(2.0, 3.0, 0.01, 1.0, 1.0), (50.0, 1.5, 0.2, 0.5, 1.3)])
def test_closed_economy_cutoff(L, k, f_e, alpha, phi_min):
    res = Equilibrium(closed(L, k=k, f_e=f_e, alpha=alpha, phi_min=phi_min)).solve()
    route = res.routes.iloc[0]
    m_star = cost_cutoff_closed_form(L, k, f_e, alpha, phi_min)
    assert route["cost_cutoff"] == pytest.approx(m_star, rel=REL)
    assert route["choke_price"] == pytest.approx(m_star, rel=REL)  # w = 1 (numeraire)
    kap = cara_constants(k)
    entrants = kap["profit"] * L / (kap["spending"] * f_e)
    assert route["sellers"] == pytest.approx(entrants * (phi_min * m_star) ** k, rel=REL)


def test_market_size_is_pro_competitive_and_relative_markups_do_not_move():
    """A larger market lowers the cost cutoff and the margin p - c of a firm of given cost, and
    raises the number of varieties; the distribution of p/c among sellers stays the same."""
    k = 3.0
    small, large = (Equilibrium(closed(L, k=k)).solve().routes.iloc[0] for L in (2.0, 20.0))
    assert large["cost_cutoff"] < small["cost_cutoff"]
    assert large["sellers"] > small["sellers"]
    cost = 0.5 * large["cost_cutoff"]  # a firm that sells in both markets (wage 1 in both)
    _, markup_s, margin_s = markup_of_firm(cost, small["choke_price"])
    _, markup_l, margin_l = markup_of_firm(cost, large["choke_price"])
    assert margin_l < margin_s and markup_l < markup_s
    # Relative mark-ups among sellers: cost quantiles of the sellers (m = m* u^(1/k)).
    u = np.linspace(0.01, 0.99, 25)
    dist = [markup_of_firm(r["cost_cutoff"] * u ** (1 / k), r["choke_price"])[1]
            for r in (small, large)]
    np.testing.assert_allclose(dist[1], dist[0], rtol=1e-12)
    assert large["markup_mean"] == small["markup_mean"]
    assert large["margin_mean"] < small["margin_mean"]


def test_two_symmetric_regions_without_trade_costs_are_one_economy():
    one = Equilibrium(closed(4.0)).solve()
    two = Equilibrium(two_regions((2.0, 2.0), tau=1.0)).solve()
    r1 = one.routes.iloc[0]
    dom = two.routes.loc[("r0", "r0", "s0")]
    assert dom["choke_price"] == pytest.approx(r1["choke_price"], rel=REL)
    assert dom["cost_cutoff"] == pytest.approx(r1["cost_cutoff"], rel=REL)
    varieties = two.routes.xs("r0", level="destination")["sellers"].sum()
    assert varieties == pytest.approx(r1["sellers"], rel=REL)
    assert two.regions.loc["r0", "real_income_per_capita"] == pytest.approx(
        one.regions.loc["r0", "real_income_per_capita"], rel=REL)


# ------------------------------------------------------------- general properties
def test_homogeneity_walras_and_structure():
    prim = two_regions((3.0, 1.0), tau=1.5)
    eq = Equilibrium(prim)
    base = eq.solve()
    n, v = check_structure(eq.model)
    assert n == v
    assert abs(base.walras_residual) <= limit(base.regions["income"].max(), terms=WALRAS_TERMS)
    doubled = eq.solve(numeraire=2.0)
    for col in ("income", "cpi"):
        np.testing.assert_allclose(doubled.regions[col], 2 * base.regions[col], rtol=REL)
    for col in ("choke_price", "trade_value", "margin_mean"):
        np.testing.assert_allclose(doubled.routes[col], 2 * base.routes[col], rtol=REL)
    for col in ("cutoff", "sellers", "markup_mean"):
        np.testing.assert_allclose(doubled.routes[col], base.routes[col], rtol=REL)
    np.testing.assert_allclose(doubled.regions["real_income"], base.regions["real_income"], rtol=REL)


def test_acdr_gains_from_trade():
    """Arkolakis, Costinot, Donaldson and Rodriguez-Clare (2019): with Pareto draws and a choke
    price, d ln W = -(1 - eta) d ln lambda / k, where W is money-metric welfare (the local
    equivalent variation integrated along the path) and, for CARA, 1 - eta =
    k kappa_4 / ((k + 1) kappa_1).

    The local equivalent variation is computed from the consumer's envelope condition, not from
    the formula: d ln W = dU / (e * marginal utility of income) = p^d dU / (alpha e), with U the
    sub-utility per consumer (alpha times real income per capita) and e = w the budget.
    """
    k = 3.0
    kap = cara_constants(k)
    prim = two_regions((2.0, 1.0), tau=1.6, k=k)
    eq = Equilibrium(prim)
    path = [eq.solve()]
    for tau in np.linspace(1.6, 1.2, 5)[1:]:
        arr = prim["tau"].copy()
        arr[0, 1, 0] = arr[1, 0, 0] = tau
        path.append(eq.solve(tau=arr))
    n = "r0"  # the numeraire region: its wage is 1 throughout
    lam = [r.routes.loc[(n, n, "s0"), "trade_share"] for r in path]
    u = [r.regions.loc[n, "real_income_per_capita"] for r in path]
    pd = [r.routes.loc[(n, n, "s0"), "choke_price"] for r in path]
    e = [r.regions.loc[n, "income"] / r.regions.loc[n, "population"] for r in path]
    # d ln W = (p^d U / (alpha e)) d ln U, trapezoid in ln U (alpha = 1).
    integrand = [p * x / y for p, x, y in zip(pd, u, e)]
    ln_w = sum(0.5 * (a + b) * math.log(u1 / u0)
               for a, b, u0, u1 in zip(integrand, integrand[1:], u, u[1:]))
    acdr = -(k * kap["utility"] / ((k + 1) * kap["spending"])) / k * math.log(lam[-1] / lam[0])
    assert lam[-1] < lam[0]
    assert ln_w == pytest.approx(acdr, rel=1e-6)


# --------------------------------------------------------------- calibration
def _toy(structures, population=(3.0, 2.0, 2.5)):
    from calibration.calibrate import calibrate, set_start
    from calibration.examples import toy_benchmark
    data = toy_benchmark()
    data.market_structure = dict(zip(data.sectors, structures))
    prim, start = calibrate(data, population=list(population))
    eq = Equilibrium(prim)
    set_start(eq, start)
    return data, prim, eq


@pytest.mark.parametrize("structures", [("cara", "armington", "krugman"),
                                        ("melitz", "armington", "cara")])
def test_calibration_replicates_the_benchmark(structures):
    data, prim, eq = _toy(structures)
    base = eq.solve()
    assert base.info.get("iterations", 0) <= 1
    check_structure(eq.model)
    for (n, i, s), row in base.routes.iterrows():
        x = data.trade[data.regions.index(n), data.regions.index(i), data.sectors.index(s)]
        assert row["trade_value"] == pytest.approx(x, rel=REL), (n, i, s)
    np.testing.assert_allclose(base.sectors.xs("mfg", level="sector")["price_index"], 1.0,
                               rtol=REL)
    assert abs(base.walras_residual) <= limit(base.regions["income"].max(), terms=WALRAS_TERMS)
    # Homogeneity of the mixed economy: doubling the numeraire doubles every price and value.
    doubled = eq.solve(numeraire=2.0)
    np.testing.assert_allclose(doubled.regions["income"], 2 * base.regions["income"], rtol=REL)
    np.testing.assert_allclose(doubled.sectors["price_index"], 2 * base.sectors["price_index"],
                               rtol=REL)
    np.testing.assert_allclose(doubled.routes["trade_value"], 2 * base.routes["trade_value"],
                               rtol=REL)
    np.testing.assert_allclose(doubled.regions["real_income"], base.regions["real_income"],
                               rtol=REL)


def test_calibrated_counterfactual_does_not_depend_on_the_selection_normalisation():
    from calibration.calibrate import calibrate
    from calibration.examples import toy_benchmark
    data = toy_benchmark()
    data.market_structure = {"mfg": "cara", "agr": "armington", "srv": "krugman"}
    out = []
    for share in (0.5, 0.2):
        prim, _ = calibrate(data, population=[3.0, 2.0, 2.5], max_selection=share)
        eq = Equilibrium(prim)
        base = eq.solve()
        new = eq.solve(tariff=prim["tariff"] * 0.5)
        out.append(new.compare(base))
    np.testing.assert_allclose(out[0].welfare["welfare_change_pct"],
                               out[1].welfare["welfare_change_pct"], rtol=1e-7)
    np.testing.assert_allclose(out[0].routes["trade_value_pct"], out[1].routes["trade_value_pct"],
                               rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("field, value, named", [
    ("cara_alpha", 0.0, "cara_alpha[sector=s0]"),
    ("cara_alpha", -1.0, "cara_alpha[sector=s0]"),
    ("k", 0.0, "k[sector=s0]"),
    ("population", 0.0, "population[region=r0]"),
])
def test_bad_parameters_are_named(field, value, named):
    d = closed().to_mapping()
    d[field] = value
    with pytest.raises(InputError) as err:
        Equilibrium(Primitives.from_mapping(d)).solve()
    assert named in str(err.value)


def test_route_without_sales_is_named_in_calibration():
    from calibration.calibrate import CalibrationError, calibrate
    from calibration.examples import toy_benchmark
    data = toy_benchmark()
    data.market_structure = {"mfg": "melitz", "agr": "cara", "srv": "krugman"}
    with pytest.raises(CalibrationError) as err:
        calibrate(data)  # agr has no trade from East to North
    assert "destination=North, origin=East, sector=agr (cara): no sales" in str(err.value)


def test_welfare_decomposition_is_exact_with_cara_sectors():
    """The CARA price index, (k+1) dln P = dln(X/L) - sum_i w_ni dln[M_Ei phi_min^k
    ((1+t) tau c)^-k], splits the welfare change exactly (residual at solver precision)."""
    from cge.welfare import SECTOR_PARTS, decompose
    data, prim, eq = _toy(("cara", "armington", "krugman"))
    base = eq.solve()
    shocked = prim.copy()
    shocked.arrays["tariff"] = prim["tariff"] * 0.5
    shocked.arrays["population"] = prim["population"] * np.array([1.2, 1.0, 0.9])
    new = eq.solve(shocked)
    w = decompose(base, new, prim, shocked)
    assert np.abs(w.regions["residual"]).max() < 1e-7 * np.abs(w.regions["total"]).max()
    s = w.sectors
    np.testing.assert_allclose(s[list(SECTOR_PARTS)].sum(axis=1) + s["residual"],
                               s["price_index_drop"], atol=limit(s["price_index_drop"].abs().max()))
    assert np.abs(s["residual"]).max() < 1e-7
    assert (w.regions["market_size"].abs() > 1e-6).all()  # the CARA-only channel is at work


def test_origin_units_of_trade_costs_are_neutral():
    """Rescaling an origin's productivity units (tau[:, i] and phi_min[i] times b_i) changes no
    counterfactual; cara_tau='lowest' uses this where tau_ii = 1 would need tau < 1."""
    from calibration.calibrate import CalibrationError, calibrate, set_start
    from calibration.examples import toy_benchmark
    data = toy_benchmark()
    data.market_structure = {"mfg": "cara", "agr": "armington", "srv": "cara"}
    prim, _ = calibrate(data, population=[3.0, 2.0, 2.5])
    changes = []
    for b in (np.ones(3), np.array([1.0, 1.7, 1.2])):
        p = prim.copy()
        p.arrays["tau"] = prim["tau"] * b[None, :, None]
        p.arrays["phi_min"] = prim["phi_min"] * b[:, None]
        eq = Equilibrium(p)
        base = eq.solve()
        changes.append(eq.solve(tariff=p["tariff"] * 0.5).compare(base))
    np.testing.assert_allclose(changes[1].welfare["welfare_change_pct"],
                               changes[0].welfare["welfare_change_pct"], rtol=1e-7)
    with pytest.raises(CalibrationError, match="iceberg cost tau"):
        calibrate(data, population=[1.0, 4.0, 2.0])  # per-capita imports above home sales
    prim, start = calibrate(data, population=[1.0, 4.0, 2.0], cara_tau="lowest")
    tau = np.where(np.isfinite(prim["tau"]), prim["tau"], np.inf)
    np.testing.assert_allclose(tau[:, :, 0].min(axis=0), 1.0, rtol=1e-12)
    eq = Equilibrium(prim)
    set_start(eq, start)
    assert eq.solve().info["iterations"] <= 1


def test_every_firm_selling_is_a_named_selection_error():
    """A cost cutoff above the largest cost draw (every entrant sells) breaks the Pareto
    aggregates: the route is named with the cara remedy."""
    from cge.errors import SelectionError
    with pytest.raises(SelectionError, match=r"destination=r0, origin=r0, sector=s0.*cara_alpha"):
        Equilibrium(closed(1.0, f_e=1.0)).solve()


# --------------------------------------------------------------- reduced formulation
def _numeric_tables(res):
    return {name: getattr(res, name).select_dtypes("number")
            for name in ("routes", "sectors", "regions")}


#: The values that set the scale of each table (for columns that are zero up to rounding,
#: such as net profits under free entry: sales less costs).
VALUE_SCALE = {"routes": "trade_value", "sectors": "expenditure", "regions": "income"}


def _assert_same_results(a, b):
    """Every number of two results' tables agrees to 1e-9 of its column's scale (of the
    table's values where the column is zero up to rounding)."""
    ta, tb = _numeric_tables(a), _numeric_tables(b)
    for name in ta:
        _assert_same_table(ta[name], tb[name], name)


def _assert_same_table(ta, tb, name):
    from cge.tolerance import assert_close
    ta, tb = ta.select_dtypes("number"), tb.select_dtypes("number")
    table_scale = float(np.max(np.abs(tb[VALUE_SCALE[name]])))
    assert list(ta.index) == list(tb.index), name
    assert list(ta.columns) == list(tb.columns), name
    for col in ta.columns:
        x, y = ta[col].to_numpy(float), tb[col].to_numpy(float)
        finite = np.isfinite(y)
        assert np.array_equal(finite, np.isfinite(x)), (name, col)
        if finite.any():
            scale = float(np.max(np.abs(y[finite])))
            if scale < 1e-6 * table_scale:  # zero up to rounding: a difference of values
                scale = table_scale
            assert_close(x[finite], y[finite], scale=scale, rel=1e-9, err_msg=f"{name}.{col}")


@pytest.mark.parametrize("structures", [("cara", "cara", "cara"),
                                        ("cara", "melitz", "armington")])
def test_route_unknowns_and_closed_forms_give_the_same_equilibrium(structures):
    """Cutoffs and trade values as unknowns with their own equations (``route_unknowns``) or
    as closed forms of the aggregates: the same benchmark, replicated in 0 iterations, and
    the same counterfactual, with two equations fewer per CARA route."""
    import pyomo.environ as pyo

    from calibration.calibrate import calibrate, set_start
    from calibration.examples import toy_benchmark
    from cge.results import _sector_tables, _sector_tables_by_expression, route_logs
    data = toy_benchmark()
    data.market_structure = dict(zip(data.sectors, structures))
    # agr has a zero flow: an inactive route under CARA
    prim, start = calibrate(data, population=[3.0, 2.0, 2.5], cara_zero_flows="inactive")
    inactive = [(n, i, s) for j, s in enumerate(prim.sectors) for n in range(len(prim.regions))
                for i in range(len(prim.regions)) if not np.isfinite(prim["tau"][n, i, j])]
    assert inactive
    out, sizes = {}, {}
    for route_unknowns in (True, False):
        eq = Equilibrium(prim, route_unknowns=route_unknowns)
        set_start(eq, start)
        base = eq.solve()
        assert base.info.get("iterations") == 0, route_unknowns
        tau = prim["tau"] * np.where(np.eye(len(prim.regions))[:, :, None] > 0, 1.0, 0.9)
        cut = eq.solve(tariff=prim["tariff"] * 0.5, tau=tau)
        assert cut.info.get("iterations", 0) > 0
        out[route_unknowns] = (base, cut)
        nv, nc = check_structure(eq.model)
        sizes[route_unknowns] = nc
        blk = eq.model.sector[prim.sectors[0]]
        assert hasattr(blk, "choke_price_cutoff") == route_unknowns
        for s in prim.sectors:  # the array form of the route values, as the model has them
            b = eq.model.sector[s]
            arrays = _sector_tables(eq.model, s)
            expressions = _sector_tables_by_expression(eq.model, s)
            _assert_same_table(arrays[0], expressions[0], "routes")
            _assert_same_table(arrays[1], expressions[1], "sectors")
            ltv, lcut = route_logs(b)
            np.testing.assert_allclose(ltv, [pyo.value(b.log_trade_value[r]) for r in b.routes],
                                       rtol=0, atol=1e-12 * np.max(np.abs(ltv)))
            if b.selects:
                np.testing.assert_allclose(lcut, [pyo.value(b.log_cutoff[r]) for r in b.routes],
                                           rtol=0, atol=1e-12 * np.max(np.abs(lcut)))
        for n, i, s in inactive:  # absent from the system and from the results
            assert (prim.regions[n], prim.regions[i]) not in list(eq.model.sector[s].routes)
            assert (prim.regions[n], prim.regions[i], s) not in cut.routes.index
    def routes_of(ms):
        return sum(int(np.isfinite(prim["tau"][:, :, j]).sum())
                   for j, s in enumerate(prim.sectors) if prim.market_structure[s] == ms)

    # two route equations dropped under cara and melitz (cutoff, trade), one under armington
    assert sizes[True] - sizes[False] == (2 * routes_of("cara") + 2 * routes_of("melitz")
                                          + routes_of("armington"))
    for k in (0, 1):
        _assert_same_results(out[True][k], out[False][k])


def test_inactive_cara_route_stays_inactive_in_both_formulations():
    prim = examples.symmetric(3, 1, tau=1.4, market_structure="cara", k=3.0, f_e=0.01)
    tau = prim["tau"].copy()
    tau[0, 2, 0] = math.inf  # r0 buys nothing from r2
    prim = prim.copy(tau=tau)
    res = {}
    for route_unknowns in (True, False):
        eq = Equilibrium(prim, route_unknowns=route_unknowns)
        res[route_unknowns] = eq.solve()
        assert ("r0", "r2") not in list(eq.model.sector["s0"].routes)
        r = res[route_unknowns]
        assert ("r0", "r2", "s0") not in r.routes.index
        assert ("r2", "r0", "s0") in r.routes.index
        assert r.max_residual < limit() and abs(r.walras_residual) < limit(
            r.regions["income"].max(), terms=WALRAS_TERMS)
        p = r.sectors["price_index"]
        assert p[("r0", "s0")] > p[("r1", "s0")]
    _assert_same_results(res[True], res[False])
