"""What the speed work must not change (issue 14): compilations, replication, results, limits.

Speed itself is measured in ``bench/`` (``bench/bench_scale.py``), never here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from typer.testing import CliRunner

from cge import Equilibrium, examples
from cge.errors import InputError, SolveError
from cge.results import extract
from cge.solve import residuals
from cge.tolerance import RESIDUAL_TOL

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def calibrated():
    """A calibrated 3-region x 3-sector economy (melitz, krugman, armington) and its start."""
    from calibration.calibrate import benchmark_from_equilibrium, calibrate

    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    return calibrate(benchmark_from_equilibrium(eq))


def _started(calibrated, **kwargs) -> Equilibrium:
    from calibration.calibrate import set_start

    prim, start = calibrated
    eq = Equilibrium(prim, **kwargs)
    set_start(eq, start)
    return eq


def test_replication_calls_no_ipopt_and_compiles_once(calibrated):
    eq = _started(calibrated)
    eq.solve()
    assert eq.last_stats.success and eq.last_stats.iterations == 0
    assert "IPOPT not called" in eq.last_stats.message and eq.last_stats.method == "none"
    assert eq.last_stats.ipopt_time == 0.0
    assert eq.compilations == 1
    # After the benchmark the deficits are held by the world-income rule (cge.deficits):
    # new parameter values, the same structure: nothing is compiled; the point still
    # solves the system.
    again = eq.resolve()
    assert again.success and again.iterations == 0
    assert eq.compilations == 1
    assert eq.resolve().iterations == 0
    assert eq.compilations == 1


def test_one_compilation_per_structure_across_shocks_and_homotopy_steps(calibrated):
    """Parameter values enter the compiled system as bounds (cge.compiled): a sequence
    of shocks, each stepped in by the homotopy, compiles nothing after the benchmark."""
    prim, _ = calibrated
    eq = _started(calibrated)
    eq.solve()
    assert eq.compilations == 1
    # a large shock to the iceberg costs, stepped in over several homotopy steps (some
    # of them solved by IPOPT after the Newton method gives up)
    tau = prim["tau"].copy()
    foreign = ~np.eye(len(prim.regions), dtype=bool)
    tau[foreign] *= 100.0
    eq.solve(tau=tau)
    assert len(eq.steps) > 1, eq.steps
    steps = len(eq.steps)
    for tariff in (prim["tariff"] * 0.9, prim["tariff"] * 0.5, prim["tariff"] * 1.2):
        eq.solve(tau=tau, tariff=tariff)
        steps += len(eq.steps)
        assert eq.last_stats.method == "newton"
    assert steps >= 5
    assert eq.compilations == 1, "shocks and homotopy steps compile nothing"
    eq.resolve()
    assert eq.resolve().iterations == 0
    assert eq.compilations == 1


def test_above_the_parametric_limit_replication_and_shocks_compile_once(calibrated, monkeypatch):
    """Above cge.solve.PARAMETRIC_MAX_WORK (a 60 x 40 economy) the system is a numpy tape
    (cge.tape), compiled once per structure: the calibrated benchmark replicates without
    IPOPT, and shocks solved by Newton compile nothing more; the equilibria are those of
    the parametric compiled system."""
    from cge import solve

    prim, _ = calibrated
    ref = _started(calibrated)
    ref.solve()
    monkeypatch.setattr(solve, "PARAMETRIC_MAX_WORK", 0)
    eq = _started(calibrated)
    eq.solve()
    assert eq.last_stats.method == "none" and eq.compilations == 1
    for tariff in (prim["tariff"] * 0.9, prim["tariff"] * 0.5):
        res = eq.solve(tariff=tariff)
        assert eq.last_stats.method == "newton"
        _tables_close(ref.solve(tariff=tariff), res)
    assert eq.compilations == 1, "shocks compile nothing"
    assert eq.resolve().iterations == 0


def test_changed_parameter_is_seen_by_a_cached_system(calibrated):
    """A parameter changed behind the cache's back (set directly on the model) is solved
    with its new value: the compiled system reads it at every solve."""
    eq = _started(calibrated)
    eq.solve()
    blk = eq.model.sector["manufacturing"]
    key = next(iter(blk.tariff))
    blk.tariff[key] = pyo.value(blk.tariff[key]) + 0.05
    stats = eq.resolve()
    assert stats.success and stats.iterations > 0
    assert max(abs(r) for r in residuals(eq.model).values()) <= RESIDUAL_TOL


def test_results_from_arrays_match_the_expressions():
    """The tables are built with numpy from the variables; every route value equals the
    model's own Expression (all three market structures, tariffs, IO links)."""
    eq = Equilibrium(examples.three_by_three())
    res = eq.solve()
    m = eq.model
    for s in m.sectors:
        blk = m.sector[s]
        for n, i in blk.routes:
            row = res.routes.loc[(n, i, s)]
            want = pyo.value(blk.trade_value[n, i])
            assert row["trade_value"] == pytest.approx(want, rel=1e-12)
            if blk.is_melitz:
                assert row["cutoff"] == pytest.approx(pyo.value(blk.cutoff[n, i]), rel=1e-12)
                assert row["sellers"] == pytest.approx(pyo.value(blk.sellers[n, i]), rel=1e-12)
        for r in m.regions:
            row = res.sectors.loc[(r, s)]
            scale = row["output"]
            assert row["net_profit"] == pytest.approx(pyo.value(blk.net_profit[r]), abs=1e-12 * scale)
            assert row["output"] == pytest.approx(
                sum(pyo.value(blk.trade_value[n, r]) for n in blk.destinations(r)), rel=1e-12)
            assert row["production_tax_revenue"] == pytest.approx(
                pyo.value(m.production_tax_revenue[r, s]), rel=1e-12, abs=1e-15)
    for r in m.regions:
        assert res.regions.loc[r, "income"] == pytest.approx(pyo.value(m.income[r]), rel=1e-12)
        for f in m.factors:
            assert res.factors.loc[(r, f), "factor_price"] == pytest.approx(
                pyo.value(m.factor_price[r, f]), rel=1e-12)


