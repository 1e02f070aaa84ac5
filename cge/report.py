"""Outputs of a scenario run: tidy tables (CSV, Parquet), one Excel workbook, pictures.

:func:`write_results` writes a results folder::

    <outdir>/
      summary.csv  welfare.csv  welfare_sectors.csv  trade.csv  firms.csv
      prices_factors.csv  identities.csv  expectations.csv   (and .parquet if pyarrow is installed)
      results.xlsx      sheets summary, welfare, welfare_sectors, trade, firms,
                        prices_factors, run_info
      scenario.yaml     the scenario text as run
      run_info.json     checksums, versions, solver statistics
      welfare_by_region.png  cutoffs_productivity.png  trade_heatmap.png

Every table is tidy: one row per observation (region, route, ...), one
column per variable, a ``model`` column naming the market structure
(``as_specified`` unless the scenario compares structures). Each Excel sheet
holds exactly the table of the CSV file of the same name.

Writing is atomic: the folder is assembled in a temporary sibling folder and
renamed into place, and each file inside is written to a temporary name and
``os.replace``-d, so an interrupted run leaves either the previous results or
the new ones, never a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

SHEETS = ("summary", "welfare", "welfare_sectors", "trade", "firms", "prices_factors")
PLOTS = ("welfare_by_region.png", "cutoffs_productivity.png", "trade_heatmap.png")

__all__ = ["SHEETS", "PLOTS", "tidy_tables", "run_info", "write_results", "write_workbook",
           "atomic_write", "atomic_directory", "plot_welfare", "plot_firms", "plot_trade_heatmap",
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
    return tables


# ======================================================================
# Run information
# ======================================================================
def _versions() -> dict[str, str]:
    import pyomo

    import cge

    out = {"python": platform.python_version(), "cge": cge.__version__,
           "pyomo": pyomo.version.version}
    try:
        import cyipopt

        out["cyipopt"] = cyipopt.__version__
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
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            pass
    return out


def run_info(result) -> dict:
    """Provenance of a run: scenario, data checksums, versions, solver statistics."""
    from .scenario import primitives_checksum

    prep = result.prepared
    loaded = prep.loaded
    info = {
        "scenario": result.name,
        "description": result.scenario.description,
        "scenario_file": str(loaded.path) if loaded.path else None,
        "scenario_sha256": hashlib.sha256(loaded.text.encode()).hexdigest(),
        "data": prep.data.description,
        "data_file": str(prep.data.path) if prep.data.path else None,
        "data_sha256": prep.data.checksum,
        "primitives_sha256": {k: primitives_checksum(p) for k, (p, _) in prep.models.items()},
        "versions": _versions(),
        "elapsed_seconds": result.elapsed,
        "solver": {k: run.stats for k, run in result.runs.items()},
        "identities_hold": result.identities_hold,
        "expectations_met": result.expectations_met,
        "scenario_text": loaded.text,
    }
    return json.loads(json.dumps(info, default=_json_default))


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


# ======================================================================
# Atomic writing
# ======================================================================
def atomic_write(path: str | Path, write: Callable[[Path], None] | bytes | str) -> Path:
    """Write ``path`` atomically: to a temporary file in the same folder, then ``os.replace``.

    ``write`` is the content (bytes or text) or a function writing to the path it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        if isinstance(write, bytes):
            tmp.write_bytes(write)
        elif isinstance(write, str):
            tmp.write_text(write)
        else:
            write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextmanager
