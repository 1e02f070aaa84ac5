r"""RAS balancing of a social accounting matrix, with a report of every adjustment.

A SAM :math:`A` (rows receive, columns pay) is balanced when every account's
row total equals its column total. :func:`ras_balance` scales the *free*
entries of :math:`A` bi-proportionally, :math:`a_{kl} \leftarrow r_k a_{kl} s_l`,
until that holds (the RAS method of Stone; for a SAM the common target of
row and column :math:`k` is re-set to the mean of the two totals at every
sweep, as in the usual "symmetric" variant). Entries that are not free (fixed
cells, zeros and negative entries) are left unchanged, so the sign pattern and
the zero structure of the matrix are preserved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cge.errors import InputError


@dataclass
class RASResult:
    """The balanced matrix, the number of sweeps and the largest remaining relative imbalance."""

    matrix: np.ndarray
    iterations: int
    max_imbalance: float


def imbalances(A: np.ndarray, accounts) -> pd.DataFrame:
    """Row total, column total and difference of every account, largest |difference| first."""
    r, c = A.sum(axis=1), A.sum(axis=0)
    out = pd.DataFrame({"account": list(accounts), "row_total": r, "column_total": c,
                        "difference": r - c})
    gross = np.maximum(np.abs(A).sum(axis=1), np.abs(A).sum(axis=0))
    out["relative"] = out["difference"].abs() / np.maximum(gross, 1e-300)
    return out.reindex(out["difference"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def ras_balance(A: np.ndarray, free: np.ndarray | None = None, *, tol: float = 1e-12,
                max_iter: int = 10_000, accounts=None) -> RASResult:
    """Balance ``A`` by scaling its free, positive entries (see the module docstring).

    ``free`` is a boolean mask (default: every positive entry); non-positive
    entries are never scaled. Raises :class:`InputError` naming the account if
    it cannot be balanced (no free entry in its row or column, or its fixed
    entries alone exceed the target total).
    """
    A = np.array(A, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise InputError(f"RAS: the SAM must be square, got shape {A.shape}")
    names = list(accounts) if accounts is not None else [str(j) for j in range(len(A))]
    free = (A > 0) if free is None else (np.asarray(free, dtype=bool) & (A > 0))
    scale = max(np.abs(A).sum(axis=1).max(), 1e-300)

    def gap():
        r, c = A.sum(axis=1), A.sum(axis=0)
        gross = np.maximum(np.abs(A).sum(axis=1), np.abs(A).sum(axis=0))
        return np.abs(r - c) / np.maximum(gross, 1e-12 * scale)

    if gap().max() <= tol:
        return RASResult(A, 0, float(gap().max()))
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
            return RASResult(A, it, float(g))
    worst = int(np.argmax(gap()))
    raise InputError(f"RAS did not converge in {max_iter} sweeps; largest remaining imbalance "
                     f"{gap().max():.3e} (relative) in account {names[worst]!r} (does its row or "
                     "column have an entry that may be scaled?)")


__all__ = ["ras_balance", "imbalances", "RASResult"]
