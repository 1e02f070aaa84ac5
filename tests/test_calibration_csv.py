"""Multi-region SAMs as CSV folders (``calibration.csv_io``) and the bundled template.

A CSV folder is read by the workbook reader itself, so these tests check that
(1) a folder and a workbook with the same cells give the same
:class:`~calibration.BenchmarkData`, (2) the template in ``sam_data/`` reads,
calibrates and replicates in both forms and is what its generator writes, and
(3) every kind of problem is reported naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pytest

import calibration as cal
from calibration.benchmark import FIELDS
from calibration.csv_io import (
    CsvFolder, read_csv_folder, workbook_to_csv, write_benchmark_csv, write_csv_folder,
)
from calibration.examples import toy_benchmark
from calibration.sam import WorkbookError, read_workbook, write_benchmark_workbook
from calibration.template import CSV_NAME, XLSX_NAME, build_template, template_parts
from cge import Equilibrium
from cge.solve import max_residual
from cge.tolerance import limit

SAM_DATA = Path(__file__).resolve().parents[1] / "sam_data"
TEMPLATE_XLSX = SAM_DATA / XLSX_NAME
TEMPLATE_CSV = SAM_DATA / CSV_NAME


# ----------------------------------------------------------------- helpers
def assert_same_benchmark(a: cal.BenchmarkData, b: cal.BenchmarkData, rtol: float = 0.0):
    """Labels, names, market structures and every array field equal (NaN where NaN)."""
    assert (a.regions, a.sectors, a.factors) == (b.regions, b.sectors, b.factors)
    assert a.market_structure == b.market_structure
    assert (a.name, a.units) == (b.name, b.units)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=0,
                                   equal_nan=True, err_msg=name)


def assert_replicates(data: cal.BenchmarkData):
    """Calibrate, start at the benchmark, solve: no IPOPT iteration, flows as in the data."""
    prim, start = cal.calibrate(data)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    assert max_residual(eq.model) < limit()
    results = eq.solve()
    assert eq.last_stats.iterations <= 1
    trade = results.routes["trade_value"]
    for (n, i, s), value in trade.items():
        want = data.trade[data.regions.index(n), data.regions.index(i), data.sectors.index(s)]
        assert value == pytest.approx(want, rel=1e-7), (n, i, s)
    assert np.allclose(results.factors["factor_price"], 1.0, atol=1e-9)
    return eq, prim, results


def read_cells(folder: Path) -> dict[str, list[list[str]]]:
    """Every CSV file of ``folder`` as rows of cell texts (trailing blanks dropped)."""
    out = {}
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [[c.strip() for c in row] for row in csv.reader(fh)]
        for row in rows:
            while row and row[-1] == "":
                row.pop()
        while rows and not rows[-1]:
            rows.pop()
        out[path.name] = rows
    return out


def workbook_cells(path: Path) -> dict[str, list[list[object]]]:
    """Every sheet of a workbook as rows of cell values (trailing blanks dropped)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for ws in wb.worksheets:
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        for row in rows:
            while row and row[-1] is None:
                row.pop()
        while rows and not rows[-1]:
            rows.pop()
        out[ws.title] = rows
    return out


def _load(folder: Path, name: str) -> list[list[str]]:
    with open(folder / name, newline="", encoding="utf-8") as fh:
        return [list(r) for r in csv.reader(fh)]


