"""Solver discovery for cge: find IPOPT (through cyipopt or an executable).

cge solves its models with IPOPT.  Two routes are supported:

* ``cyipopt`` -- Pyomo's ``SolverFactory('cyipopt')``.  Needs the ``cyipopt``
  Python package (``cyipopt-wheels`` ships IPOPT with MUMPS) *and* PyNumero's
  compiled ASL interface ``libpynumero_ASL.so``, which ``scripts/bootstrap.sh``
  builds into ``.venv/pyomo/lib``.
* ``ipopt`` -- an ``ipopt`` executable on ``PATH`` (e.g. from conda-forge),
  used through Pyomo's ``SolverFactory('ipopt')``.

Call :func:`configure_pynumero` (or :func:`default_solver`, which calls it)
before solving with ``cyipopt``: Pyomo only looks for the PyNumero library
under ``$PYOMO_CONFIG_DIR/lib`` (default ``~/.pyomo/lib``), ``LD_LIBRARY_PATH``
and ``PATH``, so without help it misses the copy inside the virtualenv.

Importing this module is cheap: Pyomo and cyipopt are imported lazily.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SolverInfo",
    "SolverNotFoundError",
    "configure_pynumero",
    "default_solver",
    "detect_solvers",
    "format_solver_report",
    "pynumero_library",
]

#: File names PyNumero's ASL interface library can have (Linux, macOS, Windows).
PYNUMERO_LIBRARY_NAMES = (
    "libpynumero_ASL.so",
    "libpynumero_ASL.dylib",
    "pynumero_ASL.dll",
    "libpynumero_ASL.dll",
)

BOOTSTRAP_HINT = "run scripts/bootstrap.sh from the repository root"

_BANNER_RE = re.compile(r"running with linear solver\s+(?P<solver>.+?)\.?\s*$", re.MULTILINE)
_IPOPT_VERSION_RE = re.compile(r"Ipopt\s+(?:version\s+)?(?P<version>\d+(?:\.\d+)+)", re.IGNORECASE)


class SolverNotFoundError(RuntimeError):
    """No usable IPOPT route (cyipopt + PyNumero, or an ``ipopt`` executable)."""


@dataclass
class SolverInfo:
    """What :func:`detect_solvers` found out about one solver route.

    ``path`` is the file that makes the route work: for ``cyipopt`` the
    PyNumero ASL library (``libpynumero_ASL.so``), for ``ipopt`` the executable.
    ``linear_solver`` is the lower-case name IPOPT reports in its banner
    (``"mumps"``, ``"ma27"``, ...), ``"unknown"`` if it could not be
    determined, ``None`` if the solver is unavailable.
    """

    name: str
    available: bool
    version: str | None = None
    linear_solver: str | None = None
    path: str | None = None
    detail: str = ""


# --------------------------------------------------------------------------
# PyNumero ASL library
# --------------------------------------------------------------------------


def _candidate_library_dirs() -> list[Path]:
    dirs: list[Path] = []
    env = os.environ.get("PYOMO_CONFIG_DIR")
    if env:
        dirs.append(Path(env) / "lib")
    # scripts/bootstrap.sh builds into <venv>/pyomo (PYOMO_CONFIG_DIR=.venv/pyomo)
    dirs.append(Path(sys.prefix) / "pyomo" / "lib")
    try:
        dirs.append(Path.home() / ".pyomo" / "lib")
    except RuntimeError:  # no HOME and no passwd entry
        pass
    # Last resort: a checkout's own .venv, for when cge is imported by
    # another interpreter (e.g. PYTHONPATH=. python ...).
    dirs.append(Path(__file__).resolve().parent.parent / ".venv" / "pyomo" / "lib")
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def pynumero_library() -> Path | None:
    """Return the first PyNumero ASL library found, or None.

    Searched in order: ``$PYOMO_CONFIG_DIR/lib``, ``<sys.prefix>/pyomo/lib``
    (where ``scripts/bootstrap.sh`` puts it), ``~/.pyomo/lib``, and finally
    ``<repository>/.venv/pyomo/lib`` next to this package.
    """
    for directory in _candidate_library_dirs():
        for name in PYNUMERO_LIBRARY_NAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def configure_pynumero() -> bool:
    """Make Pyomo's PyNumero find ``libpynumero_ASL``; True if it now can.

    Pyomo resolves ``AmplInterface.libname`` once, on the first call of
    ``AmplInterface.available()``, with ``find_library('pynumero_ASL')``, which
    looks in ``PYOMO_CONFIG_DIR/lib`` as read when ``pyomo.common.envvar`` was
    first imported (so setting the variable later has no effect), then
    ``LD_LIBRARY_PATH``, the working directory and ``PATH``; the result (even
    ``None``) is cached on the class.  If that finds nothing we set
    ``libname`` to the library from :func:`pynumero_library`, overriding a
    cached ``None``.  Idempotent and cheap to call repeatedly (one ``stat``).
    """
    try:
        from pyomo.contrib.pynumero.asl import AmplInterface
    except Exception:  # pyomo missing or broken
        return False
    if AmplInterface.ASLib is not None:  # already loaded by a previous solve
        return True
    if AmplInterface.available():
        return True
    library = pynumero_library()
    if library is None:
        return False
    AmplInterface.libname = str(library)
    return AmplInterface.available()


def _check_loadable(library: str) -> str | None:
    """Return None if the shared library loads and is recent enough, else why not."""
    import ctypes

    try:
        lib = ctypes.CDLL(library)
    except OSError as exc:
        return f"{library} exists but cannot be loaded: {exc}"
    try:
        from pyomo.contrib.pynumero.asl import CURRENT_INTERFACE_VERSION
    except Exception:
        return None
    try:
        func = lib.EXTERNAL_AmplInterface_version
        func.restype = ctypes.c_int
        found = func()
    except AttributeError:
        found = 1
    if found < CURRENT_INTERFACE_VERSION:
        return (
            f"{library} is interface version {found}, Pyomo needs "
            f"{CURRENT_INTERFACE_VERSION}; delete it and {BOOTSTRAP_HINT} to rebuild"
        )
    return None


# --------------------------------------------------------------------------
# cyipopt
# --------------------------------------------------------------------------


class _TinyProblem:
    """min (x-1)^2 s.t. -10 <= x <= 10, used to make IPOPT print its banner."""

    def objective(self, x):
        return float((x[0] - 1.0) ** 2)

    def gradient(self, x):
        import numpy as np

        return np.array([2.0 * (x[0] - 1.0)])

    def constraints(self, x):
        import numpy as np

        return np.array([x[0]])

    def jacobian(self, x):
        import numpy as np

        return np.array([1.0])


def _parse_banner(text: str) -> tuple[str, str] | None:
    """('mumps', 'MUMPS 5.5.1') from IPOPT's 'running with linear solver' line."""
    match = _BANNER_RE.search(text)
    if not match:
        return None
    full = match.group("solver").strip()
    return full.split()[0].lower(), full


