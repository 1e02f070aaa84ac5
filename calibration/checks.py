r"""Consistency checks of a :class:`~calibration.BenchmarkData`, one ``check_*`` per rule.

Each check returns a list of problems; every problem names the region, sector
and account concerned and the amounts involved. :func:`check_benchmark` runs
them all and raises one :class:`~cge.errors.InputError` listing everything.

The identities (values, :math:`n` destination, :math:`i` origin):

* zero profit, per (i, s): :math:`\sum_n X_{nis} = \sum_f V_{isf} + \sum_u Z_{isu} + T^P_{is}`
  (:math:`T^P` net production taxes, default 0);
* market clearing, per (n, s): :math:`\sum_i (1+t_{nis}) X_{nis} = C_{ns} + \sum_u Z_{nus}`;
* income, per n: :math:`\sum_{s,f} V_{nsf} + \sum_{s,i} t_{nis} X_{nis} + \sum_s T^P_{ns}
  + D_n = \sum_s C_{ns}`;
* production taxes are finite and the implied rate
  :math:`T^P_{is}/(\sum_f V_{isf} + \sum_u Z_{isu})` exceeds -1;
* the world is closed: :math:`\sum_n D_n = 0`;
* flows are non-negative, tariffs exceed -1 and are zero on domestic sales;
* the government and investment parts of final demand are non-negative and
  sum to at most :math:`C_{ns}`;
* :math:`k_s > \sigma_s - 1` in melitz sectors, :math:`\sigma_s > 1`,
  :math:`0 < \delta_s \le 1`;
* what the model needs to be well defined: every sector produces and is bought
  in every region, every factor is paid in every region, firm sectors sell at
  home, firm-level shares are admissible.

Tolerances are relative: an identity ``a = b`` fails when
``|a - b| > tol * max(|a|, |b|)`` (``tol`` defaults to :data:`TOL`).
"""

from __future__ import annotations

import numpy as np

from cge.errors import InputError
from cge.parameters import MARKET_STRUCTURES

from .benchmark import DESCRIPTIONS, FIELDS, BenchmarkData

#: Default relative tolerance of the accounting identities.
TOL = 1e-8
_MAX_LISTED = 8


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _limit(problems: list[str], what: str) -> list[str]:
    if len(problems) > _MAX_LISTED:
        extra = len(problems) - _MAX_LISTED
        return problems[:_MAX_LISTED] + [f"{what}: {extra} more like these"]
    return problems


def _mismatch(a: np.ndarray, b: np.ndarray, tol: float) -> np.ndarray:
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.abs(a - b) > tol * np.maximum(scale, 1e-300)


def check_shapes(data: BenchmarkData) -> list[str]:
    """Every array has the shape its labels imply; labels are unique."""
    out = []
    for name in FIELDS:
        arr = getattr(data, name)
        want = data.shape(name)
        if arr.shape != want:
            out.append(f"{name}: wrong shape {arr.shape}, expected {want} "
                       f"for {FIELDS[name]} ({DESCRIPTIONS[name]})")
    for what in ("regions", "sectors", "factors"):
        labels = getattr(data, what)
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            out.append(f"{what}: duplicate labels {dupes}")
        if not labels:
            out.append(f"{what}: no labels")
    missing = [s for s in data.sectors if s not in data.market_structure]
    if missing:
        out.append(f"market_structure: missing for sectors {missing}")
    return out


def _where(data: BenchmarkData, name: str, idx) -> str:
    dims = FIELDS[name]
    return ", ".join(f"{d}={data.labels(d)[j]}" for d, j in zip(dims, idx))


def _finite_nonnegative(data: BenchmarkData, names) -> list[str]:
    """Every cell of the fields ``names`` that is not finite or is negative, named."""
    out = []
    for name in names:
        arr = getattr(data, name)
        for idx in np.argwhere(~np.isfinite(arr)):
            out.append(f"{name}[{_where(data, name, idx)}] = {arr[tuple(idx)]} is not a finite "
                       f"number ({DESCRIPTIONS[name]})")
        for idx in np.argwhere(arr < 0):
            out.append(f"{name}[{_where(data, name, idx)}] = {_fmt(arr[tuple(idx)])} is negative "
                       f"({DESCRIPTIONS[name]} must be >= 0)")
    return out


