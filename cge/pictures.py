"""Figures of a run: the equivalent variation in money, bilateral trade by sector, and
the side-by-side welfare of several runs. The ``plot_*`` functions of
:mod:`cge.report` write them and return the :class:`matplotlib.figure.Figure`.

Conventions shared by every picture: the title is the scenario's ``title`` (or
its name), the region the small-open-economy closure holds fixed is left out
(its changes are zero by assumption), and panels meant to be compared share
one colour scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["display_title", "home_regions", "ev_figure", "trade_figure", "comparison_figure"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def display_title(result) -> str:
    """The scenario's ``title``, else its name with underscores as spaces."""
    sc = result.scenario
    title = getattr(sc, "title", None)
    return title.strip() if title else sc.name.replace("_", " ")


def home_regions(result, regions: list[str]) -> list[str]:
    """``regions`` without the one held fixed by the small-open-economy closure."""
    from .scenario import closure_region

    fixed = closure_region(result.scenario)
    return [r for r in regions if r != fixed]


def _money(result) -> str:
    from .units import money_unit

    return money_unit(getattr(result.prepared.data, "units", ""))


def ev_figure(result):
    """Bar chart of the equivalent variation by region (money of the benchmark)."""
    plt = _plt()
    labels = list(result.runs)
    first = next(iter(result.runs.values())).welfare.regions
    regions = home_regions(result, list(first.index))
    many = len(regions) * len(labels) > 24
    if many:
        regions = list(first.loc[regions, "ev"].sort_values().index)
        fig, ax = plt.subplots(figsize=(10, 0.32 * len(regions) * len(labels) + 1.8))
    else:
        fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(regions) * len(labels) + 2), 4.5))
    x = np.arange(len(regions))
    width = 0.8 / len(labels)
    for k, lab in enumerate(labels):
        v = result.runs[lab].welfare.regions["ev"].reindex(regions).to_numpy(float)
        pos = x + (k - (len(labels) - 1) / 2) * width
        bars = (ax.barh if many else ax.bar)(pos, v, width, label=lab if len(labels) > 1 else None,
                                            color=None if len(labels) > 1 else
                                            np.where(v >= 0, "#2b6cb0", "#c53030"))
        ax.bar_label(bars, fmt="%.4g", fontsize=8)
    what = f"equivalent variation ({_money(result)})"
    region_axis(ax, x, regions, what, horizontal=many)
    ax.set_title(f"{display_title(result)}: equivalent variation by region")
    if len(labels) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def trade_changes(run) -> pd.DataFrame:
    """% change of trade by (destination, origin, sector), NaN on the diagonal (domestic
    sales are not trade)."""
    b = run.base.routes["trade_value"]
    n = run.new.routes["trade_value"].reindex(b.index)
    ch = 100 * (n / b - 1)
    dom = b.index.get_level_values("destination") == b.index.get_level_values("origin")
    return ch.where(~np.asarray(dom))


#: Up to this many regions a trade panel writes every change in its cell and marks the
#: diagonal ``dom``; above it the cells are colour only, the diagonal stays grey, and
#: region names label only the outer panels (a 31-region, 40-sector picture is drawn in
#: a second instead of half a minute).
ANNOTATED_REGIONS = 12
#: Sector panels per row of the trade picture (more sectors wrap onto further rows).
PANELS_PER_ROW = 8


