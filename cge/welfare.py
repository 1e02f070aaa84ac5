r"""Welfare decomposition: equivalent variation and real income, split into channels.

See ``docs/welfare.md`` for the derivation. In short, with Cobb-Douglas
final demand :math:`U_n = I_n / \prod_s (P_{ns}/\beta_{ns})^{\beta_{ns}}`, so
exactly (discrete log changes, :math:`\Delta x = \ln x' - \ln x`)

.. math:: \Delta \ln U_n = \Delta \ln I_n - \sum_s \beta_{ns}\,\Delta \ln P_{ns}.

Every market structure writes the CES price index as a sum over origins of
*sellers times the price of the average seller*,

.. math:: P_{ns}^{1-\sigma} = \sum_i M_{nis}\,
          \left(\frac{(1+t_{nis})\,\tau_{nis}\,c_{is}}{\rho\,\tilde\varphi_{nis}}\right)^{1-\sigma}

(melitz: :math:`M_{ni}` sellers from i in n and their average productivity
:math:`\tilde\varphi_{ni} = \varphi^*_{ni}(k/(k-\sigma+1))^{1/(\sigma-1)}`;
krugman: :math:`M_{ni} = M_{Ei}/\delta`, :math:`\tilde\varphi = \varphi_{\min}`;
armington: :math:`M_{ni} = a_{ni}`, :math:`\tilde\varphi = \varphi_{\min}`,
:math:`\rho = 1`). With Sato-Vartia weights :math:`w_{nis}` (normalised
logarithmic means of the expenditure shares before and after) the change of
the price index is *exactly*

.. math:: \Delta\ln P_{ns} = \sum_i w_{nis}\Big[\Delta\ln(1+t_{nis}) + \Delta\ln\tau_{nis}
          + \Delta\ln c_{is} - \Delta\ln\tilde\varphi_{nis}
          - \tfrac{1}{\sigma_s-1}\Delta\ln M_{nis}\Big].

Input costs are Cobb-Douglas, :math:`\Delta\ln c_{is} = \Delta\ln(1+t^P_{is})
+ \sum_f\alpha_{isf}\Delta\ln w_{if} + \sum_u\gamma_{isu}\Delta\ln P_{iu}`
(:math:`t^P` the production tax), so the price changes of intermediate
inputs are traced back to their own channels by solving the linear system
:math:`\Delta\ln P = (I-K)^{-1}[\ldots]` with :math:`K_{(ns),(iu)} = w_{nis}\gamma_{isu}`.
Income is deflated by the factor-cost inflation :math:`\pi_n` of the region's
consumption basket (new-period values times :math:`e^{-\pi_n}`) and its change
split with the logarithmic mean, :math:`\Delta\ln(I/Q) = \sum_j \Delta x_j /
L(I, I'e^{-\pi_n})`, into factor income (factor prices: terms of trade;
quantities: endowments), tariff revenue, production-tax revenue, profits and
transfers (the deficit). Every component is invariant to the choice of numeraire.

Components of :math:`100\,\Delta\ln U_n` (positive = gain):

``terms_of_trade``
    factor prices relative to the factor cost of what the region buys.
``endowments``
    quantities of factors (a population change).
``tariffs``
    tariff revenue net of what the region's own tariffs add to its prices
    (allocative efficiency / volume-of-trade effect).
``production_taxes``
    production-tax revenue net of what production taxes (the region's own, and
    those of its suppliers) add to its prices: with
    :math:`c_{is} = (1+t^P_{is})\times` (factor and input cost),
    :math:`\Delta\ln c_{is}` has the direct part :math:`\Delta\ln(1+t^P_{is})`,
    traced through :math:`(I-K)^{-1}` as the tariffs are.
``trade_costs``
    direct effect of iceberg trade costs on prices.
``variety``
    mass of sellers :math:`M_{ni}` (expenditure weighted).
``selection``
    average productivity of sellers :math:`\tilde\varphi_{ni}`.
``profits``, ``transfers``
    profit income (fixed entry) and the trade deficit.
``government``, ``investment``
    zero under the default closure. Under any other closure of final demand
    (:class:`cge.primitives.Closure`) welfare is the household's real
    consumption :math:`U_n = E_{nh}/P_{nh}`, with
    :math:`E_{nh} = \kappa_n I_n - F_n`: :math:`\kappa_n = 1 - \sum
    \omega_{na}` over the agents that spend a fixed share of income and
    :math:`F_n` the spending of the agents held fixed in real terms. The
    income items above are then scaled by :math:`\kappa_n` and divided by
    :math:`L(E_{nh}, E_{nh}'e^{-\pi_n})` (with :math:`\pi_n` from the
    household's basket), and these two components are what the household
    pays for real government consumption (``fixed_real``) or real investment
    (``investment_driven``) held fixed, :math:`-(e_{na}' - E_{na})/L`, or for
    a change of a fixed share, :math:`-(\omega'_{na} - \omega_{na}) i'/L`.
``consumer_surplus``
    economies with ``linear`` sectors (Melitz-Ottaviano, :mod:`cge.quasi_linear`):
    welfare is :math:`(I_n + S_n)/P_{n0}` with :math:`S_n` the consumer surplus of
    the linear sectors, so :math:`\Delta\ln U_n = \Delta\ln(I_n/P_{n0}) +
    \Delta\ln(1 + S_n/I_n)`; the first part is split as above (the outside good
    is the whole Cobb-Douglas basket), the second is this component: the
    varieties, prices and mark-ups of the linear sectors together (0 otherwise).
``residual``
    total minus the sum of the parts: zero up to solver tolerance when only
    the shock types of :mod:`cge.shocks` change (changes of the shares
    :math:`\beta, \alpha, \gamma` would show up here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .primitives import Primitives
from .results import Results

COMPONENTS = ("terms_of_trade", "endowments", "tariffs", "production_taxes", "trade_costs", "variety",
              "selection", "market_size", "profits", "transfers", "government", "investment",
              "consumer_surplus")
SECTOR_PARTS = ("input_cost", "tariffs", "trade_costs", "variety_domestic", "variety_imported",
                "selection_domestic", "selection_imported", "market_size")

__all__ = ["COMPONENTS", "SECTOR_PARTS", "FIRST_ORDER", "WelfareDecomposition", "decompose",
           "first_order", "log_mean"]

#: Columns of :func:`first_order` (Caliendo and Parro 2015, first order; not exact).
FIRST_ORDER = ("first_order_terms_of_trade", "first_order_volume_of_trade", "first_order_total")


def log_mean(a, b):
    """Logarithmic mean :math:`L(a, b) = (a-b)/(\\ln a - \\ln b)`, :math:`L(a, a) = a`."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (np.log(a) - np.log(b))
    close = np.isclose(a, b, rtol=1e-12, atol=0.0)
    return np.where(close, 0.5 * (a + b), out)


