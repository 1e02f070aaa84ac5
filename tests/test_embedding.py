"""The heterogeneous-firm sector embedded in a conventional host CGE model.

The host (``runs/embedded_host/host_model.py``) is a SAM-based three-region,
three-sector model written directly in Pyomo. These tests check that

* the host and its SAM are balanced, square and structurally nonsingular,
  with and without sector blocks;
* it replicates its benchmark (residuals ~ 0, IPOPT takes no iteration),
  whichever sectors are switched to a block;
* with ``mfg`` switched to Melitz, a 10% tariff cut gives the same
  equilibrium as our own assembled model (:class:`cge.Equilibrium`) on the
  same economy written as :class:`cge.Primitives`;
* switching every sector to the block's Armington reproduces the host's own
  results, and Arc wiring reproduces :func:`cge.embedding.connect` wiring;
* bad wiring (a port left unconnected, two numeraires, no numeraire,
  unexpanded arcs) is reported by name before any solve.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cge import Equilibrium, HeterogeneousFirmSector, examples  # noqa: E402
from cge.embedding import (  # noqa: E402
    PORT_MEMBERS, WiringError, benchmark_residual, block_levels, calibrate_armington,
    calibrate_krugman, calibrate_melitz, check_wiring, connect, connect_arcs, expand_arcs,
    initialize_block, mark_numeraire, numeraires, solve_block,
)
from cge.model import build_model  # noqa: E402
from cge.solve import check_structure, max_residual  # noqa: E402
from cge.tolerance import limit, WALRAS_TERMS
from runs.embedded_host import host_model as hm  # noqa: E402

# Host and block results compared through up to ten equations (cge.tolerance).
REL = limit(terms=10)
ALL_ARMINGTON = {s: "armington" for s in hm.SECTORS}


def max_rel_diff(a: dict, b: dict) -> float:
    """Largest relative difference over the arrays both result dicts hold."""
    keys = sorted(set(a) & set(b))
    assert keys
    return max(float(np.max(np.abs(a[k] / b[k] - 1.0))) for k in keys)


def solve_cut(structures, *, government=True, savings=True, wiring="connect", cut=0.9):
    """Benchmark and tariff-cut results of the host."""
    m = hm.build_host(structures, government=government, savings=savings, wiring=wiring)
    base_stats = hm.solve(m)
    base = hm.results(m)
    hm.set_tariffs(m, cut * m.bench.tariff)
    hm.solve(m)
    return m, base_stats, base, hm.results(m)


# ----------------------------------------------------------------- the data
@pytest.mark.parametrize("government,savings", [(True, True), (False, False), (True, False)])
def test_sam_balances(government, savings):
    bench = hm.benchmark(government=government, savings=savings)
    accounts, sam = bench.sam()
    assert sam.shape == (len(accounts), len(accounts))
    assert (sam >= 0).all()
    bench.check_balance()
    # the deficits close the world and shares are shares
    assert abs(bench.deficit.sum()) < limit(bench.deficit, terms=len(bench.deficit), rel=1e-12)
    np.testing.assert_allclose(bench.beta.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(bench.alpha.sum(axis=2) + bench.gamma.sum(axis=2), 1.0, rtol=1e-12)


def test_unbalanced_sam_is_named():
    bench = hm.benchmark()
    bench.intermediate = bench.intermediate.copy()
    bench.intermediate[0, 1, 1] += 1.0  # an extra purchase nobody pays for
    with pytest.raises(ValueError, match=r"north\.act\.mfg|north\.com\.mfg"):
        bench.check_balance()


# ---------------------------------------------------- structure and benchmark
STRUCTURES = [
    pytest.param({}, id="host-armington"),
    pytest.param({"mfg": "melitz"}, id="mfg-melitz"),
    pytest.param({"mfg": "krugman"}, id="mfg-krugman"),
    pytest.param(ALL_ARMINGTON, id="all-block-armington"),
    pytest.param({s: "melitz" for s in hm.SECTORS}, id="all-melitz"),
]


@pytest.mark.parametrize("government", [True, False], ids=["gov-sav", "plain"])
@pytest.mark.parametrize("structures", STRUCTURES)
def test_host_square_and_replicates_benchmark(structures, government):
    m = hm.build_host(structures, government=government, savings=government)
    nv, nc = check_structure(m)
    assert nv == nc
    report = check_wiring(m)
    assert report.numeraire == "numeraire"
    assert report.blocks == [f"trade_block[{s}]" for s in hm.SECTORS if s in structures]
    assert max_residual(m) < limit()
    assert abs(hm.walras_residual(m)) < limit(terms=WALRAS_TERMS)
    start = hm.results(m)
    stats = hm.solve(m)
    assert stats.iterations <= 1
    assert max_rel_diff(hm.results(m), start) < 1e-10
    # unit prices at the benchmark
    np.testing.assert_allclose(start["factor_price"], 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(start["price_index"], 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(start["unit_cost"], 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(start["trade_value"], m.bench.trade, rtol=1e-14)


def test_switching_a_sector_keeps_the_system_square():
    base = hm.build_host({})
    switched = hm.build_host({"mfg": "melitz"})
    nv0, nc0 = check_structure(base)
    nv1, nc1 = check_structure(switched)
    assert (nv0, nv1) == (nc0, nc1)
    R = len(hm.REGIONS)
    # block unknowns: E, c, P, Y, M_E, T (R each) and X, cutoff (R^2 each),
    # plus the host's profit variables PI (R): all matched by block or link equations
    assert nv1 - nv0 == 6 * R + 2 * R * R + R


# ------------------------------------------------- against our own model
@pytest.fixture(scope="module")
def host_vs_cge():
    structures = {"mfg": "melitz"}
    bench = hm.benchmark(government=False, savings=False)
    prim = hm.to_primitives(bench, structures)
    eq = Equilibrium(prim)
    cge_base = eq.solve()
    cge_cut = eq.solve(tariff=0.9 * prim["tariff"])
    _, _, host_base, host_cut = solve_cut(structures, government=False, savings=False)
    return bench, (cge_base, cge_cut), (host_base, host_cut)


def _cge_arrays(res, bench) -> dict:
    R, S, F = hm.REGIONS, hm.SECTORS, hm.FACTORS
    j = S.index("mfg")
    return {
        "factor_price": np.array([[res.factors.loc[(i, f), "factor_price"] for f in F] for i in R]),
        "price_index": np.array([[res.sectors.loc[(n, s), "price_index"] for s in S] for n in R]),
        "expenditure": np.array([[res.sectors.loc[(n, s), "expenditure"] for s in S] for n in R]),
        "output_value": np.array([[res.sectors.loc[(i, s), "input_price"]
                                   * res.sectors.loc[(i, s), "input_demand"] for s in S]
                                  for i in R]),
        "trade_value": np.array([[[res.routes.loc[(n, i, s), "trade_value"] for s in S]
                                  for i in R] for n in R]),
        "tariff_revenue": np.array([[res.sectors.loc[(n, s), "tariff_revenue"] for s in S]
                                    for n in R]),
        "household_income": res.regions["income"].to_numpy(),
        "welfare": res.regions["real_income"].to_numpy(),
        "entry_mass.mfg": np.array([res.sectors.loc[(i, "mfg"), "entry_mass"] for i in R]),
        # our model's productivity is the host's times the cost scale A_is
        "cutoff.mfg": np.array([[res.routes.loc[(n, i, "mfg"), "cutoff"] / bench.scale[b, j]
                                 for b, i in enumerate(R)] for n in R]),
    }


def test_host_is_expressible_in_our_model(host_vs_cge):
    bench, (cge_base, _), (host_base, _) = host_vs_cge
    ours = _cge_arrays(cge_base, bench)
    assert set(ours) <= set(host_base)
    assert max_rel_diff(ours, host_base) < REL
    np.testing.assert_allclose(ours["trade_value"], bench.trade, rtol=REL)


def test_tariff_cut_matches_our_model(host_vs_cge):
    bench, (cge_base, cge_cut), (host_base, host_cut) = host_vs_cge
    ours = _cge_arrays(cge_cut, bench)
    assert max_rel_diff(ours, host_cut) < REL
    # and the shock did something
    assert max_rel_diff(host_cut, host_base) > 1e-3
    welfare = host_cut["welfare"] / host_base["welfare"] - 1
    ours_welfare = cge_cut.compare(cge_base).welfare["welfare_change_pct"].to_numpy() / 100
    np.testing.assert_allclose(ours_welfare, welfare, rtol=REL, atol=1e-12)


# --------------------------------------------- block armington == host armington
@pytest.mark.parametrize("government", [True, False], ids=["gov-sav", "plain"])
def test_all_block_armington_reproduces_host(government):
    _, _, base0, cut0 = solve_cut({}, government=government, savings=government)
    _, _, base1, cut1 = solve_cut(ALL_ARMINGTON, government=government, savings=government)
    assert max_rel_diff(base1, base0) < REL
    assert max_rel_diff(cut1, cut0) < REL


def test_arc_wiring_matches_connect():
    m, _, base0, cut0 = solve_cut({"mfg": "melitz"}, wiring="connect")
    a, _, base1, cut1 = solve_cut({"mfg": "melitz"}, wiring="arcs")
    assert max_rel_diff(base1, base0) < REL
    assert max_rel_diff(cut1, cut0) < REL
    # expand_arcs wrote level equalities host == block member
    expanded = a.component("arc_mfg_inlet_arc_expanded")
    assert expanded is not None and len(expanded.expenditure_equality) == len(hm.REGIONS)
    assert check_wiring(a).connections["trade_block[mfg].inlet.expenditure"]


def test_melitz_host_has_selection_and_moves_margins():
    m, _, base, cut = solve_cut({"mfg": "melitz"})
    blk = m.trade_block["mfg"]
    for n, i in blk.routes:
        assert pyo.value(blk.cutoff[n, i]) > pyo.value(blk.phi_min[i])
    # cheaper imports: foreign export cutoffs fall (more exporters)
    foreign = ~np.eye(len(hm.REGIONS), dtype=bool)
    assert (cut["cutoff.mfg"][foreign] < base["cutoff.mfg"][foreign]).all()
    assert (cut["welfare"] > base["welfare"]).all()


# ------------------------------------------------------------- bad wiring
def test_unconnected_inlet_is_named_before_solving(monkeypatch):
    m = hm.build_host({"mfg": "melitz"})
    m.link_mfg.input_price.deactivate()
    monkeypatch.setattr(hm, "run_ipopt", lambda *a, **k: pytest.fail("solved despite bad wiring"))
    with pytest.raises(WiringError) as exc:
        hm.solve(m)
    err = exc.value
    assert "trade_block[mfg].inlet.input_price" in str(err)
    assert err.unconnected == [f"trade_block[mfg].inlet.input_price[{r}]" for r in hm.REGIONS]
    assert "not square" in str(err)


def test_unconnected_outlet_is_named_even_when_square():
    """Tariff revenue treated as exogenous by mistake: square, but the port is open."""
    m = hm.build_host({"mfg": "melitz"})
    m.link_mfg.tariff_revenue.deactivate()
    m.TR[:, "mfg"].fix()
    check_structure(m)  # the structural check alone does not see it
    with pytest.raises(WiringError) as exc:
        check_wiring(m)
    assert "trade_block[mfg].outlet.tariff_revenue" in str(exc.value)
    assert exc.value.unconnected == [f"trade_block[mfg].outlet.tariff_revenue[{r}]"
                                     for r in hm.REGIONS]


def test_whole_port_unconnected_is_named():
    m = hm.build_host({"mfg": "melitz"})
    for member in ("price_index", "trade_value", "input_demand", "tariff_revenue", "profit"):
        m.link_mfg.component(member).deactivate()
    with pytest.raises(WiringError) as exc:
        check_wiring(m)
    text = str(exc.value)
    assert "trade_block[mfg].outlet.input_demand" in text
    assert "trade_block[mfg].outlet.tariff_revenue" in text
    assert "trade_block[mfg].inlet" not in text


def test_two_numeraires_are_named():
    m = hm.build_host({"mfg": "melitz"})
    m.numeraire_cpi = pyo.Constraint(expr=m.cpi["south"] == 1.0)
    with pytest.raises(WiringError) as exc:
        check_wiring(m)
    assert exc.value.numeraires == ["numeraire", "numeraire_cpi"]
    assert "2 numeraires: numeraire, numeraire_cpi" in str(exc.value)


def test_marked_fixed_variable_counts_as_numeraire():
    m = hm.build_host({"mfg": "melitz"})
    m.w["south", "cap"].fix(1.0)
    m.factor_market["south", "cap"].deactivate()  # still square
    mark_numeraire(m.w["south", "cap"])
    assert numeraires(m) == ["numeraire", "w[south,cap]"]
    with pytest.raises(WiringError, match=r"2 numeraires: numeraire, w\[south,cap\]"):
        check_wiring(m)


def test_missing_numeraire_is_reported():
    m = hm.build_host({"mfg": "melitz"})
    m.numeraire.deactivate()
    m.factor_market[hm.NUMERAIRE].activate()  # square, but the price level is free
    with pytest.raises(WiringError, match="no numeraire"):
        check_wiring(m)


def test_unexpanded_arcs_are_reported():
    m = hm.build_host({"mfg": "melitz"})
    m.del_component(m.link_mfg)
    m.ports = pyo.Block()
    m.ports.E = pyo.Reference(m.E[:, "mfg"])
    m.ports.c = pyo.Reference(m.c[:, "mfg"])
    from pyomo.network import Port
    m.ports.out = Port(initialize={"expenditure": m.ports.E, "input_price": m.ports.c})
    connect_arcs(m, m.trade_block["mfg"], source=m.ports.out)
    with pytest.raises(WiringError, match="not expanded"):
        check_wiring(m)


def test_arc_between_constants_is_named():
    """Free-entry profit (the constant 0) wired by Arc to a constant host term."""
    from pyomo.network import Port

    m = hm.build_host({"mfg": "melitz"})
    m.del_component(m.link_mfg)
    m.PI[:, "mfg"].fix(0.0)
    p = m.ports_mfg = pyo.Block()
    p.E, p.c = pyo.Reference(m.E[:, "mfg"]), pyo.Reference(m.c[:, "mfg"])
    p.P, p.X = pyo.Reference(m.P[:, "mfg"]), pyo.Reference(m.X[:, :, "mfg"])
    p.Y, p.TR = pyo.Reference(m.Y[:, "mfg"]), pyo.Reference(m.TR[:, "mfg"])
    p.PI = pyo.Expression(m.R, rule=lambda b, r: 0.0)
    p.to_sector = Port(initialize={"expenditure": p.E, "input_price": p.c})
    p.from_sector = Port(initialize={"price_index": p.P, "trade_value": p.X,
                                     "input_demand": p.Y, "tariff_revenue": p.TR,
                                     "profit": p.PI})
    connect_arcs(m, m.trade_block["mfg"], source=p.to_sector, destination=p.from_sector)
    expand_arcs(m)
    with pytest.raises(WiringError) as exc:
        check_wiring(m)
    assert "without unknowns: trade_block_mfg_outlet_arc_expanded.profit_equality[north]" \
        in str(exc.value)


def test_our_own_model_passes_the_wiring_check():
    for prim in (examples.three_by_three(), examples.symmetric(2, 1)):
        report = check_wiring(build_model(prim))
        assert report.numeraire == "numeraire"
        assert len(report.blocks) == len(prim.sectors)


# ---------------------------------------------------------- calibration API
R3 = ["a", "b", "c"]
X3 = np.array([[50.0, 5.0, 8.0], [4.0, 40.0, 6.0], [3.0, 7.0, 60.0]])
T3 = np.array([[0.0, 0.1, 0.05], [0.08, 0.0, 0.1], [0.02, 0.03, 0.0]])
PRICES = {"input_price": [1.1, 0.9, 1.0], "price_index": [1.2, 0.8, 1.0]}


@pytest.mark.parametrize("make", [
    lambda: calibrate_armington(R3, 4.0, X3, T3, tau=1.2, phi_min=[1.0, 0.8, 1.3], **PRICES),
    lambda: calibrate_krugman(R3, 3.0, X3, T3, delta=0.3, **PRICES),
    lambda: calibrate_melitz(R3, 3.5, 4.5, X3, T3, delta=0.2, producer_share=0.4,
                             tau=[[1, 1.2, 1.3], [1.2, 1, 1.4], [1.3, 1.2, 1]], **PRICES),
    lambda: calibrate_melitz(R3, 3.5, 4.5, X3, T3, delta=0.2, producer_share=0.4,
                             fixed_cost=[[1, 3, 3], [3, 1, 3], [3, 3, 1]], **PRICES),
], ids=["armington", "krugman", "melitz-tau-given", "melitz-f-given"])
def test_calibration_replicates_benchmark_at_any_prices(make):
    cal = make()
    assert benchmark_residual(cal) < 1e-12
    if cal.market_structure == "melitz":
        share = (cal.array("phi_min")[None, :] / cal.array("cutoff")) ** cal.k
        np.testing.assert_allclose(share.diagonal(), 0.4, rtol=1e-12)
        assert (share <= 1).all()
    if "f" in cal.parameters and cal.market_structure == "melitz" and \
            cal.parameters["f"][("a", "b")] == 3:
        np.testing.assert_allclose(cal.array("tau").diagonal(), 1.0, rtol=1e-12)


def test_calibration_names_routes_without_selection():
    X = np.array([[10.0, 50.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match=r"destination=A, origin=B"):
        calibrate_melitz(["A", "B"], 3.0, 4.0, X, 0.0, producer_share=0.9)


def test_calibration_rejects_inconsistent_expenditure():
    with pytest.raises(ValueError, match=r"expenditure\[b\]"):
        calibrate_armington(R3, 4.0, X3, T3, expenditure=[64.0, 55.0, 70.0])


def test_solve_block_completes_the_block_from_its_inlet():
    m, _, _, _ = solve_cut({"mfg": "melitz"})
    blk = m.trade_block["mfg"]
    cal = m.calibrations["mfg"]
    t = pyo.ConcreteModel()
    t.b = HeterogeneousFirmSector(config=cal.config())
    initialize_block(t.b, cal.values)  # the benchmark, not the shocked point
    for n, i in t.b.routes:
        t.b.tariff[n, i] = pyo.value(blk.tariff[n, i])
    for r in t.b.regions:
        t.b.log_expenditure[r].set_value(blk.log_expenditure[r].value)
        t.b.log_input_price[r].set_value(blk.log_input_price[r].value)
    stats = solve_block(t.b)
    assert stats.success
    assert not any(v.fixed for v in t.b.log_expenditure.values())
    want, got = block_levels(blk), block_levels(t.b)
    for name, values in want.items():
        for idx, level in values.items():
            assert got[name][idx] == pytest.approx(level, rel=1e-8, abs=1e-12), (name, idx)


# ------------------------------------------------------------- connect API
def _tiny(form="auto", log_host=False):
    regions = ["home", "foreign"]
    X = np.array([[80.0, 20.0], [20.0, 60.0]])
    t = np.array([[0.0, 0.1], [0.05, 0.0]])
    cal = calibrate_armington(regions, 3.0, X, t)
    m = pyo.ConcreteModel()
    m.R = pyo.Set(initialize=regions)
    m.b = HeterogeneousFirmSector(config=cal.config())
    initialize_block(m.b, cal.values)
    E = dict(zip(regions, (X * (1 + t)).sum(axis=1)))
    if log_host:
        m.log_E = pyo.Var(m.R, initialize={r: np.log(v) for r, v in E.items()})
        m.E = pyo.Expression(m.R, rule=lambda m, r: pyo.exp(m.log_E[r]))
    else:
        m.E = pyo.Var(m.R, initialize=E)
    link = connect(m, m.b, form=form, expenditure=m.E)
    return m, link


def test_connect_forms():
    m, link = _tiny()  # default: a ratio, residual is a relative error
    con = link.expenditure["home"]
    assert str(con.body) == "E[home]*exp(- b.log_expenditure[home])"
    assert pyo.value(con.upper) == 1.0
    assert abs(pyo.value(con.body) - 1.0) < 1e-14
    m, link = _tiny(form="level")
    assert str(link.expenditure["home"].body) == "E[home] - exp(b.log_expenditure[home])"
    m, link = _tiny(log_host=True)  # host solved in logs too: a linear link
    assert pyo.value(link.expenditure["home"].body) == pytest.approx(0.0, abs=1e-14)
    assert link.expenditure["home"].body.polynomial_degree() == 1


def test_connect_rejects_unknown_members():
    m, _ = _tiny()
    with pytest.raises(KeyError, match="unknown port member"):
        connect(m, m.b, name="again", spending=m.E)


def test_port_member_table_matches_the_block():
    m, _ = _tiny()
    assert set(m.b.inlet.vars) == {k for k, v in PORT_MEMBERS.items() if v.port == "inlet"}
    assert set(m.b.outlet.vars) == {k for k, v in PORT_MEMBERS.items() if v.port == "outlet"}
    for name, member in PORT_MEMBERS.items():
        if member.log_variable:
            assert hasattr(m.b, member.log_variable)


# ------------------------------------------------------------- the docs
def test_docs_example_runs():
    text = (ROOT / "docs" / "embedding.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = [b for b in blocks if "# --- complete example ---" in b]
    assert len(example) == 1
    namespace: dict = {}
    exec(compile(example[0], "docs/embedding.md", "exec"), namespace)
    assert namespace["benchmark"].iterations <= 1
    assert namespace["cut"].success
    assert namespace["welfare_change"]["home"] > 0


def test_value_scale_comes_with_the_config():
    """The block's level equations are scaled by value_scale; a calibration's config carries
    the data's typical value (mean expenditure), so a host need not set it by hand."""
    regions = ["home", "foreign"]
    X = np.array([[8000.0, 2000.0], [2000.0, 6000.0]])
    cal = calibrate_armington(regions, 3.0, X, np.zeros((2, 2)))
    cfg = cal.config()
    assert cfg["value_scale"] == pytest.approx(np.mean(list(cal.values["expenditure"].values())))
    m = pyo.ConcreteModel()
    m.b = HeterogeneousFirmSector(config=cfg)
    assert pyo.value(m.b.value_scale) == pytest.approx(cfg["value_scale"])
    m.c = HeterogeneousFirmSector(config=cal.config(value_scale=2.5))
    assert pyo.value(m.c.value_scale) == 2.5
    with pytest.raises(ValueError, match="must be positive"):
        m.d = HeterogeneousFirmSector(config=cal.config(value_scale=-1.0))
