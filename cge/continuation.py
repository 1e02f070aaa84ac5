r"""Path following for large shocks: the path, the predictor, the step size, and why a
path ends.

:meth:`cge.Equilibrium.solve` moves every changed parameter from its current
value :math:`a` to its target :math:`b` along a path :math:`p(\lambda)`,
:math:`\lambda \in [0, 1]`, solving at each step from a predicted point
(:meth:`cge.equilibrium.Equilibrium._step`). This module holds the pieces:

The path (:func:`interpolate`)
    Positive parameters move geometrically, :math:`p(\lambda) = a^{1-\lambda}
    b^{\lambda}` (iceberg and fixed costs, endowments, productivities,
    preference weights, the numeraire value), ad valorem rates in
    :math:`1+t` (tariffs, production taxes), shares and deficits linearly.
    A geometric path spends equal steps on equal proportional changes: iceberg
    costs multiplied by :math:`10^6` take six equal steps of a factor of ten,
    where a linear path would multiply them by 1,000 in its first thousandth;
    the equilibrium's logarithms move nearly linearly along it.
The predictor (:class:`Path`)
    The secant through the last two solutions on the path extrapolates the
    unknowns to the next :math:`\lambda` (a tangent predictor of
    first order); IPOPT corrects from there. If the corrected solve fails, the
    step is retried from the last solution before it is shortened.
The step size (:func:`next_step`)
    Adapted to the iterations of the last corrector: doubled after an easy
    step, kept after a moderate one, halved after a hard one, halved on
    failure.
Large systems (:func:`newton_first`)
    Above :data:`NEWTON_FIRST_ABOVE` equations the corrector is the Newton method
    alone, on a system compiled once for the whole path (the numpy tape of
    :mod:`cge.tape`, or where IPOPT needs an NLP one with the path's parameters as
    columns: :func:`changed_parameters`, :func:`cge.compiled.vary`): a step it cannot correct
    is shortened (:func:`shorten`), the next step follows its factorisations
    (:func:`next_newton_step`), and IPOPT backs it up only after
    :data:`NEWTON_ATTEMPTS` failures in a row. Each step starts from the factors of the
    Jacobian that the last one kept (:func:`cge.newton.solve` with ``factors`` and
    ``krylov``): chord steps while they contract, then Newton steps whose equations
    GMRES solves with those factors as preconditioner, so that a path factorises its
    Jacobian about once. The zero-deficit baseline of Caliendo and Parro's 31 x 40
    economy and the NAFTA shock after it: one failed attempt (the full step, whose
    factorisation is the only one of the run), 3 path steps and the shock, 2 s of
    Newton's method, where IPOPT took 5 minutes (and 10 factorisations, 8 s, before
    the factors were handed on).
Why a path ends (:func:`explain`)
    When the step falls below the minimum, the conditions that make an
    equilibrium cease to exist along the path are checked at the last
    solution and named: a region that must finance a deficit while its
    exports (or, with a surplus, its imports) vanish; a region whose surplus
    exhausts its income; a sector shutting down (complete specialisation);
    Melitz cutoffs falling to the Pareto lower bound. A path whose last
    solution already shows one of them is given up after
    :data:`cge.equilibrium.GIVE_UP_AFTER` failed steps in a row, instead of
    halving the step down to the minimum.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pyomo.environ as pyo

from .parameters import PARAMETERS
from .primitives import Numeraire, Primitives

_FIXED = operator.attrgetter("fixed")

__all__ = ["Path", "changed_parameters", "explain", "interpolate", "newton_first",
           "next_newton_step", "next_step", "path_kind", "shorten"]

#: Corrector iterations up to which the next step is doubled, and above which it is halved.
EASY_STEP, HARD_STEP = 6, 20

#: Systems above this many equations follow paths with Newton correctors only
#: (:func:`newton_first`): an IPOPT iteration there costs seconds (a factorisation of
#: the KKT matrix with a limited-memory Hessian), and a step that Newton cannot correct
#: is better shortened than handed to IPOPT (the zero-deficit baseline of Caliendo and
#: Parro's 31 x 40 economy, 6,758 equations: 200 limited-memory IPOPT iterations, over
#: 3 minutes, for the full step that Newton corrects once shortened).
NEWTON_FIRST_ABOVE = 5_000
#: Newton-only attempts that fail in a row (each shortening the step) before the next
#: attempts fall back to IPOPT (Newton first, then IPOPT from the same start).
NEWTON_ATTEMPTS = 4
#: A step whose Newton corrector found no decrease of the residual along its first
#: direction (not even 1/64 of it: the start is far outside Newton's reach) is divided by
#: this instead of halved (the zero-deficit baseline of the 31 x 40 economy: the full
#: step and the half step both fail so, the quarter step converges).
FAR_SHORTEN = 4
#: Factorisations of a Newton corrector up to which the next step is doubled, and from
#: which it is halved (in between it is kept).
EASY_NEWTON, HARD_NEWTON = 2, 4


def path_kind(name: str) -> str:
    """How parameter ``name`` moves along the path: ``"geometric"`` (in logs),
    ``"rate"`` (geometric in 1 + rate) or ``"linear"``."""
    spec = PARAMETERS[name]
    if spec.units == "share" or name == "deficit":
        return "linear"
    if spec.lower == -1.0:
        return "rate"
    if spec.lower >= 0.0:
        return "geometric"
    return "linear"


def _between(kind: str, x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        linear = x + lam * (y - x)
        if kind == "geometric":
            ok = (x > 0) & (y > 0)
            logs = np.exp((1 - lam) * np.log(np.where(ok, x, 1.0)) + lam * np.log(np.where(ok, y, 1.0)))
            out = np.where(ok, logs, linear)
        elif kind == "rate":
            ok = (x > -1) & (y > -1)
            logs = np.exp((1 - lam) * np.log1p(np.where(ok, x, 0.0))
                          + lam * np.log1p(np.where(ok, y, 0.0))) - 1
            out = np.where(ok, logs, linear)
        else:
            out = linear
        return np.where(np.isfinite(x) & np.isfinite(y), out, y)


def interpolate(a: Primitives, b: Primitives, lam: float) -> Primitives:
    """The primitives at ``lam`` on the path from ``a`` (0) to ``b`` (1); see the module
    docstring. Routes that are inactive (``tau`` infinite) at either end take ``b``'s value."""
    if lam >= 1.0:
        return b
    arrays = {}
    for name, x in a.arrays.items():
        y = b.arrays[name]
        arrays[name] = x if np.array_equal(x, y, equal_nan=True) else \
            _between(path_kind(name), x, y, lam)
    out = a.copy(**arrays)
    v0, v1 = a.numeraire.value, b.numeraire.value
    out.numeraire = Numeraire(a.numeraire.kind, a.numeraire.region, a.numeraire.label,
                              v0 if v0 == v1 else v0 ** (1 - lam) * v1 ** lam)
    return out