@functools.lru_cache(maxsize=1)
def _cyipopt_linear_solver() -> tuple[str, str]:
    """Solve a 1-variable problem with cyipopt and read the banner IPOPT writes.

    The log goes to a temporary file (``output_file``), nothing to stdout.
    Returns (name, description); name is "unknown" if it cannot be told.
    """
    try:
        import numpy as np
        import cyipopt

        fd, log_path = tempfile.mkstemp(prefix="cge-ipopt-", suffix=".log")
        os.close(fd)
        try:
            problem = cyipopt.Problem(
                n=1,
                m=1,
                problem_obj=_TinyProblem(),
                lb=[-10.0],
                ub=[10.0],
                cl=[-10.0],
                cu=[10.0],
            )
            for key, value in (
                ("print_level", 0),
                ("sb", "yes"),
                ("output_file", log_path),
                ("file_print_level", 5),
                ("hessian_approximation", "limited-memory"),
                ("max_iter", 50),
            ):
                problem.add_option(key, value)
            problem.solve(np.array([0.0]))
            text = Path(log_path).read_text(errors="replace")
        finally:
            try:
                os.unlink(log_path)
            except OSError:
                pass
    except Exception as exc:  # pragma: no cover - depends on the IPOPT build
        return "unknown", f"linear solver probe failed: {type(exc).__name__}: {exc}"
    parsed = _parse_banner(text)
    if parsed is None:
        return "unknown", "IPOPT did not print its linear-solver banner"
    return parsed


