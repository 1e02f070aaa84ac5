r"""Solver options chosen by the size and structure of the equation system (issue 14).

Which Hessian IPOPT uses, which linear-solver (MUMPS) options it gets, and how
many compiled systems are kept alive, by the number of equations of the square
system and its formulation; options a caller names always win. Every choice
below was measured on the economy of ``bench/bench_scale.py`` (a calibrated
all-Melitz economy with input-output links; the shock is a 10% cut of every
tariff of the largest region) on a 2-core machine shared with other jobs:
CPU seconds of IPOPT (steadier than wall seconds there). docs/model.md
("Solver options by size") has the same tables and the command to reproduce.

**Hessian** (:func:`hessian_options`). The system is square, so IPOPT's Newton
step on the equations comes from the Jacobian alone; the Hessian of the
Lagrangian only moves the multipliers. In the reduced formulation
(``route_unknowns=False``: trade values and cutoffs closed-form Expressions of
each sector's aggregates) a destination's price index is a log-sum-exp over
every origin, so its exact Hessian is dense within each sector: 390,750
non-zeros at 30 x 20 (4,290 equations; Jacobian 193,310), 1,311,075 at
45 x 30 (9,585 equations; Jacobian 637,365). Solves that start from or near a
solution (every homotopy step, a calibrated benchmark) therefore use
:data:`LIMITED_MEMORY` above :data:`LARGE_REDUCED_MODEL` equations (with
route unknowns, above :data:`LARGE_MODEL`). IPOPT's seconds for the shock
(3 iterations with either Hessian):

=================  =============  ==============  ==============================
size (equations)   exact Hessian  limited-memory  limited-memory, ``recalc_y: no``
=================  =============  ==============  ==============================
10 x 10 (730)      0.18 s         0.06 s          0.05 s (4 factorisations, not 5)
30 x 20 (4,290)    34.2 s         3.3 s           2.8 s
=================  =============  ==============  ==============================

``recalc_y: no``: with a quasi-Newton Hessian IPOPT re-estimates the
multipliers by least squares once the constraint violation is small, at the
price of one factorisation each time; the objective is zero, so the
multipliers only have to vanish, which the Newton steps make them do. The
solution is the same (largest difference 2e-16 in logs at 30 x 20).

From a cold start (the closed-economy guess) the exact Hessian is kept: there
the quasi-Newton multipliers mislead the line search (a 10 x 10 economy with
route unknowns: 65 s instead of 5 s). Below the thresholds (the 3 x 3 example,
about 50 equations) the exact Hessian converges quadratically to residuals of
1e-14 at no cost worth saving. A reformulation that keeps the exact Hessian
sparse (auxiliary variables for the shares in each price index) was not
pursued: with the Hessian out of the factorisation the limited-memory solve
takes as many iterations as the exact one, and each is ten times cheaper.

**MUMPS** (:func:`linear_solver_options`). The MUMPS shipped with cyipopt's
wheels has only the AMD (0), AMF (2) and QAMD (6) orderings: METIS (5), SCOTCH
(3) and PORD (4) fall back to the default with a warning ("METIS not
available. Ordering set to default"), so earlier timings of "METIS" and "PORD"
measured AMF. MUMPS's automatic choice (7) picks AMF. At 30 x 20, the shock
(limited-memory Hessian, before ``recalc_y: no``):

=====================================================  ===========
MUMPS option                                           IPOPT CPU s
=====================================================  ===========
defaults (automatic ordering: AMF, scaling 77)          3.3
``mumps_pivot_order: 6`` (QAMD)                         20.5
``mumps_pivot_order: 0`` (AMD)                          19
``mumps_scaling: 0``                                    26.9
``mumps_permuting_scaling: 0``                          3.4
``mumps_pivtol: 1e-8`` / ``1e-4`` (default 1e-6)        3.3 / 3.5
``residual_ratio_max: 1e-6``                            3.3
=====================================================  ===========

The initial quasi-Newton diagonal (``limited_memory_initialization:
constant`` with ``limited_memory_init_val`` 1e3 or 1e6) changes neither the
delayed pivots (2,592) nor the time; 1e-3 takes 9.9 s. ``mumps_mem_percent``
(the workspace MUMPS allocates beyond its estimate; IPOPT's default 1000%) sets
the address space, not the resident memory: at 45 x 30 MUMPS allocates 2,993
MB and uses 457 MB; at 100% it allocates 551 MB and the peak is the same (2.14
against 2.15 GB); at 5% the peak falls to 1.87 GB but IPOPT takes 80 s instead
of 25 s (the workspace runs short and the factorisation is repeated). So MUMPS
keeps its defaults at every size.

The factorisation is where the time goes at scale. MUMPS's statistics for the
KKT matrix of the shock (``bench/bench_scale.py`` prints them):

=======  =========  ===========  ==================  ===================
size     KKT order  KKT nnz      entries in factors  one factorisation
=======  =========  ===========  ==================  ===================
30 x 20  8,580      206,180      7.2 M (35 x)        1.4e10 flops, 0.55 s
45 x 30  19,170     666,120      32.8 M (49 x)       about 6 CPU s
60 x 40  33,960     1,543,960    74.8 M (48 x)       about 19 CPU s
=======  =========  ===========  ==================  ===================

The factors fill in nearly as a dense matrix would: every sector's price
indices couple all origins with all destinations, and the input-output links
couple all sectors of a region, so no ordering finds small separators.

**Compiled systems kept** (:func:`compiled_kept`). A compiled system (Pyomo's
NL file loaded by the AMPL Solver Library, which builds the Hessian's
structure even when IPOPT never asks for it) holds about a kilobyte per
Jacobian non-zero outside Python: 0.2 to 0.25 GB at 30 x 20, 0.63 GB at
45 x 30. Above :data:`LARGE_COMPILED` equations only one is kept, and a stale
one is released *before* the next is compiled, so that two never coexist:
peak memory at 30 x 20 0.85 -> 0.73 GB, at 45 x 30 2.46 -> 2.15 GB, at 60 x 40
5.1 -> 4.10 GB (IPOPT solving the shock). With warm solves by :mod:`cge.newton`
(IPOPT not called in the shock) 60 x 40 peaked at 3.59 GB, and at 3.72 GB without
the release of stale systems and :data:`NL_FILE_OPTIONS`; since the residual checks
and Newton solves above :data:`cge.solve.PARAMETRIC_MAX_WORK` use a numpy tape of the
equations (:mod:`cge.tape`: no NL file, no AMPL Solver Library, compiled once per
structure), it peaks at 3.0 GB (the Newton method's sparse LU included).

Since warm solves go to :mod:`cge.newton` first, the Hessian and MUMPS choices
apply to the IPOPT calls that remain: cold starts, and warm solves the Newton
method gives up on.
"""