def next_step(step: float, iterations: int) -> float:
    """The next step after a successful one of size ``step`` that took ``iterations``."""
    if iterations <= EASY_STEP:
        return 2 * step
    if iterations <= HARD_STEP:
        return step
    return step / 2


def newton_first(n_equations: int) -> bool:
    """Whether a path on a system of ``n_equations`` uses Newton correctors only (see
    :data:`NEWTON_FIRST_ABOVE`)."""
    return n_equations > NEWTON_FIRST_ABOVE


def next_newton_step(step: float, factorizations: int) -> float:
    """The next step after one of size ``step`` whose Newton corrector converged with
    ``factorizations`` factorisations of the Jacobian: doubled after an easy step (the
    first factors carried the corrector), halved after a hard one."""
    if factorizations <= EASY_NEWTON:
        return 2 * step
    if factorizations < HARD_NEWTON:
        return step
    return step / 2


def changed_parameters(m: pyo.Block, a: Primitives, b: Primitives) -> list:
    """The model's parameters (ParamData) whose values differ between primitives ``a``
    and ``b`` (of the same model): what a path from one to the other moves, declared
    with :func:`cge.compiled.vary` so that a large system compiled once with them as
    columns serves every step."""
    from .model import index_parameters

    out = []
    for name, datas, flat, nan_to_num, _ in index_parameters(m, a).entries:
        x, y = a[name].reshape(-1)[flat], b[name].reshape(-1)[flat]
        if nan_to_num:
            x, y = np.nan_to_num(x), np.nan_to_num(y)
        moved = ~((x == y) | (np.isnan(x) & np.isnan(y)))
        out += [datas[k] for k in np.flatnonzero(moved).tolist()]
    if a.numeraire.value != b.numeraire.value:
        out.append(m.numeraire_value)
    return out


