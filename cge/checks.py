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
    if not mask.any():
        return []
    bad = np.argwhere(mask)
    out = []
    for idx in bad[:_MAX_LISTED]:
        idx = tuple(int(j) for j in idx)
        out.append(f"{name}[{_index_names(prim, name, idx)}] = {values[idx]:g} {rule}")
    if len(bad) > _MAX_LISTED:
        out.append(f"{name}: {len(bad) - _MAX_LISTED} more entries {rule}")
    return out


def check_shapes(prim, names=None) -> list[str]:
    """Every array (of ``names``, if given) has the shape its labels imply."""
    out = []
    for name, arr in prim.arrays.items():
        if names is not None and name not in names:
            continue
        dims = PARAMETERS[name].dims
        want = tuple(len(prim.labels(d)) for d in dims)
        if arr.shape != want:
            out.append(f"{name}: wrong shape {arr.shape}, expected {want} for dims {dims}")
    return out


def check_ranges(prim, names=None) -> list[str]:
    """Each parameter (of ``names``, if given) lies in its admissible range from the
    parameter table."""
    out = []
    for name, spec in PARAMETERS.items():
        if names is not None and name not in names:
            continue
        a = prim.arrays[name]
        if spec.optional:
            # NaN means "not given" (check_closure asks for what a closure needs); every
            # optional parameter has a finite, inclusive lower bound to stand in for it.
            a = np.where(np.isnan(a), spec.lower, a)
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


def final_demand_mask(prim) -> np.ndarray:
    r"""(region, sector): which sectors final demand buys.

    Default closure: :math:`\beta_{ns} > 0`. Otherwise: some agent with a
    positive spending share buys the sector (:math:`\omega_{na}\beta_{nas} > 0`).
    """
    share, beta = prim["agent_share"], prim["agent_beta"]
    spends = np.nan_to_num(share) > 0
    # linear sectors: consumers buy them through their own (quasi-linear) demand
    linear = np.array([prim.market_structure[s] == "linear" for s in prim.sectors])[None, :]
    if prim.closure.is_default or not (np.isfinite(share).all()
                                       and np.isfinite(beta[spends]).all()):
        return (prim["beta"] > 0) | linear  # (missing agent parameters: check_closure)
    return (spends[:, :, None] & (beta > 0)).any(axis=1) | linear


def check_agent_shares(prim) -> list[str]:
    """Where the agent parameters are given, agent_share sums to one over agents and
    agent_beta to one over sectors, and no region gives them only in part."""
    out = []
    share, beta = prim["agent_share"], prim["agent_beta"]
    for n, r in enumerate(prim.regions):
        given = np.isfinite(share[n])
        if given.any() and not given.all():
            missing = [a for a, g in zip(prim.agents, given) if not g]
            out.append(f"agent_share[region={r}]: missing for agents {missing}; give the "
                       "share of every agent (household, government, investment)")
        elif given.all() and abs(share[n].sum() - 1.0) > SHARE_TOL:
            out.append(f"agent_share[region={r}] sums to {share[n].sum():.12g} over agents, must be 1")
        for a, agent in enumerate(prim.agents):
            row = beta[n, a]
            ok = np.isfinite(row)
            if ok.any() and not ok.all():
                missing = [s for s, g in zip(prim.sectors, ok) if not g]
                out.append(f"agent_beta[region={r}, agent={agent}]: missing for sectors {missing}")
            elif ok.all() and abs(row.sum() - 1.0) > SHARE_TOL:
                out.append(f"agent_beta[region={r}, agent={agent}] sums to {row.sum():.12g} "
                           "over sectors, must be 1")
    return out


def check_closure(prim) -> list[str]:
    """A non-default closure has what it needs: every region's agent shares, the sector
    shares of every agent that spends, a positive household share, and the real
    government consumption (fixed_real) or real investment (investment_driven) of
    every region, positive exactly where that agent spends."""
    cl = prim.closure
    if cl.is_default:
        return []
    why = f"the closure ({cl.describe()}) needs it"
    hint = ("; calibration.calibrate sets it from the SAM's government and savings-investment "
            "accounts (docs/calibration.md)")
    out = []
    share, beta = prim["agent_share"], prim["agent_beta"]
    for n, r in enumerate(prim.regions):
        if not np.isfinite(share[n]).all():
            out.append(f"agent_share[region={r}]: missing; {why}{hint}")
            continue
        if not share[n, 0] > 0:
            out.append(f"agent_share[region={r}, agent=household] = {share[n, 0]:g}: the household "
                       f"must spend a positive share under the closure ({cl.describe()}), "
                       "since it absorbs every change")
        for a, agent in enumerate(prim.agents):
            if share[n, a] > 0 and not np.isfinite(beta[n, a]).all():
                out.append(f"agent_beta[region={r}, agent={agent}]: missing; {why}{hint}")
    fixed = [("real_government", 1, "fixed_real") if cl.government == "fixed_real" else None,
             ("real_investment", 2, "investment_driven") if cl.investment == "investment_driven"
             else None]
    for item in fixed:
        if item is None:
            continue
        name, a, option = item
        agent = prim.agents[a]
        val = prim[name]
        for n, r in enumerate(prim.regions):
            if not np.isfinite(val[n]):
                out.append(f"{name}[region={r}]: missing; the {option} closure of the {agent} "
                           f"needs it{hint}")
            elif np.isfinite(share[n, a]) and (val[n] > 0) != (share[n, a] > 0):
                out.append(f"{name}[region={r}] = {val[n]:g} but agent_share[region={r}, "
                           f"agent={agent}] = {share[n, a]:g}: under the {option} closure the "
                           f"{agent} spends exactly where its benchmark share is positive")
    return out


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


