r"""How trade deficits are held in counterfactuals: the deficit closure.

A region's trade deficit :math:`D_n` (foreign savings; imports minus exports,
summing to zero over regions) is data: the parameter ``deficit``, in units of
the numeraire at the benchmark. What it means in a counterfactual is a choice,
:attr:`cge.primitives.Closure.deficit` (:data:`cge.parameters.DEFICIT_CLOSURES`):

``world_income_share`` (default)
    Each region's deficit stays the share of world income it had at the
    benchmark,

    .. math:: D_n' = d_n W', \qquad d_n = \frac{D_n \bar p}{W}
              \text{ at the benchmark}, \qquad W = \sum_m \sum_f w_{mf} \bar L_{mf},

    world income being world factor income (world GDP at factor cost, the
    Expression ``world_income``). This is the normalisation of Dekle, Eaton and
    Kortum (2008) and Caliendo and Parro (2015), who hold deficits fixed with
    world GDP as the numeraire; tariff and tax revenue is left out of
    :math:`W` so that a tariff war does not by itself raise the value of every
    deficit. World income does not depend on which price is the numeraire, so
    neither do real results: permuting the regions (the default numeraire is
    the first factor of the first region) or rescaling every value of the data
    leaves every real result and percentage unchanged. The model values a unit
    of the deficit at :math:`\kappa = W/\bar W` (``deficit_unit``) with
    :math:`\bar W` the benchmark world income per unit of :math:`\bar p`
    (``benchmark_world_income``, set by :func:`hold_deficits` after the
    benchmark solve, where :math:`\kappa = \bar p`).
``numeraire``
    Fixed in units of the numeraire, :math:`D_n' = D_n \bar p` (``cge``'s rule
    before this option existed). A region whose numeraire price falls in the
    counterfactual then finances a larger real deficit: the result depends on
    which price is the numeraire, hence on the order of the regions.
``zero_baseline``
    Deficits are first stepped from the data to zero (every region's trade
    balance then closes); that zero-deficit equilibrium is the baseline from
    which shocks are applied and against which they are compared, as Caliendo
    and Parro (2015) do before their NAFTA experiment. The benchmark with the
    data's deficits is kept as :attr:`cge.Equilibrium.benchmark`. Deficit shocks
    are refused under this closure (deficits are zero by construction).

Why not a share of each region's own income: the deficits must sum to zero
over regions in every equilibrium (the world's trade balances), and shares of
each region's own income do not, unless one region absorbs the difference,
which would again make results depend on which region that is.
"""

from __future__ import annotations

import pyomo.environ as pyo

from .parameters import DEFICIT_CLOSURES

__all__ = ["DEFICIT_CLOSURES", "describe", "hold_deficits", "varying_parameters",
           "world_income_shares"]


def describe(deficit_closure: str) -> str:
    """One line saying in which unit deficits are held (for results and ``run_info``)."""
    return {
        "world_income_share": "each region's deficit held at its benchmark share of world income",
        "numeraire": "deficits fixed in units of the numeraire",
        "zero_baseline": "deficits stepped to zero first; shocks applied from and compared with "
                         "that zero-deficit baseline",
    }[deficit_closure]


def hold_deficits(m: pyo.ConcreteModel, deficit_closure: str) -> None:
    r"""After the benchmark solve: hold deficits as the closure says from now on.

    Under ``world_income_share`` sets :math:`\bar W = W / \bar p` at the
    current (benchmark) point and switches the unit of the deficit from the
    numeraire to world income (:math:`\theta = 0`): at the benchmark the two
    units coincide, so the benchmark stays solved. Other closures keep deficits
    in numeraire units. Idempotent only at the benchmark; call it once.
    """
    if deficit_closure not in DEFICIT_CLOSURES:
        raise ValueError(f"deficit closure {deficit_closure!r}; options are {list(DEFICIT_CLOSURES)}")
    if deficit_closure != "world_income_share":
        return
    world = pyo.value(m.world_income)
    m.benchmark_world_income = world / pyo.value(m.numeraire_value)
    m.deficit_in_numeraire = 0.0


def varying_parameters(m: pyo.ConcreteModel, deficit_closure: str) -> list:
    """The parameters the closure changes after the benchmark solve: the deficits under
    ``zero_baseline`` (stepped to zero), the unit of the deficit under
    ``world_income_share`` (:func:`hold_deficits`). A large system is compiled with
    them as columns from the benchmark on (:func:`cge.compiled.vary`), so that
    neither compiles it again."""
    if deficit_closure == "zero_baseline":
        return list(m.deficit.values())
    if deficit_closure == "world_income_share":
        return [m.deficit_in_numeraire, m.benchmark_world_income]
    return []


def world_income_shares(m: pyo.ConcreteModel) -> dict[str, float]:
    """Each region's deficit at the current point as a share of world income."""
    world = pyo.value(m.world_income)
    return {r: pyo.value(m.deficit_value[r]) / world for r in m.regions}
