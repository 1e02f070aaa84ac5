r"""The economics: equilibrium outcomes against closed forms computed from the parameters.

Every expected number here is computed in the test from the primitives
(Melitz and Redding 2014, "MR"; Arkolakis, Costinot and Rodriguez-Clare 2012,
"ACR"), never read back from the model. Conventions (see ``conftest.py``):
trade values are c.i.f. net of the tariff, fixed costs are paid in the
origin's composite input, ``entry_mass`` is entrants per period and the stock
of firms is ``entry_mass / delta``.

Useful derivations used below (one sector, labour only, :math:`c_n = w_n`):

* Domestic zero-cutoff profit with :math:`t_{nn} = 0` gives
  :math:`P_n = (\sigma f_{nn} w_n / X_n)^{1/(\sigma-1)} w_n / (\rho\varphi^*_{nn})`.
* Free entry with Pareto makes revenue :math:`R_i = \sigma k c_i f_{E,i} M_{Ei}/(\sigma-1)`,
  and revenue equals input spending :math:`w_i \bar L_i`, so
  :math:`M_{Ei} = (\sigma-1)\bar L_i/(\sigma k f_{E,i})` whatever the trade costs.
* Domestic trade :math:`X_{nn} = \lambda_{nn} X_n` then pins
  :math:`(\varphi^*_{nn})^k \propto \bar L_n / (\lambda_{nn} X_n/w_n)`, and with
  :math:`U_n = I_n / P_n`, :math:`X_n = I_n`:

  .. math:: \hat U_n = \hat\lambda_{nn}^{-1/k}\,
            \widehat{(I_n/w_n)}^{\,\sigma/(\sigma-1) - 1/k}

  which is ACR's :math:`\hat\lambda_{nn}^{-1/k}` when income is factor income
  only (no tariffs, balanced trade). Krugman and Armington give
  :math:`\hat U_n = \hat\lambda_{nn}^{-1/(\sigma-1)}\,\widehat{(I_n/w_n)}`.
"""

from __future__ import annotations

import numpy as np
import pytest

from cge import Equilibrium, Numeraire, Primitives, examples
from cge.tolerance import limit, WALRAS_TERMS

from conftest import (
    REL, asymmetric_economy, closed_economy, domestic_share, foreign_mask, head_ries,
    multisector_economy,
)

approx = pytest.approx


# =====================================================================
# 1. Closed economy
# =====================================================================
CLOSED_CASES = [
    # sigma, k, delta, L, f, f_e, phi_min, wage (numeraire value)
    (3.0, 4.0, 1.0, 10.0, 2.0, 1.5, 1.3, 1.0),
    (3.0, 4.0, 0.35, 10.0, 2.0, 1.5, 1.3, 1.0),
    (5.0, 7.5, 0.1, 3.7, 0.6, 2.2, 0.8, 2.5),
]


@pytest.mark.parametrize("sigma,k,delta,L,f,f_e,phi_min,w", CLOSED_CASES)
def test_closed_economy_melitz(solve, sigma, k, delta, L, f, f_e, phi_min, w):
    prim = closed_economy(sigma=sigma, k=k, delta=delta, L=L, f=f, f_e=f_e, phi_min=phi_min)
    prim.numeraire = Numeraire("factor", "home", "labour", w)
    _, res = solve(prim)
    sec = res.sectors.loc[("home", "goods")]
    reg = res.regions.loc["home"]

    # Cutoff from free entry + zero-cutoff profit (MR sec. 6 with exit rate delta).
    phi_star = phi_min * ((sigma - 1) / (k - sigma + 1) * f / (delta * f_e)) ** (1 / k)
    assert sec["domestic_cutoff"] == approx(phi_star, rel=REL)
    assert res.routes.loc[("home", "home", "goods"), "cutoff"] == approx(phi_star, rel=REL)

    # Entrants per period, MR eq. (22): M_E f_E w = (sigma-1)/(sigma k) w L,
    # independent of delta (delta scales the stock M_E/delta, not the flow).
    M_E = (sigma - 1) * L / (sigma * k * f_e)
    assert sec["entry_mass"] == approx(M_E, rel=REL)
    assert sec["entry_mass"] * f_e * w == approx((sigma - 1) / (sigma * k) * w * L, rel=REL)

    # Producers M = R / rbar = L (k-sigma+1) / (sigma k f) (MR sec. 4.2 with Pareto).
    M = (k - sigma + 1) * L / (sigma * k * f)
    assert sec["producers"] == approx(M, rel=REL)

    # Price index, MR eq. (12) with beta = 1: revenue = w L, f in labour units.
    P = sigma / (sigma - 1) * (f * sigma / L) ** (1 / (sigma - 1)) * w / phi_star
    assert sec["price_index"] == approx(P, rel=REL)
    assert reg["real_income"] == approx(w * L / P, rel=REL)
    assert reg["income"] == approx(w * L, rel=REL)
    assert res.factors.loc[("home", "labour"), "factor_price"] == approx(w, rel=REL)

    # Melitz's average productivity: P = M^{1/(1-sigma)} p(phi_tilde).
    phi_tilde = phi_star * (k / (k - sigma + 1)) ** (1 / (sigma - 1))
    assert sec["average_productivity"] == approx(phi_tilde, rel=REL)
    assert M ** (1 / (1 - sigma)) * sigma / (sigma - 1) * w / phi_tilde == approx(P, rel=REL)


