r"""Sweeps: one scenario expanded into many members, run as Dask tasks.

A sweep file is a scenario file (``docs/scenarios.md``) with one more section,
``sweep:`` (families of scenarios) or ``ssa:`` (systematic sensitivity
analysis, :mod:`cge.ssa`)::

    name: tariff_levels
    data: ../sam_data/yotov2016_mfg.xlsx
    shocks:
      - {type: tariff, importers: USA, exporters: CHN, sectors: mfg, mode: add, value: 0.2}
    sweep:
      combine: product                  # or zip (axes of equal length, taken in step)
      axes:
        us_tariff: {path: "shocks[0].value", values: [0.1, 0.2, 0.3]}
        sigma: {path: parameters.sigma.mfg, grid: {from: 3.5, to: 5.5, num: 3}}
        retaliation:
          alternatives:
            none: {}
            full: {"shocks[+]": {type: tariff, retaliation: {by: CHN, against: USA}}}

Each axis sets the value at ``path`` in the scenario (keys separated by dots,
list positions in brackets, ``[+]`` appends to a list, a ``null`` list item
is removed) or, with ``alternatives``, several paths per named alternative.
Members are the Cartesian product of the axes (or zipped); a member's name is
``axis=value`` joined by ``__`` (``us_tariff=0.1__sigma=3.5__retaliation=none``)
and depends only on its values, so it is stable when the sweep grows.

:func:`run_sweep` runs the members, serially or as tasks on a Dask cluster
(:func:`cge.sweep.execute`), writes one file pair per member as it finishes
(``members/<name>.parquet`` and ``.json``: an interrupted sweep resumes with
the members that have none), and finally the tidy long table of every member::

    <outdir>/results.parquet, results.csv   member, <axis values>, model, table, region,
                                            partner, sector, factor, variable, value
    <outdir>/members.csv                    one row per member: status, diagnosis, timings
    <outdir>/sweep.yaml, sweep_info.json    the file as run; data checksum, versions
    <outdir>/welfare_by_member.png          welfare change by region across the members

A member that cannot be prepared (a label or parameter error) or solved is
recorded with its diagnosis (status ``invalid`` or ``failed``) and the others
go on.

Warm starts. Each process (a Dask worker, or the caller when serial) keeps
the models it built (:data:`MODEL_CACHE` of them) and the counterfactual
solutions it found. A member whose benchmark primitives match a built model
reuses it and its solved benchmark; its counterfactual is solved starting
from the nearest solved member (distance over the sweep's numeric axes,
scaled by their ranges), in one IPOPT call; if that fails, from its own
benchmark, stepping the shock in as ``cge run`` does. Different structural
parameters (sigma, k, delta) need a new model, which is started at its
calibrated benchmark (at most one iteration) and whose counterfactual again
starts from the nearest solved member, variable by variable.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import CGEError, InputError
from .fsio import json_default

__all__ = ["Sweep", "SweepError", "Member", "load_sweep", "run_sweep", "run_member", "execute",
           "long_table", "SCHEDULER_ENV", "MODEL_CACHE"]

#: Environment variable naming the Dask scheduler (``tcp://host:8786``) when ``--scheduler``
#: is not given.
SCHEDULER_ENV = "CGE_DASK_SCHEDULER"
#: Models (distinct benchmark primitives) each process keeps built.
MODEL_CACHE = 8
#: Solved counterfactuals each process keeps as warm starts.
POINT_CACHE = 256
#: Columns of the long table that locate a value (besides member and its axis values).
KEYS = ("model", "table", "region", "partner", "sector", "factor")


class SweepError(InputError):
    """A sweep file that cannot be expanded; each problem names file, line and field."""


# ======================================================================
# The sweep section
# ======================================================================
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Grid(_Strict):
    """``num`` evenly spaced values from ``from`` to ``to`` (both included); ``log``: geometric."""

    start: float = Field(validation_alias=AliasChoices("from", "start"))
    stop: float = Field(validation_alias=AliasChoices("to", "stop"))
    num: int = Field(validation_alias=AliasChoices("num", "steps"), ge=1)
    log: bool = False

    def values(self) -> list[float]:
        if self.log:
            if self.start <= 0 or self.stop <= 0:
                raise ValueError("a log grid needs positive 'from' and 'to'")
            vals = np.geomspace(self.start, self.stop, self.num)
        else:
            vals = np.linspace(self.start, self.stop, self.num)
        return [_tidy_number(v) for v in vals]


class Axis(_Strict):
    """One dimension of a sweep: ``values`` or a ``grid`` at ``path``, or named ``alternatives``."""

    path: str | None = None
    values: list[Any] | None = None
    grid: Grid | None = None
    alternatives: dict[str, dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("values", "grid", "alternatives") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'values', 'grid' or 'alternatives'")
        if given[0] == "alternatives":
            if self.path is not None:
                raise ValueError("alternatives name their own paths: do not give 'path'")
            if not self.alternatives:
                raise ValueError("alternatives: give at least one")
        elif self.path is None:
            raise ValueError(f"'{given[0]}' needs the 'path' it sets, e.g. path: shocks[0].value")
        if self.values is not None and not self.values:
            raise ValueError("values: give at least one")
        return self

    def settings(self) -> list[tuple[Any, dict[str, Any]]]:
        """``(value shown, {path: value})`` for every point of the axis."""
        if self.alternatives is not None:
            return [(name, dict(paths)) for name, paths in self.alternatives.items()]
        vals = self.grid.values() if self.grid is not None else list(self.values)
        return [(v, {self.path: v}) for v in vals]


class SweepSpec(_Strict):
    combine: Literal["product", "zip"] = "product"
    axes: dict[str, Axis]

    @model_validator(mode="after")
    def _axes(self):
        if not self.axes:
            raise ValueError("axes: give at least one axis")
        if self.combine == "zip":
            lengths = {k: len(a.settings()) for k, a in self.axes.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"combine: zip needs axes of equal length, got {lengths}")
        return self


def _tidy_number(v) -> float | int:
    """Grid values without binary noise (0.30000000000000004 -> 0.3)."""
    v = float(f"{float(v):.12g}")
    return int(v) if v.is_integer() and abs(v) < 1e15 else v


# ======================================================================
# Paths into a scenario mapping
# ======================================================================
_PART = re.compile(r"\[(\d+|\+)\]|([^.\[\]]+)")


def parse_path(path: str) -> list:
    """``"shocks[0].value"`` -> ``["shocks", 0, "value"]``; ``[+]`` -> ``"+"`` (append)."""
    parts, pos = [], 0
    text = path.strip()
    while pos < len(text):
        if text[pos] == ".":
            pos += 1
            continue
        m = _PART.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read path {path!r} at {text[pos:]!r}")
        idx, key = m.groups()
        parts.append(key if key is not None else ("+" if idx == "+" else int(idx)))
        pos = m.end()
    if not parts:
        raise ValueError("empty path")
    return parts


def set_path(mapping: dict, path: str, value) -> None:
    """Set ``value`` at ``path`` in ``mapping`` (in place), creating missing mappings."""
    parts = parse_path(path)
    node = mapping
    for j, part in enumerate(parts):
        last = j == len(parts) - 1
        if isinstance(part, int) or part == "+":
            if not isinstance(node, list):
                raise ValueError(f"{path}: {'.'.join(map(str, parts[:j])) or 'the scenario'} is "
                                 "not a list")
            if part == "+":
                if not last:
                    node.append({})
                    node = node[-1]
                    continue
                node.append(copy.deepcopy(value))
                return
            if part >= len(node):
                raise ValueError(f"{path}: position {part} does not exist (the list has "
                                 f"{len(node)} item{'s' if len(node) != 1 else ''})")
            if last:
                node[part] = copy.deepcopy(value)
                return
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"{path}: cannot set {part!r} inside a "
                                 f"{type(node).__name__}")
            if last:
                node[part] = copy.deepcopy(value)
                return
            if node.get(part) is None:
                node[part] = [] if isinstance(parts[j + 1], int) or parts[j + 1] == "+" else {}
            node = node[part]


def get_path(mapping, path: str, default=None):
    node = mapping
    for part in parse_path(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def _drop_nulls(node):
    """Remove ``null`` list items (how an alternative removes a shock)."""
    if isinstance(node, dict):
        return {k: _drop_nulls(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_drop_nulls(v) for v in node if v is not None]
    return node


# ======================================================================
# Members
# ======================================================================
@dataclass
class Member:
    """One scenario of a sweep: its name, the values of the axes, what it sets."""

    name: str
    values: dict[str, Any]
    assignments: dict[str, Any]
    weight: float | None = None  # quadrature weight (SSA)


def _show(v) -> str:
    if isinstance(v, float):
        return repr(_tidy_number(v))
    return str(v)


def member_name(values: Mapping[str, Any]) -> str:
    """``axis=value`` joined by ``__``; characters unsafe in file names become ``-``."""
    text = "__".join(f"{k}={_show(v)}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9._=+\-]", "-", text)


def expand(spec: SweepSpec) -> list[Member]:
    axes = {name: ax.settings() for name, ax in spec.axes.items()}
    names = list(axes)
    combos = (itertools.product(*axes.values()) if spec.combine == "product"
              else zip(*axes.values()))
    out = []
    for combo in combos:
        values = {n: v for n, (v, _) in zip(names, combo)}
        assignments: dict[str, Any] = {}
        for _, paths in combo:
            assignments.update(paths)
        out.append(Member(member_name(values), values, assignments))
    return out


@dataclass
class Sweep:
    """A loaded sweep file: the base scenario, its members and (SSA) the design."""

    path: Path | None
    text: str
    base: dict
    kind: Literal["sweep", "ssa"]
    spec: Any  # SweepSpec or cge.ssa.SSASpec
    members: list[Member]
    locator: Any = None
    design: Any = None  # cge.ssa.Design for an SSA

    @property
    def name(self) -> str:
        return str(self.base.get("name", "sweep"))

    @property
    def axes(self) -> list[str]:
        return list(self.members[0].values) if self.members else []

    def member_mapping(self, member: Member) -> dict:
        out = copy.deepcopy(self.base)
        for path, value in member.assignments.items():
            set_path(out, path, value)
        out = _drop_nulls(out)
        out["name"] = f"{self.name}[{member.name}]"
        return out

    def scales(self) -> dict[str, float]:
        """Range of every numeric axis (to measure how near two members are)."""
        out = {}
        for axis in self.axes:
            vals = [m.values[axis] for m in self.members
                    if isinstance(m.values[axis], (int, float)) and not isinstance(m.values[axis], bool)]
            if vals:
                span = max(vals) - min(vals)
                out[axis] = span if span > 0 else max(abs(vals[0]), 1.0)
        return out


def load_sweep(source: str | Path | Mapping) -> Sweep:
    """Read a sweep (or SSA) file: the scenario is validated as ``cge run`` validates it,
    the ``sweep:``/``ssa:`` section is expanded, and every member's scenario is validated."""
    from .scenario import Locator, Scenario, _compose, _format_validation

    path = None
    if isinstance(source, Mapping):
        data, locator = copy.deepcopy(dict(source)), Locator("<sweep>")
        text = yaml.safe_dump(dict(source), sort_keys=False)
    else:
        path = Path(source)
        if not path.is_file():
            raise SweepError(f"{path}: no such sweep file")
        text = path.read_text()
        data, locator = _compose(text, str(path))
    if not isinstance(data, Mapping):
        raise SweepError(f"{locator.filename}:1: a sweep file is a scenario mapping with a "
                         "'sweep:' or 'ssa:' section")
    data = dict(data)
    kinds = [k for k in ("sweep", "ssa") if k in data]
    if len(kinds) != 1:
        raise SweepError(f"{locator.filename}:1: give exactly one of 'sweep:' (a family of "
                         "scenarios) or 'ssa:' (sensitivity analysis)"
                         + ("" if kinds else "; this looks like a plain scenario: run it with "
                            "`cge run`"))
    kind = kinds[0]
    section = data.pop(kind)
    try:
        Scenario.model_validate(data)
    except ValidationError as exc:
        raise SweepError(_format_validation(exc, locator)) from None
    try:
        if kind == "sweep":
            spec = SweepSpec.model_validate(section)
        else:
            from .ssa import SSASpec

            spec = SSASpec.model_validate(section)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = (kind,) + tuple(err["loc"])
            msg = err["msg"][len("Value error, "):] if err["msg"].startswith("Value error, ") \
                else err["msg"]
            if err["type"] == "extra_forbidden":
                msg = f"unknown field {loc[-1]!r}"
            problems.append(f"{locator.where(locator.locate(loc))}: "
                            f"{'.'.join(map(str, loc))}: {msg}")
        raise SweepError(problems) from None
    sweep = Sweep(path, text, data, kind, spec, [], locator)
    if kind == "sweep":
        sweep.members = expand(spec)
    else:
        from .ssa import design_members

        sweep.design, sweep.members = design_members(sweep)
    problems = []
    names = [m.name for m in sweep.members]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"{locator.where((kind,))}: {kind}: members {dupes[:5]} occur more than "
                        "once (repeated values)")
    for member in sweep.members:
        try:
            mapping = sweep.member_mapping(member)
        except ValueError as exc:
            problems.append(f"{locator.where((kind,))}: {kind}: member {member.name}: {exc}")
            continue
        try:
            Scenario.model_validate(mapping)
        except ValidationError as exc:
            problems += [f"member {member.name}: {p}" for p in _format_validation(exc, locator)]
        if len(problems) > 20:
            break
    if problems:
        raise SweepError(problems)
    return sweep


