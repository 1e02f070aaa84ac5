"""The equation system compiled for IPOPT, re-used while nothing in it changes.

Pyomo hands a model to IPOPT by writing it as an NL file that the AMPL
Solver Library (ASL) loads; parameter values and fixed variables are folded
into that file as numbers. :class:`CompiledSystem` keeps one compiled system
together with what was folded into it (the values of every mutable parameter
and fixed variable of the model) and the structure it was compiled from
(:func:`signature`); :meth:`CompiledSystem.valid` says whether the model
still is that system, so that a solve from the same parameters (a
replication check, ``Equilibrium.resolve``, a failed attempt retried with
other options or bounds) compiles nothing.

Variable values and bounds are not folded: :meth:`CompiledSystem.update`
copies them at every solve. Diagnostics read the Pyomo model, never the
compiled copy.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

__all__ = ["CompiledSystem", "signature"]


def signature(m: pyo.Block) -> tuple:
    """What a compiled system depends on besides values: which equality constraints are
    active and which expression each holds, and which variables are fixed."""
    cons = tuple((id(c), id(c.expr)) for c in m.component_data_objects(
        pyo.Constraint, active=True, descend_into=True))
    fixed = tuple(id(v) for v in m.component_data_objects(pyo.Var, descend_into=True) if v.fixed)
    return hash(cons), hash(fixed), len(cons)


class CompiledSystem:
    """One model's active equality system, compiled into a PyNumero NLP.

    ``update()`` copies the current variable values and bounds of the Pyomo
    model into the compiled NLP; :meth:`problem_nlp` is then ready for
    :class:`CyIpoptNLP`; ``load()`` writes a solution back into the Pyomo
    model's variables.
    """

    def __init__(self, m: pyo.Block):
        from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

        from .solver_options import NL_FILE_OPTIONS

        self.model = m
        self.key = signature(m)
        self.folded = [p for p in m.component_data_objects(pyo.Param, descend_into=True)
                       if p.parent_component().mutable] + [v for v in m.component_data_objects(pyo.Var, descend_into=True)
                                         if v.fixed]
        self.folded_values = self._values()
        obj = pyo.Objective(expr=0.0)
        m.add_component("_cge_objective", obj)
        try:
            self.nlp = PyomoNLP(m, nl_file_options=dict(NL_FILE_OPTIONS))
        finally:
            m.del_component(obj)
        self.variables = self.nlp.get_pyomo_variables()
        self._lb = np.array(self.nlp.primals_lb(), dtype=float)
        self._ub = np.array(self.nlp.primals_ub(), dtype=float)
        self._x0 = np.array(self.nlp.init_primals(), dtype=float)

    def _values(self) -> np.ndarray:
        return np.array([x.value if x.value is not None else np.nan for x in self.folded], dtype=float)

    def valid(self) -> bool:
        """Whether the model is still the system compiled: same structure, and the same
        value of every parameter and fixed variable folded into it."""
        return signature(self.model) == self.key and np.array_equal(
            self._values(), self.folded_values, equal_nan=True)

    # ------------------------------------------------------------ model -> NLP
    def update(self) -> None:
        """Copy the current variable values and bounds into the NLP."""
        inf = np.inf
        x, lb, ub = self._x0, self._lb, self._ub
        for j, v in enumerate(self.variables):
            x[j] = v.value if v.value is not None else 0.0
            lo, hi = v.lb, v.ub
            lb[j] = -inf if lo is None else lo
            ub[j] = inf if hi is None else hi
        self.nlp.set_primals(x)

    def problem_nlp(self, exact_hessian: bool = True):
        """The NLP handed to :class:`CyIpoptNLP`: the compiled one with the current
        bounds and start (and, for a limited-memory Hessian, none evaluated)."""
        return _Bounded(self.nlp, self._lb, self._ub, self._x0, exact_hessian)

    def residuals(self) -> np.ndarray:
        """Residuals of the equations at the values last :meth:`update`-d."""
        return self.nlp.evaluate_constraints()

    def load(self, x: np.ndarray) -> None:
        """Write the solution ``x`` into the Pyomo model's variables."""
        self.nlp.set_primals(x)
        for val, v in zip(x.tolist(), self.variables):
            v.set_value(val, skip_validation=True)

    def check_structure(self) -> None:
        """Square and structurally nonsingular, from the compiled Jacobian
        (:func:`cge.solve.check_jacobian_structure`)."""
        from .solve import check_jacobian_structure

        check_jacobian_structure(self.nlp, self.model)


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
