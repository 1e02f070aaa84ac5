"""Outputs of a scenario run: tidy tables (CSV, Parquet), one Excel workbook, pictures.

:func:`write_results` writes a results folder::

    <outdir>/
      summary.csv  welfare.csv  welfare_sectors.csv  trade.csv  firms.csv
      prices_factors.csv  identities.csv  expectations.csv   (and .parquet if pyarrow is installed)
      units.csv  (subtotals.csv with subtotals by shock)
      results.xlsx      sheets summary, welfare, welfare_sectors, trade, firms,
                        prices_factors, (subtotals,) units, run_info
      results.nc        every table in one netCDF file, with units (cge.formats)
      report.html       a self-contained report (cge.html_report)
      scenario.yaml     the scenario text as run
      run_info.json     checksums, versions, solver statistics
      welfare_by_region.png  cutoffs_productivity.png  trade_heatmap.png  ev_by_region.png

Every table is tidy: one row per observation (region, route, ...), one
column per variable, a ``model`` column naming the market structure
(``as_specified`` unless the scenario compares structures). Each Excel sheet
holds exactly the table of the CSV file of the same name.

Writing is atomic (:mod:`cge.fsio`): the folder is assembled in a temporary
sibling folder and moved into place in one rename, and each file inside is
written to a temporary name and renamed, so an interrupted run leaves either the
previous results or the new ones, never a half-written file. Which folders may
be replaced, the lock and what happens when the disk is full: :mod:`cge.outputs`.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from .fsio import (atomic_directory, atomic_write, file_checksums, json_default, sha256_bytes,
                   sha256_canonical)

SHEETS = ("summary", "welfare", "welfare_sectors", "trade", "firms", "prices_factors")
PLOTS = ("welfare_by_region.png", "cutoffs_productivity.png", "trade_heatmap.png",
         "ev_by_region.png")

__all__ = ["SHEETS", "PLOTS", "tidy_tables", "run_info", "write_results", "write_results_into",
           "write_workbook",
           "atomic_write", "atomic_directory", "plot_welfare", "plot_firms", "plot_trade_heatmap",
           "plot_ev",
           "read_results", "compare_results"]


# ======================================================================
# Tidy tables
# ======================================================================
def _pct(new, old):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (np.asarray(new, float) / np.asarray(old, float) - 1.0)


def _with_model(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    out = frame.reset_index()
    out.insert(0, "model", label)
    return out


def tidy_tables(result) -> dict[str, pd.DataFrame]:
    """The tables of a :class:`~cge.scenario.ScenarioResult`, one row per observation."""
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in SHEETS}
    for label, run in result.runs.items():
        b, n = run.base, run.new
        nreg = n.regions.reindex(b.regions.index)
        wel = run.welfare.regions
        s = pd.DataFrame(index=b.regions.index)
        # one welfare measure (cge.units.WELFARE_MEASURE): log points first; the same
        # change in % beside it, labelled as such in units.csv
        s["welfare_log_points"] = wel["total"]
        s["welfare_change_pct"] = wel["welfare_change_pct"]
        s["ev"] = wel["ev"]
        s["ev_pct_of_income"] = wel["ev_pct_of_income"]
        for col in ("income", "cpi", "real_income", "tariff_revenue", "production_tax_revenue",
                    "exports", "imports", "trade_balance"):
            s[f"{col}_base"] = b.regions[col]
            s[f"{col}_new"] = nreg[col]
        for col in ("income", "cpi", "exports", "imports"):
            s[f"{col}_change_pct"] = _pct(nreg[col], b.regions[col])
        parts["summary"].append(_with_model(s, label))

        parts["welfare"].append(_with_model(wel, label))
        parts["welfare_sectors"].append(_with_model(run.welfare.sectors, label))

        rb, rn = b.routes, n.routes.reindex(b.routes.index)
        t = pd.DataFrame(index=rb.index)
        for col in ("trade_value", "trade_share", "sellers", "cutoff", "tariff", "tau"):
            t[f"{col}_base"] = rb[col]
            t[f"{col}_new"] = rn[col]
        t["trade_value_change_pct"] = _pct(rn["trade_value"], rb["trade_value"])
        with np.errstate(divide="ignore", invalid="ignore"):
            t["extensive_margin_log"] = np.log(rn["sellers"] / rb["sellers"])
            t["intensive_margin_log"] = np.log((rn["trade_value"] / rn["sellers"])
                                               / (rb["trade_value"] / rb["sellers"]))
        parts["trade"].append(_with_model(t, label))

        sb, sn = b.sectors, n.sectors.reindex(b.sectors.index)
        f = pd.DataFrame(index=sb.index)
        f["market_structure"] = sb["market_structure"]
        for col in ("output", "entry_mass", "producers", "domestic_cutoff", "exporter_share",
                    "average_productivity"):
            f[f"{col}_base"] = sb[col]
            f[f"{col}_new"] = sn[col]
            f[f"{col}_change_pct"] = _pct(sn[col], sb[col])
        parts["firms"].append(_with_model(f, label))

        rows = []
        fb, fn = b.factors, n.factors.reindex(b.factors.index)
        for (r, fac), val in fb["factor_price"].items():
            rows.append((r, "factor_price", fac, val, fn.loc[(r, fac), "factor_price"]))
        for (r, sec) in sb.index:
            rows.append((r, "price_index", sec, sb.loc[(r, sec), "price_index"],
                         sn.loc[(r, sec), "price_index"]))
            rows.append((r, "input_price", sec, sb.loc[(r, sec), "input_price"],
                         sn.loc[(r, sec), "input_price"]))
        for r in b.regions.index:
            rows.append((r, "cpi", "", b.regions.loc[r, "cpi"], nreg.loc[r, "cpi"]))
        p = pd.DataFrame(rows, columns=["region", "price", "item", "base", "new"])
        p["change_pct"] = _pct(p["new"], p["base"])
        p.insert(0, "model", label)
        parts["prices_factors"].append(p)
    tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    tables["identities"] = result.identities.copy() if result.identities is not None else pd.DataFrame()
    tables["expectations"] = pd.DataFrame(
        [{"model": c.model, "statement": c.statement, "value": c.value, "passed": c.passed}
         for c in result.expectations],
        columns=["model", "statement", "value", "passed"])
    if getattr(result, "subtotals", None) is not None:
        tables["subtotals"] = result.subtotals
    return tables


# ======================================================================
# Run information
# ======================================================================
def _module_version(name: str) -> str:
    """The version of package ``name``: its ``__version__`` if it is imported, else its
    installed metadata (importing cyipopt, which loads scipy.optimize, or openpyxl only to
    read a version took most of a second of a run)."""
    import sys
    from importlib import metadata

    module = sys.modules.get(name)
    if module is not None:
        return module.__version__
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return __import__(name).__version__


def _versions() -> dict[str, str]:
    import pyomo

    import cge

    out = {"python": platform.python_version(), "cge": cge.__version__,
           "pyomo": pyomo.version.version}
    try:
        out["cyipopt"] = _module_version("cyipopt")
    except Exception:  # noqa: BLE001 - optional
        pass
    try:
        from .toolchain import detect_solvers

        for info in detect_solvers():
            if info.available:
                out["ipopt"] = f"{info.version} ({info.name}, {info.linear_solver})"
                break
    except Exception:  # noqa: BLE001 - reporting only
        out.setdefault("ipopt", "unknown")
    for mod in ("numpy", "pandas", "openpyxl", "matplotlib", "pydantic"):
        try:
            out[mod] = _module_version(mod)
        except Exception:  # noqa: BLE001
            pass
    return out


def run_info(result) -> dict:
    """Provenance of a run: scenario, data checksums, versions, solver statistics."""
    from .units import WELFARE_MEASURE, money_unit

    prep = result.prepared
    loaded = prep.loaded
    info = {
        "scenario": result.name,
        "description": result.scenario.description,
        "scenario_file": str(loaded.path) if loaded.path else None,
        "scenario_sha256": sha256_bytes(loaded.text.encode()),
        "data": prep.data.description,
        "data_file": str(prep.data.path) if prep.data.path else None,
        "data_sha256": prep.data.checksum,
        "primitives_sha256": {k: sha256_canonical(p.to_mapping())
                              for k, (p, _) in prep.models.items()},
        "versions": _versions(),
        "elapsed_seconds": result.elapsed,
        "solver": {k: run.stats for k, run in result.runs.items()},
        "identities_hold": result.identities_hold,
        "expectations_met": result.expectations_met,
        "money_unit": money_unit(getattr(prep.data, "units", "")),
        "welfare_measure": WELFARE_MEASURE,
        "scenario_text": loaded.text,
    }
    return json.loads(json.dumps(info, default=json_default))


# ======================================================================
# Excel
# ======================================================================
_HEADER_FILL = "1F4E78"


def _cell_value(v):
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if not np.isfinite(v) else v
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def _write_sheet(wb, ws, frame: pd.DataFrame, title: str | None = None) -> None:
    """One table on an XlsxWriter worksheet: a bold white-on-blue header, number formats
    by column, widths, the header row frozen and filtered; rows written from arrays, by
    column on a :class:`cge.xlsx_columns.ColumnSheet` (cell by cell on another sheet)."""
    header = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": f"#{_HEADER_FILL}",
                            "align": "center", "valign": "vcenter", "text_wrap": True})
    cols = list(frame.columns)
    ws.write_row(0, 0, [str(c) for c in cols], header)
    ws.set_row(0, 30)
    formats, columns = {}, []
    for j, col in enumerate(cols):
        series = frame[col]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric:
            fmt = "0.000" if (str(col).endswith(("_pct", "_log")) or title == "welfare"
                              or title == "welfare_sectors") else "#,##0.0000"
            cell_format = formats.setdefault(fmt, wb.add_format({"num_format": fmt}))
            width = max(len(str(col)), 12)
            values = series.to_numpy(dtype=float, na_value=np.nan)
            column = values.tolist()
            for i in np.flatnonzero(~np.isfinite(values)).tolist():
                column[i] = None
        else:
            cell_format = None
            width = max([len(str(col))] + [len(str(v)) for v in series.head(200)])
            column = [_cell_value(v) for v in series.tolist()]
        ws.set_column(j, j, min(max(10, width + 2), 40), cell_format)
        columns.append((column, cell_format))
    if hasattr(ws, "write_columns"):
        ws.write_columns(1, columns)
    else:
        for j, (column, cell_format) in enumerate(columns):
            ws.write_column(1, j, column, cell_format)
    ws.freeze_panes(1, 0)
    if frame.shape[0] and frame.shape[1]:
        ws.autofilter(0, 0, frame.shape[0], len(cols) - 1)


def _write_run_info(wb, ws, info: dict, identities: pd.DataFrame, expectations: pd.DataFrame) -> None:
    bold = wb.add_format({"bold": True})
    section_title = wb.add_format({"bold": True, "font_size": 12})
    mono = wb.add_format({"font_name": "Courier New"})
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 90)
    row = [0]

    def append(values, fmt=None, first=None):
        for j, val in enumerate(values):
            val = _cell_value(val)
            if val is None:
                continue
            ws.write(row[0], j, val, first if (j == 0 and first is not None) else fmt)
        row[0] += 1

    def section(title):
        row[0] += 1
        append([title], first=section_title)

    def kv(key, val):
        append([key, val if not isinstance(val, (list, dict)) else json.dumps(val)], first=bold)

    append(["run information"], first=wb.add_format({"bold": True, "font_size": 14}))
    for key in ("scenario", "description", "scenario_file", "scenario_sha256", "data", "data_file",
                "data_sha256", "money_unit", "welfare_measure", "elapsed_seconds",
                "identities_hold", "expectations_met"):
        kv(key, info.get(key))
    for model, sha in info["primitives_sha256"].items():
        kv(f"primitives_sha256 [{model}]", sha)
    section("software versions")
    for key, val in info["versions"].items():
        kv(key, val)
    section("solver statistics")
    for model, stats in info["solver"].items():
        for key, val in stats.items():
            kv(f"{model}: {key}", val)
    section("accounting identities")
    append(list(identities.columns))
    for values in identities.itertuples(index=False):
        append(list(values))
    section("expectations")
    append(list(expectations.columns))
    for values in expectations.itertuples(index=False):
        append(list(values))
    section("scenario text")
    for line in info["scenario_text"].splitlines():
        append(["", line], fmt=mono)


#: Sheets written after :data:`SHEETS` when their table exists (subtotals by shock; the
#: data dictionary, :mod:`cge.units`).
EXTRA_SHEETS = ("subtotals", "units")


def write_workbook(tables: dict[str, pd.DataFrame], info: dict, path: str | Path) -> Path:
    """One workbook: a formatted sheet per table of :data:`SHEETS` (and of
    :data:`EXTRA_SHEETS` present), then ``run_info`` (written with XlsxWriter, several
    times faster than openpyxl on large tables)."""
    import xlsxwriter

    from .xlsx_columns import ColumnSheet

    def write(tmp: Path):
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False,
                                            "strings_to_formulas": False,
                                            "strings_to_urls": False})
        try:
            for name in SHEETS + tuple(n for n in EXTRA_SHEETS if n in tables):
                _write_sheet(wb, wb.add_worksheet(name, worksheet_class=ColumnSheet),
                             tables[name], name)
            _write_run_info(wb, wb.add_worksheet("run_info"), info, tables["identities"],
                            tables["expectations"])
        finally:
            wb.close()

    return atomic_write(path, write)


# ======================================================================
# Pictures
# ======================================================================
# Every plot_* function writes its file and returns the matplotlib Figure, so that a
# user can adjust it (fig.axes[0].set_title(...); fig.savefig(...)). Titles come from
# the scenario's title (cge.pictures.display_title); the region held fixed by the
# small-open-economy closure is left out (its changes are zero by assumption).
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


#: Above this many bars a welfare chart is drawn horizontally (regions down the side,
#: sorted by the change) and firm-level changes as region x sector heatmaps.
MANY_BARS = 24


def plot_welfare(result, path: str | Path):
    """Bar chart of the welfare change by region in log points (100 x change in the log of
    real income), one bar per model, with the stacked decomposition (same unit) for a
    single-model run. Many regions are drawn as horizontal bars sorted by the change,
    so that every label stays readable. Writes ``path``; returns the Figure."""
    plt = _plt()
    from .pictures import display_title, home_regions, region_axis
    from .welfare import COMPONENTS

    labels = list(result.runs)
    first = next(iter(result.runs.values())).welfare.regions
    regions = home_regions(result, list(first.index))
    horizontal = len(regions) * max(1, len(labels)) > MANY_BARS
    if horizontal:  # largest gain at the top
        regions = list(first.loc[regions, "total"].sort_values().index)
        fig, ax = plt.subplots(figsize=(10, 0.32 * len(regions) * max(1, len(labels)) + 1.8))
    else:
        fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(regions) * max(1, len(labels)) + 2), 4.5))
    bar = ax.barh if horizontal else ax.bar
    x = np.arange(len(regions))
    what = "welfare change (log points: 100 x change in log real income)"
    if len(labels) == 1:
        wel = result.runs[labels[0]].welfare.regions.reindex(regions)
        comps = [c for c in COMPONENTS if np.abs(wel[c]).max() > 1e-9]
        cmap = plt.get_cmap("tab10")
        pos, neg = np.zeros(len(regions)), np.zeros(len(regions))
        for k, c in enumerate(comps):
            v = wel[c].to_numpy(float)
            base = np.where(v >= 0, pos, neg)
            stack = {"left": base} if horizontal else {"bottom": base}
            bar(x, v, 0.6, label=c.replace("_", " "), color=cmap(k % 10), **stack)
            pos += np.where(v >= 0, v, 0)
            neg += np.where(v < 0, v, 0)
        xy = (wel["total"], x) if horizontal else (x, wel["total"])
        ax.scatter(*xy, color="black", zorder=5, marker="D", label="total")
        if not horizontal:
            for xi, t in zip(x, wel["total"]):
                ax.annotate(f"{t:.2f}", (xi, t), textcoords="offset points", xytext=(8, 0),
                            fontsize=8, va="center")
    else:
        width = 0.8 / len(labels)
        for k, lab in enumerate(labels):
            v = result.runs[lab].welfare.regions["total"].reindex(regions)
            bars = bar(x + (k - (len(labels) - 1) / 2) * width, v, width, label=lab)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
    region_axis(ax, x, regions, what, horizontal=horizontal)
    ax.set_title(f"{display_title(result)}: welfare by region")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path)


def plot_ev(result, path: str | Path):
    """Equivalent variation by region in money (the data's currency at benchmark prices),
    one bar per model. Writes ``path``; returns the Figure."""
    from .pictures import ev_figure

    return _save(ev_figure(result), path)


_FIRM_PANELS = (("domestic_cutoff_pct", "domestic cutoff"),
                ("average_productivity_pct", "average productivity of producers"))


def _firm_changes(result, col: str) -> pd.DataFrame:
    """% changes of ``col`` by (region, melitz sector), one column per model."""
    from .pictures import home_regions

    frames = []
    for lab, run in result.runs.items():
        ch = run.comparison.sectors[col]
        ms = run.new.sectors["market_structure"]
        keep = ch.index.get_level_values("region").isin(home_regions(result, list(run.primitives.regions)))
        frames.append(ch[(ms == "melitz") & keep].dropna().rename(lab))
    return pd.concat(frames, axis=1)


def _firm_panels(data: dict) -> tuple:
    """The panels to draw: with Pareto productivity the average productivity of producers
    is the domestic cutoff times a constant, so their % changes coincide (wherever the
    domestic cutoff is the lowest): then one panel says so."""
    a, b = (data[c] for c, _ in _FIRM_PANELS)
    if a.shape == b.shape and np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9,
                                          atol=1e-9, equal_nan=True):
        return ((_FIRM_PANELS[0][0], "domestic cutoff = average productivity of producers "
                 "(Pareto: they move together)"),)
    return _FIRM_PANELS


def plot_firms(result, path: str | Path):
    """Domestic cutoff and average productivity changes (%) by region and melitz sector:
    bars, or region x sector heatmaps (one row per model, one colour scale) when there are
    many. One panel when the two coincide (Pareto). Writes ``path``; returns the Figure."""
    plt = _plt()
    from .pictures import display_title

    labels = list(result.runs)
    data = {col: _firm_changes(result, col) for col, _ in _FIRM_PANELS}
    panels = _firm_panels(data)
    n_bars = len(data[_FIRM_PANELS[0][0]]) * max(1, len(labels))
    if n_bars > MANY_BARS:
        return _plot_firm_heatmaps(result, data, panels, path)
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels) + 1, 4.5), squeeze=False)
    any_bar = False
    for ax, (col, title) in zip(axes[0], panels):
        frame = data[col]
        if frame.empty:
            ax.text(0.5, 0.5, "no melitz sectors", ha="center", va="center")
            ax.set_axis_off()
            continue
        names = [f"{r}\n{s}" for r, s in frame.index]
        x = np.arange(len(names))
        width = 0.8 / max(1, len(labels))
        for k, lab in enumerate(labels):
            ax.bar(x + (k - (len(labels) - 1) / 2) * width, frame[lab].fillna(0.0), width, label=lab)
            any_bar = True
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xticks(x, names, fontsize=8, rotation=45 if len(names) > 6 else 0,
                      ha="right" if len(names) > 6 else "center")
        ax.set_ylabel("% change")
        ax.set_title(title, fontsize=10)
        if len(labels) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(f"{display_title(result)}: selection (melitz cutoffs) and productivity"
                 + ("" if any_bar else " - nothing to show"))
    fig.tight_layout()
    return _save(fig, path)


def _plot_firm_heatmaps(result, data: dict, panels, path):
    plt = _plt()
    from .pictures import display_title

    labels = list(result.runs)
    any_frame = next(iter(data.values()))
    regions = list(dict.fromkeys(r for r, _ in any_frame.index))
    sectors = list(dict.fromkeys(s for _, s in any_frame.index))
    fig, axes = plt.subplots(len(labels), len(panels), squeeze=False,
                             figsize=(len(panels) * (1.6 + 0.55 * len(sectors)) + 1.5,
                                      len(labels) * (0.28 * len(regions) + 1.6)))
    # one colour scale for every panel, so that models and panels compare
    vals_all = np.concatenate([data[c].to_numpy(float).ravel() for c, _ in panels])
    lim = max(float(np.nanmax(np.abs(vals_all))) if np.isfinite(vals_all).any() else 0.0, 1e-9)
    for row, lab in enumerate(labels):
        for ax, (col, title) in zip(axes[row], panels):
            grid = data[col][lab].unstack().reindex(index=regions, columns=sectors)
            im = ax.imshow(grid.to_numpy(float), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
            ax.set_xticks(np.arange(len(sectors)), sectors, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(np.arange(len(regions)), regions, fontsize=8)
            ax.set_title(title + ("" if len(labels) == 1 else f" - {lab}"), fontsize=10)
            fig.colorbar(im, ax=ax, label="% change", shrink=0.8)
    fig.suptitle(f"{display_title(result)}: selection (melitz cutoffs) and productivity")
    fig.tight_layout()
    return _save(fig, path)


def plot_trade_heatmap(result, path: str | Path):
    """Heatmaps of bilateral trade changes (%), one panel per sector (and model), domestic
    sales (the diagonal) excluded and marked, one colour scale across all panels. Writes
    ``path``; returns the Figure."""
    from .pictures import trade_figure

    return _save(trade_figure(result), path)


#: zlib level of the PNG pictures: 1 compresses flat colours almost as well as PIL's
#: default (6) in a third of the time (the 31 x 40 trade picture: 0.33 s instead of 0.48 s,
#: 0.5 MB instead of 0.35 MB)
PNG_COMPRESS_LEVEL = 1


def _save(fig, path):
    plt = _plt()
    path = Path(path)
    fmt = path.suffix.lstrip(".")
    extra = {"pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}} if fmt.lower() == "png" else {}
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format=fmt, **extra))
    finally:
        plt.close(fig)  # a closed figure can still be changed and saved again
    return fig


# ======================================================================
# The results folder
# ======================================================================
def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_results(result, outdir: str | Path, *, excel: bool = True, plots: bool = True,
                  parquet: bool | None = None, force: bool = False, netcdf: bool = True,
                  html: bool = True) -> Path:
    """Write the results folder of ``result`` (see the module docstring); returns its path.

    A folder that cge did not write, or that holds other files, is refused unless
    ``force`` (then only cge's own files in it are replaced); see :mod:`cge.outputs`.
    Also written: ``units.csv`` (the data dictionary, :mod:`cge.units`), ``results.nc``
    (netCDF, :mod:`cge.formats`) and ``report.html`` (:mod:`cge.html_report`).
    """
    from .outputs import write_results_folder

    return write_results_folder(result, outdir, force=force, excel=excel, plots=plots,
                                parquet=parquet, netcdf=netcdf, html=html)


def _for_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing numbers and text (an expectation's value) written as text."""
    mixed = [c for c in frame.columns if frame[c].dtype == object
             and len({type(v) for v in frame[c].dropna()}) > 1]
    return frame.astype({c: str for c in mixed}) if mixed else frame


def write_results_into(result, folder: str | Path, *, excel: bool = True, plots: bool = True,
                       parquet: bool | None = None, netcdf: bool = True,
                       html: bool = True) -> list[str]:
    """Write every file of a results folder into ``folder`` (which exists); return the
    names. ``run_info.json`` comes last and lists them (so that a later run knows
    which files of the folder cge wrote)."""
    from .units import data_dictionary, units_by_table

    folder = Path(folder)
    tables = tidy_tables(result)
    info = run_info(result)
    tables["units"] = data_dictionary(tables, info["money_unit"])
    info["units"] = units_by_table(tables["units"])
    parquet = _parquet_available() if parquet is None else parquet
    for name, frame in tables.items():
        atomic_write(folder / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
        if parquet:
            atomic_write(folder / f"{name}.parquet",
                         lambda p, f=frame: _for_parquet(f).to_parquet(p, index=False))
    atomic_write(folder / "scenario.yaml", result.prepared.loaded.text)
    if excel:
        write_workbook(tables, info, folder / "results.xlsx")
    if plots:
        plot_welfare(result, folder / PLOTS[0])
        plot_firms(result, folder / PLOTS[1])
        plot_trade_heatmap(result, folder / PLOTS[2])
        plot_ev(result, folder / PLOTS[3])
    if netcdf:
        from .formats import write_netcdf

        atomic_write(folder / "results.nc", lambda p: write_netcdf(tables, info, p))
    if html:
        from .html_report import render_run

        atomic_write(folder / "report.html", render_run(result, tables, info, pictures=folder))
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    info["files"] = sorted(set(names) | {"run_info.json"})
    # what each file held when cge wrote it: a later run replaces none that changed since
    info["files_sha256"] = file_checksums(folder, set(names) - {"run_info.json"})
    atomic_write(folder / "run_info.json", json.dumps(info, indent=2))
    return info["files"]


# ======================================================================
# Reading back and comparing runs
# ======================================================================
def read_results(folder: str | Path) -> dict[str, pd.DataFrame | dict]:
    """Tables of a results folder (from the CSV files) and its ``run_info``."""
    from .outputs import check_results_folder

    folder = Path(folder)
    info = check_results_folder(folder)  # InputError naming the folder and the damage
    out: dict = {}
    for name in SHEETS + ("identities", "expectations"):
        p = folder / f"{name}.csv"
        if p.is_file():
            try:
                out[name] = pd.read_csv(p, keep_default_na=True)
            except Exception as exc:  # noqa: BLE001 - a damaged table
                from .errors import InputError

                raise InputError(f"{folder}: damaged results folder: {name}.csv cannot be "
                                 f"read as a table ({type(exc).__name__}: {exc})") from None
    out["run_info"] = info
    return out


def compare_results(folders) -> pd.DataFrame:
    """Welfare change (log points, ``welfare_log_points``) and EV (money) by region, side
    by side for several results folders.

    Columns are ``(<folder name>, measure)`` or ``(<folder name>/<model>, measure)``
    (comparison runs); rows are regions.
    """
    cols = {}
    used: set[str] = set()
    for folder in folders:
        data = read_results(folder)
        name = Path(folder).resolve().name
        if name in used:  # two folders of the same name: add the parent
            name = f"{Path(folder).resolve().parent.name}/{name}"
        used.add(name)
        summary = data["summary"]
        for model, grp in summary.groupby("model", sort=False):
            key = name if model == "as_specified" else f"{name}/{model}"
            g = grp.set_index("region")
            cols[(key, "welfare_log_points")] = (
                g["welfare_log_points"] if "welfare_log_points" in g  # folders before it had %:
                else 100 * np.log1p(g["welfare_change_pct"] / 100))  # the same change in logs
            cols[(key, "ev")] = g["ev"]
    frame = pd.DataFrame(cols)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["run", "measure"])
    frame.index.name = "region"
    return frame