# ======================================================================
# Running one member (in whichever process Dask puts it)
# ======================================================================
@dataclass
class _Model:
    eq: Any
    primitives: Any
    base: Any
    snapshot: list
    bstats: Any
    by_name: dict = field(default_factory=dict)


@dataclass
class _Point:
    structure: tuple
    coords: dict
    name: str
    values: dict  # variable name -> value


_MODELS: dict[tuple, _Model] = {}
_POINTS: list[_Point] = []
_DATA: dict[str, Any] = {}
_LOCATORS: dict[str, Any] = {}


def clear_caches() -> None:
    """Forget every built model, warm start and data set of this process."""
    _MODELS.clear()
    _POINTS.clear()
    _DATA.clear()
    _LOCATORS.clear()


def _locator(text: str, filename: str):
    from .scenario import Locator, _compose

    key = hashlib.sha256((filename + "\0" + text).encode()).hexdigest()
    if key not in _LOCATORS:
        try:
            _LOCATORS[key] = _compose(text, filename)[1]
        except InputError:
            _LOCATORS[key] = Locator(filename)
    return _LOCATORS[key]


def _loaded(job: dict):
    from .scenario import LoadedScenario, Scenario

    path = Path(job["scenario_path"]) if job.get("scenario_path") else None
    locator = _locator(job["text"], str(path) if path else "<sweep>")
    scenario = Scenario.model_validate(job["mapping"])
    return LoadedScenario(scenario, yaml.safe_dump(job["mapping"], sort_keys=False), path, locator)


