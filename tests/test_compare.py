"""`cge compare`: runs and sweep members side by side; different data sets refused."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cge.cli import app
from cge.compare import PICTURES, compare_runs, read_runs
from cge.errors import InputError
from cge.sweep import clear_caches, run_sweep
from scenario_files import TARIFF_BASE, write  # tests/scenario_files.py

BASE = TARIFF_BASE


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    clear_caches()
    sweep = write(tmp, "levels", {**BASE, "sweep": {"axes": {
        "t": {"path": "shocks[0].value", "values": [0.1, 0.3]}}}})
    run_sweep(sweep, tmp / "levels", scheduler="serial", warm=False, progress=None, plots=False)
    runner = CliRunner()
    single = write(tmp, "single", {**BASE, "name": "single"})
    out = runner.invoke(app, ["run", str(single), "-o", str(tmp / "single"), "--no-excel",
                              "--no-plots"])
    assert out.exit_code == 0, out.output
    other = write(tmp, "other", {"name": "other", "data": {"example": "symmetric"},
                                 "shocks": [{"type": "tariff", "mode": "add", "value": 0.1}]})
    out = runner.invoke(app, ["run", str(other), "-o", str(tmp / "other"), "--no-excel",
                              "--no-plots"])
    assert out.exit_code == 0, out.output
    return tmp


def test_runs_and_members_side_by_side(folders):
    runs = read_runs([folders / "single", f"{folders / 'levels'}:t=0.3", folders / "levels"])
    assert [r.label for r in runs] == ["single", "levels:t=0.3", "levels:t=0.1",
                                       "cmp0/levels:t=0.3"]
    tables = compare_runs(runs)
    w = tables["welfare"]
    assert list(w.columns) == [r.label for r in runs]
    total = w.xs("total", level="variable")  # log points, the one welfare measure
    # the cge run at t = 0.1 is the sweep's member t = 0.1; the member t = 0.3 differs
    np.testing.assert_allclose(total["single"], total["levels:t=0.1"], rtol=1e-10)
    np.testing.assert_allclose(total["levels:t=0.3"], total["cmp0/levels:t=0.3"], rtol=0)
    assert (total["levels:t=0.3"] - total["single"]).abs().max() > 1e-3
    assert "terms_of_trade" in w.index.get_level_values("variable")
    for name in ("trade", "cutoffs", "prices"):
        assert len(tables[name]) and list(tables[name].columns) == list(w.columns), name
    # sectors with firms only (armington agriculture has none; krugman services: all produce)
    assert set(tables["cutoffs"].index.get_level_values("sector")) == {"manufacturing", "services"}


def test_cli_compare_writes_tables_and_one_picture_per_result(folders, tmp_path):
    out = CliRunner().invoke(app, ["compare", str(folders / "single"),
                                   f"{folders / 'levels'}:t=0.3", "-o", str(tmp_path / "w.csv"),
                                   "-d", str(tmp_path / "cmp")], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "levels:t=0.3" in out.output and "Factor prices" in out.output
    # one CSV file carries its units in its header: log points in the name, EV's money unit
    header = list(pd.read_csv(tmp_path / "w.csv").columns)
    assert header[:3] == ["region", "single:welfare_log_points",
                          "single:ev (numeraire units (benchmark money))"], header
    # the welfare table holds the total and components in log points and EV, never the %
    # change; every variable of every table has its unit in units.csv
    welfare = pd.read_csv(tmp_path / "cmp" / "compare_welfare.csv")
    assert "welfare_change_pct" not in set(welfare["variable"])
    units = pd.read_csv(tmp_path / "cmp" / "units.csv").set_index(["table", "variable"])["unit"]
    assert units[("compare_welfare", "total")] == "log points"
    assert units[("compare_welfare", "terms_of_trade")] == "log points"
    assert units[("compare_welfare", "ev")] == "numeraire units (benchmark money)"
    assert units[("compare_trade", "exports_change_pct")] == "%"
    from cge.units import UNDOCUMENTED
    assert UNDOCUMENTED not in set(units)
    for name in ("welfare", "trade", "cutoffs", "prices"):
        frame = pd.read_csv(tmp_path / "cmp" / f"compare_{name}.csv")
        assert set(frame["variable"]) <= set(units.loc[f"compare_{name}"].index), name
    for name in ("welfare", "trade", "cutoffs", "prices"):
        assert (tmp_path / "cmp" / f"compare_{name}.csv").is_file()
    for pic in PICTURES.values():
        assert (tmp_path / "cmp" / pic).is_file(), pic


def test_different_data_sets_are_refused(folders):
    with pytest.raises(InputError) as exc:
        read_runs([folders / "single", folders / "other"])
    text = str(exc.value)
    assert "different data sets" in text
    assert "single: example three_by_three" in text and "other: example symmetric" in text
    out = CliRunner().invoke(app, ["compare", str(folders / "levels"), str(folders / "other")])
    assert out.exit_code == 1 and "different data sets" in out.output
    out = CliRunner().invoke(app, ["compare", f"{folders / 'levels'}:t=9"])
    assert out.exit_code == 1 and "no solved member 't=9'" in out.output


def test_members_table_reads_back_from_csv(folders):
    """Without Parquet the CSV long table gives the same comparison."""
    pq = folders / "levels" / "results.parquet"
    a = compare_runs(read_runs([folders / "levels"]))["welfare"]
    moved = pq.with_suffix(".bak")
    pq.rename(moved)
    try:
        b = compare_runs(read_runs([folders / "levels"]))["welfare"]
    finally:
        moved.rename(pq)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-15)