@pytest.mark.parametrize("delta", [1.0, 0.3])
def test_closed_economy_krugman(solve, delta):
    sigma, L, f_e, phi_min = 4.0, 6.0, 0.7, 1.4
    _, res = solve(closed_economy(sigma=sigma, delta=delta, L=L, f_e=f_e, phi_min=phi_min,
                                  market_structure="krugman"))
    sec = res.sectors.loc[("home", "goods")]
    # Free entry: revenue/sigma = w f_E M_E with revenue w L.
    M_E = L / (sigma * f_e)
    assert sec["entry_mass"] == approx(M_E, rel=REL)
    assert sec["producers"] == approx(M_E / delta, rel=REL)
    P = sigma / (sigma - 1) / phi_min * (M_E / delta) ** (1 / (1 - sigma))
    assert sec["price_index"] == approx(P, rel=REL)
    assert res.welfare["home"] == approx(L / P, rel=REL)


def test_closed_economy_armington(solve):
    L, phi_min = 6.0, 1.4
    _, res = solve(closed_economy(L=L, phi_min=phi_min, market_structure="armington"))
    assert res.sectors.loc[("home", "goods"), "price_index"] == approx(1 / phi_min, rel=REL)
    assert res.welfare["home"] == approx(L * phi_min, rel=REL)


@pytest.mark.parametrize("delta", [1.0, 0.25])
def test_closed_economy_fixed_entry(solve, delta):
    """Chaney (2008): a fixed stock Mbar of firms has drawn productivities; profits are
    income. Labour market: rho R + w f M = w L, with average seller revenue
    sigma k w f/(k-sigma+1), gives R = sigma k w L/(sigma k - sigma + 1)."""
    sigma, k, L, f, phi_min, Mbar, w = 3.0, 4.0, 10.0, 2.0, 1.3, 5.0, 1.4
    data = closed_economy(sigma=sigma, k=k, delta=delta, L=L, f=f, phi_min=phi_min).to_mapping()
    data.update(entry="fixed", entrants=Mbar, numeraire={"factor": "labour", "value": w})
    _, res = solve(Primitives.from_mapping(data))
    R = sigma * k * w * L / (sigma * k - sigma + 1)
    M = R * (k - sigma + 1) / (sigma * k * w * f)
    phi = phi_min * (Mbar / M) ** (1 / k)
    P = (sigma * w * f / R) ** (1 / (sigma - 1)) * w * sigma / ((sigma - 1) * phi)
    sec, reg = res.sectors.loc[("home", "goods")], res.regions.loc["home"]
    assert sec["entry_mass"] == approx(delta * Mbar, rel=REL)   # entrants per period
    assert sec["producers"] == approx(M, rel=REL)
    assert sec["domestic_cutoff"] == approx(phi, rel=REL)
    assert sec["output"] == approx(R, rel=REL)
    assert reg["profits"] == approx(R * (sigma - 1) / (sigma * k), rel=REL)
    assert reg["income"] == approx(R, rel=REL)
    assert sec["price_index"] == approx(P, rel=REL)
    assert reg["real_income"] == approx(R / P, rel=REL)


