r"""Structural parameters as scenario inputs: override, then recalibrate to the same data.

A scenario's ``parameters:`` section sets the parameters that the calibration
takes as given rather than infers from the data (:data:`STRUCTURAL`): the
elasticity of substitution :math:`\sigma_s`, the Pareto shape :math:`k_s` and
the exit rate :math:`\delta_s`, per sector::

    parameters:
      sigma: {mfg: 5.0}          # one sector
      k: {"*": 6.0, mfg: 5.5}    # every sector, then an exception
      delta: 1.0                 # a number: every sector

Every other parameter of the table in :mod:`cge.parameters` (iceberg costs,
fixed costs, preference weights, endowments, ...) is *calibrated*: it is what
makes the data an equilibrium for the given elasticities, so it cannot be set
without changing the benchmark; the counterfactual changes such parameters
with a shock (``type: parameter``).

After the override the model is recalibrated to the same benchmark flows,
so that the calibrated point is again the benchmark equilibrium and is solved
in at most one IPOPT iteration (:func:`recalibrate`):

* workbook data: the workbook's :class:`calibration.BenchmarkData` with the new
  parameters, calibrated as ``cge run`` calibrates it;
* primitives (a YAML/JSON file or a bundled example): the benchmark
  equilibrium of the given primitives is solved once, its flows read back
  (:func:`calibration.benchmark_from_equilibrium`), and those flows
  calibrated with the new parameters. The data (every value flow) is the
  same; the calibrated parameters (iceberg and fixed costs, Pareto bounds,
  preference weights) change with the elasticities, exactly as with a
  workbook.

Every problem names the field and the admissible range from the parameter
table, e.g. ``parameters.k.mfg: k = 3 must exceed sigma - 1 = 4 (sigma = 5) in
the melitz sector mfg``.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from .errors import InputError
from .parameters import PARAMETERS, SECTOR

__all__ = ["STRUCTURAL", "parse_overrides", "recalibrate", "structural_values"]

#: The parameters a scenario can set: inputs of the calibration, not inferred from data.
STRUCTURAL = ("sigma", "k", "delta")


def _admissible(name: str) -> str:
    spec = PARAMETERS[name]
    return f"{spec.admissible} ({spec.description})"


def parse_overrides(spec: Mapping, prim, market_structure: Mapping[str, str] | None = None,
                    where=lambda path, msg: f"{'.'.join(map(str, path))}: {msg}"
                    ) -> tuple[dict[str, np.ndarray], list[str]]:
    """The overridden per-sector arrays ``{name: array}`` and the problems found.

    ``spec`` is the ``parameters:`` mapping; ``prim`` the data's primitives
    (labels and the calibrated values); ``market_structure`` the structure of
    each sector after the scenario's own overrides (for ``k > sigma - 1``);
    ``where(path, message)`` formats a problem (file and line).
    """
    problems: list[str] = []
    if not isinstance(spec, Mapping):
        return {}, [where(("parameters",), "expected a mapping such as {sigma: {mfg: 5}}, got "
                          f"{type(spec).__name__}")]
    sectors, regions = list(prim.sectors), list(prim.regions)
    out: dict[str, np.ndarray] = {}
    for name, value in spec.items():
        path = ("parameters", name)
        if name not in PARAMETERS:
            close = difflib.get_close_matches(str(name), list(PARAMETERS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(where(path, f"no such parameter {name!r}{hint}; a scenario can set "
                                  f"{', '.join(STRUCTURAL)}"))
            continue
        if name not in STRUCTURAL:
            problems.append(where(path, f"{name} is calibrated to the data (it is what makes the "
                                  "data an equilibrium), so it cannot be set without changing the "
                                  f"benchmark; a scenario can set {', '.join(STRUCTURAL)}. To change "
                                  f"{name} in the counterfactual use a shock: {{type: parameter, "
                                  f"parameter: {name}, mode: ..., value: ...}}"))
            continue
        assert PARAMETERS[name].dims == (SECTOR,)
        arr = np.array(prim[name], dtype=float)
        entries = value if isinstance(value, Mapping) else {"*": value}
        ordered = sorted(entries.items(), key=lambda kv: kv[0] != "*")  # "*" first
        for key, v in ordered:
            p = path + (key,) if isinstance(value, Mapping) else path
            if key != "*" and key not in sectors:
                if key in regions:
                    problems.append(where(p, f"{name} varies by sector only (dimensions: "
                                          f"{', '.join(PARAMETERS[name].dims)}); {key!r} is a region"))
                else:
                    problems.append(where(p, f"unknown sector {key!r}; sectors are {sectors}"))
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                problems.append(where(p, f"expected a number, got {v!r}"))
                continue
            v = float(v)
            spec_ = PARAMETERS[name]
            low_bad = v <= spec_.lower if spec_.strict else v < spec_.lower
            if not math.isfinite(v) or low_bad or v > spec_.upper:
                problems.append(where(p, f"{name} = {v:g} is outside its admissible range "
                                      f"{_admissible(name)}"))
                continue
            if key == "*":
                arr[:] = v
            else:
                arr[sectors.index(key)] = v
        out[name] = arr
    if problems:
        return out, problems
    sigma = out.get("sigma", np.asarray(prim["sigma"], float))
    k = out.get("k", np.asarray(prim["k"], float))
    ms = dict(prim.market_structure)
    ms.update(market_structure or {})
    for j, s in enumerate(sectors):
        if ms[s] == "melitz" and not k[j] > sigma[j] - 1:
            given = "k" if "k" in out else "sigma"
            key = s if isinstance(spec.get(given), Mapping) and s in spec[given] else (
                "*" if isinstance(spec.get(given), Mapping) else None)
            p = ("parameters", given) + ((key,) if key is not None else ())
            problems.append(where(p, f"k = {k[j]:g} must exceed sigma - 1 = {sigma[j] - 1:g} "
                                  f"(sigma = {sigma[j]:g}) in the melitz sector {s}: the Pareto "
                                  "shape k_s must exceed sigma_s - 1 for average sales to be finite "
                                  f"(k admissible {PARAMETERS['k'].admissible}, sigma "
                                  f"{PARAMETERS['sigma'].admissible})"))
    return out, problems


def structural_values(prim) -> dict[str, dict[str, float]]:
    """The structural parameters of ``prim`` by sector (the calibrated values)."""
    return {name: {s: float(prim[name][j]) for j, s in enumerate(prim.sectors)}
            for name in STRUCTURAL}


# In-process caches: the benchmark flows of a data set (reading a workbook or solving a
# benchmark once per process, not once per member of a sweep).
_BENCHMARKS: dict[str, object] = {}


def _benchmark_data(loaded, data):
    """The :class:`calibration.BenchmarkData` behind ``data`` (cached per process)."""
    from .scenario import FileData, ScenarioError, _calibration

    cal = _calibration()
    spec = loaded.scenario.data
    options = spec.read_options() if isinstance(spec, FileData) else {}
    workbook = data.path is not None and data.description.startswith("workbook")
    key = json.dumps([data.checksum, str(data.path), options, workbook])
    if key in _BENCHMARKS:
        return _BENCHMARKS[key], workbook
    if workbook:
        bench = cal.read_workbook(data.path, **options)
    else:
        from .equilibrium import Equilibrium
        from .errors import CGEError

        prim = data.primitives
        try:
            eq = Equilibrium(prim)
            if data.start is not None:
                cal.set_start(eq, data.start)
            eq.solve()
            bench = cal.benchmark_from_equilibrium(eq, name=prim.name)
        except InputError as exc:
            raise ScenarioError([loaded.error(("parameters",), "recalibration needs the benchmark "
                                              f"flows of the data: {p}") for p in exc.problems]) from None
        except CGEError as exc:
            raise ScenarioError(loaded.error(("parameters",), "recalibration needs the benchmark "
                                             f"equilibrium of the data, which was not found: "
                                             f"{str(exc).splitlines()[0]}")) from None
    _BENCHMARKS[key] = bench
    return bench, workbook


def recalibrate(loaded, data):
    """``data`` (a :class:`cge.scenario.DataSource`) recalibrated with the scenario's
    ``parameters:`` (see the module docstring); the data itself is unchanged."""
    from .scenario import DataSource, ScenarioError, _calibration

    sc = loaded.scenario
    if not sc.parameters:
        return data
    prim = data.primitives
    arrays, problems = parse_overrides(sc.parameters, prim, sc.market_structure,
                                       where=loaded.error)
    if problems:
        raise ScenarioError(problems)
    cal = _calibration()
    bench, workbook = _benchmark_data(loaded, data)
    bench = replace(bench, **{k: np.asarray(v, float) for k, v in arrays.items()})
    try:
        if workbook:
            out = cal.calibrate(bench)
        else:
            num = prim.numeraire
            numeraire = ({"cpi": num.region} if num.kind == "cpi"
                         else {num.kind: num.label, "region": num.region})
            out = cal.calibrate(bench, numeraire=numeraire, closure=prim.closure, name=prim.name)
    except InputError as exc:
        raise ScenarioError([loaded.error(("parameters",), "the data cannot be calibrated with "
                                          f"these parameters: {p}") for p in exc.problems]) from None
    new, start = out[0], out[1]
    changed = ", ".join(f"{name}[{s}]={arrays[name][j]:g}" for name in arrays
                        for j, s in enumerate(prim.sectors)
                        if arrays[name][j] != prim[name][j])
    return DataSource(new, f"{data.description}, recalibrated with {changed or 'the same parameters'}",
                      data.checksum, data.path, start)
