"""What the work on a solve call's overhead (issue 14) must not change: the result tables'
values, and re-checking and recompiling whenever the model's structure changes.

The time itself is measured in ``bench/bench_overhead.py``, never here.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cge import Equilibrium, Primitives, examples
from cge.equilibrium import _restore, _snapshot
from cge.errors import StructureError
from cge.formula import Formula
from cge.results import _layout, extract
from cge.solve import structure_signature


@pytest.fixture(scope="module")
def shocked():
    """The bundled 3 x 3 economy (three market structures, deficits, IO links) with a
    fixed-entry sector (its profits an unknown), after a tariff cut."""
    data = examples.three_by_three().to_mapping()
    data["entry"] = {"manufacturing": "fixed"}
    data["entrants"] = {"*": {"*": 1.0, "manufacturing": 5.0}}
    prim = Primitives.from_mapping(data)
    eq = Equilibrium(prim)
    eq.solve()
    res = eq.solve(tariff=prim["tariff"] * 0.8)
    return eq, res


def test_formulas_give_pyomos_floats(shocked):
    """Every Expression of the model compiled to a formula evaluates to exactly the float
    Pyomo's own evaluation gives (no fallback)."""
    eq, _ = shocked
    count = 0
    for e in eq.model.component_data_objects(pyo.Expression, descend_into=True):
        formula = Formula(e)
        assert formula._fn is not None, e.name
        assert formula() == pyo.value(e), e.name
        count += 1
    assert count > 100


def test_formula_of_an_unset_variable_asks_pyomo():
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.e = pyo.Expression(expr=pyo.exp(m.x) + 1)
    formula = Formula(m.e)
    with pytest.raises(ValueError):  # Pyomo's error for a variable without a value
        formula()
    m.x.set_value(0.5)
    assert formula() == pyo.value(m.e)


def test_region_table_is_the_models_expressions(shocked):
    """The regions table read through the layout (formulas, one read of every value) is
    the model's own Expressions: CPI, real income, deficits in current prices, income."""
    eq, res = shocked
    m = eq.model
    assert res.regions["deficit"].abs().max() > 0
    for r in m.regions:
        row = res.regions.loc[r]
        for col, expr in (("cpi", m.consumer_price_index[r]), ("real_income", m.real_income[r]),
                          ("deficit", m.deficit_value[r]), ("income", m.income[r])):
            assert row[col] == pytest.approx(pyo.value(expr), rel=1e-12), (r, col)
    for (r, s), row in res.sectors.iterrows():
        assert row["profit"] == pytest.approx(pyo.value(m.sector[s].profit[r]), rel=1e-12,
                                              abs=1e-12 * res.sectors["output"].max())


def test_tables_follow_the_model_not_a_cached_layout(shocked):
    """The layout is kept per model: a clone gets its own (its values, not the original's),
    and a component replaced on the model is read from the new one."""
    eq, res = shocked
    m = eq.model
    again = extract(m, {"max_residual": 0.0})
    for name in ("regions", "sectors", "routes", "factors"):
        assert getattr(again, name).equals(getattr(res, name)), name
    clone = m.clone()
    r = next(iter(clone.regions))
    clone.log_income[r].set_value(clone.log_income[r].value + 0.1)
    cloned = extract(clone, {"max_residual": 0.0})
    assert _layout(clone) is not _layout(m)
    assert cloned.regions.loc[r, "income"] == pytest.approx(res.regions.loc[r, "income"]
                                                            * np.exp(0.1), rel=1e-12)
    original = extract(m, {"max_residual": 0.0})
    assert original.regions.loc[r, "income"] == res.regions.loc[r, "income"]
    # a component replaced by a new one (same name) is read from the new one
    population = {k: 2.0 * pyo.value(clone.population[k]) for k in clone.regions}
    clone.del_component(clone.population)
    clone.population = pyo.Param(clone.regions, initialize=population, mutable=True)
    assert extract(clone, {"max_residual": 0.0}).regions["population"].to_numpy() == \
        pytest.approx(2.0 * res.regions["population"].to_numpy(), rel=1e-15)
    # renaming one table's index renames no other table's
    first = extract(m, {"max_residual": 0.0})
    first.routes.index.names = ["a", "b", "c"]
    assert list(extract(m, {"max_residual": 0.0}).routes.index.names) == [
        "destination", "origin", "sector"]


def test_structure_fingerprint():
    """The fingerprint changes with the structure (a constraint deactivated, a variable
    fixed, an equation's expression replaced), never with values."""
    m = Equilibrium(examples.three_by_three()).model
    base = structure_signature(m)
    m.log_income["North"].set_value(3.0)
    m.sector["manufacturing"].tariff["South", "North"] = 0.3
    assert structure_signature(m) == base
    con = m.unit_cost["North", "services"]
    con.deactivate()
    assert structure_signature(m) != base
    con.activate()
    assert structure_signature(m) == base
    m.log_income["North"].fix()
    assert structure_signature(m) != base
    m.log_income["North"].unfix()
    con.set_value(con.expr.args[0] == con.expr.args[1])
    assert structure_signature(m) != base