def _detect_cyipopt(probe_linear_solver: bool = True, load: bool = True) -> SolverInfo:
    """The cyipopt route: importable (or, with ``load=False``, installed: found without
    importing it, which costs half a second) and PyNumero's ASL library found."""
    info = SolverInfo(name="cyipopt", available=False)
    try:
        if load:
            import cyipopt
        elif importlib.util.find_spec("cyipopt") is None:
            raise ImportError("No module named 'cyipopt'")
        else:
            cyipopt = None
    except Exception as exc:
        info.detail = (
            f"cannot import cyipopt ({type(exc).__name__}: {exc}); "
            f"pip install 'cyipopt-wheels==1.7.0.dev0' or {BOOTSTRAP_HINT}"
        )
        return info
    ipopt_version = getattr(cyipopt, "IPOPT_VERSION", None)
    if isinstance(ipopt_version, tuple):
        info.version = ".".join(str(part) for part in ipopt_version)
    elif ipopt_version:
        info.version = str(ipopt_version)
    cyipopt_version = getattr(cyipopt, "__version__", "?")

    try:
        import pyomo  # noqa: F401
        from pyomo.contrib.pynumero.asl import AmplInterface
    except Exception as exc:
        info.detail = (
            f"cyipopt {cyipopt_version} imports but Pyomo/PyNumero does not "
            f"({type(exc).__name__}: {exc})"
        )
        return info

    if not configure_pynumero():
        searched = ", ".join(str(d) for d in _candidate_library_dirs())
        info.detail = (
            f"cyipopt {cyipopt_version} imports but libpynumero_ASL.so not found "
            f"(searched {searched}); {BOOTSTRAP_HINT}"
        )
        return info
    library = str(Path(AmplInterface.libname).resolve())
    info.path = library
    if AmplInterface.ASLib is None:  # not loaded yet: make sure it can be
        problem = _check_loadable(library)
        if problem is not None:
            info.detail = problem
            return info

    info.available = True
    parts = [f"cyipopt {cyipopt_version}"]
    if probe_linear_solver:
        info.linear_solver, description = _cyipopt_linear_solver()
        if info.linear_solver == "unknown":
            parts.append(description)
        else:
            parts.append(f"Ipopt {info.version} with {description}")
    parts.append(f"PyNumero ASL {library}")
    info.detail = "; ".join(parts)
    return info


# --------------------------------------------------------------------------
# ipopt executable
# --------------------------------------------------------------------------

# min (x-1)^2 s.t. x >= -5, -10 <= x <= 10, written by Pyomo's NL writer.
_TINY_NL = """g3 1 1 0	# problem unknown
 1 1 1 0 0 	# vars, constraints, objectives, ranges, eqns
 0 1 0 0 0 0	# nonlinear constrs, objs; ccons: lin, nonlin, nd, nzlb
 0 0	# network constraints: nonlinear, linear
 0 1 0 	# nonlinear vars in constraints, objectives, both
 0 0 0 1	# linear network variables; functions; arith, flags
 0 0 0 0 0 	# discrete variables: binary, integer, nonlinear (b,c,o)
 1 1 	# nonzeros in Jacobian, obj. gradient
 0 0	# max name lengths: constraints, variables
 0 0 0 0 0	# common exprs: b,c,o,c1,o1
C0
n0
O0 0
o5
o0
v0
n-1
n2
x1
0 0.0
r
2 -5
b
0 -10 10
k0
J0 1
0 1
G0 1
0 0
"""


