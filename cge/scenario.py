"""Policy scenarios: YAML files validated with pydantic, run from Python or ``cge run``.

>>> from cge.scenario import run_scenario
>>> result = run_scenario("runs/tariff_unilateral.yaml")       # doctest: +SKIP
>>> result.tables()["welfare"]                                 # doctest: +SKIP
>>> result.write("results/tariff_unilateral")                  # doctest: +SKIP

A scenario file (all fields are documented in ``docs/scenarios.md``)::

    name: tariff_war
    description: North raises its manufacturing tariffs; South retaliates.
    data: {example: three_by_three}       # or a primitives YAML/JSON path, or a workbook
    shocks:
      - {type: tariff, importers: North, exporters: South, sectors: manufacturing,
         mode: add, value: 0.2}
      - {type: tariff, retaliation: {by: South, against: North}}
    expect:
      welfare: {South: negative}

Every problem found while reading a scenario raises :class:`ScenarioError`,
each message starting ``file:line:`` and naming the field, e.g.
``tariff_war.yaml:7: shocks[0].importers[1]: unknown region 'Nrth'; regions
are ['North', 'South', 'East']``. Everything (data, overrides, shocks,
expectations) is checked before any model is solved.
"""

from __future__ import annotations

import re

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import pandas as pd
import yaml
from pydantic import (AliasChoices, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field,
                      Tag, ValidationError, field_validator, model_validator)

from . import fsio
from . import shocks as sh
from .errors import InputError
from .parameters import MARKET_STRUCTURES
from .primitives import Primitives

__all__ = [
    "Scenario", "ScenarioError", "ScenarioResult", "ModelRun", "PreparedScenario",
    "load_scenario", "prepare_scenario", "run_scenario", "switch_market_structure",
]

AS_SPECIFIED = "as_specified"


class ScenarioError(InputError):
    """A scenario file that cannot be run; every problem names file, line and field."""

    def __init__(self, problems: list[str] | str):
        super().__init__(problems)
        if len(self.problems) == 1:
            msg = f"invalid scenario: {self.problems[0]}"
        else:
            msg = f"invalid scenario ({len(self.problems)} problems)\n" + "\n".join(
                f"  - {p}" for p in self.problems)
        self.args = (msg,)

    def __str__(self) -> str:
        return self.args[0]


# ======================================================================
# YAML with line numbers
# ======================================================================
class Locator:
    """Line numbers of every key and list item of a YAML document.

    ``line(path)`` returns the line of the deepest known prefix of ``path``
    (a tuple of keys and list positions), so an error about a field that is
    missing points at its parent.
    """

    def __init__(self, filename: str, lines: dict[tuple, int] | None = None):
        self.filename = filename
        self.lines = lines or {}

    def line(self, path: Sequence) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def locate(self, path: Sequence) -> tuple:
        """The longest prefix of ``path`` made of known keys (pydantic inserts union tags)."""
        out: tuple = ()
        for part in path:
            if out + (part,) in self.lines:
                out = out + (part,)
        return out

    def where(self, path: Sequence) -> str:
        line = self.line(path)
        return f"{self.filename}:{line}" if line else self.filename


def dotted(path: Sequence) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _compose(text: str, filename: str) -> tuple[Any, Locator]:
    try:  # limits on depth and aliases: an alias bomb fails at once (cge.fsio)
        node = fsio.compose_yaml(text, filename)
    except InputError as exc:
        raise ScenarioError(exc.problems) from None
    lines: dict[tuple, int] = {}
    problems: list[str] = []

    def walk(n, path):
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            seen = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
                if key in seen:
                    problems.append(f"{filename}:{k.start_mark.line + 1}: {dotted(path + (key,))}: "
                                    f"duplicate key (first given on line {seen[key]})")
                seen[key] = k.start_mark.line + 1
                lines[path + (key,)] = k.start_mark.line + 1
                walk(v, path + (key,))
        elif isinstance(n, yaml.SequenceNode):
            for j, item in enumerate(n.value):
                walk(item, path + (j,))

    if node is not None:
        walk(node, ())
    if problems:
        raise ScenarioError(problems)
    try:
        data = fsio.construct_yaml(node, filename)
    except InputError as exc:
        raise ScenarioError(exc.problems) from None
    return data, Locator(filename, lines)


# ======================================================================
# The scenario schema
# ======================================================================
Selector = Union[str, list[str], None]
Mode = Literal["set", "scale", "cut_pct", "change_pct", "add"]
Sign = Literal["positive", "negative", "zero", "nonnegative", "nonpositive"]
Structure = Literal["melitz", "krugman", "armington", "cara", "linear", "outside"]


