"""The components of a model's equation system, found once and checked cheaply.

Every solve asks what the model's structure is (which equations are active and
which expression each holds, which variables are fixed:
:func:`cge.solve.structure_signature`) and which variables it has
(:func:`cge.equilibrium._snapshot`). Pyomo's generic iterators
(``component_objects(..., descend_into=True)``) walk every block's declarations
to answer; on a small model that walk costs more than the answer. A
:class:`Shape` remembers the walk's result, the Var and Constraint components
in Pyomo's order, and holds while nothing it depends on changed
(:meth:`Shape.holds`):

* every block of the model (active or not) keeps its declarations: the same
  declaration list object, as long, with as many names and the same number of
  components of each type (Pyomo appends every component added to that list,
  replaces it when compacting, and counts components by type), and its active flag;
* every Block, Var and Constraint component keeps its active flag and (unless
  it is a Reference, whose data are other components' data) its number of data
  objects, and every indexed block its data objects.

The data of those components (constraints, variables, their flags and
expressions) are read afresh at every call; only the walk is kept. Everything is
held by reference, never remembered by ``id()`` (a freed object's id is given to
the next object created).
"""

from __future__ import annotations

import operator
import weakref
from itertools import chain, compress

import pyomo.environ as pyo

__all__ = ["Shape", "shape"]

_EXPR = operator.attrgetter("_expr")
_DATA = operator.attrgetter("_data")
_ACTIVE = operator.attrgetter("_active")
_FIXED = operator.attrgetter("_fixed")
_VALUES = operator.methodcaller("values")
_KINDS = (pyo.Block, pyo.Var, pyo.Constraint)


class Shape:
    """The Var and Constraint components of a model (see the module docstring)."""

    def __init__(self, m: pyo.Block):
        self.model = weakref.ref(m)
        blocks = [m] + [b for b in m.block_data_objects(active=None, descend_into=True)
                        if b is not m]
        #: (block, its declaration list, its length, number of names, its components by
        #: type (Pyomo's first, last and count of each), active flag)
        self.blocks = [(b, b._decl_order, len(b._decl_order), len(b._decl),
                        {ctype: list(info) for ctype, info in b._ctypes.items()}, b._active)
                       for b in blocks]
        components = [c for b in blocks for kind in _KINDS
                      for c in b.component_objects(kind, descend_into=False, active=None)]
        #: every Block, Var and Constraint component holding its own data, and its number
        #: of data objects (a Reference's data are other components' data, read afresh
        #: wherever they count: its length would iterate them), and (those that can be
        #: deactivated) every component's active flag
        self.components = [c for c in components if type(c._data) is dict]
        self.sizes = list(map(len, map(_DATA, self.components)))
        self.activable = [c for c in components if hasattr(c, "_active")]
        self.active = list(map(_ACTIVE, self.activable))
        #: indexed blocks and their data objects
        self.block_data = [(c, list(c._data.values())) for c in components
                           if c.ctype is pyo.Block and c.is_indexed()]
        #: Constraint components active in active blocks, in Pyomo's order
        #: (``component_objects(Constraint, active=True, descend_into=True)``)
        constraints = list(m.component_objects(pyo.Constraint, active=True, descend_into=True))
        # References (``pyo.Reference``: a component whose data are other components' data,
        # e.g. the market left out for Walras' law) to data of the active components here
        # add nothing to the fingerprint but repeats (their data's flags and expressions
        # are their owners'; an owner deactivated rebuilds the shape), and iterating one
        # costs as much as all the others together: they are left out of it
        owners = {id(c) for c in constraints}  # (all held here: ids of live objects)
        self.constraints = [c for c in constraints if not _refers_to(c, owners)]
        #: every Var component (``component_objects(Var, descend_into=True)``)
        self.variables = list(m.component_objects(pyo.Var, descend_into=True))
        self._seen = None  # (constraints, expressions, fixed variables, signature)

    def __reduce__(self):
        # a pickled or cloned model walks its own components
        return (_no_shape, ())

    def holds(self, m: pyo.Block) -> bool:
        """Whether ``m`` is the model walked and nothing the walk found has changed."""
        if self.model() is not m:
            return False
        for b, order, n_order, n_decl, ctypes, active in self.blocks:
            if (b._decl_order is not order or len(order) != n_order or len(b._decl) != n_decl
                    or b._active != active
                    or b._ctypes != ctypes):
                return False
        if (list(map(len, map(_DATA, self.components))) != self.sizes
                or list(map(_ACTIVE, self.activable)) != self.active):
            return False
        for c, data in self.block_data:
            if not all(map(operator.is_, c._data.values(), data)):
                return False
        return True

    def variable_data(self) -> list:
        """Every variable of the model (the data of every Var component, in order)."""
        return _data(self.variables)

    def signature(self) -> tuple:
        """:func:`cge.solve.structure_signature` of the model: computed again only when an
        active constraint, its expression or the set of fixed variables is another object
        than at the last call (those of the last call are held, so none can be freed and
        its id reused). Equal for two states of the model exactly when the active
        constraints, their expressions and the fixed variables are the same objects."""
        cons = _data(self.constraints)
        cons = list(compress(cons, map(_ACTIVE, cons)))
        exprs = list(map(_EXPR, cons))
        variables = _data(self.variables)
        fixed = list(compress(variables, map(_FIXED, variables)))
        seen = self._seen
        if (seen is not None and len(cons) == len(seen[0]) and len(fixed) == len(seen[2])
                and all(map(operator.is_, cons, seen[0]))
                and all(map(operator.is_, exprs, seen[1]))
                and all(map(operator.is_, fixed, seen[2]))):
            return seen[3]
        sig = (hash(tuple(zip(map(id, cons), map(id, exprs)))), hash(tuple(map(id, fixed))),
               len(cons))
        self._seen = (cons, exprs, fixed, sig)
        return sig


def _refers_to(component, owners: set) -> bool:
    """Whether every data object of ``component`` is another component's, one of
    ``owners`` (ids of live components)."""
    if type(component._data) is dict:  # (a Reference's data are a view, not a dict)
        return False
    data = list(component._data.values())
    return bool(data) and all(d.parent_component() is not component
                              and id(d.parent_component()) in owners for d in data)


def _data(components) -> list:
    """The data objects of ``components``, in order."""
    return list(chain.from_iterable(map(_VALUES, map(_DATA, components))))


def _no_shape() -> None:
    return None


def shape(m: pyo.Block) -> Shape:
    """The :class:`Shape` of ``m`` (walked on first use and whenever it no longer holds;
    kept on the model)."""
    kept = m.__dict__.get("_cge_shape")
    if kept is None or not kept.holds(m):
        kept = Shape(m)
        m._cge_shape = kept
    return kept
