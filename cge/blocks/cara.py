r"""Market structure ``cara``: heterogeneous firms with variable mark-ups (Behrens-Murata CARA).

The model of Behrens, Mion, Murata and Suedekum (seed 000), built on Behrens
and Murata (2007), as a market structure of the sector block.

Preferences. Each of the :math:`L_n` consumers of destination :math:`n`
(``population``) spends the budget :math:`e_n = X_n/L_n` on the sector and
maximises the sub-utility

.. math:: u_n = \int_{\Omega_n} \left(1 - e^{-\alpha q(\omega)}\right) d\omega
          \quad\text{s.t.}\quad \int_{\Omega_n} p(\omega) q(\omega)\, d\omega = e_n .

The first-order condition :math:`\alpha e^{-\alpha q} = \lambda_n p` gives the
demand per consumer :math:`q(\omega) = \frac1\alpha \ln(p^d_n/p(\omega))` for
:math:`p < p^d_n`, with the choke price :math:`p^d_n = \alpha/\lambda_n` (the
inverse of the marginal utility of the budget, times :math:`\alpha`).

Pricing. A firm with marginal input requirement :math:`m` delivers to
:math:`n` at the tariff-inclusive cost :math:`c = (1+t_{ni})\tau_{ni} c_i m`
(:math:`c_i` the origin's composite-input price) and chooses the consumer
price :math:`p` to maximise :math:`(p-c)\ln(p^d_n/p)`; the first-order
condition :math:`\ln(p^d_n/p) = 1 - c/p` is solved by

.. math:: p = \frac{c}{W(e\,c/p^d_n)}, \qquad
          q = \frac{1 - W}{\alpha}, \qquad \frac{p}{c} = \frac1W ,

with :math:`W` the principal branch of the Lambert W function
(:math:`W e^W = x`): substituting :math:`p = c/W` gives
:math:`\ln(p^d W/c) = 1 - W`, i.e. :math:`W e^W = e\,c/p^d`. A firm sells
iff :math:`c < p^d_n` (at :math:`c = p^d_n`, :math:`W = 1` and
:math:`q = 0`): the cutoff cost equals the choke price, and no fixed cost of
serving a market is needed for selection.

Firms. :math:`m` is Pareto on :math:`[0, m_{\max,i}]`,
:math:`G(m) = (m/m_{\max,i})^k`; in productivity :math:`\varphi = 1/m` this is
the Melitz Pareto with lower bound :math:`\varphi_{\min,i} = 1/m_{\max,i}`
(``phi_min``), so the productivity cutoff :math:`\varphi^*_{ni} = 1/m^*_{ni}`
(``cutoff``) and the mass of sellers
:math:`M_{ni} = (M_{Ei}/\delta)(\varphi_{\min,i}/\varphi^*_{ni})^k` read as in
the Melitz structure. Entry costs :math:`f_{E,i}` units of the origin's
composite input.

Pareto constants. Among the sellers on a route the relative cost
:math:`z = c/p^d_n = m/m^*_{ni}` has the distribution :math:`z^k` on
:math:`[0, 1]`, whatever the route. Every integral over sellers is therefore
a route aggregate times a constant that depends on :math:`k` only
(:func:`cara_constants`, with :math:`W = W(ez)`):

.. math::
    \kappa_1 = \int_0^1 \frac{1-W}{W}\, z\, dz^k, \quad
    \kappa_2 = \int_0^1 (1-W)\, z\, dz^k, \quad
    \kappa_3 = \kappa_1 - \kappa_2 = \int_0^1 \frac{(1-W)^2}{W}\, z\, dz^k, \quad
    \kappa_4 = \int_0^1 \left(1 - \frac{z}{W}\right) dz^k

(spending, variable cost, operating profit per seller in units of
:math:`L_n p^d_n/\alpha`, and sub-utility per seller and consumer, using
:math:`e^{W-1} = z/W`). Numerically :math:`\kappa_3/\kappa_1 = 1/(k+1)`:
operating profits are the share :math:`1/(k+1)` of sales.

The price index. The block's outlet price index is the expenditure per unit
of sub-utility, :math:`P_n = \alpha X_n/(L_n u_n)`; with
:math:`u_n = \kappa_4 \sum_i M_{ni}` and the budget below it equals
:math:`P_n = (\kappa_1/\kappa_4)\, p^d_n`, so the choke price is an Expression
of the price index (``choke_price``). The host's Cobb-Douglas upper tier
spends the share :math:`\beta_{ns}` of income on the sector (a fixed
expenditure share: with a non-homothetic sub-utility this is an assumption of
the nesting, exact with one sector), and its real consumption
:math:`X_n/P_n = L_n u_n/\alpha` is the sub-utility of the sector's buyers.
Every buyer of the sector (consumers and, through intermediate demand, firms)
is treated as part of the :math:`L_n` consumers' budget.

This module holds the equation families specific to the structure; the block
class, its configuration and ports live in :mod:`cge.blocks.sector`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pyomo.environ as pyo

from ._common import log1p_tariff, log_selection_share, log_sellers, log_sum_exp

NAME = "cara"
HAS_FIRMS = True
SELECTS = True  # cutoffs per route
CLOSED_FORM_ROUTES = True  # cutoffs and trade values have closed forms (route_unknowns False)


# ------------------------------------------------------------------ constants
def lambert_w(x):
    """Principal branch of the Lambert W function (real), elementwise."""
    from scipy.special import lambertw
    return np.real(lambertw(x))


@lru_cache(maxsize=64)
def cara_constants(k: float) -> dict[str, float]:
    r"""The Pareto constants :math:`\kappa_1 \dots \kappa_4` of the module docstring, and
    the mark-up moments among sellers, for Pareto shape ``k``.

    Computed once per ``k`` by adaptive quadrature after the substitution
    :math:`u = z^k` (so :math:`dz^k = du` and the integrands are bounded).
    Keys: ``spending`` (:math:`\kappa_1`), ``variable_cost`` (:math:`\kappa_2`),
    ``profit`` (:math:`\kappa_3`), ``utility`` (:math:`\kappa_4`),
    ``markup_mean`` (:math:`E[p/c] = \int_0^1 W^{-1} dz^k`), ``markup_revenue_weighted``
    (:math:`\int_0^1 W^{-1}\,\frac{1-W}{W} z\, dz^k/\kappa_1`), both finite only for
    :math:`k > 1` (else ``inf``: near :math:`z = 0` the mark-up :math:`1/W \approx 1/(ez)`), and
    ``margin_mean`` (:math:`E[(p-c)/p^d] = \kappa_1`).
    """
    from scipy.integrate import quad

    k = float(k)
    if not k > 0:
        raise ValueError(f"k must be positive, got {k}")

    def integral(g):
        def h(u):
            z = u ** (1.0 / k)
            return g(z, lambert_w(math.e * z))
        return quad(h, 0.0, 1.0, epsabs=1e-15, epsrel=1e-13, limit=400)[0]

    k1 = integral(lambda z, w: z * (1 - w) / w)
    k2 = integral(lambda z, w: z * (1 - w))
    k3 = integral(lambda z, w: z * (1 - w) ** 2 / w)
    k4 = integral(lambda z, w: 1 - z / w)
    out = {"spending": k1, "variable_cost": k2, "profit": k3, "utility": k4,
           "markup_mean": integral(lambda z, w: 1 / w) if k > 1 else math.inf,
           "markup_revenue_weighted": (integral(lambda z, w: z * (1 - w) / w ** 2) / k1
                                       if k > 1 else math.inf),
           "margin_mean": k1}
    return out


def _log_kappa(b, key):
    return math.log(cara_constants(b.k)[key])


# ------------------------------------------------------------------ unknowns
CUTOFF_DOC = ("phi*_ni = 1/m*_ni: productivity of the least productive seller in n "
              "(the inverse of the cost cutoff)")


def declare_variables(b, positive):
    """The structure's own unknowns: a productivity cutoff per route."""
    positive("cutoff", b.routes, CUTOFF_DOC)


