"""Checks before a solve, the IPOPT call, and the diagnosis of a failure.

* :func:`check_structure`: zero degrees of freedom and structural
  nonsingularity (Dulmage-Mendelsohn decomposition from Pyomo's incidence
  analysis) before every solve; a :class:`~cge.errors.StructureError` names the
  unmatched variables and constraints otherwise.
* :func:`run_ipopt`: IPOPT through PyNumero's cyipopt interface (default) or an
  ``ipopt`` executable on ``PATH``, with iteration counts and timings. Through
  cyipopt the equations are compiled once per model structure
  (:mod:`cge.compiled`: parameters enter as columns with equal bounds) and warm
  starts near a solution are first solved by the Newton method of
  :mod:`cge.newton` (``SolveStats.method`` says which method's result it is).
* :func:`residuals`, :func:`walras_residual`, :func:`check_selection`: what is
  verified after every solve, so that no wrong answer passes silently.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from .errors import SelectionError, SolveError, StructureError
from .shape import shape
from .tolerance import RESIDUAL_TOL, SOLVER_TOL

#: IPOPT options used unless overridden. The system is square and every
#: equation is in logarithms, so residuals are relative errors.
DEFAULT_OPTIONS = {
    "tol": SOLVER_TOL,
    "constr_viol_tol": SOLVER_TOL,
    "acceptable_tol": RESIDUAL_TOL,
    "max_iter": 200,
    "mu_strategy": "adaptive",
    "sb": "yes",
}
_LISTED = 10


@dataclass
class SolveStats:
    """What one IPOPT call did."""

    solver: str
    status: str
    message: str
    iterations: int
    setup_time: float
    ipopt_time: float
    max_residual: float
    success: bool
    options: dict = field(default_factory=dict)
    #: how many equation systems this call compiled into a new NLP (0: it re-used them)
    compiled: int = 0
    #: CPU seconds of the IPOPT call itself (steadier than ``ipopt_time`` on a busy machine)
    ipopt_cpu_time: float = 0.0
    #: which numerical method produced the result: ``"ipopt"``, ``"newton"`` (the chord
    #: Newton method of :mod:`cge.newton`, warm solves) or ``"none"`` (the start solved
    #: the system)
    method: str = "ipopt"
    #: wall and CPU seconds of the Newton method (also when it gave up and IPOPT ran)
    newton_time: float = 0.0
    newton_cpu_time: float = 0.0
    #: factorisations of the Jacobian and back-solves of the Newton method
    factorizations: int = 0
    newton_steps: int = 0
    #: why the Newton method gave up (IPOPT then ran from the same start); empty if it
    #: converged or did not run
    newton_failure: str = ""

    @property
    def effort(self) -> int:
        """Factorisations the result cost: IPOPT's iterations (one factorisation of the KKT
        matrix each) or the Newton method's factorisations (its back-solves are cheap);
        what the homotopy adapts its step to."""
        return self.factorizations if self.method == "newton" else self.iterations

    @property
    def solver_time(self) -> float:
        """Seconds of the numerical solvers themselves (IPOPT's and Newton's own time)."""
        return self.ipopt_time + self.newton_time

    @property
    def solver_cpu_time(self) -> float:
        return self.ipopt_cpu_time + self.newton_cpu_time


@dataclass
class Diagnosis:
    """Why a solve failed: status, iterations, largest residuals, variables at bounds, last step."""

    status: str = ""
    message: str = ""
    iterations: int = 0
    largest_residuals: list[tuple[str, float]] = field(default_factory=list)
    at_bounds: list[str] = field(default_factory=list)
    last_step: float | None = None
    steps: list[float] = field(default_factory=list)
    #: what the collapsing levels mean, where a structure can say (e.g. the outside good)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"IPOPT status: {self.status} ({self.message}) after {self.iterations} iterations"]
        lines += self.notes
        if self.last_step is not None:
            lines.append(f"homotopy: last step reached lambda = {self.last_step:.6g} "
                         f"(steps taken: {', '.join(f'{s:.4g}' for s in self.steps) or 'none'})")
        if self.largest_residuals:
            lines.append("largest residuals (log-scale, i.e. relative):")
            lines += [f"  {name}: {val:.3e}" for name, val in self.largest_residuals]
        if self.at_bounds:
            lines.append("levels collapsing to zero (log below -20; a sector or route "
                         "vanishing, e.g. complete specialisation): " + ", ".join(self.at_bounds))
        return "\n".join(lines)


# --------------------------------------------------------------- structure
def check_structure(m: pyo.Block) -> tuple[int, int]:
    """Verify the active equality system is square and structurally nonsingular.

    Returns ``(n_variables, n_equations)``. Raises
    :class:`StructureError` naming the unmatched variables and constraints
    (Dulmage-Mendelsohn: the under- and over-determined parts).
    """
    from pyomo.contrib.incidence_analysis import IncidenceGraphInterface
    from pyomo.contrib.incidence_analysis.config import IncidenceMethod

    igraph = IncidenceGraphInterface(m, include_inequality=False,
                                     method=IncidenceMethod.identify_variables)
    nv, nc = len(igraph.variables), len(igraph.constraints)
    var_dm, con_dm = igraph.dulmage_mendelsohn()
    unmatched_v = [v.name for v in var_dm.unmatched]
    unmatched_c = [c.name for c in con_dm.unmatched]
    if nv != nc or unmatched_v or unmatched_c:
        under_v = [v.name for v in var_dm.underconstrained]
        over_c = [c.name for c in con_dm.overconstrained]
        parts = [f"the equation system of {m.name!r} is not square and nonsingular: "
                 f"{nv} variables, {nc} equations (degrees of freedom {nv - nc})"]
        if unmatched_v:
            parts.append(f"variables matched by no equation ({len(unmatched_v)}): "
                         + ", ".join(unmatched_v[:_LISTED * 2]))
        if unmatched_c:
            parts.append(f"equations matched to no variable ({len(unmatched_c)}): "
                         + ", ".join(unmatched_c[:_LISTED * 2]))
        if under_v and not unmatched_v:
            parts.append("under-determined variables: " + ", ".join(under_v[:_LISTED * 2]))
        if over_c and not unmatched_c:
            parts.append("over-determined equations: " + ", ".join(over_c[:_LISTED * 2]))
        raise StructureError("\n".join(parts), unmatched_v, unmatched_c)
    return nv, nc


def check_jacobian_structure(nlp, m: pyo.Block, columns=None) -> tuple[int, int]:
    """:func:`check_structure` from the sparsity of a compiled NLP's Jacobian
    (its ``columns`` only, when given: the unknowns, without the parameter columns of
    :class:`cge.compiled.CompiledSystem`).

    A maximum bipartite matching of equations to variables on the Jacobian's
    structural non-zeros (what the solver will factorise) is orders of
    magnitude faster than walking Pyomo expressions; only if it finds the
    system non-square or structurally singular does the expression-level
    Dulmage-Mendelsohn analysis run, to name the culprits.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    nv = nlp.n_primals() if columns is None else len(columns)
    nc = nlp.n_constraints()
    if nv == nc:
        jac = nlp.evaluate_jacobian()
        jac = (jac if columns is None else jac.tocsc()[:, columns]).tocoo()
        pattern = csr_matrix((np.ones(jac.nnz), (jac.row, jac.col)), shape=(nc, nv))
        matched = int((maximum_bipartite_matching(pattern, perm_type="column") >= 0).sum())
        if matched == nc:
            return nv, nc
    check_structure(m)  # raises, naming the unmatched variables and equations
    raise StructureError(f"the equation system of {m.name!r} is structurally singular: "
                         f"{nv} variables, {nc} equations", [], [])


