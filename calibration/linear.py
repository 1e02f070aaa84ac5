r"""Calibration of an economy with ``linear`` sectors (Melitz-Ottaviano) and its ``outside`` good.

Conventions as in :mod:`calibration.calibrate`: factor prices are 1 at the
benchmark, :math:`c_i` is the benchmark unit cost of the composite input,
:math:`X_{ni}` the c.i.f. trade value net of the tariff, :math:`L_n` the
population. The outside good's price is its unit cost :math:`P_0 = c_{i0}`,
which must be the same in every region (a freely traded homogeneous good).

Outside good. :math:`\tau = 1` on every route with trade (a route without
trade is inactive), the bilateral weights :math:`a_{ni} = X_{ni}/X_n` (the
benchmark's split; :mod:`cge.blocks.outside`), supply weights 1. Every region
must produce it (its output is what pins its factor prices) and consume it.

Linear sector, given :math:`k`, :math:`\delta`, the normalisations
:math:`\alpha` (quantity units of varieties, default 1) and :math:`\gamma`
(units of the mass of varieties, default 1), the behavioural input
``choke_share`` :math:`\bar\pi` and the data:

1. Spending per consumer :math:`e_n = \sum_i (1+t_{ni})X_{ni}/L_n`. The budget
   and the choke-price condition give, with :math:`\pi_n = p^d_n/(\alpha P_0)`
   (the choke price as a share of the demand intercept),
   :math:`\pi_n(1-\pi_n) = b\, e_n` with :math:`b = \eta(k+2)/((k+1)\alpha^2 P_0)`.
   :math:`\bar\pi` is :math:`\pi_n` in the destination with the highest
   :math:`e_n`; it sets :math:`b` and hence :math:`\eta`, and every other
   :math:`\pi_n` is the root below 1/2. :math:`\bar\pi` is not identified by
   value flows: it sets how strongly the sector's spending responds to its
   choke price, :math:`d\ln e_n/d\ln p^d_n = (1-2\pi_n)/(1-\pi_n)` (the role
   :math:`\sigma` plays in a CES sector). Default :data:`DEFAULT_CHOKE_SHARE`.
2. Bilateral trade gives the sellers
   :math:`M_{ni} = 2\gamma(k+2)P_0(1+t_{ni})X_{ni}/(L_n (p^d_n)^2)`;
   entrants :math:`M_{Ei}` are set so that the selection share
   :math:`s_{ni} = \delta M_{ni}/M_{Ei}` is ``max_selection`` on each origin's
   most frequented route (only :math:`M_{Ei}\varphi_{\min,i}^k` is identified).
3. Cutoffs: at home (:math:`\tau_{ii} = 1`)
   :math:`\varphi^*_{ii} = (1+t_{ii})c_i/p^d_i`, so
   :math:`\varphi_{\min,i} = \varphi^*_{ii}s_{ii}^{1/k}`; abroad
   :math:`\varphi^*_{ni} = \varphi_{\min,i}s_{ni}^{-1/k}` and
   :math:`\tau_{ni} = p^d_n\varphi^*_{ni}/((1+t_{ni})c_i)`. Where the data imply
   an iceberg cost below 1 (per-capita purchases abroad above those at home),
   the origin's productivity units are rescaled
   (:math:`\tau_{\cdot i}, \varphi_{\min,i}, \varphi^*_{\cdot i}` times
   :math:`b_i`, neutral for every outcome) so that its lowest iceberg cost is 1
   and :math:`\tau_{ii} > 1`. A foreign route without trade is inactive.
4. Free entry: :math:`f_{E,i} = R_i/((k+1)c_iM_{Ei})` (operating profits are
   the share :math:`1/(k+1)` of sales :math:`R_i`).

The choke-price condition, the budget, trade, cutoffs, free entry and the
input market (:math:`c_iY_i = \frac{k}{k+1}R_i + c_if_{E,i}M_{Ei} = R_i`) then
hold identically; the upper tier is quasi-linear (:math:`\beta = 1` on the
outside good): its spending is income net of the linear sectors' spending,
which is the data's by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cara import selection_at_choke

#: Choke price as a share of the demand intercept alpha P0 in the destination that spends most
#: per consumer on the sector.
DEFAULT_CHOKE_SHARE = 0.25
#: Share of drawn firms that sell on the origin's most frequented route.
DEFAULT_MAX_SELECTION = 0.5

__all__ = ["DEFAULT_CHOKE_SHARE", "DEFAULT_MAX_SELECTION", "QuasiLinearCalibration",
           "calibrate_linear_sector", "calibrate_quasi_linear"]


def calibrate_linear_sector(sector, regions, trade, tariff, unit_cost, population, outside_price,
                            *, k, delta, alpha=1.0, gamma=1.0,
                            choke_share=DEFAULT_CHOKE_SHARE,
                            max_selection=DEFAULT_MAX_SELECTION):
    """Parameters of one ``linear`` sector (module docstring). ``trade``, ``tariff``:
    (destination, origin) arrays; ``unit_cost``, ``population``: per region. Returns
    ``(values, problems)``: ``values`` holds ``tau``, ``phi_min``, ``f_e``, ``entrants``,
    ``cutoff``, ``choke_price``, ``eta``; ``problems`` names routes, regions or inputs."""
    R = list(regions)
    X, t = np.asarray(trade, float), np.asarray(tariff, float)
    c, L = np.asarray(unit_cost, float), np.asarray(population, float)
    P0 = float(outside_price)
    problems = []
    for name, v in (("linear_alpha", alpha), ("linear_gamma", gamma), ("k", k)):
        if not v > 0:
            problems.append(f"{name}[sector={sector}] = {v:g}: must be positive")
    if not 0 < choke_share < 0.5:
        problems.append(f"linear_choke[sector={sector}] = {choke_share:g}: the choke price as a "
                        "share of the demand intercept must lie in (0, 0.5)")
    if not 0 < max_selection < 1:
        problems.append(f"max_selection[sector={sector}] = {max_selection:g}: must lie in (0, 1)")
    for i in np.nonzero(~(np.diagonal(X) > 0))[0]:
        problems.append(f"route destination={R[i]}, origin={R[i]}, sector={sector} (linear): no "
                        "domestic sales at the benchmark; the cutoff at home is the selection "
                        "margin of the model as written")
    if problems:
        return None, problems
    active = X > 0
    spend = ((1 + t) * X).sum(axis=1) / L
    b = choke_share * (1 - choke_share) / spend.max()
    pi = (1 - np.sqrt(np.maximum(1 - 4 * b * spend, 0.0))) / 2
    choke = pi * alpha * P0
    eta = b * (k + 1) * alpha ** 2 * P0 / (k + 2)
    sellers = 2 * gamma * (k + 2) * P0 * (1 + t) * X / (L[:, None] * choke[:, None] ** 2)
    entrants, share, phi_min, cutoff, tau = selection_at_choke(
        sellers, t, c, choke, active, k=k, delta=delta, max_selection=max_selection)
    # Origin units: where the data imply tau_ni < 1 relative to home, rescale i's productivity
    # units (tau_.i, phi_min_i, phi*_.i times b_i: neutral for every outcome) so that i's lowest
    # iceberg cost is 1.
    b = np.maximum(1.0, 1.0 / np.where(active, tau, np.inf).min(axis=0))
    tau, phi_min, cutoff = tau * b[None, :], phi_min * b, cutoff * b[None, :]
    sales = X.sum(axis=0)
    f_e = sales / ((k + 1) * c * entrants)
    return {"tau": np.where(active, np.maximum(tau, 1.0), np.inf), "phi_min": phi_min,
            "f_e": f_e, "entrants": entrants, "cutoff": cutoff, "choke_price": choke,
            "eta": eta}, problems


@dataclass
class QuasiLinearCalibration:
    """What :func:`calibrate_quasi_linear` found: parameters by sector, the outside good's
    price, and problems naming routes, regions or cells."""

    outside: str | None = None
    outside_price: float = 1.0
    has_linear: bool = False
    values: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    def beta(self, beta, sectors):
        """Final-demand shares of the quasi-linear upper tier: 1 on the outside good (the data's
        Cobb-Douglas shares when the economy has no linear sector)."""
        if not self.has_linear:
            return beta
        out = np.zeros_like(beta)
        out[:, list(sectors).index(self.outside)] = 1.0
        return out

    def start(self, s, comp, regions):
        """Benchmark values of the block unknowns that differ from the CES convention."""
        vals = self.values[s]
        R = list(regions)
        if "choke_price" in vals:  # linear
            comp["log_price_index"] = {r: float(np.log(vals["choke_price"][n]))
                                       for n, r in enumerate(R)}
            comp["log_outside_price"] = {r: float(np.log(self.outside_price)) for r in R}
        else:  # outside
            comp["log_price_index"] = {r: float(np.log(self.outside_price)) for r in R}
            comp["log_supply_weight"] = {r: 0.0 for r in R}


def calibrate_quasi_linear(data, unit_cost, population, *, choke_share=None, alpha=None,
                           gamma=None, max_selection=None):
    """Parameters of every ``linear`` and ``outside`` sector of ``data`` (module docstring);
    ``unit_cost`` (region, sector) tax-inclusive. ``choke_share``, ``alpha``, ``gamma``: a
    number or one per sector (defaults :data:`DEFAULT_CHOKE_SHARE`, 1, 1)."""
    R, S = list(data.regions), list(data.sectors)
    nS = len(S)
    ms = data.market_structure
    out = QuasiLinearCalibration()
    outside = [s for s in S if ms[s] == "outside"]
    linear = [s for s in S if ms[s] == "linear"]
    if len(outside) != 1:
        out.problems.append(f"market_structure: an economy with linear or outside sectors needs "
                            f"exactly one outside sector (the homogeneous numeraire good); found "
                            f"linear {linear}, outside {outside}")
        return out
    o = outside[0]
    jo = S.index(o)
    out.outside, out.has_linear = o, bool(linear)
    c0 = unit_cost[:, jo]
    out.outside_price = float(c0[0])
    for n, r in enumerate(R):
        if abs(c0[n] / c0[0] - 1) > 1e-9:
            out.problems.append(
                f"region={r}: the unit cost of the outside good {o} at benchmark factor prices "
                f"({c0[n]:.9g}) differs from {R[0]}'s ({c0[0]:.9g}); a freely traded homogeneous "
                "good has one price, so its cost shares (and production tax) must give the same "
                "unit cost everywhere")
    X0 = data.trade[:, :, jo]
    for n, r in enumerate(R):
        if not X0[:, n].sum() > 0:
            out.problems.append(f"region={r}: the outside good {o} is not produced at the benchmark "
                                "(no sales), so its price cannot pin the factor prices of "
                                f"{r}; MR section 8 assumes it is produced everywhere")
        if linear and not X0[n].sum() > 0:
            out.problems.append(f"region={r}: the outside good {o} is not consumed at the benchmark,"
                                " so demand for the linear sectors is not income-independent")
    tariff = data.tariff[:, :, jo]
    for n, i in zip(*np.nonzero((X0 > 0) & (tariff != 0))):
        out.problems.append(f"tariff[destination={R[n]}, origin={R[i]}, sector={o}] = "
                            f"{tariff[n, i]:g}: the outside good is traded freely")
    if data.intermediate is not None:
        for n, u, j in zip(*np.nonzero(data.intermediate > 0)):
            if ms[S[j]] == "linear":
                out.problems.append(
                    f"intermediate[region={R[n]}, sector={S[u]}, input={S[j]}] > 0: the "
                    "varieties of a linear sector are bought by consumers only")
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(X0 > 0, X0 / X0.sum(axis=1, keepdims=True), 1.0)
    out.values[o] = {"tau": np.where(X0 > 0, 1.0, np.inf), "pref_weight": weights,
                     "phi_min": np.ones(len(R)), "f_e": np.ones(len(R)),
                     "entrants": np.ones(len(R)), "cutoff": np.full(X0.shape, np.nan)}

    def per_sector(value, default, what):
        arr = np.broadcast_to(np.asarray(default if value is None else value, float), (nS,))
        return arr, what

    pi, _ = per_sector(choke_share, DEFAULT_CHOKE_SHARE, "linear_choke")
    al, _ = per_sector(alpha, 1.0, "linear_alpha")
    ga, _ = per_sector(gamma, 1.0, "linear_gamma")
    for s in linear:
        j = S.index(s)
        vals, errs = calibrate_linear_sector(
            s, R, data.trade[:, :, j], data.tariff[:, :, j], unit_cost[:, j], population,
            out.outside_price, k=float(data.k[j]), delta=float(data.delta[j]),
            alpha=float(al[j]), gamma=float(ga[j]), choke_share=float(pi[j]),
            max_selection=DEFAULT_MAX_SELECTION if max_selection is None else max_selection)
        out.problems += errs
        if vals is not None:
            vals.update(alpha=float(al[j]), gamma=float(ga[j]))
            out.values[s] = vals
    return out
