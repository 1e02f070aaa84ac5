r"""Warm solves as Newton solves: a chord Newton method on the compiled square system.

A shock's homotopy step, or a small shock, starts near a solution: the
Jacobian changes little between the start and the solution, and IPOPT's
interior-point machinery (a barrier, a factorisation of the KKT matrix at every
iteration and once more at convergence, a line search on a merit function) is
more than the step needs. :func:`solve` solves :math:`F(x) = 0` (the square
system of :class:`cge.compiled.CompiledSystem`, parameter columns held at
their values) by Newton's method with a reused factorisation:

1. Factorise the Jacobian :math:`J(x_k)` once (``scipy.sparse.linalg.splu``,
   a sparse LU with a fill-reducing column ordering, on the free columns only;
   systems of at most :data:`DENSE_MAX` equations: a dense LU, LAPACK's ``getrf``,
   faster there than the sparse one and its set-up).
2. Step :math:`x_{k+1} = x_k + t\,d_k` with :math:`d_k = -J^{-1} F(x_k)`
   (a back-solve with the kept factors), :math:`t = 1` if that lowers the
   residual norm :math:`\|F\|_2` enough (:math:`\|F(x_{k+1})\|_2 \le
   (1 - 10^{-4} t)\|F(x_k)\|_2`, Armijo's condition on :math:`\tfrac12\|F\|^2`).
3. Keep the factors while they contract the residual fast (each step at
   least by :data:`SLOW_CONTRACTION`); when a full step is refused or the
   contraction slows, refactorise at the current point. With fresh factors a
   refused full step is halved (backtracking) down to :data:`MIN_STEP`.
4. Stop when the largest residual is within the solver's tolerance (the same
   :data:`cge.tolerance.SOLVER_TOL` as IPOPT's ``tol``), after at most
   :data:`POLISH_STEPS` more steps that take it towards
   :data:`cge.solve.POLISH_BELOW` (what IPOPT's polished points reach).

It gives up, leaving the model untouched, when it stalls (no decrease with
fresh factors; more than :data:`MAX_FACTORIZATIONS` factorisations or
:data:`MAX_STEPS` steps), when a step leaves the variables' bounds, when the
Jacobian is singular or the equations cannot be evaluated, or when the time
is up; the caller (:func:`cge.solve.run_ipopt`) then runs IPOPT from the same
start. Between refactorisations each step costs one back-solve and one
evaluation of the equations, so that a warm step at 30 x 20 takes one or two
factorisations where IPOPT takes one per iteration.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .tolerance import SOLVER_TOL

__all__ = ["NewtonResult", "solve"]

#: Most back-solves (Newton steps) before giving up.
MAX_STEPS = 40
#: Most factorisations of the Jacobian before giving up.
MAX_FACTORIZATIONS = 6
#: A step with kept factors must shrink the residual norm by at least this factor,
#: or the next step refactorises.
SLOW_CONTRACTION = 0.3
#: Shortest step of the backtracking line search (fresh factors) before giving up.
MIN_STEP = 1.0 / 64
#: Armijo's constant of the sufficient-decrease test.
ARMIJO = 1e-4
#: Steps after the tolerance is met that keep lowering the largest residual (each kept
#: only if it does) while it is above :data:`cge.solve.POLISH_BELOW`.
POLISH_STEPS = 2
#: Largest system (equations) factorised as a dense matrix (LAPACK getrf, :class:`_DenseLU`).
#: Measured on 3 x 3 economies (72 equations): building the dense Jacobian and its LU
#: take 0.1 ms where the sparse Jacobian's free columns and ``splu`` take 0.36 ms; at
#: 10 x 10 (730 equations) the two LUs take about the same time, and the sparse one
#: needs far less memory above that.
DENSE_MAX = 300


def _norm(v: np.ndarray) -> float:
    """The Euclidean norm of a real vector as ``np.linalg.norm`` computes it (the square
    root of ``v.dot(v)``, the same float), without its dispatch."""
    return math.sqrt(float(v.dot(v)))


class _DenseLU:
    """A dense LU factorisation (LAPACK's ``getrf``, what ``scipy.linalg.lu_factor``
    calls) with the ``solve`` of scipy's ``SuperLU`` (``getrs``, without
    ``lu_solve``'s checks: a few microseconds a back-solve instead of ten)."""

    def __init__(self, matrix: np.ndarray):
        from scipy.linalg import lapack

        self._lu, self._piv, info = lapack.dgetrf(matrix)
        if info < 0:
            raise ValueError(f"getrf: illegal argument {-info}")
        if info > 0:  # refuse an exactly singular matrix, as splu does
            raise RuntimeError("the factor U is exactly singular")
        self._getrs = lapack.dgetrs

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        x, info = self._getrs(self._lu, self._piv, rhs)
        if info != 0:
            raise ValueError(f"getrs: illegal argument {-info}")
        return x


