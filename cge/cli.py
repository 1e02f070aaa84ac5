"""Command-line interface: ``cge <command>`` (console script ``cge = cge.cli:app``)."""

from __future__ import annotations

from typing import Literal

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)

#: The workbook reader's options (``calibration.read_workbook``) on the command line.
ProductionTaxes = Literal["tax", "pro_rata", "factor"]
Balance = Literal["ras", "cross_entropy"]
_PRODUCTION_TAXES_HELP = ("how the SAM's production-tax cells are read: tax (default: the "
                          "model's production tax, revenue to income), pro_rata (folded into "
                          "factor payments) or factor (a separate factor)")
_BALANCE_HELP = ("balance each regional SAM first, holding the trade sheet fixed (default: the "
                 "SAMs must balance as given)")


def _read_options(production_taxes: str | None, balance: str | None) -> dict[str, str]:
    """The workbook reader's keyword arguments that were given."""
    return {k: v for k, v in (("production_taxes", production_taxes), ("balance", balance))
            if v is not None}


def _print_read_notes(console, data, options: dict[str, str]) -> None:
    if options:
        console.print("  read with " + ", ".join(f"{k}={v}" for k, v in options.items()),
                      highlight=False)
    for note in getattr(data, "notes", [])[1:]:  # the first one only names the file
        console.print(f"  {note}", highlight=False)


def _print_version(value: bool) -> None:
    if value:
        from cge import __version__

        typer.echo(f"cge {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True,
        help="print cge's version and exit")) -> None:
    """cge: computable general equilibrium trade models with heterogeneous
    (Melitz) firms, built on Pyomo and solved with IPOPT."""
    # Having a callback keeps typer from collapsing a one-command app:
    # `cge solvers` stays a subcommand.