def test_closed_economy_several_sectors(solve):
    """MR eq. (24): P_s = sigma_s/(sigma_s-1) (f_s sigma_s/(beta_s L))^(1/(sigma_s-1)) w/phi*_s,
    and utility prod_s Q_s^beta_s with Q_s = beta_s w L / P_s."""
    sigma, k, delta = [3.0, 4.5, 6.0], [4.0, 5.0, 7.0], [1.0, 0.2, 0.5]
    beta, f, f_e, phi_min = [0.2, 0.3, 0.5], [2.0, 1.2, 0.9], [1.5, 0.4, 0.6], [1.3, 0.9, 1.1]
    L, w = 7.0, 1.6
    S = ["a", "b", "c"]
    prim = Primitives.from_mapping({
        "regions": ["home"], "sectors": S, "factors": ["labour"],
        "sigma": sigma, "k": k, "delta": delta, "beta": {"home": beta}, "endowment": L,
        "factor_share": 1.0, "f": {"home": {"home": f}}, "f_e": {"home": f_e},
        "phi_min": {"home": phi_min}, "numeraire": {"factor": "labour", "value": w},
    })
    _, res = solve(prim)
    utility = 1.0
    for j, s in enumerate(S):
        sg, kk = sigma[j], k[j]
        phi = phi_min[j] * ((sg - 1) / (kk - sg + 1) * f[j] / (delta[j] * f_e[j])) ** (1 / kk)
        P = sg / (sg - 1) * (f[j] * sg / (beta[j] * L)) ** (1 / (sg - 1)) * w / phi
        sec = res.sectors.loc[("home", s)]
        assert sec["domestic_cutoff"] == approx(phi, rel=REL), s
        assert sec["price_index"] == approx(P, rel=REL), s
        assert sec["entry_mass"] == approx((sg - 1) * beta[j] * L / (sg * kk * f_e[j]), rel=REL)
        utility *= (beta[j] * w * L / P) ** beta[j]
    # real income is I / prod_s P_s^beta_s (the CPI normalised to 1 at unit prices):
    # utility prod_s Q_s^beta_s divided by the constant prod_s beta_s^beta_s
    normalisation = np.prod(np.array(beta) ** np.array(beta))
    assert res.welfare["home"] == approx(utility / normalisation, rel=REL)


# =====================================================================
# 2. Symmetric countries: export / domestic cutoffs
# =====================================================================
@pytest.mark.parametrize("regions,sectors", [(2, 1), (3, 2)])
@pytest.mark.parametrize("tariff", [0.0, 0.12])
def test_symmetric_cutoff_ratio(solve, regions, sectors, tariff):
    sigma, k, tau, f, f_x, f_e, delta = 3.8, 5.0, 1.3, 1.0, 1.7, 0.8, 0.5
    prim = examples.symmetric(regions, sectors, sigma=sigma, k=k, tau=tau, f=f, f_x=f_x,
                              f_e=f_e, delta=delta, tariff=tariff)
    _, res = solve(prim)
    # Zero-cutoff profits in the same market: (1+t)^-sigma tau^(1-sigma) phi_x^(sigma-1)
    # / f_x = phi_d^(sigma-1) / f.
    ratio = tau * (1 + tariff) ** (sigma / (sigma - 1)) * (f_x / f) ** (1 / (sigma - 1))
    # Free entry: sum_n f_n (phi_min/phi_n)^k = delta f_E (k-sigma+1)/(sigma-1).
    phi_d = ((sigma - 1) / (k - sigma + 1) * (f + (regions - 1) * f_x * ratio ** -k)
             / (delta * f_e)) ** (1 / k)
    cut = res.routes["cutoff"]
    for (n, i, s), value in cut.items():
        expected = phi_d if n == i else phi_d * ratio
        assert value == approx(expected, rel=REL), (n, i, s)
    assert res.sectors["exporter_share"].to_numpy() == approx(ratio ** -k, rel=REL)
    # By symmetry every wage equals the numeraire wage.
    assert res.factors["factor_price"].to_numpy() == approx(1.0, rel=REL)
    assert tariff == 0 or (res.regions["tariff_revenue"] > 0).all()