def structure_signature(m: pyo.Block) -> tuple:
    """A cheap fingerprint of the equation system's structure: which constraints are
    active and which expression each holds, which variables are fixed. Parameter
    values do not enter: changing them cannot change the incidence structure.

    It changes whenever :func:`cge.compiled.signature` does (it reads the same
    constraint and variable data, straight from each component's data, the components
    found once per model shape, :mod:`cge.shape`, rather than through Pyomo's generic
    iterators: a tenth of the time), so that a caller can
    keep the compiled systems' key until it changes (:meth:`cge.Equilibrium._structure`).
    """
    # (the components found once, :class:`cge.shape.Shape`, and the fingerprint computed
    # again only when a constraint, expression or fixed variable is another object)
    return shape(m).signature()


# --------------------------------------------------------------- residuals
def residuals(m: pyo.Block, active: bool = True) -> dict[str, float]:
    """Residual of every (active) equality constraint, body minus its bound."""
    out = {}
    for con in m.component_data_objects(pyo.Constraint, active=active or None, descend_into=True):
        if not con.equality:
            continue
        try:
            out[con.name] = float(pyo.value(con.body, exception=True) - pyo.value(con.upper))
        except (ValueError, ZeroDivisionError, OverflowError):
            out[con.name] = float("nan")
    return out


def largest_residuals(m: pyo.Block, count: int = _LISTED) -> list[tuple[str, float]]:
    res = residuals(m)
    order = sorted(res.items(), key=lambda kv: -np.inf if np.isnan(kv[1]) else -abs(kv[1]))
    return order[:count]


def max_residual(m: pyo.Block) -> float:
    vals = np.array(list(residuals(m).values()))
    if vals.size == 0:
        return 0.0
    return float(np.inf) if np.isnan(vals).any() else float(np.abs(vals).max())


def walras_residual(m: pyo.Block) -> float:
    """Relative excess demand in the market left out of the system (Walras' law).

    Under the small-open-economy closure no home market is left out; the check
    is then the home economies' balance of payments
    (:func:`cge.closure.balance_of_payments_residual`).
    """
    if getattr(m, "_small_open_economy", None) is not None:
        from .closure import balance_of_payments_residual

        return balance_of_payments_residual(m)
    con = m.walras_market
    con = next(iter(con.values())) if hasattr(con, "values") else con
    kept = getattr(m, "_cge_walras", None)
    if kept is None or not kept.holds(con):
        kept = m._cge_walras = _Residual(con)
    return kept()


class _Residual:
    """The residual (body minus bound) of an equality constraint, compiled once
    (:class:`cge.formula.Formula`: the floats Pyomo's evaluation gives) while the
    constraint holds the same expression."""

    def __init__(self, con):
        from .formula import Formula

        self.con, self.expr = con, con.expr
        self.body, self.upper = Formula(con.body), Formula(con.upper)

    def holds(self, con) -> bool:
        return self.con is con and self.expr is con.expr

    def __call__(self) -> float:
        return float(self.body() - self.upper())

    def __reduce__(self):
        # a pickled or cloned model compiles its own
        return (_no_residual, ())