def _data(loaded):
    from .scenario import load_data

    spec = loaded.scenario.data
    spec = spec.model_dump() if hasattr(spec, "model_dump") else spec
    key = json.dumps([spec, str(loaded.path.parent if loaded.path else Path.cwd())], default=str)
    if key not in _DATA:
        _DATA[key] = load_data(loaded)
    return _DATA[key]


def _structure(label: str, prim, soe) -> tuple:
    routes = np.isfinite(prim["tau"]).tobytes()
    return (label, tuple(prim.regions), tuple(prim.sectors), tuple(prim.factors),
            tuple(sorted(prim.market_structure.items())), tuple(sorted(prim.entry.items())),
            routes, json.dumps(prim.closure.to_mapping(), sort_keys=True),
            (prim.numeraire.kind, prim.numeraire.region, prim.numeraire.label), soe)


def _distance(a: Mapping, b: Mapping, scales: Mapping[str, float]) -> float:
    d = 0.0
    for key in set(a) | set(b):
        x, y = a.get(key), b.get(key)
        if key in scales and isinstance(x, (int, float)) and isinstance(y, (int, float)):
            d += ((float(x) - float(y)) / scales[key]) ** 2
        elif x != y:
            d += 1.0
    return d


def _values_by_name(model) -> dict[str, float]:
    import pyomo.environ as pyo

    return {v.name: v.value for v in model.component_data_objects(pyo.Var, descend_into=True)}


