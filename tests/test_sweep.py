"""Sweeps and structural parameters: members equal separate runs, failures and resumes,
recalibration after a sigma override, Dask (slow: a two-process LocalCluster)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cge.cli import app
from cge.scenario import ScenarioError, prepare_scenario, run_scenario
from cge.sweep import SweepError, clear_caches, load_sweep, long_table, run_sweep
from cge.errors import InputError
from cge.tolerance import limit
from scenario_files import TARIFF_BASE, write  # tests/scenario_files.py

BASE = TARIFF_BASE


def tariff_sweep(tmp_path, values=(0.1, 0.2, 0.3)) -> Path:
    return write(tmp_path, "levels", {**BASE, "sweep": {"axes": {
        "t": {"path": "shocks[0].value", "values": list(values)}}}})


def by_key(table: pd.DataFrame) -> pd.Series:
    keys = ["model", "table", "region", "partner", "sector", "factor", "variable"]
    return table.set_index(keys)["value"].sort_index()


def scaled_difference(a: pd.Series, b: pd.Series) -> pd.Series:
    """|a - b| over the largest |a| of the same variable (residuals are compared on the
    scale of the quantity they are residuals of, not on their own ~1e-15 scale)."""
    size = a.abs()
    scale = size.groupby(level=["table", "variable"]).transform("max")
    residual = a.index.get_level_values("variable").str.contains("residual")
    scale[residual] = size.groupby(level="table").transform("max")[residual]
    return ((a - b).abs() / scale.replace(0.0, 1.0)).fillna(0.0)


# ---------------------------------------------------------------- sweeps
def test_members_equal_separate_cge_runs(tmp_path):
    """Each member of a cold sweep (`--cold`: from its own benchmark, as `cge run`) gives
    the numbers of a separate `cge run` of that member's scenario, to 1e-10 relative."""
    clear_caches()
    sweep = load_sweep(tariff_sweep(tmp_path))
    assert [m.name for m in sweep.members] == ["t=0.1", "t=0.2", "t=0.3"]
    result = run_sweep(sweep, tmp_path / "out", scheduler="serial", warm=False, progress=None,
                       plots=False)
    assert list(result.members["status"]) == ["ok"] * 3
    runner = CliRunner()
    for m in sweep.members:
        scenario = write(tmp_path, m.name.replace("=", "_"), sweep.member_mapping(m))
        folder = tmp_path / f"run_{m.name}"
        out = runner.invoke(app, ["run", str(scenario), "-o", str(folder), "--no-excel",
                                  "--no-plots"])
        assert out.exit_code == 0, out.output
        welfare = pd.read_csv(folder / "welfare.csv").set_index("region")
        mine = result.table[(result.table["member"] == m.name) & (result.table["table"] == "welfare")]
        for var in ("welfare_change_pct", "ev", "terms_of_trade", "tariffs", "variety", "selection"):
            got = mine[mine["variable"] == var].set_index("region")["value"]
            np.testing.assert_allclose(got.reindex(welfare.index), welfare[var], rtol=1e-10,
                                       atol=0, err_msg=f"{m.name}: {var}")
        # every other result too (the same tables in memory)
        ref = by_key(long_table(run_scenario(sweep.member_mapping(m)).tables()))
        got = by_key(result.table[result.table["member"] == m.name].drop(columns=["member", "t"]))
        assert list(got.index) == list(ref.index)
        assert float(scaled_difference(ref, got).max()) <= 1e-10
    # the long table is on disk, as Parquet and CSV, with the member's value as a column
    for name in ("results.parquet", "results.csv", "members.csv", "sweep.yaml", "sweep_info.json"):
        assert (tmp_path / "out" / name).is_file(), name
    disk = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert list(disk.columns[:2]) == ["member", "t"]
    assert sorted(disk["t"].unique()) == [0.1, 0.2, 0.3]