def _no_residual() -> None:
    return None


NEAR_ZERO_LOG = -20.0


def vanishing_variables(m: pyo.Block) -> list[str]:
    """Log-variables whose level has collapsed towards zero (below e^-20).

    In a failed solve these point at a corner the model does not describe:
    typically a sector whose entrants vanish in a region (complete
    specialisation) or a route whose trade disappears.
    """
    return [f"{v.name} = {v.value:.1f}" for v in m.component_data_objects(pyo.Var, descend_into=True)
            if v.value is not None and v.value < NEAR_ZERO_LOG][: _LISTED * 2]


def check_selection(m: pyo.Block, tol: float = 1e-9) -> bool:
    """Raise :class:`SelectionError` if a Melitz cutoff lies below the Pareto lower bound;
    returns whether it read the model's values through the result tables' layout
    (:func:`cge.results.extract` may then skip reading them, if nothing changed since).

    The Pareto aggregates assume :math:`\\varphi^*_{ni} \\ge \\varphi_{\\min,i}`
    (only the more productive firms sell). Where the zero-cutoff condition puts
    the cutoff below the lower bound every entrant would serve the market and
    the formulas overstate the mass of sellers; the routes are named.
    """
    bad = []
    get = None
    fast = _all_melitz_below(m, tol)  # every sector at once, where the tables do so
    for s in m.sectors if fast is None else ():
        blk = m.sector[s]
        if not blk.selects:
            continue
        if blk.is_melitz:  # from arrays (cge.results.route_logs): the same closed forms
            from .results import _Layout, _layout, route_logs

            if get is None:  # every value the result tables read, in one pass
                lay = _layout(m)
                lay.reader.read()
                get = lay.reader.get
            # (the layout reads the model's regions, in their order: a block of other
            # regions reads its own)
            if list(blk.regions) == lay.R:  # (shared with the result tables)
                read, logs = get, lay.route_logs(s, blk)
            else:
                read = _Layout.direct(blk)
                logs = route_logs(blk, read)
            cutoffs = np.exp(logs[1])
            lows = read(blk.phi_min, "R")[_Layout.route_positions(blk)[1]]
            below = np.flatnonzero(cutoffs < lows * (1 - tol))
            if below.size:
                routes = list(blk.routes)
                bad += [(*routes[j], s, float(cutoffs[j]), float(lows[j])) for j in below]
            continue
        for n, i in blk.routes:
            phi, lo = pyo.value(blk.cutoff[n, i]), pyo.value(blk.phi_min[i])
            if phi < lo * (1 - tol):
                bad.append((n, i, s, phi, lo))
    if fast is not None:
        bad = fast
    through_layout = fast is not None or get is not None
    if bad:
        listed = "; ".join(f"(destination={n}, origin={i}, sector={s}): cutoff {phi:.6g} < "
                           f"phi_min {lo:.6g}" for n, i, s, phi, lo in bad[:_LISTED])
        raise SelectionError(
            "the zero-cutoff condition puts the productivity cutoff below the Pareto lower "
            f"bound on {len(bad)} route(s), so every entrant would sell there and the Pareto "
            f"aggregates do not hold: {listed}. "
            + ("Melitz sectors: raise the fixed cost f of these routes or lower phi_min. "
               if any(m.sector[s].config.market_structure == "melitz" for _, _, s, _, _ in bad)
               else "")
            + ("Cara sectors (selection at the choke price): lower cara_alpha or f_e, or raise "
               "population; recalibrate with a lower max_selection."
               if any(m.sector[s].config.market_structure == "cara" for _, _, s, _, _ in bad)
               else "")
            + ("Linear sectors (selection at the choke price): lower phi_min or f_e, or "
               "recalibrate with a lower max_selection."
               if any(m.sector[s].config.market_structure == "linear" for _, _, s, _, _ in bad)
               else ""), routes=[b[:3] for b in bad])
    return through_layout


def _all_melitz_below(m: pyo.Block, tol: float) -> list | None:
    """:func:`check_selection`'s routes below the bound, every sector at once, where the
    result tables compute every sector's route logs at once (``cge.results._AllMelitz``:
    the same closed forms on the same numbers as sector by sector); ``None`` elsewhere."""
    from .results import _layout

    lay = _layout(m)
    fast = lay.all_melitz
    if fast is None or not all(m.sector[s].selects for s in lay.S):
        return None
    reader = lay.reader
    reader.read()
    cutoffs = np.exp(fast.route_logs(reader)[1])
    lows = fast.read(reader, "phi_min")[fast.orig]
    below = np.flatnonzero(cutoffs < lows * (1 - tol))
    bad = []
    if below.size:
        for s, at in zip(lay.S, fast.route_slices):
            routes = list(m.sector[s].routes)
            bad += [(*routes[j - at.start], s, float(cutoffs[j]), float(lows[j]))
                    for j in below[(below >= at.start) & (below < at.stop)].tolist()]
    return bad


