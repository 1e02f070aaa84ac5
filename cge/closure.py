r"""Closures that change which variables are exogenous.

Small open economy (``Equilibrium(..., small_open_economy="ROW")``)
    The rest of the world is large relative to the economies studied: its
    factor prices :math:`w_{Rf}`, income :math:`I_R`, sector spending
    :math:`X_{Rs}`, price indices :math:`P_{Rs}` and entry :math:`M_{E,Rs}` are
    held at their benchmark values. What remains endogenous for the foreign
    region is what the home economies' policies act on directly:

    * home exporters face the foreign demand curve
      :math:`r_{Ri}(\varphi) = (1+t_{Ri})^{-\sigma} X_R P_R^{\sigma-1}
      (\tau_{Ri} c_i/\rho\varphi)^{1-\sigma}` with :math:`X_R P_R^{\sigma-1}`
      fixed: a demand curve of elasticity :math:`\sigma`, and selection into
      exporting through their own zero-cutoff condition;
    * foreign firms (a fixed mass of entrants at fixed input cost) select into
      the home market through their zero-cutoff condition there, so the
      foreign export cutoff and the mass of foreign varieties at home respond
      to home policy.

    The equations dropped for the foreign region are its factor markets, its
    income balance, its sector expenditure, its price indices and its free
    entry (and, under a non-default closure of final demand, the spending
    equations of its agents, whose spending is fixed too): exactly as many as
    the variables fixed, so the system stays square
    (checked before every solve). The foreign factor prices are the unit of
    account, so the numeraire equation is dropped too and every market of the
    home economies is in the system. Walras' law is then checked on the home
    economies' balance of payments: exports minus imports must equal minus
    the deficit.
"""

from __future__ import annotations

import pyomo.environ as pyo


def _region_vars(m, region):
    yield from (m.log_factor_price[region, f] for f in m.factors)
    yield m.log_income[region]
    if hasattr(m, "agent_use"):  # final-demand agents (a non-default closure of final demand)
        yield from (m.log_agent_spending[n, a] for (n, a) in m.agent_use if n == region)
    for s in m.sectors:
        blk = m.sector[s]
        yield blk.log_expenditure[region]
        yield blk.log_price_index[region]
        if blk.has_firms:
            yield blk.log_entry_mass[region]


def _region_equations(m, region):
    yield from (m.factor_market[region, f] for f in m.factors)
    yield m.income_balance[region]
    if hasattr(m, "agent_use"):
        for family in (m.government_spending, m.investment_spending, m.household_spending):
            if region in family:
                yield family[region]
    for s in m.sectors:
        blk = m.sector[s]
        yield m.sector_expenditure[region, s]
        yield blk.ces_price_index[region]
        if blk.has_firms:
            entry = blk.free_entry if hasattr(blk, "free_entry") else blk.fixed_entry
            yield entry[region]


def apply_small_open_economy(m: pyo.ConcreteModel, region: str) -> None:
    """Hold ``region`` (the rest of the world) at its current values; see the module docstring.

    Call at a solved equilibrium (the benchmark). Idempotent.
    """
    if region not in m.regions:
        raise ValueError(f"small_open_economy: unknown region {region!r}; regions are "
                         f"{list(m.regions)}")
    if getattr(m, "_small_open_economy", None) == region:
        return
    for v in _region_vars(m, region):
        v.fix()
    for c in _region_equations(m, region):
        c.deactivate()
    m.numeraire.deactivate()
    # Every home market is now in the system, including the one Walras' law left out.
    i, f = m._walras_index
    if i != region:
        m.factor_market[i, f].activate()
    m._small_open_economy = region


def balance_of_payments_residual(m: pyo.ConcreteModel) -> float:
    """Home economies' exports - imports + deficits, relative to their income.

    The Walras check of the small-open-economy closure: it is implied by the
    home economies' equations, which are all in the system.
    """
    region = m._small_open_economy
    home = [n for n in m.regions if n != region]
    excess, scale = 0.0, 0.0
    for n in home:
        exports = imports = 0.0
        for s in m.sectors:
            blk = m.sector[s]
            exports += sum(pyo.value(blk.trade_value[d, n]) for d in blk.destinations(n) if d != n)
            imports += sum(pyo.value(blk.trade_value[n, o]) for o in blk.origins(n) if o != n)
        excess += exports - imports + pyo.value(m.deficit_value[n])
        scale += pyo.value(m.income[n])
    return excess / scale