def atomic_directory(final: str | Path):
    """Yield a temporary folder next to ``final``; on success it replaces ``final``.

    On any exception (including KeyboardInterrupt) the temporary folder is
    removed and ``final`` is left as it was.
    """
    final = Path(final).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        if final.exists():
            old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".old"))
            os.rmdir(old)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
    by column, widths, the header row frozen and filtered; rows written from arrays."""
    header = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": f"#{_HEADER_FILL}",
                            "align": "center", "valign": "vcenter", "text_wrap": True})
    cols = list(frame.columns)
    ws.write_row(0, 0, [str(c) for c in cols], header)
    ws.set_row(0, 30)
    formats = {}
    for j, col in enumerate(cols):
        series = frame[col]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric:
            fmt = "0.000" if (str(col).endswith(("_pct", "_log")) or title == "welfare"
                              or title == "welfare_sectors") else "#,##0.0000"
            cell_format = formats.setdefault(fmt, wb.add_format({"num_format": fmt}))
            width = max(len(str(col)), 12)
            values = series.to_numpy(dtype=float, na_value=np.nan)
            column = [float(v) if np.isfinite(v) else None for v in values.tolist()]
        else:
            cell_format = None
            width = max([len(str(col))] + [len(str(v)) for v in series.head(200)])
            column = [_cell_value(v) for v in series.tolist()]
        ws.set_column(j, j, min(max(10, width + 2), 40), cell_format)
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
                "data_sha256", "elapsed_seconds", "identities_hold", "expectations_met"):
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


def write_workbook(tables: dict[str, pd.DataFrame], info: dict, path: str | Path) -> Path:
    """One workbook: a formatted sheet per table of :data:`SHEETS`, then ``run_info``
    (written with XlsxWriter, several times faster than openpyxl on large tables)."""
    import xlsxwriter

    def write(tmp: Path):
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False,
                                            "strings_to_formulas": False,
                                            "strings_to_urls": False})
        try:
            for name in SHEETS:
                _write_sheet(wb, wb.add_worksheet(name), tables[name], name)
            _write_run_info(wb, wb.add_worksheet("run_info"), info, tables["identities"],
                            tables["expectations"])
        finally:
            wb.close()

    return atomic_write(path, write)


# ======================================================================
# Pictures
# ======================================================================
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


#: Above this many bars a welfare chart is drawn horizontally (regions down the side,
#: sorted by the change) and firm-level changes as region x sector heatmaps.
MANY_BARS = 24


def plot_welfare(result, path: str | Path) -> Path:
    """Bar chart of the welfare change (% of real income) by region, one bar per model,
    with the stacked decomposition for a single-model run. Many regions are drawn as
    horizontal bars sorted by the change, so that every label stays readable."""
    plt = _plt()
    from .welfare import COMPONENTS

    labels = list(result.runs)
    first = next(iter(result.runs.values())).welfare.regions
    regions = list(first.index)
    horizontal = len(regions) * max(1, len(labels)) > MANY_BARS
    if horizontal:  # largest gain at the top
        regions = list(first["welfare_change_pct"].sort_values().index)
        fig, ax = plt.subplots(figsize=(10, 0.32 * len(regions) * max(1, len(labels)) + 1.8))
    else:
        fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(regions) * max(1, len(labels)) + 2), 4.5))
    bar = ax.barh if horizontal else ax.bar
    x = np.arange(len(regions))
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
        what = "change in real income (log points, %)"
    else:
        width = 0.8 / len(labels)
        for k, lab in enumerate(labels):
            v = result.runs[lab].welfare.regions["welfare_change_pct"].reindex(regions)
            bars = bar(x + (k - (len(labels) - 1) / 2) * width, v, width, label=lab)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
        what = "welfare change (% of real income)"
    if horizontal:
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_yticks(x, regions, fontsize=9)
        ax.set_xlabel(what)
    else:
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xticks(x, regions, rotation=30 if len(regions) > 6 else 0,
                      ha="right" if len(regions) > 6 else "center")
        ax.set_ylabel(what)
    ax.set_title(f"{result.name}: welfare by region")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path)


_FIRM_PANELS = (("domestic_cutoff_pct", "domestic cutoff"),
                ("average_productivity_pct", "average productivity of producers"))


def _firm_changes(result, col: str) -> pd.DataFrame:
    """% changes of ``col`` by (region, melitz sector), one column per model."""
    frames = []
    for lab, run in result.runs.items():
        ch = run.comparison.sectors[col]
        ms = run.new.sectors["market_structure"]
        frames.append(ch[ms == "melitz"].dropna().rename(lab))
    return pd.concat(frames, axis=1)


def plot_firms(result, path: str | Path) -> Path:
    """Domestic cutoff and average productivity changes (%) by region and melitz sector:
    bars, or region x sector heatmaps (one row per model) when there are many."""
    plt = _plt()
    labels = list(result.runs)
    data = {col: _firm_changes(result, col) for col, _ in _FIRM_PANELS}
    n_bars = len(data[_FIRM_PANELS[0][0]]) * max(1, len(labels))
    if n_bars > MANY_BARS:
        return _plot_firm_heatmaps(result, data, path)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), squeeze=False)
    any_bar = False
    for ax, (col, title) in zip(axes[0], _FIRM_PANELS):
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
        ax.set_title(title)
        if len(labels) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(f"{result.name}: selection (melitz cutoffs) and productivity"
                 + ("" if any_bar else " - nothing to show"))
    fig.tight_layout()
    return _save(fig, path)


def _plot_firm_heatmaps(result, data: dict, path) -> Path:
    plt = _plt()
    labels = list(result.runs)
    any_frame = next(iter(data.values()))
    regions = list(dict.fromkeys(r for r, _ in any_frame.index))
    sectors = list(dict.fromkeys(s for _, s in any_frame.index))
    fig, axes = plt.subplots(len(labels), 2, squeeze=False,
                             figsize=(2 * (1.6 + 0.55 * len(sectors)) + 1.5,
                                      len(labels) * (0.28 * len(regions) + 1.6)))
    for row, lab in enumerate(labels):
        for ax, (col, title) in zip(axes[row], _FIRM_PANELS):
            grid = data[col][lab].unstack().reindex(index=regions, columns=sectors)
            vals = grid.to_numpy(float)
            lim = max(float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 0.0, 1e-9)
            im = ax.imshow(vals, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
            ax.set_xticks(np.arange(len(sectors)), sectors, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(np.arange(len(regions)), regions, fontsize=8)
            ax.set_title(title + ("" if len(labels) == 1 else f" - {lab}"), fontsize=10)
            fig.colorbar(im, ax=ax, label="% change", shrink=0.8)
    fig.suptitle(f"{result.name}: selection (melitz cutoffs) and productivity")
    fig.tight_layout()
    return _save(fig, path)


def plot_trade_heatmap(result, path: str | Path) -> Path:
    """Heatmap of bilateral trade changes (% , summed over sectors), one panel per model."""
    plt = _plt()
    labels = list(result.runs)
    fig, axes = plt.subplots(1, len(labels), figsize=(5.2 * len(labels) + 1, 5.2), squeeze=False,
                             layout="constrained")
    for ax, lab in zip(axes[0], labels):
        run = result.runs[lab]
        b = run.base.routes["trade_value"].groupby(level=["destination", "origin"]).sum()
        n = run.new.routes["trade_value"].groupby(level=["destination", "origin"]).sum()
        ch = (100 * (n / b - 1)).unstack("origin")
        regions = list(run.primitives.regions)
        ch = ch.reindex(index=regions, columns=regions)
        lim = float(np.nanmax(np.abs(ch.to_numpy()))) or 1.0
        im = ax.imshow(ch.to_numpy(float), cmap="RdBu", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(regions)), regions, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(regions)), regions, fontsize=8)
        ax.set_xlabel("origin (exporter)")
        ax.set_ylabel("destination (importer)")
        ax.set_title(lab if len(labels) > 1 else "bilateral trade, % change")
        if len(regions) <= 12:
            for a in range(len(regions)):
                for c in range(len(regions)):
                    v = ch.iloc[a, c]
                    if np.isfinite(v):
                        ax.text(c, a, f"{v:.1f}", ha="center", va="center", fontsize=7,
                                color="white" if abs(v) > 0.6 * lim else "black")
        fig.colorbar(im, ax=ax, shrink=0.8, label="% change in trade value")
    fig.suptitle(f"{result.name}: bilateral trade changes")
    return _save(fig, path)


def _save(fig, path) -> Path:
    plt = _plt()
    path = Path(path)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".")))
    finally:
        plt.close(fig)
    return path


# ======================================================================
# The results folder
# ======================================================================
def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column of mixed Python types (an expectation's value is
    a number or a region's name) written as text: Parquet columns have one type."""
    mixed = [c for c in frame.columns if frame[c].dtype == object
             and len({type(v) for v in frame[c].dropna()}) > 1]
    if not mixed:
        return frame
    return frame.assign(**{c: frame[c].map(lambda v: v if v is None else str(v)) for c in mixed})