# ------------------------------------------------------------ safeguarded start
@contextmanager
def bounded_logs(m: pyo.Block, width: float = 20.0):
    """Temporarily bound every ``log_*`` variable to within ``width`` of its current value.

    From a poor starting point, Newton steps on log-sum-exp aggregates can
    overshoot until ``exp`` overflows (IPOPT: diverging iterates). Bounds of
    +-20 in logs (a factor of 5e8 in levels) keep the iterates finite; the
    bounded solution is then polished without bounds, so the equilibrium
    reported never depends on them.
    """
    logs = [v for v in m.component_data_objects(pyo.Var, descend_into=True)
            if v.parent_component().local_name.startswith("log_") and not v.fixed
            and v.value is not None]
    saved = [(v, v.lb, v.ub) for v in logs]
    try:
        for v in logs:
            v.setlb(v.value - width)
            v.setub(v.value + width)
        yield logs
    finally:
        for v, lb, ub in saved:
            v.setlb(lb)
            v.setub(ub)


# ------------------------------------------------------------ Newton homotopy
@contextmanager
def residual_homotopy(m: pyo.Block):
    r"""Temporarily replace every equation :math:`F_j(x) = 0` by :math:`F_j(x) = w F_j(x_0)`.

    At weight :math:`w = 1` the current point :math:`x_0` solves the system
    exactly; stepping :math:`w` down to 0 traces a path to the equilibrium
    (a Newton or global homotopy). Yields the mutable weight parameter; the
    original equations are restored on exit.
    """
    cons = [c for c in m.component_data_objects(pyo.Constraint, active=True, descend_into=True)
            if c.equality]
    offsets = {}
    for j, c in enumerate(cons):
        try:
            offsets[j] = float(pyo.value(c.body) - pyo.value(c.upper))
        except (ValueError, ZeroDivisionError, OverflowError):
            offsets[j] = 0.0
    m._cge_homotopy_offset = pyo.Param(range(len(cons)), initialize=offsets, mutable=True)
    m._cge_homotopy_weight = pyo.Param(initialize=1.0, mutable=True)
    originals = [(c, c.expr) for c in cons]
    try:
        for j, c in enumerate(cons):
            c.set_value(c.body - m._cge_homotopy_weight * m._cge_homotopy_offset[j] == c.upper)
        yield m._cge_homotopy_weight
    finally:
        for c, expr in originals:
            c.set_value(expr)
        m.del_component(m._cge_homotopy_offset)
        m.del_component(m._cge_homotopy_weight)


# ------------------------------------------------------------------- IPOPT
#: A start whose largest residual (in logs) is below this is "near a solution" for
#: ``run_ipopt(near_solution_options=...)``; closed-economy guesses start at 1 to 4.
NEAR_SOLUTION = 0.5


def run_ipopt(m: pyo.Block, solver: str | None = None, options: dict | None = None,
              tee: bool = False, *, structure_check: bool = False,
              near_solution_options: dict | None = None, cache: dict | None = None,
              newton: bool = False, key: tuple | None = None,
              fallback: bool = True, chord: bool = False) -> SolveStats:
    """Solve the square system from the current variable values; load the result.

    Never raises on non-convergence: the returned :class:`SolveStats` says what
    happened, and the caller decides. With ``structure_check`` the system is
    first verified square and structurally nonsingular (:class:`StructureError`
    otherwise), from the compiled Jacobian when the solver compiles one.
    ``near_solution_options`` are added (under ``options``) when the start's
    largest residual is below :data:`NEAR_SOLUTION`; ``SolveStats.options``
    records what was passed. ``cache`` (a dict the caller keeps between calls) holds
    the compiled system of each structure (cyipopt only; without it every call
    compiles the model anew). With ``newton`` (a warm start: a shock or homotopy
    step) a start near a solution is first solved by the chord Newton method of
    :mod:`cge.newton`; IPOPT runs from the same start if it gives up
    (``SolveStats.method`` says which method's result it is). ``key`` is the model's
    :func:`cge.compiled.signature` if the caller knows it (computed otherwise). With
    ``newton`` and not ``fallback`` only the Newton method runs, from any start, and its
    failure is returned (status ``newton_failed``): a path that shortens its step
    instead (:mod:`cge.continuation`). With ``newton`` and ``chord`` the Newton method
    starts from the last factorisation of the Jacobian that a Newton solve of the same
    compiled system made (kept in ``cache``), refactorising only when those factors
    contract the residual too slowly: the steps of a path share factorisations
    (:func:`cge.newton.solve`, ``factors``).
    """
    from .toolchain import configure_pynumero, default_solver

    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    if not tee:
        opts.setdefault("print_level", 0)
    solver = solver or default_solver()
    if solver == "cyipopt":
        configure_pynumero()
        return _run_cyipopt(m, opts, structure_check, near_solution_options, cache, newton,
                            key, fallback, chord)
    if solver == "ipopt":
        if structure_check:
            check_structure(m)
        return _run_ipopt_executable(m, opts, tee)
    raise ValueError(f"unknown solver {solver!r}; use 'cyipopt' or 'ipopt'")


