"""Benchmark: `cge run runs/nafta.yaml` end to end, stage by stage, in wall and CPU seconds.

Runs the real command line (``cge run``) on the NAFTA scenario and times every
stage of it without changing what it does: the functions ``cge run`` calls are
wrapped in timers (read, check, calibrate, scenario, build, benchmark, shock,
welfare, identities, every output file), and each stage is charged its own time
only (a stage that calls another is not charged the other's time), so that the
rows add up to the total.

The Caliendo-Parro workbook cannot be shipped: it is built from ``../shared/data``
into a temporary folder (never into the repository) unless ``--workbook`` names one
built before with ``python -m calibration.caliendo_parro -o <folder>/cp1993.xlsx``.

    .venv/bin/python bench/bench_nafta.py                      # the scenario as shipped
    .venv/bin/python bench/bench_nafta.py --deficit world_income_share
        # the same data and shock without the zero-deficit baseline (minutes of solving
        # on 2 cores): the pipeline around the solver, measured in a minute
    .venv/bin/python bench/bench_nafta.py --workbook /tmp/cp/cp1993.xlsx --profile out.prof

Not a test: run it by hand and report the table.

What it showed (CPU seconds on this 2-core machine, ``--deficit world_income_share``,
whose benchmark replicates in 0 iterations; issue 14):

* IPOPT (18-23 s, almost all MUMPS) and compiling the NLP through Pyomo's NL writer
  (7-8 s for two compilations) are most of the run; the zero-deficit baseline of the
  scenario as shipped adds about 4 minutes of IPOPT and three more compilations.
* Around them, before this work: the trade picture (40 panels of 31 x 31 regions with
  a number or a mark in every cell, constrained layout; 17-19 s), reading the workbook
  cell by cell with openpyxl (4.8-5.3 s), building the Pyomo model (6-7.5 s, of which
  Python's cyclic garbage collector about 3 s), results.xlsx (2.2-2.3 s, XlsxWriter:
  its per-cell XML), the welfare decomposition (1-2.7 s: seven dense solves of the
  1240 x 1240 input-output system), netCDF (1 s).
* After: the picture draws colour-only panels with outer labels (1.3 s), calamine reads
  the cells (1.2-1.5 s), the input-output system is factorised once (0.5 s). Model
  construction spends ~2 s building expressions; the garbage collector's ~3 s for the
  model's objects is paid at construction or, if paused, at the next allocations
  (measured: pausing it saves nothing end to end).

The zero-deficit baseline (issue 14, the scenario as shipped): it spent 5 minutes in
IPOPT because (1) the system (6,758 equations in the reduced formulation, about 144
thousand mutable parameters) is above ``cge.solve.PARAMETRIC_MAX_WORK`` and was compiled
with every value folded in, once per set of values, so that every homotopy step
compiled it again (5 compilations); (2) the full step, deficits from the data to zero,
is beyond Newton's reach (the Newton direction overshoots in Indonesia's textile price
index: no decrease along it), and the step went to limited-memory IPOPT, which hit its
200 iterations (3-5 minutes) before the path halved the step; (3) half steps again
went to IPOPT (13 iterations). Now the parameters that will change (the deficits, the
shock's tariffs) are columns of a system compiled once with every other value folded
in (``cge.compiled.vary``), and paths on large systems shorten a step Newton cannot
correct instead of calling IPOPT (``cge.continuation.newton_first``): the baseline is
one failed Newton attempt (the full step; no decrease along Newton's direction, so the
step is quartered) and 4 Newton steps (lambda 0.25, 0.375, 0.625, 1), 8 factorisations
of the 6,758-equation Jacobian (0.7 s each) in all; the shock one Newton solve (2
factorisations) instead of 5 IPOPT iterations.

Measured on a 2-core machine shared with other work (CPU seconds, before -> after;
before: commit 976bd30; the results agree to 1e-12 relative):

============================================  =====================  =====================
stage                                         as shipped             world_income_share
============================================  =====================  =====================
build: Pyomo model and initial guess          6.7 -> 6.9             7.0 -> 6.6
solve: compile NLP (compilations)             17.5 (5) -> 5.0 (1)    6.7 (2) -> 4.9 (1)
solve: IPOPT + Newton                         261.8 -> 7.7           20.7 -> 3.3
output: results.xlsx (XlsxWriter)             4.0 -> 3.8             3.9 -> 4.0
everything else                               11.0 -> 9.7            10.7 -> 10.0
total                                         301.0 -> 33.2          49.0 -> 28.7
============================================  =====================  =====================

End to end (issue 14's 20 s; the scenario as shipped, the workbook built before). What
the 33 s were, and what changed:

* Python's cyclic garbage collector: 19 full collections, 4.8 CPU s, freeing next to
  nothing (the model, the tape and the tables are alive). ``cge run`` now holds full
  collections back while it prepares and runs scenarios, and collects once between a
  scenario's solve and its results folder, freeing the solved model there rather than at
  exit (:mod:`cge.collector`; that collection, about 1.5 s, is in "everything else"
  below, where main paid it at exit, outside this table). Model construction and the
  tape's compilation are where most of the collector's time went (``build`` 6.3-7.4 s
  -> 2.1-2.7 s).
* Newton: 10 factorisations of the 6,758-equation Jacobian (0.7 s each). Each path step
  now starts from the factors the previous step kept (chord steps, then Newton steps
  whose equations GMRES solves with those factors as preconditioner; ``cge.newton``,
  ``krylov``): one factorisation in the whole run, 21 Newton steps, 2.2 s instead of
  7.7-9.5 s. The pinned results hold (tests/test_nafta.py, to 1e-9).
* results.xlsx: XlsxWriter's cell-by-cell XML (360 thousand cells in the trade sheet);
  the data rows are now written a column at a time through XlsxWriter's own row writer
  and shared strings (:mod:`cge.xlsx_columns`): the same file byte for byte but its time
  stamp, 0.75 s instead of 4-4.9 s.
* Reading and calibrating: the primitives go through nested mappings twice (calibration,
  scenario overrides) and were parsed entry by entry (``cge.primitives``: whole rows of
  numbers at once now); square SAM sheets built two message strings per cell. The
  expectations decomposed the welfare change a second time for a per-capita check the
  scenario does not ask for; the run information imported openpyxl for its version.

Measured on the shared 2-core machine, five runs of each alternated, the fastest (CPU
seconds; other work was running: main's fastest, 33.2 s, is its idle figure, this
branch's ranged from 19.6 to 23.9 s, and 16.4 s in a quieter hour before the collection
between solve and outputs, which main pays at exit, outside this table, was added):

==================================================  ======  ======
stage                                                 main    this
==================================================  ======  ======
read, check, calibrate, scenario                      2.71    2.21
build: Pyomo model and initial guess                  6.26    2.69
benchmark (the tape's compilation, checks)            5.03    3.63
solve: Newton (baseline and shock)                    7.67    2.27
welfare decomposition, identities, expectations       0.59    0.29
output: tables, run information, CSV, Parquet         1.26    0.88
output: results.xlsx                                  4.09    0.76
output: pictures (4 PNG)                              2.92    2.99
output: results.nc, report.html, run_info.json        0.45    0.49
CLI, console, folder; collection before outputs       0.18    1.66
imports (pyomo, pandas, scipy; before any stage)      2.03    1.74
total                                                33.19   19.61
==================================================  ======  ======

The command itself (``/usr/bin/time python -m cge run runs/nafta.yaml``, exit
included), alternated on the same machine: main 36.5 / 42.4 / 42.5 CPU s (user + system),
this branch 18.3 (before the collection between solve and outputs; with and without it,
run alternately: 21.7-23.8 and 23.4-24.6) / 23.1 / 25.0; peak memory 636 MB and 678 MB (the tape and the kept
factors are alive at the solve's peak; the solved model is freed before the outputs).

Issue 14, second pass (CPU seconds, the same machine, shared; five runs of each
alternated, the fastest and the median; results byte-identical: every CSV, results.nc):

* The collection between solve and outputs (1.5 s: 2.3 million objects of the solved
  model, traversed and freed) is no longer made for a command's last scenario: its
  objects are set aside with ``gc.freeze`` and the operating system takes the memory back
  at exit (:mod:`cge.collector`; before, that work was paid there or, without the
  collection, by the interpreter's last collection at exit). Peak memory of ``cge run``:
  690 -> 775 MB (the model is alive while the outputs are written).
* The trade picture draws one set of axes per row of panels instead of one per panel
  (same panels, images, titles, region names, axis labels): 1.6 -> 1.2 s. PNGs are
  encoded at zlib level 1 (same pixels; files about 40% larger).
* Parameter values are read in bulk (``ParamData._value``) at every tape update.

==================================================  ===============  ===============
stage (a run's stages summed; fastest, median)      main             this
==================================================  ===============  ===============
read, check, calibrate, scenario (imports in them)  1.49 (1.88)      1.60 (1.73)
build: Pyomo model and initial guess                2.13 (2.72)      2.21 (2.44)
benchmark (the tape's compilation, checks)          3.44 (3.88)      3.41 (3.73)
solve: Newton (baseline and shock)                  2.08 (2.14)      2.06 (2.35)
output: pictures (4 PNG; pyplot's import)           3.15 (3.27)      2.68 (3.42)
other outputs, welfare, shock                       3.06 (3.40)      3.00 (3.24)
CLI, console, folder; collection before outputs     1.59 (1.72)      0.09 (0.10)
total                                               19.04 (20.70)    17.16 (18.17)
==================================================  ===============  ===============

``/usr/bin/time python -m cge run`` (exit included), alternated: main 22.9 / 24.0 / 22.6,
this 20.7 / 20.4 / 18.3 CPU s (user + system). The tape's compilation (2.9 s, walking
Pyomo's expressions in Python: 436 thousand nodes, none shared between equations) and
Pyomo's model construction remain the largest stages; tightening the walker's inner
calls (one-argument nodes, leaves without the general node call) measured no
difference.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CP_DATA = ROOT.parent / "shared" / "data" / "caliendo_parro_2015"


class StageClock:
    """Exclusive wall and CPU time per stage: a stage's time minus that of the stages it calls."""

    def __init__(self):
        self.totals: OrderedDict[str, list[float]] = OrderedDict()  # label -> [wall, cpu, calls]
        self.stack: list[list] = []  # [label, wall0, cpu0, child_wall, child_cpu]

    def enter(self, label: str) -> None:
        self.totals.setdefault(label, [0.0, 0.0, 0])
        self.stack.append([label, time.perf_counter(), time.process_time(), 0.0, 0.0])

    def leave(self) -> None:
        label, w0, c0, cw, cc = self.stack.pop()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        row = self.totals[label]
        row[0] += wall - cw
        row[1] += cpu - cc
        row[2] += 1
        if self.stack:
            self.stack[-1][3] += wall
            self.stack[-1][4] += cpu

    def wrap(self, owner, name: str, label) -> None:
        """Time ``owner.name`` (a module function or a class method) as ``label`` (a string,
        or a function of the call's arguments returning one). Missing names are skipped."""
        fn = getattr(owner, name, None)
        if fn is None or getattr(fn, "_stage_clock", False):
            return

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self.enter(label(*args, **kwargs) if callable(label) else label)
            try:
                return fn(*args, **kwargs)
            finally:
                self.leave()

        timed._stage_clock = True
        setattr(owner, name, timed)


