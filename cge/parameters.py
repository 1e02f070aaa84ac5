"""The one table of model parameters: symbol, dimensions, units, admissible range, source.

Every primitive the model reads is declared here once. :mod:`cge.primitives`
parses user input against this table, :mod:`cge.checks` validates ranges from
it, and ``docs/model.md`` reproduces it. Notation follows Melitz and Redding
(2014), "Heterogeneous Firms and Trade", Handbook of International Economics 4
(MR below), with ``n`` the destination, ``i`` the origin, ``s`` (MR: ``j``) the
sector and ``f`` a primary factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Dimension names. ``destination`` and ``origin`` both range over regions;
# ``input`` ranges over sectors (the supplying sector of an intermediate input).
REGION, DESTINATION, ORIGIN = "region", "destination", "origin"
SECTOR, INPUT = "sector", "input"
FACTOR = "factor"
#: ``agent`` ranges over the final-demand agents :data:`AGENTS` (fixed labels).
AGENT = "agent"
AGENTS = ("household", "government", "investment")

#: Which label set each dimension draws from.
LABEL_SET = {
    REGION: "regions",
    DESTINATION: "regions",
    ORIGIN: "regions",
    SECTOR: "sectors",
    INPUT: "sectors",
    FACTOR: "factors",
    AGENT: "agents",
}


@dataclass(frozen=True)
class ParameterSpec:
    """One primitive of the model.

    ``lower``/``upper`` are admissible bounds; ``strict`` makes the lower bound
    exclusive. Cross-parameter rules (``k > sigma - 1``, shares summing to one)
    live in :mod:`cge.checks`. An ``optional`` parameter may be left out: its
    entries are then NaN ("not given"), and only the closures that use it
    (:data:`GOVERNMENT_CLOSURES`, :data:`INVESTMENT_CLOSURES`) require it.
    """

    name: str
    symbol: str
    dims: tuple[str, ...]
    units: str
    default: float | None
    lower: float = -math.inf
    upper: float = math.inf
    strict: bool = False
    allow_inf: bool = False
    description: str = ""
    source: str = ""
    optional: bool = False

    @property
    def admissible(self) -> str:
        lo = "(" if self.strict else "["
        hi = "]" if (self.allow_inf or not math.isinf(self.upper)) else ")"
        up = "inf" if math.isinf(self.upper) else f"{self.upper:g}"
        return f"{lo}{self.lower:g}, {up}{hi}"


PARAMETERS: dict[str, ParameterSpec] = {
    p.name: p
    for p in (
        ParameterSpec(
            "sigma", r"\sigma_s", (SECTOR,), "1", None, 1.0, strict=True,
            description="elasticity of substitution between varieties of sector s",
            source="MR eq. (2); typical 3-8 (Broda-Weinstein)",
        ),
        ParameterSpec(
            "k", "k_s", (SECTOR,), "1", 4.0, 0.0, strict=True,
            description="Pareto shape of firm productivity; must exceed sigma_s - 1 "
            "(melitz sectors); equals the partial trade elasticity",
            source="MR section 6; Chaney (2008); typical 4-8",
        ),
        ParameterSpec(
            "delta", r"\delta_s", (SECTOR,), "1/period", 1.0, 0.0, 1.0, strict=True,
            description="exogenous exit rate of firms (steady state as in Melitz 2003); "
            "1 is the static model",
            source="Redding's Melitz lecture (seed 004); Melitz (2003)",
        ),
        ParameterSpec(
            "beta", r"\beta_{ns}", (REGION, SECTOR), "share", None, 0.0, 1.0,
            description="Cobb-Douglas share of sector s in final expenditure of region n",
            source="MR eq. (1); from SAM final demand",
        ),
        ParameterSpec(
            "endowment", r"\bar L_{nf}", (REGION, FACTOR), "factor units", None, 0.0,
            strict=True,
            description="supply of primary factor f in region n (immobile across regions, "
            "mobile across sectors)",
            source="data (population, capital stock)",
        ),
        ParameterSpec(
            "factor_share", r"\alpha_{isf}", (REGION, SECTOR, FACTOR), "share", None,
            0.0, 1.0,
            description="Cobb-Douglas share of factor f in the composite input of (i,s)",
            source="SAM value added",
        ),
        ParameterSpec(
            "input_share", r"\gamma_{isr}", (REGION, SECTOR, INPUT), "share", 0.0,
            0.0, 1.0,
            description="Cobb-Douglas share of the sector-r composite of region i in the "
            "composite input of (i,s) (input-output linkages)",
            source="SAM intermediate use",
        ),
        ParameterSpec(
            "phi_min", r"\varphi_{\min,is}", (REGION, SECTOR), "productivity", 1.0, 0.0,
            strict=True,
            description="Pareto lower bound of productivity (melitz); productivity "
            "(krugman, armington)",
            source="MR section 6; a normalisation in calibration",
        ),
        ParameterSpec(
            "f", "f_{nis}", (DESTINATION, ORIGIN, SECTOR), "units of origin composite input",
            1.0, 0.0, strict=True,
            description="per-period fixed cost for a firm of (i,s) to serve market n "
            "(melitz); paid in origin i's composite input",
            source="MR eq. (6); calibrated from exporter shares",
        ),
        ParameterSpec(
            "f_e", "f_{E,is}", (REGION, SECTOR), "units of composite input", 1.0, 0.0,
            strict=True,
            description="sunk entry cost (melitz); per-firm fixed cost (krugman)",
            source="MR eq. (5); a normalisation in calibration",
        ),
        ParameterSpec(
            "tau", r"\tau_{nis}", (DESTINATION, ORIGIN, SECTOR), "1", 1.0, 1.0,
            allow_inf=True,
            description="iceberg trade cost: units shipped per unit arriving; inf marks "
            "an inactive (zero-trade) route",
            source="MR eq. (6); gravity estimates",
        ),
        ParameterSpec(
            "tariff", "t_{nis}", (DESTINATION, ORIGIN, SECTOR), "ad valorem rate", 0.0,
            -1.0, strict=True,
            description="ad valorem tariff levied by n on the c.i.f. value of imports "
            "from i; revenue accrues to n's household",
            source="WITS/TRAINS, MAcMap",
        ),
        ParameterSpec(
            "pref_weight", "a_{nis}", (DESTINATION, ORIGIN, SECTOR), "1", 1.0, 0.0,
            strict=True,
            description="CES preference weight (demand shifter) of origin i's varieties in n; "
            "multiplies tau^(1-sigma) under every market structure",
            source="calibrated to trade shares (the part of the trade friction that is not a trade cost)",
        ),
        ParameterSpec(
            "entrants", r"\bar M_{E,is}", (REGION, SECTOR), "mass of firms", 1.0, 0.0,
            strict=True,
            description="exogenous mass of potential entrants when entry is fixed "
            "(Chaney 2008); profits go to the region's household",
            source="Chaney (2008); MR footnote 29",
        ),
        ParameterSpec(
            "production_tax", "t^P_{is}", (REGION, SECTOR), "ad valorem rate", 0.0,
            -1.0, strict=True,
            description="ad valorem net production tax of (i,s) on the value of its composite "
            "input (equivalently on output value; negative: a subsidy); the producer pays "
            "(1+t^P) per unit and the revenue accrues to i's income",
            source="SAM production-tax account / (factor payments + intermediate purchases)",
        ),
        ParameterSpec(
            "cara_alpha", r"\alpha_s", (SECTOR,), "1/quantity", 1.0, 0.0, strict=True,
            description="CARA parameter of the sub-utility of cara sectors, "
            "int (1 - exp(-alpha q)) d omega (Behrens-Murata); sets the units of "
            "quantities, so with calibration only its product with phi_min matters",
            source="Behrens, Mion, Murata and Suedekum (seed 000); a normalisation",
        ),
        ParameterSpec(
            "linear_alpha", r"\alpha_s", (SECTOR,), "outside good per unit of variety", 1.0,
            0.0, strict=True,
            description="demand intercept of linear sectors (Melitz-Ottaviano, MR eq. 26: "
            "p/P_0 = alpha - gamma q - eta Q); the choke price stays below alpha P_0",
            source="MR section 8; calibrated from the benchmark (calibration.linear)",
        ),
        ParameterSpec(
            "linear_gamma", r"\gamma_s", (SECTOR,), "outside good per unit of variety squared",
            1.0, 0.0, strict=True,
            description="product differentiation of linear sectors (love of variety; 0 would "
            "be perfect substitutes)",
            source="MR section 8; calibrated from the benchmark (calibration.linear)",
        ),
        ParameterSpec(
            "linear_eta", r"\eta_s", (SECTOR,), "outside good per unit of variety squared",
            1.0, 0.0, strict=True,
            description="substitution between the varieties of a linear sector and the outside "
            "good (higher eta: less demand for the sector)",
            source="MR section 8; calibrated from the benchmark (calibration.linear)",
        ),
        ParameterSpec(
            "population", "L_n", (REGION,), "consumers (any unit, e.g. millions)", 1.0, 0.0,
            strict=True,
            description="number of consumers of region n; cara sectors divide the sector's "
            "spending among them (demand is per consumer times L_n), and welfare is also "
            "reported per capita",
            source="data (population); 1 (per-capita units) when not given",
        ),
        ParameterSpec(
            "deficit", "D_n", (REGION,), "numeraire units at the benchmark", 0.0,
            description="trade deficit of region n at the benchmark (sum over n is zero), in "
            "units of the numeraire; the deficit closure (DEFICIT_CLOSURES) says how it is held "
            "in counterfactuals: by default as the benchmark's share of world income",
            source="SAM foreign savings",
        ),
        # ------------------------------------------------ final-demand agents
        # Used only by a non-default closure (Primitives.closure); the default
        # regional household spends beta_ns I_n and needs none of them.
        ParameterSpec(
            "agent_share", r"\omega_{na}", (REGION, AGENT), "share", math.nan, 0.0, 1.0,
            optional=True,
            description="share of agent a (household, government, investment) in the final "
            "spending of region n; sums to 1 over agents. The government's share of income "
            "under the regional_household closure and the savings rate under savings_driven",
            source="SAM final demand by institution (calibration)",
        ),
        ParameterSpec(
            "agent_beta", r"\beta_{nas}", (REGION, AGENT, SECTOR), "share", math.nan, 0.0, 1.0,
            optional=True,
            description="Cobb-Douglas share of sector s in the spending of agent a in region n; "
            "sums to 1 over sectors",
            source="SAM final demand by institution (calibration)",
        ),
        ParameterSpec(
            "real_government", "G_n", (REGION,), "units of the government composite",
            math.nan, 0.0, optional=True,
            description="real government consumption, held fixed under the fixed_real "
            "government closure (0: no government spending)",
            source="SAM government consumption / its price index (calibration)",
        ),
        ParameterSpec(
            "real_investment", "V_n", (REGION,), "units of the investment composite",
            math.nan, 0.0, optional=True,
            description="real investment, held fixed under the investment_driven closure "
            "(0: no investment)",
            source="SAM investment demand / its price index (calibration)",
        ),
    )
}

MARKET_STRUCTURES = ("melitz", "krugman", "armington", "cara", "linear", "outside")
ENTRY_MODES = ("free", "fixed")
#: Closures of final demand (the first of each is the default), see
#: :class:`cge.primitives.Closure`.
GOVERNMENT_CLOSURES = ("regional_household", "fixed_real")
INVESTMENT_CLOSURES = ("savings_driven", "investment_driven")
#: How trade deficits are held in counterfactuals (the first is the default), see
#: :class:`cge.primitives.Closure` and :mod:`cge.deficits`:
#: ``world_income_share`` (each region's deficit stays the benchmark's share of world
#: income), ``numeraire`` (fixed in units of the numeraire) and ``zero_baseline``
#: (deficits first stepped to zero, the shock then applied from that baseline).
DEFICIT_CLOSURES = ("world_income_share", "numeraire", "zero_baseline")
#: Parameters of the final-demand agents (used only by a non-default closure).
AGENT_PARAMETERS = ("agent_share", "agent_beta", "real_government", "real_investment")