def _cached(cache: dict | None, key, kind: str, build):
    """The compiled system of ``kind`` for structure ``key`` from ``cache`` (built with
    ``build()`` when missing or no longer valid); returns ``(system, compiled)``."""
    from .solver_options import compiled_kept

    from .compiled import CompiledSystem

    entry = cache.get(key) if cache is not None else None
    system = entry.get(kind) if entry is not None else None
    # ``key`` is the model's structure now: a compiled system depends on it (and on the
    # values it folded in, if any: cge.compiled.vary); a folded one on every value
    if system is not None and system.key == key and (
            system.folded_hold() if isinstance(system, CompiledSystem) else system.valid()):
        return system, False
    if system is not None and hasattr(system, "changed"):
        # the same structure with other values of parameters folded in: those that
        # changed become columns of the next compilation (cge.compiled.vary)
        from .compiled import vary

        vary(system.model, system.changed())
    # Stale systems are released before the new one is built: at scale each holds GBs
    # (ASL), and two never coexist (cge.solver_options.compiled_kept).
    system = None
    if cache is not None:
        if entry is not None:
            entry.pop(kind, None)
        else:
            while cache and len(cache) >= min(COMPILED_KEPT, compiled_kept(key[-1])):
                cache.pop(next(iter(cache)))
    system = build()
    if cache is not None:
        if entry is None:
            entry = cache[key] = {}
        entry[kind] = system
    return system, True


def _compile(m: pyo.Block, n_equations: int):
    """The compiled system of ``m``: parameter columns (compiled once per structure,
    :class:`cge.compiled.CompiledSystem`) unless loading it would cost too much
    (:data:`PARAMETRIC_MAX_WORK`); then a numpy tape (also once per structure,
    :class:`cge.tape.TapeSystem`: residual checks and Newton solves), or, for expressions
    the tape does not evaluate, the system IPOPT solves at that size
    (:func:`_ipopt_system`)."""
    from .collector import few_full_collections
    from .compiled import CompiledSystem

    parameters = sum(len(c) for c in m.component_objects(pyo.Param, descend_into=True)
                     if c.mutable)
    # what a compilation makes survives it: no full collections while it runs
    # (cge.collector)
    with few_full_collections():
        if n_equations * (n_equations + parameters) > PARAMETRIC_MAX_WORK:
            from .tape import TapeSystem, Unsupported

            try:
                return TapeSystem(m)
            except Unsupported:
                return _ipopt_system(m, n_equations)
        return CompiledSystem(m, hessian=n_equations <= HESSIAN_MAX_EQUATIONS)


def _ipopt_system(m: pyo.Block, n_equations: int):
    """A compiled NLP with an exact Hessian for IPOPT where the parametric system is too
    large (its Hessian, or its load): the parameters declared to vary
    (:func:`cge.compiled.vary`: the deficit closure's, a scenario's shock, any found
    changed before) are columns and every other value is folded in, so that changing
    them compiles nothing, when there are at most as many of them as equations
    (Caliendo-Parro 31 x 40: 532 thousand Hessian non-zeros, 504 thousand folded; no
    slower to compile); otherwise every value is folded in
    (:class:`cge.compiled.FoldedSystem`, compiled per set of parameter values)."""
    from .compiled import CompiledSystem, FoldedSystem, varying

    columns = varying(m)
    if columns and len(columns) <= n_equations:
        return CompiledSystem(m, columns=columns, hessian=True)
    return FoldedSystem(m)