def check_nonnegative(data: BenchmarkData) -> list[str]:
    """Flows are finite and non-negative (final demand, trade, factor and input payments)."""
    out = _finite_nonnegative(data, ("trade", "factor_payments", "intermediate", "final_demand"))
    if not np.isfinite(data.deficit).all():
        out.append(f"deficit: not finite: {data.deficit.tolist()}")
    return _limit(out, "negative or non-finite flows")


def check_agent_demand(data: BenchmarkData, tol: float = TOL) -> list[str]:
    """The government and investment parts of final demand are finite, non-negative and
    together not above final demand (the household buys the rest)."""
    out = _finite_nonnegative(data, ("government_demand", "investment_demand"))
    gov, inv, final = data.government_demand, data.investment_demand, data.final_demand
    excess = gov + inv - final
    for n, j in np.argwhere(excess > tol * np.maximum(np.abs(final), 1e-300)):
        out.append(f"government_demand + investment_demand [region={data.regions[n]}, "
                   f"sector={data.sectors[j]}] = {_fmt(gov[n, j])} + {_fmt(inv[n, j])} = "
                   f"{_fmt(gov[n, j] + inv[n, j])} exceeds final_demand {_fmt(final[n, j])}: they are "
                   "parts of final demand (the household buys the rest)")
    return _limit(out, "final demand by agent problems")


def check_tariffs(data: BenchmarkData) -> list[str]:
    """Tariffs are finite, exceed -1, and are zero on domestic sales."""
    out = []
    t = data.tariff
    for idx in np.argwhere(~np.isfinite(t) | (t <= -1)):
        out.append(f"tariff[{_where(data, 'tariff', idx)}] = {t[tuple(idx)]}: must be a finite "
                   "rate > -1")
    for n, r in enumerate(data.regions):
        for j, s in enumerate(data.sectors):
            if t[n, n, j] != 0:
                out.append(f"tariff[destination={r}, origin={r}, sector={s}] = {t[n, n, j]:g}: "
                           "domestic sales bear no import tariff")
    return _limit(out, "tariff problems")


def check_zero_profit(data: BenchmarkData, tol: float = TOL) -> list[str]:
    """Per (region, sector): sales = factor payments + intermediate purchases + production taxes."""
    sales, va, inputs = data.output(), data.factor_payments.sum(axis=2), data.intermediate.sum(axis=2)
    ptax = data.production_tax
    costs = va + inputs + ptax
    bad = _mismatch(sales, costs, tol)
    out = []
    order = np.argsort(-np.abs(sales - costs), axis=None)
    for flat in order:
        i, j = np.unravel_index(flat, sales.shape)
        if not bad[i, j]:
            continue
        tax = (f" + production taxes {_fmt(ptax[i, j])}" if ptax[i, j] != 0 else "")
        out.append(f"zero profit fails for region={data.regions[i]}, sector={data.sectors[j]}: "
                   f"sales sum_n trade = {_fmt(sales[i, j])} but costs = factor payments "
                   f"{_fmt(va[i, j])} + intermediate purchases {_fmt(inputs[i, j])}{tax} = "
                   f"{_fmt(costs[i, j])} (difference {_fmt(sales[i, j] - costs[i, j])})")
    return _limit(out, "zero-profit failures")


def check_production_taxes(data: BenchmarkData) -> list[str]:
    """Net production taxes are finite and a subsidy is smaller than the costs it subsidises
    (the rate tax / (factor payments + intermediate purchases) exceeds -1)."""
    out = []
    tax, costs = data.production_tax, data.costs()
    for i, r in enumerate(data.regions):
        for j, s in enumerate(data.sectors):
            if not np.isfinite(tax[i, j]):
                out.append(f"production_tax[region={r}, sector={s}] = {tax[i, j]} is not a finite "
                           f"number ({DESCRIPTIONS['production_tax']})")
            elif tax[i, j] != 0 and not costs[i, j] + tax[i, j] > 0:
                out.append(f"production_tax[region={r}, sector={s}] = {_fmt(tax[i, j])}: a subsidy "
                           f"at least as large as the costs it subsidises (factor payments + "
                           f"intermediate purchases = {_fmt(costs[i, j])}); the rate must exceed -1")
    return _limit(out, "production-tax problems")


