"""The ``solver="ipopt"`` route (an ``ipopt`` AMPL executable on PATH), end to end.

No real ``ipopt`` executable can be installed here (Debian's coinor-libipopt has
no AMPL driver), so the tests put ``tests/tools/ipopt_stand_in.py`` on ``PATH``:
a test stand-in that speaks the AMPL protocol the way the real driver does
(``stub.nl -AMPL key=value ...``, IPOPT's log on stdout, a ``.sol`` file written
by ASL) and solves with the real IPOPT through cyipopt. Everything on cge's
side runs for real: detection (``cge solvers``), Pyomo's NL writer, its
``pyomo.contrib.solver`` ipopt interface (command line, options file, log and
``.sol`` parsing), loading the solution, and cge's checks. Results must agree
with the cyipopt route.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

from cge import Equilibrium, SolveError, StructureError, examples
from cge.solve import RESIDUAL_TOL, run_ipopt
from cge.tolerance import WALRAS_TERMS, limit

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.solver,
    pytest.mark.skipif(sys.platform == "win32",
                       reason="the stand-in ipopt executable is a POSIX shell script"),
]


def _load_stand_in():
    spec = importlib.util.spec_from_file_location(
        "ipopt_stand_in", Path(__file__).parent / "tools" / "ipopt_stand_in.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stand_in = _load_stand_in()


@pytest.fixture(scope="module")
def ipopt_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ipopt-bin")
    stand_in.write_launcher(folder)
    return folder


@pytest.fixture
def ipopt_on_path(monkeypatch, ipopt_dir) -> Path:
    """PATH with the stand-in ``ipopt`` first; returns the executable's path."""
    monkeypatch.setenv("PATH", f"{ipopt_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return ipopt_dir / "ipopt"


def assert_same_equilibrium(a, b, rel: float = 1e-8) -> None:
    """Welfare, trade values, cutoffs and factor prices agree to ``rel`` (relative)."""
    pairs = {
        "welfare": (a.welfare, b.welfare),
        "income": (a.regions["income"], b.regions["income"]),
        "trade_value": (a.routes["trade_value"], b.routes["trade_value"]),
        "cutoff": (a.routes["cutoff"], b.routes["cutoff"]),
        "factor_price": (a.factors["factor_price"], b.factors["factor_price"]),
    }
    for name, (x, y) in pairs.items():
        assert list(x.index) == list(y.index), name
        np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=rel, atol=0,
                                   equal_nan=True, err_msg=name)


def assert_sound(stats, solver="ipopt") -> None:
    assert stats.solver == solver
    assert stats.success, stats
    assert stats.status == "solve_succeeded", stats
    assert "Optimal Solution Found" in stats.message, stats
    assert stats.max_residual < RESIDUAL_TOL, stats
    assert stats.ipopt_time >= 0 and stats.setup_time >= 0, stats