# =====================================================================
# 3. ACR: welfare from the domestic trade share
# =====================================================================
def _tau_shock(prim):
    """Asymmetric cuts (and one rise) of iceberg costs on foreign routes."""
    factors = np.array([[1.0, 0.8, 0.9], [0.85, 1.0, 1.05], [0.75, 0.95, 1.0]])
    nR = len(prim.regions)
    return prim["tau"] * factors[:nR, :nR, None]


def _f_shock(prim):
    """Asymmetric changes of fixed export costs (domestic f unchanged)."""
    factors = np.array([[1.0, 0.6, 1.3], [0.7, 1.0, 0.9], [1.2, 0.8, 1.0]])
    nR = len(prim.regions)
    return prim["f"] * factors[:nR, :nR, None]


ACR_CASES = [
    ("melitz", 2, "tau"), ("melitz", 3, "tau"), ("melitz", 2, "f"), ("melitz", 3, "f"),
    ("krugman", 2, "tau"), ("krugman", 3, "tau"),
    ("armington", 2, "tau"), ("armington", 3, "tau"),
]


@pytest.mark.parametrize("market_structure,regions,shock", ACR_CASES)
def test_acr_welfare_formula(market_structure, regions, shock):
    prim = asymmetric_economy(regions, market_structure=market_structure)
    eq = Equilibrium(prim)
    base = eq.solve()
    if shock == "tau":
        new = eq.solve(tau=_tau_shock(prim))
    else:
        new = eq.solve(f=_f_shock(prim))
    sigma, k = prim["sigma"][0], prim["k"][0]
    epsilon = k if market_structure == "melitz" else sigma - 1
    for n in prim.regions:
        lam_hat = domestic_share(new, n, "goods") / domestic_share(base, n, "goods")
        assert abs(np.log(lam_hat)) > 1e-3, "shock too small to test anything"
        u_hat = new.welfare[n] / base.welfare[n]
        assert u_hat == approx(lam_hat ** (-1 / epsilon), rel=REL), n


def test_generalised_acr_with_tariffs_and_deficits():
    """With tariff revenue and deficits income is no longer w L; the exact formula is
    U^ = lambda^^(-1/k) (I/w)^^(sigma/(sigma-1) - 1/k) (see the module docstring)."""
    prim = asymmetric_economy(3, deficit={"A": 0.1, "B": -0.25, "C": 0.15},
                              tariff={"A": {"B": 0.1, "C": 0.05}, "C": {"A": 0.2}})
    eq = Equilibrium(prim)
    base = eq.solve()
    tariff = prim["tariff"].copy()
    tariff[0, 1, 0] = 0.0            # A removes its tariff on B
    tariff[1, 2, 0] = 0.15           # B taxes C
    new = eq.solve(tariff=tariff, tau=_tau_shock(prim))
    sigma, k = prim["sigma"][0], prim["k"][0]
    for n in prim.regions:
        lam_hat = domestic_share(new, n, "goods") / domestic_share(base, n, "goods")
        w0 = base.factors.loc[(n, "labour"), "factor_price"]
        w1 = new.factors.loc[(n, "labour"), "factor_price"]
        y_hat = (new.regions.loc[n, "income"] / w1) / (base.regions.loc[n, "income"] / w0)
        assert abs(np.log(y_hat)) > 1e-3
        expected = lam_hat ** (-1 / k) * y_hat ** (sigma / (sigma - 1) - 1 / k)
        assert new.welfare[n] / base.welfare[n] == approx(expected, rel=REL), n


