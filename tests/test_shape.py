"""What is kept between solves to make a small shock cheap (issue 14) follows every change
of the model: the components found once (:mod:`cge.shape`), the variables' bounds
(:class:`cge.compiled.CompiledSystem`), the dense Jacobian's layout (:mod:`cge.newton`),
the tables' index copies and the selection check of all Melitz sectors at once
(:mod:`cge.results`, :func:`cge.solve.check_selection`). Each test fails if what is kept
is stale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from cge import Equilibrium, SelectionError, StructureError, examples, newton
from cge.equilibrium import _variables
from cge.results import _index_copy, extract
from cge.shape import shape
from cge.solve import check_selection, structure_signature


def _walked_signature(m):
    """The fingerprint by Pyomo's own iterators (what structure_signature computed before
    the components were kept)."""
    cons = [(id(c), id(c._expr)) for comp in m.component_objects(
        pyo.Constraint, active=True, descend_into=True)
        for c in comp._data.values() if c._active]
    fixed = [id(v) for comp in m.component_objects(pyo.Var, descend_into=True)
             for v in comp._data.values() if v._fixed]
    return hash(tuple(cons)), hash(tuple(fixed)), len(cons)


def _walked_variables(m):
    return [v for c in m.component_objects(pyo.Var, descend_into=True) for v in c._data.values()]


def _same_objects(a, b):
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


@pytest.fixture
def model():
    m = Equilibrium(examples.three_by_three()).model
    structure_signature(m)  # the shape is kept from here on
    _variables(m)
    return m


def _agrees(m):
    assert structure_signature(m) == _walked_signature(m)
    assert _same_objects(_variables(m), _walked_variables(m))


def test_kept_components_follow_components_added_and_deleted(model):
    m = model
    base = structure_signature(m)
    blk = m.sector["manufacturing"]
    blk.extra = pyo.Var(initialize=1.0)  # a variable in a sector block
    _agrees(m)
    assert any(v is blk.extra for v in _variables(m))
    blk.extra_equation = pyo.Constraint(expr=blk.extra == 1.0)
    _agrees(m)
    assert structure_signature(m) != base
    blk.sub = pyo.Block()  # a new block, then a constraint in it after the walk
    _agrees(m)
    blk.sub.y = pyo.Var([1, 2], initialize=0.0)
    blk.sub.c = pyo.Constraint(expr=blk.sub.y[1] == blk.sub.y[2])
    _agrees(m)
    blk.del_component(blk.extra_equation)
    _agrees(m)
    blk.del_component(blk.sub)
    blk.del_component(blk.extra)
    _agrees(m)
    assert structure_signature(m) == base
    assert _same_objects(_variables(m), _walked_variables(m))


def test_kept_components_follow_flags_data_and_expressions(model):
    m = model
    base = structure_signature(m)
    blk = m.sector["manufacturing"]
    blk.deactivate()  # a whole sector block: its equations leave the system
    _agrees(m)
    assert structure_signature(m)[2] < base[2]
    blk.activate()
    _agrees(m)
    assert structure_signature(m) == base
    # one equation's data replaced by another object under the same index
    con = m.unit_cost
    key = next(iter(con.keys()))
    expr = con[key].expr
    del con[key]
    _agrees(m)
    con[key] = expr.args[0] == expr.args[1]
    _agrees(m)
    assert structure_signature(m) != base
    # a variable fixed, an indexed Var grown
    v = m.log_income[next(iter(m.regions))]
    v.fix()
    _agrees(m)
    v.unfix()
    m.grown = pyo.Var(pyo.Any, dense=False)
    m.grown[1] = 0.0
    _agrees(m)
    m.grown[2] = 0.0
    _agrees(m)
    assert len(_variables(m)) == len(_walked_variables(m))
    # an indexed block grown after the walk: the new block's equations count
    m.extra = pyo.Block(pyo.Any)
    m.extra[1].x = pyo.Var(initialize=0.0)
    _agrees(m)
    m.extra[2].x = pyo.Var(initialize=0.0)
    m.extra[2].c = pyo.Constraint(expr=m.extra[2].x == 0.0)
    _agrees(m)
    m.extra[2].d = pyo.Constraint(expr=m.extra[2].x == 1.0)  # (its block walked already)
    _agrees(m)


def test_a_shape_is_the_models_own(model):
    """A clone walks its own components (the kept shape is not copied with the model)."""
    m = model
    clone = m.clone()
    assert shape(clone) is not shape(m)
    assert shape(clone).model() is clone
    _agrees(clone)
    _agrees(m)


def test_a_variable_fixed_behind_the_solver_is_checked():
    """Fixing a variable directly on the model changes the structure the next solve checks
    (not square: an error naming it); unfixed, the system compiled before solves again."""
    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    compiled = eq.compilations
    v = eq.model.log_income["North"]
    v.fix()
    with pytest.raises(StructureError):
        eq.resolve()
    v.unfix()
    stats = eq.resolve()
    assert stats.success and stats.iterations == 0
    assert len(eq._compiled) == 2 and eq.compilations == compiled  # (the first one again)


def _system(eq):
    (entry,) = [e for e in eq._compiled.values() if "system" in e]
    return entry["system"]


def test_bounds_follow_every_change_of_a_variable():
    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    eq.solve(tariff=0.9 * eq.primitives["tariff"])
    system = _system(eq)
    system.update()
    v = system.variables[0]
    j = 0
    lb, ub = system.bounds()
    assert lb[j] == -np.inf and ub[j] == np.inf
    v.setlb(v.value - 1.0)
    system.update()
    assert system.bounds()[0][j] == v.value - 1.0
    v.setlb(v.value - 2.0)  # another number
    system.update()
    assert system.bounds()[0][j] == v.value - 2.0
    v.setub(v.value + 3.0)
    system.update()
    assert system.bounds()[1][j] == v.value + 3.0
    # a bound that is a parameter: read at every update (its value may change)
    eq.model.bound = pyo.Param(initialize=v.value - 4.0, mutable=True)
    v.setlb(eq.model.bound)
    system.update()
    assert system.bounds()[0][j] == v.value - 4.0
    eq.model.bound = v.value - 5.0
    system.update()
    assert system.bounds()[0][j] == v.value - 5.0
    v.domain = pyo.NonNegativeReals  # a domain: its bounds count too
    v.setlb(None)
    system.update()
    assert system.bounds()[0][j] == 0.0
    v.domain = pyo.Reals
    v.setub(None)
    system.update()
    assert system.bounds()[0][j] == -np.inf and system.bounds()[1][j] == np.inf


def test_dense_jacobian_follows_the_point():
    """The dense Jacobian (its layout and COO matrix kept per system) is the system's
    Jacobian at every point, not the first one evaluated."""
    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    eq.solve(tariff=0.9 * eq.primitives["tariff"])
    system = _system(eq)
    for shift in (0.0, 0.05, -0.1):
        for v in system.variables[:5]:
            v.set_value(v.value + shift)
        system.update()
        np.testing.assert_array_equal(newton.dense_jacobian(system),
                                      system.jacobian().toarray())


def test_table_indexes_are_renamed_alone():
    """Every table's row and column Index is its own object: renaming one (in place, the
    only change pandas allows) renames no other table's, and the copies equal the
    originals."""
    eq = Equilibrium(examples.three_by_three())
    base = eq.solve()
    first = extract(eq.model, {"max_residual": 0.0})
    for name, table in first.tables().items():
        table.index.names = [f"{name}_{j}" for j in range(table.index.nlevels)]
        table.columns.name = f"{name}_columns"
    again = extract(eq.model, {"max_residual": 0.0})
    for name, table in again.tables().items():
        assert table.columns.name is None, name
        assert list(table.index.names) == list(base.tables()[name].index.names), name
        assert table.index.names != first.tables()[name].index.names
        assert table.equals(base.tables()[name])
    for index in (pd.MultiIndex.from_arrays([["a", "b"], ["x", "y"]], names=["p", "q"]),
                  pd.Index(["a", "b"], name="p"), pd.RangeIndex(3, name="r")):
        copy = _index_copy(index)
        assert copy is not index and copy.equals(index) and type(copy) is type(index)
        copy.names = ["z"] * index.nlevels
        assert list(index.names) != list(copy.names)


def test_tables_from_blocks_are_the_constructors(monkeypatch):
    """The tables assembled from their blocks are those the DataFrame constructor builds
    (values, dtypes, column order, the market structure's strings)."""
    from cge import results

    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    fast = extract(eq.model, {"max_residual": 0.0})
    monkeypatch.setattr(results, "_from_blocks", None)
    slow = extract(eq.model, {"max_residual": 0.0})
    for name in ("regions", "factors", "sectors", "routes"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.equals(b) and list(a.columns) == list(b.columns), name
        assert (a.dtypes == b.dtypes).all(), name
    assert fast.sectors.columns[0] == "market_structure"


def test_selection_of_all_melitz_sectors_at_once_is_sector_by_sector(monkeypatch):
    """Cutoffs below the Pareto bound in several Melitz sectors: the check of every sector
    at once names the routes (and values) the sector-by-sector check names."""
    from cge import solve

    prim = examples.symmetric(2, 2, sigma=3.0, k=4.0, tau=1.05, f=1.0, f_x=0.2)
    eq = Equilibrium(prim)
    with pytest.raises(SelectionError) as fast:
        eq.solve()
    assert solve._all_melitz_below(eq.model, 1e-9) is not None
    with pytest.raises(SelectionError) as again:
        check_selection(eq.model)
    monkeypatch.setattr(solve, "_all_melitz_below", lambda m, tol: None)
    with pytest.raises(SelectionError) as slow:
        check_selection(eq.model)
    assert str(again.value) == str(slow.value) and again.value.routes == slow.value.routes
    assert sorted(fast.value.routes) == sorted(slow.value.routes)
    assert {s for _, _, s in slow.value.routes} == {"s0", "s1"}


def test_formulas_together_are_each_formula(monkeypatch):
    """Expressions evaluated by one compiled call give each one's Formula float; where one
    fails, each is evaluated by its own Formula (Pyomo's error for the one that fails)."""
    from cge.formula import Formula, Formulas

    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    exprs = list(eq.model.component_data_objects(pyo.Expression, descend_into=True))
    assert len(exprs) > 20
    together = Formulas(exprs)
    assert together._chunks
    want = [Formula(e)() for e in exprs]
    assert together() == want
    assert together._formulas is None  # (no Formula of its own compiled)
    monkeypatch.setattr(Formulas, "CHUNK", 7)
    assert Formulas(exprs)() == want and len(Formulas(exprs)._chunks) > 1
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=2.0)
    m.y = pyo.Var()  # no value
    assert Formulas([m.x * 2, m.x ** 2])() == [4.0, 4.0]
    with pytest.raises(ValueError, match="y"):
        Formulas([m.x * 2, m.y + 1])()
    m.y.set_value(1.0)
    assert Formulas([m.x * 2, m.y + 1])() == [4.0, 2.0]


def test_a_fingerprint_never_names_a_freed_expression():
    """The fingerprint of the last call holds what its ids name: an expression replaced
    and freed cannot be followed by a new one at its address that passes for it."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=1.0)
    m.y = pyo.Var(initialize=1.0)
    m.c = pyo.Constraint(expr=m.x == m.y)
    for i in range(300):
        before = structure_signature(m)
        m.c.set_value(m.x == m.y + i)  # the expression fingerprinted is freed unless held ...
        m.c.set_value(m.y == m.x)  # ... and this one (the same size) may take its address
        assert structure_signature(m) != before
        assert structure_signature(m) == _walked_signature(m)


def test_tables_after_the_checks_read_the_models_values():
    """After a shock the tables reuse the values the selection check read through the
    layout (nothing changes them in between): the same tables as a fresh extraction. A
    layout that has read nothing reads whatever ``read`` says."""
    prim = examples.random_economy(3, 2, seed=2, io=True, market_structure="melitz")
    eq = Equilibrium(prim)
    eq.solve()
    res = eq.solve(tariff=0.8 * prim["tariff"])
    assert eq._tables_read  # (the shock's tables did not read the values again)
    fresh = extract(eq.model, {"max_residual": res.max_residual})
    for name in ("regions", "factors", "sectors", "routes"):
        assert getattr(res, name).equals(getattr(fresh, name)), name
    clone = eq.model.clone()
    r = next(iter(clone.regions))
    clone.log_income[r].set_value(clone.log_income[r].value + 0.1)
    moved = extract(clone, {"max_residual": 0.0}, read=False)
    assert moved.regions.loc[r, "income"] == pytest.approx(
        res.regions.loc[r, "income"] * np.exp(0.1), rel=1e-12)


def test_agent_shares_kept_follow_the_agent_parameters():
    """The agents' shares kept by the layout (default closure) give the tables computed
    afresh, and follow agent parameters changed, even in place."""
    from cge.results import _layout

    prim = examples.three_by_three()
    omega = np.tile([0.6, 0.25, 0.15], (len(prim.regions), 1))
    prim = prim.copy(agent_share=omega,
                     agent_beta=np.repeat(prim["beta"][:, None, :], 3, axis=1))
    eq = Equilibrium(prim)
    eq.solve()
    res = eq.solve(tariff=0.9 * prim["tariff"])
    assert res.regions["government_spending"].abs().min() > 0
    lay = _layout(eq.model)
    assert lay.agent_shares is not None

    def afresh():
        lay.agent_shares = None
        return extract(eq.model, {"max_residual": 0.0})

    for name in ("regions", "sectors"):
        assert getattr(extract(eq.model, {"max_residual": 0.0}), name).equals(
            getattr(afresh(), name))
    extract(eq.model, {"max_residual": 0.0})
    eq.model._agent_arrays["agent_share"][0] = [0.5, 0.3, 0.2]  # in place
    kept = extract(eq.model, {"max_residual": 0.0})
    assert kept.regions.equals(afresh().regions)
    assert kept.regions["government_spending"].iloc[0] == pytest.approx(
        0.3 * kept.regions["income"].iloc[0], rel=1e-12)
