r"""Subtotals by shock: each shock's contribution to every result of a multi-shock run.

Harrison, Horridge and Pearson (2000, *Computational Economics* 15) split the
change of a result :math:`y` between the benchmark parameters :math:`p^0` and
the counterfactual :math:`p^1 = p^0 + \sum_k \Delta p_k` (:math:`\Delta p_k`
what shock :math:`k` changes, applied in the scenario's order) by integrating
along the straight solution path :math:`p(\theta) = p^0 + \theta\,(p^1 - p^0)`:

.. math:: y(1) - y(0) = \int_0^1 \frac{dy}{d\theta}\,d\theta
          = \sum_k \underbrace{\int_0^1 \nabla_p y(\theta)\cdot\Delta p_k\,d\theta}_{C_k}

where the derivative along shock :math:`k` at the equilibrium :math:`x(\theta)`
of :math:`F(x, p) = 0` is

.. math:: \frac{dy}{d\theta}\Big|_k = y_x\,\dot x_k + y_p\,\Delta p_k,\qquad
          \dot x_k = -F_x^{-1} F_p\,\Delta p_k .

:math:`F_x` is the Jacobian of the square system (PyNumero), :math:`F_p\Delta
p_k` and the directional derivative of :math:`y` are central differences
along :math:`(\dot x_k, \Delta p_k)`. The integral is Gauss-Legendre on
:math:`n` nodes, doubled until the contributions add up to the total
(:math:`|\sum_k C_k - (y(1) - y(0))| \le` ``tol`` times :func:`gap_scale`); the
remaining gap is reported as ``integration_residual`` (measured against
:func:`gap_scale`: the result's total, or the welfare or EV total of its region
for a component, at least 1). The contributions are
path-dependent (another order or path would give other numbers), but they are
exact in the sense that they add up to the total, and a single shock's
contribution is the total itself.

Results decomposed: the welfare total and its components (log points) and the
EV and its components (money) of :func:`cge.welfare.decompose`, and the %
change of bilateral trade (summed over sectors, foreign routes).

Either IPOPT route works (``solver="cyipopt"`` or ``"ipopt"``, the AMPL
executable): each point of the path is solved by the run's route, then
polished by Newton steps and differentiated with PyNumero's Jacobian, which
needs PyNumero's ASL library (not cyipopt); without it
:class:`~cge.errors.SolveError` says so (:data:`NO_PYNUMERO`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from .errors import SolveError

__all__ = ["ShockSubtotals", "shock_deltas", "subtotals", "scenario_subtotals"]

#: Contributions must add up to the total within this (relative to :func:`gap_scale`).
TOLERANCE = 1e-8
#: Why subtotals cannot be computed without PyNumero's ASL library.
NO_PYNUMERO = ("subtotals by shock need PyNumero's ASL library (libpynumero_ASL) to evaluate the "
               "model's Jacobian along the path, whichever IPOPT route solves the points (cyipopt "
               "or the ipopt executable); it was not found. Build it with `pyomo "
               "build-extensions` (scripts/bootstrap.sh does), or run without subtotals")


@dataclass
class ShockSubtotals:
    """Contributions by shock: ``table`` has one row per (quantity, region, partner, shock)."""

    table: pd.DataFrame
    nodes: int
    max_gap: float

    def wide(self) -> pd.DataFrame:
        """Quantities down, shocks across, with ``total`` and ``integration_residual``."""
        keys = ["quantity", "region", "partner"]
        return self.table.pivot_table(index=keys, columns="shock", values="value",
                                      sort=False, aggfunc="first")


def shock_deltas(prim, shocks: list, apply) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``[(label, {parameter: change})]``: what each shock changes, applied in order with
    ``apply(current, benchmark, shock)`` (:func:`cge.scenario.apply_shock`)."""
    out, cur = [], prim
    for j, shock in enumerate(shocks):
        new = apply(cur, prim, shock)
        delta = {}
        for name, x in cur.arrays.items():
            y = new.arrays[name]
            if not np.array_equal(x, y, equal_nan=True):
                with np.errstate(invalid="ignore"):
                    delta[name] = np.where(np.isfinite(x) & np.isfinite(y), y - x, 0.0)
        label = getattr(shock, "label", None) or f"{j + 1}: {shock.type}"
        out.append((label, delta))
        cur = new
    return out


_INDEX_CACHE: dict = {}