def _executable_linear_solver(executable: str) -> tuple[str, str]:
    """Run the executable on a tiny NL problem and read its banner."""
    try:
        with tempfile.TemporaryDirectory(prefix="cge-ipopt-") as tmp:
            nl_file = Path(tmp) / "tiny.nl"
            nl_file.write_text(_TINY_NL)
            # cwd=tmp so that a stray ipopt.opt in the caller's folder is not read
            result = subprocess.run(
                [executable, str(nl_file), "-AMPL", "print_level=5"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
        parsed = _parse_banner(result.stdout + "\n" + result.stderr)
    except Exception as exc:
        return "unknown", f"linear solver probe failed: {type(exc).__name__}: {exc}"
    if parsed is None:
        return "unknown", "ipopt did not print its linear-solver banner"
    return parsed


def _detect_ipopt(probe_linear_solver: bool = True) -> SolverInfo:
    info = SolverInfo(name="ipopt", available=False)
    executable = shutil.which("ipopt")
    if executable is None:
        info.detail = (
            "no 'ipopt' executable on PATH (optional when cyipopt works; "
            "e.g. conda install -c conda-forge ipopt)"
        )
        return info
    info.path = executable
    try:
        result = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except Exception as exc:
        info.detail = f"{executable} --version failed: {type(exc).__name__}: {exc}"
        return info
    output = (result.stdout + "\n" + result.stderr).strip()
    match = _IPOPT_VERSION_RE.search(output)
    if match:
        info.version = match.group("version")
    elif result.returncode != 0:
        first = output.splitlines()[0] if output else ""
        info.detail = f"{executable} --version exited {result.returncode}: {first}"
        return info
    info.available = True
    parts = [output.splitlines()[0] if output else executable]
    if probe_linear_solver:
        info.linear_solver, description = _executable_linear_solver(executable)
        parts.append(description if info.linear_solver == "unknown" else f"with {description}")
    info.detail = "; ".join(parts)
    return info


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def detect_solvers() -> list[SolverInfo]:
    """Report on every supported IPOPT route, in order of preference."""
    return [_detect_cyipopt(), _detect_ipopt()]


def default_solver() -> str:
    """Name of the solver to pass to ``SolverFactory``: 'cyipopt' or 'ipopt'.

    Also configures PyNumero so that 'cyipopt' works in this process. cyipopt is found,
    not imported (half a second, which a replicated benchmark or a Newton solve never
    needs): the first IPOPT call imports it (``cge.solve._cyipopt_nlp``).
    Raises :class:`SolverNotFoundError` if neither route is usable.
    """
    cy = _detect_cyipopt(probe_linear_solver=False, load=False)
    if cy.available:
        return "cyipopt"
    exe = _detect_ipopt(probe_linear_solver=False)
    if exe.available:
        return "ipopt"
    raise SolverNotFoundError(
        "No IPOPT solver available for cge. Tried:\n"
        f"  - cyipopt: {cy.detail}\n"
        f"  - ipopt: {exe.detail}\n"
        "To fix: run scripts/bootstrap.sh from the repository root (installs "
        "cyipopt-wheels into .venv and builds libpynumero_ASL.so into .venv/pyomo; "
        "or set PYOMO_CONFIG_DIR to a folder whose lib/ holds it), "
        "or install an IPOPT executable, e.g. `conda install -c conda-forge ipopt`, "
        "and put it on PATH."
    )


def format_solver_report(infos: list[SolverInfo]) -> str:
    """A small plain-text table of :func:`detect_solvers` results, then details."""
    headers = ("solver", "available", "version", "linear solver", "path")
    rows = [
        (
            i.name,
            "yes" if i.available else "no",
            i.version or "-",
            i.linear_solver or "-",
            i.path or "-",
        )
        for i in infos
    ]
    widths = [max(len(r[c]) for r in [headers, *rows]) for c in range(len(headers))]

    def line(cells) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    out = [line(headers), line(tuple("-" * w for w in widths))]
    out += [line(r) for r in rows]
    out.append("")
    out += [f"{i.name}: {i.detail}" for i in infos if i.detail]
    return "\n".join(out)
