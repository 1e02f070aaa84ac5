"""cge.xlsx_columns: tables written a column at a time make the same workbook as
XlsxWriter's cell-by-cell writes (every part of the file byte for byte, but the time
stamp)."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
import xlsxwriter

from cge.report import _write_sheet
from cge.xlsx_columns import ColumnSheet

OPTIONS = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}


def _table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    value = rng.lognormal(size=n) * 1e3
    value[::7] = np.nan
    value[3:4] = np.inf
    return pd.DataFrame({
        "region": [f"R{i % 31}" for i in range(n)],
        "sector": ["" if i % 11 == 0 else f"sector {i % 40}" for i in range(n)],
        "trade_value": value,
        "share_pct": rng.uniform(-5, 5, size=n),
        "count": np.arange(n, dtype=np.int64),
        "ok": [bool(i % 2) for i in range(n)],
        "note": [None if i % 3 else "a & <b>" for i in range(n)],
    })


def _parts(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist() if name != "docProps/core.xml"}


def _write(path, tables, worksheet_class):
    wb = xlsxwriter.Workbook(str(path), OPTIONS)
    for name, frame in tables.items():
        _write_sheet(wb, wb.add_worksheet(name, worksheet_class=worksheet_class), frame, name)
    wb.close()


def test_column_sheets_write_the_same_workbook_as_cell_by_cell_writes(tmp_path):
    tables = {"trade": _table(1000), "welfare": _table(37), "empty": _table(0)}
    _write(tmp_path / "cells.xlsx", tables, None)
    _write(tmp_path / "columns.xlsx", tables, ColumnSheet)
    cells, columns = _parts(tmp_path / "cells.xlsx"), _parts(tmp_path / "columns.xlsx")
    assert cells.keys() == columns.keys()
    for name in cells:
        assert cells[name] == columns[name], name
    read = pd.read_excel(tmp_path / "columns.xlsx", sheet_name="trade")
    assert read.shape == (1000, 7) and read["region"].iloc[40] == "R9"


def test_column_sheets_refuse_what_a_cell_cannot_hold(tmp_path):
    wb = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"), OPTIONS)
    ws = wb.add_worksheet("a", worksheet_class=ColumnSheet)
    with pytest.raises(ValueError, match="longer than a cell"):
        ws.write_columns(1, [(["x" * 40_000], None)])
    with pytest.raises(ValueError, match="different lengths"):
        ws.write_columns(1, [([1.0, 2.0], None), ([1.0], None)])
    ws.write_columns(1, [([float("nan")], None)])
    with pytest.raises(ValueError, match="not a number"):
        wb.close()
    wb2 = xlsxwriter.Workbook(str(tmp_path / "y.xlsx"))  # strings_to_urls on by default
    with pytest.raises(ValueError, match="strings_to_urls"):
        wb2.add_worksheet("a", worksheet_class=ColumnSheet).write_columns(1, [(["x"], None)])
    wb2.close()
