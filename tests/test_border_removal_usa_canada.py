"""The USA-Canada border removal of seed 000 on the 69-country Yotov et al. (2016) data
(runs/border_removal_usa_canada.yaml): the data and border coefficient are what the module
that builds them says, and the three-structure run shows what its text claims."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import calibration as cal
from calibration.yotov_border import border_coefficient, estimate, write_workbook
from cge.scenario import run_scenario
from cge.tolerance import limit

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "runs" / "border_removal_usa_canada.yaml"
BOOK = ROOT / "runs" / "data" / "yotov2016_observed.xlsx"
PAIR = ("USA", "CAN")


@pytest.fixture(scope="module")
def fit():
    return estimate()


def test_border_coefficient_is_the_ppml_estimate(fit):
    """The shock removes the INTL_BRDR coefficient that PPML (exporter and importer fixed
    effects, ln DIST, CNTG) estimates on the bundled table: -2.474, as in the book."""
    b = float(fit.coefficients["INTL_BRDR"])
    assert round(b, 3) == -2.474
    spec = yaml.safe_load(RUN.read_text())
    (shock,) = spec["shocks"]
    assert round(shock["remove_gravity_term"], 3) == round(b, 3)
    assert shock["pairs"] == [list(PAIR)] and shock["both_directions"] is True
    assert border_coefficient() == pytest.approx(b, rel=1e-12)


def test_bundled_workbook_is_what_the_module_writes(fit, tmp_path):
    """runs/data/yotov2016_observed.xlsx: the observed flows of all 69 countries (domestic
    sales included, zeros kept) and the estimated trade-cost index."""
    new = cal.read_workbook(write_workbook(tmp_path / "book.xlsx"))
    old = cal.read_workbook(BOOK)
    assert old.regions == new.regions and len(old.regions) == 69 and "DEU" in old.regions
    np.testing.assert_allclose(old.trade, new.trade, rtol=1e-12)
    np.testing.assert_allclose(old.trade_cost, new.trade_cost, rtol=1e-9)
    pairs = fit.pairs.replace({"ZZZ": "DEU"}).set_index(["importer", "exporter"])
    R = list(old.regions)
    for n, i in (("USA", "CAN"), ("CAN", "USA"), ("CAN", "CAN")):
        assert old.trade[R.index(n), R.index(i), 0] == pytest.approx(
            pairs.loc[(n, i), "observed"], rel=1e-12)
    assert int((old.trade == 0).sum()) == 138  # foreign routes without shipments


@pytest.mark.slow
def test_three_structures_on_69_countries():
    res = run_scenario(RUN)
    failed = [c for c in res.expectations if not c.passed]
    assert not failed, failed
    assert len(res.expectations) >= 30 and res.identities_hold
    data = cal.read_workbook(BOOK)
    R = list(data.regions)
    a, c = R.index("USA"), R.index("CAN")
    b = yaml.safe_load(RUN.read_text())["shocks"][0]["remove_gravity_term"]
    runs = res.runs
    assert list(runs) == ["melitz", "cara", "armington"]
    for label, run in runs.items():
        assert run.stats["benchmark_iterations"] <= 1, (label, run.stats)
        assert run.stats["homotopy_steps"] == [1.0], (label, run.stats)
        # each structure replicates the observed benchmark flows
        X = run.base.routes.xs("mfg", level="sector")["trade_value"].unstack("origin")
        X = X.reindex(index=R, columns=R).fillna(0.0).to_numpy()
        np.testing.assert_allclose(X, data.trade[:, :, 0], rtol=1e-8,
                                   atol=limit(data.trade.max()))
        # the shock: T = tau^-eps times exp(-b) on the two USA-Canada routes, nothing else
        eps = 6.0
        with np.errstate(invalid="ignore"):
            ratio = (run.shocked["tau"] / run.primitives["tau"])[:, :, 0] ** (-eps)
        on = np.zeros_like(ratio, dtype=bool)
        on[a, c] = on[c, a] = True
        np.testing.assert_allclose(ratio[on], math.exp(-b), rtol=1e-12)
        active = np.isfinite(run.primitives["tau"][:, :, 0])
        np.testing.assert_allclose(ratio[~on & active], 1.0, rtol=1e-12)
    w = {k: r.welfare.regions["welfare_change_pct"] for k, r in runs.items()}
    for k in runs:
        assert w[k]["CAN"] > w[k]["USA"] > 0
    # cara and armington: one sector, trade elasticity 6, the same trade shares and wages
    cmp = {k: r.new.compare(r.base) for k, r in runs.items()}
    np.testing.assert_allclose(cmp["cara"].factors["factor_price_pct"],
                               cmp["armington"].factors["factor_price_pct"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(runs["cara"].new.routes["trade_share"],
                               runs["armington"].new.routes["trade_share"], rtol=1e-6)
    # composition: cara raises the count of varieties in Canada, CES-Melitz lowers it; the
    # mean margin p - c of Canadian sellers at home falls relative to Canada's input cost
    va = {k: runs[k].welfare.sectors.loc[("CAN", "mfg"), "varieties_available_pct"]
          for k in ("melitz", "cara")}
    assert va["cara"] > 0 > va["melitz"]
    cara = runs["cara"]
    key = ("CAN", "CAN", "mfg")
    margin = cara.new.routes.loc[key, "margin_mean"] / cara.base.routes.loc[key, "margin_mean"]
    cost = (cara.new.sectors.loc[("CAN", "mfg"), "input_price"]
            / cara.base.sectors.loc[("CAN", "mfg"), "input_price"])
    assert margin / cost - 1 < -0.25
    # Canada's domestic share falls from 45% to under 3% in every structure
    for k, r in runs.items():
        assert r.base.routes.loc[key, "trade_share"] == pytest.approx(0.452, abs=5e-4)
        assert r.new.routes.loc[key, "trade_share"] < 0.03


def test_cara_zero_flows_is_a_workbook_option(tmp_path):
    """The run's ``cara_zero_flows: inactive`` reaches calibration; anywhere else it is a
    named error."""
    from cge.scenario import ScenarioError, load_scenario

    spec = {"name": "x", "shocks": [],
            "data": {"workbook": "book.xlsx", "cara_zero_flows": "inactive"}}
    assert load_scenario(spec).scenario.data.calibrate_options() == {"cara_zero_flows": "inactive"}
    with pytest.raises(ScenarioError, match="cara_zero_flows.*option for reading a workbook"):
        load_scenario({**spec, "data": {"primitives": "e.yaml", "cara_zero_flows": "inactive"}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: {workbook: b.xlsx, cara_zero_flows: drop}\nshocks: []\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml:2: data.cara_zero_flows: .*'inactive'"):
        load_scenario(bad)
