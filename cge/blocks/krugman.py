r"""Market structure ``krugman``: homogeneous firms under CES (Krugman 1980).

Every firm of origin :math:`i` has productivity :math:`\varphi_{\min,i}` and
serves every active market; the per-period fixed cost is the entry cost
:math:`\delta f_{E,i}`. There is no selection.

This module holds the equation families specific to the structure; the block
class, its configuration and ports live in :mod:`cge.blocks.sector`.
Notation follows Melitz and Redding (2014), with :math:`\rho = (\sigma-1)/\sigma`.
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

from ._common import log1p_tariff, log_firm_stock, log_sum_exp

NAME = "krugman"
HAS_FIRMS = True
SELECTS = False
CLOSED_FORM_ROUTES = True  # trade values have closed forms (route_unknowns False)


def declare_closed_forms(b, closed):
    """Without route unknowns: nothing beyond the trade values (:func:`log_trade_value`)."""


def declare_variables(b, positive):
    """No unknowns beyond the common ones."""


def declare_equations(b):
    """The CES price index and bilateral trade with homogeneous firms."""
    b.ces_price_index = pyo.Constraint(b.regions, rule=price_index_rule,
                                       doc=price_index_rule.__doc__)
    if b.route_unknowns:
        b.bilateral_trade = pyo.Constraint(b.routes, rule=trade_rule, doc=trade_rule.__doc__)


def price_index_rule(b, n):
    r"""CES price index with homogeneous firms (Krugman 1980).

    .. math::
        P_n^{1-\sigma} = \sum_i a_{ni} \frac{M_{Ei}}{\delta}
        \left(\frac{(1+t_{ni})\tau_{ni} c_i}{\rho\,\varphi_{\min,i}}\right)^{1-\sigma}
    """
    s = b.sigma
    terms = [
        pyo.log(b.pref_weight[n, i]) + log_firm_stock(b, i)
        + (1 - s) * (log1p_tariff(b, n, i) + pyo.log(b.tau[n, i]) - math.log(b.rho)
                     - pyo.log(b.phi_min[i]) + b.log_input_price[i])
        for i in b.origins(n)
    ]
    return (1 - s) * b.log_price_index[n] == log_sum_exp(terms)


def log_trade_value(b, n, i):
    r"""Bilateral trade with homogeneous firms: every firm of i sells in n.

    .. math::
        X_{ni} = a_{ni} \frac{M_{Ei}}{\delta} (1+t_{ni})^{-\sigma} X_n P_n^{\sigma-1}
        \left(\frac{\tau_{ni} c_i}{\rho\,\varphi_{\min,i}}\right)^{1-\sigma}
    """
    s = b.sigma
    return (pyo.log(b.pref_weight[n, i]) + log_firm_stock(b, i) - s * log1p_tariff(b, n, i)
            + b.log_expenditure[n] + (s - 1) * b.log_price_index[n]
            + (1 - s) * (pyo.log(b.tau[n, i]) + b.log_input_price[i]
                         - math.log(b.rho) - pyo.log(b.phi_min[i])))


def trade_rule(b, n, i):
    return b.log_trade_value[n, i] == log_trade_value(b, n, i)


trade_rule.__doc__ = log_trade_value.__doc__


def free_entry_rule(b, i):
    r"""Free entry with homogeneous firms: operating profits cover the fixed cost.

    .. math::
        \frac{1}{\sigma}\sum_n X_{ni} = c_i f_{E,i} M_{Ei}
    """
    terms = [b.log_trade_value[n, i] for n in b.destinations(i)]
    return log_sum_exp(terms) - math.log(b.sigma) == (
        b.log_input_price[i] + pyo.log(b.f_e[i]) + b.log_entry_mass[i])


def input_terms(b, i):
    r"""Log terms of the composite input used in i, before entry costs.

    .. math:: \rho \sum_n X_{ni}/c_i
    """
    return [math.log(b.rho) + b.log_trade_value[n, i] - b.log_input_price[i]
            for n in b.destinations(i)]


def operating_profit(b, i):
    r"""Sales net of variable costs.

    .. math:: \frac{1}{\sigma}\sum_n X_{ni}
    """
    return sum(b.trade_value[n, i] for n in b.destinations(i)) / b.sigma
