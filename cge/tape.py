r"""The equation system evaluated with numpy: residuals and Jacobian without an NL file.

:class:`cge.compiled.CompiledSystem` hands the equations to the AMPL Solver
Library (ASL) through Pyomo's NL writer. Loading an NL file, PyNumero's reader
also builds the sparsity of the Hessian of the Lagrangian, whether or not it
is ever asked for (``sphsetup`` in PyNumero's ``AmplInterface::initialize``).
With parameters as columns (compiled once per structure) that Hessian couples
every column inside a log-sum-exp aggregate with every unknown of the sum, so
that the load grows with the product of equations and columns; folding the
values in instead (:class:`cge.compiled.FoldedSystem`) means compiling again
for every set of parameter values (60 x 40: about 30 CPU seconds each time).

A square solve near a solution (the calibrated benchmark's residual check,
and the Newton method of :mod:`cge.newton`) needs no Hessian: residuals and
the Jacobian are enough. :class:`TapeSystem` compiles the active equations
once per structure into a *tape*: every equation, and every argument of a
nonlinear function in it, is an affine form

.. math:: a = c + \sum_j C_j x_j + \sum_k D_k w_k

of the unknowns :math:`x` (the model's free variables) and of *nodes*
:math:`w`: the parameters (and fixed variables) the equations read, and the
values of nonlinear functions (``exp``, ``log``, ``sqrt``, products,
quotients, powers) of such affine forms (:mod:`cge.affine`'s walker, with
nodes for its terms). Named Expressions are expanded once and shared;
identical nodes (``log`` of the same tariff in several equations) are one
node. Nodes are sorted by depth, so that one numpy operation per depth and
function evaluates them all:

* the nodes that read parameters only are evaluated at :meth:`TapeSystem.update`
  (new parameter values cost an evaluation, never a compilation);
* residuals evaluate the nodes that depend on the unknowns, depth by depth;
* the Jacobian is forward differentiation, depth by depth, with sparse
  matrices: a node's gradient is its local derivative times its arguments'
  gradients, :math:`\nabla a = C + D\,\nabla w`.

Pyomo stays the place where equations are declared: the tape is made from the
model's own expressions, and diagnostics read the Pyomo model. Expressions of
other kinds (``Expr_if``, external functions, ...) raise :class:`Unsupported`;
the caller then compiles a :class:`~cge.compiled.FoldedSystem` instead. IPOPT
never sees a tape: its calls use a compiled NLP (:mod:`cge.solve`).
"""

from __future__ import annotations

from array import array

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.relational_expr import EqualityExpression

from .affine import MONOMIAL, PRODUCT, DIVISION, POWER, UNARY, Affine, AffineWalker

__all__ = ["TapeSystem", "Unsupported"]


class Unsupported(Exception):
    """An expression the tape does not evaluate (the caller compiles an NLP instead)."""


#: Unary functions: value and derivative.
_UNARY = {
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda a: 1.0 / a),
    "sqrt": (np.sqrt, lambda a: 0.5 / np.sqrt(a)),
    "log10": (np.log10, lambda a: 1.0 / (a * np.log(10.0))),
}
_FUNCTIONS = tuple(_UNARY) + ("*", "/", "**")
#: a node's function as a number: 0 for a leaf, else one more than its place in _FUNCTIONS
_CODE = {f: j + 1 for j, f in enumerate(_FUNCTIONS)}
#: the function of a node of each kind that is not linear (unary ones: by name)
_BINARY = {MONOMIAL: "*", PRODUCT: "*", DIVISION: "/", POWER: "**"}


