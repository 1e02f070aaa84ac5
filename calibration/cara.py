r"""Calibration of a ``cara`` sector (Behrens, Mion, Murata and Suedekum) to benchmark flows.

Conventions as in :mod:`calibration.calibrate`: every price index is 1 at the
benchmark, so the choke price is the constant :math:`p^d_n = \kappa_4/\kappa_1`
(:mod:`cge.blocks.cara`), :math:`c_i` is the benchmark unit cost of the
composite input, :math:`X_{ni}` the c.i.f. trade value net of the tariff,
:math:`L_n` the population and :math:`\alpha` the CARA parameter. Given
:math:`k`, :math:`\delta`, :math:`\alpha`, :math:`L_n` and the data:

1. Bilateral trade, :math:`(1+t_{ni})X_{ni} = L_n p^d_n \kappa_1 M_{ni}/\alpha`,
   gives the mass of sellers :math:`M_{ni}` on every route, and with the
   entrants the selection share
   :math:`s_{ni} = (\varphi_{\min,i}/\varphi^*_{ni})^k = \delta M_{ni}/M_{Ei}`.
2. Only :math:`M_{Ei}\varphi_{\min,i}^k` and :math:`f_{E,i}/\varphi_{\min,i}^k`
   are identified by values. The entrants :math:`M_{Ei}` are set so that on
   the route where i's firms sell most often the selection share is
   ``max_selection`` (default :data:`DEFAULT_MAX_SELECTION`): every route is
   then interior (:math:`s_{ni} \le` ``max_selection`` :math:`< 1`), and
   counterfactual percentage changes do not depend on this choice as long as
   no cutoff reaches :math:`\varphi_{\min}`.
3. The cutoff condition :math:`(1+t_{ni})\tau_{ni}c_i/\varphi^*_{ni} = p^d_n`
   with :math:`\tau_{ii} = 1` gives the cutoff at home,
   :math:`\varphi^*_{ii} = (1+t_{ii})c_i/p^d_i`, hence the Pareto lower bound
   :math:`\varphi_{\min,i} = \varphi^*_{ii}\, s_{ii}^{1/k}`; abroad
   :math:`\varphi^*_{ni} = \varphi_{\min,i} s_{ni}^{-1/k}` and
   :math:`\tau_{ni} = p^d_n\varphi^*_{ni}/((1+t_{ni})c_i)`. An iceberg cost
   below 1 (per-capita sales abroad above per-capita sales at home, tariffs
   aside) is a :class:`~calibration.calibrate.CalibrationError` naming the route.
4. Free entry gives the entry cost
   :math:`f_{E,i} = \frac{\kappa_3}{\kappa_1}\frac{R_i}{c_i M_{Ei}}`
   (operating profits are the share :math:`\kappa_3/\kappa_1 = 1/(k+1)` of sales).

The budget of every destination and the input market
(:math:`c_iY_i = (\kappa_2/\kappa_1)R_i + c_i f_{E,i} M_{Ei} = R_i`) then
hold identically, so the calibrated point is the model's solution.

Every route must have sales at the benchmark: under CARA any finite trade
cost gives positive sales (the most productive firms always sell), so a zero
flow on a route of a ``cara`` sector is an error naming the route.
"""

from __future__ import annotations

import numpy as np

from cge.blocks.cara import cara_constants

__all__ = ["DEFAULT_MAX_SELECTION", "calibrate_cara_sector"]

#: Share of drawn firms that sell on the origin's most frequented route (normally home).
DEFAULT_MAX_SELECTION = 0.5


