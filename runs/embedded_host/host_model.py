r"""A conventional SAM-based multi-region CGE model in Pyomo that embeds the Melitz sector block.

This host is written directly in Pyomo, independently of :mod:`cge.model`. It
is the kind of model an applied modeller already has:

* three regions, three sectors (``agr``, ``mfg``, ``srv``), labour and capital
  mobile across sectors (immobile across regions);
* Cobb-Douglas technology over primary factors and sector composites, with a
  scale parameter calibrated so that every price is one at the benchmark, and
  an optional ad valorem production tax on gross cost;
* a representative household with Cobb-Douglas demand over sector composites
  and a fixed savings rate;
* a government collecting tariffs and production taxes and spending them in
  fixed value shares;
* savings-investment: investment = household savings + foreign savings (the
  trade deficit, fixed in numeraire units), spent Cobb-Douglas over sectors;
* Armington trade: a CES composite of national varieties per sector and
  region, with iceberg costs and ad valorem tariffs;
* the wage of ``north`` labour as numeraire; the ``north`` labour market is
  left out (Walras' law) and checked after solving.

Benchmark data are the SAM-like flows below (trade, intermediate use, tax
rates, factor shares of value added, savings rates and the sector shares of
government and investment spending); :func:`benchmark` completes the accounts
(value added and household consumption as residuals), checks that every
account of :meth:`Benchmark.sam` balances and calibrates every share so that
the model reproduces the flows at unit prices.

``sector_structures={'mfg': 'melitz'}`` replaces the host's own Armington
equations of ``mfg`` by :class:`cge.HeterogeneousFirmSector` (market
structure from the mapping: ``melitz``, ``krugman`` or ``armington``),
calibrated by :func:`cge.embedding.calibrate_sector` so that the benchmark
still replicates, and tied to the host with :func:`cge.embedding.connect`
(``wiring="connect"``) or pyomo.network Arcs (``wiring="arcs"``).

``government=False, savings=False`` gives the configuration our own model
(:class:`cge.Equilibrium`) can express: no production tax, tariffs and the
deficit go to the household, no investment. :func:`to_primitives` writes that
economy as :class:`cge.Primitives`.

Run ``python -m runs.embedded_host.host_model`` for a 10% tariff cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.network import Port

from cge.blocks.sector import HeterogeneousFirmSector
from cge.embedding import (
    calibrate_sector, check_wiring, connect, connect_arcs, expand_arcs, initialize_block,
)
from cge.errors import SolveError
from cge.parameters import MARKET_STRUCTURES
from cge.solve import diagnose, run_ipopt

REGIONS = ("north", "south", "east")
SECTORS = ("agr", "mfg", "srv")
FACTORS = ("lab", "cap")
NUMERAIRE = ("north", "lab")

# ------------------------------------------------------------------ SAM data
#: Bilateral trade at producer prices (c.i.f., net of tariff):
#: TRADE[sector][destination][origin], origins in REGIONS order.
TRADE = {
    "agr": {"north": [40.0, 6.0, 4.0], "south": [5.0, 60.0, 5.0], "east": [3.0, 4.0, 50.0]},
    "mfg": {"north": [120.0, 25.0, 30.0], "south": [20.0, 90.0, 25.0],
            "east": [15.0, 20.0, 110.0]},
    "srv": {"north": [150.0, 5.0, 5.0], "south": [4.0, 120.0, 4.0], "east": [3.0, 3.0, 130.0]},
}
#: Ad valorem tariff on the c.i.f. value: TARIFF[sector][destination][origin].
TARIFF = {
    "agr": {"north": [0.0, 0.15, 0.10], "south": [0.12, 0.0, 0.20], "east": [0.08, 0.10, 0.0]},
    "mfg": {"north": [0.0, 0.06, 0.10], "south": [0.08, 0.0, 0.12], "east": [0.05, 0.07, 0.0]},
    "srv": {"north": [0.0, 0.0, 0.02], "south": [0.03, 0.0, 0.0], "east": [0.0, 0.01, 0.0]},
}
#: Intermediate purchases (tariff-inclusive composite values):
#: INTERMEDIATE[region][using sector] = purchases of [agr, mfg, srv].
INTERMEDIATE = {
    "north": {"agr": [5.0, 7.0, 4.0], "mfg": [12.0, 46.0, 19.0], "srv": [3.0, 16.0, 31.0]},
    "south": {"agr": [7.0, 10.0, 6.0], "mfg": [11.0, 40.0, 16.0], "srv": [3.0, 13.0, 26.0]},
    "east": {"agr": [6.0, 9.0, 5.0], "mfg": [13.0, 50.0, 20.0], "srv": [3.0, 14.0, 28.0]},
}
#: Production tax rate on gross cost (government configuration only).
PRODUCTION_TAX = {"north": [0.02, 0.04, 0.03], "south": [0.01, 0.05, 0.02],
                  "east": [0.02, 0.03, 0.04]}
#: Labour share of value added (capital gets the rest).
LABOUR_SHARE = {"north": [0.60, 0.55, 0.65], "south": [0.70, 0.60, 0.65],
                "east": [0.65, 0.50, 0.60]}
#: Household savings rate out of household income.
SAVINGS_RATE = {"north": 0.20, "south": 0.25, "east": 0.30}
#: Sector shares of government and of investment spending.
GOVERNMENT_SHARE = {"north": [0.05, 0.20, 0.75], "south": [0.05, 0.25, 0.70],
                    "east": [0.05, 0.20, 0.75]}
INVESTMENT_SHARE = {"north": [0.02, 0.60, 0.38], "south": [0.03, 0.55, 0.42],
                    "east": [0.02, 0.65, 0.33]}
#: Armington / CES elasticities and the Pareto shape (used where a sector is melitz).
SIGMA = {"agr": 4.0, "mfg": 3.8, "srv": 3.0}
PARETO_K = {"agr": 4.2, "mfg": 4.6, "srv": 4.0}
#: Calibration target of melitz sectors: share of entrants producing for home.
PRODUCER_SHARE = 0.5


def _by_sector(table) -> np.ndarray:
    """TABLE[sector][destination] -> array (destination, origin, sector)."""
    return np.stack([np.array([table[s][n] for n in REGIONS]) for s in SECTORS], axis=2)


@dataclass
class Benchmark:
    """Completed, balanced benchmark flows and calibrated shares (arrays in label order).

    Index letters: ``n`` destination / spending region, ``i`` origin /
    producing region, ``s`` sector, ``u`` input sector, ``f`` factor.
    """

    government: bool
    savings: bool
    trade: np.ndarray            # X[n,i,s]
    tariff: np.ndarray           # t[n,i,s]
    tau: np.ndarray              # tau[n,i,s] (1: no iceberg cost in the SAM)
    intermediate: np.ndarray     # Z[i,s,u]
    ptax_rate: np.ndarray        # tp[i,s]
    labour_share: np.ndarray     # of value added, [i,s]
    savings_rate: np.ndarray     # sr[n]
    gov_share: np.ndarray        # [n,s]
    inv_share: np.ndarray        # [n,s]
    sigma: np.ndarray            # [s]
    k: np.ndarray                # [s]
    # completed accounts
    expenditure: np.ndarray = field(init=False)    # E[n,s] = sum_i (1+t) X
    output: np.ndarray = field(init=False)         # c Y [i,s] = sum_n X
    ptax: np.ndarray = field(init=False)           # [i,s]
    value_added: np.ndarray = field(init=False)    # [i,s,f]
    tariff_revenue: np.ndarray = field(init=False)  # [n,s]
    deficit: np.ndarray = field(init=False)        # [n]
    household_income: np.ndarray = field(init=False)
    household_savings: np.ndarray = field(init=False)
    gov_income: np.ndarray = field(init=False)
    investment: np.ndarray = field(init=False)
    consumption: np.ndarray = field(init=False)    # [n,s]
    # calibrated parameters
    alpha: np.ndarray = field(init=False)          # [i,s,f] factor cost shares
    gamma: np.ndarray = field(init=False)          # [i,s,u] input cost shares
    scale: np.ndarray = field(init=False)          # A[i,s]
    beta: np.ndarray = field(init=False)           # [n,s]
    endowment: np.ndarray = field(init=False)      # [i,f]
    armington_weight: np.ndarray = field(init=False)  # a[n,i,s]

    def __post_init__(self):
        X, t = self.trade, self.tariff
        if not self.government:
            self.ptax_rate = np.zeros_like(self.ptax_rate)
        self.expenditure = ((1 + t) * X).sum(axis=1)
        self.output = X.sum(axis=0)
        self.ptax = self.ptax_rate / (1 + self.ptax_rate) * self.output
        va = self.output - self.intermediate.sum(axis=2) - self.ptax
        if (va <= 0).any():
            raise ValueError("benchmark: value added must be positive in every (region, sector)")
        self.value_added = np.stack([va * self.labour_share, va * (1 - self.labour_share)], axis=2)
        self.tariff_revenue = (t * X).sum(axis=1)
        self.deficit = X.sum(axis=(1, 2)) - X.sum(axis=(0, 2))  # imports - exports
        factor_income = self.value_added.sum(axis=(1, 2))
        self.household_income = factor_income.copy()
        if self.government:
            self.gov_income = self.tariff_revenue.sum(axis=1) + self.ptax.sum(axis=1)
        else:
            self.gov_income = np.zeros(len(REGIONS))
            self.household_income += self.tariff_revenue.sum(axis=1) + self.ptax.sum(axis=1)
        if self.savings:
            self.household_savings = self.savings_rate * self.household_income
            self.investment = self.household_savings + self.deficit
        else:
            self.savings_rate = np.zeros_like(self.savings_rate)
            self.household_savings = np.zeros(len(REGIONS))
            self.investment = np.zeros(len(REGIONS))
            self.household_income += self.deficit
        final = self.expenditure - self.intermediate.sum(axis=1)    # [n,s]
        self.consumption = (final - self.gov_share * self.gov_income[:, None]
                            - self.inv_share * self.investment[:, None])
        if (self.consumption <= 0).any():
            raise ValueError("benchmark: household consumption must be positive everywhere")
        # calibration
        cost = self.output / (1 + self.ptax_rate)          # gross cost net of production tax
        self.alpha = self.value_added / cost[:, :, None]
        self.gamma = self.intermediate / cost[:, :, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            la = np.where(self.alpha > 0, self.alpha * np.log(self.alpha), 0.0).sum(axis=2)
            lg = np.where(self.gamma > 0, self.gamma * np.log(self.gamma), 0.0).sum(axis=2)
        self.scale = (1 + self.ptax_rate) * np.exp(-la - lg)   # c = 1 at unit prices
        self.beta = self.consumption / self.consumption.sum(axis=1, keepdims=True)
        self.endowment = self.value_added.sum(axis=1)
        s = self.sigma[None, None, :]
        self.armington_weight = X / self.expenditure[:, None, :] * (1 + t) ** s \
            * self.tau ** (s - 1)
        self.check_balance()

    # -------------------------------------------------------------- the SAM
    def sam(self) -> tuple[list[str], np.ndarray]:
        """The social accounting matrix: ``sam[row, col]`` is a payment from ``col`` to ``row``.

        Accounts per region: activities ``act.<s>``, commodities (composites)
        ``com.<s>``, factors, household, government, savings-investment; plus
        ``world.<r>`` (the rest of the world as seen by region r: r's imports
        and exports at producer prices, and foreign savings).
        """
        R, S, F = REGIONS, SECTORS, FACTORS
        acc = []
        for r in R:
            acc += [f"{r}.act.{s}" for s in S] + [f"{r}.com.{s}" for s in S]
            acc += [f"{r}.{f}" for f in F] + [f"{r}.hh", f"{r}.gov", f"{r}.inv", f"{r}.world"]
        pos = {a: j for j, a in enumerate(acc)}
        M = np.zeros((len(acc), len(acc)))

        def pay(frm, to, v):
            M[pos[to], pos[frm]] += v

        for a, r in enumerate(R):
            for j, s in enumerate(S):
                # commodities buy domestic varieties and imports, pay tariffs
                pay(f"{r}.com.{s}", f"{r}.act.{s}", self.trade[a, a, j])
                for b, o in enumerate(R):
                    if b != a:
                        pay(f"{r}.com.{s}", f"{r}.world", self.trade[a, b, j])
                        pay(f"{o}.world", f"{o}.act.{s}", self.trade[a, b, j])
                pay(f"{r}.com.{s}", f"{r}.gov" if self.government else f"{r}.hh",
                    self.tariff_revenue[a, j])
                # activities buy inputs, factors, pay production tax
                for u, su in enumerate(S):
                    pay(f"{r}.act.{s}", f"{r}.com.{su}", self.intermediate[a, j, u])
                for g, f in enumerate(F):
                    pay(f"{r}.act.{s}", f"{r}.{f}", self.value_added[a, j, g])
                pay(f"{r}.act.{s}", f"{r}.gov" if self.government else f"{r}.hh", self.ptax[a, j])
                # final demand
                pay(f"{r}.hh", f"{r}.com.{s}", self.consumption[a, j])
                pay(f"{r}.gov", f"{r}.com.{s}", self.gov_share[a, j] * self.gov_income[a])
                pay(f"{r}.inv", f"{r}.com.{s}", self.inv_share[a, j] * self.investment[a])
            for g, f in enumerate(F):
                pay(f"{r}.{f}", f"{r}.hh", self.value_added[a, :, g].sum())
            pay(f"{r}.hh", f"{r}.inv", self.household_savings[a])
            # foreign savings: the world account of r finances r's deficit (a surplus
            # region lends to the world instead)
            home = f"{r}.inv" if self.savings else f"{r}.hh"
            if self.deficit[a] >= 0:
                pay(f"{r}.world", home, self.deficit[a])
            else:
                pay(home, f"{r}.world", -self.deficit[a])
        return acc, M

    def check_balance(self, tol: float = 1e-9) -> None:
        """Every account's receipts (row sum) equal its payments (column sum).

        ``world.<r>`` receives r's imports, pays r's exports and finances r's
        deficit, so it balances too; the deficits sum to zero over regions.
        """
        acc, M = self.sam()
        gap = M.sum(axis=1) - M.sum(axis=0)
        bad = [(acc[j], gap[j]) for j in range(len(acc))
               if abs(gap[j]) > tol * max(1.0, M[j].sum())]
        if bad:
            raise ValueError("benchmark SAM does not balance: " + ", ".join(
                f"{a}: receipts - payments = {g:.3g}" for a, g in bad))


def benchmark(*, government: bool = True, savings: bool = True) -> Benchmark:
    """The completed, balanced benchmark for a configuration of the host."""
    return Benchmark(
        government=government, savings=savings,
        trade=_by_sector(TRADE), tariff=_by_sector(TARIFF),
        tau=np.ones((len(REGIONS), len(REGIONS), len(SECTORS))),
        intermediate=np.array([[INTERMEDIATE[r][s] for s in SECTORS] for r in REGIONS]),
        ptax_rate=np.array([PRODUCTION_TAX[r] for r in REGIONS]),
        labour_share=np.array([LABOUR_SHARE[r] for r in REGIONS]),
        savings_rate=np.array([SAVINGS_RATE[r] for r in REGIONS]),
        gov_share=np.array([GOVERNMENT_SHARE[r] for r in REGIONS]),
        inv_share=np.array([INVESTMENT_SHARE[r] for r in REGIONS]),
        sigma=np.array([SIGMA[s] for s in SECTORS]),
        k=np.array([PARETO_K[s] for s in SECTORS]),
    )


# ---------------------------------------------------------------- the model
def sector_calibrations(bench: Benchmark, sector_structures: dict[str, str],
                        producer_share: float = PRODUCER_SHARE, delta: float = 1.0) -> dict:
    """Block calibration of every switched sector, reproducing the benchmark at unit prices."""
    out = {}
    R = list(REGIONS)
    for s, ms in sector_structures.items():
        j = SECTORS.index(s)
        X, t, tau = bench.trade[:, :, j], bench.tariff[:, :, j], bench.tau[:, :, j]
        if ms == "armington":
            opts = {"tau": tau}
        elif ms == "melitz":
            opts = {"tau": tau, "producer_share": producer_share}
        else:
            opts = {"tau_domestic": tau.diagonal()}
        out[s] = calibrate_sector(ms, R, float(bench.sigma[j]), X, t, k=float(bench.k[j]),
                                  delta=delta, expenditure=bench.expenditure[:, j], **opts)
    return out


def build_host(sector_structures: dict[str, str] | None = None, *, government: bool = True,
               savings: bool = True, wiring: str = "connect",
               producer_share: float = PRODUCER_SHARE, delta: float = 1.0,
               bench: Benchmark | None = None) -> pyo.ConcreteModel:
    """Declare the host model, initialised at its benchmark (every price one).

    ``sector_structures`` maps sectors to a block market structure; those
    sectors' trade is described by :class:`cge.HeterogeneousFirmSector`
    instead of the host's Armington equations. ``wiring`` is ``"connect"``
    (:func:`cge.embedding.connect`) or ``"arcs"`` (Ports, Arcs and
    ``network.expand_arcs``).
    """
    sector_structures = dict(sector_structures or {})
    for s, ms in sector_structures.items():
        if s not in SECTORS:
            raise ValueError(f"sector_structures: unknown sector {s!r}; sectors are {SECTORS}")
        if ms not in MARKET_STRUCTURES:
            raise ValueError(f"sector_structures[{s}]: {ms!r} is not one of {MARKET_STRUCTURES}")
    if wiring not in ("connect", "arcs"):
        raise ValueError(f"wiring must be 'connect' or 'arcs', got {wiring!r}")
    if bench is None:
        bench = benchmark(government=government, savings=savings)
    elif (bench.government, bench.savings) != (government, savings):
        raise ValueError("bench was completed for another configuration")

    R, S, F = REGIONS, SECTORS, FACTORS
    ri = {r: a for a, r in enumerate(R)}
    si = {s: j for j, s in enumerate(S)}
    fi = {f: g for g, f in enumerate(F)}
    native = [s for s in S if s not in sector_structures]
    switched = [s for s in S if s in sector_structures]

    m = pyo.ConcreteModel(name="embedded_host")
    m.bench = bench
    m.sector_structures = sector_structures
    m.R = pyo.Set(initialize=R, ordered=True)
    m.S = pyo.Set(initialize=S, ordered=True)
    m.F = pyo.Set(initialize=F, ordered=True)
    m.native = pyo.Set(initialize=native, ordered=True,
                       doc="sectors with the host's Armington trade")
    m.switched = pyo.Set(initialize=switched, ordered=True, doc="sectors with a sector block")

    # ------------------------------------------------------------ parameters
    def p3(arr, *sets):
        labels = [list(x) for x in sets]
        return {tuple(labels[d][j] for d, j in enumerate(idx)): float(arr[idx])
                for idx in np.ndindex(arr.shape)}

    mut = {"mutable": True, "within": pyo.Reals}
    m.tariff = pyo.Param(m.R, m.R, m.S, initialize=p3(bench.tariff, R, R, S), **mut)
    m.tau = pyo.Param(m.R, m.R, m.S, initialize=p3(bench.tau, R, R, S), **mut)
    m.ptax_rate = pyo.Param(m.R, m.S, initialize=p3(bench.ptax_rate, R, S), **mut)
    m.scale = pyo.Param(m.R, m.S, initialize=p3(bench.scale, R, S), **mut)
    m.alpha = pyo.Param(m.R, m.S, m.F, initialize=p3(bench.alpha, R, S, F), **mut)
    m.gamma = pyo.Param(m.R, m.S, m.S, initialize=p3(bench.gamma, R, S, S), **mut)
    m.beta = pyo.Param(m.R, m.S, initialize=p3(bench.beta, R, S), **mut)
    m.gov_share = pyo.Param(m.R, m.S, initialize=p3(bench.gov_share, R, S), **mut)
    m.inv_share = pyo.Param(m.R, m.S, initialize=p3(bench.inv_share, R, S), **mut)
    m.savings_rate = pyo.Param(m.R, initialize=p3(bench.savings_rate, R), **mut)
    m.endowment = pyo.Param(m.R, m.F, initialize=p3(bench.endowment, R, F), **mut)
    m.deficit = pyo.Param(m.R, initialize=p3(bench.deficit, R), **mut)
    m.armington_weight = pyo.Param(m.R, m.R, m.S, initialize=p3(bench.armington_weight, R, R, S),
                                   **mut)
    m.numeraire_value = pyo.Param(initialize=1.0, **mut)
    sigma = {s: float(bench.sigma[si[s]]) for s in S}

    # ------------------------------------------------------------- variables
    E0, X0 = bench.expenditure, bench.trade
    m.w = pyo.Var(m.R, m.F, initialize=1.0, doc="factor price")
    m.c = pyo.Var(m.R, m.S, initialize=1.0, doc="unit cost incl. production tax (= producer price)")
    m.P = pyo.Var(m.R, m.S, initialize=1.0, doc="price of the sector composite")
    m.E = pyo.Var(m.R, m.S, initialize=lambda m, n, s: E0[ri[n], si[s]],
                  doc="spending on the sector composite, tariff-inclusive")
    m.Y = pyo.Var(m.R, m.S, initialize=lambda m, i, s: bench.output[ri[i], si[s]],
                  doc="gross output (= composite input used)")
    m.X = pyo.Var(m.R, m.R, m.S, initialize=lambda m, n, i, s: X0[ri[n], ri[i], si[s]],
                  doc="bilateral trade at producer prices")
    m.TR = pyo.Var(m.R, m.S, initialize=lambda m, n, s: bench.tariff_revenue[ri[n], si[s]],
                   doc="tariff revenue")
    m.PI = pyo.Var(m.R, m.switched, initialize=0.0, doc="profits of block sectors")
    m.YH = pyo.Var(m.R, initialize=lambda m, n: bench.household_income[ri[n]],
                   doc="household income")
    if government:
        m.GOV = pyo.Var(m.R, initialize=lambda m, n: bench.gov_income[ri[n]],
                        doc="government income = spending")
    if savings:
        m.INV = pyo.Var(m.R, initialize=lambda m, n: bench.investment[ri[n]],
                        doc="investment = household + foreign savings")

    factors_of = {(i, s): [f for f in F if bench.alpha[ri[i], si[s], fi[f]] > 0]
                  for i in R for s in S}
    inputs_of = {(i, s): [u for u in S if bench.gamma[ri[i], si[s], si[u]] > 0]
                 for i in R for s in S}

    def cost_net(i, s):
        """Gross cost net of production tax: what factors and inputs receive."""
        return m.c[i, s] * m.Y[i, s] / (1 + m.ptax_rate[i, s])

    def ptax_revenue(n):
        return sum(m.ptax_rate[n, s] * cost_net(n, s) for s in S)

    # ------------------------------------------------------------- equations
    @m.Constraint(m.R, m.S)
    def unit_cost(m, i, s):
        """c_is = (1+tp_is)/A_is prod_f (w_if/alpha_isf)^alpha prod_u (P_iu/gamma_isu)^gamma."""
        expr = (1 + m.ptax_rate[i, s]) / m.scale[i, s]
        for f in factors_of[i, s]:
            expr = expr * (m.w[i, f] / m.alpha[i, s, f]) ** m.alpha[i, s, f]
        for u in inputs_of[i, s]:
            expr = expr * (m.P[i, u] / m.gamma[i, s, u]) ** m.gamma[i, s, u]
        return m.c[i, s] == expr

    @m.Constraint(m.R, m.F)
    def factor_market(m, i, f):
        """sum_s alpha_isf c_is Y_is / (1+tp_is) = w_if L_if (relative form)."""
        demand = sum(m.alpha[i, s, f] * cost_net(i, s) for s in S if f in factors_of[i, s])
        return demand / m.endowment[i, f] == m.w[i, f]

    def consumption_budget(n):
        return (1 - m.savings_rate[n]) * m.YH[n] if savings else m.YH[n]

    @m.Constraint(m.R, m.S)
    def absorption(m, n, s):
        """E_ns = beta C_n + gov_share G_n + inv_share I_n + sum_u gamma_nus cost_nu."""
        total = m.beta[n, s] * consumption_budget(n)
        if government:
            total += m.gov_share[n, s] * m.GOV[n]
        if savings:
            total += m.inv_share[n, s] * m.INV[n]
        total += sum(m.gamma[n, u, s] * cost_net(n, u) for u in S if s in inputs_of[n, u])
        return m.E[n, s] == total

    @m.Constraint(m.R)
    def household_income(m, n):
        """Factor income and profits (+ taxes and tariffs without a government, + the
        deficit without an investment account)."""
        total = sum(m.w[n, f] * m.endowment[n, f] for f in F)
        total += sum(m.PI[n, s] for s in switched)
        if not government:
            total += sum(m.TR[n, s] for s in S) + ptax_revenue(n)
        if not savings:
            total += m.deficit[n] * m.numeraire_value
        return m.YH[n] == total

    if government:
        @m.Constraint(m.R)
        def government_income(m, n):
            """G_n = tariffs + production taxes."""
            return m.GOV[n] == sum(m.TR[n, s] for s in S) + ptax_revenue(n)

    if savings:
        @m.Constraint(m.R)
        def savings_investment(m, n):
            """I_n = sr_n YH_n + D_n (foreign savings in numeraire units)."""
            return m.INV[n] == m.savings_rate[n] * m.YH[n] + m.deficit[n] * m.numeraire_value

    m.numeraire = pyo.Constraint(expr=m.w[NUMERAIRE] == m.numeraire_value,
                                 doc=f"numeraire: wage of {NUMERAIRE[1]} in {NUMERAIRE[0]}")
    m.factor_market[NUMERAIRE].deactivate()
    m.walras_market = pyo.Reference(m.factor_market[NUMERAIRE])

    # ------------------------------------------------- the host's Armington
    def gross_price(n, i, s):
        return (1 + m.tariff[n, i, s]) * m.tau[n, i, s] * m.c[i, s]

    @m.Constraint(m.R, m.native)
    def armington_price(m, n, s):
        """P_ns = (sum_i a_nis ((1+t) tau c_is)^(1-sigma))^(1/(1-sigma))."""
        sg = sigma[s]
        return m.P[n, s] == sum(m.armington_weight[n, i, s] * gross_price(n, i, s) ** (1 - sg)
                                for i in R) ** (1 / (1 - sg))

    @m.Constraint(m.R, m.R, m.native)
    def armington_trade(m, n, i, s):
        """X_nis = a_nis (1+t)^-sigma (tau c_is)^(1-sigma) P_ns^(sigma-1) E_ns."""
        sg = sigma[s]
        return m.X[n, i, s] == (m.armington_weight[n, i, s] * (1 + m.tariff[n, i, s]) ** (-sg)
                                * (m.tau[n, i, s] * m.c[i, s]) ** (1 - sg)
                                * m.P[n, s] ** (sg - 1) * m.E[n, s])

    @m.Constraint(m.R, m.native)
    def output_value(m, i, s):
        """c_is Y_is = sum_n X_nis (zero profit)."""
        return m.c[i, s] * m.Y[i, s] == sum(m.X[n, i, s] for n in R)

    @m.Constraint(m.R, m.native)
    def tariff_revenue(m, n, s):
        """TR_ns = sum_i t_nis X_nis."""
        return m.TR[n, s] == sum(m.tariff[n, i, s] * m.X[n, i, s] for i in R)

    # ------------------------------------------------------ embedded sectors
    calibs = sector_calibrations(bench, sector_structures, producer_share, delta)
    m.calibrations = calibs
    if switched:
        m.trade_block = HeterogeneousFirmSector(m.switched, config=lambda s: calibs[s].config())
        for s in switched:
            initialize_block(m.trade_block[s], calibs[s].values)
            if wiring == "connect":
                connect(m, m.trade_block[s], name=f"link_{s}",
                        expenditure=lambda n, s=s: m.E[n, s],
                        input_price=lambda i, s=s: m.c[i, s],
                        price_index=lambda n, s=s: m.P[n, s],
                        trade_value=lambda n, i, s=s: m.X[n, i, s],
                        input_demand=lambda i, s=s: m.Y[i, s],
                        tariff_revenue=lambda n, s=s: m.TR[n, s],
                        profit=lambda i, s=s: m.PI[i, s])
            else:
                ports = pyo.Block()
                m.add_component(f"ports_{s}", ports)
                ports.E = pyo.Reference(m.E[:, s])
                ports.c = pyo.Reference(m.c[:, s])
                ports.P = pyo.Reference(m.P[:, s])
                ports.X = pyo.Reference(m.X[:, :, s])
                ports.Y = pyo.Reference(m.Y[:, s])
                ports.TR = pyo.Reference(m.TR[:, s])
                ports.PI = pyo.Reference(m.PI[:, s])
                ports.to_sector = Port(initialize={"expenditure": ports.E, "input_price": ports.c})
                ports.from_sector = Port(initialize={
                    "price_index": ports.P, "trade_value": ports.X, "input_demand": ports.Y,
                    "tariff_revenue": ports.TR, "profit": ports.PI})
                connect_arcs(m, m.trade_block[s], source=ports.to_sector,
                             destination=ports.from_sector, name=f"arc_{s}")
        if wiring == "arcs":
            expand_arcs(m)

    # --------------------------------------------------------------- welfare
    m.cpi = pyo.Expression(m.R, rule=lambda m, n: pyo.prod(
        m.P[n, s] ** m.beta[n, s] for s in S),
        doc="consumer price index prod_s P_ns^beta_ns (the unit expenditure function "
            "normalised to 1 at unit prices, as in cge)")
    m.welfare = pyo.Expression(m.R, rule=lambda m, n: consumption_budget(n) / m.cpi[n],
                               doc="household utility = real consumption")
    return m


# ------------------------------------------------------------------ solving
WALRAS_TOL = 1e-8


def set_tariffs(m: pyo.ConcreteModel, tariff: np.ndarray) -> None:
    """Set tariff[n, i, s] in the host and in every sector block."""
    R, S = REGIONS, SECTORS
    for a, n in enumerate(R):
        for b, i in enumerate(R):
            for j, s in enumerate(S):
                m.tariff[n, i, s] = float(tariff[a, b, j])
                if s in m.switched and (n, i) in m.trade_block[s].routes:
                    m.trade_block[s].tariff[n, i] = float(tariff[a, b, j])


def walras_residual(m) -> float:
    con = m.factor_market[NUMERAIRE]
    return float(pyo.value(con.body) - pyo.value(con.upper))


def solve(m: pyo.ConcreteModel, *, solver: str | None = None, options: dict | None = None):
    """Check the wiring, solve with IPOPT from the current point, verify Walras' law."""
    check_wiring(m)
    stats = run_ipopt(m, solver, options)
    if not stats.success:
        raise SolveError("the host model did not solve", diagnose(m, stats))
    walras = walras_residual(m)
    if abs(walras) > WALRAS_TOL:
        raise SolveError(f"Walras' law fails in the host (north labour market: {walras:.3e})",
                         diagnose(m, stats))
    return stats


