"""The deficit closures (cge.deficits): world_income_share (default), numeraire, zero_baseline.

Each closure replicates the calibrated benchmark in at most one iteration, is
homogeneous of degree one in the numeraire value and satisfies Walras' law after
a shock; each holds what it says it holds; the zero-deficit baseline closes every
region's trade balance.
"""

from __future__ import annotations

import numpy as np
import pytest

import calibration as cal
from calibration.examples import toy_benchmark
from cge import Equilibrium
from cge.deficits import world_income_shares
from cge.errors import InputError
from cge.parameters import DEFICIT_CLOSURES
from cge.primitives import Closure, Primitives
from cge.tolerance import WALRAS_TERMS, limit

#: IPOPT stops at residuals of about 1e-10 in logarithms (relative errors).
REL = 1e-8

NOMINAL = {"regions": ["income", "cpi", "factor_income", "tariff_revenue", "deficit",
                       "exports", "imports"],
           "factors": ["factor_price"],
           "routes": ["trade_value", "tariff_revenue"]}
REAL = {"regions": ["real_income"],
        "sectors": ["input_demand", "entry_mass", "domestic_cutoff"],
        "routes": ["trade_share", "cutoff"]}


def calibrated(deficit: str):
    data = toy_benchmark()
    assert np.abs(data.deficit).max() > 0.01 * data.income().max(), "the toy needs deficits"
    prim, start = cal.calibrate(data, closure={"deficit": deficit})
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    return eq, prim


def tariff_war(prim: Primitives, rate: float = 0.3) -> np.ndarray:
    foreign = ~np.eye(len(prim.regions), dtype=bool)[:, :, None]
    return np.where(foreign, prim["tariff"] + rate, prim["tariff"])


def assert_scaled(new, base, scale):
    atol = 1e-11 * abs(scale) * base.regions["income"].max()
    for table, cols in NOMINAL.items():
        for c in cols:
            np.testing.assert_allclose(getattr(new, table)[c].to_numpy(),
                                       scale * getattr(base, table)[c].to_numpy(),
                                       rtol=REL, atol=atol, err_msg=f"{table}.{c}")
    for table, cols in REAL.items():
        for c in cols:
            np.testing.assert_allclose(getattr(new, table)[c].to_numpy(),
                                       getattr(base, table)[c].to_numpy(), rtol=REL,
                                       err_msg=f"{table}.{c}")


def relative_trade_balance(res) -> np.ndarray:
    reg = res.regions
    return (reg["trade_balance"] / reg["income"]).to_numpy(float)


@pytest.mark.parametrize("deficit", DEFICIT_CLOSURES)
def test_each_closure_replicates_benchmark_and_is_homogeneous_and_walrasian(deficit):
    eq, prim = calibrated(deficit)
    base = eq.solve()
    assert eq.benchmark_stats.iterations <= 1
    assert eq.resolve().iterations <= 1  # at the baseline (zero_baseline: deficits closed)
    # the benchmark replicates the data's deficits under every closure
    np.testing.assert_allclose(eq.benchmark.regions["deficit"].to_numpy(), prim["deficit"],
                               rtol=REL, atol=1e-12 * eq.benchmark.regions["income"].max())
    assert base.info["deficits"]
    shocked = eq.solve(tariff=tariff_war(prim))
    assert abs(shocked.walras_residual) < limit(terms=WALRAS_TERMS)
    assert abs(shocked.regions["trade_balance"].sum()) < 1e-9 * shocked.regions["income"].sum()
    np.testing.assert_allclose(shocked.regions["trade_balance"], -shocked.regions["deficit"],
                               rtol=1e-7, atol=1e-9 * shocked.regions["income"].max())
    doubled = eq.solve(tariff=tariff_war(prim), numeraire=2.0)
    assert_scaled(doubled, shocked, 2.0)


def test_world_income_share_holds_each_share():
    eq, prim = calibrated("world_income_share")
    eq.solve()
    before = world_income_shares(eq.model)
    shocked = eq.solve(tariff=tariff_war(prim, 0.5))
    after = world_income_shares(eq.model)
    world = shocked.regions["income"].sum()
    assert abs(world / eq.benchmark.regions["income"].sum() - 1) > 1e-3  # world income moved
    for r in prim.regions:
        assert after[r] == pytest.approx(before[r], rel=REL, abs=1e-12)
    # ... so in numeraire units the deficits are no longer the data's
    assert not np.allclose(shocked.regions["deficit"], prim["deficit"], rtol=1e-4)


def test_numeraire_closure_holds_deficits_in_numeraire_units():
    eq, prim = calibrated("numeraire")
    eq.solve()
    shocked = eq.solve(tariff=tariff_war(prim, 0.5))
    np.testing.assert_allclose(shocked.regions["deficit"], prim["deficit"], rtol=1e-12)


def test_zero_baseline_closes_every_trade_balance():
    eq, prim = calibrated("zero_baseline")
    base = eq.solve()
    # the benchmark (data deficits) is kept, the baseline has none
    assert np.abs(relative_trade_balance(eq.benchmark)).max() > 1e-3
    assert np.abs(relative_trade_balance(base)).max() < 1e-10
    assert (base.regions["deficit"] == 0).all()
    assert eq.steps, "the baseline is its own step"
    shocked = eq.solve(tariff=tariff_war(prim))
    assert np.abs(relative_trade_balance(shocked)).max() < 1e-10
    # the shock is measured from the baseline: the changed parameters are the tariffs only
    assert shocked.info["changed"] == ["tariff"]


def test_zero_baseline_refuses_a_deficit_shock():
    eq, prim = calibrated("zero_baseline")
    eq.solve()
    d = prim["deficit"].copy()
    d[0], d[1] = d[0] + 1.0, d[1] - 1.0
    with pytest.raises(InputError, match="zero_baseline deficit closure"):
        eq.solve(deficit=d)


def test_closure_option_parsed_and_checked():
    prim = cal.calibrate(toy_benchmark())[0]
    assert prim.closure.deficit == "world_income_share"
    other = prim.with_closure({"deficit": "numeraire"})
    assert other.closure == Closure(deficit="numeraire")
    assert Primitives.from_mapping(other.to_mapping()).closure.deficit == "numeraire"
    with pytest.raises(InputError, match=r"closure.deficit: unknown closure 'fixed'"):
        prim.with_closure({"deficit": "fixed"})


def test_scenario_closure_deficit(tmp_path):
    from cge.scenario import run_scenario

    path = tmp_path / "zero.yaml"
    path.write_text(f"""
name: zero_baseline_tariffs
data: {tmp_path / 'toy.xlsx'}
closure: {{deficit: zero_baseline}}
shocks:
  - {{type: tariff, importers: North, mode: add, value: 0.1}}
""")
    from calibration.sam import write_benchmark_workbook

    write_benchmark_workbook(toy_benchmark(), tmp_path / "toy.xlsx")
    result = run_scenario(path)
    run = result.runs["as_specified"]
    assert run.primitives.closure.deficit == "zero_baseline"
    assert run.stats["closure"]["deficit"] == "zero_baseline"
    assert "zero-deficit baseline" in run.stats["deficits"]
    assert run.stats["benchmark_iterations"] <= 1 and run.stats["zero_deficit_baseline_steps"]
    assert np.abs(relative_trade_balance(run.base)).max() < 1e-10
    assert result.identities_hold
