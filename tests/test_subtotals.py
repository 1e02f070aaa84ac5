"""Subtotals by shock (Harrison, Horridge and Pearson 2000): contributions add up to the total."""

from __future__ import annotations

import numpy as np
import pytest

from cge.scenario import run_scenario
from cge.subtotals import TOLERANCE, gap_scale, scenario_subtotals
from scenario_files import two_shocks_scenario  # tests/scenario_files.py

pytestmark = pytest.mark.solver


@pytest.fixture(scope="module")
def two_shocks():
    scenario = two_shocks_scenario()
    result = run_scenario(scenario)
    return result, scenario_subtotals(result)


def _wide(table):
    return table.pivot_table(index=["quantity", "region", "partner"], columns="shock",
                             values="value", sort=False)


def test_contributions_add_up_to_the_total(two_shocks):
    result, table = two_shocks
    wide = _wide(table)
    shocks = ["tariff", "trade costs"]
    gap = (wide[shocks].sum(axis=1) - wide["total"]).abs()
    assert (gap <= TOLERANCE * gap_scale(wide["total"])).all(), gap.max()
    assert (gap_scale(wide["total"]) >= np.maximum(1.0, wide["total"].abs())).all()
    # both shocks matter, and neither alone is the total
    assert (wide[shocks].abs().max() > 1e-3).all()


def test_total_is_the_runs_welfare_decomposition(two_shocks):
    result, table = two_shocks
    wide = _wide(table)
    w = result.runs["as_specified"].welfare.regions
    for region in w.index:
        total = wide.loc[("welfare_log_points", region, ""), "total"]
        assert total == pytest.approx(w.loc[region, "total"], rel=1e-7, abs=1e-9)
        assert wide.loc[("ev", region, ""), "total"] == pytest.approx(
            w.loc[region, "ev"], rel=1e-7, abs=1e-9 * abs(w["ev"]).max())


@pytest.mark.slow  # eight solves along the path, like the two-shock test above
def test_a_single_shock_is_its_own_total():
    from cge.examples import symmetric

    regions = list(symmetric(2, 1).regions)
    scenario = {"name": "one_shock",
                "data": {"example": "symmetric", "args": {"regions": 2, "sectors": 1}},
                "shocks": [{"type": "tariff", "label": "only", "importers": regions[0],
                            "mode": "add", "value": 0.3}]}
    table = scenario_subtotals(run_scenario(scenario))
    wide = _wide(table)
    assert ((wide["only"] - wide["total"]).abs() <= TOLERANCE * gap_scale(wide["total"])).all()
    assert wide.loc[("welfare_log_points", regions[0], ""), "only"] != 0.0


@pytest.mark.slow
def test_retaliation_subtotals_on_the_three_region_example():
    """The tariff war of runs/tariff_retaliation.yaml: North's tariff and South's retaliation."""
    from pathlib import Path

    result = run_scenario(Path(__file__).parents[1] / "runs" / "tariff_retaliation.yaml")
    wide = _wide(scenario_subtotals(result))
    shocks = ["North's tariff increase", "South retaliates"]
    scale = gap_scale(wide["total"])
    assert ((wide[shocks].sum(axis=1) - wide["total"]).abs() <= TOLERANCE * scale).all()
    # North gains from its own tariff (terms of trade) and loses from the retaliation
    assert wide.loc[("welfare_log_points", "North", ""), shocks[0]] > 0
    assert wide.loc[("welfare_log_points", "North", ""), shocks[1]] < 0
