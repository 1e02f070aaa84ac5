r"""Market structure ``melitz``: heterogeneous firms with Pareto productivity (Melitz 2003).

Firms pay a sunk entry cost :math:`f_{E,i}` in the origin's composite input,
draw productivity from a Pareto distribution with lower bound
:math:`\varphi_{\min,i}` and shape :math:`k > \sigma-1`, and serve market
:math:`n` if their variable profits there cover the fixed cost
:math:`f_{ni}`; selection into markets happens at the cutoff
:math:`\varphi^*_{ni}` (MR section 6). The Pareto formulas assume selection on
every active route, :math:`\varphi^*_{ni} \ge \varphi_{\min,i}`;
:func:`cge.solve.check_selection` verifies this after each solve.

This module holds the equation families specific to the structure; the block
class, its configuration and ports live in :mod:`cge.blocks.sector`.
Notation follows Melitz and Redding (2014), "Heterogeneous Firms and Trade"
(MR), with :math:`\rho = (\sigma-1)/\sigma`.
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

from ._common import log1p_tariff, log_firm_stock, log_selection_share, log_sum_exp

NAME = "melitz"
HAS_FIRMS = True
SELECTS = True  # cutoffs per route
CLOSED_FORM_ROUTES = True  # cutoffs and trade values have closed forms (route_unknowns False)


CUTOFF_DOC = "phi*_ni: productivity of the least productive seller in n"


def declare_variables(b, positive):
    """The structure's own unknowns: a productivity cutoff per route."""
    positive("cutoff", b.routes, CUTOFF_DOC)


def declare_closed_forms(b, closed):
    """Without route unknowns: the cutoff as the closed form of zero-cutoff profits."""
    closed("cutoff", b.routes, log_cutoff, CUTOFF_DOC)


def declare_equations(b):
    """Zero-cutoff profits, the Pareto price index, bilateral trade and the mass of sellers
    (without route unknowns only the price index: the other two are the closed forms
    :func:`log_cutoff` and :func:`log_trade_value`)."""
    if b.route_unknowns:
        b.zero_cutoff_profit = pyo.Constraint(b.routes, rule=zero_cutoff_profit_rule,
                                              doc=zero_cutoff_profit_rule.__doc__)
    b.ces_price_index = pyo.Constraint(b.regions, rule=price_index_rule,
                                       doc=price_index_rule.__doc__)
    if b.route_unknowns:
        b.bilateral_trade = pyo.Constraint(b.routes, rule=trade_rule, doc=trade_rule.__doc__)
    b.sellers = pyo.Expression(
        b.routes,
        rule=lambda b, n, i: pyo.exp(log_firm_stock(b, i) + log_selection_share(b, n, i)),
        doc="M_ni = (M_Ei/delta) (phi_min_i/phi*_ni)^k: mass of i's firms selling in n")


def zero_cutoff_profit_rule(b, n, i):
    r"""Zero-cutoff profit: the least productive seller from i in n just covers its fixed cost.

    .. math::
        r_{ni}(\varphi^*_{ni}) = a_{ni} (1+t_{ni})^{-\sigma} X_n P_n^{\sigma-1}
        \left(\frac{\tau_{ni} c_i}{\rho\,\varphi^*_{ni}}\right)^{1-\sigma}
        = \sigma c_i f_{ni}
        \qquad \forall (n, i) \text{ active}

    (MR eq. 6 with an ad valorem tariff on the c.i.f. value and a CES demand
    shifter :math:`a_{ni}`, 1 unless calibration puts part of the observed
    trade friction there; see ``docs/calibration.md``.)
    """
    s = b.sigma
    lhs = (pyo.log(b.pref_weight[n, i]) - s * log1p_tariff(b, n, i) + b.log_expenditure[n]
           + (s - 1) * b.log_price_index[n]
           + (1 - s) * (pyo.log(b.tau[n, i]) + b.log_input_price[i]
                        - math.log(b.rho) - b.log_cutoff[n, i]))
    rhs = math.log(s) + b.log_input_price[i] + pyo.log(b.f[n, i])
    return lhs == rhs