def _run_cyipopt(m, opts, structure_check: bool = False,
                 near_solution_options: dict | None = None,
                 cache: dict | None = None, newton: bool = False,
                 key: tuple | None = None, fallback: bool = True,
                 chord: bool = False) -> SolveStats:
    """IPOPT through cyipopt (or, for a warm start, the Newton method of :mod:`cge.newton`)
    on the compiled system (:class:`cge.compiled.CompiledSystem`, kept in ``cache``
    between calls and compiled again only when the model's structure changed).

    IPOPT is not called when the start already solves the system (largest
    residual within ``constr_viol_tol`` and ``tol``): a calibrated benchmark
    replicates without a factorisation. IPOPT with an exact Hessian where the parametric
    system has none, and every IPOPT call on a system compiled as a tape
    (:mod:`cge.tape`), solves :func:`_ipopt_system`'s."""
    from .compiled import signature

    t0 = time.perf_counter()
    key = signature(m) if key is None else key
    system, compiled = _cached(cache, key, "system", lambda: _compile(m, key[2]))
    system.update()
    if structure_check:
        system.check_structure()
    t_eval, c_eval = time.perf_counter(), time.process_time()
    try:
        g0 = system.residuals()
        start_residual = float(np.abs(g0).max()) if g0.size else 0.0
    except Exception:  # an evaluation error at the start: far from a solution
        g0, start_residual = None, float("inf")
    # the Newton method starts from these residuals (not evaluated again): their time is
    # its first evaluation's
    t_eval, c_eval = time.perf_counter() - t_eval, time.process_time() - c_eval
    if not np.isfinite(start_residual):
        start_residual = float("inf")
    solved_tol = min(float(opts.get("tol", DEFAULT_OPTIONS["tol"])),
                     float(opts.get("constr_viol_tol", DEFAULT_OPTIONS["constr_viol_tol"])))
    if start_residual <= solved_tol:
        return SolveStats("cyipopt", "solve_succeeded",
                          f"the start solves the system (largest residual {start_residual:.2e}): "
                          "IPOPT not called", 0, time.perf_counter() - t0, 0.0, start_residual,
                          True, dict(opts), compiled=compiled, method="none")
    note = {}
    if newton and (start_residual < NEAR_SOLUTION or not fallback):
        from . import newton as newton_method

        limit = opts.get("max_wall_time")
        # IPOPT's iteration limit bounds the Newton steps too (options ask for a bounded effort)
        entry = cache.get(key) if cache is not None else None
        # (taken out of the cache, not copied: the method drops them before it factorises)
        res = newton_method.solve(system, solved_tol, polish_below=POLISH_BELOW,
                                  deadline=t0 + float(limit) if limit is not None else None,
                                  max_steps=min(newton_method.MAX_STEPS,
                                                int(opts.get("max_iter", newton_method.MAX_STEPS))),
                                  start_residuals=g0,  # evaluated above: not again
                                  factors=_kept_factors(entry, system) if chord else None,
                                  krylov=chord)
        if chord and entry is not None and hasattr(res.factors, "nnz") and \
                res.factors.nnz <= FACTORS_KEPT_MAX:
            entry["factors"] = (system, res.factors)  # for the next chord solve
        note = dict(newton_time=res.time + t_eval, newton_cpu_time=res.cpu_time + c_eval,
                    factorizations=res.factorizations, newton_steps=res.steps)
        if res.converged:
            system.load(res.x)
            success = res.max_residual <= RESIDUAL_TOL
            return SolveStats("cyipopt", "solve_succeeded" if success else "newton_inaccurate",
                              f"Newton: {res.steps} steps, {res.factorizations} factorisations, "
                              f"largest residual {res.max_residual:.2e}", res.steps,
                              time.perf_counter() - t0 - note["newton_time"], 0.0,
                              res.max_residual,
                              success, dict(opts), compiled=compiled, method="newton", **note)
        note["newton_failure"] = res.reason
        if not fallback:
            return SolveStats("cyipopt", "newton_failed", f"Newton gave up: {res.reason}",
                              res.steps, time.perf_counter() - t0 - note["newton_time"], 0.0,
                              res.max_residual, False, dict(opts), compiled=compiled,
                              method="newton", **note)
    if near_solution_options and start_residual < NEAR_SOLUTION:
        opts = {**near_solution_options, **opts}
    iterations = [0]

    def count(nlp_, problem, alg_mod, iter_count, obj_value, inf_pr, inf_du, mu, d_norm,
              regularization_size, alpha_du, alpha_pr, ls_trials):
        iterations[0] = iter_count
        return True

    exact = opts.get("hessian_approximation", "exact") != "limited-memory"
    # too large a Hessian with the parameter columns, or a tape (cge.tape: no NLP for IPOPT)
    if (exact and not system.hessian) or not getattr(system, "serves_ipopt", True):
        folded, again = _cached(cache, key, "folded", lambda: _ipopt_system(m, key[2]))
        compiled = int(compiled) + int(again)
        folded.update()
        system = folded
    nlp = system.problem_nlp(exact_hessian=exact)
    problem = _cyipopt_nlp()(nlp, intermediate_callback=count)
    for key_, val in opts.items():
        _add_option(problem, key_, val)
    t1, c1 = time.perf_counter(), time.process_time()
    x, info = problem.solve(nlp.init_primals())
    t2, c2 = time.perf_counter(), time.process_time()
    system.load(x)
    status_code = int(info["status"])
    message = info["status_msg"].decode() if isinstance(info["status_msg"], bytes) else str(info["status_msg"])
    if note.get("newton_failure"):
        message += f" (the Newton method gave up first: {note['newton_failure']})"
    g = system.residuals()
    maxres = float(np.abs(g).max()) if g.size else 0.0
    if not np.isfinite(maxres):
        maxres = float("inf")
    if status_code in (0, 1) and POLISH_BELOW < maxres <= RESIDUAL_TOL:
        maxres = _polish(system, x, g, maxres)
    success = status_code in (0, 1) and maxres <= RESIDUAL_TOL
    setup = t1 - t0 - note.get("newton_time", 0.0)
    return SolveStats("cyipopt", _STATUS.get(status_code, str(status_code)), message,
                      iterations[0], setup, t2 - t1, maxres, success, dict(opts),
                      compiled=compiled, ipopt_cpu_time=c2 - c1, **note)


#: A converged point whose largest residual is above this gets one Newton step on the
#: square system (:func:`_polish`), kept only if it lowers the residual: IPOPT stops
#: anywhere below its tolerance (1e-10), and quantities that are differences of
#: large flows (trade balances) would inherit that scatter.
POLISH_BELOW = 1e-13
#: Largest system (equations) polished: one sparse LU of the Jacobian.
POLISH_MAX = 20_000


#: Largest factorisation (entries of L and U) that a chord solve keeps for the next one
#: (``run_ipopt(chord=True)``, :func:`cge.newton.solve` ``factors``): about 0.25 GB.
#: Caliendo and Parro's 31 x 40 Jacobian (6,758 equations) fills in to 4 million.
FACTORS_KEPT_MAX = 20_000_000


def _kept_factors(entry: dict | None, system):
    """The factors the last chord solve of ``system`` kept (removed from the cache
    ``entry``: the solve hands on its own), or None."""
    kept = entry.pop("factors", None) if entry is not None else None
    return kept[1] if kept is not None and kept[0] is system else None


