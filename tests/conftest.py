"""Shared fixtures and helpers for the economics tests.

Economies are built from labelled primitives exactly as a user writes them.
Benchmark solutions that several tests only *read* are session-scoped;
anything a test shocks is built fresh from a factory fixture, because an
:class:`~cge.Equilibrium` carries its current solution as state.

Conventions of the model that the closed forms in the tests rely on (see
``cge/blocks/sector.py`` and the structure modules beside it):

* trade values ``X_ni`` are c.i.f. and net of the tariff (what the producer
  receives); the importer pays ``(1 + t_ni) X_ni`` and ``t_ni X_ni`` is
  tariff revenue of ``n``;
* fixed costs ``f_ni`` and ``f_E,i`` are in units of origin ``i``'s
  composite input (labour when ``factor_share = 1``);
* ``entry_mass`` is the mass of entrants per period ``M_E``; the stock of
  firms that have drawn a productivity is ``M_E / delta``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYOMO_CONFIG_DIR", str(ROOT / ".venv" / "pyomo"))

from cge import Equilibrium, Primitives, examples  # noqa: E402
from cge.tolerance import limit  # noqa: E402

# Tolerance of comparisons against closed forms: the solver's accepted residual
# (relative, since every equation is in logarithms); see cge.tolerance.
REL = limit()


# ---------------------------------------------------------------- builders
def closed_economy(*, sigma=3.0, k=4.0, delta=1.0, L=10.0, f=2.0, f_e=1.5, phi_min=1.3,
                   market_structure="melitz") -> Primitives:
    """One region, one sector, labour only."""
    return Primitives.from_mapping({
        "name": "closed",
        "regions": ["home"], "sectors": ["goods"], "factors": ["labour"],
        "market_structure": market_structure,
        "sigma": sigma, "k": k, "delta": delta,
        "beta": 1.0, "endowment": L, "factor_share": 1.0,
        "f": f, "f_e": f_e, "phi_min": phi_min,
    })


#: Three asymmetric regions: size, technology, entry costs and (asymmetric)
#: trade costs all differ. Export fixed costs exceed domestic ones so that
#: every Melitz route has selection.
ASYM_REGIONS = ["A", "B", "C"]
ASYM = {
    "endowment": {"A": 1.0, "B": 2.5, "C": 0.7},
    "phi_min": {"A": 1.0, "B": 1.2, "C": 0.9},
    "f_e": {"A": 1.0, "B": 0.8, "C": 1.3},
    # destination -> origin
    "tau": {"A": {"A": 1.0, "B": 1.4, "C": 1.6},
            "B": {"A": 1.3, "B": 1.0, "C": 1.5},
            "C": {"A": 1.7, "B": 1.45, "C": 1.0}},
    "f": {"A": {"A": 1.0, "B": 2.0, "C": 2.4},
          "B": {"A": 1.8, "B": 0.9, "C": 2.2},
          "C": {"A": 2.6, "B": 2.1, "C": 1.1}},
    "pref_weight": {"A": {"A": 1.0, "B": 0.8, "C": 0.6},
                    "B": {"A": 0.7, "B": 1.2, "C": 0.9},
                    "C": {"A": 1.1, "B": 0.5, "C": 1.0}},
}


def asymmetric_economy(regions: int = 3, *, market_structure="melitz", sigma=3.5, k=4.2,
                       delta=0.4, **overrides) -> Primitives:
    """``regions`` (2 or 3) asymmetric regions, one sector, labour only, no tariffs,
    balanced trade."""
    R = ASYM_REGIONS[:regions]

    def cut(x):
        if isinstance(x, dict):
            return {r: cut(v) for r, v in x.items() if r in R}
        return x

    data = {
        "name": f"asymmetric_{regions}",
        "regions": R, "sectors": ["goods"], "factors": ["labour"],
        "market_structure": market_structure,
        "sigma": sigma, "k": k, "delta": delta,
        "beta": 1.0, "factor_share": 1.0,
        **{key: cut(val) for key, val in ASYM.items()},
    }
    data.update(overrides)
    return Primitives.from_mapping(data)


def multisector_economy() -> Primitives:
    """Two asymmetric regions, two Melitz sectors with different sigma, k and
    delta and sector-specific trade costs; labour only, no input-output."""
    return Primitives.from_mapping({
        "name": "multisector",
        "regions": ["A", "B"], "sectors": ["s1", "s2"], "factors": ["labour"],
        "market_structure": "melitz",
        "sigma": {"s1": 3.0, "s2": 5.0},
        "k": {"s1": 4.0, "s2": 6.5},
        "delta": {"s1": 1.0, "s2": 0.25},
        "beta": {"A": {"s1": 0.4, "s2": 0.6}, "B": {"s1": 0.55, "s2": 0.45}},
        "endowment": {"A": 1.0, "B": 1.6},
        "factor_share": 1.0,
        "phi_min": {"A": {"s1": 1.0, "s2": 1.1}, "B": {"s1": 1.15, "s2": 0.95}},
        "f_e": {"A": {"s1": 0.5, "s2": 0.7}, "B": {"s1": 0.6, "s2": 0.9}},
        "f": {"A": {"A": 1.0, "B": 2.0}, "B": {"A": {"s1": 1.8, "s2": 2.4}, "B": 0.9}},
        "tau": {"A": {"A": 1.0, "B": {"s1": 1.3, "s2": 1.6}},
                "B": {"A": {"s1": 1.35, "s2": 1.5}, "B": 1.0}},
    })


# ----------------------------------------------------------------- helpers
def domestic_share(res, n: str, s: str) -> float:
    """lambda_nn,s: share of n's (tariff-inclusive) spending on its own varieties."""
    return float(res.routes.loc[(n, n, s), "trade_share"])


def head_ries(res, n: str, i: str, s: str) -> float:
    """Head-Ries index (X_ni X_in) / (X_nn X_ii) of trade values."""
    x = res.routes["trade_value"]
    return float(x[(n, i, s)] * x[(i, n, s)] / (x[(n, n, s)] * x[(i, i, s)]))


def foreign_mask(prim: Primitives) -> np.ndarray:
    """(destination, origin, sector) mask of routes between different regions."""
    nR, nS = len(prim.regions), len(prim.sectors)
    return ~np.eye(nR, dtype=bool)[:, :, None].repeat(nS, axis=2)


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def solve():
    """``solve(primitives) -> (Equilibrium, Results)``: a fresh benchmark solve."""
    def _solve(prim: Primitives, **kwargs):
        eq = Equilibrium(prim, **kwargs)
        return eq, eq.solve()
    return _solve


@pytest.fixture(scope="session")
def three_by_three():
    """The bundled example: its primitives and benchmark results (read only)."""
    prim = examples.three_by_three()
    eq = Equilibrium(prim)
    return prim, eq.solve()
