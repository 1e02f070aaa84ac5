r"""The quasi-linear upper tier of an economy with ``linear`` sectors (Melitz-Ottaviano, MR section 8).

An economy declares ``market_structure: linear`` for its differentiated
sectors and ``market_structure: outside`` for exactly one sector, the
homogeneous numeraire good :math:`q_0` (:mod:`cge.blocks.outside`). Preferences
of each of the :math:`L_n` consumers are then

.. math:: U_n = q_0 + \sum_{s\ \text{linear}} \Big(\alpha_s Q_{ns}
          - \frac{\gamma_s}{2}\int q_{\omega}^2 d\omega - \frac{\eta_s}{2} Q_{ns}^2\Big),

so the spending on each linear sector is set by its own demand system
(:func:`cge.blocks.linear.sector_budget_rule`), whatever the income, and the
outside good takes what is left:

``sector_expenditure[n, outside]``
    .. math:: X_{n0} + \sum_{s\ \text{linear}} X_{ns} = I_n + \sum_u \gamma_{nu0}\,
              \frac{c_{nu}Y_{nu}}{1+t^P_{nu}}
``outside_good_price[n, s]`` (linear s)
    .. math:: P^{\text{block } s}_{0n} = P_{n0}
    (the linear block's inlet ``outside_price`` is the outside good's price)

and welfare (``real_income``) is money-metric in the outside good,
:math:`U_n = (I_n + \sum_s S_{ns})/P_{n0}` with :math:`S_{ns}` the consumer
surplus of the linear sectors (:func:`cge.blocks.linear.consumer_surplus_rule`):
with :math:`\beta_{n0} = 1` the host's CPI is :math:`P_{n0}`.

What the declaration requires (:func:`cge.checks.check_outside_good`, each a
named error): exactly one ``outside`` sector; :math:`\beta_{ns} = 1` on it and
0 on every other sector (the upper tier is quasi-linear, not Cobb-Douglas);
no CES sector (melitz, krugman, armington, cara) alongside, because their
Cobb-Douglas budget shares have no place in a quasi-linear upper tier without
a further nesting that would change what pins the wage; no sector buys a
linear sector's varieties as an intermediate input (firms have no
quasi-linear demand); the outside good is traded freely (:math:`\tau = 1`, no
tariff on every route); the default closure of final demand. In one-factor
economies the check also solves the sector's equilibrium at the wages the
outside good pins and names a region whose outside good would not be
produced or not consumed.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

__all__ = ["QuasiLinear", "household_final_demand", "initialize_quasi_linear",
           "quasi_linear_price"]


def _log_sum_exp(terms):
    return pyo.log(sum(pyo.exp(t) for t in terms))


class QuasiLinear:
    """The linear sectors and the outside good of ``prim`` (empty when it has none)."""

    def __init__(self, prim):
        ms = prim.market_structure
        self.linear = [s for s in prim.sectors if ms[s] == "linear"]
        outside = [s for s in prim.sectors if ms[s] == "outside"]
        self.outside = outside[0] if outside else None

    def outside_good_demand(self, m, n, s, terms):
        r"""Quasi-linear upper tier: the outside good takes income net of the spending on linear
        sectors (plus its intermediate use).

        .. math:: X_{n0} + \sum_{s\ \text{linear}} X_{ns} = I_n + \sum_u \gamma_{nu0}\,
                  \frac{c_{nu}Y_{nu}}{1+t^P_{nu}}
        """
        lhs = [m.sector[s].log_expenditure[n]] + [m.sector[u].log_expenditure[n]
                                                   for u in self.linear]
        return _log_sum_exp(lhs) == _log_sum_exp(terms)

    def link_outside_price(self, m) -> None:
        """``outside_good_price[n, s]``: each linear block's inlet price of q0 is the outside
        good's price."""
        if not self.linear:
            return
        m.linear_sectors = pyo.Set(initialize=self.linear, ordered=True,
                                   doc="sectors with market structure linear")
        o = self.outside

        def rule(m, n, s):
            r"""The price of the outside good seen by a linear sector is the outside good's price.

            .. math:: P^{(s)}_{0n} = P_{n0}
            """
            return m.sector[s].log_outside_price[n] == m.sector[o].log_price_index[n]

        m.outside_good_price = pyo.Constraint(m.regions * m.linear_sectors, rule=rule,
                                              doc=rule.__doc__)

    def consumer_surplus(self, m, n):
        """Consumer surplus of n's consumers in all linear sectors (currency; 0 without any)."""
        return sum(m.sector[s].consumer_surplus[n] for s in self.linear) if self.linear else 0.0


def quasi_linear_price(prim, cost) -> float:
    """Guess of the outside good's price: its unit cost in the first region (1 without one)."""
    ql = QuasiLinear(prim)
    if ql.outside is None:
        return 1.0
    return float(cost[0, prim.sectors.index(ql.outside)])


def initialize_quasi_linear(m, prim, income, cost, absorption) -> None:
    """The outside good's guess after the linear sectors have theirs: spending is income net
    of linear spending, output is factor income net of the linear sectors' costs (scaled to
    world spending), pooled trade; scales of the level equations."""
    ql = QuasiLinear(prim)
    if ql.outside is None:
        return
    R = list(prim.regions)
    v = pyo.value
    lin_spend = np.array([sum(v(m.sector[s].expenditure[r]) for s in ql.linear) for r in R])
    lin_cost = np.array([sum(v(m.sector[s].input_price[r] * m.sector[s].input_demand[r])
                             for s in ql.linear) for r in R])
    factor_income = (prim["endowment"] * prim.numeraire.value).sum(axis=1)
    absorbed = np.asarray(absorption, float)[:, prim.sectors.index(ql.outside)]
    spending = np.maximum(absorbed - lin_spend, 1e-3 * absorbed)
    output = np.maximum(factor_income - lin_cost, 1e-3 * factor_income)
    output = output * spending.sum() / output.sum()
    blk = m.sector[ql.outside]
    blk.structure.initialize(blk, quasi_linear_price(prim, cost), output, spending)
    blk.value_scale = float(spending.mean())
    for s in ql.linear:
        lb = m.sector[s]
        lb.value_scale = float(np.mean([v(lb.expenditure[r]) for r in R]))
        for r in R:
            lb.tariff_revenue[r].value = v(sum(lb.tariff[r, o] * lb.trade_value[r, o]
                                               for o in lb.origins(r)))


def household_final_demand(m, regions, sectors) -> None:
    """Final demand in the results tables of an economy with linear sectors: one household
    (the default closure) spends all income; on each linear sector its spending
    :math:`X_{ns}` (no intermediate use), on the outside good the rest of income. Overwrites
    the agents' columns that :func:`cge.results.extract` fills from Cobb-Douglas shares."""
    v = pyo.value
    linear = list(m.linear_sectors)
    for r in m.regions:
        income = v(m.income[r])
        spent = 0.0
        for s in linear:
            x = v(m.sector[s].expenditure[r])
            spent += x
            sectors.loc[(r, s), ["household_demand", "government_demand",
                                 "investment_demand"]] = [x, 0.0, 0.0]
        for s in m.sectors:
            if m.sector[s].config.market_structure == "outside":
                sectors.loc[(r, s), ["household_demand", "government_demand",
                                     "investment_demand"]] = [income - spent, 0.0, 0.0]
        regions.loc[r, ["household_spending", "government_spending", "investment_spending",
                        "real_government", "real_investment"]] = [income, 0.0, 0.0, 0.0, 0.0]

