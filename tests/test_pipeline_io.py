"""Fast reading and drawing (issue 14) that must not change what users see.

Workbooks are read with calamine (:mod:`calibration.excel_io`): the values, cell
references and every message must be those of the openpyxl reader it replaced,
including the cases calamine alone gets wrong (error values, formulas without a
cached value). The trade picture of a large economy is drawn in a simpler way,
which must keep one image per sector, one colour scale and no domestic cells.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from calibration import excel_io, sam
from calibration.sam import WorkbookError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "sam_data" / "template_multiregion.xlsx"


def _read(path, reader, **kwargs):
    """``sam.load_workbook`` with the workbook opened by ``reader``; problems as a list."""
    original = excel_io.open_workbook
    excel_io.open_workbook = reader
    try:
        return sam.load_workbook(path, **kwargs), []
    except WorkbookError as exc:
        return None, list(exc.problems)
    finally:
        excel_io.open_workbook = original


def _both(path, **kwargs):
    fast = _read(path, excel_io.CalamineBook, **kwargs)
    slow = _read(path, lambda p: sam._Book(Path(p)), **kwargs)
    return fast, slow


def _edited(tmp_path, edit, source=TEMPLATE):
    import openpyxl

    wb = openpyxl.load_workbook(source)
    edit(wb)
    out = tmp_path / "edited.xlsx"
    wb.save(out)
    return out


def _same_workbook(a, b):
    assert a.regions == b.regions
    pd.testing.assert_frame_equal(a.accounts, b.accounts)
    pd.testing.assert_frame_equal(a.trade, b.trade)
    pd.testing.assert_frame_equal(a.parameters, b.parameters)
    assert a.info == b.info
    for r in a.sams:
        assert np.array_equal(a.sams[r].values, b.sams[r].values), r
        assert a.sams[r].cells == b.sams[r].cells, r


def test_calamine_reads_what_openpyxl_read(tmp_path):
    (fast, p1), (slow, p2) = _both(TEMPLATE)
    assert p1 == p2 == []
    _same_workbook(fast, slow)
    # the long layout, and whole numbers, dates and text in the info sheet
    def edit(wb):
        ws = wb["info"]
        ws.append(["year", 1993])
        ws.append(["made", dt.datetime(2020, 1, 2)])
        ws.append(["share", 0.25])
    path = _edited(tmp_path, edit)
    (fast, _), (slow, _) = _both(path)
    _same_workbook(fast, slow)
    assert fast.info["year"] == "1993" and fast.info["share"] == "0.25"


def test_error_values_are_errors_not_blanks(tmp_path):
    """calamine reads a cached #DIV/0! as an empty cell: the book falls back to openpyxl,
    so the error is named, and never taken for a blank or (blank_as_zero) a zero."""
    import openpyxl

    wb = openpyxl.load_workbook(TEMPLATE)
    ws = wb["sam_North"]
    ws["D4"] = "#DIV/0!"
    assert ws["D4"].data_type == "e"
    path = tmp_path / "errors.xlsx"
    wb.save(path)
    assert excel_io._scan(path) == (False, True)
    for kwargs in ({}, {"blank_as_zero": True}):
        (fast, p1), (slow, p2) = _both(path, **kwargs)
        assert fast is None and p1 == p2, (p1, p2)
        assert any("!D4" in p and "'#DIV/0!'" in p for p in p1), p1


def test_formula_without_value_and_blank_cells_named_as_before(tmp_path):
    def edit(wb):
        ws = wb["sam_North"]
        ws["D4"] = "=B2*2"   # no cached value: openpyxl does not compute formulas
        ws["E5"] = None
        wb["trade"]["E3"] = None
    path = _edited(tmp_path, edit)
    assert excel_io._scan(path) == (True, False)
    (fast, p1), (slow, p2) = _both(path)
    assert fast is None and p1 == p2
    assert any("sam_North!D4" in p and "formula '=B2*2' has no cached value" in p for p in p1), p1
    assert any("sam_North!E5" in p and "blank cell" in p for p in p1), p1
    assert any("trade!E3 (tariff_rate" in p and "blank cell" in p for p in p1), p1


def test_cells_beyond_the_data_and_empty_sheets():
    sheet = excel_io._Sheet([["a", 1.0], ["b"]])
    assert [c.value for c in sheet[1]] == ["a", 1]
    assert isinstance(sheet[1][1].value, int)
    assert [c.value for c in sheet[2]] == ["b", None]
    assert [c.coordinate for c in sheet[5]] == ["A5", "B5"]
    assert sheet.cell(3, 30).coordinate == "AD3" and sheet.cell(3, 30).value is None
    assert [len(r) for r in sheet.iter_rows(min_row=2, max_col=1)] == [1]
    empty = excel_io._Sheet([])
    assert [c.coordinate for c in empty[1]] == ["A1"] and empty.max_row == 1
    assert excel_io.column_letter(702) == "ZZ" and excel_io.column_letter(703) == "AAA"
    assert excel_io._value(3.5) == 3.5 and excel_io._value(2.0 ** 60) == 2.0 ** 60
    assert excel_io._value("") is None
    assert excel_io._value(dt.date(2020, 1, 2)) == dt.datetime(2020, 1, 2)


def test_not_a_workbook_is_named(tmp_path):
    bad = tmp_path / "copy.xlsx"
    shutil.copy(TEMPLATE, bad)
    bad.write_bytes(bad.read_bytes()[:2000])  # a truncated zip
    with pytest.raises(WorkbookError, match="copy.xlsx"):
        excel_io.CalamineBook(bad)


# ------------------------------------------------------------------ pictures
def _fake_result(n_regions: int, n_sectors: int, models=("as_specified",)):
    rng = np.random.default_rng(0)
    R = [f"R{i:02d}" for i in range(n_regions)]
    S = [f"s{j}" for j in range(n_sectors)]
    idx = pd.MultiIndex.from_product([R, R, S], names=["destination", "origin", "sector"])
    runs = {}
    for m in models:
        base = pd.DataFrame({"trade_value": rng.uniform(1, 2, len(idx))}, index=idx)
        new = base * rng.uniform(0.9, 1.2, (len(idx), 1))
        runs[m] = SimpleNamespace(primitives=SimpleNamespace(regions=R, sectors=S),
                                  base=SimpleNamespace(routes=base),
                                  new=SimpleNamespace(routes=new))
    return SimpleNamespace(runs=runs, scenario=SimpleNamespace(title="t", name="t"))


@pytest.mark.parametrize("shape", [(31, 11, 1), (14, 3, 2)])
def test_trade_picture_of_a_large_economy(shape, tmp_path):
    from cge import pictures, report

    n_regions, n_sectors, n_models = shape
    result = _fake_result(n_regions, n_sectors, tuple(f"m{k}" for k in range(n_models)))
    fig = report.plot_trade_heatmap(result, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 10_000
    images = [(ax, im) for ax in fig.axes for im in ax.get_images()]
    assert len(images) == n_sectors * n_models
    assert len({im.get_clim() for _, im in images}) == 1
    titles = {f"s{k}" if n_models == 1 else f"s{k} - m{j}" for k in range(n_sectors)
              for j in range(n_models)}
    for ax, im in images:
        mask = np.ma.getmaskarray(im.get_array())
        assert mask.diagonal().all() and not mask[~np.eye(n_regions, dtype=bool)].any()
        # no per-cell numbers above ANNOTATED_REGIONS regions: the only texts are the
        # panels' titles and the origin axis label under the lowest panels
        assert {t.get_text() for t in ax.texts} <= titles | {"origin (exporter)"}
    panel_titles = [t.get_text() for ax in fig.axes for t in ax.texts
                    if t.get_text() != "origin (exporter)"]
    assert sorted(panel_titles) == sorted(titles)
    # each sector's panel shows that sector's changes (destination rows, origin columns)
    ax, im = images[-1]
    s, lab = f"s{n_sectors - 1}", f"m{n_models - 1}"
    run = result.runs[lab]
    expect = 100 * (run.new.routes["trade_value"] / run.base.routes["trade_value"] - 1)
    grid = expect.xs(s, level="sector").unstack("origin").to_numpy()
    off = ~np.eye(n_regions, dtype=bool)
    np.testing.assert_allclose(np.asarray(im.get_array())[off], grid[off], rtol=1e-12)
    # region names on the outer panels only: destinations left of the first column (one
    # panel's worth per row of panels), origins under the lowest panel of each column
    ncols = min(n_sectors, pictures.PANELS_PER_ROW)
    regions = list(result.runs["m0"].primitives.regions)
    rows = list({id(ax): ax for ax, _ in images}.values())
    assert len(rows) == -(-n_sectors // ncols) * n_models
    for ax in rows:
        assert [t.get_text() for t in ax.get_yticklabels()] == regions
    origins = [t.get_text() for ax in rows for t in ax.get_xticklabels()]
    assert origins == regions * ncols
    under = [t for ax in rows for t in [ax.xaxis.label] + list(ax.texts)
             if t.get_text() == "origin (exporter)"]
    assert len(under) == ncols
    assert n_regions > pictures.ANNOTATED_REGIONS


# ------------------------------------------------------------------ writing
def test_workbooks_written_with_xlsxwriter_read_back_and_refusals_are_input_errors(tmp_path):
    import zipfile

    from calibration import calibrate, read_workbook, write_benchmark_workbook
    from calibration.calibrate import benchmark_from_equilibrium
    from cge import Equilibrium, examples
    from cge.errors import InputError

    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    data = benchmark_from_equilibrium(eq)
    path = write_benchmark_workbook(data, tmp_path / "b.xlsx", info={"note": "=1+1 http://x.org"})
    with zipfile.ZipFile(path) as z:
        assert b"openpyxl" not in z.read("docProps/core.xml")  # openpyxl signs as creator
    back = read_workbook(path)
    np.testing.assert_allclose(back.trade, data.trade, rtol=1e-12)
    assert sam.load_workbook(path).info["note"] == "=1+1 http://x.org"  # text, not a formula
    accounts = pd.DataFrame({"account": ["a"], "type": ["household"], "label": [None]})
    with pytest.raises(InputError, match="must be <= 31 chars"):
        sam.write_workbook(tmp_path / "long.xlsx", sams={"R" * 40: pd.DataFrame([[0.0]])},
                           accounts=accounts, trade=pd.DataFrame(), parameters=pd.DataFrame())
    assert calibrate  # the package's calibrate is importable beside the writer
