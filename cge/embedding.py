r"""Embedding :class:`~cge.blocks.sector.HeterogeneousFirmSector` in a host CGE model.

A host model (any Pyomo model that owns income, final demand, factor markets,
closure and the numeraire) embeds one sector block per sector whose trade it
wants to describe with heterogeneous (or homogeneous, or Armington) firms. The
block exposes two :class:`pyomo.network.Port` objects:

``inlet`` (host -> sector)
    ``expenditure[n]`` (:math:`X_n`, tariff-inclusive spending of destination
    ``n`` on the sector) and ``input_price[i]`` (:math:`c_i`, unit cost of
    origin ``i``'s composite input).
``outlet`` (sector -> host)
    ``price_index[n]``, ``trade_value[n, i]``, ``input_demand[i]``,
    ``tariff_revenue[n]``, ``profit[i]``.

The block brings exactly as many equations as unknowns *given its inlet*: the
two inlet members are unknowns of the block that only the host can pin down.
Each inlet member therefore needs one host equation, and each outlet member the
host reads adds one host variable and one equation (or none, when the host uses
the outlet expression directly). See ``docs/embedding.md``.

This module gives hosts

* :func:`connect`: linking equations from host components to the ports (the
  direct way; equations are written so that residuals are relative errors);
* :func:`connect_arcs` and :func:`expand_arcs`: the same through
  :class:`pyomo.network.Arc` and ``network.expand_arcs``;
* :func:`check_wiring`: before solving, names every port member left
  unconnected, every numeraire when there is not exactly one, unexpanded arcs
  and a non-square or structurally singular system
  (:func:`cge.solve.check_structure`);
* :func:`calibrate_sector`: block parameters that reproduce given benchmark
  flows at given prices (``armington``, ``krugman``, ``melitz``), with
  :func:`initialize_block` to load the benchmark into a block and
  :func:`benchmark_residual` to verify it;
* :func:`solve_block`: complete a block's internal variables for given inlet
  values (its own square subsystem) when no closed-form start is at hand.

Numeraire convention
    A host labels its numeraire by naming the constraint (or the fixed
    variable) ``numeraire`` or ``numeraire_<anything>``, or by
    :func:`mark_numeraire`. :func:`check_wiring` requires exactly one active
    labelled equation or fixed variable. :func:`cge.model.build_model` follows
    the convention (``m.numeraire``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap, ComponentSet
from pyomo.common.modeling import unique_component_name
from pyomo.core.base.label import alphanum_label_from_name
from pyomo.core.expr import identify_variables
from pyomo.core.expr.numvalue import as_numeric
from pyomo.network import Arc, Port

from .blocks.sector import HeterogeneousFirmSector, HeterogeneousFirmSectorData
from .errors import StructureError
from .parameters import MARKET_STRUCTURES

__all__ = [
    "PORT_MEMBERS", "SECTOR_PARAMETERS", "PortMember", "WiringError", "WiringReport",
    "SectorCalibration", "connect", "connect_arcs", "expand_arcs", "check_wiring",
    "mark_numeraire", "numeraires", "sector_blocks", "calibrate_sector",
    "calibrate_armington", "calibrate_krugman", "calibrate_melitz", "initialize_block",
    "benchmark_residual", "solve_block", "block_levels", "NUMERAIRE_SUFFIX",
]


# ===================================================================== interface
@dataclass(frozen=True)
class PortMember:
    """One member of the block's ``inlet`` or ``outlet`` port."""

    name: str
    port: str          # "inlet" or "outlet"
    index: str         # "region" (n or i) or "route" (n, i)
    units: str
    meaning: str
    log_variable: str | None  # the block Var solved for (in logs), if any


PORT_MEMBERS: dict[str, PortMember] = {p.name: p for p in (
    PortMember("expenditure", "inlet", "region n", "value",
               "X_n: spending of destination n on the sector's varieties, tariff-inclusive "
               "(final plus intermediate demand)", "log_expenditure"),
    PortMember("input_price", "inlet", "region i", "value per unit of composite input",
               "c_i: unit cost of origin i's composite input (what the host's cost "
               "function gives)", "log_input_price"),
    PortMember("price_index", "outlet", "region n", "value per unit of the sector composite",
               "P_n: CES price index of the sector in n (tariff-inclusive)", "log_price_index"),
    PortMember("trade_value", "outlet", "route (n, i)", "value",
               "X_ni: sales of origin i in destination n, c.i.f., net of the tariff",
               "log_trade_value"),
    PortMember("input_demand", "outlet", "region i", "units of composite input",
               "Y_i: composite input used by the sector in i (variable, fixed and entry "
               "costs); c_i Y_i is the sector's cost = revenue under free entry",
               "log_input_demand"),
    PortMember("tariff_revenue", "outlet", "region n", "value",
               "T_n = sum_i t_ni X_ni: tariff revenue collected by n", None),
    PortMember("profit", "outlet", "region i", "value",
               "Pi_i: profits paid to i's owners; the constant 0 under free entry, a "
               "variable under fixed entry", None),
)}