def shorten(step: float, stats) -> float:
    """The step to retry after a Newton corrector of size ``step`` gave up (``stats``, its
    :class:`cge.solve.SolveStats`): divided by :data:`FAR_SHORTEN` if Newton found no
    decrease along its first direction, else halved."""
    far = stats.newton_steps == 0 and stats.newton_failure.startswith("stalled: no decrease")
    return step / (FAR_SHORTEN if far else 2)


class Path:
    """The solutions found along a path, and the secant predictor through the last two.

    Only free variables are extrapolated (fixed ones, e.g. under the small-open-economy
    closure, stay where they are).
    """

    def __init__(self, m: pyo.Block, variables: list | None = None):
        """``variables``: every variable of ``m`` when the caller has them listed (as
        :func:`cge.equilibrium._snapshot` does); the free ones are the path's."""
        if variables is None:
            variables = list(m.component_data_objects(pyo.Var, descend_into=True))
        fixed = np.fromiter(map(_FIXED, variables), dtype=bool, count=len(variables))
        #: positions of the free variables among ``variables``
        self._free = np.flatnonzero(~fixed)
        self._all = variables
        self._variables = None
        self.points: list[tuple[float, np.ndarray]] = []
        self._start: np.ndarray | None = None
        self._start_at: dict | None = None

    @property
    def variables(self) -> list:
        """The free variables (the path's unknowns)."""
        if self._variables is None:
            self._variables = [self._all[j] for j in self._free.tolist()]
        return self._variables

    def values(self, every: list | None = None) -> np.ndarray:
        """The free variables' values (NaN: none); ``every``: the values of every variable,
        if the caller has read them (in the order of the ``variables`` given)."""
        if every is None:
            every = [v._value for v in self._all]
        return np.array(every, dtype=float)[self._free]  # None becomes NaN

    def record(self, lam: float, every: list | None = None) -> None:
        """Add the current (solved) point at ``lam``; keeps the last two. ``every``: the
        values of every variable at that point, if read already (:meth:`values`)."""
        x = self.values(every)
        if self._start is None:
            self._start = x
        self.points = (self.points + [(lam, x)])[-2:]

    @property
    def start(self) -> dict:
        """The values at the start of the path (the first point recorded), by variable id."""
        if self._start is None:
            return {}
        if self._start_at is None:
            self._start_at = {id(v): val for v, val in zip(self.variables, self._start.tolist())}
        return self._start_at

    def fall(self, v) -> float:
        """How far log-variable ``v`` has fallen since the start of the path (in logs)."""
        x0 = self.start.get(id(v))
        return 0.0 if x0 is None or v.value is None else x0 - v.value

    @property
    def can_predict(self) -> bool:
        return len(self.points) == 2

    def predict(self, lam: float) -> None:
        """Set the free variables to the secant extrapolation at ``lam``."""
        (l0, x0), (l1, x1) = self.points
        if not l1 > l0:
            return
        guess = x1 + (lam - l1) / (l1 - l0) * (x1 - x0)
        for v, x in zip(self.variables, guess):
            if math.isfinite(x):
                v.set_value(float(x), skip_validation=True)


# --------------------------------------------------------------- why a path ends
#: A region's exports (imports) below this fraction of its imports (exports) count as vanished.
VANISHED = 1e-8
#: A surplus above this fraction of the region's own earnings counts as exhausting them.
EXHAUSTED = 0.99


def _trade(m) -> tuple[dict, dict]:
    exports = {r: 0.0 for r in m.regions}
    imports = {r: 0.0 for r in m.regions}
    for s in m.sectors:
        blk = m.sector[s]
        for (n, i) in blk.routes:
            if n != i:
                x = pyo.value(blk.trade_value[n, i])
                exports[i] += x
                imports[n] += x
    return exports, imports


#: A sector whose output (composite input) fell by more than this in logs (a factor of
#: 1e-3) since the start of the path counts as shutting down.
COLLAPSE = math.log(1e3)