def check_domestic_tariffs(prim) -> list[str]:
    """Domestic sales bear no tariff: :math:`t_{nns} = 0`."""
    out = []
    tariff = prim["tariff"]
    regions, sectors = prim.regions, prim.sectors
    own = tariff[np.arange(len(regions)), np.arange(len(regions))] != 0  # (region, sector)
    for n, j in (np.argwhere(own).tolist() if own.any() else ()):
        r, s = regions[n], sectors[j]
        out.append(
            f"tariff[destination={r}, origin={r}, sector={s}] = {tariff[n, n, j]:g}: "
            "a region cannot levy an import tariff on its own sales"
        )
    return out


def check_routes(prim) -> list[str]:
    """Every market that buys a sector has a supplier (an open route into it)."""
    out = []
    regions, sectors = prim.regions, prim.sectors
    demand = final_demand_mask(prim)
    demand |= (prim["input_share"] > 0).any(axis=1)  # (region, input sector)
    closed = ~np.isfinite(prim["tau"]).any(axis=1)  # (destination, sector): no open route
    for j, n in np.argwhere((demand & closed).T).tolist():
        r, s = regions[n], sectors[j]
        out.append(
            f"tau[destination={r}, origin=*, sector={s}]: every route into {r} is "
            f"inactive (inf) but {r} buys sector {s}"
        )
    return out


def check_domestic_routes(prim) -> list[str]:
    r"""A region's own market is open in melitz and krugman sectors: :math:`\tau_{nns}` is
    finite (Melitz-Redding normalise it to 1). Firms sort into exporting from among
    those that sell at home, and the domestic cutoff is the selection margin, so a
    closed home market is a mistake in the data, not a policy (armington sectors may
    have no domestic sales)."""
    tau = prim["tau"]
    return [
        f"tau[destination={r}, origin={r}, sector={s}] = {tau[n, n, j]:g}: the domestic route "
        f"of a {prim.market_structure[s]} sector must be open (finite; normally 1); inf marks "
        "inactive foreign routes only"
        for j, s in enumerate(prim.sectors) if prim.market_structure[s] in ("melitz", "krugman")
        for n, r in enumerate(prim.regions) if not np.isfinite(tau[n, n, j])
    ]


