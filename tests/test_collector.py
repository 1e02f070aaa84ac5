"""cge.collector: full collections of Python's cyclic garbage collector are held back
while `cge run` builds and solves (and the thresholds restored after); one full
collection frees the solved models before the results are written."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cge import collector
from cge.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_full_collections_are_held_back_and_the_thresholds_restored():
    before = gc.get_threshold()
    with collector.few_full_collections():
        young, middle, old = gc.get_threshold()
        assert (young, middle) == before[:2] and old >= collector.FULL_COLLECTION_THRESHOLD
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError):
        with collector.few_full_collections():
            raise RuntimeError("a failed run")
    assert gc.get_threshold() == before


def test_cge_run_builds_and_solves_with_few_full_collections(tmp_path, monkeypatch):
    seen, original = [], collector.few_full_collections

    @contextmanager
    def recording():
        with original():
            seen.append(gc.get_threshold()[2])
            yield

    collected = []
    monkeypatch.setattr(collector, "few_full_collections", recording)
    monkeypatch.setattr(collector, "collect_solved", lambda: collected.append(gc.get_count()))
    result = CliRunner().invoke(app, ["run", str(ROOT / "runs" / "tariff_unilateral.yaml"),
                                      "-o", str(tmp_path / "out"), "--no-excel", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert len(seen) == 2 and min(seen) >= collector.FULL_COLLECTION_THRESHOLD
    assert len(collected) == 1  # once, between the solve and the results folder
