r"""Pyomo expressions read as affine forms: one walker for :mod:`cge.tape` and :mod:`cge.compiled`.

Both the numpy tape (:class:`cge.tape.TapeSystem`) and the parameter
substitution of the compiled NLP (:class:`cge.compiled.CompiledSystem`) read an
expression of the model as an *affine form*

.. math:: a = c + \sum_j C_j x_j + \sum_k D_k w_k

(:class:`Affine`): a number :math:`c`, the unknowns :math:`x` (the model's free
variables, numbered in the order first met: :attr:`AffineWalker.variables`)
and *terms* :math:`w` whose meaning is the back end's. :class:`AffineWalker`
does what is linear, once for both: it classifies Pyomo's expression classes
(:func:`kind`, cached per class), adds sums, negations, monomials, products
and quotients by numbers, ``a ** 1`` and named Expressions into the form, and
hands everything else to three methods a back end defines:

* :meth:`AffineWalker.leaf`: a mutable parameter or a fixed variable; its term,
  or None to fold its current value into :math:`c`;
* :meth:`AffineWalker.leaf_function`: a function of one leaf, or of a number
  plus a parameter (``log(tau)``, ``log(1 + t)``, ``exp(x)``), written in many
  equations: looked up by (function, number, leaf) and handed over once;
* :meth:`AffineWalker.nonlinear`: any other node (a product or quotient of two
  expressions, a power, a function of a longer expression, an ``Expr_if``).

The back ends: the tape's terms are *nodes* (a leaf's value, or a nonlinear
function's value of affine forms, evaluated with numpy); the substitution's
are parameter-only *atoms* (a parameter, its logarithm, any parameter-only
expression), and a nonlinear node that reads an unknown raises
:class:`NotAffine` (that expression is then copied node by node, not linearised).
"""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.common.numeric_types import native_types
from pyomo.core.expr.numeric_expr import (
    DivisionExpression, MonomialTermExpression, NegationExpression, PowExpression,
    ProductExpression, SumExpression, UnaryFunctionExpression,
)

__all__ = ["Affine", "AffineWalker", "NotAffine", "kind", "is_node",
           "NUMBER", "PARAM", "VAR", "NAMED", "LEAF", "SUM", "MONOMIAL", "NEGATION",
           "PRODUCT", "DIVISION", "POWER", "UNARY", "NODE"]

#: What an expression class is (:func:`kind`). Leaves: a constant (not a native
#: number), a parameter, a variable, a named Expression, another leaf; expression
#: nodes (``kind >= SUM``, :func:`is_node`): the linear ones, then the nonlinear ones
#: (``UNARY``: ``exp``, ``log``, ``abs``, ... of one argument; ``NODE``: any other).
NUMBER, PARAM, VAR, NAMED, LEAF, SUM, MONOMIAL, NEGATION, PRODUCT, DIVISION, POWER, UNARY, \
    NODE = range(13)

# per expression class: its kind (the node classes are few; isinstance once per class)
_KIND: dict[type, int] = {}
_NODE_CLASSES = ((MonomialTermExpression, MONOMIAL), (SumExpression, SUM),
                 (NegationExpression, NEGATION), (ProductExpression, PRODUCT),
                 (DivisionExpression, DIVISION), (PowExpression, POWER),
                 (UnaryFunctionExpression, UNARY))


def _classify(e) -> int:
    if not e.is_expression_type():
        if e.is_parameter_type():
            k = PARAM
        elif e.is_variable_type():
            k = VAR
        else:
            k = NUMBER if e.is_constant() else LEAF
    elif e.is_named_expression_type():
        k = NAMED
    else:
        k = next((k for cls, k in _NODE_CLASSES if isinstance(e, cls)), NODE)
    _KIND[e.__class__] = k
    return k


def kind(e) -> int:
    """The kind of the Pyomo object ``e`` (not a native number): one of :data:`NUMBER` ...
    :data:`NODE`."""
    k = _KIND.get(e.__class__)
    return _classify(e) if k is None else k


def is_node(k: int) -> bool:
    """Whether kind ``k`` is an expression node (not a leaf or a named Expression)."""
    return k >= SUM


class NotAffine(Exception):
    """Raised by a back end's :meth:`AffineWalker.nonlinear` for a node it does not take
    as a term (the walk is abandoned)."""


