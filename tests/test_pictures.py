"""Pictures (issue 12): scenario titles, trade by sector without domestic sales on one colour
scale, no duplicate panel, no bar for the region the closure holds fixed, EV in money, and
every plotting function returns its Figure."""

from __future__ import annotations

import numpy as np
import pytest

from cge import report
from cge.scenario import run_scenario

pytestmark = pytest.mark.solver

SCENARIO = {
    "name": "soe_cut",
    "title": "North cuts its tariffs, East held fixed",
    "data": {"example": "three_by_three"},
    "closure": {"small_open_economy": "East"},
    "shocks": [{"type": "tariff", "importers": "North", "mode": "cut_pct", "value": 50}],
}


@pytest.fixture(scope="module")
def result():
    return run_scenario(SCENARIO)


def test_welfare_and_ev_bars_leave_out_the_fixed_region(result, tmp_path):
    for plot in (report.plot_welfare, report.plot_ev):
        fig = plot(result, tmp_path / "p.png")
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == ["North", "South"], labels
        assert ax.get_title().startswith("North cuts its tariffs, East held fixed")
        assert (tmp_path / "p.png").stat().st_size > 5_000
    ev = report.plot_ev(result, tmp_path / "ev.png")
    assert "numeraire units" in ev.axes[0].get_ylabel()
    heights = sorted(round(p.get_height(), 9) for p in ev.axes[0].patches)
    w = result.runs["as_specified"].welfare.regions
    assert heights == sorted(round(v, 9) for v in w.loc[["North", "South"], "ev"])


def test_trade_heatmaps_by_sector_one_scale_no_domestic(result, tmp_path):
    fig = report.plot_trade_heatmap(result, tmp_path / "t.png")
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == len(result.runs["as_specified"].primitives.sectors)
    assert len({im.get_clim() for im in images}) == 1  # one colour scale
    for im in images:
        data = im.get_array()
        assert np.ma.getmaskarray(data).diagonal().all()  # domestic sales not shown
        assert not np.ma.getmaskarray(data)[~np.eye(data.shape[0], dtype=bool)].all()


def test_one_panel_when_cutoff_and_productivity_coincide(result, tmp_path):
    fig = report.plot_firms(result, tmp_path / "f.png")
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titled) == 1 and "they move together" in titled[0]
