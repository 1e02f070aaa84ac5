r"""Equilibrium results as pandas objects labelled by region, sector and factor.

:func:`extract` reads a solved model into a :class:`Results`:

``regions`` (index region)
    income :math:`I_n`, consumer price index, real income (welfare)
    :math:`U_n = I_n/\text{CPI}_n` (under a non-default closure of final
    demand the household's real consumption :math:`E_{nh}/P_{nh}`), spending
    of the final-demand agents ``household_spending``, ``government_spending``,
    ``investment_spending`` (:math:`E_{na}`), real government consumption and
    real investment (:math:`E_{na}/P_{na}`), factor income, tariff revenue,
    production-tax revenue (``production_tax_revenue``, :math:`\sum_s R^P_{ns}`),
    profits, deficit, exports, imports and the trade balance.
``factors`` (index region, factor)
    factor prices :math:`w_{nf}` and endowments.
``sectors`` (index region, sector)
    price index, expenditure, unit input cost, composite input used, output
    (sales :math:`\sum_n X_{ni}`), entrants :math:`M_{Ei}`, producers,
    domestic cutoff, share of producers that export, average productivity of
    producers, tariff revenue, the production-tax rate :math:`t^P_{is}`
    (``production_tax``) and its revenue
    :math:`R^P_{is} = t^P_{is}/(1+t^P_{is})\,c_{is}Y_{is}` (``production_tax_revenue``),
    profit and final demand by agent
    (``household_demand``, ``government_demand``, ``investment_demand``:
    :math:`\beta_{nas} E_{na}`).
``routes`` (index destination, origin, sector)
    trade at c.i.f. and tariff-inclusive value, trade share
    :math:`\lambda_{ni}` of the destination's spending, cutoff, mass of sellers,
    average productivity of sellers, tariff rate and revenue.

Average productivity is Melitz's (2003) aggregate
:math:`\tilde\varphi = \left[\int_{\varphi^*}^\infty \varphi^{\sigma-1} dG /
(1-G(\varphi^*))\right]^{1/(\sigma-1)} = \varphi^* (k/(k-\sigma+1))^{1/(\sigma-1)}`:
the productivity whose revenue is the average revenue of the firms it
summarises.
"""

from __future__ import annotations

import math
import operator
import weakref
from itertools import repeat
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.common.numeric_types import native_types

from .formula import Formula, Formulas
from .parameters import AGENTS


@dataclass
class Results:
    """Tables of one equilibrium (see the module docstring)."""

    regions: pd.DataFrame
    factors: pd.DataFrame
    sectors: pd.DataFrame
    routes: pd.DataFrame
    walras_residual: float
    max_residual: float
    info: dict = field(default_factory=dict)
    #: the primitives solved for and the region the small-open-economy closure holds
    #: fixed (set by :meth:`cge.Equilibrium.solve`; they let :class:`Comparison`
    #: decompose welfare)
    primitives: Any = field(default=None, repr=False)
    fixed_region: str | None = None

    @property
    def welfare(self) -> pd.Series:
        return self.regions["real_income"]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"regions": self.regions, "factors": self.factors,
                "sectors": self.sectors, "routes": self.routes}

    def compare(self, base: "Results") -> "Comparison":
        """Changes from ``base`` to this equilibrium."""
        return Comparison(base, self)


def _pct(new, old):
    return 100.0 * (new / old - 1.0)


@dataclass
class Comparison:
    """Changes between two equilibria of the same economy."""

    base: Results
    new: Results

    @property
    def decomposition(self):
        """The :class:`cge.welfare.WelfareDecomposition` of the change (regions and
        sectors), or ``None`` when the primitives of the two equilibria are not known."""
        if self.base.primitives is None or self.new.primitives is None:
            return None
        from .welfare import decompose

        return decompose(self.base, self.new, self.base.primitives, self.new.primitives,
                         fixed_region=self.new.fixed_region or self.base.fixed_region)

    @property
    def welfare(self) -> pd.DataFrame:
        """Real income change, its decomposition and the equivalent variation per region.

        ``real_income_base``, ``real_income_new`` (benchmark money), ``welfare_change_pct``
        (:math:`100(U'/U-1)`), ``welfare_per_capita_change_pct`` (real income per
        consumer, ``population``), ``total`` and its components in log points
        (:math:`100\\,\\Delta\\ln U`, :mod:`cge.welfare`), ``ev`` (the change in income
        at benchmark prices that gives the new utility, :math:`(U_n' - U_n)\\,
        \\text{CPI}_n^0`) and its components ``ev_<component>`` in money of the
        benchmark, and ``ev_pct_of_income``. The same names as the ``welfare`` table of
        a scenario run and the CLI.
        """
        b, n = self.base.regions, self.new.regions
        out = pd.DataFrame(index=b.index)
        out["real_income_base"] = b["real_income"]
        out["real_income_new"] = n["real_income"]
        dec = self.decomposition
        per_capita = None
        if "real_income_per_capita" in b and "real_income_per_capita" in n:
            per_capita = _pct(n["real_income_per_capita"], b["real_income_per_capita"])
        if dec is not None:
            out = out.join(dec.regions)
            if per_capita is not None:
                out["welfare_per_capita_change_pct"] = per_capita
            return out
        out["welfare_change_pct"] = _pct(n["real_income"], b["real_income"])
        if per_capita is not None:
            out["welfare_per_capita_change_pct"] = per_capita
        out["ev"] = (n["real_income"] - b["real_income"]) * b["cpi"]
        out["ev_pct_of_income"] = 100 * out["ev"] / b["income"]
        return out

    @property
    def sectors(self) -> pd.DataFrame:
        cols = ["price_index", "output", "entry_mass", "producers", "domestic_cutoff",
                "exporter_share", "average_productivity"]
        b, n = self.base.sectors[cols], self.new.sectors[cols]
        return _pct(n, b).add_suffix("_pct")

    @property
    def routes(self) -> pd.DataFrame:
        cols = ["trade_value", "trade_value_gross", "trade_share", "cutoff", "sellers"]
        b, n = self.base.routes[cols], self.new.routes[cols]
        out = _pct(n, b).add_suffix("_pct")
        # Extensive (number of sellers) and intensive (sales per seller) margins of trade.
        out["extensive_margin_log"] = np.log(n["sellers"] / b["sellers"])
        out["intensive_margin_log"] = np.log((n["trade_value"] / n["sellers"])
                                             / (b["trade_value"] / b["sellers"]))
        return out

    @property
    def factors(self) -> pd.DataFrame:
        return _pct(self.new.factors[["factor_price"]], self.base.factors[["factor_price"]]).add_suffix("_pct")