# ------------------------------------------------------------------ time limit
def test_time_limit_from_argument_and_validation():
    assert Equilibrium(examples.three_by_three(), time_limit=30).time_limit == 30.0
    with pytest.raises(InputError, match="time_limit"):
        Equilibrium(examples.three_by_three(), time_limit=0)


def _scenario(tmp_path, extra: str = "") -> Path:
    """A tariff cut on the bundled calibrated workbook: the benchmark replicates without
    IPOPT, so a tiny time limit is reached, deterministically, at the first shock step."""
    path = tmp_path / "cut.yaml"
    data = (ROOT / "sam_data" / "template_multiregion.xlsx").as_posix()
    path.write_text(f"name: cut\ndata: {data}\n" + extra
                    + "shocks:\n  - {type: tariff, mode: scale, value: 0.5}\n")
    return path


def test_time_limit_in_the_scenario(tmp_path):
    from cge.scenario import load_scenario, run_scenario

    assert load_scenario(_scenario(tmp_path, "time_limit: 45\n")).scenario.time_limit == 45
    with pytest.raises(InputError, match="time_limit"):
        load_scenario(_scenario(tmp_path, "time_limit: -1\n"))
    with pytest.raises(SolveError, match="time limit of 1e-09 s"):
        run_scenario(_scenario(tmp_path, "time_limit: 1.0e-9\n"))


def test_time_limit_on_the_command_line(tmp_path):
    from cge.cli import app

    result = CliRunner().invoke(app, ["run", str(_scenario(tmp_path, "time_limit: 600\n")),
                                      "-o", str(tmp_path / "out"), "--no-plots", "--no-excel",
                                      "--time-limit", "1e-9"])
    assert result.exit_code == 2, result.output
    assert "time limit of 1e-09 s" in result.output


# ------------------------------------------------------------------ formulation
def _tables_close(a, b, rel=1e-9):
    for name in ("regions", "factors", "sectors", "routes"):
        x, y = getattr(a, name), getattr(b, name)
        assert list(x.columns) == list(y.columns) and x.index.equals(y.index), name
        for col in x.columns:
            if not pd.api.types.is_numeric_dtype(x[col]) or pd.api.types.is_bool_dtype(x[col]):
                assert (x[col] == y[col]).all(), (name, col)
                continue
            xv, yv = x[col].to_numpy(float), y[col].to_numpy(float)
            # relative, with values near zero (free-entry profits, balances: roundoff)
            # compared on the scale of the table's largest value
            floor = 1e-3 * np.nanmax(np.abs(x.select_dtypes("number").to_numpy(float)))
            scale = np.maximum(np.abs(xv), floor)
            ok = np.isclose(xv, yv, rtol=0.0, atol=0.0, equal_nan=True) | (np.abs(xv - yv) <= rel * scale)
            assert ok.all(), (name, col, np.nanmax(np.abs(xv - yv) / scale))


def test_reduced_formulation_is_the_same_equilibrium():
    """Trade values and cutoffs as closed-form Expressions (the default) or as unknowns
    with their own equations: the same benchmark and the same shocked equilibrium
    (three market structures, tariffs, IO links, deficits)."""
    prim = examples.three_by_three()
    full = Equilibrium(prim, route_unknowns=True)
    reduced = Equilibrium(prim)
    assert reduced.n_equations() < full.n_equations()
    assert not hasattr(reduced.model.sector["manufacturing"], "zero_cutoff_profit")
    assert isinstance(full.model.sector["manufacturing"].log_cutoff, pyo.Var)
    _tables_close(full.solve(), reduced.solve())
    tariff = prim["tariff"] * 0.5
    _tables_close(full.solve(tariff=tariff), reduced.solve(tariff=tariff))


def test_reduced_formulation_replicates_a_calibrated_benchmark(calibrated):
    eq = _started(calibrated)
    assert not eq.model.sector["manufacturing"].route_unknowns
    res = eq.solve()
    assert eq.last_stats.iterations == 0
    ref = _started(calibrated, route_unknowns=True)
    _tables_close(ref.solve(), res)