def declare_closed_forms(b, closed):
    """Without route unknowns: the cutoff as the closed form of the choke-price condition."""
    closed("cutoff", b.routes, log_cutoff, CUTOFF_DOC)


def log_choke_price(b, n):
    r""":math:`\ln p^d_n = \ln P_n + \ln(\kappa_4/\kappa_1)`."""
    return b.log_price_index[n] + _log_kappa(b, "utility") - _log_kappa(b, "spending")


def declare_equations(b):
    """The choke-price cutoff per route, the sector budget per destination and bilateral trade
    (without route unknowns only the budget: the other two are the closed forms
    :func:`log_cutoff` and :func:`log_trade_value`)."""
    b.choke_price = pyo.Expression(
        b.regions, rule=lambda b, n: pyo.exp(log_choke_price(b, n)),
        doc="p^d_n = (kappa_4/kappa_1) P_n: choke price of the sector in n")
    b.sellers = pyo.Expression(
        b.routes, rule=lambda b, n, i: pyo.exp(log_sellers(b, n, i)),
        doc="M_ni = (M_Ei/delta) (phi_min_i/phi*_ni)^k: mass of i's firms selling in n")
    if b.route_unknowns:
        b.choke_price_cutoff = pyo.Constraint(b.routes, rule=choke_price_cutoff_rule,
                                              doc=choke_price_cutoff_rule.__doc__)
    b.sector_budget = pyo.Constraint(b.regions, rule=sector_budget_rule,
                                     doc=sector_budget_rule.__doc__)
    if b.route_unknowns:
        b.bilateral_trade = pyo.Constraint(b.routes, rule=trade_rule, doc=trade_rule.__doc__)