# =====================================================================
# 4. Several sectors, labour only: MR section 6 with labour reallocation
# =====================================================================
def test_multisector_welfare_with_labour_reallocation():
    prim = multisector_economy()
    eq = Equilibrium(prim)
    base = eq.solve()
    tau = prim["tau"].copy()
    tau[0, 1, 0] = 1.1    # A's imports of s1 from B get cheaper
    tau[1, 0, 0] = 1.2    # and B's imports of s1 from A
    tau[1, 0, 1] = 1.7    # B's imports of s2 from A dearer
    new = eq.solve(tau=tau)

    def labour(res, n, s):
        # Labour in (n, s) = factor share (1) x c Y / w, as a share of n's labour.
        spend = res.sectors["input_price"] * res.sectors["input_demand"]
        return spend[(n, s)] / spend.xs(n, level="region").sum()

    for n in prim.regions:
        i = prim.regions.index(n)
        expected, naive = 1.0, 1.0
        moved = 0.0
        for j, s in enumerate(prim.sectors):
            beta, k = prim["beta"][i, j], prim["k"][j]
            lam_hat = domestic_share(new, n, s) / domestic_share(base, n, s)
            l_hat = labour(new, n, s) / labour(base, n, s)
            moved = max(moved, abs(np.log(l_hat)))
            expected *= (lam_hat / l_hat) ** (-beta / k)
            naive *= lam_hat ** (-beta / k)
        u_hat = new.welfare[n] / base.welfare[n]
        assert u_hat == approx(expected, rel=REL), n
        # Labour does move between sectors, so the reallocation term matters.
        assert moved > 1e-3
        assert abs(u_hat / naive - 1) > 1e-5


# =====================================================================
# 5. Trade elasticity: Head-Ries index
# =====================================================================
def _head_ries_closed_form(prim, n, i, j):
    """(X_ni X_in)/(X_nn X_ii) from parameters alone: every importer and exporter
    term of the gravity equation (MR eq. 21, with tariffs) cancels."""
    s = prim.sectors[j]
    sigma, k = prim["sigma"][j], prim["k"][j]
    tau, t, f, a = (prim[x][:, :, j] for x in ("tau", "tariff", "f", "pref_weight"))
    tt = tau[n, i] * tau[i, n]
    gross = (1 + t[n, i]) * (1 + t[i, n])
    ms = prim.market_structure[s]
    if ms == "melitz":
        return (tt ** -k * gross ** (-sigma * k / (sigma - 1))
                * (f[n, i] * f[i, n] / (f[n, n] * f[i, i])) ** (1 - k / (sigma - 1)))
    weight = a[n, i] * a[i, n] / (a[n, n] * a[i, i]) if ms == "armington" else 1.0
    return weight * tt ** (1 - sigma) * gross ** -sigma


def test_head_ries_levels(three_by_three):
    """The identity holds in levels in the full example (IO, tariffs, deficits)."""
    prim, res = three_by_three
    R = prim.regions
    for j, s in enumerate(prim.sectors):
        for a in range(len(R)):
            for b in range(a + 1, len(R)):
                got = head_ries(res, R[a], R[b], s)
                assert got == approx(_head_ries_closed_form(prim, a, b, j), rel=REL), (R[a], R[b], s)


def test_trade_elasticity():
    """d ln HR / d ln tau_ni = -k (melitz) and 1 - sigma (krugman, armington), in GE."""
    prim = examples.three_by_three()
    eq = Equilibrium(prim)
    base = eq.solve()
    n, i = "South", "North"
    a, b = prim.regions.index(n), prim.regions.index(i)
    dlog = {"agriculture": 0.01, "manufacturing": -0.012, "services": 0.008}
    tau = prim["tau"].copy()
    for j, s in enumerate(prim.sectors):
        tau[a, b, j] *= np.exp(dlog[s])
    new = eq.solve(tau=tau)
    for j, s in enumerate(prim.sectors):
        elasticity = np.log(head_ries(new, n, i, s) / head_ries(base, n, i, s)) / dlog[s]
        sigma, k = prim["sigma"][j], prim["k"][j]
        expected = -k if prim.market_structure[s] == "melitz" else 1 - sigma
        # A difference quotient of log values, each accurate to ~1e-10, over a
        # log change of ~1e-2: accuracy ~1e-8 relative.
        assert elasticity == approx(expected, rel=1e-7), s