def dense_jacobian(system) -> np.ndarray | None:
    """The Jacobian's free columns (what ``system.jacobian()`` returns) as a dense array,
    built straight from the compiled NLP's COO Jacobian (small systems: the sparse
    column selection costs more than the factorisation); ``None`` for systems other
    than :class:`cge.compiled.CompiledSystem` and :class:`cge.compiled.FoldedSystem`.

    The Jacobian's sparsity is the compiled NLP's, fixed when it was compiled: where each
    entry goes in the dense array is found once per system (kept on it), and the values
    are copied into one COO matrix kept with it (``evaluate_jacobian(out=...)``)."""
    from .compiled import CompiledSystem, FoldedSystem

    if not isinstance(system, (CompiledSystem, FoldedSystem)):
        return None
    layout = system.__dict__.get("_dense_jacobian")
    if layout is None or layout[0] is not system.nlp:
        jac = system.nlp.evaluate_jacobian()
        rows, free = jac.shape[0], system.free
        column = np.full(jac.shape[1], -1, dtype=np.int64)  # NLP column -> free column
        column[free] = np.arange(len(free))
        col = column[jac.col]
        keep = col >= 0  # (entries of parameter columns dropped)
        flat = np.asarray(jac.row, dtype=np.int64)[keep] * len(free) + col[keep]
        layout = system._dense_jacobian = (system.nlp, jac, keep, flat, (rows, len(free)))
    _, jac, keep, flat, shape = layout
    system.nlp.evaluate_jacobian(out=jac)
    return np.bincount(flat, weights=jac.data[keep],
                       minlength=shape[0] * shape[1]).reshape(shape)


#: Krylov steps (``solve(krylov=True)``): the Newton equation :math:`J(x_k)\,d = -F(x_k)`
#: is solved by GMRES, preconditioned with the kept factors, to a relative residual of
#: :math:`\|F(x_k)\|_2` within these bounds (an inexact Newton method: loose far from the
#: solution, where the equations' curvature dominates the step's error, and tight near
#: it, where the convergence stays quadratic)...
KRYLOV_TOL = (1e-10, 1e-4)
#: ... in at most this many GMRES iterations (each a back-solve with the kept factors and
#: a product with the Jacobian); if it needs more, the Jacobian is factorised instead.
KRYLOV_ITERATIONS = 50


@dataclass
class NewtonResult:
    """What one Newton solve did."""

    converged: bool
    #: why it stopped ("converged", or why it gave up)
    reason: str
    #: Newton steps taken (back-solves)
    steps: int
    factorizations: int
    #: evaluations of the equations (residual vectors)
    evaluations: int
    max_residual: float
    #: wall and CPU seconds of the method (evaluations, factorisations, back-solves)
    time: float
    cpu_time: float
    #: the final point (the full primal vector of the compiled NLP)
    x: np.ndarray | None = None
    #: the last factorisation of the Jacobian (``scipy.sparse.linalg.splu``), or the
    #: ``factors`` passed in if none was made: what a next solve of the same system may
    #: start from (``solve(factors=...)``)
    factors: object | None = None
    #: steps whose direction GMRES solved with the kept factors as preconditioner
    #: (``solve(krylov=True)``; counted in ``steps`` too)
    krylov_steps: int = 0