class Affine:
    """``const + sum(x coefficient) + sum(term coefficient)`` being collected: ``x`` maps
    the number of an unknown, ``w`` a back end's term, to its coefficient."""

    __slots__ = ("const", "x", "w")

    def __init__(self):
        self.const = 0.0
        self.x: dict[int, float] = {}
        self.w: dict[int, float] = {}

    def add(self, other: "Affine", k: float) -> None:
        """Add ``k * other``."""
        self.const += k * other.const
        x, w = self.x, self.w
        for j, c in other.x.items():
            x[j] = x.get(j, 0.0) + k * c
        for j, c in other.w.items():
            w[j] = w.get(j, 0.0) + k * c

    def key(self) -> tuple:
        """The form as a hashable value (equal forms, equal keys)."""
        return (self.const, tuple(sorted(self.x.items())), tuple(sorted(self.w.items())))


class AffineWalker:
    """Walks expressions into :class:`Affine` forms (see the module docstring); a back end
    defines :meth:`leaf`, :meth:`leaf_function` and :meth:`nonlinear`."""

    #: whether a named Expression's form is kept and reused (False: walked where read)
    share_named = True

    def __init__(self):
        #: unknowns: id(VarData) -> number, and the variables in that order
        self._unknown: dict[int, int] = {}
        self.variables: list = []
        #: terms of the leaves (id -> term), of the functions of one leaf
        #: ((function, number, id of the leaf) -> term; and by the function's id, for
        #: one written once and read in several equations), forms of named Expressions
        self._term: dict[int, int] = {}
        self._function_term: dict[tuple, int] = {}
        self._function_seen: dict[int, int] = {}
        self._named_form: dict[int, Affine] = {}
        #: every node remembered above by its id, held so that its id is not reused by
        #: a new node while the walker lives (an expression built, walked and freed)
        self._held: list = []

    # ---------------------------------------------------------------- back end
    def leaf(self, obj):
        """The term of the mutable parameter or fixed variable ``obj``; None to fold its
        value in as a number."""
        raise NotImplementedError

    def leaf_function(self, e, key: tuple):
        """The term of ``e``, a function of one leaf (``key``: its name, the number added
        to the leaf, the leaf's id); None to fold its value in."""
        raise NotImplementedError

    def nonlinear(self, e, kind: int, k: float, acc: Affine) -> None:
        """Add ``k * e`` to ``acc`` for a node ``e`` of ``kind`` that is not linear."""
        raise NotImplementedError

    # ------------------------------------------------------------------ walking
    def affine(self, e) -> Affine:
        """The affine form of ``e``."""
        acc = Affine()
        self.walk(e, 1.0, acc)
        return acc

    def walk(self, e, k: float, acc: Affine) -> None:
        """Add ``k * e`` to ``acc``."""
        cls = e.__class__
        if cls in native_types:
            acc.const += k * e
            return
        kd = _KIND.get(cls)
        if kd is None:
            kd = _classify(e)
        if kd == SUM:
            # the common arguments seen before are added here, without recursion
            walk, kinds, column, terms, xs, ws = (self.walk, _KIND, self._unknown, self._term,
                                                  acc.x, acc.w)
            for a in e.args:
                acls = a.__class__
                if acls in native_types:
                    acc.const += k * a
                    continue
                akind = kinds.get(acls)
                if akind == VAR and not a.fixed:
                    c = column.get(id(a))
                    if c is not None:
                        xs[c] = xs.get(c, 0.0) + k
                        continue
                elif akind == PARAM:
                    j = terms.get(id(a))
                    if j is not None:
                        ws[j] = ws.get(j, 0.0) + k
                        continue
                elif akind == MONOMIAL:
                    coef, var = a.args
                    if coef.__class__ in native_types and not var.fixed:
                        c = column.get(id(var))
                        if c is not None:
                            xs[c] = xs.get(c, 0.0) + k * coef
                            continue
                elif akind == UNARY:  # log(tau) and the like
                    j = self._function_seen.get(id(a))
                    if j is not None:
                        ws[j] = ws.get(j, 0.0) + k
                        continue
                    (arg,) = a.args
                    bkind = kinds.get(arg.__class__)
                    if bkind == PARAM or bkind == VAR:
                        j = self._function_term.get((a.getname(), 0.0, id(arg)))
                        if j is not None:
                            ws[j] = ws.get(j, 0.0) + k
                            continue
                elif akind == NAMED:
                    done = self._named_form.get(id(a))
                    if done is not None:
                        acc.add(done, k)
                        continue
                elif akind == PRODUCT:  # a number times an expression: one call less
                    b, c = a.args
                    if b.__class__ in native_types:
                        walk(c, k * b, acc)
                        continue
                elif akind == NEGATION:
                    walk(a.args[0], -k, acc)
                    continue
                walk(a, k, acc)
        elif kd == UNARY:
            j = self._function_seen.get(id(e))
            if j is not None:
                acc.w[j] = acc.w.get(j, 0.0) + k
                return
            (arg,) = e.args
            akind = _KIND.get(arg.__class__)
            if akind is None and arg.__class__ not in native_types:
                akind = _classify(arg)
            if akind == PARAM or akind == VAR:  # (inline: leaf_function_key's first case)
                key = (e.getname(), 0.0, id(arg))
            elif akind == SUM and arg.nargs() == 2:
                key = self.leaf_function_key(e)
            else:
                key = None
            if key is None:
                self.nonlinear(e, kd, k, acc)
                return
            # a function of one leaf (log(tau), log(1 + t)): written in many equations,
            # handed to the back end once
            j = self._function_term.get(key)
            if j is None:
                j = self.leaf_function(e, key)
                if j is None:
                    acc.const += k * pyo.value(e)
                    return
                self._function_term[key] = j
            self._function_seen[id(e)] = j
            self._held.append(e)
            acc.w[j] = acc.w.get(j, 0.0) + k
        elif kd == PARAM or kd == VAR:
            if kd == VAR and not e.fixed:  # an unknown
                c = self._unknown.get(id(e))
                if c is None:
                    c = self._unknown[id(e)] = len(self.variables)
                    self.variables.append(e)  # (held: the list keeps its id)
                acc.x[c] = acc.x.get(c, 0.0) + k
            else:  # a parameter or fixed variable
                j = self._term.get(id(e))
                if j is None:
                    j = self.leaf(e)
                    if j is None:
                        acc.const += k * e.value
                        return
                    self._term[id(e)] = j
                    self._held.append(e)
                acc.w[j] = acc.w.get(j, 0.0) + k
        elif kd == NAMED:
            if not self.share_named:
                self.walk(e.expr, k, acc)
                return
            done = self._named_form.get(id(e))
            if done is None:
                done = self._named_form[id(e)] = self.affine(e.expr)
                self._held.append(e)
            acc.add(done, k)
        elif kd == PRODUCT:
            a, b = e.args
            if a.__class__ in native_types:
                self.walk(b, k * a, acc)
            elif b.__class__ in native_types:
                self.walk(a, k * b, acc)
            else:
                self.nonlinear(e, kd, k, acc)
        elif kd == MONOMIAL:
            coef, var = e.args
            if coef.__class__ in native_types:
                self.walk(var, k * coef, acc)
            else:
                self.nonlinear(e, kd, k, acc)
        elif kd == NEGATION:
            self.walk(e.args[0], -k, acc)
        elif kd == DIVISION:
            a, b = e.args
            if b.__class__ in native_types:
                self.walk(a, k / b, acc)
            else:
                self.nonlinear(e, kd, k, acc)
        elif kd == POWER:
            a, b = e.args
            if b.__class__ in native_types and b == 1:
                self.walk(a, k, acc)
            else:
                self.nonlinear(e, kd, k, acc)
        elif kd == NUMBER:
            acc.const += k * pyo.value(e)
        else:  # LEAF, NODE
            self.nonlinear(e, kd, k, acc)

    @staticmethod
    def leaf_function_key(e) -> tuple | None:
        """``(name, number, id(leaf))`` for ``e = name(leaf)`` (a parameter or variable) or
        ``name(number + parameter)``; None for a function of anything else."""
        (arg,) = e.args
        cls = arg.__class__
        if cls in native_types:
            return None
        akind = _KIND.get(cls)
        if akind is None:
            akind = _classify(arg)
        if akind == PARAM or akind == VAR:
            return (e.getname(), 0.0, id(arg))
        if akind == SUM and arg.nargs() == 2:
            a, b = arg.args
            if a.__class__ in native_types and b.__class__ not in native_types \
                    and kind(b) == PARAM:
                return (e.getname(), a, id(b))
        return None