# =====================================================================
# 6. Homogeneity of degree one in the numeraire value
# =====================================================================
NOMINAL = {
    "regions": ["income", "cpi", "factor_income", "tariff_revenue", "profits", "deficit",
                "exports", "imports", "trade_balance"],
    "factors": ["factor_price"],
    "sectors": ["price_index", "expenditure", "input_price", "output", "tariff_revenue",
                "profit", "net_profit"],
    "routes": ["trade_value", "trade_value_gross", "tariff_revenue"],
}
REAL = {
    "regions": ["real_income"],
    "sectors": ["input_demand", "entry_mass", "producers", "domestic_cutoff",
                "exporter_share", "average_productivity"],
    "routes": ["trade_share", "cutoff", "sellers", "average_productivity"],
}


def _assert_scaled(new, base, scale):
    """Nominal columns of ``new`` are ``scale`` times those of ``base``; real ones equal."""
    # Values that are zero in theory (free-entry profits) are roundoff: compare
    # them on the scale of incomes.
    atol = 1e-11 * abs(scale) * base.regions["income"].max()
    for table, cols in NOMINAL.items():
        b, n = getattr(base, table), getattr(new, table)
        for c in cols:
            np.testing.assert_allclose(n[c].to_numpy(), scale * b[c].to_numpy(), rtol=REL,
                                       atol=atol, err_msg=f"{table}.{c}")
    for table, cols in REAL.items():
        b, n = getattr(base, table), getattr(new, table)
        for c in cols:
            np.testing.assert_allclose(n[c].to_numpy(), b[c].to_numpy(), rtol=REL,
                                       err_msg=f"{table}.{c}")


def test_homogeneity_numeraire_shock(three_by_three):
    prim, base = three_by_three
    assert (base.regions["deficit"].abs() > 0).any() and (base.regions["tariff_revenue"] > 0).any()
    eq = Equilibrium(prim)
    eq.solve()
    doubled = eq.solve(numeraire=2.0)
    _assert_scaled(doubled, base, 2.0)


def test_homogeneity_fresh_model(three_by_three):
    prim, base = three_by_three
    prim2 = prim.copy()
    prim2.numeraire = Numeraire("factor", "North", "labour", 2.0)
    _assert_scaled(Equilibrium(prim2).solve(), base, 2.0)


# =====================================================================
# 7. Invariance to the choice of numeraire
# =====================================================================
@pytest.mark.parametrize("numeraire", [
    Numeraire("factor", "South", "labour"),
    Numeraire("factor", "East", "capital_services"),
    Numeraire("price_index", "East", "manufacturing"),
    Numeraire("cpi", "South"),
])
def test_numeraire_invariance(three_by_three, numeraire):
    """The same economy measured in another numeraire: identical real outcomes, and
    every nominal value is the base value divided by the base price of the new
    numeraire. Deficits are in numeraire units, so they are restated in the new
    unit (D / p) to describe the same economy."""
    prim, base = three_by_three
    if numeraire.kind == "factor":
        p = base.factors.loc[(numeraire.region, numeraire.label), "factor_price"]
    elif numeraire.kind == "price_index":
        p = base.sectors.loc[(numeraire.region, numeraire.label), "price_index"]
    else:
        p = base.regions.loc[numeraire.region, "cpi"]
    assert abs(p - 1) > 1e-3, "pick a numeraire whose base price is not already 1"
    other = prim.copy(deficit=prim["deficit"] / p)
    other.numeraire = numeraire
    res = Equilibrium(other).solve()
    _assert_scaled(res, base, 1 / p)


# =====================================================================
# 8. Walras' law and the accounting identities
# =====================================================================
def _with_fixed_entry(prim: Primitives, sector: str, entrants: float) -> Primitives:
    data = prim.to_mapping()
    data["entry"] = {sector: "fixed"}
    data["entrants"] = {"*": {"*": 1.0, sector: entrants}}
    return Primitives.from_mapping(data)


