"""The numpy tape of the equation system (cge.tape): the same residuals and Jacobian as the
compiled NLP, and a compiled NLP where the tape cannot evaluate an expression."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cge import Equilibrium, examples
from cge.compiled import FoldedSystem
from cge.primitives import Primitives
from cge.tape import TapeSystem, Unsupported
from cge.tolerance import assert_close


def _linear_economy() -> Primitives:
    """Two regions, a linear (Melitz-Ottaviano) sector and its outside good."""
    eye = np.eye(2, dtype=bool)
    return Primitives.from_mapping({
        "regions": ["r0", "r1"], "sectors": ["q0", "d"], "factors": ["labour"],
        "market_structure": {"q0": "outside", "d": "linear"},
        "sigma": 2.0, "k": 2.0, "beta": [[1.0, 0.0]] * 2, "endowment": [[100.0], [60.0]],
        "factor_share": 1.0, "population": [100.0, 60.0], "f_e": 0.01, "phi_min": 1.0,
        "tau": np.stack([np.ones((2, 2)), np.where(eye, 1.0, 1.5)], axis=2).tolist(),
        "tariff": np.stack([np.zeros((2, 2)), np.where(eye, 0.0, 0.1)], axis=2).tolist()})


def _cara_economy() -> Primitives:
    """The three-sector toy benchmark with cara, melitz and krugman sectors, calibrated."""
    from calibration.calibrate import calibrate
    from calibration.examples import toy_benchmark

    data = toy_benchmark()
    data.market_structure = dict(zip(data.sectors, ("cara", "melitz", "krugman")))
    return calibrate(data, population=[3.0, 2.0, 2.5])[0]


ECONOMIES = {
    "melitz-krugman-armington": lambda: Equilibrium(examples.three_by_three()),
    "route unknowns": lambda: Equilibrium(examples.three_by_three(), route_unknowns=True),
    "cara": lambda: Equilibrium(_cara_economy()),
    "linear and outside": lambda: Equilibrium(_linear_economy()),
}


def _aligned(tape: TapeSystem, folded: FoldedSystem):
    """Row and column permutations from the tape's order to the compiled NLP's."""
    row = {id(c): j for j, c in enumerate(tape.constraints)}
    rows = np.array([row[id(c)] for c in folded.nlp.get_pyomo_constraints()])
    col = {id(v): j for j, v in enumerate(tape.variables)}
    cols = np.array([col[id(v)] for v in folded.variables])
    return rows, cols


@pytest.mark.parametrize("name", list(ECONOMIES))
def test_residuals_and_jacobian_are_the_compiled_nlp_s(name):
    m = ECONOMIES[name]().model
    tape, folded = TapeSystem(m), FoldedSystem(m)
    tape.update()
    folded.update()
    rows, cols = _aligned(tape, folded)
    assert len(rows) == folded.nlp.n_constraints() and len(cols) == len(folded.variables)
    # away from any solution, where every term counts
    x = tape.start() + np.random.default_rng(0).normal(0.0, 0.05, len(tape.variables))
    tape.nlp.set_primals(x)
    folded.nlp.set_primals(x[cols])
    got, want = tape.nlp.evaluate_constraints()[rows], folded.nlp.evaluate_constraints()
    # the NL writer may write an equation the other way round (right minus left side)
    sign = np.where(np.abs(got - want) <= np.abs(got + want), 1.0, -1.0)
    scale = max(1.0, float(np.abs(want).max()))
    assert_close(sign * got, want, scale=scale, rel=1e-12, err_msg=f"{name}: residuals")
    jt = tape.jacobian().tocsr()[rows][:, cols].toarray() * sign[:, None]
    jf = folded.jacobian().toarray()
    assert_close(jt, jf, scale=float(np.abs(jf).max()), rel=1e-12, err_msg=f"{name}: Jacobian")
    # the structure: every entry the compiled NLP holds (a zero tariff's too); more only
    # where the NL writer folded a term away for its parameters' current values (a zero
    # production tax, the deficit's world-income term while theta = 1), at value zero
    coo = folded.nlp.evaluate_jacobian()
    structure = np.zeros(jf.shape, dtype=bool)
    structure[coo.row, coo.col] = True
    pattern = tape.pattern().tocsr()[rows][:, cols].toarray() != 0
    assert not (structure & ~pattern).any(), f"{name}: entries missing from the pattern"
    assert (jt[pattern & ~structure] == 0).all()


def test_new_parameter_values_are_read_at_update_without_compiling():
    eq = Equilibrium(examples.three_by_three())
    eq.solve()
    tape = TapeSystem(eq.model)
    tape.update()
    assert np.abs(tape.residuals()).max() < 1e-9
    blk = eq.model.sector["manufacturing"]
    key = next(k for k in blk.tariff if k[0] != k[1])
    blk.tariff[key] = pyo.value(blk.tariff[key]) + 0.1
    assert tape.valid()
    tape.update()
    folded = FoldedSystem(eq.model)
    folded.update()
    assert np.abs(tape.residuals()).max() == pytest.approx(
        np.abs(folded.residuals()).max(), rel=1e-12)
    assert np.abs(tape.residuals()).max() > 1e-3


def test_an_expression_the_tape_cannot_evaluate_compiles_an_nlp():
    from cge.solve import _compile

    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=1.0)
    m.c = pyo.Constraint(expr=abs(m.x) == 2.0)
    with pytest.raises(Unsupported):
        TapeSystem(m)
    assert isinstance(_compile(m, 10 ** 9), FoldedSystem)


def test_leaf_values_read_in_bulk_are_those_of_value():
    """cge.compiled._leaf_values reads the stored values in bulk: the same numbers as
    ``.value`` (NaN for a variable without one); a parameter without a value still raises
    the error ``.value`` raises, naming it."""
    from cge.compiled import _leaf_values

    m = pyo.ConcreteModel()
    m.p = pyo.Param([1, 2, 3], mutable=True, initialize={1: 0.1, 2: 3, 3: np.float64(2.5)})
    m.v = pyo.Var([1, 2], initialize={1: -4.0})
    m.v.fix()
    leaves = [m.p[1], m.v[1], m.p[2], m.v[2], m.p[3]]
    got = _leaf_values(leaves)
    want = np.array([np.nan if x.value is None else x.value for x in leaves], dtype=float)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[3]) and got.dtype == float
    m.q = pyo.Param([1], mutable=True)  # no value
    with pytest.raises(ValueError, match=r"q\[1\]"):
        _leaf_values([m.p[1], m.q[1]])
