"""A stand-in for the ``ipopt`` AMPL executable, for tests only.

THIS IS A TEST STAND-IN, NOT A PRODUCT. It lets the test suite exercise cge's
``solver="ipopt"`` route (Pyomo's ``pyomo.contrib.solver`` ``ipopt`` interface,
which writes an ``.nl`` file, runs an ``ipopt`` executable and reads back the
``.sol`` file) on machines that have no real ``ipopt`` AMPL driver, such as
Debian, whose ``coinor-libipopt`` ships the library without the driver. Users
should install the real executable (e.g. ``conda install -c conda-forge ipopt``).

What it does, the way the real driver (Ipopt's ``ampl_ipopt`` /
``AmplTNLP``) does it:

* ``ipopt --version`` prints ``Ipopt <version> (...)``, the three fields
  Pyomo's ``Ipopt.version()`` parses.
* ``ipopt stub.nl -AMPL key=value ... option_file_name=stub.opt`` loads the
  ``.nl`` file with PyNumero's ASL interface
  (:class:`pyomo.contrib.pynumero.interfaces.ampl_nlp.AslNLP`), takes options
  from the ``ipopt_options`` environment variable, then the command line
  (``outlev`` and ``maxit`` are the AMPL aliases of ``print_level`` and
  ``max_iter``), and lets IPOPT itself read the options file
  (``option_file_name``, default ``./ipopt.opt``), and solves with the real
  IPOPT through cyipopt (:class:`~pyomo.contrib.pynumero.interfaces.
  cyipopt_interface.CyIpoptNLP`). IPOPT's own log goes to stdout at the
  ``print_level`` asked for (default 5), so Pyomo's log parser finds the
  iteration count and timings.
* The ``.sol`` file is written by ASL's ``write_sol`` through
  ``AmplInterface.finalize_solution``, with the solve code and message that
  ``AmplTNLP::finalize_solution`` uses (0 optimal, 1 acceptable, 400 iteration
  limit, 401/402 CPU/wall-time limit, 200 infeasible, 300 diverging, 500/501
  tiny step/restoration failure, 502 otherwise) and the final iterate as the
  primal values, also on failure.

Differences from the real driver, none of which cge relies on: no suffixes are
written (``ipopt_zL_out``/``ipopt_zU_out`` bound multipliers, so Pyomo sees no
reduced costs), incoming suffixes and dual starting values are ignored, the
duals written have the sign for a minimisation, and options that take an
integer must be written as integers.

PyNumero's ``finalize_solution`` checks the solve code but does not store it
(as of Pyomo 6.10), so ASL would write no ``objno`` line and Pyomo would read
"solver did not generate a SOL file". The code is therefore put into ASL's
``solve_result_num`` through ``get_cur_ASL()`` (after checking that the struct
looks as expected), and if that is not possible the ``objno`` line is appended
to the file.

Tests put it on ``PATH`` with :func:`write_launcher`, which writes a tiny
``ipopt`` shell script that runs this file with the current interpreter.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import sys
from pathlib import Path

#: cyipopt status code (Ipopt's ApplicationReturnStatus) ->
#: (AMPL solve_result_num, message), as in Ipopt's AmplTNLP::finalize_solution.
SOLVE_RESULTS = {
    0: (0, "Optimal Solution Found"),
    1: (1, "Solved To Acceptable Level."),
    2: (200, "Converged to a locally infeasible point. Problem may be infeasible."),
    3: (500, "Search Direction becomes Too Small."),
    4: (300, "Iterates diverging; problem might be unbounded."),
    6: (2, "Found feasible point for square problem."),
    -1: (400, "Maximum Number of Iterations Exceeded."),
    -2: (501, "Restoration Phase Failed."),
    -4: (401, "Maximum CPU Time Exceeded."),
    -5: (402, "Maximum Wallclock Time Exceeded."),
}
UNKNOWN_RESULT = (502, "Unknown Error")

#: AMPL keywords that are aliases of Ipopt options.
ALIASES = {"outlev": "print_level", "maxit": "max_iter"}
#: AMPL-only keywords with no Ipopt option behind them.
IGNORED = {"wantsol", "halt_on_ampl_error"}
#: Options whose values are strings even when they look like numbers.
STRING_OPTIONS = {"option_file_name", "output_file", "linear_solver"}

VERSION_VARIABLE = "IPOPT_STAND_IN_VERSION"


def ipopt_version() -> str:
    """The version of the IPOPT library cyipopt uses ("3.14.11")."""
    cached = os.environ.get(VERSION_VARIABLE)
    if cached:
        return cached
    import cyipopt

    version = getattr(cyipopt, "IPOPT_VERSION", None)
    if isinstance(version, tuple):
        return ".".join(str(part) for part in version)
    return str(version or "3.14.0")


def write_launcher(folder: str | os.PathLike, python: str | None = None) -> Path:
    """Write an executable ``ipopt`` script into ``folder`` that runs this stand-in.

    The IPOPT version is found once here and passed on in the environment, so
    that ``ipopt --version`` answers without importing cyipopt (Pyomo gives
    it 2 seconds).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    launcher = folder / "ipopt"
    launcher.write_text(
        "#!/bin/sh\n"
        "# test stand-in for the ipopt AMPL executable (see the file it runs)\n"
        f"{VERSION_VARIABLE}={shlex.quote(ipopt_version())}\n"
        f"export {VERSION_VARIABLE}\n"
        f"exec {shlex.quote(python or sys.executable)} "
        f'{shlex.quote(str(Path(__file__).resolve()))} "$@"\n'
    )
    launcher.chmod(0o755)
    return launcher


