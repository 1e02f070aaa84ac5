"""A self-contained HTML report of a run, or of several runs side by side.

:func:`render_run` fills the jinja2 template ``cge/templates/run.html`` with
the scenario text, data source and checksum, closure and numeraire, the
welfare table and its decomposition (log points) and the equivalent
variation (money), subtotals by shock when computed, the pictures (embedded
as base64 PNG, so the file reads offline), the benchmark-replication check,
the accounting identities, expectations and solver statistics.
:func:`render_comparison` does the same for result folders
(``templates/compare.html``). ``cge run`` writes ``report.html`` into every
results folder; ``cge compare ... --html report.html`` writes a comparison.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["render_run", "render_comparison", "write_comparison", "environment"]

#: Pictures of a results folder shown in the report, with their captions.
PICTURES = (("welfare_by_region.png", "Welfare change by region and its decomposition"),
            ("ev_by_region.png", "Equivalent variation by region (money)"),
            ("cutoffs_productivity.png", "Selection: domestic cutoffs and productivity"),
            ("trade_heatmap.png", "Bilateral trade changes"))


def environment():
    """The jinja2 environment of the bundled templates (autoescaped)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("cge", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _fmt(v, digits: int = 4) -> dict:
    if isinstance(v, (bool, np.bool_)):
        return {"text": "yes" if v else "no", "num": False}
    if isinstance(v, (int, np.integer)):
        return {"text": f"{int(v):,}", "num": True, "neg": v < 0}
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not np.isfinite(v):
            return {"text": "", "num": True}
        if v != 0 and (abs(v) >= 1e7 or abs(v) < 10 ** -digits):
            text = f"{v:.{digits - 1}e}"
        else:
            text = f"{v:,.{digits}f}"
        return {"text": text, "num": True, "neg": v < 0}
    return {"text": "" if v is None else str(v), "num": False}


def _table(frame: pd.DataFrame, units: dict[str, str] | None = None, *, table_id: str | None = None,
           index: bool = True, digits: int = 4) -> dict:
    units = units or {}
    f = frame.reset_index() if index else frame
    cols = [{"name": str(c).replace("_", " "), "unit": units.get(str(c), "")} for c in f.columns]
    rows = [[_fmt(v, digits) for v in row] for row in f.itertuples(index=False)]
    return {"id": table_id, "columns": cols, "rows": rows}


def _png(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _version() -> str:
    import cge

    return cge.__version__


def _welfare_tables(run, money: str, label: str) -> tuple[dict, dict]:
    from .welfare import COMPONENTS

    w = run.welfare.regions
    comps = [c for c in COMPONENTS if (w[c].abs() > 1e-9).any()]
    cols = ["total", *comps, "residual", "welfare_change_pct"]
    units = {c: "log points" for c in ["total", *comps, "residual"]}
    units["welfare_change_pct"] = "%"
    welfare = _table(w[cols], units, table_id=f"welfare-{label}")
    ecols = ["ev", *[f"ev_{c}" for c in comps], "ev_pct_of_income"]
    eunits = {c: money for c in ecols}
    eunits["ev_pct_of_income"] = "%"
    return welfare, _table(w[ecols], eunits, table_id=f"ev-{label}")


def _replication(result, label: str, run) -> str:
    st = run.stats
    iters = st.get("benchmark_iterations", 0)
    calibrated = result.prepared.data.start is not None and label == "as_specified"
    if calibrated:
        verdict = "replicated" if iters <= 1 else "NOT replicated in one iteration"
        return (f"calibrated benchmark {verdict}: {iters} IPOPT iteration(s) from the calibrated "
                f"start (at most 1 expected); the benchmark's accounting identities are below")
    return (f"benchmark solved from the model's own starting guess in {iters} IPOPT iterations "
            "(primitives without calibrated start values: nothing to replicate)")


def render_run(result, tables: dict[str, pd.DataFrame] | None = None, info: dict | None = None,
               pictures: str | Path | None = None) -> str:
    """The HTML report of a :class:`~cge.scenario.ScenarioResult` (a string).

    ``pictures``: the folder holding the PNG files of :data:`PICTURES` (those present
    are embedded).
    """
    from .pictures import display_title
    from .report import run_info, tidy_tables
    from .units import WELFARE_MEASURE, money_unit

    tables = tables if tables is not None else tidy_tables(result)
    info = info if info is not None else run_info(result)
    money = info.get("money_unit") or money_unit(getattr(result.prepared.data, "units", ""))
    models = []
    for label, run in result.runs.items():
        welfare, money_table = _welfare_tables(run, money, label)
        closure = run.stats.get("closure", {})
        models.append({
            "label": label, "welfare": welfare, "money": money_table,
            "closure": ", ".join(f"{k}: {v}" for k, v in closure.items()) or "default",
            "numeraire": run.stats.get("numeraire", ""),
            "replication": _replication(result, label, run),
        })
    subtotals, gap = [], ""
    sub = tables.get("subtotals")
    if sub is not None and len(sub):
        gaps = sub[sub["shock"] == "integration_residual"]["value"].abs()
        gap = f"{float(gaps.max()):.1e}" if len(gaps) else "0"
        for label, grp in sub.groupby("model", sort=False):
            w = grp[grp["quantity"] == "welfare_log_points"]
            wide = w.pivot_table(index="region", columns="shock", values="value", sort=False)
            order = [c for c in dict.fromkeys(w["shock"]) if c != "integration_residual"]
            subtotals.append({"label": label, "table": _table(
                wide[order], {c: "log points" for c in order}, table_id=f"subtotals-{label}")})
    pics = []
    if pictures is not None:
        for name, caption in PICTURES:
            p = Path(pictures) / name
            if p.is_file():
                pics.append({"data": _png(p), "caption": caption})
    solver_rows = []
    for label, st in info.get("solver", {}).items():
        for key in ("solver", "benchmark_iterations", "benchmark_seconds", "shock_iterations",
                    "shock_seconds", "homotopy_steps", "walras_residual", "max_residual"):
            val = st.get(key)
            solver_rows.append({"model": label, "statistic": key,
                                "value": json.dumps(val) if isinstance(val, list) else val})
    solver = _table(pd.DataFrame(solver_rows, columns=["model", "statistic", "value"]),
                    index=False, digits=6)
    versions = _table(pd.DataFrame(list(info.get("versions", {}).items()),
                                   columns=["software", "version"]), index=False)
    ident = tables.get("identities", pd.DataFrame())
    expectations = tables.get("expectations", pd.DataFrame())
    html = environment().get_template("run.html").render(
        version=_version(), title=display_title(result), description=result.scenario.description.strip(),
        info={**info, "data_file": info.get("data_file") or ""}, models=models,
        welfare_note=f"Welfare in {WELFARE_MEASURE}. Money: {money}.",
        subtotals=subtotals, subtotal_gap=gap, pictures=pics,
        identities=_table(ident, index=False, digits=3, table_id="identities"),
        expectations=_table(expectations, index=False) if len(expectations) else None,
        solver=solver, versions=versions)
    return html


def render_comparison(folders, title: str = "Comparison of runs") -> str:
    """The HTML report comparing results folders written by ``cge run``."""
    from .report import read_results
    from .units import WELFARE_MEASURE

    total, ev, runs, moneys = {}, {}, [], set()
    for folder in folders:
        data = read_results(folder)
        info = data["run_info"]
        name = Path(folder).resolve().name
        wel = pd.read_csv(Path(folder) / "welfare.csv")
        for model, grp in wel.groupby("model", sort=False):
            key = name if model == "as_specified" else f"{name}/{model}"
            total[key] = grp.set_index("region")["total"]
            ev[key] = grp.set_index("region")["ev"]
        moneys.add(info.get("money_unit", "numeraire units"))
        runs.append({"name": name, "scenario": info.get("scenario", ""),
                     "data": info.get("data", ""), "data_sha256": info.get("data_sha256", ""),
                     "money_unit": info.get("money_unit", ""),
                     "identities_hold": info.get("identities_hold"),
                     "expectations_met": info.get("expectations_met"),
                     "scenario_text": info.get("scenario_text", "")})
    total_f, ev_f = pd.DataFrame(total), pd.DataFrame(ev)
    total_f.index.name = ev_f.index.name = "region"
    money = " / ".join(sorted(moneys))
    picture = None
    try:
        import io

        from .pictures import comparison_figure

        fig = comparison_figure(total_f, title)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
        picture = base64.b64encode(buf.getvalue()).decode("ascii")
    except ImportError:
        picture = None
    runs_frame = pd.DataFrame([{k: r[k] for k in ("name", "scenario", "data", "data_sha256",
                                                  "money_unit", "identities_hold",
                                                  "expectations_met")} for r in runs])
    return environment().get_template("compare.html").render(
        version=_version(), title=title, runs=runs,
        welfare_note=f"Welfare in {WELFARE_MEASURE}.",
        welfare=_table(total_f, {c: "log points" for c in total_f.columns}, table_id="welfare"),
        ev=_table(ev_f, {c: money for c in ev_f.columns}, table_id="ev"),
        picture=picture, runs_table=_table(runs_frame, index=False))


def write_comparison(folders, path: str | Path, title: str = "Comparison of runs") -> Path:
    from .report import atomic_write

    return atomic_write(path, render_comparison(folders, title))