def explain(m: pyo.Block, lam: float, deficit_closure: str | None = None,
            path: Path | None = None) -> list[str]:
    """Conditions for an equilibrium that fail (or are about to fail) at the current point
    of the path (the last solution, at ``lam``), each naming the region or route.

    * A region with a deficit must import more than it exports by the deficit
      (:math:`M_n - X_n = D_n`); if its exports have vanished, its imports
      alone must carry the deficit, and when the shock shrinks what it can
      import (tariffs, trade costs) below the deficit no equilibrium holds the
      deficit fixed. Likewise a surplus with vanished imports.
    * A region whose surplus takes (nearly) all it earns: income
      :math:`I_n = Y_n + \\ldots + D_n` cannot stay positive.
    * Melitz cutoffs at the Pareto lower bound (every entrant would sell).
    * A sector shutting down in a region (its output fallen by more than a
      factor of 1e3 since the start of the path, ``path``): complete
      specialisation, a corner that free entry with a positive mass of entrants
      and Cobb-Douglas demand do not describe.
    """
    out = []
    exports, imports = _trade(m)
    world = sum(pyo.value(m.income[r]) for r in m.regions)
    unit = {"world_income_share": "each held at its benchmark share of world income",
            "numeraire": "fixed in numeraire units"}.get(deficit_closure, "held fixed")
    carry, exhausted = [], []
    for r in m.regions:
        d = pyo.value(m.deficit_value[r])
        income = pyo.value(m.income[r])
        if abs(d) <= 1e-12 * world:
            continue
        side, other = (exports[r], imports[r]) if d > 0 else (imports[r], exports[r])
        if other > 0 and side < VANISHED * other:
            carry.append((abs(d), f"{r} ({'deficit' if d > 0 else 'surplus'} {abs(d) / world:.3%}"
                                  f" of world income; its {'exports' if d > 0 else 'imports'} "
                                  f"{side / other:.1e} of its {'imports' if d > 0 else 'exports'})"))
        own = income - d  # what the region earns itself
        if d < 0 and own > 0 and -d > EXHAUSTED * own:
            exhausted.append(f"{r} (surplus {-d / own:.1%} of its earnings)")
    if carry:
        carry.sort(reverse=True)
        listed = "; ".join(c for _, c in carry[:4]) + (f"; and {len(carry) - 4} more"
                                                      if len(carry) > 4 else "")
        out.append(
            f"deficits ({unit}) can no longer be carried at lambda = {lam:.4g}: in "
            f"{len(carry)} region(s) trade on one side has all but vanished, so the other "
            f"side alone must carry the deficit or surplus (the balance of payments "
            f"M - X = D) while the shock shrinks it further: {listed}. No equilibrium "
            "holds these deficits fixed; the zero_baseline deficit closure "
            "(closure: {deficit: zero_baseline}) closes them first and removes this condition.")
    if exhausted:
        out.append(
            f"surpluses ({unit}) take nearly all that a region earns at lambda = {lam:.4g}: "
            f"{'; '.join(exhausted[:4])}; income (earnings minus the surplus) is about to "
            "reach zero, where no equilibrium exists. The zero_baseline deficit closure "
            "removes this condition.")
    if path is not None:
        for s in m.sectors:
            blk = m.sector[s]
            for r in m.regions:
                drop = path.fall(blk.log_input_demand[r])
                if drop > COLLAPSE:
                    d, income = pyo.value(m.deficit_value[r]), pyo.value(m.income[r])
                    financed = (f" Its deficit, {d / income:.0%} of its income ({unit}), pays "
                                "for the imports that replace this production; the "
                                "zero_baseline deficit closure removes it."
                                if d > 0.05 * income else "")
                    out.append(
                        f"sector {s} in {r} is shutting down: at lambda = {lam:.4g} its output "
                        f"has fallen to {math.exp(-drop):.2e} of its value at the start of the "
                        "shock (complete specialisation). The model has no corner solutions "
                        "(free entry with a positive mass of entrants; every sector produced "
                        "where it is demanded), so no equilibrium exists beyond this point on "
                        "the path; a smaller shock, a sector-specific factor or an Armington "
                        "sector with a less elastic demand keeps the sector alive." + financed)
    low = []
    for s in m.sectors:
        blk = m.sector[s]
        if not blk.is_melitz:
            continue
        for (n, i) in blk.routes:
            if pyo.value(blk.cutoff[n, i]) < 1.001 * pyo.value(blk.phi_min[i]):
                low.append(f"(destination={n}, origin={i}, sector={s})")
    if low:
        out.append(f"Melitz cutoffs reach the Pareto lower bound at lambda = {lam:.4g} on "
                   f"{len(low)} route(s) ({'; '.join(low[:5])}): beyond it every entrant "
                   "would sell there and the Pareto aggregates do not hold; raise the fixed "
                   "costs f of these routes or lower phi_min.")
    return out