def _dlog(new, old):
    return np.log(np.asarray(new, dtype=float)) - np.log(np.asarray(old, dtype=float))


@dataclass
class WelfareDecomposition:
    """Result of :func:`decompose`.

    ``regions`` (index region): ``welfare_change_pct`` (:math:`100(U'/U-1)`),
    ``total`` (:math:`100\\,\\Delta\\ln U`), the components of
    :data:`COMPONENTS` and ``residual`` (all in percent log points, summing to
    ``total``), then ``ev`` and ``ev_<component>`` in money of the
    benchmark (numeraire units), summing to ``ev``.

    ``sectors`` (index region, sector): the direct channels of
    :math:`-100\\,\\Delta\\ln P_{ns}` (before tracing input costs back),
    domestic and imported sellers separately, their ``residual`` (exact
    Sato-Vartia: zero up to solver tolerance), and descriptive changes of
    the mass of varieties available :math:`\\sum_i M_{ni}` and of the
    average productivity of all sellers.
    """

    regions: pd.DataFrame
    sectors: pd.DataFrame

    @property
    def max_residual(self) -> float:
        return float(np.abs(self.regions["residual"]).max())


def decompose(base: Results, new: Results, prim0: Primitives, prim1: Primitives,
              fixed_region: str | None = None) -> WelfareDecomposition:
    """Decompose the welfare change from ``base`` (at ``prim0``) to ``new`` (at ``prim1``).

    ``fixed_region`` is the region held at its benchmark by the small-open-economy
    closure (:mod:`cge.closure`). Its factor prices and price indices are
    exogenous, so its unit input costs do not change; tracing input costs back
    through its input-output links would pick up its price-index equations,
    which the closure drops, and leak a residual into the home regions through
    their imports. Its input shares are therefore left out of the tracing (its
    cost change is zero either way), which keeps the home decomposition exact.
    Its own welfare is unchanged by assumption: its rows are zero, apart from
    the descriptive variety and productivity changes of its sellers.
    """
    if fixed_region is not None:
        r = prim0.regions.index(fixed_region)

        def untraced(p: Primitives) -> Primitives:
            g = p["input_share"].copy()
            g[r] = 0.0
            return p.copy(input_share=g)

        out = decompose(base, new, untraced(prim0), untraced(prim1))
        out.regions.loc[fixed_region, :] = 0.0
        descriptive = ("market_structure", "beta", "varieties_available_pct",
                       "seller_productivity_pct")
        rows = out.sectors.index.get_level_values("region") == fixed_region
        cols = [c for c in out.sectors.columns if c not in descriptive]
        out.sectors.loc[rows, cols] = 0.0
        return out
    R, S = list(prim0.regions), list(prim0.sectors)
    nR, nS = len(R), len(S)
    r0, r1, dest, orig, sect = _route_positions(base, new, prim0)
    ms = np.array([prim0.market_structure[S[s]] for s in sect])
    sigma = prim0["sigma"][sect]

    # Expenditure shares and Sato-Vartia weights within each (destination, sector).
    lam0 = r0["trade_share"].to_numpy(float, copy=True)
    lam1 = r1["trade_share"].to_numpy(float, copy=True)
    cell = dest * nS + sect
    for lam in (lam0, lam1):
        tot = np.bincount(cell, lam, nR * nS)
        lam /= tot[cell]
    lw = log_mean(lam0, lam1)
    w = lw / np.bincount(cell, lw, nR * nS)[cell]

    # CARA sectors (cge.blocks.cara): the budget gives exactly
    # (k+1) dln P_n = dln(X_n/L_n) - sum_i w_ni [dln M_Ei + k dln phi_min,i
    #                 - k dln((1+t_ni) tau_ni c_i)]
    # (Sato-Vartia weights of the seller shares, which equal the expenditure shares),
    # so costs pass through with k/(k+1), entry is the variety channel, phi_min the
    # selection channel, and spending per consumer the market-size channel.
    cara = ms == "cara"
    k_route = prim0["k"][sect]
    through = np.where(cara, k_route / (k_route + 1), 1.0)

    # Route-level log changes of the price of the average seller and of sellers.
    d_tariff = through * _dlog(1 + r1["tariff"].to_numpy(float), 1 + r0["tariff"].to_numpy(float))
    d_tau = through * _dlog(r1["tau"].to_numpy(float), r0["tau"].to_numpy(float))
    idx = pd.MultiIndex.from_product([R, S], names=["region", "sector"])
    sec0, sec1 = base.sectors.reindex(idx), new.sectors.reindex(idx)
    c0 = sec0["input_price"].to_numpy(float).reshape(nR, nS)
    c1 = sec1["input_price"].to_numpy(float).reshape(nR, nS)
    d_cost_origin = _dlog(c1, c0)  # (i, s)
    d_cost = through * d_cost_origin[orig, sect]
    phi_min0, phi_min1 = prim0["phi_min"][orig, sect], prim1["phi_min"][orig, sect]
    d_phi = np.where(ms == "melitz",
                     _dlog(r1["average_productivity"].to_numpy(float),
                           r0["average_productivity"].to_numpy(float)),
                     _dlog(phi_min1, phi_min0))
    a0, a1 = prim0["pref_weight"][dest, orig, sect], prim1["pref_weight"][dest, orig, sect]
    with np.errstate(divide="ignore", invalid="ignore"):
        # a preference shifter a_ni multiplies the sellers' weight under every structure
        d_sellers = np.where(np.isin(ms, ("armington", "outside")), _dlog(a1, a0),
                             _dlog(r1["sellers"].to_numpy(float), r0["sellers"].to_numpy(float))
                             + _dlog(a1, a0))
    d_variety = d_sellers / (sigma - 1)  # welfare sign: more sellers lower P
    if cara.any():
        me0 = sec0["entry_mass"].to_numpy(float).reshape(nR, nS)[orig, sect]
        me1 = sec1["entry_mass"].to_numpy(float).reshape(nR, nS)[orig, sect]
        with np.errstate(divide="ignore", invalid="ignore"):
            d_variety = np.where(cara, _dlog(me1, me0) / (k_route + 1), d_variety)
        d_phi = np.where(cara, through * _dlog(phi_min1, phi_min0), d_phi)

    def cell_sum(x, mask=None):
        x = w * x if mask is None else np.where(mask, w * x, 0.0)
        return np.bincount(cell, x, nR * nS).reshape(nR, nS)

    domestic = dest == orig
    D_tariff, D_tau, D_cost = cell_sum(d_tariff), cell_sum(d_tau), cell_sum(d_cost)
    V_dom, V_imp = cell_sum(d_variety, domestic), cell_sum(d_variety, ~domestic)
    S_dom, S_imp = cell_sum(d_phi, domestic), cell_sum(d_phi, ~domestic)
    # Market size (CARA): dln(X_n/L_n)/(k+1) raises the choke price (welfare sign below).
    cara_cell = np.array([prim0.market_structure[x] == "cara" for x in S])[None, :].repeat(nR, 0)
    k_cell = np.repeat(prim0["k"][None, :], nR, axis=0)
    L0 = base.regions.reindex(R)["population"].to_numpy(float) if "population" in base.regions \
        else np.ones(nR)
    L1 = new.regions.reindex(R)["population"].to_numpy(float) if "population" in new.regions \
        else np.ones(nR)
    X0c = sec0["expenditure"].to_numpy(float).reshape(nR, nS)
    X1c = sec1["expenditure"].to_numpy(float).reshape(nR, nS)
    with np.errstate(divide="ignore", invalid="ignore"):
        M_size = np.where(cara_cell, (_dlog(X1c, X0c) - _dlog(L1, L0)[:, None]) / (k_cell + 1),
                          0.0)

    P0 = sec0["price_index"].to_numpy(float).reshape(nR, nS)
    P1 = sec1["price_index"].to_numpy(float).reshape(nR, nS)
    dP = _dlog(P1, P0)
    direct = D_tariff + D_tau + D_cost - V_dom - V_imp - S_dom - S_imp + M_size
    sector_residual = dP - direct

    # ---- trace input costs back: dlnP = (I - K)^-1 [channels + factor-price part]
    alpha, gamma = prim0["factor_share"], prim0["input_share"]  # (i,s,f), (i,s,u)
    fidx = pd.MultiIndex.from_product([R, list(prim0.factors)], names=["region", "factor"])
    wf0 = base.factors.reindex(fidx)["factor_price"].to_numpy(float).reshape(nR, -1)
    wf1 = new.factors.reindex(fidx)["factor_price"].to_numpy(float).reshape(nR, -1)
    d_wage = _dlog(wf1, wf0)
    d_factor_cost = np.einsum("isf,if->is", alpha, d_wage)  # factor part of dln c_is
    K = np.zeros((nR * nS, nR * nS))
    # K[(n,s),(i,u)] = sum over routes (n,i,s) of w * gamma[i,s,u]
    rows = dest * nS + sect
    for u in range(nS):
        np.add.at(K, (rows, orig * nS + u), w * through * gamma[orig, sect, u])
    A = np.eye(nR * nS) - K
    # Whose welfare: the regional household (default closure) or the household.
    household = not prim0.closure.is_default
    beta = np.nan_to_num(prim0["agent_beta"][:, 0, :]) if household else prim0["beta"]

    from scipy.linalg import lu_factor, lu_solve

    A_lu = lu_factor(A)  # one factorisation for the seven channels (A is nR nS square)

    def through_io(direct_part):
        """Welfare-relevant price change sum_s beta_ns [(I-K)^-1 x]_ns, per region."""
        x = lu_solve(A_lu, direct_part.reshape(-1)).reshape(nR, nS)
        return (beta * x).sum(axis=1)

    P_w = through_io(cell_sum(through * d_factor_cost[orig, sect]))
    P_tariff = through_io(D_tariff)
    # Production taxes raise the unit cost c_is by (1+t^P_is): a direct channel of every
    # route from i, traced through intermediate inputs like the factor-price part.
    d_ptax = _dlog(1 + prim1["production_tax"], 1 + prim0["production_tax"])  # (i, s)
    P_ptax = through_io(cell_sum(through * d_ptax[orig, sect]))
    P_tau = through_io(D_tau)
    P_var = through_io(V_dom + V_imp)
    P_sel = through_io(S_dom + S_imp)
    P_size = through_io(M_size)

    # ---- income side: deflate the new period by the factor-cost inflation pi_n of the
    # region's basket, x' = X' exp(-pi), then split dln(I/Q) = sum_j dx_j / L(i, i')
    # exactly; every part is invariant to the numeraire (a rescaling of the new
    # equilibrium moves pi by the same log amount).
    g0, g1 = base.regions.reindex(R), new.regions.reindex(R)
    I0, I1 = g0["income"].to_numpy(float), g1["income"].to_numpy(float)
    deflate = np.exp(-P_w)
    cols = (("Y", "factor_income"), ("T", "tariff_revenue"), ("PT", "production_tax_revenue"),
            ("P", "profits"), ("D", "deficit"))
    parts0 = {k: g0[c].to_numpy(float) for k, c in cols}
    parts1 = {k: g1[c].to_numpy(float) * deflate for k, c in cols}
    agent_parts = {"government": np.zeros(nR), "investment": np.zeros(nR)}
    if household:
        # E_h = kappa I - F (kappa: 1 - shares of the fixed-share agents; F: spending of
        # the agents fixed in real terms), so exactly, with x' = X' e^{-pi},
        # e_h' - E_h = kappa0 (i' - I) + (kappa1 - kappa0) i' - sum_fixed (e_a' - E_a).
        W0 = g0["household_spending"].to_numpy(float)
        W1 = g1["household_spending"].to_numpy(float)
        L = log_mean(W0, W1 * deflate)
        kappa0 = np.ones(nR)
        fixed = {"government": prim0.closure.government == "fixed_real",
                 "investment": prim0.closure.investment == "investment_driven"}
        for k, agent in ((1, "government"), (2, "investment")):
            if fixed[agent]:
                a0 = g0[f"{agent}_spending"].to_numpy(float)
                a1 = g1[f"{agent}_spending"].to_numpy(float) * deflate
                agent_parts[agent] = -(a1 - a0) / L
            else:
                w0, w1 = prim0["agent_share"][:, k], prim1["agent_share"][:, k]
                kappa0 -= w0
                agent_parts[agent] = -(w1 - w0) * I1 * deflate / L
    else:
        W0 = I0
        L = log_mean(I0, I1 * deflate)
        kappa0 = np.ones(nR)

    def income_part(k):
        return kappa0 * (parts1[k] - parts0[k]) / L

    # Factor income by factor: real y_f = w_f E_f, dy_f = L(y_f, y_f') (dln w_f - pi + dln E_f).
    e0 = base.factors.reindex(fidx)["endowment"].to_numpy(float).reshape(nR, -1)
    e1 = new.factors.reindex(fidx)["endowment"].to_numpy(float).reshape(nR, -1)
    yf_weight = (kappa0 / L)[:, None] * log_mean(wf0 * e0, wf1 * e1 * deflate[:, None])
    endow = (yf_weight * _dlog(e1, e0)).sum(axis=1)
    comp = {
        "terms_of_trade": income_part("Y") - endow,
        "endowments": endow,
        "tariffs": income_part("T") - P_tariff,
        "production_taxes": income_part("PT") - P_ptax,
        "trade_costs": -P_tau,
        "variety": P_var,
        "selection": P_sel,
        "market_size": -P_size,
        "profits": income_part("P"),
        "transfers": income_part("D"),
        "government": agent_parts["government"],
        "investment": agent_parts["investment"],
    }
    U0, U1 = g0["real_income"].to_numpy(float), g1["real_income"].to_numpy(float)
    comp["consumer_surplus"] = np.zeros(nR)
    if any(prim0.market_structure[x] == "linear" for x in S):  # U = (I + S)/P0
        comp["consumer_surplus"] = _dlog(U1 * g1["cpi"].to_numpy(float) / I1,
                                         U0 * g0["cpi"].to_numpy(float) / I0)
    total = _dlog(U1, U0)
    residual = total - sum(comp.values())

    regions = pd.DataFrame(index=pd.Index(R, name="region"))
    regions["welfare_change_pct"] = 100 * (U1 / U0 - 1)
    regions["total"] = 100 * total
    for k, v in comp.items():
        regions[k] = 100 * v
    regions["residual"] = 100 * residual
    # EV = W0 (U1/U0 - 1), split in proportion to the log components (exact sum); W0 is
    # benchmark income, or the household's benchmark spending under a non-default closure.
    ev = W0 * np.expm1(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(total) > 1e-14, np.expm1(total) / total, 1.0)
    regions["ev"] = ev
    for k, v in comp.items():
        regions[f"ev_{k}"] = W0 * scale * v
    regions["ev_residual"] = W0 * scale * residual
    regions["ev_pct_of_income"] = 100 * ev / I0
    # Caliendo-Parro (2015) first-order terms: an approximation, not part of the sum above.
    fo = first_order(base, new, prim0)
    for col in FIRST_ORDER:
        regions[col] = fo[col].reindex(R).to_numpy(float)

    # ---- sector table (direct channels of -dlnP, welfare sign)
    sectors = pd.DataFrame(index=idx)
    sectors["market_structure"] = [prim0.market_structure[s] for s in idx.get_level_values("sector")]
    sectors["beta"] = beta.reshape(-1)
    sectors["price_index_drop"] = -100 * dP.reshape(-1)
    for name, val in (("input_cost", -D_cost), ("tariffs", -D_tariff), ("trade_costs", -D_tau),
                      ("variety_domestic", V_dom), ("variety_imported", V_imp),
                      ("selection_domestic", S_dom), ("selection_imported", S_imp),
                      ("market_size", -M_size)):
        sectors[name] = 100 * val.reshape(-1)
    sectors["residual"] = -100 * sector_residual.reshape(-1)

    # Descriptive (not part of the decomposition): mass of varieties available
    # and the CES average productivity of all sellers in the market.
    no_firms = np.isin(ms, ("armington", "outside"))
    m0 = np.where(no_firms, np.nan, r0["sellers"].to_numpy(float))
    m1 = np.where(no_firms, np.nan, r1["sellers"].to_numpy(float))
    phi0 = np.where(ms == "melitz", r0["average_productivity"].to_numpy(float), phi_min0)
    phi1 = np.where(ms == "melitz", r1["average_productivity"].to_numpy(float), phi_min1)
    count0, count1 = np.bincount(cell, np.nan_to_num(m0), nR * nS), np.bincount(cell, np.nan_to_num(m1), nR * nS)
    prod0 = np.bincount(cell, np.nan_to_num(m0 * phi0 ** (sigma - 1)), nR * nS)
    prod1 = np.bincount(cell, np.nan_to_num(m1 * phi1 ** (sigma - 1)), nR * nS)
    sig_cell = np.repeat(prim0["sigma"][None, :], nR, axis=0).reshape(-1)
    firms = np.array([ms_ not in ("armington", "outside") for ms_ in sectors["market_structure"]])
    with np.errstate(divide="ignore", invalid="ignore"):
        sectors["varieties_available_pct"] = np.where(firms, 100 * (count1 / count0 - 1), np.nan)
        avg0 = (prod0 / count0) ** (1 / (sig_cell - 1))
        avg1 = (prod1 / count1) ** (1 / (sig_cell - 1))
        sectors["seller_productivity_pct"] = np.where(firms, 100 * (avg1 / avg0 - 1), np.nan)
    return WelfareDecomposition(regions=regions, sectors=sectors)