def choke_price_cutoff_rule(b, n, i):
    r"""Cutoff: the least productive seller from i in n has zero demand (its cost is the choke price).

    .. math::
        \frac{(1+t_{ni})\,\tau_{ni}\, c_i}{\varphi^*_{ni}} = p^d_n
        = \frac{\kappa_4}{\kappa_1} P_n
        \qquad \forall (n, i) \text{ active}
    """
    return (log1p_tariff(b, n, i) + pyo.log(b.tau[n, i]) + b.log_input_price[i]
            - b.log_cutoff[n, i]) == log_choke_price(b, n)


def log_cutoff(b, n, i):
    r"""The cutoff in closed form: the choke-price condition solved for :math:`\varphi^*_{ni}`.

    .. math::
        \ln\varphi^*_{ni} = \ln(1+t_{ni}) + \ln\tau_{ni} + \ln c_i - \ln p^d_n,
        \qquad \ln p^d_n = \ln P_n + \ln(\kappa_4/\kappa_1)
    """
    return (log1p_tariff(b, n, i) + pyo.log(b.tau[n, i]) + b.log_input_price[i]
            - log_choke_price(b, n))


def sector_budget_rule(b, n):
    r"""Sector budget: the consumers' spending on all sellers exhausts the sector's expenditure,
    which determines the choke price (equivalently the price index).

    .. math::
        X_n = L_n \frac{p^d_n}{\alpha}\, \kappa_1 \sum_i M_{ni}
        \quad\Longleftrightarrow\quad
        P_n = \frac{\alpha X_n}{L_n u_n}, \quad u_n = \kappa_4 \sum_i M_{ni}
    """
    return b.log_expenditure[n] == (
        pyo.log(b.population[n]) + log_choke_price(b, n) - math.log(b.alpha)
        + _log_kappa(b, "spending") + log_sum_exp([log_sellers(b, n, i) for i in b.origins(n)]))


def log_trade_value(b, n, i):
    r"""Bilateral trade: sellers times average spending per seller, net of the tariff.

    .. math::
        (1+t_{ni}) X_{ni} = L_n \frac{p^d_n}{\alpha}\, \kappa_1\, M_{ni}

    (solved for :math:`\ln X_{ni}`: the closed form without route unknowns, with
    :math:`M_{ni}` read through the cutoff :func:`log_cutoff`)
    """
    return log_spending(b, n, i) - log1p_tariff(b, n, i)


def log_spending(b, n, i):
    r""":math:`\ln\left(L_n \frac{p^d_n}{\alpha}\, \kappa_1\, M_{ni}\right)`: n's
    tariff-inclusive spending on i's sellers."""
    return (pyo.log(b.population[n]) + log_choke_price(b, n) - math.log(b.alpha)
            + _log_kappa(b, "spending") + log_sellers(b, n, i))


def trade_rule(b, n, i):
    return log1p_tariff(b, n, i) + b.log_trade_value[n, i] == log_spending(b, n, i)


trade_rule.__doc__ = log_trade_value.__doc__


def free_entry_rule(b, i):
    r"""Free entry: expected operating profits of an entrant equal the entry cost.

    .. math::
        \sum_n \frac{L_n\, p^d_n\, \kappa_3}{\alpha (1+t_{ni})}
        \left(\frac{\varphi_{\min,i}}{\varphi^*_{ni}}\right)^k = \delta f_{E,i}\, c_i
    """
    terms = [pyo.log(b.population[n]) + log_choke_price(b, n) - log1p_tariff(b, n, i)
             + log_selection_share(b, n, i) for n in b.destinations(i)]
    return log_sum_exp(terms) + _log_kappa(b, "profit") - math.log(b.alpha) == (
        pyo.log(b.delta * b.f_e[i]) + b.log_input_price[i])


def input_terms(b, i):
    r"""Log terms of the composite input used in i, before entry costs: variable costs.

    .. math:: \frac{1}{c_i}\sum_n \frac{\kappa_2}{\kappa_1} X_{ni}
    """
    ratio = _log_kappa(b, "variable_cost") - _log_kappa(b, "spending")
    return [ratio + b.log_trade_value[n, i] - b.log_input_price[i] for n in b.destinations(i)]