#: Mutable block parameters a host may set (per route or per origin).
SECTOR_PARAMETERS = {
    "tau": ("route (n, i)", "1", "iceberg trade cost: units shipped per unit arriving"),
    "tariff": ("route (n, i)", "ad valorem rate",
               "tariff of n on the c.i.f. value of imports from i"),
    "f": ("route (n, i)", "units of origin composite input",
          "per-period fixed cost of serving n from i (melitz)"),
    "f_e": ("region i", "units of composite input",
            "sunk entry cost (melitz); per-firm fixed cost (krugman)"),
    "phi_min": ("region i", "productivity",
                "Pareto lower bound (melitz); productivity (krugman, armington)"),
    "pref_weight": ("route (n, i)", "1", "CES preference weight (demand shifter) of i's varieties in n"),
    "entrants": ("region i", "mass of firms", "fixed mass of potential entrants (entry='fixed')"),
}

#: Outlet members a host must read by default (see :func:`check_wiring`).
REQUIRED_OUTLET = ("input_demand", "tariff_revenue", "profit")
#: Name of the Suffix used by :func:`mark_numeraire`.
NUMERAIRE_SUFFIX = "cge_numeraire"


def sector_blocks(model: pyo.Block) -> list[HeterogeneousFirmSectorData]:
    """Every :class:`HeterogeneousFirmSector` block data in ``model`` (active ones)."""
    out = [model] if isinstance(model, HeterogeneousFirmSectorData) else []
    out += [b for b in model.component_data_objects(pyo.Block, active=True, descend_into=True)
            if isinstance(b, HeterogeneousFirmSectorData)]
    return out


def _member_component(block, name):
    if name not in PORT_MEMBERS:
        raise KeyError(f"{name!r} is not a port member; members are {sorted(PORT_MEMBERS)}")
    port = getattr(block, PORT_MEMBERS[name].port)
    return port.vars[name]


# ===================================================================== connect
def _host_term(spec, idx, member: str, sector_name: str):
    """The host expression of ``spec`` at block index ``idx``."""
    args = idx if isinstance(idx, tuple) else (idx,)
    try:
        if callable(spec) and not hasattr(spec, "ctype"):
            return spec(*args)
        if isinstance(spec, Mapping):
            return spec[idx]
        if hasattr(spec, "is_indexed") and spec.is_indexed():
            return spec[idx]
    except KeyError:
        raise KeyError(f"connect({sector_name}): the host component given for {member!r} "
                       f"has no entry {idx!r}") from None
    raise TypeError(f"connect({sector_name}): {member}= must be an indexed Pyomo component, a "
                    f"mapping or a callable index -> expression, got {type(spec).__name__}")


def _exp_argument(expr):
    """``v`` if ``expr`` is (an Expression holding) ``exp(v)`` of a single variable, else None."""
    e = expr
    while hasattr(e, "ctype") and e.ctype is pyo.Expression:
        e = e.expr
    if getattr(e, "getname", None) is not None and type(e).__name__ == "UnaryFunctionExpression" \
            and e.getname() == "exp":
        arg = e.args[0]
        if getattr(arg, "is_variable_type", lambda: False)():
            return arg
    return None


def _is_constant(expr) -> bool:
    return next(identify_variables(as_numeric(expr), include_fixed=False), None) is None


def connect(host_block: pyo.Block, sector_block: HeterogeneousFirmSectorData, *,
            name: str | None = None, form: str = "auto", **members) -> pyo.Block:
    """Tie host components to the ``inlet`` and ``outlet`` members of ``sector_block``.

    Each keyword is a port member (see :data:`PORT_MEMBERS`) and its value the
    host side: an indexed Pyomo component (Var, Expression, ``pyo.Reference``)
    indexed like the member, a mapping from the member's index to expressions,
    or a callable ``(*index) -> expression``. One equation is written per index
    into a new block ``host_block.<name>`` (default ``<sector>_link``), with
    one Constraint per member named after it.

    ``form``:

    ``"auto"`` (default)
        if the host term is itself ``exp(v)`` of a variable, ``v == log_member``
        (linear); else for members solved in logs ``host * exp(-log_member) == 1``
        (relative residual, defined everywhere); for variable members
        (``tariff_revenue``, ``profit``) ``(host - member)/value_scale == 0``.
    ``"level"``
        ``host == member`` (what ``network.expand_arcs`` writes).

    The inlet members must both be connected (they are unknowns only the host
    determines); of the outlet, the host connects what it reads. Returns the
    link block.
    """
    if not isinstance(sector_block, HeterogeneousFirmSectorData):
        raise TypeError(f"connect: {sector_block!r} is not a HeterogeneousFirmSector block")
    if form not in ("auto", "level"):
        raise ValueError(f"connect: form must be 'auto' or 'level', got {form!r}")
    unknown = [k for k in members if k not in PORT_MEMBERS]
    if unknown:
        raise KeyError(f"connect({sector_block.name}): unknown port member(s) {unknown}; "
                       f"members are {list(PORT_MEMBERS)}")
    given = {k: v for k, v in members.items() if v is not None}
    if not given:
        raise ValueError(f"connect({sector_block.name}): no port member given")
    label = alphanum_label_from_name(sector_block.getname(fully_qualified=False)).strip("_")
    link_name = name or unique_component_name(host_block, f"{label}_link")
    if host_block.component(link_name) is not None:
        raise ValueError(f"connect: {host_block.name} already has a component {link_name!r}")
    link = pyo.Block(concrete=True)
    host_block.add_component(link_name, link)
    link._cge_sector_name = sector_block.name
    link._cge_members = tuple(given)

    for member, spec in given.items():
        info = PORT_MEMBERS[member]
        comp = _member_component(sector_block, member)
        log_var = getattr(sector_block, info.log_variable) if info.log_variable else None
        sector_name = sector_block.name

        def rule(b, *idx, member=member, spec=spec, comp=comp, log_var=log_var):
            key = idx if len(idx) > 1 else idx[0]
            host = _host_term(spec, key, member, sector_name)
            inner = comp[key]
            if form == "level":
                if _is_constant(host) and _is_constant(inner):
                    return pyo.Constraint.Skip
                return host == inner
            if log_var is not None:
                v = _exp_argument(host)
                if v is not None:
                    return v == log_var[key]
                return host * pyo.exp(-log_var[key]) == 1.0
            if _is_constant(host) and _is_constant(inner):
                return pyo.Constraint.Skip
            scale = sector_block.value_scale
            return (host - inner) / scale == 0.0

        con = pyo.Constraint(comp.index_set(), rule=rule,
                             doc=f"host term == {sector_block.name}.{info.port}.{member}")
        link.add_component(member, con)
    return link


