"""Bundled example economies built from primitives.

:func:`three_by_three` is the README's example: three regions of different
size and technology, three sectors (an Armington agricultural sector, a
Melitz manufacturing sector, a Krugman services sector), labour and capital,
input-output linkages, tariffs and a trade deficit.

:func:`symmetric` and :func:`random_economy` make test and benchmark
economies of any size.
"""

from __future__ import annotations

import numpy as np

from .primitives import Primitives


def three_by_three() -> Primitives:
    """The bundled 3-region x 3-sector example (labelled, as a user would write it)."""
    return Primitives.from_mapping({
        "name": "three_by_three",
        "regions": ["North", "South", "East"],
        "sectors": ["agriculture", "manufacturing", "services"],
        # Capital is sector-specific: with only mobile factors and free entry in
        # more sectors than factors, complete specialisation is the generic
        # outcome, a corner the equilibrium conditions do not describe.
        "factors": ["labour", "capital_agriculture", "capital_manufacturing",
                    "capital_services"],
        "market_structure": {"agriculture": "armington", "manufacturing": "melitz",
                             "services": "krugman"},
        "sigma": {"agriculture": 4.0, "manufacturing": 3.8, "services": 3.0},
        "k": {"*": 4.0, "manufacturing": 4.6},
        "delta": {"*": 1.0, "manufacturing": 0.1},
        "beta": {"North": {"agriculture": 0.15, "manufacturing": 0.4, "services": 0.45},
                 "South": {"agriculture": 0.25, "manufacturing": 0.4, "services": 0.35},
                 "East": {"agriculture": 0.2, "manufacturing": 0.45, "services": 0.35}},
        "endowment": {"North": {"labour": 100, "*": 25},
                      "South": {"labour": 140, "*": 15, "capital_agriculture": 30},
                      "East": {"labour": 120, "*": 20}},
        "factor_share": {"*": {"*": {"*": 0.0, "labour": 0.45},
                               "agriculture": {"capital_agriculture": 0.25},
                               "manufacturing": {"labour": 0.35, "capital_manufacturing": 0.25},
                               "services": {"capital_services": 0.25}}},
        "input_share": {"*": {"agriculture": {"agriculture": 0.1, "manufacturing": 0.1,
                                              "services": 0.1},
                              "manufacturing": {"agriculture": 0.1, "manufacturing": 0.2,
                                                "services": 0.1},
                              "services": {"agriculture": 0.0, "manufacturing": 0.1,
                                           "services": 0.2}}},
        "phi_min": {"North": 1.2, "South": 0.8, "East": 1.0},
        "f_e": 1.0,
        "f": {"*": {"*": {"*": 1.0, "manufacturing": 1.6}},
              "North": {"North": 0.8}, "South": {"South": 0.8}, "East": {"East": 0.8}},
        "tau": {"*": {"*": {"agriculture": 1.4, "manufacturing": 1.3, "services": 2.0}},
                "North": {"North": 1.0}, "East": {"East": 1.0},
                "South": {"South": 1.0, "East": {"*": 1.2, "manufacturing": 1.15}}},
        "tariff": {"South": {"North": {"agriculture": 0.15, "manufacturing": 0.12},
                             "East": {"manufacturing": 0.08}},
                   "East": {"North": {"manufacturing": 0.05}, "South": {"agriculture": 0.1}},
                   "North": {"South": {"agriculture": 0.05}}},
        "deficit": {"North": 2.0, "South": -1.0, "East": -1.0},
        "numeraire": {"factor": "labour", "region": "North"},
    })


#: The largest example economies (an example is for trying things, not GTAP-scale work;
#: regions x regions x sectors arrays beyond this would exhaust memory before any check).
MAX_EXAMPLE_REGIONS = 300
MAX_EXAMPLE_SECTORS = 200


