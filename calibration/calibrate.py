r"""Calibration: parameters under which a benchmark data set is an equilibrium.

:func:`calibrate` turns a consistent :class:`~calibration.BenchmarkData` into
:class:`cge.Primitives` and the values of every model unknown at the benchmark
(:class:`StartValues`); :func:`set_start` writes those into a built
:class:`cge.Equilibrium`, whose first solve then needs no IPOPT iteration.

Units. Every factor price and every sector price index is 1 in the benchmark
(quantities are "what one currency unit buys at benchmark prices"). The unit
cost of a composite input is then the Cobb-Douglas constant times the
production tax,
:math:`c_{is} = (1+t^P_{is}) \prod_f \alpha_{isf}^{-\alpha_{isf}} \prod_u \gamma_{isu}^{-\gamma_{isu}}`,
and the composite input used is :math:`Y_{is} = R_{is}/c_{is}`, with
:math:`R_{is} = \sum_n X_{nis}` the sector's sales.

Shares. :math:`\alpha_{isf} = V_{isf}/K_{is}`, :math:`\gamma_{isu} = Z_{isu}/K_{is}`
with :math:`K_{is} = \sum_f V + \sum_u Z` the costs net of production taxes,
the production tax :math:`t^P_{is} = T^P_{is}/K_{is}` (:math:`T^P_{is}` the
value of net production taxes paid by the activity; :math:`R_{is} = (1+t^P_{is})
K_{is}` by zero profit, so the model's revenue :math:`t^P_{is}/(1+t^P_{is})\,
c_{is}Y_{is}` is :math:`T^P_{is}`), :math:`\beta_{ns} = C_{ns}/\sum_s C_{ns}`, endowments
:math:`\bar L_{if} = \sum_s \alpha_{isf} R_{is}/(1+t^P_{is})`, deficit :math:`D_n/\bar p`.

Final-demand agents (used by the non-default closures of
:class:`cge.primitives.Closure`; set under every closure, so that one
calibration serves all of them). With :math:`C_{nas}` the final demand of
agent :math:`a` (household: final demand less the government and investment
parts) and :math:`E_{na} = \sum_s C_{nas}`: :math:`\omega_{na} = E_{na}/\sum_a
E_{na}`, :math:`\beta_{nas} = C_{nas}/E_{na}` (:math:`\beta_{ns}` for an agent
that buys nothing), and the real quantities at the benchmark price index
:math:`P_{na} = \prod_s \beta_{nas}^{-\beta_{nas}}`: :math:`G_n = E_{ng}/P_{ng}`,
:math:`V_n = E_{nv}/P_{nv}`. Since :math:`\sum_a \beta_{nas} E_{na} = C_{ns}
= \beta_{ns} I_n`, every closure replicates the benchmark.

Melitz sectors (the Pareto recipe of Balistreri and Rutherford, 2013,
"Computing general equilibrium theories of monopolistic competition and
heterogeneous firms", Handbook of CGE Modeling, ch. 23; in MR notation).
With :math:`P_n = 1`, :math:`E_n = \sum_i (1+t_{ni}) X_{ni}`:

1. The mass of entrants :math:`M_{Ei}` is a normalisation (``firm_normalisation``).
2. One extra number per route fixes how many of the :math:`M_{Ei}/\delta`
   firms that drew a productivity sell there,
   :math:`s_{ni} = (\varphi_{\min,i}/\varphi^*_{ni})^k`: at home the survival
   share :math:`s_{ii}`, abroad :math:`s_{ni} = s_{ii}\, e_{ni}` with
   :math:`e_{ni}` the share of producers that sell in :math:`n`. Data
   (``BenchmarkData.survival``, ``exporter_share``) where given, else the
   defaults :data:`DEFAULT_SURVIVAL` and :data:`DEFAULT_EXPORTER_SHARE` (a
   common ratio of sellers to entrants on all foreign routes).
3. Bilateral trade (average sales of sellers,
   :math:`X_{ni} = M_{ni}\,\sigma k/(k-\sigma+1)\, c_i f_{ni}`) gives the
   fixed costs :math:`f_{ni} = X_{ni}(k-\sigma+1)/(\sigma k c_i M_{ni})`.
4. Zero-cutoff profit gives :math:`\tau_{ni}/\varphi^*_{ni}`; with
   :math:`\varphi^*_{ni} = \varphi_{\min,i}\, s_{ni}^{-1/k}` the Pareto lower
   bound :math:`\varphi_{\min,i}` is chosen so that domestic sales bear no
   iceberg cost (:math:`\tau_{ii} = 1`); :math:`\tau_{ni}` absorbs the rest.
5. Free entry gives the sunk cost
   :math:`f_{E,i} = \frac{\sigma-1}{\delta(k-\sigma+1)} \sum_n f_{ni} s_{ni}`.

The price indices and the input markets then hold identically. Under Pareto
the percentage changes of a counterfactual do not depend on the normalisation
nor on the seller shares of step 2 (as long as every cutoff stays above
:math:`\varphi_{\min}`); only firm-count levels do.

Krugman sectors: :math:`M_{Ei}` normalised, :math:`\tau_{ni}/\varphi_{\min,i}`
from the trade equation, :math:`\varphi_{\min,i}` such that :math:`\tau_{ii} = 1`,
:math:`f_{E,i} = R_i/(\sigma c_i M_{Ei})` from free entry.

Armington sectors: :math:`\tau = 1`, :math:`\varphi_{\min} = 1` and the
preference weights :math:`a_{ni} = (1+t_{ni})^\sigma X_{ni} c_i^{\sigma-1}/E_n`.

Routes with zero trade are inactive (:math:`\tau = \infty`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from cge.errors import InputError
from cge.parameters import AGENTS
from cge.primitives import Closure, Numeraire, Primitives

from .benchmark import BenchmarkData
from .checks import TOL, check_benchmark

#: Default share of the firms that drew a productivity which produce (melitz).
DEFAULT_SURVIVAL = 0.5
#: Default share of a region's producers that sell in each foreign market (melitz).
DEFAULT_EXPORTER_SHARE = 0.25


class CalibrationError(InputError):
    """The benchmark cannot be rationalised by the model (each problem names the route)."""


@dataclass
class StartValues:
    """Values of the model unknowns at the benchmark, by component name and label index.

    ``host`` maps ``log_factor_price``, ``log_income`` and ``log_agent_spending``
    (final-demand agents; written only into models that have them) to
    ``{index: value}``;
    ``sectors[s]`` maps the sector block's unknowns (``log_expenditure``,
    ``log_input_price``, ``log_price_index``, ``log_trade_value``,
    ``log_input_demand``, ``log_entry_mass``, ``log_cutoff``,
    ``tariff_revenue``, ``profit``) likewise; ``value_scale[s]`` is the
    block's scaling parameter.
    """

    host: dict[str, dict] = field(default_factory=dict)  # also log_agent_spending (n, a)
    sectors: dict[str, dict[str, dict]] = field(default_factory=dict)
    value_scale: dict[str, float] = field(default_factory=dict)

    def items(self):
        """Yield ``(sector or None, component name, index, value)``."""
        for name, vals in self.host.items():
            for idx, v in vals.items():
                yield None, name, idx, v
        for s, comps in self.sectors.items():
            for name, vals in comps.items():
                for idx, v in vals.items():
                    yield s, name, idx, v


@dataclass
class CalibrationReport:
    """What :func:`calibrate` assumed: firm normalisation, seller shares used and their source."""

    entrants: np.ndarray
    survival: np.ndarray
    exporter_share: np.ndarray
    sources: dict[str, str]
    notes: list[str] = field(default_factory=list)


def _as_array(value, shape, what) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(shape, float(arr))
    if arr.shape != shape:
        raise InputError(f"{what}: expected a number or an array of shape {shape}, got {arr.shape}")
    return arr


def _numeraire(data: BenchmarkData, numeraire, beta) -> Numeraire:
    """The numeraire at its benchmark value: 1 (factor prices, price indices and the CPI,
    normalised to prod_s P_ns^beta_ns, are 1 in the benchmark)."""
    if numeraire is None:
        return Numeraire("factor", data.regions[0], data.factors[0], 1.0)
    if isinstance(numeraire, Numeraire):
        kind, region, label = numeraire.kind, numeraire.region, numeraire.label
    elif isinstance(numeraire, Mapping):
        kinds = [k for k in ("factor", "price_index", "cpi") if k in numeraire]
        if len(kinds) != 1:
            raise InputError(f"numeraire: give exactly one of factor, price_index, cpi; got {dict(numeraire)}")
        kind = kinds[0]
        if kind == "cpi":
            region, label = numeraire["cpi"], None
        else:
            region, label = numeraire.get("region", data.regions[0]), numeraire[kind]
    else:
        raise InputError(f"numeraire: expected a mapping or cge.Numeraire, got {numeraire!r}")
    if region not in data.regions:
        raise InputError(f"numeraire: unknown region {region!r}")
    value = 1.0  # factor prices, price indices and the (normalised) CPI are 1
    return Numeraire(kind, region, label, value)


def _shares(data: BenchmarkData):
    costs = data.costs()
    alpha = data.factor_payments / costs[:, :, None]
    gamma = data.intermediate / costs[:, :, None]
    beta = data.final_demand / data.final_demand.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        la = np.where(alpha > 0, alpha * np.log(np.where(alpha > 0, alpha, 1.0)), 0.0)
        lg = np.where(gamma > 0, gamma * np.log(np.where(gamma > 0, gamma, 1.0)), 0.0)
    unit_cost = np.exp(-la.sum(axis=2) - lg.sum(axis=2))
    return alpha, gamma, beta, unit_cost


def _agent_parameters(data: BenchmarkData, beta: np.ndarray):
    """Final demand by agent: spending E_na, shares omega_na, sector shares beta_nas and the
    benchmark price indices P_na (at unit sector prices); see the module docstring."""
    C = np.maximum(data.agent_demand(), 0.0)  # (n, a, s); household parts >= -tol * C
    E = C.sum(axis=2)
    omega = E / E.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta_a = np.where(E[:, :, None] > 0, C / E[:, :, None], beta[:, None, :])
        lb = np.where(beta_a > 0, beta_a * np.log(np.where(beta_a > 0, beta_a, 1.0)), 0.0)
    price = np.exp(-lb.sum(axis=2))
    return E, omega, beta_a, price


TRADE_COST_RULES = ("head_ries", "implied")


def _head_ries(X: np.ndarray, eps: float) -> np.ndarray:
    r"""Symmetric trade costs from the Head-Ries index, :math:`\tau_{ni} = \max\{1,
    (X_{nn}X_{ii}/(X_{ni}X_{in}))^{1/(2\epsilon)}\}` on routes with trade (one-way trade:
    :math:`X_{in}` is replaced by :math:`X_{ni}`; a route into or out of a region without
    domestic sales: 1)."""
    nR = X.shape[0]
    d = np.diag(X)
    back = np.where(X.T > 0, X.T, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.outer(d, d) / (X * back)
        tau = np.where(np.isfinite(ratio) & (ratio > 0), ratio ** (1 / (2 * eps)), 1.0)
    tau = np.maximum(tau, 1.0)
    tau[np.arange(nR), np.arange(nR)] = 1.0
    return np.where(X > 0, tau, np.inf)


def trade_cost_split(data: BenchmarkData, trade_costs=None):
    r"""The trade cost :math:`\tau` each sector is calibrated with, and the rule used.

    ``trade_costs`` is ``None`` (default: the benchmark's ``trade_cost`` index where it
    is given for every route with trade of a sector, else ``"head_ries"``),
    ``"head_ries"``, ``"implied"`` or an array (destination, origin, sector) of trade-cost
    indices :math:`T_{nis} = \tau_{nis}^{-\epsilon_s}` (NaN: that sector uses the
    default). With the trade elasticity :math:`\epsilon_s` of the sector's market
    structure (:func:`cge.gravity.trade_elasticity`):

    * an index: :math:`\tau = T^{-1/\epsilon}`, divided through by the largest
      :math:`T` of the sector when some :math:`T > 1` (so that every :math:`\tau \ge 1`);
    * ``"head_ries"``: the symmetric :math:`\tau` of the Head-Ries index;
    * ``"implied"``: no split (every friction of a firm sector in :math:`\tau` with
      :math:`\tau_{ii} = 1`; armington :math:`\tau = 1`), as before the split existed.

    Returns ``(rule by sector, tau by sector (inf off the routes with trade), description)``.
    """
    from cge.gravity import trade_elasticity

    R_, S_ = data.regions, data.sectors
    given = None
    default = "head_ries"
    if isinstance(trade_costs, str):
        if trade_costs not in TRADE_COST_RULES:
            raise InputError(f"trade_costs: {trade_costs!r} is not one of {list(TRADE_COST_RULES)} "
                             "or an array of trade-cost indices (destination, origin, sector)")
        default = trade_costs
    elif trade_costs is not None:
        given = _as_array(trade_costs, data.trade.shape, "trade_costs")
    if given is None and trade_costs is None:
        given = data.trade_cost
    rules, costs, problems = {}, {}, []
    for j, s in enumerate(S_):
        X = data.trade[:, :, j]
        if data.market_structure[s] in ("linear", "outside"):  # calibration/linear.py
            costs[s], rules[s] = None, "implied"
            continue
        if data.market_structure[s] == "cara":
            # the CARA structure has no CES preference weight to hold a split: its
            # calibration (calibration/cara.py) puts the whole friction into tau. A given
            # trade-cost index only sets each origin's productivity units so that tau is at
            # least the index's trade cost on every route (room for trade-cost shocks).
            T = given[:, :, j] if given is not None else np.full(X.shape, np.nan)
            if np.isfinite(T[X > 0]).all() and (T[X > 0] > 0).all() and (X > 0).any():
                eps = trade_elasticity("cara", data.sigma[j], data.k[j])
                top = T[X > 0].max()
                costs[s] = np.where(X > 0, (T / max(top, 1.0)) ** (-1.0 / eps), np.inf)
                rules[s] = "implied, tau at least the trade_cost index's (origin units)"
            else:
                costs[s], rules[s] = None, "implied"
            continue
        active = X > 0
        eps = trade_elasticity(data.market_structure[s], data.sigma[j], data.k[j])
        T = given[:, :, j] if given is not None else np.full(X.shape, np.nan)
        if np.isfinite(T).any() and not (isinstance(trade_costs, str)):
            bad = active & ~(np.isfinite(T) & (T > 0))
            for n, i in np.argwhere(bad)[:5]:
                problems.append(f"trade_cost[destination={R_[n]}, origin={R_[i]}, sector={s}] = "
                                f"{T[n, i]:g}: a trade-cost index must be positive and given for "
                                "every route with trade (or for none)")
            if bad.any():
                continue
            top = T[active].max()
            scale = top if top > 1 else 1.0
            costs[s] = np.where(active, (T / scale) ** (-1.0 / eps), np.inf)
            rules[s] = "trade_cost index" + (" (divided by its maximum)" if top > 1 else "")
        elif default == "head_ries":
            costs[s], rules[s] = _head_ries(X, eps), "head_ries"
        else:
            costs[s], rules[s] = None, "implied"
    if problems:
        raise CalibrationError(problems)
    description = ", ".join(f"{s}: {r}" for s, r in rules.items())
    return rules, costs, description


def calibrate(data: BenchmarkData, firm_normalisation=None, *, survival=None,
              exporter_share=None, numeraire=None, tol: float = TOL,
              name: str | None = None, report: bool = False, closure=None,
              population=None, cara_alpha=None, max_selection=None, trade_costs=None,
              cara_zero_flows="error", cara_tau="home", linear_choke=None, linear_alpha=None,
              linear_gamma=None):
    """Parameters under which ``data`` is an equilibrium at factor prices and price indices 1.

    Parameters
    ----------
    data:
        A consistent benchmark (checked with :func:`calibration.check_benchmark`).
    firm_normalisation:
        Benchmark mass of entrants per period :math:`M_{E,is}` in firm sectors:
        a number or an array (region, sector). ``None``: ``data.entrants``
        where given, else 1. Arbitrary: counterfactual percentage changes do
        not depend on it.
    survival, exporter_share:
        Defaults for the seller shares where ``data`` gives none (see the
        module docstring): a number or an array (region, sector), resp.
        (destination, origin, sector). ``None``: :data:`DEFAULT_SURVIVAL`,
        :data:`DEFAULT_EXPORTER_SHARE`.
    numeraire:
        ``{"factor": f, "region": r}``, ``{"price_index": s, "region": r}``,
        ``{"cpi": r}`` or a :class:`cge.Numeraire` (its value is replaced by
        the benchmark value of that price). Default: the first factor of the
        first region.
    trade_costs:
        How the observed trade friction is split into the trade cost :math:`\tau`
        (what iceberg and border shocks change) and a preference weight
        :math:`a_{ni}` (held fixed): see :func:`trade_cost_split`. Default: the
        benchmark's ``trade_cost`` index (e.g. from ``cge gravity``) where given,
        else the Head-Ries index. ``"implied"`` is the calibration without a split.
    report:
        Also return a :class:`CalibrationReport`.
    closure:
        The closure of final demand of the primitives: ``None`` (default:
        government ``regional_household``, investment ``savings_driven``), a
        mapping such as ``{"government": "fixed_real", "investment":
        "investment_driven"}`` or a :class:`cge.primitives.Closure`. The agent
        parameters are set under every closure (from ``data.government_demand``
        and ``data.investment_demand``), so the closure can also be changed
        later (:meth:`cge.Primitives.with_closure`, or a scenario's
        ``closure``) with the same start values; it matters here only for a
        ``cpi`` numeraire (the household's price index under a non-default
        closure).

    population:
        Consumers per region :math:`L_n` (a number, an array by region or a mapping
        region -> number;
        default 1). Used by ``cara`` sectors and for welfare per capita.
    cara_alpha, max_selection:
        CARA parameter :math:`\\alpha_s` (number or array by sector; default 1)
        and the selection share on each origin's most frequented route of
        ``cara`` sectors (default
        :data:`calibration.cara.DEFAULT_MAX_SELECTION`); see
        :mod:`calibration.cara`. ``cara`` sectors set their own entrants and
        ignore ``firm_normalisation``. ``cara_zero_flows="inactive"`` makes
        their foreign routes without sales inactive instead of an error;
        ``cara_tau="lowest"`` normalises each origin's lowest iceberg cost to 1
        instead of its domestic one (see :func:`calibration.cara.calibrate_cara_sector`).
    linear_choke, linear_alpha, linear_gamma:
        ``linear`` sectors (Melitz-Ottaviano, with their ``outside`` good): the choke price
        as a share of the demand intercept where spending per consumer is highest (default
        :data:`calibration.linear.DEFAULT_CHOKE_SHARE`) and the units of quantities and of
        the mass of varieties (default 1); number or array by sector. See
        :mod:`calibration.linear`.

    Returns
    -------
    ``(Primitives, StartValues)`` (and the report if asked).

    Raises :class:`~cge.errors.InputError` if the data are inconsistent, and
    :class:`CalibrationError` if they imply inadmissible parameters (an
    iceberg cost below 1, a cutoff below the Pareto lower bound), naming the
    routes.
    """
    check_benchmark(data, tol)
    closure = Closure.parse(closure)
    R_, S_, F_ = data.regions, data.sectors, data.factors
    nR, nS = len(R_), len(S_)
    alpha, gamma, beta, c = _shares(data)
    ptax = data.production_tax_rate()  # t^P_is = T^P_is / K_is
    c = (1 + ptax) * c  # the producer pays (1 + t^P) per unit of the composite input
    sales = data.output()  # R_is
    absorption = data.absorption()  # E_ns at P = 1
    agent_spending, omega, beta_a, agent_price = _agent_parameters(data, beta)
    num = _numeraire(data, numeraire, beta if closure.is_default else beta_a[:, 0, :])

    X, t = data.trade, data.tariff
    sigma, k, delta = data.sigma, data.k, data.delta
    tau = np.ones((nR, nR, nS))
    f = np.ones((nR, nR, nS))
    pref = np.ones((nR, nR, nS))
    phi_min = np.ones((nR, nS))
    f_e = np.ones((nR, nS))
    m_e = np.ones((nR, nS))
    cutoff = np.full((nR, nR, nS), np.nan)

    sources = {}
    if firm_normalisation is None:
        given = np.isfinite(data.entrants)
        m_e = np.where(given, data.entrants, 1.0)
        sources["entrants"] = "data" if given.all() else ("data where given, else 1" if given.any() else "1 (default)")
    else:
        m_e = _as_array(firm_normalisation, (nR, nS), "firm_normalisation")
        if not (np.isfinite(m_e).all() and (m_e > 0).all()):
            raise InputError("firm_normalisation: must be positive and finite")
        sources["entrants"] = "firm_normalisation argument"
    surv_default = _as_array(DEFAULT_SURVIVAL if survival is None else survival, (nR, nS), "survival")
    exp_default = _as_array(DEFAULT_EXPORTER_SHARE if exporter_share is None else exporter_share,
                            (nR, nR, nS), "exporter_share")
    surv = np.where(np.isfinite(data.survival), data.survival, surv_default)
    expo = np.where(np.isfinite(data.exporter_share), data.exporter_share, exp_default)
    sources["survival"] = "data" if np.isfinite(data.survival).all() else "default where not given"
    sources["exporter_share"] = ("data" if np.isfinite(data.exporter_share[~np.eye(nR, dtype=bool)]).all()
                                 else "default where not given")

    if isinstance(population, Mapping):  # {region: consumers} (a scenario's data options)
        unknown = sorted(set(population) - set(R_))
        missing = [r for r in R_ if r not in population]
        if unknown or missing:
            raise InputError([f"population[region={r}]: no such region" for r in unknown]
                             + [f"population[region={r}]: missing (give every region)"
                                for r in missing])
        population = [float(population[r]) for r in R_]
    pop = _as_array(1.0 if population is None else population, (nR,), "population")
    if not (np.isfinite(pop).all() and (pop > 0).all()):
        raise InputError([f"population[region={R_[n]}] = {pop[n]:g}: must be positive and finite"
                          for n in range(nR) if not (np.isfinite(pop[n]) and pop[n] > 0)])
    cara_a = _as_array(1.0 if cara_alpha is None else cara_alpha, (nS,), "cara_alpha")
    for j, s in enumerate(S_):
        if not cara_a[j] > 0:
            raise InputError(f"cara_alpha[sector={s}] = {cara_a[j]:g}: must be positive")
    rule_of, costs_of, sources["trade_costs"] = trade_cost_split(data, trade_costs)
    quasi_linear = None
    if any(data.market_structure[s] in ("linear", "outside") for s in S_):
        from .linear import calibrate_quasi_linear
        quasi_linear = calibrate_quasi_linear(
            data, c, pop, choke_share=linear_choke, alpha=linear_alpha, gamma=linear_gamma,
            max_selection=max_selection)
        if quasi_linear.problems:
            raise CalibrationError(quasi_linear.problems)
        beta = quasi_linear.beta(beta, S_)
    problems: list[str] = []
    eye = np.eye(nR, dtype=bool)
    for j, s in enumerate(S_):
        ms = data.market_structure[s]
        active = X[:, :, j] > 0
        sig, kk, dl = float(sigma[j]), float(k[j]), float(delta[j])
        rho = (sig - 1) / sig
        cj, E = c[:, j], absorption[:, j]
        tau[:, :, j] = np.where(active, 1.0, np.inf)
        if ms == "armington":
            with np.errstate(divide="ignore"):
                pref[:, :, j] = np.where(
                    active, (1 + t[:, :, j]) ** sig * X[:, :, j] * cj[None, :] ** (sig - 1) / E[:, None], 1.0)
            continue
        if ms in ("linear", "outside"):
            vals = quasi_linear.values[s]
            tau[:, :, j], phi_min[:, j], f_e[:, j] = vals["tau"], vals["phi_min"], vals["f_e"]
            m_e[:, j], cutoff[:, :, j] = vals["entrants"], vals["cutoff"]
            pref[:, :, j] = vals.get("pref_weight", 1.0)
            continue
        if ms == "cara":
            from .cara import DEFAULT_MAX_SELECTION, calibrate_cara_sector
            vals, errs = calibrate_cara_sector(
                s, R_, X[:, :, j], t[:, :, j], cj, pop, k=kk, delta=dl, alpha=float(cara_a[j]),
                max_selection=DEFAULT_MAX_SELECTION if max_selection is None else max_selection,
                zero_flows=cara_zero_flows, tau_normalisation=cara_tau, tau_floor=costs_of[s])
            problems += errs
            if vals is not None:
                tau[:, :, j], phi_min[:, j], f_e[:, j] = vals["tau"], vals["phi_min"], vals["f_e"]
                m_e[:, j], cutoff[:, :, j] = vals["entrants"], vals["cutoff"]
            continue
        if ms == "krugman":
            with np.errstate(divide="ignore"):
                h = (rho / cj[None, :]) * (X[:, :, j] * (1 + t[:, :, j]) ** sig * dl
                                           / (m_e[None, :, j] * E[:, None])) ** (-1 / (sig - 1))
            phi_min[:, j] = 1.0 / h.diagonal()
            tau[:, :, j] = np.where(active, h * phi_min[None, :, j], np.inf)
            tau[np.arange(nR), np.arange(nR), j] = 1.0
            f_e[:, j] = sales[:, j] / (sig * cj * m_e[:, j])
        else:  # melitz
            share = np.where(eye, surv[None, :, j], surv[None, :, j] * expo[:, :, j])
            for n, i in zip(*np.nonzero(active & (share > 1 + 1e-12))):
                problems.append(
                    f"route destination={R_[n]}, origin={R_[i]}, sector={s}: share of drawn firms "
                    f"selling there = {share[n, i]:.6g} > 1 (survival {surv[i, j]:.6g} x exporter "
                    f"share {expo[n, i, j]:.6g}); lower the exporter share")
            share = np.minimum(share, 1.0)
            sellers = m_e[None, :, j] / dl * share
            with np.errstate(divide="ignore", invalid="ignore"):
                fij = X[:, :, j] * (kk - sig + 1) / (sig * kk * cj[None, :] * sellers)
                g = (rho / cj[None, :]) * ((1 + t[:, :, j]) ** (-sig) * E[:, None]
                                           / (sig * cj[None, :] * fij)) ** (1 / (sig - 1))
                rel = share ** (-1 / kk)  # phi*/phi_min
            phi_min[:, j] = 1.0 / (g.diagonal() * rel.diagonal())
            tau[:, :, j] = np.where(active, g * phi_min[None, :, j] * rel, np.inf)
            tau[np.arange(nR), np.arange(nR), j] = 1.0  # exactly, not up to rounding
            f[:, :, j] = np.where(active, fij, 1.0)
            cutoff[:, :, j] = np.where(active, phi_min[None, :, j] * rel, np.nan)
            f_e[:, j] = (sig - 1) / (kk - sig + 1) * np.where(active, fij * share, 0.0).sum(axis=0) / dl
        low = active & (tau[:, :, j] < 1 - 1e-12) & (rule_of[s] == "implied")
        for n, i in zip(*np.nonzero(low)):
            problems.append(
                f"route destination={R_[n]}, origin={R_[i]}, sector={s} ({ms}): the data imply an "
                f"iceberg cost tau = {tau[n, i, j]:.6g} < 1 relative to domestic sales of {R_[i]} "
                f"(sales {X[n, i, j]:.6g} are large relative to {R_[n]}'s spending {E[n]:.6g}"
                + ("; supply exporter shares for this route or raise them" if ms == "melitz" else "")
                + ")")
    if problems:
        raise CalibrationError(problems)
    tau = np.where(np.isfinite(tau) & (tau < 1) & (tau > 1 - 1e-12), 1.0, tau)  # round-off at 1
    # Split the observed friction (tau above, the "implied" iceberg cost that puts every
    # friction of a firm sector into tau, and none of an armington sector) into the trade
    # cost of the chosen rule and a preference weight:
    # a_ni tau_ni^(1-sigma) is what the data identify, so a' = a (tau'/tau)^(sigma-1).
    for j, s in enumerate(S_):
        if rule_of[s].startswith("implied"):  # cara: the index only set origin units
            continue
        active = X[:, :, j] > 0
        new_tau = costs_of[s]
        sig = float(sigma[j])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pref[:, :, j] = np.where(active, pref[:, :, j] * (new_tau / tau[:, :, j]) ** (sig - 1), 1.0)
        tau[:, :, j] = np.where(active, new_tau, np.inf)

    endowment = (alpha * (sales / (1 + ptax))[:, :, None]).sum(axis=1)
    deficit = data.deficit - data.deficit.sum() * (np.abs(data.deficit) / max(np.abs(data.deficit).sum(), 1e-300))
    arrays = {
        "sigma": sigma, "k": k, "delta": delta, "beta": beta, "endowment": endowment,
        "factor_share": alpha, "input_share": gamma, "phi_min": phi_min, "f": f, "f_e": f_e,
        "tau": tau, "tariff": t, "pref_weight": pref, "entrants": m_e / delta[None, :],
        "deficit": deficit / num.value, "production_tax": ptax,
        "agent_share": omega, "agent_beta": beta_a,
        "real_government": agent_spending[:, 1] / agent_price[:, 1],
        "real_investment": agent_spending[:, 2] / agent_price[:, 2],
        "population": pop, "cara_alpha": cara_a,
    }
    if quasi_linear is not None:
        for key, name in (("alpha", "linear_alpha"), ("gamma", "linear_gamma"),
                          ("eta", "linear_eta")):
            arrays[name] = np.array([quasi_linear.values.get(s, {}).get(key, 1.0) for s in S_])
    mapping = {
        "name": name or data.name, "regions": list(R_), "sectors": list(S_), "factors": list(F_),
        "market_structure": dict(data.market_structure), "entry": "free",
        "numeraire": {num.kind: num.label if num.kind != "cpi" else num.region,
                      **({"region": num.region} if num.kind != "cpi" else {}), "value": num.value},
        "closure": closure.to_mapping(),
    }
    mapping.update({key: np.asarray(v).tolist() for key, v in arrays.items()})
    prim = Primitives.from_mapping(mapping)
    for key, v in arrays.items():  # exact values (lists round-trip exactly, but be explicit)
        prim.arrays[key] = np.array(v, dtype=float)

    # ------------------------------------------------------------ start values
    tariff_rev = (t * X).sum(axis=1)  # (n, s)
    ptax_rev = ptax / (1 + ptax) * sales  # (i, s), as the model states it
    income = endowment.sum(axis=1) + tariff_rev.sum(axis=1) + ptax_rev.sum(axis=1) + deficit
    start = StartValues()
    start.host["log_factor_price"] = {(r, fn): 0.0 for r in R_ for fn in F_}
    start.host["log_income"] = {r: float(np.log(income[n])) for n, r in enumerate(R_)}
    # The household spends what the government and investment leave (exactly, as in the model).
    spend = agent_spending.copy()
    spend[:, 0] = income - spend[:, 1:].sum(axis=1)
    start.host["log_agent_spending"] = {(r, a): float(np.log(spend[n, k]))
                                        for n, r in enumerate(R_) for k, a in enumerate(AGENTS)
                                        if omega[n, k] > 0}
    for j, s in enumerate(S_):
        ms = data.market_structure[s]
        active = X[:, :, j] > 0
        comp = {
            "log_expenditure": {r: float(np.log(absorption[n, j])) for n, r in enumerate(R_)},
            "log_input_price": {r: float(np.log(c[i, j])) for i, r in enumerate(R_)},
            "log_price_index": {r: 0.0 for r in R_},
            "log_trade_value": {(R_[n], R_[i]): float(np.log(X[n, i, j]))
                                for n, i in zip(*np.nonzero(active))},
            "log_input_demand": {r: float(np.log(sales[i, j] / c[i, j])) for i, r in enumerate(R_)},
            "tariff_revenue": {r: float(tariff_rev[n, j]) for n, r in enumerate(R_)},
        }
        if ms not in ("armington", "outside"):
            comp["log_entry_mass"] = {r: float(np.log(m_e[i, j])) for i, r in enumerate(R_)}
        if quasi_linear is not None and ms in ("linear", "outside"):
            quasi_linear.start(s, comp, R_)
        if ms in ("melitz", "cara", "linear"):
            comp["log_cutoff"] = {(R_[n], R_[i]): float(np.log(cutoff[n, i, j]))
                                  for n, i in zip(*np.nonzero(active))}
        start.sectors[s] = comp
        start.value_scale[s] = float(np.mean(absorption[:, j]))
    if report:
        rep = CalibrationReport(entrants=m_e, survival=surv, exporter_share=np.where(eye[:, :, None], 1.0, expo),
                                sources=sources)
        return prim, start, rep
    return prim, start


# ------------------------------------------------------------------ start
def _model(target):
    return getattr(target, "model", target)


def set_start(target, start: StartValues) -> int:
    """Write benchmark values into a built model (an :class:`cge.Equilibrium` or its
    Pyomo model), after construction and before the first solve.

    Overwrites the initial guess :class:`cge.Equilibrium` made. Every unknown
    of the model must receive a value and every value must find an unknown;
    otherwise :class:`~cge.errors.InputError` names the mismatches (the start
    values belong to a different economy). Returns the number of values written.
    """
    m = _model(target)
    problems, written = [], set()
    count = 0
    for s, name, idx, val in start.items():
        owner = m if s is None else (m.sector[s] if s in m.sectors else None)
        if owner is None:
            problems.append(f"start values for sector {s!r}, which the model does not have")
            continue
        comp = getattr(owner, name, None)
        if comp is None:
            # e.g. profit of a free-entry sector is an Expression: nothing to set; the
            # final-demand agents exist only under a non-default closure
            if name in ("profit", "log_agent_spending"):
                continue
            problems.append(f"{owner.name}.{name}: no such component in the model")
            continue
        if not isinstance(comp, pyo.Var):
            continue
        if idx not in comp:
            problems.append(f"{comp.name}[{idx}]: no such index in the model")
            continue
        comp[idx].set_value(float(val), skip_validation=True)
        written.add(id(comp[idx]))
        count += 1
    for s, scale in start.value_scale.items():
        if s in m.sectors:
            m.sector[s].value_scale = scale
    for v in m.component_data_objects(pyo.Var, descend_into=True):
        if id(v) not in written and not v.fixed and not v.name.startswith("_"):
            if v.parent_component().local_name == "profit":
                v.set_value(0.0)
                continue
            problems.append(f"{v.name}: no start value given")
    if problems:
        raise InputError(problems[:20] + ([f"... {len(problems) - 20} more"] if len(problems) > 20 else []))
    if hasattr(target, "model") and hasattr(target, "solved"):
        target.solved = False
    return count


def calibrated_equilibrium(data: BenchmarkData, firm_normalisation=None, **kwargs):
    """``calibrate`` then build a :class:`cge.Equilibrium` started at the benchmark.

    Keyword arguments go to :func:`calibrate`, except ``solver`` and
    ``options`` (to :class:`cge.Equilibrium`). Returns ``(eq, prim)``.
    """
    from cge import Equilibrium

    eq_kw = {k: kwargs.pop(k) for k in ("solver", "options") if k in kwargs}
    prim, start = calibrate(data, firm_normalisation, **kwargs)
    eq = Equilibrium(prim, **eq_kw)
    set_start(eq, start)
    return eq, prim


# --------------------------------------------------------- from a solution
def benchmark_from_equilibrium(eq, name: str | None = None) -> BenchmarkData:
    """The benchmark data of a solved :class:`cge.Equilibrium` (its current point).

    Values at current prices: trade and tariffs from the routes, factor
    payments :math:`\\alpha c Y/(1+t^P)`, intermediate purchases
    :math:`\\gamma c Y/(1+t^P)`, production taxes :math:`t^P c Y/(1+t^P)`,
    final demand :math:`\\beta I` (by agent: :math:`\\beta_{nas} E_{na}`),
    deficits :math:`D \\bar p`; sector parameters
    and firm-level shares (survival, exporter shares, entrants) from the model.
    Recalibrating the result reproduces this equilibrium. Sectors with fixed
    entry (profits paid to households) are not supported.
    """
    m = eq.model
    prim = eq.primitives
    R_, S_, F_ = prim.regions, prim.sectors, prim.factors
    nR, nS = len(R_), len(S_)
    v = pyo.value
    X = np.zeros((nR, nR, nS))
    survival = np.full((nR, nS), np.nan)
    expo = np.full((nR, nR, nS), np.nan)
    entrants = np.full((nR, nS), np.nan)
    cy = np.zeros((nR, nS))
    for j, s in enumerate(S_):
        if prim.entry[s] != "free":
            raise InputError(f"sector {s}: fixed entry (profits paid to households) is not "
                             "representable in BenchmarkData")
        blk = m.sector[s]
        for (n, i) in blk.routes:
            X[R_.index(n), R_.index(i), j] = v(blk.trade_value[n, i])
        for i, r in enumerate(R_):
            cy[i, j] = v(blk.input_price[r]) * v(blk.input_demand[r])
            if blk.has_firms:
                entrants[i, j] = v(blk.entry_mass[r])
        if blk.is_melitz:
            kk = blk.k
            for i, r in enumerate(R_):
                pmin = v(blk.phi_min[r])
                dom = v(blk.cutoff[r, r])
                survival[i, j] = (pmin / dom) ** kk
                for n in blk.destinations(r):
                    if n != r:
                        expo[R_.index(n), i, j] = (dom / v(blk.cutoff[n, r])) ** kk
    alpha, gamma, beta = prim["factor_share"], prim["input_share"], prim["beta"]
    tp = prim["production_tax"]
    net = cy / (1 + tp)  # what factors and intermediate inputs are paid
    income = np.array([v(m.income[r]) for r in R_])
    final = beta * income[:, None]
    # Final demand by agent (cge.results): the model's agents under a non-default closure,
    # else the regional household's demand split by the agent parameters where given.
    from cge.results import extract

    sec = extract(m).sectors.reindex(pd.MultiIndex.from_product([R_, S_]))
    by_agent = np.stack([sec[f"{a}_demand"].to_numpy(float).reshape(nR, nS) for a in AGENTS], axis=1)
    if prim.closure.is_default:
        gov = np.minimum(by_agent[:, 1], final)
        inv = np.minimum(by_agent[:, 2], final - gov)
    else:
        final, gov, inv = by_agent.sum(axis=1), by_agent[:, 1], by_agent[:, 2]
    return BenchmarkData(
        regions=R_, sectors=S_, factors=F_, trade=X, tariff=prim["tariff"].copy(),
        factor_payments=alpha * net[:, :, None], intermediate=gamma * net[:, :, None],
        production_tax=tp * net,
        final_demand=final, government_demand=gov, investment_demand=inv,
        deficit=np.array([v(m.deficit_value[r]) for r in R_]),
        sigma=prim["sigma"].copy(), k=prim["k"].copy(), delta=prim["delta"].copy(),
        market_structure=dict(prim.market_structure),
        survival=survival, exporter_share=expo, entrants=entrants,
        name=name or f"{prim.name} (from a solved equilibrium)",
    )


__all__ = ["calibrate", "trade_cost_split", "TRADE_COST_RULES", "set_start", "calibrated_equilibrium", "benchmark_from_equilibrium",
           "StartValues", "CalibrationReport", "CalibrationError", "DEFAULT_SURVIVAL",
           "DEFAULT_EXPORTER_SHARE"]