def connect_arcs(host_block: pyo.Block, sector_block: HeterogeneousFirmSectorData, *,
                 source: Port | None = None, destination: Port | None = None,
                 name: str | None = None) -> tuple[Arc | None, Arc | None]:
    """Arcs ``source -> sector.inlet`` and ``sector.outlet -> destination`` on ``host_block``.

    ``source`` must carry both inlet members (``expenditure``, ``input_price``)
    and ``destination`` all five outlet members, indexed like the block's
    members (``pyo.Reference(m.E[:, s])`` slices a host variable): Pyomo's
    ``network.expand_arcs`` matches ports member by member and writes
    ``source_member == destination_member``. Call :func:`expand_arcs` (or the
    transformation) before :func:`check_wiring` and solving.
    """
    label = alphanum_label_from_name(sector_block.getname(fully_qualified=False)).strip("_")
    base = name or label
    arcs = []
    for port, direction in ((source, "inlet"), (destination, "outlet")):
        if port is None:
            arcs.append(None)
            continue
        if direction == "inlet":
            arc = Arc(source=port, destination=sector_block.inlet)
        else:
            arc = Arc(source=sector_block.outlet, destination=port)
        host_block.add_component(unique_component_name(host_block, f"{base}_{direction}_arc"), arc)
        arcs.append(arc)
    return tuple(arcs)


def expand_arcs(model: pyo.Block) -> None:
    """Apply ``network.expand_arcs`` (equality constraints for every active Arc)."""
    pyo.TransformationFactory("network.expand_arcs").apply_to(model)


# ==================================================================== numeraire
def mark_numeraire(component) -> None:
    """Label ``component`` (a Constraint or fixed Var, or one of their data) as a numeraire.

    Stored in a LOCAL Suffix named :data:`NUMERAIRE_SUFFIX` on the top model.
    """
    top = component.model()
    suffix = top.component(NUMERAIRE_SUFFIX)
    if suffix is None:
        suffix = pyo.Suffix(direction=pyo.Suffix.LOCAL)
        top.add_component(NUMERAIRE_SUFFIX, suffix)
    suffix[component] = 1


def _labelled_numeraire(comp) -> bool:
    name = comp.parent_component().local_name
    return name == "numeraire" or name.startswith("numeraire_")


def numeraires(model: pyo.Block) -> list[str]:
    """Names of the active numeraire equations and fixed numeraire variables in ``model``."""
    found: list = []
    seen = ComponentSet()

    def add(data):
        if data in seen:
            return
        if data.ctype is pyo.Constraint and data.active:
            seen.add(data)
            found.append(data)
        elif data.ctype is pyo.Var and data.fixed:
            seen.add(data)
            found.append(data)

    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        if _labelled_numeraire(con):
            add(con)
    for var in model.component_data_objects(pyo.Var, descend_into=True):
        if var.fixed and _labelled_numeraire(var):
            add(var)
    for suffix in model.component_objects(pyo.Suffix, descend_into=True):
        if suffix.local_name != NUMERAIRE_SUFFIX:
            continue
        for comp in list(suffix.keys()):
            datas = comp.values() if comp.is_indexed() else [comp]
            for data in datas:
                add(data)
    return [d.name for d in found]


# ===================================================================== checking
class WiringError(StructureError):
    """A host/sector wiring problem found before solving.

    ``problems`` lists every problem as a sentence; ``unconnected`` names the
    port members (``<block>.<port>.<member>[index]``) tied to nothing;
    ``numeraires`` the numeraires found (when there is not exactly one).
    """

    def __init__(self, problems, unconnected=(), numeraires=(), unmatched_variables=(),
                 unmatched_constraints=()):
        self.problems = list(problems)
        self.unconnected = list(unconnected)
        self.numeraires = list(numeraires)
        msg = f"wiring of the host model is wrong ({len(self.problems)} problem(s)):\n" + \
            "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(msg, unmatched_variables, unmatched_constraints)


