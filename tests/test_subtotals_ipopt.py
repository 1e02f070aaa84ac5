"""Subtotals by shock on the ipopt-executable route (solver="ipopt"): the points of the path
are solved by the executable, the tangents come from PyNumero's Jacobian, and the result is
that of the cyipopt route. The executable is a real ``ipopt`` on PATH if there is one, else
the test stand-in of tests/test_ipopt_executable.py (tests/tools/ipopt_stand_in.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from cge.scenario import run_scenario
from cge.subtotals import NO_PYNUMERO, TOLERANCE, gap_scale
from scenario_files import two_shocks_scenario  # tests/scenario_files.py

REAL_IPOPT = shutil.which("ipopt")

pytestmark = [
    pytest.mark.solver,
    pytest.mark.skipif(REAL_IPOPT is None and sys.platform == "win32",
                       reason="no ipopt executable on PATH, and the stand-in is a POSIX shell "
                       "script"),
]

@pytest.fixture
def ipopt_on_path(monkeypatch, tmp_path):
    if REAL_IPOPT is not None:
        return Path(REAL_IPOPT)
    spec = importlib.util.spec_from_file_location(
        "ipopt_stand_in", Path(__file__).parent / "tools" / "ipopt_stand_in.py")
    stand_in = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stand_in)
    launcher = stand_in.write_launcher(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{launcher.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return launcher


def _wide(table):
    return table.pivot_table(index=["quantity", "region", "partner"], columns="shock",
                             values="value", sort=False)


@pytest.mark.slow  # about 45 s here: a dozen solves, each a new ipopt process, then cyipopt
def test_subtotals_on_the_ipopt_executable_route(ipopt_on_path):
    exe = run_scenario(two_shocks_scenario(), solver="ipopt", subtotals=True)
    assert exe.runs["as_specified"].stats["solver"] == "ipopt"
    wide = _wide(exe.subtotals)
    shocks = ["tariff", "trade costs"]
    gap = (wide[shocks].sum(axis=1) - wide["total"]).abs()
    assert (gap <= TOLERANCE * gap_scale(wide["total"])).all(), gap.max()
    assert (wide[shocks].abs().max() > 1e-3).all()
    # the same contributions as on the cyipopt route (each point is polished by Newton
    # steps, so the routes differ by far less than IPOPT's tolerance)
    cy = _wide(run_scenario(two_shocks_scenario(), solver="cyipopt", subtotals=True).subtotals)
    cy = cy.reindex(wide.index)
    scale = gap_scale(wide["total"])
    for col in shocks + ["total"]:
        assert ((wide[col] - cy[col]).abs() <= 1e-7 * scale).all(), col


def test_without_pynumero_the_reason_is_given(monkeypatch):
    """Subtotals need PyNumero's ASL library (the Jacobian), not cyipopt: without it the run
    says so instead of failing inside Pyomo."""
    import cge.toolchain
    from cge import Equilibrium, SolveError
    from cge.examples import symmetric
    from cge.subtotals import subtotals

    prim = symmetric(2, 1)
    eq = Equilibrium(prim)
    monkeypatch.setattr(cge.toolchain, "configure_pynumero", lambda: False)
    with pytest.raises(SolveError) as info:
        subtotals(eq, None, prim, [("tariff", {"tariff": 0 * prim["tariff"]})])
    assert str(info.value) == NO_PYNUMERO
    assert "libpynumero_ASL" in NO_PYNUMERO and "cyipopt or the ipopt executable" in NO_PYNUMERO
