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


# ---------------------------------------------------------------------------
# MORE COMMANDS GO HERE (added by other modules/engineers): `example`, `run`, ...
# Register them on `app` with @app.command(); keep heavy imports (pyomo,
# pandas, the model code) inside the command functions so `cge --help` and
# `cge solvers` stay fast.
# ---------------------------------------------------------------------------


if __name__ == "__main__":  # python -m cge.cli
    app()
