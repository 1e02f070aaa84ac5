r"""Policy shocks as operations on :class:`~cge.primitives.Primitives` arrays (pure numpy).

Every function takes primitives and returns a *new* :class:`Primitives` (the
input is never modified); selectors name regions, sectors and factors by label.
A selector left as ``None`` means "all". Problems raise :class:`ShockError`
(an :class:`~cge.errors.InputError`) whose ``field`` names the offending
argument, so that :mod:`cge.scenario` can point at the line of the scenario
file.

Modes (``apply_mode``), with :math:`x` the current value and :math:`v` the
shock's value:

============  ==========================================================
``set``       :math:`x' = v`
``scale``     :math:`x' = v\,x`
``cut_pct``   :math:`x' = (1 - v/100)\,x`
``change_pct``:math:`x' = (1 + v/100)\,x`
``add``       :math:`x' = x + v` (tariffs: ``add: 0.1`` is +10 percentage points)
============  ==========================================================

Iceberg costs are special: ``cut_pct`` and ``change_pct`` act on the cost
margin :math:`\tau - 1` (the ad valorem equivalent), so a 100% cut means
free trade (:math:`\tau = 1`), never :math:`\tau < 1`.

Tariffs are ad valorem rates as decimals (``0.25`` is 25%), as in the
primitives. Only foreign routes (destination differs from origin) carry
tariffs; route shocks on iceberg and fixed costs default to foreign routes
too (``routes="all"`` or ``"domestic"`` to change that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .errors import InputError
from .parameters import PARAMETERS
from .primitives import Primitives

MODES = ("set", "scale", "cut_pct", "change_pct", "add")
ROUTE_KINDS = ("foreign", "international", "domestic", "all")  # international = foreign

__all__ = [
    "MODES", "ROUTE_KINDS", "ShockError", "TAU_ADVICE", "apply_mode", "border", "deficit", "endowment",
    "entry_cost", "fixed_cost", "fta_mask", "iceberg", "pair_mask", "trade_elasticities", "indices", "parameter", "productivity",
    "retaliation", "route_mask", "selection_mask", "tariff", "tariff_schedule",
]


class ShockError(InputError):
    """A shock that cannot be applied. ``field`` names the offending argument,
    ``item`` the position in a list argument (when known)."""

    def __init__(self, message: str, field: str | None = None, item: int | None = None):
        self.field = field
        self.item = item
        self.message = message
        super().__init__(message)


# ----------------------------------------------------------------- selectors
def _as_list(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def indices(labels: Sequence[str], selected, *, field: str, kind: str) -> np.ndarray:
    """Positions of ``selected`` labels in ``labels`` (all when ``None``).

    Unknown labels raise :class:`ShockError` naming the label, the field and
    the known labels.
    """
    sel = _as_list(selected)
    if sel is None:
        return np.arange(len(labels))
    out = []
    for j, lab in enumerate(sel):
        if lab not in labels:
            raise ShockError(f"unknown {kind} {lab!r}; {kind}s are {list(labels)}", field,
                             j if not isinstance(selected, str) else None)
        out.append(labels.index(lab))
    if not out:
        raise ShockError(f"empty list of {kind}s", field)
    return np.array(out, dtype=int)


def route_mask(prim: Primitives, importers=None, exporters=None, sectors=None, *,
               routes: str = "foreign", importers_field: str = "importers",
               exporters_field: str = "exporters") -> np.ndarray:
    """Boolean (destination, origin, sector) mask of the selected, active routes."""
    if routes not in ROUTE_KINDS:
        raise ShockError(f"routes must be one of {list(ROUTE_KINDS)}, got {routes!r}", "routes")
    R = prim.regions
    n = indices(R, importers, field=importers_field, kind="region")
    i = indices(R, exporters, field=exporters_field, kind="region")
    s = indices(prim.sectors, sectors, field="sectors", kind="sector")
    mask = np.zeros(prim["tau"].shape, dtype=bool)
    mask[np.ix_(n, i, s)] = True
    eye = np.eye(len(R), dtype=bool)[:, :, None]
    if routes in ("foreign", "international"):
        mask &= ~eye
    elif routes == "domestic":
        mask &= eye
    return mask & np.isfinite(prim["tau"])


def fta_mask(prim: Primitives, members, sectors=None) -> np.ndarray:
    """Routes among ``members`` (both ends in the group, foreign routes only)."""
    if len(_as_list(members) or []) < 2:
        raise ShockError("a free trade area needs at least two member regions", "fta")
    return route_mask(prim, members, members, sectors, importers_field="fta",
                      exporters_field="fta")


def pair_mask(prim: Primitives, pairs, sectors=None) -> np.ndarray:
    """Routes between the named pairs of regions, in both directions (foreign routes only)."""
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
        raise ShockError("pairs: give a list of pairs of regions, e.g. [[CAN, USA], [MEX, USA]]",
                         "pairs")
    if all(isinstance(p, str) for p in pairs):
        pairs = [pairs]
    mask = np.zeros(prim["tau"].shape, dtype=bool)
    for j, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2:
            raise ShockError(f"pair {pair!r} is not two regions", "pairs", j)
        a, b = (indices(prim.regions, [x], field="pairs", kind="region")[0] for x in pair)
        if a == b:
            raise ShockError(f"pair {list(pair)} names one region twice", "pairs", j)
        for n, i in ((a, b), (b, a)):
            mask |= route_mask(prim, prim.regions[n], prim.regions[i], sectors)
    return mask


def selection_mask(prim: Primitives, importers=None, exporters=None, sectors=None, fta=None,
                   routes: str = "foreign", *, pairs=None, both_directions: bool = False
                   ) -> np.ndarray:
    """The routes a shock selects: among the ``fta`` members (a bloc), between the named
    ``pairs`` (both directions), or by importers and exporters (with
    ``both_directions``: also from the importers to the exporters). One of the three."""
    if sum(x is not None for x in (fta, pairs)) + (importers is not None or exporters is not None) > 1:
        raise ShockError("give one of fta (routes within a bloc), pairs (both directions) or "
                         "importers/exporters", "fta" if fta is not None else "pairs")
    if fta is not None:
        return fta_mask(prim, fta, sectors)
    if pairs is not None:
        return pair_mask(prim, pairs, sectors)
    mask = route_mask(prim, importers, exporters, sectors, routes=routes)
    if both_directions:
        mask |= route_mask(prim, exporters, importers, sectors, routes=routes,
                           importers_field="exporters", exporters_field="importers")
    return mask


def apply_mode(x: np.ndarray, mask: np.ndarray, mode: str, value: float, *,
               margin: float | None = None) -> np.ndarray:
    """``x`` with the entries under ``mask`` changed by ``mode`` and ``value``.

    With ``margin`` given, ``cut_pct``/``change_pct`` act on ``x - margin``
    (used for iceberg costs, ``margin = 1``).
    """
    if mode not in MODES:
        raise ShockError(f"unknown mode {mode!r}; modes are {list(MODES)}", "mode")
    value = float(value)
    if not np.isfinite(value):
        raise ShockError(f"value must be a finite number, got {value!r}", "value")
    out = np.array(x, dtype=float, copy=True)
    cur = out[mask]
    if mode == "set":
        new = np.full_like(cur, value)
    elif mode == "scale":
        new = cur * value
    elif mode == "add":
        new = cur + value
    else:
        factor = 1 - value / 100 if mode == "cut_pct" else 1 + value / 100
        if margin is None:
            new = cur * factor
        else:
            new = margin + (cur - margin) * factor
    out[mask] = new
    return out


def _nothing_selected(mask: np.ndarray) -> None:
    if not mask.any():
        raise ShockError("the selection matches no active route or entry (check importers, "
                         "exporters, sectors and routes)", None)


# -------------------------------------------------------------------- shocks
def tariff(prim: Primitives, mode: str, value: float, *, importers=None, exporters=None,
           sectors=None, fta=None) -> Primitives:
    """Change ad valorem tariffs ``t[n, i, s]`` levied by ``importers`` on ``exporters``.

    ``fta`` (a list of regions) selects the routes among the members instead
    (a free trade area: typically ``mode="set", value=0``). Leaving
    ``exporters`` out is an MFN change: the importer's tariff on every partner.
    Resulting rates must exceed -100%.
    """
    mask = selection_mask(prim, importers, exporters, sectors, fta)
    _nothing_selected(mask)
    new = apply_mode(prim["tariff"], mask, mode, value)
    _check_tariffs(prim, new, mask)
    return prim.copy(tariff=new)


#: Columns of a tariff schedule (a long table; extra columns are ignored).
SCHEDULE_COLUMNS = ("importer", "exporter", "sector", "tariff")


def tariff_schedule(prim: Primitives, table, mode: str = "set", *, importers=None,
                    exporters=None, sectors=None, fta=None, source: str = "schedule") -> Primitives:
    """Route-by-route tariffs from a table: one row per route with columns
    ``importer``, ``exporter``, ``sector`` and ``tariff`` (a decimal rate; with
    ``mode`` other than ``set`` the row's value is applied in that mode, e.g.
    ``add`` adds it). ``importers``/``exporters``/``sectors``/``fta`` restrict
    which rows apply; rows outside the selection are left out, and a schedule
    of which no row applies is an error. ``source`` names the table in messages
    (e.g. its file), rows are counted as in a spreadsheet (header = row 1).

    Every row must name known labels, a foreign route with trade in the
    benchmark (a tariff on a route without trade has no effect and is taken as
    a mistake) and a number; no route may appear twice.
    """
    import pandas as pd

    df = pd.DataFrame(table)
    missing = [c for c in SCHEDULE_COLUMNS if c not in df.columns]
    if missing:
        raise ShockError(f"{source}: missing column(s) {missing}; a tariff schedule has the "
                         f"columns {list(SCHEDULE_COLUMNS)} (found {list(df.columns)})", "schedule")
    if df.empty:
        raise ShockError(f"{source}: the schedule has no rows", "schedule")
    if mode not in MODES:
        raise ShockError(f"unknown mode {mode!r}; modes are {list(MODES)}", "mode")
    R, S = list(prim.regions), list(prim.sectors)
    rpos, spos = {r: j for j, r in enumerate(R)}, {x: j for j, x in enumerate(S)}
    problems: list[str] = []
    idx, vals, seen = [], [], {}
    for row, (imp, exp, sec, val) in enumerate(
            df[list(SCHEDULE_COLUMNS)].itertuples(index=False, name=None), start=2):
        where = f"{source}, row {row}"
        imp, exp, sec = str(imp).strip(), str(exp).strip(), str(sec).strip()
        bad = [f"{col} {lab!r} (known: {', '.join(known)})"
               for col, lab, known in (("importer", imp, R), ("exporter", exp, R),
                                       ("sector", sec, S)) if lab not in known]
        if bad:
            problems.append(f"{where}: unknown " + "; unknown ".join(bad))
            continue
        try:
            v = float(val)
        except (TypeError, ValueError):
            v = float("nan")
        if not np.isfinite(v):
            problems.append(f"{where}: tariff {val!r} is not a finite number (rates are "
                            "decimals: 0.25 is 25%)")
            continue
        n, i, k = rpos[imp], rpos[exp], spos[sec]
        if n == i:
            problems.append(f"{where}: {imp} -> {exp} is a domestic route; tariffs apply to "
                            "imports only")
            continue
        if not np.isfinite(prim["tau"][n, i, k]):
            problems.append(f"{where}: the route {exp} -> {imp} in {sec} has no trade in the "
                            "benchmark, so a tariff on it has no effect; drop the row")
            continue
        if (n, i, k) in seen:
            problems.append(f"{where}: the route {exp} -> {imp} in {sec} is already given in "
                            f"row {seen[n, i, k]}")
            continue
        seen[n, i, k] = row
        idx.append((n, i, k))
        vals.append(v)
        if len(problems) >= 10:
            break
    if problems:
        raise ShockError("; ".join(problems), "schedule")
    selected = selection_mask(prim, importers, exporters, sectors, fta)
    rows = np.array(idx, dtype=int).reshape(-1, 3)
    keep = selected[rows[:, 0], rows[:, 1], rows[:, 2]]
    if not keep.any():
        raise ShockError(f"{source}: none of its {len(rows)} routes is in the selection "
                         "(importers, exporters, sectors, fta)", "schedule")
    rows, values = rows[keep], np.asarray(vals)[keep]
    new = np.array(prim["tariff"], dtype=float, copy=True)
    mask = np.zeros(new.shape, dtype=bool)
    mask[rows[:, 0], rows[:, 1], rows[:, 2]] = True
    for value in np.unique(values):  # apply_mode takes one value: group the routes by value
        sub = np.zeros_like(mask)
        pick = rows[values == value]
        sub[pick[:, 0], pick[:, 1], pick[:, 2]] = True
        new = apply_mode(new, sub, mode, value)
    _check_tariffs(prim, new, mask, "schedule")
    return prim.copy(tariff=new)


def _check_tariffs(prim, new, mask, field="value") -> None:
    bad = np.argwhere(mask & (new <= -1.0))
    if len(bad):
        n, i, s = bad[0]
        raise ShockError(
            f"tariff[destination={prim.regions[n]}, origin={prim.regions[i]}, "
            f"sector={prim.sectors[s]}] would be {new[n, i, s]:g} ({100 * new[n, i, s]:g}%): "
            "tariffs must exceed -100% (rates are decimals: 0.25 is 25%)", field)


def retaliation(prim: Primitives, base: Primitives, by, against, sectors=None,
                share: float = 1.0) -> Primitives:
    r"""``by`` mirrors the tariff change ``against`` made on imports from ``by``.

    For every sector, :math:`t_{by, against} \mathrel{+}= \text{share}\,
    (t_{against, by} - t^0_{against, by})`, the change in percentage points
    since ``base`` (the benchmark, so earlier shocks of the scenario count).
    """
    b = indices(prim.regions, by, field="by", kind="region")
    a = indices(prim.regions, against, field="against", kind="region")
    s = indices(prim.sectors, sectors, field="sectors", kind="sector")
    cur, ref = prim["tariff"], base["tariff"]
    new = cur.copy()
    changed = False
    for bb in b:
        for aa in a:
            if bb == aa:
                raise ShockError(f"region {prim.regions[bb]!r} cannot retaliate against itself",
                                 "against")
            delta = cur[aa, bb, s] - ref[aa, bb, s]
            active = np.isfinite(prim["tau"][bb, aa, s])
            new[bb, aa, s] = np.where(active, new[bb, aa, s] + share * delta, new[bb, aa, s])
            changed |= bool(np.any(delta[active] != 0))
    if not changed:
        raise ShockError(
            f"nothing to retaliate against: {', '.join(_as_list(against))} did not change its "
            f"tariffs on {', '.join(_as_list(by))} (retaliation mirrors earlier shocks of the "
            "scenario, so list it after them)", "against")
    mask = np.zeros(new.shape, dtype=bool)
    mask[np.ix_(b, a, s)] = True
    _check_tariffs(prim, new, mask, field="by")
    return prim.copy(tariff=new)


def trade_elasticities(prim: Primitives) -> np.ndarray:
    r"""Per sector, the trade elasticity :math:`\epsilon_s` of its market structure
    (:math:`k` under melitz, :math:`\sigma-1` otherwise)."""
    from .gravity import trade_elasticity

    return np.array([trade_elasticity(prim.market_structure[s], prim["sigma"][j], prim["k"][j])
                     for j, s in enumerate(prim.sectors)])


def iceberg(prim: Primitives, mode: str | None = None, value: float | None = None, *,
            importers=None, exporters=None, sectors=None, routes: str = "foreign", fta=None,
            pairs=None, both_directions: bool = False,
            remove_gravity_term: float | None = None) -> Primitives:
    r"""Change iceberg costs ``tau[n, i, s]`` (``cut_pct``/``change_pct`` act on tau - 1).

    Routes: ``routes`` (``foreign``, i.e. international; ``domestic``; ``all``) with
    ``importers``/``exporters`` (``both_directions`` adds the reverse routes), or ``fta``
    (the routes within a bloc), or ``pairs`` (both directions between each pair).

    ``remove_gravity_term`` (instead of ``mode``/``value``) removes a gravity dummy with
    this coefficient :math:`b` (e.g. the international-border coefficient of
    :func:`cge.gravity.estimate_gravity`) from the selected routes: the trade-cost index
    :math:`T = \tau^{-\epsilon}` is divided by :math:`e^{b}`, i.e.
    :math:`\tau' = \tau\,e^{b/\epsilon_s}` with the sector's trade elasticity
    (:func:`trade_elasticities`), the same change of trade costs under every market
    structure.
    """
    mask = selection_mask(prim, importers, exporters, sectors, fta, routes, pairs=pairs,
                          both_directions=both_directions)
    _nothing_selected(mask)
    if remove_gravity_term is not None:
        if mode is not None or value is not None:
            raise ShockError("remove_gravity_term sets the change itself: do not give mode and "
                             "value", "remove_gravity_term")
        b = float(remove_gravity_term)
        if not np.isfinite(b):
            raise ShockError(f"remove_gravity_term must be a finite coefficient, got {b!r}",
                             "remove_gravity_term")
        factor = np.exp(b / trade_elasticities(prim))[None, None, :] * np.ones(prim["tau"].shape)
        new = prim["tau"].copy()
        new[mask] = prim["tau"][mask] * factor[mask]
        _check_tau(prim, new, mask, "remove_gravity_term")
        return prim.copy(tau=new)
    if mode is None or value is None:
        raise ShockError("an iceberg shock needs 'mode' and 'value' (or remove_gravity_term)", "mode")
    new = apply_mode(prim["tau"], mask, mode, value, margin=1.0)
    _check_tau(prim, new, mask)
    return prim.copy(tau=new)


#: What a refusal of tau < 1 says can be done about it.
TAU_ADVICE = (
    "the calibrated tau holds only the trade-cost part of the observed friction "
    "(docs/calibration.md, 'Trade costs and preferences'): calibrate with trade costs that "
    "leave room for this cut, e.g. a gravity trade-cost function from `cge gravity` (the "
    "workbook's trade_costs sheet; calibrate(data, trade_costs=T)), or the default "
    "Head-Ries split instead of trade_costs='implied'; or cut less")


def _check_tau(prim, new, mask, field="value") -> None:
    bad = np.argwhere(mask & ~(new >= 1.0 - 1e-12))
    if len(bad):
        n, i, s = bad[0]
        more = f" ({len(bad) - 1} more routes likewise)" if len(bad) > 1 else ""
        raise ShockError(
            f"tau[{prim.regions[n]},{prim.regions[i]}] (route {prim.regions[i]} -> "
            f"{prim.regions[n]}, sector {prim.sectors[s]}, {prim.market_structure[prim.sectors[s]]}) "
            f"would be {new[n, i, s]:.6g} (from {prim['tau'][n, i, s]:.6g}): iceberg costs must be "
            f">= 1{more}; {TAU_ADVICE}", field)
    new[mask] = np.maximum(new[mask], 1.0)


def border(prim: Primitives, groups, *, to: str = "within", factor: float | None = None,
           sectors=None) -> Primitives:
    r"""Remove (or scale) the border between groups of regions, as in Behrens et al.'s
    Canada-US experiment (seed 000).

    Cross-group routes are those whose destination and origin lie in different
    groups. ``to="within"`` sets each cross-group :math:`\tau_{nis}` to the
    within-group level: the geometric mean of :math:`\tau` over the foreign
    routes inside the destination's and the origin's groups (sector by
    sector). ``to="factor"`` multiplies cross-group :math:`\tau` by ``factor``
    (e.g. ``1/1.5`` removes a border that multiplied trade costs by 1.5),
    keeping :math:`\tau \ge 1`.
    """
    if not isinstance(groups, Sequence) or isinstance(groups, str) or len(groups) < 2:
        raise ShockError("border needs at least two groups of regions, e.g. "
                         "[[CA_East, CA_West], [US_East, US_West]]", "groups")
    R = prim.regions
    member = np.full(len(R), -1)
    for g, grp in enumerate(groups):
        for r in indices(R, grp, field="groups", kind="region"):
            if member[r] >= 0:
                raise ShockError(f"region {R[r]!r} is in more than one group", "groups", g)
            member[r] = g
    s_idx = indices(prim.sectors, sectors, field="sectors", kind="sector")
    tau = prim["tau"]
    cross = (member[:, None] >= 0) & (member[None, :] >= 0) & (member[:, None] != member[None, :])
    mask = np.zeros(tau.shape, dtype=bool)
    mask[:, :, s_idx] = cross[:, :, None]
    mask &= np.isfinite(tau)
    _nothing_selected(mask)
    new = tau.copy()
    if to == "factor":
        if factor is None or not factor > 0:
            raise ShockError("to: factor needs a positive 'factor'", "factor")
        new[mask] = tau[mask] * float(factor)
        _check_tau(prim, new, mask, "factor")
    elif to == "within":
        if factor is not None:
            raise ShockError("'factor' is only used with to: factor", "factor")
        eye = np.eye(len(R), dtype=bool)
        levels = np.full((len(groups), tau.shape[2]), np.nan)
        for g in range(len(groups)):
            inside = (member[:, None] == g) & (member[None, :] == g) & ~eye
            for s in range(tau.shape[2]):
                vals = tau[:, :, s][inside & np.isfinite(tau[:, :, s])]
                if vals.size:
                    levels[g, s] = np.exp(np.log(vals).mean())
        for n, i, s in zip(*np.nonzero(mask)):
            both = [levels[member[n], s], levels[member[i], s]]
            both = [x for x in both if np.isfinite(x)]
            if not both:
                raise ShockError(
                    f"no within-group trade cost to use for the route {R[i]} -> {R[n]} in sector "
                    f"{prim.sectors[s]}: both groups have a single region; use to: factor",
                    "groups")
            new[n, i, s] = min(tau[n, i, s], float(np.exp(np.mean(np.log(both)))))
    else:
        raise ShockError(f"to must be 'within' or 'factor', got {to!r}", "to")
    return prim.copy(tau=new)


def fixed_cost(prim: Primitives, mode: str, value: float, *, importers=None, exporters=None,
               sectors=None, routes: str = "foreign") -> Primitives:
    """Change fixed costs ``f[n, i, s]`` of serving destination n from origin i."""
    mask = route_mask(prim, importers, exporters, sectors, routes=routes)
    _nothing_selected(mask)
    new = apply_mode(prim["f"], mask, mode, value)
    _positive(prim, "f", new, mask)
    return prim.copy(f=new)


def _region_sector(prim, name, mode, value, regions, sectors) -> Primitives:
    r = indices(prim.regions, regions, field="regions", kind="region")
    s = indices(prim.sectors, sectors, field="sectors", kind="sector")
    mask = np.zeros(prim[name].shape, dtype=bool)
    mask[np.ix_(r, s)] = True
    new = apply_mode(prim[name], mask, mode, value)
    _positive(prim, name, new, mask)
    return prim.copy(**{name: new})


def entry_cost(prim: Primitives, mode: str, value: float, *, regions=None,
               sectors=None) -> Primitives:
    """Change sunk entry costs ``f_e[i, s]``."""
    return _region_sector(prim, "f_e", mode, value, regions, sectors)


def productivity(prim: Primitives, mode: str, value: float, *, regions=None,
                 sectors=None) -> Primitives:
    """Change the Pareto lower bound ``phi_min[i, s]`` (productivity in krugman/armington)."""
    return _region_sector(prim, "phi_min", mode, value, regions, sectors)


def endowment(prim: Primitives, mode: str, value: float, *, regions=None,
              factors=None) -> Primitives:
    """Change factor endowments ``endowment[n, f]`` (population change: ``change_pct``)."""
    r = indices(prim.regions, regions, field="regions", kind="region")
    f = indices(prim.factors, factors, field="factors", kind="factor")
    mask = np.zeros(prim["endowment"].shape, dtype=bool)
    mask[np.ix_(r, f)] = True
    new = apply_mode(prim["endowment"], mask, mode, value)
    _positive(prim, "endowment", new, mask)
    return prim.copy(endowment=new)


def deficit(prim: Primitives, mode: str = "set", value: float | None = None, *,
            values: Mapping[str, float] | None = None) -> Primitives:
    """Change trade deficits ``D_n`` (numeraire units at the benchmark: under the default
    deficit closure a new share ``D_n p/W`` of benchmark world income); they must still
    sum to zero.

    ``values`` maps regions to new deficits (``mode="set"``) or to changes
    (``mode="add"``); ``mode="scale", value=0`` closes every deficit.
    """
    new = prim["deficit"].copy()
    if values is not None:
        if value is not None:
            raise ShockError("give either 'value' (all regions) or 'values' (per region)", "values")
        if mode not in ("set", "add"):
            raise ShockError("per-region 'values' work with mode set or add", "mode")
        for lab, v in values.items():
            j = indices(prim.regions, lab, field="values", kind="region")[0]
            new[j] = float(v) if mode == "set" else new[j] + float(v)
    else:
        if value is None:
            raise ShockError("give 'value' or per-region 'values'", "value")
        new = apply_mode(new, np.ones(new.shape, dtype=bool), mode, value)
    total = new.sum()
    if abs(total) > 1e-9 * max(1.0, np.abs(new).sum()):
        raise ShockError(f"deficits would sum to {total:.6g}, not zero: a deficit of one region "
                         "is a surplus of others", "values" if values is not None else "value")
    return prim.copy(deficit=new)


def parameter(prim: Primitives, name: str, mode: str, value: float,
              where: Mapping[str, Iterable[str] | str] | None = None,
              routes: str | None = None) -> Primitives:
    """Generic shock to any parameter of :data:`cge.parameters.PARAMETERS`.

    ``where`` maps dimension names (``destination``, ``origin``, ``region``,
    ``sector``, ``input``, ``factor``) to labels; dimensions left out are all
    selected. ``routes`` (``foreign``, ``domestic`` or ``all``; default all) restricts a
    parameter with destination and origin dimensions to those routes (e.g. the
    preference weight of every foreign route). Structural parameters (sigma, k, delta)
    need a new model and are refused.
    """
    if name not in PARAMETERS:
        raise ShockError(f"no parameter {name!r}; parameters are {sorted(PARAMETERS)}",
                         "parameter")
    if name in ("sigma", "k", "delta"):
        raise ShockError(f"{name} is structural (it shapes the equations); compare two "
                         "scenarios with different data instead", "parameter")
    dims = PARAMETERS[name].dims
    where = dict(where or {})
    for d in where:
        if d not in dims:
            raise ShockError(f"{name} has no dimension {d!r}; its dimensions are {list(dims)}",
                             "where")
    idx = [indices(prim.labels(d), where.get(d), field="where", kind=d) for d in dims]
    mask = np.zeros(prim[name].shape, dtype=bool)
    mask[np.ix_(*idx)] = True
    if routes is not None:
        if routes not in ROUTE_KINDS:
            raise ShockError(f"routes must be one of {list(ROUTE_KINDS)}, got {routes!r}", "routes")
        if tuple(dims[:2]) != ("destination", "origin"):
            raise ShockError(f"routes applies to parameters of a route (destination, origin); "
                             f"{name} has the dimensions {list(dims)}", "routes")
        eye = np.eye(len(prim.regions), dtype=bool).reshape(
            (len(prim.regions), len(prim.regions)) + (1,) * (len(dims) - 2))
        if routes in ("foreign", "international"):
            mask &= ~eye
        elif routes == "domestic":
            mask &= eye
    if name == "tau":
        mask &= np.isfinite(prim["tau"])
    new = apply_mode(prim[name], mask, mode, value, margin=1.0 if name == "tau" else None)
    if name == "tau":
        _check_tau(prim, new, mask)
    if name == "tariff":
        _check_tariffs(prim, new, mask)
    if name == "production_tax":
        bad = np.argwhere(mask & ~(new > -1.0))
        if len(bad):
            i, s = bad[0]
            raise ShockError(
                f"production_tax[region={prim.regions[i]}, sector={prim.sectors[s]}] would be "
                f"{new[i, s]:g} ({100 * new[i, s]:g}%): a production tax (a subsidy if negative) "
                "must exceed -100% (rates are decimals: 0.1 is 10%)", "value")
    return prim.copy(**{name: new})


def _positive(prim, name, new, mask) -> None:
    bad = np.argwhere(mask & ~(new > 0))
    if len(bad):
        idx = tuple(int(j) for j in bad[0])
        dims = PARAMETERS[name].dims
        where = ", ".join(f"{d}={prim.labels(d)[j]}" for d, j in zip(dims, idx))
        raise ShockError(f"{name}[{where}] would be {new[idx]:g}: must stay positive", "value")