# =====================================================================
# detection
# =====================================================================
def test_stand_in_is_detected_and_listed(ipopt_on_path):
    from typer.testing import CliRunner

    from cge import toolchain
    from cge.cli import app

    info = toolchain._detect_ipopt(probe_linear_solver=False)
    assert info.available, info.detail
    assert info.path == str(ipopt_on_path)
    assert info.version == stand_in.ipopt_version()

    # `cge solvers` runs the executable on a tiny NL problem to read its banner.
    result = CliRunner().invoke(app, ["solvers"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines()
               if re.search(r"\bipopt\b", line) and "cyipopt" not in line)
    assert "yes" in row and "mumps" in row, result.output
    assert "ipopt: Ipopt" in result.output.replace("\n", " "), result.output


def test_missing_executable_is_a_clear_error(monkeypatch):
    from cge.toolchain import SolverNotFoundError

    monkeypatch.setenv("PATH", "")
    eq = Equilibrium(examples.symmetric(2, 1), solver="ipopt")
    with pytest.raises(SolverNotFoundError, match="'ipopt' executable on PATH"):
        eq.solve()


# =====================================================================
# same equilibria as the cyipopt route
# =====================================================================
def _symmetric_shock(prim):
    tariff = prim["tariff"].copy()
    tariff[0, 1, :] = 0.2  # r0 taxes its imports from r1
    return {"tariff": tariff}


def _halved_tariffs(prim):
    return {"tariff": prim["tariff"] * 0.5}


@pytest.mark.parametrize("make, shock", [
    (lambda: examples.symmetric(2, 2), _symmetric_shock),
    (examples.three_by_three, _halved_tariffs),
], ids=["symmetric_2x2", "three_by_three"])
def test_benchmark_and_tariff_shock_match_cyipopt(ipopt_on_path, make, shock):
    prim = make()
    ref = Equilibrium(prim, solver="cyipopt")
    ref_base = ref.solve()
    ref_iterations = ref.last_stats.iterations
    ref_new = ref.solve(**shock(prim))

    eq = Equilibrium(prim, solver="ipopt")
    base = eq.solve()
    stats = eq.last_stats
    assert_sound(stats)
    assert base.info["solver"] == "ipopt"
    # From the initial guess IPOPT works (the count is read from IPOPT's log) and
    # takes as many Newton iterations as through cyipopt, give or take one.
    assert 1 <= stats.iterations <= 200 and abs(stats.iterations - ref_iterations) <= 1, \
        (stats, ref_iterations)
    assert_same_equilibrium(base, ref_base)
    # At a solution a re-solve takes at most one iteration.
    again = eq.resolve()
    assert_sound(again)
    assert again.iterations <= 1, again

    new = eq.solve(**shock(prim))
    assert_sound(eq.last_stats)
    assert new.info["changed"] == ["tariff"]
    assert_same_equilibrium(new, ref_new)
    assert not np.allclose(new.welfare, base.welfare, rtol=1e-6)  # the shock did something
    assert eq.resolve().iterations <= 1


# =====================================================================
# failures are reported, never a wrong "success"
# =====================================================================
def test_iteration_limit_is_not_success(ipopt_on_path):
    eq = Equilibrium(examples.three_by_three(), solver="ipopt")
    stats = run_ipopt(eq.model, "ipopt", {"max_iter": 1})  # cold start: one Newton step
    assert not stats.success, stats
    assert stats.status == "maximum_iterations_exceeded", stats
    # the same words as the cyipopt route, for the same situation
    same = run_ipopt(Equilibrium(examples.three_by_three()).model, "cyipopt", {"max_iter": 1})
    assert same.status == stats.status, (same, stats)
    assert "Maximum Number of Iterations Exceeded" in stats.message, stats
    assert stats.iterations == 1, stats
    # The last iterate is loaded (as through cyipopt) and is visibly not a solution.
    assert stats.max_residual > RESIDUAL_TOL, stats


def test_bounded_start_reaches_the_executable(ipopt_on_path):
    """The safeguarded benchmark stage bounds the log-variables: the bounds go into
    the .nl file. Wide bounds: the cyipopt route's solution; bounds too tight to
    hold the equilibrium: IPOPT's local infeasibility, not a success."""
    from cge.solve import bounded_logs

    def values(eq):
        return np.array([v.value for v in eq.model.component_data_objects(
            pyo.Var, descend_into=True) if not v.fixed])

    ref = Equilibrium(examples.three_by_three(), solver="cyipopt")
    with bounded_logs(ref.model):
        assert run_ipopt(ref.model, "cyipopt").success
    eq = Equilibrium(examples.three_by_three(), solver="ipopt")
    with bounded_logs(eq.model):
        stats = run_ipopt(eq.model, "ipopt")
    assert_sound(stats)
    np.testing.assert_allclose(values(eq), values(ref), rtol=0, atol=1e-9)

    eq = Equilibrium(examples.three_by_three(), solver="ipopt")
    with bounded_logs(eq.model, width=1.0):
        stats = run_ipopt(eq.model, "ipopt", {"max_iter": 500})
    assert not stats.success and stats.status == "infeasible_problem_detected", stats
    assert "locally infeasible" in stats.message and stats.max_residual > RESIDUAL_TOL, stats


def _fake_ipopt(monkeypatch, folder, kind: str, body: str) -> None:
    """Put an `ipopt` on PATH that answers --version and otherwise runs ``body`` (sh)."""
    exe = folder / "ipopt"
    exe.write_text('#!/bin/sh\n'
                   f'if [ "$1" = "--version" ]; then echo "Ipopt 3.14.0 ({kind})"; exit 0; fi\n'
                   f'{body}\n')
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


def test_executable_that_dies_is_not_success(monkeypatch, tmp_path):
    """An ipopt that answers --version but dies without writing a .sol file."""
    _fake_ipopt(monkeypatch, tmp_path, "broken",
                'echo "Segmentation fault (core dumped)"; exit 139')
    eq = Equilibrium(examples.symmetric(2, 1), solver="ipopt")
    stats = run_ipopt(eq.model, "ipopt")
    assert not stats.success and stats.status == "error", stats
    assert "did not generate a SOL file" in stats.message, stats
    assert "Segmentation fault" in stats.message, stats  # the end of its output
    with pytest.raises(SolveError, match="benchmark equilibrium was not found"):
        Equilibrium(examples.symmetric(2, 1), solver="ipopt", min_step=0.5).solve()


def test_shock_that_cannot_converge_raises_with_diagnosis(ipopt_on_path):
    prim = examples.three_by_three()
    eq = Equilibrium(prim, solver="ipopt", min_step=0.5)
    eq.solve()
    eq.options = {"max_iter": 1}  # no homotopy step converges in one iteration
    with pytest.raises(SolveError, match="could not be stepped in") as err:
        eq.solve(tariff=prim["tariff"] * 0.5)
    diagnosis = err.value.diagnosis
    assert diagnosis.status == "maximum_iterations_exceeded"
    assert "Maximum Number of Iterations Exceeded" in diagnosis.message
    assert diagnosis.iterations == 1
    assert diagnosis.largest_residuals and abs(diagnosis.largest_residuals[0][1]) > RESIDUAL_TOL
    assert "maximum_iterations_exceeded" in str(err.value)


def test_structure_check_runs_before_the_executable(ipopt_on_path):
    eq = Equilibrium(examples.symmetric(2, 1), solver="ipopt")
    eq.model.sector["s0"].free_entry["r0"].deactivate()
    with pytest.raises(StructureError, match="degrees of freedom 1") as err:
        eq.solve()
    assert len(err.value.unmatched_variables) == 1
    assert err.value.unmatched_variables[0] in str(err.value)
    assert eq.last_stats is None  # refused before IPOPT ran


# =====================================================================
# scenarios
# =====================================================================
def test_scenario_runs_through_the_executable(ipopt_on_path):
    from cge.scenario import run_scenario

    path = ROOT / "runs" / "tariff_unilateral.yaml"
    ref = run_scenario(path, solver="cyipopt")
    res = run_scenario(path, solver="ipopt")
    assert res.runs.keys() == ref.runs.keys()
    for label, run in res.runs.items():
        assert run.stats["solver"] == "ipopt"
        assert run.stats["max_residual"] < RESIDUAL_TOL
        w, w_ref = run.welfare.regions, ref.runs[label].welfare.regions
        assert list(w.index) == list(w_ref.index)
        # percentage changes (x100) of two solutions, each within the solver's tolerance
        np.testing.assert_allclose(w["welfare_change_pct"].to_numpy(float),
                                   w_ref["welfare_change_pct"].to_numpy(float),
                                   rtol=0, atol=limit(100, terms=WALRAS_TERMS))
        assert_same_equilibrium(run.new, ref.runs[label].new)
    assert res.expectations_met and res.identities_hold


def test_hung_executable_is_stopped_at_the_time_limit(monkeypatch, tmp_path):
    """An ipopt that never returns is killed when the wall-time budget (plus Pyomo's
    margin) runs out; the solve is a failure that says so, not a hang."""
    import time

    _fake_ipopt(monkeypatch, tmp_path, "hung", "exec sleep 60")
    eq = Equilibrium(examples.symmetric(2, 1), solver="ipopt")
    t0 = time.perf_counter()
    stats = run_ipopt(eq.model, "ipopt", {"max_wall_time": 2.0})
    assert time.perf_counter() - t0 < 15
    assert not stats.success and stats.status == "maximum_wall_time_exceeded", stats
    assert "did not finish within 2 s" in stats.message
