"""What a new user meets first (issue 12): implausible shocks, every problem at once, a CSV
folder as data, and a unit for every column of every output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cge.plausibility import (check_large_scale, check_rate_added, check_rate_set,
                              check_small_percentage)
from cge.scenario import ScenarioError, TariffShock, prepare_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[1]

SLIPS = """name: slips
data: {example: three_by_three}
shocks:
  - {type: tariff, importers: North, mode: add, value: 10}
  - {type: tariff, importers: South, mode: set, value: 25}
  - {type: iceberg, mode: cut_pct, value: 0.5}
"""


def _tariff(mode, value):
    return TariffShock(type="tariff", mode=mode, value=value)


@pytest.mark.parametrize("rule, mode, value, flagged", [
    (check_rate_added, "add", 10, True), (check_rate_added, "add", 0.2, False),
    (check_rate_set, "set", 25, True), (check_rate_set, "set", 0.25, False),
    (check_small_percentage, "cut_pct", 0.5, True), (check_small_percentage, "cut_pct", 50, False),
    (check_large_scale, "scale", 50, True), (check_large_scale, "scale", 0.9, False),
])
def test_each_rule(rule, mode, value, flagged):
    msgs = rule(_tariff(mode, value))
    assert bool(msgs) == flagged
    if flagged:
        assert f"mode {mode}, value {value:g}" in msgs[0]


def test_implausible_shocks_are_refused_naming_field_and_value():
    with pytest.raises(ScenarioError) as exc:
        prepare_scenario(SLIPS)
    problems = exc.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("<scenario>:4: shocks[0].value:") and "1000 percentage points" in problems[0]
    assert "2500%" in problems[1] and "shocks[1].value" in problems[1]
    assert "0.5% cut" in problems[2] and "accept_implausible" in problems[2]


def test_an_explicit_flag_accepts_them_with_warnings():
    prep = prepare_scenario(SLIPS, accept_implausible=True)
    assert len(prep.warnings) == 3
    prep = prepare_scenario(SLIPS + "accept_implausible: true\n")
    assert len(prep.warnings) == 3
    assert prep.models["as_specified"][1]["tariff"].max() > 10


def test_check_reports_every_independent_problem_at_once():
    text = """name: many_problems
data: {example: three_by_three}
market_structure: {mfg: krugman}
shocks:
  - {type: tariff, importers: Nrth, mode: add, value: 0.1}
  - {type: tariff, importers: South, mode: add, value: 10}
expect:
  welfare: {Wst: positive}
"""
    with pytest.raises(ScenarioError) as exc:
        prepare_scenario(text)
    joined = "\n".join(exc.value.problems)
    assert "unknown sector 'mfg'" in joined  # the override
    assert "unknown region 'Nrth'" in joined  # a shock
    assert "unknown region 'Wst'" in joined  # an expectation
    assert "1000 percentage points" in joined  # a slip
    assert len(exc.value.problems) == 4


@pytest.mark.solver
def test_csv_folder_scenario_gives_the_workbooks_results(tmp_path):
    shocks = ("shocks:\n  - {type: tariff, importers: North, exporters: South, mode: add, "
              "value: 0.1}\n")
    (tmp_path / "book.yaml").write_text(
        f"name: book\ndata: {ROOT / 'sam_data' / 'template_multiregion.xlsx'}\n{shocks}")
    (tmp_path / "csv.yaml").write_text(
        f"name: csv\ndata: {ROOT / 'sam_data' / 'template_multiregion_csv'}\n{shocks}")
    book, csv = run_scenario(tmp_path / "book.yaml"), run_scenario(tmp_path / "csv.yaml")
    assert csv.prepared.data.description.startswith("workbook")
    assert len(csv.prepared.data.checksum) == 64
    assert csv.prepared.data.units == book.prepared.data.units
    wb, wc = book.runs["as_specified"].welfare.regions, csv.runs["as_specified"].welfare.regions
    cols = ["total", "ev", "terms_of_trade", "tariffs"]
    np.testing.assert_allclose(wc[cols].to_numpy(), wb[cols].to_numpy(), rtol=1e-7,
                               atol=1e-9 * float(np.abs(wb["ev"]).max()))


@pytest.mark.solver
def test_every_column_of_every_output_has_a_unit(tmp_path):
    result = run_scenario(ROOT / "runs" / "tariff_retaliation.yaml", subtotals=False)
    out = result.write(tmp_path / "r", plots=False, html=False)
    units = pd.read_csv(out / "units.csv", keep_default_na=False)
    described = set(zip(units["table"], units["column"]))
    for csv in out.glob("*.csv"):
        frame = pd.read_csv(csv)
        for col in frame.columns:
            assert (csv.stem, col) in described, (csv.stem, col)
    assert (units["unit"] != "").all()
    from cge.units import UNDOCUMENTED

    undocumented = units[units["unit"] == UNDOCUMENTED]
    assert undocumented.empty, list(zip(undocumented["table"], undocumented["column"]))
    welfare = units[units["table"] == "welfare"].set_index("column")["unit"]
    assert welfare["total"] == "log points" and welfare["terms_of_trade"] == "log points"
    assert welfare["welfare_change_pct"] == "%"
    assert welfare["ev"] == "numeraire units (benchmark money)"
    from openpyxl import load_workbook

    wb = load_workbook(out / "results.xlsx", read_only=True)
    assert "units" in wb.sheetnames
    import json

    info = json.loads((out / "run_info.json").read_text())
    assert info["units"]["summary"]["ev"] == info["money_unit"]
    import xarray as xr

    with xr.open_dataset(out / "results.nc", engine="scipy") as ds:
        assert ds["welfare__total"].attrs["units"] == "log points"
        np.testing.assert_allclose(ds["welfare__ev"].values,
                                   result.runs["as_specified"].welfare.regions["ev"].to_numpy())
    pq = pd.read_parquet(out / "welfare.parquet")
    np.testing.assert_allclose(pq["total"], result.runs["as_specified"].welfare.regions["total"])


@pytest.mark.solver
def test_calibrated_data_carry_their_currency(tmp_path):
    result = run_scenario(ROOT / "runs" / "us_china_tariffs.yaml")
    out = result.write(tmp_path / "us", plots=False, excel=False, html=False)
    units = pd.read_csv(out / "units.csv").set_index(["table", "column"])["unit"]
    assert units[("welfare", "ev")] == "million USD (2006), benchmark prices"
    base = result.runs["as_specified"].base.regions
    # the normalised CPI is 1 at the calibrated benchmark: real income equals income
    np.testing.assert_allclose(base["cpi"], 1.0, rtol=1e-9)
    np.testing.assert_allclose(base["real_income"], base["income"], rtol=1e-9)


def test_every_welfare_component_has_a_meaning():
    """A welfare component added to cge.welfare gets its unit and meaning in cge.units
    (consumer_surplus of the linear sectors once had none)."""
    from cge.units import unit_of
    from cge.welfare import COMPONENTS

    for name in COMPONENTS:
        for col in (name, f"ev_{name}"):
            unit, text = unit_of(col, "welfare", money="USD")
            assert "no unit documented" not in text, col