def _no_bool(value):
    """YAML reads ``yes``/``true`` as booleans; where a number is meant that is a mistake
    (pydantic would take it as 1.0)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {str(value).lower()} (YAML reads "
                         "true/false/yes/no/on/off as booleans)")
    return value


#: A number, not a boolean.
Number = Annotated[float, BeforeValidator(_no_bool)]

#: Longest scenario name (it names the results folder).
MAX_NAME_LENGTH = 100


def check_scenario_name(name: str) -> str:
    """A scenario name names its results folder: not empty, no path separators, not
    ``.``/``..`` nor starting with a dot, no control characters, at most 100 characters."""
    if not name.strip():
        raise ValueError("the name is empty; it names the results folder (results/<name>), "
                         "give e.g. name: tariff_war")
    bad = sorted({c for c in name if c in "/\\" or ord(c) < 32 or ord(c) == 127})
    if bad:
        raise ValueError(f"{name!r} holds {', '.join(repr(c) for c in bad)}: the name becomes a "
                         "folder name (results/<name>), so no path separators or control "
                         "characters; use e.g. underscores")
    if name.startswith(".") or name != name.strip():
        raise ValueError(f"{name!r}: the name becomes a folder name (results/<name>): it may "
                         "not start with a dot (., .. and hidden folders) or with or end in spaces")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name has {len(name)} characters; at most {MAX_NAME_LENGTH} (it "
                         "names the results folder)")
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _alias(*names):
    return Field(default=None, validation_alias=AliasChoices(*names))


class Retaliation(_Strict):
    by: str | list[str] = Field(description="region(s) that retaliate")
    against: str | list[str] = Field(description="region(s) whose tariff changes are mirrored")
    share: Number = Field(1.0, description="fraction of the partner's change mirrored")


class Schedule(_Strict):
    file: str = Field(description="CSV or Excel file, relative to the scenario file")
    sheet: str | None = Field(None, description="sheet of an Excel file (default: the first)")


class TariffShock(_Strict):
    """Ad valorem tariffs t[n,i,s] (decimals: 0.25 is 25%); one ``value`` for the selected
    routes, or route by route from a ``schedule`` table (see :func:`cge.shocks.tariff_schedule`)."""

    type: Literal["tariff"]
    label: str | None = None
    mode: Mode | None = None
    value: Number | None = None
    importers: Selector = _alias("importers", "importer")
    exporters: Selector = _alias("exporters", "exporter")
    sectors: Selector = _alias("sectors", "sector")
    fta: list[str] | None = None
    mfn: bool = False
    retaliation: Retaliation | None = None
    schedule: Union[str, Schedule, None] = None

    @model_validator(mode="after")
    def _selection(self):
        if self.retaliation is not None:
            extra = [f for f in ("mode", "value", "importers", "exporters", "fta", "schedule")
                     if getattr(self, f) is not None]
            if extra or self.mfn:
                raise ValueError("retaliation mirrors a partner's change: do not give "
                                 + ", ".join(extra + (["mfn"] if self.mfn else [])))
            return self
        if self.schedule is not None:
            if self.value is not None or self.mfn:
                raise ValueError("a schedule gives the value of every route: do not give "
                                 + ("'value'" if self.value is not None else "'mfn'"))
            if self.mode is None:
                self.mode = "set"
        elif self.mode is None or self.value is None:
            raise ValueError("a tariff shock needs 'mode' (set, scale, cut_pct, change_pct, add) "
                             "and 'value', or a 'schedule' table")
        if self.fta is not None and (self.importers is not None or self.exporters is not None):
            raise ValueError("give either 'fta' (routes among the members) or "
                             "importers/exporters, not both")
        if self.mfn and (self.importers is None or self.exporters is not None):
            raise ValueError("mfn: give the importers and no exporters (the change applies to "
                             "every exporter)")
        return self

    @field_validator("value")
    @classmethod
    def _above_minus_100(cls, v, info):
        if v is not None and info.data.get("mode") == "set" and v <= -1:
            raise ValueError(f"tariff {v:g} ({100 * v:g}%) is -100% or below; tariffs must "
                             "exceed -100% (rates are decimals: 0.25 is 25%)")
        return v


class Border(_Strict):
    groups: list[list[str]]
    to: Literal["within", "factor"] = "within"
    factor: Number | None = None


class IcebergShock(_Strict):
    """Iceberg trade costs tau[n,i,s]; cut_pct/change_pct act on tau - 1."""

    type: Literal["iceberg"]
    label: str | None = None
    mode: Mode | None = None
    value: Number | None = None
    importers: Selector = _alias("importers", "importer")
    exporters: Selector = _alias("exporters", "exporter")
    sectors: Selector = _alias("sectors", "sector")
    routes: Literal["foreign", "international", "domestic", "all"] = "foreign"
    fta: list[str] | None = None
    pairs: list[list[str]] | None = None
    both_directions: bool = False
    border: Border | None = None
    remove_gravity_term: float | None = None

    @model_validator(mode="after")
    def _selection(self):
        if self.border is not None:
            extra = [f for f in ("mode", "value", "importers", "exporters", "fta", "pairs",
                                 "remove_gravity_term") if getattr(self, f) is not None]
            if extra:
                raise ValueError("border removal sets tau itself: do not give " + ", ".join(extra))
            return self
        if self.remove_gravity_term is not None:
            if self.mode is not None or self.value is not None:
                raise ValueError("remove_gravity_term sets the change itself: do not give mode "
                                 "and value")
            return self
        if self.mode is None or self.value is None:
            raise ValueError("an iceberg shock needs 'mode' and 'value' (or a 'border', or "
                             "'remove_gravity_term')")
        return self


class FixedCostShock(_Strict):
    """Fixed costs f[n,i,s] of serving a market (melitz)."""

    type: Literal["fixed_cost"]
    label: str | None = None
    mode: Mode
    value: Number
    importers: Selector = _alias("importers", "importer")
    exporters: Selector = _alias("exporters", "exporter")
    sectors: Selector = _alias("sectors", "sector")
    routes: Literal["foreign", "domestic", "all"] = "foreign"


class EntryCostShock(_Strict):
    """Sunk entry costs f_e[i,s]."""

    type: Literal["entry_cost"]
    label: str | None = None
    mode: Mode
    value: Number
    regions: Selector = _alias("regions", "region")
    sectors: Selector = _alias("sectors", "sector")


class ProductivityShock(_Strict):
    """Pareto lower bound phi_min[i,s] (productivity in krugman/armington)."""

    type: Literal["productivity"]
    label: str | None = None
    mode: Mode
    value: Number
    regions: Selector = _alias("regions", "region")
    sectors: Selector = _alias("sectors", "sector")


class EndowmentShock(_Strict):
    """Factor endowments (population): change_pct: 5 is +5%."""

    type: Literal["endowment"]
    label: str | None = None
    mode: Mode = "change_pct"
    value: Number
    regions: Selector = _alias("regions", "region")
    factors: Selector = _alias("factors", "factor")


class DeficitShock(_Strict):
    """Trade deficits D_n (numeraire units at the benchmark; must sum to zero; held as the
    deficit closure says, by default as shares of world income; refused under zero_baseline)."""

    type: Literal["deficit"]
    label: str | None = None
    mode: Mode = "set"
    value: Number | None = None
    values: dict[str, Number] | None = None


class ParameterShock(_Strict):
    """Any non-structural parameter of the parameter table, by dimension labels."""

    type: Literal["parameter"]
    label: str | None = None
    parameter: str
    mode: Mode
    value: Number
    where: dict[str, Union[str, list[str]]] = {}
    routes: Literal["foreign", "international", "domestic", "all"] | None = None


Shock = Annotated[
    Union[TariffShock, IcebergShock, FixedCostShock, EntryCostShock, ProductivityShock,
          EndowmentShock, DeficitShock, ParameterShock],
    Field(discriminator="type"),
]
SHOCK_TYPES = ("tariff", "iceberg", "fixed_cost", "entry_cost", "productivity", "endowment",
               "deficit", "parameter")


class ExampleData(_Strict):
    example: Literal["three_by_three", "symmetric", "random_economy"]
    args: dict[str, Any] = {}


class FileData(_Strict):
    """A data file: ``{primitives: economy.yaml}`` or ``{workbook: book.xlsx}``; a workbook
    also takes the options of ``calibration.read_workbook``: ``production_taxes`` (how the
    SAM's production-tax cells are read; the reader's default is ``tax``) and ``balance``
    (balance the SAMs first; default: they must balance as given)."""

    primitives: str | None = None
    workbook: str | None = None
    production_taxes: Literal["tax", "pro_rata", "factor"] | None = None
    balance: Literal["ras", "cross_entropy"] | None = None
    trade_costs: Literal["head_ries", "implied"] | None = Field(
        None, description="how calibration splits the observed trade friction into the trade "
        "cost tau and a preference weight (docs/calibration.md); default: the workbook's "
        "trade_costs sheet where given, else head_ries")
    max_selection: float | None = Field(
        None, gt=0, lt=1, description="cara sectors: share of drawn firms selling on each "
        "origin's most frequented route at the benchmark (calibration.cara); lower it when a "
        "shock raises selection shares a lot")
    cara_tau: Literal["home", "lowest"] | None = Field(
        None, description="cara sectors: tau_ii = 1 (home, default) or each origin's lowest "
        "tau = 1 (lowest; neutral rescaling of productivity units)")
    population: dict[str, float] | None = Field(
        None, description="consumers per region for the calibration (cara and linear sectors, "
        "welfare per capita); default 1 per region")
    linear_choke: float | None = Field(
        None, gt=0, lt=0.5, description="linear sectors: the choke price as a share of the demand "
        "intercept where spending per consumer is highest (calibration.linear; default 0.25)")
    cara_zero_flows: Literal["error", "inactive"] | None = Field(
        None, description="cara sectors: a foreign route without sales at the benchmark is an "
        "error (default: under CARA every finite trade cost gives sales) or an inactive route "
        "(inactive: tau infinite, no firm can ever sell there)")

    @model_validator(mode="after")
    def _one(self):
        if (self.primitives is None) == (self.workbook is None):
            raise ValueError("give exactly one of 'primitives' (YAML/JSON) or 'workbook' (xlsx)")
        return self

    @field_validator("production_taxes", "balance", "trade_costs", "max_selection", "cara_tau",
                     "population", "linear_choke", "cara_zero_flows")
    @classmethod
    def _workbook_only(cls, value, info):
        if value is not None and info.data.get("primitives") is not None:
            raise ValueError(f"'{info.field_name}' is an option for reading a workbook "
                             "('workbook: book.xlsx'); primitives are used as they are")
        return value

    def calibrate_options(self) -> dict[str, str]:
        """The keyword arguments for ``calibration.calibrate`` that are given."""
        return {k: getattr(self, k) for k in ("trade_costs", "max_selection", "cara_tau",
                                              "population", "linear_choke",
                                              "cara_zero_flows")
                if getattr(self, k) is not None}

    def read_options(self) -> dict[str, str]:
        """The keyword arguments for ``calibration.read_workbook`` that are given."""
        return {k: getattr(self, k) for k in ("production_taxes", "balance")
                if getattr(self, k) is not None}


class TradeExpectation(_Strict):
    importers: Selector = _alias("importers", "importer")
    exporters: Selector = _alias("exporters", "exporter")
    sectors: Selector = _alias("sectors", "sector")
    sign: Sign


class Expectation(_Strict):
    """Qualitative results a run should show (checked after it is solved).

    Region keys may be ``all`` (every region). ``models`` holds expectations
    for one market structure of a comparison run.
    """

    note: str = ""
    welfare: dict[str, Sign] = {}
    #: real income per consumer (``population``), for runs that change population
    welfare_per_capita: dict[str, Sign] = {}
    world_welfare: Sign | None = None
    largest_gain: str | None = None
    largest_loss: str | None = None
    welfare_above: dict[str, float] = Field(
        {}, description="region (or all) -> a welfare change (in %) it must exceed")
    mean_welfare_above: float | None = Field(
        None, description="the unweighted mean welfare change (in %) must exceed this")
    smallest_gain_among: list[str] | None = Field(
        None, description="with smallest_gain: the regions compared")
    smallest_gain: str | None = Field(
        None, description="the region that gains least (in %), among smallest_gain_among or all")
    components: dict[str, dict[str, Sign]] = {}
    domestic_cutoff: dict[str, Sign] = {}
    #: the count of varieties available (``varieties_available_pct`` of the welfare
    #: decomposition's sector table, firm sectors), not the welfare ``variety`` term
    varieties_available: dict[str, Sign] = {}
    factor_prices: dict[str, dict[str, Sign]] = {}
    tariff_revenue: dict[str, Sign] = {}
    trade: list[TradeExpectation] = []
    cutoffs: list[TradeExpectation] = []
    models: dict[Structure, "Expectation"] = {}


Expectation.model_rebuild()


class Closure(_Strict):
    """Closures that change which variables are exogenous: the small open economy (see
    :mod:`cge.closure`) and the closure of final demand (:class:`cge.primitives.Closure`;
    omitted keys keep the data's closure, by default regional_household and
    savings_driven)."""

    small_open_economy: str | None = Field(None, description="the region (the rest of the world) "
                                           "held at its benchmark after the benchmark solve")
    government: Literal["regional_household", "fixed_real"] | None = Field(
        None, description="regional_household: government spending a fixed share of income; "
        "fixed_real: real government consumption fixed, financed by a lump-sum transfer")
    investment: Literal["savings_driven", "investment_driven"] | None = Field(
        None, description="savings_driven: a fixed savings rate, investment adjusts; "
        "investment_driven: real investment fixed, the savings rate adjusts")
    deficit: Literal["world_income_share", "numeraire", "zero_baseline"] | None = Field(
        None, description="how trade deficits are held (cge.deficits): world_income_share "
        "(default): each region's benchmark share of world income; numeraire: fixed in "
        "numeraire units; zero_baseline: stepped to zero first, shocks applied from there")

    @model_validator(mode="after")
    def _not_empty(self):
        if (self.small_open_economy is None and self.government is None
                and self.investment is None and self.deficit is None):
            raise ValueError("give at least one of 'small_open_economy', 'government', "
                             "'investment', 'deficit'")
        return self


def _data_kind(value) -> str:
    """Which form of ``data:`` this is, so that a mistake is reported against that form only."""
    if isinstance(value, str):
        return "path"
    if isinstance(value, Mapping) and "example" in value or isinstance(value, ExampleData):
        return "example"
    return "file"


DataSpec = Annotated[Union[Annotated[str, Tag("path")], Annotated[ExampleData, Tag("example")],
                           Annotated[FileData, Tag("file")]], Discriminator(_data_kind)]


class Scenario(_Strict):
    """A policy scenario (see ``docs/scenarios.md``)."""

    name: str
    title: str | None = Field(None, description="title of pictures and the report "
                              "(default: the name)")
    description: str = ""
    data: DataSpec
    market_structure: dict[str, Structure] | None = None
    entry: dict[str, Literal["free", "fixed"]] | None = None
    numeraire: dict[str, Any] | None = None
    closure: Closure | None = None
    parameters: dict[str, Any] | None = Field(
        None, description="structural parameters (sigma, k, delta) by sector; the model is "
        "recalibrated to the same data (see cge.structural)")
    shocks: list[Shock] = []
    compare_market_structures: list[Structure] | None = None
    structure_parameters: dict[Structure, dict[Literal["sigma", "k", "delta"], float]] = Field(
        {}, description="sector parameters of the switched sectors under one structure of the "
        "comparison, e.g. {melitz: {sigma: 3.8, k: 6}} (workbook data: recalibrated with them)")
    solver_options: dict[str, Any] = {}
    time_limit: float | None = Field(
        None, gt=0, description="wall-clock seconds each solve (benchmark, shock) may take, "
        "IPOPT calls and homotopy steps together; default 600 (`cge run --time-limit` overrides)")
    expect: Expectation | None = None
    subtotals: bool = Field(False, description="split every result into the contribution of "
                            "each shock (cge.subtotals; several solves along the path)")
    accept_implausible: bool = Field(False, description="run shocks whose values look like a "
                                     "slip (add: 10 on a tariff, cut_pct: 0.5; cge.plausibility)")

    @field_validator("name")
    @classmethod
    def _name(cls, value):
        return check_scenario_name(value)

    @model_validator(mode="after")
    def _compare(self):
        cms = self.compare_market_structures
        if cms is not None:
            if not cms:
                raise ValueError("compare_market_structures: give at least one structure")
            if len(set(cms)) != len(cms):
                raise ValueError("compare_market_structures: duplicate entries")
        return self


# ======================================================================
# Loading and validating
# ======================================================================
@dataclass
class LoadedScenario:
    """A scenario that passed schema validation (labels not yet checked)."""

    scenario: Scenario
    text: str
    path: Path | None
    locator: Locator

    def error(self, path: Sequence, message: str) -> str:
        loc = self.locator.locate(path) if path else ()
        name = dotted(path) if path else ""
        return f"{self.locator.where(loc or path)}: {name + ': ' if name else ''}{message}"


def load_scenario(source: str | Path | Mapping, *, text: str | None = None) -> LoadedScenario:
    """Read and schema-validate a scenario from a file path, YAML text or a mapping."""
    path = None
    if isinstance(source, Mapping):
        data, locator = dict(source), Locator("<scenario>")
        text = text if text is not None else yaml.safe_dump(dict(source), sort_keys=False)
    else:
        if isinstance(source, str) and "\n" in source:
            text, filename = source, "<scenario>"
        else:
            path = Path(source)
            if not path.is_file():
                raise ScenarioError(f"{path}: no such scenario file")
            try:
                text, filename = fsio.read_text(path, "scenario file"), str(path)
            except InputError as exc:
                raise ScenarioError(exc.problems) from None
        data, locator = _compose(text, filename)
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{locator.filename}:1: a scenario must be a mapping with at least "
                            "'name' and 'data', got " + type(data).__name__)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _format_validation(exc, locator)
        if not any(tuple(e["loc"])[:1] == ("data",) for e in exc.errors()):
            # the data field is sound: its problems are independent of the others'
            problems += _data_problems(data, text, path, locator)
        raise ScenarioError(problems) from None
    return LoadedScenario(scenario, text, path, locator)


def _data_problems(data: Mapping, text: str, path: Path | None, locator: Locator) -> list[str]:
    """The problems of a scenario's ``data:`` alone (for a scenario whose other fields
    fail validation, so that every independent problem is reported at once)."""
    if "data" not in data:
        return []
    try:
        alone = Scenario.model_validate({"name": str(data.get("name") or "scenario"),
                                         "data": data["data"]})
    except ValidationError:
        return []
    try:
        load_data(LoadedScenario(alone, text, path, locator))
    except ScenarioError as exc:
        return list(exc.problems)
    return []


def _format_validation(exc: ValidationError, locator: Locator) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        real = locator.locate(loc)
        # Pydantic inserts union tags into loc (e.g. 'tariff', 'str', 'ExampleData');
        # keep the parts that exist in the document, plus a final missing field name.
        shown = list(real)
        rest = [p for p in loc[len(real):] if isinstance(p, int) or p in _FIELD_NAMES]
        if rest and err["type"] in ("missing", "extra_forbidden"):
            shown.append(rest[-1])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field" + _suggest(loc[-1], err)
            if len(loc) == 1 and loc[0] in ("sweep", "ssa"):
                msg = (f"'{loc[0]}:' makes this a sweep file: run it with `cge sweep FILE` "
                       "(see cge.sweep)")
            if len(loc) == 1 and loc[0] in ("sigma", "k", "delta"):
                msg = (f"unknown field {loc[0]!r}: structural parameters go under 'parameters:', "
                       f"e.g. parameters: {{{loc[0]}: {{sector: value}}}}")
        elif err["type"] == "union_tag_invalid":
            tag = err.get("ctx", {}).get("tag")
            msg = (f"unknown shock type {tag!r}; shock types are {list(SHOCK_TYPES)} (to shock "
                   "any parameter by name use type: parameter)")
        elif err["type"] == "union_tag_not_found":
            msg = f"every shock needs a 'type', one of {list(SHOCK_TYPES)}"
        elif err["type"] == "literal_error":
            msg = f"{msg}, got {err.get('input')!r}"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        line = locator.line(real)
        where = f"{locator.filename}:{line}" if line else locator.filename
        item = f"{where}: {dotted(shown)}: {msg}" if shown else f"{where}: {msg}"
        if all(item != o[2] for o in out):
            out.append((line or 0, dotted(shown), item))
    # ``data`` is a union: pydantic reports "not a string" as well as the mapping's errors.
    data_detail = any(p.startswith("data") and "valid string" not in it for _, p, it in out)
    out = [o for o in out if not (data_detail and o[1] == "data" and "valid string" in o[2])]
    return [it for _, _, it in sorted(out, key=lambda o: o[0])]


_FIELD_NAMES = set()
for _m in (Scenario, TariffShock, IcebergShock, FixedCostShock, EntryCostShock, ProductivityShock,
           EndowmentShock, DeficitShock, ParameterShock, ExampleData, FileData, Expectation,
           TradeExpectation, Retaliation, Border, Closure):
    _FIELD_NAMES |= set(_m.model_fields)


def _suggest(name, err) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), sorted(_FIELD_NAMES), n=1)
    return f" {name!r} (did you mean {close[0]!r}?)" if close else f" {name!r}"


# ======================================================================
# Data
# ======================================================================
@dataclass
class DataSource:
    primitives: Primitives
    description: str
    checksum: str
    path: Path | None = None
    start: Any = None  # calibrated start values, if any
    benchmark: Any = None  # calibration.BenchmarkData of workbook data (recalibrated by compare)
    calibrate_options: dict = field(default_factory=dict)
    units: str = ""  # the data's currency and year (a workbook's ``info`` sheet), if stated


def primitives_checksum(prim: Primitives) -> str:
    """sha256 of the canonical JSON of the primitives (labels and every array)."""
    return fsio.sha256_canonical(prim.to_mapping())


def _calibration():
    try:
        import calibration  # noqa: F401
        from calibration import calibrate, read_workbook  # noqa: F401
    except ImportError as exc:
        raise ScenarioError(
            "workbook data needs the calibration package (calibration.read_workbook and "
            f"calibration.calibrate), which is not available: {exc}. Use a primitives "
            "YAML/JSON file or an example instead.") from None
    return calibration


def load_data(loaded: LoadedScenario) -> DataSource:
    sc = loaded.scenario
    spec = sc.data
    base = loaded.path.parent if loaded.path else Path.cwd()
    if isinstance(spec, ExampleData):
        from . import examples

        try:
            prim = getattr(examples, spec.example)(**spec.args)
        except TypeError as exc:
            raise ScenarioError(loaded.error(("data", "args"), f"bad arguments for example "
                                             f"{spec.example!r}: {exc}")) from None
        except InputError as exc:
            raise ScenarioError([loaded.error(("data",), p) for p in exc.problems]) from None
        except (ValueError, ArithmeticError, IndexError, KeyError, AttributeError) as exc:
            # e.g. symmetric(sectors=0): an argument out of the example's range
            raise ScenarioError(loaded.error(("data", "args"), f"bad arguments for example "
                                             f"{spec.example!r} ({type(exc).__name__}: {exc})")
                                ) from None
        return DataSource(prim, f"example {spec.example}", primitives_checksum(prim))
    options: dict[str, str] = {}
    cal_options: dict[str, str] = {}
    if isinstance(spec, str):
        # a workbook, or a folder of CSV sheets (the same workbook, one file per sheet)
        workbook = fsio.WORKBOOK_SUFFIXES + fsio.LEGACY_SUFFIXES
        folder = (base / spec).is_dir()
        rel, kind = spec, ("workbook" if folder or spec.lower().endswith(workbook)
                           else "primitives")
        key = ("data",)
    else:
        rel = spec.primitives or spec.workbook
        kind = "primitives" if spec.primitives else "workbook"
        key = ("data", kind)
        options = spec.read_options()
        cal_options = spec.calibrate_options()
    path = (base / rel).resolve()
    if not (path.is_file() or (kind == "workbook" and path.is_dir())):
        raise ScenarioError(loaded.error(key, f"data file {rel!r} not found (looked for {path}; "
                                         "paths are relative to the scenario file)"))
    if path.is_dir():
        from .units import folder_checksum

        checksum = folder_checksum(path)
    else:
        checksum = fsio.sha256_file(path)
    if kind == "workbook":
        cal = _calibration()
        try:
            if not path.is_dir():  # a folder of CSV sheets is read by the same reader
                fsio.check_workbook_file(path)
            data = cal.read_workbook(path, **options)
            out = cal.calibrate(data, **cal_options)
        except InputError as exc:
            raise ScenarioError([loaded.error(key, p) for p in exc.problems]) from None
        prim, start = out if isinstance(out, tuple) else (out, None)
        how = ", ".join(f"{k}: {v}" for k, v in {**options, **cal_options}.items())
        return DataSource(prim, f"workbook {rel}" + (f" ({how})" if how else ""), checksum,
                          path, start, benchmark=data, calibrate_options=cal_options,
                          units=str(getattr(data, "units", "") or ""))
    try:
        prim = Primitives.from_file(path)
    except InputError as exc:
        raise ScenarioError([loaded.error(key, p) for p in exc.problems]) from None
    return DataSource(prim, f"primitives {rel}", checksum, path)


def switch_market_structure(prim: Primitives, structure: str,
                            sectors: Sequence[str] | None = None) -> Primitives:
    """A copy with the melitz sectors (or ``sectors``) switched to ``structure``."""
    if structure not in MARKET_STRUCTURES:
        raise InputError(f"market structure {structure!r} is not one of {list(MARKET_STRUCTURES)}")
    out = prim.copy()
    targets = sectors if sectors is not None else [s for s, m in prim.market_structure.items()
                                                   if m == "melitz"]
    for s in targets:
        out.market_structure[s] = structure
    from .checks import check_primitives

    check_primitives(out)
    return out


def _apply_overrides(loaded: LoadedScenario, prim: Primitives) -> Primitives:
    sc = loaded.scenario
    problems = []
    for fld in ("market_structure", "entry"):
        val = getattr(sc, fld)
        for s in (val or {}):
            if s not in prim.sectors:
                problems.append(loaded.error((fld, s), f"unknown sector {s!r}; sectors are "
                                             f"{list(prim.sectors)}"))
    if problems:
        raise ScenarioError(problems)
    final_demand = {k: getattr(sc.closure, k) for k in ("government", "investment", "deficit")
                    if sc.closure is not None and getattr(sc.closure, k) is not None}
    if not (sc.market_structure or sc.entry or sc.numeraire or final_demand):
        return prim
    mapping = prim.to_mapping()
    if sc.market_structure:
        mapping["market_structure"].update(sc.market_structure)
    if sc.entry:
        mapping["entry"].update(sc.entry)
    if sc.numeraire is not None:
        mapping["numeraire"] = dict(sc.numeraire)
    if final_demand:
        mapping["closure"] = {**prim.closure.to_mapping(), **final_demand}
    try:
        return Primitives.from_mapping(mapping)
    except InputError as exc:
        out = []
        closure_params = ("closure", "agent_share", "agent_beta", "real_government",
                          "real_investment")
        for p in exc.problems:
            fld = next((f for f in ("numeraire", "market_structure", "entry") if p.startswith(f)),
                       None)
            if fld is None and final_demand and p.startswith(closure_params):
                key = ("closure", next(iter(final_demand)))
                out.append(loaded.error(key, p))
                continue
            out.append(loaded.error((fld,) if fld else (), p))
        raise ScenarioError(out) from None


# ======================================================================
# Shocks
# ======================================================================
def read_schedule(spec, base_dir: Path | None = None) -> tuple[pd.DataFrame, str]:
    """The table of a tariff ``schedule`` (CSV, or a sheet of an Excel workbook) and a
    name for it in messages. Missing files and sheets raise :class:`cge.shocks.ShockError`."""
    spec = Schedule(file=spec) if isinstance(spec, str) else spec
    path = Path(spec.file)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.is_file():
        raise sh.ShockError(f"schedule file {spec.file!r} not found (looked for {path}; paths "
                            "are relative to the scenario file)", "schedule")
    name = path.name
    try:  # the content matches the extension, text is UTF-8: else say what the file is
        if path.suffix.lower() in fsio.WORKBOOK_SUFFIXES + fsio.LEGACY_SUFFIXES:
            fsio.check_workbook_file(path)
        else:
            fsio.read_text(path, "schedule file")
    except InputError as exc:
        raise sh.ShockError(exc.problems[0], "schedule") from None
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            import python_calamine  # values read by calamine (issue 14: fast reading)

            sheets = list(python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names)
            if spec.sheet is not None and spec.sheet not in sheets:
                raise sh.ShockError(f"schedule workbook {name} has no sheet {spec.sheet!r} "
                                    f"(sheets: {sheets})", "schedule")
            sheet = spec.sheet or sheets[0]
            table = pd.read_excel(path, sheet_name=sheet, engine="calamine")
            name = f"{name}[{sheet}]"
        else:
            table = pd.read_csv(path, skipinitialspace=True)
    except sh.ShockError:
        raise
    except Exception as exc:  # unreadable file: say which and why
        raise sh.ShockError(f"cannot read schedule file {spec.file!r}: {exc}", "schedule") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table, name


def apply_shock(prim: Primitives, base: Primitives, shock, base_dir: Path | None = None
                ) -> Primitives:
    """Apply one validated shock model to ``prim`` (``base``: the benchmark; ``base_dir``:
    where relative file names in the shock, such as a tariff schedule, are found)."""
    t = shock.type
    if t == "tariff" and shock.schedule is not None:
        table, name = read_schedule(shock.schedule, base_dir)
        return sh.tariff_schedule(prim, table, shock.mode, importers=shock.importers,
                                  exporters=shock.exporters, sectors=shock.sectors,
                                  fta=shock.fta, source=name)
    if t == "tariff":
        if shock.retaliation is not None:
            r = shock.retaliation
            try:
                return sh.retaliation(prim, base, r.by, r.against, shock.sectors, r.share)
            except sh.ShockError as exc:
                if exc.field in ("by", "against"):
                    exc.field = ("retaliation", exc.field)
                raise
        return sh.tariff(prim, shock.mode, shock.value, importers=shock.importers,
                         exporters=shock.exporters, sectors=shock.sectors, fta=shock.fta)
    if t == "iceberg":
        if shock.border is not None:
            b = shock.border
            try:
                return sh.border(prim, b.groups, to=b.to, factor=b.factor, sectors=shock.sectors)
            except sh.ShockError as exc:
                if exc.field in ("groups", "to", "factor"):
                    exc.field = ("border", exc.field)
                raise
        return sh.iceberg(prim, shock.mode, shock.value, importers=shock.importers,
                          exporters=shock.exporters, sectors=shock.sectors, routes=shock.routes,
                          fta=shock.fta, pairs=shock.pairs, both_directions=shock.both_directions,
                          remove_gravity_term=shock.remove_gravity_term)
    if t == "fixed_cost":
        return sh.fixed_cost(prim, shock.mode, shock.value, importers=shock.importers,
                             exporters=shock.exporters, sectors=shock.sectors, routes=shock.routes)
    if t == "entry_cost":
        return sh.entry_cost(prim, shock.mode, shock.value, regions=shock.regions,
                             sectors=shock.sectors)
    if t == "productivity":
        return sh.productivity(prim, shock.mode, shock.value, regions=shock.regions,
                               sectors=shock.sectors)
    if t == "endowment":
        return sh.endowment(prim, shock.mode, shock.value, regions=shock.regions,
                            factors=shock.factors)
    if t == "deficit":
        return sh.deficit(prim, shock.mode, shock.value, values=shock.values)
    if t == "parameter":
        return sh.parameter(prim, shock.parameter, shock.mode, shock.value, shock.where,
                            routes=shock.routes)
    raise ScenarioError(f"unknown shock type {t!r}")  # unreachable: the schema forbids it


def _shock_path(j: int, exc: sh.ShockError) -> tuple:
    path: tuple = ("shocks", j)
    fld = exc.field
    if isinstance(fld, tuple):
        path += fld
    elif fld:
        path += (fld,)
    if exc.item is not None:
        path += (exc.item,)
    return path


def apply_shocks(loaded: LoadedScenario, prim: Primitives) -> Primitives:
    """Apply the scenario's shocks in order; errors name the shock, field and line."""
    from .checks import check_primitives

    out = prim
    for j, shock in enumerate(loaded.scenario.shocks):
        try:
            out = apply_shock(out, prim, shock,
                              loaded.path.parent if loaded.path else None)
        except sh.ShockError as exc:
            raise ScenarioError(loaded.error(_shock_path(j, exc), f"{shock.type} shock: "
                                             f"{exc.message}")) from None
        except InputError as exc:
            raise ScenarioError([loaded.error(("shocks", j), f"{shock.type} shock: {p}")
                                 for p in exc.problems]) from None
    try:
        check_primitives(out)
    except InputError as exc:
        raise ScenarioError([loaded.error(("shocks",), f"after the shocks: {p}")
                             for p in exc.problems]) from None
    return out