def test_warm_starts_agree_with_cold_runs(tmp_path):
    """Members started from their nearest solved neighbour reach the same equilibrium
    (within the solver's tolerance on the scale of each result) and do start there."""
    clear_caches()
    path = tariff_sweep(tmp_path)
    warm = run_sweep(path, tmp_path / "warm", scheduler="serial", progress=None, plots=False)
    clear_caches()
    cold = run_sweep(path, tmp_path / "cold", scheduler="serial", warm=False, progress=None,
                     plots=False)
    assert list(warm.members["start"]) == ["benchmark", "t=0.1", "t=0.2"]
    assert list(cold.members["start"]) == ["benchmark"] * 3
    assert list(warm.members["benchmark_reused"]) == [False, True, True]
    diff = scaled_difference(by_key(cold.table.drop(columns=["member"]).assign(
        model=cold.table["member"] + "/" + cold.table["model"])),
        by_key(warm.table.drop(columns=["member"]).assign(
            model=warm.table["member"] + "/" + warm.table["model"])))
    assert float(diff.max()) <= limit()
    # the tariff-level axis matters: welfare of South falls with the tariff on its exports
    w = warm.table[(warm.table["table"] == "welfare") & (warm.table["variable"] == "welfare_change_pct")
                   & (warm.table["region"] == "South")]
    assert w["value"].is_monotonic_decreasing and w["value"].iloc[-1] < 0


def test_failing_member_is_reported_and_others_go_on(tmp_path):
    """An invalid member (k below sigma - 1) and one IPOPT cannot solve (max_iter 0) are
    recorded with their diagnosis; the other member solves; `cge sweep` exits with 2 and
    prints a line per member also when its output is not a terminal."""
    clear_caches()
    path = write(tmp_path, "bad", {**BASE, "sweep": {"axes": {"variant": {"alternatives": {
        "fine": {},
        "bad_k": {"parameters.k.manufacturing": 2.0},
        "no_iterations": {"solver_options.max_iter": 0, "shocks[0].value": 0.5},
    }}}}})
    out = CliRunner().invoke(app, ["sweep", str(path), "-o", str(tmp_path / "out"),
                                   "--scheduler", "serial", "--no-plots"])
    assert out.exit_code == 2, out.output
    for name in ("variant=fine", "variant=bad_k", "variant=no_iterations"):
        assert f"] {name}: " in out.output
    members = pd.read_csv(tmp_path / "out" / "members.csv").set_index("member")
    assert members.loc["variant=fine", "status"] == "ok"
    assert members.loc["variant=bad_k", "status"] == "invalid"
    assert "parameters.k.manufacturing" in members.loc["variant=bad_k", "diagnosis"]
    assert "sigma - 1" in members.loc["variant=bad_k", "diagnosis"]
    assert members.loc["variant=no_iterations", "status"] == "failed"
    assert "IPOPT" in members.loc["variant=no_iterations", "diagnosis"]
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(table["member"]) == {"variant=fine"}


