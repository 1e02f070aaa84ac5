r"""The equation system compiled once per model structure.

Pyomo hands a model to IPOPT by writing it as an NL file that the AMPL Solver
Library (ASL) loads; the NL writer folds parameter values into that file as
numbers, so that a file written before a shock is wrong after it. Walking the
expressions to write the file is most of what a shock used to cost (70% at
30 x 20). :class:`CompiledSystem` therefore compiles a *substituted copy* of
the active equations instead, in which

* every mutable parameter the equations read (tariffs, iceberg and fixed
  costs, endowments, shares, the numeraire's value, the homotopy's weight...)
  and every fixed variable is replaced by a *parameter column*: a variable of
  the compiled NLP whose lower and upper bounds are both the parameter's
  current value;
* every named Expression that reads one is copied once (so that expressions
  shared between equations stay shared, as the NL writer writes them once);
  everything else is the model's own expression objects.

The compiled system then depends on the model's *structure* only (which
equations are active, which expression each holds, which variables are fixed:
:func:`signature`), not on any value: a new shock or homotopy step copies the
parameters' values into the bound arrays handed to the solver
(:meth:`CompiledSystem.update`) and compiles nothing. IPOPT removes variables
with equal bounds (its default ``fixed_variable_treatment=make_parameter``),
so it solves the same square system as before; the Newton solver
(:mod:`cge.newton`) and the structure check (:meth:`CompiledSystem.check_structure`)
see only the free columns of the Jacobian (:attr:`CompiledSystem.free`).

Pyomo stays the place where equations are declared: blocks build their
constraints as before, and the copy is made from them. Diagnostics read the
Pyomo model, never the compiled copy.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.common.numeric_types import native_types

__all__ = ["CompiledSystem", "signature"]


def signature(m: pyo.Block) -> tuple:
    """What a compiled system depends on: which equality constraints are active and which
    expression each holds, and which variables are fixed. Values do not enter."""
    cons = tuple((id(c), id(c.expr)) for c in m.component_data_objects(
        pyo.Constraint, active=True, descend_into=True))
    fixed = tuple(id(v) for v in m.component_data_objects(pyo.Var, descend_into=True) if v.fixed)
    return hash(cons), hash(fixed), len(cons)


class _Substitution:
    """Copies expressions with every mutable parameter and fixed variable replaced by a
    variable of ``block`` (its parameter column); subtrees that read none are shared,
    not copied, and so are named Expressions that read none."""

    def __init__(self, block: pyo.Block):
        self.block = block
        block.parameter = pyo.Var(pyo.Any, dense=False, doc="parameter columns")
        block.named = pyo.Expression(pyo.Any, doc="named Expressions reading parameters")
        #: the ParamData / fixed VarData behind each parameter column, in order
        self.sources: list = []
        self.columns: list = []
        self._leaf: dict[int, object] = {}
        self._memo: dict[int, object] = {}

    def _column(self, leaf):
        col = self._leaf.get(id(leaf))
        if col is None:
            col = self.block.parameter[len(self.sources)]
            self.sources.append(leaf)
            self.columns.append(col)
            self._leaf[id(leaf)] = col
        return col

    def __call__(self, e):
        if e.__class__ in native_types:
            return e
        if not e.is_expression_type():
            if e.is_parameter_type():  # a mutable ParamData (immutable ones are numbers)
                return self._column(e)
            if e.is_variable_type() and e.fixed:
                return self._column(e)
            return e
        key = id(e)
        done = self._memo.get(key)
        if done is not None:
            return done
        if e.is_named_expression_type():
            inner = e.expr
            new = self(inner)
            if new is inner:
                out = e
            else:
                k = len(self.block.named)
                self.block.named[k] = new
                out = self.block.named[k]
        else:
            args = e.args
            new_args = [self(a) for a in args]
            if all(a is b for a, b in zip(new_args, args)):
                out = e
            else:
                out = e.create_node_with_local_data(new_args)
        self._memo[key] = out
        return out


class CompiledSystem:
    """One model's active equality system, compiled into a PyNumero NLP once per structure.

    ``update()`` copies the current variable values and bounds, and the parameters'
    values (as equal bounds of their columns), into the compiled NLP;
    :meth:`problem_nlp` is then ready for :class:`CyIpoptNLP`; ``load()`` writes a
    solution back into the Pyomo model's variables.
    """

    def __init__(self, m: pyo.Block):
        from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

        self.model = m
        self.key = signature(m)
        #: the model's active constraints, in the order of the compiled equations
        self.constraints = list(m.component_data_objects(pyo.Constraint, active=True,
                                                         descend_into=True))
        block = pyo.ConcreteModel(name=f"{m.name} (compiled)")
        sub = _Substitution(block)
        block.equation = pyo.Constraint(range(len(self.constraints)))
        for j, c in enumerate(self.constraints):
            block.equation[j] = sub(c.expr)
        block.objective = pyo.Objective(expr=0.0)
        self.block = block
        self.sources = sub.sources
        self.nlp = PyomoNLP(block)
        del sub
        variables = self.nlp.get_pyomo_variables()
        position = {id(v): j for j, v in enumerate(variables)}
        cons = self.nlp.get_pyomo_constraints()
        order = {id(c): j for j, c in enumerate(block.equation.values())}
        #: compiled equation j is the model's constraint self.constraints[self.row_source[j]]
        self.row_source = np.array([order[id(c)] for c in cons], dtype=int)
        columns = [block.parameter[k] for k in range(len(self.sources))]
        #: NLP positions of the parameter columns (in the order of ``sources``)
        self.parameter_index = np.array([position[id(c)] for c in columns if id(c) in position],
                                        dtype=int)
        # a parameter that a simplification dropped from every equation has no column
        self.sources = [s for s, c in zip(self.sources, columns) if id(c) in position]
        is_param = np.zeros(len(variables), dtype=bool)
        is_param[self.parameter_index] = True
        #: NLP positions of the model's free variables (the unknowns)
        self.free = np.flatnonzero(~is_param)
        #: the model's free variables, in the order of :attr:`free`
        self.variables = [variables[j] for j in self.free]
        self._lb = np.array(self.nlp.primals_lb(), dtype=float)
        self._ub = np.array(self.nlp.primals_ub(), dtype=float)
        self._x0 = np.array(self.nlp.init_primals(), dtype=float)

    @property
    def n_parameters(self) -> int:
        return len(self.sources)

    def valid(self) -> bool:
        """Whether the model is still the structure compiled (values never matter)."""
        return signature(self.model) == self.key

    # ------------------------------------------------------------ model -> NLP
    def parameter_values(self) -> np.ndarray:
        """Current values of the parameters (and fixed variables) behind the columns."""
        vals = [p.value for p in self.sources]
        try:
            return np.array(vals, dtype=float)
        except TypeError:  # a parameter without a value
            return np.array([np.nan if v is None else v for v in vals], dtype=float)

    def update(self) -> None:
        """Copy the current variable values and bounds, and the parameters' values, into
        the NLP."""
        inf = np.inf
        x, lb, ub = self._x0, self._lb, self._ub
        free = self.free
        vals, los, his = [], [], []
        for v in self.variables:
            val, lo, hi = v.value, v.lb, v.ub
            vals.append(0.0 if val is None else val)
            los.append(-inf if lo is None else lo)
            his.append(inf if hi is None else hi)
        x[free], lb[free], ub[free] = vals, los, his
        p = self.parameter_values()
        bad = ~np.isfinite(p)
        if bad.any():
            from .errors import InputError

            names = [self.sources[j].name for j in np.flatnonzero(bad)[:10]]
            raise InputError(f"parameters without a finite value in the equations: {names}")
        idx = self.parameter_index
        x[idx] = lb[idx] = ub[idx] = p
        self.nlp.set_primals(x)

    def problem_nlp(self, exact_hessian: bool = True):
        """The NLP handed to :class:`CyIpoptNLP`: the compiled one with the current
        bounds and start (and, for a limited-memory Hessian, none evaluated)."""
        return _Bounded(self.nlp, self._lb, self._ub, self._x0, exact_hessian)

    def residuals(self) -> np.ndarray:
        """Residuals of the equations at the values last :meth:`update`-d."""
        return self.nlp.evaluate_constraints()

    def start(self) -> np.ndarray:
        """The full primal vector (free variables and parameter columns) last updated."""
        return self._x0.copy()

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the free variables (in the order of :attr:`free`)."""
        return self._lb[self.free], self._ub[self.free]

    def jacobian(self):
        """The Jacobian at the primals set last, free columns only (scipy CSC)."""
        return self.nlp.evaluate_jacobian().tocsc()[:, self.free]

    def load(self, x: np.ndarray) -> None:
        """Write the solution ``x`` (the full primal vector) into the Pyomo model's variables."""
        self.nlp.set_primals(x)
        for val, v in zip(x[self.free].tolist(), self.variables):
            v.set_value(val, skip_validation=True)

    def check_structure(self) -> None:
        """Square and structurally nonsingular, from the compiled Jacobian's free columns
        (:func:`cge.solve.check_jacobian_structure`)."""
        from .solve import check_jacobian_structure

        check_jacobian_structure(self.nlp, self.model, columns=self.free)


class _Bounded:
    """A compiled NLP seen with other bounds and start (what :class:`CyIpoptNLP` reads)."""

    def __init__(self, nlp, lb, ub, x0, exact_hessian):
        self._nlp, self._lb, self._ub, self._x0 = nlp, lb, ub, x0
        self._exact_hessian = exact_hessian

    def __getattr__(self, name):
        return getattr(self._nlp, name)

    def primals_lb(self):
        return self._lb

    def primals_ub(self):
        return self._ub

    def init_primals(self):
        return self._x0

    def evaluate_hessian_lag(self, *args, **kwargs):
        if not self._exact_hessian:
            raise NotImplementedError("limited-memory Hessian: none evaluated")
        return self._nlp.evaluate_hessian_lag(*args, **kwargs)