class _Walker(AffineWalker):
    """The shared walker (:mod:`cge.affine`) with nodes for terms: a leaf's node, or a
    function's node of its arguments' affine forms (stored flat, see :meth:`slot`)."""

    def __init__(self):
        super().__init__()
        #: nodes: leaves (ParamData, fixed VarData) and functions
        self.leaves: list = []
        self.leaf_node: list[int] = []
        #: per node: its function (:data:`_CODE`, 0 for a leaf), its arguments (slots, -1
        #: for none), whether it depends on the unknowns (depths: :func:`_depths`)
        self.function = array("b")
        self.first = array("q")
        self.second = array("q")
        self.variable = array("b")
        #: affine forms (node arguments, equations) stored flat, one *slot* each: the
        #: constant, how many x and node terms, and the terms
        self.const = array("d")
        self.nx = array("q")
        self.nw = array("q")
        self.xi, self.xv = array("q"), array("d")
        self.wi, self.wv = array("q"), array("d")
        self._node_of: dict[tuple, int] = {}
        # (the appends, bound once: millions of calls)
        self._slot_put = (self.const.append, self.nx.append, self.nw.append, self.xi.extend,
                          self.xv.extend, self.wi.extend, self.wv.extend)
        self._node_put = (self.function.append, self.first.append, self.second.append,
                          self.variable.append)

    # ------------------------------------------------------------- registry
    def slot(self, a: Affine) -> int:
        """Store the affine form ``a``; its slot."""
        j = len(self.const)
        const, nx, nw, xi, xv, wi, wv = self._slot_put
        x, w = a.x, a.w
        const(a.const)
        nx(len(x))
        nw(len(w))
        if x:
            xi(x)
            xv(x.values())
        if w:
            wi(w)
            wv(w.values())
        return j

    def _new_node(self, function: str, arguments, variable: bool) -> int:
        j = len(self.function)
        put_function, put_first, put_second, put_variable = self._node_put
        put_function(_CODE[function] if function else 0)
        put_first(self.slot(arguments[0]) if arguments else -1)
        put_second(self.slot(arguments[1]) if len(arguments) > 1 else -1)
        put_variable(variable)
        return j

    def _function_node(self, function: str, arguments: list[Affine]) -> int:
        variable = False
        var = self.variable
        for a in arguments:
            if a.x:
                variable = True
                break
            for k in a.w:
                if var[k]:
                    variable = True
                    break
            if variable:
                break
        if variable:  # seldom written twice (measured: 1% at 10 x 10): not looked up
            return self._new_node(function, arguments, True)
        key = (function,) + tuple(a.key() for a in arguments)
        j = self._node_of.get(key)
        if j is None:
            j = self._node_of[key] = self._new_node(function, arguments, False)
        return j

    # ------------------------------------------------------------- back end
    def leaf(self, obj):
        if obj.is_parameter_type() and obj.is_constant():  # an immutable parameter
            return None
        j = self._new_node("", (), False)
        self.leaves.append(obj)
        self.leaf_node.append(j)
        return j

    def leaf_function(self, e, key):
        """The node of a function of one leaf (a third of the nodes at 30 x 20 are
        logarithms of parameters): :meth:`_function_node` for an argument of one term."""
        name = key[0]
        if name not in _UNARY:
            raise Unsupported(f"function {name}")
        form = Affine()
        self.walk(e.args[0], 1.0, form)
        x, w = form.x, form.w
        if x or (w and self.variable[next(iter(w))]):
            return self._new_node(name, (form,), True)
        key = (name, (form.const, tuple(x.items()), tuple(w.items())))  # (form.key())
        j = self._node_of.get(key)
        if j is None:
            j = self._node_of[key] = self._new_node(name, (form,), False)
        return j

    def nonlinear(self, e, kind, k, acc):
        function = _BINARY.get(kind)
        if function is None:
            if kind != UNARY:
                raise Unsupported(f"{e.__class__.__name__} ({e})")
            function = e.getname()
            if function not in _UNARY:
                raise Unsupported(f"function {function}")
        arguments = []
        for a in e.args:
            form = Affine()
            self.walk(a, 1.0, form)
            arguments.append(form)
        j = self._function_node(function, arguments)
        acc.w[j] = acc.w.get(j, 0.0) + k


def _depths(first: np.ndarray, second: np.ndarray, nw: np.ndarray, wi: np.ndarray) -> np.ndarray:
    """The depth of every node: 0 for a leaf, else one more than the deepest node its
    arguments (slots ``first``, ``second``; -1 for none) read. One numpy pass per depth."""
    n_nodes, n_slots = len(first), len(nw)
    depth = np.zeros(n_nodes, dtype=np.int64)
    function = first >= 0
    has_second = second >= 0
    nonempty = np.flatnonzero(nw)
    starts = (np.cumsum(nw) - nw)[nonempty]
    slot_depth = np.zeros(n_slots, dtype=np.int64)
    while True:
        if len(wi):
            slot_depth[nonempty] = np.maximum.reduceat(depth[wi], starts)
        new = np.where(function, 1 + np.maximum(
            slot_depth[np.where(function, first, 0)],
            np.where(has_second, slot_depth[np.where(has_second, second, 0)], 0)), 0)
        if np.array_equal(new, depth):
            return depth
        depth = new


