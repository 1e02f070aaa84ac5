"""Small benchmark data sets for documentation and tests."""

from __future__ import annotations

import numpy as np

from .benchmark import BenchmarkData


def toy_benchmark() -> BenchmarkData:
    """A consistent 3-region, 3-sector, 2-factor benchmark, built by accounting.

    Sectors: ``mfg`` (melitz), ``agr`` (armington, with one route without
    trade), ``srv`` (krugman). Bilateral trade, tariffs and input-output
    coefficients are chosen; factor payments follow from zero profit, final
    demand from market clearing and deficits from the income balance, so every
    identity holds exactly (up to rounding).
    """
    R = ("North", "South", "East")
    S = ("mfg", "agr", "srv")
    F = ("labour", "capital")
    X = np.zeros((3, 3, 3))  # destination, origin, sector
    X[:, :, 0] = [[120.0, 18.0, 25.0], [22.0, 90.0, 14.0], [30.0, 11.0, 100.0]]
    X[:, :, 1] = [[40.0, 6.0, 0.0], [5.0, 55.0, 4.0], [3.0, 7.0, 45.0]]
    X[:, :, 2] = [[200.0, 4.0, 6.0], [5.0, 150.0, 3.0], [7.0, 2.0, 170.0]]
    t = np.zeros((3, 3, 3))
    t[:, :, 0] = [[0, 0.08, 0.05], [0.12, 0, 0.10], [0.04, 0.06, 0]]
    t[:, :, 1] = [[0, 0.15, 0.20], [0.05, 0, 0.10], [0.10, 0.12, 0]]
    gamma = np.array([[0.20, 0.05, 0.15],   # mfg uses mfg, agr, srv
                      [0.10, 0.15, 0.10],   # agr
                      [0.10, 0.02, 0.20]])  # srv
    gamma = np.stack([gamma * scale for scale in (1.0, 0.9, 1.1)])  # region, sector, input
    capital_share = np.array([[0.35, 0.25, 0.30], [0.40, 0.20, 0.25], [0.30, 0.30, 0.35]])
    sales = X.sum(axis=0)  # origin, sector
    Z = gamma * sales[:, :, None]
    va = sales - Z.sum(axis=2)
    V = np.stack([va * (1 - capital_share), va * capital_share], axis=2)
    absorption = ((1 + t) * X).sum(axis=1)
    C = absorption - Z.sum(axis=1)
    T = (t * X).sum(axis=(1, 2))
    D = C.sum(axis=1) - V.sum(axis=(1, 2)) - T
    return BenchmarkData(
        regions=R, sectors=S, factors=F, trade=X, tariff=t, factor_payments=V,
        intermediate=Z, final_demand=C, deficit=D,
        sigma=np.array([3.8, 4.0, 3.0]), k=np.array([4.6, 4.0, 4.0]),
        delta=np.array([0.1, 1.0, 1.0]),
        market_structure={"mfg": "melitz", "agr": "armington", "srv": "krugman"},
        name="toy", units="illustrative",
    )


__all__ = ["toy_benchmark"]
