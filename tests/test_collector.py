"""cge.collector: full collections of Python's cyclic garbage collector are held back
while `cge run` builds and solves (and the thresholds restored after); one full
collection frees the solved models of a scenario before its results are written, unless
it is the command's last: those are set aside (frozen) and, for a command called
in-process, handed back to the collector when it ends."""

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

    collected, frozen = [], []
    monkeypatch.setattr(collector, "few_full_collections", recording)
    monkeypatch.setattr(collector, "collect_solved", lambda: collected.append(gc.get_count()))
    set_aside = collector.set_aside_solved
    monkeypatch.setattr(collector, "set_aside_solved",
                        lambda: (set_aside(), frozen.append(gc.get_freeze_count())))
    assert gc.get_freeze_count() == 0
    result = CliRunner().invoke(app, ["run", str(ROOT / "runs" / "tariff_unilateral.yaml"),
                                      "-o", str(tmp_path / "out"), "--no-excel", "--no-plots"])
    assert result.exit_code == 0, result.output
    # the command's build and its solve (2), and the compilation inside the solve, which
    # holds them back on its own (cge.solve._compile)
    assert len(seen) == 3 and min(seen) >= collector.FULL_COLLECTION_THRESHOLD
    # the only (last) scenario: set aside between the solve and the results folder, not
    # collected; handed back to the collector when the in-process command ended
    assert collected == [] and len(frozen) == 1 and frozen[0] > 0
    assert gc.get_freeze_count() == 0


def test_every_scenario_but_the_last_is_collected_before_its_results(tmp_path, monkeypatch):
    import yaml

    collected, frozen = [], []
    monkeypatch.setattr(collector, "collect_solved", lambda: collected.append(1))
    set_aside = collector.set_aside_solved
    monkeypatch.setattr(collector, "set_aside_solved",
                        lambda: (set_aside(), frozen.append(gc.get_freeze_count())))
    spec = yaml.safe_load((ROOT / "runs" / "tariff_unilateral.yaml").read_text())
    paths = []
    for k in range(2):
        path = tmp_path / f"s{k}.yaml"
        path.write_text(yaml.safe_dump({**spec, "name": f"s{k}"}))
        paths.append(str(path))
    result = CliRunner().invoke(app, ["run", *paths, "-o", str(tmp_path / "out"), "--no-excel",
                                      "--no-plots"])
    assert result.exit_code == 0, result.output
    assert collected == [1] and len(frozen) == 1 and frozen[0] > 0
    assert gc.get_freeze_count() == 0


def test_what_is_set_aside_is_released_only_by_its_owner():
    assert not collector.ends_with_the_process()  # (pytest is not the cge program)
    gc.freeze()  # frozen by someone else: set_aside collects instead, release leaves it
    try:
        count = gc.get_freeze_count()
        collector.set_aside_solved()
        collector.release_set_aside()
        assert gc.get_freeze_count() == count
    finally:
        gc.unfreeze()
    collector.set_aside_solved()
    assert gc.get_freeze_count() > 0
    collector.release_set_aside()
    assert gc.get_freeze_count() == 0


def test_the_library_builds_and_solves_with_few_full_collections(monkeypatch):
    """Without the command line too (the API, notebooks, benchmarks): Equilibrium's build
    and every solve hold full collections back, and give the thresholds back after."""
    import cge.equilibrium as equilibrium
    from cge import Equilibrium, examples

    seen = {}
    build, solve = equilibrium.build_model, equilibrium.Equilibrium._solve

    def recording_build(*args, **kwargs):
        seen["build"] = gc.get_threshold()[2]
        return build(*args, **kwargs)

    def recording_solve(self, *args, **kwargs):
        seen.setdefault("solve", []).append(gc.get_threshold()[2])
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(equilibrium, "build_model", recording_build)
    monkeypatch.setattr(equilibrium.Equilibrium, "_solve", recording_solve)
    before = gc.get_threshold()
    assert before[2] < collector.FULL_COLLECTION_THRESHOLD
    prim = examples.three_by_three()
    eq = Equilibrium(prim)
    eq.solve()
    eq.solve(tariff=prim["tariff"] * 0.9)
    assert seen["build"] >= collector.FULL_COLLECTION_THRESHOLD
    assert len(seen["solve"]) == 2
    assert min(seen["solve"]) >= collector.FULL_COLLECTION_THRESHOLD
    assert gc.get_threshold() == before
