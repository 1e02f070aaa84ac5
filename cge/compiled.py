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

import operator

import numpy as np
import pyomo.environ as pyo
from pyomo.common.numeric_types import native_types
from pyomo.core.expr.relational_expr import EqualityExpression
from pyomo.core.expr.numeric_expr import MonomialTermExpression, SumExpression

from .affine import NAMED, PARAM, SUM, UNARY, VAR, Affine, AffineWalker, NotAffine, is_node, kind
from .formula import Formulas
from .solver_options import NL_FILE_OPTIONS

__all__ = ["CompiledSystem", "FoldedSystem", "signature", "vary", "varying"]

_VALUE = operator.attrgetter("_value")


def signature(m: pyo.Block, held: list | None = None) -> tuple:
    """What a compiled system depends on: which equality constraints are active and which
    expression each holds, and which variables are fixed. Values do not enter.

    Objects enter by their ids, which Python gives again to new objects once they are
    freed: whoever keeps a signature to compare with later passes ``held``, a list that
    receives the constraints, their expressions and the fixed variables, and keeps it
    as long as the signature (an expression replaced and freed could otherwise be
    followed by a new one at the same address, and the structure would look unchanged).
    """
    data = list(m.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    exprs = [c.expr for c in data]
    fixed = [v for v in m.component_data_objects(pyo.Var, descend_into=True) if v.fixed]
    if held is not None:
        held.extend(data)
        held.extend(exprs)
        held.extend(fixed)
    cons = tuple((id(c), id(e)) for c, e in zip(data, exprs))
    return hash(cons), hash(tuple(map(id, fixed))), len(cons)


def vary(m: pyo.Block, leaves) -> None:
    """Declare parameters (or fixed variables) of ``m`` whose values will change between
    solves: a system too large to compile with every parameter as a column
    (:data:`cge.solve.PARAMETRIC_MAX_WORK`) is compiled with these as columns and every
    other parameter folded in, so that changing them compiles nothing (a homotopy's
    steps, a shock). Accumulates; :func:`cge.solve.run_ipopt` also declares those found
    changed when a system with folded values falls stale."""
    known = m.__dict__.setdefault("_cge_varying", {})
    for p in leaves:
        known.setdefault(id(p), p)


def varying(m: pyo.Block) -> list:
    """The parameters declared with :func:`vary`, in the order declared."""
    return list(m.__dict__.get("_cge_varying", {}).values())


class _Substitution(AffineWalker):
    r"""Copies expressions so that parameters enter as parameter columns.

    The parameter-only part of every affine argument of a nonlinear function
    (``exp(a + b x)``: the logarithms of trade costs, tariffs, fixed costs and
    preference weights in a route's trade value) and of every parameter-only
    subexpression becomes *one* column, whatever the number of parameters in
    it, and identical parts share a column: inside the log-sum-exp aggregates
    every column is coupled with every unknown of its sum, so that a column per
    parameter would multiply the work of loading the NLP (and the Hessian's
    sparsity). A column's value is a linear combination of *atoms* (a
    parameter, its logarithm, :math:`\ln(1+t)` of a rate, or any other
    parameter-only expression), computed with numpy at every update
    (:meth:`values`). What reads parameters non-affinely (a parameter times an
    unknown) gets a column per parameter. Subtrees that read no parameter are
    shared, not copied, and so are named Expressions that read none.

    The affine forms are :mod:`cge.affine`'s, with atoms for terms.
    """

    #: a named Expression is walked where read (its form is not kept)
    share_named = False

    CHUNK = 4096

    def __init__(self, block: pyo.Block, columns=None):
        super().__init__()
        self.block = block
        #: ids of the parameters and fixed variables that become columns (None: all);
        #: the others are folded in as numbers (their values at compilation), and
        #: subtrees that read no column are the model's own (the NL writer folds them)
        self.only = None if columns is None else {id(p) for p in columns}
        self._reads: dict[int, bool] = {}
        block.named = pyo.Expression(pyo.Any, doc="named Expressions reading parameters")
        self._chunks = 0
        self._free = iter(())
        #: the ParamData / fixed VarData read, in order (the leaves of the atoms)
        self.leaves: list = []
        self._leaf: dict[int, int] = {}
        #: atoms: (kind, leaf index or expression); kinds "value", "log", "log1p", "expr"
        self.atoms: list[tuple[str, object]] = []
        self._atom: dict[tuple, int] = {}
        #: columns: their variables and their rows {atom: multiplier}
        self.columns: list = []
        self.rows: list[dict[int, float]] = []
        self._column_of: dict[tuple, object] = {}
        self._named: dict[int, object] = {}

    # ---------------------------------------------------------------- folding
    def _folds(self, leaf) -> bool:
        """Whether ``leaf`` (a parameter or fixed variable) is folded in as its value."""
        return self.only is not None and id(leaf) not in self.only

    def _reads_columns(self, e) -> bool:
        """Whether expression ``e`` reads a parameter or fixed variable that is a column
        (each subtree and named Expression looked at once)."""
        if self.only is None:
            return True
        cls = e.__class__
        if cls in native_types:
            return False
        memo = self._reads
        found = memo.get(id(e))
        if found is not None:
            return found
        kd = kind(e)
        if kd == PARAM or kd == VAR:
            found = id(e) in self.only
        elif kd == NAMED:
            found = self._reads_columns(e.expr)
        elif is_node(kd):
            found = False
            for a in e.args:
                if self._reads_columns(a):
                    found = True
                    break
        else:
            found = False
        memo[id(e)] = found
        self._held.append(e)  # (its id stays its own while the memo lives)
        return found

    # ---------------------------------------------------------------- registry
    def _new_variable(self):
        try:
            return next(self._free)
        except StopIteration:
            comp = pyo.Var(range(self.CHUNK), doc="parameter columns")
            self.block.add_component(f"parameter_{self._chunks}", comp)
            self._chunks += 1
            self._free = iter(comp.values())
            return next(self._free)

    def _leaf_index(self, leaf) -> int:
        j = self._leaf.get(id(leaf))
        if j is None:
            j = self._leaf[id(leaf)] = len(self.leaves)
            self.leaves.append(leaf)
        return j

    def _atom_index(self, form: str, obj) -> int:
        ref = self._leaf_index(obj) if form != "expr" else obj
        key = (form, ref if form != "expr" else id(obj))
        j = self._atom.get(key)
        if j is None:
            j = self._atom[key] = len(self.atoms)
            self.atoms.append((form, ref))
        return j

    def _column(self, atoms: dict[int, float]):
        key = tuple(sorted(atoms.items()))
        col = self._column_of.get(key)
        if col is None:
            col = self._column_of[key] = self._new_variable()
            self.columns.append(col)
            self.rows.append(dict(atoms))
        return col

    # ------------------------------------------------------------- affine parts
    def leaf(self, obj):
        """A parameter or fixed variable: its value atom, or folded in."""
        return None if self._folds(obj) else self._atom_index("value", obj)

    def leaf_function(self, e, key):
        """A function of one parameter: atoms ``log(p)`` and ``log(1 + p)`` (evaluated
        with numpy), any other as an expression; folded in with its parameter."""
        if e.is_potentially_variable():  # of an unknown (or a fixed variable): not affine
            raise NotAffine
        name, number, _ = key
        (arg,) = e.args
        leaf = arg.args[1] if kind(arg) == SUM else arg
        if self._folds(leaf):
            return None
        if name == "log" and leaf is arg:
            return self._atom_index("log", leaf)
        if name == "log" and number == 1:
            return self._atom_index("log1p", leaf)
        return self._atom_index("expr", e)

    def nonlinear(self, e, kd, k, acc):
        """A parameter-only node: an atom (or folded in); one reading an unknown is not
        affine."""
        if not is_node(kd):  # a leaf that is neither parameter nor variable: a number
            acc.const += k * pyo.value(e)
            return
        if e.is_potentially_variable():
            raise NotAffine
        if not self._reads_columns(e):
            acc.const += k * pyo.value(e)
            return
        j = self._atom_index("expr", e)
        acc.w[j] = acc.w.get(j, 0.0) + k

    def _linearised(self, e):
        """``e`` with its parameter-only part as one column, if ``e`` is affine and reads
        parameters; else ``e`` copied node by node."""
        acc = Affine()
        try:
            self.walk(e, 1.0, acc)
        except NotAffine:
            acc = None
        if acc is None or not any(acc.w.values()):
            return self._copy(e) if is_node(kind(e)) else self(e)
        atoms = {j: m for j, m in acc.w.items() if m != 0.0}
        # a column stands for the combination scaled to a first multiplier of one, so
        # that proportional combinations (a route's trade cost in its trade value and in
        # its price-index term) share it
        first = atoms[min(atoms)]
        col = self._column({j: m / first for j, m in atoms.items()})
        terms = [col if first == 1.0 else MonomialTermExpression((first, col))]
        for c, coef in acc.x.items():
            var = self.variables[c]
            if coef == 1.0:
                terms.append(var)
            elif coef != 0.0:
                terms.append(MonomialTermExpression((coef, var)))
        if acc.const != 0.0:
            terms.append(acc.const)
        return terms[0] if len(terms) == 1 else SumExpression(terms)

    # ---------------------------------------------------------------- copying
    def _copy(self, e):
        args = e.args
        new = [self(a) for a in args]
        for a, b in zip(new, args):
            if a is not b:
                return e.create_node_with_local_data(new)
        return e

    def __call__(self, e):
        cls = e.__class__
        if cls in native_types:
            return e
        if self.only is not None and not self._reads_columns(e):
            return e  # the model's own: the NL writer folds its parameters
        kd = kind(e)
        if is_node(kd):
            if not e.is_potentially_variable():
                return e if e.is_constant() else self._linearised(e)
            if kd == UNARY:
                (arg,) = e.args
                new = self._linearised(arg) if arg.__class__ not in native_types else arg
                return e if new is arg else e.create_node_with_local_data([new])
            return self._copy(e)
        if kd == PARAM:  # a mutable ParamData (immutable ones are numbers)
            return self._column({self._atom_index("value", e): 1.0})
        if kd == VAR:
            return self._column({self._atom_index("value", e): 1.0}) if e.fixed else e
        if kd == NAMED:
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
                self._held.append(e)
            return done
        return e

    def side(self, e):
        """A side of an equation: linearised as a whole when affine."""
        if e.__class__ in native_types:
            return e
        if self.only is not None and not self._reads_columns(e):
            return e
        return self._linearised(e)


class _ColumnValues:
    """The values of the parameter columns: ``rows @ atoms`` (numpy)."""

    def __init__(self, sub: _Substitution, keep: np.ndarray):
        from scipy.sparse import csr_matrix

        self.leaves = sub.leaves
        kinds = [k for k, _ in sub.atoms]
        refs = [r for _, r in sub.atoms]
        pick = lambda kind: np.array([j for j, k in enumerate(kinds) if k == kind], dtype=int)
        self.n_atoms = len(kinds)
        self.value_at, self.log_at, self.log1p_at = pick("value"), pick("log"), pick("log1p")
        self.value_leaf = np.array([refs[j] for j in self.value_at], dtype=int)
        self.log_leaf = np.array([refs[j] for j in self.log_at], dtype=int)
        self.log1p_leaf = np.array([refs[j] for j in self.log1p_at], dtype=int)
        self.expr_at = pick("expr")
        self.expressions = [refs[j] for j in self.expr_at]
        # Pyomo's floats, faster: all of them in one call (one by one where one fails)
        self._formulas = Formulas(self.expressions)
        rows = [sub.rows[c] for c in keep]
        indptr = np.cumsum([0] + [len(r) for r in rows])
        self.matrix = csr_matrix(
            (np.array([m for r in rows for m in r.values()], dtype=float),
             np.array([j for r in rows for j in r], dtype=int), indptr),
            shape=(len(rows), self.n_atoms))
        self.rows = rows
        self.atoms = sub.atoms

    def leaf_values(self) -> np.ndarray:
        try:  # the values Pyomo reads, in one pass
            return np.fromiter(map(_VALUE, self.leaves), dtype=float, count=len(self.leaves))
        except (TypeError, AttributeError):  # a value not set: say which below
            pass
        vals = [p.value for p in self.leaves]
        try:
            return np.array(vals, dtype=float)
        except TypeError:  # a parameter without a value
            return np.array([np.nan if v is None else v for v in vals], dtype=float)

    def __call__(self) -> np.ndarray:
        leaf = self.leaf_values()
        atoms = np.empty(self.n_atoms)
        with np.errstate(all="ignore"):
            atoms[self.value_at] = leaf[self.value_leaf]
            atoms[self.log_at] = np.log(leaf[self.log_leaf])
            atoms[self.log1p_at] = np.log(1.0 + leaf[self.log1p_leaf])
            try:
                if len(self._formulas):
                    atoms[self.expr_at] = self._formulas()
            except (ValueError, ZeroDivisionError, OverflowError):  # one by one: NaN where
                for j, formula in zip(self.expr_at, self._formulas.formulas):  # one fails
                    try:
                        atoms[j] = formula()
                    except (ValueError, ZeroDivisionError, OverflowError):
                        atoms[j] = np.nan
            return self.matrix @ atoms

    def describe(self, column: int) -> str:
        """The parameters behind column ``column`` (for an error message)."""
        names = []
        for j in self.rows[column]:
            kind, ref = self.atoms[j]
            names.append(str(ref) if kind == "expr" else
                         f"{'' if kind == 'value' else kind}({self.leaves[ref].name})"
                         if kind != "value" else self.leaves[ref].name)
        return " + ".join(names)


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

    def __init__(self, m: pyo.Block, hessian: bool = False, columns=None):
        #: whether the compiled NLP evaluates a Hessian (see :class:`FoldedSystem`)
        self.hessian = bool(hessian)
        self.model = m
        #: what the key's ids stand for, held while the key is (:func:`signature`)
        self._held: list = []
        self.key = signature(m, self._held)
        #: the model's active constraints, in the order of the compiled equations
        self.constraints = list(m.component_data_objects(pyo.Constraint, active=True,
                                                         descend_into=True))
        block = pyo.ConcreteModel(name=f"{m.name} (compiled)")
        sub = _Substitution(block, columns)
        block.equation = pyo.Constraint(range(len(self.constraints)))
        for j, c in enumerate(self.constraints):
            expr = c.expr
            if c.equality and isinstance(expr, EqualityExpression):
                lhs, rhs = expr.args
                block.equation[j] = sub.side(lhs) == sub.side(rhs)
            else:
                block.equation[j] = sub(expr)
        block.objective = pyo.Objective(expr=0.0)
        self.block = block
        if hessian:
            from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

            self.nlp = PyomoNLP(block, nl_file_options=dict(NL_FILE_OPTIONS))
        else:
            self.nlp = _nlp_class()(block, nl_file_options=dict(NL_FILE_OPTIONS))
        variables = self.nlp.get_pyomo_variables()
        position = {id(v): j for j, v in enumerate(variables)}
        cons = self.nlp.get_pyomo_constraints()
        order = {id(c): j for j, c in enumerate(block.equation.values())}
        #: compiled equation j is the model's constraint self.constraints[self.row_source[j]]
        self.row_source = np.array([order[id(c)] for c in cons], dtype=int)
        # a column that a simplification dropped from every equation has no position
        keep = np.array([c for c, col in enumerate(sub.columns) if id(col) in position], dtype=int)
        #: NLP positions of the parameter columns
        self.parameter_index = np.array([position[id(sub.columns[c])] for c in keep], dtype=int)
        self.column_values = _ColumnValues(sub, keep)
        #: the parameters and fixed variables the equations read as columns
        self.sources = sub.leaves
        #: those folded in as numbers (``columns`` given: every other parameter and fixed
        #: variable): the system is valid while their values stay those compiled
        self.folded = [] if columns is None else [
            x for x in _foldable(m) if id(x) not in sub.only]
        self.folded_values = _leaf_values(self.folded)
        is_param = np.zeros(len(variables), dtype=bool)
        is_param[self.parameter_index] = True
        #: NLP positions of the model's free variables (the unknowns)
        self.free = np.flatnonzero(~is_param)
        #: the model's free variables, in the order of :attr:`free`
        self.variables = [variables[j] for j in self.free]
        self._read = _VariableReader(self.variables)
        self._lb = np.array(self.nlp.primals_lb(), dtype=float)
        self._ub = np.array(self.nlp.primals_ub(), dtype=float)
        self._x0 = np.array(self.nlp.init_primals(), dtype=float)

    @property
    def n_parameters(self) -> int:
        """Number of parameter columns."""
        return len(self.parameter_index)

    def valid(self) -> bool:
        """Whether the model is still the structure compiled, with the values compiled of
        the parameters folded in (the columns' values never matter)."""
        return signature(self.model) == self.key and self.folded_hold()

    def folded_hold(self) -> bool:
        """Whether the parameters folded in (``columns`` given) still have the values
        compiled (always, without folded parameters)."""
        return not self.folded or np.array_equal(
            _leaf_values(self.folded), self.folded_values, equal_nan=True)

    def changed(self) -> list:
        """The parameters (and fixed variables) whose values changed since they were folded
        in, and those that are columns: what a system compiled again should take as
        columns to stay valid while they keep changing."""
        moved = _leaf_values(self.folded) != self.folded_values
        return list(self.sources) + [p for p, c in zip(self.folded, moved.tolist()) if c]

    # ------------------------------------------------------------ model -> NLP
    def parameter_values(self) -> np.ndarray:
        """Current values of the parameter columns."""
        return self.column_values()

    def update(self) -> None:
        """Copy the current variable values and bounds, and the parameters' values, into
        the NLP."""
        x, lb, ub = self._x0, self._lb, self._ub
        free = self.free
        x[free], bounds = self._read()
        if bounds is not None:  # (None: the bounds written last still hold)
            lb[free], ub[free] = bounds
        p = self.parameter_values()
        bad = ~np.isfinite(p)
        if bad.any():
            from .errors import InputError

            names = [self.column_values.describe(j) for j in np.flatnonzero(bad)[:5]]
            raise InputError("parameters whose values the equations cannot use (not finite, "
                             f"or the logarithm of a non-positive value): {'; '.join(names)}")
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


def _foldable(m: pyo.Block) -> list:
    """The model's mutable parameters and fixed variables (what the NL writer folds)."""
    return [p for p in m.component_data_objects(pyo.Param, descend_into=True)
            if p.parent_component().mutable] + [
        v for v in m.component_data_objects(pyo.Var, descend_into=True) if v.fixed]


#: a parameter's or variable's stored value (what ``.value`` returns, without the call)
_STORED_VALUE = operator.attrgetter("_value")


def _leaf_values(leaves) -> np.ndarray:
    """The values of parameters or fixed variables (NaN for none).

    Read in bulk from the stored values (``ParamData._value``, ``VarData._value``: what
    ``.value`` returns; a few hundred thousand per solve on the NAFTA run, where the
    property's call cost a second in all); anything else (a parameter without a value,
    another object) is read through ``.value``, whose error then names it."""
    try:
        return np.array(list(map(_STORED_VALUE, leaves)), dtype=float)
    except (AttributeError, TypeError, ValueError):
        return np.array([np.nan if x.value is None else x.value for x in leaves], dtype=float)


def variable_values(variables) -> tuple[list, list, list]:
    """Values (0 for none), lower and upper bounds (infinite for none) of ``variables``."""
    inf = np.inf
    vals, los, his = [], [], []
    for v in variables:
        val, lo, hi = v.value, v.lb, v.ub
        vals.append(0.0 if val is None else val)
        los.append(-inf if lo is None else lo)
        his.append(inf if hi is None else hi)
    return vals, los, his


class _VariableReader:
    """Values (0 for none) and bounds (:func:`variable_values`) of a fixed list of
    variables; ``reader()`` returns ``(values, bounds)``, ``bounds`` ``(lower, upper)`` or
    ``None`` when they are those returned last.

    A variable's bounds are a function of what it holds: its lower and upper bound
    (numbers, None, or expressions of parameters) and its domain. Where every bound is a
    number or None and every domain one of Pyomo's global sets (immutable), the bounds
    stay those computed while each variable holds the same objects (compared by
    identity, the objects held here: a bound set again, even to the same number, is
    read again). Otherwise they are computed at every call."""

    def __init__(self, variables):
        self.variables = variables
        self._held = None  # (lower, upper, domains) of the last bounds computed, if kept

    def __call__(self) -> tuple[np.ndarray, tuple | None]:
        vs = self.variables
        try:
            values = np.fromiter(map(_VALUE, vs), dtype=float, count=len(vs))
        except TypeError:  # a value not set: 0
            values = np.array([0.0 if v.value is None else v.value for v in vs], dtype=float)
        lower, upper = list(map(_LOWER, vs)), list(map(_UPPER, vs))
        domains = list(map(_DOMAIN, vs))
        held = self._held
        if (held is not None and all(map(operator.is_, lower, held[0]))
                and all(map(operator.is_, upper, held[1]))
                and all(map(operator.is_, domains, held[2]))):
            return values, None
        _, lo, hi = variable_values(vs)
        kept = all(b is None or type(b) in _NUMBERS for b in lower + upper) and all(
            isinstance(d, _GlobalSet) for d in domains)
        self._held = (lower, upper, domains) if kept else None
        return values, (np.array(lo, dtype=float), np.array(hi, dtype=float))


_LOWER, _UPPER, _DOMAIN = (operator.attrgetter(a) for a in ("_lb", "_ub", "_domain"))
_NUMBERS = (int, float)


def _global_set():
    from pyomo.core.base.set import GlobalSetBase

    return GlobalSetBase


_GlobalSet = _global_set()


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
        self._held: list = []  # (see :func:`signature`)
        self.key = signature(m, self._held)
        self.folded = _foldable(m)
        self.folded_values = self._values()
        obj = pyo.Objective(expr=0.0)
        m.add_component("_cge_objective", obj)
        try:
            self.nlp = PyomoNLP(m, nl_file_options=dict(NL_FILE_OPTIONS))
        finally:
            m.del_component(obj)
        self.variables = self.nlp.get_pyomo_variables()
        self._read = _VariableReader(self.variables)
        self.free = np.arange(len(self.variables))
        self._lb = np.array(self.nlp.primals_lb(), dtype=float)
        self._ub = np.array(self.nlp.primals_ub(), dtype=float)
        self._x0 = np.array(self.nlp.init_primals(), dtype=float)

    def _values(self) -> np.ndarray:
        return _leaf_values(self.folded)

    def changed(self) -> list:
        """The parameters and fixed variables whose values changed since compilation."""
        moved = self._values() != self.folded_values
        return [p for p, c in zip(self.folded, moved.tolist()) if c]

    def valid(self) -> bool:
        """Same structure, and the same value of every parameter and fixed variable."""
        return signature(self.model) == self.key and np.array_equal(
            self._values(), self.folded_values, equal_nan=True)

    def update(self) -> None:
        self._x0[:], bounds = self._read()
        if bounds is not None:
            self._lb[:], self._ub[:] = bounds
        self.nlp.set_primals(self._x0)

    problem_nlp = CompiledSystem.problem_nlp
    residuals = CompiledSystem.residuals
    start = CompiledSystem.start
    bounds = CompiledSystem.bounds
    jacobian = CompiledSystem.jacobian
    load = CompiledSystem.load
    check_structure = CompiledSystem.check_structure