def check_market_clearing(data: BenchmarkData, tol: float = TOL) -> list[str]:
    """Per (region, sector): tariff-inclusive purchases from all origins = final + intermediate demand."""
    supply, final, inter = data.absorption(), data.final_demand, data.intermediate.sum(axis=1)
    bad = _mismatch(supply, final + inter, tol)
    out = []
    for flat in np.argsort(-np.abs(supply - final - inter), axis=None):
        n, j = np.unravel_index(flat, supply.shape)
        if not bad[n, j]:
            continue
        out.append(f"market clearing fails for region={data.regions[n]}, sector={data.sectors[j]}: "
                   f"purchases sum_i (1+tariff) trade = {_fmt(supply[n, j])} but final demand "
                   f"{_fmt(final[n, j])} + intermediate demand {_fmt(inter[n, j])} = "
                   f"{_fmt(final[n, j] + inter[n, j])} (difference {_fmt(supply[n, j] - final[n, j] - inter[n, j])})")
    return _limit(out, "market-clearing failures")


def check_income(data: BenchmarkData, tol: float = TOL) -> list[str]:
    """Per region: factor income + tariff revenue + production taxes + deficit = final demand."""
    fac = data.factor_income().sum(axis=1)
    rev = data.tariff_revenue().sum(axis=1)
    ptax = data.production_tax.sum(axis=1)
    spend = data.final_demand.sum(axis=1)
    income = fac + rev + ptax + data.deficit
    bad = _mismatch(income, spend, tol)
    return [f"income balance fails for region={r}: factor income {_fmt(fac[n])} + tariff revenue "
            f"{_fmt(rev[n])}"
            + (f" + production taxes {_fmt(ptax[n])}" if ptax[n] != 0 else "")
            + f" + deficit {_fmt(data.deficit[n])} = {_fmt(income[n])} but final "
            f"demand = {_fmt(spend[n])} (difference {_fmt(income[n] - spend[n])})"
            for n, r in enumerate(data.regions) if bad[n]]


def check_deficits(data: BenchmarkData, tol: float = TOL) -> list[str]:
    """Deficits sum to zero over regions."""
    tot = float(data.deficit.sum())
    scale = max(float(np.abs(data.deficit).sum()), float(data.final_demand.sum()) * 1e-6, 1e-300)
    if abs(tot) > tol * scale:
        listed = ", ".join(f"{r}={_fmt(d)}" for r, d in zip(data.regions, data.deficit))
        return [f"deficits sum to {_fmt(tot)}, must be 0 (the world is closed): {listed}"]
    return []


def check_sector_parameters(data: BenchmarkData) -> list[str]:
    """sigma > 1; k > sigma - 1 in melitz sectors; 0 < delta <= 1; known market structures."""
    out = []
    for j, s in enumerate(data.sectors):
        ms = data.market_structure.get(s)
        sigma, k, delta = data.sigma[j], data.k[j], data.delta[j]
        if ms not in MARKET_STRUCTURES:
            out.append(f"market_structure[sector={s}] = {ms!r} is not one of {list(MARKET_STRUCTURES)}")
        if not sigma > 1:
            out.append(f"sigma[sector={s}] = {sigma:g} must exceed 1")
        if ms == "melitz" and not k > sigma - 1:
            out.append(f"k[sector={s}] = {k:g} must exceed sigma - 1 = {sigma - 1:g} (melitz)")
        if not 0 < delta <= 1:
            out.append(f"delta[sector={s}] = {delta:g} must lie in (0, 1]")
    return out