# ======================================================================
# Closure
# ======================================================================
# Parameters of the fixed region that enter only the equations the
# small-open-economy closure drops (its factor markets, income balance, sector
# expenditure, final-demand agents and entry) or only its own CPI: shocking them
# changes nothing at home.
INERT_UNDER_CLOSURE = ("endowment", "f_e", "entrants", "beta", "agent_share", "agent_beta",
                       "real_government", "real_investment")


def closure_region(scenario: Scenario) -> str | None:
    """The region the scenario's small-open-economy closure holds fixed, if any."""
    return scenario.closure.small_open_economy if scenario.closure is not None else None


def _check_closure(loaded: LoadedScenario, prim: Primitives) -> None:
    """The closure's region exists, and no shock acts only through what the closure fixes."""
    region = closure_region(loaded.scenario)
    if region is None:
        return
    key = ("closure", "small_open_economy")
    if region not in prim.regions:
        raise ScenarioError(loaded.error(key, f"unknown region {region!r}; regions are "
                                         f"{list(prim.regions)}"))
    if len(prim.regions) < 2:
        raise ScenarioError(loaded.error(key, "the closure needs at least one home region "
                                         "besides the rest of the world"))
    r = prim.regions.index(region)
    problems, out = [], prim
    for j, shock in enumerate(loaded.scenario.shocks):
        new = apply_shock(out, prim, shock, loaded.path.parent if loaded.path else None)
        inert = [name for name in INERT_UNDER_CLOSURE
                 if not np.array_equal(new[name][r], out[name][r], equal_nan=True)]
        if inert:
            problems.append(loaded.error(
                ("shocks", j), f"{shock.type} shock: changes {', '.join(inert)} of {region}, "
                f"which the small-open-economy closure (line {loaded.locator.line(key)}) holds "
                "at its benchmark: the change would have no effect"))
        out = new
    if problems:
        raise ScenarioError(problems)