def results(m: pyo.ConcreteModel) -> dict[str, np.ndarray]:
    """Equilibrium values as arrays in label order (prices, flows, incomes, cutoffs)."""
    R, S, F = REGIONS, SECTORS, FACTORS
    v = pyo.value
    out = {
        "factor_price": np.array([[v(m.w[i, f]) for f in F] for i in R]),
        "price_index": np.array([[v(m.P[n, s]) for s in S] for n in R]),
        "expenditure": np.array([[v(m.E[n, s]) for s in S] for n in R]),
        "unit_cost": np.array([[v(m.c[i, s]) for s in S] for i in R]),
        "output_value": np.array([[v(m.c[i, s] * m.Y[i, s]) for s in S] for i in R]),
        "trade_value": np.array([[[v(m.X[n, i, s]) for s in S] for i in R] for n in R]),
        "tariff_revenue": np.array([[v(m.TR[n, s]) for s in S] for n in R]),
        "household_income": np.array([v(m.YH[n]) for n in R]),
        "welfare": np.array([v(m.welfare[n]) for n in R]),
    }
    for s in m.switched:
        blk = m.trade_block[s]
        if blk.has_firms:
            out[f"entry_mass.{s}"] = np.array([v(blk.entry_mass[i]) for i in R])
        if blk.is_melitz:
            out[f"cutoff.{s}"] = np.array([[v(blk.cutoff[n, i]) for i in R] for n in R])
    return out


