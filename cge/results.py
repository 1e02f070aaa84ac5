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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

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


def _agents(m, income: np.ndarray, sectors: pd.DataFrame):
    """Spending E_na (region, agent), real spending E_na/P_na and final demand by sector
    beta_nas E_na (region, agent, sector) of the final-demand agents.

    With the agents built (a non-default closure) from the model; under the
    default closure the regional household's spending split by the agent
    parameters where they are given (E_na = omega_na I_n), else all of it
    the household's.
    """
    R, S = list(m.regions), list(m.sectors)
    v = pyo.value
    nR, nS, nA = len(R), len(S), len(AGENTS)
    P = sectors["price_index"].reindex(pd.MultiIndex.from_product([R, S])).to_numpy(float)
    logP = np.log(P.reshape(nR, nS))
    spending = np.zeros((nR, nA))
    beta = np.zeros((nR, nA, nS))
    if hasattr(m, "agent_use"):
        for n, r in enumerate(R):
            for k, a in enumerate(AGENTS):
                beta[n, k] = [v(m.agent_beta[r, a, s]) for s in S]
                if (r, a) in m.agent_use:
                    spending[n, k] = v(m.agent_spending[r, a])
    else:
        arrays = getattr(m, "_agent_arrays", {})
        omega = arrays.get("agent_share", np.full((nR, nA), np.nan))
        beta_a = arrays.get("agent_beta", np.full((nR, nA, nS), np.nan))
        for n, r in enumerate(R):
            b = np.array([v(m.beta[r, s]) for s in S])
            if np.isfinite(omega[n]).all() and np.isfinite(beta_a[n]).all():
                spending[n] = omega[n] * income[n]
                beta[n] = beta_a[n]
            else:
                spending[n, 0] = income[n]
                beta[n] = b
    with np.errstate(divide="ignore", invalid="ignore"):
        lb = np.where(beta > 0,
                      beta * (logP[:, None, :] - np.log(np.where(beta > 0, beta, 1.0))), 0.0)
    price = np.exp(lb.sum(axis=2))  # P_na
    real = np.where(spending > 0, spending / price, 0.0)
    return spending, real, beta * spending[:, :, None]


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