def _outputs(base, res, prim0, prim, fixed_region) -> pd.Series:
    """The results decomposed, as one labelled vector."""
    from .welfare import COMPONENTS, decompose

    w = decompose(base, res, prim0, prim, fixed_region=fixed_region).regions
    wcols = ["total", *COMPONENTS, "residual"]
    ecols = ["ev", *[f"ev_{c}" for c in COMPONENTS], "ev_residual"]
    values = [w[wcols].to_numpy(float).T.reshape(-1), w[ecols].to_numpy(float).T.reshape(-1)]
    tb = base.routes["trade_value"].groupby(level=["destination", "origin"]).sum()
    tn = res.routes["trade_value"].reindex(base.routes.index).groupby(
        level=["destination", "origin"]).sum()
    foreign = np.asarray(tb.index.get_level_values(0) != tb.index.get_level_values(1))
    values.append((100 * (tn.to_numpy(float) / tb.to_numpy(float) - 1))[foreign])
    key = (tuple(w.index), tuple(tb.index[foreign]))
    index = _INDEX_CACHE.get(key)
    if index is None:
        regions = list(w.index)
        quantities, reg, partner = [], [], []
        for c in wcols:
            quantities += ["welfare_log_points" if c == "total" else f"welfare_{c}"] * len(regions)
            reg += regions
            partner += [""] * len(regions)
        for c in ecols:
            quantities += [c] * len(regions)
            reg += regions
            partner += [""] * len(regions)
        for n, i in tb.index[foreign]:
            quantities.append("trade_value_change_pct")
            reg.append(n)
            partner.append(i)
        index = pd.MultiIndex.from_arrays([quantities, reg, partner],
                                          names=["quantity", "region", "partner"])
        _INDEX_CACHE[key] = index
    return pd.Series(np.concatenate(values), index=index)


def _residual(cons) -> np.ndarray:
    return np.array([pyo.value(c.body) - pyo.value(c.upper) for c in cons])


def _set_x(xvars, x) -> None:
    for v, val in zip(xvars, x):
        v.set_value(float(val), skip_validation=True)


def gap_scale(total: pd.Series) -> pd.Series:
    """The scale the integration gap of each result is measured against: the larger of 1,
    the result's own total and the headline total of its family in its region (welfare in
    log points for ``welfare_*``, the EV for ``ev_*``), so that a component near zero
    (the decomposition's residual) is judged against the change it is a part of."""
    q = total.index.get_level_values("quantity")
    r = total.index.get_level_values("region")
    head = np.where(q.str.startswith("welfare_"), "welfare_log_points",
                    np.where(q.str.startswith("ev"), "ev", q))
    lookup = total.abs().to_dict()
    p = total.index.get_level_values("partner")
    headline = np.array([lookup.get((h, rr, "" if h != qq else pp), 0.0)
                         for h, rr, qq, pp in zip(head, r, q, p)])
    return pd.Series(np.maximum(1.0, np.maximum(total.abs().to_numpy(), headline)),
                     index=total.index)


class _Path:
    """The model along p(theta), with the tools to differentiate at a point."""

    def __init__(self, eq, prim0, deltas, base, fixed_region):
        from .model import set_parameters

        self.eq, self.prim0, self.deltas = eq, prim0, deltas
        self.base, self.fixed_region = base, fixed_region
        self.set_parameters = set_parameters

    def params(self, theta: float, extra: dict | None = None, eps: float = 0.0):
        arrays = {}
        names = set().union(*(d for _, d in self.deltas))
        for name in names:
            x = self.prim0[name].copy()
            tot = sum((d[name] for _, d in self.deltas if name in d), np.zeros_like(x))
            add = theta * tot + (eps * extra[name] if extra and name in extra else 0.0)
            arrays[name] = np.where(np.isfinite(x), x + add, x)
        return self.prim0.copy(**arrays)

    def outputs_at(self, prim) -> pd.Series:
        from .results import extract

        res = extract(self.eq.model, {"max_residual": 0.0})
        return _outputs(self.base, res, self.prim0, prim, self.fixed_region)

    def _linearise(self):
        """PyNumero's view of the model at its current point: the NLP (compiled with the
        current parameter values), its constraints and its variables."""
        from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

        from .toolchain import configure_pynumero

        m = self.eq.model
        if not configure_pynumero():
            raise SolveError(NO_PYNUMERO)
        obj = pyo.Objective(expr=0.0)
        m.add_component("_cge_subtotal_objective", obj)
        try:
            nlp = PyomoNLP(m)
        finally:
            m.del_component(obj)
        cons = nlp.get_pyomo_constraints()
        xvars = nlp.get_pyomo_variables()
        return nlp, cons, xvars

    def polish(self, steps: int = 3):
        """Newton steps on the square system from IPOPT's solution, so that the points
        of the path are solved to machine precision (IPOPT stops at its tolerance).
        Returns PyNumero's view at the polished point (constraints, variables, NLP)."""
        import scipy.sparse.linalg as spla

        nlp, cons, xvars = self._linearise()
        x = np.array([v.value for v in xvars])
        for _ in range(steps):
            nlp.set_primals(x)
            f = nlp.evaluate_constraints()
            if float(np.abs(f).max(initial=0.0)) < 1e-14:
                break
            x = x - spla.spsolve(nlp.evaluate_jacobian().tocsc(), f)
        nlp.set_primals(x)
        _set_x(xvars, x)
        return nlp, cons, xvars

    def derivatives(self, theta: float, eps: float = 1e-5) -> dict[str, pd.Series]:
        """dy/dtheta along each shock at the (solved) point theta."""
        import scipy.sparse.linalg as spla

        m = self.eq.model
        nlp, cons, xvars = self.polish()
        x0 = np.array([v.value for v in xvars])
        lu = spla.splu(nlp.evaluate_jacobian().tocsc())

        def residual():
            return _residual(cons)

        def set_x(x):
            _set_x(xvars, x)

        out = {}
        here = self.params(theta)
        try:
            for label, delta in self.deltas:
                set_x(x0)
                self.set_parameters(m, self.params(theta, delta, eps))
                f_plus = residual()
                self.set_parameters(m, self.params(theta, delta, -eps))
                f_minus = residual()
                xdot = -lu.solve((f_plus - f_minus) / (2 * eps))
                def y_at(step):
                    prim = self.params(theta, delta, step)
                    self.set_parameters(m, prim)
                    set_x(x0 + step * xdot)
                    return self.outputs_at(prim)

                # five-point stencil: truncation error O(h^4), rounding O(1e-16/h)
                h = 1e3 * eps
                out[label] = (8 * (y_at(h) - y_at(-h)) - (y_at(2 * h) - y_at(-2 * h))) / (12 * h)
        finally:
            self.set_parameters(m, here)
            set_x(x0)
        return out


