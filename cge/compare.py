"""Comparing runs: any number of `cge run` results folders and sweep members, side by side.

A *run* is named on the command line as

* a results folder of ``cge run`` (``results/tariff_war``);
* a sweep's results folder (``results/levels``): every member of it;
* one member of a sweep: ``results/levels:t=0.2`` (folder, colon, member name).

Every run is read into the long table of :func:`cge.sweep.long_table`; runs on
different data sets (different data checksums in ``run_info.json`` /
``sweep_info.json``, or different regions) are refused with a message naming
them, since their differences would mix two economies. :func:`compare_runs`
returns the tables (runs as columns):

``welfare``     welfare change and every component (log points: they add up), EV
                (money), by region;
``trade``       exports, imports and the trade balance by region (% change);
``cutoffs``     domestic cutoff, exporter share and average productivity (%) by region
                and sector with firms (melitz; krugman, where every firm produces: 0);
``prices``      factor prices and the consumer price index (% change) by region;

and :func:`plot_comparison` draws one picture per table with the runs side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["Run", "read_run", "read_runs", "compare_runs", "welfare_table", "plot_comparison",
           "write_comparison", "comparison_units", "welfare_units", "PICTURES"]

PICTURES = {"welfare": "compare_welfare.png", "components": "compare_welfare_components.png",
            "trade": "compare_trade.png", "cutoffs": "compare_cutoffs.png",
            "prices": "compare_prices.png"}


@dataclass
class Run:
    """One run: a label, its long table, and what data it was computed on."""

    label: str
    table: pd.DataFrame
    data: str
    data_sha256: str | None
    source: str
    info: dict = field(default_factory=dict)  # identities hold, expectations met
    money: str = "money of the benchmark"  # the unit of EV and other money columns


def _tables_of_folder(folder: Path) -> dict[str, pd.DataFrame]:
    from .report import read_results

    data = read_results(folder)
    tables = {}
    for name, frame in data.items():
        if isinstance(frame, pd.DataFrame):
            frame = frame.copy()
            for col in frame.columns:
                if frame[col].dtype == object:
                    frame[col] = frame[col].fillna("")
            tables[name] = frame
    return tables, data.get("run_info", {})


def read_run(spec: str) -> list[Run]:
    """The run(s) named by ``spec`` (see the module docstring)."""
    from .sweep import KEYS, long_table, read_long_csv

    folder, member = Path(spec), None
    if not folder.exists() and ":" in spec:
        head, member = spec.rsplit(":", 1)
        folder = Path(head)
    if (folder / "sweep_info.json").is_file():
        info = json.loads((folder / "sweep_info.json").read_text())
        path = folder / "results.parquet"
        table = pd.read_parquet(path) if path.is_file() else read_long_csv(folder / "results.csv")
        data = info.get("data") or {}
        members = list(dict.fromkeys(table["member"]))
        if member is not None:
            if member not in members:
                raise InputError(f"{spec}: sweep {info.get('sweep')!r} has no solved member "
                                 f"{member!r}; members: {members[:10]}"
                                 + (" ..." if len(members) > 10 else ""))
            members = [member]
        name = folder.resolve().name
        return [Run(f"{name}:{m}", table[table["member"] == m][list(KEYS) + ["variable", "value"]]
                    .reset_index(drop=True), data.get("description", "?"), data.get("sha256"),
                    spec, money=data.get("money_unit") or Run.money) for m in members]
    if member is not None:
        raise InputError(f"{spec}: {folder} is not a sweep's results folder (no sweep_info.json)")
    tables, info = _tables_of_folder(folder)  # InputError naming a damaged folder
    try:
        table = long_table(tables)
    except KeyError as exc:
        raise InputError(f"{folder}: results table {exc} missing or incomplete; run the "
                         "scenario again") from None
    return [Run(folder.resolve().name, table, info.get("data", "?"), info.get("data_sha256"),
                spec, {k: info.get(k) for k in ("identities_hold", "expectations_met")},
                money=info.get("money_unit") or Run.money)]


def read_runs(specs) -> list[Run]:
    """Every run named, labels made unique, all on the same data (else :class:`InputError`)."""
    runs: list[Run] = []
    for spec in specs:
        runs += read_run(str(spec))
    seen: dict[str, int] = {}
    for run in runs:
        if run.label in seen:
            seen[run.label] += 1
            parent = Path(run.source.split(":")[0]).resolve().parent.name
            run.label = f"{parent}/{run.label}"
        seen.setdefault(run.label, 1)
    check_same_data(runs)
    return runs


def check_same_data(runs: list[Run]) -> None:
    """Refuse runs on different data sets, naming each run and its data."""
    shas = {r.data_sha256 for r in runs if r.data_sha256}
    regions = {r.label: tuple(sorted(set(r.table["region"]))) for r in runs}
    if len(shas) > 1 or len(set(regions.values())) > 1:
        lines = [f"{r.label}: {r.data} (sha256 {str(r.data_sha256)[:12]}..., regions "
                 f"{list(regions[r.label])[:6]}{' ...' if len(regions[r.label]) > 6 else ''})"
                 for r in runs]
        raise InputError(["the runs use different data sets, so their results are not "
                          "comparable; compare runs on the same data:"] + lines)


def _side_by_side(runs: list[Run], table: str, variables, index) -> pd.DataFrame:
    cols = {}
    for run in runs:
        t = run.table
        for model, grp in t[(t["table"] == table) & t["variable"].isin(variables)].groupby(
                "model", sort=False):
            label = run.label if model == "as_specified" else f"{run.label}/{model}"
            cols[label] = grp.set_index(index + ["variable"])["value"]
    if not cols:
        return pd.DataFrame()
    frame = pd.DataFrame(cols)
    order = {v: j for j, v in enumerate(variables)}
    frame = frame.reset_index()
    frame["_order"] = frame["variable"].map(order)
    frame = frame.sort_values(index[:1] + ["_order"] + index[1:], kind="stable")
    return frame.drop(columns="_order").set_index(index + ["variable"])


def welfare_table(runs: list[Run]) -> pd.DataFrame:
    """Welfare change (``welfare_log_points``: the welfare table's ``total``, log points)
    and EV (money) by region, columns ``(run, measure)`` (the table ``cge compare -o``
    writes)."""
    cols = {}
    for run in runs:
        t = run.table
        w = t[t["table"] == "welfare"]
        for model, grp in w.groupby("model", sort=False):
            label = run.label if model == "as_specified" else f"{run.label}/{model}"
            for measure, variable in (("welfare_log_points", "total"), ("ev", "ev")):
                cols[(label, measure)] = grp[grp["variable"] == variable].set_index("region")["value"]
    frame = pd.DataFrame(cols)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["run", "measure"])
    frame.index.name = "region"
    return frame


#: The table of the long results each comparison table's variables come from.
_SOURCES = {"welfare": "welfare", "trade": "summary", "cutoffs": "firms", "prices": "prices"}


def comparison_units(tables: dict[str, pd.DataFrame], money: str) -> pd.DataFrame:
    """The data dictionary of the comparison tables: one row per (table, variable) with
    its unit and meaning (:func:`cge.units.unit_of`), as ``units.csv`` of a results folder."""
    from .units import unit_of

    rows = []
    for name, frame in tables.items():
        if not len(frame):
            continue
        for var in dict.fromkeys(frame.index.get_level_values("variable")):
            try:
                unit, meaning = unit_of(var, _SOURCES.get(name, name), money)
            except KeyError:
                from .units import UNDOCUMENTED

                unit, meaning = UNDOCUMENTED, "no unit documented in cge.units for this variable"
            rows.append({"table": f"compare_{name}", "variable": var, "unit": unit,
                         "meaning": meaning})
    return pd.DataFrame(rows, columns=["table", "variable", "unit", "meaning"])


def welfare_units(money: str) -> pd.DataFrame:
    """Unit and meaning of the columns of :func:`welfare_table` (``cge compare -o``)."""
    from .units import unit_of

    rows = [{"column": f"<run>:{measure}", **dict(zip(("unit", "meaning"),
                                                     unit_of(var, "welfare", money)))}
            for measure, var in (("welfare_log_points", "total"), ("ev", "ev"))]
    return pd.DataFrame(rows, columns=["column", "unit", "meaning"])


def compare_runs(runs: list[Run]) -> dict[str, pd.DataFrame]:
    """The comparison tables (see the module docstring)."""
    from .welfare import COMPONENTS

    # one measure: the total and its components in log points (they add up), EV in money
    welfare_vars = ["total"] + list(COMPONENTS) + ["residual", "ev"]
    out = {
        "welfare": _side_by_side(runs, "welfare", welfare_vars, ["region"]),
        "trade": _side_by_side(runs, "summary", ["exports_change_pct", "imports_change_pct",
                                                 "trade_balance_base", "trade_balance_new"],
                               ["region"]),
        "cutoffs": _side_by_side(runs, "firms", ["domestic_cutoff_change_pct",
                                                 "exporter_share_change_pct",
                                                 "average_productivity_change_pct"],
                                 ["region", "sector"]),
        "prices": _side_by_side(runs, "prices", ["factor_price_change_pct", "cpi_change_pct"],
                                ["region", "factor"]),
    }
    # components that are zero in every run are left out of the welfare table
    w = out["welfare"]
    if len(w):
        var = w.index.get_level_values("variable")
        keep = ~np.asarray(var.isin(list(COMPONENTS))) | (w.abs() > 1e-12).any(axis=1).to_numpy()
        out["welfare"] = w[keep]
    # cutoffs exist in sectors with firms only: drop rows without a number
    out["cutoffs"] = out["cutoffs"].dropna(how="all")
    return out


# ======================================================================
# Pictures
# ======================================================================
def _bars(frame: pd.DataFrame, title: str, ylabel: str, path: Path) -> Path:
    """Grouped bars: one group per row of ``frame``, one bar per run (column)."""
    from .report import MANY_BARS, _plt, _save

    plt = _plt()
    labels = [" / ".join(str(x) for x in (i if isinstance(i, tuple) else (i,)) if x != "")
              for i in frame.index]
    runs = list(frame.columns)
    horizontal = len(labels) * len(runs) > MANY_BARS
    n = len(labels)
    if horizontal:
        fig, ax = plt.subplots(figsize=(10, 0.25 * n * max(1, len(runs)) + 1.8))
    else:
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * n * max(1, len(runs)) + 2), 4.8))
    x = np.arange(n)
    width = 0.8 / max(1, len(runs))
    for k, run in enumerate(runs):
        pos = x + (k - (len(runs) - 1) / 2) * width
        vals = frame[run].to_numpy(float)
        (ax.barh if horizontal else ax.bar)(pos, np.nan_to_num(vals), width, label=run)
    if horizontal:
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_yticks(x, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(ylabel)
    else:
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xticks(x, labels, rotation=30 if n > 5 else 0, ha="right" if n > 5 else "center",
                      fontsize=8)
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=1 if len(runs) < 8 else 2)
    fig.tight_layout()
    return _save(fig, path)


def plot_comparison(tables: dict[str, pd.DataFrame], outdir: str | Path) -> list[Path]:
    """One picture per result (welfare, its components, trade, cutoffs, prices)."""
    outdir = Path(outdir)
    out = []
    w = tables["welfare"]
    if len(w):
        total = w.xs("total", level="variable")
        out.append(_bars(total, "Welfare change by region (log points)",
                         "log points (100 x change in log real income)",
                         outdir / PICTURES["welfare"]))
        comps = w[~w.index.get_level_values("variable").isin(["ev", "total"])]
        if len(comps):
            out.append(_bars(comps, "Welfare components by region (log points; they add up "
                             "to the total)", "log points", outdir / PICTURES["components"]))
    t = tables["trade"]
    if len(t):
        t = t[t.index.get_level_values("variable").isin(["exports_change_pct",
                                                         "imports_change_pct"])]
        out.append(_bars(t, "Exports and imports by region", "% change", outdir / PICTURES["trade"]))
    c = tables["cutoffs"]
    if len(c):
        c = c[c.index.get_level_values("variable") == "domestic_cutoff_change_pct"]
        if len(c):
            out.append(_bars(c.droplevel("variable"), "Domestic cutoffs (sectors with firms)",
                             "% change", outdir / PICTURES["cutoffs"]))
    p = tables["prices"]
    if len(p):
        out.append(_bars(p.droplevel("variable"), "Factor prices and CPI", "% change",
                         outdir / PICTURES["prices"]))
    return out


def write_comparison(tables: dict[str, pd.DataFrame], outdir: str | Path,
                     plots: bool = True, *, force: bool = False,
                     money: str = Run.money) -> Path:
    """The comparison tables as ``compare_<name>.csv``, their units (``units.csv``:
    :func:`comparison_units`) and the pictures, in ``outdir`` (new, empty or made by cge;
    another folder only with ``force``: :mod:`cge.user_files`). Every file is written
    before any of them is moved into ``outdir``."""
    from .user_files import file_folder

    outdir = Path(outdir)
    with file_folder(outdir, force=force, command="compare", option="--outdir") as tmp:
        for name, frame in tables.items():
            frame.to_csv(tmp / f"compare_{name}.csv")
        comparison_units(tables, money).to_csv(tmp / "units.csv", index=False)
        if plots:
            plot_comparison(tables, tmp)
    return outdir


def print_comparison(console, specs, output=None, outdir=None, *, fail, frame_table,
                     force: bool = False) -> None:
    """What `cge compare` does: check the output file and every run (a damaged results
    folder is named with what is wrong), print the tables, write what was asked. An
    existing output file is replaced, and a folder cge did not make receives the
    tables, only with ``force`` (:mod:`cge.user_files`)."""
    from .errors import FileSystemError, exit_code
    from .fsio import atomic_write

    try:
        if output:
            from .user_files import check_new_file

            check_new_file(output, force=force, option="--output")
        if outdir:
            from .user_files import check_file_folder

            check_file_folder(outdir, force=force, option="--outdir",
                              names=[f"compare_{n}.csv" for n in
                                     ("welfare", "trade", "cutoffs", "prices")] + ["units.csv"])
    except (InputError, FileSystemError) as exc:
        fail(console, exc, exit_code(exc))
    try:
        runs = read_runs(specs)
    except (InputError, FileSystemError) as exc:
        fail(console, exc, exit_code(exc))
    tables = compare_runs(runs)
    table = welfare_table(runs)
    money = "; ".join(sorted({r.money for r in runs}))
    console.print(frame_table("Welfare change by run (log points: 100 x change in log real "
                              "income)", table.xs("welfare_log_points", axis=1, level="measure")))
    console.print(frame_table(f"Equivalent variation ({money})",
                              table.xs("ev", axis=1, level="measure")))
    titles = {"welfare": "Welfare total and components (log points; they add up), EV (money)",
              "trade": "Trade by region",
              "cutoffs": "Firms: cutoffs, exporter shares, productivity (% change)",
              "prices": "Factor prices and CPI (% change)"}
    for name, frame in tables.items():
        if name == "welfare":
            frame = frame[~frame.index.get_level_values("variable").isin(["total", "ev"])]
            titles[name] = "Welfare components (log points; they add up to the total)"
        if len(frame) and len(frame) <= 60:
            console.print(frame_table(titles[name], frame))
        elif len(frame):
            console.print(f"{titles[name]}: {len(frame)} rows (written with --outdir)",
                          highlight=False)
    for run in runs:
        extra = "".join(f", {k.replace('_', ' ')}: {v}" for k, v in run.info.items())
        console.print(f"  {run.label}: data {run.data} (sha256 {str(run.data_sha256)[:12]}...)"
                      f"{extra}", highlight=False)
    try:
        if output:
            flat = table.copy()
            flat.columns = [f"{run}:{measure}" for run, measure in flat.columns]
            if output.endswith(".xlsx"):  # with the units, as results.xlsx
                def excel(p):
                    with pd.ExcelWriter(p, engine="xlsxwriter") as xw:
                        flat.to_excel(xw, sheet_name="welfare")
                        welfare_units(money).to_excel(xw, sheet_name="units", index=False)

                atomic_write(output, excel)
            else:  # one CSV file carries its units in its header: EV in the data's money
                flat.columns = [f"{c} ({money})" if c.endswith(":ev") else c
                                for c in flat.columns]
                atomic_write(output, lambda p: flat.to_csv(p))
            console.print(f"comparison written to [bold]{output}[/bold]", highlight=False)
        if outdir:
            write_comparison(tables, outdir, force=force, money=money)
            console.print(f"tables and pictures written to [bold]{outdir}[/bold]",
                          highlight=False)
    except (InputError, FileSystemError) as exc:
        fail(console, exc, exit_code(exc))