def _set_by_name(cached: _Model, values: Mapping[str, float]) -> None:
    import pyomo.environ as pyo

    if not cached.by_name:
        cached.by_name = {v.name: v for v in cached.eq.model.component_data_objects(
            pyo.Var, descend_into=True)}
    for name, val in values.items():
        var = cached.by_name.get(name)
        if var is not None and val is not None and not var.fixed:
            var.set_value(val, skip_validation=True)


def _base_model(label, prim, prepared, solver, soe, warm: bool) -> tuple[_Model, bool]:
    """The built model of benchmark ``prim`` with its benchmark solved: cached or new."""
    from .equilibrium import Equilibrium, _restore
    from .model import set_parameters
    from .scenario import AS_SPECIFIED, _calibration, primitives_checksum

    sc = prepared.scenario
    key = (primitives_checksum(prim), soe, json.dumps(sc.solver_options, sort_keys=True,
                                                       default=str), solver)
    cached = _MODELS.get(key) if warm else None
    if cached is not None:
        eq = cached.eq
        _restore(eq.model, cached.snapshot)
        set_parameters(eq.model, prim)
        eq.primitives = prim
        eq.steps = []
        return cached, True
    eq = Equilibrium(prim, solver=solver, options=sc.solver_options or None,
                     small_open_economy=soe, progress=None)
    restructured = sc.market_structure or sc.entry
    if prepared.data.start is not None and label == AS_SPECIFIED and not restructured:
        _calibration().set_start(eq, prepared.data.start)
    base = eq.solve()
    from .equilibrium import _snapshot

    cached = _Model(eq, prim, base, _snapshot(eq.model), eq.last_stats)
    if warm:
        if len(_MODELS) >= MODEL_CACHE:
            _MODELS.pop(next(iter(_MODELS)))
        _MODELS[key] = cached
    return cached, False


def solve_prepared(prepared, *, coords: Mapping | None = None, scales: Mapping | None = None,
                   name: str = "", solver: str | None = None, warm: bool = True):
    """Solve a prepared scenario as :func:`cge.scenario.run_scenario` does, reusing this
    process's models and starting the counterfactual from the nearest solved member."""
    from .equilibrium import _restore
    from .errors import SolveError
    from .model import set_parameters
    from .scenario import ModelRun, ScenarioResult, _unit_of_account, check_expectations, \
        check_identities, closure_region
    from .welfare import decompose

    t0 = time.perf_counter()
    sc = prepared.scenario
    soe = closure_region(sc)
    warm = warm and soe is None  # the closure fixes variables at each benchmark: build anew
    coords, scales = dict(coords or {}), dict(scales or {})
    runs = {}
    for label, (prim, shocked) in prepared.models.items():
        t1 = time.perf_counter()
        cached, reused = _base_model(label, prim, prepared, solver, soe, warm)
        eq, base, bstats = cached.eq, cached.base, cached.bstats
        t2 = time.perf_counter()
        structure = _structure(label, prim, soe)
        changes = any(not np.array_equal(prim.arrays[k], shocked.arrays[k], equal_nan=True)
                      for k in prim.arrays) or prim.numeraire.value != shocked.numeraire.value
        new, start_from = None, "benchmark"
        if warm and changes:
            near = [p for p in _POINTS if p.structure == structure]
            if near:
                point = min(near, key=lambda p: _distance(p.coords, coords, scales))
                _set_by_name(cached, point.values)
                saved, eq.min_step = eq.min_step, 1.0  # one attempt, then from the benchmark
                try:
                    new = eq.solve(shocked)
                    start_from = point.name
                except SolveError:
                    new = None
                    _restore(eq.model, cached.snapshot)
                    set_parameters(eq.model, prim)
                    eq.primitives = prim
                finally:
                    eq.min_step = saved
        if new is None:
            new = eq.solve(shocked)
        sstats = eq.last_stats
        t3 = time.perf_counter()
        if warm and changes:
            if len(_POINTS) >= POINT_CACHE:
                _POINTS.pop(0)
            _POINTS.append(_Point(structure, coords, name, _values_by_name(eq.model)))
        welfare = decompose(base, new, prim, shocked, fixed_region=soe)
        stats = {
            "solver": bstats.solver if bstats else None,
            "benchmark_iterations": bstats.iterations if bstats else 0,
            "benchmark_reused": reused,
            "benchmark_seconds": t2 - t1,
            "shock_iterations": sstats.iterations if (sstats and changes) else 0,
            "shock_seconds": t3 - t2,
            "start": start_from,
            "homotopy_steps": list(eq.steps) if new.info.get("changed") else [],
            "changed": list(new.info.get("changed", [])),
            "walras_residual": new.walras_residual,
            "max_residual": new.max_residual,
            "numeraire": _unit_of_account(prim, soe),
        }
        runs[label] = ModelRun(label, prim, shocked, base, new, welfare, stats)
    result = ScenarioResult(prepared, runs)
    result.identities = check_identities(result)
    result.expectations = check_expectations(result)
    result.elapsed = time.perf_counter() - t0
    return result