def route_logs(blk) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Logs of trade values :math:`X_{ni}` and (melitz, cara) cutoffs :math:`\varphi^*_{ni}` of a
    sector block, in the order of ``blk.routes``, computed from arrays.

    Where the block holds them as unknowns their values are read; where they are
    closed-form Expressions of the aggregates (``route_unknowns: False``) the
    same closed forms are evaluated with numpy (what evaluating the Expressions
    one by one would give, thousands of times faster).
    """
    routes = list(blk.routes)
    melitz = blk.is_melitz
    cara = blk.config.market_structure == "cara"
    if isinstance(blk.log_trade_value, pyo.Var):
        ltv = _values(blk.log_trade_value, routes)
        lcut = _values(blk.log_cutoff, routes) if melitz or cara else None
        return ltv, lcut
    R = list(blk.regions)
    pos = {r: j for j, r in enumerate(R)}
    dest = np.array([pos[n] for n, _ in routes], dtype=int)
    orig = np.array([pos[i] for _, i in routes], dtype=int)
    s, k = blk.sigma, blk.k
    lX = _values(blk.log_expenditure, R)[dest]
    lP = _values(blk.log_price_index, R)[dest]
    lc = _values(blk.log_input_price, R)[orig]
    lphi_min = np.log(_values(blk.phi_min, R))[orig]
    ltau = np.log(_values(blk.tau, routes))
    l1t = np.log1p(_values(blk.tariff, routes))
    la = np.log(_values(blk.pref_weight, routes))
    lcut = None
    if cara:  # cge.blocks.cara.log_cutoff and log_trade_value
        kappa = blk.structure.cara_constants(k)
        lpd = lP + np.log(kappa["utility"] / kappa["spending"])
        lcut = l1t + ltau + lc - lpd
        lstock = _values(blk.log_entry_mass, R)[orig] - np.log(blk.delta)
        lL = np.log(_values(blk.population, R))[dest]
        ltv = (lL + lpd - np.log(blk.alpha) + np.log(kappa["spending"])
               + lstock + k * (lphi_min - lcut) - l1t)
    elif melitz:
        lf = np.log(_values(blk.f, routes))
        lcut = ((np.log(s) + lf + s * l1t + lc - la - lX - (s - 1) * lP) / (s - 1)
                + ltau + lc - np.log(blk.rho))
        lstock = _values(blk.log_entry_mass, R)[orig] - np.log(blk.delta)
        ltv = lstock + k * (lphi_min - lcut) + np.log(s * k / (k - s + 1)) + lc + lf
    elif blk.has_firms:
        lstock = _values(blk.log_entry_mass, R)[orig] - np.log(blk.delta)
        ltv = (la + lstock - s * l1t + lX + (s - 1) * lP
               + (1 - s) * (ltau + lc - np.log(blk.rho) - lphi_min))
    else:
        ltv = la - s * l1t + lX + (s - 1) * lP + (1 - s) * (ltau + lc - lphi_min)
    return ltv, lcut


def _sector_tables(m, s: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The route table and the (region) sector table of sector ``s``, from arrays."""
    blk = m.sector[s]
    R = list(m.regions)
    pos = {r: j for j, r in enumerate(R)}
    routes = list(blk.routes)
    dest = np.array([pos[n] for n, _ in routes], dtype=int)
    orig = np.array([pos[i] for _, i in routes], dtype=int)
    sigma, k, delta = blk.sigma, blk.k, blk.delta
    ms = blk.config.market_structure
    phi_tilde = (k / (k - sigma + 1)) ** (1 / (sigma - 1)) if ms == "melitz" else 1.0
    if ms == "cara":  # mean productivity of sellers, k/(k-1) times the cutoff
        phi_tilde = blk.structure.average_productivity_factor(blk)
    ltv, lcut = route_logs(blk)
    x = np.exp(ltv)
    t = _values(blk.tariff, routes)
    expenditure = np.exp(_values(blk.log_expenditure, R))
    phi_min = _values(blk.phi_min, R)
    f = _values(blk.f, routes)
    entry = np.exp(_values(blk.log_entry_mass, R)) if blk.has_firms else np.full(len(R), np.nan)
    if ms in ("melitz", "cara"):
        cut = np.exp(lcut)
        sellers = entry[orig] / delta * (phi_min[orig] / cut) ** k
        avg = cut * phi_tilde
    elif ms == "krugman":
        cut = phi_min[orig]
        sellers = entry[orig] / delta
        avg = cut
    else:
        cut = sellers = avg = np.full(len(routes), np.nan)
    route_table = pd.DataFrame({
        "destination": [n for n, _ in routes], "origin": [i for _, i in routes],
        "sector": s, "trade_value": x, "trade_value_gross": x * (1 + t),
        "trade_share": x * (1 + t) / expenditure[dest],
        "cutoff": cut, "sellers": sellers, "average_productivity": avg,
        "tau": _values(blk.tau, routes), "tariff": t, "tariff_revenue": t * x,
        "fixed_cost": f,
    })
    if ms == "cara":  # cge.blocks.cara.route_results, from arrays
        kappa = blk.structure.cara_constants(k)
        choke = np.exp(_values(blk.log_price_index, R)
                       + np.log(kappa["utility"] / kappa["spending"]))
        pd_route = choke[dest]
        margin = kappa["margin_mean"] * pd_route
        route_table["choke_price"] = pd_route
        route_table["cost_cutoff"] = 1.0 / cut
        route_table["markup_mean"] = kappa["markup_mean"]
        route_table["markup_revenue_weighted"] = kappa["markup_revenue_weighted"]
        route_table["margin_mean"] = margin
        route_table["price_mean"] = pd_route * k / (k + 1) + margin
    nR = len(R)
    output = np.bincount(orig, weights=x, minlength=nR)
    input_price = np.exp(_values(blk.log_input_price, R))
    v = pyo.value
    if blk.has_firms:
        cost = np.bincount(orig, weights=f * sellers, minlength=nR) if ms == "melitz" else np.zeros(nR)
        if blk.config.entry == "free":
            cost = cost + _values(blk.f_e, R) * entry
        if ms == "cara":  # operating profits are the share kappa_3/kappa_1 of sales
            kappa = blk.structure.cara_constants(k)
            net_profit = kappa["profit"] / kappa["spending"] * output - input_price * cost
        else:
            net_profit = output / sigma - input_price * cost
    else:
        net_profit = np.zeros(nR)
    profit = np.array([v(blk.profit[r]) for r in R], dtype=float)
    production_tax = _values(m.production_tax, [(r, s) for r in R])
    columns = {
        "region": R, "sector": s, "market_structure": ms,
        "price_index": np.exp(_values(blk.log_price_index, R)),
        "expenditure": expenditure, "input_price": input_price,
        "input_demand": np.exp(_values(blk.log_input_demand, R)),
        "output": output,
        "tariff_revenue": _values(blk.tariff_revenue, R),
        "production_tax": production_tax,
        # R^P = t^P/(1+t^P) c Y (the model's production_tax_revenue, from arrays)
        "production_tax_revenue": production_tax / (1 + production_tax) * np.exp(
            _values(blk.log_input_price, R) + _values(blk.log_input_demand, R)),
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
            columns[col] = np.nan
    sector_table = pd.DataFrame(columns)
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


#: Market structures whose tables :func:`_sector_tables` builds from arrays.
ARRAY_STRUCTURES = ("melitz", "krugman", "armington", "cara")


def extract(m: pyo.ConcreteModel, info: dict | None = None) -> Results:
    """Read the current variable values of a built model into :class:`Results` (tables
    built from arrays, sector by sector)."""
    from .solve import max_residual, walras_residual

    R, S, F = list(m.regions), list(m.sectors), list(m.factors)
    v = pyo.value
    tables = [_sector_tables(m, s) if m.sector[s].config.market_structure in ARRAY_STRUCTURES
              else _sector_tables_by_expression(m, s) for s in S]
    routes = pd.concat([r for r, _ in tables], ignore_index=True).set_index(
        ["destination", "origin", "sector"])
    sectors = pd.concat([t for _, t in tables], ignore_index=True).set_index(["region", "sector"])

    cells = [(r, f) for r in R for f in F]
    factors = pd.DataFrame(
        {"factor_price": np.exp(_values(m.log_factor_price, cells)),  # w = exp(ln w)
         "endowment": _values(m.endowment, cells)},
        index=pd.MultiIndex.from_tuples(cells, names=["region", "factor"]))

    foreign = routes[routes.index.get_level_values(0) != routes.index.get_level_values(1)]
    exports = foreign.groupby(level="origin")["trade_value"].sum().reindex(R, fill_value=0.0)
    imports = foreign.groupby(level="destination")["trade_value"].sum().reindex(R, fill_value=0.0)
    regions = pd.DataFrame(index=pd.Index(R, name="region"))
    regions["income"] = np.exp(_values(m.log_income, R))  # I = exp(ln I)
    regions["population"] = _values(m.population, R)
    regions["cpi"] = [v(m.consumer_price_index[r]) for r in R]
    spending, real, demand = _agents(m, regions["income"].to_numpy(float), sectors)
    closure = getattr(m, "_closure", None)
    if closure is None or closure.is_default:
        # m.real_income: I_n/CPI_n, plus the consumer surplus of linear sectors (cge.quasi_linear)
        regions["real_income"] = [v(m.real_income[r]) for r in R]
    else:
        regions["real_income"] = spending[:, 0] / regions["cpi"].to_numpy(float)
    regions["real_income_per_capita"] = regions["real_income"] / regions["population"]
    by_cell = pd.MultiIndex.from_product([R, S], names=["region", "sector"])
    for k, a in enumerate(AGENTS):
        regions[f"{a}_spending"] = spending[:, k]
        sectors[f"{a}_demand"] = pd.Series(demand[:, k, :].reshape(-1), index=by_cell)
    regions["real_government"] = real[:, 1]
    regions["real_investment"] = real[:, 2]
    if hasattr(m, "linear_sectors"):  # the quasi-linear upper tier (cge.quasi_linear)
        from .quasi_linear import household_final_demand

        household_final_demand(m, regions, sectors)
    regions["factor_income"] = (factors["factor_price"] * factors["endowment"]).groupby(level="region").sum()
    regions["tariff_revenue"] = sectors["tariff_revenue"].groupby(level="region").sum()
    regions["production_tax_revenue"] = (sectors["production_tax_revenue"]
                                         .groupby(level="region").sum())
    regions["profits"] = sectors["profit"].groupby(level="region").sum()
    regions["deficit"] = [v(m.deficit_value[r]) for r in R]  # D_n kappa, current prices
    regions["exports"] = exports
    regions["imports"] = imports
    regions["trade_balance"] = exports - imports
    return Results(regions=regions, factors=factors, sectors=sectors, routes=routes,
                   walras_residual=walras_residual(m),
                   max_residual=info["max_residual"] if info and "max_residual" in info
                   else max_residual(m),
                   info=dict(info or {}))
