r"""The general equilibrium: sector blocks joined by factor markets, income and demand.

:func:`build_model` assembles a Pyomo ``ConcreteModel`` from
:class:`~cge.primitives.Primitives`: one
:class:`~cge.blocks.sector.HeterogeneousFirmSector` block per sector (the real
implementation of every sector-level condition) and, at the top level, the
economy-wide equation families below. Notation follows Melitz and Redding
(2014); :math:`n` destination, :math:`i` origin, :math:`s, u` sectors,
:math:`f` factors.

Equation families at the top level (each written in logarithms, so residuals
are relative errors):

``unit_cost[i,s]``
    .. math:: c_{is} = (1+t^P_{is}) \prod_f \left(\frac{w_{if}}{\alpha_{isf}}\right)^{\alpha_{isf}}
              \prod_u \left(\frac{P_{iu}}{\gamma_{isu}}\right)^{\gamma_{isu}}
``factor_market[i,f]``
    .. math:: \sum_s \alpha_{isf}\, \frac{c_{is} Y_{is}}{1+t^P_{is}} = w_{if} \bar L_{if}
``sector_expenditure[n,s]``
    .. math:: X_{ns} = \beta_{ns} I_n + \sum_u \gamma_{nus}\, \frac{c_{nu} Y_{nu}}{1+t^P_{nu}}
``income_balance[n]``
    .. math:: I_n = \sum_f w_{nf}\bar L_{nf} + \sum_s T_{ns} + \sum_s R^P_{ns}
              + \sum_s \Pi_{ns} + D_n \kappa
``numeraire``
    the chosen price equals :math:`\bar p`.

Deficits. :math:`D_n` (``deficit``) is given in numeraire units at the
benchmark; :math:`\kappa` (the Expression ``deficit_unit``) is the value of one
such unit. Under the ``numeraire`` deficit closure :math:`\kappa = \bar p`;
under ``world_income_share`` (the default) :math:`\kappa = \theta \bar p +
(1-\theta) W / \bar W`, where :math:`W = \sum_m\sum_f w_{mf}\bar L_{mf}` is world
income (world factor income, ``world_income``), :math:`\theta`
(``deficit_in_numeraire``) is 1 for the benchmark solve and 0 afterwards, and
:math:`\bar W` (``benchmark_world_income``) is benchmark world income per unit of
:math:`\bar p`, set after the benchmark solve (:mod:`cge.deficits`): each
region's deficit :math:`D_n\kappa` is then the benchmark's share of world income.
``deficit_value[n]`` is :math:`D_n \kappa`, the deficit in current prices.

Production taxes. :math:`t^P_{is}` (``production_tax``; negative: a subsidy,
:math:`> -1`) is an ad valorem tax on the value of the composite input of
:math:`(i, s)`, equivalently on its output value (every cost of the sector is
a composite-input cost, and under free entry sales equal those costs). The
producer pays :math:`(1+t^P_{is})` per unit of the bundle, so :math:`c_{is}`
(``log_input_price``, what the sector block prices with) is tax-inclusive,
while factors and intermediate inputs are paid the tax-exclusive value
:math:`c_{is}Y_{is}/(1+t^P_{is})`. The revenue
:math:`R^P_{is} = \frac{t^P_{is}}{1+t^P_{is}}\, c_{is} Y_{is}` (the Expression
``production_tax_revenue[i, s]``) is income of region :math:`i`. With
:math:`t^P = 0` (the default) every term vanishes.

Closure of final demand (:class:`~cge.primitives.Closure`). With the default
closure (government ``regional_household``, investment ``savings_driven``)
the families above are the whole model: every agent spends a fixed share of
income, which is one Cobb-Douglas system with shares :math:`\beta_{ns}`.
Any other closure adds the final-demand agents :math:`a \in \{h, g, v\}`
(household, government, investment) with spending :math:`E_{na}`
(``log_agent_spending``, for the agents with :math:`\omega_{na} > 0`), price
indices :math:`P_{na} = \prod_s (P_{ns}/\beta_{nas})^{\beta_{nas}}`
(``agent_price_index``) and the families

``government_spending[n]``
    .. math:: E_{ng} = \omega_{ng} I_n \quad\text{(regional\_household)}, \qquad
              E_{ng} = G_n P_{ng} \quad\text{(fixed\_real)}
``investment_spending[n]``
    .. math:: E_{nv} = \omega_{nv} I_n \quad\text{(savings\_driven)}, \qquad
              E_{nv} = V_n P_{nv} \quad\text{(investment\_driven)}
``household_spending[n]``
    .. math:: E_{nh} = I_n - E_{ng} - E_{nv}

and ``sector_expenditure`` becomes
:math:`X_{ns} = \sum_a \beta_{nas} E_{na} + \sum_u \gamma_{nus}\, c_{nu} Y_{nu}`.
Welfare is then the household's real consumption :math:`E_{nh}/\text{CPI}_n`
(``real_income``; ``consumer_price_index`` is :math:`\prod_s P_{ns}^{\beta_{nhs}}`,
the household's price index :math:`P_{nh}` normalised to 1 at unit prices).

The consumer price index is normalised: :math:`\text{CPI}_n = \prod_s P_{ns}^{\beta_{ns}}`
(1 at a calibrated benchmark, where every price is 1), the unit expenditure
function divided by the constant :math:`\prod_s \beta_{ns}^{-\beta_{ns}}`, so
that real income equals income at the benchmark and the equivalent variation
is in money of the benchmark.

Walras' law: the factor market of the numeraire region (its numeraire factor,
or its first factor) is left out of the system (``m.walras_market`` holds it,
deactivated); :func:`cge.solve.walras_residual` checks it after every solve.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pyomo.environ as pyo

from .blocks.sector import HeterogeneousFirmSector
from .quasi_linear import QuasiLinear, initialize_quasi_linear, quasi_linear_price
from .errors import InputError
from .parameters import AGENT_PARAMETERS, AGENTS, LABEL_SET, PARAMETERS
from .primitives import Primitives

#: Parameters held by the sector blocks (route or origin indexed) and by the host.
SECTOR_PARAMETERS = ("phi_min", "f_e", "entrants", "f", "tau", "tariff", "pref_weight",
                     "population")
HOST_PARAMETERS = ("endowment", "beta", "factor_share", "input_share", "deficit",
                   "production_tax", "population")
#: Whether :func:`build_model` declares route-level quantities (trade values, cutoffs)
#: as unknowns with their own equations (True) or as closed-form Expressions of the
#: aggregates (False: O(regions x sectors) unknowns; see docs/model.md, "Formulation").
ROUTE_UNKNOWNS = False
#: Parameters that change the model's structure; changing them needs a rebuild.
STRUCTURAL = ("sigma", "k", "delta", "cara_alpha", "linear_alpha", "linear_gamma", "linear_eta")


def _sector_parameters(prim: Primitives, j: int) -> dict[str, dict]:
    regions = prim.regions
    active = prim.active_routes(j)
    out: dict[str, dict] = {}
    for name in SECTOR_PARAMETERS:
        arr = prim[name]
        if PARAMETERS[name].dims[0] == "destination":
            out[name] = {
                (regions[n], regions[i]): float(arr[n, i, j])
                for n, i in zip(*np.nonzero(active))
            }
        elif arr.ndim == 1:  # region-indexed primitives shared by every sector (population)
            out[name] = {r: float(arr[i]) for i, r in enumerate(regions)}
        else:
            out[name] = {r: float(arr[i, j]) for i, r in enumerate(regions)}
    return out


def sector_config(prim: Primitives, j: int, route_unknowns: bool | None = None) -> dict:
    """The :class:`HeterogeneousFirmSector` configuration of sector ``j``
    (``route_unknowns``: default :data:`ROUTE_UNKNOWNS`)."""
    s = prim.sectors[j]
    active = prim.active_routes(j)
    return {
        "market_structure": prim.market_structure[s],
        "entry": prim.entry[s],
        "regions": list(prim.regions),
        "routes": [(prim.regions[n], prim.regions[i]) for n, i in zip(*np.nonzero(active))],
        "sigma": float(prim["sigma"][j]),
        "k": float(prim["k"][j]),
        "delta": float(prim["delta"][j]),
        "cara_alpha": float(prim["cara_alpha"][j]),
        **{name: float(prim[name][j]) for name in ("linear_alpha", "linear_gamma", "linear_eta")},
        "route_unknowns": ROUTE_UNKNOWNS if route_unknowns is None else bool(route_unknowns),
        "parameters": _sector_parameters(prim, j),
    }


def _labelled(prim: Primitives, name: str) -> dict:
    """The array ``name`` keyed by labels (tuples; one label for one dimension), in C order."""
    dims = PARAMETERS[name].dims
    arr = np.asarray(prim[name], dtype=float)
    labels = [list(prim.labels(d)) for d in dims]
    keys = labels[0] if len(labels) == 1 else itertools.product(*labels)
    return dict(zip(keys, arr.ravel().tolist()))


def build_model(prim: Primitives, agents: bool | None = None,
                route_unknowns: bool | None = None) -> pyo.ConcreteModel:
    r"""Declare the full equilibrium system for ``prim`` (no solving).

    ``agents``: build the final-demand agents (``log_agent_spending`` and the
    ``government_spending``, ``investment_spending`` and ``household_spending``
    families). ``None`` (default): exactly when ``prim.closure`` is not the
    default. ``True`` under the default closure builds the same equilibrium
    written agent by agent (a check of the agent equations: with
    :math:`\beta_{ns} = \sum_a \omega_{na}\beta_{nas}` its solution is the
    one-agent model's).

    ``route_unknowns``: declare trade values and cutoffs as unknowns with their
    own equations (``True``) or as closed-form Expressions of the aggregates
    (``False``); default :data:`ROUTE_UNKNOWNS`. Both formulations have the same
    solutions.
    """
    closure = prim.closure
    if agents is None:
        agents = not closure.is_default
    if agents:
        missing = [name for name in ("agent_share", "agent_beta") if not prim.given(name)]
        if missing:
            raise InputError([f"{name}: needed to build the final-demand agents, not given"
                              for name in missing])
        no_household = [r for n, r in enumerate(prim.regions) if not prim["agent_share"][n, 0] > 0]
        if no_household:
            raise InputError(f"agent_share[agent=household]: must be positive in every region "
                             f"(the household absorbs every change); zero in {no_household}")
    m = pyo.ConcreteModel(name=prim.name)
    quasi_linear = QuasiLinear(prim)  # linear sectors and their outside good, if any
    m.regions = pyo.Set(initialize=prim.regions, ordered=True, doc="regions n, i")
    m.sectors = pyo.Set(initialize=prim.sectors, ordered=True, doc="sectors s, u")
    m.factors = pyo.Set(initialize=prim.factors, ordered=True, doc="primary factors f")

    configs = {s: sector_config(prim, j, route_unknowns) for j, s in enumerate(prim.sectors)}
    m.sector = HeterogeneousFirmSector(m.sectors, config=lambda s: configs[s])

    # ------------------------------------------------------------ parameters
    def host_param(name, index):
        # a rule over the index set, the domain Any: Pyomo then neither validates every key
        # of a dict nor tests every value against Reals (the primitives are checked arrays)
        spec = PARAMETERS[name]
        values = _labelled(prim, name)
        return pyo.Param(index, initialize=lambda m, *idx: values[idx[0] if len(idx) == 1 else idx],
                         mutable=True, within=pyo.Any, doc=f"{spec.symbol}: {spec.description} [{spec.units}]")

    m.endowment = host_param("endowment", m.regions * m.factors)
    m.beta = host_param("beta", m.regions * m.sectors)
    m.factor_share = host_param("factor_share", m.regions * m.sectors * m.factors)
    m.input_share = host_param("input_share", m.regions * m.sectors * m.sectors)
    m.deficit = host_param("deficit", m.regions)
    m.production_tax = host_param("production_tax", m.regions * m.sectors)
    m.population = host_param("population", m.regions)
    m.numeraire_value = pyo.Param(initialize=prim.numeraire.value, mutable=True,
                                  doc="value of the numeraire price")
    m.deficit_in_numeraire = pyo.Param(
        initialize=1.0, mutable=True, within=pyo.Reals,
        doc="theta: 1 while deficits are valued in numeraire units (the benchmark solve, and "
            "always under the numeraire deficit closure); 0 once held as a share of world income")
    m.benchmark_world_income = pyo.Param(
        initialize=1.0, mutable=True, within=pyo.Reals,
        doc="W-bar: benchmark world income per unit of the numeraire value (set after the "
            "benchmark solve under the world_income_share deficit closure)")

    alpha, gamma, beta = prim["factor_share"], prim["input_share"], prim["beta"]
    R, S, F = prim.regions, prim.sectors, prim.factors
    m.factor_use = pyo.Set(
        dimen=3, ordered=True, doc="(i, s, f) with alpha_isf > 0",
        initialize=[(R[i], S[s], F[f]) for i, s, f in zip(*np.nonzero(alpha > 0))])
    m.input_use = pyo.Set(
        dimen=3, ordered=True, doc="(i, s, u) with gamma_isu > 0",
        initialize=[(R[i], S[s], S[u]) for i, s, u in zip(*np.nonzero(gamma > 0))])
    users_of_factor = {(R[i], F[f]): [S[s] for s in np.nonzero(alpha[i, :, f] > 0)[0]]
                       for i in range(len(R)) for f in range(len(F))}
    factors_of = {(R[i], S[s]): [F[f] for f in np.nonzero(alpha[i, s] > 0)[0]]
                  for i in range(len(R)) for s in range(len(S))}
    inputs_of = {(R[i], S[s]): [S[u] for u in np.nonzero(gamma[i, s] > 0)[0]]
                 for i in range(len(R)) for s in range(len(S))}
    buyers_of = {(R[n], S[u]): [S[s] for s in np.nonzero(gamma[n, :, u] > 0)[0]]
                 for n in range(len(R)) for u in range(len(S))}
    final_demand = {(R[n], S[s]): bool(beta[n, s] > 0)
                    for n in range(len(R)) for s in range(len(S))}
    m._closure = closure
    m._agent_arrays = {name: prim[name].copy() for name in AGENT_PARAMETERS}
    if agents:
        omega, beta_a = prim["agent_share"], prim["agent_beta"]
        m.agents = pyo.Set(initialize=AGENTS, ordered=True, doc="final-demand agents a")
        m.agent_share = pyo.Param(
            m.regions * m.agents, mutable=True, within=pyo.Reals,
            initialize={(R[n], a): float(omega[n, k]) for n in range(len(R))
                        for k, a in enumerate(AGENTS)},
            doc=f"{PARAMETERS['agent_share'].symbol}: {PARAMETERS['agent_share'].description}")
        m.agent_beta = pyo.Param(
            m.regions * m.agents * m.sectors, mutable=True, within=pyo.Reals,
            initialize={(R[n], a, S[j]): float(np.nan_to_num(beta_a[n, k, j]))
                        for n in range(len(R)) for k, a in enumerate(AGENTS) for j in range(len(S))},
            doc=f"{PARAMETERS['agent_beta'].symbol}: {PARAMETERS['agent_beta'].description}")
        for name in ("real_government", "real_investment"):
            spec = PARAMETERS[name]
            setattr(m, name, pyo.Param(
                m.regions, mutable=True, within=pyo.Reals,
                initialize={r: float(np.nan_to_num(prim[name][n])) for n, r in enumerate(R)},
                doc=f"{spec.symbol}: {spec.description} [{spec.units}]"))
        m.agent_use = pyo.Set(
            dimen=2, ordered=True, doc="(n, a) with omega_na > 0: the agents that spend",
            initialize=[(R[n], a) for n in range(len(R)) for k, a in enumerate(AGENTS)
                        if omega[n, k] > 0])
        agent_buys = {(R[n], a): [S[j] for j in np.nonzero(np.nan_to_num(beta_a[n, k]) > 0)[0]]
                      for n in range(len(R)) for k, a in enumerate(AGENTS)}
        final_demand = {(r, s): any(s in agent_buys[r, a] for a in AGENTS if (r, a) in m.agent_use)
                        for r in R for s in S}

    # ------------------------------------------------------------- variables
    # Unknowns are solved for in logarithms (see HeterogeneousFirmSector); levels
    # are Expressions of the same name.
    m.log_factor_price = pyo.Var(m.regions * m.factors, initialize=0.0, doc="ln w_if")
    m.factor_price = pyo.Expression(m.regions * m.factors,
                                    rule=lambda m, i, f: pyo.exp(m.log_factor_price[i, f]),
                                    doc="w_if: price of factor f in region i")
    m.log_income = pyo.Var(m.regions, initialize=0.0, doc="ln I_n")
    m.income = pyo.Expression(m.regions, rule=lambda m, n: pyo.exp(m.log_income[n]),
                              doc="I_n: household income = final spending")

    cost_values, logs = {}, {}

    def log_of(param, key):
        """``log(param[key])``, one expression per parameter entry (shared by the unit-cost
        and market equations that read it)."""
        expr = logs.get((param.local_name, key))
        if expr is None:
            expr = logs[param.local_name, key] = pyo.log(param[key])
        return expr

    def log_cost_value(i, s):
        """ln(c_is Y_is / (1 + t^P_is)): what (i, s) pays factors and intermediate inputs
        for its composite input (the tax-exclusive value); one expression per (i, s),
        shared by the equations that use it (every buyer of an input in region i)."""
        value = cost_values.get((i, s))
        if value is None:
            value = cost_values[i, s] = (m.sector[s].log_input_price[i]
                                         + m.sector[s].log_input_demand[i]
                                         - pyo.log(1 + m.production_tax[i, s]))
        return value

    def log_sum_exp(terms):
        return pyo.log(sum(pyo.exp(t) for t in terms))

    if agents:
        m.log_agent_spending = pyo.Var(m.agent_use, initialize=0.0, doc="ln E_na")
        m.agent_spending = pyo.Expression(
            m.agent_use, rule=lambda m, n, a: pyo.exp(m.log_agent_spending[n, a]),
            doc="E_na: final spending of agent a in region n")

        def log_agent_price(n, a):
            """ln P_na = sum_s beta_nas (ln P_ns - ln beta_nas)."""
            return sum(m.agent_beta[n, a, s] * (m.sector[s].log_price_index[n]
                                                - pyo.log(m.agent_beta[n, a, s]))
                       for s in agent_buys[n, a])

        m.agent_price_index = pyo.Expression(
            m.agent_use, rule=lambda m, n, a: pyo.exp(log_agent_price(n, a)),
            doc="P_na = prod_s (P_ns/beta_nas)^beta_nas: price index of agent a's basket")

    m.production_tax_revenue = pyo.Expression(
        m.regions * m.sectors,
        rule=lambda m, i, s: (m.production_tax[i, s] / (1 + m.production_tax[i, s])
                              * pyo.exp(m.sector[s].log_input_price[i]
                                        + m.sector[s].log_input_demand[i])),
        doc="R^P_is = t^P_is/(1+t^P_is) c_is Y_is: net production-tax revenue of region i "
            "from sector s")

    # ------------------------------------------------------------- equations
    def unit_cost(m, i, s):
        r"""Cobb-Douglas unit cost of the composite input of (i, s), production tax included.

        .. math:: c_{is} = (1+t^P_{is}) \prod_f (w_{if}/\alpha_{isf})^{\alpha_{isf}}
                  \prod_u (P_{iu}/\gamma_{isu})^{\gamma_{isu}}
        """
        rhs = pyo.log(1 + m.production_tax[i, s])
        rhs += sum(m.factor_share[i, s, f] * (m.log_factor_price[i, f]
                                              - log_of(m.factor_share, (i, s, f)))
                   for f in factors_of[i, s])
        rhs += sum(m.input_share[i, s, u] * (m.sector[u].log_price_index[i]
                                            - log_of(m.input_share, (i, s, u)))
                   for u in inputs_of[i, s])
        return m.sector[s].log_input_price[i] == rhs

    def factor_market(m, i, f):
        r"""Factor market clearing: factor demand of all sectors equals the endowment.

        .. math:: \sum_s \alpha_{isf}\, \frac{c_{is} Y_{is}}{1+t^P_{is}} = w_{if} \bar L_{if}

        (factors are paid the value of the composite input net of the production tax)
        """
        demand = log_sum_exp([log_of(m.factor_share, (i, s, f)) + log_cost_value(i, s)
                              for s in users_of_factor[i, f]])
        return demand == m.log_factor_price[i, f] + pyo.log(m.endowment[i, f])

    def sector_expenditure(m, n, s):
        r"""Spending on sector s in n: Cobb-Douglas final demand plus intermediate use.

        .. math:: X_{ns} = \beta_{ns} I_n + \sum_u \gamma_{nus}\, \frac{c_{nu} Y_{nu}}{1+t^P_{nu}}

        (intermediate inputs are bought with the tax-exclusive value of the composite
        input; with final-demand agents: :math:`\sum_a \beta_{nas} E_{na}` in place of
        :math:`\beta_{ns} I_n`)
        """
        if agents:
            terms = [pyo.log(m.agent_beta[n, a, s]) + m.log_agent_spending[n, a]
                     for a in AGENTS if (n, a) in m.agent_use and s in agent_buys[n, a]]
        else:
            terms = [pyo.log(m.beta[n, s]) + m.log_income[n]] if final_demand[n, s] else []
        terms += [log_of(m.input_share, (n, u, s)) + log_cost_value(n, u)
                  for u in buyers_of[n, s]]
        if s in quasi_linear.linear:  # the block's budget sets X_ns (docs/model.md, "linear")
            return pyo.Constraint.Skip
        if s == quasi_linear.outside:  # income effects fall on the outside good
            return quasi_linear.outside_good_demand(m, n, s, terms)
        return m.sector[s].log_expenditure[n] == log_sum_exp(terms)

    def income_balance(m, n):
        r"""Regional income: factor income, tariff and production-tax revenue, profits and
        the deficit.

        .. math:: I_n = \sum_f w_{nf}\bar L_{nf} + \sum_s T_{ns}
                  + \sum_s \frac{t^P_{ns}}{1+t^P_{ns}}\, c_{ns} Y_{ns}
                  + \sum_s \Pi_{ns} + D_n \kappa

        (:math:`\kappa`, ``deficit_unit``: the value of a unit of the deficit, see the
        module docstring)
        """
        total = sum(m.factor_price[n, f] * m.endowment[n, f] for f in m.factors)
        total += sum(m.sector[s].tariff_revenue[n] + m.sector[s].profit[n] for s in m.sectors)
        total += sum(m.production_tax_revenue[n, s] for s in m.sectors)
        total += m.deficit_value[n]
        return m.log_income[n] == pyo.log(total)

    m.world_income = pyo.Expression(
        expr=sum(m.factor_price[r, f] * m.endowment[r, f] for r in m.regions for f in m.factors),
        doc="W = sum_m sum_f w_mf L_mf: world income (world factor income, GDP at factor cost)")
    if closure.deficit == "world_income_share":
        m.deficit_unit = pyo.Expression(
            expr=m.deficit_in_numeraire * m.numeraire_value
            + (1 - m.deficit_in_numeraire) * m.world_income / m.benchmark_world_income,
            doc="kappa: value of one unit of the deficit (numeraire units at the benchmark, "
                "then the benchmark's share of world income)")
    else:
        m.deficit_unit = pyo.Expression(expr=m.numeraire_value,
                                        doc="kappa: value of one unit of the deficit (the "
                                            "numeraire)")
    m.deficit_value = pyo.Expression(m.regions, rule=lambda m, n: m.deficit[n] * m.deficit_unit,
                                     doc="D_n kappa: the deficit of region n in current prices")

    m.unit_cost = pyo.Constraint(m.regions * m.sectors, rule=unit_cost, doc=unit_cost.__doc__)
    m.factor_market = pyo.Constraint(m.regions * m.factors, rule=factor_market,
                                     doc=factor_market.__doc__)
    m.sector_expenditure = pyo.Constraint(m.regions * m.sectors, rule=sector_expenditure,
                                          doc=sector_expenditure.__doc__)
    m.income_balance = pyo.Constraint(m.regions, rule=income_balance, doc=income_balance.__doc__)
    quasi_linear.link_outside_price(m)

    if agents:
        def government_spending(m, n):
            r"""Government spending: a fixed share of income, or fixed real consumption.

            .. math:: E_{ng} = \omega_{ng} I_n \ \text{(regional\_household)}, \qquad
                      E_{ng} = G_n P_{ng} \ \text{(fixed\_real; the household pays the
                      difference as a lump-sum transfer)}
            """
            if (n, "government") not in m.agent_use:
                return pyo.Constraint.Skip
            if closure.government == "fixed_real":
                rhs = pyo.log(m.real_government[n]) + log_agent_price(n, "government")
            else:
                rhs = pyo.log(m.agent_share[n, "government"]) + m.log_income[n]
            return m.log_agent_spending[n, "government"] == rhs

        def investment_spending(m, n):
            r"""Investment: savings at a fixed rate, or fixed real investment.

            .. math:: E_{nv} = \omega_{nv} I_n \ \text{(savings\_driven)}, \qquad
                      E_{nv} = V_n P_{nv} \ \text{(investment\_driven; the household's
                      savings rate adjusts)}
            """
            if (n, "investment") not in m.agent_use:
                return pyo.Constraint.Skip
            if closure.investment == "investment_driven":
                rhs = pyo.log(m.real_investment[n]) + log_agent_price(n, "investment")
            else:
                rhs = pyo.log(m.agent_share[n, "investment"]) + m.log_income[n]
            return m.log_agent_spending[n, "investment"] == rhs

        def household_spending(m, n):
            r"""The household spends what government and investment leave of income.

            .. math:: E_{nh} = I_n - E_{ng} - E_{nv}
                      \quad (\text{written } I_n = \textstyle\sum_a E_{na})
            """
            return m.log_income[n] == log_sum_exp(
                [m.log_agent_spending[n, a] for a in AGENTS if (n, a) in m.agent_use])

        m.government_spending = pyo.Constraint(m.regions, rule=government_spending,
                                               doc=government_spending.__doc__)
        m.investment_spending = pyo.Constraint(m.regions, rule=investment_spending,
                                               doc=investment_spending.__doc__)
        m.household_spending = pyo.Constraint(m.regions, rule=household_spending,
                                              doc=household_spending.__doc__)

    # The CPI is normalised to prod_s P_ns^beta_ns: 1 at benchmark prices of 1 (a calibrated
    # benchmark), so real income equals income there and EV is in benchmark money. The unit
    # expenditure function prod_s (P_ns/beta_ns)^beta_ns differs from it by the constant
    # prod_s beta_ns^-beta_ns (1.53 for a four-sector economy), which no change depends on.
    if closure.is_default:
        m.consumer_price_index = pyo.Expression(
            m.regions,
            rule=lambda m, n: pyo.exp(sum(
                m.beta[n, s] * m.sector[s].log_price_index[n]
                for s in m.sectors if beta[R.index(n), S.index(s)] > 0)),
            doc="CPI_n = prod_s P_ns^beta_ns: the unit expenditure function normalised to 1 "
                "at unit prices")
        m.real_income = pyo.Expression(m.regions, rule=lambda m, n: (
            m.income[n] + quasi_linear.consumer_surplus(m, n)) / m.consumer_price_index[n],
                                       doc="U_n = I_n / CPI_n: welfare (real income, benchmark money)")
    else:
        m.consumer_price_index = pyo.Expression(
            m.regions, rule=lambda m, n: pyo.exp(sum(
                m.agent_beta[n, "household", s] * m.sector[s].log_price_index[n]
                for s in agent_buys[n, "household"])),
            doc="CPI_n = prod_s P_ns^beta_nhs: the household's unit expenditure function "
                "normalised to 1 at unit prices")
        m.real_income = pyo.Expression(
            m.regions, rule=lambda m, n: m.agent_spending[n, "household"] / m.consumer_price_index[n],
            doc="U_n = E_nh / CPI_n: welfare (the household's real consumption, benchmark money)")

    # ------------------------------------------------- numeraire and Walras
    num = prim.numeraire
    if num.kind == "factor":
        price = m.log_factor_price[num.region, num.label]
        m.numeraire = pyo.Constraint(expr=price == pyo.log(m.numeraire_value),
                                     doc=f"numeraire: {num.describe()}")
        left_out = (num.region, num.label)
    else:
        if num.kind == "price_index":
            price = m.sector[num.label].log_price_index[num.region]
        else:
            price = pyo.log(m.consumer_price_index[num.region])
        m.numeraire = pyo.Constraint(expr=price == pyo.log(m.numeraire_value),
                                     doc=f"numeraire: {num.describe()}")
        first = next(f for f in prim.factors if users_of_factor[num.region, f])
        left_out = (num.region, first)
    m.factor_market[left_out].deactivate()
    m.walras_market = pyo.Reference(m.factor_market[left_out])
    m._walras_index = left_out
    return m


# ---------------------------------------------------------------- parameters
class _ParameterMap:
    """Where every mutable parameter of a built model sits in the primitives' arrays: per
    parameter component, its ParamData objects and their flat positions in the array
    (built once per model by :func:`set_parameters`)."""

    def __init__(self, m: pyo.ConcreteModel, prim: Primitives):
        pos = {d: {label: k for k, label in enumerate(prim.labels(d))} for d in LABEL_SET
               if d != "agent"}
        R = pos["region"]
        #: (primitive name, ParamData list, flat positions, nan_to_num, label keys)
        self.entries: list[tuple[str, list, np.ndarray, bool, list]] = []
        for j, s in enumerate(prim.sectors):
            blk = m.sector[s]
            for name in SECTOR_PARAMETERS:
                comp, arr = getattr(blk, name), prim[name]
                keys = list(comp.keys())
                if PARAMETERS[name].dims[0] == "destination":
                    idx = [(R[n], R[i], j) for n, i in keys]
                elif arr.ndim == 1:
                    idx = [(R[r],) for r in keys]
                else:
                    idx = [(R[r], j) for r in keys]
                self._add(name, comp, keys, idx, arr.shape)
        for name in HOST_PARAMETERS:
            comp, dims = getattr(m, name), PARAMETERS[name].dims
            keys = list(comp.keys())
            idx = [tuple(pos[d][x] for d, x in zip(dims, key if isinstance(key, tuple) else (key,)))
                   for key in keys]
            self._add(name, comp, keys, idx, prim[name].shape)
        if hasattr(m, "agent_use"):
            agent = {a: k for k, a in enumerate(AGENTS)}
            S = pos["sector"]
            for name, comp, index in (
                    ("agent_share", m.agent_share, lambda key: (R[key[0]], agent[key[1]])),
                    ("agent_beta", m.agent_beta,
                     lambda key: (R[key[0]], agent[key[1]], S[key[2]])),
                    ("real_government", m.real_government, lambda key: (R[key],)),
                    ("real_investment", m.real_investment, lambda key: (R[key],))):
                keys = list(comp.keys())
                self._add(name, comp, keys, [index(k) for k in keys], prim[name].shape, True)
        #: per sector, the (destination, origin) mask of the routes the model holds
        self.routes = []
        for s in prim.sectors:
            mask = np.zeros((len(R), len(R)), dtype=bool)
            for n, i in m.sector[s].routes:
                mask[R[n], R[i]] = True
            self.routes.append(mask)
        #: the same masks as one (destination, origin, sector) array
        self.route_mask = (np.stack(self.routes, axis=2) if self.routes
                           else np.zeros((len(R), len(R), 0), dtype=bool))
        # Every entry at once (set_parameters): the ParamData in one list, and where each
        # one's value sits in the concatenation of the arrays named (each raveled once)
        self.names = list(dict.fromkeys(name for name, *_ in self.entries))
        offsets, at = {}, 0
        for name in self.names:
            offsets[name] = at
            at += prim[name].size
        self.datas = [d for _, datas, *_ in self.entries for d in datas]
        self.gather = np.concatenate([flat + offsets[name] for name, _, flat, *_ in self.entries]
                                     ) if self.entries else np.zeros(0, dtype=int)
        #: positions whose NaN means zero (agent parameters not given)
        self.nan_to_num = np.concatenate([np.full(len(flat), nan) for _, _, flat, nan, _
                                          in self.entries]) if self.entries else np.zeros(0, bool)
        #: positions whose sign switching would change the structure, and their names
        self.sign_structural = np.concatenate(
            [np.full(len(flat), name in _SIGN_STRUCTURAL) for name, _, flat, _, _
             in self.entries]) if self.entries else np.zeros(0, bool)
        self.labels = [(name, key) for name, _, _, _, keys in self.entries for key in keys]
        #: the structural parameters the model was built with, (name, sector); they are
        #: constants of its equations
        self.structural = np.array([[float(getattr(m.sector[s].config, name))
                                     for s in prim.sectors] for name in STRUCTURAL]
                                   ).reshape(len(STRUCTURAL), len(prim.sectors))

    def _add(self, name, comp, keys, idx, shape, nan_to_num=False):
        flat = (np.ravel_multi_index(tuple(np.array(idx, dtype=int).T), shape) if idx
                else np.zeros(0, dtype=int))
        self.entries.append((name, [comp[k] for k in keys], flat, nan_to_num, keys))


def _current(datas: list) -> np.ndarray:
    try:  # every value set: one pass
        return np.fromiter(map(_VALUE, datas), dtype=float, count=len(datas))
    except TypeError:
        return np.fromiter((np.nan if d._value is None else d._value for d in datas),
                           dtype=float, count=len(datas))


_VALUE = operator.attrgetter("_value")


#: Parameters whose switching between zero and positive changes the model's structure.
_SIGN_STRUCTURAL = ("factor_share", "input_share", "agent_beta")


def index_parameters(m: pyo.ConcreteModel, prim: Primitives) -> _ParameterMap:
    """Where the model's parameters sit in ``prim``'s arrays (found once per model, then
    kept on it; :func:`set_parameters`)."""
    pmap = getattr(m, "_cge_parameter_map", None)
    if pmap is None:
        pmap = m._cge_parameter_map = _ParameterMap(m, prim)
    return pmap


def set_parameters(m: pyo.ConcreteModel, prim: Primitives) -> None:
    """Write the (non-structural) parameter arrays of ``prim`` into the model.

    Vectorised: the positions of the model's parameters in the arrays are found
    once per model; each call compares the new values with the model's (numpy)
    and writes only those that changed. Raises :class:`~cge.errors.InputError`,
    writing nothing, when a change would alter the model's structure (a route
    switched on or off, a share switched between zero and positive,
    sigma/k/delta changed).
    """
    pmap = index_parameters(m, prim)
    problems = []
    # structural parameters and active routes, all sectors at once (listed sector by
    # sector)
    given = np.array([prim[name] for name in STRUCTURAL]).reshape(pmap.structural.shape)
    by_sector = [] if np.array_equal(given, pmap.structural) else [  # (the same: all close)
        (j, order, f"{STRUCTURAL[order]}[sector={prim.sectors[j]}]: structural parameter "
                   "changed; rebuild the model")
        for order, j in np.argwhere(~np.isclose(given, pmap.structural)).tolist()]
    switched = np.isfinite(prim["tau"]) != pmap.route_mask
    R = prim.regions
    for j in np.flatnonzero(switched.any(axis=(0, 1))).tolist():
        diff = sorted((R[n], R[i]) for n, i in zip(*np.nonzero(switched[:, :, j])))
        by_sector.append((j, len(STRUCTURAL), f"tau[sector={prim.sectors[j]}]: routes {diff} "
                          "switch between active and inactive; rebuild the model to change "
                          "which routes trade"))
    problems += [msg for _, _, msg in sorted(by_sector)]
    # every parameter at once: the new values where the model's parameters sit, the
    # model's current values, and those that differ
    new = np.concatenate([prim[name].reshape(-1) for name in pmap.names])[pmap.gather] \
        if pmap.names else np.zeros(0)
    if pmap.nan_to_num.any():
        new[pmap.nan_to_num] = np.nan_to_num(new[pmap.nan_to_num])
    old = _current(pmap.datas)
    for k in np.flatnonzero(pmap.sign_structural & ((old > 0) != (new > 0))).tolist():
        name, key = pmap.labels[k]
        problems.append(f"{name}[{key}]: switches between zero and positive; rebuild")
    changed = np.flatnonzero(~((new == old) | (np.isnan(new) & np.isnan(old))))
    if hasattr(m, "agent_use"):
        omega = prim["agent_share"]
        for n, r in enumerate(prim.regions):
            for k, a in enumerate(AGENTS):
                if (omega[n, k] > 0) != ((r, a) in m.agent_use):
                    problems.append(f"agent_share[region={r}, agent={a}]: switches between zero "
                                    "and positive; rebuild")
    if prim.closure != m._closure:
        problems.append(f"closure: changed from ({m._closure.describe()}) to "
                        f"({prim.closure.describe()}); build a new model")
    if problems:
        raise InputError(problems)
    datas = pmap.datas
    for k, v in zip(changed.tolist(), new[changed].tolist()):
        datas[k].set_value(v)
    m._agent_arrays = {name: prim[name].copy() for name in AGENT_PARAMETERS}
    m.numeraire_value = prim.numeraire.value


# ------------------------------------------------------------ initial guess
#: Structures whose trade values :func:`cge.results.route_logs` computes from arrays.
_ARRAY_STRUCTURES = ("melitz", "krugman", "armington", "cara")


def _tariff_revenue_guess(blk) -> dict:
    r""":math:`T_n = \sum_i t_{ni} X_{ni}` at the guess, by destination, from arrays (the
    trade values' closed forms evaluated with numpy, :func:`cge.results.route_logs`,
    rather than each destination's sum of Expressions: 60 x 40, about 15 s)."""
    from .results import _values, route_logs

    routes = list(blk.routes)
    value = np.exp(route_logs(blk)[0]) * _values(blk.tariff, routes)
    out = dict.fromkeys(blk.regions, 0.0)
    for (n, _), x in zip(routes, value.tolist()):
        out[n] += x
    return out


def _agent_spending_guess(prim: Primitives, income: np.ndarray, p0: float) -> np.ndarray:
    """(region, agent) spending at factor prices and price indices ``p0``: shares of
    income, or real quantities at the agent's price index; the household the rest."""
    omega = prim["agent_share"]
    beta_a = np.nan_to_num(prim["agent_beta"])
    with np.errstate(divide="ignore", invalid="ignore"):
        lb = np.where(beta_a > 0, beta_a * np.log(np.where(beta_a > 0, beta_a, 1.0)), 0.0)
    price = p0 * np.exp(-lb.sum(axis=2))  # P_na at P_ns = p0
    out = omega * income[:, None]
    closure = prim.closure
    if closure.government == "fixed_real":
        out[:, 1] = np.nan_to_num(prim["real_government"]) * price[:, 1]
    if closure.investment == "investment_driven":
        out[:, 2] = np.nan_to_num(prim["real_investment"]) * price[:, 2]
    out[:, 0] = np.maximum(income - out[:, 1:].sum(axis=1), 1e-3 * income)
    return np.where(omega > 0, out, 0.0)


def initialize_guess(m: pyo.ConcreteModel, prim: Primitives) -> None:
    """A starting point from closed-economy formulas (vectorised; no solving).

    Factor prices and price indices at the numeraire value, gross output equal
    to domestic absorption, Melitz cutoffs from the closed-economy free-entry
    condition, masses of entrants from the closed-economy formula
    :math:`M_E = (\\sigma-1) R/(\\sigma k c f_E)`; trade flows, price indices and
    input demands then follow from the sector equations.
    """
    p0 = prim.numeraire.value
    R, S = prim.regions, prim.sectors
    nR, nS = len(R), len(S)
    alpha, gamma, beta = prim["factor_share"], prim["input_share"], prim["beta"]
    with np.errstate(divide="ignore", invalid="ignore"):
        la = np.where(alpha > 0, alpha * (np.log(p0) - np.log(np.where(alpha > 0, alpha, 1))), 0)
        lg = np.where(gamma > 0, gamma * (np.log(p0) - np.log(np.where(gamma > 0, gamma, 1))), 0)
    ptax = prim["production_tax"]
    cost = (1 + ptax) * np.exp(la.sum(axis=2) + lg.sum(axis=2))  # (i, s), tax-inclusive
    income = (prim["endowment"] * p0).sum(axis=1) + prim["deficit"] * p0
    income = np.maximum(income, 1e-3 * np.abs(income).max())
    final = beta * income[:, None]  # final spending by (n, s)
    if hasattr(m, "agent_use"):
        spending = _agent_spending_guess(prim, income, p0)
        final = np.einsum("na,nas->ns", spending, np.nan_to_num(prim["agent_beta"]))
        for (r, a) in m.agent_use:
            m.log_agent_spending[r, a].value = np.log(spending[R.index(r), AGENTS.index(a)])
    absorption = np.empty((nR, nS))
    for n in range(nR):  # intermediate use: gamma times the tax-exclusive value of output
        absorption[n] = np.linalg.solve(np.eye(nS) - (gamma[n] / (1 + ptax[n])[:, None]).T,
                                        final[n])
    absorption = np.maximum(absorption, 1e-6 * absorption.max())

    for n, r in enumerate(R):
        m.log_income[r].value = np.log(income[n])
        for g, fname in enumerate(prim.factors):
            m.log_factor_price[r, fname].value = np.log(p0)
    for j, s in enumerate(S):
        blk = m.sector[s]
        sigma, k, delta = (float(prim[x][j]) for x in ("sigma", "k", "delta"))
        rho = (sigma - 1) / sigma
        phi_min, f_e = prim["phi_min"][:, j], prim["f_e"][:, j]
        f, tau, t = prim["f"][:, :, j], prim["tau"][:, :, j], prim["tariff"][:, :, j]
        active = prim.active_routes(j)
        log_cutoff, log_trade = {}, {}  # guesses by route (n, i)
        for i, r in enumerate(R):
            blk.log_input_price[r].value = np.log(cost[i, j])
            blk.log_expenditure[r].value = np.log(absorption[i, j])
            blk.log_price_index[r].value = np.log(p0)
        ms = prim.market_structure[s]
        if ms == "melitz":
            fdom = np.where(active.diagonal(), f.diagonal(), np.nanmedian(f))
            phi_d = phi_min * ((sigma - 1) / (k - sigma + 1) * fdom / (delta * f_e)) ** (1 / k)
            phi_d = np.maximum(phi_d, 1.05 * phi_min)
            m_e = (sigma - 1) * absorption[:, j] / (sigma * k * f_e * cost[:, j])
            if prim.entry[s] == "fixed":
                m_e = delta * prim["entrants"][:, j]
            for n, i in zip(*np.nonzero(active)):
                ratio = 1.0 if n == i else (tau[n, i] * (1 + t[n, i]) ** (sigma / (sigma - 1))
                                            * prim["pref_weight"][n, i, j] ** (1 / (1 - sigma)))
                ratio *= (f[n, i] / fdom[i]) ** (1 / (sigma - 1))
                phi = max(phi_d[i] * ratio, 1.05 * phi_min[i])
                log_cutoff[n, i] = np.log(phi)
                log_trade[n, i] = np.log(
                    m_e[i] / delta * (phi_min[i] / phi) ** k
                    * sigma * k / (k - sigma + 1) * cost[i, j] * f[n, i])
        elif ms == "krugman":
            m_e = absorption[:, j] / (sigma * cost[:, j] * f_e)
            if prim.entry[s] == "fixed":
                m_e = delta * prim["entrants"][:, j]
        elif ms == "cara":
            m_e = blk.structure.initial_entry(blk, absorption[:, j], cost[:, j])
        if ms == "linear":
            blk.structure.initialize(blk, quasi_linear_price(prim, cost))
        elif blk.has_firms:
            for i, r in enumerate(R):
                blk.log_entry_mass[r].value = np.log(m_e[i])
        if ms == "cara":
            blk.structure.initialize(blk)
        elif ms not in ("melitz", "linear", "outside"):
            weight = m_e / delta if ms == "krugman" else None
            for n in range(nR):
                terms = {}
                for i in np.nonzero(active[n])[0]:
                    mult = prim["pref_weight"][n, i, j] * (
                        weight[i] / rho ** (1 - sigma) if ms == "krugman" else 1.0)
                    terms[i] = mult * ((1 + t[n, i]) * tau[n, i] * cost[i, j] / phi_min[i]) ** (1 - sigma)
                P = sum(terms.values()) ** (1 / (1 - sigma))
                blk.log_price_index[R[n]].value = np.log(P)
                for i, term in terms.items():
                    log_trade[n, i] = np.log(absorption[n, j] * term / (1 + t[n, i]) / P ** (1 - sigma))
        elif ms == "melitz":
            for n in range(nR):
                terms = [
                    prim["pref_weight"][n, i, j]
                    * m_e[i] / delta * k / (k - sigma + 1) * phi_min[i] ** k
                    * ((1 + t[n, i]) * tau[n, i] * cost[i, j] / rho) ** (1 - sigma)
                    * np.exp(log_cutoff[n, i] * (sigma - 1 - k))
                    for i in np.nonzero(active[n])[0]
                ]
                blk.log_price_index[R[n]].value = np.log(sum(terms)) / (1 - sigma)
        if isinstance(blk.log_trade_value, pyo.Var):  # route-level unknowns
            for (n, i), val in log_trade.items():
                blk.log_trade_value[R[n], R[i]].value = val
            for (n, i), val in log_cutoff.items():
                blk.log_cutoff[R[n], R[i]].value = val
            log_trade = {(n, i): blk.log_trade_value[R[n], R[i]].value  # (cara: its own guess)
                         for n, i in zip(*np.nonzero(active))}
        elif ms == "cara":  # closed forms of the choke prices cara.initialize set
            log_trade = {(n, i): pyo.value(blk.log_trade_value[R[n], R[i]])
                         for n, i in zip(*np.nonzero(active))}
        for i, r in enumerate(R):
            sales = sum(np.exp(log_trade[n, i]) for n in np.nonzero(active[:, i])[0])
            blk.log_input_demand[r].value = np.log(max(sales / cost[i, j], 1e-12))
        blk.value_scale = float(np.mean(absorption[:, j]))
        revenue = _tariff_revenue_guess(blk) if ms in _ARRAY_STRUCTURES else None
        for r in R:
            blk.tariff_revenue[r].value = (revenue[r] if revenue is not None else pyo.value(
                sum(blk.tariff[r, o] * blk.trade_value[r, o] for o in blk.origins(r))))
            if isinstance(blk.profit, pyo.Var):
                blk.profit[r].value = pyo.value(blk.net_profit[r])
    initialize_quasi_linear(m, prim, income, cost, absorption)