@dataclass
class WiringReport:
    """What :func:`check_wiring` found in a correctly wired model."""

    n_variables: int
    n_equations: int
    numeraire: str | None
    blocks: list[str]
    #: ``<block>.<port>.<member>`` -> names of the host equations that tie it
    connections: dict[str, list[str]] = field(default_factory=dict)
    #: optional outlet members read by no host equation (not an error)
    unread: list[str] = field(default_factory=list)


def _inside(con, block) -> bool:
    b = con.parent_block()
    while b is not None:
        if b is block:
            return True
        b = b.parent_block()
    return False


def check_wiring(model: pyo.Block, *, required_outlet: Iterable[str] = REQUIRED_OUTLET,
                 require_numeraire: bool = True, structure: bool = True) -> WiringReport:
    """Check, before solving, that every sector block is wired into the host.

    Reports by name

    * **unconnected port members**: every ``inlet`` member index, and every index
      of the outlet members in ``required_outlet`` (default: ``input_demand``,
      ``tariff_revenue``, and ``profit`` when it is a variable), whose block
      variable appears in no active equality constraint outside the block (and
      is not fixed by the host). For outlet members the market left out by
      Walras' law also counts as a reader if the host keeps it, deactivated,
      under a name starting with ``walras`` (``m.walras_market =
      pyo.Reference(m.factor_market[...])``, as :func:`cge.model.build_model`
      does). ``price_index`` and ``trade_value`` may go
      unread: with Cobb-Douglas demand a host needs the price index only for
      welfare; they are listed in :attr:`WiringReport.unread`.
    * **active Arcs not yet expanded** (apply :func:`expand_arcs`).
    * **equations without unknowns** (``0 - 0 == 0`` from an Arc between two
      constants, e.g. the free-entry ``profit`` and a constant host term).
    * **numeraires**: not exactly one labelled numeraire (see the module
      docstring for the convention).
    * **a non-square or structurally singular system**
      (:func:`cge.solve.check_structure`), with the unmatched variables and
      equations.

    Raises :class:`WiringError` listing every problem; returns a
    :class:`WiringReport` otherwise.
    """
    from .solve import check_structure

    required_outlet = tuple(required_outlet)
    bad = [m for m in required_outlet if m not in PORT_MEMBERS or PORT_MEMBERS[m].port != "outlet"]
    if bad:
        raise ValueError(f"check_wiring: {bad} are not outlet members")
    problems: list[str] = []
    unconnected: list[str] = []

    arcs = [a.name for a in model.component_data_objects(Arc, active=True, descend_into=True)]
    if arcs:
        problems.append(f"active Arc(s) not expanded: {', '.join(arcs)}; apply "
                        "TransformationFactory('network.expand_arcs') (cge.embedding.expand_arcs) "
                        "before checking or solving")

    blocks = sector_blocks(model)
    # Which active equality constraints reference each variable.
    users: ComponentMap = ComponentMap()
    constant = []
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        if not con.equality:
            continue
        found = False
        for v in identify_variables(con.body, include_fixed=True):
            users.setdefault(v, []).append(con)
            found = found or not v.fixed
        if not found:
            constant.append(con.name)
    if constant:
        problems.append(
            f"equation(s) without unknowns: {', '.join(constant[:10])}"
            + (f" and {len(constant) - 10} more" if len(constant) > 10 else "")
            + "; both sides are constants (e.g. an Arc linking the block's free-entry profit, "
            "the constant 0, to a constant host term); deactivate them or give the host a "
            "variable")
    # The market left out by Walras' law (kept, deactivated, under a name starting
    # with "walras") still reads outlet members: it is checked after the solve.
    walras_users: ComponentMap = ComponentMap()
    for comp in model.component_objects(pyo.Constraint, descend_into=True):
        if not comp.local_name.startswith("walras"):
            continue
        for con in comp.values():
            for v in identify_variables(con.body, include_fixed=True):
                walras_users.setdefault(v, []).append(con)

    connections: dict[str, list[str]] = {}
    unread: list[str] = []
    for blk in blocks:
        for member, info in PORT_MEMBERS.items():
            if info.port == "outlet" and member not in required_outlet \
                    and member not in ("price_index", "trade_value"):
                continue
            comp = _member_component(blk, member)
            required = info.port == "inlet" or member in required_outlet
            missing = []
            for idx, data in comp.items():
                expr = data.expr if data.ctype is pyo.Expression else data
                vars_ = list(identify_variables(as_numeric(expr), include_fixed=True))
                if not vars_:
                    continue  # a constant (profit under free entry): nothing to tie
                if any(v.fixed for v in vars_):
                    connections.setdefault(f"{blk.name}.{info.port}.{member}", []).append("(fixed)")
                    continue
                readers = [c for v in vars_ for c in users.get(v, ())]
                if info.port == "outlet":
                    readers += [c for v in vars_ for c in walras_users.get(v, ())]
                outside = sorted({c.name for c in readers if not _inside(c, blk)})
                key = f"{blk.name}.{info.port}.{member}"
                if outside:
                    connections.setdefault(key, []).extend(outside)
                else:
                    missing.append(idx)
            if not missing:
                continue
            where = [f"{blk.name}.{info.port}.{member}[{_fmt(idx)}]" for idx in missing]
            if required:
                unconnected += where
                problems.append(
                    f"port member {blk.name}.{info.port}.{member} is not connected to the host "
                    f"for {_fmt_list(missing)}: no active host equation "
                    + ("determines it (the block cannot: it is the host's input to the sector)"
                       if info.port == "inlet" else "reads it")
                    + "; use cge.embedding.connect or an expanded Arc")
            else:
                unread += where

    nums = numeraires(model)
    if require_numeraire and len(nums) != 1:
        if not nums:
            problems.append("no numeraire: label the equation that fixes the price level "
                            "'numeraire' (or 'numeraire_<name>'), or use "
                            "cge.embedding.mark_numeraire")
        else:
            problems.append(f"{len(nums)} numeraires: {', '.join(nums)}; a model has exactly one "
                            "(the host owns it, a sector block never fixes a price)")

    nv = nc = 0
    unmatched_v, unmatched_c = [], []
    if structure:
        try:
            nv, nc = check_structure(model)
        except StructureError as exc:
            problems.append(str(exc))
            unmatched_v, unmatched_c = exc.unmatched_variables, exc.unmatched_constraints
    if problems:
        raise WiringError(problems, unconnected, nums if len(nums) != 1 else (),
                          unmatched_v, unmatched_c)
    return WiringReport(nv, nc, nums[0] if nums else None, [b.name for b in blocks],
                        {k: sorted(set(v)) for k, v in connections.items()}, unread)


