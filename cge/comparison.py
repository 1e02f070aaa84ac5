"""Market structures compared on equal terms: each structure calibrated to the same data.

A scenario's ``compare_market_structures`` runs the same shocks under several
market structures of the switched sectors (the melitz sectors of the data, or,
when the data have none, every sector with international trade). With workbook
data every structure is **recalibrated** to the benchmark
(:func:`calibration.calibrate` on the same :class:`calibration.BenchmarkData`
with that structure, the same trade-cost split and, from
``structure_parameters``, its own sigma, k or delta), so each replicates the
observed benchmark and starts at it (no IPOPT iteration before the shock).
Shocks are applied to each structure's own primitives, so a shock stated in
trade-cost terms (``remove_gravity_term``) is the same change of the trade-cost
index under every structure. Primitives and example data have no benchmark
data to recalibrate to: their structures are switched on the given parameters,
as before, and their benchmarks differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError
from .primitives import Primitives

__all__ = ["switched_sectors", "structure_models"]


def switched_sectors(market_structure: dict[str, str], traded: dict[str, bool]) -> list[str]:
    """The sectors a comparison switches: the melitz (and linear) sectors, else every traded
    sector; never the outside good of linear sectors (cge.quasi_linear)."""
    melitz = [s for s, m in market_structure.items() if m in ("melitz", "linear")]
    return melitz or [s for s, t in traded.items() if t and market_structure[s] != "outside"]


def _traded(prim: Primitives) -> dict[str, bool]:
    eye = np.eye(len(prim.regions), dtype=bool)
    return {s: bool((np.isfinite(prim["tau"][:, :, j]) & ~eye).any())
            for j, s in enumerate(prim.sectors)}


def _calibrated_with(loaded, data, structures: dict[str, str], params: dict, what: str):
    """Workbook data calibrated with some sectors' structures (and sigma, k, delta) changed."""
    from .scenario import ScenarioError, _apply_overrides, _calibration

    bd = data.benchmark
    arrays = {name: getattr(bd, name).copy() for name in ("sigma", "k", "delta")}
    for name, value in params.items():
        for s in structures:
            arrays[name][bd.sectors.index(s)] = float(value)
    structure = dict(bd.market_structure)
    structure.update(structures)
    bd = bd.copy(**arrays)
    bd.market_structure = structure
    try:
        prim, start = _calibration().calibrate(bd, **data.calibrate_options)
    except InputError as exc:
        raise ScenarioError([loaded.error((what,), p) for p in exc.problems]) from None
    return _apply_overrides(loaded, prim), start


def recalibrated(loaded, data, structures: dict[str, str]):
    """``(primitives, start)``: workbook data recalibrated with the scenario's
    ``market_structure`` override, so that the model replicates the benchmark under the new
    structures too (before, the override switched structures on the calibrated parameters
    of the old ones)."""
    return _calibrated_with(loaded, data, structures, {}, "market_structure")


def structure_models(loaded, data, prim: Primitives, shocked: Primitives):
    """``(models, starts)`` of a comparison: label -> (benchmark, shocked) primitives and
    label -> calibrated start values (workbook data only)."""
    from .scenario import ScenarioError, apply_shocks, switch_market_structure

    sc = loaded.scenario
    targets = switched_sectors(prim.market_structure, _traded(prim))
    if not targets:
        raise ScenarioError(loaded.error(("compare_market_structures",),
                                         "the data has no melitz or traded sector to switch"))
    extra = [ms for ms in sc.structure_parameters if ms not in sc.compare_market_structures]
    if extra:
        raise ScenarioError(loaded.error(("structure_parameters",), f"{extra} not among "
                                         f"compare_market_structures {sc.compare_market_structures}"))
    models: dict[str, tuple[Primitives, Primitives]] = {}
    starts: dict[str, Any] = {}
    for ms in sc.compare_market_structures:
        params = sc.structure_parameters.get(ms, {})
        if data.benchmark is not None:
            prim_ms, start = _calibrated_with(loaded, data, {s: ms for s in targets}, params,
                                              "compare_market_structures")
            if not (sc.market_structure or sc.entry):
                starts[ms] = start
        else:
            prim_ms = switch_market_structure(prim, ms, targets)
            if params:
                arrays = {name: prim_ms[name].copy() for name in params}
                for name, value in params.items():
                    for s in targets:
                        arrays[name][prim_ms.sectors.index(s)] = float(value)
                prim_ms = prim_ms.copy(**arrays)
        models[ms] = (prim_ms, apply_shocks(loaded, prim_ms))
    return models, starts