def _agents(m, lay: "_Layout", get, income: np.ndarray, price_index: np.ndarray):
    """Spending E_na (region, agent), real spending E_na/P_na and final demand by sector
    beta_nas E_na (region, agent, sector) of the final-demand agents.

    With the agents built (a non-default closure) from the model; under the
    default closure the regional household's spending split by the agent
    parameters where they are given (E_na = omega_na I_n), else all of it
    the household's. ``price_index`` is :math:`P_{ns}` (region, sector).
    """
    R, S = lay.R, lay.S
    nR, nS, nA = len(R), len(S), len(AGENTS)
    logP = np.log(price_index)
    spending = np.zeros((nR, nA))
    if lay.agent_spending is not None:
        beta = get(m.agent_beta, "agents").reshape(nR, nA, nS)
        for n, k, formula in lay.agent_spending:
            spending[n, k] = formula()
        positive = beta > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            log_beta = np.log(np.where(positive, beta, 1.0))
    else:
        arrays = getattr(m, "_agent_arrays", {})
        omega = arrays.get("agent_share")
        beta_a = arrays.get("agent_beta")
        if omega is None:
            omega = np.full((nR, nA), np.nan)
        if beta_a is None:
            beta_a = np.full((nR, nA, nS), np.nan)
        b = get(m.beta, "cells").reshape(nR, nS)
        shares = lay.agent_shares
        if shares is None or not shares.holds(omega, beta_a, b):
            shares = lay.agent_shares = _AgentShares(omega, beta_a, b)
        given, beta = shares.given, shares.beta
        spending[given] = shares.omega_given * income[given, None]
        spending[shares.other, 0] = income[shares.other]
        positive, log_beta = shares.positive, shares.log_beta
    with np.errstate(divide="ignore", invalid="ignore"):
        lb = np.where(positive, beta * (logP[:, None, :] - log_beta), 0.0)
    price = np.exp(lb.sum(axis=2))  # P_na
    real = np.where(spending > 0, spending / price, 0.0)
    return spending, real, beta * spending[:, :, None]


class _AgentShares:
    r"""What :func:`_agents` computes under the default closure from the agent parameters
    and beta alone: the shares :math:`\beta_{nas}` (the agent parameters where a region
    gives them, else the household's beta for every agent), the regions that give them,
    the positive shares and their logarithms. Kept on the layout while those arrays hold
    the same bytes (:meth:`holds`; copies are kept, so that arrays changed in place are
    seen)."""

    def __init__(self, omega: np.ndarray, beta_a: np.ndarray, b: np.ndarray):
        self._key = tuple(np.array(x, copy=True) for x in (omega, beta_a, b))
        nR, nA = omega.shape
        beta = np.zeros((nR, nA, b.shape[1]))
        given = np.isfinite(omega).all(axis=1) & np.isfinite(beta_a).all(axis=(1, 2))
        beta[given] = beta_a[given]
        beta[~given] = b[~given][:, None, :]  # (every agent: the household's shares)
        self.given, self.other, self.omega_given = given, ~given, omega[given]
        self.beta = beta
        self.positive = beta > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.log_beta = np.log(np.where(self.positive, beta, 1.0))

    def holds(self, omega: np.ndarray, beta_a: np.ndarray, b: np.ndarray) -> bool:
        return all(x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()
                   for x, y in zip((omega, beta_a, b), self._key))


def _values(component, index) -> np.ndarray:
    """Values of a Var or mutable Param at ``index`` (a list of keys), as an array (read
    from the component's data directly: indexing a Pyomo component costs more than the
    value)."""
    data = getattr(component, "_data", None)
    if isinstance(data, dict):
        try:
            return np.fromiter((data[key]._value for key in index), dtype=float,
                               count=len(index))
        except (KeyError, TypeError, AttributeError):
            pass
    return np.array([component[key].value for key in index], dtype=float)


_VALUE = operator.attrgetter("_value")


class _Reader:
    """The values of many Var and mutable Param data, read in one pass.

    Each component's data objects are looked up once (:meth:`add`, under a label
    naming the keys: ``"R"``, ``"routes"``...); :meth:`read` then reads every value
    into one array, and :meth:`get` returns a component's slice of it. A component
    not added is read with :func:`_values`.
    """

    def __init__(self):
        self._objects: list = []
        self._at: dict[tuple, slice] = {}
        self._keys: dict[tuple, list] = {}
        self._values = np.empty(0)
        #: changes whenever :meth:`read` finds other values than the last read (what is
        #: computed from them can be kept while it stays: :meth:`_Layout.route_logs`)
        self.generation = 0
        #: whether :meth:`read` has read any values
        self.has_read = False

    def add(self, component, label, keys) -> None:
        if component is None or (id(component), label) in self._at:
            return
        keys = list(keys)
        if not (isinstance(component, pyo.Var)
                or (isinstance(component, pyo.Param) and component.mutable)):
            self._keys[id(component), label] = keys  # read with _values
            return
        data = [component[k] for k in keys] if component.is_indexed() else [component]
        start = len(self._objects)
        self._objects.extend(data)
        self._at[id(component), label] = slice(start, len(self._objects))
        self._keys[id(component), label] = keys

    def read(self) -> None:
        objects = self._objects
        try:
            values = np.fromiter(map(_VALUE, objects), dtype=float, count=len(objects))
        except (TypeError, AttributeError):  # a value not set
            values = np.array([o.value for o in objects], dtype=float)
        if values.shape != self._values.shape or values.tobytes() != self._values.tobytes():
            self.generation += 1
        self._values = values
        self.has_read = True

    def get(self, component, label, keys=None) -> np.ndarray:
        at = self._at.get((id(component), label))
        if at is None:
            return _values(component, self._keys.get((id(component), label), keys))
        return self._values[at]


