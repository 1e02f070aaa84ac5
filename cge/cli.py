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


def _frame_table(title, frame, fmt="{:,.4g}"):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    names = list(frame.index.names)
    for name in names:
        table.add_column(str(name), no_wrap=True)
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for idx, row in frame.iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        cells = [fmt.format(v) if isinstance(v, (int, float)) else str(v) for v in row]
        table.add_row(*[str(i) for i in idx], *cells)
    return table


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
    console.print(_frame_table("Welfare", change.welfare[
        ["welfare_change_pct", "equivalent_variation", "ev_pct_of_income"]]))
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
    import yaml

    try:
        data = yaml.safe_load(open(path))
    except Exception:  # noqa: BLE001 - malformed: let the scenario loader report it
        return True
    return isinstance(data, dict) and ("shocks" in data or "data" in data
                                       or "compare_market_structures" in data)


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
) -> None:
    """Run one or several scenarios: benchmark, shocks (stepped in if needed), welfare
    decomposition, and a results folder each with CSV tables, an Excel workbook and
    pictures.

    Every scenario file is validated before anything is solved. A scenario whose
    equilibrium is not found is reported and the others still run. Exit status:
    0 ok, 1 bad input, 2 no equilibrium found or an accounting identity fails, 3
    (with --strict) an expectation fails; with several scenarios, the largest.
    """
    from pathlib import Path

    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cge.errors import CGEError, InputError
    from cge.scenario import prepare_scenario, run_scenario

    console = _console()
    prepared_all = []
    for scenario in scenarios:
        try:
            prepared_all.append(prepare_scenario(scenario))
        except InputError as exc:
            _fail(console, exc, 1)
    names = [p.scenario.name for p in prepared_all]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        _fail(console, InputError(f"several scenarios are named {dupes}: their results folders "
                                  "would overwrite each other; give each a unique name"), 1)
    several = len(prepared_all) > 1
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
        tasks = {}

        def on_progress(model, stage, lam, _name=sc.name):
            label = f"{_name} / {model}" if several else model
            if model not in tasks:
                tasks[model] = progress.add_task(f"{label}: benchmark", total=1.0)
            tid = tasks[model]
            if stage == "benchmark":
                progress.update(tid, description=f"{label}: solving the benchmark")
            elif stage == "shock":
                progress.update(tid, description=f"{label}: shock, homotopy step at "
                                f"lambda={lam:.3g}", completed=lam)
            else:
                progress.update(tid, description=f"{label}: done", completed=1.0)

        try:
            with progress:
                result = run_scenario(prepared, progress=on_progress, time_limit=time_limit)
                if overall is not None:
                    progress.update(overall, advance=1,
                                    description=f"scenario {j + 1} of {len(prepared_all)} done")
        except CGEError as exc:
            code = 2 if not isinstance(exc, InputError) else 1
            if not several:
                _fail(console, exc, code)
            console.print(f"{sc.name}: no result: {exc}", style="red", markup=False,
                          highlight=False)
            status = max(status, code)
            if overall is not None:
                progress.update(overall, advance=1)
            continue
        base = prepared.loaded.path.parent if prepared.loaded.path else Path.cwd()
        if outdir:
            target = Path(outdir) / sc.name if several else Path(outdir)
        else:
            target = base / "results" / sc.name
        result.write(target, excel=excel, plots=plots)
        _print_result(console, result)
        console.print(f"results written to [bold]{target}[/bold]", highlight=False)
        if not result.identities_hold:
            bad = result.identities[~result.identities["ok"]]
            console.print(f"[red]{sc.name}: accounting identities fail:[/red]")
            console.print(bad.to_string(index=False), markup=False)
            status = max(status, 2)
        elif strict and not result.expectations_met:
            status = max(status, 3)
    if status:
        raise typer.Exit(code=status)


