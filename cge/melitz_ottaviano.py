r"""Melitz and Ottaviano (2008) as written in Melitz and Redding (2014), section 8 (seed 002).

A stand-alone multi-country model solved in closed form (two linear systems).
The same model runs inside :class:`cge.Equilibrium` as ``market_structure:
linear`` with an ``outside`` numeraire good (:mod:`cge.blocks.linear`,
:mod:`cge.quasi_linear`), with factor markets, tariffs and calibration;
``tests/test_linear.py`` checks the two against each other.

Preferences of each of the :math:`L_n` consumers (workers) of country n:

.. math:: U_n = q_0 + \alpha\int q_\omega d\omega - \tfrac12\gamma\int q_\omega^2 d\omega
          - \tfrac12\eta\Big(\int q_\omega d\omega\Big)^2 ,

with the homogeneous good :math:`q_0` the numeraire, produced one for one from
labour and freely traded, so the wage is 1 wherever it is produced. Firms pay
:math:`f_{E,i}` units of labour to draw a cost :math:`c` from
:math:`G_i(c) = (c/c_{M,i})^k` on :math:`[0, c_{M,i}]`; iceberg costs
:math:`\tau_{ni}`, segmented markets. With the choke price :math:`c_{Dn}` of
market n (MR eq. 27) a firm with delivered cost :math:`\tau_{ni}c` sells iff
:math:`\tau_{ni}c < c_{Dn}`, at :math:`p = (c_{Dn}+\tau_{ni}c)/2` with mark-up
:math:`p - \tau_{ni}c = (c_{Dn}-\tau_{ni}c)/2` and quantity per consumer
:math:`(c_{Dn}-\tau_{ni}c)/(2\gamma)`.

Equilibrium (Pareto draws):

``free entry`` (origin i)
    .. math:: \sum_n L_n \tau_{ni}^{-k} c_{Dn}^{k+2} = \gamma\phi_i, \quad
              \phi_i = 2(k+1)(k+2)c_{M,i}^k f_{E,i}
    a linear system in :math:`c_{Dn}^{k+2}`.
``sellers`` (destination n, the choke-price condition with the average price
:math:`\bar p_n = \frac{2k+1}{2k+2}c_{Dn}`)
    .. math:: N_n = \frac{2(k+1)\gamma(\alpha - c_{Dn})}{\eta\, c_{Dn}}
``entrants`` (origin i)
    .. math:: N_n = \sum_i N_{Ei}\left(\frac{c_{Dn}}{\tau_{ni}c_{M,i}}\right)^k
    a linear system in :math:`N_{Ei}`.
``welfare`` (per consumer, MR section 8)
    .. math:: U_n = 1 + \tfrac12\Big(\eta + \frac{\gamma}{N_n}\Big)^{-1}(\alpha - \bar p_n)^2
              + \tfrac12\frac{N_n}{\gamma}\sigma^2_{p,n}

The numeraire-good assumptions are checked and a failure names the country:
every country must have entrants (:math:`N_{Ei} > 0`), must produce the
homogeneous good (labour in the differentiated sector,
:math:`(k+1)f_{E,i}N_{Ei}`, below :math:`L_i`) and consume it (spending per
consumer on differentiated goods, :math:`N_n c_{Dn}^2/(2\gamma(k+2))`, below
the wage 1), and :math:`c_{Dn} < \min(\alpha, c_{M,i})` (some but not all
firms sell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["MOError", "MOResult", "solve_melitz_ottaviano"]


class MOError(InputError):
    """Parameters for which the Melitz-Ottaviano equilibrium with a numeraire good does not exist
    as written (each problem names the country)."""


@dataclass
class MOResult:
    """Cutoffs, sellers, entrants, prices, mark-ups and welfare per country (``table``) and the
    export cutoffs ``export_cutoff[n, i]`` = :math:`c_{Dn}/\\tau_{ni}`."""

    table: pd.DataFrame
    export_cutoff: pd.DataFrame


def _check_inputs(regions, L, tau, alpha, gamma, eta, k, c_max, f_e):
    problems = []
    for name, v in (("alpha", alpha), ("gamma", gamma), ("eta", eta), ("k", k)):
        if not v > 0:
            problems.append(f"{name} = {v:g}: must be positive")
    for name, arr in (("population", L), ("c_max", c_max), ("f_e", f_e)):
        for r, v in zip(regions, arr):
            if not (np.isfinite(v) and v > 0):
                problems.append(f"{name}[region={r}] = {v:g}: must be positive and finite")
    for n, i in zip(*np.nonzero(~(tau >= 1))):
        problems.append(f"tau[destination={regions[n]}, origin={regions[i]}] = {tau[n, i]:g}: "
                        "must be >= 1")
    if problems:
        raise MOError(problems)


def solve_melitz_ottaviano(regions, population, tau, *, alpha, gamma, eta, k, c_max=1.0,
                           f_e=1.0) -> MOResult:
    """The equilibrium of the module docstring. ``tau[n, i]``: destination n, origin i.

    ``population``, ``c_max``, ``f_e``: per country (or one number). Raises
    :class:`MOError` naming the countries where an assumption fails.
    """
    R = list(regions)
    m = len(R)
    L = np.broadcast_to(np.asarray(population, float), (m,)).copy()
    c_max = np.broadcast_to(np.asarray(c_max, float), (m,)).copy()
    f_e = np.broadcast_to(np.asarray(f_e, float), (m,)).copy()
    tau = np.asarray(tau, float).reshape(m, m)
    _check_inputs(R, L, tau, alpha, gamma, eta, k, c_max, f_e)
    phi = 2 * (k + 1) * (k + 2) * c_max ** k * f_e
    A = (L[:, None] * tau ** (-k)).T  # A[i, n] = L_n tau_ni^-k
    try:
        x = np.linalg.solve(A, gamma * phi)  # c_Dn^(k+2)
    except np.linalg.LinAlgError:
        raise MOError("the free-entry system is singular: with costless trade (tau = 1) between "
                      "countries firm location is indeterminate; use trade costs above 1") from None
    problems = [f"region={R[n]}: free entry in every country needs c_D^(k+2) = {x[n]:.6g} > 0; "
                "some country cannot have entrants at these trade costs (a corner the model "
                "as written in MR section 8 does not cover)" for n in range(m) if not x[n] > 0]
    if problems:
        raise MOError(problems)
    c_d = x ** (1 / (k + 2))
    problems = [f"region={R[n]}: the cost cutoff {c_d[n]:.6g} is not below the demand "
                f"intercept alpha = {alpha:g}, so no variety is bought; raise alpha or the "
                "population" for n in range(m) if not c_d[n] < alpha]
    sellers = 2 * (k + 1) * gamma * (alpha - c_d) / (eta * c_d)
    B = (c_d[:, None] / (tau * c_max[None, :])) ** k  # share of i's entrants selling in n
    for n, i in zip(*np.nonzero(B > 1)):
        problems.append(f"region={R[i]} selling in {R[n]}: cutoff c_D/tau = "
                        f"{c_d[n] / tau[n, i]:.6g} exceeds c_max = {c_max[i]:g}, so every "
                        "entrant sells and the Pareto formulas do not hold; raise c_max")
    if problems:
        raise MOError(problems)
    try:
        entrants = np.linalg.solve(B, sellers)
    except np.linalg.LinAlgError:
        raise MOError("the entry system is singular: with costless trade (tau = 1) between "
                      "countries firm location is indeterminate; use trade costs above 1") from None
    labour = (k + 1) * f_e * entrants
    spending = sellers * c_d ** 2 / (2 * gamma * (k + 2))
    for i in range(m):
        if not entrants[i] > 0:
            problems.append(f"region={R[i]}: the differentiated sector has no entrants "
                            f"(N_E = {entrants[i]:.6g}); the model as written needs entry "
                            "everywhere")
        elif not labour[i] < L[i]:
            problems.append(f"region={R[i]}: the outside (numeraire) good is not produced: "
                            f"the differentiated sector needs {labour[i]:.6g} workers of "
                            f"{L[i]:g}, so the wage is not pinned at 1; raise the population "
                            "or the entry cost")
        if not spending[i] < 1:
            problems.append(f"region={R[i]}: consumers spend {spending[i]:.6g} per head on "
                            "differentiated goods, more than the wage 1, so the numeraire "
                            "good is not consumed and demand is not income-independent")
    if problems:
        raise MOError(problems)
    mean_price = (2 * k + 1) / (2 * k + 2) * c_d
    var_cost = c_d ** 2 * (k / (k + 2) - (k / (k + 1)) ** 2)
    var_price = var_cost / 4
    welfare = 1 + 0.5 * (alpha - mean_price) ** 2 / (eta + gamma / sellers) \
        + 0.5 * sellers / gamma * var_price
    table = pd.DataFrame({
        "population": L, "cost_cutoff": c_d, "sellers": sellers, "entrants": entrants,
        "mean_price": mean_price,
        "mean_markup": c_d / (2 * (k + 1)),  # E[(c_D - c)/2] with E[c] = k c_D/(k+1)
        "labour_differentiated": labour, "spending_differentiated_per_capita": spending,
        "welfare_per_capita": welfare, "welfare": welfare * L,
    }, index=pd.Index(R, name="region"))
    export = pd.DataFrame(c_d[:, None] / tau, index=pd.Index(R, name="destination"),
                          columns=pd.Index(R, name="origin"))
    return MOResult(table=table, export_cutoff=export)