def check_accounting(prim: Primitives, res) -> None:
    """Walras' law, the trade balance and every market, recomputed from the results
    and the parameters."""
    reg, sec, fac = res.regions, res.sectors, res.factors
    R, S, F = prim.regions, prim.sectors, prim.factors
    scale = reg["income"].max()

    assert abs(res.walras_residual) < limit(terms=WALRAS_TERMS)

    # Sign convention: deficit D_n > 0 means n imports more than it exports:
    # exports - imports = -D_n (both c.i.f., net of tariffs), in value terms
    # D_n times the numeraire value.
    deficit = prim["deficit"] * prim.numeraire.value
    np.testing.assert_allclose(reg["trade_balance"].to_numpy(), -deficit, atol=limit(scale, terms=len(R)))
    np.testing.assert_allclose(reg["deficit"].to_numpy(), deficit, atol=1e-12 * scale)
    assert abs(reg["trade_balance"].sum()) < limit(scale, terms=len(R))
    assert abs(reg["exports"].sum() - reg["imports"].sum()) < limit(scale, terms=len(R))

    # Income = factor income + tariff revenue + profits + deficit.
    income = reg["factor_income"] + reg["tariff_revenue"] + reg["profits"] + reg["deficit"]
    np.testing.assert_allclose(reg["income"], income, rtol=REL)

    # Every factor market clears, including the one left out of the system.
    cost = sec["input_price"] * sec["input_demand"]
    alpha, gamma, beta = prim["factor_share"], prim["input_share"], prim["beta"]
    for a, r in enumerate(R):
        for g, fname in enumerate(F):
            demand = sum(alpha[a, j, g] * cost[(r, s)] for j, s in enumerate(S))
            supply = fac.loc[(r, fname), "factor_price"] * prim["endowment"][a, g]
            assert demand == approx(supply, rel=REL), (r, fname)
    for a, r in enumerate(R):
        for j, s in enumerate(S):
            # Goods: spending = final + intermediate demand; shares sum to one.
            spend = beta[a, j] * reg.loc[r, "income"] + sum(
                gamma[a, u, j] * cost[(r, su)] for u, su in enumerate(S))
            assert sec.loc[(r, s), "expenditure"] == approx(spend, rel=REL), (r, s)
            shares = res.routes.xs((r, s), level=("destination", "sector"))["trade_share"]
            assert shares.sum() == approx(1.0, rel=REL)
            # Sales = payments to inputs + distributed profits.
            assert sec.loc[(r, s), "output"] == approx(cost[(r, s)] + sec.loc[(r, s), "profit"],
                                                       rel=REL), (r, s)


@pytest.mark.parametrize("entry", ["free", "fixed"])
def test_walras_and_accounting(solve, entry):
    prim = examples.three_by_three()
    if entry == "fixed":
        prim = _with_fixed_entry(prim, "manufacturing", 8.0)
    _, res = solve(prim)
    if entry == "fixed":
        assert res.regions.loc["South", "profits"] > 1e-3  # Chaney: profits are income
    check_accounting(prim, res)


@pytest.mark.slow
def test_large_random_economy():
    """10 regions x 10 Melitz sectors, 12 factors, IO, tariffs: accounting and the
    Head-Ries identity for every pair and sector, before and after a shock."""
    prim = examples.random_economy(10, 10, seed=1)
    eq = Equilibrium(prim)
    base = eq.solve()
    assert eq.resolve().iterations <= 1
    tau = np.where(foreign_mask(prim), prim["tau"] * 0.93, 1.0)
    new = eq.solve(tau=tau, tariff=prim["tariff"] * 0.5)
    R = prim.regions
    for res, p in ((base, prim), (new, eq.primitives)):
        check_accounting(p, res)
        for j, s in enumerate(prim.sectors):
            for a in range(len(R)):
                for b in range(a + 1, len(R)):
                    assert head_ries(res, R[a], R[b], s) == approx(
                        _head_ries_closed_form(p, a, b, j), rel=REL), (R[a], R[b], s)


def test_accounting_check_catches_a_walras_residual_of_one_in_a_million(three_by_three):
    """The limits follow the solver's tolerance, but stay tight enough to fail on a
    market left out that does not clear to 1e-6 of its value."""
    import dataclasses

    prim, res = three_by_three
    check_accounting(prim, res)
    broken = dataclasses.replace(res, walras_residual=1e-6)
    with pytest.raises(AssertionError):
        check_accounting(prim, broken)


