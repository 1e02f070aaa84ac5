"""Outputs: tidy tables, the Excel workbook read back, pictures, atomic writing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cge import report
from cge.scenario import run_scenario

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.solver

COMPARE = """\
name: cut_compared
description: halve every tariff, three market structures
data: {example: three_by_three}
shocks:
  - {type: tariff, mode: cut_pct, value: 50}
compare_market_structures: [krugman, melitz]
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("scen") / "cut.yaml"
    path.write_text(COMPARE)
    return run_scenario(path)


@pytest.fixture(scope="module")
def folder(result, tmp_path_factory):
    return result.write(tmp_path_factory.mktemp("out") / "cut_compared")


def test_tidy_tables(result):
    t = result.tables()
    assert set(report.SHEETS) <= set(t)
    for name in report.SHEETS:
        assert t[name].columns[0] == "model", name
        assert set(t[name]["model"]) == {"krugman", "melitz"}, name
    assert len(t["summary"]) == 2 * 3
    assert len(t["trade"]) == 2 * 27
    assert {"destination", "origin", "sector", "trade_value_base", "trade_value_new",
            "trade_value_change_pct"} <= set(t["trade"].columns)
    assert {"region", "price", "item", "base", "new", "change_pct"} <= set(t["prices_factors"].columns)
    # the summary repeats the welfare decomposition's totals
    m = t["summary"].merge(t["welfare"], on=["model", "region"], suffixes=("", "_w"))
    np.testing.assert_allclose(m["welfare_change_pct"], m["welfare_change_pct_w"])
    # one welfare measure: the summary leads with the log points of the welfare table (its
    # total), and the % change beside it is the same change
    cols = list(t["summary"].columns)
    assert cols.index("welfare_log_points") < cols.index("welfare_change_pct")
    np.testing.assert_allclose(m["welfare_log_points"], m["total"])
    np.testing.assert_allclose(m["welfare_change_pct"],
                               100 * np.expm1(m["welfare_log_points"] / 100), rtol=1e-10)
    from cge.units import unit_of
    assert unit_of("welfare_log_points", "summary")[0] == "log points"
    pct_unit, pct_meaning = unit_of("welfare_change_pct", "summary")
    assert pct_unit == "%" and "same welfare change as welfare_log_points" in pct_meaning


def test_files_written(folder):
    names = {p.name for p in folder.iterdir()}
    for name in report.SHEETS + ("identities", "expectations"):
        assert f"{name}.csv" in names
    assert {"results.xlsx", "scenario.yaml", "run_info.json", *report.PLOTS} <= names
    assert not any(n.endswith(".tmp") or n.startswith(".") for n in names)
    assert not any(p.name.startswith(".cut_compared") for p in folder.parent.iterdir())
    try:
        import pyarrow  # noqa: F401
        assert "summary.parquet" in names
    except ImportError:
        assert not any(n.endswith(".parquet") for n in names)


def _sheet_frame(ws):
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def test_excel_read_back_equals_tidy_tables(folder):
    from openpyxl import load_workbook

    wb = load_workbook(folder / "results.xlsx")
    assert wb.sheetnames[:len(report.SHEETS)] == list(report.SHEETS)
    assert "run_info" in wb.sheetnames
    for name in report.SHEETS:
        csv = pd.read_csv(folder / f"{name}.csv")
        header, rows = _sheet_frame(wb[name])
        assert header == list(csv.columns), name
        assert len(rows) == len(csv), name
        assert wb[name].freeze_panes == "A2"
        for j, col in enumerate(header):
            xl = [r[j] for r in rows]
            if pd.api.types.is_numeric_dtype(csv[col]) and not pd.api.types.is_bool_dtype(csv[col]):
                want = csv[col].to_numpy(float)
                got = np.array([np.nan if v is None else v for v in xl], dtype=float)
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True,
                                           err_msg=f"{name}.{col}")
            else:
                want = ["" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in csv[col]]
                assert [("" if v is None else str(v)) for v in xl] == want, f"{name}.{col}"
        assert wb[name].cell(1, 1).font.bold