def _route_positions(base: Results, new: Results, prim0: Primitives):
    """The routes of ``base`` and ``new`` (aligned on ``base``'s index) and, for every
    row, the positions of its destination, origin and sector in ``prim0``'s labels."""
    rpos = {r: j for j, r in enumerate(prim0.regions)}
    spos = {s: j for j, s in enumerate(prim0.sectors)}
    r0, r1 = base.routes, new.routes.reindex(base.routes.index)
    dest = np.array([rpos[x] for x in r0.index.get_level_values("destination")])
    orig = np.array([rpos[x] for x in r0.index.get_level_values("origin")])
    sect = np.array([spos[x] for x in r0.index.get_level_values("sector")])
    return r0, r1, dest, orig, sect


def first_order(base: Results, new: Results, prim0: Primitives) -> pd.DataFrame:
    r"""Caliendo and Parro's (2015, eq. 14 and section 5) **first-order** welfare terms,
    evaluated at benchmark weights with the discrete log changes of the solution.

    With :math:`X_{nis}` the benchmark sales of :math:`i` in :math:`n` (c.i.f., net of the
    tariff), :math:`c_{is}` the unit input cost of sector :math:`s` in :math:`i`,
    :math:`t_{nis}` the tariff and :math:`I_n` benchmark income, in percent:

    .. math::
        \text{ToT}_n = \frac{100}{I_n}\sum_s\sum_{i\ne n}\big(X_{ins}\,\Delta\ln c_{ns}
                     - X_{nis}\,\Delta\ln c_{is}\big), \qquad
        \text{VoT}_n = \frac{100}{I_n}\sum_s\sum_{i\ne n} t_{nis} X_{nis}
                     \big(\Delta\ln X_{nis} - \Delta\ln c_{is}\big).

    Terms of trade: the change of export prices less import prices, weighted by the
    benchmark flows; volume of trade: the change of import quantities weighted by the
    tariff wedge. ``first_order_total`` is their sum. This is what CP publish as the
    welfare effect; it is a linearisation around the benchmark, **not** the exact change
    of real income (``welfare_change_pct``), and the two can differ by more than the
    effect itself for large shocks (in CP's NAFTA data, Mexico: +1.31% first order
    against +0.01% exact, as reported in issue 10). With deficits the terms-of-trade term
    also depends on the numeraire (a common change of all prices moves it by
    :math:`-D_n\,\Delta\ln p/I_n`): quote it with the numeraire of the run.
    """
    R, S = list(prim0.regions), list(prim0.sectors)
    r0, r1, dest, orig, sect = _route_positions(base, new, prim0)
    idx = pd.MultiIndex.from_product([R, S], names=["region", "sector"])
    c0 = base.sectors.reindex(idx)["input_price"].to_numpy(float).reshape(len(R), len(S))
    c1 = new.sectors.reindex(idx)["input_price"].to_numpy(float).reshape(len(R), len(S))
    dc = _dlog(c1, c0)
    X0 = r0["trade_value"].to_numpy(float)
    X1 = r1["trade_value"].to_numpy(float)
    t0 = r0["tariff"].to_numpy(float)
    foreign = dest != orig
    exports = np.bincount(orig[foreign], X0[foreign] * dc[orig, sect][foreign], len(R))
    imports = np.bincount(dest[foreign], X0[foreign] * dc[orig, sect][foreign], len(R))
    with np.errstate(divide="ignore", invalid="ignore"):
        dq = np.where(X0 > 0, _dlog(X1, X0) - dc[orig, sect], 0.0)
    vot = np.bincount(dest[foreign], (t0 * X0 * dq)[foreign], len(R))
    income = base.regions.reindex(R)["income"].to_numpy(float)
    out = pd.DataFrame(index=pd.Index(R, name="region"))
    out["first_order_terms_of_trade"] = 100 * (exports - imports) / income
    out["first_order_volume_of_trade"] = 100 * vot / income
    out["first_order_total"] = out["first_order_terms_of_trade"] + out["first_order_volume_of_trade"]
    return out
