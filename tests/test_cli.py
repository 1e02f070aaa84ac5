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