def _save(folder: Path, name: str, rows: list[list[str]]) -> None:
    with open(folder / name, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def _set(rows: list[list[str]], row_account: str, col_account: str, text: str) -> None:
    """Set the cell of a square SAM file at (row account, column account)."""
    j = rows[0].index(col_account)
    i = next(k for k, r in enumerate(rows) if k and r and r[0] == row_account)
    rows[i][j] = text


def _get(rows, row_account, col_account) -> float:
    j = rows[0].index(col_account)
    return float(next(r for k, r in enumerate(rows) if k and r and r[0] == row_account)[j])


@pytest.fixture(scope="module")
def toy():
    return toy_benchmark()


@pytest.fixture(scope="module")
def toy_csv(toy, tmp_path_factory):
    """The toy benchmark as a CSV folder named ``toy_csv`` (square SAM files sam_<region>.csv)."""
    return write_benchmark_csv(toy, tmp_path_factory.mktemp("csv") / "toy_csv")


@pytest.fixture
def edited(toy_csv, tmp_path):
    """``edited(file, edit)``: a copy of the toy folder (named ``toy_csv``) with ``edit(rows)``
    applied to one file's rows; returns the folder."""
    folder = tmp_path / "toy_csv"
    shutil.copytree(toy_csv, folder)

    def _edit(name: str, edit) -> Path:
        rows = _load(folder, name)
        edit(rows)
        _save(folder, name, rows)
        return folder
    return _edit


def problems_of(folder: Path, **kwargs) -> str:
    with pytest.raises(WorkbookError) as err:
        read_workbook(folder, **kwargs)
    for p in err.value.problems:
        assert p.startswith(f"{folder.name}: "), p  # every message names the folder
    return "\n".join(err.value.problems)


# ------------------------------------------------------------ the template
def test_template_xlsx_and_csv_read_to_equal_data_and_replicate():
    from_xlsx = read_workbook(TEMPLATE_XLSX)
    from_csv = read_workbook(TEMPLATE_CSV)
    assert_same_benchmark(from_xlsx, from_csv)
    assert_same_benchmark(read_csv_folder(TEMPLATE_CSV), from_csv)
    d = from_csv
    # what the template documents: 2 x 2, one melitz and one armington sector, 2 factors,
    # tariffs, a deficit (North +10, South -10), firm data on mfg
    assert d.regions == ("North", "South") and d.sectors == ("mfg", "agr")
    assert d.market_structure == {"mfg": "melitz", "agr": "armington"}
    assert d.factors == ("labour", "capital")
    np.testing.assert_array_equal(d.deficit, [10.0, -10.0])
    np.testing.assert_array_equal(d.tariff_revenue().sum(axis=1), [7.0, 14.0])
    assert d.tariff[0, 1, 0] == 0.10 and d.tariff[1, 0, 0] == 0.20
    np.testing.assert_array_equal(d.final_demand, [[305.0, 162.0], [202.0, 232.0]])
    np.testing.assert_array_equal(d.survival[:, 0], [0.5, 0.5])
    assert d.exporter_share[0, 1, 0] == 0.25 and np.isnan(d.exporter_share[0, 1, 1])
    assert cal.benchmark_problems(d) == []
    for data in (from_xlsx, from_csv):
        eq, prim, base = assert_replicates(data)
    # both calibrate to the same primitives
    prim_x, _ = cal.calibrate(from_xlsx)
    prim_c, _ = cal.calibrate(from_csv)
    for name in ("tau", "f", "f_e", "factor_share", "input_share", "beta", "tariff", "deficit"):
        np.testing.assert_array_equal(prim_x[name], prim_c[name], err_msg=name)
    # and a counterfactual on it runs: abolishing tariffs raises world welfare
    free = eq.solve(tariff=0.0 * prim["tariff"]).compare(base).welfare["welfare_change_pct"]
    assert free.sum() > 0


def test_template_rebuild_reproduces_committed_files(tmp_path):
    xlsx, folder = build_template(tmp_path)
    assert workbook_cells(xlsx) == workbook_cells(TEMPLATE_XLSX)
    assert read_cells(folder) == read_cells(TEMPLATE_CSV)
    assert sorted(p.name for p in TEMPLATE_CSV.iterdir()) == sorted(p.name for p in folder.iterdir())
    # the two forms hold the same cells: each CSV file is its sheet, numbers written exactly
    cells = workbook_cells(TEMPLATE_XLSX)
    csv_cells = read_cells(TEMPLATE_CSV)
    assert sorted(f"{s}.csv" for s in cells) == sorted(csv_cells)
    for sheet, rows in cells.items():
        want = [[float(v) if isinstance(v, (int, float)) else ("" if v is None else v)
                 for v in row] for row in rows]
        got = [[_value(c) for c in row] for row in csv_cells[f"{sheet}.csv"]]
        assert len(got) == len(want), sheet
        for r, (g, w) in enumerate(zip(got, want), start=1):
            assert g + [""] * (len(w) - len(g)) == w + [""] * (len(g) - len(w)), (sheet, r)


def _value(text: str):
    try:
        return float(text)
    except ValueError:
        return text


# ------------------------------------------------------ CSV = workbook content
@pytest.mark.parametrize("layout", ["matrix", "long"])
def test_csv_folder_reads_as_the_workbook(toy, tmp_path, layout):
    book = write_benchmark_workbook(toy, tmp_path / f"toy_{layout}.xlsx", layout=layout)
    folder = write_benchmark_csv(toy, tmp_path / f"toy_{layout}", layout=layout)
    assert (folder / "sam_North.csv").is_file()
    head = _load(folder, "sam_North.csv")[0]
    assert head[:3] == (["row", "column", "value"] if layout == "long" else
                        ["North: receiving \\ paying", "a_mfg", "a_agr"])
    from_csv, from_xlsx = read_workbook(folder), read_workbook(book)
    assert_same_benchmark(from_csv, from_xlsx)
    assert_same_benchmark(from_csv, toy, rtol=1e-13)
    assert from_csv.notes == [f"read from toy_{layout}"]
    # converting the workbook (keeping its sheet names, SAM_<region>) gives the same data
    assert_same_benchmark(read_workbook(workbook_to_csv(book, tmp_path / "converted")), from_xlsx)
    assert (tmp_path / "converted" / "SAM_North.csv").is_file()


@pytest.mark.parametrize("name", ["yotov2016_mfg", "hosoe_japan_2005"])
def test_bundled_workbooks_converted_to_csv_read_identically(name, tmp_path):
    book = SAM_DATA / f"{name}.xlsx"
    folder = workbook_to_csv(book, tmp_path / name)
    assert_same_benchmark(read_workbook(folder), read_workbook(book))
    if name == "hosoe_japan_2005":  # production taxes, government, investment: same options
        assert_same_benchmark(read_workbook(folder, production_taxes="factor"),
                              read_workbook(book, production_taxes="factor"))


def test_csv_options_ras_blank_as_zero_and_report(toy, edited):
    folder = edited("sam_South.csv", lambda rows: (
        _set(rows, "c_srv", "a_mfg", str(_get(rows, "c_srv", "a_mfg") * 1.05)),
        _set(rows, "a_mfg", "a_mfg", "")))  # a blank zero cell
    msg = problems_of(folder)
    assert ("toy_csv: sam_South.csv row 2, column 'a_mfg' (row account a_mfg, column account "
            "a_mfg): blank cell where a number is expected (write 0 for zero)") in msg
    msg = problems_of(folder, blank_as_zero=True)
    assert "toy_csv: sam_South.csv: account c_srv does not balance: row total" in msg
    data, rep = read_workbook(folder, blank_as_zero=True, balance="ras", with_report=True)
    assert cal.benchmark_problems(data) == []
    adj = rep.adjustments.set_index(["row_account", "column_account"])
    assert set(adj["sheet"]) == {"sam_South.csv"}
    assert adj.loc[("c_srv", "a_mfg"), "cell"] == "row 7, column 'a_mfg'"
    assert rep.notes[0] == "read from toy_csv"


def test_csv_reading_rules(toy, toy_csv, tmp_path):
    """A byte-order mark, semicolons, quoted labels and spaces around numbers are fine."""
    folder = tmp_path / "excel_csv"
    shutil.copytree(toy_csv, folder)
    for path in folder.glob("*.csv"):
        rows = _load(folder, path.name)
        if path.name.startswith("sam_"):
            rows = [[f" {c} " if k and j else c for j, c in enumerate(r)] for k, r in enumerate(rows)]
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(rows)
    assert (folder / "trade.csv").read_bytes().startswith(b"\xef\xbb\xbforigin;")
    assert_same_benchmark(read_workbook(folder), read_workbook(toy_csv))
    # a region label with a comma, quoted
    renamed = tmp_path / "quoted"
    shutil.copytree(toy_csv, renamed)
    for path in renamed.glob("*.csv"):
        rows = _load(renamed, path.name)
        _save(renamed, path.name, [[{"East": "East, Far", "sam_East": "sam_East, Far"}.get(c, c)
                                    for c in r] for r in rows])
    (renamed / "sam_East.csv").rename(renamed / "sam_East, Far.csv")
    assert '"East, Far"' in (renamed / "trade.csv").read_text()
    data = read_workbook(renamed)
    assert data.regions == ("North", "South", "East, Far")
    np.testing.assert_array_equal(data.trade, read_workbook(toy_csv).trade)
    # the regions file may give SAM files with their extension
    edited = tmp_path / "with_ext"
    shutil.copytree(toy_csv, edited)
    rows = _load(edited, "regions.csv")
    for r in rows[1:]:
        r[1] += ".csv"
    _save(edited, "regions.csv", rows)
    assert_same_benchmark(read_workbook(edited), read_workbook(toy_csv))


def test_write_csv_folder_from_parts(tmp_path):
    parts = template_parts()
    parts.pop("sheet_names")
    folder = write_csv_folder(tmp_path / "parts", **parts, layout="long")
    assert _load(folder, "sam_North.csv")[0] == ["row", "column", "value"]
    assert_same_benchmark(read_workbook(folder), read_workbook(TEMPLATE_CSV))


def test_read_csv_folder_needs_a_folder():
    with pytest.raises(WorkbookError, match="not a folder"):
        read_csv_folder(TEMPLATE_XLSX)
    with pytest.raises(WorkbookError, match="no such file"):
        read_workbook(SAM_DATA / "no_such_folder")


# ------------------------------------------------------------ error messages
def test_text_in_numeric_cell_names_file_row_and_column(edited):
    folder = edited("sam_South.csv", lambda rows: _set(rows, "labour", "a_agr", "n/a"))
    msg = problems_of(folder)
    assert ("toy_csv: sam_South.csv row 8, column 'a_agr' (row account labour, column account "
            "a_agr): text 'n/a' where a number is expected") in msg


def test_non_numbers_in_table_files(edited):
    def trade(rows):
        rows[1][3] = "1,5"      # a decimal comma in a value
        rows[2][4] = "5%"       # a percentage as tariff rate
        rows[3][3] = "nan"      # parsed, but not finite
    folder = edited("trade.csv", trade)
    edited("parameters.csv", lambda rows: rows[1].__setitem__(1, "three"))
    msg = problems_of(folder)
    head = _load(folder, "trade.csv")
    o, d, s = head[1][:3]
    assert f"toy_csv: trade.csv row 2, column 'value' (value {o} -> {d}, {s}): text '1,5'" in msg
    o, d, s = head[2][:3]
    assert (f"trade.csv row 3, column 'tariff_rate' (tariff_rate {o} -> {d}, {s}): text '5%' "
            "where a number is expected") in msg
    o, d, s = head[3][:3]
    assert f"trade.csv row 4, column 'value' (value {o} -> {d}, {s}): nan is not a finite number" in msg
    assert "parameters.csv row 2, column 'sigma' (sigma of mfg): text 'three'" in msg


def test_blank_cells(edited):
    edited("sam_North.csv", lambda rows: _set(rows, "household", "capital", ""))
    folder = edited("trade.csv", lambda rows: rows[2].__setitem__(4, ""))
    edited("accounts.csv", lambda rows: rows[3].__setitem__(1, " "))
    msg = problems_of(folder)
    assert ("toy_csv: sam_North.csv row 10, column 'capital' (row account household, column "
            "account capital): blank cell where a number is expected (write 0 for zero)") in msg
    trade = _load(folder, "trade.csv")
    o, d, s = trade[2][:3]
    assert f"toy_csv: trade.csv row 3, column 'tariff_rate' (tariff_rate {o} -> {d}, {s}): blank cell" in msg
    assert "toy_csv: accounts.csv row 4, column 'type' (type): blank cell" in msg


def test_label_mismatches_across_files(edited):
    def sam(rows):
        rows[0][rows[0].index("a_agr")] = "a_agri"
    edited("sam_East.csv", sam)
    edited("trade.csv", lambda rows: rows[1].__setitem__(2, "manufacturing"))
    edited("parameters.csv", lambda rows: rows[2].__setitem__(0, "agriculture"))
    edited("accounts.csv", lambda rows: rows[2].__setitem__(1, "activty"))
    folder = edited("regions.csv", lambda rows: rows[1].__setitem__(1, "sam_Nord"))
    msg = problems_of(folder)
    assert "toy_csv: sam_East.csv: column account(s) ['a_agri'] are not in the accounts sheet" in msg
    assert "toy_csv: sam_East.csv: column account(s) ['a_agr'] of the accounts sheet are missing" in msg
    assert "toy_csv: trade.csv row 2, column 'sector' (sector): 'manufacturing' is not a known sector" in msg
    assert "toy_csv: parameters.csv row 3, column 'sector': sector 'agriculture' has no activity" in msg
    assert ("toy_csv: accounts.csv row 3, column 'type' (type of a_agr): 'activty' is not one of"
            in msg)
    assert ("toy_csv: regions.csv: the SAM file 'sam_Nord.csv' of region North is missing "
            "(files: ['accounts.csv',") in msg


def test_duplicates_missing_files_and_columns(edited, toy_csv):
    def sam(rows):
        rows[5][0] = "a_mfg"    # row 6 repeats the row account of row 2
    edited("sam_South.csv", sam)
    edited("trade.csv", lambda rows: rows.append(list(rows[1])))
    folder = edited("parameters.csv", lambda rows: None)
    (folder / "parameters.csv").unlink()
    msg = problems_of(folder)
    assert "toy_csv: sam_South.csv row 6, column 1: row account 'a_mfg' appears twice" in msg
    n = len(_load(folder, "trade.csv"))
    assert f"toy_csv: trade.csv row {n}, column 'origin': route" in msg and "(also row 2)" in msg
    assert "toy_csv: file 'parameters.csv' is missing (files: ['accounts.csv'" in msg
    folder = edited("trade.csv", lambda rows: rows[0].__setitem__(3, "values"))
    shutil.copy(toy_csv / "parameters.csv", folder / "parameters.csv")
    msg = problems_of(folder)
    assert "toy_csv: trade.csv: missing column(s) ['value'] in the first row" in msg


def test_unbalanced_accounts_largest_first(edited):
    def sam(rows):
        _set(rows, "c_srv", "a_mfg", str(_get(rows, "c_srv", "a_mfg") * 1.05))
        _set(rows, "labour", "a_agr", str(_get(rows, "labour", "a_agr") * 0.98))
    msg = problems_of(edited("sam_South.csv", sam))
    lines = [p for p in msg.splitlines() if "does not balance" in p]
    assert lines and all(p.startswith("toy_csv: sam_South.csv: account ") for p in lines)
    assert "row total" in lines[0] and "!= column total" in lines[0]


def test_signs_structure_and_trade_consistency(edited):
    edited("sam_South.csv", lambda rows: _set(rows, "c_srv", "household", "-5"))
    msg = problems_of(edited("sam_North.csv", lambda rows: _set(rows, "c_mfg", "rest_of_world", "3")))
    assert ("toy_csv: sam_South.csv row 7, column 'household' (row account c_srv, column account "
            "household) = -5: a commodity account cannot receive") in msg
    assert ("toy_csv: sam_North.csv row 5, column 'rest_of_world' (row account c_mfg, column "
            "account rest_of_world) = 3: ") in msg and "exports are booked in the activity row" in msg


def test_tariff_revenue_inconsistent_with_rates(edited):
    def trade(rows):
        for r in rows[1:]:
            if r[:3] == ["South", "North", "mfg"]:
                r[4] = "0.2"  # was 0.08
    msg = problems_of(edited("trade.csv", trade))
    assert ("toy_csv: sam_North.csv row 11, column 'c_mfg' (tariff revenue of North on mfg) = "
            "2.69 but the trade sheet gives 4.85 (sum of value x tariff_rate; difference -2.16)") in msg


def test_long_layout_messages(toy, tmp_path):
    folder = write_benchmark_csv(toy, tmp_path / "long_csv", layout="long")
    rows = _load(folder, "sam_East.csv")
    rows[3][2] = "x"                   # row 4: text as value
    rows[4][0] = "labor"               # row 5: unknown account
    rows.append(list(rows[1]))         # a pair listed twice
    _save(folder, "sam_East.csv", rows)
    msg = problems_of(folder)
    r, c = rows[3][:2]
    assert (f"long_csv: sam_East.csv row 4, column 'value' (row account {r}, column account {c}): "
            "text 'x' where a number is expected") in msg
    assert ("long_csv: sam_East.csv row 5, column 'row' (row account): account 'labor' is not in "
            "the accounts sheet") in msg
    assert f"long_csv: sam_East.csv row {len(rows)}, column 'row': pair (row {rows[1][0]}" in msg
    assert "(also row 2)" in msg


def test_file_level_problems(edited, toy_csv):
    folder = edited("info.csv", lambda rows: None)
    (folder / "accounts.csv").write_bytes("account,type,label\na_mfg,activit\xe9,mfg\n".encode("latin-1"))
    msg = problems_of(folder)
    assert ("toy_csv: accounts.csv:2: the CSV file is not UTF-8 (byte 0xe9 at position 32); it "
            "looks like Latin-1 / Windows-1252 text, where that byte is 'é'") in msg
    assert "iconv -f WINDOWS-1252 -t UTF-8" in msg and "(in Excel: save as 'CSV UTF-8')" in msg
    shutil.copy(toy_csv / "accounts.csv", folder / "accounts.csv")
    (folder / "trade.csv").write_text('origin,destination,sector,value,tariff_rate\n"North,South\n')
    msg = problems_of(folder)
    assert "toy_csv: trade.csv: not a readable CSV file" in msg


def test_csv_folder_is_a_book_of_the_workbook_reader(toy_csv):
    """The folder is read by the workbook reader (no second reader to keep in step)."""
    from calibration.sam import _Book, load_workbook

    book = CsvFolder(toy_csv)
    assert isinstance(book, _Book)
    assert book.at("trade") == "trade.csv"
    ws = book.values["sam_North"]
    assert book.at("sam_North", ws.cell(8, 3)) == "sam_North.csv row 8, column 'a_agr'"
    wb = load_workbook(toy_csv)
    assert wb.sams["North"].cell("labour", "a_agr") == "sam_North.csv row 8, column 'a_agr'"
    assert wb.trade["cell"].iloc[0] == "trade.csv row 2, column 'value'"
