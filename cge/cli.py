"""Command-line interface: ``cge <command>`` (console script ``cge = cge.cli:app``)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
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

    from rich.console import Console

    from cge import Equilibrium, Primitives
    from cge.examples import three_by_three

    console = Console()
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
# MORE COMMANDS GO HERE (added by other modules/engineers): `example`, `run`, ...
# Register them on `app` with @app.command(); keep heavy imports (pyomo,
# pandas, the model code) inside the command functions so `cge --help` and
# `cge solvers` stay fast.
# ---------------------------------------------------------------------------


if __name__ == "__main__":  # python -m cge.cli
    app()
