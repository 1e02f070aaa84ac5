"""A national SAM with a rest-of-world account: `cge national` builds the workbook, and a
tariff scenario on it runs to a report (issue 12: the first hour of a new user)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cge.cli import app

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "sam_data" / "template_multiregion_csv"


@pytest.fixture
def national_sam(tmp_path):
    shutil.copy(CSV / "sam_North.csv", tmp_path / "sam.csv")
    shutil.copy(CSV / "accounts.csv", tmp_path / "accounts.csv")
    return tmp_path


def test_bad_accounts_are_named(national_sam):
    acc = national_sam / "accounts.csv"
    acc.write_text(acc.read_text().replace("rest_of_world,rest_of_world,", "rest_of_world,factor,"))
    res = CliRunner().invoke(app, ["national", str(national_sam / "sam.csv"), "-a", str(acc),
                                   "-r", "North", "-o", str(national_sam / "n.xlsx")])
    assert res.exit_code == 1
    assert "exactly one account of type rest_of_world" in res.output


@pytest.mark.solver
@pytest.mark.slow  # about 10 s idle: solves, then writes Excel, pictures, netCDF and the report
def test_national_sam_to_a_report(national_sam):
    runner = CliRunner()
    book = national_sam / "north.xlsx"
    res = runner.invoke(app, ["national", str(national_sam / "sam.csv"), "-a",
                              str(national_sam / "accounts.csv"), "-r", "North", "-o", str(book),
                              "--units", "million USD (2020)"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["check", str(book)])
    assert res.exit_code == 0 and "['North', 'ROW']" in res.output, res.output
    scenario = national_sam / "cut.yaml"
    scenario.write_text("name: north_cut\ntitle: North halves its tariffs\ndata: north.xlsx\n"
                        "closure: {small_open_economy: ROW}\nshocks:\n"
                        "  - {type: tariff, importers: North, mode: cut_pct, value: 50}\n")
    res = runner.invoke(app, ["run", str(scenario), "-o", str(national_sam / "out")])
    assert res.exit_code == 0, res.output
    html = (national_sam / "out" / "report.html").read_text()
    assert "North halves its tariffs" in html and "million USD (2020), benchmark prices" in html