def _fmt(idx) -> str:
    return ",".join(map(str, idx)) if isinstance(idx, tuple) else str(idx)


def _fmt_list(idxs) -> str:
    return "index " + ", ".join(f"[{_fmt(i)}]" for i in idxs)


# ================================================================== calibration
@dataclass
class SectorCalibration:
    """Block parameters that reproduce a benchmark, and the benchmark levels of the block.

    ``parameters`` maps block parameter names to ``{index: value}`` (the
    ``parameters`` entry of the block config); ``values`` maps block level
    names (``expenditure``, ``input_price``, ``price_index``, ``trade_value``,
    ``input_demand``, ``entry_mass``, ``cutoff``, ``tariff_revenue``) to
    ``{index: value}`` at the benchmark. Indices are region labels and
    ``(destination, origin)`` pairs.
    """

    market_structure: str
    regions: list
    routes: list
    sigma: float
    k: float
    delta: float
    parameters: dict
    values: dict
    entry: str = "free"

    def config(self, **overrides) -> dict:
        """The :class:`HeterogeneousFirmSector` config for this calibration."""
        cfg = {"market_structure": self.market_structure, "entry": self.entry,
               "regions": list(self.regions), "routes": list(self.routes),
               "sigma": self.sigma, "k": self.k, "delta": self.delta,
               "parameters": {k: dict(v) for k, v in self.parameters.items()}}
        spending = list(self.values.get("expenditure", {}).values())
        if spending and float(np.mean(spending)) > 0:
            cfg["value_scale"] = float(np.mean(spending))
        cfg.update(overrides)
        return cfg

    def array(self, name: str, fill: float = np.nan) -> np.ndarray:
        """A parameter or benchmark level as an array over regions (or destination x origin)."""
        data = self.parameters.get(name, self.values.get(name))
        if data is None:
            raise KeyError(name)
        R = list(self.regions)
        if any(isinstance(k, tuple) for k in data):
            out = np.full((len(R), len(R)), fill)
            for (n, i), v in data.items():
                out[R.index(n), R.index(i)] = v
            return out
        return np.array([data.get(r, fill) for r in R])


def _as_matrix(x, nR, what) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        a = np.full((nR, nR), float(a))
    if a.shape != (nR, nR):
        raise ValueError(f"{what}: expected shape ({nR}, {nR}) (destination, origin), "
                         f"got {a.shape}")
    return a


def _as_vector(x, nR, what) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        a = np.full(nR, float(a))
    if a.shape != (nR,):
        raise ValueError(f"{what}: expected shape ({nR},), got {a.shape}")
    return a


def _prepare(regions, trade_value, tariff, expenditure, input_price, price_index, sigma):
    R = list(regions)
    nR = len(R)
    X = _as_matrix(trade_value, nR, "trade_value")
    t = _as_matrix(tariff, nR, "tariff")
    if (X < 0).any():
        raise ValueError("trade_value: flows must be non-negative")
    active = X > 0
    E = (X * (1 + t)).sum(axis=1)
    if expenditure is not None:
        given = _as_vector(expenditure, nR, "expenditure")
        gap = np.abs(given - E) / np.maximum(np.abs(E), 1e-300)
        if (gap > 1e-9).any():
            n = int(np.argmax(gap))
            raise ValueError(
                f"expenditure[{R[n]}] = {given[n]:.12g} differs from sum_i (1+t_ni) X_ni = "
                f"{E[n]:.12g}: no CES calibration can reproduce these flows")
        E = given
    c = _as_vector(input_price, nR, "input_price")
    P = _as_vector(price_index, nR, "price_index")
    if not sigma > 1:
        raise ValueError(f"sigma must exceed 1, got {sigma}")
    routes = [(R[n], R[i]) for n, i in zip(*np.nonzero(active))]
    for n in range(nR):
        if E[n] > 0 and not active[n].any():
            raise ValueError(f"destination {R[n]} spends on the sector but buys from no origin")
    return R, X, t, E, c, P, active, routes


def _route_dict(R, active, arr):
    return {(R[n], R[i]): float(arr[n, i]) for n, i in zip(*np.nonzero(active))}


