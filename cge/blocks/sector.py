r"""One monopolistically (or perfectly) competitive sector across all regions, as a Pyomo block.

The block owns the sector-level equilibrium conditions of one sector ``s`` in
every region: zero-cutoff profits for every route, free entry for every
origin, the CES price index of every destination, bilateral trade and the
demand for the composite input. A host model supplies, through the ``inlet``
port, the destination expenditure :math:`X_n` and the origin composite-input
price :math:`c_i`; it reads, through the ``outlet`` port, the price index
:math:`P_n`, bilateral values :math:`X_{ni}`, the composite input used
:math:`Y_i`, tariff revenue :math:`T_n` and profits :math:`\Pi_i`. The host
owns the numeraire, income and closure; the block never fixes a price.
:math:`c_i` is whatever the producer pays per unit of composite input:
:mod:`cge.model` passes it inclusive of the production tax,
:math:`c_i = (1+t^P_i)\times` the factor and intermediate cost, so every
cost of the sector (variable, fixed and entry costs) bears the tax.

Notation follows Melitz and Redding (2014), "Heterogeneous Firms and Trade"
(MR). The sector index :math:`s` is dropped inside the block. :math:`\rho =
(\sigma-1)/\sigma`. Values are measured at c.i.f. prices net of the tariff
(what the producer receives); consumers pay :math:`(1+t_{ni})` times that.

Market structures (``config.market_structure``), one module each, holding
that structure's equation families with their math:

``melitz`` (:mod:`cge.blocks.melitz`)
    Pareto-distributed productivity, fixed costs of serving each market,
    selection into markets (Melitz 2003, MR section 6).
``krugman`` (:mod:`cge.blocks.krugman`)
    Homogeneous firms of productivity :math:`\varphi_{\min,i}` that all serve
    every active market; the fixed cost is :math:`\delta f_{E,i}` per period.
``armington`` (:mod:`cge.blocks.armington`)
    Perfect competition with national varieties weighted by :math:`a_{ni}`.
``cara`` (:mod:`cge.blocks.cara`)
    Heterogeneous firms with CARA sub-utility and variable mark-ups priced with
    the Lambert W function (Behrens, Mion, Murata and Suedekum); selection at
    the choke price, population :math:`L_n` as a primitive.
``linear`` (:mod:`cge.blocks.linear`)
    Heterogeneous firms with quasi-linear-quadratic preferences and linear
    demand (Melitz and Ottaviano 2008, MR section 8): selection at the choke
    price, mark-ups :math:`(p^d - c)/2`; needs an ``outside`` sector.
``outside`` (:mod:`cge.blocks.outside`)
    The homogeneous, freely traded numeraire good :math:`q_0` of the ``linear``
    structure (one world price, price equal to unit cost where produced).

This module keeps what every structure shares: the block class, its
configuration, the common unknowns, the equations that do not depend on the
structure (fixed entry, tariff revenue, profits paid out), the ports, and the
dispatch to the structure's module (:data:`STRUCTURES`). A structure module
provides ``NAME``, ``HAS_FIRMS``, ``SELECTS``, ``declare_variables(b, positive)``,
``declare_equations(b)``, and, if it has firms, ``free_entry_rule(b, i)``,
``input_terms(b, i)`` and ``operating_profit(b, i)``; without firms,
``input_market_rule(b, i)``.

Under every CES structure :math:`a_{ni}` (``pref_weight``, default 1) shifts the
demand for i's varieties in n; it multiplies :math:`\tau_{ni}^{1-\sigma}`
wherever that appears. Calibration uses it to hold the part of the observed
trade friction that is not a trade cost (``docs/calibration.md``).

Entry (``config.entry``): ``free`` determines the mass of entrants by free
entry; ``fixed`` holds the mass of potential entrants at :math:`\bar M_{E,i}`
(Chaney 2008), and the resulting profits are household income.

Under ``melitz`` the Pareto formulas assume selection on every active route,
:math:`\varphi^*_{ni} \ge \varphi_{\min,i}`;
:func:`cge.solve.check_selection` verifies this after each solve and names
any route where it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyomo.environ as pyo
from pyomo.common.config import ConfigDict, ConfigValue, In
from pyomo.core.base.block import BlockData, declare_custom_block
from pyomo.network import Port

from ..parameters import ENTRY_MODES, MARKET_STRUCTURES, PARAMETERS
from . import armington, cara, krugman, linear, melitz, outside
from ._common import log_sum_exp, release_shared

__all__ = ["HeterogeneousFirmSector", "HeterogeneousFirmSectorData", "SECTOR_CONFIG",
           "STRUCTURES"]

#: market_structure -> module holding that structure's equation families
STRUCTURES = {mod.NAME: mod for mod in (melitz, krugman, armington, cara, linear, outside)}


def _positive(x):
    x = float(x)
    if not x > 0:
        raise ValueError(f"must be positive, got {x}")
    return x


SECTOR_CONFIG = ConfigDict(description="configuration of a HeterogeneousFirmSector block")
SECTOR_CONFIG.declare("market_structure", ConfigValue(
    default="melitz", domain=In(MARKET_STRUCTURES),
    description="melitz (heterogeneous firms), krugman (homogeneous firms), "
    "armington (perfect competition, national varieties), cara (variable mark-ups, CARA), "
    "linear (Melitz-Ottaviano) or outside (the homogeneous numeraire good of linear sectors)"))
SECTOR_CONFIG.declare("entry", ConfigValue(
    default="free", domain=In(ENTRY_MODES),
    description="free entry, or a fixed mass of potential entrants (Chaney 2008)"))
SECTOR_CONFIG.declare("regions", ConfigValue(
    domain=list, description="region labels (destinations and origins)"))
SECTOR_CONFIG.declare("routes", ConfigValue(
    default=None, domain=lambda v: None if v is None else [tuple(r) for r in v],
    description="active (destination, origin) pairs; default every pair"))
SECTOR_CONFIG.declare("sigma", ConfigValue(
    domain=_positive, description="elasticity of substitution sigma > 1"))
SECTOR_CONFIG.declare("k", ConfigValue(
    default=4.0, domain=_positive, description="Pareto shape k > sigma - 1 (melitz)"))
SECTOR_CONFIG.declare("cara_alpha", ConfigValue(
    default=1.0, domain=_positive, description="CARA parameter alpha > 0 (cara)"))
for _name, _doc in (("linear_alpha", "demand intercept alpha > 0 (linear)"),
                    ("linear_gamma", "love of variety gamma > 0 (linear)"),
                    ("linear_eta", "substitution with the outside good eta > 0 (linear)")):
    SECTOR_CONFIG.declare(_name, ConfigValue(default=1.0, domain=_positive, description=_doc))
SECTOR_CONFIG.declare("delta", ConfigValue(
    default=1.0, domain=_positive, description="exogenous exit rate (1: static model)"))
SECTOR_CONFIG.declare("value_scale", ConfigValue(
    default=1.0, domain=_positive,
    description="typical value of sales in the data's units: the level equations "
    "(tariff revenue, profit) are divided by it, so that their residuals are "
    "relative; a host that knows its data's size sets it here (the mutable Param "
    "value_scale can also be changed after construction)"))
SECTOR_CONFIG.declare("route_unknowns", ConfigValue(
    default=True, domain=bool,
    description="True: route-level quantities (trade values X_ni, cutoffs phi*_ni) are "
    "unknowns with their own equations; False: closed-form Expressions of the aggregates "
    "(price indices, input prices, entrants, expenditure), leaving O(regions) unknowns per "
    "sector (melitz, krugman, armington; other structures keep route unknowns)"))
SECTOR_CONFIG.declare("parameters", ConfigValue(
    default={}, domain=dict,
    description="initial values of the mutable parameters phi_min[i], f_e[i], "
    "entrants[i], f[n,i], tau[n,i], tariff[n,i], pref_weight[n,i], population[n] as "
    "mappings from index to value; missing entries take the table default"))


@declare_custom_block(name="HeterogeneousFirmSector", rule="build")
class HeterogeneousFirmSectorData(BlockData):
    """Data class of :class:`HeterogeneousFirmSector`; see the module docstring.

    Create with ``HeterogeneousFirmSector(config={...})`` or, indexed,
    ``HeterogeneousFirmSector(index_set, config=lambda idx: {...})``.
    """

    CONFIG = SECTOR_CONFIG

    # ------------------------------------------------------------------ config
    @property
    def config(self) -> ConfigDict:
        cfg = self.__dict__.get("_cge_config")
        if cfg is None:
            raw = getattr(self.parent_component(), "_cge_block_config", None) or {}
            if callable(raw) and not isinstance(raw, Mapping):
                raw = raw(self.index())
            cfg = self.CONFIG(raw)
            if cfg.sigma is None or cfg.regions is None:
                raise ValueError(f"{self.name}: config needs 'sigma' and 'regions'")
            if cfg.sigma <= 1:
                raise ValueError(f"{self.name}: sigma must exceed 1, got {cfg.sigma}")
            if cfg.market_structure == "melitz" and not cfg.k > cfg.sigma - 1:
                raise ValueError(
                    f"{self.name}: k = {cfg.k} must exceed sigma - 1 = {cfg.sigma - 1}")
            if cfg.delta > 1:
                raise ValueError(f"{self.name}: delta must lie in (0, 1], got {cfg.delta}")
            object.__setattr__(self, "_cge_config", cfg)
        return cfg

    @property
    def structure(self):
        """The module holding this sector's market-structure equations (:data:`STRUCTURES`)."""
        return STRUCTURES[self.config.market_structure]

    @property
    def is_melitz(self) -> bool:
        return self.config.market_structure == "melitz"

    @property
    def selects(self) -> bool:
        """Whether the structure has a productivity cutoff per route (melitz, cara)."""
        return self.structure.SELECTS

    @property
    def has_firms(self) -> bool:
        return self.structure.HAS_FIRMS

    @property
    def route_unknowns(self) -> bool:
        """Whether trade values (and cutoffs) are unknowns with their own equations, or
        closed-form Expressions of the aggregates (``config.route_unknowns`` False, for
        the structures that have closed forms)."""
        return self.config.route_unknowns or not getattr(self.structure, "CLOSED_FORM_ROUTES", False)

    # ------------------------------------------------------------------- build
    def build(self, *index):
        """Declare sets, parameters, variables, equations and ports (no solving, no data I/O)."""
        cfg = self.config
        regions = list(cfg.regions)
        routes = cfg.routes if cfg.routes is not None else [(n, i) for n in regions for i in regions]
        self.sigma = cfg.sigma
        self.k = cfg.k
        self.delta = cfg.delta
        self.rho = (cfg.sigma - 1.0) / cfg.sigma
        self.alpha = cfg.cara_alpha
        self.linear_alpha, self.gamma, self.eta = cfg.linear_alpha, cfg.linear_gamma, cfg.linear_eta

        self.regions = pyo.Set(initialize=regions, ordered=True, doc="regions n, i")
        # Checked here with Python sets rather than by a ``within`` product set, which
        # Pyomo tests route by route (38,000 routes at 31 x 40).
        known = set(regions)
        strange = [r for r in routes if len(r) != 2 or r[0] not in known or r[1] not in known]
        if strange:
            raise ValueError(f"{self.name}: routes {strange[:5]} are not pairs of the block's "
                             f"regions {regions}")
        self.routes = pyo.Set(
            dimen=2, initialize=routes, ordered=True,
            doc="active routes (n, i): destination n buys from origin i")
        # Who sells to whom, looked up by every sum over origins or destinations.
        origins = {r: [] for r in regions}
        destinations = {r: [] for r in regions}
        for n, i in routes:
            origins[n].append(i)
            destinations[i].append(n)
        order = {r: j for j, r in enumerate(regions)}
        self._cge_origins = {n: tuple(sorted(v, key=order.get)) for n, v in origins.items()}
        self._cge_destinations = {i: tuple(sorted(v, key=order.get))
                                  for i, v in destinations.items()}

        self._declare_parameters(cfg.parameters)
        self._declare_variables()
        self._declare_equations()
        self._declare_ports()
        release_shared(self)

    def _declare_parameters(self, values):
        def param(name, index, doc):
            spec = PARAMETERS[name]
            data = values.get(name, {}) or {}
            init = {key: float(data.get(key, spec.default)) for key in index}
            # Values come from checked primitives: the domain Any, so that Pyomo does not
            # test value by value that they are real (they are by construction); a rule, so that Pyomo walks the index
            # set instead of validating every key of a dict.
            return pyo.Param(index, initialize=_lookup(init), mutable=True, within=pyo.Any,
                             doc=f"{spec.symbol}: {doc} [{spec.units}]")

        self.phi_min = param("phi_min", self.regions, "Pareto lower bound / productivity")
        self.f_e = param("f_e", self.regions, "sunk entry cost")
        self.entrants = param("entrants", self.regions, "fixed mass of potential entrants")
        self.f = param("f", self.routes, "fixed cost of serving n from i")
        self.tau = param("tau", self.routes, "iceberg trade cost")
        self.tariff = param("tariff", self.routes, "ad valorem tariff on c.i.f. value")
        self.pref_weight = param("pref_weight", self.routes,
                                 "CES preference weight (demand shifter) of i's variety in n")
        self.population = param("population", self.regions, "consumers (cara)")

    def _declare_variables(self):
        """Every unknown is positive and is solved for in logarithms.

        The equilibrium conditions are then linear in the unknowns except for
        log-sum-exp aggregates (price indices, free entry, cost accounting), and
        Newton steps cannot leave the positive orthant. Each level is an
        Expression of the same name without the ``log_`` prefix.
        """
        R, A = self.regions, self.routes

        def positive(name, index, doc):
            var = pyo.Var(index, initialize=0.0, doc=f"ln {doc}")
            self.add_component(f"log_{name}", var)
            self.add_component(name, pyo.Expression(
                index, rule=lambda b, *idx: pyo.exp(var[idx]), doc=doc))

        def closed(name, index, log_rule, doc):
            """``log_<name>`` as the closed-form Expression ``log_rule``, and the level."""
            log_expr = pyo.Expression(index, rule=log_rule, doc=f"ln {doc} (closed form)")
            self.add_component(f"log_{name}", log_expr)
            self.add_component(name, pyo.Expression(
                index, rule=lambda b, *idx: pyo.exp(log_expr[idx]), doc=doc))

        trade_doc = "X_ni: value of i's sales in n, c.i.f., net of tariff"
        positive("expenditure", R, "X_n: tariff-inclusive spending of n on the sector (inlet)")
        positive("input_price", R, "c_i: unit cost of i's composite input (inlet)")
        positive("price_index", R, "P_n: CES price index in n")
        if self.route_unknowns:
            positive("trade_value", A, trade_doc)
        positive("input_demand", R, "Y_i: composite input used by the sector in i (quantity)")
        if self.has_firms:
            positive("entry_mass", R, "M_Ei: mass of entrants per period")
        if self.route_unknowns:
            self.structure.declare_variables(self, positive)
        else:
            self.structure.declare_closed_forms(self, closed)
            closed("trade_value", A, self.structure.log_trade_value, trade_doc)

    # ------------------------------------------------------------- equations
    def _declare_equations(self):
        structure = self.structure
        structure.declare_equations(self)
        if self.has_firms:
            if self.config.entry == "free":
                self.free_entry = pyo.Constraint(self.regions, rule=structure.free_entry_rule,
                                                 doc=structure.free_entry_rule.__doc__)
            else:
                self.fixed_entry = pyo.Constraint(
                    self.regions,
                    rule=lambda b, i: b.log_entry_mass[i] == pyo.log(b.delta * b.entrants[i]),
                    doc="M_Ei = delta * Mbar_Ei: fixed mass of potential entrants (Chaney)")
        self.input_market = pyo.Constraint(self.regions, rule=_input_market_rule,
                                           doc=_input_market_rule.__doc__)
        # Tariff revenue and distributed profits are variables of their own, so
        # that the host's income equation stays sparse in second derivatives.
        self.value_scale = pyo.Param(
            initialize=self.config.value_scale, mutable=True,
            doc="typical value of sales; scales the level equations (set at initialisation)")
        self.tariff_revenue = pyo.Var(self.regions, initialize=0.0,
                                      doc="T_n: tariff revenue collected by n (outlet)")
        self.tariff_revenue_definition = pyo.Constraint(
            self.regions, rule=_tariff_revenue_rule, doc=_tariff_revenue_rule.__doc__)
        self.net_profit = pyo.Expression(self.regions, rule=_profit_rule, doc=_profit_rule.__doc__)
        if self.has_firms and self.config.entry == "fixed":
            self.profit = pyo.Var(self.regions, initialize=0.0,
                                  doc="Pi_i: profits paid to i's household (outlet)")
            self.profit_definition = pyo.Constraint(
                self.regions,
                rule=lambda b, i: b.profit[i] / b.value_scale == b.net_profit[i] / b.value_scale,
                doc="Pi_i equals net profits (fixed entry, Chaney 2008)")
        else:
            self.profit = pyo.Expression(
                self.regions, rule=lambda b, i: 0.0,
                doc="Pi_i = 0: free entry dissipates profits in entry costs (outlet)")

    def _declare_ports(self):
        self.inlet = Port(doc="host -> sector: destination expenditure, origin input price")
        self.inlet.add(self.expenditure, "expenditure")
        self.inlet.add(self.input_price, "input_price")
        if getattr(self.structure, "NEEDS_OUTSIDE_GOOD", False):  # linear: the price of q0
            self.inlet.add(self.outside_price, "outside_price")
        self.outlet = Port(doc="sector -> host: prices, trade, input demand, tariffs, profits")
        self.outlet.add(self.price_index, "price_index")
        self.outlet.add(self.trade_value, "trade_value")
        self.outlet.add(self.input_demand, "input_demand")
        self.outlet.add(self.tariff_revenue, "tariff_revenue")
        self.outlet.add(self.profit, "profit")

    # --------------------------------------------------------------- helpers
    def origins(self, n):
        """The origins i with an active route (n, i), in the order of the regions."""
        return list(self._cge_origins[n])

    def destinations(self, i):
        """The destinations n with an active route (n, i), in the order of the regions."""
        return list(self._cge_destinations[i])