def log_cutoff(b, n, i):
    r"""The cutoff in closed form: zero-cutoff profits solved for :math:`\varphi^*_{ni}`.

    .. math::
        \ln\varphi^*_{ni} = \frac{\ln\sigma + \ln f_{ni} + \sigma\ln(1+t_{ni}) + \ln c_i
        - \ln a_{ni} - \ln X_n}{\sigma-1} - \ln P_n + \ln\tau_{ni} + \ln c_i - \ln\rho
    """
    s = b.sigma
    return ((math.log(s) + pyo.log(b.f[n, i]) + s * log1p_tariff(b, n, i) + b.log_input_price[i]
             - pyo.log(b.pref_weight[n, i]) - b.log_expenditure[n]
             - (s - 1) * b.log_price_index[n]) / (s - 1)
            + pyo.log(b.tau[n, i]) + b.log_input_price[i] - math.log(b.rho))


def price_index_rule(b, n):
    r"""CES price index under Pareto productivity (MR eq. 9 with Pareto).

    .. math::
        P_n^{1-\sigma} = \sum_i a_{ni} \frac{M_{Ei}}{\delta}
        \frac{k\,\varphi_{\min,i}^k}{k-\sigma+1}
        \left(\frac{(1+t_{ni})\tau_{ni} c_i}{\rho}\right)^{1-\sigma}
        (\varphi^*_{ni})^{\sigma-1-k}
    """
    s, k = b.sigma, b.k
    terms = [
        pyo.log(b.pref_weight[n, i])
        + log_firm_stock(b, i) + math.log(k / (k - s + 1)) + k * pyo.log(b.phi_min[i])
        + (1 - s) * (log1p_tariff(b, n, i) + pyo.log(b.tau[n, i]) - math.log(b.rho)
                     + b.log_input_price[i])
        + (s - 1 - k) * b.log_cutoff[n, i]
        for i in b.origins(n)
    ]
    return (1 - s) * b.log_price_index[n] == log_sum_exp(terms)


def log_trade_value(b, n, i):
    r"""Bilateral trade: sellers times average sales (MR eq. 20, with the exit rate).

    .. math::
        X_{ni} = \underbrace{\frac{M_{Ei}}{\delta}
        \left(\frac{\varphi_{\min,i}}{\varphi^*_{ni}}\right)^k}_{M_{ni}}
        \; \frac{\sigma k}{k-\sigma+1} c_i f_{ni}

    (the right-hand side, in logs: the closed form without route unknowns)
    """
    s, k = b.sigma, b.k
    return (log_firm_stock(b, i) + log_selection_share(b, n, i)
            + math.log(s * k / (k - s + 1)) + b.log_input_price[i] + pyo.log(b.f[n, i]))


def trade_rule(b, n, i):
    return b.log_trade_value[n, i] == log_trade_value(b, n, i)


trade_rule.__doc__ = log_trade_value.__doc__


def free_entry_rule(b, i):
    r"""Free entry: expected profits of an entrant equal the sunk entry cost (MR eq. 16).

    .. math::
        \sum_n \frac{\sigma-1}{k-\sigma+1} f_{ni}
        \left(\frac{\varphi_{\min,i}}{\varphi^*_{ni}}\right)^k = \delta f_{E,i}
    """
    s, k = b.sigma, b.k
    terms = [pyo.log(b.f[n, i]) + log_selection_share(b, n, i) for n in b.destinations(i)]
    return log_sum_exp(terms) == pyo.log(b.delta * b.f_e[i] * (k - s + 1) / (s - 1))


def input_terms(b, i):
    r"""Log terms of the composite input used in i, before entry costs.

    .. math:: \rho \sum_n X_{ni}/c_i + \sum_n f_{ni} M_{ni}
    """
    dests = b.destinations(i)
    terms = [math.log(b.rho) + b.log_trade_value[n, i] - b.log_input_price[i] for n in dests]
    terms += [pyo.log(b.f[n, i]) + log_firm_stock(b, i) + log_selection_share(b, n, i)
              for n in dests]
    return terms


def operating_profit(b, i):
    r"""Sales net of variable and fixed costs of serving markets.

    .. math:: \frac{1}{\sigma}\sum_n X_{ni} - c_i \sum_n f_{ni} M_{ni}
    """
    dests = b.destinations(i)
    sales = sum(b.trade_value[n, i] for n in dests)
    return sales / b.sigma - b.input_price[i] * sum(b.f[n, i] * b.sellers[n, i] for n in dests)