def subtotals(eq, base, prim0, deltas, fixed_region=None, *, nodes: int = 4,
              max_nodes: int = 16, tol: float = TOLERANCE, total=None) -> ShockSubtotals:
    """Contributions of each shock in ``deltas`` (:func:`shock_deltas`) to the results.

    ``eq`` is an :class:`~cge.equilibrium.Equilibrium` solved at ``prim0``
    (``base`` its results); it is moved along the path (and left at the
    counterfactual). ``total``: the results at the counterfactual, if known.
    Gauss-Legendre nodes are doubled from ``nodes`` up to ``max_nodes`` until
    the contributions add up to the total within ``tol``.
    """
    from .results import extract

    path = _Path(eq, prim0, deltas, base, fixed_region)
    path.polish()
    base = extract(eq.model, {"max_residual": 0.0})
    path.base = base
    if total is None:
        prim1 = path.params(1.0)
        eq.solve(prim1)
        path.polish()
        total = path.outputs_at(prim1)
    labels = [label for label, _ in deltas]
    n = nodes
    cache: dict[float, dict[str, pd.Series]] = {}
    while True:
        t, w = np.polynomial.legendre.leggauss(n)
        theta, weight = 0.5 * (t + 1), 0.5 * w
        contrib = {label: 0.0 * total for label in labels}
        for th, wt in zip(theta, weight):
            key = round(float(th), 15)
            if key not in cache:
                eq.solve(path.params(float(th)))
                cache[key] = path.derivatives(float(th))
            for label in labels:
                contrib[label] = contrib[label] + wt * cache[key][label]
        summed = sum(contrib.values())
        gap = (total - summed).abs() / gap_scale(total)
        if float(gap.max()) <= tol or n >= max_nodes:
            break
        n *= 2
    eq.solve(path.params(1.0))
    rows = []
    for label in labels:
        rows.append(contrib[label].rename("value").to_frame().assign(shock=label))
    rows.append(total.rename("value").to_frame().assign(shock="total"))
    rows.append((total - summed).rename("value").to_frame().assign(shock="integration_residual"))
    table = pd.concat(rows).reset_index()[["quantity", "region", "partner", "shock", "value"]]
    return ShockSubtotals(table, n, float(gap.max()))


def scenario_subtotals(result, *, tol: float = TOLERANCE, max_nodes: int = 16,
                       solver: str | None = None) -> pd.DataFrame:
    """Subtotals by shock for every model of a :class:`~cge.scenario.ScenarioResult`
    (tidy: a ``model`` column, then quantity, region, partner, shock, value)."""
    from .equilibrium import Equilibrium
    from .scenario import AS_SPECIFIED, _calibration, apply_shock, closure_region
    from .units import money_unit

    prepared = result.prepared
    sc = prepared.scenario
    soe = closure_region(sc)
    base_dir = prepared.loaded.path.parent if prepared.loaded.path else None
    frames = []
    for label, run in result.runs.items():
        deltas = shock_deltas(run.primitives, list(sc.shocks),
                              lambda cur, prim, shock: apply_shock(cur, prim, shock, base_dir))
        eq = Equilibrium(run.primitives, solver=solver, options=sc.solver_options or None,
                         small_open_economy=soe)
        restructured = sc.market_structure or sc.entry
        if prepared.data.start is not None and label == AS_SPECIFIED and not restructured:
            _calibration().set_start(eq, prepared.data.start)
        base = eq.solve()
        out = subtotals(eq, base, run.primitives, deltas, soe, tol=tol, max_nodes=max_nodes)
        frame = out.table.copy()
        frame.insert(0, "model", label)
        money = money_unit(getattr(prepared.data, "units", ""))
        frame.insert(4, "unit", [("log points" if q.startswith("welfare_") else
                                  "%" if q.endswith("_pct") else money)
                                 for q in frame["quantity"]])
        frame["nodes"] = out.nodes
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