def _lookup(values: dict):
    """A Param rule reading ``values`` (keyed by index, scalars for one-dimensional sets)."""
    return lambda b, *idx: values[idx[0] if len(idx) == 1 else idx]


# The component class is created by the decorator; give it a ``config`` keyword
# the way IDAES unit models take one.
_block_init = HeterogeneousFirmSector.__init__


def _init_with_config(self, *args, config: Mapping | Callable | None = None, **kwargs):
    self._cge_block_config = config
    _block_init(self, *args, **kwargs)


HeterogeneousFirmSector.__init__ = _init_with_config


# ======================================================================
# Equation families common to every structure. Each docstring states the
# equation in MR notation; the structure-specific parts come from the
# structure's module.
# ======================================================================
def _input_market_rule(b, i):
    r"""Composite input used in i: variable, fixed and entry costs.

    .. math::
        c_i Y_i = \rho \sum_n X_{ni} + c_i \sum_n f_{ni} M_{ni} + c_i f_{E,i} M_{Ei}

    (melitz; the fixed-cost term is absent under krugman, where the per-firm
    fixed cost is the entry cost, and only :math:`c_i Y_i = \sum_n X_{ni}`
    remains under armington and outside; under cara and linear the variable
    cost is the share :math:`\kappa_2/\kappa_1`, resp. :math:`k/(k+1)`, of
    sales. The entry term is absent under fixed entry.)
    Under free entry this equals the sector's revenue :math:`\sum_n X_{ni}`.
    """
    if not b.has_firms:
        return b.structure.input_market_rule(b, i)
    terms = list(b.structure.input_terms(b, i))
    if b.config.entry == "free":
        terms.append(pyo.log(b.f_e[i]) + b.log_entry_mass[i])
    return b.log_input_demand[i] == log_sum_exp(terms)


def _tariff_revenue_rule(b, n):
    r"""Tariff revenue collected by n on its imports of the sector.

    .. math:: T_n = \sum_i t_{ni} X_{ni}
    """
    revenue = sum(b.tariff[n, i] * b.trade_value[n, i] for i in b.origins(n))
    return b.tariff_revenue[n] / b.value_scale == revenue / b.value_scale


def _profit_rule(b, i):
    r"""Aggregate profits of i's firms (zero under free entry; household income under fixed entry).

    .. math::
        \Pi_i = \frac{1}{\sigma}\sum_n X_{ni} - c_i \sum_n f_{ni} M_{ni}
        - c_i f_{E,i} M_{Ei}\,[\text{free entry}]

    (the structure's operating profit, less entry costs under free entry)
    """
    if not b.has_firms:
        return 0.0
    profit = b.structure.operating_profit(b, i)
    if b.config.entry == "free":
        profit = profit - b.input_price[i] * b.f_e[i] * b.entry_mass[i]
    return profit