def _file_label(path, *args, **kwargs) -> str:
    suffix = Path(path).suffix.lower()
    return {".csv": "output: CSV tables", ".parquet": "output: Parquet tables",
            ".nc": "output: results.nc (netCDF)", ".html": "output: report.html (write)",
            ".json": "output: run_info.json", ".yaml": "output: scenario.yaml",
            ".xlsx": "output: results.xlsx (XlsxWriter)",
            ".png": f"output: {Path(path).name} (render PNG)"}.get(suffix, f"output: {Path(path).name}")


def instrument(clock: StageClock) -> None:
    """Wrap what ``cge run`` calls (by module attribute, so the real code path runs)."""
    import calibration
    import calibration.calibrate as cal_mod
    import calibration.sam as sam
    import cge.compiled as compiled
    import cge.equilibrium as equilibrium
    import cge.formats as formats
    import cge.html_report as html_report
    import cge.report as report
    import cge.scenario as scenario
    import cge.units as units
    import cge.welfare as welfare

    clock.wrap(sam, "load_workbook", "read: workbook cells (sam.load_workbook)")
    for owner in (calibration, sam):
        clock.wrap(owner, "read_workbook", "check: map accounts, accounting checks, balance")
    for owner in (calibration, cal_mod):
        clock.wrap(owner, "calibrate", "calibrate")
        clock.wrap(owner, "set_start", "build: calibrated start values")
    clock.wrap(scenario, "prepare_scenario", "scenario: validate, shocks, checks")
    clock.wrap(equilibrium.Equilibrium, "__init__", "build: Pyomo model and initial guess")

    def solve_label(eq, *args, **kwargs):
        n = eq.__dict__.get("_bench_solves", 0)
        eq.__dict__["_bench_solves"] = n + 1
        return "benchmark (zero-deficit baseline included)" if n == 0 else "shock (NAFTA 2005 tariffs)"

    clock.wrap(equilibrium.Equilibrium, "solve", solve_label)
    clock.wrap(compiled.CompiledSystem, "__init__", "solve: compile NLP (Pyomo NL writer, ASL)")
    if hasattr(compiled, "FoldedSystem"):
        clock.wrap(compiled.FoldedSystem, "__init__", "solve: compile NLP (Pyomo NL writer, ASL)")
    try:  # the Newton method for warm starts (cge.newton), where present
        import cge.newton as newton

        clock.wrap(newton, "solve", "solve: Newton (cge.newton)")
    except ImportError:
        pass
    try:
        from pyomo.contrib.pynumero.interfaces import cyipopt_interface
        clock.wrap(cyipopt_interface.CyIpoptProblemInterface, "solve", "solve: IPOPT (cyipopt)")
    except ImportError:
        pass
    clock.wrap(welfare, "decompose", "welfare decomposition")
    clock.wrap(scenario, "check_identities", "identities")
    clock.wrap(scenario, "check_expectations", "expectations")
    clock.wrap(report, "tidy_tables", "output: tables from results")
    clock.wrap(report, "run_info", "output: run information")
    clock.wrap(units, "data_dictionary", "output: units table")
    clock.wrap(report, "write_workbook", "output: results.xlsx (tables)")
    for name in ("plot_welfare", "plot_firms", "plot_trade_heatmap", "plot_ev"):
        clock.wrap(report, name, f"output: {name} (draw)")
    clock.wrap(report, "atomic_write", _file_label)
    clock.wrap(formats, "write_netcdf", "output: results.nc (netCDF)")
    clock.wrap(html_report, "render_run", "output: report.html (render)")


