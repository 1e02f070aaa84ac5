"""The user-facing object: build once, solve the benchmark, then solve shocks.

>>> eq = Equilibrium(primitives)                # checks input, builds the model
>>> base = eq.solve()                           # the benchmark equilibrium
>>> cut = eq.solve(tariff=0.9 * primitives["tariff"])   # stepped in if needed
>>> cut.compare(base).welfare                   # doctest: +SKIP

Every solve checks squareness and structural nonsingularity first, starts
from the last solution, steps large shocks in (homotopy on the shocked
parameters, halving the step on failure), and afterwards verifies residuals,
Walras' law and selection on every Melitz route. The benchmark is solved by
IPOPT; a shock's steps, which start near a solution, by the Newton method of
:mod:`cge.newton` (IPOPT when it gives up). The equations are compiled once per
model structure (:mod:`cge.compiled`): a shock writes parameter values, never
a new NLP. Failures raise :class:`~cge.errors.SolveError` with a
:class:`~cge.solve.Diagnosis`.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .checks import check_primitives
from .blocks.outside import check_outside_good_solution
from .closure import apply_small_open_economy
from .collector import few_full_collections
from .continuation import (
    NEWTON_ATTEMPTS, Path as SolutionPath, explain, interpolate, newton_first,
    next_newton_step, next_step, shorten,
)
from .compiled import vary
from .deficits import describe as describe_deficits, hold_deficits, varying_parameters
from .errors import InputError, SolveError
from .model import build_model, index_parameters, initialize_guess, set_parameters
from .parameters import PARAMETERS
from .primitives import Numeraire, Primitives, same_values
from .results import Results, extract
from .shape import shape
from .solve import (
    RESIDUAL_TOL, SolveStats, bounded_logs, check_selection, diagnose, residual_homotopy,
    run_ipopt, structure_signature, walras_residual,
)
from .solver_options import LARGE_MODEL, LARGE_MODEL_OPTIONS, LARGE_REDUCED_MODEL
from .tolerance import WALRAS_TERMS, limit

#: Walras' law: the market left out may carry the residuals of this many markets.
WALRAS_TOL = limit(terms=WALRAS_TERMS)


class Equilibrium:
    """A built general-equilibrium model and its current solution.

    Parameters
    ----------
    primitives:
        :class:`Primitives`, a mapping in the primitives format, or a path to a
        YAML/JSON file.
    solver:
        ``"cyipopt"`` or ``"ipopt"``; default: whichever is available
        (:func:`cge.toolchain.default_solver`).
    options:
        IPOPT options overriding :data:`cge.solve.DEFAULT_OPTIONS`.
    min_step:
        Smallest homotopy step before a shock is declared failed.
    small_open_economy:
        A region (the rest of the world) held at its benchmark values after the
        benchmark solve: see :mod:`cge.closure`.
    time_limit:
        Wall-clock seconds one :meth:`solve` may spend (IPOPT calls and homotopy
        steps together) before it stops with a :class:`SolveError`; default
        :data:`DEFAULT_TIME_LIMIT`.
    progress:
        Called as ``progress(lam, stats)`` after every successful homotopy step.
    route_unknowns:
        Trade values and cutoffs as unknowns with their own equations (``True``) or as
        closed-form Expressions of the aggregates (``False``); default
        :data:`cge.model.ROUTE_UNKNOWNS` (see :func:`cge.model.build_model`).
    newton:
        Solve warm starts (homotopy steps of a shock) near a solution with the chord
        Newton method of :mod:`cge.newton` first, IPOPT only if it gives up
        (default); ``False``: IPOPT always (cyipopt only; the ``ipopt`` executable
        always runs IPOPT).
    """

    def __init__(self, primitives, *, solver: str | None = None, options: dict | None = None,
                 min_step: float = 1e-3, time_limit: float | None = None,
                 small_open_economy: str | None = None, progress=None,
                 route_unknowns: bool | None = None, newton: bool = True):
        if isinstance(primitives, (str, Path)):
            primitives = Primitives.from_file(primitives)
        elif isinstance(primitives, Mapping):
            primitives = Primitives.from_mapping(primitives)
        elif not isinstance(primitives, Primitives):
            raise InputError(f"primitives: expected Primitives, a mapping or a file path, "
                             f"got {type(primitives).__name__}")
        self.primitives: Primitives = primitives
        self.solver = solver
        self.options = dict(options or {})
        self.min_step = min_step
        self.time_limit = float(time_limit) if time_limit is not None else DEFAULT_TIME_LIMIT
        if not self.time_limit > 0:
            raise InputError(f"time_limit: must be positive seconds, got {time_limit!r}")
        if small_open_economy is not None and small_open_economy not in primitives.regions:
            raise InputError(f"small_open_economy: unknown region {small_open_economy!r}; "
                             f"regions are {list(primitives.regions)}")
        self.small_open_economy = small_open_economy
        self._deadline = None
        self.progress = progress
        self.newton = bool(newton)
        t0 = time.perf_counter()
        # every object made here survives: full collections would walk them all again and
        # again and free nothing (cge.collector; 30 x 20: 4.1-5.4 CPU s with, 2.0 without)
        with few_full_collections():
            self.model = build_model(primitives, route_unknowns=route_unknowns)
            self._route_unknowns = any(self.model.sector[s].route_unknowns
                                       for s in self.model.sectors)
            index_parameters(self.model, primitives)  # so that a shock writes its values at once
            # what the deficit closure changes after the benchmark: columns of a large system
            vary(self.model, varying_parameters(self.model, primitives.closure.deficit))
            self.build_time = time.perf_counter() - t0
            initialize_guess(self.model, primitives)
        self.solved = False
        self._checked_structure = None
        self._checked = None  # the last primitives checked (cge.checks.Checked)
        self._signature = None  # (fingerprint, compiled key) of the structure last seen
        #: What the benchmark solve went through (one line per stage tried).
        self.benchmark_stages: list[str] = []
        self.last_stats: SolveStats | None = None
        self.steps: list[float] = []
        self._step_walras: float | None = None
        self._tables_read = False  # whether the last _verify read the values the tables read
        #: Every IPOPT call's statistics (cleared by nobody: a log for benchmarks).
        self.ipopt_calls: list[SolveStats] = []
        #: How many times the equation system was compiled into an NLP.
        self.compilations = 0
        self._compiled: dict = {}  # compiled equation systems, by structure (cge.compiled)
        #: The benchmark with the data's deficits (set by the first solve; under the
        #: ``zero_baseline`` deficit closure the first solve returns the zero-deficit
        #: baseline instead) and the IPOPT statistics of its solve.
        self.benchmark: Results | None = None
        self.benchmark_stats: SolveStats | None = None
        self._data_deficit = primitives["deficit"].copy()

    # ----------------------------------------------------------------- solving
    def solve(self, primitives: Primitives | None = None, **arrays) -> Results:
        """Solve at ``primitives`` (or the current primitives with ``arrays`` replaced).

        The first call solves the benchmark. Later calls move every changed
        parameter from its current to its new value, in one step if IPOPT
        converges, in smaller steps if not.

        Python's full garbage collections are held back during the call (what a solve
        makes, compiled systems and tables, survives it; :mod:`cge.collector`).
        """
        with few_full_collections():
            return self._solve(primitives, arrays)

    def _solve(self, primitives: Primitives | None, arrays: dict) -> Results:
        target = self._zero_baseline_target(self._target(primitives, arrays))
        self._deadline = time.perf_counter() + self.time_limit
        if not self.solved:
            self._solve_benchmark()
            if self.primitives.closure.deficit == "zero_baseline":
                self._zero_deficit_baseline()
        changed = self._changed(target)
        walras = None  # Walras' residual at the solution, when the shock computed it
        read = True  # whether the tables must read the model's values again
        if changed:
            walras = self._homotopy(target, changed)
            read = not self._tables_read  # (read by the checks after the shock)
        info = {"solver": self.last_stats.solver if self.last_stats else None,
                "iterations": self.last_stats.iterations if self.last_stats else 0,
                "homotopy_steps": list(self.steps), "changed": changed,
                "numeraire": self.primitives.numeraire.describe(),
                "deficits": describe_deficits(self.primitives.closure.deficit)}
        if self.last_stats is not None and self.last_stats.success:
            # the model holds the solution of the last (verified) solve
            info["max_residual"] = self.last_stats.max_residual
        out = extract(self.model, info, walras=walras, read=read)
        out.primitives, out.fixed_region = self.primitives, self.small_open_economy
        return out

    def resolve(self) -> SolveStats:
        """Solve again from the current point (a check: it should take at most one iteration)."""
        self._deadline = time.perf_counter() + self.time_limit
        return self._attempt()

    def _target(self, primitives, arrays) -> Primitives:
        if primitives is not None and arrays:
            raise TypeError("give either primitives or parameter arrays, not both")
        if primitives is None:
            if not arrays:
                return self.primitives
            numeraire = arrays.pop("numeraire", None)
            unknown = [k for k in arrays if k not in PARAMETERS]
            if unknown:
                raise InputError([f"{k}: no such parameter; parameters are {sorted(PARAMETERS)}"
                                  for k in unknown])
            target = self.primitives.copy(**arrays)
            if numeraire is not None:
                target.numeraire = numeraire if isinstance(numeraire, Numeraire) else \
                    Numeraire(self.primitives.numeraire.kind, self.primitives.numeraire.region,
                              self.primitives.numeraire.label, float(numeraire))
        else:
            target = primitives
        for name, arr in target.arrays.items():
            want = self.primitives.arrays[name].shape
            if arr.shape != want:
                raise InputError(f"{name}: wrong shape {arr.shape}, expected {want}")
        # every check the new values need (those reading what changed since the last
        # primitives checked: cge.checks.CHECK_READS)
        self._checked = check_primitives(target, since=self._checked)
        if (target.numeraire.kind, target.numeraire.region, target.numeraire.label) != (
                self.primitives.numeraire.kind, self.primitives.numeraire.region,
                self.primitives.numeraire.label):
            raise InputError("numeraire: changing which price is the numeraire needs a new model")
        if target.closure != self.primitives.closure:
            raise InputError(f"closure: changing the closure ({self.primitives.closure.describe()} "
                             f"-> {target.closure.describe()}) needs a new model")
        return target

    def _changed(self, target: Primitives) -> list[str]:
        out = []
        for name, arr in target.arrays.items():
            if not same_values(arr, self.primitives.arrays[name]):
                out.append(name)
        if target.numeraire.value != self.primitives.numeraire.value:
            out.append("numeraire")
        return out

    def _run(self, warm: bool = False, fallback: bool = True, structure: tuple | None = None,
             chord: bool = False,
             **extra) -> SolveStats:
        """One solve (IPOPT, or for a ``warm`` start near a solution the Newton method of
        :mod:`cge.newton` first); the structure (square, structurally nonsingular) is
        checked with it whenever it differs from the last one checked.

        Models in the reduced formulation (trade values and cutoffs closed-form
        Expressions, ``route_unknowns=False``) above :data:`LARGE_REDUCED_MODEL`
        equations and other models above :data:`LARGE_MODEL` equations that start from a
        solution (``warm``: a homotopy step, which starts where the last step
        ended) or near one (a calibrated benchmark: the start's largest residual
        below :data:`cge.solve.NEAR_SOLUTION`) are solved
        with :data:`LARGE_MODEL_OPTIONS` (a limited-memory Hessian) unless the
        options name a Hessian: the system is square, so IPOPT's Newton steps come
        from the Jacobian alone, and the exact Hessian of the CES aggregates only
        makes each iteration dearer (Caliendo-Parro 31 x 40, 33,106 equations: the
        NAFTA shock takes 20 s instead of 205 s). From a cold start the exact
        Hessian is kept: there the quasi-Newton multipliers mislead the line
        search (a 10 x 10 economy: 65 s instead of 5 s). In the reduced
        formulation the exact Hessian of the price indices is dense within each
        sector (every origin's cutoff depends on the destination's aggregates),
        so the limited-memory one pays at every size measured (a 10% tariff cut,
        10 x 10: IPOPT 0.3 s instead of 1.1 s; 20 x 15: 5 s instead of 36 s).

        ``structure``: :meth:`_structure` if the caller knows it is current (a path's
        steps, which write parameter values only).
        """
        sig, key = structure or self._structure()
        opts = self._options(**extra)
        near = None
        size = key[2]  # active equations
        if "hessian_approximation" not in opts and (
                size > LARGE_MODEL or (not self._route_unknowns and size > LARGE_REDUCED_MODEL)):
            if warm:
                opts = {**LARGE_MODEL_OPTIONS, **opts}
            else:
                near = LARGE_MODEL_OPTIONS
        solver = self.solver
        if solver is None:  # the default route, found once (a search of the installation)
            solver = self.__dict__.get("_default_route")
            if solver is None:
                from .toolchain import default_solver

                solver = self._default_route = default_solver()
        stats = run_ipopt(self.model, solver, opts, near_solution_options=near,
                          structure_check=sig != self._checked_structure,
                          cache=self._compiled, newton=warm and self.newton, key=key,
                          fallback=fallback or not (warm and self.newton),
                          chord=chord and warm and self.newton)
        self._checked_structure = sig
        self.ipopt_calls.append(stats)
        self.compilations += int(stats.compiled)
        return stats

    def n_equations(self) -> int:
        """Number of active equations of the current system."""
        return self._structure()[1][2]

    def _structure(self) -> tuple:
        """``(fingerprint, key)`` of the model's current structure: the fingerprint
        (:func:`cge.solve.structure_signature`, one fast pass over the constraints and
        variables) at every call; the key of the compiled systems
        (:func:`cge.compiled.signature`: which constraints are active, their expressions,
        which variables are fixed; its last entry the number of active equations) only
        when the fingerprint changed."""
        sig = structure_signature(self.model)
        if self._signature is None or self._signature[0] != sig:
            from .compiled import signature

            held: list = []  # what both fingerprints' ids stand for, kept with them
            self._signature = (sig, signature(self.model, held))
            self._signature_held = held
        return self._signature

    def _remaining(self) -> float:
        if self._deadline is None:
            return self.time_limit
        return self._deadline - time.perf_counter()

    def _options(self, **extra) -> dict:
        """IPOPT options for the next call, bounded by what is left of the time limit."""
        opts = dict(self.options, **extra)
        opts.setdefault("max_wall_time", max(1.0, self._remaining()))
        return opts

    def _attempt(self) -> SolveStats:
        stats = self._run()
        self.last_stats = stats
        return stats

    def _verify(self, stats: SolveStats, last_step=None, walras: float | None = None) -> float:
        """Raise :class:`SolveError` unless ``stats`` succeeded and the point satisfies
        Walras' law (``walras``: its residual, if already computed at this point),
        selection and the outside good's conditions; returns Walras' residual."""
        if not stats.success:
            raise SolveError("IPOPT did not find the equilibrium",
                             diagnose(self.model, stats, last_step, self.steps))
        if walras is None:
            walras = walras_residual(self.model)
        if abs(walras) > WALRAS_TOL:
            raise SolveError(f"Walras' law fails: the market left out does not clear "
                             f"(relative excess {walras:.3e})",
                             diagnose(self.model, stats, last_step, self.steps))
        # (whether the tables' layout read the model's values here: nothing changes them
        # before :meth:`solve` builds the tables)
        self._tables_read = check_selection(self.model)
        check_outside_good_solution(self.model)
        return walras

    def _solve_benchmark(self) -> None:
        """Solve from the initial guess; if IPOPT fails, continue from the economy near
        autarky (:meth:`_trade_cost_continuation`); then retry with the log-variables
        bounded (then polish without bounds); if that fails, follow a Newton homotopy.

        A final failure reports every stage and the residuals of the original
        equations where the safeguarded stage stopped.
        """
        start = _snapshot(self.model)
        stats = self._attempt()
        self.steps = []
        stages = [f"direct solve from the initial guess: {stats.status} "
                  f"after {stats.iterations} iterations"]
        if not stats.success and self._has_trade():
            _restore(self.model, start)
            try:
                stats = self._trade_cost_continuation()
            except SolveError as exc:
                stages.append(str(exc).splitlines()[0])
            else:
                stages.append(f"trade-cost continuation from near autarky: steps "
                              f"{', '.join(f'{x:.4g}' for x in self.steps)}")
        if not stats.success:
            _restore(self.model, start)
            with bounded_logs(self.model):
                bounded = self._run(max_iter=500)
            stats = self._attempt()
            stages.append(f"with log-variables bounded: {bounded.status} after "
                          f"{bounded.iterations} iterations; polished: {stats.status}")
        if not stats.success:
            best = diagnose(self.model, stats)
            _restore(self.model, start)
            try:
                with residual_homotopy(self.model) as weight:
                    self._step(lambda lam: weight.set_value(1.0 - lam),
                               "Newton homotopy", check_walras=False)
            except SolveError as exc:
                stages.append(str(exc).splitlines()[0] + (
                    f" (reached w = {1 - exc.diagnosis.last_step:.4g})"
                    if exc.diagnosis and exc.diagnosis.last_step is not None else ""))
                raise SolveError(
                    "the benchmark equilibrium was not found:\n  - " + "\n  - ".join(stages)
                    + "\nResiduals where the bounded stage stopped follow. Levels collapsing "
                    "to zero point at a corner (a sector vanishing in a region); a "
                    "sector-specific factor or less extreme parameters keep it interior.",
                    best) from None
            stages.append(f"Newton homotopy: steps {', '.join(f'{x:.4g}' for x in self.steps)}")
            stats = self._attempt()
        self._verify(stats)
        self.benchmark_stages = stages
        self.benchmark_stats = stats
        self.benchmark = extract(self.model, {
            "solver": stats.solver, "iterations": stats.iterations, "homotopy_steps": [],
            "changed": [], "numeraire": self.primitives.numeraire.describe(),
            "deficits": describe_deficits(self.primitives.closure.deficit),
            "max_residual": stats.max_residual})
        hold_deficits(self.model, self.primitives.closure.deficit)
        if self.small_open_economy is not None:
            apply_small_open_economy(self.model, self.small_open_economy)
            stats = self._attempt()
            self._verify(stats)
        self.solved = True

    def _zero_baseline_target(self, target: Primitives) -> Primitives:
        """Under the ``zero_baseline`` deficit closure, ``target`` with zero deficits; a
        target whose deficits are neither the data's nor zero is refused (a deficit
        shock has no meaning when the baseline has none)."""
        if target.closure.deficit != "zero_baseline":
            return target
        d = target["deficit"]
        if not (np.array_equal(d, self._data_deficit) or not d.any()):
            raise InputError("deficit: under the zero_baseline deficit closure deficits are zero "
                             "in the baseline and every counterfactual; a deficit shock needs "
                             "the world_income_share or numeraire deficit closure")
        return target.copy(deficit=np.zeros_like(d)) if d.any() else target

    def _zero_deficit_baseline(self) -> None:
        """Step every deficit from the data to zero (the ``zero_baseline`` closure's
        first step); raises :class:`SolveError` naming the step if it fails."""
        if not self.primitives["deficit"].any():
            return
        baseline = self.primitives.copy(deficit=np.zeros_like(self.primitives["deficit"]))
        try:
            self._homotopy(baseline, ["deficit"])
        except SolveError as exc:
            msg, tail = str(exc), f"\n{exc.diagnosis}" if exc.diagnosis is not None else ""
            raise SolveError("the zero-deficit baseline (zero_baseline deficit closure): "
                             + (msg[:-len(tail)] if tail and msg.endswith(tail) else msg),
                             exc.diagnosis) from None

    def _has_trade(self) -> bool:
        tau = self.primitives["tau"]
        foreign = ~np.eye(len(self.primitives.regions), dtype=bool)[:, :, None]
        return bool((np.isfinite(tau) & foreign).any())

    def _trade_cost_continuation(self) -> SolveStats:
        r"""Solve the economy with every foreign iceberg cost multiplied by a factor
        of :data:`AUTARKY_TRADE_COST_FACTORS` (the first that solves) and no
        deficits, where the closed-economy initial guess
        (:func:`cge.model.initialize_guess`) is nearly exact, then step the trade
        costs and deficits back to their values (:meth:`_step`). Raises
        :class:`SolveError` if no factor solves or the way back fails, with the
        parameters back at the target."""
        target = self.primitives
        foreign = ~np.eye(len(target.regions), dtype=bool)[:, :, None] & np.isfinite(target["tau"])
        tried = []
        try:
            for factor in AUTARKY_TRADE_COST_FACTORS:
                near = target.copy(tau=np.where(foreign, target["tau"] * factor, target["tau"]),
                                   deficit=np.zeros_like(target["deficit"]))
                set_parameters(self.model, near)
                initialize_guess(self.model, near)
                self.primitives = near
                stats = self._attempt()
                tried.append(f"x{factor:g}: {stats.status}")
                if stats.success:
                    break
            else:
                raise SolveError("no economy near autarky solved (foreign trade costs "
                                 + "; ".join(tried) + ")", diagnose(self.model, stats))
            progress, self.progress = self.progress, None
            try:
                self._homotopy(target, self._changed(target))
            finally:
                self.progress = progress
        except SolveError as exc:
            set_parameters(self.model, target)
            self.primitives = target
            raise SolveError(f"trade-cost continuation: {str(exc).splitlines()[0]}",
                             exc.diagnosis) from None
        return self.last_stats

    def _step(self, apply, what: str, first_step: float = 1.0,
              check_walras: bool = True) -> SolveStats:
        """Advance lambda from 0 to 1 by ``apply(lambda)`` and solves (path following,
        :mod:`cge.continuation`).

        Each step starts from the secant prediction through the last two solutions
        (once there are two); if the corrector fails from there, the step is retried
        from the last solution, and only then halved. After a success the next step
        is adapted to the corrector's iterations (:func:`cge.continuation.next_step`).
        When the step falls below ``min_step`` the error names the conditions for an
        equilibrium that fail along the path (:func:`cge.continuation.explain`).

        On large systems (:func:`cge.continuation.newton_first`) the corrector is the
        Newton method alone: a step it cannot correct is shortened, and after
        :data:`cge.continuation.NEWTON_ATTEMPTS` such failures in a row (or a step
        below ``min_step``) the rest of the path is corrected as elsewhere (Newton,
        then IPOPT from the same start); the next step is adapted to the Newton
        method's factorisations (:func:`cge.continuation.next_newton_step`).
        """
        snapshot = _snapshot(self.model)
        path = SolutionPath(self.model, snapshot[0])
        path.record(0.0, snapshot[1])
        lam, step = 0.0, first_step
        self.steps = []
        stats = None
        predict, failed, newton_failed = True, 0, 0
        # the structure of every step's system: ``apply`` writes parameter values only
        structure = self._structure()
        newton_only = self.newton and self.solver in (None, "cyipopt") and \
            newton_first(structure[1][2])
        while lam < 1.0:
            trial = min(1.0, lam + step)
            if self._remaining() <= 0:
                failure = diagnose(self.model, stats, lam, self.steps)
                _restore(self.model, snapshot)
                apply(lam)
                raise SolveError(f"{what}: time limit of {self.time_limit:g} s reached"
                                 + self._why_path_ends(lam, check_walras, path), failure)
            apply(trial)
            predicted = predict and path.can_predict
            if predicted:
                path.predict(trial)
            only = newton_only
            stats = self._run_step(fallback=not only, structure=structure, chord=newton_only)
            self.last_stats = stats
            walras = walras_residual(self.model) if stats.success and check_walras else None
            ok = stats.success and (not check_walras or abs(walras) <= WALRAS_TOL)
            self._step_walras = walras if ok else None  # at the path's last point
            if ok:
                lam = trial
                self.steps.append(lam)
                if lam < 1.0:  # (the path's end: nothing restores or predicts from it)
                    snapshot = _snapshot(self.model, snapshot[0])  # (a step adds no variable)
                    path.record(lam, snapshot[1])
                if self.progress:
                    self.progress(lam, stats)
                    structure = self._structure()  # in case the callback changed the model
                step = min(next_newton_step(step, stats.factorizations)
                           if newton_only and stats.method == "newton"
                           else next_step(step, stats.effort), 1.0)
                predict, failed, newton_failed = True, 0, 0
            elif only:
                # the Newton corrector gave up: retry unpredicted, else shorten the step;
                # after NEWTON_ATTEMPTS failures in a row, IPOPT backs Newton up for the
                # rest of the path (from this step on, so that the path cannot stall)
                newton_failed += 1
                _restore(self.model, snapshot)
                if predicted:
                    predict = False
                elif shorten(step, stats) >= self.min_step:
                    step = shorten(step, stats)
                    predict = True
                if newton_failed >= NEWTON_ATTEMPTS or step / 2 < self.min_step:
                    newton_only = False
            elif predicted:
                # retry the same step from the last solution (the prediction may mislead)
                _restore(self.model, snapshot)
                predict = False
            else:
                step /= 2
                predict = True
                failed += 1
                # Diagnose at the failed attempt (before restoring the last good
                # point, whose residuals are all at solver precision).
                last = step < self.min_step
                failure = diagnose(self.model, stats, lam, self.steps) \
                    if last or failed >= GIVE_UP_AFTER else None
                _restore(self.model, snapshot)
                if failure is not None:
                    apply(lam)
                    # A condition for an equilibrium already failing at the last solution
                    # ends the path without halving the step down to min_step.
                    why = self._why_path_ends(lam, check_walras, path)
                    if last or why:
                        tried = (f"no convergence with steps down to {self.min_step:g}" if last
                                 else f"no convergence in {failed} ever shorter steps from "
                                      f"lambda = {lam:.4g}")
                        raise SolveError(f"{what} could not be stepped in: {tried}" + why, failure)
        return stats

    def _run_step(self, fallback: bool = True, structure: tuple | None = None,
                  chord: bool = False) -> SolveStats:
        """One corrector solve of a path step; equations that cannot be evaluated at the
        start (an overflow at a predicted point, a logarithm of a non-positive level)
        make a failed step, not a traceback."""
        from pyomo.contrib.pynumero.exceptions import PyNumeroEvaluationError

        try:
            return self._run(warm=True, fallback=fallback, structure=structure, chord=chord)
        except (PyNumeroEvaluationError, ArithmeticError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            return SolveStats(self.solver or "cyipopt", "evaluation_error",
                              f"the equations cannot be evaluated at the start of the step ({exc})",
                              0, 0.0, 0.0, float("inf"), False)

    def _why_path_ends(self, lam: float, equilibrium_path: bool = True, path=None) -> str:
        """The conditions for an equilibrium failing at the last solution (the model is
        there); nothing for a path of non-equilibria (the Newton homotopy)."""
        if not equilibrium_path:
            return ""
        reasons = explain(self.model, lam, self.primitives.closure.deficit
                          if self.solved else None, path)
        return "".join(f"\n  why: {r}" for r in reasons)

    def _homotopy(self, target: Primitives, changed: list[str]) -> float:
        """Move from the current primitives to ``target`` along the path of
        :func:`cge.continuation.interpolate` (positive parameters in logs); returns the
        residual of Walras' law at the solution."""
        start = self.primitives

        def apply(lam):
            self.primitives = interpolate(start, target, lam)
            set_parameters(self.model, self.primitives)

        stats = self._step(apply, f"the shock to {', '.join(changed)}")
        self.primitives = target
        return self._verify(stats, 1.0, walras=self._step_walras)