from __future__ import annotations

__all__ = [
    "LARGE_MODEL", "LARGE_REDUCED_MODEL", "LARGE_COMPILED", "LIMITED_MEMORY", "NL_FILE_OPTIONS",
    "LARGE_MODEL_OPTIONS", "hessian_options", "linear_solver_options", "compiled_kept",
    "choose",
]

#: Models with route unknowns and more equations than this get :data:`LIMITED_MEMORY`
#: when they start from or near a solution.
LARGE_MODEL = 10_000
#: The same threshold for the reduced formulation (``route_unknowns=False``), whose
#: exact Hessian is dense within each sector: a 10 x 10 economy (730 equations) is
#: above it, the 3 x 3 example (about 50) below.
LARGE_REDUCED_MODEL = 500
#: A limited-memory Hessian, and no least-squares estimates of the multipliers, neither
#: at the start (``constr_mult_init_max: 0``) nor during the iterations (``recalc_y:
#: no``; IPOPT turns it on with a quasi-Newton Hessian): each costs a factorisation, and
#: the objective is zero, so the multipliers only have to vanish, which the Newton
#: steps make them do (one iteration behind the primal ones).
LIMITED_MEMORY = {"hessian_approximation": "limited-memory", "constr_mult_init_max": 0.0,
                  "recalc_y": "no"}
#: The name :mod:`cge.equilibrium` has always used for :data:`LIMITED_MEMORY`.
LARGE_MODEL_OPTIONS = LIMITED_MEMORY
#: Options of Pyomo's NL writer for every compiled system: named Expressions written
#: inline rather than as AMPL "defined variables", which the AMPL Solver Library
#: holds with derivative and Hessian information of their own. The same equations;
#: the compiled system is smaller and quicker to build (30 x 20: 0.20 -> 0.17 GB, 3.7 ->
#: 3.3 CPU s; 45 x 30: 0.56 -> 0.49 GB, 14.6 -> 13.0 CPU s).
NL_FILE_OPTIONS = {"export_defined_variables": False}
#: Above this many equations a cache keeps one compiled system, not two.
LARGE_COMPILED = 2_000
#: Compiled systems (structures) kept below :data:`LARGE_COMPILED` (e.g. the
#: benchmark's and the small-open-economy closure's).
COMPILED_KEPT_SMALL = 2


def is_large(n_equations: int, route_unknowns: bool) -> bool:
    """Whether a system of ``n_equations`` gets the large-size options."""
    return n_equations > (LARGE_MODEL if route_unknowns else LARGE_REDUCED_MODEL)


def hessian_options(n_equations: int, route_unknowns: bool = False) -> dict:
    """IPOPT's Hessian for a solve from or near a solution: :data:`LIMITED_MEMORY` for
    large systems (:func:`is_large`), nothing (the exact Hessian) otherwise."""
    return dict(LIMITED_MEMORY) if is_large(n_equations, route_unknowns) else {}


def linear_solver_options(n_equations: int) -> dict:
    """MUMPS options by size: none. Its defaults (automatic ordering, which picks AMF;
    scaling; pivot tolerance 1e-6) measured best at every size (see the module's
    table), and the other orderings are not in the MUMPS that cyipopt ships."""
    return {}


def compiled_kept(n_equations: int) -> int:
    """How many compiled systems a cache keeps for a model of ``n_equations``."""
    return 1 if n_equations > LARGE_COMPILED else COMPILED_KEPT_SMALL


def choose(n_equations: int, *, route_unknowns: bool = False, warm: bool = True) -> dict:
    """All the options chosen for one solve, for documentation and tests: the Hessian's
    (for a warm start; a cold start keeps the exact Hessian), MUMPS's, and
    ``compiled_kept``."""
    out = hessian_options(n_equations, route_unknowns) if warm else {}
    out.update(linear_solver_options(n_equations))
    out["compiled_kept"] = compiled_kept(n_equations)
    return out
