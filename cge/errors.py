"""Exceptions raised by :mod:`cge`. Each names what is wrong and where."""

from __future__ import annotations


class CGEError(Exception):
    """Base class of every error raised by this package."""


class InputError(CGEError, ValueError):
    """Bad model input, detected before any model is built.

    ``problems`` lists every problem found, each naming the parameter (or
    field) and the offending index.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        head = "invalid model input" if len(self.problems) > 1 else "invalid model input:"
        if len(self.problems) == 1:
            msg = f"{head} {self.problems[0]}"
        else:
            msg = f"{head} ({len(self.problems)} problems)\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(msg)


class StructureError(CGEError):
    """The equation system is not square or is structurally singular.

    ``unmatched_variables`` and ``unmatched_constraints`` hold component names.
    """

    def __init__(self, message, unmatched_variables=(), unmatched_constraints=()):
        self.unmatched_variables = list(unmatched_variables)
        self.unmatched_constraints = list(unmatched_constraints)
        super().__init__(message)


class SolveError(CGEError):
    """IPOPT did not converge, or converged to a point that is not an equilibrium.

    ``diagnosis`` is a :class:`cge.solve.Diagnosis` with the status, iterations,
    largest residuals by constraint name, variables at bounds and the last
    homotopy step reached.
    """

    def __init__(self, message, diagnosis=None):
        self.diagnosis = diagnosis
        super().__init__(message if diagnosis is None else f"{message}\n{diagnosis}")


class SelectionError(SolveError):
    """An equilibrium cutoff fell below the Pareto lower bound.

    The Pareto formulas assume selection into every active route
    (``phi*_nis >= phi_min_is``); where every entrant would serve a market the
    model does not hold. ``routes`` lists the offending (n, i, s).
    """

    def __init__(self, message, routes=(), diagnosis=None):
        self.routes = list(routes)
        super().__init__(message, diagnosis)
