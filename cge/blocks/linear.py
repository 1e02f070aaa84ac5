r"""Market structure ``linear``: Melitz and Ottaviano (2008) as stated by Melitz and Redding (2014,
section 8, seed 002), inside the general equilibrium.

Preferences. Each of the :math:`L_n` consumers of destination :math:`n`
(``population``) has the quasi-linear-quadratic utility

.. math:: U_n = q_0 + \alpha\int_{\Omega_n} q_\omega\, d\omega
          - \frac{\gamma}{2}\int_{\Omega_n} q_\omega^2\, d\omega
          - \frac{\eta}{2}\Big(\int_{\Omega_n} q_\omega\, d\omega\Big)^2

over the varieties of the sector (``linear_alpha``, ``linear_gamma``,
``linear_eta``) and the homogeneous outside good :math:`q_0` (the sector of
market structure ``outside``, :mod:`cge.blocks.outside`), whose price in
:math:`n` is :math:`P_{0n}` (``outside_price``, an inlet the host links to the
outside good's price). As long as :math:`q_0` is consumed, the inverse demand
for a variety is independent of income (MR eq. 26, prices in units of
:math:`q_0`):

.. math:: \frac{p_\omega}{P_{0n}} = \alpha - \gamma q_\omega - \eta Q_n, \qquad
          Q_n = \int_{\Omega_n} q_\omega\, d\omega ,

so the demand per consumer is :math:`q = (p^d_n - p)/(\gamma P_{0n})` below the
choke price :math:`p^d_n = P_{0n}(\alpha - \eta Q_n)` (MR eq. 27). Income
effects fall on :math:`q_0`: the host's quasi-linear upper tier spends on the
outside good what is left of income (:mod:`cge.model`).

Pricing. A firm with productivity :math:`\varphi` (marginal input requirement
:math:`1/\varphi`) delivers to :math:`n` at the tariff-inclusive cost
:math:`c = (1+t_{ni})\tau_{ni}c_i/\varphi` (:math:`c_i` the origin's
composite-input price; the tariff is levied on the c.i.f. value, as in every
structure). It maximises :math:`(p - c)(p^d_n - p)`:

.. math:: p = \frac{p^d_n + c}{2}, \qquad p - c = \frac{p^d_n - c}{2}, \qquad
          q = \frac{p^d_n - c}{2\gamma P_{0n}} ,

and sells iff :math:`c < p^d_n`: the cutoff cost is the choke price and no
fixed cost of serving a market is needed for selection (MR's :math:`p(c)`,
:math:`\mu(c)`, :math:`r(c)`, :math:`\pi(c)` with :math:`c_D = p^d`).

Firms. Productivity is Pareto, :math:`G(\varphi) = 1 - (\varphi_{\min,i}/\varphi)^k`
(in costs :math:`m = 1/\varphi`: :math:`G(m) = (m/c_{M,i})^k` on
:math:`[0, c_{M,i}]`, :math:`c_{M,i} = 1/\varphi_{\min,i}`, MR's :math:`c_M`).
The cutoff :math:`\varphi^*_{ni}` (``cutoff``) and the mass of sellers
:math:`M_{ni} = (M_{Ei}/\delta)(\varphi_{\min,i}/\varphi^*_{ni})^k` read as in
the Melitz structure; entry costs :math:`f_{E,i}` units of the origin's
composite input.

Pareto moments. Among the sellers on a route the relative cost
:math:`z = c/p^d_n` has the distribution :math:`z^k` on :math:`[0,1]`, so
:math:`E[1-z] = \frac1{k+1}`, :math:`E[1-z^2] = \frac2{k+2}`,
:math:`E[(1-z)^2] = \frac{2}{(k+1)(k+2)}`. Per seller and consumer: quantity
:math:`\frac{p^d}{2\gamma P_0 (k+1)}`, spending
:math:`\frac{(p^d)^2}{2\gamma P_0 (k+2)}`, operating profit (before the tariff)
:math:`\frac{(p^d)^2}{2\gamma P_0 (k+1)(k+2)}`: operating profits are the share
:math:`1/(k+1)` of sales and variable costs the share :math:`k/(k+1)`.

The outlet ``price_index`` of a linear sector is its choke price
:math:`p^d_n` (no CES index exists; the quasi-linear upper tier gives it no
budget share). Welfare is money-metric in the outside good: the consumer
surplus :math:`S_n` (``consumer_surplus``, currency) is added to income
(:func:`consumer_surplus_rule`).

This module holds the equation families specific to the structure; the block
class, its configuration and ports live in :mod:`cge.blocks.sector`, the
quasi-linear upper tier in :mod:`cge.model`.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from ._common import log1p_tariff, log_selection_share, log_sellers, log_sum_exp

NAME = "linear"
HAS_FIRMS = True
SELECTS = True  # cutoffs per route
#: the block needs the price of the outside good (an inlet linked by the host)
NEEDS_OUTSIDE_GOOD = True


# ------------------------------------------------------------------ unknowns
def declare_variables(b, positive):
    """The structure's own unknowns: a productivity cutoff per route and the price of the
    outside good in each destination (an inlet)."""
    positive("cutoff", b.routes, "phi*_ni = 1/c*_ni: productivity of the least productive "
             "seller in n (the inverse of the cost cutoff)")
    positive("outside_price", b.regions, "P_0n: price of the outside (numeraire) good q0 in n "
             "(inlet)")


def _log_spending_unit(b, n):
    r""":math:`\ln(L_n (p^d_n)^2/(2\gamma P_{0n}))`: consumers' spending on a seller of cost 0,
    the unit of every route aggregate."""
    return (pyo.log(b.population[n]) + 2 * b.log_price_index[n] - b.log_outside_price[n]
            - math.log(2 * b.gamma))


def declare_equations(b):
    """Cutoff per route, the choke price and the sector budget per destination, bilateral
    trade per route; the sellers and the consumer surplus as Expressions."""
    b.choke_price = pyo.Expression(
        b.regions, rule=lambda b, n: b.price_index[n],
        doc="p^d_n: choke price of the sector in n (the outlet price_index)")
    b.sellers = pyo.Expression(
        b.routes, rule=lambda b, n, i: pyo.exp(log_sellers(b, n, i)),
        doc="M_ni = (M_Ei/delta) (phi_min_i/phi*_ni)^k: mass of i's firms selling in n")
    b.varieties = pyo.Expression(
        b.regions, rule=lambda b, n: sum(b.sellers[n, i] for i in b.origins(n)),
        doc="N_n = sum_i M_ni: varieties consumed in n")
    b.choke_price_cutoff = pyo.Constraint(b.routes, rule=choke_price_cutoff_rule,
                                          doc=choke_price_cutoff_rule.__doc__)
    b.choke_price_condition = pyo.Constraint(b.regions, rule=choke_price_rule,
                                             doc=choke_price_rule.__doc__)
    b.sector_budget = pyo.Constraint(b.regions, rule=sector_budget_rule,
                                     doc=sector_budget_rule.__doc__)
    b.bilateral_trade = pyo.Constraint(b.routes, rule=trade_rule, doc=trade_rule.__doc__)
    b.consumer_surplus = pyo.Expression(b.regions, rule=consumer_surplus_rule,
                                        doc=consumer_surplus_rule.__doc__)


def choke_price_cutoff_rule(b, n, i):
    r"""Cutoff: the least productive seller from i in n has zero demand (its delivered cost is
    the choke price).

    .. math::
        \frac{(1+t_{ni})\,\tau_{ni}\, c_i}{\varphi^*_{ni}} = p^d_n
        \qquad \forall (n, i) \text{ active}
    """
    return (log1p_tariff(b, n, i) + pyo.log(b.tau[n, i]) + b.log_input_price[i]
            - b.log_cutoff[n, i]) == b.log_price_index[n]


def choke_price_rule(b, n):
    r"""Choke price (MR eq. 27): the demand intercept net of the total quantity consumed.

    .. math::
        p^d_n = P_{0n}(\alpha - \eta Q_n), \quad Q_n = \frac{p^d_n N_n}{2\gamma(k+1) P_{0n}}
        \quad\Longleftrightarrow\quad
        p^d_n\Big(1 + \frac{\eta N_n}{2\gamma(k+1)}\Big) = \alpha P_{0n},
        \quad N_n = \sum_i M_{ni}

    (equivalently MR's :math:`N_n = 2(k+1)\gamma(\alpha - p^d_n/P_{0n})\,P_{0n}/(\eta p^d_n)`)
    """
    scale = math.log(b.eta / (2 * b.gamma * (b.k + 1)))
    crowding = log_sum_exp([0.0] + [scale + log_sellers(b, n, i) for i in b.origins(n)])
    return b.log_price_index[n] + crowding == math.log(b.linear_alpha) + b.log_outside_price[n]


def sector_budget_rule(b, n):
    r"""Sector budget: consumers' spending on all sellers (tariff included), which the
    quasi-linear upper tier takes from income (the host does not set :math:`X_n`).

    .. math::
        X_n = \frac{L_n (p^d_n)^2}{2\gamma (k+2) P_{0n}} \sum_i M_{ni}
    """
    return b.log_expenditure[n] == (_log_spending_unit(b, n) - math.log(b.k + 2)
                                    + log_sum_exp([log_sellers(b, n, i) for i in b.origins(n)]))


def trade_rule(b, n, i):
    r"""Bilateral trade: sellers times average spending per seller, net of the tariff.

    .. math::
        (1+t_{ni}) X_{ni} = \frac{L_n (p^d_n)^2}{2\gamma (k+2) P_{0n}}\, M_{ni}
    """
    return log1p_tariff(b, n, i) + b.log_trade_value[n, i] == (
        _log_spending_unit(b, n) - math.log(b.k + 2) + log_sellers(b, n, i))


def free_entry_rule(b, i):
    r"""Free entry: expected operating profits of an entrant equal the entry cost (MR section 8,
    with tariffs and the exit rate).

    .. math::
        \sum_n \frac{L_n (p^d_n)^2}{2\gamma(k+1)(k+2)\, P_{0n}(1+t_{ni})}
        \left(\frac{\varphi_{\min,i}}{\varphi^*_{ni}}\right)^k = \delta f_{E,i}\, c_i

    (with :math:`\varphi^*_{ni} = (1+t_{ni})\tau_{ni}c_i/p^d_n`, :math:`t = 0`,
    :math:`c_i = P_0 = \delta = 1` this is MR's
    :math:`\sum_n L_n\tau_{ni}^{-k}c_{Dn}^{k+2} = \gamma\phi_i`,
    :math:`\phi_i = 2(k+1)(k+2)c_{M,i}^k f_{E,i}`)
    """
    terms = [_log_spending_unit(b, n) - log1p_tariff(b, n, i) + log_selection_share(b, n, i)
             for n in b.destinations(i)]
    return log_sum_exp(terms) - math.log((b.k + 1) * (b.k + 2)) == (
        pyo.log(b.delta * b.f_e[i]) + b.log_input_price[i])


def input_terms(b, i):
    r"""Log terms of the composite input used in i, before entry costs: variable costs.

    .. math:: \frac{1}{c_i}\,\frac{k}{k+1}\sum_n X_{ni}
    """
    ratio = math.log(b.k / (b.k + 1))
    return [ratio + b.log_trade_value[n, i] - b.log_input_price[i] for n in b.destinations(i)]


def operating_profit(b, i):
    r"""Sales net of variable costs.

    .. math:: \frac{1}{k+1}\sum_n X_{ni}
    """
    return sum(b.trade_value[n, i] for n in b.destinations(i)) / (b.k + 1)


def consumer_surplus_rule(b, n):
    r"""Consumer surplus of n's consumers in the sector, in currency (utility from the varieties
    less what they cost, in units of :math:`q_0` times :math:`P_{0n}`).

    .. math::
        S_n = L_n \frac{N_n\, p^d_n}{4\gamma(k+1)}
        \left(\alpha - \frac{k+1}{k+2}\,\frac{p^d_n}{P_{0n}}\right)

    (:math:`\alpha Q - \frac\gamma2\int q^2 - \frac\eta2 Q^2 - \int p q/P_0` with the Pareto
    moments of the module docstring and eq. 27; equal to MR's indirect utility less income,
    :math:`\frac12(\eta+\gamma/N)^{-1}(\alpha-\bar p)^2 + \frac{N}{2\gamma}\sigma_p^2`)
    """
    k = b.k
    return (b.population[n] * b.varieties[n] * b.price_index[n] / (4 * b.gamma * (k + 1))
            * (b.linear_alpha - (k + 1) / (k + 2) * b.price_index[n] / b.outside_price[n]))


# ------------------------------------------------------------------- results
def average_productivity_factor(b) -> float:
    r"""Mean productivity of sellers over the cutoff, :math:`k/(k-1)` (``nan`` for :math:`k \le 1`)."""
    return b.k / (b.k - 1) if b.k > 1 else math.nan


def route_results(b, n, i) -> dict:
    r"""Mark-ups and prices of the sellers from i in n (consumer prices, tariff included).

    With :math:`z = c/p^d \sim z^k`: the margin :math:`E[p-c] = p^d/(2(k+1))` moves with the
    choke price; the relative mark-up :math:`p/c = (1+1/z)/2` has a distribution that
    depends on k only (its mean :math:`\frac12 + \frac{k}{2(k-1)}`, finite for
    :math:`k > 1`; revenue-weighted :math:`E[(1+z)^2/(2z)\cdot(1-z^2)]/E[1-z^2]`).
    """
    k = b.k
    pd_n = pyo.value(b.price_index[n])
    return {"choke_price": pd_n,
            "cost_cutoff": 1.0 / pyo.value(b.cutoff[n, i]),
            "markup_mean": markup_mean(k),
            "markup_revenue_weighted": markup_revenue_weighted(k),
            "margin_mean": pd_n / (2 * (k + 1)),
            "price_mean": pd_n * (2 * k + 1) / (2 * k + 2)}


def markup_mean(k: float) -> float:
    r""":math:`E[p/c]` among sellers, :math:`\frac12 + \frac{k}{2(k-1)}` (inf for :math:`k\le 1`)."""
    return 0.5 + k / (2 * (k - 1)) if k > 1 else math.inf


def markup_revenue_weighted(k: float) -> float:
    r"""Revenue-weighted :math:`p/c`: :math:`\int (1+z)^2(1-z)/(2z)\,dz^k \big/ \int (1-z^2)\,dz^k`
    (inf for :math:`k \le 1`)."""
    if not k > 1:
        return math.inf
    # int_0^1 (1+z)^2 (1-z) / (2z) k z^(k-1) dz = k/2 * int (1 + z - z^2 - z^3) z^(k-2) dz
    num = k / 2 * (1 / (k - 1) + 1 / k - 1 / (k + 1) - 1 / (k + 2))
    return num / (2 / (k + 2))


def markup_of_firm(delivered_cost, choke_price):
    r"""Price, mark-up :math:`p/c` and margin :math:`p - c` of a firm with delivered cost ``c``:
    :math:`p = (p^d + c)/2`; ``nan`` where :math:`c \ge p^d` (no sales)."""
    c = np.asarray(delivered_cost, float)
    sells = c < choke_price
    p = np.where(sells, (choke_price + c) / 2, np.nan)
    return p, p / c, p - c


# ------------------------------------------------------- partial equilibrium
def partial_equilibrium(*, population, outside_price, input_price, tau, tariff, phi_min, f_e,
                        delta, k, alpha, gamma, eta, regions=None):
    r"""The sector's equilibrium given the outside good's price :math:`P_{0n}` and the input
    prices :math:`c_i` (numpy; inactive routes have ``tau = inf``).

    Free entry is linear in :math:`x_n = L_n (p^d_n)^{k+2}/P_{0n}`:

    .. math:: \sum_n \frac{(\varphi_{\min,i}/c_i)^k}{(1+t_{ni})^{k+1}\tau_{ni}^k}\, x_n
              = 2\gamma(k+1)(k+2)\,\delta f_{E,i}\, c_i ,

    the choke-price condition gives the varieties
    :math:`N_n = 2\gamma(k+1)(\alpha P_{0n} - p^d_n)/(\eta p^d_n)`, and the sellers
    :math:`N_n = \sum_i (M_{Ei}/\delta)(\varphi_{\min,i}p^d_n/((1+t_{ni})\tau_{ni}c_i))^k`
    are linear in the entrants (MR section 8 with tariffs; with :math:`t = 0` and unit prices
    the system of :mod:`cge.melitz_ottaviano`).

    Returns a dict of arrays (``choke_price``, ``varieties``, ``entry_mass``, ``cutoff``,
    ``trade_value``, ``expenditure``, ``input_cost``: :math:`c_iY_i`) and a list of
    problems (``None`` instead of the dict) where the equilibrium as written does not exist:
    a singular system (costless trade makes firm location indeterminate) or a region
    without entrants.
    """
    L = np.asarray(population, float)
    R = list(regions) if regions is not None else [str(j) for j in range(len(L))]
    P0 = np.asarray(outside_price, float)
    c = np.asarray(input_price, float)
    tau, t = np.asarray(tau, float), np.asarray(tariff, float)
    phi_min, f_e = np.asarray(phi_min, float), np.asarray(f_e, float)
    active = np.isfinite(tau)
    with np.errstate(divide="ignore", over="ignore"):
        reach = np.where(active, (1 + t) ** (-(k + 1)) * np.where(active, tau, 1.0) ** (-k), 0.0)
    A = (reach * (phi_min / c)[None, :] ** k).T  # A[i, n]
    rhs = 2 * gamma * (k + 1) * (k + 2) * delta * f_e * c
    problems = []
    try:
        x = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        return None, ["the free-entry system of the linear sector is singular (costless trade "
                      "between regions makes firm location indeterminate); use trade costs above 1"]
    bad = [n for n in range(len(L)) if not x[n] > 0]
    if bad:
        return None, [f"region={R[n]}: free entry in every region needs L (p^d)^(k+2)/P0 = "
                      f"{x[n]:.6g} > 0; at these trade costs some region has no entrants (a "
                      "corner MR section 8 does not cover)" for n in bad]
    choke = (x * P0 / L) ** (1 / (k + 2))
    varieties = 2 * gamma * (k + 1) * (alpha * P0 - choke) / (eta * choke)
    with np.errstate(divide="ignore"):
        cutoff = np.where(active, (1 + t) * np.where(active, tau, 1.0) * c[None, :]
                          / choke[:, None], np.inf)
        share = np.where(active, (phi_min[None, :] / cutoff) ** k, 0.0)
    try:
        stock = np.linalg.solve(share, varieties)  # M_E / delta
    except np.linalg.LinAlgError:
        return None, ["the entry system of the linear sector is singular"]
    problems += [f"region={R[i]}: the linear sector has no entrants (M_E = {stock[i] * delta:.6g}); "
                 "the model as written needs entry everywhere" for i in range(len(L))
                 if not stock[i] > 0]
    problems += [f"region={R[n]}: no variety is bought (the choke price {choke[n]:.6g} is not "
                 f"below alpha P0 = {alpha * P0[n]:.6g})" for n in range(len(L))
                 if not varieties[n] > 0]
    if problems:
        return None, problems
    sellers = share * stock[None, :]
    unit = L * choke ** 2 / (2 * gamma * P0 * (k + 2))
    trade = unit[:, None] * sellers / (1 + t)
    sales = trade.sum(axis=0)
    input_cost = k / (k + 1) * sales + c * f_e * stock * delta
    out = {"choke_price": choke, "varieties": varieties, "entry_mass": stock * delta,
           "cutoff": cutoff, "selection_share": share, "trade_value": trade,
           "expenditure": unit * varieties, "input_cost": input_cost}
    return out, problems


# ------------------------------------------------------------- initial guess
def initialize(b, outside_price) -> None:
    """Choke prices, cutoffs, entrants, trade and the sector's spending from the current input
    prices and the outside good's price guess (:func:`partial_equilibrium`); where that has no
    interior solution, a closed-economy guess per region."""
    v = pyo.value
    R = list(b.regions)
    idx = {r: j for j, r in enumerate(R)}
    nR = len(R)
    tau = np.full((nR, nR), np.inf)
    t = np.zeros((nR, nR))
    for n, i in b.routes:
        tau[idx[n], idx[i]] = v(b.tau[n, i])
        t[idx[n], idx[i]] = v(b.tariff[n, i])
    c = np.array([v(b.input_price[r]) for r in R])
    P0 = np.full(nR, float(outside_price))
    args = dict(population=[v(b.population[r]) for r in R], outside_price=P0, input_price=c,
                phi_min=[v(b.phi_min[r]) for r in R], f_e=[v(b.f_e[r]) for r in R],
                delta=b.delta, k=b.k, alpha=b.linear_alpha, gamma=b.gamma, eta=b.eta)
    sol, problems = partial_equilibrium(tau=tau, tariff=t, **args)
    if sol is None or not (np.all(sol["varieties"] > 0) and np.all(sol["entry_mass"] > 0)):
        sol, _ = partial_equilibrium(tau=np.where(np.eye(nR, dtype=bool), 1.0, np.inf),
                                     tariff=np.zeros((nR, nR)), **args)
    if sol is None:
        return
    floor = 1e-8
    for j, r in enumerate(R):
        b.log_outside_price[r].value = math.log(P0[j])
        b.log_price_index[r].value = math.log(sol["choke_price"][j])
        b.log_entry_mass[r].value = math.log(max(sol["entry_mass"][j], floor))
        b.log_expenditure[r].value = math.log(max(sol["expenditure"][j], floor))
    for n, i in b.routes:
        a, o = idx[n], idx[i]
        pd_n = math.exp(b.log_price_index[n].value)
        cut = (1 + t[a, o]) * tau[a, o] * c[o] / pd_n
        b.log_cutoff[n, i].value = math.log(max(cut, 1.0001 * v(b.phi_min[i])))
        b.log_trade_value[n, i].value = v(
            _log_spending_unit(b, n) - math.log(b.k + 2) + log_sellers(b, n, i)
            - log1p_tariff(b, n, i))


# ------------------------------------------------------------------ checks
CES_STRUCTURES = ("melitz", "krugman", "armington", "cara")


def check_numeraire_good(prim) -> list[str]:
    r"""The declaration of an economy with ``linear`` sectors (:mod:`cge.quasi_linear`), each
    failure a message naming the sector, region or cell; and, in one-factor economies without
    intermediate inputs, the numeraire-good assumptions of MR section 8 at the equilibrium of
    the linear sectors (which, with the wage pinned by the outside good, does not depend on
    income: :func:`partial_equilibrium`): the outside good is produced in every region (the
    linear sectors' factor payments stay below factor income) and consumed in every region
    (their spending stays below income; checked without deficits and production taxes,
    whose value depends on the closure: otherwise a failed solve names the region,
    :func:`cge.blocks.outside.numeraire_good_failures`).
    """
    ms = prim.market_structure
    S, R = list(prim.sectors), list(prim.regions)
    linear = [s for s in S if ms[s] == "linear"]
    outside = [s for s in S if ms[s] == "outside"]
    if not linear and not outside:
        return []
    out = []
    if len(outside) > 1 or (linear and not outside):
        return [f"market_structure: an economy has at most one sector with market_structure "
                f"outside (the homogeneous numeraire good q0), and linear sectors need it "
                f"(it absorbs income effects); found linear {linear}, outside {outside}"]
    o = outside[0]
    j_o = S.index(o)
    gamma = prim["input_share"]
    if linear:
        ces = [s for s in S if ms[s] in CES_STRUCTURES]
        if ces:
            out.append(f"market_structure: sectors {ces} ({', '.join(ms[s] for s in ces)}) "
                       f"cannot sit alongside linear sectors {linear}: the upper tier of an "
                       "economy with linear sectors is quasi-linear in the outside good, and "
                       "Cobb-Douglas budget shares have no place in it (docs/model.md, "
                       "'linear'); model them as linear, or the linear sectors as cara or melitz")
        beta = prim["beta"]
        for n, r in enumerate(R):
            for j, s in enumerate(S):
                want = 1.0 if s == o else 0.0
                if abs(beta[n, j] - want) > 1e-12:
                    out.append(f"beta[region={r}, sector={s}] = {beta[n, j]:g}: with linear "
                               f"sectors the upper tier is quasi-linear, so beta is 1 on the "
                               f"outside good {o} and 0 elsewhere (the linear sectors' spending "
                               "comes from their own demand)")
        for n, u, j in zip(*np.nonzero(gamma > 0)):
            if ms[S[j]] == "linear":
                out.append(f"input_share[region={R[n]}, sector={S[u]}, input={S[j]}] = "
                           f"{gamma[n, u, j]:g}: the varieties of a linear sector are bought by "
                           "consumers only (firms have no quasi-linear demand); set it to 0")
    tau, tariff = prim["tau"][:, :, j_o], prim["tariff"][:, :, j_o]
    for n, i in zip(*np.nonzero(np.isfinite(tau) & ((tau != 1) | (tariff != 0)))):
        out.append(f"tau[destination={R[n]}, origin={R[i]}, sector={o}] = {tau[n, i]:g}, tariff "
                   f"= {tariff[n, i]:g}: the outside good is traded freely (tau 1 and no tariff "
                   "on every active route) so that it has one world price")
    if not linear:
        return out
    if not prim.closure.is_default:
        out.append(f"closure: ({prim.closure.describe()}) is not available with linear sectors; "
                   "the quasi-linear upper tier is one household's (the default closure)")
    for s in linear:
        if prim.entry[s] != "free":
            out.append(f"entry[sector={s}] = {prim.entry[s]}: linear sectors have free entry")
    if out:
        return out
    if len(prim.factors) == 1 and not (gamma > 0).any():
        out += _numeraire_good_one_factor(prim, linear, o)
    return out


def _numeraire_good_one_factor(prim, linear, o) -> list[str]:
    """The numeraire-good assumptions at the linear sectors' equilibrium (one factor, no
    intermediate inputs: the wage is the outside good's price over (1 + its production tax))."""
    S, R = list(prim.sectors), list(prim.regions)
    ptax = prim["production_tax"]
    wage = 1.0 / (1 + ptax[:, S.index(o)])  # P0 = 1
    pop = prim["population"]
    labour_cost = np.zeros(len(R))
    spending = np.zeros(len(R))
    tariff_revenue = np.zeros(len(R))
    out = []
    for s in linear:
        j = S.index(s)
        sol, problems = partial_equilibrium(
            population=pop, outside_price=np.ones(len(R)), input_price=wage * (1 + ptax[:, j]),
            tau=prim["tau"][:, :, j], tariff=prim["tariff"][:, :, j],
            phi_min=prim["phi_min"][:, j], f_e=prim["f_e"][:, j], delta=prim["delta"][j],
            k=prim["k"][j], alpha=prim["linear_alpha"][j], gamma=prim["linear_gamma"][j],
            eta=prim["linear_eta"][j], regions=R)
        if sol is None:
            out += [f"sector={s}: {p}" for p in problems]
            continue
        for n, r in enumerate(R):
            if not sol["choke_price"][n] < prim["linear_alpha"][j]:
                out.append(f"region={r}, sector={s}: the choke price {sol['choke_price'][n]:.6g} "
                           f"is not below the demand intercept linear_alpha = "
                           f"{prim['linear_alpha'][j]:g} (in units of the outside good), so no "
                           "variety is bought; raise linear_alpha or the population")
        for n, i in zip(*np.nonzero(sol["selection_share"] > 1)):
            out.append(f"route destination={R[n]}, origin={R[i]}, sector={s}: the cost cutoff "
                       "is above the highest cost 1/phi_min, so every entrant sells and the "
                       "Pareto formulas do not hold; lower phi_min")
        labour_cost += sol["input_cost"] / (1 + ptax[:, j])
        spending += sol["expenditure"]
        tariff_revenue += (prim["tariff"][:, :, j] * np.nan_to_num(sol["trade_value"])).sum(axis=1)
    if out:
        return out
    factor_income = wage * prim["endowment"][:, 0]
    # income is factor income plus tariff revenue unless deficits or production taxes add to
    # it (their value depends on the closure): then only the production side is checked here
    exact_income = not (np.any(prim["deficit"] != 0) or np.any(ptax != 0))
    for n, r in enumerate(R):
        if not labour_cost[n] < factor_income[n]:
            out.append(f"region={r}: the outside good {o} is not produced: the linear sectors "
                       f"need {labour_cost[n] / wage[n]:.6g} units of {prim.factors[0]} of "
                       f"{prim['endowment'][n, 0]:g}, so its price does not pin the factor price "
                       "(MR section 8 assumes it is produced everywhere); raise the endowment "
                       "or the entry cost f_e, or lower the population")
        income = factor_income[n] + tariff_revenue[n]
        if exact_income and not spending[n] < income:
            out.append(f"region={r}: the outside good {o} is not consumed: spending on the linear "
                       f"sectors {spending[n]:.6g} exceeds income {income:.6g} (in units of the "
                       "outside good), so demand is not income-independent; raise the endowment "
                       "or lower linear_alpha")
    return out
