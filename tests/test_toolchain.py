"""Tests for cge.toolchain (solver discovery) and the `cge solvers` command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cge import toolchain
from cge.toolchain import (
    SolverInfo,
    SolverNotFoundError,
    configure_pynumero,
    default_solver,
    detect_solvers,
    format_solver_report,
    pynumero_library,
)


def test_detect_solvers_reports_both_routes():
    infos = detect_solvers()
    assert [i.name for i in infos] == ["cyipopt", "ipopt"]
    for info in infos:
        assert isinstance(info, SolverInfo)
        assert isinstance(info.available, bool)
        if not info.available:
            assert info.detail, f"{info.name} unavailable without an explanation"


@pytest.mark.solver
def test_cyipopt_available_after_configure():
    assert pynumero_library() is not None, "libpynumero_ASL not found: run scripts/bootstrap.sh"
    assert configure_pynumero() is True
    assert configure_pynumero() is True  # idempotent
    cy = detect_solvers()[0]
    assert cy.available, cy.detail
    assert cy.version and cy.version[0].isdigit()
    assert cy.linear_solver == "mumps", cy.detail
    assert cy.path and os.path.exists(cy.path)
    assert default_solver() == "cyipopt"


@pytest.mark.solver
def test_configure_overrides_cached_failed_lookup():
    """Pyomo caches a failed library search; configure_pynumero must fix it.

    Run in a fresh interpreter without PYOMO_CONFIG_DIR, where the library has
    not been loaded yet (in this process other tests have loaded it).
    """
    import subprocess
    import sys

    code = (
        "from pyomo.contrib.pynumero.asl import AmplInterface\n"
        "AmplInterface.libname = None\n"
        "assert AmplInterface.available() is False\n"
        "from cge.toolchain import configure_pynumero\n"
        "assert configure_pynumero() is True\n"
        "assert AmplInterface.available() is True\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYOMO_CONFIG_DIR"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.solver
def test_tiny_square_system_solves_with_cyipopt():
    import pyomo.environ as pyo

    assert configure_pynumero()
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.5)
    m.y = pyo.Var(initialize=2.5)
    m.prod = pyo.Constraint(expr=m.x * m.y == 2)
    m.sum = pyo.Constraint(expr=m.x + m.y == 3)
    m.obj = pyo.Objective(expr=0)
    result = pyo.SolverFactory("cyipopt").solve(m, options={"print_level": 0, "sb": "yes"})
    assert pyo.check_optimal_termination(result)
    assert pyo.value(m.x) == pytest.approx(1.0, abs=1e-7)
    assert pyo.value(m.y) == pytest.approx(2.0, abs=1e-7)


@pytest.mark.solver
def test_cli_solvers_command():
    from typer.testing import CliRunner

    from cge.cli import app

    result = CliRunner().invoke(app, ["solvers"])
    assert result.exit_code == 0, result.output
    assert "cyipopt" in result.output
    assert "mumps" in result.output


def test_cli_lists_solvers_subcommand():
    from typer.testing import CliRunner

    from cge.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "solvers" in result.output


def _make_nothing_available(monkeypatch):
    monkeypatch.setitem(sys.modules, "cyipopt", None)  # `import cyipopt` -> ImportError
    monkeypatch.setenv("PATH", "")  # no ipopt executable


def test_default_solver_raises_helpful_error(monkeypatch):
    _make_nothing_available(monkeypatch)
    with pytest.raises(SolverNotFoundError) as excinfo:
        default_solver()
    message = str(excinfo.value)
    assert isinstance(excinfo.value, RuntimeError)
    assert "cyipopt" in message and "ipopt" in message
    assert "bootstrap.sh" in message
    assert "conda install" in message


def test_cli_solvers_exits_1_without_solver(monkeypatch):
    from typer.testing import CliRunner

    from cge.cli import app

    _make_nothing_available(monkeypatch)
    result = CliRunner().invoke(app, ["solvers"])
    assert result.exit_code == 1, result.output
    assert "No IPOPT solver" in result.output


def test_cyipopt_without_pynumero_library_explains(monkeypatch, tmp_path):
    """cyipopt importable but no libpynumero_ASL anywhere -> say so."""
    from pyomo.contrib.pynumero.asl import AmplInterface

    monkeypatch.setattr(AmplInterface, "libname", None)
    monkeypatch.setattr(AmplInterface, "ASLib", None)
    monkeypatch.setattr(toolchain, "_candidate_library_dirs", lambda: [tmp_path])
    info = toolchain._detect_cyipopt(probe_linear_solver=False)
    assert not info.available
    assert "libpynumero_ASL.so not found" in info.detail
    assert "bootstrap.sh" in info.detail


def test_pynumero_library_search_order(monkeypatch, tmp_path):
    first = tmp_path / "first" / "lib"
    second = tmp_path / "second" / "pyomo" / "lib"
    for d in (first, second):
        d.mkdir(parents=True)
        (d / "libpynumero_ASL.so").write_bytes(b"")
    monkeypatch.setenv("PYOMO_CONFIG_DIR", str(first.parent))
    monkeypatch.setattr(sys, "prefix", str(second.parent.parent))
    assert pynumero_library() == first / "libpynumero_ASL.so"
    monkeypatch.delenv("PYOMO_CONFIG_DIR")
    assert pynumero_library() == second / "libpynumero_ASL.so"


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-in for ipopt")
def test_ipopt_executable_detection_with_stand_in(monkeypatch, tmp_path):
    fake = tmp_path / "ipopt"
    fake.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            if [ "$1" = "--version" ]; then
                echo "Ipopt 3.14.99 (x86_64-pc-linux-gnu), ASL(20190605)"
                exit 0
            fi
            test -f "$1" || exit 2
            echo "This is Ipopt version 3.14.99, running with linear solver ma27."
            """
        )
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", str(tmp_path))
    info = toolchain._detect_ipopt()
    assert info.available, info.detail
    assert info.version == "3.14.99"
    assert info.linear_solver == "ma27"
    assert info.path == str(fake)

    monkeypatch.setitem(sys.modules, "cyipopt", None)
    assert default_solver() == "ipopt"