# ======================================================================
# Expectations
# ======================================================================
def _check_expectation_labels(loaded: LoadedScenario, prim: Primitives) -> None:
    from .welfare import COMPONENTS

    exp = loaded.scenario.expect
    if exp is None:
        return
    problems: list[str] = []
    regions = list(prim.regions)

    def region(path, r, allow_all=True):
        if r == "all" and allow_all:
            return
        if r not in regions:
            problems.append(loaded.error(path, f"unknown region {r!r}; regions are {regions}"))

    def walk(e: Expectation, path: tuple):
        for r in e.welfare:
            region(path + ("welfare", r), r)
        for r in e.welfare_per_capita:
            region(path + ("welfare_per_capita", r), r)
        for key in ("largest_gain", "largest_loss", "smallest_gain"):
            if getattr(e, key) is not None:
                region(path + (key,), getattr(e, key), allow_all=False)
        for r in e.welfare_above:
            region(path + ("welfare_above", r), r)
        for j, r in enumerate(e.smallest_gain_among or []):
            region(path + ("smallest_gain_among", j), r, allow_all=False)
        if e.smallest_gain_among is not None and e.smallest_gain not in e.smallest_gain_among:
            problems.append(loaded.error(path + ("smallest_gain_among",), "give smallest_gain, "
                                         "one of these regions"))
        for r, comps in e.components.items():
            region(path + ("components", r), r)
            for c in comps:
                if c not in COMPONENTS + ("total", "residual"):
                    problems.append(loaded.error(path + ("components", r, c),
                                                 f"unknown component {c!r}; components are "
                                                 f"{list(COMPONENTS)}"))
        for r in e.domestic_cutoff:
            region(path + ("domestic_cutoff", r), r)
        for r in e.varieties_available:
            region(path + ("varieties_available", r), r)
        for r, facs in e.factor_prices.items():
            region(path + ("factor_prices", r), r)
            for f in facs:
                if f not in prim.factors:
                    problems.append(loaded.error(path + ("factor_prices", r, f), f"unknown factor "
                                                 f"{f!r}; factors are {list(prim.factors)}"))
        for r in e.tariff_revenue:
            region(path + ("tariff_revenue", r), r)
        for key in ("trade", "cutoffs"):
            for j, t in enumerate(getattr(e, key)):
                bad = False
                for fld, labels, kind in (("importers", regions, "region"),
                                          ("exporters", regions, "region"),
                                          ("sectors", list(prim.sectors), "sector")):
                    val = getattr(t, fld)
                    for lab in ([val] if isinstance(val, str) else (val or [])):
                        if lab not in labels:
                            bad = True
                            problems.append(loaded.error(path + (key, j, fld), f"unknown {kind} "
                                                         f"{lab!r}; {kind}s are {labels}"))
                if key == "cutoffs" and not bad and not _melitz_routes(prim, t):
                    problems.append(loaded.error(path + (key, j), "selects no foreign route of a "
                                                 "melitz sector (cutoffs exist only there)"))
        models = loaded.scenario.compare_market_structures
        for ms, sub in e.models.items():
            if models is None:
                problems.append(loaded.error(path + ("models", ms), f"expectations for model "
                                             f"{ms!r}, but the scenario compares no market "
                                             "structures (give compare_market_structures, or "
                                             "move these expectations up to expect:)"))
            elif ms not in models:
                problems.append(loaded.error(path + ("models", ms), f"model {ms!r} is not in "
                                             f"compare_market_structures {models}"))
            walk(sub, path + ("models", ms))

    walk(exp, ("expect",))
    if problems:
        raise ScenarioError(problems)