def trade_figure(result):
    """One heatmap of bilateral trade changes (%) per sector and model, eight to a row
    (each model's sectors start a new row); the diagonal (domestic sales) is greyed
    out, and marked for small economies; one colour scale for all."""
    plt = _plt()
    labels = list(result.runs)
    first = next(iter(result.runs.values()))
    regions = list(first.primitives.regions)
    nr = len(regions)
    sectors = [s for s in first.primitives.sectors
               if (first.base.routes.index.get_level_values("sector") == s).any()]
    changes = {lab: trade_changes(run) for lab, run in result.runs.items()}
    allv = np.concatenate([c.to_numpy(float) for c in changes.values()])
    lim = float(np.nanmax(np.abs(allv))) if np.isfinite(allv).any() else 1.0
    lim = lim or 1.0
    annotated = nr <= ANNOTATED_REGIONS
    ncols = max(1, min(len(sectors), PANELS_PER_ROW))
    rows_per_model = -(-len(sectors) // ncols) if sectors else 1
    nrows = len(labels) * rows_per_model
    size = (0.42 * nr + 1.8) if annotated else (0.13 * nr + 0.35)
    width, height = size * ncols + 1.2, size * nrows + 0.6
    # without the 'dom' marks a darker grey keeps the diagonal apart from small changes
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#d0d0d0" if annotated else "#8c8c8c")
    tick_size = 7 if annotated else 6
    panels = {}
    for row_block, lab in enumerate(labels):
        grid = changes[lab].unstack("sector")  # (destination, origin) x sector
        grid = grid.reindex(pd.MultiIndex.from_product([regions, regions]))
        for k, s in enumerate(sectors):
            panels[row_block * rows_per_model + k // ncols, k % ncols] = (
                lab, s, grid[s].to_numpy(float).reshape(nr, nr))
    if not annotated:
        fig = _trade_rows(plt, panels, regions, labels, nrows, ncols, width + 0.6,
                          height + 1.5, cmap, lim, tick_size)
    else:
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                                 figsize=(width, height))
        im = None
        for row in range(nrows):
            for col in range(ncols):
                ax = axes[row][col]
                if (row, col) not in panels:
                    ax.set_axis_off()
                    continue
                lab, s, vals = panels[row, col]
                im = ax.imshow(np.ma.masked_invalid(vals), cmap=cmap, vmin=-lim, vmax=lim,
                               interpolation="nearest")
                ax.set_title(s if len(labels) == 1 else f"{s} - {lab}", fontsize=9)
                ax.set_xticks(range(nr), regions, rotation=45, ha="right", fontsize=tick_size)
                ax.set_yticks(range(nr), regions, fontsize=tick_size)
                if (row + 1, col) not in panels:  # the lowest panel of its column
                    ax.set_xlabel("origin (exporter)", fontsize=8)
                if col == 0:
                    ax.set_ylabel("destination (importer)", fontsize=8)
                for a in range(nr):
                    ax.text(a, a, "dom", ha="center", va="center", fontsize=6, color="#555555")
                    for c in range(nr):
                        v = vals[a, c]
                        if a != c and np.isfinite(v):
                            ax.text(c, a, f"{v:.1f}", ha="center", va="center", fontsize=6,
                                    color="white" if abs(v) > 0.6 * lim else "black")
        if im is not None:
            fig.colorbar(im, ax=axes, shrink=0.8, label="% change in trade value")
    marks = ("grey 'dom': domestic sales, not trade" if annotated else
             "grey: domestic sales on the diagonal, and routes without trade")
    fig.suptitle(f"{display_title(result)}: bilateral trade changes by sector\n"
                 f"(one colour scale; {marks})", fontsize=11)
    return fig


