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


class OutputError(InputError):
    """An output target that cge refuses before solving: a folder it did not write (its
    files would be lost), a file where a folder is wanted, the data or project folder."""


class FileSystemError(CGEError):
    """Reading or writing a file failed: disk full, read-only file system, no
    permission, a file where a folder is needed, a folder locked by another run.

    ``path`` is the file or folder, ``problem`` says what is wrong in words, and
    ``kept`` (if not ``None``) is where the solved results were saved instead.
    """

    def __init__(self, path, problem: str, *, action: str = "write", errno: int | None = None,
                 kept=None):
        self.path = path
        self.problem = problem
        self.action = action
        self.errno = errno
        self.kept = kept
        super().__init__(self._message())

    def _message(self) -> str:
        msg = f"cannot {self.action} {self.path}: {self.problem}"
        if self.kept is not None:
            msg += (f". The solved results were saved in {self.kept} instead; move them where "
                    "you want them (nothing was lost)")
        return msg

    def keep(self, where) -> "FileSystemError":
        """Record where the results were saved instead (the message then names it)."""
        self.kept = where
        self.args = (self._message(),)
        return self

    def __str__(self) -> str:
        return self.args[0]


class ExtremeValueWarning(UserWarning):
    """A valid but extreme input (an iceberg cost of 1,000, a SAM cell many orders of
    magnitude above the rest): the run goes on, but the value is probably a mistake."""


#: Exit status of the command line, by outcome (documented in docs/errors.md).
EXIT_OK = 0
EXIT_INPUT = 1
EXIT_SOLVE = 2
EXIT_EXPECTATION = 3
EXIT_FILESYSTEM = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def exit_code(exc: BaseException) -> int:
    """The exit status for an error: 1 input, 2 solver or model, 4 file system,
    130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."""
    if isinstance(exc, FileSystemError):
        return EXIT_FILESYSTEM
    if isinstance(exc, InputError):
        return EXIT_INPUT
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, OSError):
        return EXIT_FILESYSTEM
    return EXIT_SOLVE


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives (``timeout``, SLURM, ``docker
    stop``), so that a termination unwinds exactly like Ctrl-C: temporary files are
    removed and the previous results stay as they were."""