def _polish(system, x: np.ndarray, g: np.ndarray, maxres: float) -> float:
    """One Newton step :math:`x - J^{-1} g` from IPOPT's solution, loaded into the model
    if it lowers the largest residual and respects the variable bounds; returns the
    largest residual of the point kept."""
    from scipy.sparse.linalg import spsolve

    nlp, free = system.nlp, system.free
    if len(free) != nlp.n_constraints() or nlp.n_constraints() > POLISH_MAX:
        return maxres
    try:
        with np.errstate(all="ignore"):
            x_new = x.copy()
            x_new[free] -= spsolve(system.jacobian(), g)
            lb, ub = system.bounds()
            if not (np.isfinite(x_new).all() and (x_new[free] >= lb).all()
                    and (x_new[free] <= ub).all()):
                raise ValueError
            nlp.set_primals(x_new)
            g_new = nlp.evaluate_constraints()
            new = float(np.abs(g_new).max()) if g_new.size else 0.0
    except Exception:  # singular Jacobian, evaluation error: keep IPOPT's point
        nlp.set_primals(x)
        return maxres
    if not new < maxres:
        nlp.set_primals(x)
        return maxres
    system.load(x_new)
    return new


#: Systems with at most this many equations are compiled with a Hessian that includes the
#: parameter columns (:class:`cge.compiled.CompiledSystem`); larger ones solve
#: exact-Hessian IPOPT calls on :func:`_ipopt_system`'s (a 10 x 10 economy, 730 equations: 1.1 million Hessian non-zeros
#: with the columns, 25 thousand without).
HESSIAN_MAX_EQUATIONS = 500

#: Largest (equations x (equations + mutable parameters)) compiled with parameter columns.
#: Loading a compiled NLP grows with the product of equations and columns because
#: PyNumero's reader of the AMPL Solver Library always builds the structure of the
#: Hessian of the Lagrangian (``sphsetup`` in ``AmplInterface::initialize``, even when
#: no Hessian is ever evaluated), and inside the log-sum-exp aggregates every column is
#: coupled with every unknown of its sum: 4,290 equations and 100 thousand columns at
#: 30 x 20 load in 6.4 s (the NL writer takes 6.5 s more), where the folded system
#: (4,290 variables) loads in 0.35 s. Above this the residuals and Jacobian come from a
#: numpy tape of the equations (:class:`cge.tape.TapeSystem`: no NL file, no Hessian),
#: compiled once per structure; IPOPT calls compile :func:`_ipopt_system`'s NLP (the
#: parameters declared to vary as columns, every other value folded in).
PARAMETRIC_MAX_WORK = 1.0e9

#: How many compiled systems (structures) a cache keeps (e.g. the benchmark's and the
#: small-open-economy closure's); older ones are dropped.
COMPILED_KEPT = 2


def _cyipopt_nlp():
    """PyNumero's cyipopt problem class, imported at the first IPOPT call: a replicated
    benchmark or a Newton solve never needs it, and importing cyipopt (which loads
    scipy.optimize and scipy.stats) is about half a second of a fresh process's first
    solve. A cyipopt that cannot be imported here is a :class:`SolverNotFoundError`
    saying why (:func:`cge.toolchain.default_solver` chose the route without importing it)."""
    from .toolchain import SolverNotFoundError, _detect_cyipopt

    try:
        import cyipopt  # noqa: F401
        from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP
    except Exception:  # noqa: BLE001 - any import failure is reported the same way
        raise SolverNotFoundError("IPOPT through cyipopt is needed for this solve, but "
                                  + _detect_cyipopt(probe_linear_solver=False).detail) from None
    return CyIpoptNLP


def _add_option(problem, key: str, val) -> None:
    """Pass one IPOPT option; an integer given for a real-valued option (``max_wall_time:
    30`` in YAML) is passed as a float. A rejected option is an :class:`InputError`
    naming it."""
    from .errors import InputError

    try:
        problem.add_option(key, val)
        return
    except TypeError:
        if isinstance(val, int) and not isinstance(val, bool):
            try:
                problem.add_option(key, float(val))
                return
            except TypeError:
                pass
    raise InputError(f"solver option {key}={val!r}: IPOPT rejects it (unknown option, or a "
                     "value of the wrong type; see IPOPT's options reference)")


_STATUS = {
    0: "solve_succeeded", 1: "solved_to_acceptable_level", 2: "infeasible_problem_detected",
    3: "search_direction_becomes_too_small", 4: "diverging_iterates",
    5: "user_requested_stop", 6: "feasible_point_found", -1: "maximum_iterations_exceeded",
    -2: "restoration_failed", -3: "error_in_step_computation", -4: "maximum_cpu_time_exceeded",
    -5: "maximum_wall_time_exceeded",
    -10: "not_enough_degrees_of_freedom", -11: "invalid_problem_definition",
    -12: "invalid_option", -13: "invalid_number_detected", -100: "unrecoverable_exception",
    -101: "nonipopt_exception_thrown", -102: "insufficient_memory", -199: "internal_error",
}