def solve(system, tol: float = SOLVER_TOL, *, polish_below: float = 1e-13,
          deadline: float | None = None, max_steps: int | None = None,
          max_factorizations: int | None = None,
          start_residuals: np.ndarray | None = None, factors=None,
          krylov: bool = False) -> NewtonResult:
    r"""Solve the compiled system from its current start (:meth:`CompiledSystem.update`).

    Returns a :class:`NewtonResult`; the model is not touched (the caller loads
    ``x`` on convergence). ``deadline`` is a :func:`time.perf_counter` value;
    ``max_steps`` and ``max_factorizations`` default to :data:`MAX_STEPS` and
    :data:`MAX_FACTORIZATIONS`. ``start_residuals``: the residuals at the start, when
    the caller has evaluated them (:meth:`CompiledSystem.residuals` after ``update``);
    they are not evaluated again.

    ``factors``, a factorisation of the same system's Jacobian at another point (an
    earlier solve's :attr:`NewtonResult.factors`, e.g. at the previous step of a path),
    are the kept factors from the start: the first steps are chord steps. With
    ``krylov``, kept factors that contract the residual too slowly (or whose full step is
    refused) are not replaced by a factorisation: the next steps are Newton steps whose
    equation :math:`J(x_k)\,d = -F(x_k)` GMRES solves with the kept factors as its
    preconditioner (:data:`KRYLOV_TOL`; one evaluation of the Jacobian and a few
    back-solves each, where a factorisation of the Caliendo-Parro system costs as much as
    a few dozen back-solves); the Jacobian is factorised again only when GMRES needs more
    than :data:`KRYLOV_ITERATIONS` iterations, when no decrease is found along its
    direction, or when a step leaves the variables' bounds. The point solved is the same
    (every step is checked on the equations themselves); only the route to it changes.
    """
    from scipy.sparse.linalg import splu

    t0, c0 = time.perf_counter(), time.process_time()
    max_steps = MAX_STEPS if max_steps is None else max_steps
    max_factorizations = MAX_FACTORIZATIONS if max_factorizations is None else max_factorizations
    nlp, free = system.nlp, system.free
    lb, ub = system.bounds()
    # (no finite bound: no step can leave them, and none is compared)
    bounded = bool(np.isfinite(lb).any() or np.isfinite(ub).any())
    counts = {"evaluations": 0}

    def residual(x):
        counts["evaluations"] += 1
        nlp.set_primals(x)
        with np.errstate(all="ignore"):
            g = np.asarray(nlp.evaluate_constraints(), dtype=float)  # (a copy already)
        return g if np.isfinite(g).all() else None

    def done(ok, reason, x, g):
        res = float(np.abs(g).max()) if g is not None and g.size else (0.0 if g is not None
                                                                      else float("inf"))
        return NewtonResult(ok, reason, steps, factorizations, counts["evaluations"], res,
                            time.perf_counter() - t0, time.process_time() - c0, x,
                            lu if lu is not None else last_lu, krylov_steps)

    steps = factorizations = krylov_steps = 0
    lu = last_lu = factors  # the kept factors; the last ones made, to hand on
    factors = None  # (only lu and last_lu hold them: both are dropped before a factorisation)
    slow_chord = False  # with ``krylov``: the kept factors contract too slowly
    x = system.start()
    if len(free) != nlp.n_constraints():
        return done(False, "the system is not square", x, None)
    try:
        if start_residuals is not None:
            g = np.array(start_residuals, dtype=float)
            g = g if np.isfinite(g).all() else None
        else:
            g = residual(x)
    except Exception as exc:  # an evaluation error at the start
        return done(False, f"the equations cannot be evaluated at the start ({exc})", x, None)
    if g is None:
        return done(False, "the equations are not finite at the start", x, None)
    norm = _norm(g)
    fresh, polishing = False, 0
    while True:
        largest = float(np.abs(g).max()) if g.size else 0.0
        if largest <= tol and (largest <= polish_below or polishing >= POLISH_STEPS):
            return done(True, "converged", x, g)
        if largest <= tol:
            polishing += 1
        if steps >= max_steps:
            return done(False, f"no convergence in {max_steps} steps", x, g)
        if deadline is not None and time.perf_counter() > deadline:
            return done(False, "time limit reached", x, g)
        if lu is None:
            if factorizations >= max_factorizations:
                return done(False, f"stalled: {factorizations} factorisations without "
                                   "convergence", x, g)
            last_lu = None  # old factors never coexist with new ones (memory at scale)
            try:
                nlp.set_primals(x)
                # (Krylov paths keep sparse factors, which the next solve is handed)
                dense = (dense_jacobian(system) if len(free) <= DENSE_MAX and not krylov
                         else None)
                if dense is not None:
                    if not np.isfinite(dense).all():
                        raise ValueError("the Jacobian is not finite")
                    lu = _DenseLU(dense)
                else:
                    jac = system.jacobian()
                    with np.errstate(all="ignore"):
                        if not np.isfinite(jac.data).all():
                            raise ValueError("the Jacobian is not finite")
                        lu = splu(jac, permc_spec="COLAMD")
            except Exception as exc:  # singular or not finite
                return done(False, f"the Jacobian cannot be factorised ({exc})", x, g)
            factorizations += 1
            fresh, last_lu, slow_chord = True, lu, False
        # a Newton direction (fresh factors, or GMRES on the Jacobian here) may be
        # shortened; a chord direction (kept factors) is replaced rather than shortened
        newton_direction = fresh
        if krylov and slow_chord and not fresh:
            step = _krylov_direction(system, x, g, lu, min(max(norm, KRYLOV_TOL[0]),
                                                           KRYLOV_TOL[1]))
            if step is None:  # GMRES did not converge: factorise here
                if polishing:  # (not for a polish step: the tolerance is met)
                    nlp.set_primals(x)
                    return done(True, "converged", x, g)
                lu = None
                continue
            newton_direction = True
        else:
            with np.errstate(all="ignore"):
                step = lu.solve(-g)
        if not np.isfinite(step).all():
            if fresh:
                return done(False, "the Newton step is not finite", x, g)
            lu = None
            continue
        t, accepted = 1.0, None
        while t >= MIN_STEP:
            trial = x.copy()
            trial[free] += t * step
            xf = trial[free]
            if bounded and ((xf < lb).any() or (xf > ub).any()):
                if polishing or (krylov and not fresh):
                    break  # with ``krylov``: factorise here first
                return done(False, "a Newton step leaves the variables' bounds", x, g)
            try:
                gt = residual(trial)
            except Exception:
                gt = None
            if gt is not None:
                nt = _norm(gt)
                if polishing:
                    if gt.size and np.abs(gt).max() < largest:
                        accepted = (trial, gt, nt)
                    break
                if nt <= (1 - ARMIJO * t) * norm:
                    accepted = (trial, gt, nt)
                    break
            if not newton_direction:
                break  # refactorise rather than shorten a step from old factors
            t /= 2
        if accepted is None:
            if polishing:  # the tolerance is met; the polish step did not help
                nlp.set_primals(x)
                return done(True, "converged", x, g)
            if fresh:
                return done(False, "stalled: no decrease along the Newton direction", x, g)
            if krylov and not slow_chord:
                slow_chord = True  # a Krylov step next, from the same factors
            else:
                lu = None
            continue
        steps += 1
        krylov_steps += int(newton_direction and not fresh)
        trial, gt, nt = accepted
        slow = t < 1.0 or nt > SLOW_CONTRACTION * norm
        x, g, norm = trial, gt, nt
        fresh = False
        if slow and not polishing:
            if krylov:
                slow_chord = True
            else:
                lu = None


