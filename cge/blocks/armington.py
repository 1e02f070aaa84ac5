r"""Market structure ``armington``: perfect competition with national varieties.

Each origin :math:`i` sells one variety, priced at marginal cost
:math:`\tau_{ni} c_i/\varphi_{\min,i}`; destinations weight origins by
:math:`a_{ni}` (``pref_weight``) in a CES aggregate (Armington 1969). There
are no firms, entry or profits.

This module holds the equation families specific to the structure; the block
class, its configuration and ports live in :mod:`cge.blocks.sector`.
"""

from __future__ import annotations

import pyomo.environ as pyo

from ._common import log1p_tariff, log_sum_exp

NAME = "armington"
HAS_FIRMS = False
SELECTS = False
CLOSED_FORM_ROUTES = True  # trade values have closed forms (route_unknowns False)


def declare_closed_forms(b, closed):
    """Without route unknowns: nothing beyond the trade values (:func:`log_trade_value`)."""


def declare_variables(b, positive):
    """No unknowns beyond the common ones."""


def declare_equations(b):
    """The CES price index and bilateral trade of national varieties."""
    b.ces_price_index = pyo.Constraint(b.regions, rule=price_index_rule,
                                       doc=price_index_rule.__doc__)
    if b.route_unknowns:
        b.bilateral_trade = pyo.Constraint(b.routes, rule=trade_rule, doc=trade_rule.__doc__)


def price_index_rule(b, n):
    r"""CES price index of national varieties (Armington).

    .. math::
        P_n^{1-\sigma} = \sum_i a_{ni}
        \left(\frac{(1+t_{ni})\tau_{ni} c_i}{\varphi_{\min,i}}\right)^{1-\sigma}
    """
    s = b.sigma
    terms = [
        pyo.log(b.pref_weight[n, i])
        + (1 - s) * (log1p_tariff(b, n, i) + pyo.log(b.tau[n, i])
                     - pyo.log(b.phi_min[i]) + b.log_input_price[i])
        for i in b.origins(n)
    ]
    return (1 - s) * b.log_price_index[n] == log_sum_exp(terms)


def log_trade_value(b, n, i):
    r"""Bilateral trade of national varieties under perfect competition.

    .. math::
        X_{ni} = a_{ni} (1+t_{ni})^{-\sigma} X_n P_n^{\sigma-1}
        \left(\frac{\tau_{ni} c_i}{\varphi_{\min,i}}\right)^{1-\sigma}
    """
    s = b.sigma
    return (pyo.log(b.pref_weight[n, i]) - s * log1p_tariff(b, n, i)
            + b.log_expenditure[n] + (s - 1) * b.log_price_index[n]
            + (1 - s) * (pyo.log(b.tau[n, i]) + b.log_input_price[i]
                         - pyo.log(b.phi_min[i])))


def trade_rule(b, n, i):
    return b.log_trade_value[n, i] == log_trade_value(b, n, i)


trade_rule.__doc__ = log_trade_value.__doc__


def input_market_rule(b, i):
    r"""Composite input used in i under perfect competition: cost equals revenue.

    .. math:: c_i Y_i = \sum_n X_{ni}
    """
    return b.log_input_price[i] + b.log_input_demand[i] == log_sum_exp(
        [b.log_trade_value[n, i] for n in b.destinations(i)])