class _Slots:
    """The walker's flat affine forms as numpy arrays, cut into coefficient matrices."""

    def __init__(self, walker: _Walker, nx: int, position: np.ndarray, nw: int):
        self.const = np.frombuffer(walker.const, dtype=float)
        self.nx, self.nw = np.frombuffer(walker.nx, dtype=np.int64), np.frombuffer(
            walker.nw, dtype=np.int64)
        self.x0 = np.concatenate([[0], np.cumsum(self.nx)[:-1]])
        self.w0 = np.concatenate([[0], np.cumsum(self.nw)[:-1]])
        self.xi = np.frombuffer(walker.xi, dtype=np.int64)
        self.xv = np.frombuffer(walker.xv, dtype=float)
        self.wi = position[np.frombuffer(walker.wi, dtype=np.int64)]
        self.wv = np.frombuffer(walker.wv, dtype=float)
        self.shape_x, self.shape_w = nx, nw

    @staticmethod
    def _gather(starts, lengths, index, values, ncols):
        from scipy.sparse import csr_matrix

        indptr = np.concatenate([[0], np.cumsum(lengths)])
        at = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        mat = csr_matrix((values[at], index[at], indptr), shape=(len(lengths), ncols))
        mat.sum_duplicates()
        return mat

    def rows(self, slots: np.ndarray):
        """Constant vector and the x- and node-coefficient matrices (CSR) of ``slots``."""
        cx = self._gather(self.x0[slots], self.nx[slots], self.xi, self.xv, self.shape_x)
        cw = self._gather(self.w0[slots], self.nw[slots], self.wi, self.wv, self.shape_w)
        return self.const[slots].copy(), cx, cw


class _Group:
    """The nodes of one depth and one function, evaluated together."""

    def __init__(self, function, nodes, first, second, slots: _Slots):
        self.function = function
        self.nodes = nodes  # their positions in the node vector
        self.first = slots.rows(first)
        self.second = slots.rows(second) if function in ("*", "/", "**") else None

    @staticmethod
    def _argument(rows, x, w):
        const, cx, cw = rows
        return const + cx @ x + cw @ w

    def evaluate(self, x, w) -> tuple:
        a = self._argument(self.first, x, w)
        if self.second is None:
            w[self.nodes] = _UNARY[self.function][0](a)
            return a, None
        b = self._argument(self.second, x, w)
        if self.function == "*":
            w[self.nodes] = a * b
        elif self.function == "/":
            w[self.nodes] = a / b
        else:
            w[self.nodes] = a ** b
        return a, b


def _ones(mat):
    """``mat`` with every stored entry one (a structure, for :meth:`TapeSystem.pattern`)."""
    out = mat.copy()
    out.data = np.abs(out.data) + 1.0
    return out