#: Pyomo's termination conditions in IPOPT's words, so that both routes report a
#: status in the same vocabulary (:data:`_STATUS`).
_TERMINATION = {
    "convergenceCriteriaSatisfied": "solve_succeeded",
    "iterationLimit": "maximum_iterations_exceeded",
    "maxTimeLimit": "maximum_wall_time_exceeded",
    "locallyInfeasible": "infeasible_problem_detected",
    "unbounded": "diverging_iterates",
    "interrupted": "user_requested_stop",
}


def _run_ipopt_executable(m, opts, tee) -> SolveStats:
    """IPOPT as an ``ipopt`` AMPL executable, through Pyomo's ``pyomo.contrib.solver``
    interface (``.nl`` file in, ``.sol`` file out).

    Pyomo learns the iteration count and IPOPT's time only from the log, and IPOPT
    prints them from ``print_level`` 3 on: lower levels are raised to 3 (the log
    is captured, and shown only with ``tee``). The final iterate is loaded also
    when IPOPT stops early (as the cyipopt route does); success needs
    convergence and residuals below :data:`RESIDUAL_TOL` in the Pyomo model.
    """
    import shutil
    import subprocess

    from pyomo.contrib.solver.common.factory import SolverFactory as NewSolverFactory

    from .toolchain import SolverNotFoundError

    # The executable `cge solvers` reports (a fresh PATH search): Pyomo's own
    # lookup is cached for the process, found or not, so it would miss an ipopt
    # put on PATH later and keep using one that was removed or moved.
    executable = shutil.which("ipopt")
    if executable is None:
        raise SolverNotFoundError("solver='ipopt' needs an 'ipopt' executable on PATH "
                                  "(see `cge solvers`); or use solver='cyipopt'")
    opts = dict(opts)
    opts["print_level"] = max(int(opts.get("print_level", 5)), 3)
    t0 = time.perf_counter()
    obj = pyo.Objective(expr=0.0)
    m.add_component("_cge_objective", obj)
    try:
        solver = NewSolverFactory("ipopt")
        # The wall-time budget also bounds the subprocess: Pyomo kills an ipopt that
        # outlives it (a hung executable cannot block the run).
        limit = opts.get("max_wall_time")
        try:
            res = solver.solve(m, executable=executable, tee=tee, solver_options=opts,
                               time_limit=float(limit) if limit is not None else None,
                               load_solutions=False, raise_exception_on_nonoptimal_result=False)
        except subprocess.TimeoutExpired:
            return SolveStats("ipopt", "maximum_wall_time_exceeded",
                              f"the ipopt executable did not finish within {float(limit):g} s "
                              "and was stopped", 0, time.perf_counter() - t0, 0.0,
                              float("inf"), False, dict(opts))
        loaded = bool(res.solution_loader is not None
                      and res.solution_loader.get_number_of_solutions())
        if loaded:
            res.solution_loader.load_vars()
    finally:
        m.del_component(obj)
    t1 = time.perf_counter()
    # Results.extra_info and .timing_info are ConfigDicts: their .get() returns
    # ConfigValue objects, not values, so read them by attribute / item.
    extra = res.extra_info
    iters = extra.iteration_count if "iteration_count" in extra else None
    timing = {k: v for k, v in res.timing_info.items() if isinstance(v, (int, float))}
    if "IPOPT" in timing:  # Ipopt >= 3.14: "Total seconds in IPOPT"
        ipopt_time = float(timing["IPOPT"])
    else:  # older: "Total CPU secs in IPOPT (w/o function evaluations)" and
        # "Total CPU secs in NLP function evaluations"
        ipopt_time = sum(float(v) for k, v in timing.items()
                         if k.startswith("IPOPT") or k.startswith("NLP function"))
    maxres = max_residual(m)
    term = res.termination_condition
    message = (extra.solver_message if "solver_message" in extra else "") or str(term)
    if not loaded:  # no .sol file (the executable failed): say how its output ended
        tail = [line.strip() for line in (res.solver_log or "").splitlines() if line.strip()]
        if tail:
            message += "; ipopt's output ends: " + " | ".join(tail[-3:])
    success = term.name == "convergenceCriteriaSatisfied" and maxres <= RESIDUAL_TOL
    return SolveStats("ipopt", _TERMINATION.get(term.name, term.name), message, int(iters or 0),
                      max(0.0, (t1 - t0) - ipopt_time), ipopt_time, maxres, success, dict(opts),
                      compiled=True)


def diagnose(m: pyo.Block, stats: SolveStats | None, last_step=None, steps=()) -> Diagnosis:
    return Diagnosis(
        status=stats.status if stats else "not run",
        message=stats.message if stats else "",
        iterations=stats.iterations if stats else 0,
        largest_residuals=largest_residuals(m),
        at_bounds=vanishing_variables(m),
        last_step=last_step,
        steps=list(steps),
        notes=numeraire_good_failures(m),
    )


def numeraire_good_failures(m: pyo.Block) -> list[str]:
    """Regions where the outside good of linear sectors stops being produced or consumed
    (:func:`cge.blocks.outside.numeraire_good_failures`); empty without an outside good."""
    from .blocks.outside import numeraire_good_failures as failures

    return failures(m) if hasattr(m, "sectors") else []


__all__ = [
    "check_structure", "check_jacobian_structure", "run_ipopt", "residuals", "max_residual", "walras_residual",
    "check_selection", "diagnose", "Diagnosis", "SolveStats", "SolveError",
]