# ------------------------------------------------------------------ options
def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _typed(name: str, text: str):
    """int, float or str, the way the option's value reads."""
    if name in STRING_OPTIONS:
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_keywords(tokens: list[str], options: dict, where: str) -> None:
    """Add ``key=value`` (or ``key value``) tokens to ``options``."""
    tokens = list(tokens)
    while tokens:
        token = tokens.pop(0)
        if "=" in token:
            key, _, value = token.partition("=")
        elif tokens:
            key, value = token, tokens.pop(0)
        else:
            raise SystemExit(f"ipopt (stand-in): option {token!r} in {where} has no value")
        key = ALIASES.get(key.strip(), key.strip())
        if key in IGNORED:
            continue
        options[key] = _typed(key, _unquote(value.strip()))


def add_option(problem, key: str, value) -> None:
    """``problem.add_option`` with a float retried where an integer was refused."""
    try:
        problem.add_option(key, value)
    except TypeError:
        if isinstance(value, int):
            problem.add_option(key, float(value))
        else:
            raise


# ------------------------------------------------------------------ ASL glue
def configure_pynumero() -> None:
    """Find libpynumero_ASL: Pyomo's own search ($PYOMO_CONFIG_DIR/lib, ...), then cge's."""
    from pyomo.contrib.pynumero.asl import AmplInterface

    if AmplInterface.available():
        return
    try:
        from cge.toolchain import configure_pynumero as cge_configure
    except ImportError:
        cge_configure = None
    if cge_configure is None or not cge_configure():
        raise SystemExit("ipopt (stand-in): PyNumero's ASL library (libpynumero_ASL) not "
                         "found; set PYOMO_CONFIG_DIR to the folder whose lib/ holds it")


# Layout of the start of ASL's Edagpars (asl.h): ASLhead (two pointers),
# double hffactor, then the ints FUNNEL_MIN_, maxfwd_, need_funcadd_,
# vrefGulp_, want_derivs_, ihd_limit_, solve_code_.
_HFFACTOR = 2 * ctypes.sizeof(ctypes.c_void_p)
_INTS = _HFFACTOR + ctypes.sizeof(ctypes.c_double)
_SOLVE_CODE = _INTS + 6 * ctypes.sizeof(ctypes.c_int)


