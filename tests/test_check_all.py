"""`cge check` on a workbook or a CSV folder reports every independent problem at once
(calibration.diagnose), each naming the sheet or file, the account and the cell, and says
which checks wait for which fixes."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from calibration import read_workbook
from calibration.diagnose import workbook_problems
from calibration.checks import TOL
from calibration.sam import DEFAULT_PRODUCTION_TAXES, WorkbookError, _read_workbook
from cge.cli import app

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "sam_data" / "template_multiregion.xlsx"
CSV = ROOT / "sam_data" / "template_multiregion_csv"


# ----------------------------------------------------------------------- editing
def _xlsx_cell(ws, row_account: str, col_account: str):
    header = [c.value for c in ws[1]]
    j = header.index(col_account)
    for row in ws.iter_rows(min_row=2):
        if row[0].value == row_account:
            return row[j]
    raise KeyError(row_account)


def _csv_rows(folder: Path, name: str) -> list[list[str]]:
    with open(folder / name, newline="", encoding="utf-8") as fh:
        return [list(r) for r in csv.reader(fh)]


def _csv_save(folder: Path, name: str, rows) -> None:
    with open(folder / name, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def _csv_set(rows, row_account: str, col_account: str, text: str) -> None:
    j = rows[0].index(col_account)
    i = next(k for k, r in enumerate(rows) if k and r and r[0] == row_account)
    rows[i][j] = text


def _check(path: Path) -> str:
    """`cge check PATH` fails with exit 1; returns its output on one line per problem."""
    res = CliRunner().invoke(app, ["check", str(path)], env={"COLUMNS": "250"})
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    return res.output


def _reader_stops_early(path: Path, problems: list[str]) -> None:
    """The reader's first failing pass finds only a part of the problems; ``read_workbook``
    (and so ``cge check``, ``cge calibrate`` and a scenario's data) reports them all."""
    with pytest.raises(WorkbookError) as err:
        _read_workbook(path, balance=None, production_taxes=DEFAULT_PRODUCTION_TAXES,
                       tol=TOL, blank_as_zero=False, with_report=False)
    assert set(err.value.problems) < set(problems)
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    assert list(err.value.problems) == list(problems)


# ------------------------------------------------------------------ a workbook
@pytest.fixture
def faulty_workbook(tmp_path):
    """Three independent faults in three sheets: an unbalanced SAM account (North), a
    negative payment (South) and a sector name the trade sheet maps to no account."""
    wb = openpyxl.load_workbook(TEMPLATE)
    _xlsx_cell(wb["sam_North"], "c_mfg", "household").value = 300  # was 230
    _xlsx_cell(wb["sam_South"], "labour", "a_mfg").value = -5
    wb["trade"]["C2"].value = "steel"
    path = tmp_path / "faulty.xlsx"
    wb.save(path)
    return path


def test_workbook_faults_in_one_pass(faulty_workbook):
    problems = workbook_problems(faulty_workbook)
    text = "\n".join(problems)
    assert all(p.startswith("faulty.xlsx: ") for p in problems)
    assert "trade!C2 (sector): 'steel' is not a known sector" in text
    assert "sam_South!B6 (row account labour, column account a_mfg) = -5" in text
    assert "sam_North: account c_mfg does not balance" in text
    assert "sam_North: account household does not balance" in text
    # what cannot run says why: the trade sheet is needed to compare it with the SAMs
    assert problems[-1].startswith("faulty.xlsx: not checked until the problems above are fixed")
    assert "agreement of the SAMs with the trade sheet (it needs the trade sheet read)" in text
    _reader_stops_early(faulty_workbook, problems)
    out = " ".join(_check(faulty_workbook).split())
    for words in ("'steel' is not a known sector", "= -5", "account c_mfg does not balance",
                  "not checked until"):
        assert words in out, words


def test_every_sheet_read_runs_every_independent_check(tmp_path):
    """Everything reads: the SAM accounting, the sector parameters and the firm data are
    all checked; the benchmark identities, which restate the SAMs' balance, wait."""
    wb = openpyxl.load_workbook(TEMPLATE)
    _xlsx_cell(wb["sam_North"], "c_mfg", "household").value = 300
    wb["parameters"]["B3"].value = 0.8  # sigma of agr
    wb["firms"]["C3"].value = 1.5  # survival of South, mfg
    path = tmp_path / "faulty.xlsx"
    wb.save(path)
    text = "\n".join(workbook_problems(path))
    assert "sam_North: account c_mfg does not balance" in text
    assert "sigma[sector=agr] = 0.8 must exceed 1" in text
    assert "survival[region=South, sector=mfg] = 1.5 must lie in (0, 1]" in text
    assert "the benchmark identities" in text and "zero profit fails" not in text
    _reader_stops_early(path, workbook_problems(path))


def test_a_sound_workbook_has_no_problems():
    assert workbook_problems(TEMPLATE) == []
    assert workbook_problems(CSV) == []


# ------------------------------------------------------------------- a CSV folder
@pytest.fixture
def faulty_folder(tmp_path):
    """Four independent faults in three files: an account name the accounts file does not
    know (North's SAM, so that SAM waits), an unbalanced account and a negative payment
    (South's SAM) and text in a number cell (trade.csv)."""
    folder = tmp_path / "faulty_csv"
    shutil.copytree(CSV, folder)
    north = _csv_rows(folder, "sam_North.csv")
    north[next(k for k, r in enumerate(north) if r and r[0] == "c_agr")][0] = "c_agri"
    _csv_save(folder, "sam_North.csv", north)
    south = _csv_rows(folder, "sam_South.csv")
    _csv_set(south, "c_mfg", "household", "999")
    _csv_set(south, "capital", "a_agr", "-3")
    _csv_save(folder, "sam_South.csv", south)
    trade = _csv_rows(folder, "trade.csv")
    trade[1][3] = "n/a"
    _csv_save(folder, "trade.csv", trade)
    return folder


def test_csv_folder_faults_in_one_pass(faulty_folder):
    problems = workbook_problems(faulty_folder)
    text = "\n".join(problems)
    assert all(p.startswith("faulty_csv: ") for p in problems)
    assert "sam_North.csv: row account(s) ['c_agri'] are not in the accounts sheet" in text
    assert "trade.csv row 2, column 'value' (value South -> North, mfg): text 'n/a'" in text
    assert ("sam_South.csv row 7, column 'a_agr' (row account capital, column account a_agr) "
            "= -3") in text
    assert "sam_South.csv: account c_mfg does not balance" in text
    assert "the accounts of the SAM of North" in problems[-1]
    _reader_stops_early(faulty_folder, problems)
    out = " ".join(_check(faulty_folder).split())
    for words in ("['c_agri']", "text 'n/a'", "= -3", "sam_South.csv: account c_mfg does not "
                  "balance", "not checked until the problems above are fixed"):
        assert words in out, words


def test_balancing_waits_for_the_signs(faulty_folder):
    text = "\n".join(workbook_problems(faulty_folder, balance="ras"))
    assert "= -3" in text and "balancing (ras)" in text
    assert "does not balance" not in text


def test_scenario_and_calibrate_list_every_problem(faulty_workbook):
    """A scenario whose data is the faulty workbook, and `cge calibrate`, list all three
    faults in one pass too, each with its sheet and cell; the scenario's own fault (a
    misspelt shock field) is reported beside them."""
    scenario = faulty_workbook.parent / "faulty.yaml"
    scenario.write_text("name: faulty\ndata: {workbook: faulty.xlsx}\n"
                        "shocks:\n  - {type: tariff, importers: North, exporters: South, "
                        "set: 0.1}\n", encoding="utf-8")
    for args in (["check", str(scenario)], ["calibrate", str(faulty_workbook)]):
        res = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
        assert res.exit_code == 1, res.output
        out = " ".join(res.output.split())
        assert "Traceback" not in out
        for words in ("'steel' is not a known sector", "= -5", "account c_mfg does not balance"):
            assert words in out, (args[0], words)
        if args[0] == "check":
            assert "shocks[0].set: unknown field 'set'" in out
