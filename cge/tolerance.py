r"""Numerical tolerances, in one place, derived from the solver's own.

Every equation of a ``cge`` model is written in logarithms (or as a ratio), so
IPOPT's convergence tolerance bounds a *relative* error per equation. A
quantity computed from a solution (an identity such as income = factor income
+ tariff revenue + profits + deficit, the market left out by Walras' law, a
trade share) adds up the errors of the equations it depends on, each scaled by
the size of the values involved. Its admissible error is therefore

.. math::
    \varepsilon = \text{RESIDUAL\_TOL} \times \max(1, \text{terms}) \times |\text{scale}|

where ``scale`` is the magnitude of the values that enter (1 for a relative
residual, total income for an income identity) and ``terms`` the number of
equations whose residuals can accumulate in it (the number of markets for
Walras' law). :func:`limit` computes it; tests and the solver's own
acceptance checks use it instead of bare absolute numbers, so that a limit
follows both the solver's tolerance and the size of the data.
"""

from __future__ import annotations

import numpy as np

#: IPOPT's ``tol`` and ``constr_viol_tol`` (:data:`cge.solve.DEFAULT_OPTIONS`).
SOLVER_TOL = 1e-10
#: Largest equation residual accepted after a solve (IPOPT's ``acceptable_tol``):
#: a relative error, since the equations are in logarithms.
RESIDUAL_TOL = 1e-8
#: Walras' law is a sum over every market; this many markets' residuals are
#: allowed to accumulate in the one left out before a solve is rejected.
WALRAS_TERMS = 10

__all__ = ["RESIDUAL_TOL", "SOLVER_TOL", "WALRAS_TERMS", "assert_close", "limit"]


def limit(scale=1.0, *, terms: int = 1, rel: float = RESIDUAL_TOL) -> float:
    """Largest admissible absolute error of a quantity computed from a solution.

    Parameters
    ----------
    scale:
        Magnitude of the values involved: a number or an array (its largest
        absolute entry is used). 1 for relative residuals and shares.
    terms:
        Number of equations whose residuals can add up in the quantity.
    rel:
        Relative tolerance per equation; defaults to :data:`RESIDUAL_TOL`.
    """
    s = float(np.max(np.abs(np.asarray(scale, dtype=float)))) if np.size(scale) else 0.0
    if not np.isfinite(s):
        raise ValueError(f"scale must be finite, got {scale!r}")
    return rel * max(1, int(terms)) * max(s, np.finfo(float).tiny)


def assert_close(actual, expected, *, scale=None, terms: int = 1, rel: float = RESIDUAL_TOL,
                 err_msg: str = "") -> None:
    """Assert ``actual == expected`` within :func:`limit` of their scale.

    ``scale`` defaults to the largest magnitude among ``expected`` (or 1 if it
    is all zeros), so the test is relative to the size of the data.
    """
    exp = np.asarray(expected, dtype=float)
    if scale is None:
        scale = np.max(np.abs(exp)) if exp.size and np.max(np.abs(exp)) > 0 else 1.0
    np.testing.assert_allclose(actual, exp, rtol=0,
                               atol=limit(scale, terms=terms, rel=rel), err_msg=err_msg)