#: Seconds one :meth:`Equilibrium.solve` may take unless ``time_limit`` says otherwise.
DEFAULT_TIME_LIMIT = 600.0

#: Failed (halved) steps in a row after which a path whose last solution already shows a
#: failing condition for an equilibrium (:func:`cge.continuation.explain`) is given up.
GIVE_UP_AFTER = 3


#: Factors on foreign iceberg costs of the economies a failed benchmark solve starts
#: from, tried in order (:meth:`Equilibrium._trade_cost_continuation`): close enough to
#: autarky for the closed-economy guess, not so close that trade flows underflow.
AUTARKY_TRADE_COST_FACTORS = (3.0, 10.0, 1.5)


def _variables(m) -> list:
    """Every variable of ``m`` (the data of its Var components, found once per model
    shape: :func:`cge.shape.shape`)."""
    return shape(m).variable_data()


def _snapshot(m, variables: list | None = None) -> tuple[list, list]:
    """The values of every variable of ``m`` (for :func:`_restore`); ``variables``: the
    list of an earlier snapshot, when no variable can have been added since."""
    if variables is None:
        variables = _variables(m)
    return variables, list(map(_VALUE, variables))


_VALUE = operator.attrgetter("_value")


def _restore(m, snap) -> None:
    variables, values = snap
    for v, val in zip(variables, values):
        v.set_value(val, skip_validation=True)


__all__ = ["Equilibrium", "RESIDUAL_TOL"]
