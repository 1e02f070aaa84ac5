r"""The CARA gains-from-trade constant, verified by a route independent of the model.

docs/model.md derives, for one sector, labour only and Pareto draws, the form of
Arkolakis, Costinot, Donaldson and Rodriguez-Clare (2019):
:math:`d\ln W = -\frac{1-\eta}{k}\,d\ln\lambda_{nn}` with
:math:`1-\eta = \frac{k\kappa_4}{(k+1)\kappa_1}` (``cge.blocks.cara.cara_constants``).
``tests/test_cara.py::test_acdr_gains_from_trade`` checks it on the model's own
equilibria, whose equations use the same constants. Here nothing of the model
is used: a symmetric two-country world is solved by quadrature over the
firms' cost draws (the Lambert-W prices of each firm, free entry, the
consumers' budget), its welfare is the integrated local equivalent variation
:math:`\int dU/(U_e\,e)` with the sub-utility :math:`U = \int(1-e^{-\alpha q})`
integrated over sellers and the marginal utility of income :math:`U_e` found by
re-solving the consumer's problem at fixed prices, and the exact change
between two trade costs is compared with
:math:`(\lambda'/\lambda)^{-(1-\eta)/k}`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import lambertw

from cge.blocks.cara import cara_constants

ALPHA, F_E, M_MAX, L = 1.0, 1e-4, 1.0, 1.0  # CARA parameter, entry cost, cost bound, consumers


def _w(x):
    return float(np.real(lambertw(x)))


class Symmetric:
    """Two identical countries, wage 1 (numeraire, by symmetry both), iceberg cost ``tau``
    between them; firms draw the input requirement m from G(m) = (m/M_MAX)^k."""

    def __init__(self, k: float, tau: float):
        self.k, self.tau = k, tau
        self.choke = brentq(self._free_entry, 1e-6, 50.0, xtol=1e-15, rtol=1e-15)
        self.entrants = 1.0 / sum(self._per_firm(self.choke, t, "spending") for t in (1.0, tau))

    def _per_firm(self, choke, t, what):
        """Per consumer and entrant, integrated over the cost draws of the firms that sell
        on a route with iceberg cost t: spending p q, operating profit (p - c) q, sub-utility
        1 - exp(-alpha q), or prices (for the consumer problem)."""
        k = self.k
        top = min(choke / t, M_MAX)

        def f(m):
            c = t * m
            w = _w(math.e * c / choke)
            p, q = c / w, (1 - w) / ALPHA
            value = {"spending": p * q, "profit": (p - c) * q,
                     "utility": -math.expm1(-ALPHA * q)}[what]
            return value * k * m ** (k - 1) / M_MAX ** k

        return quad(f, 0.0, top, epsabs=1e-15, epsrel=1e-13, limit=400)[0]

    def _free_entry(self, choke):
        return L * sum(self._per_firm(choke, t, "profit") for t in (1.0, self.tau)) - F_E

    def utility(self):
        """Sub-utility per consumer, U = sum_i M_E int (1 - exp(-alpha q)) dG."""
        return self.entrants * sum(self._per_firm(self.choke, t, "utility") for t in (1.0, self.tau))

    def domestic_share(self):
        home = self._per_firm(self.choke, 1.0, "spending")
        return home / (home + self._per_firm(self.choke, self.tau, "spending"))

    def utility_at_income(self, income):
        """The consumer's best sub-utility with ``income`` at this equilibrium's prices:
        q = ln(mu/p)/alpha on the goods with p < mu, mu from the budget (solved here)."""
        k, routes = self.k, (1.0, self.tau)

        def over_goods(g, t):
            def f(m):
                c = t * m
                return g(c / _w(math.e * c / self.choke)) * k * m ** (k - 1) / M_MAX ** k
            return self.entrants * quad(f, 0.0, min(self.choke / t, M_MAX), epsabs=1e-15,
                                        epsrel=1e-13, limit=400)[0]

        def budget(mu):
            return sum(over_goods(lambda p: p * max(math.log(mu / p), 0.0) / ALPHA, t)
                       for t in routes) - income

        mu = brentq(budget, 0.5 * self.choke, 2.0 * self.choke, xtol=1e-15, rtol=1e-15)
        return sum(over_goods(lambda p: max(1 - p / mu, 0.0), t) for t in routes)


def integrated_equivalent_variation(k, tau0, tau1, nodes=24):
    r""":math:`\ln W_1/W_0 = \int dU/(U_e e)` along the path of trade costs (e = 1), by
    Gauss-Legendre in :math:`\tau`; dU/d tau and U_e by central differences."""
    x, wts = np.polynomial.legendre.leggauss(nodes)
    total = 0.0
    for xi, wi in zip(x, wts):
        t = 0.5 * (tau0 + tau1) + 0.5 * (tau1 - tau0) * xi
        h = 1e-4 * t
        du = (Symmetric(k, t + h).utility() - Symmetric(k, t - h).utility()) / (2 * h)
        eq, de = Symmetric(k, t), 1e-4
        u_e = (eq.utility_at_income(1 + de) - eq.utility_at_income(1 - de)) / (2 * de)
        total += 0.5 * (tau1 - tau0) * wi * du / u_e  # income e = 1
    return total


@pytest.mark.parametrize("k", [3.0, 6.0])
def test_acdr_constant_by_direct_integration(k):
    tau0, tau1 = 2.0, 1.4
    a, b = Symmetric(k, tau0), Symmetric(k, tau1)
    assert a.choke < M_MAX  # selection at home: the least efficient draws do not sell
    assert a.utility_at_income(1.0) == pytest.approx(a.utility(), rel=1e-9)  # consumer optimum
    lam0, lam1 = a.domestic_share(), b.domestic_share()
    assert lam1 < lam0 < 1
    ln_w = integrated_equivalent_variation(k, tau0, tau1)
    kap = cara_constants(k)
    one_minus_eta = k * kap["utility"] / ((k + 1) * kap["spending"])
    assert ln_w == pytest.approx(-one_minus_eta / k * math.log(lam1 / lam0), rel=1e-6)
    # and not the CES-Pareto value (eta = 0): the constant matters at this precision
    assert abs(ln_w / (-math.log(lam1 / lam0) / k) - 1) > 0.05
