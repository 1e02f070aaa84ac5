r"""A labelled multi-region benchmark: the data a calibration starts from.

:class:`BenchmarkData` holds one consistent set of benchmark flows, all in
value terms (one currency unit, e.g. million USD), for regions :math:`n, i`,
sectors :math:`s, u` and primary factors :math:`f`:

``trade[n, i, s]``  :math:`X_{nis}`
    sales of sector ``s`` of origin ``i`` in destination ``n`` at c.i.f. value,
    **net of the tariff** (what producers receive); ``n == i`` is domestic sales.
    Zero marks a route without trade (it becomes inactive, ``tau = inf``).
``tariff[n, i, s]``  :math:`t_{nis}`
    ad valorem tariff levied by ``n`` on the c.i.f. value (0 on the diagonal).
``factor_payments[i, s, f]``  :math:`V_{isf}`
    payments of sector ``s`` in region ``i`` to factor ``f``.
``intermediate[i, s, u]``  :math:`Z_{isu}`
    spending of sector ``s`` in region ``i`` on the composite of sector ``u``
    (tariff-inclusive, i.e. at the purchaser's price index).
``final_demand[n, s]``  :math:`C_{ns}`
    final spending of region ``n`` on sector ``s`` (tariff-inclusive; all
    final demand of the regional household: private and government
    consumption and investment).
``government_demand[n, s]``, ``investment_demand[n, s]``  :math:`C_{ngs}, C_{nvs}`
    the parts of ``final_demand`` bought by the government and by investment
    (default 0); the household buys the rest, :math:`C_{nhs} = C_{ns} -
    C_{ngs} - C_{nvs}`. The split does not change the default closure; the
    other closures of final demand (:class:`cge.primitives.Closure`) hold
    real government consumption or real investment fixed.
``production_tax[i, s]``  :math:`T^P_{is}`
    the value of net production taxes paid by the activity ``s`` of region
    ``i`` (default 0; negative: a net subsidy). Sales cover factor payments,
    intermediate purchases and this tax; the revenue is income of ``i``.
``deficit[n]``  :math:`D_n`
    trade deficit (imports minus exports, foreign savings), summing to zero.

and per-sector parameters ``sigma``, ``k``, ``delta``, ``market_structure``.
Optional firm-level information (NaN where not given, see
:func:`calibration.calibrate`):

``survival[i, s]``
    share of the firms that have drawn a productivity which produce (sell at
    home): :math:`M_{ii}/(M_{Ei}/\delta)` (melitz).
``exporter_share[n, i, s]``
    share of ``i``'s producers that sell in ``n``, :math:`M_{ni}/M_{ii}` for
    ``n != i`` (melitz).
``entrants[i, s]``
    benchmark mass of entrants per period :math:`M_{Ei}` (melitz, krugman);
    only the firm normalisation, see :func:`calibration.calibrate`.
``trade_cost[n, i, s]``
    trade-cost index :math:`T_{nis} = \tau_{nis}^{-\epsilon_s}` (e.g. the
    gravity function of :mod:`cge.gravity`, domestic routes included); the
    calibration puts it into :math:`\tau` and the rest of the observed
    trade friction into preferences (see :func:`calibration.calibrate`).

The accounting identities that make the data a benchmark equilibrium are
checked by :mod:`calibration.checks`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cge.errors import InputError
from cge.parameters import MARKET_STRUCTURES
from cge.primitives import _parse_labels, _parse_per_sector, parse_labelled

#: Dimensions of every array field (names as in :mod:`cge.parameters`).
FIELDS: dict[str, tuple[str, ...]] = {
    "trade": ("destination", "origin", "sector"),
    "tariff": ("destination", "origin", "sector"),
    "factor_payments": ("region", "sector", "factor"),
    "intermediate": ("region", "sector", "input"),
    "final_demand": ("region", "sector"),
    "government_demand": ("region", "sector"),
    "investment_demand": ("region", "sector"),
    "production_tax": ("region", "sector"),
    "deficit": ("region",),
    "sigma": ("sector",),
    "k": ("sector",),
    "delta": ("sector",),
    "survival": ("region", "sector"),
    "exporter_share": ("destination", "origin", "sector"),
    "entrants": ("region", "sector"),
    "trade_cost": ("destination", "origin", "sector"),
}
#: Default of each array field when omitted (None: required; NaN: "not given").
DEFAULTS: dict[str, float | None] = {
    "trade": None, "tariff": 0.0, "factor_payments": None, "intermediate": 0.0,
    "final_demand": None, "deficit": 0.0, "sigma": None, "k": 4.0, "delta": 1.0,
    "survival": math.nan, "exporter_share": math.nan, "entrants": math.nan,
    "trade_cost": math.nan,
    "government_demand": 0.0, "investment_demand": 0.0, "production_tax": 0.0,
}
#: What each field is, for messages and tables.
DESCRIPTIONS = {
    "trade": "bilateral sales X[n,i,s], c.i.f. net of tariff",
    "tariff": "ad valorem tariff t[n,i,s] on the c.i.f. value",
    "factor_payments": "factor payments V[i,s,f]",
    "intermediate": "intermediate purchases Z[i,s,u] (tariff-inclusive)",
    "final_demand": "final demand C[n,s] (tariff-inclusive)",
    "government_demand": "government part of final demand C_g[n,s]",
    "investment_demand": "investment part of final demand C_v[n,s]",
    "production_tax": "net production taxes paid by the activity TP[i,s]",
    "deficit": "trade deficit D[n]",
    "sigma": "elasticity of substitution",
    "k": "Pareto shape",
    "delta": "exit rate",
    "survival": "share of drawn firms that produce",
    "exporter_share": "share of producers selling in a foreign market",
    "entrants": "mass of entrants per period",
    "trade_cost": "trade-cost index T[n,i,s] = tau^-epsilon (e.g. from cge gravity)",
}
_LABEL_SET = {"region": "regions", "destination": "regions", "origin": "regions",
              "sector": "sectors", "input": "sectors", "factor": "factors"}


@dataclass
class BenchmarkData:
    """Benchmark flows and sector parameters, labelled (see the module docstring).

    Build with :meth:`from_mapping` (labelled input as for
    :class:`cge.Primitives`), with the constructor (numpy arrays in label
    order), from a workbook (:func:`calibration.read_workbook`) or from a
    solved model (:func:`calibration.benchmark_from_equilibrium`).
    """

    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    factors: tuple[str, ...]
    trade: np.ndarray
    factor_payments: np.ndarray
    final_demand: np.ndarray
    sigma: np.ndarray
    market_structure: dict[str, str]
    tariff: np.ndarray | None = None
    intermediate: np.ndarray | None = None
    deficit: np.ndarray | None = None
    k: np.ndarray | None = None
    delta: np.ndarray | None = None
    survival: np.ndarray | None = None
    exporter_share: np.ndarray | None = None
    entrants: np.ndarray | None = None
    government_demand: np.ndarray | None = None
    investment_demand: np.ndarray | None = None
    production_tax: np.ndarray | None = None
    trade_cost: np.ndarray | None = None
    name: str = "benchmark"
    units: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.regions = tuple(self.regions)
        self.sectors = tuple(self.sectors)
        self.factors = tuple(self.factors)
        if isinstance(self.market_structure, str):
            self.market_structure = {s: self.market_structure for s in self.sectors}
        self.market_structure = dict(self.market_structure)
        for name, dims in FIELDS.items():
            val = getattr(self, name)
            shape = self.shape(name)
            if val is None:
                default = DEFAULTS[name]
                if default is None:
                    raise InputError(f"{name}: required ({DESCRIPTIONS[name]})")
                val = np.full(shape, default, dtype=float)
            else:
                val = np.array(val, dtype=float)
                if val.ndim == 0:
                    val = np.full(shape, float(val))
            setattr(self, name, val)

    # ------------------------------------------------------------------ access
    def labels(self, dim: str) -> tuple[str, ...]:
        return getattr(self, _LABEL_SET[dim])

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(len(self.labels(d)) for d in FIELDS[name])

    def copy(self, **arrays) -> "BenchmarkData":
        """A copy with some fields replaced (arrays are copied)."""
        new = {name: np.array(getattr(self, name), dtype=float) for name in FIELDS}
        new.update({k: np.array(v, dtype=float) for k, v in arrays.items() if k in FIELDS})
        other = {k: v for k, v in arrays.items() if k not in FIELDS}
        return replace(self, **new, market_structure=dict(self.market_structure),
                       notes=list(self.notes), **other)

    # ------------------------------------------------------- derived totals
    def output(self) -> np.ndarray:
        r"""Gross output (sales) :math:`R_{is} = \sum_n X_{nis}`, shape (region, sector)."""
        return self.trade.sum(axis=0)

    def costs(self) -> np.ndarray:
        r"""Cost of production :math:`\sum_f V_{isf} + \sum_u Z_{isu}` (net of production
        taxes), shape (region, sector)."""
        return self.factor_payments.sum(axis=2) + self.intermediate.sum(axis=2)

    def production_tax_rate(self) -> np.ndarray:
        r"""Ad valorem production-tax rate :math:`t^P_{is} = T^P_{is}/(\sum_f V_{isf} +
        \sum_u Z_{isu})`, shape (region, sector) (0 where costs are 0)."""
        costs = self.costs()
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(costs != 0, self.production_tax / np.where(costs != 0, costs, 1.0), 0.0)

    def absorption(self) -> np.ndarray:
        r"""Tariff-inclusive spending :math:`E_{ns} = \sum_i (1+t_{nis}) X_{nis}` (supply side)."""
        return ((1 + self.tariff) * self.trade).sum(axis=1)

    def demand(self) -> np.ndarray:
        r"""Demand :math:`C_{ns} + \sum_u Z_{nus}`, shape (region, sector)."""
        return self.final_demand + self.intermediate.sum(axis=1)

    def household_demand(self) -> np.ndarray:
        r"""The household's final demand :math:`C_{ns} - C_{ngs} - C_{nvs}`, shape (region, sector)."""
        return self.final_demand - self.government_demand - self.investment_demand

    def agent_demand(self) -> np.ndarray:
        """Final demand by agent (household, government, investment), shape (region, agent, sector)."""
        return np.stack([self.household_demand(), self.government_demand,
                         self.investment_demand], axis=1)

    def tariff_revenue(self) -> np.ndarray:
        r"""Tariff revenue :math:`T_{ns} = \sum_i t_{nis} X_{nis}`, shape (region, sector)."""
        return (self.tariff * self.trade).sum(axis=1)

    def factor_income(self) -> np.ndarray:
        """Factor income by region and factor, shape (region, factor)."""
        return self.factor_payments.sum(axis=1)

    def income(self) -> np.ndarray:
        r"""Regional income :math:`\sum_f V + \sum_s T + \sum_s T^P + D` by region."""
        return (self.factor_income().sum(axis=1) + self.tariff_revenue().sum(axis=1)
                + self.production_tax.sum(axis=1) + self.deficit)

    def exports(self) -> np.ndarray:
        """Exports by (region, sector): sales to other regions."""
        x = self.trade.copy()
        idx = np.arange(len(self.regions))
        x[idx, idx, :] = 0
        return x.sum(axis=0)

    def imports(self) -> np.ndarray:
        """Imports (c.i.f., net of tariff) by (region, sector)."""
        x = self.trade.copy()
        idx = np.arange(len(self.regions))
        x[idx, idx, :] = 0
        return x.sum(axis=1)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "BenchmarkData":
        """Parse labelled input (nested mappings keyed by labels, ``"*"`` wildcards,
        or lists in label order), the format of :meth:`cge.Primitives.from_mapping`.

        Keys: ``regions``, ``sectors``, ``factors``, ``market_structure`` and the
        array fields of :data:`FIELDS`; optional ``name`` and ``units``.
        """
        if not isinstance(data, Mapping):
            raise InputError(f"benchmark data must be a mapping, got {type(data).__name__}")
        problems: list[str] = []
        known = set(FIELDS) | {"regions", "sectors", "factors", "market_structure",
                               "name", "units", "notes"}
        problems += [f"unknown field {k!r}; expected one of {sorted(known)}"
                     for k in data if k not in known]
        labels = {f: _parse_labels(f, data.get(f), problems)
                  for f in ("regions", "sectors", "factors")}
        if problems:
            raise InputError(problems)
        label_sets = {d: labels[ls] for d, ls in _LABEL_SET.items()}
        market = _parse_per_sector("market_structure", data.get("market_structure", "melitz"),
                                   labels["sectors"], MARKET_STRUCTURES, problems)
        arrays = {}
        for name, dims in FIELDS.items():
            default = DEFAULTS[name]
            if data.get(name) is None:
                if default is None:
                    problems.append(f"{name}: required field is missing ({DESCRIPTIONS[name]})")
                    continue
                arrays[name] = np.full(tuple(len(label_sets[d]) for d in dims), default)
                continue
            arrays[name] = parse_labelled(name, data[name], dims, label_sets,
                                          None if default is None else default, problems)
        if problems:
            raise InputError(problems)
        return cls(regions=labels["regions"], sectors=labels["sectors"],
                   factors=labels["factors"], market_structure=market,
                   name=str(data.get("name", "benchmark")), units=str(data.get("units", "")),
                   notes=list(data.get("notes", []) or []), **arrays)

    def to_mapping(self) -> dict[str, Any]:
        """Labelled nested mappings (round-trips through :meth:`from_mapping`)."""
        from cge.primitives import _to_nested

        out: dict[str, Any] = {
            "name": self.name, "units": self.units,
            "regions": list(self.regions), "sectors": list(self.sectors),
            "factors": list(self.factors), "market_structure": dict(self.market_structure),
        }
        for name, dims in FIELDS.items():
            arr = getattr(self, name)
            if np.isnan(arr).all():
                continue
            out[name] = _to_nested(arr, [self.labels(d) for d in dims])
        return out

    # ----------------------------------------------------------------- tables
    def frame(self, name: str) -> pd.Series:
        """One field as a pandas Series indexed by its labels (zeros kept)."""
        dims = FIELDS[name]
        arr = getattr(self, name)
        index = pd.MultiIndex.from_product([self.labels(d) for d in dims], names=list(dims)) \
            if len(dims) > 1 else pd.Index(self.labels(dims[0]), name=dims[0])
        return pd.Series(arr.reshape(-1), index=index, name=name)

    def summary(self) -> pd.DataFrame:
        """Per (region, sector): output, costs (net of production taxes), production
        taxes, absorption, demand, exports, imports, final demand and tariff revenue."""
        idx = pd.MultiIndex.from_product([self.regions, self.sectors], names=["region", "sector"])
        cols = {"output": self.output(), "costs": self.costs(),
                "production_tax": self.production_tax, "absorption": self.absorption(),
                "demand": self.demand(), "exports": self.exports(), "imports": self.imports(),
                "final_demand": self.final_demand, "tariff_revenue": self.tariff_revenue()}
        return pd.DataFrame({k: v.reshape(-1) for k, v in cols.items()}, index=idx)


__all__ = ["BenchmarkData", "FIELDS", "DEFAULTS", "DESCRIPTIONS"]