# =====================================================================
# 10. Tariffs are not iceberg costs
# =====================================================================
def test_tariff_revenue_is_income(three_by_three):
    prim, res = three_by_three
    routes = res.routes
    for a, n in enumerate(prim.regions):
        expected = sum(
            prim["tariff"][a, b, j] * routes.loc[(n, i, s), "trade_value"]
            for b, i in enumerate(prim.regions) for j, s in enumerate(prim.sectors)
        )
        assert expected > 0
        assert res.regions.loc[n, "tariff_revenue"] == approx(expected, rel=REL)
        gross = routes.xs(n, level="destination")
        assert (gross["trade_value_gross"] - gross["trade_value"]).sum() == approx(expected, rel=REL)


@pytest.mark.parametrize("market_structure", ["melitz", "krugman", "armington"])
def test_tariff_versus_iceberg(market_structure):
    """A (small region) taxes imports from B (large). The tariff raises A's welfare
    at B's expense (terms of trade, revenue); the same wedge as an iceberg cost
    lowers A's welfare; and cutting an existing tariff below the optimum hurts A."""
    prim = asymmetric_economy(2, market_structure=market_structure)
    assert prim["endowment"][0, 0] < prim["endowment"][1, 0]
    sigma, k = prim["sigma"][0], prim["k"][0]
    epsilon = k if market_structure == "melitz" else sigma - 1
    size_exp = sigma / (sigma - 1) - 1 / k if market_structure == "melitz" else 1.0

    def generalised_acr(new, base, n):
        lam_hat = domestic_share(new, n, "goods") / domestic_share(base, n, "goods")
        w_hat = (new.factors.loc[(n, "labour"), "factor_price"]
                 / base.factors.loc[(n, "labour"), "factor_price"])
        y_hat = new.regions.loc[n, "income"] / base.regions.loc[n, "income"] / w_hat
        return lam_hat ** (-1 / epsilon) * y_hat ** size_exp

    eq = Equilibrium(prim)
    free = eq.solve()
    t = 0.05
    tariff = prim["tariff"].copy()
    tariff[0, 1, 0] = t
    taxed = eq.solve(tariff=tariff)
    assert taxed.regions.loc["A", "tariff_revenue"] == approx(
        t * taxed.routes.loc[("A", "B", "goods"), "trade_value"], rel=REL)
    assert taxed.welfare["A"] > free.welfare["A"] * (1 + 1e-4)
    assert taxed.welfare["B"] < free.welfare["B"] * (1 - 1e-4)
    # A's domestic share rose, so plain ACR would predict a loss; income does the rest.
    assert domestic_share(taxed, "A", "goods") > domestic_share(free, "A", "goods")
    for n in prim.regions:
        assert taxed.welfare[n] / free.welfare[n] == approx(generalised_acr(taxed, free, n), rel=REL)

    # The same wedge as an iceberg cost: A loses (exact ACR, income is w L).
    tau = prim["tau"].copy()
    tau[0, 1, 0] *= 1 + t
    iceberg = eq.solve(tariff=prim["tariff"], tau=tau)
    # no tariff, no revenue (a solved unknown: zero within the solver's tolerance)
    assert abs(iceberg.regions.loc["A", "tariff_revenue"]) <= limit(iceberg.regions["income"])
    assert iceberg.welfare["A"] < free.welfare["A"] * (1 - 1e-4)
    lam_hat = domestic_share(iceberg, "A", "goods") / domestic_share(free, "A", "goods")
    assert iceberg.welfare["A"] / free.welfare["A"] == approx(lam_hat ** (-1 / epsilon), rel=REL)

    # From a 10% tariff (below the optimum), A cutting its own tariff to 5% loses.
    tariff[0, 1, 0] = 0.10
    high = eq.solve(tau=prim["tau"], tariff=tariff)
    tariff[0, 1, 0] = 0.05
    cut = eq.solve(tariff=tariff)
    assert cut.welfare["A"] < high.welfare["A"] * (1 - 1e-4)
    assert cut.welfare["B"] > high.welfare["B"]
    assert cut.welfare["A"] / high.welfare["A"] == approx(generalised_acr(cut, high, "A"), rel=REL)