def route_logs(blk, get=None) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Logs of trade values :math:`X_{ni}` and (melitz, cara) cutoffs :math:`\varphi^*_{ni}` of a
    sector block, in the order of ``blk.routes``, computed from arrays.

    Where the block holds them as unknowns their values are read; where they are
    closed-form Expressions of the aggregates (``route_unknowns: False``) the
    same closed forms are evaluated with numpy (what evaluating the Expressions
    one by one would give, thousands of times faster). ``get(component, label)``
    returns the values of a component over the block's regions (``"R"``) or routes
    (``"routes"``) (default: read them from the model).
    """
    if get is None:
        get = _Layout.direct(blk)
    melitz = blk.is_melitz
    cara = blk.config.market_structure == "cara"
    if isinstance(blk.log_trade_value, pyo.Var):
        ltv = get(blk.log_trade_value, "routes")
        lcut = get(blk.log_cutoff, "routes") if melitz or cara else None
        return ltv, lcut
    dest, orig = _Layout.route_positions(blk)
    s, k = blk.sigma, blk.k
    lX = get(blk.log_expenditure, "R")[dest]
    lP = get(blk.log_price_index, "R")[dest]
    lc = get(blk.log_input_price, "R")[orig]
    lphi_min = np.log(get(blk.phi_min, "R"))[orig]
    ltau = np.log(get(blk.tau, "routes"))
    l1t = np.log1p(get(blk.tariff, "routes"))
    la = np.log(get(blk.pref_weight, "routes"))
    lcut = None
    if cara:  # cge.blocks.cara.log_cutoff and log_trade_value
        kappa = blk.structure.cara_constants(k)
        lpd = lP + np.log(kappa["utility"] / kappa["spending"])
        lcut = l1t + ltau + lc - lpd
        lstock = get(blk.log_entry_mass, "R")[orig] - np.log(blk.delta)
        lL = np.log(get(blk.population, "R"))[dest]
        ltv = (lL + lpd - np.log(blk.alpha) + np.log(kappa["spending"])
               + lstock + k * (lphi_min - lcut) - l1t)
    elif melitz:
        lf = np.log(get(blk.f, "routes"))
        lcut = ((np.log(s) + lf + s * l1t + lc - la - lX - (s - 1) * lP) / (s - 1)
                + ltau + lc - np.log(blk.rho))
        lstock = get(blk.log_entry_mass, "R")[orig] - np.log(blk.delta)
        ltv = lstock + k * (lphi_min - lcut) + np.log(s * k / (k - s + 1)) + lc + lf
    elif blk.has_firms:
        lstock = get(blk.log_entry_mass, "R")[orig] - np.log(blk.delta)
        ltv = (la + lstock - s * l1t + lX + (s - 1) * lP
               + (1 - s) * (ltau + lc - np.log(blk.rho) - lphi_min))
    else:
        ltv = la - s * l1t + lX + (s - 1) * lP + (1 - s) * (ltau + lc - lphi_min)
    return ltv, lcut


#: Components of a sector block the array form reads, over its regions and its routes.
_BLOCK_REGION_COMPONENTS = ("log_expenditure", "log_price_index", "log_input_price",
                            "log_input_demand", "log_entry_mass", "phi_min", "population",
                            "tariff_revenue", "profit", "f_e")
_BLOCK_ROUTE_COMPONENTS = ("log_trade_value", "log_cutoff", "tau", "tariff", "pref_weight", "f")


def _sector_columns(m, s: str, get, profit=None, logs=None) -> tuple[dict, dict]:
    """The route columns and the (region) sector columns of sector ``s``, from arrays
    (``get`` as in :func:`route_logs`; without the columns that name the rows). Profits
    that are an Expression come from ``profit`` when given (:class:`_Layout`: constant
    values or :class:`Formula` objects); ``logs``: :func:`route_logs` of the sector, if
    computed already."""
    blk = m.sector[s]
    R = list(m.regions)
    dest, orig = _Layout.route_positions(blk)
    nroutes = len(dest)
    sigma, k, delta = blk.sigma, blk.k, blk.delta
    ms = blk.config.market_structure
    phi_tilde = (k / (k - sigma + 1)) ** (1 / (sigma - 1)) if ms == "melitz" else 1.0
    if ms == "cara":  # mean productivity of sellers, k/(k-1) times the cutoff
        phi_tilde = blk.structure.average_productivity_factor(blk)
    ltv, lcut = route_logs(blk, get) if logs is None else logs
    x = np.exp(ltv)
    t = get(blk.tariff, "routes")
    expenditure = np.exp(get(blk.log_expenditure, "R"))
    phi_min = get(blk.phi_min, "R")
    f = get(blk.f, "routes")
    entry = np.exp(get(blk.log_entry_mass, "R")) if blk.has_firms else np.full(len(R), np.nan)
    if ms in ("melitz", "cara"):
        cut = np.exp(lcut)
        sellers = entry[orig] / delta * (phi_min[orig] / cut) ** k
        avg = cut * phi_tilde
    elif ms == "krugman":
        cut = phi_min[orig]
        sellers = entry[orig] / delta
        avg = cut
    else:
        cut = sellers = avg = np.full(nroutes, np.nan)
    route_columns = {
        "trade_value": x, "trade_value_gross": x * (1 + t),
        "trade_share": x * (1 + t) / expenditure[dest],
        "cutoff": cut, "sellers": sellers, "average_productivity": avg,
        "tau": get(blk.tau, "routes"), "tariff": t, "tariff_revenue": t * x,
        "fixed_cost": f,
    }
    if ms == "cara":  # cge.blocks.cara.route_results, from arrays
        kappa = blk.structure.cara_constants(k)
        choke = np.exp(get(blk.log_price_index, "R")
                       + np.log(kappa["utility"] / kappa["spending"]))
        pd_route = choke[dest]
        margin = kappa["margin_mean"] * pd_route
        route_columns["choke_price"] = pd_route
        route_columns["cost_cutoff"] = 1.0 / cut
        route_columns["markup_mean"] = np.full(nroutes, float(kappa["markup_mean"]))
        route_columns["markup_revenue_weighted"] = np.full(
            nroutes, float(kappa["markup_revenue_weighted"]))
        route_columns["margin_mean"] = margin
        route_columns["price_mean"] = pd_route * k / (k + 1) + margin
    nR = len(R)
    output = np.bincount(orig, weights=x, minlength=nR)
    input_price = np.exp(get(blk.log_input_price, "R"))
    if blk.has_firms:
        cost = np.bincount(orig, weights=f * sellers, minlength=nR) if ms == "melitz" else np.zeros(nR)
        if blk.config.entry == "free":
            cost = cost + get(blk.f_e, "R") * entry
        if ms == "cara":  # operating profits are the share kappa_3/kappa_1 of sales
            kappa = blk.structure.cara_constants(k)
            net_profit = kappa["profit"] / kappa["spending"] * output - input_price * cost
        else:
            net_profit = output / sigma - input_price * cost
    else:
        net_profit = np.zeros(nR)
    if isinstance(blk.profit, pyo.Var):
        profit = get(blk.profit, "R")
    elif isinstance(profit, np.ndarray):
        profit = profit.copy()
    elif profit is not None:
        profit = np.array([f() for f in profit], dtype=float)
    else:
        profit = np.array([pyo.value(blk.profit[r]) for r in R], dtype=float)
    production_tax = get(m.production_tax, ("sector", s), [(r, s) for r in R])
    log_input_demand = get(blk.log_input_demand, "R")
    columns = {
        "price_index": np.exp(get(blk.log_price_index, "R")),
        "expenditure": expenditure, "input_price": input_price,
        "input_demand": np.exp(log_input_demand),
        "output": output,
        "tariff_revenue": get(blk.tariff_revenue, "R"),
        "production_tax": production_tax,
        # R^P = t^P/(1+t^P) c Y (the model's production_tax_revenue, from arrays)
        "production_tax_revenue": production_tax / (1 + production_tax) * np.exp(
            get(blk.log_input_price, "R") + log_input_demand),
        "profit": profit, "net_profit": net_profit,
    }
    if ms in ("melitz", "cara"):
        low = np.full(nR, np.inf)
        np.minimum.at(low, orig, cut)
        foreign = dest != orig
        low_foreign = np.full(nR, np.inf)
        np.minimum.at(low_foreign, orig[foreign], cut[foreign])
        domestic = np.full(nR, np.nan)
        domestic[orig[~foreign]] = cut[~foreign]
        serves = np.isfinite(low)
        columns["entry_mass"] = entry
        columns["producers"] = np.where(serves, entry / delta * (phi_min / np.where(serves, low, 1.0)) ** k, 0.0)
        columns["domestic_cutoff"] = domestic
        columns["exporter_share"] = np.where(
            np.isfinite(low_foreign), (low / np.where(np.isfinite(low_foreign), low_foreign, 1.0)) ** k, 0.0)
        columns["average_productivity"] = np.where(serves, low * phi_tilde, np.nan)
    elif ms == "krugman":
        has_foreign = np.bincount(orig[dest != orig], minlength=nR) > 0
        columns["entry_mass"] = entry
        columns["producers"] = entry / delta
        columns["domestic_cutoff"] = phi_min
        columns["exporter_share"] = np.where(has_foreign, 1.0, 0.0)
        columns["average_productivity"] = phi_min
    else:
        for col in ("entry_mass", "producers", "domestic_cutoff", "exporter_share",
                    "average_productivity"):
            columns[col] = np.full(nR, np.nan)
    return route_columns, columns


def _sector_tables(m, s: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The route table and the (region) sector table of sector ``s``, from arrays (the
    layout of :func:`_sector_tables_by_expression`)."""
    blk = m.sector[s]
    routes = list(blk.routes)
    R = list(m.regions)
    route_columns, columns = _sector_columns(m, s, _Layout.direct(blk))
    route_table = pd.DataFrame({"destination": [n for n, _ in routes],
                                "origin": [i for _, i in routes], "sector": s, **route_columns})
    sector_table = pd.DataFrame({"region": R, "sector": s,
                                 "market_structure": blk.config.market_structure, **columns})
    return route_table, sector_table

