"""The zero-deficit baseline as a Newton path on a system compiled once (issue 14).

Large systems (above ``cge.solve.PARAMETRIC_MAX_WORK``) are numpy tapes compiled
once per structure (:mod:`cge.tape`); where IPOPT solves them, or the tape cannot
evaluate them, they are compiled with the parameters declared to vary as columns
and every other value folded in (:func:`cge.compiled.vary`); paths on large systems (above
``cge.continuation.NEWTON_FIRST_ABOVE`` equations) use Newton correctors only and
shorten a step Newton cannot correct instead of handing it to IPOPT. Both
thresholds are lowered here so that the toy economy takes these routes; the
equilibria must be those of the default routes.
"""

from __future__ import annotations

import numpy as np
import pytest

import calibration as cal
from calibration.examples import toy_benchmark
from cge import Equilibrium, compiled, continuation, newton, solve, tape

from tables import assert_same_tables  # tests/tables.py


def _calibrated(deficit: str = "zero_baseline", **kwargs):
    prim, start = cal.calibrate(toy_benchmark(), closure={"deficit": deficit})
    eq = Equilibrium(prim, **kwargs)
    cal.set_start(eq, start)
    return eq, prim


def _tariff_war(prim, rate=0.3):
    foreign = ~np.eye(len(prim.regions), dtype=bool)[:, :, None]
    return np.where(foreign, prim["tariff"] + rate, prim["tariff"])


def _no_tape(m):
    raise tape.Unsupported("the tape is switched off by the test")


def _run(large: bool, monkeypatch, declare_shock: bool = True, use_tape: bool = False):
    """Benchmark, zero-deficit baseline and a tariff war, on the large-system routes or not
    (with the tape, or with the compiled NLP IPOPT solves at that size)."""
    with monkeypatch.context() as mp:
        if large:
            mp.setattr(solve, "PARAMETRIC_MAX_WORK", 0)
            mp.setattr(continuation, "NEWTON_FIRST_ABOVE", 0)
            if not use_tape:
                mp.setattr(tape, "TapeSystem", _no_tape)
        eq, prim = _calibrated()
        shocked = prim.copy(tariff=_tariff_war(prim))
        if declare_shock:
            compiled.vary(eq.model, continuation.changed_parameters(eq.model, prim, shocked))
        base = eq.solve()
        baseline_calls = list(eq.ipopt_calls)
        new = eq.solve(shocked)
    return eq, base, new, baseline_calls


def test_large_system_path_on_the_tape_compiles_once(monkeypatch):
    """On the tape, the benchmark, every Newton step of the zero-deficit baseline and the
    shock compile once, with the equilibria of the default routes."""
    eq, base, new, _ = _run(True, monkeypatch, use_tape=True)
    assert eq.compilations == 1, [s.compiled for s in eq.ipopt_calls]
    (system,) = [entry["system"] for entry in eq._compiled.values()]
    assert isinstance(system, tape.TapeSystem)
    ref_eq, ref_base, ref_new, _ = _run(False, monkeypatch)
    assert_same_tables(ref_base, base)
    assert_same_tables(ref_new, new)


def test_declared_parameters_are_columns_and_the_rest_folded_in(monkeypatch):
    """The compiled NLP of a large system (what IPOPT solves at that size, and what replaces
    the tape where it cannot evaluate the equations): benchmark, every step of the zero-deficit baseline and the shock: one compilation of
    a system whose columns are the deficits and the shocked tariffs only; the same
    equilibria as with every parameter a column."""
    eq, base, new, _ = _run(True, monkeypatch)
    assert eq.compilations == 1, [s.compiled for s in eq.ipopt_calls]
    (system,) = [entry["system"] for entry in eq._compiled.values()]
    assert isinstance(system, compiled.CompiledSystem) and system.folded and system.hessian
    declared = {id(p) for p in compiled.varying(eq.model)}
    assert {id(p) for p in system.sources} <= declared
    assert {id(p) for p in eq.model.deficit.values()} <= {id(p) for p in system.sources}
    ref_eq, ref_base, ref_new, _ = _run(False, monkeypatch)
    assert_same_tables(ref_base, base)
    assert_same_tables(ref_new, new)