def check_demand(prim) -> list[str]:
    """Every sector is bought in every region (final or intermediate demand), so its
    price index is determined."""
    demand = final_demand_mask(prim) | (prim["input_share"] > 0).any(axis=1)
    return [
        (f"beta[region={r}, sector={s}] = 0" if prim.closure.is_default else
         f"agent_beta[region={r}, agent=*, sector={s}] = 0 for every agent that spends")
        + f" and no sector of {r} uses {s} as an input: "
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


def check_outside_good(prim) -> list[str]:
    """An economy with ``linear`` sectors has one ``outside`` numeraire good and a quasi-linear
    upper tier (:mod:`cge.quasi_linear`); in one-factor economies the outside good is produced
    and consumed in every region (:func:`cge.blocks.linear.check_numeraire_good`)."""
    from .blocks.linear import check_numeraire_good

    return check_numeraire_good(prim)


CHECKS = (
    check_shapes,
    check_ranges,
    check_pareto_shape,
    check_final_demand_shares,
    check_agent_shares,
    check_closure,
    check_cost_shares,
    check_factor_use,
    check_deficits,
    check_domestic_tariffs,
    check_routes,
    check_domestic_routes,
    check_demand,
    check_numeraire,
    check_outside_good,
)


#: The parameter arrays each check reads (beyond the labels, market structures, entry,
#: numeraire and closure, whose change re-runs every check). A check whose arrays are
#: all unchanged since primitives that passed every check cannot find a new problem and
#: is not run again (:func:`check_primitives` with ``since``); a check not listed here
#: always runs. ``check_shapes`` and ``check_ranges`` check each array on its own and
#: run on the changed arrays. ``tests/test_overhead_checks.py`` runs every check on
#: primitives that record what they read, and fails on a read not listed here.
CHECK_READS: dict = {
    check_pareto_shape: ("k", "sigma"),
    check_final_demand_shares: ("beta",),
    check_agent_shares: ("agent_share", "agent_beta"),
    check_closure: ("agent_share", "agent_beta", "real_government", "real_investment"),
    check_cost_shares: ("factor_share", "input_share"),
    check_factor_use: ("factor_share",),
    check_deficits: ("deficit",),
    check_domestic_tariffs: ("tariff",),
    check_routes: ("tau", "beta", "agent_share", "agent_beta", "input_share"),
    check_domestic_routes: ("tau",),
    check_demand: ("beta", "agent_share", "agent_beta", "input_share"),
    check_numeraire: ("factor_share",),
}
#: The checks that look at each array on its own (run on the changed arrays only).
_PER_ARRAY = (check_shapes, check_ranges)


class Checked:
    """A record of primitives that passed every check (:func:`check_primitives`): copies
    of their arrays and everything else the checks read, so that primitives changed
    afterwards (even in place) are compared with what was checked."""

    def __init__(self, prim):
        self.meta = _meta(prim)
        self.arrays = {name: np.array(arr, copy=True) for name, arr in prim.arrays.items()}

    def updated(self, prim, names) -> "Checked":
        """The record of ``prim``, which differs from the primitives of this one in the
        arrays ``names`` only (copied; the others are this record's)."""
        new = object.__new__(Checked)
        new.meta = self.meta
        new.arrays = dict(self.arrays)
        for name in names:
            new.arrays[name] = np.array(prim.arrays[name], copy=True)
        return new

    def changed(self, prim) -> set[str] | None:
        """The names of the arrays of ``prim`` that differ from those checked; ``None`` if
        anything else the checks read differs (every check must run)."""
        if _meta(prim) != self.meta or prim.arrays.keys() != self.arrays.keys():
            return None
        from .primitives import same_values

        return {name for name, arr in prim.arrays.items()
                if not (isinstance(arr, np.ndarray) and same_values(arr, self.arrays[name]))}


def _meta(prim) -> tuple:
    return (tuple(prim.regions), tuple(prim.sectors), tuple(prim.factors),
            dict(prim.market_structure), dict(prim.entry), prim.numeraire, prim.closure)


def check_primitives(prim, since: Checked | None = None) -> Checked:
    """Run every check; raise one :class:`InputError` naming all problems found.

    ``since``: the :class:`Checked` record of primitives that passed every check (what
    this function returned for them). Then only the checks that read an array changed
    since (:data:`CHECK_READS`; the per-array checks on the changed arrays) run, and all
    of them when anything else changed: the problems found are those of the changed
    values, which the unchanged ones could not have. Returns the record of ``prim``.
    """
    changed = since.changed(prim) if since is not None else None
    if changed is not None and not changed:
        return since
    problems: list[str] = []
    for check in CHECKS:
        if changed is not None:
            if check in _PER_ARRAY:
                problems += check(prim, changed)
            elif check not in CHECK_READS or changed.intersection(CHECK_READS[check]):
                problems += check(prim)
        else:
            problems += check(prim)
        if check is check_shapes and problems:
            break  # later checks index arrays by shape
    if problems:
        raise InputError(problems)
    return Checked(prim) if changed is None else since.updated(prim, changed)


# ----------------------------------------------------------------------
# Valid but extreme: warnings, not errors
# ----------------------------------------------------------------------
#: Iceberg costs above this (fewer than 1% of the goods shipped arrive) are reported.
EXTREME_TAU = 100.0
#: Tariffs above this (1000%) are reported.
EXTREME_TARIFF = 10.0


def warn_trade_costs(prim) -> list[str]:
    """Active foreign routes whose iceberg cost exceeds :data:`EXTREME_TAU`."""
    tau = prim["tau"]
    foreign = ~np.eye(len(prim.regions), dtype=bool)[:, :, None]
    mask = np.isfinite(tau) & (tau > EXTREME_TAU) & foreign
    return _report(prim, "tau", mask, tau, f"is above {EXTREME_TAU:g}: fewer than "
                   f"{100 / EXTREME_TAU:g}% of the goods shipped arrive (a data cell many "
                   "orders of magnitude off, or a value meant as a percentage?)")


def warn_tariffs(prim) -> list[str]:
    """Tariffs above :data:`EXTREME_TARIFF` (rates are decimals: 0.25 is 25%)."""
    t = prim["tariff"]
    return _report(prim, "tariff", t > EXTREME_TARIFF, t, f"is above {EXTREME_TARIFF:g} "
                   f"({100 * EXTREME_TARIFF:g}%); rates are decimals (0.25 is 25%)")


WARNINGS = (warn_trade_costs, warn_tariffs)


def extreme_values(prim) -> list[str]:
    """Valid but extreme inputs of ``prim``, each naming the parameter and index."""
    out: list[str] = []
    for rule in WARNINGS:
        out += rule(prim)
    return out


def warn_extreme(prim, where: str = "") -> list[str]:
    """Issue an :class:`~cge.errors.ExtremeValueWarning` for each of
    :func:`extreme_values`; returns the messages."""
    import warnings

    from .errors import ExtremeValueWarning

    msgs = [f"{where}{m}" for m in extreme_values(prim)]
    for m in msgs:
        warnings.warn(m, ExtremeValueWarning, stacklevel=2)
    return msgs
