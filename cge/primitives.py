"""Model primitives: labelled arrays read from a mapping, a YAML or a JSON file.

Every parameter of :data:`cge.parameters.PARAMETERS` is given by region, sector
and factor *names*, never positions (lists are accepted only when their length
matches the label set, and are checked). A value can be

* a number, broadcast over all remaining dimensions;
* a mapping from labels to values (``"*"`` gives the default for labels not
  listed), nested in the order of the parameter's dimensions;
* a list with one entry per label, in the order the labels were declared.

Parameters with a default in the table may be omitted. ``.inf`` (YAML) or
``"inf"`` for ``tau`` marks a route with no trade.

Example (YAML)::

    regions: [USA, EU]
    sectors: [mfg, srv]
    factors: [labour]
    market_structure: {mfg: melitz, srv: armington}
    sigma: {mfg: 3.8, srv: 2.0}
    k: 4.2
    beta: {"*": {mfg: 0.4, srv: 0.6}}
    endowment: {USA: 100, EU: 120}
    factor_share: 1.0
    f: {"*": {"*": 2.0}, USA: {USA: 1.0}, EU: {EU: 1.0}}    # destination, origin
    tau: {"*": {"*": 1.3}, USA: {USA: 1}, EU: {EU: 1}}
    tariff: {USA: {EU: {mfg: 0.1}}}
    numeraire: {factor: labour, region: USA}

Closure of final demand (optional; see :class:`Closure`)::

    closure: {government: fixed_real, investment: investment_driven, deficit: numeraire}
    agent_share: {USA: {household: 0.6, government: 0.2, investment: 0.2}, ...}
    agent_beta: {USA: {household: {mfg: 0.3, srv: 0.7}, ...}, ...}
    real_government: {USA: 21.3, EU: 30.1}
    real_investment: {USA: 20.4, EU: 25.0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .parameters import (
    AGENTS, DEFICIT_CLOSURES, ENTRY_MODES, GOVERNMENT_CLOSURES, INVESTMENT_CLOSURES, LABEL_SET,
    MARKET_STRUCTURES, PARAMETERS,
)

WILDCARD = "*"
_STRUCTURE_FIELDS = ("regions", "sectors", "factors")
_OTHER_FIELDS = ("market_structure", "entry", "numeraire", "closure", "name")


@dataclass(frozen=True)
class Numeraire:
    """The price fixed at ``value``; one market is then left out (Walras' law).

    ``kind`` is ``"factor"`` (the price of factor ``label`` in ``region``),
    ``"price_index"`` (the CES price index of sector ``label`` in ``region``)
    or ``"cpi"`` (the consumer price index of ``region``).
    """

    kind: str
    region: str
    label: str | None = None
    value: float = 1.0

    def describe(self) -> str:
        what = {"factor": "price of factor", "price_index": "price index of sector"}
        if self.kind == "cpi":
            return f"consumer price index of {self.region} = {self.value:g}"
        return f"{what[self.kind]} {self.label} in {self.region} = {self.value:g}"


@dataclass(frozen=True)
class Closure:
    r"""How government spending, investment and trade deficits adjust.

    Final demand has three agents :math:`a` (:data:`~cge.parameters.AGENTS`):
    the household :math:`h`, the government :math:`g` and investment :math:`v`,
    with spending :math:`E_{na}` and Cobb-Douglas sector shares
    :math:`\beta_{nas}`. Regional income :math:`I_n` (factor income, tariff
    revenue, profits and the deficit) is spent by the three,
    :math:`E_{nh} + E_{ng} + E_{nv} = I_n`.

    ``government``
        ``"regional_household"`` (default): government spending is a fixed
        share of income, :math:`E_{ng} = \omega_{ng} I_n` (GTAP's regional
        household). ``"fixed_real"``: real government consumption
        :math:`G_n` is fixed, :math:`E_{ng} = G_n P_{ng}`; the budget is
        balanced by a lump-sum transfer from (or to) the household.
    ``investment``
        ``"savings_driven"`` (default): the savings rate is fixed and
        investment adjusts to savings, :math:`E_{nv} = \omega_{nv} I_n`.
        ``"investment_driven"``: real investment :math:`V_n` is fixed,
        :math:`E_{nv} = V_n P_{nv}`; the household's savings rate adjusts.

    The household spends the rest, :math:`E_{nh} = I_n - E_{ng} - E_{nv}`.

    ``deficit`` (:data:`~cge.parameters.DEFICIT_CLOSURES`; see :mod:`cge.deficits`)
        How foreign savings, the deficit :math:`D_n` (given in numeraire units
        at the benchmark), are held in counterfactuals.
        ``"world_income_share"`` (default): each region's deficit stays the
        benchmark's share of world income :math:`W = \sum_m\sum_f w_{mf}\bar L_{mf}`
        (world factor income), :math:`D_n' = d_n W'` with
        :math:`d_n = D_n\bar p/W` at the benchmark: a unit that does not depend
        on which price is the numeraire, so results do not depend on the order
        of the regions. ``"numeraire"``: fixed in units of the numeraire,
        :math:`D_n \bar p` (results then depend on the numeraire's region).
        ``"zero_baseline"``: deficits are first stepped to zero (a zero-deficit
        baseline, as Caliendo and Parro 2015 do), and shocks are applied from,
        and compared with, that baseline.

    With both defaults every agent spends a fixed share of income, so final
    demand is one Cobb-Douglas system with shares :math:`\beta_{ns}`: the
    model is built exactly as without agents, and welfare is the regional
    household's real income :math:`I_n/\text{CPI}_n`. Under any other
    closure welfare is the household's real consumption
    :math:`E_{nh}/P_{nh}` (government and investment are held fixed in real
    terms or are not consumption).
    """

    government: str = GOVERNMENT_CLOSURES[0]
    investment: str = INVESTMENT_CLOSURES[0]
    deficit: str = DEFICIT_CLOSURES[0]

    @property
    def is_default(self) -> bool:
        """Whether final demand has its default closure (one Cobb-Douglas system; the
        deficit closure does not enter)."""
        return (self.government, self.investment) == (GOVERNMENT_CLOSURES[0], INVESTMENT_CLOSURES[0])

    def describe(self) -> str:
        return (f"government: {self.government}, investment: {self.investment}, "
                f"deficit: {self.deficit}")

    def to_mapping(self) -> dict[str, str]:
        return {"government": self.government, "investment": self.investment,
                "deficit": self.deficit}

    @classmethod
    def parse(cls, value: Any) -> "Closure":
        """A :class:`Closure` from ``None``, a Closure or a mapping; raises
        :class:`~cge.errors.InputError` naming unknown keys and options."""
        problems: list[str] = []
        out = _parse_closure(value, problems)
        if problems:
            raise InputError(problems)
        return out


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays hold the same values (NaN equal to NaN): ``np.array_equal(a, b,
    equal_nan=True)``, decided by comparing their bytes when those are equal (a shock
    compares every parameter array with the last ones at every solve)."""
    if a.shape != b.shape:
        return False
    if a.dtype == b.dtype and a.tobytes() == b.tobytes():
        return True
    return bool(np.array_equal(a, b, equal_nan=True))


@dataclass
class Primitives:
    """A fully specified economy: labels, market structures and parameter arrays.

    ``arrays[name]`` is a float ``numpy`` array whose axes follow
    ``PARAMETERS[name].dims``. Build one with :meth:`from_mapping` or
    :meth:`from_file`; both validate with :func:`cge.checks.check_primitives`.
    """

    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    factors: tuple[str, ...]
    market_structure: dict[str, str]
    entry: dict[str, str]
    numeraire: Numeraire
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = "economy"
    closure: Closure = field(default_factory=Closure)

    # ------------------------------------------------------------------ access
    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @property
    def agents(self) -> tuple[str, ...]:
        """The final-demand agents (fixed labels, :data:`cge.parameters.AGENTS`)."""
        return AGENTS

    def given(self, name: str) -> bool:
        """Whether an optional parameter was given (no entry is NaN)."""
        return bool(np.isfinite(self.arrays[name]).all()) if name in self.arrays else False

    def labels(self, dim: str) -> tuple[str, ...]:
        return getattr(self, LABEL_SET[dim])

    def active_routes(self, s: int) -> np.ndarray:
        """Boolean (destination, origin) mask of routes with trade in sector ``s``."""
        return np.isfinite(self.arrays["tau"][:, :, s])

    def copy(self, **arrays: np.ndarray) -> "Primitives":
        """A copy with some arrays replaced (arrays are copied, not shared)."""
        new = {k: v.copy() for k, v in self.arrays.items()}
        for k, v in arrays.items():
            if k not in PARAMETERS:
                raise InputError(f"unknown parameter {k!r}")
            new[k] = np.asarray(v, dtype=float).copy()
        return replace(
            self,
            arrays=new,
            market_structure=dict(self.market_structure),
            entry=dict(self.entry),
        )

    def with_closure(self, closure) -> "Primitives":
        """A copy under another closure of final demand (a :class:`Closure` or a mapping
        such as ``{"government": "fixed_real"}``; keys left out keep the current
        option), checked with :func:`cge.checks.check_primitives`."""
        from .checks import check_primitives

        if isinstance(closure, Mapping):
            closure = {**self.closure.to_mapping(), **closure}
        out = replace(self.copy(), closure=Closure.parse(closure))
        check_primitives(out)
        return out

    # ------------------------------------------------------------ construction
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, validate: bool = True) -> "Primitives":
        """Parse and validate labelled input (see the module docstring)."""
        if not isinstance(data, Mapping):
            raise InputError(f"primitives must be a mapping, got {type(data).__name__}")
        problems: list[str] = []
        known = set(PARAMETERS) | set(_STRUCTURE_FIELDS) | set(_OTHER_FIELDS)
        for key in data:
            if key not in known:
                problems.append(
                    f"unknown field {key!r}; expected one of {sorted(known)}"
                )
        labels = {}
        for fld in _STRUCTURE_FIELDS:
            labels[fld] = _parse_labels(fld, data.get(fld), problems)
        if problems:
            raise InputError(problems)
        regions, sectors, factors = (labels[f] for f in _STRUCTURE_FIELDS)
        labels["agents"] = AGENTS
        label_sets = {dim: labels[ls] for dim, ls in LABEL_SET.items()}

        market = _parse_per_sector(
            "market_structure", data.get("market_structure", "melitz"), sectors,
            MARKET_STRUCTURES, problems,
        )
        entry = _parse_per_sector(
            "entry", data.get("entry", "free"), sectors, ENTRY_MODES, problems
        )
        numeraire = _parse_numeraire(data.get("numeraire"), regions, sectors, factors, problems)
        closure = _parse_closure(data.get("closure"), problems)

        arrays: dict[str, np.ndarray] = {}
        for name, spec in PARAMETERS.items():
            if name not in data or data[name] is None:
                if spec.default is None:
                    problems.append(f"{name}: required parameter is missing ({spec.description})")
                    continue
                shape = tuple(len(label_sets[d]) for d in spec.dims)
                arrays[name] = np.full(shape, spec.default, dtype=float)
                continue
            arrays[name] = parse_labelled(name, data[name], spec.dims, label_sets,
                                          spec.default, problems)
        if problems:
            raise InputError(problems)
        prim = cls(
            regions=regions, sectors=sectors, factors=factors,
            market_structure=market, entry=entry, numeraire=numeraire,
            arrays=arrays, name=str(data.get("name", "economy")), closure=closure,
        )
        if validate:
            from .checks import check_primitives

            check_primitives(prim)
        return prim

    @classmethod
    def from_file(cls, path: str | Path, *, validate: bool = True) -> "Primitives":
        """Read primitives from a ``.yaml``/``.yml`` or ``.json`` file."""
        from . import fsio

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise InputError(f"{path}: expected a .yaml, .yml or .json file")
        text = fsio.read_text(path, "primitives file")  # UTF-8, or says what it is
        data = fsio.load_yaml(text, path) if suffix != ".json" else fsio.load_json(text, path)
        try:
            return cls.from_mapping(data, validate=validate)
        except InputError as exc:
            raise InputError([f"{path}: {p}" for p in exc.problems]) from None

    def to_mapping(self) -> dict[str, Any]:
        """The labelled, nested-mapping form (round-trips through :meth:`from_mapping`)."""
        label_sets = {dim: self.labels(dim) for dim in LABEL_SET}
        out: dict[str, Any] = {
            "name": self.name,
            "regions": list(self.regions),
            "sectors": list(self.sectors),
            "factors": list(self.factors),
            "market_structure": dict(self.market_structure),
            "entry": dict(self.entry),
            "numeraire": _numeraire_mapping(self.numeraire),
        }
        if self.closure != Closure():
            out["closure"] = self.closure.to_mapping()
        for name, arr in self.arrays.items():
            if PARAMETERS[name].optional:
                if np.isnan(arr).all():
                    continue  # not given
                out[name] = _to_nested(arr, [label_sets[d] for d in PARAMETERS[name].dims],
                                       skip_nan=True)
                continue
            out[name] = _to_nested(arr, [label_sets[d] for d in PARAMETERS[name].dims])
        return out


# ---------------------------------------------------------------------- helpers
def _parse_labels(fld: str, value: Any, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        problems.append(f"{fld}: required list of labels is missing")
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) == 0:
        problems.append(f"{fld}: expected a non-empty list of names, got {value!r}")
        return ()
    out = tuple(str(v) for v in value)
    dupes = sorted({v for v in out if out.count(v) > 1})
    if dupes:
        problems.append(f"{fld}: duplicate labels {dupes}")
    if WILDCARD in out:
        problems.append(f"{fld}: {WILDCARD!r} is reserved and cannot be a label")
    return out


def _parse_per_sector(fld, value, sectors, allowed, problems) -> dict[str, str]:
    if isinstance(value, str):
        value = {WILDCARD: value}
    if not isinstance(value, Mapping):
        problems.append(f"{fld}: expected a name or a mapping sector -> name, got {value!r}")
        return {}
    out = {}
    for key in value:
        if key != WILDCARD and key not in sectors:
            problems.append(f"{fld}: unknown sector {key!r}; sectors are {list(sectors)}")
    for s in sectors:
        v = value.get(s, value.get(WILDCARD, allowed[0]))
        if v not in allowed:
            problems.append(f"{fld}[{s}]: {v!r} is not one of {list(allowed)}")
        out[s] = v
    return out


def _parse_numeraire(value, regions, sectors, factors, problems) -> Numeraire:
    default = Numeraire("factor", regions[0], factors[0], 1.0)
    if value is None:
        return default
    if not isinstance(value, Mapping):
        problems.append(
            "numeraire: expected a mapping such as {factor: labour, region: USA}, "
            f"got {value!r}"
        )
        return default
    kinds = [k for k in ("factor", "price_index", "cpi") if k in value]
    extra = set(value) - {"factor", "price_index", "cpi", "region", "value"}
    if extra:
        problems.append(f"numeraire: unknown keys {sorted(extra)}")
    if len(kinds) != 1:
        problems.append(
            "numeraire: give exactly one of 'factor', 'price_index' or 'cpi', "
            f"got {kinds or 'none'}"
        )
        return default
    kind = kinds[0]
    try:
        val = float(value.get("value", 1.0))
    except (TypeError, ValueError):
        val = math.nan
    if not (val > 0 and math.isfinite(val)):
        problems.append(f"numeraire.value: must be a positive number, got {value.get('value')!r}")
    if kind == "cpi":
        region, label = value["cpi"], None
    else:
        region, label = value.get("region", regions[0]), value[kind]
        pool = factors if kind == "factor" else sectors
        if label not in pool:
            problems.append(f"numeraire.{kind}: unknown label {label!r}; expected one of {list(pool)}")
    if region not in regions:
        problems.append(f"numeraire.region: unknown region {region!r}; regions are {list(regions)}")
    return Numeraire(kind, region, label, val)


def _parse_closure(value, problems) -> Closure:
    if value is None:
        return Closure()
    if isinstance(value, Closure):
        return value
    if not isinstance(value, Mapping):
        problems.append("closure: expected a mapping such as {government: fixed_real, "
                        f"investment: investment_driven, deficit: numeraire}}, got {value!r}")
        return Closure()
    extra = sorted(set(value) - {"government", "investment", "deficit"})
    if extra:
        problems.append(f"closure: unknown keys {extra}; expected 'government', 'investment' "
                        "and/or 'deficit'")
    out = {}
    for key, options in (("government", GOVERNMENT_CLOSURES), ("investment", INVESTMENT_CLOSURES),
                         ("deficit", DEFICIT_CLOSURES)):
        v = value.get(key, options[0])
        if v not in options:
            problems.append(f"closure.{key}: unknown closure {v!r}; options are {list(options)} "
                            f"(default {options[0]!r})")
            v = options[0]
        out[key] = v
    return Closure(**out)


def _numeraire_mapping(num: Numeraire) -> dict[str, Any]:
    if num.kind == "cpi":
        return {"cpi": num.region, "value": num.value}
    return {num.kind: num.label, "region": num.region, "value": num.value}


def _to_number(name: str, where: str, value: Any, problems: list[str]) -> float:
    if isinstance(value, bool):
        problems.append(f"{name}{where}: expected a number, got {value!r}")
        return math.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        x = float(value)
    elif isinstance(value, str) and value.strip().lower() in ("inf", "+inf", ".inf", "infinity"):
        x = math.inf
    elif isinstance(value, str):
        try:
            x = float(value)
        except ValueError:
            problems.append(f"{name}{where}: expected a number, got text {value!r}")
            return math.nan
    else:
        problems.append(f"{name}{where}: expected a number, got {type(value).__name__} {value!r}")
        return math.nan
    if math.isnan(x):
        problems.append(f"{name}{where}: value is NaN")
    return x


def parse_labelled(
    name: str,
    value: Any,
    dims: Sequence[str],
    label_sets: Mapping[str, Sequence[str]],
    default: float | None,
    problems: list[str],
) -> np.ndarray:
    """Parse one labelled parameter into an array with axes ``dims``.

    Problems (unknown labels, wrong lengths, text in numeric entries, missing
    entries without a default) are appended to ``problems``, each naming the
    parameter and the index, e.g. ``tau[destination=USA, origin=EU]``.
    """
    shape = tuple(len(label_sets[d]) for d in dims)
    out = np.full(shape, np.nan)

    def where(index: tuple[int, ...]) -> str:
        if not index:
            return ""
        parts = [f"{dims[a]}={label_sets[dims[a]][j]}" for a, j in enumerate(index)]
        return "[" + ", ".join(parts) + "]"

    last = len(dims) - 1

    def fill(val: Any, index: tuple[int, ...]) -> None:
        depth = len(index)
        if depth == len(dims) or not isinstance(val, (Mapping, list, tuple, np.ndarray)):
            out[index] = _to_number(name, where(index), val, problems)
            return
        dim = dims[depth]
        labels = label_sets[dim]
        if depth == last and _numbers_along(val, labels, out, index):
            return
        labels = list(labels)
        if isinstance(val, Mapping):
            unknown = [k for k in val if k != WILDCARD and k not in labels]
            for k in unknown:
                problems.append(
                    f"{name}{where(index)}: unknown {dim} {k!r}; expected one of {labels}"
                )
            for j, lab in enumerate(labels):
                if lab in val and WILDCARD in val:
                    fill(_overlay(val[WILDCARD], val[lab]), index + (j,))
                elif lab in val:
                    fill(val[lab], index + (j,))
                elif WILDCARD in val:
                    fill(val[WILDCARD], index + (j,))
                elif default is not None:
                    out[index + (j,)] = default
                else:
                    problems.append(f"{name}{where(index + (j,))}: missing entry (no default)")
            return
        seq = list(np.asarray(val, dtype=object)) if isinstance(val, np.ndarray) else list(val)
        if len(seq) != len(labels):
            problems.append(
                f"{name}{where(index)}: wrong shape, expected {len(labels)} entries along "
                f"{dim!r} ({', '.join(labels)}), got {len(seq)}"
            )
            return
        for j, item in enumerate(seq):
            fill(item, index + (j,))

    fill(value, ())
    return out


#: Types of the entries :func:`_numbers_along` takes as they are (``bool`` is not one).
_NUMBER_TYPES = frozenset({float, int, np.float64, np.int64})


def _numbers_along(val: Any, labels: Sequence[str], out: np.ndarray, index: tuple) -> bool:
    """The common case of :func:`parse_labelled`'s last axis at once: a mapping with every
    label and no wildcard, or a list of the right length, of numbers that are not NaN.
    Writes them into ``out[index]`` and returns True; returns False (nothing written) for
    anything else, which is then parsed entry by entry with its messages."""
    if isinstance(val, Mapping):
        if len(val) != len(labels) or WILDCARD in val:
            return False
        try:
            values = [val[lab] for lab in labels]
        except (KeyError, TypeError):
            return False
    elif isinstance(val, (list, tuple)) and len(val) == len(labels):
        values = val
    else:
        return False
    if not all(type(v) in _NUMBER_TYPES for v in values):
        return False
    row = np.array(values, dtype=float)
    if np.isnan(row).any():
        return False
    out[index] = row
    return True


def _overlay(default: Any, specific: Any) -> Any:
    """``specific`` over ``default``: nested mappings merge, anything else replaces."""
    if not isinstance(specific, Mapping):
        return specific
    if not isinstance(default, Mapping):
        return {WILDCARD: default, **specific} if WILDCARD not in specific else specific
    merged = dict(default)
    for key, val in specific.items():
        merged[key] = _overlay(default[key], val) if key in default else val
    return merged


def _to_nested(arr: np.ndarray, label_lists: list[Sequence[str]], skip_nan: bool = False) -> Any:
    """Nested mappings by label; ``skip_nan`` leaves out NaN entries (not given)."""
    if not label_lists:
        x = float(arr)
        return "inf" if math.isinf(x) else x
    if len(label_lists) == 1:  # the last axis at once: the same floats, "inf" and skips
        return {lab: "inf" if math.isinf(x) else x
                for lab, x in zip(label_lists[0], np.asarray(arr, dtype=float).tolist())
                if not (skip_nan and math.isnan(x))}
    out = {}
    for j, lab in enumerate(label_lists[0]):
        if skip_nan and np.isnan(arr[j]).all():
            continue
        out[lab] = _to_nested(arr[j], label_lists[1:], skip_nan)
    return out
