"""The command line on bundled data: check and calibrate accept workbooks and CSV folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cge.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("data", ["template_multiregion.xlsx", "template_multiregion_csv"])
def test_check_reads_and_calibrates_bundled_data(data):
    result = CliRunner().invoke(app, ["check", str(ROOT / "sam_data" / data)])
    assert result.exit_code == 0, result.output
    assert "reads and calibrates" in result.output


def test_check_names_a_missing_path(tmp_path):
    result = CliRunner().invoke(app, ["check", str(tmp_path / "nowhere.xlsx")])
    assert result.exit_code == 1
    assert "nowhere.xlsx: no such file or folder" in result.output


def test_example_command_prints_welfare():
    result = CliRunner().invoke(app, ["example", "--cut", "20"])
    assert result.exit_code == 0, result.output
    assert "Welfare" in result.output and "North" in result.output


def test_run_several_scenarios_into_one_folder(tmp_path):
    runs = ROOT / "runs"
    result = CliRunner().invoke(app, ["run", str(runs / "tariff_unilateral.yaml"),
                                      str(runs / "tariff_retaliation.yaml"), "-o", str(tmp_path),
                                      "--no-plots", "--no-excel", "--strict"])
    assert result.exit_code == 0, result.output
    for name in ("tariff_unilateral", "tariff_retaliation"):
        assert (tmp_path / name / "welfare.csv").is_file(), name
    assert "scenario 2 of 2 done" in result.output


def test_run_validates_every_scenario_before_solving(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndata: {example: three_by_three}\nshocks:\n"
                   "  - {type: tariff, importers: Nowhere, mode: set, value: 0.1}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(ROOT / "runs" / "tariff_unilateral.yaml"),
                                      str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert "bad.yaml:4" in result.output and "Nowhere" in result.output
    assert not out.exists(), "nothing may be solved or written before every file is valid"
    dup = CliRunner().invoke(app, ["run", str(ROOT / "runs" / "tariff_unilateral.yaml"),
                                   str(ROOT / "runs" / "tariff_unilateral.yaml"), "-o", str(out)])
    assert dup.exit_code == 1 and "named ['tariff_unilateral']" in dup.output
