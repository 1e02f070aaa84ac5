"""From a bilateral table to border-removal results with `cge gravity` and `cge run`, and
market structures compared on equal terms (each recalibrated to the same data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import calibration as cal
from cge.gravity import estimate_gravity, read_bilateral_table, write_gravity_workbook
from cge.scenario import run_scenario

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "sam_data" / "yotov2016_trade_without_border_2006.csv.gz"
SPEC = dict(flow="trade", variables=["DIST", "CNTG", "INTL_BRDR"], log=["DIST"])
# A small subset of Yotov et al.'s 69 countries: North America and a few others.
SUBSET = ["CAN", "MEX", "USA", "JPN", "FRA", "ZZZ"]


@pytest.fixture(scope="module")
def subset_table(tmp_path_factory):
    t = read_bilateral_table(TABLE)
    t = t[t["exporter"].isin(SUBSET) & t["importer"].isin(SUBSET)]
    path = tmp_path_factory.mktemp("gravity") / "subset.csv"
    t.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner

    from cge.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_cge_gravity_then_cge_run(cli, subset_table, tmp_path):
    book, scen, est = tmp_path / "book.xlsx", tmp_path / "borders.yaml", tmp_path / "est"
    r = cli("gravity", subset_table, "-v", "DIST,CNTG,INTL_BRDR", "--log", "DIST",
            "--rename", "ZZZ=DEU", "-w", book, "-s", scen, "--remove", "INTL_BRDR", "-o", est)
    assert r.exit_code == 0, r.output
    assert "INTL_BRDR" in r.output and book.is_file() and scen.is_file()
    coef = pd.read_csv(est / "coefficients.csv", index_col="term")["coefficient"]
    assert coef["INTL_BRDR"] < -1  # a border effect, estimated on the subset
    spec = yaml.safe_load(scen.read_text())
    assert spec["shocks"][0]["routes"] == "international"
    assert spec["shocks"][0]["remove_gravity_term"] == pytest.approx(coef["INTL_BRDR"], rel=1e-9)
    data = cal.read_workbook(book)
    assert "DEU" in data.regions and np.isfinite(data.trade_cost).all()
    r = cli("run", scen, "-o", tmp_path / "out", "--no-plots", "--no-excel")
    assert r.exit_code == 0, r.output
    welfare = pd.read_csv(tmp_path / "out" / "welfare.csv", index_col="region")
    assert (welfare["welfare_change_pct"] > 1).all()  # every country gains from no borders
    for col in ("first_order_terms_of_trade", "first_order_volume_of_trade", "first_order_total"):
        assert col in welfare.columns


def test_bad_gravity_input_is_named_by_the_cli(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"exporter": ["A", "B"], "importer": ["B", "A"], "trade": [1.0, -2.0],
                  "DIST": [3.0, 3.0]}).to_csv(bad, index=False)
    r = cli("gravity", bad, "-v", "DIST", "--log", "DIST")
    assert r.exit_code == 1
    assert "column 'trade', row 3: flow -2 is negative" in r.output
    r = cli("gravity", bad, "-v", "DISTANCE")
    assert r.exit_code == 1 and "missing column(s) ['DISTANCE']" in r.output


def test_compare_recalibrates_every_structure_to_the_same_data(subset_table, tmp_path):
    fit = estimate_gravity(read_bilateral_table(subset_table), **SPEC)
    write_gravity_workbook(fit, tmp_path / "book.xlsx", sigma=5.0)
    scenario = {
        "name": "compare_on_equal_terms",
        "data": {"workbook": str(tmp_path / "book.xlsx")},
        "shocks": [{"type": "iceberg", "routes": "international",
                    "remove_gravity_term": float(fit.coefficients["INTL_BRDR"]) / 2}],
        "compare_market_structures": ["armington", "krugman", "melitz"],
        "structure_parameters": {"melitz": {"sigma": 3.0, "k": 4.0}},
    }
    res = run_scenario(scenario)
    data = cal.read_workbook(tmp_path / "book.xlsx")
    for label, run in res.runs.items():
        assert run.primitives.market_structure["mfg"] == label
        assert run.stats["benchmark_iterations"] <= 1, (label, run.stats)
        # each structure replicates the observed (here: fitted) benchmark flows
        X = run.base.routes.xs("mfg", level="sector")["trade_value"].unstack("origin")
        X = X.loc[list(data.regions), list(data.regions)].to_numpy()
        np.testing.assert_allclose(X, data.trade[:, :, 0], rtol=1e-8)
        # the same change of the trade-cost index T = tau^-eps in every structure
        eps = 4.0  # sigma - 1 = 5 - 1 (armington, krugman), k = 4 (melitz)
        ratio = (run.shocked["tau"] / run.primitives["tau"])[:, :, 0] ** (-eps)
        off = ~np.eye(len(data.regions), dtype=bool)
        np.testing.assert_allclose(ratio[off], np.exp(-fit.coefficients["INTL_BRDR"] / 2), rtol=1e-12)
        assert (run.welfare.regions["welfare_change_pct"] > 0).all()
    assert res.identities_hold


@pytest.mark.slow
def test_trade_without_borders_run():
    res = run_scenario(ROOT / "runs" / "trade_without_borders.yaml")
    for run in res.runs.values():
        assert run.stats["benchmark_iterations"] <= 1
    failed = [c for c in res.expectations if not c.passed]
    assert not failed, failed
    assert len(res.expectations) >= 6


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "yotov2016").exists(),
                    reason="the shared data folder is not next to the repository")
def test_bundled_workbook_is_what_cge_gravity_writes(tmp_path):
    source = ROOT.parent / "shared" / "data" / "yotov2016" / "yotov2016_trade_without_border_2006.csv"
    fit = estimate_gravity(read_bilateral_table(source), **SPEC)
    write_gravity_workbook(fit, tmp_path / "book.xlsx", rename={"ZZZ": "DEU"})
    new, old = cal.read_workbook(tmp_path / "book.xlsx"), cal.read_workbook(
        ROOT / "runs" / "data" / "yotov2016_gravity.xlsx")
    assert new.regions == old.regions
    np.testing.assert_allclose(new.trade, old.trade, rtol=1e-9)
    np.testing.assert_allclose(new.trade_cost, old.trade_cost, rtol=1e-9)


def test_market_structure_override_recalibrates_workbook_data(subset_table, tmp_path):
    # an all-krugman run of armington workbook data: recalibrated, so it starts at the benchmark
    fit = estimate_gravity(read_bilateral_table(subset_table), **SPEC)
    write_gravity_workbook(fit, tmp_path / "book.xlsx", sigma=5.0)
    res = run_scenario({"name": "krugman", "data": {"workbook": str(tmp_path / "book.xlsx")},
                        "market_structure": {"mfg": "krugman"},
                        "shocks": [{"type": "iceberg", "mode": "cut_pct", "value": 10}]})
    run = res.runs["as_specified"]
    assert run.primitives.market_structure["mfg"] == "krugman"
    assert run.stats["benchmark_iterations"] <= 1
    data = cal.read_workbook(tmp_path / "book.xlsx")
    X = run.base.routes.xs("mfg", level="sector")["trade_value"].unstack("origin")
    np.testing.assert_allclose(X.loc[list(data.regions), list(data.regions)].to_numpy(),
                               data.trade[:, :, 0], rtol=1e-8)