def build_workbook(folder: Path) -> Path:
    from calibration import caliendo_parro as cp

    out = folder / "data" / "cp1993.xlsx"
    t0 = time.perf_counter()
    if cp.main(["--data", str(CP_DATA), "-o", str(out)]) != 0:
        raise SystemExit("building the Caliendo-Parro workbook failed")
    print(f"(built {out} from {CP_DATA} in {time.perf_counter() - t0:.1f} s; not timed below)")
    return out


def scenario_copy(folder: Path, workbook: Path, deficit: str | None) -> Path:
    """runs/nafta.yaml in ``folder`` with its data beside it (and another deficit closure)."""
    import yaml

    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for src in (workbook, workbook.with_name(workbook.stem + "_nafta2005_tariffs.csv")):
        if src.resolve() != (data / src.name).resolve():
            shutil.copy(src, data / src.name)
    text = (ROOT / "runs" / "nafta.yaml").read_text()
    if deficit:
        spec = yaml.safe_load(text)
        spec["closure"] = {**(spec.get("closure") or {}), "deficit": deficit}
        spec["name"] = f"nafta_{deficit}"
        text = yaml.safe_dump(spec, sort_keys=False)
    path = folder / "nafta.yaml"
    path.write_text(text)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workbook", type=Path, help="cp1993.xlsx built before (its schedule beside it)")
    ap.add_argument("--deficit", help="another deficit closure for the run (e.g. "
                    "world_income_share: no zero-deficit baseline)")
    ap.add_argument("--profile", type=Path, help="also write a cProfile of the run here "
                    "(its overhead inflates the times)")
    ap.add_argument("--keep", type=Path, help="copy the results folder here (to compare runs)")
    ap.add_argument("--no-excel", action="store_true")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_nafta_") as tmp:
        tmp = Path(tmp)
        workbook = args.workbook or build_workbook(tmp)
        path = scenario_copy(tmp, workbook, args.deficit)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        import cge.cli  # noqa: F401  (what `python -m cge` imports)

        t_import = (time.perf_counter() - wall0, time.process_time() - cpu0)
        clock = StageClock()
        instrument(clock)
        cmd = ["run", str(path), "-o", str(tmp / "out")]
        cmd += ["--no-excel"] if args.no_excel else []
        cmd += ["--no-plots"] if args.no_plots else []
        prof = None
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        clock.enter("cge run: everything else (CLI, console, folder)")
        try:
            cge.cli.app(cmd, standalone_mode=False)
        finally:
            clock.leave()
            if prof is not None:
                prof.disable()
                prof.dump_stats(args.profile)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        files = sorted(p.name for p in (tmp / "out").iterdir())
        if args.keep:
            shutil.copytree(tmp / "out", args.keep, dirs_exist_ok=True)

    print(f"\ncge run {'runs/nafta.yaml' + (f' (deficit: {args.deficit})' if args.deficit else '')}"
          f": seconds, each stage without the stages it calls")
    print(f"  {'stage':<56}{'wall':>9}{'CPU':>9}{'calls':>7}")
    print(f"  {'import cge (cli)':<56}{t_import[0]:>9.2f}{t_import[1]:>9.2f}{1:>7}")
    for label, (w, c, n) in clock.totals.items():
        print(f"  {label:<56}{w:>9.2f}{c:>9.2f}{n:>7}")
    print(f"  {'total':<56}{wall:>9.2f}{cpu:>9.2f}")
    print(f"files written: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