def test_format_solver_report():
    infos = [
        SolverInfo("cyipopt", True, "3.14.11", "mumps", "/x/libpynumero_ASL.so", "ok"),
        SolverInfo("ipopt", False, None, None, None, "no 'ipopt' executable on PATH"),
    ]
    text = format_solver_report(infos)
    lines = text.splitlines()
    assert lines[0].split() == ["solver", "available", "version", "linear", "solver", "path"]
    assert "cyipopt" in lines[2] and "yes" in lines[2] and "mumps" in lines[2]
    assert "ipopt" in lines[3] and "no" in lines[3]
    assert "no 'ipopt' executable on PATH" in text


def test_parse_banner():
    assert toolchain._parse_banner(
        "This is Ipopt version 3.14.11, running with linear solver MUMPS 5.5.1.\n"
    ) == ("mumps", "MUMPS 5.5.1")
    assert toolchain._parse_banner("nothing here") is None


def test_replicating_a_benchmark_does_not_import_cyipopt():
    """Choosing the route finds cyipopt without importing it, so a fresh process that builds
    a calibrated economy and replicates its benchmark (no IPOPT call) never imports it: half
    a second of import + first solve. IPOPT calls import it (tests everywhere else)."""
    code = textwrap.dedent("""
        import sys
        from calibration.calibrate import set_start
        from cge import Equilibrium
        from cge.scenario import prepare_scenario
        data = prepare_scenario("runs/us_china_tariffs.yaml").data
        eq = Equilibrium(data.primitives)
        set_start(eq, data.start)
        eq.solve()
        assert eq.last_stats.method == "none", eq.last_stats
        print("cyipopt imported:", "cyipopt" in sys.modules)
    """)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "cyipopt imported: False" in out.stdout


def test_cyipopt_missing_at_the_first_ipopt_call_is_named(monkeypatch):
    from cge import solve

    monkeypatch.setitem(sys.modules, "cyipopt", None)
    with pytest.raises(SolverNotFoundError, match="IPOPT through cyipopt is needed.*cannot import cyipopt"):
        solve._cyipopt_nlp()
