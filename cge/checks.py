"""Consistency checks of model primitives, one ``check_*`` function per rule.

Each check returns a list of problems, every one naming the parameter and the
offending index in labels. :func:`check_primitives` runs them all and raises a
single :class:`~cge.errors.InputError` listing everything found, before any
model is built.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .parameters import PARAMETERS

SHARE_TOL = 1e-9
_MAX_LISTED = 6


def _index_names(prim, name: str, idx: tuple[int, ...]) -> str:
    dims = PARAMETERS[name].dims
    return ", ".join(f"{d}={prim.labels(d)[j]}" for d, j in zip(dims, idx))


def _report(prim, name, mask, values, rule) -> list[str]:
    bad = np.argwhere(mask)
    out = []
    for idx in bad[:_MAX_LISTED]:
        idx = tuple(int(j) for j in idx)
        out.append(f"{name}[{_index_names(prim, name, idx)}] = {values[idx]:g} {rule}")
    if len(bad) > _MAX_LISTED:
        out.append(f"{name}: {len(bad) - _MAX_LISTED} more entries {rule}")
    return out


def check_shapes(prim) -> list[str]:
    """Every array has the shape its labels imply."""
    out = []
    for name, arr in prim.arrays.items():
        dims = PARAMETERS[name].dims
        want = tuple(len(prim.labels(d)) for d in dims)
        if arr.shape != want:
            out.append(f"{name}: wrong shape {arr.shape}, expected {want} for dims {dims}")
    return out


def check_ranges(prim) -> list[str]:
    """Each parameter lies in its admissible range from the parameter table."""
    out = []
    for name, spec in PARAMETERS.items():
        a = prim.arrays[name]
        if np.isnan(a).any():
            out += _report(prim, name, np.isnan(a), a, "is not a number")
            continue
        if not spec.allow_inf:
            out += _report(prim, name, np.isinf(a), a, "must be finite")
        low = a <= spec.lower if spec.strict else a < spec.lower
        rel = ">" if spec.strict else ">="
        out += _report(prim, name, low, a, f"must be {rel} {spec.lower:g}")
        out += _report(prim, name, a > spec.upper, a, f"must be <= {spec.upper:g}")
    return out


def check_pareto_shape(prim) -> list[str]:
    """k_s > sigma_s - 1 in melitz sectors, so average revenue is finite."""
    out = []
    for j, s in enumerate(prim.sectors):
        k, sigma = prim["k"][j], prim["sigma"][j]
        if prim.market_structure[s] == "melitz" and not k > sigma - 1:
            out.append(
                f"k[sector={s}] = {k:g} must exceed sigma - 1 = {sigma - 1:g} "
                "(Pareto shape too small: firm-size distribution has no finite mean)"
            )
    return out


def check_final_demand_shares(prim) -> list[str]:
    """beta_ns sums to one over sectors in every region."""
    tot = prim["beta"].sum(axis=1)
    return [
        f"beta[region={r}] sums to {tot[n]:.12g} over sectors, must be 1"
        for n, r in enumerate(prim.regions)
        if abs(tot[n] - 1.0) > SHARE_TOL
    ]


def check_cost_shares(prim) -> list[str]:
    """Factor and intermediate shares of each composite input sum to one."""
    out = []
    fac = prim["factor_share"].sum(axis=2)
    tot = fac + prim["input_share"].sum(axis=2)
    for i, r in enumerate(prim.regions):
        for j, s in enumerate(prim.sectors):
            if abs(tot[i, j] - 1.0) > SHARE_TOL:
                out.append(
                    f"factor_share + input_share [region={r}, sector={s}] sum to "
                    f"{tot[i, j]:.12g}, must be 1"
                )
            elif fac[i, j] <= 0:
                out.append(
                    f"factor_share[region={r}, sector={s}] is zero for every factor: "
                    "the composite input needs some primary factor"
                )
    return out


def check_factor_use(prim) -> list[str]:
    """Every factor of every region is used by some sector (else its price is undetermined)."""
    used = prim["factor_share"].sum(axis=1)
    return [
        f"endowment[region={r}, factor={fname}]: no sector of {r} uses factor {fname} "
        "(all factor_share are zero), so its price is undetermined"
        for i, r in enumerate(prim.regions)
        for g, fname in enumerate(prim.factors)
        if used[i, g] <= 0
    ]


def check_deficits(prim) -> list[str]:
    """Deficits sum to zero across regions (the world is closed)."""
    tot = prim["deficit"].sum()
    scale = max(1.0, np.abs(prim["deficit"]).sum())
    if abs(tot) > 1e-9 * scale:
        return [f"deficit sums to {tot:.12g} over regions, must be 0"]
    return []


def check_routes(prim) -> list[str]:
    """Domestic sales bear no tariff and every market that buys a sector has a supplier."""
    out = []
    tariff = prim["tariff"]
    for n, r in enumerate(prim.regions):
        for j, s in enumerate(prim.sectors):
            if tariff[n, n, j] != 0:
                out.append(
                    f"tariff[destination={r}, origin={r}, sector={s}] = {tariff[n, n, j]:g}: "
                    "a region cannot levy an import tariff on its own sales"
                )
    demand = prim["beta"] > 0
    demand |= (prim["input_share"] > 0).any(axis=1)  # (region, input sector)
    for j, s in enumerate(prim.sectors):
        active = prim.active_routes(j)
        for n, r in enumerate(prim.regions):
            if demand[n, j] and not active[n].any():
                out.append(
                    f"tau[destination={r}, origin=*, sector={s}]: every route into {r} is "
                    f"inactive (inf) but {r} buys sector {s}"
                )
    return out


def check_demand(prim) -> list[str]:
    """Every sector is bought in every region (final or intermediate demand), so its
    price index is determined."""
    demand = (prim["beta"] > 0) | (prim["input_share"] > 0).any(axis=1)
    return [
        f"beta[region={r}, sector={s}] = 0 and no sector of {r} uses {s} as an input: "
        f"the price index of {s} in {r} is undetermined (drop the sector or give it a share)"
        for n, r in enumerate(prim.regions)
        for j, s in enumerate(prim.sectors)
        if not demand[n, j]
    ]


def check_numeraire(prim) -> list[str]:
    """The numeraire names an existing, used price."""
    num = prim.numeraire
    if num.kind == "factor":
        i, g = prim.regions.index(num.region), prim.factors.index(num.label)
        if prim["factor_share"][i, :, g].sum() <= 0:
            return [f"numeraire: factor {num.label} is not used in {num.region}"]
    return []


CHECKS = (
    check_shapes,
    check_ranges,
    check_pareto_shape,
    check_final_demand_shares,
    check_cost_shares,
    check_factor_use,
    check_deficits,
    check_routes,
    check_demand,
    check_numeraire,
)


def check_primitives(prim) -> None:
    """Run every check; raise one :class:`InputError` naming all problems found."""
    problems: list[str] = []
    for check in CHECKS:
        problems += check(prim)
        if check is check_shapes and problems:
            break  # later checks index arrays by shape
    if problems:
        raise InputError(problems)