def test_structure_changed_behind_the_solver_is_checked_and_compiled_again():
    """A constraint deactivated directly on the model: the next solve sees the new
    structure (compiles it and finds it not square); back to the old one, it solves with
    the system compiled before."""
    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    compiled = eq.compilations
    con = eq.model.unit_cost["North", "services"]
    con.deactivate()
    with pytest.raises(StructureError):
        eq.resolve()
    assert len(eq._compiled) == 2  # the new structure compiled next to the old one
    con.activate()
    stats = eq.resolve()
    assert stats.success and stats.iterations == 0
    assert eq.compilations == compiled and len(eq._compiled) == 2


def test_snapshot_restores_every_variable():
    m = Equilibrium(examples.three_by_three()).model
    snap = _snapshot(m)
    variables = list(m.component_data_objects(pyo.Var, descend_into=True))
    before = [v.value for v in variables]
    for v in variables:
        v.set_value((v.value or 0.0) + 1.0, skip_validation=True)
    m.extra = pyo.Var(initialize=7.0)  # a variable added after the snapshot
    _restore(m, snap)
    assert [v.value for v in variables] == before
    assert m.extra.value == 7.0
    assert any(v is m.extra for v in _snapshot(m)[0])


def test_a_clone_lays_its_tables_out_again(shocked):
    eq, res = shocked
    m = eq.model
    extract(m, {"max_residual": 0.0})
    copy = m.clone()
    assert getattr(copy, "_cge_results_layout", None) is None  # not a copy of m's
    again = extract(copy, {"max_residual": 0.0})
    assert again.regions.equals(res.regions) and again.routes.equals(res.routes)


def test_region_sums_are_pandas_groupby_sums(shocked):
    """The regions table's sums by region (factor income, revenues, profits, exports,
    imports) are pandas' ``groupby(region).sum()`` of the other tables' rows, to rounding
    (1e-14 of each column's scale; trade balances on the scale of income)."""
    _, res = shocked
    reg, sec, routes = res.regions, res.sectors, res.routes
    fac = res.factors
    foreign = routes[routes.index.get_level_values("destination")
                     != routes.index.get_level_values("origin")]["trade_value"]
    want = {
        "factor_income": (fac["factor_price"] * fac["endowment"]).groupby(level="region").sum(),
        "tariff_revenue": sec["tariff_revenue"].groupby(level="region").sum(),
        "production_tax_revenue": sec["production_tax_revenue"].groupby(level="region").sum(),
        "profits": sec["profit"].groupby(level="region").sum(),
        "exports": foreign.groupby(level="origin").sum(),
        "imports": foreign.groupby(level="destination").sum(),
    }
    want["trade_balance"] = want["exports"] - want["imports"]
    income = reg["income"].abs().max()
    for col, expected in want.items():
        expected = expected.reindex(reg.index, fill_value=0.0).to_numpy()
        scale = income if col == "trade_balance" else max(np.abs(expected).max(), 1e-300)
        np.testing.assert_allclose(reg[col].to_numpy(), expected, rtol=0, atol=1e-14 * scale,
                                   err_msg=col)
    assert reg["exports"].gt(0).all() and reg["tariff_revenue"].gt(0).any()


def test_region_sums_skip_nan_and_empty_regions():
    from cge.results import _RegionSums

    sums = _RegionSums(np.array([2, 0, 2, 0]), 4)
    np.testing.assert_array_equal(sums(np.array([1.0, np.nan, 2.0, 5.0])), [5.0, 0.0, 3.0, 0.0])
    assert _RegionSums(np.zeros(0, dtype=int), 2)(np.zeros(0)).tolist() == [0.0, 0.0]


def test_path_from_a_snapshot_is_the_path_from_the_model():
    """continuation.Path given a snapshot's variables and values records the same points
    (free variables only, unset values NaN) as one reading the model, and predicts the
    same secant point."""
    from cge.continuation import Path

    m = Equilibrium(examples.three_by_three()).model
    r = next(iter(m.regions))
    m.log_income[r].fix()
    free = [v for v in m.component_data_objects(pyo.Var, descend_into=True) if not v.fixed]
    free[3].set_value(None)
    a, b = Path(m), Path(m, _snapshot(m)[0])
    a.record(0.0)
    b.record(0.0, _snapshot(m)[1])
    assert [id(v) for v in a.variables] == [id(v) for v in b.variables] == [id(v) for v in free]
    np.testing.assert_array_equal(a.points[0][1], b.points[0][1])
    assert np.isnan(b.points[0][1][3]) and len(b.points[0][1]) == len(free)
    free[3].set_value(0.5)
    for v in free:
        v.set_value((v.value or 0.0) + 0.25, skip_validation=True)
    a.record(0.5)
    b.record(0.5, _snapshot(m)[1])
    np.testing.assert_array_equal(a.points[1][1], b.points[1][1])
    assert a.start.keys() == b.start.keys()
    np.testing.assert_array_equal(list(a.start.values()), list(b.start.values()))
    assert a.fall(free[0]) == b.fall(free[0]) == -0.25
    b.predict(1.0)
    assert free[0].value == pytest.approx(a.points[1][1][0] + 0.25)
    assert m.log_income[r].value == a.start.get(id(m.log_income[r]), m.log_income[r].value)