def _print_result(console, result) -> None:
    import pandas as pd
    from rich.markup import escape

    from cge.welfare import COMPONENTS

    for label, runobj in result.runs.items():
        w = runobj.welfare.regions
        cols = ["welfare_change_pct", "ev"] + [c for c in COMPONENTS if (w[c].abs() > 1e-9).any()]
        cols.append("residual")
        title = "Welfare (components in % log points; positive = gain)"
        if label != "as_specified":
            title += f" - {label}"
        shown = w[cols]
        if len(shown) > MAX_REGIONS_SHOWN:
            order = shown["welfare_change_pct"].abs().sort_values(ascending=False).index
            shown = shown.loc[order[:MAX_REGIONS_SHOWN]]
            title += (f"; the {MAX_REGIONS_SHOWN} largest changes of {len(w)} regions "
                      "(all in welfare.csv)")
        console.print(_frame_table(title, shown))
        st = runobj.stats
        console.print(f"  {label}: benchmark {st['benchmark_seconds']:.2f} s, shock "
                      f"{st['shock_seconds']:.2f} s, homotopy steps {st['homotopy_steps']}",
                      highlight=False)
    if len(result.runs) > 1:
        side = pd.DataFrame({k: r.welfare.regions["welfare_change_pct"] for k, r in result.runs.items()})
        console.print(_frame_table("Welfare change (%) by market structure", side))
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

    from cge.errors import InputError

    console = Console(soft_wrap=True)
    p = Path(path)
    if not p.exists():
        _fail(console, FileNotFoundError(f"{path}: no such file or folder"), 1)
    options = _read_options(production_taxes, balance)
    workbook = p.is_dir() or p.suffix.lower() in (".xlsx", ".xlsm")
    if options and not workbook:
        given = ", ".join(f"--{k.replace('_', '-')}" for k in options)
        _fail(console, InputError(f"{given}: only for a workbook or a folder of CSV sheets, not "
                                  f"{path} (a scenario gives them in its data field: {{workbook: "
                                  "book.xlsx, production_taxes: ..., balance: ...})"), 1)
    try:
        if workbook:
            from cge.scenario import _calibration

            cal = _calibration()
            data = cal.read_workbook(p, **options)
            if hasattr(cal, "check"):
                cal.check(data)
            prim = _calibrated(cal.calibrate(data))
            console.print(f"[green]ok[/green]: workbook {path} reads and calibrates", highlight=False)
            _print_read_notes(console, data, options)
            _describe_primitives(console, prim)
        elif p.suffix.lower() in (".yaml", ".yml") and _is_scenario(p):
            from cge.scenario import prepare_scenario

            prep = prepare_scenario(p)
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

            prim = Primitives.from_file(p)
            console.print(f"[green]ok[/green]: primitives {path} pass every check", highlight=False)
            _describe_primitives(console, prim)
    except InputError as exc:
        _fail(console, exc, 1)


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
) -> None:
    """Calibrate primitives to a workbook (needs the calibration package) and report them."""
    import json
    import time
    from pathlib import Path

    import yaml

    from cge.errors import CGEError, InputError
    from cge.scenario import _calibration

    console = _console()
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
    except InputError as exc:
        _fail(console, exc, 1)
    except CGEError as exc:
        _fail(console, exc, 2)
    if output:
        from cge.report import atomic_write

        mapping = prim.to_mapping()
        text = json.dumps(mapping, indent=1) if output.endswith(".json") else \
            yaml.safe_dump(mapping, sort_keys=False)
        atomic_write(output, text)
        console.print(f"primitives written to [bold]{output}[/bold]", highlight=False)


@app.command()
def compare(
    results: list[str] = typer.Argument(..., help="results folders written by `cge run`"),
    output: str = typer.Option(None, "--output", "-o", help="also write the table (.csv or .xlsx)"),
) -> None:
    """Put the welfare results of several runs side by side."""

    from cge.report import atomic_write, compare_results, read_results

    console = _console()
    try:
        table = compare_results(results)
    except FileNotFoundError as exc:
        _fail(console, exc, 1)
    wel = table.xs("welfare_change_pct", axis=1, level="measure")
    console.print(_frame_table("Welfare change (% of real income) by run", wel))
    ev = table.xs("ev", axis=1, level="measure")
    console.print(_frame_table("Equivalent variation (benchmark numeraire units)", ev))
    for folder in results:
        info = read_results(folder)["run_info"]
        ok = info.get("identities_hold"), info.get("expectations_met")
        console.print(f"  {folder}: scenario {info.get('scenario')!r}, data sha256 "
                      f"{str(info.get('data_sha256'))[:12]}..., identities hold: {ok[0]}, "
                      f"expectations met: {ok[1]}", highlight=False)
    if output:
        flat = table.copy()
        flat.columns = [f"{run}:{measure}" for run, measure in flat.columns]
        if output.endswith(".xlsx"):
            atomic_write(output, lambda p: flat.to_excel(p, engine="openpyxl"))
        else:
            atomic_write(output, lambda p: flat.to_csv(p))
        console.print(f"comparison written to [bold]{output}[/bold]", highlight=False)


if __name__ == "__main__":  # python -m cge.cli
    app()