def calibrate_cara_sector(sector, regions, trade, tariff, unit_cost, population, *, k, delta,
                          alpha, max_selection=DEFAULT_MAX_SELECTION, zero_flows="error",
                          tau_normalisation="home", tau_floor=None):
    r"""Parameters of one ``cara`` sector (see the module docstring).

    ``trade``, ``tariff``: (destination, origin) arrays; ``unit_cost``,
    ``population``: per region. Returns ``(values, problems)`` with ``values``
    holding ``tau``, ``phi_min``, ``f_e``, ``entrants`` (:math:`M_{Ei}`) and
    ``cutoff`` arrays, and ``problems`` a list of messages naming routes.
    ``zero_flows``: ``"error"`` (default) names every foreign route without
    sales; ``"inactive"`` makes them inactive routes instead (:math:`\tau = \infty`:
    no firm can ever sell there, a stronger assumption than zero sales at the
    benchmark, which the caller should report). Domestic sales must be positive.
    ``tau_normalisation``: ``"home"`` (default) sets :math:`\tau_{ii} = 1` and names
    every route where the data imply :math:`\tau_{ni} < 1`; ``"lowest"`` rescales
    each origin's productivity units (:math:`\tau_{ni} \to b_i\tau_{ni}`,
    :math:`\varphi_{\min,i} \to b_i\varphi_{\min,i}`, :math:`\varphi^*_{ni} \to
    b_i\varphi^*_{ni}`, neutral for every outcome) so that each origin's lowest
    iceberg cost is 1; :math:`\tau_{ii}` may then exceed 1. ``tau_floor``
    (destination, origin; e.g. the trade cost of a gravity index): after the
    normalisation, each origin's units are rescaled so that :math:`\tau_{ni} \ge`
    ``tau_floor[n, i]`` on every route, which leaves room for a trade-cost shock of
    that size.
    """
    R = list(regions)
    X, t = np.asarray(trade, float), np.asarray(tariff, float)
    c, L = np.asarray(unit_cost, float), np.asarray(population, float)
    problems = []
    if zero_flows not in ("error", "inactive"):
        problems.append(f"zero_flows = {zero_flows!r}: must be 'error' or 'inactive'")
    active = X > 0
    zeros = ~active if zero_flows == "error" else ~active & np.eye(len(R), dtype=bool)
    for n, i in zip(*np.nonzero(zeros)):
        problems.append(
            f"route destination={R[n]}, origin={R[i]}, sector={sector} (cara): no sales at the "
            "benchmark; under CARA every route with a finite trade cost has sales (the most "
            "productive firms always sell), so the data cannot be rationalised. Drop the "
            "route's zero by aggregating regions, or model the sector as melitz")
    if not 0 < max_selection < 1:
        problems.append(f"max_selection[sector={sector}] = {max_selection}: must lie in (0, 1)")
    if problems:
        return None, problems
    kap = cara_constants(k)
    choke = kap["utility"] / kap["spending"]
    # (1+t) X = L p^d kappa_1 M_ni / alpha
    sellers = alpha * (1 + t) * X / (L[:, None] * choke * kap["spending"])  # 0 if inactive
    entrants, share, phi_min, cutoff, tau = selection_at_choke(
        sellers, t, c, choke, active, k=k, delta=delta, max_selection=max_selection)
    if tau_normalisation == "lowest":
        b = 1.0 / np.where(active, tau, np.inf).min(axis=0)
        tau, phi_min, cutoff = tau * b[None, :], phi_min * b, cutoff * b[None, :]
    elif tau_normalisation != "home":
        problems.append(f"tau_normalisation = {tau_normalisation!r}: must be 'home' or 'lowest'")
    if tau_floor is not None:
        floor = np.where(active, np.maximum(np.asarray(tau_floor, float), 1.0), 1.0)
        with np.errstate(invalid="ignore"):
            b = np.where(active, floor / tau, 0.0).max(axis=0)
        b = np.maximum(b, 1.0 / np.where(active, tau, np.inf).min(axis=0))
        tau, phi_min, cutoff = tau * b[None, :], phi_min * b, cutoff * b[None, :]
    for n, i in zip(*np.nonzero(active & (tau < 1 - 1e-12))):
        problems.append(
            f"route destination={R[n]}, origin={R[i]}, sector={sector} (cara): the data imply an "
            f"iceberg cost tau = {tau[n, i]:.6g} < 1 relative to domestic sales of {R[i]} "
            f"(per-capita purchases {(1 + t[n, i]) * X[n, i] / L[n]:.6g} of {R[n]} from {R[i]} "
            f"exceed {R[i]}'s per-capita purchases at home "
            f"{(1 + t[i, i]) * X[i, i] / L[i]:.6g}); check the population of both regions")
    tau = np.where(active, np.maximum(tau, 1.0), np.inf)
    sales = X.sum(axis=0)
    f_e = kap["profit"] / kap["spending"] * sales / (c * entrants)
    return {"tau": tau, "phi_min": phi_min, "f_e": f_e, "entrants": entrants,
            "cutoff": cutoff}, problems


def selection_at_choke(sellers, t, c, choke, active, *, k: float, delta: float,
                       max_selection: float):
    """Entrants, selection shares, Pareto bounds, cutoffs and iceberg costs implied by the
    sellers on each route, for a sector whose firms are selected at a choke price (cara
    and linear sectors).

    ``sellers[n, i]`` is the mass of i's firms selling in n, ``t`` the tariffs, ``c[i]``
    the unit input cost, ``choke`` the choke price (a number, or one per destination n),
    ``active`` the routes with sales. Entrants are set so that the most frequented route
    of each origin has the selection share ``max_selection``; with Pareto draws
    :math:`\delta M_{ni} = M^e_i (\varphi_{\min,i} / \varphi^*_{ni})^k`, the home route
    fixes :math:`\varphi_{\min,i}` (its cutoff is the cost at the choke price,
    :math:`\varphi^*_{ii} = (1+t_{ii}) c_i / p^d_i`) and each foreign route's cutoff then
    gives :math:`\tau_{ni} = p^d_n \varphi^*_{ni} / ((1+t_{ni}) c_i)`. Inactive routes get
    no cutoff (NaN) and an infinite iceberg cost; :math:`\tau_{ii} = 1`.
    """
    choke_n = np.reshape(choke, (-1, 1)) if np.ndim(choke) else choke
    entrants = delta * sellers.max(axis=0) / max_selection
    share = delta * sellers / entrants[None, :]
    cut_home = (1 + np.diagonal(t)) * c / choke
    phi_min = cut_home * np.diagonal(share) ** (1 / k)
    with np.errstate(divide="ignore"):
        cutoff = np.where(active, phi_min[None, :] * share ** (-1 / k), np.nan)
        tau = np.where(active, choke_n * cutoff / ((1 + t) * c[None, :]), np.inf)
    np.fill_diagonal(tau, 1.0)
    return entrants, share, phi_min, cutoff, tau
