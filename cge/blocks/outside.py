r"""Market structure ``outside``: the homogeneous, freely traded numeraire good :math:`q_0` of
Melitz and Ottaviano (MR section 8), which absorbs the income effects of ``linear`` sectors.

The good is produced under perfect competition and constant returns from the
origin's composite input (unit cost :math:`c_i`, from the host's
``unit_cost``: with labour only, one unit of labour per unit of the good) and
traded without trade costs or tariffs, so it has one world price
:math:`P_0` and, wherever it is produced, its price equals its unit cost: this
pins the factor price of every region that produces it (MR: "productivity in
this sector pins down a unitary wage in each country"). The model as written
assumes it is produced in every region (:math:`Y_i > 0`) and consumed in every
region; :func:`cge.checks.check_outside_good` names a region where that fails
before solving (one-factor economies) and :func:`check_outside_good_solution`
after solving.

Bilateral trade in a homogeneous good is indeterminate; the block makes it
determinate with weights :math:`a_{ni}` (``pref_weight``; 1: a pooled world
market, calibration: the benchmark's shares, so that every benchmark flow is
replicated) and one supply weight :math:`b_i` per origin (``supply_weight``)
that clears the origin's output: buyers in :math:`n` split their spending
:math:`X_{ni} = X_n a_{ni}b_i/\sum_j a_{nj}b_j`, and :math:`\sum_n X_{ni} = c_iY_i`.
With :math:`a = 1` this is the pooled market,
:math:`X_{ni} = X_n\,c_iY_i/\sum_j c_jY_j`. The weights change no price and no
quantity other than the bilateral split.

This module holds the equation families specific to the structure; the block
class, its configuration and ports live in :mod:`cge.blocks.sector`.
"""

from __future__ import annotations

import pyomo.environ as pyo

from ..errors import InputError
from ._common import log_sum_exp

NAME = "outside"
HAS_FIRMS = False
SELECTS = False


def declare_variables(b, positive):
    """The supply weight of each origin (the price index is the good's price in n)."""
    positive("supply_weight", b.regions, "b_i: weight of origin i in buyers' split of their "
             "spending on the homogeneous good (clears i's output; 1 in the first region)")


def declare_equations(b):
    """One world price, price equal to unit cost where produced, the bilateral split of
    spending and the normalisation of the supply weights."""
    b.world_price = pyo.Constraint(b.regions, rule=world_price_rule, doc=world_price_rule.__doc__)
    b.zero_profit = pyo.Constraint(b.regions, rule=zero_profit_rule, doc=zero_profit_rule.__doc__)
    b.bilateral_trade = pyo.Constraint(b.routes, rule=trade_rule, doc=trade_rule.__doc__)
    b.supply_weight_normalisation = pyo.Constraint(
        expr=b.log_supply_weight[_first(b)] == 0.0,
        doc="b_1 = 1: the supply weights are relative (only their ratios split spending)")


def _first(b):
    return b.regions.first()


def world_price_rule(b, n):
    r"""Free trade: the outside good has one price everywhere.

    .. math:: P_{0n} = P_{0,1} \qquad \forall n \ne 1 \text{ (the first region)}
    """
    if n == _first(b):
        return pyo.Constraint.Skip
    return b.log_price_index[n] == b.log_price_index[_first(b)]


def zero_profit_rule(b, i):
    r"""Perfect competition where the good is produced: price equals unit cost.

    .. math:: c_i = P_{0i}
    """
    return b.log_input_price[i] == b.log_price_index[i]


def trade_rule(b, n, i):
    r"""Bilateral split of n's spending on the homogeneous good.

    .. math:: X_{ni} = X_n\, \frac{a_{ni} b_i}{\sum_j a_{nj} b_j}
    """
    return b.log_trade_value[n, i] == (
        b.log_expenditure[n] + pyo.log(b.pref_weight[n, i]) + b.log_supply_weight[i]
        - log_sum_exp([pyo.log(b.pref_weight[n, j]) + b.log_supply_weight[j]
                       for j in b.origins(n)]))


def input_market_rule(b, i):
    r"""Output of the good in i is what buyers buy from i (summed over i: world output equals
    world spending).

    .. math:: c_i Y_i = \sum_n X_{ni}
    """
    return b.log_input_price[i] + b.log_input_demand[i] == log_sum_exp(
        [b.log_trade_value[n, i] for n in b.destinations(i)])


def initialize(b, price, output_value, spending) -> None:
    """Price, output, supply weights and trade from guesses of output value and spending by
    region (supply weights proportional to output: exact for the pooled market)."""
    import math
    R = list(b.regions)
    for j, r in enumerate(R):
        b.log_price_index[r].value = math.log(price)
        b.log_expenditure[r].value = math.log(spending[j])
        b.log_input_demand[r].value = math.log(output_value[j] / pyo.value(b.input_price[r]))
        b.log_supply_weight[r].value = math.log(output_value[j] / output_value[0])
    for n, i in b.routes:
        b.log_trade_value[n, i].value = pyo.value(trade_rule(b, n, i).args[1])


def check_outside_good_solution(m, tol: float = 1e-9) -> None:
    """After a solve: the outside good is produced and consumed in every region (named
    :class:`~cge.errors.InputError` otherwise). In logarithms both stay positive, so this
    catches levels that collapsed to round-off (a corner the model does not describe)."""
    problems = []
    for s in m.sectors:
        blk = m.sector[s]
        if blk.config.market_structure != NAME:
            continue
        world = sum(pyo.value(blk.input_price[r] * blk.input_demand[r]) for r in blk.regions)
        for r in blk.regions:
            out = pyo.value(blk.input_price[r] * blk.input_demand[r])
            if out < tol * world:
                problems.append(f"region={r}: the outside good {s} is not produced (output "
                                f"{out:.3g} of world {world:.3g}), so its price does not pin "
                                f"the factor prices of {r}")
    if problems:
        raise InputError(problems)


#: A level this many log points below the block's typical value has collapsed.
COLLAPSED_LOG = 20.0


def numeraire_good_failures(m) -> list[str]:
    """After a failed solve: the regions where the outside good's output or spending on it has
    collapsed towards zero (log level more than :data:`COLLAPSED_LOG` below the block's typical
    value), each a sentence naming the region and the assumption of MR section 8 that fails."""
    import math

    out = []
    for s in m.sectors:
        blk = m.sector[s]
        if blk.config.market_structure != NAME:
            continue
        floor = math.log(pyo.value(blk.value_scale)) - COLLAPSED_LOG
        for r in blk.regions:
            made, bought = blk.log_input_demand[r].value, blk.log_expenditure[r].value
            if made is not None and made + (blk.log_input_price[r].value or 0.0) < floor:
                out.append(f"region={r}: the outside good {s} is no longer produced (its output "
                           f"collapses towards zero), so its price cannot pin the factor prices "
                           f"of {r}: the equilibrium as written (MR section 8) does not exist")
            if bought is not None and bought < floor:
                out.append(f"region={r}: the outside good {s} is no longer consumed (spending on it "
                           "collapses towards zero): spending on the linear sectors would exceed "
                           "income, so their demand is no longer income-independent")
    return out