def _sector_tables_by_expression(m, s: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables of sector ``s`` evaluated expression by expression (market structures
    without an array form in :func:`_sector_tables`)."""
    R = list(m.regions)
    v = pyo.value
    route_rows, sector_rows = [], []
    for s in [s]:
        blk = m.sector[s]
        sigma, k, delta = blk.sigma, blk.k, blk.delta
        ms = blk.config.market_structure
        phi_tilde = (k / (k - sigma + 1)) ** (1 / (sigma - 1)) if ms == "melitz" else 1.0
        if ms in ("cara", "linear"):  # mean productivity of sellers, k/(k-1) times the cutoff
            phi_tilde = blk.structure.average_productivity_factor(blk)
        extra = getattr(blk.structure, "route_results", None)
        for n, i in blk.routes:
            x = v(blk.trade_value[n, i])
            t = v(blk.tariff[n, i])
            if blk.selects:
                cut = v(blk.cutoff[n, i])
                sellers = v(blk.sellers[n, i])
                avg = cut * phi_tilde
            elif ms == "krugman":
                cut = v(blk.phi_min[i])
                sellers = v(blk.entry_mass[i]) / delta
                avg = cut
            else:
                cut, sellers, avg = np.nan, np.nan, np.nan
            route_rows.append({
                "destination": n, "origin": i, "sector": s,
                "trade_value": x, "trade_value_gross": x * (1 + t),
                "trade_share": x * (1 + t) / v(blk.expenditure[n]),
                "cutoff": cut, "sellers": sellers, "average_productivity": avg,
                "tau": v(blk.tau[n, i]), "tariff": t, "tariff_revenue": t * x,
                "fixed_cost": v(blk.f[n, i]),
                **(extra(blk, n, i) if extra else {}),
            })
        for r in R:
            dests = blk.destinations(r)
            output = sum(v(blk.trade_value[n, r]) for n in dests)
            row = {
                "region": r, "sector": s, "market_structure": ms,
                "price_index": v(blk.price_index[r]),
                "expenditure": v(blk.expenditure[r]),
                "input_price": v(blk.input_price[r]),
                "input_demand": v(blk.input_demand[r]),
                "output": output,
                "tariff_revenue": v(blk.tariff_revenue[r]),
                "production_tax": v(m.production_tax[r, s]),
                "production_tax_revenue": v(m.production_tax_revenue[r, s]),
                "profit": v(blk.profit[r]),
                "net_profit": v(blk.net_profit[r]),
            }
            if blk.selects:
                cuts = {n: v(blk.cutoff[n, r]) for n in dests}
                low = min(cuts.values()) if cuts else np.nan
                foreign = [c for n, c in cuts.items() if n != r]
                stock = v(blk.entry_mass[r]) / delta
                pmin = v(blk.phi_min[r])
                row.update(
                    entry_mass=v(blk.entry_mass[r]),
                    producers=stock * (pmin / low) ** k if cuts else 0.0,
                    domestic_cutoff=cuts.get(r, np.nan),
                    exporter_share=(low / min(foreign)) ** k if foreign else 0.0,
                    average_productivity=low * phi_tilde if cuts else np.nan,
                )
            elif ms == "krugman":
                has_foreign = any(n != r for n in dests)
                row.update(
                    entry_mass=v(blk.entry_mass[r]),
                    producers=v(blk.entry_mass[r]) / delta,
                    domestic_cutoff=v(blk.phi_min[r]),
                    exporter_share=1.0 if has_foreign else 0.0,
                    average_productivity=v(blk.phi_min[r]),
                )
            else:
                row.update(entry_mass=np.nan, producers=np.nan, domestic_cutoff=np.nan,
                           exporter_share=np.nan, average_productivity=np.nan)
            sector_rows.append(row)
    return pd.DataFrame(route_rows), pd.DataFrame(sector_rows)


#: Market structures whose tables :func:`_sector_columns` builds from arrays.
ARRAY_STRUCTURES = ("melitz", "krugman", "armington", "cara")


class _Layout:
    """What the result tables of one model need that depends on its structure only: the
    tables' indexes, the positions of every route's destination and origin, the Var and
    Param data whose values fill them (:class:`_Reader`) and the Expressions evaluated.

    Built once per model (:func:`_layout`, kept on the model): a solve changes values,
    never the sets, so that every :func:`extract` after the first only reads values
    and computes with numpy. It stays valid while the components it reads are the
    model's (:meth:`valid`).
    """

    def __init__(self, m):
        from pyomo.core.expr.numeric_expr import ProductExpression

        self.model = weakref.ref(m)
        R, S, F = list(m.regions), list(m.sectors), list(m.factors)
        self.R, self.S, self.F = R, S, F
        reader = self.reader = _Reader()
        self._route_logs: dict[str, tuple] = {}
        #: (owner, name, component) of everything read: the layout holds while each is there
        self._components: list[tuple] = []
        #: sector -> whether its tables come from arrays (:data:`ARRAY_STRUCTURES`)
        self.array: dict[str, bool] = {}
        #: sector -> its profits when an Expression: constant (free entry: 0) or formulas
        self.profit: dict[str, object] = {}
        dest_names, orig_names, route_sectors, dest_pos, orig_pos = [], [], [], [], []
        self.route_counts = []
        for s in S:
            blk = m.sector[s]
            self.array[s] = blk.config.market_structure in ARRAY_STRUCTURES
            routes = list(blk.routes)
            self.route_counts.append(len(routes))
            dest, orig = _Layout.route_positions(blk)
            for n, i in routes:
                dest_names.append(n)
                orig_names.append(i)
            route_sectors.extend([s] * len(routes))
            dest_pos.append(dest)
            orig_pos.append(orig)
            for name in _BLOCK_REGION_COMPONENTS:
                self._add(blk, name, "R", R)
            for name in _BLOCK_ROUTE_COMPONENTS:
                self._add(blk, name, "routes", routes)
            self._add(m, "production_tax", ("sector", s), [(r, s) for r in R])
            profit = getattr(blk, "profit", None)
            self.profit[s] = None
            if isinstance(profit, pyo.Expression):
                exprs = [profit[r].expr for r in R]
                if all(e.__class__ in native_types for e in exprs):  # free entry: 0
                    self.profit[s] = np.array(exprs, dtype=float)
                else:
                    self.profit[s] = [Formula(profit[r]) for r in R]
                self._components.append((blk, "profit", profit))
        cells = [(r, f) for r in R for f in F]
        for name in ("log_factor_price", "endowment"):
            self._add(m, name, "cells", cells)
        for name in ("log_income", "population", "deficit"):
            self._add(m, name, "R", R)
        self._add(m, "beta", "cells", [(r, s) for r in R for s in S])
        self.agent_spending = None
        if hasattr(m, "agent_use"):
            self._add(m, "agent_beta", "agents", [(r, a, s) for r in R for a in AGENTS for s in S])
            use = set(m.agent_use)
            self.agent_spending = [(n, k, Formula(m.agent_spending[r, a])) for n, r in enumerate(R)
                                   for k, a in enumerate(AGENTS) if (r, a) in use]
            self._components.append((m, "agent_spending", m.agent_spending))
        # (each table column's formulas evaluated by one call: cge.formula.Formulas)
        self.cpi = Formulas(m.consumer_price_index[r] for r in R)
        self.real_income = Formulas(m.real_income[r] for r in R)
        # D_n kappa: the deficit times the value of its unit, evaluated once (else each
        # region's Expression evaluates world income again)
        self.deficit_unit = getattr(m, "deficit_unit", None)
        for r in R:
            e = m.deficit_value[r].expr
            if not (isinstance(e, ProductExpression) and e.args[0] is m.deficit[r]
                    and e.args[1] is self.deficit_unit):
                self.deficit_unit = None
        self.deficit_value = Formulas(m.deficit_value[r] for r in R)
        if self.deficit_unit is not None:
            self.deficit_unit = Formula(self.deficit_unit)
        for name in ("consumer_price_index", "real_income", "deficit_value", "deficit_unit",
                     "income"):
            self._components.append((m, name, getattr(m, name, None)))
        # the indexes of the tables (shallow copies go into every Results)
        self.routes_index = pd.MultiIndex.from_arrays(
            [dest_names, orig_names, route_sectors], names=["destination", "origin", "sector"])
        self.sectors_index = pd.MultiIndex.from_arrays(
            [R * len(S), [s for s in S for _ in R]], names=["region", "sector"])
        self.factors_index = pd.MultiIndex.from_tuples(cells, names=["region", "factor"])
        self.regions_index = pd.Index(R, name="region")
        #: column Index objects of the tables, by their names (:func:`_frame`)
        self.column_names: dict[tuple, pd.Index] = {}
        self.market_structure = pd.DataFrame(
            {"market_structure": [m.sector[s].config.market_structure for s in S for _ in R]}
        )["market_structure"].array
        dest_all = np.concatenate(dest_pos) if dest_pos else np.zeros(0, dtype=int)
        orig_all = np.concatenate(orig_pos) if orig_pos else np.zeros(0, dtype=int)
        self.foreign = dest_all != orig_all
        # the regions of the rows summed by region (:class:`_RegionSums`): the (region,
        # factor) cells, the (sector, region) rows, the foreign routes' origins and
        # destinations
        nR = len(R)
        self.cell_sums = _RegionSums(np.repeat(np.arange(nR), len(F)), nR)
        self.sector_sums = _RegionSums(np.tile(np.arange(nR), len(S)), nR)
        self.origin_sums = _RegionSums(orig_all[self.foreign], nR)
        self.destination_sums = _RegionSums(dest_all[self.foreign], nR)
        #: every sector's columns at once (:class:`_AllMelitz`), where that applies
        self.all_melitz = _AllMelitz.of(m, self, dest_pos, orig_pos)
        #: the agents' shares under the default closure (:class:`_AgentShares`)
        self.agent_shares: _AgentShares | None = None
        # the owners, names and components read, as three lists (:meth:`valid`)
        self._held = tuple(map(list, zip(*self._components))) if self._components else (
            [], [], [])

    def __reduce__(self):
        # a pickled or cloned model lays its tables out again (its own components)
        return (_no_layout, ())

    def route_logs(self, s: str, blk) -> tuple[np.ndarray, np.ndarray | None]:
        """:func:`route_logs` of sector ``s`` (block ``blk``) at the values the reader read
        last (call ``self.reader.read()`` first), computed once for those values: the
        checks after a solve (:func:`cge.solve.check_selection`) and the tables share
        them."""
        generation = self.reader.generation
        kept = self._route_logs.get(s)
        if kept is None or kept[0] != generation:
            if self.all_melitz is not None:
                at = self.all_melitz.route_slices[self.S.index(s)]
                ltv, lcut = self.all_melitz.route_logs(self.reader)
                kept = (generation, (ltv[at], lcut[at]))
            else:
                kept = (generation, route_logs(blk, self.reader.get))
            self._route_logs[s] = kept
        return kept[1]

    def _add(self, owner, name: str, label, keys) -> None:
        comp = getattr(owner, name, None)
        if comp is None:
            return
        self._components.append((owner, name, comp))
        self.reader.add(comp, label, keys)

    def valid(self, m) -> bool:
        """Whether ``m`` is the model laid out and every component read is still its own."""
        owners, names, comps = self._held
        return self.model() is m and all(map(operator.is_, map(getattr, owners, names,
                                                                repeat(None)), comps))

    @staticmethod
    def route_positions(blk) -> tuple[np.ndarray, np.ndarray]:
        """Positions (in ``blk.regions``) of the destination and origin of every route of a
        sector block (computed once per block)."""
        cached = getattr(blk, "_cge_route_positions", None)
        if cached is not None and cached[0] == len(blk.routes):
            return cached[1], cached[2]
        pos = {r: j for j, r in enumerate(blk.regions)}
        routes = list(blk.routes)
        dest = np.array([pos[n] for n, _ in routes], dtype=int)
        orig = np.array([pos[i] for _, i in routes], dtype=int)
        blk._cge_route_positions = (len(routes), dest, orig)
        return dest, orig

    @staticmethod
    def direct(blk):
        """A ``get`` (:func:`route_logs`) reading a block's components from the model."""
        routes, R = list(blk.routes), list(blk.regions)

        def get(component, label, keys=None):
            if keys is None:
                keys = routes if label == "routes" else R
            return _values(component, keys)

        return get


def _no_layout() -> None:
    return None


def _layout(m) -> _Layout:
    """The :class:`_Layout` of ``m`` (built on first use, kept on the model)."""
    lay = getattr(m, "_cge_results_layout", None)
    if lay is None or not lay.valid(m):
        lay = _Layout(m)
        m._cge_results_layout = lay
    return lay


def _stack(parts: list[dict], sizes: list[int]) -> dict:
    """Columns of sector parts stacked (``pd.concat``'s rules: columns in order of first
    appearance, missing cells NaN)."""
    names: dict[str, None] = {}
    for p in parts:
        names.update(dict.fromkeys(p))
    out = {}
    for name in names:
        chunks = [p[name] if name in p else np.full(n, np.nan) for p, n in zip(parts, sizes)]
        out[name] = np.concatenate(chunks) if chunks else np.zeros(0)
    return out


class _AllMelitz:
    """The route and sector columns of every sector at once, when every sector is a
    Melitz sector with trade values and cutoffs as closed-form Expressions
    (``route_unknowns: False``, the default) and the same kind of entry and profits:
    the formulas of :func:`route_logs` and :func:`_sector_columns` on arrays of every
    sector's routes (each sector's sigma, k, delta per route), which apply the same
    operations to the same numbers, element by element, as the sector-by-sector path
    (``tests/test_overhead.py`` compares them), in a few dozen numpy calls instead of
    as many per sector.
    """

    #: components read over (sector, region) and over routes
    REGION = ("log_expenditure", "log_price_index", "log_input_price", "log_input_demand",
              "log_entry_mass", "phi_min", "tariff_revenue")
    ROUTE = ("tau", "tariff", "pref_weight", "f")

    @classmethod
    def of(cls, m, lay, dest_pos, orig_pos):
        """The fast path of ``m``'s layout ``lay``, or ``None`` where it does not apply."""
        blocks = [m.sector[s] for s in lay.S]
        if not blocks:
            return None
        kinds = set()
        for blk in blocks:
            cfg = blk.config
            if (cfg.market_structure != "melitz" or isinstance(blk.log_trade_value, pyo.Var)
                    or list(blk.regions) != lay.R):
                return None
            profit = lay.profit[lay.S[blocks.index(blk)]]
            kinds.add((cfg.entry, isinstance(blk.profit, pyo.Var),
                       "array" if isinstance(profit, np.ndarray) else
                       "none" if profit is None else "formulas"))
        if len(kinds) != 1:
            return None
        fast = cls(m, lay, blocks, dest_pos, orig_pos, kinds.pop())
        needed = cls.REGION + cls.ROUTE + ("production_tax",) + (
            ("f_e",) if fast.free_entry else ()) + (("profit",) if fast.profit_var else ())
        if any(fast.gather[name] is None for name in needed):
            return None  # a value not among those the layout reads
        return fast

    def __init__(self, m, lay, blocks, dest_pos, orig_pos, kind):
        nR, nS = len(lay.R), len(lay.S)
        self.free_entry = kind[0] == "free"
        self.profit_var = kind[1]
        counts = [len(d) for d in dest_pos]
        ends = np.cumsum(counts).tolist()
        self.route_slices = [slice(e - c, e) for c, e in zip(counts, ends)]
        sector = np.repeat(np.arange(nS), counts)
        #: per route: its (sector, destination) and (sector, origin) cells of (S, R) arrays
        self.dest = sector * nR + np.concatenate(dest_pos)
        self.orig = sector * nR + np.concatenate(orig_pos)
        self.foreign = np.concatenate(dest_pos) != np.concatenate(orig_pos)
        self.cells = nS * nR
        self.shape = (nS, nR)

        def per(values, index):
            return np.array(values, dtype=float)[index]

        sigma = [b.sigma for b in blocks]
        k = [b.k for b in blocks]
        delta = [b.delta for b in blocks]
        rho = [b.rho for b in blocks]
        # the sector constants, per route and per (sector, region) cell, computed as the
        # sector-by-sector path computes them (Python floats)
        self.sigma_r, self.k_r = per(sigma, sector), per(k, sector)
        self.log_sigma_r = per([np.log(x) for x in sigma], sector)
        self.log_rho_r = per([np.log(x) for x in rho], sector)
        self.log_delta_r = per([np.log(x) for x in delta], sector)
        self.log_revenue_r = per([np.log(s_ * k_ / (k_ - s_ + 1)) for s_, k_ in zip(sigma, k)],
                                 sector)
        self.sigma_minus_one_r = per([s_ - 1 for s_ in sigma], sector)
        tilde = [(k_ / (k_ - s_ + 1)) ** (1 / (s_ - 1)) for s_, k_ in zip(sigma, k)]
        self.phi_tilde_r = per(tilde, sector)
        self.delta_r = per(delta, sector)
        cell_sector = np.repeat(np.arange(nS), nR)
        self.sigma_c, self.k_c = per(sigma, cell_sector), per(k, cell_sector)
        self.delta_c, self.phi_tilde_c = per(delta, cell_sector), per(tilde, cell_sector)
        # where each component's values sit in the reader's array, every sector in turn
        reader = lay.reader
        self.gather = {}
        for name in self.REGION + ("f_e", "profit"):
            self.gather[name] = self._positions(reader, blocks, name, "R")
        for name in self.ROUTE:
            self.gather[name] = self._positions(reader, blocks, name, "routes")
        parts = [self._slice(reader, getattr(m, "production_tax", None), ("sector", s))
                 for s in lay.S]
        self.gather["production_tax"] = (None if any(p is None for p in parts)
                                         else np.concatenate(parts))
        self._logs = (None, None)

    @staticmethod
    def _slice(reader, component, label):
        at = reader._at.get((id(component), label)) if component is not None else None
        if at is None:
            return None
        return np.arange(at.start, at.stop)

    def _positions(self, reader, blocks, name, label):
        parts = [self._slice(reader, getattr(b, name, None), label) for b in blocks]
        if any(p is None for p in parts):
            return None
        return np.concatenate(parts)

    def read(self, reader, name, shape=None):
        values = reader._values[self.gather[name]]
        return values.reshape(shape) if shape is not None else values

    def route_logs(self, reader):
        """Logs of every route's trade value and cutoff (:func:`route_logs`, melitz), at the
        values the reader read last (computed once for them)."""
        if self._logs[0] == reader.generation:
            return self._logs[1]
        lE = self.read(reader, "log_expenditure")
        lP = self.read(reader, "log_price_index")
        lcost = self.read(reader, "log_input_price")
        lX, lPd, lc = lE[self.dest], lP[self.dest], lcost[self.orig]
        lphi_min = np.log(self.read(reader, "phi_min"))[self.orig]
        ltau = np.log(self.read(reader, "tau"))
        l1t = np.log1p(self.read(reader, "tariff"))
        la = np.log(self.read(reader, "pref_weight"))
        lf = np.log(self.read(reader, "f"))
        s, k = self.sigma_r, self.k_r
        lcut = ((self.log_sigma_r + lf + s * l1t + lc - la - lX - self.sigma_minus_one_r * lPd)
                / self.sigma_minus_one_r + ltau + lc - self.log_rho_r)
        lstock = self.read(reader, "log_entry_mass")[self.orig] - self.log_delta_r
        ltv = lstock + k * (lphi_min - lcut) + self.log_revenue_r + lc + lf
        self._logs = (reader.generation, (ltv, lcut))
        return ltv, lcut

    def columns(self, m, lay) -> tuple[dict, dict]:
        """The stacked route and sector columns (:func:`_stack` of :func:`_sector_columns`)."""
        reader = lay.reader
        ltv, lcut = self.route_logs(reader)
        dest, orig, cells = self.dest, self.orig, self.cells
        x = np.exp(ltv)
        t = self.read(reader, "tariff")
        expenditure = np.exp(self.read(reader, "log_expenditure"))
        phi_min = self.read(reader, "phi_min")
        f = self.read(reader, "f")
        entry = np.exp(self.read(reader, "log_entry_mass"))
        k = self.k_r
        cut = np.exp(lcut)
        sellers = entry[orig] / self.delta_r * (phi_min[orig] / cut) ** k
        routes = {
            "trade_value": x, "trade_value_gross": x * (1 + t),
            "trade_share": x * (1 + t) / expenditure[dest],
            "cutoff": cut, "sellers": sellers, "average_productivity": cut * self.phi_tilde_r,
            "tau": self.read(reader, "tau"), "tariff": t, "tariff_revenue": t * x,
            "fixed_cost": f,
        }
        output = np.bincount(orig, weights=x, minlength=cells)
        input_price = np.exp(self.read(reader, "log_input_price"))
        cost = np.bincount(orig, weights=f * sellers, minlength=cells)
        if self.free_entry:
            cost = cost + self.read(reader, "f_e") * entry
        net_profit = output / self.sigma_c - input_price * cost
        if self.profit_var:
            profit = self.read(reader, "profit")
        else:
            parts = []
            for s in lay.S:
                blk, kept = m.sector[s], lay.profit[s]
                if isinstance(kept, np.ndarray):
                    parts.append(kept.copy())
                elif kept is not None:
                    parts.append(np.array([f_() for f_ in kept], dtype=float))
                else:
                    parts.append(np.array([pyo.value(blk.profit[r]) for r in lay.R], dtype=float))
            profit = np.concatenate(parts)
        production_tax = self.read(reader, "production_tax")
        log_input_demand = self.read(reader, "log_input_demand")
        lip = self.read(reader, "log_input_price")
        low = np.full(cells, np.inf)
        np.minimum.at(low, orig, cut)
        foreign = self.foreign
        low_foreign = np.full(cells, np.inf)
        np.minimum.at(low_foreign, orig[foreign], cut[foreign])
        domestic = np.full(cells, np.nan)
        domestic[orig[~foreign]] = cut[~foreign]
        serves = np.isfinite(low)
        kc = self.k_c
        sectors = {
            "price_index": np.exp(self.read(reader, "log_price_index")),
            "expenditure": expenditure, "input_price": input_price,
            "input_demand": np.exp(log_input_demand),
            "output": output,
            "tariff_revenue": self.read(reader, "tariff_revenue"),
            "production_tax": production_tax,
            "production_tax_revenue": production_tax / (1 + production_tax) * np.exp(
                lip + log_input_demand),
            "profit": profit, "net_profit": net_profit,
            "entry_mass": entry,
            "producers": np.where(serves, entry / self.delta_c
                                  * (phi_min / np.where(serves, low, 1.0)) ** kc, 0.0),
            "domestic_cutoff": domestic,
            "exporter_share": np.where(np.isfinite(low_foreign), (low / np.where(
                np.isfinite(low_foreign), low_foreign, 1.0)) ** kc, 0.0),
            "average_productivity": np.where(serves, low * self.phi_tilde_c, np.nan),
        }
        return routes, sectors


class _RegionSums:
    """Sums by region of the rows of a table whose regions are fixed by the layout
    (``groups``: each row's region, as its position in the model's regions).

    Each region's rows (found once, in their order) are added by :func:`math.fsum`: the
    correctly rounded sum, so the same floats whatever the order of the rows or the
    memory they sit in (numpy's pairwise sums depend on the alignment; pandas' groupby
    sums on the group ids). NaN counts as zero and a region without rows sums to 0, as in
    pandas' ``groupby(...).sum()``.
    """

    def __init__(self, groups: np.ndarray, regions: int):
        groups = np.asarray(groups, dtype=int)
        order = np.argsort(groups, kind="stable")
        self.order = order
        ends = np.searchsorted(groups[order], np.arange(regions), side="right")
        starts = np.r_[0, ends[:-1]] if regions else ends
        self.slices = [slice(a, b) for a, b in zip(starts.tolist(), ends.tolist())]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        v = values[self.order]
        nan = np.isnan(v)
        if nan.any():
            v = np.where(nan, 0.0, v)
        rows = v.tolist()
        return np.array([math.fsum(rows[at]) for at in self.slices], dtype=float)


def _frame(columns: dict, index: pd.Index, names: dict, strings: tuple = ()) -> pd.DataFrame:
    """A DataFrame of float columns, built from one 2-D block (on a copy of the layout's
    ``index``, :func:`_index_copy`, so that renaming one table's index renames no other;
    the column Index from ``names``, kept by the layout per set of column names).

    ``strings``: ``(label, array)`` pairs of string columns placed first (an
    ExtensionArray each, copied), then the float ``columns``. The frame is assembled
    from its blocks (:func:`pandas.api.internals.create_dataframe_from_blocks`: what the
    constructor builds, without inferring it again) where pandas offers that."""
    if not all(c.dtype == np.float64 for c in columns.values()):
        frame = pd.DataFrame(columns, index=_index_copy(index), copy=False)
        for at, (label, values) in enumerate(strings):
            frame.insert(at, label, values.copy())
        return frame
    key = tuple(label for label, _ in strings) + tuple(columns)
    labels = names.get(key)
    if labels is None:
        labels = names[key] = pd.Index(key)
    first = len(strings)
    block = np.empty((len(columns), len(index)))
    for j, c in enumerate(columns.values()):
        block[j] = c
    if _from_blocks is not None:
        blocks = [(values.copy(), np.array([at])) for at, (_, values) in enumerate(strings)]
        blocks.append((block, np.arange(first, first + len(columns))))
        return _from_blocks(blocks, index=_index_copy(index), columns=_index_copy(labels))
    frame = pd.DataFrame(block.T, index=_index_copy(index), columns=_index_copy(labels[first:]),
                         copy=False)
    for at, (label, values) in enumerate(strings):
        frame.insert(at, label, values.copy())
    return frame


try:  # pandas >= 3.0: a DataFrame from its blocks, without the constructor's inference
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:  # pragma: no cover - older pandas: the constructor
    _from_blocks = None


def _index_copy(index: pd.Index) -> pd.Index:
    """A new Index object equal to ``index``, sharing its immutable data (values, levels,
    codes) and with its own names: renaming it (``.names = ...``, ``.name = ...``, the
    only change pandas makes to an Index in place) renames no other.

    ``Index.copy()`` builds a MultiIndex again from its levels and codes (tens of
    microseconds, three tables per solve); this copies the object's attributes, its
    names list and an empty cache, where a probe (:func:`_copies_names`, once per
    Index class) shows that this gives an equal Index whose renaming leaves the
    original alone; otherwise ``index.copy()``."""
    cls = type(index)
    ok = _SHALLOW_COPY.get(cls)
    if ok is None:
        ok = _SHALLOW_COPY[cls] = _copies_names(index)
    return _shallow(index) if ok else index.copy()


#: Index class -> whether :func:`_shallow` copies it (:func:`_copies_names`)
_SHALLOW_COPY: dict[type, bool] = {}


def _shallow(index: pd.Index) -> pd.Index:
    new = object.__new__(type(index))
    state = new.__dict__
    state.update(index.__dict__)
    if isinstance(state.get("_names"), list):
        state["_names"] = list(state["_names"])
    state["_cache"] = {}
    return new


def _copies_names(index: pd.Index) -> bool:
    """Whether :func:`_shallow` of (a copy of) ``index`` is equal to it, with the same
    names and dtype, and renaming it renames nothing else."""
    try:
        probe = index.copy()
        names = list(probe.names)
        new = _shallow(probe)
        if not (type(new) is type(probe) and new.equals(probe) and list(new.names) == names
                and new.dtype == probe.dtype and "_cache" in probe.__dict__
                and all(isinstance(v, (list, tuple)) for k, v in probe.__dict__.items()
                        if k == "_names")):
            return False
        new.names = [f"_cge_probe_{j}" for j in range(len(names))]
        return (list(probe.names) == names and list(index.names) == names
                and list(new.names) == [f"_cge_probe_{j}" for j in range(len(names))]
                and new.equals(probe))
    except Exception:  # an Index class laid out otherwise: copy it
        return False


def extract(m: pyo.ConcreteModel, info: dict | None = None, *,
            walras: float | None = None, read: bool = True) -> Results:
    """Read the current variable values of a built model into :class:`Results` (tables
    built from arrays, on indexes built once per model: :class:`_Layout`). ``walras``:
    the residual of Walras' law at this point, if the caller has computed it. ``read``:
    ``False`` when the caller knows that the values the layout read last are the model's
    (:meth:`cge.Equilibrium.solve`: read by :func:`cge.solve.check_selection` after the
    last change); they are then not read again."""
    from .solve import max_residual, walras_residual

    lay = _layout(m)
    if read or not lay.reader.has_read:
        lay.reader.read()
    get = lay.reader.get
    R, S, F = lay.R, lay.S, lay.F
    nR, nS = len(R), len(S)
    route_parts, sector_parts = [], []
    for s in S if lay.all_melitz is None else ():
        if lay.array[s]:
            rc, sc = _sector_columns(m, s, get, lay.profit[s], lay.route_logs(s, m.sector[s]))
        else:
            rt, st = _sector_tables_by_expression(m, s)
            rc = {c: rt[c].to_numpy() for c in rt.columns
                  if c not in ("destination", "origin", "sector")}
            sc = {c: st[c].to_numpy() for c in st.columns
                  if c not in ("region", "sector", "market_structure")}
        route_parts.append(rc)
        sector_parts.append(sc)
    if lay.all_melitz is not None:
        route_columns, sector_columns = lay.all_melitz.columns(m, lay)
    else:
        route_columns = _stack(route_parts, lay.route_counts)
        sector_columns = _stack(sector_parts, [nR] * nS)

    price_index = sector_columns["price_index"].reshape(nS, nR).T  # (region, sector)
    income = np.exp(get(m.log_income, "R", R))  # I = exp(ln I)
    population = get(m.population, "R", R)
    cpi = np.array(lay.cpi(), dtype=float)
    spending, real, demand = _agents(m, lay, get, income, price_index)
    closure = getattr(m, "_closure", None)
    if closure is None or closure.is_default:
        # m.real_income: I_n/CPI_n, plus the consumer surplus of linear sectors (cge.quasi_linear)
        real_income = np.array(lay.real_income(), dtype=float)
    else:
        real_income = spending[:, 0] / cpi
    sector_table = dict(sector_columns)
    for k, a in enumerate(AGENTS):
        sector_table[f"{a}_demand"] = demand[:, k, :].T.reshape(-1)
    factor_price = np.exp(get(m.log_factor_price, "cells"))  # w = exp(ln w)
    endowment = get(m.endowment, "cells")
    if lay.deficit_unit is not None:  # D_n kappa, current prices
        deficit = get(m.deficit, "R", R) * lay.deficit_unit()
    else:
        deficit = np.array(lay.deficit_value(), dtype=float)
    trade = route_columns["trade_value"][lay.foreign]
    factor_income = lay.cell_sums(factor_price * endowment)
    tariff_revenue, production_tax_revenue, profits = (
        lay.sector_sums(sector_columns[name])
        for name in ("tariff_revenue", "production_tax_revenue", "profit"))
    exports = lay.origin_sums(trade)
    imports = lay.destination_sums(trade)
    region_table = {"income": income, "population": population, "cpi": cpi,
                    "real_income": real_income,
                    "real_income_per_capita": real_income / population}
    for k, a in enumerate(AGENTS):
        region_table[f"{a}_spending"] = spending[:, k]
    region_table.update(
        real_government=real[:, 1], real_investment=real[:, 2],
        factor_income=factor_income, tariff_revenue=tariff_revenue,
        production_tax_revenue=production_tax_revenue, profits=profits,
        deficit=deficit, exports=exports, imports=imports, trade_balance=exports - imports)
    names = lay.column_names
    routes = _frame(route_columns, lay.routes_index, names)
    sectors = _frame(sector_table, lay.sectors_index, names,
                     strings=(("market_structure", lay.market_structure),))
    factors = _frame({"factor_price": factor_price, "endowment": endowment}, lay.factors_index,
                     names)
    regions = _frame(region_table, lay.regions_index, names)
    if hasattr(m, "linear_sectors"):  # the quasi-linear upper tier (cge.quasi_linear)
        from .quasi_linear import household_final_demand

        household_final_demand(m, regions, sectors)
    return Results(regions=regions, factors=factors, sectors=sectors, routes=routes,
                   walras_residual=walras_residual(m) if walras is None else walras,
                   max_residual=info["max_residual"] if info and "max_residual" in info
                   else max_residual(m),
                   info=dict(info or {}))