def run_member(job: dict) -> dict:
    """Prepare and solve one member (a Dask task); never raises for a bad member.

    ``job``: ``name``, ``mapping`` (the member's scenario), ``scenario_path``, ``text``
    (the sweep file), ``values`` (its axis values), ``scales``, ``solver``, ``warm``.
    Returns ``name``, ``status`` (``ok``, ``invalid``, ``failed``), ``diagnosis``,
    ``table`` (the long table, or None), ``stats`` and ``seconds``.
    """
    from .scenario import prepare_scenario

    t0 = time.perf_counter()
    out = {"name": job["name"], "status": "ok", "diagnosis": "", "table": None, "stats": {},
           "worker": f"{os.uname().nodename}:{os.getpid()}"}
    try:
        loaded = _loaded(job)
        prepared = prepare_scenario(loaded, data=_data(loaded))
    except (InputError, ValidationError) as exc:
        out.update(status="invalid", diagnosis=_message(exc))
    except CGEError as exc:
        out.update(status="failed", diagnosis=_message(exc))
    except Exception as exc:  # noqa: BLE001 - a member must not stop the sweep
        out.update(status="failed", diagnosis=f"{type(exc).__name__}: {exc}")
    else:
        try:
            result = solve_prepared(prepared, coords=job.get("values"), scales=job.get("scales"),
                                    name=job["name"], solver=job.get("solver"),
                                    warm=job.get("warm", True))
        except CGEError as exc:
            out.update(status="failed", diagnosis=_message(exc))
        except Exception as exc:  # noqa: BLE001 - a member must not stop the sweep
            out.update(status="failed", diagnosis=f"{type(exc).__name__}: {exc}")
        else:
            out["table"] = long_table(result.tables())
            out["stats"] = {k: run.stats for k, run in result.runs.items()}
            out["identities_hold"] = bool(result.identities_hold)
            out["expectations_met"] = bool(result.expectations_met)
            if not result.identities_hold:
                bad = result.identities[~result.identities["ok"]]
                out["diagnosis"] = "accounting identities fail: " + ", ".join(
                    f"{r.identity} ({r.equilibrium}) = {r.value:.2e}" for r in bad.itertuples())
    out["seconds"] = time.perf_counter() - t0
    return out


def _message(exc) -> str:
    problems = getattr(exc, "problems", None)
    return "; ".join(problems) if problems else str(exc)


# ======================================================================
# The long table
# ======================================================================
def long_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every numeric result of a run's tidy tables (:func:`cge.report.tidy_tables`) as one
    long table: ``model, table, region, partner, sector, factor, variable, value``.

    ``region`` is the region (the importer on a route), ``partner`` the exporter of a route,
    ``factor`` a primary factor (factor prices); empty where it does not apply.
    """
    parts: dict[str, list] = {k: [] for k in KEYS + ("variable", "value")}

    def melt(frame, table, region="region", partner=None, sector=None, factor=None):
        skip = {"model", region, partner, sector, factor}
        num = [c for c in frame.columns if c not in skip
               and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
        n, m = len(frame), len(num)
        ids = {"model": frame["model"], "region": frame[region],
               "partner": frame[partner] if partner else None,
               "sector": frame[sector] if sector else None,
               "factor": frame[factor] if factor else None}
        for key, col in ids.items():  # variable-major, as DataFrame.melt orders rows
            arr = np.full(n, "", dtype=object) if col is None else \
                col.fillna("").astype(str).to_numpy(object)
            parts[key].append(np.tile(arr, m))
        parts["table"].append(np.full(n * m, table, dtype=object))
        parts["variable"].append(np.repeat(np.array(num, dtype=object), n))
        parts["value"].append(frame[num].to_numpy(float).T.ravel())

    melt(tables["summary"], "summary")
    melt(tables["welfare"], "welfare")
    melt(tables["welfare_sectors"], "welfare_sectors", sector="sector")
    melt(tables["trade"], "trade", region="destination", partner="origin", sector="sector")
    melt(tables["firms"], "firms", sector="sector")
    prices = tables["prices_factors"]
    for kind, grp in prices.groupby("price", sort=False):
        g = grp.rename(columns={"base": f"{kind}_base", "new": f"{kind}_new",
                                "change_pct": f"{kind}_change_pct"})
        g = g.drop(columns=["price"])
        if kind == "factor_price":
            melt(g, "prices", factor="item")
        elif kind == "cpi":
            melt(g.drop(columns=["item"]), "prices")
        else:
            melt(g, "prices", sector="item")
    out = pd.DataFrame({k: np.concatenate(v) for k, v in parts.items()})
    for c in KEYS + ("variable",):
        out[c] = out[c].astype(str)
    return out


# ======================================================================
# Executing members: serially or on Dask
# ======================================================================
def _progress_line(done: int, total: int, res: dict, t0: float) -> str:
    elapsed = time.perf_counter() - t0
    left = total - done
    eta = elapsed / max(done, 1) * left
    status = res["status"]
    extra = ""
    if status == "ok":
        stats = next(iter(res["stats"].values()), {})
        extra = (f"benchmark {stats.get('benchmark_iterations', 0)} it, shock "
                 f"{stats.get('shock_iterations', 0)} it from {stats.get('start', '?')}")
    else:
        extra = res["diagnosis"].splitlines()[0][:160] if res["diagnosis"] else ""
    return (f"[{done:>{len(str(total))}}/{total}] {res['name']}: {status} in "
            f"{res['seconds']:.2f} s ({extra}); {left} left, ~{eta:.0f} s to go")


def execute(jobs: list[dict], *, scheduler: str | None = None, workers: int | None = None,
            on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Run ``jobs`` with :func:`run_member`; call ``on_result`` as each finishes.

    ``scheduler``: ``"serial"`` (in this process), ``"local"`` (a ``LocalCluster`` of
    ``workers`` processes, default one per core, shut down afterwards), or the address
    of a running Dask scheduler (``tcp://host:8786``; default: the environment variable
    :data:`SCHEDULER_ENV`, else ``"local"``). Results come back in completion order.
    """
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or "local"
    out = []
    if scheduler == "serial" or not jobs:
        for job in jobs:
            res = run_member(job)
            out.append(res)
            if on_result:
                on_result(res)
        return out
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler == "local":
        n = workers or os.cpu_count() or 1
        import logging

        # quiet: a member's failure is reported with its result, and closing the cluster
        # logs heartbeat errors that mean nothing once the work is done
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.CRITICAL)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [client.submit(run_member, job, key=f"cge-member-{job['name']}-{job['sha']}",
                                 pure=False) for job in jobs]
        try:
            for fut in as_completed(futures):
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died: record, go on
                    name = next(j["name"] for j, f in zip(jobs, futures) if f is fut)
                    res = {"name": name, "status": "failed", "table": None, "stats": {},
                           "diagnosis": f"the Dask task failed: {type(exc).__name__}: {exc}",
                           "seconds": 0.0}
                out.append(res)
                if on_result:
                    on_result(res)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return out