def set_solve_result_num(code: int) -> bool:
    """Store ``code`` in the current ASL's ``solve_result_num``; False if that is not safe."""
    from pyomo.contrib.pynumero.asl import AmplInterface

    try:
        get_cur_asl = AmplInterface.ASLib.get_cur_ASL
    except AttributeError:
        return False
    get_cur_asl.restype = ctypes.c_void_p
    get_cur_asl.argtypes = []
    asl = get_cur_asl()
    if not asl:
        return False
    hffactor = ctypes.c_double.from_address(asl + _HFFACTOR).value
    funnel_min, maxfwd = (ctypes.c_int.from_address(asl + _INTS + 4 * k).value for k in (0, 1))
    ihd_limit = ctypes.c_int.from_address(asl + _INTS + 20).value
    if (hffactor, funnel_min, maxfwd, ihd_limit) != (1.0, 5, 5, 12):
        return False  # not the layout (or defaults) this was written for
    ctypes.c_int.from_address(asl + _SOLVE_CODE).value = code
    return True


def _flush_c_stdout() -> None:
    try:
        libc = ctypes.CDLL(None)
        libc.fflush(None)
    except (OSError, AttributeError):
        pass


# ------------------------------------------------------------------ main
def solve(stub: str, cmd_options: list[str]) -> int:
    nl_file = stub if os.path.isfile(stub) else stub + ".nl"
    if not os.path.isfile(nl_file):
        print(f"ipopt (stand-in): can't open {stub}", file=sys.stderr)
        return 1
    options: dict = {}
    parse_keywords(shlex.split(os.environ.get("ipopt_options", "")), options,
                   "$ipopt_options")
    parse_keywords(cmd_options, options, "the command line")

    import numpy as np

    configure_pynumero()
    from pyomo.contrib.pynumero.interfaces.ampl_nlp import AslNLP
    from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP

    # The ASL-only NLP: like the real driver, ignore the .row/.col name files
    # (Pyomo writes them empty unless symbolic_solver_labels is set).
    nlp = AslNLP(nl_file)
    problem = CyIpoptNLP(nlp)
    try:
        for key, value in options.items():
            add_option(problem, key, value)
    except TypeError as exc:
        print(f"ipopt (stand-in): invalid option value in {options}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    x, info = problem.solve(nlp.init_primals())
    _flush_c_stdout()

    status = int(info["status"])
    code, text = SOLVE_RESULTS.get(status, UNKNOWN_RESULT)
    message = f" \nIpopt {ipopt_version()}: {text}"
    primals = np.ascontiguousarray(x, dtype=float)
    mult_g = info.get("mult_g")
    if mult_g is None or len(mult_g) != nlp.n_constraints():
        mult_g = np.zeros(nlp.n_constraints())
    duals = -np.ascontiguousarray(mult_g, dtype=float)  # AMPL's sign, for a minimisation
    stored = set_solve_result_num(code)
    # ASL's write_sol -> <stub>.sol. Called on the ASL interface itself:
    # AslNLP.report_solver_status passes self._duals, which AslNLP does not
    # have (Pyomo 6.10: AttributeError).
    nlp._asl.finalize_solution(code, message, primals, duals)
    _flush_c_stdout()
    sol_file = nl_file[:-3] + ".sol" if nl_file.endswith(".nl") else nl_file + ".sol"
    if not stored and os.path.isfile(sol_file):
        with open(sol_file, "a", encoding="utf-8") as fh:
            fh.write(f"objno 0 {code}\n")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "-?", "--help"):
        print("usage: ipopt stub[.nl] [-AMPL] [keyword=value ...]\n"
              "       ipopt --version\n"
              "(a test stand-in for the Ipopt AMPL driver: IPOPT through cyipopt, "
              "the .nl/.sol files through PyNumero's ASL interface)")
        return 0 if argv else 1
    if argv[0] in ("--version", "-v"):
        print(f"Ipopt {ipopt_version()} (test stand-in: cyipopt + PyNumero ASL), ASL")
        return 0
    stub, rest = argv[0], argv[1:]
    unknown = [a for a in rest if a.startswith("-") and a != "-AMPL"]
    if unknown:
        print(f"ipopt (stand-in): unknown flag(s) {unknown}", file=sys.stderr)
        return 1
    return solve(stub, [a for a in rest if a != "-AMPL"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
