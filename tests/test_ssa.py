"""Systematic sensitivity analysis: the quadrature rules, exactness for linear results,
quadrature against a large Monte Carlo (slow), Sobol indices (slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cge.ssa import stroud3
from cge.sweep import SweepError, clear_caches, load_sweep, run_sweep
from scenario_files import write  # tests/scenario_files.py

BASE = {
    "name": "ssa",
    "data": {"example": "three_by_three"},
    "shocks": [{"type": "tariff", "importers": "North", "exporters": "South",
                "sectors": "manufacturing", "mode": "add", "value": 0.2}],
}


def row(summary, table, variable, region, partner="", sector=""):
    sel = ((summary["table"] == table) & (summary["variable"] == variable)
           & (summary["region"] == region) & (summary["partner"] == partner)
           & (summary["sector"] == sector))
    assert sel.sum() == 1, (table, variable, region, partner, sector)
    return summary[sel].iloc[0]


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_stroud3_matches_moments_to_degree_three(d):
    """Standardised Stroud points: mean 0, identity covariance, zero third moments."""
    z = stroud3(d)
    assert z.shape == (2 * d, d)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(z.T @ z / (2 * d), np.eye(d), atol=1e-14)
    for a in range(d):
        for b in range(d):
            for c in range(d):
                assert abs(np.mean(z[:, a] * z[:, b] * z[:, c])) < 1e-14


@pytest.mark.parametrize("rule", ["stroud3", "gaussian"])
def test_mean_of_linear_result_is_exact(tmp_path, rule):
    """The shocked tariff is linear in the uniform shock size: its quadrature mean is the
    centre plus the benchmark tariff and its sd the uniform's (0.1 / sqrt 3), exactly."""
    clear_caches()
    path = write(tmp_path, rule, {**BASE, "ssa": {"method": "quadrature", "rule": rule,
                                                  "order": 1, "parameters": {
        "t": {"path": "shocks[0].value", "distribution": "uniform", "spread": 0.5}}}})
    sweep = load_sweep(path)
    assert len(sweep.members) == 2
    assert math.isclose(sum(m.weight for m in sweep.members), 1.0, rel_tol=1e-14)
    result = run_sweep(sweep, tmp_path / "out", scheduler="serial", progress=None, plots=False)
    s = result.ssa["summary"]
    base_tariff = 0.0  # North levies no benchmark tariff on South's manufactures
    r = row(s, "trade", "tariff_new", "North", "South", "manufacturing")
    assert math.isclose(r["mean"], base_tariff + 0.2, rel_tol=1e-13)
    assert math.isclose(r["sd"], 0.1 / math.sqrt(3), rel_tol=1e-12)
    assert math.isclose(r["p97.5"] - r["mean"], 1.959963984540054 * r["sd"], rel_tol=1e-9)
    # the welfare change is not linear: it has a spread, and South (the exporter) loses
    w = row(s, "welfare", "welfare_change_pct", "South")
    assert w["sd"] > 0 and w["mean"] < 0
    for name in ("ssa_summary.csv", "ssa_summary.parquet", "ssa_design.csv"):
        assert (tmp_path / "out" / name).is_file()


def test_ssa_errors_name_the_parameter(tmp_path):
    with pytest.raises(SweepError, match=r"ssa\.parameters\.s: the distribution .* reaches "
                                         r"0\.38.*\(1, inf\) of sigma"):
        load_sweep(write(tmp_path, "a", {**BASE, "ssa": {"parameters": {
            "s": {"path": "parameters.sigma.manufacturing", "distribution": "uniform",
                  "spread": 0.9}}}}))
    with pytest.raises(SweepError, match="no centre"):
        load_sweep(write(tmp_path, "b", {**BASE, "ssa": {"parameters": {
            "x": {"path": "shocks[0].mode_value", "distribution": "normal", "spread": 0.1}}}}))
    with pytest.raises(SweepError, match="stroud3 needs symmetric"):
        load_sweep(write(tmp_path, "c", {**BASE, "ssa": {"parameters": {
            "t": {"path": "shocks[0].value", "distribution": "triangular", "lower": 0.1,
                  "upper": 0.4, "centre": 0.15}}}}))