# ======================================================================
# The sweep
# ======================================================================
def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _parquet() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns."""

    sweep: Sweep
    outdir: Path
    table: pd.DataFrame  # the long table of every member that solved
    members: pd.DataFrame  # one row per member
    ran: list[str]  # members run now (not resumed from files)
    elapsed: float = 0.0
    ssa: dict = field(default_factory=dict)  # cge.ssa tables for an SSA

    @property
    def failed(self) -> list[str]:
        return list(self.members.loc[self.members["status"] != "ok", "member"])


def _member_files(outdir: Path, name: str) -> tuple[Path, Path]:
    folder = outdir / "members"
    return folder / f"{name}.json", folder / (f"{name}.parquet" if _parquet() else f"{name}.csv")


def _write_member(outdir: Path, res: dict, job: dict, member: Member) -> None:
    from .fsio import atomic_write

    meta_path, table_path = _member_files(outdir, res["name"])
    if res["table"] is not None:
        table = res["table"]
        if table_path.suffix == ".parquet":
            atomic_write(table_path, lambda p: table.to_parquet(p, index=False))
        else:
            atomic_write(table_path, lambda p: table.to_csv(p, index=False))
    meta = {k: v for k, v in res.items() if k != "table"}
    meta.update(sha=job["sha"], values=member.values, weight=member.weight)
    # the json is written last: a member counts as finished only once it exists
    atomic_write(meta_path, json.dumps(meta, indent=1, default=json_default))


def _finished(outdir: Path, job: dict, retry_failed: bool) -> dict | None:
    meta_path, table_path = _member_files(outdir, job["name"])
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("sha") != job["sha"]:
        return None  # the member's scenario changed since: run it again
    if meta.get("status") == "ok":
        if not table_path.is_file():
            return None
        meta["table"] = (pd.read_parquet(table_path) if table_path.suffix == ".parquet"
                         else read_long_csv(table_path))
    elif retry_failed:
        return None
    return meta


def read_long_csv(path) -> pd.DataFrame:
    """A long table from CSV: labels as text (empty where they do not apply), numbers as floats."""
    frame = pd.read_csv(path, keep_default_na=False, dtype={k: str for k in KEYS},
                        na_values={"value": ["", "nan", "NaN"]})
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def jobs_of(sweep: Sweep, *, solver: str | None = None, warm: bool = True) -> list[dict]:
    scales = sweep.scales()
    jobs = []
    for m in sweep.members:
        mapping = sweep.member_mapping(m)
        jobs.append({"name": m.name, "mapping": mapping, "values": m.values, "scales": scales,
                     "scenario_path": str(sweep.path.resolve()) if sweep.path else None,
                     "text": sweep.text, "solver": solver, "warm": warm,
                     "sha": _sha([mapping, str(sweep.path.resolve().parent) if sweep.path else ""])})
    return jobs


def check_sweep_folder(outdir: Path) -> None:
    """Refuse, before any member runs, an output folder that a sweep did not make: a
    sweep writes ``results.*``, ``members.csv`` and more into it, and would overwrite a
    user's files of those names. New, empty and earlier sweep folders (``members/``
    beside ``sweep.yaml``, or a ``members/`` folder of an interrupted sweep) are fine."""
    from .errors import OutputError

    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise OutputError(f"{outdir}: is a file; a sweep writes a folder (choose a new name)")
    entries = sorted(p.name for p in outdir.iterdir() if not p.name.startswith("."))
    if entries and not (outdir / "members").is_dir():
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise OutputError(f"{outdir}: not a sweep folder made by cge (it holds {shown}); its "
                          "files could be overwritten: choose a new or empty folder")


def run_sweep(source, outdir: str | Path | None = None, *, scheduler: str | None = None,
              workers: int | None = None, solver: str | None = None, warm: bool = True,
              resume: bool = True, retry_failed: bool = False,
              progress: Callable[[str], None] | None = print,
              on_member: Callable[[dict], None] | None = None, plots: bool = True) -> SweepResult:
    """Run every member of a sweep (or SSA) file and write the results folder.

    ``outdir`` defaults to ``results/<name>`` next to the file. With ``resume``
    (default) members whose files are already in ``outdir/members`` (and whose
    scenario is unchanged) are not run again; failed ones only with ``retry_failed``.
    ``progress`` receives one line per finished member; ``on_member`` the member's
    result dict once its files are written (e.g. to stop the sweep).
    """
    from .fsio import atomic_write

    t0 = time.perf_counter()
    sweep = source if isinstance(source, Sweep) else load_sweep(source)
    if outdir is None:
        base = sweep.path.parent if sweep.path else Path.cwd()
        outdir = base / "results" / sweep.name
    outdir = Path(outdir)
    check_sweep_folder(outdir)
    (outdir / "members").mkdir(parents=True, exist_ok=True)
    jobs = jobs_of(sweep, solver=solver, warm=warm)
    by_name = {m.name: m for m in sweep.members}
    results: dict[str, dict] = {}
    todo = []
    for job in jobs:
        done = _finished(outdir, job, retry_failed) if resume else None
        if done is not None:
            results[job["name"]] = done
        else:
            todo.append(job)
    say = progress or (lambda line: None)
    say(f"{sweep.name}: {len(jobs)} members, {len(results)} already finished in {outdir}, "
        f"{len(todo)} to run" + (f" ({scheduler or os.environ.get(SCHEDULER_ENV) or 'local'})"
                                 if todo else ""))
    job_of = {j["name"]: j for j in jobs}
    count = [0]
    t_run = time.perf_counter()

    def finished(res):
        _write_member(outdir, res, job_of[res["name"]], by_name[res["name"]])
        results[res["name"]] = res
        count[0] += 1
        say(_progress_line(count[0], len(todo), res, t_run))
        if on_member:
            on_member(res)

    execute(todo, scheduler=scheduler, workers=workers, on_result=finished)
    table, members = _collect(sweep, results)
    info = {"sweep": sweep.name, "kind": sweep.kind, "file": str(sweep.path) if sweep.path else None,
            "sweep_sha256": hashlib.sha256(sweep.text.encode()).hexdigest(),
            "members": len(jobs), "ran_now": [j["name"] for j in todo],
            "failed": list(members.loc[members["status"] != "ok", "member"]),
            "data": _data_info(sweep), "elapsed_seconds": time.perf_counter() - t0}
    _write_table(outdir / "results", table)
    atomic_write(outdir / "members.csv", lambda p: members.to_csv(p, index=False))
    atomic_write(outdir / "sweep.yaml", sweep.text)
    out = SweepResult(sweep, outdir, table, members, [j["name"] for j in todo])
    if sweep.kind == "ssa":
        from .ssa import summarise, write_ssa

        out.ssa = summarise(sweep, table, members)
        write_ssa(out, plots=plots)
    elif plots and not table.empty:
        plot_members(out, outdir / "welfare_by_member.png")
    out.elapsed = time.perf_counter() - t0
    info["elapsed_seconds"] = out.elapsed
    atomic_write(outdir / "sweep_info.json", json.dumps(info, indent=1, default=json_default))
    return out


def _data_info(sweep: Sweep) -> dict:
    """Which data the members use (for `cge compare`): description and checksum."""
    try:
        from .scenario import LoadedScenario, Scenario

        loaded = LoadedScenario(Scenario.model_validate(sweep.base), sweep.text, sweep.path,
                                sweep.locator)
        data = _data(loaded)
        from .units import money_unit

        return {"description": data.description, "sha256": data.checksum,
                "money_unit": money_unit(getattr(data, "units", ""))}
    except CGEError as exc:
        return {"description": f"not readable: {exc}", "sha256": None}


def _write_table(stem: Path, table: pd.DataFrame) -> None:
    from .fsio import atomic_write

    atomic_write(stem.with_suffix(".csv"), lambda p: table.to_csv(p, index=False))
    if _parquet():
        atomic_write(stem.with_suffix(".parquet"), lambda p: table.to_parquet(p, index=False))


def _collect(sweep: Sweep, results: Mapping[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long table of all members (in the sweep's order) and the member table."""
    axes = sweep.axes
    frames, rows = [], []
    for m in sweep.members:
        res = results.get(m.name)
        row = {"member": m.name, **{a: m.values[a] for a in axes}}
        if m.weight is not None:
            row["weight"] = m.weight
        if res is None:
            row.update(status="not run", diagnosis="")
            rows.append(row)
            continue
        stats = next(iter((res.get("stats") or {}).values()), {})
        row.update(status=res["status"], diagnosis=res.get("diagnosis", ""),
                   seconds=res.get("seconds"), worker=res.get("worker", ""),
                   benchmark_iterations=stats.get("benchmark_iterations"),
                   benchmark_reused=stats.get("benchmark_reused"),
                   shock_iterations=stats.get("shock_iterations"), start=stats.get("start"))
        rows.append(row)
        table = res.get("table")
        if res["status"] == "ok" and table is not None and len(table):
            t = table.copy()
            for k in KEYS:
                t[k] = t[k].fillna("").astype(str)
            for j, a in enumerate(axes):
                t.insert(j, a, _column_value(m.values[a]))
            t.insert(0, "member", m.name)
            frames.append(t)
    cols = ["member"] + axes + list(KEYS) + ["variable", "value"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    members = pd.DataFrame(rows)
    for a in axes:  # an axis mixing numbers and text is text (Parquet needs one type)
        for frame in (table, members):
            col = frame[a]
            if col.dtype == object and not col.map(lambda v: isinstance(v, str)).all():
                frame[a] = col.astype(str)
    return table, members


def _column_value(v):
    return v if isinstance(v, (int, float, str, bool)) else json.dumps(v, default=str)


def plot_members(result: SweepResult, path: Path) -> Path:
    """Welfare change (log points, the welfare total) by region across the members: lines
    over the first numeric
    axis (one panel per combination of the others is too many: the others become
    separate lines), or grouped bars when no axis is numeric."""
    from .report import _plt, _save

    plt = _plt()
    t = result.table
    w = t[(t["table"] == "welfare") & (t["variable"] == "total")
          & (t["model"] == t["model"].iloc[0])]
    axes = result.sweep.axes
    numeric = [a for a in axes if pd.api.types.is_numeric_dtype(result.members[a])]
    regions = list(dict.fromkeys(w["region"]))
    shown = regions
    if len(regions) > 6:  # the six largest average changes
        mean = w.groupby("region")["value"].apply(lambda v: v.abs().mean())
        shown = list(mean.sort_values(ascending=False).index[:6])
    fig, ax = plt.subplots(figsize=(9, 5))
    if numeric:
        from matplotlib.lines import Line2D

        x_axis = numeric[0]
        others = [a for a in axes if a != x_axis]
        groups = list(w.groupby(others, sort=False)) if others else [((), w)]
        styles = ["-", "--", ":", "-."]
        colours = {r: plt.get_cmap("tab10")(k % 10) for k, r in enumerate(shown)}
        for g, (key, grp) in enumerate(groups[:len(styles)]):
            for r in shown:
                line = grp[grp["region"] == r].sort_values(x_axis)
                ax.plot(line[x_axis], line["value"], marker="o", markersize=3,
                        linestyle=styles[g], color=colours[r])
        handles = [Line2D([], [], color=colours[r], label=r) for r in shown]
        for g, (key, _) in enumerate(groups[:len(styles)]):
            key = key if isinstance(key, tuple) else (key,)
            if others:
                handles.append(Line2D([], [], color="black", linestyle=styles[g],
                                      label=", ".join(f"{a}={v}" for a, v in zip(others, key))))
        ax.legend(handles=handles, fontsize=7, ncol=2 if len(handles) > 8 else 1)
        if len(groups) > len(styles):
            ax.text(0.01, 0.01, f"first {len(styles)} of {len(groups)} combinations of "
                    f"{', '.join(others)}", transform=ax.transAxes, fontsize=7)
        ax.set_xlabel(x_axis)
    else:
        members = list(dict.fromkeys(w["member"]))
        x = np.arange(len(shown))
        width = 0.8 / max(1, len(members))
        for k, m in enumerate(members):
            v = w[w["member"] == m].set_index("region")["value"].reindex(shown)
            ax.bar(x + (k - (len(members) - 1) / 2) * width, v, width, label=m)
        ax.set_xticks(x, shown)
        ax.legend(fontsize=7, ncol=2 if len(members) > 10 else 1)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("welfare change (log points: 100 x change in log real income)")
    ax.set_title(f"{result.sweep.name}: welfare across {len(result.members)} members"
                 + (f" ({len(shown)} of {len(regions)} regions)" if len(shown) < len(regions) else ""))
    fig.tight_layout()
    return _save(fig, path)


def print_summary(console, result: SweepResult, max_rows: int = 20) -> None:
    """What `cge sweep` prints at the end: welfare by member (or the SSA statistics),
    failed members with their diagnosis, where the files are."""
    from rich.markup import escape

    from .cli import _frame_table

    t = result.table
    if result.sweep.kind == "ssa" and result.ssa:
        from .ssa import print_ssa

        print_ssa(console, result)
    elif not t.empty:
        w = t[(t["table"] == "welfare") & (t["variable"] == "total")]
        wide = w.pivot_table(index="member", columns="region", values="value", sort=False)
        if wide.shape[1] > 8:
            top = wide.abs().mean().sort_values(ascending=False).index[:8]
            wide = wide[top]
        title = "Welfare change (log points: 100 x change in log real income) by member"
        if len(wide) > max_rows:
            title += f"; the first {max_rows} of {len(wide)} members (all in results.csv)"
            wide = wide.head(max_rows)
        console.print(_frame_table(title, wide))
    bad = result.members[result.members["status"] != "ok"]
    for row in bad.itertuples():
        console.print(f"[red]{escape(row.member)}: {row.status}[/red]: "
                      f"{escape(str(row.diagnosis))}", highlight=False)
    n_ok = int((result.members["status"] == "ok").sum())
    console.print(f"{n_ok} of {len(result.members)} members solved ({len(result.ran)} run now) in "
                  f"{result.elapsed:.1f} s; results in [bold]{escape(str(result.outdir))}[/bold] "
                  "(results.parquet/.csv, members.csv)", highlight=False)
