"""Console tables never cut a number, however narrow the console."""

from __future__ import annotations

import io

import pandas as pd
from rich.console import Console

from cge.console_tables import frame_table


def test_numbers_are_never_cut():
    frame = pd.DataFrame({f"component_{j}": [-0.6234567891 * (j + 1), 12345.678] for j in range(12)},
                         index=pd.Index(["CA_East", "US_West"], name="region"))
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False)
    console.print(frame_table("Welfare", frame, width=console.width, units={"component_0": "log points"}))
    out = buf.getvalue()
    assert "…" not in out and "..." not in out
    for j in range(12):
        assert f"{-0.6234567891 * (j + 1):,.4g}" in out
        assert f"component_{j}" in out
    assert "[log points]" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert out.count("CA_East") > 1  # split over several tables, each with the region