def _selected(val, labels) -> list[str]:
    return list(labels) if val is None else ([val] if isinstance(val, str) else list(val))


def _melitz_routes(prim: Primitives, t: TradeExpectation) -> list[tuple[str, str, str]]:
    """The active foreign routes (destination, origin, sector) of melitz sectors selected by ``t``."""
    R, S = list(prim.regions), list(prim.sectors)
    return [(n, i, s) for n in _selected(t.importers, R) for i in _selected(t.exporters, R)
            for s in _selected(t.sectors, S)
            if n != i and prim.market_structure[s] == "melitz"
            and np.isfinite(prim["tau"][R.index(n), R.index(i), S.index(s)])]


_SIGN_TEST = {
    "positive": lambda x, tol: x > tol,
    "negative": lambda x, tol: x < -tol,
    "zero": lambda x, tol: abs(x) <= tol,
    "nonnegative": lambda x, tol: x >= -tol,
    "nonpositive": lambda x, tol: x <= tol,
}
SIGN_TOL = 1e-6


@dataclass
class ExpectationCheck:
    model: str
    statement: str
    value: float | str
    passed: bool


def check_expectations(result: "ScenarioResult") -> list[ExpectationCheck]:
    exp = result.scenario.expect
    out: list[ExpectationCheck] = []
    if exp is None:
        return out
    for label, run in result.runs.items():
        _check_one(exp, run, label, out)
        sub = exp.models.get(label)
        if sub is not None:
            _check_one(sub, run, label, out)
    return out


