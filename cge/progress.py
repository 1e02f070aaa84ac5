"""Plain progress lines for ``cge run`` when its output is a file or a pipe (no live bar:
a long run such as NAFTA otherwise prints nothing for minutes)."""

from __future__ import annotations

import time

__all__ = ["plain_line"]

_START = time.monotonic()


def plain_line(label: str, stage: str, fraction: float) -> str:
    """One line: elapsed time, model, stage (benchmark, shock with the homotopy's lambda,
    subtotals, done)."""
    elapsed = time.monotonic() - _START
    what = {"benchmark": "solving the benchmark",
            "shock": f"shock stepped in to lambda = {fraction:.3g}",
            "subtotals": "subtotals by shock (solves along the path)",
            "done": "done"}.get(stage, stage)
    return f"[{elapsed:7.1f} s] {label}: {what}"