def test_run_info(folder, result):
    from openpyxl import load_workbook

    ws = load_workbook(folder / "results.xlsx")["run_info"]
    cells = {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r and r[0]}
    for key in ("python", "cge", "pyomo", "ipopt", "data_sha256", "scenario_sha256"):
        assert cells.get(key), key
    assert len(cells["data_sha256"]) == 64
    assert "krugman: benchmark_iterations" in cells and "melitz: homotopy_steps" in cells
    text = [r[1] for r in ws.iter_rows(values_only=True) if r and r[0] in (None, "") and r[1]]
    assert "compare_market_structures: [krugman, melitz]" in text
    info = json.loads((folder / "run_info.json").read_text())
    assert info["scenario_text"] == COMPARE
    assert info["identities_hold"] is True
    assert set(info["solver"]) == {"krugman", "melitz"}
    assert (folder / "scenario.yaml").read_text() == COMPARE


def test_plots_are_pngs(folder):
    for name in report.PLOTS:
        data = (folder / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_single_model_plots(tmp_path):
    res = run_scenario(ROOT / "runs" / "tariff_unilateral.yaml")
    out = res.write(tmp_path / "uni", excel=False)
    for name in report.PLOTS:
        assert (out / name).stat().st_size > 10_000


def test_interrupted_write_leaves_previous_results(result, tmp_path, monkeypatch):
    target = tmp_path / "res"
    result.write(target, excel=False, plots=False)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "plot_trade_heatmap", boom)
    with pytest.raises(KeyboardInterrupt):
        result.write(target)
    after = {p.name: p.read_bytes() for p in target.iterdir()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["res"], "temporary folders left behind"
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt):
        result.write(fresh)
    assert not fresh.exists()


def test_atomic_write_cleans_up(tmp_path):
    p = tmp_path / "x.csv"
    report.atomic_write(p, "a,b\n")

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        report.atomic_write(p, fail)
    assert p.read_text() == "a,b\n"
    assert [q.name for q in tmp_path.iterdir()] == ["x.csv"]


def test_compare_results(folder, tmp_path, result):
    other = result.write(tmp_path / "second", excel=False, plots=False)
    table = report.compare_results([folder, other])
    assert list(table.index) == ["North", "South", "East"]
    runs = set(table.columns.get_level_values("run"))
    assert runs == {"cut_compared/krugman", "cut_compared/melitz", "second/krugman", "second/melitz"}
    # log points, the one welfare measure of tables and console (welfare total)
    np.testing.assert_allclose(table[("second/melitz", "welfare_log_points")],
                               result.runs["melitz"].welfare.regions["total"])


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_many_regions_and_sectors_stay_readable(tmp_path, monkeypatch):
    """Past MANY_BARS bars, welfare is drawn horizontally (sorted, the figure grows in
    height, not width) and firm-level changes as region x sector heatmaps, so that labels
    stay legible however many regions a data set has."""
    path = tmp_path / "many.yaml"
    path.write_text("name: many\ndata: {example: random_economy, args: {regions: 6, sectors: 6, "
                    "seed: 5}}\nshocks:\n  - {type: tariff, mode: cut_pct, value: 50}\n"
                    "compare_market_structures: [krugman, melitz]\n")
    res = run_scenario(path)
    # the plotting functions write the file and return the Figure (issue 12)
    def drawn(plot, name):
        fig = plot(res, tmp_path / name)
        assert fig.axes, name
        return _png_size(tmp_path / name)

    monkeypatch.setattr(report, "MANY_BARS", 10)  # 6 regions x 2 models = 12 bars
    w, h = drawn(report.plot_welfare, "w.png")
    heat_w, heat_h = drawn(report.plot_firms, "f.png")
    monkeypatch.setattr(report, "MANY_BARS", 1000)
    bar_w, bar_h = drawn(report.plot_firms, "g.png")
    assert (heat_w, heat_h) != (bar_w, bar_h)  # a different layout: two rows of heatmaps
    assert heat_h > bar_h
    wide_w, wide_h = drawn(report.plot_welfare, "v.png")
    # horizontal: a fixed width, a height that grows with the bars; vertical: the reverse
    assert w < wide_w and h > wide_h, ((w, h), (wide_w, wide_h))