def _check_one(e: Expectation, run: "ModelRun", label: str, out: list) -> None:
    wel = run.welfare.regions
    regions = list(wel.index)

    def expand(r):
        return regions if r == "all" else [r]

    def add(statement, value, sign):
        ok = bool(_SIGN_TEST[sign](float(value), SIGN_TOL))
        out.append(ExpectationCheck(label, statement, float(value), ok))

    for r, sign in e.welfare.items():
        for rr in expand(r):
            add(f"welfare change of {rr} is {sign}", wel.loc[rr, "welfare_change_pct"], sign)
    # (run.comparison.welfare decomposes the change again: only when it is asked for)
    per_capita = run.comparison.welfare["welfare_per_capita_change_pct"] \
        if e.welfare_per_capita else None
    for r, sign in e.welfare_per_capita.items():
        for rr in expand(r):
            add(f"welfare per capita of {rr} changes {sign} (%)", per_capita.loc[rr], sign)
    if e.world_welfare is not None:
        add(f"world EV is {e.world_welfare}", wel["ev"].sum(), e.world_welfare)
    if e.largest_gain is not None:
        top = wel["welfare_change_pct"].idxmax()
        out.append(ExpectationCheck(label, f"{e.largest_gain} gains most (in % of real income)",
                                    str(top), top == e.largest_gain))
    if e.largest_loss is not None:
        low = wel["welfare_change_pct"].idxmin()
        out.append(ExpectationCheck(label, f"{e.largest_loss} loses most (in % of real income)",
                                    str(low), low == e.largest_loss))
    pct = wel["welfare_change_pct"]
    for r, floor in e.welfare_above.items():
        for rr in expand(r):
            out.append(ExpectationCheck(label, f"welfare change of {rr} exceeds {floor:g}%",
                                        float(pct[rr]), bool(pct[rr] > floor)))
    if e.mean_welfare_above is not None:
        out.append(ExpectationCheck(label, f"mean welfare change exceeds {e.mean_welfare_above:g}%",
                                    float(pct.mean()), bool(pct.mean() > e.mean_welfare_above)))
    if e.smallest_gain is not None:
        among = e.smallest_gain_among or regions
        low = pct[among].idxmin()
        out.append(ExpectationCheck(label, f"{e.smallest_gain} gains least among "
                                    f"{'all regions' if e.smallest_gain_among is None else among}",
                                    str(low), low == e.smallest_gain))
    for r, comps in e.components.items():
        for rr in expand(r):
            for c, sign in comps.items():
                add(f"{c} component of {rr} is {sign}", wel.loc[rr, c], sign)
    firms = run.comparison.sectors
    melitz = run.new.sectors["market_structure"] .isin(["melitz", "cara", "linear"])
    for r, sign in e.domestic_cutoff.items():
        for rr in expand(r):
            rows = firms[melitz & (firms.index.get_level_values("region") == rr)]
            for (reg, sec), val in rows["domestic_cutoff_pct"].items():
                add(f"domestic cutoff of {reg} in {sec} changes {sign}", val, sign)
    counts = run.welfare.sectors["varieties_available_pct"].dropna()
    for r, sign in e.varieties_available.items():
        for rr in expand(r):
            for (reg, sec), val in counts[counts.index.get_level_values("region") == rr].items():
                add(f"number of varieties available in {reg}, {sec} changes {sign} (%)", val, sign)
    fac = run.comparison.factors["factor_price_pct"]
    for r, facs in e.factor_prices.items():
        for rr in expand(r):
            for f, sign in facs.items():
                add(f"price of {f} in {rr} changes {sign}", fac.loc[(rr, f)], sign)
    for t in e.trade:
        routes = run.base.routes
        sel = np.ones(len(routes), dtype=bool)
        n, i = routes.index.get_level_values(0), routes.index.get_level_values(1)
        sel &= np.asarray(n != i)
        for lev, val in ((0, t.importers), (1, t.exporters), (2, t.sectors)):
            if val is not None:
                vals = [val] if isinstance(val, str) else list(val)
                sel &= np.asarray(routes.index.get_level_values(lev).isin(vals))
        b = routes.loc[sel, "trade_value"].sum()
        nw = run.new.routes.reindex(routes.index).loc[sel, "trade_value"].sum()
        what = ", ".join(f"{k}={v}" for k, v in (("importers", t.importers),
                                                  ("exporters", t.exporters),
                                                  ("sectors", t.sectors)) if v is not None)
        add(f"foreign trade ({what or 'all'}) changes {t.sign}", 100 * (nw / b - 1), t.sign)
    rev0, rev1 = run.base.regions["tariff_revenue"], run.new.regions["tariff_revenue"]
    for r, sign in e.tariff_revenue.items():
        for rr in expand(r):
            if rev0[rr] != 0:
                add(f"tariff revenue of {rr} changes {sign} (%)", 100 * (rev1[rr] / rev0[rr] - 1), sign)
            else:
                add(f"tariff revenue of {rr} changes {sign} (from zero)", rev1[rr], sign)
    for t in e.cutoffs:
        for route in _melitz_routes(run.primitives, t):  # none in a model without melitz
            c0, c1 = run.base.routes.loc[route, "cutoff"], run.new.routes.loc[route, "cutoff"]
            n, i, s = route
            add(f"export cutoff of {i}'s {s} firms into {n} changes {t.sign} (%)",
                100 * (c1 / c0 - 1), t.sign)