def test_a_folded_parameter_that_changes_makes_it_a_column(monkeypatch):
    """A parameter not declared to vary (the shock's tariffs, undeclared) is folded in: the
    shock finds the system stale, declares the tariffs that changed and compiles once more;
    further changes of them compile nothing."""
    eq, _, new, _ = _run(True, monkeypatch, declare_shock=False)
    assert eq.compilations == 2
    with monkeypatch.context() as mp:
        mp.setattr(solve, "PARAMETRIC_MAX_WORK", 0)
        mp.setattr(tape, "TapeSystem", _no_tape)
        again = eq.solve(new.primitives.copy(tariff=_tariff_war(new.primitives, 0.1)))
    assert eq.compilations == 2 and again.max_residual < 1e-9
    (system,) = [entry["system"] for entry in eq._compiled.values()]
    assert system.valid()
    tau = eq.model.sector[next(iter(eq.model.sectors))].tau
    p = next(p for p in tau.values() if id(p) not in {id(q) for q in system.sources})
    p.set_value(p.value * 1.01)
    assert not system.valid(), "a folded value changed: the system no longer holds"


def test_zero_deficit_baseline_is_a_newton_path_without_ipopt(monkeypatch):
    """On the large-system route every step of the baseline and of the shock is a Newton
    solve; a step Newton cannot correct (here: the baseline's full step, Newton made to
    give up) is shortened, never handed to IPOPT."""
    calls = []
    real = newton.solve

    def first_gives_up(system, *args, **kwargs):
        calls.append(1)
        return real(system, *args, **{**kwargs, "max_steps": 0} if len(calls) == 1 else kwargs)

    monkeypatch.setattr(newton, "solve", first_gives_up)
    eq, base, new, baseline = _run(True, monkeypatch)
    warm = baseline[1:]  # after the benchmark (the calibrated start: no solve)
    assert warm and all(s.method == "newton" for s in warm), [s.method for s in warm]
    assert all(s.method == "newton" for s in eq.ipopt_calls[1:]), \
        [s.method for s in eq.ipopt_calls]
    assert warm[0].status == "newton_failed" and eq.benchmark is not None
    assert len(warm) > 2, "the failed full step is shortened"
    assert max(s.ipopt_time for s in baseline) == 0.0
    monkeypatch.undo()
    _, ref_base, ref_new, _ = _run(False, monkeypatch)
    assert_same_tables(ref_base, base)
    assert_same_tables(ref_new, new)


def test_ipopt_corrects_after_newton_gives_up_repeatedly(monkeypatch):
    """Newton that never converges: after NEWTON_ATTEMPTS failures in a row IPOPT corrects
    the path's steps (the fallback), and the baseline is still found."""
    monkeypatch.setattr(newton, "MAX_STEPS", 0)
    eq, base, _, baseline = _run(True, monkeypatch)
    failed = [s for s in baseline if s.status == "newton_failed"]
    assert len(failed) >= continuation.NEWTON_ATTEMPTS
    assert any(s.method == "ipopt" and s.success for s in baseline)
    assert np.abs(base.regions["deficit"]).max() == 0.0


def test_run_ipopt_without_fallback_returns_newtons_failure(monkeypatch):
    eq, prim = _calibrated("world_income_share")
    eq.solve()
    monkeypatch.setattr(newton, "MAX_STEPS", 0)
    from cge.model import set_parameters

    set_parameters(eq.model, prim.copy(tariff=_tariff_war(prim)))
    stats = solve.run_ipopt(eq.model, cache=eq._compiled, newton=True, fallback=False)
    assert not stats.success and stats.status == "newton_failed" and stats.method == "newton"
    assert stats.ipopt_time == 0.0 and stats.newton_failure


def test_a_step_far_outside_newtons_reach_is_quartered():
    """No decrease along Newton's first direction: the step is divided by FAR_SHORTEN; any
    other failure halves it."""
    far = solve.SolveStats("cyipopt", "newton_failed", "", 0, 0.0, 0.0, 1.0, False,
                           newton_failure="stalled: no decrease along the Newton direction")
    other = solve.SolveStats("cyipopt", "newton_failed", "", 3, 0.0, 0.0, 1.0, False,
                             newton_steps=3, newton_failure="no convergence in 40 steps")
    assert continuation.shorten(1.0, far) == 1.0 / continuation.FAR_SHORTEN
    assert continuation.shorten(1.0, other) == 0.5