def test_interrupted_sweep_resumes_with_unfinished_members_only(tmp_path):
    """Killed after its first member, a rerun solves only the other two; the final table
    equals that of an uninterrupted (cold) sweep."""
    clear_caches()
    path = tariff_sweep(tmp_path)
    seen = []

    def kill_after_first(res):
        seen.append(res["name"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, tmp_path / "out", scheduler="serial", warm=False, progress=None,
                  on_member=kill_after_first, plots=False)
    assert seen == ["t=0.1"]
    assert sorted(p.name for p in (tmp_path / "out" / "members").glob("*.json")) == ["t=0.1.json"]
    assert not (tmp_path / "out" / "results.csv").exists()
    lines = []
    resumed = run_sweep(path, tmp_path / "out", scheduler="serial", warm=False,
                        progress=lines.append)
    assert resumed.ran == ["t=0.2", "t=0.3"]
    assert "1 already finished" in lines[0]
    assert list(resumed.members["status"]) == ["ok"] * 3
    assert (tmp_path / "out" / "welfare_by_member.png").is_file()
    clear_caches()
    whole = run_sweep(path, tmp_path / "whole", scheduler="serial", warm=False, progress=None,
                      plots=False)
    pd.testing.assert_frame_equal(resumed.table, whole.table)
    again = run_sweep(path, tmp_path / "out", scheduler="serial", progress=None, plots=False)
    assert again.ran == []


def test_sigma_override_recalibrates_every_member(tmp_path):
    """Overriding sigma recalibrates to the same data: every member's benchmark (a new
    model) is solved in at most one iteration and has the same flows; the member at the
    data's own sigma reproduces the run without override; sigma changes the result."""
    clear_caches()
    path = write(tmp_path, "sig", {**BASE, "sweep": {"axes": {"sigma": {
        "path": "parameters.sigma.manufacturing", "grid": {"from": 3.8, "to": 4.6, "num": 3}}}}})
    result = run_sweep(path, tmp_path / "out", scheduler="serial", progress=None, plots=False)
    m = result.members
    assert list(m["sigma"]) == [3.8, 4.2, 4.6]
    assert list(m["status"]) == ["ok"] * 3
    assert (m["benchmark_iterations"] <= 1).all(), m
    assert not m["benchmark_reused"].any()
    t = result.table
    flows = t[(t["table"] == "trade") & (t["variable"] == "trade_value_base")]
    wide = flows.pivot_table(index=["region", "partner", "sector"], columns="sigma", values="value")
    for col in wide.columns:
        np.testing.assert_allclose(wide[col], wide[3.8], rtol=limit(terms=10))
    plain = run_scenario(BASE).runs["as_specified"].welfare.regions["welfare_change_pct"]
    w = t[(t["table"] == "welfare") & (t["variable"] == "welfare_change_pct")]
    at_data = w[w["sigma"] == 3.8].set_index("region")["value"].reindex(plain.index)
    np.testing.assert_allclose(at_data, plain, rtol=1e-6)
    south = w[w["region"] == "South"].set_index("sigma")["value"]
    assert abs(south[4.6] - south[3.8]) > 1e-3 * abs(south[3.8])


def test_structural_parameter_errors_name_field_and_range():
    bad = {**BASE, "parameters": {"k": {"manufacturing": 2.5}}}
    with pytest.raises(ScenarioError) as exc:
        prepare_scenario(bad)
    assert "parameters.k.manufacturing" in str(exc.value)
    assert "sigma - 1 = 2.8" in str(exc.value)
    for params, words in (({"sigma": {"manufacturing": 1.0}}, ["parameters.sigma.manufacturing",
                                                              "(1, inf)"]),
                          ({"sigma": {"North": 3.0}}, ["sector only", "'North' is a region"]),
                          ({"tau": 1.5}, ["parameters.tau", "calibrated to the data"]),
                          ({"sigam": 3.0}, ["did you mean 'sigma'"])):
        with pytest.raises(ScenarioError) as exc:
            prepare_scenario({**BASE, "parameters": params})
        for w in words:
            assert w in str(exc.value), (w, str(exc.value))
    with pytest.raises(ScenarioError, match="go under 'parameters:'"):
        prepare_scenario({**BASE, "sigma": 3.0})


def test_sweep_file_errors(tmp_path):
    with pytest.raises(SweepError, match=r"position 3 does not exist"):
        load_sweep(write(tmp_path, "a", {**BASE, "sweep": {"axes": {
            "t": {"path": "shocks[3].value", "values": [0.1]}}}}))
    with pytest.raises(SweepError, match="zip needs axes of equal length"):
        load_sweep(write(tmp_path, "b", {**BASE, "sweep": {"combine": "zip", "axes": {
            "t": {"path": "shocks[0].value", "values": [0.1, 0.2]},
            "s": {"path": "parameters.sigma.manufacturing", "values": [3.0]}}}}))
    with pytest.raises(SweepError, match="exactly one of 'sweep:'"):
        load_sweep(write(tmp_path, "c", BASE))
    # a member whose scenario does not validate names the member and the field
    with pytest.raises(SweepError, match=r"member t=-2.*tariff .*-100%"):
        load_sweep(write(tmp_path, "d", {**BASE, "shocks": [{**BASE["shocks"][0], "mode": "set"}],
                                         "sweep": {"axes": {"t": {"path": "shocks[0].value",
                                                                  "values": [0.1, -2]}}}}))


def test_expansion_product_zip_alternatives(tmp_path):
    sweep = load_sweep(write(tmp_path, "e", {**BASE, "sweep": {"axes": {
        "t": {"path": "shocks[0].value", "grid": {"from": 0.1, "to": 0.3, "num": 3}},
        "retaliation": {"alternatives": {
            "none": {}, "full": {"shocks[+]": {"type": "tariff",
                                               "retaliation": {"by": "South", "against": "North"}}}}},
    }}}))
    assert [m.name for m in sweep.members][:2] == ["t=0.1__retaliation=none",
                                                   "t=0.1__retaliation=full"]
    assert len(sweep.members) == 6
    full = sweep.member_mapping(sweep.members[1])
    assert len(full["shocks"]) == 2 and full["shocks"][0]["value"] == 0.1
    assert len(sweep.member_mapping(sweep.members[0])["shocks"]) == 1
    assert sweep.member_mapping(sweep.members[4])["shocks"][0]["value"] == 0.3
    zipped = load_sweep(write(tmp_path, "f", {**BASE, "sweep": {"combine": "zip", "axes": {
        "t": {"path": "shocks[0].value", "values": [0.1, 0.2]},
        "s": {"path": "parameters.sigma.manufacturing", "values": [3.5, 4.0]}}}}))
    assert [m.name for m in zipped.members] == ["t=0.1__s=3.5", "t=0.2__s=4"]


# ---------------------------------------------------------------- Dask
@pytest.mark.slow
def test_local_cluster_gives_the_serial_table(tmp_path):
    """The same sweep on a two-process LocalCluster (started and shut down here) and
    serially: the same members, statuses and numbers (cold members: bit for bit; the
    processes differ, not the arithmetic), the failing member reported by both."""
    from distributed import LocalCluster

    path = write(tmp_path, "dask", {**BASE, "sweep": {"axes": {
        "t": {"path": "shocks[0].value", "values": [0.1, 0.2, 0.3]},
        "variant": {"alternatives": {"fine": {}, "bad_k": {"parameters.k.manufacturing": 2.0}}},
    }}})
    clear_caches()
    serial = run_sweep(path, tmp_path / "serial", scheduler="serial", warm=False, progress=None,
                       plots=False)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    try:
        lines = []
        dask = run_sweep(path, tmp_path / "dask", scheduler=cluster.scheduler_address,
                         warm=False, progress=lines.append, plots=False)
        workers = set(dask.members["worker"].dropna())
    finally:
        cluster.close()
    assert len(lines) == 1 + 6
    assert list(dask.members["status"]) == list(serial.members["status"])
    assert (dask.members["status"] == "invalid").sum() == 3
    pd.testing.assert_frame_equal(dask.table, serial.table)
    assert len(workers) >= 1


@pytest.mark.slow
def test_local_cluster_default_and_warm(tmp_path):
    """`scheduler='local'` starts (and closes) its own two-process cluster; warm members
    agree with the serial cold ones within the solver's tolerance."""
    path = tariff_sweep(tmp_path, values=(0.05, 0.1, 0.15, 0.2))
    clear_caches()
    serial = run_sweep(path, tmp_path / "serial", scheduler="serial", warm=False, progress=None,
                       plots=False)
    dask = run_sweep(path, tmp_path / "dask", scheduler="local", workers=2, progress=None,
                     plots=False)
    key = lambda r: by_key(r.table.drop(columns=["member"]).assign(  # noqa: E731
        model=r.table["member"] + "/" + r.table["model"]))
    assert float(scaled_difference(key(serial), key(dask)).max()) <= limit()
    info = json.loads((tmp_path / "dask" / "sweep_info.json").read_text())
    assert info["members"] == 4 and not info["failed"]
    assert math.isfinite(info["elapsed_seconds"])


def test_cge_run_points_a_sweep_file_to_cge_sweep(tmp_path):
    out = CliRunner().invoke(app, ["run", str(tariff_sweep(tmp_path))])
    assert out.exit_code == 1 and "cge sweep" in out.output, out.output


def test_scheduler_from_the_environment(tmp_path, monkeypatch):
    """Without --scheduler the environment variable names the Dask scheduler."""
    from cge.sweep import SCHEDULER_ENV

    monkeypatch.setenv(SCHEDULER_ENV, "serial")
    lines = []
    result = run_sweep(tariff_sweep(tmp_path, values=(0.1,)), tmp_path / "out", progress=lines.append,
                       plots=False)
    assert "(serial)" in lines[0] and list(result.members["status"]) == ["ok"]


def test_a_folder_a_sweep_did_not_make_is_refused(tmp_path):
    """The sweep writes results.csv, members.csv and more: a user's folder holding other
    files is refused before any member runs, and nothing in it changes."""
    theirs = tmp_path / "mine"
    theirs.mkdir()
    (theirs / "results.csv").write_text("my own table\n")
    with pytest.raises(InputError, match="not a sweep folder made by cge .*results.csv"):
        run_sweep(tariff_sweep(tmp_path), theirs, scheduler="serial")
    assert (theirs / "results.csv").read_text() == "my own table\n"
    assert sorted(p.name for p in theirs.iterdir()) == ["results.csv"]
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        run_sweep(tariff_sweep(tmp_path), a_file, scheduler="serial")