# ======================================================================
# Running
# ======================================================================
@dataclass
class PreparedScenario:
    """Everything checked and built, nothing solved yet."""

    loaded: LoadedScenario
    data: DataSource
    models: dict[str, tuple[Primitives, Primitives]]  # label -> (benchmark, shocked)
    starts: dict[str, Any] = field(default_factory=dict)  # label -> calibrated start values
    #: implausible shock values accepted with ``accept_implausible`` (cge.plausibility)
    warnings: list[str] = field(default_factory=list)

    @property
    def scenario(self) -> Scenario:
        return self.loaded.scenario


def prepare_scenario(source, *, data: DataSource | None = None,
                     accept_implausible: bool | None = None) -> PreparedScenario:
    """Load, validate and build the benchmark and shocked primitives of every model.

    ``data``: the scenario's data already loaded (:func:`load_data`), e.g. shared by the
    members of a sweep; structural ``parameters`` are applied to it here.

    Every independent problem is reported at once: the overrides, the shocks, the
    closure, the expectations and the plausibility of the shock values
    (:mod:`cge.plausibility`) are each checked even when another fails. Implausible
    shock values are refused unless ``accept_implausible`` (default: the scenario's
    field of that name); accepted, they are listed in ``PreparedScenario.warnings``.
    """
    from .plausibility import ACCEPT_HINT, shock_warnings

    loaded = source if isinstance(source, LoadedScenario) else load_scenario(source)
    data = load_data(loaded) if data is None else data
    if loaded.scenario.parameters:
        from .structural import recalibrate

        data = recalibrate(loaded, data)
    problems: list[str] = []

    def attempt(check, *args):
        try:
            return check(*args), True
        except ScenarioError as exc:
            problems.extend(exc.problems)
            return None, False

    prim, ok = attempt(_apply_overrides, loaded, data.primitives)
    prim = prim if ok else data.primitives
    override_start = None
    if (ok and loaded.scenario.market_structure and data.benchmark is not None
            and loaded.scenario.compare_market_structures is None):
        # another market structure of workbook data: recalibrated to the same benchmark
        from .comparison import recalibrated

        out, ok = attempt(recalibrated, loaded, data, dict(loaded.scenario.market_structure))
        if ok:
            prim, override_start = out
    shocked, shocks_ok = attempt(apply_shocks, loaded, prim)
    if shocks_ok:  # the closure check applies the shocks again
        _warn_extreme(loaded, prim, shocked)
        attempt(_check_closure, loaded, prim)
    attempt(_check_expectation_labels, loaded, prim)
    # a shock that is invalid is reported as such, not also as implausible
    failed = {m.group(0) for p in problems for m in re.finditer(r"shocks\[\d+\]", str(p))}
    warnings = [w for w in shock_warnings(loaded) if not any(f in w for f in failed)]
    accept = loaded.scenario.accept_implausible if accept_implausible is None else accept_implausible
    if warnings and not accept:
        problems.extend(f"{w} ({ACCEPT_HINT})" for w in warnings)
    if problems:
        raise ScenarioError(problems)
    models: dict[str, tuple[Primitives, Primitives]] = {}
    starts: dict[str, Any] = {}
    cms = loaded.scenario.compare_market_structures
    if cms is None:
        models[AS_SPECIFIED] = (prim, shocked)
        if override_start is not None and not loaded.scenario.entry:
            starts[AS_SPECIFIED] = override_start
    else:
        from .comparison import structure_models

        models, starts = structure_models(loaded, data, prim, shocked)
    return PreparedScenario(loaded, data, models, starts, warnings)


def _warn_extreme(loaded: LoadedScenario, prim: Primitives, shocked: Primitives) -> None:
    """An :class:`~cge.errors.ExtremeValueWarning` for each valid but extreme value of the
    data, and of the shocked economy where the shocks made it so."""
    import warnings

    from .checks import extreme_values
    from .errors import ExtremeValueWarning

    base = extreme_values(prim)
    for msg in base:
        warnings.warn(loaded.error(("data",), msg), ExtremeValueWarning, stacklevel=3)
    for msg in extreme_values(shocked):
        if msg not in base:
            warnings.warn(loaded.error(("shocks",), f"after the shocks: {msg}"),
                          ExtremeValueWarning, stacklevel=3)


@dataclass
class ModelRun:
    """One model (market structure) of a scenario: benchmark, counterfactual, welfare."""

    label: str
    primitives: Primitives
    shocked: Primitives
    base: Any  # Results
    new: Any  # Results
    welfare: Any  # WelfareDecomposition
    stats: dict = field(default_factory=dict)

    @property
    def comparison(self):
        return self.new.compare(self.base)


@dataclass
class ScenarioResult:
    """What :func:`run_scenario` returns: one :class:`ModelRun` per model, checks and tables."""

    prepared: PreparedScenario
    runs: dict[str, ModelRun]
    identities: pd.DataFrame = None
    expectations: list[ExpectationCheck] = field(default_factory=list)
    elapsed: float = 0.0
    #: contributions of each shock (:func:`cge.subtotals.scenario_subtotals`), if asked for
    subtotals: pd.DataFrame | None = None

    @property
    def scenario(self) -> Scenario:
        return self.prepared.scenario

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def expectations_met(self) -> bool:
        return all(c.passed for c in self.expectations)

    @property
    def identities_hold(self) -> bool:
        return bool(self.identities["ok"].all()) if self.identities is not None else True

    def tables(self) -> dict[str, pd.DataFrame]:
        """Tidy tables (one row per observation, a ``model`` column): see :mod:`cge.report`."""
        from .report import tidy_tables

        return tidy_tables(self)

    def write(self, outdir: str | Path, **kwargs) -> Path:
        """Write the results folder (CSV, Excel, plots) atomically; see :func:`cge.report.write_results`."""
        from .report import write_results

        return write_results(self, outdir, **kwargs)


ProgressCallback = Callable[[str, str, float], None]