@app.command()
def solvers() -> None:
    """Show which IPOPT routes (cyipopt, ipopt executable) are usable.

    Exits with status 1 if none is.
    """
    from rich.console import Console
    from rich.table import Table

    from cge.toolchain import detect_solvers

    infos = detect_solvers()
    console = Console()
    table = Table(title="IPOPT solvers")
    table.add_column("solver", no_wrap=True)
    table.add_column("available", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("linear solver", no_wrap=True)
    table.add_column("path", overflow="fold")
    for info in infos:
        table.add_row(
            info.name,
            "[green]yes[/green]" if info.available else "[red]no[/red]",
            info.version or "-",
            info.linear_solver or "-",
            info.path or "-",
        )
    console.print(table)
    for info in infos:
        if info.detail:
            console.print(f"[bold]{info.name}[/bold]: {info.detail}", markup=True, highlight=False)
    if not any(info.available for info in infos):
        console.print(
            "[red]No IPOPT solver available.[/red] Run scripts/bootstrap.sh, "
            "or install an ipopt executable (conda install -c conda-forge ipopt)."
        )
        raise typer.Exit(code=1)


#: Regions listed in the printed welfare table (the results folder has all of them).
MAX_REGIONS_SHOWN = 12


def _console():
    """A console for tables: as wide as the terminal, or 160 columns when output is piped
    (rich's default of 80 would cut the numbers of wide tables)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


def _frame_table(title, frame, fmt="{:,.4g}", units=None):
    """A table that never cuts a number (split over several when too wide: cge.console_tables)."""
    from cge.console_tables import frame_table

    return frame_table(title, frame, fmt, width=_console().width, units=units)


@app.command()
def example(
    primitives: str = typer.Option(None, "--primitives", "-p",
                                   help="YAML/JSON primitives file (default: the bundled 3x3 economy)"),
    cut: float = typer.Option(50.0, "--cut", help="cut every tariff by this percentage"),
) -> None:
    """Solve the bundled 3-region x 3-sector economy and a tariff cut; print the results."""
    import time

    from cge import Equilibrium, Primitives
    from cge.examples import three_by_three

    console = _console()
    prim = Primitives.from_file(primitives) if primitives else three_by_three()
    t0 = time.perf_counter()
    eq = Equilibrium(prim)
    base = eq.solve()
    t1 = time.perf_counter()
    new = eq.solve(tariff=prim["tariff"] * (1 - cut / 100.0))
    t2 = time.perf_counter()
    change = new.compare(base)
    console.print(f"[bold]{prim.name}[/bold]: {len(prim.regions)} regions x {len(prim.sectors)} "
                  f"sectors ({', '.join(f'{s}: {m}' for s, m in prim.market_structure.items())}); "
                  f"numeraire: {prim.numeraire.describe()}")
    console.print(f"benchmark solved in {t1 - t0:.2f} s; tariff cut of {cut:g}% solved in "
                  f"{t2 - t1:.2f} s (homotopy steps {eq.steps}); Walras residual "
                  f"{new.walras_residual:.1e}")
    console.print(_frame_table("Welfare: total in log points (100 x change in log real "
                               "income), EV in money and in % of income", change.welfare[
        ["total", "ev", "ev_pct_of_income"]]))
    firms = change.sectors[["domestic_cutoff_pct", "exporter_share_pct",
                            "average_productivity_pct", "entry_mass_pct", "output_pct"]]
    firms = firms[new.sectors["market_structure"] != "armington"]
    console.print(_frame_table("Firms (% change; melitz and krugman sectors)", firms))
    trade = change.routes[["trade_value_pct", "extensive_margin_log", "intensive_margin_log"]]
    trade = trade[trade.index.get_level_values(0) != trade.index.get_level_values(1)]
    console.print(_frame_table("Bilateral trade (destination, origin, sector)", trade))
    console.print(_frame_table("Regions after the cut", new.regions[
        ["income", "real_income", "tariff_revenue", "exports", "imports", "trade_balance"]]))


# ---------------------------------------------------------------------------
# Scenario workflow: run, check, calibrate, compare. Heavy imports stay inside
# the command functions so `cge --help` and `cge solvers` stay fast.
# ---------------------------------------------------------------------------
def _fail(console, exc, code: int = 1):
    problems = getattr(exc, "problems", None) or [str(exc)]
    console.print(f"[red bold]error[/red bold] ({type(exc).__name__}):", highlight=False)
    for p in problems:
        console.print(f"  {p}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _is_scenario(path) -> bool:
    from cge import fsio

    try:
        data = fsio.load_yaml(fsio.read_text(path), path)
    except Exception:  # noqa: BLE001 - malformed: let the scenario loader report it
        return True
    return isinstance(data, dict) and ("shocks" in data or "data" in data
                                       or "compare_market_structures" in data)


def _with_warnings(console, fn, *args):
    """``fn(*args)``, printing each ExtremeValueWarning (a valid but extreme input) once."""
    import warnings

    from rich.markup import escape

    from cge.errors import ExtremeValueWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtremeValueWarning)
        out = fn(*args)
    seen = set()
    for w in caught:
        if issubclass(w.category, ExtremeValueWarning) and str(w.message) not in seen:
            seen.add(str(w.message))
            console.print(f"[yellow]warning[/yellow]: {escape(str(w.message))}", highlight=False)
        elif not issubclass(w.category, ExtremeValueWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return out


@app.command()
def run(
    scenarios: list[str] = typer.Argument(..., help="scenario YAML file(s)"),
    outdir: str = typer.Option(None, "--outdir", "-o",
                               help="results folder (default: results/<scenario name> next to "
                               "the scenario file); with several scenarios, the folder that "
                               "receives one results/<scenario name> folder each"),
    excel: bool = typer.Option(True, "--excel/--no-excel", help="write results.xlsx"),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="write the PNG pictures"),
    strict: bool = typer.Option(False, "--strict",
                                help="exit with status 3 if an expectation of the scenario fails"),
    time_limit: float = typer.Option(None, "--time-limit",
                                     help="seconds each solve (benchmark, shock) may take; "
                                     "overrides the scenario's time_limit (default 600)"),
    subtotals: bool = typer.Option(None, "--subtotals/--no-subtotals",
                                   help="split every result into the contribution of each shock "
                                   "(default: the scenario's subtotals field)"),
    accept_implausible: bool = typer.Option(
        False, "--accept-implausible", help="run shocks whose values look like a slip "
        "(add: 10 on a tariff, cut_pct: 0.5), with a warning"),
    force: bool = typer.Option(False, "--force",
                               help="write into an existing folder that cge did not make (or "
                               "that holds other files): cge's files are replaced, nothing "
                               "else is touched"),
) -> None:
    """Run one or several scenarios: benchmark, shocks (stepped in if needed), welfare
    decomposition, and a results folder each with CSV tables, an Excel workbook and
    pictures.

    Every scenario file is validated before anything is solved. A scenario whose
    equilibrium is not found is reported and the others still run. Exit status:
    0 ok, 1 bad input (or a refused results folder), 2 no equilibrium found or an
    accounting identity fails, 3 (with --strict) an expectation fails, 4 a file could
    not be written or read, 130/143 interrupted (Ctrl-C/SIGTERM); with several
    scenarios, the largest. See docs/errors.md.

    A results folder is replaced only if cge made it; anything else is refused
    before solving (see --force). The folder is written whole or not at all.
    """
    from cge.collector import few_full_collections
    from cge.errors import FileSystemError, InputError, exit_code
    from cge.outputs import plan_runs, terminate_as_interrupt
    from cge.scenario import prepare_scenario, run_scenario

    console = _console()
    prepared_all = []
    for scenario in scenarios:
        try:
            with few_full_collections():  # (cge.collector: large models, few cycles)
                prepared_all.append(_with_warnings(
                    console, lambda s: prepare_scenario(s, accept_implausible=accept_implausible
                                                        or None), scenario))
        except (InputError, FileSystemError) as exc:
            _fail(console, exc, exit_code(exc))
    names = [p.scenario.name for p in prepared_all]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        _fail(console, InputError(f"several scenarios are named {dupes}: their results folders "
                                  "would overwrite each other; give each a unique name"), 1)
    several = len(prepared_all) > 1
    plans = []
    try:
        with terminate_as_interrupt():
            try:  # every results folder is checked and locked before anything is solved
                plans = plan_runs(prepared_all, outdir, force=force)
            except (InputError, FileSystemError) as exc:
                _fail(console, exc, exit_code(exc))
            with few_full_collections():
                status = _run_all(console, prepared_all, plans, run_scenario, several, excel,
                                  plots, strict, subtotals, time_limit)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: no debris, previous results intact
        console.print(f"[red]interrupted[/red] ({str(exc) or 'Ctrl-C'}); results folders not "
                      "written were left as they were", highlight=False)
        raise typer.Exit(code=exit_code(exc))
    finally:
        for plan in plans:
            plan.release()
        from cge.collector import ends_with_the_process, release_set_aside

        if not ends_with_the_process():
            release_set_aside()
    if status:
        raise typer.Exit(code=status)


def _run_all(console, prepared_all, plans, run_scenario, several, excel, plots, strict,
             subtotals=None, time_limit=None) -> int:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cge.errors import CGEError, FileSystemError, exit_code

    status = 0
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(),
                        console=console, transient=False)
    overall = progress.add_task(f"{len(prepared_all)} scenarios", total=len(prepared_all)) \
        if several else None
    for j, prepared in enumerate(prepared_all):
        sc = prepared.scenario
        console.print(f"[bold]{sc.name}[/bold]: {sc.description.strip()}", highlight=False)
        console.print(f"data: {prepared.data.description}; {len(sc.shocks)} shock(s); "
                      f"models: {', '.join(prepared.models)}", highlight=False)
        for warning in prepared.warnings:
            console.print(f"warning (accepted): {warning}", style="yellow", markup=False,
                          highlight=False)
        tasks = {}

        def on_progress(model, stage, lam, _name=sc.name):
            if not console.is_terminal:  # a file or a pipe: plain lines, no live bar
                from cge.progress import plain_line

                console.print(plain_line(f"{_name} / {model}" if several else model, stage, lam),
                              markup=False, highlight=False)
                return
            label = f"{_name} / {model}" if several else model
            if model not in tasks:
                tasks[model] = progress.add_task(f"{label}: benchmark", total=1.0)
            tid = tasks[model]
            if stage == "benchmark":
                progress.update(tid, description=f"{label}: solving the benchmark")
            elif stage == "subtotals":
                progress.update(tid, description=f"{label}: subtotals by shock")
            elif stage == "shock":
                progress.update(tid, description=f"{label}: shock, homotopy step at "
                                f"lambda={lam:.3g}", completed=lam)
            else:
                progress.update(tid, description=f"{label}: done", completed=1.0)

        try:
            from contextlib import nullcontext

            with progress if console.is_terminal else nullcontext():
                result = run_scenario(prepared, progress=on_progress, subtotals=subtotals,
                                      time_limit=time_limit)
                if overall is not None:
                    progress.update(overall, advance=1,
                                    description=f"scenario {j + 1} of {len(prepared_all)} done")
            if several and not console.is_terminal:
                console.print(f"scenario {j + 1} of {len(prepared_all)} done: {sc.name}",
                              markup=False, highlight=False)
        except CGEError as exc:
            code = exit_code(exc)  # 1 input, 2 solver, 4 file system
            if not several:
                _fail(console, exc, code)
            console.print(f"{sc.name}: no result: {exc}", style="red", markup=False,
                          highlight=False)
            status = max(status, code)
            if overall is not None:
                progress.update(overall, advance=1)
            continue
        _print_result(console, result)
        from cge.collector import collect_solved, set_aside_solved

        if j + 1 < len(prepared_all):
            collect_solved()  # the solved models are garbage now (cycles): before the outputs
        else:  # the last scenario: its models are set aside, not freed (cge.collector)
            set_aside_solved()
        try:
            target = result.write(plans[j], excel=excel, plots=plots)
        except FileSystemError as exc:
            if not several:
                _fail(console, exc, 4)
            console.print(f"{sc.name}: {exc}", style="red", markup=False, highlight=False)
            status = max(status, 4)
            continue
        console.print(f"results written to [bold]{target}[/bold]", highlight=False)
        if not result.identities_hold:
            bad = result.identities[~result.identities["ok"]]
            console.print(f"[red]{sc.name}: accounting identities fail:[/red]")
            console.print(bad.to_string(index=False), markup=False)
            status = max(status, 2)
        elif strict and not result.expectations_met:
            status = max(status, 3)
    return status


def _print_result(console, result) -> None:
    import pandas as pd
    from rich.markup import escape

    from cge.units import money_unit
    from cge.welfare import COMPONENTS

    money = money_unit(getattr(result.prepared.data, "units", ""))
    for label, runobj in result.runs.items():
        w = runobj.welfare.regions
        comps = [c for c in COMPONENTS if (w[c].abs() > 1e-9).any()]
        cols = ["total", *comps, "residual", "ev"]
        units = {c: "log points" for c in ["total", *comps, "residual"]}
        units["ev"] = money
        title = ("Welfare: total and components in log points (100 x change in log real "
                 "income; they add up to the total), EV in money; positive = gain")
        if label != "as_specified":
            title += f" - {label}"
        shown = w[cols]
        if len(shown) > MAX_REGIONS_SHOWN:
            order = shown["total"].abs().sort_values(ascending=False).index
            shown = shown.loc[order[:MAX_REGIONS_SHOWN]]
            title += (f"; the {MAX_REGIONS_SHOWN} largest changes of {len(w)} regions "
                      "(all in welfare.csv)")
        console.print(_frame_table(title, shown, units=units))
        st = runobj.stats
        console.print(f"  {label}: benchmark {st['benchmark_seconds']:.2f} s, shock "
                      f"{st['shock_seconds']:.2f} s, homotopy steps {st['homotopy_steps']}",
                      highlight=False)
    if len(result.runs) > 1:
        side = pd.DataFrame({k: r.welfare.regions["total"] for k, r in result.runs.items()})
        console.print(_frame_table("Welfare change (log points) by market structure", side))
    sub = getattr(result, "subtotals", None)
    if sub is not None and len(sub):
        for label, grp in sub.groupby("model", sort=False):
            wel = grp[grp["quantity"] == "welfare_log_points"]
            wide = wel.pivot_table(index="region", columns="shock", values="value", sort=False)
            order = [c for c in dict.fromkeys(wel["shock"]) if c != "integration_residual"]
            console.print(_frame_table(
                "Welfare by shock (log points; subtotals add up to the total)"
                + ("" if label == "as_specified" else f" - {label}"), wide[order]))
    if result.expectations:
        console.print("[bold]Expected qualitative results[/bold]")
        for c in result.expectations:
            mark = "[green]ok[/green]  " if c.passed else "[red]FAIL[/red]"
            model = f"[{c.model}] " if c.model != "as_specified" else ""
            val = f"{c.value:.4g}" if isinstance(c.value, float) else str(c.value)
            console.print(f"  {mark} {escape(model + c.statement)} ({val})", highlight=False)


@app.command()
def check(
    path: str = typer.Argument(..., help="a scenario YAML, a primitives YAML/JSON, a workbook "
                                         "(.xlsx) or a folder of CSV sheets"),
    production_taxes: ProductionTaxes = typer.Option(
        None, "--production-taxes", help="workbooks only: " + _PRODUCTION_TAXES_HELP),
    balance: Balance = typer.Option(None, "--balance", help="workbooks only: " + _BALANCE_HELP),
) -> None:
    """Check input without solving: a scenario file (schema, labels, shocks), primitives
    (every data check of cge.checks) or a calibration workbook or CSV folder."""
    from pathlib import Path

    from rich.console import Console

    from cge.errors import FileSystemError, InputError, exit_code

    console = Console(soft_wrap=True)
    p = Path(path)
    if not p.exists():
        _fail(console, FileNotFoundError(f"{path}: no such file or folder"), 1)
    options = _read_options(production_taxes, balance)
    workbook = p.is_dir() or p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
    if options and not workbook:
        given = ", ".join(f"--{k.replace('_', '-')}" for k in options)
        _fail(console, InputError(f"{given}: only for a workbook or a folder of CSV sheets, not "
                                  f"{path} (a scenario gives them in its data field: {{workbook: "
                                  "book.xlsx, production_taxes: ..., balance: ...})"), 1)
    try:
        if workbook:
            from cge.scenario import _calibration

            cal = _calibration()
            # every independent problem at once (calibration.diagnose)
            data = _with_warnings(console, lambda: cal.read_workbook(p, **options))
            if hasattr(cal, "check"):
                cal.check(data)
            prim = _calibrated(cal.calibrate(data))
            console.print(f"[green]ok[/green]: workbook {path} reads and calibrates", highlight=False)
            _print_read_notes(console, data, options)
            _describe_primitives(console, prim)
        elif p.suffix.lower() in (".yaml", ".yml") and _is_scenario(p):
            from cge.scenario import prepare_scenario

            prep = _with_warnings(console, prepare_scenario, p)
            sc = prep.scenario
            console.print(f"[green]ok[/green]: scenario {sc.name!r}: {len(sc.shocks)} shock(s), "
                          f"models {', '.join(prep.models)}, data {prep.data.description}",
                          highlight=False)
            for label, (base, shocked) in prep.models.items():
                changed = [k for k in base.arrays
                           if not (base[k] == shocked[k]).all() and k in base.arrays]
                console.print(f"  {label}: parameters changed by the shocks: "
                              f"{', '.join(changed) or 'none'}", highlight=False)
        else:
            from cge import Primitives

            from rich.markup import escape

            from cge.checks import extreme_values

            prim = Primitives.from_file(p)
            console.print(f"[green]ok[/green]: primitives {path} pass every check", highlight=False)
            for msg in extreme_values(prim):
                console.print("  [yellow]warning[/yellow]: " + escape(msg), highlight=False)
            _describe_primitives(console, prim)
    except (InputError, FileSystemError) as exc:
        _fail(console, exc, exit_code(exc))


def _calibrated(out):
    return out[0] if isinstance(out, tuple) else out


def _describe_primitives(console, prim) -> None:
    import numpy as np

    console.print(f"  {prim.name}: {len(prim.regions)} regions {list(prim.regions)}", highlight=False)
    console.print(f"  {len(prim.sectors)} sectors: " + ", ".join(
        f"{s} ({m}, sigma={prim['sigma'][j]:g})" for j, (s, m) in
        enumerate(prim.market_structure.items())), highlight=False)
    console.print(f"  factors: {list(prim.factors)}; numeraire: {prim.numeraire.describe()}",
                  highlight=False)
    tau = prim["tau"]
    foreign = ~np.eye(len(prim.regions), dtype=bool)[:, :, None].repeat(len(prim.sectors), 2)
    active = np.isfinite(tau) & foreign
    if active.any():
        console.print(f"  foreign routes: {int(active.sum())} active, {int((~np.isfinite(tau)).sum())} "
                      f"inactive; tau from {tau[active].min():.3g} to {tau[active].max():.3g}; "
                      f"tariffs from {prim['tariff'][active].min():.3g} to "
                      f"{prim['tariff'][active].max():.3g}", highlight=False)
    ptax = prim["production_tax"]
    if (ptax != 0).any():
        console.print(f"  production taxes: {int((ptax != 0).sum())} of {ptax.size} cells, "
                      f"rates from {ptax.min():.3g} to {ptax.max():.3g}", highlight=False)


@app.command()
def calibrate(
    workbook: str = typer.Argument(..., help="calibration workbook (.xlsx)"),
    output: str = typer.Option(None, "--output", "-o",
                               help="write the calibrated primitives to this YAML/JSON file"),
    solve: bool = typer.Option(True, "--solve/--no-solve",
                               help="solve the benchmark to confirm it replicates the data"),
    production_taxes: ProductionTaxes = typer.Option(None, "--production-taxes",
                                                     help=_PRODUCTION_TAXES_HELP),
    balance: Balance = typer.Option(None, "--balance", help=_BALANCE_HELP),
    force: bool = typer.Option(False, "--force", help="replace the --output file if it exists"),
) -> None:
    """Calibrate primitives to a workbook (needs the calibration package) and report them."""
    import json
    import time
    from pathlib import Path

    import yaml

    from cge.errors import CGEError, FileSystemError, InputError, exit_code
    from cge.scenario import _calibration

    console = _console()
    if output:  # refused before calibrating: a folder, a path under a file, a file (no --force)
        from cge.user_files import check_new_file

        try:
            check_new_file(output, force=force, option="--output")
        except (InputError, FileSystemError) as exc:
            _fail(console, exc, exit_code(exc))
    try:
        cal = _calibration()
        t0 = time.perf_counter()
        options = _read_options(production_taxes, balance)
        data = cal.read_workbook(Path(workbook), **options)
        out = cal.calibrate(data)
        prim = _calibrated(out)
        start = out[1] if isinstance(out, tuple) and len(out) > 1 else None
        console.print(f"[green]calibrated[/green] {workbook} in {time.perf_counter() - t0:.2f} s",
                      highlight=False)
        _print_read_notes(console, data, options)
        _describe_primitives(console, prim)
        if solve:
            from cge import Equilibrium

            eq = Equilibrium(prim)
            if start is not None:
                cal.set_start(eq, start)
            base = eq.solve()
            iters = eq.last_stats.iterations if eq.last_stats else 0
            console.print(f"  benchmark solved ({iters} IPOPT iterations from the calibrated "
                          f"start; max residual {base.max_residual:.1e})", highlight=False)
            console.print(_frame_table("Benchmark by region", base.regions[
                ["income", "real_income", "tariff_revenue", "exports", "imports"]]))
    except (InputError, FileSystemError) as exc:
        _fail(console, exc, exit_code(exc))
    except CGEError as exc:
        _fail(console, exc, 2)
    if output:
        from cge.fsio import atomic_write

        mapping = prim.to_mapping()
        text = json.dumps(mapping, indent=1) if output.endswith(".json") else \
            yaml.safe_dump(mapping, sort_keys=False)
        try:
            atomic_write(output, text)
        except FileSystemError as exc:
            _fail(console, exc, 4)
        console.print(f"primitives written to [bold]{output}[/bold]", highlight=False)


@app.command()
def gravity(
    table: str = typer.Argument(..., help="bilateral table (.csv, .csv.gz, .xlsx, .parquet): one "
                                "row per exporter-importer pair, domestic pairs included"),
    variables: str = typer.Option(..., "--variables", "-v",
                                  help="gravity variables, comma-separated (e.g. DIST,CNTG,INTL_BRDR)"),
    log: str = typer.Option("", "--log", help="variables that enter in logs (e.g. DIST)"),
    flow: str = typer.Option("trade", "--flow", help="column of the flows"),
    exporter: str = typer.Option("exporter", "--exporter", help="column of the exporter"),
    importer: str = typer.Option("importer", "--importer", help="column of the importer"),
    output: str = typer.Option(None, "--output", "-o",
                               help="write the estimates and the pairs (fitted flows, trade-cost "
                               "index) as CSV files into this folder"),
    workbook: str = typer.Option(None, "--workbook", "-w",
                                 help="write a one-sector benchmark workbook with the estimated "
                                 "trade costs (trade_costs sheet), ready for `cge run`"),
    flows: str = typer.Option("fitted", "--flows", help="benchmark flows: fitted (PPML) or observed"),
    sigma: float = typer.Option(7.0, "--sigma", help="benchmark: elasticity of substitution"),
    k: float = typer.Option(None, "--k", help="benchmark: Pareto shape (melitz)"),
    market_structure: str = typer.Option("armington", "--market-structure",
                                         help="benchmark: armington, krugman or melitz"),
    sector: str = typer.Option("mfg", "--sector", help="benchmark: name of the sector"),
    rename: str = typer.Option("", "--rename", help="rename region codes, e.g. ZZZ=DEU"),
    scenario: str = typer.Option(None, "--scenario", "-s",
                                 help="also write a scenario removing the --remove term"),
    remove: str = typer.Option(None, "--remove", help="the 0/1 gravity dummy the scenario removes"),
    compare_structures: str = typer.Option(None, "--compare",
                                           help="scenario: market structures side by side, e.g. "
                                           "armington,melitz"),
    melitz_sigma: float = typer.Option(None, "--melitz-sigma",
                                       help="scenario: sigma of the melitz structure of --compare"),
    melitz_k: float = typer.Option(None, "--melitz-k",
                                   help="scenario: k of the melitz structure of --compare"),
    force: bool = typer.Option(False, "--force", help="replace existing --workbook and "
                               "--scenario files, add the --output files to a folder cge did "
                               "not make"),
) -> None:
    """Estimate a structural gravity equation by PPML (exporter and importer fixed effects)
    and write trade costs for calibration: `cge gravity TABLE -v ... -w book.xlsx -s run.yaml`."""
    import os
    from pathlib import Path

    import yaml

    from cge.errors import FileSystemError, InputError, exit_code
    from cge.gravity import (GravityError, estimate_gravity, read_bilateral_table,
                             removal_scenario, write_gravity_workbook)
    from cge.report import atomic_write
    from cge.user_files import check_file_folder, check_new_file, file_folder

    console = _console()

    def items(text):
        return [x.strip() for x in text.split(",") if x.strip()]

    try:
        names = dict(x.split("=", 1) for x in items(rename)) if rename else {}
        if (scenario is None) != (remove is None):
            raise GravityError("--scenario and --remove go together (the scenario removes a term)")
        if scenario is not None and workbook is None:
            raise GravityError("--scenario needs --workbook (the scenario's data)")
        written = ["coefficients.csv", "pairs.csv"]
        if output:  # every target is checked before the estimation
            check_file_folder(output, force=force, option="--output", names=written)
        for path, option in ((workbook, "--workbook"), (scenario, "--scenario")):
            if path:
                check_new_file(path, force=force, option=option)
        fit = estimate_gravity(read_bilateral_table(table), flow=flow, exporter=exporter,
                               importer=importer, variables=items(variables), log=items(log))
        console.print(f"[green]estimated[/green] {fit.formula} on {fit.n_obs} pairs", highlight=False)
        console.print(_frame_table("PPML estimates (standard errors: " + fit.vcov + ")",
                                   fit.table(), fmt="{:,.4f}"))
        for note in fit.notes:
            console.print(f"  pyfixest: {note}", highlight=False)
        if output:
            with file_folder(output, force=force, command="gravity", option="--output") as tmp:
                fit.table().to_csv(tmp / written[0], index_label="term")
                fit.pairs.to_csv(tmp / written[1], index=False)
            console.print(f"estimates written to [bold]{output}[/bold]", highlight=False)
        if workbook:
            write_gravity_workbook(fit, workbook, flows=flows, rename=names, sigma=sigma, k=k,
                                   market_structure=market_structure, sector=sector)
            console.print(f"benchmark ({flows} flows, {market_structure}, sigma {sigma:g}) with "
                          f"the trade-cost function written to [bold]{workbook}[/bold]",
                          highlight=False)
        if scenario:
            params = {key: v for key, v in (("sigma", melitz_sigma), ("k", melitz_k)) if v is not None}
            compare = items(compare_structures) if compare_structures else None
            rel = os.path.relpath(Path(workbook).resolve(), Path(scenario).resolve().parent)
            mapping = removal_scenario(fit, remove, rel, name=Path(scenario).stem, compare=compare,
                                       structure_parameters={"melitz": params} if params else None,
                                       rename=names)
            atomic_write(scenario, yaml.safe_dump(mapping, sort_keys=False))
            console.print(f"scenario removing {remove} written to [bold]{scenario}[/bold] "
                          f"(run it with `cge run {scenario}`)", highlight=False)
    except (InputError, FileSystemError) as exc:
        _fail(console, exc, exit_code(exc))
    except ValueError as exc:
        _fail(console, exc, 1)


@app.command()
def compare(
    results: list[str] = typer.Argument(..., help="results folders of `cge run`, sweep folders "
                                        "(every member) or FOLDER:MEMBER (one member)"),
    output: str = typer.Option(None, "--output", "-o", help="also write the welfare table "
                               "(.csv or .xlsx)"),
    outdir: str = typer.Option(None, "--outdir", "-d", help="write every table (CSV) and one "
                               "picture per result into this folder"),
    html: str = typer.Option(None, "--html", help="also write a self-contained HTML report of "
                             "the comparison to this file (cge.html_report)"),
    force: bool = typer.Option(False, "--force", help="replace existing --output and --html "
                               "files, add the --outdir files to a folder cge did not make"),
) -> None:
    """Compare runs and sweep members side by side: welfare with its components, trade,
    cutoffs and prices. Runs on different data sets are refused."""
    from cge.compare import print_comparison
    from cge.errors import FileSystemError, InputError, exit_code

    console = _console()
    if html:  # refused before any work, as --output and --outdir
        from cge.user_files import check_new_file

        try:
            check_new_file(html, force=force, option="--html")
        except (InputError, FileSystemError) as exc:
            _fail(console, exc, exit_code(exc))
    print_comparison(console, results, output, outdir, fail=_fail, frame_table=_frame_table,
                     force=force)
    if html:
        from cge.html_report import write_comparison

        try:
            write_comparison(results, html)
        except (InputError, FileSystemError) as exc:
            _fail(console, exc, exit_code(exc))
        console.print(f"HTML report written to [bold]{html}[/bold]", highlight=False)


@app.command()
def sweep(
    file: str = typer.Argument(..., help="sweep file: a scenario with a 'sweep:' or 'ssa:' section"),
    outdir: str = typer.Option(None, "--outdir", "-o",
                               help="results folder (default: results/<name> next to the file)"),
    scheduler: str = typer.Option(None, "--scheduler",
                                  help="serial, local (a LocalCluster, the default) or the address "
                                  "of a Dask scheduler, tcp://host:8786 (default: $CGE_DASK_SCHEDULER)"),
    workers: int = typer.Option(None, "--workers", help="processes of the LocalCluster "
                                "(default: one per core)"),
    resume: bool = typer.Option(True, "--resume/--no-resume",
                                help="skip members already finished in the results folder"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed members again"),
    warm: bool = typer.Option(True, "--warm/--cold", help="start members from the nearest solved "
                              "member (--cold: each from its own benchmark, as `cge run`)"),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="write the pictures"),
) -> None:
    """Run a sweep (a family of scenarios) or a systematic sensitivity analysis, in
    parallel on Dask; one line per member as it finishes. Exit status: 0 every member
    solved, 1 bad input, 2 some member failed."""
    from cge.errors import InputError
    from cge.sweep import run_sweep

    console = _console()
    try:
        result = run_sweep(file, outdir, scheduler=scheduler, workers=workers, warm=warm,
                           resume=resume, retry_failed=retry_failed, plots=plots,
                           progress=lambda line: print(line, flush=True))
    except InputError as exc:
        _fail(console, exc, 1)
    from cge.sweep import print_summary

    print_summary(console, result)
    if result.failed:
        raise typer.Exit(code=2)


@app.command()
def national(
    sam: str = typer.Argument(..., help="the national SAM as CSV: first column and header the "
                              "account names; rows receive, columns pay"),
    accounts: str = typer.Option(..., "--accounts", "-a", help="CSV with columns account, type, "
                                 "label (one rest_of_world, household and savings_investment)"),
    region: str = typer.Option(..., "--region", "-r", help="name of the home region"),
    output: str = typer.Option(..., "--output", "-o", help="the workbook to write (.xlsx, or a "
                               "folder of CSV sheets when the name has no suffix)"),
    parameters: str = typer.Option(None, "--parameters", "-p", help="CSV: sector, sigma, k, "
                                   "market_structure, delta (default: illustrative values)"),
    row_scale: float = typer.Option(9.0, "--row-scale", help="the constructed rest of the "
                                    "world's size relative to the home region"),
    row_output: str = typer.Option("scaled", "--row-output", help="scaled or leontief: how the "
                                   "rest of the world's gross output is set"),
    units: str = typer.Option("", "--units", help="the SAM's currency and year, e.g. "
                              "'billion ZAR (2015)' (shown with every money column)"),
    force: bool = typer.Option(False, "--force", help="replace an existing --output workbook; "
                               "add the CSV sheets to a folder cge did not make"),
) -> None:
    """Turn a single-country SAM with a rest-of-world account into a two-region workbook
    (the home region and a constructed rest of the world) for `cge check`, `cge calibrate`
    and a scenario's data field (docs/calibration.md, "A national SAM")."""
    from cge.errors import FileSystemError, InputError, exit_code

    console = _console()
    try:
        from pathlib import Path

        from calibration.national import build_national_workbook, national_workbook_parts

        from cge.user_files import check_new_file, file_folder

        options = dict(parameters=parameters, row_scale=row_scale, output=row_output, units=units)
        if Path(output).suffix == "":  # a folder of CSV sheets
            from calibration.csv_io import write_csv_folder

            with file_folder(output, force=force, command="national", option="--output") as tmp:
                write_csv_folder(tmp, **national_workbook_parts(sam, accounts, region, **options))
            path = Path(output)
        else:
            check_new_file(output, force=force, option="--output")
            path = build_national_workbook(sam, accounts, region, output, **options)
    except (InputError, FileSystemError) as exc:
        _fail(console, exc, exit_code(exc))
    console.print(f"[green]written[/green] {path}: {region} and ROW (constructed); next: "
                  f"cge check {path}", highlight=False)


if __name__ == "__main__":  # python -m cge.cli
    app()
