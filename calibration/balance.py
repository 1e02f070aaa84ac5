r"""Balancing a social accounting matrix, with a report of every adjustment.

A SAM :math:`A` (rows receive, columns pay) is balanced when every account's
row total equals its column total. Two methods are offered; both change only
the *free* entries of :math:`A` (by default every positive entry), so fixed
cells, zeros and negative entries are left exactly as they are and the sign
pattern and the zero structure of the matrix are preserved. Neither runs
unless asked for, and the callers (:func:`calibration.read_workbook`) list
every changed cell.

**RAS** (:func:`ras_balance`) scales the free entries bi-proportionally,
:math:`a_{kl} \leftarrow r_k a_{kl} s_l`, until the totals agree (the RAS
method of Stone; for a SAM the common target of row and column :math:`k` is
re-set to the mean of the two totals at every sweep, as in the usual
"symmetric" variant).

**Cross entropy** (:func:`cross_entropy_balance`) finds the balanced matrix
closest to the data :math:`A^0` in the Kullback-Leibler sense (Robinson,
Cattaneo and El-Said 2001). With :math:`\mathcal F` the free entries and
:math:`d_k` the row total minus the column total of account :math:`k` over
the fixed entries, it solves

.. math::

    \min_{a_{kl} > 0,\ (k,l) \in \mathcal F}\;
        \sum_{(k,l) \in \mathcal F} a_{kl} \ln\frac{a_{kl}}{a^0_{kl}} - a_{kl} + a^0_{kl}
    \quad\text{s.t.}\quad
    \sum_{l:(k,l)\in\mathcal F} a_{kl} - \sum_{l:(l,k)\in\mathcal F} a_{lk} = -d_k
    \quad\text{for every account } k.

The terms :math:`-a_{kl} + a^0_{kl}` make this the divergence of unnormalised
measures, so the account totals (and the grand total) are free to move; it is
non-negative and zero only at :math:`A = A^0`. Robinson, Cattaneo and El-Said
state the measure for column coefficients :math:`a_{kl}/y_l` and their priors;
here it is applied to the flows themselves. The first-order conditions give
the solution form

.. math::

    a_{kl} = a^0_{kl}\, e^{\lambda_k - \lambda_l},

one multiplier :math:`\lambda_k` per account (determined up to a constant in
each group of accounts linked by free entries; one is pinned to zero). The
multipliers minimise the convex dual

.. math::

    \varphi(\lambda) = \sum_{(k,l)\in\mathcal F} a^0_{kl} e^{\lambda_k - \lambda_l}
        + \sum_k \lambda_k d_k,
    \qquad
    \frac{\partial\varphi}{\partial\lambda_k} = \text{row total}_k - \text{column total}_k,

whose Hessian is the graph Laplacian with weights :math:`a_{kl} + a_{lk}`;
Newton's method with a backtracking line search solves it to machine
precision in a few steps. Diagonal entries are never changed (their
multiplier ratio is 1; they add equally to the row and the column). When no
account has free entries in both its row and its column, RAS's form
:math:`r_k a^0_{kl} s_l` is of this form too and the two methods give the
same matrix; otherwise cross entropy's objective is the smaller.

Reference: S. Robinson, A. Cattaneo and M. El-Said (2001), "Updating and
estimating a social accounting matrix using cross entropy methods",
*Economic Systems Research* 13(1), 47-64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cge.errors import InputError


@dataclass
class BalanceResult:
    """The balanced matrix, the number of sweeps (RAS) or Newton steps (cross entropy), the
    largest remaining relative imbalance, the method, and for cross entropy the multipliers
    :math:`\\lambda` (``matrix[k, l] = A[k, l] * exp(lambda[k] - lambda[l])`` on free entries)."""

    matrix: np.ndarray
    iterations: int
    max_imbalance: float
    method: str = "ras"
    multipliers: np.ndarray | None = None


RASResult = BalanceResult  # the name used before cross entropy was added


def imbalances(A: np.ndarray, accounts) -> pd.DataFrame:
    """Row total, column total and difference of every account, largest |difference| first."""
    r, c = A.sum(axis=1), A.sum(axis=0)
    out = pd.DataFrame({"account": list(accounts), "row_total": r, "column_total": c,
                        "difference": r - c})
    gross = np.maximum(np.abs(A).sum(axis=1), np.abs(A).sum(axis=0))
    out["relative"] = out["difference"].abs() / np.maximum(gross, 1e-300)
    return out.reindex(out["difference"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def cross_entropy_distance(A: np.ndarray, A0: np.ndarray) -> float:
    r"""The objective :math:`\sum a_{kl}\ln(a_{kl}/a^0_{kl}) - a_{kl} + a^0_{kl}` of ``A`` from ``A0``.

    Summed over the positive entries of ``A0``; every other entry must be
    unchanged (else the distance is infinite), and a positive entry that became
    non-positive also gives infinity. Computed as
    :math:`a^0 ((1+u)\ln(1+u) - u)` with :math:`u = a/a^0 - 1`, by its series
    for small :math:`|u|`, so that tiny adjustments are measured accurately.
    """
    A, A0 = np.asarray(A, dtype=float), np.asarray(A0, dtype=float)
    pos = A0 > 0
    if not np.array_equal(A[~pos], A0[~pos]) or (A[pos] <= 0).any():
        return float("inf")
    a0 = A0[pos]
    u = (A[pos] - a0) / a0
    # a0 * ((1+u) ln(1+u) - u); its series sum_{n>=2} (-u)^n / (n(n-1)) for small |u|
    # avoids the cancellation that would otherwise swamp tiny adjustments of large entries
    small = np.abs(u) < 1e-2
    series = sum((-u) ** m / (m * (m - 1)) for m in range(2, 10))
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = (1 + u) * np.log1p(u) - u
    return float(np.sum(a0 * np.where(small, series, exact)))


def _prepare(A, free, accounts, who):
    A = np.array(A, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise InputError(f"{who}: the SAM must be square, got shape {A.shape}")
    if not np.isfinite(A).all():
        k = int(np.argwhere(~np.isfinite(A))[0][0])
        names = list(accounts) if accounts is not None else [str(j) for j in range(len(A))]
        raise InputError(f"{who}: the row of account {names[k]!r} has a non-finite entry")
    names = list(accounts) if accounts is not None else [str(j) for j in range(len(A))]
    if len(names) != len(A):
        raise InputError(f"{who}: {len(names)} account names for a {len(A)}x{len(A)} SAM")
    free = (A > 0) if free is None else (np.asarray(free, dtype=bool) & (A > 0))
    return A, names, free


def _relative_gap(A: np.ndarray, floor: float) -> np.ndarray:
    """|row total - column total| / gross flows of every account (``floor`` avoids 0/0)."""
    r, c = A.sum(axis=1), A.sum(axis=0)
    gross = np.maximum(np.abs(A).sum(axis=1), np.abs(A).sum(axis=0))
    return np.abs(r - c) / np.maximum(gross, floor)


def ras_balance(A: np.ndarray, free: np.ndarray | None = None, *, tol: float = 1e-12,
                max_iter: int = 10_000, accounts=None) -> BalanceResult:
    """Balance ``A`` by scaling its free, positive entries (see the module docstring).

    ``free`` is a boolean mask (default: every positive entry); non-positive
    entries are never scaled. Raises :class:`InputError` naming the account if
    it cannot be balanced (no free entry in its row or column, or its fixed
    entries alone exceed the target total).
    """
    A, names, free = _prepare(A, free, accounts, "RAS")
    scale = max(np.abs(A).sum(axis=1).max(), 1e-300)

    def gap():
        return _relative_gap(A, 1e-12 * scale)

    if gap().max() <= tol:
        return BalanceResult(A, 0, float(gap().max()), "ras")
    for it in range(1, max_iter + 1):
        for axis in (1, 0):
            r, c = A.sum(axis=1), A.sum(axis=0)
            target = 0.5 * (r + c)
            part = np.where(free, A, 0.0).sum(axis=axis)
            fixed = (r if axis == 1 else c) - part
            need = target - fixed
            bad = (part > 0) & (need <= 0)
            if bad.any():
                k = int(np.argmax(bad))
                side = "row" if axis == 1 else "column"
                raise InputError(
                    f"RAS: account {names[k]!r} cannot be balanced: the fixed entries of its "
                    f"{side} ({fixed[k]:.10g}) already exceed the target total {target[k]:.10g}")
            factor = np.where(part > 0, need / np.where(part > 0, part, 1.0), 1.0)
            if axis == 1:
                A = np.where(free, A * factor[:, None], A)
            else:
                A = np.where(free, A * factor[None, :], A)
        g = gap().max()
        if g <= tol:
            return BalanceResult(A, it, float(g), "ras")
    worst = int(np.argmax(gap()))
    raise InputError(f"RAS did not converge in {max_iter} sweeps; largest remaining imbalance "
                     f"{gap().max():.3e} (relative) in account {names[worst]!r} (does its row or "
                     "column have an entry that may be scaled?)")


def _components(adjacent: np.ndarray) -> np.ndarray:
    """Connected components of a symmetric boolean adjacency matrix: each node's smallest
    reachable index (min-label propagation, at most one pass per node of the longest path)."""
    label = np.arange(len(adjacent))
    while True:
        new = np.minimum(label, np.where(adjacent, label[None, :], len(label)).min(axis=1,
                                                                                  initial=len(label)))
        new = new[new]                                     # pointer jumping
        if np.array_equal(new, label):
            return label
        label = new


# Multipliers further apart than this scale an entry by more than e^40 (about 2e17): the
# minimum lies on the boundary (an entry vanishing, so no positive balanced matrix exists) or
# so close to it that the adjustment is no balancing of data but a rewrite; both are errors.
_MAX_SPREAD = 40.0


def cross_entropy_balance(A: np.ndarray, free: np.ndarray | None = None, *, tol: float = 1e-12,
                          max_iter: int = 200, accounts=None) -> BalanceResult:
    r"""Balance ``A`` at the least cross entropy from the data (see the module docstring).

    ``free`` is a boolean mask of the entries that may change (default: every
    positive entry); non-positive entries are never changed. Each free
    off-diagonal entry becomes :math:`a^0_{kl} e^{\lambda_k - \lambda_l}`, with
    the multipliers :math:`\lambda` found by Newton's method on the dual until
    every account's relative imbalance (|row - column total| over its gross
    flows) is at most ``tol``. ``max_iter`` bounds the Newton steps.

    Raises :class:`InputError` naming the account (or group of accounts) that
    cannot be balanced: no free entry in its row or column while it does not
    balance, fixed entries that leave no room for positive free entries (or
    so little that a free entry would be scaled by more than :math:`e^{40}`
    or less than :math:`e^{-40}`), or a group of accounts linked only by fixed
    entries to the rest whose net imbalance is not zero; and, if Newton's
    method does not converge, naming the account with the largest remaining
    imbalance.
    """
    A0, names, free = _prepare(A, free, accounts, "cross entropy")
    n = len(A0)
    scale = max(np.abs(A0).sum(axis=1).max(), 1e-300)
    floor = 1e-12 * scale
    gap0 = _relative_gap(A0, floor)
    if gap0.max() <= tol:
        return BalanceResult(A0, 0, float(gap0.max()), "cross_entropy", np.zeros(n))

    off = free & ~np.eye(n, dtype=bool)
    W = np.where(off, A0, 0.0)              # the entries that move
    F = A0 - W                              # the entries that stay
    d = F.sum(axis=1) - F.sum(axis=0)       # fixed row total - fixed column total
    gross = np.maximum(np.abs(A0).sum(axis=1), np.abs(A0).sum(axis=0))
    rel = np.abs(d) / np.maximum(gross, floor)
    in_row, in_col = W.sum(axis=1) > 0, W.sum(axis=0) > 0

    def fixed_totals(k):
        return f"fixed row total {F[k].sum():.10g}, fixed column total {F[:, k].sum():.10g}"

    # accounts that no free entry can reach, or only from the wrong side
    for bad, why in (
            (~in_row & ~in_col & (rel > tol), "it has no free entry in its row or column and its "
                                              "{totals} differ by {d:.6g}"),
            (in_col & ~in_row & (d <= 0), "its row has no free entry and its {totals} leave "
                                          "nothing for the free entries of its column"),
            (in_row & ~in_col & (d >= 0), "its column has no free entry and its {totals} leave "
                                          "nothing for the free entries of its row")):
        if bad.any():
            k = int(np.argmax(bad))
            raise InputError(f"cross entropy: account {names[k]!r} cannot be balanced: "
                             + why.format(totals=fixed_totals(k), d=d[k]))

    # groups of accounts linked by free entries: the net fixed imbalance of a group cannot move
    label = _components((W + W.T) > 0)
    pinned = np.zeros(n, dtype=bool)
    for c in np.unique(label):
        members = np.flatnonzero(label == c)
        pinned[members[np.argmax(gross[members])]] = True   # its leftover is the smallest
        if len(members) > 1 and abs(d[members].sum()) > tol * gross[members].max():
            listed = ", ".join(repr(names[k]) for k in members)
            raise InputError(
                f"cross entropy: accounts {listed} cannot be balanced: no free entry links them "
                f"to the other accounts, and their fixed entries leave them a net imbalance of "
                f"{d[members].sum():.6g} (row minus column totals)")
    act = ~pinned

    def dual(lam):
        with np.errstate(over="ignore", invalid="ignore"):
            E = W * np.exp(lam[:, None] - lam[None, :])
            val = E.sum() + lam @ d
        return (val if np.isfinite(val) else np.inf), E

    lam = np.zeros(n)
    val, E = dual(lam)
    for it in range(1, max_iter + 1):
        g = E.sum(axis=1) - E.sum(axis=0) + d            # row total - column total
        S = E + E.T
        H = np.diag(S.sum(axis=1)) - S
        Ha, ga = H[np.ix_(act, act)], g[act]
        try:
            step_a = np.linalg.solve(Ha, -ga)
        except np.linalg.LinAlgError:
            step_a = np.linalg.lstsq(Ha, -ga, rcond=None)[0]
        step = np.zeros(n)
        step[act] = step_a
        slope = float(g @ step)
        t = 1.0
        for _ in range(60):
            new_val, new_E = dual(lam + t * step)
            if new_val <= val + 1e-4 * t * slope + 1e-14 * abs(val):
                break
            t *= 0.5
        lam = lam + t * step
        val, E = new_val, new_E
        B = F + E
        gap = _relative_gap(B, floor)
        if gap.max() <= tol:
            B = np.where(off, B, A0)                       # fixed entries bit for bit
            return BalanceResult(B, it, float(gap.max()), "cross_entropy", lam)
        spread = np.abs(lam[:, None] - lam[None, :])[off]
        if spread.size and spread.max() > _MAX_SPREAD:
            # diverging multipliers: the accounts on the smaller side of the widest gap
            # in the sorted multipliers would need entries that vanish or explode
            order = np.argsort(lam)
            cut = int(np.argmax(np.diff(lam[order]))) + 1
            side = order[:cut] if cut <= n - cut else order[cut:]
            side = [k for k in side if in_row[k] or in_col[k]] or list(side)
            listed = ", ".join(repr(names[k]) for k in side)
            i, j = np.argwhere(off)[int(np.argmax(spread))]
            raise InputError(
                f"cross entropy: account{'s' if len(side) > 1 else ''} {listed} cannot be "
                f"balanced: the fixed entries leave (next to) no room, so the free entries "
                f"linking {'them' if len(side) > 1 else 'it'} to the other accounts would have to "
                f"vanish or explode (the entry {names[i]!r} <- {names[j]!r} is already scaled by "
                f"e^{lam[i] - lam[j]:.1f}, beyond the limit e^+-{_MAX_SPREAD:g}); largest "
                f"remaining imbalance {gap.max():.3e} (relative) in account "
                f"{names[int(np.argmax(gap))]!r}")
    gap = _relative_gap(F + E, floor)
    worst = int(np.argmax(gap))
    raise InputError(f"cross entropy did not converge in {max_iter} Newton steps; largest remaining "
                     f"imbalance {gap.max():.3e} (relative) in account {names[worst]!r} (does its "
                     "row or column have an entry that may change?)")


BALANCE_METHODS = {"ras": ras_balance, "cross_entropy": cross_entropy_balance}
"""The balancing methods by the name :func:`calibration.read_workbook` accepts."""


__all__ = ["BALANCE_METHODS", "BalanceResult", "RASResult", "cross_entropy_balance",
           "cross_entropy_distance", "imbalances", "ras_balance"]