def write_results(result, outdir: str | Path, *, excel: bool = True, plots: bool = True,
                  parquet: bool | None = None) -> Path:
    """Write the results folder of ``result`` (see the module docstring); returns its path."""
    tables = tidy_tables(result)
    info = run_info(result)
    parquet = _parquet_available() if parquet is None else parquet
    with atomic_directory(outdir) as tmp:
        for name, frame in tables.items():
            atomic_write(tmp / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
            if parquet:
                atomic_write(tmp / f"{name}.parquet", lambda p, f=frame: _parquet_ready(f).to_parquet(p, index=False))
        atomic_write(tmp / "scenario.yaml", result.prepared.loaded.text)
        atomic_write(tmp / "run_info.json", json.dumps(info, indent=2))
        if excel:
            write_workbook(tables, info, tmp / "results.xlsx")
        if plots:
            plot_welfare(result, tmp / PLOTS[0])
            plot_firms(result, tmp / PLOTS[1])
            plot_trade_heatmap(result, tmp / PLOTS[2])
    return Path(outdir)


# ======================================================================
# Reading back and comparing runs
# ======================================================================
def read_results(folder: str | Path) -> dict[str, pd.DataFrame | dict]:
    """Tables of a results folder (from the CSV files) and its ``run_info``."""
    folder = Path(folder)
    if not (folder / "summary.csv").is_file():
        raise FileNotFoundError(f"{folder}: not a results folder (no summary.csv); "
                                "make one with `cge run scenario.yaml -o FOLDER`")
    out: dict = {}
    for name in SHEETS + ("identities", "expectations"):
        p = folder / f"{name}.csv"
        if p.is_file():
            out[name] = pd.read_csv(p, keep_default_na=True)
    info = folder / "run_info.json"
    out["run_info"] = json.loads(info.read_text()) if info.is_file() else {}
    return out


def compare_results(folders) -> pd.DataFrame:
    """Welfare change (%) and EV by region, side by side for several results folders.

    Columns are ``<folder name>`` or ``<folder name>/<model>`` (comparison runs);
    rows are regions.
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
            cols[(key, "welfare_change_pct")] = grp.set_index("region")["welfare_change_pct"]
            cols[(key, "ev")] = grp.set_index("region")["ev"]
    frame = pd.DataFrame(cols)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["run", "measure"])
    frame.index.name = "region"
    return frame