def operating_profit(b, i):
    r"""Sales net of variable costs.

    .. math:: \frac{\kappa_3}{\kappa_1}\sum_n X_{ni}
    """
    c = cara_constants(b.k)
    return c["profit"] / c["spending"] * sum(b.trade_value[n, i] for n in b.destinations(i))


# ------------------------------------------------------------------- results
def average_productivity_factor(b) -> float:
    r"""Mean productivity of sellers over the cutoff, :math:`E[\varphi\mid\varphi>\varphi^*]/\varphi^*
    = k/(k-1)` (``nan`` for :math:`k \le 1`, where the mean is infinite)."""
    return b.k / (b.k - 1) if b.k > 1 else math.nan


def route_results(b, n, i) -> dict:
    r"""Mark-ups and prices of the sellers from i in n (consumer prices, tariff included).

    ``markup_mean`` :math:`E[p/c]` and ``markup_revenue_weighted`` depend on k
    only (the ACDR invariance); ``margin_mean`` :math:`E[p-c] = \kappa_1 p^d_n`
    and ``price_mean`` :math:`E[p] = E[c] + E[p-c]` with
    :math:`E[c] = p^d_n k/(k+1)` move with the choke price.
    """
    c = cara_constants(b.k)
    pd_n = pyo.value(b.choke_price[n])
    margin = c["margin_mean"] * pd_n
    return {"choke_price": pd_n,
            "cost_cutoff": 1.0 / pyo.value(b.cutoff[n, i]),
            "markup_mean": c["markup_mean"],
            "markup_revenue_weighted": c["markup_revenue_weighted"],
            "margin_mean": margin,
            "price_mean": pd_n * b.k / (b.k + 1) + margin}


def markup_of_firm(delivered_cost, choke_price):
    r"""Price, mark-up :math:`p/c` and margin :math:`p-c` of a firm with delivered cost ``c``.

    :math:`p = c/W(e c/p^d)`; ``nan`` where :math:`c \ge p^d` (no sales).
    """
    c = np.asarray(delivered_cost, float)
    w = lambert_w(math.e * c / choke_price)
    sells = c < choke_price
    p = np.where(sells, c / w, np.nan)
    return p, p / c, p - c


# ------------------------------------------------------------- initial guess
def initial_entry(b, sales, input_price):
    r"""Entrants from free entry with sales ``sales[i]``: :math:`M_{Ei} = \frac{\kappa_3}{\kappa_1}
    \frac{R_i}{f_{E,i} c_i}` (free entry), or :math:`\delta \bar M_{Ei}` (fixed entry)."""
    c = cara_constants(b.k)
    regions = list(b.regions)
    if b.config.entry == "fixed":
        return np.array([b.delta * pyo.value(b.entrants[r]) for r in regions])
    f_e = np.array([pyo.value(b.f_e[r]) for r in regions])
    return c["profit"] / c["spending"] * np.asarray(sales) / (f_e * np.asarray(input_price))


def initialize(b) -> None:
    """Choke prices, cutoffs and trade from the current expenditure, input prices and entry
    (cutoffs and trade only where they are unknowns: otherwise their closed forms follow
    the choke price).

    Per destination the budget is solved in closed form for the choke price,
    :math:`(p^d_n)^{k+1} = \\alpha X_n / (L_n \\kappa_1 \\sum_i (M_{Ei}/\\delta)
    (\\varphi_{\\min,i}/((1+t_{ni})\\tau_{ni}c_i))^k)`; cutoffs and trade follow.
    """
    c = cara_constants(b.k)
    k = b.k
    v = pyo.value
    for n in b.regions:
        dc = {i: v((1 + b.tariff[n, i]) * b.tau[n, i] * b.input_price[i]) for i in b.origins(n)}
        reach = sum(v(b.entry_mass[i]) / b.delta * (v(b.phi_min[i]) / dc[i]) ** k for i in dc)
        pd_n = (b.alpha * v(b.expenditure[n]) / (v(b.population[n]) * c["spending"] * reach)) \
            ** (1 / (k + 1))
        b.log_price_index[n].value = math.log(pd_n * c["spending"] / c["utility"])
        if not b.route_unknowns:
            continue
        for i in dc:
            b.log_cutoff[n, i].value = math.log(max(dc[i] / pd_n, 1.0001 * v(b.phi_min[i])))
            b.log_trade_value[n, i].value = v(log_trade_value(b, n, i))
