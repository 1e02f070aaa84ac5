"""The affine-form walker shared by the tape and the compiled system (cge.affine)."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from cge import affine
from cge.affine import Affine, AffineWalker, NotAffine


class _Recorder(AffineWalker):
    """A back end that numbers its terms and records what it is handed."""

    def __init__(self, fold=()):
        super().__init__()
        self.terms: list = []
        self.fold = {id(p) for p in fold}

    def _new(self, what) -> int:
        self.terms.append(what)
        return len(self.terms) - 1

    def leaf(self, obj):
        return None if id(obj) in self.fold else self._new(("leaf", obj.name))

    def leaf_function(self, e, key):
        return self._new(("function", key[0], key[1]))

    def nonlinear(self, e, kind, k, acc):
        if e.is_potentially_variable():
            raise NotAffine
        j = self._new(("node", kind))
        acc.w[j] = acc.w.get(j, 0.0) + k


@pytest.fixture
def m():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=1.0)
    m.y = pyo.Var(initialize=2.0)
    m.z = pyo.Var(initialize=3.0)
    m.z.fix()
    m.p = pyo.Param(initialize=0.5, mutable=True)
    m.q = pyo.Param(initialize=4.0, mutable=True)
    m.e = pyo.Expression(expr=3 * m.x + m.p * m.q)
    return m


def _named(walker: _Recorder, acc: Affine) -> dict:
    """The form's terms by what they stand for (unknowns by name)."""
    x = {walker.variables[c].name: v for c, v in acc.x.items()}
    w = {walker.terms[j]: v for j, v in acc.w.items()}
    return {"const": acc.const, "x": x, "w": w}


def test_linear_parts_are_collected_and_leaves_handed_over(m):
    walker = _Recorder()
    acc = walker.affine(2 * m.x - (m.y + 3) / 4 + 5 * m.p - m.z + m.x)
    assert _named(walker, acc) == {
        "const": -0.75, "x": {"x": 3.0, "y": -0.25},
        "w": {("leaf", "p"): 5.0, ("leaf", "z"): -1.0}}
    assert [v.name for v in walker.variables] == ["x", "y"]


def test_a_folded_leaf_is_its_value(m):
    walker = _Recorder(fold=[m.q])
    acc = walker.affine(m.x + 2 * m.q)
    assert acc.const == 8.0 and acc.w == {}


def test_functions_of_one_leaf_are_handed_over_once(m):
    walker = _Recorder()
    first = walker.affine(pyo.log(m.p) + pyo.log(1 + m.q))
    again = walker.affine(2 * pyo.log(m.p) - pyo.log(1 + m.q))
    assert walker.terms == [("function", "log", 0.0), ("function", "log", 1)]
    assert first.w == {0: 1.0, 1: 1.0} and again.w == {0: 2.0, 1: -1.0}


def test_a_named_expression_is_walked_once_and_shared(m):
    walker = _Recorder()
    acc = walker.affine(m.e + 2 * m.e)
    assert _named(walker, acc) == {"const": 0.0, "x": {"x": 9.0},
                                   "w": {("node", affine.PRODUCT): 3.0}}
    assert len(walker.terms) == 1
    walker = _Recorder()
    walker.share_named = False  # walked where read: the product handed over twice
    acc = walker.affine(m.e + 2 * m.e)
    assert sorted(acc.w.values()) == [1.0, 2.0] and len(walker.terms) == 2


def test_nonlinear_nodes_go_to_the_back_end(m):
    walker = _Recorder()
    acc = walker.affine(m.x + m.p * m.q)
    assert _named(walker, acc)["w"] == {("node", affine.PRODUCT): 1.0}
    with pytest.raises(NotAffine):
        walker.affine(m.x + m.x * m.y)


def test_kinds(m):
    k = affine.kind
    assert (k(m.x), k(m.p), k(m.e)) == (affine.VAR, affine.PARAM, affine.NAMED)
    assert k(2 * m.x) == affine.MONOMIAL
    assert k(m.x + m.y) == affine.SUM
    assert k(m.x * m.y) == affine.PRODUCT
    assert k(m.x / m.y) == affine.DIVISION
    assert k(m.x ** 2) == affine.POWER
    assert k(-(m.x + m.y)) == affine.NEGATION
    assert k(pyo.exp(m.x)) == k(abs(m.x)) == affine.UNARY
    assert k(pyo.Expr_if(m.x >= 0, m.x, m.y)) == affine.NODE
    assert all(affine.is_node(k(e)) for e in (m.x + m.y, pyo.exp(m.x)))
    assert not any(affine.is_node(k(e)) for e in (m.x, m.p, m.e))


def test_a_freed_expression_does_not_lend_its_form_to_a_new_one(m):
    """Forms remembered by a node's id must not be handed to a new node that Python
    placed at a freed node's address (expressions built, walked and dropped)."""
    walker = _Recorder()
    for _ in range(200):
        log_p = walker.affine(pyo.log(m.p)).w
        log_1q = walker.affine(pyo.log(1 + m.q)).w
        log_q = walker.affine(3 * pyo.log(m.q)).w
        assert (log_p, log_1q, log_q) == ({0: 1.0}, {1: 1.0}, {2: 3.0})
    assert walker.terms == [("function", "log", 0.0), ("function", "log", 1),
                            ("function", "log", 0.0)]
