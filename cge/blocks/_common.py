"""Helpers shared by the market-structure modules of :mod:`cge.blocks`.

Every equation of a sector block is written in logarithms (or as a ratio), so
that its residual is a relative error whatever the scale of the data. These
helpers build the recurring pieces of those logarithmic equations.
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

__all__ = ["log1p_tariff", "log_firm_stock", "log_selection_share", "log_sellers", "log_sum_exp",
           "release_shared"]


def _shared(b, key, build):
    """The expression ``build()`` made once per block and ``key`` while the block is built,
    and the same object wherever the equations use it again (Pyomo's expression trees may
    share subtrees: appending to a shared sum copies its arguments first). Building it
    once rather than in every equation that reads it saves a good part of the model's
    construction (60 x 40: the selection share of each route is read four times)."""
    cache = b.__dict__.get("_cge_shared")
    if cache is None:
        cache = {}
        object.__setattr__(b, "_cge_shared", cache)
    expr = cache.get(key)
    if expr is None:
        expr = cache[key] = build()
    return expr


def release_shared(b) -> None:
    """Forget the expressions :func:`_shared` kept for ``b`` (at the end of its build)."""
    b.__dict__.pop("_cge_shared", None)


def log1p_tariff(b, n, i):
    r""":math:`\ln(1+t_{ni})` of the block's mutable tariff parameter."""
    return _shared(b, ("log1p_tariff", n, i), lambda: pyo.log(1 + b.tariff[n, i]))


def log_sum_exp(terms):
    """``log(sum(exp(t)))`` of Pyomo expressions (the aggregates of the model)."""
    return pyo.log(sum(pyo.exp(t) for t in terms))


def log_firm_stock(b, i):
    r"""Log mass of firms that have drawn their productivity (or cost),
    :math:`\ln(M_{Ei}/\delta)`: entrants accumulate at the exit rate :math:`\delta`."""
    return _shared(b, ("log_firm_stock", i), lambda: b.log_entry_mass[i] - math.log(b.delta))


def log_selection_share(b, n, i):
    r"""Log share of drawn firms selling in n under Pareto draws,
    :math:`k \ln(\varphi_{\min,i}/\varphi^*_{ni})`."""
    return _shared(b, ("log_selection_share", n, i),
                   lambda: b.k * (pyo.log(b.phi_min[i]) - b.log_cutoff[n, i]))


def log_sellers(b, n, i):
    r"""Log mass of i's firms selling in n under Pareto draws (selection at a cutoff),
    :math:`\ln M_{ni} = \ln(M_{Ei}/\delta) + k \ln(\varphi_{\min,i}/\varphi^*_{ni})`."""
    return log_firm_stock(b, i) + log_selection_share(b, n, i)
