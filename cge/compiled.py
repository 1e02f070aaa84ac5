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

__all__ = ["CompiledSystem", "FoldedSystem", "signature"]


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

    def __init__(self, block: pyo.Block, capacity: int):
        self.block = block
        block.parameter = pyo.Var(range(capacity), doc="parameter columns")
        block.named = pyo.Expression(pyo.Any, doc="named Expressions reading parameters")
        self._free = iter(block.parameter.values())
        #: the ParamData / fixed VarData behind each parameter column, in order
        self.sources: list = []
        self.columns: list = []
        self._leaf: dict[int, object] = {}
        self._named: dict[int, object] = {}
        self._kind: dict[type, int] = {}

    def _column(self, leaf):
        col = self._leaf.get(id(leaf))
        if col is None:
            col = next(self._free)
            self.sources.append(leaf)
            self.columns.append(col)
            self._leaf[id(leaf)] = col
        return col

    def _classify(self, e) -> int:
        if not e.is_expression_type():
            kind = _PARAM if e.is_parameter_type() else _VAR if e.is_variable_type() else _OTHER
        elif e.is_named_expression_type():
            kind = _NAMED
        else:
            kind = _NODE
        self._kind[e.__class__] = kind
        return kind

    def __call__(self, e):
        cls = e.__class__
        if cls in native_types:
            return e
        kind = self._kind.get(cls)
        if kind is None:
            kind = self._classify(e)
        if kind == _NODE:
            args = e.args
            new = [self(a) for a in args]
            for a, b in zip(new, args):
                if a is not b:
                    return e.create_node_with_local_data(new)
            return e
        if kind == _PARAM:  # a mutable ParamData (immutable ones are numbers)
            return self._column(e)
        if kind == _VAR:
            return self._column(e) if e.fixed else e
        if kind == _NAMED:
            done = self._named.get(id(e))
            if done is None:
                inner = e.expr
                new = self(inner)
                if new is inner:
                    done = e
                else:
                    k = len(self.block.named)
                    self.block.named[k] = new
                    done = self.block.named[k]
                self._named[id(e)] = done
            return done
        return e


_NODE, _PARAM, _VAR, _NAMED, _OTHER = range(5)


class _NoHessian:
    """The ASL interface seen without a Hessian: its sparsity is never computed (for
    parameter columns inside the log-sum-exp aggregates it is dense and huge)."""

    def __init__(self, asl):
        self._asl = asl

    def __getattr__(self, name):
        return getattr(self._asl, name)

    def get_nnz_hessian_lag(self):
        return 0

    def struct_hes_lag(self, irow, jcol):
        return None


def _nlp_class():
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    class JacobianNLP(PyomoNLP):
        """A :class:`PyomoNLP` with constraints and Jacobian but no Hessian."""

        def _collect_nlp_structure(self):
            asl = self._asl
            self._asl = _NoHessian(asl)
            try:
                super()._collect_nlp_structure()
            finally:
                self._asl = asl

        def evaluate_hessian_lag(self, out=None):
            raise NotImplementedError("compiled without a Hessian")

    return JacobianNLP