def test_centre_is_the_calibrated_value(tmp_path):
    """A structural parameter the scenario does not set is centred on the data's value
    (sigma of manufacturing is 3.8 in three_by_three)."""
    sweep = load_sweep(write(tmp_path, "d", {**BASE, "ssa": {"parameters": {
        "s": {"path": "parameters.sigma.manufacturing", "distribution": "triangular",
              "spread": 0.1}}}}))
    dist = sweep.design.distributions[0]
    assert (dist.lower, dist.centre, dist.upper) == pytest.approx((3.42, 3.8, 4.18), rel=1e-14)
    values = sorted(m.values["s"] for m in sweep.members)
    assert values == pytest.approx([3.8 - 0.38 / math.sqrt(6), 3.8 + 0.38 / math.sqrt(6)],
                                   rel=1e-14)


@pytest.mark.slow
def test_quadrature_agrees_with_large_monte_carlo(tmp_path):
    """Mean and sd of welfare from Gaussian quadrature (3 x 3 points) over an uncertain
    shock size and an uncertain sigma agree with 200 Monte Carlo draws within three of the
    Monte Carlo's standard errors (of the mean: sd / sqrt n; of the sd: sd / sqrt(2(n-1)))."""
    params = {"t": {"path": "shocks[0].value", "distribution": "uniform", "spread": 0.5},
              "s": {"path": "parameters.sigma.manufacturing", "distribution": "triangular",
                    "lower": 3.8, "upper": 4.8, "centre": 4.3}}
    clear_caches()
    quad = run_sweep(write(tmp_path, "q", {**BASE, "ssa": {
        "method": "quadrature", "rule": "gaussian", "order": 2, "parameters": params}}),
        tmp_path / "q", scheduler="serial", progress=None, plots=False)
    mc = run_sweep(write(tmp_path, "mc", {**BASE, "ssa": {
        "method": "monte_carlo", "samples": 200, "seed": 7, "parameters": params}}),
        tmp_path / "mc", scheduler="serial", progress=None, plots=False)
    assert not quad.failed and not mc.failed
    n = 200
    for region in ("North", "South", "East"):
        q = row(quad.ssa["summary"], "welfare", "welfare_change_pct", region)
        m = row(mc.ssa["summary"], "welfare", "welfare_change_pct", region)
        assert math.isclose(m["se_mean"], m["sd"] / math.sqrt(n), rel_tol=1e-12)
        assert abs(q["mean"] - m["mean"]) <= 3 * m["se_mean"], (region, q["mean"], m["mean"])
        assert abs(q["sd"] - m["sd"]) <= 3 * m["sd"] / math.sqrt(2 * (n - 1)), region


@pytest.mark.slow
def test_sobol_indices_of_welfare(tmp_path):
    """Sobol indices: North's tariff on South's manufactures drives South's welfare far
    more than sigma does over these ranges; S1 <= ST (within their bootstrap intervals)."""
    clear_caches()
    result = run_sweep(write(tmp_path, "sob", {**BASE, "ssa": {
        "method": "sobol", "samples": 16, "seed": 3, "parameters": {
            "t": {"path": "shocks[0].value", "distribution": "uniform", "lower": 0.0,
                  "upper": 0.4},
            "s": {"path": "parameters.sigma.manufacturing", "distribution": "uniform",
                  "lower": 3.9, "upper": 4.3}}}}),
        tmp_path / "sob", scheduler="serial", progress=None)
    assert len(result.members) == 16 * 4
    sob = result.ssa["sobol"].set_index(["region", "parameter"])
    assert sob.loc[("South", "t"), "ST"] > 0.8
    assert sob.loc[("South", "s"), "ST"] < 0.2
    assert (tmp_path / "sob" / "sobol.csv").is_file()
    assert (tmp_path / "sob" / "ssa_welfare.png").is_file()
