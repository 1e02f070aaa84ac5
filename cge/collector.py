"""Python's cyclic garbage collector during a command that builds a large model.

CPython collects reference cycles by generations. Its oldest generation is examined
whole (a *full collection*) whenever the objects that survived into it have grown by a
quarter since the last one: while a large Pyomo model, its numpy tape and the results'
tables are being built, every object made survives, and each full collection walks
all of them again. On the NAFTA run (31 regions x 40 sectors, a few million objects)
19 full collections took 4.8 of the run's 23.5 CPU seconds, and found next to nothing
to free: the objects are alive. :func:`few_full_collections` leaves the young
generations as they are (cycles made and dropped at once are still freed) and lets the
oldest one be examined only when a command is done with its models
(:func:`collect_solved`: ``cge run`` calls it between a scenario's solve and its
results folder, where the model, its tape and its factors have become garbage held in
cycles). The NAFTA run's peak memory: 672 MB (768 MB without that collection; 636 MB
before these changes, with the kept factors and the tape alive at the same point).

The library holds them back too, wherever it makes objects that survive:
:class:`cge.Equilibrium`'s build and every :meth:`~cge.Equilibrium.solve` (its
compilations, tables and snapshots), so that the API, notebooks and benchmarks do not
pay for them (the calibrated all-Melitz 60 x 40 economy of ``bench/bench_scale.py``:
build 35 -> 18 to 20 CPU s, build + benchmark + shock 87 -> 72 to 79 s, the same peak
memory).

The last scenario of a command is not collected: freeing its model (some 2.3 million
objects at 31 regions x 40 sectors) costs a full collection of about 1.5 CPU s, before
the outputs or, left alive, at the interpreter's exit, whose last collection frees what
cycles hold. :func:`set_aside_solved` moves every object tracked so far out of the
collector's sight instead (:func:`gc.freeze`): no collection examines them again and
the operating system takes their memory back when the program ends. The price is the
model's memory while the outputs are written (the NAFTA run's peak: 768 MB instead of
672 MB). A command called in-process (tests, benchmarks, a notebook) hands them back to
the collector when it ends (:func:`release_set_aside`), so that nothing stays frozen.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

__all__ = ["FULL_COLLECTION_THRESHOLD", "few_full_collections", "collect_solved",
           "set_aside_solved", "release_set_aside", "ends_with_the_process"]

#: The collector's third threshold inside :func:`few_full_collections`: collections of the
#: middle generation between full collections (CPython's default: 10).
FULL_COLLECTION_THRESHOLD = 1_000_000


@contextmanager
def few_full_collections():
    """Within the block, the collector examines its oldest generation (almost) never; the
    thresholds are restored on leaving it (see the module docstring)."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, max(old, FULL_COLLECTION_THRESHOLD))
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


def collect_solved() -> None:
    """One full collection now, where a command is done with its models: between a
    scenario's solve and the writing of its results the model, its tape and its Jacobian's
    factors are garbage held in cycles, which :func:`few_full_collections` would leave
    alive while the results are written (the NAFTA run: about 1.5 CPU s, which is why its
    last scenario is set aside instead: :func:`set_aside_solved`)."""
    gc.collect()


#: whether :func:`set_aside_solved` froze the collector's objects (undone by
#: :func:`release_set_aside`)
_set_aside = False


def set_aside_solved() -> None:
    """Where the last scenario of a command is done with its models: every object tracked
    so far leaves the collector's sight (:func:`gc.freeze`) rather than being examined
    and freed by a full collection (see the module docstring). If something else froze
    objects before, they are collected as :func:`collect_solved` does instead (what is
    frozen stays the caller's to release)."""
    global _set_aside
    if gc.get_freeze_count():
        collect_solved()
        return
    gc.freeze()
    _set_aside = True


def release_set_aside() -> None:
    """Hand the objects :func:`set_aside_solved` moved aside back to the collector (a
    command called in-process: its models become collectable again)."""
    global _set_aside
    if _set_aside:
        gc.unfreeze()
        _set_aside = False


def ends_with_the_process() -> bool:
    """Whether the running command is the program itself (``cge ...`` or ``python -m
    cge ...``), which ends when the command does: what it set aside is then left to the
    operating system."""
    import sys

    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name == "cge.__main__":
        return True
    from pathlib import Path

    return bool(sys.argv) and Path(sys.argv[0]).name in ("cge", "cge.exe")
