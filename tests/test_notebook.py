"""docs/walkthrough.ipynb runs: its code cells in order, with plain Python (nbmake and
nbclient are not installed; the notebook's JSON is parsed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "walkthrough.ipynb"


def _code_cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_is_valid_and_has_no_stored_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert kinds.count("code") >= 5 and kinds.count("markdown") >= 5
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
    for j, src in enumerate(_code_cells()):
        compile(src, f"walkthrough.ipynb cell {j + 1}", "exec")


@pytest.mark.slow
@pytest.mark.solver
def test_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT / "docs")
    monkeypatch.setenv("CGE_NOTEBOOK_OUTPUT", str(tmp_path))
    namespace: dict = {"__name__": "__notebook__"}
    for j, src in enumerate(_code_cells()):
        exec(compile(src, f"walkthrough.ipynb cell {j + 1}", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "comparison.html").is_file()
    assert (tmp_path / "us_china_tariffs" / "report.html").is_file()
    sub = namespace["sub"]
    keys = ["quantity", "region", "partner"]
    total = sub[sub.shock == "total"].set_index(keys)["value"]
    gap = sub[sub.shock == "integration_residual"].set_index(keys)["value"].reindex(total.index)
    from cge.subtotals import TOLERANCE, gap_scale

    assert (gap.abs() <= TOLERANCE * gap_scale(total)).all()