class TapeSystem:
    """One model's active equality system as a numpy tape, compiled once per structure
    (see the module docstring). The interface of :class:`cge.compiled.CompiledSystem`
    that the residual check, the structure check and :mod:`cge.newton` use:
    ``update``, ``residuals``, ``jacobian``, ``start``, ``bounds``, ``load``,
    ``check_structure``, ``valid``, ``free`` and ``nlp`` (an evaluator with
    ``set_primals`` and ``evaluate_constraints``). IPOPT calls need a compiled NLP
    (:attr:`serves_ipopt` is False)."""

    #: no Hessian (exact-Hessian IPOPT calls compile a FoldedSystem)
    hessian = False
    #: IPOPT cannot be handed a tape: the caller compiles an NLP for IPOPT calls
    serves_ipopt = False

    def __init__(self, m: pyo.Block):
        from .compiled import signature

        self.model = m
        self._held: list = []  # what the key's ids stand for (see cge.compiled.signature)
        self.key = signature(m, self._held)
        self.constraints = list(m.component_data_objects(pyo.Constraint, active=True,
                                                         descend_into=True))
        walker = _Walker()
        outputs = array("q")
        for c in self.constraints:
            expr = c.expr
            if not (c.equality and isinstance(expr, EqualityExpression)):
                raise Unsupported(f"{c.name}: not an equation")
            lhs, rhs = expr.args
            acc = Affine()
            walker.walk(lhs, 1.0, acc)
            walker.walk(rhs, -1.0, acc)
            outputs.append(walker.slot(acc))
        #: the model's free variables (the unknowns), in column order
        self.variables = walker.variables
        nx = len(self.variables)
        self.free = np.arange(nx)
        # node positions: leaves first, then functions by depth (and function)
        walker._named_form = walker._unknown = walker._node_of = walker._function_term = None
        walker._function_seen = walker._term = None  # (memory)
        variable = np.frombuffer(walker.variable, dtype=np.int8).astype(bool)
        fcode = np.frombuffer(walker.function, dtype=np.int8).astype(np.int64)
        n_nodes = len(fcode)
        first = np.frombuffer(walker.first, dtype=np.int64)
        second = np.frombuffer(walker.second, dtype=np.int64)
        depth = _depths(first, second, np.frombuffer(walker.nw, dtype=np.int64),
                        np.frombuffer(walker.wi, dtype=np.int64))
        order = np.lexsort((fcode, variable, depth))
        position = np.empty(n_nodes, dtype=np.int64)
        position[order] = np.arange(n_nodes)
        self.n_nodes = n_nodes
        slots = _Slots(walker, nx, position, n_nodes)
        self._leaves = walker.leaves
        self._leaf_position = position[np.array(walker.leaf_node, dtype=np.int64)]
        # groups: (depth, variable, function) in evaluation order
        self._parameter_groups: list[_Group] = []
        self._variable_groups: list[list[_Group]] = []  # per depth
        self._variable_depth_start: list[int] = []
        self._variable_slice: list[slice] = []
        keys = np.stack([depth[order], variable[order], fcode[order]], axis=1)
        bounds = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
        starts = np.concatenate([[0], bounds]) if n_nodes else np.zeros(0, dtype=np.int64)
        ends = np.concatenate([bounds, [n_nodes]])
        last_depth = -1
        for s, e in zip(starts.tolist(), ends.tolist()):
            d, var, fc = (int(v) for v in keys[s])
            if fc == 0:
                continue  # leaves
            members = order[s:e]
            group = _Group(_FUNCTIONS[fc - 1], np.arange(s, e), first[members], second[members],
                           slots)
            if not var:
                self._parameter_groups.append(group)
                continue
            if d != last_depth:
                self._variable_groups.append([])
                last_depth = d
            self._variable_groups[-1].append(group)
        self._const, self._ex, self._ew = slots.rows(np.frombuffer(outputs, dtype=np.int64))
        del slots, walker
        # the variable nodes, and for the Jacobian the node coefficients restricted to them
        self._variable_nodes = np.flatnonzero(variable[order])
        vpos = np.full(n_nodes, -1, dtype=np.int64)
        vpos[self._variable_nodes] = np.arange(len(self._variable_nodes))
        self._vpos = vpos
        self._jacobian_plan = self._plan()
        self._w = np.zeros(n_nodes)
        self._x0 = np.zeros(nx)
        self._lb = np.full(nx, -np.inf)
        self._ub = np.full(nx, np.inf)
        self._x = None
        self.nlp = _Evaluator(self)

    # ------------------------------------------------------------- Jacobian plan
    def _plan(self):
        """Per depth of variable nodes: the node-coefficient matrices of the arguments
        restricted to variable nodes of each lower depth (the chain rule's blocks)."""
        spans = []
        for groups in self._variable_groups:
            first = groups[0].nodes[0]
            last = groups[-1].nodes[-1] + 1
            spans.append((self._vpos[first], self._vpos[last - 1] + 1))
        self._spans = spans

        def split(cw):
            cw = cw[:, self._variable_nodes]  # columns: variable nodes
            blocks = []
            for k, (lo, hi) in enumerate(spans):
                blk = cw[:, lo:hi]
                if blk.nnz:
                    blocks.append((k, blk.tocsr()))
            return blocks

        plan = []
        for groups in self._variable_groups:
            plan.append([(split(g.first[2]), split(g.second[2]) if g.second else None)
                         for g in groups])
        self._output_blocks = split(self._ew)
        return plan

    # ------------------------------------------------------------- evaluation
    def _evaluate(self, x: np.ndarray) -> list:
        """Evaluate the variable nodes at ``x``; returns every group's arguments."""
        w = self._w
        args = []
        with np.errstate(all="ignore"):
            for groups in self._variable_groups:
                args.append([g.evaluate(x, w) for g in groups])
        self._x, self._args = x.copy(), args
        return args

    def _residuals_at(self, x: np.ndarray) -> np.ndarray:
        self._evaluate(x)
        with np.errstate(all="ignore"):
            return self._const + self._ex @ x + self._ew @ self._w

    def _jacobian_at(self, x: np.ndarray, pattern: bool = False):
        """The Jacobian (CSR, equations x unknowns) at ``x`` by forward differentiation;
        with ``pattern`` its structure (every coefficient and local derivative taken as
        one, so that no entry cancels or vanishes at particular values: a tariff of zero
        still couples its route's unknowns, as in the compiled NLP)."""
        from scipy.sparse import csr_matrix, diags, vstack

        if self._x is None or not np.array_equal(self._x, x):
            self._evaluate(x)
        grads = []  # per depth: gradients of its variable nodes (CSR, nodes x unknowns)
        ones = _ones if pattern else (lambda mat: mat)

        def gradient(rows, blocks):
            g = ones(rows[1])
            for k, blk in blocks:
                g = g + ones(blk) @ grads[k]
            return g

        with np.errstate(all="ignore"):
            for groups, plan, args in zip(self._variable_groups, self._jacobian_plan, self._args):
                parts = []
                for g, (first, second), (a, b) in zip(groups, plan, args):
                    ga = gradient(g.first, first)
                    fn = g.function
                    if pattern:
                        part = ga if second is None else ga + gradient(g.second, second)
                    elif second is None:
                        part = diags(_UNARY[fn][1](a)) @ ga
                    else:
                        gb = gradient(g.second, second)
                        if fn == "*":
                            da, db = b, a
                        elif fn == "/":
                            da, db = 1.0 / b, -a / (b * b)
                        else:
                            da = b * a ** (b - 1.0)
                            # d(a^b)/db only where b depends on the unknowns
                            live = np.diff(gb.indptr) > 0
                            db = np.where(live, np.log(np.where(live, a, 1.0)) * a ** b, 0.0)
                        part = diags(da) @ ga + diags(db) @ gb
                    parts.append(part)
                grads.append(vstack(parts, format="csr") if len(parts) > 1 else parts[0].tocsr())
            jac = csr_matrix(ones(self._ex))
            for k, blk in self._output_blocks:
                jac = jac + ones(blk) @ grads[k]
        if pattern:
            jac.data[:] = 1.0
        return jac.tocsr()

    # ------------------------------------------------------------ model -> tape
    def valid(self) -> bool:
        """Whether the model is still the structure compiled (values never matter)."""
        from .compiled import signature

        return signature(self.model) == self.key

    def update(self) -> None:
        """Copy the current variable values and bounds, and the parameters' values, into
        the tape (and evaluate the nodes that read parameters only)."""
        from .compiled import _leaf_values, variable_values

        self._x0[:], self._lb[:], self._ub[:] = variable_values(self.variables)
        w = self._w
        w[:] = np.nan
        w[self._leaf_position] = _leaf_values(self._leaves)
        with np.errstate(all="ignore"):
            for g in self._parameter_groups:
                g.evaluate(self._x0, w)
        bad = np.flatnonzero(~np.isfinite(w[self._leaf_position]))
        if bad.size:
            from .errors import InputError

            names = [self._leaves[j].name for j in bad[:5].tolist()]
            raise InputError("parameters whose values the equations cannot use (not "
                             f"finite): {'; '.join(names)}")
        self._x = None

    def residuals(self) -> np.ndarray:
        """Residuals of the equations (left minus right side) at the values last
        :meth:`update`-d."""
        return self._residuals_at(self._x0)

    def start(self) -> np.ndarray:
        return self._x0.copy()

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self._lb.copy(), self._ub.copy()

    def jacobian(self):
        """The Jacobian at the point set last (``nlp.set_primals``), scipy CSC."""
        return self._jacobian_at(self.nlp.primals).tocsc()

    def pattern(self):
        """The Jacobian's structure (CSR of ones): every unknown each equation reads
        through a function, whatever the values."""
        return self._jacobian_at(self.nlp.primals, pattern=True)

    def load(self, x: np.ndarray) -> None:
        """Write the solution ``x`` into the Pyomo model's variables."""
        self.nlp.set_primals(x)
        for val, v in zip(x.tolist(), self.variables):
            v.set_value(val, skip_validation=True)

    def check_structure(self) -> None:
        """Square and structurally nonsingular, from the tape's Jacobian
        (:func:`cge.solve.check_jacobian_structure`)."""
        from .solve import check_jacobian_structure

        check_jacobian_structure(self.nlp, self.model)


class _Evaluator:
    """The few calls of a PyNumero NLP that :mod:`cge.newton` and the structure check
    make, on a tape."""

    def __init__(self, system: TapeSystem):
        self._system = system
        self.primals = system._x0

    def set_primals(self, x: np.ndarray) -> None:
        self.primals = np.array(x, dtype=float)

    def evaluate_constraints(self) -> np.ndarray:
        return self._system._residuals_at(self.primals)

    def evaluate_jacobian(self):
        """The Jacobian's structure with ones for values: what the structure check
        (:func:`cge.solve.check_jacobian_structure`, its only caller) matches on."""
        return self._system.pattern().tocoo()

    def n_constraints(self) -> int:
        return len(self._system.constraints)

    def n_primals(self) -> int:
        return len(self._system.free)
