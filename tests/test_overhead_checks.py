"""A shock's checks of its new values (issue 14's overhead work): only the checks that read
a changed array run again (:data:`cge.checks.CHECK_READS`), and they find every problem the
full set of checks finds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import calibration as cal
from cge import Equilibrium, examples
from cge.checks import CHECK_READS, CHECKS, Checked, check_primitives
from cge.errors import InputError
from cge.primitives import Primitives

ROOT = Path(__file__).resolve().parents[1]


class _Recording(dict):
    """The arrays of a primitives, recording the names read."""

    def __init__(self, arrays):
        super().__init__(arrays)
        self.read: set[str] = set()

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __contains__(self, name):
        self.read.add(name)
        return super().__contains__(name)

    def items(self):
        self.read.update(self.keys())
        return super().items()

    def values(self):
        self.read.update(self.keys())
        return super().values()

    def __iter__(self):
        self.read.update(self.keys())
        return super().__iter__()


@pytest.fixture(scope="module")
def economies() -> list[Primitives]:
    """Primitives under the default closure (deficits, three market structures, IO links)
    and under non-default closures (agents, real government and investment), so that every
    check reads what it can read."""
    closed, _ = cal.calibrate(cal.read_workbook(ROOT / "sam_data" / "template_multiregion.xlsx"),
                              closure={"government": "fixed_real",
                                       "investment": "investment_driven"})
    return [examples.three_by_three(),
            examples.random_economy(3, 2, seed=1, io=True, market_structure="melitz"),
            closed]


def test_every_check_reads_only_what_it_declares(economies):
    """Each check of CHECK_READS run on primitives that record their arrays' reads: a read
    of an array not declared fails (the check would then be skipped when that array
    changes)."""
    assert set(CHECK_READS) <= set(CHECKS)
    for prim in economies:
        for check, declared in CHECK_READS.items():
            arrays = _Recording(prim.arrays)
            seen = Primitives(prim.regions, prim.sectors, prim.factors,
                              dict(prim.market_structure), dict(prim.entry), prim.numeraire,
                              arrays, prim.name, prim.closure)
            assert check(seen) == check(prim)
            assert arrays.read <= set(declared), (check.__name__, arrays.read - set(declared))
    closed = economies[-1]
    assert not closed.closure.is_default  # the closure checks read the agent arrays
    arrays = _Recording(closed.arrays)
    from cge.checks import check_closure

    check_closure(Primitives(closed.regions, closed.sectors, closed.factors,
                             dict(closed.market_structure), dict(closed.entry), closed.numeraire,
                             arrays, closed.name, closed.closure))
    assert {"agent_share", "real_government", "real_investment"} <= arrays.read


def _bad_values(prim: Primitives):
    """One bad value of every parameter, each breaking a different rule."""
    R = len(prim.regions)
    foreign = ~np.eye(R, dtype=bool)
    for name, arr in prim.arrays.items():
        if not np.isfinite(arr).any():
            continue
        for label, value in (("negative", -1.0), ("nan", np.nan), ("large", 1e9)):
            bad = arr.copy()
            cell = tuple(np.argwhere(np.isfinite(arr))[0])
            bad[cell] = value
            yield f"{name}:{label}", {name: bad}
    tariff = prim["tariff"].copy()
    tariff[0, 0, 0] = 0.1  # a tariff on domestic sales
    yield "tariff:domestic", {"tariff": tariff}
    tau = prim["tau"].copy()
    tau[0, :, 0] = np.inf  # every route into a market closed
    yield "tau:closed_market", {"tau": tau}
    beta = prim["beta"].copy()
    beta[0] *= 1.01  # shares no longer summing to one
    yield "beta:sum", {"beta": beta}
    deficit = prim["deficit"].copy()
    deficit[0] += 1.0  # deficits no longer summing to zero
    yield "deficit:sum", {"deficit": deficit}
    shares = prim["factor_share"].copy()
    shares[0, 0] *= 0.5  # cost shares no longer summing to one
    yield "factor_share:sum", {"factor_share": shares}
    assert foreign.any()


def test_checks_of_changed_values_find_what_every_check_finds(economies):
    """For bad values of every parameter, checking only what changed since primitives that
    passed gives exactly the problems of running every check (or none, for both)."""
    for prim in economies:
        since = check_primitives(prim)
        assert isinstance(since, Checked)
        caught = 0
        for label, arrays in _bad_values(prim):
            changed = prim.copy(**arrays)
            try:
                check_primitives(changed)
                full = []
            except InputError as exc:
                full = exc.problems
            try:
                check_primitives(changed, since=since)
                fewer = []
            except InputError as exc:
                fewer = exc.problems
            assert fewer == full, label
            caught += bool(full)
        assert caught > 20


def test_a_shock_with_a_bad_value_is_refused(economies):
    """A solve's new values are checked: bad values are refused with the full message, also
    when the same primitives object was solved before and changed in place since."""
    prim = examples.three_by_three()
    eq = Equilibrium(prim)
    eq.solve()
    tariff = prim["tariff"].copy()
    tariff[1, 0, 1] = -2.0
    with pytest.raises(InputError, match=r"tariff\[destination=.*must be > -1"):
        eq.solve(tariff=tariff)
    beta = prim["beta"].copy()
    beta[0] *= 1.05
    with pytest.raises(InputError, match=r"beta\[region=.*sums to"):
        eq.solve(beta=beta)
    tariff[0, 0, 0] = 0.3
    tariff[1, 0, 1] = 0.05
    with pytest.raises(InputError, match="cannot levy an import tariff on its own sales"):
        eq.solve(tariff=tariff)
    # the same object, solved, then changed in place: checked again
    target = prim.copy(tariff=prim["tariff"] * 0.9)
    eq.solve(target)
    target.arrays["deficit"][0] += 1.0
    with pytest.raises(InputError, match="deficit sums to"):
        eq.solve(target)
    target.arrays["deficit"][0] -= 1.0
    assert eq.solve(target).regions["income"].gt(0).all()
