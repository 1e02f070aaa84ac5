"""Plausibility of a scenario's shocks: values that are legal but almost surely a slip.

Rates are decimals (``add: 0.1`` is +10 percentage points) while ``cut_pct`` and
``change_pct`` are percentages (``cut_pct: 50`` halves), so ``add: 10`` (meant as
10 %, read as +1000 points), ``set: 25`` (a 2500 % tariff) or ``cut_pct: 0.5``
(meant as half, read as a 0.5 % cut) pass every check. One ``check_*`` function
per rule returns its messages, each naming the shock, the field and the value;
:func:`shock_warnings` collects them. :func:`cge.scenario.prepare_scenario` refuses
a scenario with such a shock unless it says ``accept_implausible: true`` (or
``cge run --accept-implausible``), and then lists them as warnings.
"""

from __future__ import annotations

__all__ = ["shock_warnings", "check_rate_added", "check_rate_set", "check_small_percentage",
           "check_large_scale", "ACCEPT_HINT"]

#: Rate-like parameters (decimals) by shock type.
RATES = {"tariff": "tariff rate", "parameter:tariff": "tariff rate",
         "parameter:production_tax": "production-tax rate"}
#: Above this a rate added (``add``) or set (``set``) is implausible: +100 points, 100 %.
MAX_RATE = 1.0
#: Beyond these factors ``scale`` is implausible.
SCALE_RANGE = (0.01, 10.0)
ACCEPT_HINT = ("if this is intended, add 'accept_implausible: true' to the scenario "
               "(or run with --accept-implausible)")


def _kind(shock) -> str:
    return f"parameter:{shock.parameter}" if shock.type == "parameter" else shock.type


def check_rate_added(shock) -> list[str]:
    """A rate raised by more than 100 points: ``add: 10`` is +1000 points."""
    what = RATES.get(_kind(shock))
    if what and shock.mode == "add" and shock.value is not None and abs(shock.value) > MAX_RATE:
        return [f"mode add, value {shock.value:g}: adds {100 * shock.value:g} percentage points "
                f"to the {what}; rates are decimals (add: {shock.value / 100:g} is "
                f"{shock.value:g} points)"]
    return []


def check_rate_set(shock) -> list[str]:
    """A rate set above 100 %: ``set: 25`` is a 2500 % tariff."""
    what = RATES.get(_kind(shock))
    if what and shock.mode == "set" and shock.value is not None and shock.value > MAX_RATE:
        return [f"mode set, value {shock.value:g}: sets the {what} to {100 * shock.value:g}%; "
                f"rates are decimals (set: {shock.value / 100:g} is {shock.value:g}%)"]
    return []


def check_small_percentage(shock) -> list[str]:
    """A percentage below 1 in absolute value: ``cut_pct: 0.5`` is a 0.5 % cut, not half."""
    if shock.mode in ("cut_pct", "change_pct") and shock.value is not None \
            and 0 < abs(shock.value) < 1:
        verb = "cut" if shock.mode == "cut_pct" else "change"
        return [f"mode {shock.mode}, value {shock.value:g}: a {abs(shock.value):g}% {verb}; "
                f"percentages are in percent ({shock.mode}: {100 * shock.value:g} is "
                f"{100 * abs(shock.value):g}%)"]
    return []


def check_large_scale(shock) -> list[str]:
    """A factor outside [0.01, 10]: ``scale: 50`` multiplies by fifty."""
    lo, hi = SCALE_RANGE
    if shock.mode == "scale" and shock.value is not None and not lo <= abs(shock.value) <= hi \
            and shock.value != 0:
        return [f"mode scale, value {shock.value:g}: multiplies by {shock.value:g} "
                f"(plausible factors are {lo:g} to {hi:g}; cut_pct/change_pct take percentages)"]
    return []


RULES = (check_rate_added, check_rate_set, check_small_percentage, check_large_scale)


def shock_warnings(loaded) -> list[str]:
    """Every implausible shock value of a loaded scenario, as ``file:line: field: message``."""
    out = []
    for j, shock in enumerate(loaded.scenario.shocks):
        if getattr(shock, "mode", None) is None or getattr(shock, "value", None) is None:
            continue
        for rule in RULES:
            for msg in rule(shock):
                out.append(loaded.error(("shocks", j, "value"), f"{shock.type} shock: {msg}"))
    return out