# ------------------------------------------------- the same economy in cge
def to_primitives(bench: Benchmark, sector_structures: dict[str, str] | None = None, *,
                  producer_share: float = PRODUCER_SHARE, delta: float = 1.0):
    """The host economy as :class:`cge.Primitives` (needs ``government=False, savings=False``).

    Our model's composite input has no scale parameter, so its unit cost is
    :math:`A_{is}` times the host's: productivity (``phi_min``) is multiplied
    by :math:`A_{is}` and fixed and entry costs (in units of the composite
    input) divided by it; every value, price index, factor price and mass of
    firms is then the host's.
    """
    from cge import Primitives

    if bench.government or bench.savings:
        raise ValueError("to_primitives: our model has no government or investment account; "
                         "use benchmark(government=False, savings=False)")
    sector_structures = dict(sector_structures or {})
    calibs = sector_calibrations(bench, sector_structures, producer_share, delta)
    R, S = REGIONS, SECTORS
    nR, nS = len(R), len(S)
    A = bench.scale
    phi_min = A.copy()
    f = np.ones((nR, nR, nS))
    f_e = np.ones((nR, nS))
    tau = bench.tau.copy()
    pref = bench.armington_weight.copy()
    structure = {}
    for j, s in enumerate(S):
        ms = sector_structures.get(s, "armington")
        structure[s] = ms
        if s not in calibs:
            continue
        cal = calibs[s]
        phi_min[:, j] = A[:, j] * cal.array("phi_min")
        tau[:, :, j] = cal.array("tau")
        if ms == "armington":
            pref[:, :, j] = cal.array("pref_weight")
        else:  # the block's calibration puts the whole friction of a firm sector into tau
            pref[:, :, j] = 1.0
        if ms in ("melitz", "krugman"):
            f_e[:, j] = cal.array("f_e") / A[:, j]
        if ms == "melitz":
            f[:, :, j] = cal.array("f") / A[None, :, j]
    return Primitives.from_mapping({
        "name": "embedded_host",
        "regions": list(R), "sectors": list(S), "factors": list(FACTORS),
        "market_structure": structure,
        "sigma": bench.sigma.tolist(), "k": bench.k.tolist(), "delta": delta,
        "beta": bench.beta.tolist(), "endowment": bench.endowment.tolist(),
        "factor_share": bench.alpha.tolist(), "input_share": bench.gamma.tolist(),
        "phi_min": phi_min.tolist(), "f": f.tolist(), "f_e": f_e.tolist(),
        "tau": tau.tolist(), "tariff": bench.tariff.tolist(), "pref_weight": pref.tolist(),
        "deficit": bench.deficit.tolist(),
        "numeraire": {"factor": NUMERAIRE[1], "region": NUMERAIRE[0]},
        # the host holds foreign savings fixed in units of its numeraire
        "closure": {"deficit": "numeraire"},
    })


def main() -> None:  # pragma: no cover - a demonstration
    for structures in ({}, {"mfg": "melitz"}):
        m = build_host(structures)
        report = check_wiring(m)
        base = solve(m)
        before = results(m)
        set_tariffs(m, 0.9 * m.bench.tariff)
        cut = solve(m)
        after = results(m)
        label = structures or "all Armington (host)"
        print(f"{label}: {report.n_variables} unknowns; benchmark {base.iterations} iterations, "
              f"tariff cut {cut.iterations} iterations")
        for a, r in enumerate(REGIONS):
            change = after["welfare"][a] / before["welfare"][a] - 1
            print(f"  {r:6s} welfare {100 * change:+.4f}%")


if __name__ == "__main__":  # pragma: no cover
    main()