def run_scenario(source, *, progress: ProgressCallback | None = None,
                 solver: str | None = None, subtotals: bool | None = None,
                 time_limit: float | None = None) -> ScenarioResult:
    """Run a scenario file (or mapping / :class:`PreparedScenario`): solve the benchmark and
    the shocked economy of every model, decompose welfare, check identities and expectations.

    ``progress(model, stage, fraction)`` is called with stage ``"benchmark"``,
    ``"shock"`` (after each homotopy step, ``fraction`` = lambda) and ``"done"``.
    ``time_limit`` (seconds per solve) overrides the scenario's ``time_limit``.
    ``subtotals`` (default: the scenario's ``subtotals`` field) also splits the results
    into the contribution of each shock (:mod:`cge.subtotals`).
    """
    from .equilibrium import DEFAULT_TIME_LIMIT, Equilibrium
    from .welfare import decompose

    t0 = time.perf_counter()
    prepared = source if isinstance(source, PreparedScenario) else prepare_scenario(source)
    sc = prepared.scenario
    soe = closure_region(sc)
    runs: dict[str, ModelRun] = {}
    for label, (prim, shocked) in prepared.models.items():
        def cb(lam, stats, _label=label):
            if progress:
                progress(_label, "shock", lam)

        if progress:
            progress(label, "benchmark", 0.0)
        t1 = time.perf_counter()
        eq = Equilibrium(prim, solver=solver, options=sc.solver_options or None,
                         small_open_economy=soe, progress=None,
                         time_limit=time_limit or sc.time_limit or DEFAULT_TIME_LIMIT)
        # The calibrated start is the benchmark itself; another numeraire only rescales
        # nominal values (one Newton step), but another market structure or entry mode
        # changes the unknowns, so then the model starts from its own guess.
        restructured = sc.market_structure or sc.entry
        if label in prepared.starts:  # a structure of the comparison, recalibrated to the data
            _calibration().set_start(eq, prepared.starts[label])
        elif prepared.data.start is not None and label == AS_SPECIFIED and not restructured:
            cal = _calibration()
            cal.set_start(eq, prepared.data.start)
        # the shock's parameters are columns of a large system from the benchmark on
        # (cge.compiled.vary): the benchmark, the baseline and the shock compile it once
        from .compiled import vary
        from .continuation import changed_parameters

        vary(eq.model, changed_parameters(eq.model, prim, shocked))
        base = eq.solve()
        bstats = eq.last_stats
        baseline = {}
        if prim.closure.deficit == "zero_baseline":  # the benchmark, then deficits stepped to zero
            bstats = eq.benchmark_stats
            baseline = {"zero_deficit_baseline_steps": list(eq.steps)}
        t2 = time.perf_counter()
        eq.progress = cb
        new = eq.solve(shocked)
        sstats = eq.last_stats
        t3 = time.perf_counter()
        welfare = decompose(base, new, prim, shocked, fixed_region=soe)
        stats = {
            "solver": bstats.solver if bstats else None,
            "benchmark_iterations": bstats.iterations if bstats else 0,
            "benchmark_seconds": t2 - t1,
            "shock_iterations": sstats.iterations if sstats else 0,
            # "newton" (cge.newton: iterations are Newton steps), "ipopt" or "none"
            "shock_method": getattr(sstats, "method", None) if sstats else None,
            "shock_seconds": t3 - t2,
            "homotopy_steps": list(eq.steps) if new.info.get("changed") else [],
            "changed": list(new.info.get("changed", [])),
            "walras_residual": new.walras_residual,
            "max_residual": new.max_residual,
            "numeraire": _unit_of_account(prim, soe),
            "deficits": new.info.get("deficits"),
            **baseline,
            "closure": {**prim.closure.to_mapping(),
                        **({"small_open_economy": soe} if soe is not None else {})},
        }
        runs[label] = ModelRun(label, prim, shocked, base, new, welfare, stats)
        if progress:
            progress(label, "done", 1.0)
    result = ScenarioResult(prepared, runs)
    result.identities = check_identities(result)
    result.expectations = check_expectations(result)
    if (sc.subtotals if subtotals is None else subtotals) and sc.shocks:
        from .subtotals import scenario_subtotals

        if progress:
            progress(next(iter(runs)), "subtotals", 0.0)
        result.subtotals = scenario_subtotals(result, solver=solver)
    result.elapsed = time.perf_counter() - t0
    return result


def _unit_of_account(prim: Primitives, soe: str | None) -> str:
    if soe is None:
        return prim.numeraire.describe()
    return (f"factor prices of {soe}, held at their benchmark (small-open-economy closure; "
            f"the benchmark is normalised by {prim.numeraire.describe()})")


# ======================================================================
# Accounting identities
# ======================================================================
IDENTITY_TOL = 1e-6


def _identities_of(res, prim: Primitives, home: list[str]) -> dict[str, float]:
    """Identities over the ``home`` regions: all regions, or all but the one the
    small-open-economy closure fixes (its own accounts are not in the system)."""
    reg = res.regions.loc[home]
    scale = max(1.0, float(reg["income"].abs().max()))
    out = {}
    out["walras_residual"] = abs(res.walras_residual)
    # Sum over the home regions of exports - imports + deficit. Over all regions the
    # deficits sum to zero and this is the world trade balance; under the closure it
    # is the home economies' balance of payments with the rest of the world.
    out["world_trade_balance"] = abs(float((reg["trade_balance"] + reg["deficit"]).sum())) / scale
    out["trade_balance_equals_deficit"] = float((reg["trade_balance"] + reg["deficit"]).abs().max()) / scale
    parts = (reg["factor_income"] + reg["tariff_revenue"] + reg["production_tax_revenue"]
             + reg["profits"] + reg["deficit"])
    out["income_equals_sources"] = float(((reg["income"] - parts).abs() / reg["income"]).max())
    # Final expenditure = sector spending minus intermediate use, region by region.
    sec = res.sectors
    R, S = list(prim.regions), list(prim.sectors)
    idx = pd.MultiIndex.from_product([R, S])
    X = sec["expenditure"].reindex(idx).to_numpy(float).reshape(len(R), len(S))
    cost = (sec["input_price"] * sec["input_demand"]).reindex(idx).to_numpy(float).reshape(len(R), len(S))
    cost = cost / (1 + prim["production_tax"])  # intermediate inputs: tax-exclusive value
    intermediate = np.einsum("nus,nu->ns", prim["input_share"], cost)
    final = pd.Series((X - intermediate).sum(axis=1), index=R).reindex(home).to_numpy(float)
    inc = reg["income"].to_numpy(float)
    out["income_equals_expenditure"] = float(np.max(np.abs(inc - final) / inc))
    return out


def _closure_drift(base, new, region: str) -> float:
    """Largest relative change of what the closure holds fixed in ``region``."""
    vals = [(base.factors.loc[region, "factor_price"], new.factors.loc[region, "factor_price"]),
            (base.regions.loc[[region], "income"], new.regions.loc[[region], "income"])]
    for col in ("expenditure", "price_index", "entry_mass"):
        vals.append((base.sectors.loc[region, col], new.sectors.loc[region, col]))
    drift = 0.0
    for a, b in vals:
        a, b = np.asarray(a, float), np.asarray(b, float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.any():
            drift = max(drift, float(np.max(np.abs(b[ok] / a[ok] - 1))))
    return drift


def check_identities(result: ScenarioResult, tol: float = IDENTITY_TOL) -> pd.DataFrame:
    """Accounting identities of every model's benchmark and counterfactual, and the
    welfare decomposition's residual (its parts sum to the total).

    Under the small-open-economy closure the rest of the world's own accounts
    (income, spending, factor markets) are not part of the system, so the
    region-level identities and the welfare residual are taken over the home
    regions, the world trade balance becomes the home balance of payments, and
    a further row checks that the rest of the world stayed at its benchmark.
    """
    soe = closure_region(result.scenario)
    rows = []
    for label, run in result.runs.items():
        home = [r for r in run.primitives.regions if r != soe]
        for which, res, prim in (("benchmark", run.base, run.primitives),
                                 ("counterfactual", run.new, run.shocked)):
            for name, val in _identities_of(res, prim, home).items():
                rows.append({"model": label, "equilibrium": which, "identity": name,
                             "value": val, "tolerance": tol, "ok": bool(val <= tol)})
        if soe is not None:
            val = _closure_drift(run.base, run.new, soe)
            rows.append({"model": label, "equilibrium": "change", "identity": "closure_region_fixed",
                         "value": val, "tolerance": tol, "ok": bool(val <= tol)})
        w = run.welfare.regions
        comp_sum = w[[c for c in w.columns if c in _component_cols()]].sum(axis=1)
        val = float((w["total"] - comp_sum).abs().max())
        rows.append({"model": label, "equilibrium": "change", "identity": "welfare_parts_sum_to_total",
                     "value": val, "tolerance": tol, "ok": bool(val <= tol)})
        ev_sum = w[[f"ev_{c}" for c in _component_cols()]].sum(axis=1)
        val = float(((w["ev"] - ev_sum).abs() / run.base.regions["income"]).max())
        rows.append({"model": label, "equilibrium": "change", "identity": "ev_parts_sum_to_ev",
                     "value": val, "tolerance": tol, "ok": bool(val <= tol)})
        val = float(run.welfare.regions.loc[home, "residual"].abs().max()) / 100
        rows.append({"model": label, "equilibrium": "change", "identity": "welfare_residual",
                     "value": val, "tolerance": tol, "ok": bool(val <= tol)})
    return pd.DataFrame(rows)


def _component_cols():
    from .welfare import COMPONENTS

    return list(COMPONENTS) + ["residual"]