def check_activity(data: BenchmarkData) -> list[str]:
    """What the model needs: every (region, sector) produces, has value added and is bought;
    every factor is paid in every region; firm sectors sell at home."""
    out = []
    sales, va = data.output(), data.factor_payments.sum(axis=2)
    demand = data.final_demand + data.intermediate.sum(axis=1)
    for n, r in enumerate(data.regions):
        for j, s in enumerate(data.sectors):
            if not sales[n, j] > 0:
                out.append(f"region={r}, sector={s}: no output (sum_n trade = {_fmt(sales[n, j])}); "
                           "the model needs every sector to produce in every region "
                           "(aggregate the sector or the region)")
            elif not va[n, j] > 0:
                out.append(f"region={r}, sector={s}: no value added (factor payments sum to "
                           f"{_fmt(va[n, j])}); the composite input needs a primary factor")
            if not demand[n, j] > 0:
                out.append(f"region={r}, sector={s}: no final or intermediate demand "
                           f"({_fmt(demand[n, j])}); its price index would be undetermined")
            if data.market_structure.get(s) in ("melitz", "krugman") and sales[n, j] > 0 \
                    and not data.trade[n, n, j] > 0:
                out.append(f"region={r}, sector={s}: no domestic sales (trade[{r},{r},{s}] = "
                           f"{_fmt(data.trade[n, n, j])}) in a {data.market_structure[s]} sector; "
                           "the calibration normalises on the domestic route")
    paid = data.factor_payments.sum(axis=1)
    for n, r in enumerate(data.regions):
        for g, f in enumerate(data.factors):
            if not paid[n, g] > 0:
                out.append(f"region={r}, factor={f}: no sector pays this factor "
                           f"({_fmt(paid[n, g])}); the model needs a positive endowment of every "
                           "factor in every region (drop or merge the factor)")
    return _limit(out, "activity problems")


def check_firm_data(data: BenchmarkData) -> list[str]:
    """Firm-level information, where given, is admissible: 0 < survival <= 1,
    exporter shares > 0 with survival * exporter_share <= 1, entrants > 0."""
    out = []
    surv, exp, ent = data.survival, data.exporter_share, data.entrants
    for i, r in enumerate(data.regions):
        for j, s in enumerate(data.sectors):
            if np.isfinite(surv[i, j]) and not 0 < surv[i, j] <= 1:
                out.append(f"survival[region={r}, sector={s}] = {surv[i, j]:g} must lie in (0, 1]")
            if not np.isnan(ent[i, j]) and not (np.isfinite(ent[i, j]) and ent[i, j] > 0):
                out.append(f"entrants[region={r}, sector={s}] = {ent[i, j]:g} must be positive")
    for n, i, j in np.argwhere(np.isfinite(exp)):
        if n == i:
            continue
        e = exp[n, i, j]
        where = f"destination={data.regions[n]}, origin={data.regions[i]}, sector={data.sectors[j]}"
        if not e > 0:
            out.append(f"exporter_share[{where}] = {e:g} must be positive")
        elif np.isfinite(surv[i, j]) and surv[i, j] * e > 1 + 1e-12:
            out.append(f"exporter_share[{where}] = {e:g} times survival {surv[i, j]:g} exceeds 1: "
                       "more firms would sell abroad than have drawn a productivity")
    return _limit(out, "firm-data problems")


CHECKS = (check_shapes, check_nonnegative, check_agent_demand, check_tariffs,
          check_production_taxes, check_sector_parameters,
          check_zero_profit, check_market_clearing, check_income, check_deficits,
          check_activity, check_firm_data)
_WITH_TOL = {check_zero_profit, check_market_clearing, check_income, check_deficits,
             check_agent_demand}


def benchmark_problems(data: BenchmarkData, tol: float = TOL) -> list[str]:
    """Every problem found by :data:`CHECKS` (stops after shape problems)."""
    problems: list[str] = []
    for check in CHECKS:
        problems += check(data, tol) if check in _WITH_TOL else check(data)
        if check is check_shapes and problems:
            break
    return problems


def check_benchmark(data: BenchmarkData, tol: float = TOL) -> None:
    """Run every check; raise one :class:`InputError` naming all problems found."""
    problems = benchmark_problems(data, tol)
    if problems:
        raise InputError([f"benchmark {data.name!r}: {p}" for p in problems])


__all__ = [c.__name__ for c in CHECKS] + ["check_benchmark", "benchmark_problems", "TOL"]