def _region_dict(R, arr):
    return {r: float(arr[j]) for j, r in enumerate(R)}


def _common_values(R, X, t, E, c, P, active):
    sales = np.where(active, X, 0.0).sum(axis=0)
    return {
        "expenditure": _region_dict(R, E),
        "input_price": _region_dict(R, c),
        "price_index": _region_dict(R, P),
        "trade_value": _route_dict(R, active, X),
        "input_demand": _region_dict(R, sales / c),
        "tariff_revenue": _region_dict(R, (t * X).sum(axis=1)),
    }


def calibrate_armington(regions, sigma, trade_value, tariff=0.0, *, tau=1.0, phi_min=1.0,
                        expenditure=None, input_price=1.0, price_index=1.0) -> SectorCalibration:
    r"""Preference weights :math:`a_{ni}` that reproduce ``trade_value`` at the given prices.

    .. math:: a_{ni} = \frac{X_{ni}}{X_n P_n^{\sigma-1}} (1+t_{ni})^{\sigma}
              \left(\frac{\tau_{ni} c_i}{\varphi_{\min,i}}\right)^{\sigma-1}

    The price index then holds because :math:`X_n = \sum_i (1+t_{ni}) X_{ni}`.
    """
    R, X, t, E, c, P, active, routes = _prepare(regions, trade_value, tariff, expenditure,
                                                input_price, price_index, sigma)
    nR = len(R)
    tau = _as_matrix(tau, nR, "tau")
    pm = _as_vector(phi_min, nR, "phi_min")
    with np.errstate(divide="ignore", invalid="ignore"):
        a = X / (E[:, None] * P[:, None] ** (sigma - 1)) * (1 + t) ** sigma \
            * (tau * c[None, :] / pm[None, :]) ** (sigma - 1)
    params = {"pref_weight": _route_dict(R, active, a), "tau": _route_dict(R, active, tau),
              "tariff": _route_dict(R, active, t), "phi_min": _region_dict(R, pm)}
    return SectorCalibration("armington", R, routes, float(sigma), 4.0, 1.0, params,
                             _common_values(R, X, t, E, c, P, active))


def calibrate_krugman(regions, sigma, trade_value, tariff=0.0, *, delta=1.0, entry_mass=1.0,
                      tau_domestic=1.0, expenditure=None, input_price=1.0,
                      price_index=1.0) -> SectorCalibration:
    r"""Homogeneous firms: :math:`\varphi_{\min,i}` from the domestic route, foreign
    :math:`\tau_{ni}` from the others, :math:`f_{E,i}` from free entry.

    With the mass of entrants :math:`M_{Ei}` normalised (``entry_mass``) the
    trade equation :math:`X_{ni} = \frac{M_{Ei}}{\delta}(1+t_{ni})^{-\sigma}
    X_n P_n^{\sigma-1} (\tau_{ni} c_i / (\rho\varphi_{\min,i}))^{1-\sigma}` gives
    :math:`\varphi_{\min,i}` at :math:`\tau_{ii}` = ``tau_domestic`` and then
    :math:`\tau_{ni}`; free entry :math:`\sum_n X_{ni}/\sigma = c_i f_{E,i} M_{Ei}`
    gives :math:`f_{E,i}`. Calibrated :math:`\tau_{ni}` may fall below one
    (it then measures a preference for the foreign variety).
    """
    R, X, t, E, c, P, active, routes = _prepare(regions, trade_value, tariff, expenditure,
                                                input_price, price_index, sigma)
    nR = len(R)
    if not active.diagonal().all():
        raise ValueError("calibrate_krugman: every region needs domestic sales")
    rho = (sigma - 1) / sigma
    M = _as_vector(entry_mass, nR, "entry_mass")
    tdom = _as_vector(tau_domestic, nR, "tau_domestic")
    # Z_ni = (tau_ni c_i/(rho phi_i))^(1-sigma) = X_ni delta (1+t)^sigma / (M_i E_n P_n^(sigma-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        Z = X * delta * (1 + t) ** sigma / (M[None, :] * E[:, None] * P[:, None] ** (sigma - 1))
        unit = Z ** (1 / (1 - sigma))        # tau_ni c_i / (rho phi_i)
    phi = tdom * c / (rho * unit.diagonal())
    tau = unit * rho * phi[None, :] / c[None, :]
    f_e = np.where(active, X, 0).sum(axis=0) / (sigma * c * M)
    params = {"phi_min": _region_dict(R, phi), "tau": _route_dict(R, active, tau),
              "tariff": _route_dict(R, active, t), "f_e": _region_dict(R, f_e),
              "entrants": _region_dict(R, M / delta)}
    values = _common_values(R, X, t, E, c, P, active)
    values["entry_mass"] = _region_dict(R, M)
    return SectorCalibration("krugman", R, routes, float(sigma), 4.0, float(delta), params, values)