def _krylov_direction(system, x: np.ndarray, g: np.ndarray, lu,
                      rtol: float) -> np.ndarray | None:
    r"""The Newton direction :math:`d` of :math:`J(x)\,d = -g` by GMRES with the factors
    ``lu`` (of the Jacobian elsewhere) as preconditioner, to the relative residual
    ``rtol``; None if the Jacobian is not finite or GMRES does not get there in
    :data:`KRYLOV_ITERATIONS` iterations."""
    system.nlp.set_primals(x)
    try:
        jac = system.jacobian()
    except Exception:  # an evaluation error: factorising here will say what it is
        return None
    with np.errstate(all="ignore"):
        if not np.isfinite(jac.data).all():
            return None
        d = gmres(jac, -g, lu.solve, rtol, KRYLOV_ITERATIONS)
        # checked on the equation itself (the method's estimate is rounded too)
        if d is None or not np.isfinite(d).all() or \
                np.linalg.norm(jac @ d + g) > 10 * rtol * np.linalg.norm(g):
            return None
    return d


def gmres(a, b: np.ndarray, precondition, rtol: float, iterations: int) -> np.ndarray | None:
    r"""The solution of :math:`A x = b` by GMRES (Saad and Schultz's generalised minimal
    residual method) with right preconditioning: :math:`A M^{-1} y = b`, :math:`x =
    M^{-1} y`, ``precondition`` applying :math:`M^{-1}` (here a back-solve with the
    factors of a nearby Jacobian), so that the residual minimised is the equation's own;
    the Krylov basis is orthogonalised by classical Gram-Schmidt twice. Returns None if
    the relative residual :math:`\|b - Ax\|_2 / \|b\|_2` is still above ``rtol`` after
    ``iterations`` iterations (no restart). (SciPy's ``gmres`` preconditions from the left
    and stops on the preconditioned residual.)"""
    beta = float(np.linalg.norm(b))
    if beta == 0.0:
        return np.zeros_like(b)
    n = len(b)
    basis = np.empty((iterations + 1, n))
    directions = np.empty((iterations, n))
    hessenberg = np.zeros((iterations + 1, iterations))
    basis[0] = b / beta
    for k in range(iterations):
        directions[k] = precondition(basis[k])
        w = a @ directions[k]
        h = basis[:k + 1] @ w
        w -= h @ basis[:k + 1]
        h2 = basis[:k + 1] @ w
        w -= h2 @ basis[:k + 1]
        hessenberg[:k + 1, k] = h + h2
        hessenberg[k + 1, k] = norm = float(np.linalg.norm(w))
        rhs = np.zeros(k + 2)
        rhs[0] = beta
        y = np.linalg.lstsq(hessenberg[:k + 2, :k + 1], rhs, rcond=None)[0]
        residual = float(np.linalg.norm(rhs - hessenberg[:k + 2, :k + 1] @ y))
        if residual <= rtol * beta or norm == 0.0:
            return y @ directions[:k + 1]
        basis[k + 1] = w / norm
    return None