def _trade_rows(plt, panels, regions, labels, nrows, ncols, width, height, cmap, lim,
                tick_size):
    """The trade picture of many regions: one set of axes per row of panels (a panel is
    an image on it, framed and titled, placed where a grid of square panels would put
    it), region names on the outer panels only (origins under the lowest panel of each
    column, destinations left of the first column). Drawn in a fraction of the time that
    one set of axes per panel takes (their ticks and frames: 40 panels at 31 regions)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    nr = len(regions)
    margin = {"left": 1.0, "right": 1.3, "bottom": 0.9, "top": 1.2}  # inches
    wspace, hspace = 0.08, 0.3  # gaps between panels, in panel widths and heights
    fig = plt.figure(figsize=(width, height))
    area_w = width - margin["left"] - margin["right"]
    area_h = height - margin["bottom"] - margin["top"]
    box_w = area_w / (ncols + wspace * (ncols - 1))  # each panel's box (as a grid would)
    box_h = area_h / (nrows + hspace * (nrows - 1))
    side = min(box_w, box_h)  # a square panel, centred in its box
    cell = side / nr  # inches per region
    step = box_w * (1 + wspace) / cell  # from one panel to the next, in regions
    span = (ncols - 1) * step + nr  # a row's axes: from the first panel to the last
    left = [col * step for col in range(ncols)]
    names = list(regions)
    im = None
    for row in range(nrows):
        cols = [col for col in range(ncols) if (row, col) in panels]
        bottom = margin["bottom"] + (nrows - 1 - row) * box_h * (1 + hspace) + (box_h - side) / 2
        ax = fig.add_axes([(margin["left"] + (box_w - side) / 2) / width, bottom / height,
                           span * cell / width, side / height])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.patch.set_visible(False)
        frames = []
        for col in cols:
            lab, s, vals = panels[row, col]
            x0 = left[col]
            im = ax.imshow(np.ma.masked_invalid(vals), cmap=cmap, vmin=-lim, vmax=lim,
                           interpolation="nearest", aspect="auto", extent=(x0, x0 + nr, nr, 0))
            frames.append(Rectangle((x0, 0), nr, nr))
            ax.annotate(s if len(labels) == 1 else f"{s} - {lab}", (x0 + nr / 2, 0),
                        xytext=(0, 6), textcoords="offset points", ha="center",
                        va="bottom", fontsize=9, annotation_clip=False)
        ax.add_collection(PatchCollection(frames, facecolor="none", edgecolor="black",
                                          linewidth=0.8, zorder=3, clip_on=False))
        ax.set_xlim(0, span)
        ax.set_ylim(nr, 0)
        lowest = [col for col in cols if (row + 1, col) not in panels]
        ax.set_xticks([left[col] + a + 0.5 for col in lowest for a in range(nr)],
                      names * len(lowest), rotation=90, ha="center", fontsize=tick_size)
        for k, col in enumerate(lowest):  # the axis label under each such panel
            centre = left[col] + nr / 2
            if k == 0:  # the axes' own label (placed below the names) ...
                ax.set_xlabel("origin (exporter)", fontsize=8)
                ax.xaxis.label.set_x(centre / span)
            else:  # ... and copies at its height
                ax.annotate("origin (exporter)", (centre, 0.5), xycoords=("data", ax.xaxis.label),
                            ha="center", va="center", fontsize=8, annotation_clip=False)
        if 0 in cols:
            ax.set_yticks([a + 0.5 for a in range(nr)], names, fontsize=tick_size)
            ax.set_ylabel("destination (importer)", fontsize=8)
        else:
            ax.set_yticks([])
    if im is not None:
        bar = fig.add_axes([1 - 1.0 / width, 0.25, 0.18 / width, 0.5])
        fig.colorbar(im, cax=bar, label="% change in trade value")
    return fig


def comparison_figure(total: pd.DataFrame, title: str):
    """Grouped bars of the welfare change (log points) by region (rows of ``total``) and
    run (its columns), on one axis."""
    plt = _plt()
    regions, runs = list(total.index), list(total.columns)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(regions) * len(runs) + 2), 4.5))
    x = np.arange(len(regions))
    width = 0.8 / max(1, len(runs))
    for k, run in enumerate(runs):
        bars = ax.bar(x + (k - (len(runs) - 1) / 2) * width, total[run].to_numpy(float), width,
                      label=run)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(x, regions, rotation=30 if len(regions) > 6 else 0)
    ax.set_ylabel("welfare change (log points)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def region_axis(ax, x, regions, what: str, *, horizontal: bool) -> None:
    """Label the region axis of a bar chart (horizontal bars past many regions) and
    draw the zero line; ``what`` names the measure on the value axis."""
    if horizontal:
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_yticks(x, regions, fontsize=9)
        ax.set_xlabel(what)
    else:
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xticks(x, regions, rotation=30 if len(regions) > 6 else 0,
                      ha="right" if len(regions) > 6 else "center")
        ax.set_ylabel(what)