def check_example_size(example: str, regions, sectors) -> None:
    """``regions`` and ``sectors`` are whole numbers within the examples' range; else an
    :class:`~cge.errors.InputError` naming the argument."""
    from .errors import InputError

    problems = []
    for name, value, most in (("regions", regions, MAX_EXAMPLE_REGIONS),
                              ("sectors", sectors, MAX_EXAMPLE_SECTORS)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            problems.append(f"{example}: {name} must be a whole number, got {value!r}")
        elif not 1 <= value <= most:
            problems.append(f"{example}: {name} must be from 1 to {most}, got {value}")
    if problems:
        raise InputError(problems)


def symmetric(regions: int = 2, sectors: int = 1, *, sigma=3.0, k=4.0, tau=1.3, f=1.0,
              f_x=1.5, f_e=1.0, tariff=0.0, delta=1.0, labour=1.0,
              market_structure="melitz") -> Primitives:
    """``regions`` identical regions, labour only, no input-output linkages."""
    check_example_size("symmetric", regions, sectors)
    R = [f"r{i}" for i in range(regions)]
    S = [f"s{j}" for j in range(sectors)]
    eye = np.eye(regions, dtype=bool)[:, :, None].repeat(sectors, axis=2)
    return Primitives.from_mapping({
        "regions": R, "sectors": S, "factors": ["labour"],
        "market_structure": market_structure,
        "sigma": sigma, "k": k, "delta": delta,
        "beta": 1.0 / sectors, "endowment": labour, "factor_share": 1.0,
        "f_e": f_e, "f": np.where(eye, f, f_x).tolist(),
        "tau": np.where(eye, 1.0, tau).tolist(),
        "tariff": np.where(eye, 0.0, tariff).tolist(),
    })


def random_economy(regions: int = 10, sectors: int = 10, factors: int = 2, *, seed: int = 0,
                   io: bool = True, market_structure="melitz",
                   specific_share: float = 0.5) -> Primitives:
    """An asymmetric economy with random sizes, technologies, trade costs and tariffs.

    ``factors`` mobile factors plus, when ``specific_share > 0``, one
    sector-specific factor per sector (share ``specific_share`` of the
    composite input) so that every sector has an upward-sloping supply curve
    and the equilibrium is interior. Fixed costs keep domestic cutoffs well
    above the Pareto lower bound (selection on every route).
    """
    check_example_size("random_economy", regions, sectors)
    rng = np.random.default_rng(seed)
    R = [f"R{i:02d}" for i in range(regions)]
    S = [f"S{j:02d}" for j in range(sectors)]
    mobile = ["labour", "capital", "land", "skill"][:factors]
    specific = [f"specific_{x}" for x in S] if specific_share > 0 else []
    F = mobile + specific
    nR, nS, nF = regions, sectors, factors
    beta = rng.dirichlet(np.ones(nS), size=nR)
    io_total = rng.uniform(0.2, 0.5, size=(nR, nS)) if io else np.zeros((nR, nS))
    gamma = rng.dirichlet(np.ones(nS), size=(nR, nS)) * io_total[:, :, None]
    value_added = (1 - io_total)[:, :, None]
    alpha = rng.dirichlet(np.ones(nF), size=(nR, nS)) * value_added * (1 - specific_share)
    if specific:
        own = np.zeros((nR, nS, nS))
        own[:, np.arange(nS), np.arange(nS)] = specific_share * value_added[:, :, 0]
        alpha = np.concatenate([alpha, own], axis=2)
    sigma = rng.uniform(3.0, 5.0, size=nS)
    k = sigma - 1 + rng.uniform(1.0, 2.0, size=nS)
    pos = rng.uniform(0, 1, size=(nR, 2))
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2)
    tau = 1.1 + 0.8 * dist[:, :, None] * rng.uniform(0.8, 1.2, size=(nR, nR, nS))
    tariff = rng.uniform(0.0, 0.15, size=(nR, nR, nS))
    f = rng.uniform(1.5, 3.0, size=(nR, nR, nS))
    for n in range(nR):
        tau[n, n] = 1.0
        tariff[n, n] = 0.0
        f[n, n] = rng.uniform(0.5, 1.0, size=nS)
    return Primitives.from_mapping({
        "name": f"random_{nR}x{nS}",
        "regions": R, "sectors": S, "factors": F,
        "market_structure": market_structure,
        "sigma": sigma.tolist(), "k": k.tolist(),
        "beta": beta.tolist(),
        "endowment": rng.uniform(50, 200, size=(nR, len(F))).tolist(),
        "factor_share": alpha.tolist(), "input_share": gamma.tolist(),
        "phi_min": rng.uniform(0.9, 1.1, size=(nR, nS)).tolist(),
        "f_e": rng.uniform(0.2, 0.4, size=(nR, nS)).tolist(),
        "f": f.tolist(), "tau": tau.tolist(), "tariff": tariff.tolist(),
    })