def test_walras_residual_is_pyomos_and_follows_the_constraint(shocked):
    """Walras' residual (compiled once) is the float Pyomo's evaluation of the market left
    out gives, also after a value changes, the constraint's expression is replaced or the
    model is cloned."""
    from cge.solve import walras_residual

    eq, _ = shocked
    m = eq.model.clone()
    con = next(iter(m.walras_market.values()))

    def pyomo():
        return float(pyo.value(con.body) - pyo.value(con.upper))

    assert walras_residual(m) == pyomo()
    r = next(iter(m.regions))
    m.log_income[r].set_value(m.log_income[r].value + 0.01)
    assert walras_residual(m) == pyomo() != 0.0
    con.set_value(con.body - 0.5 == con.upper)
    assert walras_residual(m) == pyomo()
    copy = m.clone()
    assert getattr(copy, "_cge_walras", None) is None  # compiled for its own constraint
    assert walras_residual(copy) == walras_residual(m)


def test_same_values_is_array_equal_with_nan():
    from cge.primitives import same_values

    a = np.array([[1.0, np.nan], [0.0, 2.0]])
    assert same_values(a, a.copy())
    assert same_values(a, np.array([[1.0, np.nan], [-0.0, 2.0]]))  # -0 == 0, as array_equal
    assert not same_values(a, np.array([[1.0, np.nan], [0.0, 2.5]]))
    assert not same_values(a, a.reshape(-1))
    assert same_values(np.array([1, 2]), np.array([1.0, 2.0]))


def test_region_sums_do_not_depend_on_memory_alignment():
    """The same rows give the same floats wherever they sit in memory (numpy's pairwise
    sums do not: they depend on the alignment)."""
    from cge.results import _RegionSums

    rng = np.random.default_rng(3)
    rows = rng.normal(size=500) * 10.0 ** rng.integers(-8, 8, size=500)
    groups = rng.integers(0, 4, size=500)
    sums = _RegionSums(groups, 5)
    want = sums(rows)
    for offset in range(1, 8):
        buf = np.empty(500 + offset)
        buf[offset:] = rows
        np.testing.assert_array_equal(sums(buf[offset:]), want)
    import math
    assert want[0] == math.fsum(rows[groups == 0]) and want[4] == 0.0


@pytest.mark.parametrize("entry", ["free", "fixed"])
def test_all_melitz_tables_are_the_sector_by_sector_tables(entry):
    """Where every sector is Melitz (closed-form routes) the tables are computed for all
    sectors at once (cge.results._AllMelitz): the same floats as sector by sector, and the
    route logs check_selection reads are the same."""
    from cge.results import _Layout, route_logs

    data = examples.random_economy(4, 3, seed=5, io=True, market_structure="melitz").to_mapping()
    if entry == "fixed":
        data["entry"] = {"*": "fixed"}
        data["entrants"] = {"*": {"*": 50.0}}
    prim = Primitives.from_mapping(data)
    eq = Equilibrium(prim)
    eq.solve()
    res = eq.solve(tariff=prim["tariff"] * 0.7)
    lay = _layout(eq.model)
    assert lay.all_melitz is not None
    lay.reader.read()
    for s in eq.model.sectors:
        blk = eq.model.sector[s]
        for got, want in zip(lay.route_logs(s, blk), route_logs(blk, _Layout.direct(blk))):
            np.testing.assert_array_equal(got, want)
    kept, lay.all_melitz = lay.all_melitz, None
    try:
        slow = extract(eq.model, {"max_residual": 0.0})
    finally:
        lay.all_melitz = kept
    fast = extract(eq.model, {"max_residual": 0.0})
    for name in ("regions", "factors", "sectors", "routes"):
        assert getattr(fast, name).equals(getattr(slow, name)), name
        assert getattr(res, name).equals(getattr(slow, name)), name
    assert (res.sectors["profit"].abs() > 0).any() == (entry == "fixed")


def test_mixed_structures_are_tabled_sector_by_sector(shocked):
    eq, _ = shocked
    assert _layout(eq.model).all_melitz is None


def test_an_expression_replaced_twice_never_passes_for_the_first():
    """Signatures name expressions by their ids; an expression replaced and freed must
    not let a later one at the same address pass for it while the signature is kept
    (its objects are held)."""
    from cge.compiled import signature

    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=1.0)
    m.y = pyo.Var(initialize=1.0)
    m.c = pyo.Constraint(expr=m.x == m.y)
    for i in range(300):
        held: list = []
        before = signature(m, held)
        m.c.set_value(m.x == m.y + i)  # the expression signed is freed unless held ...
        m.c.set_value(m.y == m.x)  # ... and this one (the same size) may take its address
        assert signature(m) != before