class CompiledSystem:
    """One model's active equality system, compiled into a PyNumero NLP once per structure.

    With ``hessian`` the NLP also evaluates the Hessian of the Lagrangian (whose
    sparsity the parameter columns fill in: affordable for small systems only,
    :data:`cge.solve.HESSIAN_MAX_EQUATIONS`); without, exact-Hessian IPOPT calls
    use a :class:`FoldedSystem`.

    ``update()`` copies the current variable values and bounds, and the parameters'
    values (as equal bounds of their columns), into the compiled NLP;
    :meth:`problem_nlp` is then ready for :class:`CyIpoptNLP`; ``load()`` writes a
    solution back into the Pyomo model's variables.
    """

    def __init__(self, m: pyo.Block, hessian: bool = False):
        #: whether the compiled NLP evaluates a Hessian (see :class:`FoldedSystem`)
        self.hessian = bool(hessian)
        self.model = m
        self.key = signature(m)
        #: the model's active constraints, in the order of the compiled equations
        self.constraints = list(m.component_data_objects(pyo.Constraint, active=True,
                                                         descend_into=True))
        block = pyo.ConcreteModel(name=f"{m.name} (compiled)")
        capacity = sum(1 for p in m.component_data_objects(pyo.Param, descend_into=True)
                       if p.parent_component().mutable) + sum(
            1 for v in m.component_data_objects(pyo.Var, descend_into=True) if v.fixed)
        sub = _Substitution(block, capacity)
        block.equation = pyo.Constraint(range(len(self.constraints)))
        for j, c in enumerate(self.constraints):
            block.equation[j] = sub(c.expr)
        block.objective = pyo.Objective(expr=0.0)
        self.block = block
        self.sources = sub.sources
        if hessian:
            from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

            self.nlp = PyomoNLP(block)
        else:
            self.nlp = _nlp_class()(block)
        variables = self.nlp.get_pyomo_variables()
        position = {id(v): j for j, v in enumerate(variables)}
        cons = self.nlp.get_pyomo_constraints()
        order = {id(c): j for j, c in enumerate(block.equation.values())}
        #: compiled equation j is the model's constraint self.constraints[self.row_source[j]]
        self.row_source = np.array([order[id(c)] for c in cons], dtype=int)
        columns = sub.columns
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


class FoldedSystem:
    """The model's active equations compiled with every parameter's value folded in (what
    Pyomo's NL writer does), valid only while no value changes: the system IPOPT solves
    with an exact Hessian.

    The Hessian of :class:`CompiledSystem` would carry the parameter columns, and
    inside the log-sum-exp aggregates every column is coupled with every unknown
    of its sum: at 30 x 20 its sparsity alone is 50 million non-zeros (390
    thousand here). Exact-Hessian IPOPT calls (cold starts) therefore compile this
    one, once per set of parameter values; warm solves (Newton, IPOPT with a
    limited-memory Hessian) never need it. Same interface as :class:`CompiledSystem`.
    """

    hessian = True

    def __init__(self, m: pyo.Block):
        from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

        self.model = m
        self.key = signature(m)
        self.folded = [p for p in m.component_data_objects(pyo.Param, descend_into=True)
                       if p.parent_component().mutable] + [
            v for v in m.component_data_objects(pyo.Var, descend_into=True) if v.fixed]
        self.folded_values = self._values()
        obj = pyo.Objective(expr=0.0)
        m.add_component("_cge_objective", obj)
        try:
            self.nlp = PyomoNLP(m)
        finally:
            m.del_component(obj)
        self.variables = self.nlp.get_pyomo_variables()
        self.free = np.arange(len(self.variables))
        self._lb = np.array(self.nlp.primals_lb(), dtype=float)
        self._ub = np.array(self.nlp.primals_ub(), dtype=float)
        self._x0 = np.array(self.nlp.init_primals(), dtype=float)

    def _values(self) -> np.ndarray:
        return np.array([x.value if x.value is not None else np.nan for x in self.folded],
                        dtype=float)

    def valid(self) -> bool:
        """Same structure, and the same value of every parameter and fixed variable."""
        return signature(self.model) == self.key and np.array_equal(
            self._values(), self.folded_values, equal_nan=True)

    def update(self) -> None:
        inf = np.inf
        x, lb, ub = self._x0, self._lb, self._ub
        for j, v in enumerate(self.variables):
            x[j] = v.value if v.value is not None else 0.0
            lo, hi = v.lb, v.ub
            lb[j] = -inf if lo is None else lo
            ub[j] = inf if hi is None else hi
        self.nlp.set_primals(x)

    problem_nlp = CompiledSystem.problem_nlp
    residuals = CompiledSystem.residuals
    start = CompiledSystem.start
    bounds = CompiledSystem.bounds
    jacobian = CompiledSystem.jacobian
    load = CompiledSystem.load
    check_structure = CompiledSystem.check_structure