def calibrate_melitz(regions, sigma, k, trade_value, tariff=0.0, *, delta=1.0, tau=1.0,
                     fixed_cost=None, producer_share=0.5, phi_min=1.0, expenditure=None,
                     input_price=1.0, price_index=1.0) -> SectorCalibration:
    r"""Heterogeneous firms (Pareto): cutoffs, fixed costs and entry costs that reproduce
    ``trade_value`` at the given prices.

    Write :math:`s_{ni} = (\varphi_{\min,i}/\varphi^*_{ni})^k` for the share of
    drawn firms that sell in :math:`n`. At the benchmark the block's equations read

    * trade: :math:`X_{ni} = \frac{M_{Ei}}{\delta} s_{ni} \frac{\sigma k}{k-\sigma+1} c_i f_{ni}`;
    * zero cutoff profit: :math:`(1+t_{ni})^{-\sigma} X_n P_n^{\sigma-1}
      (\tau_{ni} c_i / (\rho\varphi^*_{ni}))^{1-\sigma} = \sigma c_i f_{ni}`;
    * the price index, which given the two above is equivalent to
      :math:`X_n = \sum_i (1+t_{ni}) X_{ni}` and so holds for any benchmark
      :math:`P_n`;
    * free entry: :math:`\sum_n \frac{\sigma-1}{k-\sigma+1} f_{ni} s_{ni} = \delta f_{E,i}`.

    Each route has three unknowns (:math:`\varphi^*_{ni}, f_{ni}, \tau_{ni}`) and
    two equations, so one of :math:`\tau_{ni}` and :math:`f_{ni}` is data:

    ``tau`` given (default; ``fixed_cost=None``)
        Eliminating :math:`f_{ni}`:
        :math:`(\varphi^*_{ni})^{k-\sigma+1} = \frac{M_{Ei}}{\delta}\frac{k}{k-\sigma+1}
        \frac{(1+t_{ni})^{-\sigma} X_n P_n^{\sigma-1}}{X_{ni}}
        \left(\frac{\rho}{\tau_{ni} c_i}\right)^{\sigma-1} \varphi_{\min,i}^k`.
        The entry mass :math:`M_{Ei}` (a normalisation: only
        :math:`M_{Ei}\varphi_{\min,i}^{\sigma-1}` is identified) is set so that
        the domestic producer share :math:`s_{ii}` equals ``producer_share``;
        then :math:`\varphi^*_{ni}`, and :math:`f_{ni}` from zero cutoff profit.
    ``fixed_cost`` given
        :math:`M_{Ei}` as above from :math:`s_{ii}` = ``producer_share``;
        :math:`s_{ni}` from the trade equation, :math:`\varphi_{\min,i}` so that
        :math:`\tau_{ii}` = ``tau`` (diagonal) and :math:`\tau_{ni}` from zero
        cutoff profit.

    Finally :math:`f_{E,i}` from free entry. Raises ``ValueError`` naming a
    route whose cutoff would fall below :math:`\varphi_{\min,i}` (no selection).
    """
    R, X, t, E, c, P, active, routes = _prepare(regions, trade_value, tariff, expenditure,
                                                input_price, price_index, sigma)
    nR = len(R)
    if not k > sigma - 1:
        raise ValueError(f"k = {k} must exceed sigma - 1 = {sigma - 1}")
    if not active.diagonal().all():
        raise ValueError("calibrate_melitz: every region needs domestic sales")
    if not 0 < producer_share <= 1:
        raise ValueError(f"producer_share must lie in (0, 1], got {producer_share}")
    rho = (sigma - 1) / sigma
    kk = k - sigma + 1
    tau_m = _as_matrix(tau, nR, "tau")
    pm = _as_vector(phi_min, nR, "phi_min")
    demand = ((1 + t) ** (-sigma)) * (E * P ** (sigma - 1))[:, None]   # (1+t)^-s X_n P_n^(s-1)
    share = np.full((nR, nR), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        if fixed_cost is None:
            # phi*^(k-s+1) = (M/delta) (k/kk) demand (rho/(tau c))^(s-1) pm^k / X  =  M * G
            G = (1 / delta) * (k / kk) * demand * (rho / (tau_m * c[None, :])) ** (sigma - 1) \
                * pm[None, :] ** k / X
            cut_dom = pm * producer_share ** (-1 / k)
            M = cut_dom ** kk / G.diagonal()
            cutoff = (M[None, :] * G) ** (1 / kk)
            f = demand * (rho * cutoff / (tau_m * c[None, :])) ** (sigma - 1) / (sigma * c[None, :])
            tau_out = tau_m
        else:
            f = _as_matrix(fixed_cost, nR, "fixed_cost")
            # s = X delta kk / (M sigma k c f); s_ii = producer_share fixes M.
            base = X * delta * kk / (sigma * k * c[None, :] * f)
            M = base.diagonal() / producer_share
            share = base / M[None, :]
            # ZCP: (tau c / (rho phi*))^(1-s) = sigma c f / demand, phi* = pm s^(-1/k)
            ratio = (sigma * c[None, :] * f / demand) ** (1 / (1 - sigma))   # tau c/(rho phi*)
            rel = share ** (-1 / k)                                          # phi*/pm
            pm = tau_m.diagonal() * c / (rho * ratio.diagonal() * rel.diagonal())
            cutoff = pm[None, :] * rel
            tau_out = ratio * rho * cutoff / c[None, :]
        share = (pm[None, :] / cutoff) ** k
    bad = [(R[n], R[i], float(share[n, i])) for n, i in zip(*np.nonzero(active))
           if not share[n, i] <= 1 + 1e-12]
    if bad:
        listed = "; ".join(f"(destination={n}, origin={i}): share of firms selling {s:.4g} > 1"
                           for n, i, s in bad)
        raise ValueError("calibrate_melitz: the cutoff falls below phi_min (every firm would "
                         f"sell, no selection) on {listed}; lower producer_share")
    f_e = np.where(active, (sigma - 1) / kk * f * share, 0).sum(axis=0) / delta
    params = {"phi_min": _region_dict(R, pm), "tau": _route_dict(R, active, tau_out),
              "tariff": _route_dict(R, active, t), "f": _route_dict(R, active, f),
              "f_e": _region_dict(R, f_e), "entrants": _region_dict(R, M / delta)}
    values = _common_values(R, X, t, E, c, P, active)
    values["entry_mass"] = _region_dict(R, M)
    values["cutoff"] = _route_dict(R, active, cutoff)
    return SectorCalibration("melitz", R, routes, float(sigma), float(k), float(delta),
                             params, values)


def calibrate_sector(market_structure: str, regions, sigma, trade_value, tariff=0.0, *,
                     k: float = 4.0, delta: float = 1.0, **options) -> SectorCalibration:
    """Calibrate one market structure (:func:`calibrate_armington`,
    :func:`calibrate_krugman` or :func:`calibrate_melitz`; ``options`` go there)."""
    if market_structure not in MARKET_STRUCTURES:
        raise ValueError(f"market_structure must be one of {MARKET_STRUCTURES}, got "
                         f"{market_structure!r}")
    if market_structure == "cara":
        raise ValueError("calibrate_sector: cara sectors are not yet calibrated for embedding "
                         "in a host model (their calibration needs the population; see "
                         "calibration.cara.calibrate_cara_sector)")
    if market_structure in ("linear", "outside"):
        raise ValueError(f"calibrate_sector: {market_structure} sectors are not calibrated for "
                         "embedding in a host model: they need the quasi-linear upper tier "
                         "and the outside good of cge.model (cge.quasi_linear; "
                         "calibration.linear)")
    if market_structure == "armington":
        return calibrate_armington(regions, sigma, trade_value, tariff, **options)
    if market_structure == "krugman":
        return calibrate_krugman(regions, sigma, trade_value, tariff, delta=delta, **options)
    return calibrate_melitz(regions, sigma, k, trade_value, tariff, delta=delta, **options)


# =============================================================== initialisation
_LEVELS = ("expenditure", "input_price", "price_index", "trade_value", "input_demand",
           "entry_mass", "cutoff")


def initialize_block(block: HeterogeneousFirmSectorData, values: Mapping[str, Mapping]) -> None:
    """Load benchmark levels (``SectorCalibration.values``) into the block's log variables.

    Levels missing from ``values`` keep their current value. Sets the block's
    ``value_scale`` to the mean expenditure, and ``tariff_revenue`` (and
    ``profit`` under fixed entry) from the loaded trade values.
    """
    for name in _LEVELS:
        if name not in values or not hasattr(block, f"log_{name}"):
            continue
        var = getattr(block, f"log_{name}")
        for idx, level in values[name].items():
            if idx in var:
                if not level > 0:
                    raise ValueError(f"{block.name}: {name}[{idx}] = {level} must be positive")
                var[idx].set_value(math.log(level))
    if "expenditure" in values:
        block.value_scale = float(np.mean(list(values["expenditure"].values())))
    for r in block.regions:
        block.tariff_revenue[r].set_value(pyo.value(
            sum(block.tariff[r, o] * block.trade_value[r, o] for o in block.origins(r))))
        if isinstance(block.profit, pyo.Var):
            block.profit[r].set_value(pyo.value(block.net_profit[r]))


def block_levels(block: HeterogeneousFirmSectorData) -> dict[str, dict]:
    """Current levels of the block's unknowns (the inverse of :func:`initialize_block`)."""
    out = {}
    for name in _LEVELS + ("tariff_revenue", "profit"):
        comp = getattr(block, name, None)
        if comp is None:
            continue
        out[name] = {idx: float(pyo.value(comp[idx])) for idx in comp}
    return out


def benchmark_residual(calibration: SectorCalibration) -> float:
    """Largest residual of a standalone block built and initialised from ``calibration``."""
    from .solve import max_residual

    m = pyo.ConcreteModel(name="calibration_check")
    m.sector = HeterogeneousFirmSector(config=calibration.config())
    initialize_block(m.sector, calibration.values)
    return max_residual(m.sector)


def solve_block(block: HeterogeneousFirmSectorData, solver: str | None = None,
                options: dict | None = None):
    """Solve the block's own equations with its inlet held at the current values.

    With ``expenditure`` and ``input_price`` fixed the block is a square system
    (see :func:`check_wiring`); this completes price indices, trade flows,
    cutoffs and masses for a host that knows its inlet values but has no
    closed-form start. Returns :class:`cge.solve.SolveStats`; the inlet
    variables are unfixed again afterwards.
    """
    from .solve import check_structure, run_ipopt

    inlet = [v for name in ("log_expenditure", "log_input_price")
             for v in getattr(block, name).values() if not v.fixed]
    for v in inlet:
        v.fix()
    try:
        check_structure(block)
        return run_ipopt(block, solver, options)
    finally:
        for v in inlet:
            v.unfix()

