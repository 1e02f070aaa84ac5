r"""The Caliendo and Parro (2015) 1993 data (31 regions x 40 sectors) as a benchmark.

``python -m calibration.caliendo_parro --data ../shared/data/caliendo_parro_2015 -o cp1993.xlsx``
reads the CSV files of the NAFTA dataset of Caliendo and Parro (2015,
"Estimates of the Trade and Welfare Effects of NAFTA", *Review of Economic
Studies* 82(1)), makes them a consistent :class:`~calibration.BenchmarkData`
and writes it as a multi-region SAM workbook in the documented format
(``docs/calibration.md``, section "Caliendo-Parro 1993"). Every change made to
the source numbers is listed in the :class:`CPReport` (and in the workbook's
``adjustments`` sheet); nothing is changed silently.

The data have no licence that allows redistribution (see the dataset's
``SOURCE.md``): nothing built from them is committed to this repository; the
tests read them from the shared data folder.

Steps (:func:`cp_benchmark`):

1. **Read** (:func:`read_cp`): bilateral trade net of tariffs with domestic
   sales on the diagonal, 1993 tariffs, intermediate use, final demand, value
   added and deficits; values in million USD. Regions get ISO 3166 alpha-3
   codes (:data:`REGION_CODES`, ``ROW`` for the rest of the world); sectors
   keep CP's names.
2. **Market structures** (:func:`default_market_structure`): ``melitz`` for
   the manufacturing sectors (Food ... Other) in which every region has
   domestic sales; ``armington`` for the 10 manufacturing sectors in which
   some region sells nothing at home (Petroleum, Chemicals, Basic metals,
   Office, Electrical, Communication, Medical, Auto, Other Transport, Other:
   26 cells, e.g. Office in Ireland or Electrical in Mexico, where CP raised
   gross output to exports), for Agriculture and Mining and for the 20
   non-traded services. Firm sectors need domestic sales in every region,
   and a floor on domestic sales (the alternative, ``domestic_floor``, used
   when a caller forces such a sector to be melitz) leaves the region with
   a negligible share of every market it sells in, which makes the
   free-entry model near-singular there.
3. **Pre-balancing adjustments** (each one reported):

   * negative intermediate use (one cell: Canada, Other -> Basic metals) is
     set to 0;
   * sectors that buy no intermediate inputs (``Private`` everywhere,
     ``Public`` in India and Turkey) get value added equal to output where
     the two differ, so that zero profit holds exactly;
   * zero domestic sales in a firm sector (only with a caller's market
     structures): ``domestic_floor`` (1%) of the cell's gross output is added
     as domestic sales;
   * **placeholder output** (20 non-traded cells with gross output of 1 USD in
     the source, e.g. Computer in China) is kept: it is CP's own floor, and
     the model only needs positive output. The balancing step scales the
     demand for these commodities down to that supply (they cannot be
     imported);
   * deficits are recomputed as imports minus exports of the trade data (the
     source's deficit file agrees to 4e-10 relative; its sum is -14 USD).

4. **Balancing** (:func:`balance_region`): trade, tariffs, value added and
   deficits are held fixed. In each region, intermediate use and final demand
   (the numbers CP derived from input-output coefficients and Cobb-Douglas
   shares floored at zero, which is why market clearing fails by a median
   1.5% per cell) are scaled by RAS (:func:`calibration.balance.ras_balance`)
   on the region's SAM until every account balances: each sector's
   intermediate purchases equal its output minus value added (zero profit),
   and each commodity's intermediate and final buyers pay its
   tariff-inclusive absorption (market clearing). The household's spending
   then equals value added plus tariff revenue plus the deficit. Zeros stay
   zero. Every changed cell is in ``CPReport.adjustments``.
5. **Factors** (:func:`split_value_added`): ``labour``, mobile across
   sectors (CP's only factor), and in each firm sector a sector-specific
   factor ``capital_<sector>`` that receives ``specific_factor_share`` (1/3)
   of the sector's value added. With labour alone, free entry makes the
   supply of a firm sector perfectly elastic at the unit cost, so its size is
   pinned down only by how its own entry moves price indices. Where a region
   has small market shares (e.g. Textile in Norway) the equilibrium is then
   near-singular and a NAFTA shock sends such sectors towards zero; the
   specific factor gives every firm sector an upward-sloping supply curve.
   ``specific_factor_share=0`` gives CP's labour-only economy (the benchmark
   replicates, but counterfactuals may not solve).
6. **Sector parameters** (:func:`cp_parameters`). Melitz: Pareto shape
   :math:`k_s = \theta_s` (CP's trade elasticity; under Pareto the elasticity
   of trade to variable trade costs is :math:`k`), and
   :math:`\sigma_s = \min(3.8, 1 + \theta_s/2)`, so :math:`k_s \ge 2(\sigma_s-1)`
   (3.8: Bernard, Eaton, Jensen and Kortum, 2003). Armington:
   :math:`\sigma_s = 1 + \theta_s` (trade elasticity :math:`\sigma-1 = \theta`;
   non-traded services carry CP's placeholder 8.22, which is immaterial with a
   single, domestic source). :math:`\delta = 1`. ``theta_max`` caps theta
   (default: no cap).
7. **Seller shares and firm normalisation** (:func:`seller_shares`): under
   Pareto the counterfactual percentage changes do not depend on the assumed
   shares of firms that sell on each route, nor on the mass of entrants
   (``docs/calibration.md``, "What is and is not identified"), but the
   calibration needs iceberg costs of at least 1 and cutoffs above the Pareto
   lower bound. Exporter shares are the package default (0.25) or, where the
   data would imply :math:`\tau < 1` (a region selling much more abroad than
   at home relative to market size), the smallest share giving
   :math:`\tau = 1`. Survival is set so that at most
   ``min(0.5, margin^{-k})`` of the drawn firms sell on any route (every
   benchmark cutoff at least ``margin`` = 2 times the Pareto lower bound,
   room for large tariff cuts), and the mass of entrants so that
   :math:`\varphi_{\min} = 1`. They are stored as the benchmark's
   ``survival``, ``exporter_share`` and ``entrants``.

Solving. The 31 x 40 model has about 33,000 unknowns. The system is square,
so IPOPT's primal (Newton) steps do not depend on the Hessian of the
Lagrangian, whose exact form has 2.4 million non-zeros here (the CES
aggregates); a limited-memory approximation makes each iteration about ten
times cheaper, and skipping the least-squares estimate of the multipliers
saves one factorisation per solve. :class:`cge.Equilibrium` does this by
itself for models of this size when it starts from or near a solution
(``cge.equilibrium.LARGE_MODEL_OPTIONS``); :data:`SOLVER_OPTIONS` states the
same options explicitly, for every solve.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cge.errors import InputError

from . import _cli
from .balance import imbalances, ras_balance
from .benchmark import BenchmarkData
from .checks import TOL, benchmark_problems

#: Default location of the dataset (``$CGE_DATA/caliendo_parro_2015``).
DEFAULT_SOURCE = Path(os.environ.get("CGE_DATA", "/work/shared/data")) / "caliendo_parro_2015"

FILES = {
    "trade": "cp2015_trade_tariffs_1993.csv",
    "intermediate": "cp2015_intermediate_use_1993.csv",
    "final_demand": "cp2015_final_demand_1993.csv",
    "value_added": "cp2015_value_added_output_1993.csv",
    "deficit": "cp2015_deficit_1993.csv",
    "theta": "cp2015_theta.csv",
}

#: CP's region names -> ISO 3166-1 alpha-3 codes (``ROW``: rest of the world), in CP's order.
REGION_CODES = {
    "Argentina": "ARG", "Australia": "AUS", "Austria": "AUT", "Brazil": "BRA", "Canada": "CAN",
    "Chile": "CHL", "China": "CHN", "Denmark": "DNK", "Finland": "FIN", "France": "FRA",
    "Germany": "DEU", "Greece": "GRC", "Hungary": "HUN", "India": "IND", "Indonesia": "IDN",
    "Ireland": "IRL", "Italy": "ITA", "Japan": "JPN", "Korea": "KOR", "Mexico": "MEX",
    "Netherlands": "NLD", "New Zealand": "NZL", "Norway": "NOR", "Portugal": "PRT",
    "South Africa": "ZAF", "Spain": "ESP", "Sweden": "SWE", "Turkey": "TUR", "UK": "GBR",
    "USA": "USA", "Row": "ROW",
}
#: The NAFTA members, as region codes.
NAFTA = ("CAN", "MEX", "USA")
#: Sectors that are not manufacturing among CP's 20 tradables.
PRIMARY = ("Agriculture", "Mining")
N_TRADABLE = 20
#: Values are converted from USD to million USD.
UNIT = 1e6
UNITS = "million USD (1993)"
FACTOR = "labour"

CITATION = (
    "Caliendo, L. and Parro, F. (2015), Estimates of the Trade and Welfare Effects of NAFTA, "
    "Review of Economic Studies 82(1): 1-44, doi:10.1093/restud/rdu035; data from the authors' "
    "replication files as rearranged in paulofelipe/cp2015 (MIT) and paulofelipe/cp2015-jax; "
    "licence of the data not verified (see SOURCE.md): not for redistribution")

#: Defaults of the documented choices (see the module docstring).
DOMESTIC_FLOOR = 0.01      # domestic sales added where a melitz cell has none, share of output
SIGMA_MAX = 3.8            # melitz sigma cap
K_OVER_SIGMA = 2.0         # melitz: sigma = 1 + theta / K_OVER_SIGMA below the cap
CUTOFF_MARGIN = 2.0        # benchmark cutoffs at least this multiple of phi_min
MAX_SELLER_SHARE = 0.5     # at most this share of drawn firms sells on any route
THETA_MAX = math.inf        # cap on the theta used for k (melitz) and sigma - 1 (armington)
SPECIFIC_FACTOR_SHARE = 1 / 3  # share of value added paid to a sector-specific factor (firm sectors)

#: IPOPT options for the 31 x 40 model (see the module docstring, "Solving").
SOLVER_OPTIONS = {"hessian_approximation": "limited-memory", "constr_mult_init_max": 0.0}
#: Numeraire used by the tests, the benchmark script and the CLI: the US wage.
NUMERAIRE = {"factor": FACTOR, "region": "USA"}


# ====================================================================== read
@dataclass
class CPSource:
    """The source data as arrays in label order (million USD), unchanged except for units.

    ``trade[n, i, s]`` (destination, origin, sector; net of tariffs, domestic
    sales on the diagonal), ``tariff[n, i, s]`` (1993), ``tariff_2005`` and
    ``tariff_nafta2005`` (CP's counterfactual: 1993 tariffs except 2005 tariffs
    among NAFTA members), ``intermediate[i, s, u]`` (sector ``s`` of ``i``
    buying ``u``), ``final_demand[n, s]``, ``value_added[i, s]``,
    ``deficit[n]`` (the deficit file), ``gross_output_raw[i, s]`` and
    ``theta[s]``.
    """

    regions: tuple[str, ...]
    names: tuple[str, ...]
    sectors: tuple[str, ...]
    trade: np.ndarray
    tariff: np.ndarray
    tariff_2005: np.ndarray
    tariff_nafta2005: np.ndarray
    intermediate: np.ndarray
    final_demand: np.ndarray
    value_added: np.ndarray
    deficit: np.ndarray
    gross_output_raw: np.ndarray
    theta: np.ndarray
    path: str = ""

    @property
    def tradable(self) -> tuple[str, ...]:
        return self.sectors[:N_TRADABLE]


def _need(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"{path}: no such file (expected the Caliendo-Parro 2015 dataset, "
                         f"files {sorted(FILES.values())})")
    return path


def read_cp(source: str | Path = DEFAULT_SOURCE) -> CPSource:
    """Read the CSV files of the dataset in ``source`` (see the dataset's ``SOURCE.md``).

    Raises :class:`~cge.errors.InputError` naming the file and the labels if a
    file is missing, a label is unknown or a (region, sector) cell is absent.
    """
    source = Path(source)
    if not source.is_dir():
        raise InputError(f"{source}: no such directory (the Caliendo-Parro 2015 dataset)")
    read = {key: pd.read_csv(_need(source / name)) for key, name in FILES.items()}
    theta = read["theta"]
    sectors = tuple(theta["sector"])
    names = tuple(REGION_CODES)
    problems = []
    tr = read["trade"]
    for col in ("exporter", "importer"):
        unknown = sorted(set(tr[col]) - set(names))
        if unknown:
            problems.append(f"{FILES['trade']}: unknown {col} names {unknown}; known: {list(names)}")
    unknown = sorted(set(tr["sector"]) - set(sectors))
    if unknown:
        problems.append(f"{FILES['trade']}: sectors {unknown} are not in {FILES['theta']}")
    if problems:
        raise InputError(problems)
    ri = {r: j for j, r in enumerate(names)}
    si = {s: j for j, s in enumerate(sectors)}
    nR, nS = len(names), len(sectors)

    def cube(df, dst, org, sec, col, what):
        arr = np.zeros((nR, nR, nS))
        a, b, c = df[dst].map(ri), df[org].map(ri), df[sec].map(si)
        if a.isna().any() or b.isna().any() or c.isna().any():
            bad = list(df.index[a.isna() | b.isna() | c.isna()][:5])
            raise InputError(f"{what}: unknown labels in rows {bad}")
        arr[a.to_numpy(), b.to_numpy(), c.to_numpy()] = df[col].to_numpy(float)
        return arr

    if len(tr) != nR * nR * nS or tr.duplicated(["sector", "exporter", "importer"]).any():
        raise InputError(f"{FILES['trade']}: expected one row per (sector, exporter, importer), "
                         f"{nR * nR * nS} rows; found {len(tr)}")
    X = cube(tr, "importer", "exporter", "sector", "trade_value_usd", FILES["trade"]) / UNIT
    t = cube(tr, "importer", "exporter", "sector", "tariff_1993", FILES["trade"])
    t05 = cube(tr, "importer", "exporter", "sector", "tariff_2005", FILES["trade"])
    tcf = cube(tr, "importer", "exporter", "sector", "tariff_cf_nafta2005", FILES["trade"])
    iu = read["intermediate"]
    if len(iu) != nR * nS * nS:
        raise InputError(f"{FILES['intermediate']}: expected {nR * nS * nS} rows, found {len(iu)}")
    # intermediate[i, s, u]: region i, using sector s, input sector u
    Z = np.zeros((nR, nS, nS))
    a, b, c = iu["region"].map(ri), iu["using_sector"].map(si), iu["input_sector"].map(si)
    if a.isna().any() or b.isna().any() or c.isna().any():
        raise InputError(f"{FILES['intermediate']}: unknown region or sector labels")
    Z[a.to_numpy(), b.to_numpy(), c.to_numpy()] = iu["value_usd"].to_numpy(float) / UNIT

    def square(df, col, what):
        out = np.full((nR, nS), np.nan)
        a, b = df["region"].map(ri), df["sector"].map(si)
        if a.isna().any() or b.isna().any():
            raise InputError(f"{what}: unknown region or sector labels")
        out[a.to_numpy(), b.to_numpy()] = df[col].to_numpy(float)
        missing = np.argwhere(np.isnan(out))
        if len(missing):
            raise InputError(f"{what}: no row for " + ", ".join(
                f"({names[i]}, {sectors[j]})" for i, j in missing[:8]))
        return out

    C = square(read["final_demand"], "value_usd", FILES["final_demand"]) / UNIT
    V = square(read["value_added"], "value_added_usd", FILES["value_added"]) / UNIT
    GO = square(read["value_added"], "gross_output_raw_usd", FILES["value_added"]) / UNIT
    dfile = read["deficit"].set_index("region")["deficit_usd"]
    missing = [r for r in names if r not in dfile.index]
    if missing:
        raise InputError(f"{FILES['deficit']}: no row for {missing}")
    D = dfile.reindex(list(names)).to_numpy(float) / UNIT
    return CPSource(
        regions=tuple(REGION_CODES[r] for r in names), names=names, sectors=sectors,
        trade=X, tariff=t, tariff_2005=t05, tariff_nafta2005=tcf, intermediate=Z,
        final_demand=C, value_added=V, deficit=D, gross_output_raw=GO,
        theta=theta["theta"].to_numpy(float), path=str(source))


# ================================================================== report
ADJUSTMENT_COLUMNS = ["step", "region", "sector", "account", "item", "before", "after", "change",
                      "relative_change", "reason"]


@dataclass
class CPReport:
    """Everything :func:`cp_benchmark` changed or assumed.

    ``adjustments``
        one row per changed number: ``step`` (``negative``, ``no_inputs``,
        ``domestic_floor``, ``deficit``, ``ras``), region, sector, account
        (for RAS: ``row <- column`` of the regional SAM), item, before, after,
        change, relative change and reason.
    ``placeholders``
        (region, sector) cells whose source output is CP's 1-USD placeholder,
        with the demand the source gives them (scaled to that supply by RAS).
    ``imbalances_before``
        per (region, sector): market clearing and zero-profit gaps of the
        source (after the pre-balancing adjustments), in million USD.
    ``balancing``
        per region: RAS sweeps and the largest remaining relative imbalance.
    ``parameters``
        per sector: theta, market structure, sigma, k and the rule used.
    ``seller_shares``
        per melitz (origin, sector): survival, largest exporter share and the
        number of routes whose exporter share was raised so that tau >= 1.
    """

    adjustments: pd.DataFrame
    placeholders: pd.DataFrame
    imbalances_before: pd.DataFrame
    balancing: pd.DataFrame
    parameters: pd.DataFrame
    seller_shares: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def counts(self) -> pd.Series:
        """Number of changed numbers by step."""
        return self.adjustments.groupby("step").size()

    def summary(self) -> str:
        """A readable account of every step (what the CLI prints)."""
        adj = self.adjustments
        par = self.parameters
        lines = ["Caliendo-Parro 1993: market structures and adjustments to the source data "
                 "(million USD)"]
        melitz = par.loc[par["market_structure"] == "melitz", "sector"].tolist()
        lines.append(f"  melitz ({len(melitz)}): {', '.join(melitz)}")
        usual = ("non-traded service", "primary sector", "manufacturing with domestic sales")
        for row in par.itertuples(index=False):
            if not row.reason.startswith(usual):
                lines.append(f"  {row.market_structure}: {row.sector}: {row.reason}")
        lines.append("  armington: Agriculture, Mining and the non-traded services")
        for step, what in (("negative", "negative intermediate use set to 0"),
                           ("no_inputs", "value added set to output (sector buys no inputs)"),
                           ("domestic_floor", "domestic sales floor in melitz sectors"),
                           ("deficit", "deficits recomputed as imports - exports"),
                           ("ras", "RAS scaling of intermediate use and final demand")):
            sub = adj[adj["step"] == step]
            if sub.empty:
                lines.append(f"  {what}: none")
                continue
            rel = sub["relative_change"].abs().replace(np.inf, np.nan)
            lines.append(f"  {what}: {len(sub)} numbers, |change| {sub['change'].abs().sum():.6g} in "
                         f"total, largest relative change {rel.max():.3g}")
            if step in ("negative", "no_inputs", "domestic_floor"):
                for row in sub.itertuples(index=False):
                    lines.append(f"    {row.region} {row.sector} {row.item}: {row.before:.6g} -> "
                                 f"{row.after:.6g}")
        ras = adj[adj["step"] == "ras"]
        if not ras.empty:
            big = ras.assign(abs_change=ras["change"].abs()).nlargest(5, "abs_change")
            lines.append("  largest RAS changes:")
            for row in big.itertuples(index=False):
                lines.append(f"    {row.region} {row.account}: {row.before:.6g} -> {row.after:.6g} "
                             f"({100 * row.relative_change:+.1f}%)")
            rel = ras["relative_change"].abs()
            w = ras["before"].abs()
            order = np.argsort(rel.to_numpy())
            cum = np.cumsum(w.to_numpy()[order]) / w.sum()
            wmed = rel.to_numpy()[order][min(np.searchsorted(cum, 0.5), len(cum) - 1)]
            big_share = w[rel > 0.1].sum() / w.sum()
            lines.append(f"  RAS: median |relative change| {rel.median():.3g} (value-weighted "
                         f"{wmed:.3g}); {int((rel > 0.1).sum())} cells ({big_share:.1%} of the "
                         "value) changed by more than 10%")
            worst = self.imbalances_before.assign(
                rel=lambda d: d["market_clearing_gap"].abs() / d["absorption"]).nlargest(3, "rel")
            lines.append("  largest market-clearing gaps of the source: " + "; ".join(
                f"{r.region} {r.sector}: supply {r.absorption:.6g}, demand {r.demand:.6g}"
                for r in worst.itertuples(index=False)))
        if len(self.placeholders):
            lines.append(f"  placeholder output kept (1 USD in the source; demand scaled to it): "
                         f"{len(self.placeholders)} cells: " + ", ".join(
                             f"{r} {s}" for r, s in zip(self.placeholders["region"],
                                                        self.placeholders["sector"])))
        lines.append(f"  balancing: {int(self.balancing['sweeps'].max())} RAS sweeps at most, largest "
                     f"remaining relative imbalance {self.balancing['max_imbalance'].max():.2e}")
        raised = int(self.seller_shares["routes_raised"].sum()) if len(self.seller_shares) else 0
        lines.append(f"  seller shares: exporter share raised above the default on {raised} "
                     "routes so that tau >= 1 (neutral for counterfactuals under Pareto)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _row(step, region, sector, account, item, before, after, reason) -> dict:
    change = after - before
    return {"step": step, "region": region, "sector": sector, "account": account, "item": item,
            "before": before, "after": after, "change": change,
            "relative_change": change / before if before else (math.inf if change else 0.0),
            "reason": reason}


# ============================================================== adjustments
def prepare(src: CPSource, *, domestic_floor: float = DOMESTIC_FLOOR,
            market_structure: dict[str, str] | None = None):
    """The pre-balancing adjustments of step 3 (module docstring).

    Returns ``(X, Z, C, V, D, rows, placeholders)``: adjusted copies of trade,
    intermediate use, final demand, value added and deficits, the list of
    adjustment records and the placeholder table.
    """
    if not 0 < domestic_floor < 1:
        raise InputError(f"domestic_floor: must lie in (0, 1), got {domestic_floor}")
    ms = market_structure or default_market_structure(src.sectors, src.trade)
    R, S = src.regions, src.sectors
    X, Z, C, V = (src.trade.copy(), src.intermediate.copy(), src.final_demand.copy(),
                  src.value_added.copy())
    rows: list[dict] = []
    for i, j, u in np.argwhere(Z < 0):
        rows.append(_row("negative", R[i], S[j], f"c_{S[u]} <- a_{S[j]}",
                         f"intermediate use of {S[u]}", Z[i, j, u], 0.0,
                         "negative intermediate use; flows must be >= 0"))
        Z[i, j, u] = 0.0
    for name, arr in (("final demand", C), ("value added", V)):
        if (arr < 0).any():
            i, j = np.argwhere(arr < 0)[0]
            raise InputError(f"{name} of ({R[i]}, {S[j]}) is negative ({arr[i, j]:.6g}); not expected")
    if (X < 0).any():
        raise InputError("trade: negative values; not expected")
    output = X.sum(axis=0)
    for i, j in np.argwhere((Z.sum(axis=2) <= 0) & (V != output)):
        rows.append(_row("no_inputs", R[i], S[j], f"labour <- a_{S[j]}", "value added",
                         V[i, j], output[i, j],
                         "the sector buys no intermediate inputs: value added = output (zero profit)"))
        V[i, j] = output[i, j]
    idx = np.arange(len(R))
    for i, j in np.argwhere(X[idx, idx, :] <= 0):
        if ms[S[j]] not in ("melitz", "krugman") or output[i, j] <= 0:
            continue
        add = domestic_floor * output[i, j]
        rows.append(_row("domestic_floor", R[i], S[j], f"a_{S[j]} <- c_{S[j]}", "domestic sales",
                         0.0, add,
                         f"no domestic sales in a {ms[S[j]]} sector (all output exported); "
                         f"{domestic_floor:g} x gross output {output[i, j]:.6g} added (output and "
                         "absorption rise by this amount)"))
        X[i, i, j] = add
    off = X.copy()
    off[idx, idx, :] = 0
    D = off.sum(axis=(1, 2)) - off.sum(axis=(0, 2))
    for n in np.nonzero(np.abs(D - src.deficit) > 0)[0]:
        rows.append(_row("deficit", R[n], "", "savings <- rest_of_world", "deficit",
                         src.deficit[n], D[n],
                         "deficit = imports - exports of the trade data (the deficit file rounds)"))
    # placeholders: CP's 1-USD gross output (output of at most 1 USD)
    ph = np.argwhere(output * UNIT <= 1.0 + 1e-9)
    demand = C + Z.sum(axis=1)
    placeholders = pd.DataFrame(
        [{"region": R[i], "sector": S[j], "output": output[i, j],
          "source_demand": demand[i, j]} for i, j in ph],
        columns=["region", "sector", "output", "source_demand"])
    return X, Z, C, V, D, rows, placeholders


# ================================================================ balancing
def region_sam(sectors, X, t, Z, C, V, D, n: int, factors=(FACTOR,)
               ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Region ``n``'s SAM (rows receive, columns pay) and the mask of its free cells.

    ``V`` is value added (region, sector) or factor payments (region, sector,
    factor) with ``factors`` its labels. Accounts: ``a_<s>``, ``c_<s>``, the
    factors, ``household``, ``tariffs``, ``savings``, ``rest_of_world``, as
    written by :func:`calibration.write_benchmark_workbook`. Free (scaled by
    RAS): intermediate use (``c_u <- a_s``) and final demand (``c_s <- household``).
    """
    nS, nF = len(sectors), len(factors)
    V = V if V.ndim == 3 else V[:, :, None]
    acc = [f"a_{s}" for s in sectors] + [f"c_{s}" for s in sectors] + list(factors) + \
          ["household", "tariffs", "savings", "rest_of_world"]
    A = np.zeros((len(acc), len(acc)))
    a_, c_ = np.arange(nS), nS + np.arange(nS)
    f_ = 2 * nS + np.arange(nF)
    hh, tar, sav, row = 2 * nS + nF, 2 * nS + nF + 1, 2 * nS + nF + 2, 2 * nS + nF + 3
    dom = X[n, n, :]
    exports = X[:, n, :].sum(axis=0) - dom
    imports = X[n, :, :].sum(axis=0) - dom
    revenue = (t[n] * X[n]).sum(axis=0)
    A[a_, c_] = dom
    A[a_, row] = exports
    A[row, c_] = imports
    A[tar, c_] = revenue
    A[np.ix_(c_, a_)] = Z[n].T            # commodity u <- activity s
    A[np.ix_(f_, a_)] = V[n].T            # factor f <- activity s
    A[c_, hh] = C[n]
    A[hh, f_] = V[n].sum(axis=0)
    A[hh, tar] = revenue.sum()
    A[sav, row] = D[n]
    A[sav, hh] = -D[n]
    free = np.zeros_like(A, dtype=bool)
    free[np.ix_(c_, a_)] = True
    free[c_, hh] = True
    return A, acc, free


def balance_region(sectors, X, t, Z, C, V, D, n: int, *, tol: float = 1e-13):
    """RAS-balance region ``n`` (step 4); returns ``(Z_n, C_n, RASResult, SAM before, accounts)``."""
    A, acc, free = region_sam(sectors, X, t, Z, C, V, D, n)
    nS = len(sectors)
    # feasibility: a commodity bought by nobody, or a sector with costs to cover but no inputs
    problems = []
    for u in range(nS):
        supply = A[:, nS + u].sum()
        if supply > 0 and not (A[nS + u][free[nS + u]] > 0).any():
            problems.append(f"commodity {sectors[u]}: absorption {supply:.6g} but no buyer in the "
                            "data")
        inputs = A[u, :].sum() - A[2 * nS:, u].sum()  # output - value added
        if inputs > 1e-9 * A[u, :].sum() and not (A[:, u][free[:, u]] > 0).any():
            problems.append(f"sector {sectors[u]}: output exceeds value added by {inputs:.6g} "
                            "but it buys no intermediate inputs in the data")
    res = ras_balance(A, free, tol=tol, accounts=acc, max_iter=100_000) if not problems else None
    if problems:
        raise InputError([f"balancing region {n}: {p}" for p in problems])
    B = res.matrix
    Zn = B[nS:2 * nS, :nS].T.copy()
    Cn = B[nS:2 * nS, 2 * nS + 1].copy()
    return Zn, Cn, res, A, acc


# =============================================================== parameters
def market_structure_reasons(sectors, trade: np.ndarray | None = None,
                             regions=None) -> dict[str, tuple[str, str]]:
    """``{sector: (market structure, reason)}`` by the rule of step 2 (module docstring)."""
    dom = None if trade is None else np.einsum("nns->ns", trade)
    out = {}
    for j, s in enumerate(sectors):
        if j >= N_TRADABLE:
            out[s] = ("armington", "non-traded service")
        elif s in PRIMARY:
            out[s] = ("armington", "primary sector (tradable, not manufacturing)")
        elif dom is not None and not (dom[:, j] > 0).all():
            where = [regions[i] if regions else str(i) for i in np.nonzero(dom[:, j] <= 0)[0]]
            out[s] = ("armington", "manufacturing, but no domestic sales in " + ", ".join(where))
        else:
            out[s] = ("melitz", "manufacturing with domestic sales in every region")
    return out


def default_market_structure(sectors, trade: np.ndarray | None = None) -> dict[str, str]:
    """melitz for the manufacturing sectors, armington for primary sectors and services.

    With ``trade`` (destination, origin, sector), a manufacturing sector in which some
    region has no domestic sales is armington too (step 2 of the module docstring).
    """
    return {s: ms for s, (ms, _) in market_structure_reasons(sectors, trade).items()}


def cp_parameters(sectors, theta, market_structure: dict[str, str] | None = None, *,
                  sigma_max: float = SIGMA_MAX, k_over_sigma: float = K_OVER_SIGMA,
                  theta_max: float = THETA_MAX, reasons: dict[str, str] | None = None
                  ) -> pd.DataFrame:
    """sigma and k per sector from CP's theta (step 6 of the module docstring); one row per
    sector with theta, the theta used, market structure and why, sigma, k, delta and the rule."""
    ms = market_structure or default_market_structure(sectors)
    rows = []
    for s, th0 in zip(sectors, theta):
        th = min(float(th0), theta_max)
        if ms[s] == "melitz":
            sig = min(sigma_max, 1 + th / k_over_sigma)
            rule = f"k = theta; sigma = min({sigma_max:g}, 1 + theta/{k_over_sigma:g})"
        else:
            sig = 1 + th
            rule = "sigma = 1 + theta (trade elasticity sigma - 1 = theta)" + \
                   ("; k = theta" if ms[s] == "krugman" else "; k unused")
        rows.append({"sector": s, "theta": float(th0), "theta_used": th,
                     "market_structure": ms[s], "reason": (reasons or {}).get(s, "given"),
                     "sigma": sig, "k": th, "delta": 1.0, "rule": rule})
    return pd.DataFrame(rows)


def seller_shares(data: BenchmarkData, *, margin: float = CUTOFF_MARGIN,
                  max_share: float = MAX_SELLER_SHARE, exporter_default: float | None = None):
    r"""Survival and exporter shares that give :math:`\tau \ge 1` and cutoffs of at least
    ``margin`` times the Pareto lower bound on every melitz route (step 7).

    With :math:`Q_{ni} = (1+t_{ni})^{-\sigma} (E_n/E_i)(X_{ii}/X_{ni})`, the
    calibration gives :math:`\tau_{ni} = Q_{ni}^{a} e_{ni}^{b}` with
    :math:`a = 1/(\sigma-1)`, :math:`b = a - 1/k > 0` and :math:`e_{ni}` the
    exporter share. So :math:`e_{ni} = \max(e_0, Q_{ni}^{-a/b})` (times
    :math:`1+10^{-6}`) and survival
    :math:`s_{ii} = \min(\text{max\_share}, \text{margin}^{-k}) / \max(1, \max_n e_{ni})`.

    The mass of entrants, a pure normalisation, is chosen so that the Pareto
    lower bound is :math:`\varphi_{\min,i} = 1` (with :math:`\tau_{ii} = 1`):
    :math:`M_{Ei} = \delta\, s_{ii}^{-1} \left(c_i s_{ii}^{1/k}/\rho\right)^{\sigma-1}
    (k-\sigma+1) X_{ii} / (k E_i)`. This keeps :math:`\varphi_{\min}^k` finite
    for large :math:`k` (Petroleum: 64.85).

    Returns ``(survival (region, sector), exporter_share (destination, origin,
    sector), entrants (region, sector), table)``; NaN outside melitz sectors
    and on routes without trade.
    """
    from .calibrate import DEFAULT_EXPORTER_SHARE, _shares

    e0 = DEFAULT_EXPORTER_SHARE if exporter_default is None else exporter_default
    R, S = data.regions, data.sectors
    nR, nS = len(R), len(S)
    X, t = data.trade, data.tariff
    E = data.absorption()
    surv = np.full((nR, nS), np.nan)
    expo = np.full((nR, nR, nS), np.nan)
    entrants = np.full((nR, nS), np.nan)
    unit_cost = _shares(data)[3]
    eye = np.eye(nR, dtype=bool)
    rows = []
    for j, s in enumerate(S):
        if data.market_structure[s] != "melitz":
            continue
        sig, k = float(data.sigma[j]), float(data.k[j])
        a = 1 / (sig - 1)
        b = a - 1 / k
        active = (X[:, :, j] > 0) & ~eye
        dom = np.diag(X[:, :, j])
        with np.errstate(divide="ignore", invalid="ignore"):
            Q = ((1 + t[:, :, j]) ** (-sig) * (E[:, None, j] / E[None, :, j])
                 * (dom[None, :] / X[:, :, j]))
            need = np.where(active, Q ** (-a / b) * (1 + 1e-6), np.nan)
        e = np.where(active, np.maximum(e0, need), np.nan)
        expo[:, :, j] = e
        cap = min(max_share, margin ** (-k))
        biggest = np.nanmax(np.where(active, e, np.nan), axis=0, initial=0.0) \
            if active.any() else np.zeros(nR)
        biggest = np.nan_to_num(biggest, nan=0.0)
        surv[:, j] = cap / np.maximum(1.0, biggest)
        rho = (sig - 1) / sig
        delta = float(data.delta[j])
        entrants[:, j] = (delta / surv[:, j] * (unit_cost[:, j] * surv[:, j] ** (1 / k) / rho)
                          ** (sig - 1) * (k - sig + 1) * dom / (k * E[:, j]))
        raised = (active & (need > e0)).sum(axis=0)
        for i, r in enumerate(R):
            rows.append({"region": r, "sector": s, "survival": surv[i, j],
                         "max_exporter_share": biggest[i], "routes_raised": int(raised[i])})
    table = pd.DataFrame(rows, columns=["region", "sector", "survival", "max_exporter_share",
                                        "routes_raised"])
    return surv, expo, entrants, table


def split_value_added(sectors, value_added: np.ndarray, market_structure: dict[str, str],
                      share: float = SPECIFIC_FACTOR_SHARE):
    """Factors and factor payments (region, sector, factor): ``labour`` (mobile across
    sectors) and, in every firm sector ``s``, a sector-specific factor ``capital_<s>`` paid
    ``share`` of the sector's value added (see the module docstring, step 5)."""
    if not 0 <= share < 1:
        raise InputError(f"specific_factor_share: must lie in [0, 1), got {share}")
    firm = [j for j, s in enumerate(sectors) if market_structure[s] in ("melitz", "krugman")]
    factors = [FACTOR] + ([f"capital_{sectors[j]}" for j in firm] if share > 0 else [])
    V = np.zeros(value_added.shape + (len(factors),))
    V[:, :, 0] = value_added
    if share > 0:
        for g, j in enumerate(firm, start=1):
            V[:, j, g] = share * value_added[:, j]
            V[:, j, 0] = (1 - share) * value_added[:, j]
    return tuple(factors), V


# ================================================================ benchmark
def cp_benchmark(source: str | Path | CPSource = DEFAULT_SOURCE, *,
                 domestic_floor: float = DOMESTIC_FLOOR,
                 market_structure: dict[str, str] | None = None,
                 sigma_max: float = SIGMA_MAX, k_over_sigma: float = K_OVER_SIGMA,
                 margin: float = CUTOFF_MARGIN,
                 specific_factor_share: float = SPECIFIC_FACTOR_SHARE,
                 theta_max: float = THETA_MAX, tol: float = TOL,
                 ras_tol: float = 1e-13) -> tuple[BenchmarkData, CPReport]:
    """The consistent 31 x 40 benchmark of the dataset in ``source`` and the report of
    every adjustment (steps 1-7 of the module docstring).

    ``source`` is the dataset's folder or a :class:`CPSource` from :func:`read_cp`.
    The result passes :func:`calibration.check_benchmark` (relative ``tol``);
    otherwise :class:`~cge.errors.InputError` lists the problems.
    """
    timings = {}
    t0 = time.perf_counter()
    src = source if isinstance(source, CPSource) else read_cp(source)
    timings["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    why = market_structure_reasons(src.sectors, src.trade, src.regions)
    reasons = {s: r for s, (_, r) in why.items()}
    if market_structure is None:
        ms = {s: m for s, (m, _) in why.items()}
    else:
        ms = dict(market_structure)
        for s, (m, r) in why.items():
            if ms.get(s) != m:
                reasons[s] = f"set by the caller (default {m}: {r})"
        if set(ms) != set(src.sectors):
            raise InputError(f"market_structure: needs exactly the sectors {list(src.sectors)}; "
                             f"unknown {sorted(set(ms) - set(src.sectors))}, missing "
                             f"{[s for s in src.sectors if s not in ms]}")
    X, Z, C, V, D, rows, placeholders = prepare(src, domestic_floor=domestic_floor,
                                                market_structure=ms)
    R, S = src.regions, src.sectors
    nS = len(S)
    output = X.sum(axis=0)
    absorption = ((1 + src.tariff) * X).sum(axis=1)
    demand = C + Z.sum(axis=1)
    before = pd.DataFrame({
        "region": np.repeat(R, nS), "sector": np.tile(S, len(R)),
        "absorption": absorption.ravel(), "demand": demand.ravel(),
        "market_clearing_gap": (absorption - demand).ravel(),
        "output": output.ravel(), "costs": (V + Z.sum(axis=2)).ravel(),
        "zero_profit_gap": (output - V - Z.sum(axis=2)).ravel()})
    timings["prepare"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    Zb, Cb = np.empty_like(Z), np.empty_like(C)
    bal = []
    for n, r in enumerate(R):
        Zn, Cn, res, A, acc = balance_region(S, X, src.tariff, Z, C, V, D, n, tol=ras_tol)
        Zb[n], Cb[n] = Zn, Cn
        bal.append({"region": r, "sweeps": res.iterations, "max_imbalance": res.max_imbalance,
                    "largest_imbalance_before": imbalances(A, acc)["relative"].iloc[0]})
        changed = np.argwhere(np.abs(res.matrix - A) > 1e-13 * np.maximum(np.abs(A), 1e-300))
        for a_, b_ in changed:
            before_v, after_v = A[a_, b_], res.matrix[a_, b_]
            col = acc[b_]
            sector = col[2:] if col.startswith("a_") else acc[a_][2:]
            item = (f"intermediate use of {acc[a_][2:]} by {col[2:]}" if col.startswith("a_")
                    else f"final demand for {acc[a_][2:]}")
            rows.append(_row("ras", r, sector, f"{acc[a_]} <- {col}", item, before_v, after_v,
                             "RAS: trade, tariffs, value added and deficit held fixed"))
    timings["balance"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    par = cp_parameters(S, src.theta, ms, sigma_max=sigma_max, k_over_sigma=k_over_sigma,
                        theta_max=theta_max, reasons=reasons)
    factors, Vf = split_value_added(S, V, ms, specific_factor_share)
    data = BenchmarkData(
        regions=R, sectors=S, factors=factors, trade=X, tariff=src.tariff.copy(),
        factor_payments=Vf, intermediate=Zb, final_demand=Cb, deficit=D,
        sigma=par["sigma"].to_numpy(float), k=par["k"].to_numpy(float),
        delta=par["delta"].to_numpy(float), market_structure=ms,
        name="caliendo_parro_1993", units=UNITS)
    surv, expo, entrants, shares = seller_shares(data, margin=margin)
    data.survival, data.exporter_share, data.entrants = surv, expo, entrants
    adjustments = pd.DataFrame(rows, columns=ADJUSTMENT_COLUMNS)
    counts = adjustments.groupby("step").size().to_dict()
    data.notes = [
        CITATION,
        f"adjustments: {counts} (see the report); domestic floor {domestic_floor:g} of output",
        "balanced by RAS on intermediate use and final demand; trade, tariffs, value added "
        "and deficits as in the source",
        f"seller shares chosen so that tau >= 1 and cutoffs >= {margin:g} x phi_min "
        "(neutral for counterfactuals under Pareto)",
    ]
    problems = benchmark_problems(data, tol)
    timings["parameters_and_checks"] = time.perf_counter() - t0
    if problems:
        raise InputError([f"caliendo_parro_1993 after balancing: {p}" for p in problems])
    notes = []
    if specific_factor_share > 0:
        notes.append(f"factors: labour (mobile) and, in each firm sector, capital_<sector> paid "
                     f"{specific_factor_share:.4g} of the sector's value added")
    if len(placeholders):
        notes.append(f"{len(placeholders)} cells keep CP's 1-USD placeholder output; RAS scaled "
                     f"their demand ({placeholders['source_demand'].sum():.6g} million USD in the "
                     "source) to that supply")
    report = CPReport(adjustments=adjustments, placeholders=placeholders,
                      imbalances_before=before, balancing=pd.DataFrame(bal),
                      parameters=par, seller_shares=shares, notes=notes, timings=timings)
    return data, report


# ============================================================ counterfactuals
def tariffs_among(data: BenchmarkData, members=NAFTA, value: float = 0.0,
                  tariff: np.ndarray | None = None) -> np.ndarray:
    """``tariff`` (default ``data.tariff``) with every tariff among ``members`` set to ``value``."""
    unknown = [m for m in members if m not in data.regions]
    if unknown:
        raise InputError(f"members {unknown} are not regions of {data.name} ({list(data.regions)})")
    out = np.array(data.tariff if tariff is None else tariff, dtype=float)
    idx = [data.regions.index(m) for m in members]
    for n in idx:
        for i in idx:
            if n != i:
                out[n, i, :] = value
    return out


def nafta_schedule(source: str | Path | CPSource = DEFAULT_SOURCE,
                   data: BenchmarkData | None = None) -> pd.DataFrame:
    """CP's NAFTA counterfactual as a tariff schedule for :func:`cge.shocks.tariff_schedule`:
    the 2005 tariff (``tariff_cf_nafta2005``) of every route among the NAFTA members.

    One row per route (``importer``, ``exporter``, ``sector``, ``tariff``, plus
    the 1993 rate as ``tariff_1993`` for reference). With ``data`` (the
    benchmark) only routes with trade in it are listed: a tariff on a route
    without trade has no effect. Outside NAFTA CP's counterfactual keeps the
    1993 rates, so these rows are the whole change.
    """
    src = source if isinstance(source, CPSource) else read_cp(source)
    idx = [src.regions.index(r) for r in NAFTA]
    rows = []
    for n in idx:
        for i in idx:
            if n == i:
                continue
            for k, sec in enumerate(src.sectors):
                if data is not None and not data.trade[n, i, k] > 0:
                    continue
                rows.append((src.regions[n], src.regions[i], sec,
                             float(src.tariff_nafta2005[n, i, k]), float(src.tariff[n, i, k])))
    return pd.DataFrame(rows, columns=["importer", "exporter", "sector", "tariff", "tariff_1993"])


# ================================================================= workbook
def ras_summary(report: CPReport) -> pd.DataFrame:
    """Per region: RAS sweeps, remaining imbalance, cells changed, total and largest change."""
    ras = report.adjustments[report.adjustments["step"] == "ras"]
    g = ras.groupby("region")
    out = report.balancing.set_index("region").join(pd.DataFrame({
        "cells_changed": g.size(),
        "value_before": g["before"].apply(lambda x: x.abs().sum()),
        "abs_change": g["change"].apply(lambda x: x.abs().sum()),
        "largest_relative_change": g["relative_change"].apply(lambda x: x.abs().max()),
    }))
    out["abs_change_share"] = out["abs_change"] / out["value_before"]
    return out.reset_index()


def write_cp_workbook(data: BenchmarkData, report: CPReport, path: str | Path, *,
                      layout: str = "long") -> Path:
    """Write the benchmark as a workbook in the documented format (``read_workbook`` reads
    it back exactly).

    The trade sheet lists the routes with trade or a tariff (a route not listed
    has neither); the firms sheet the melitz cells. Extra sheets, which the
    reader ignores: ``adjustments`` (every change before balancing),
    ``ras_summary`` (the RAS step by region; the changed cells themselves are
    ``report.adjustments``, see the CLI's ``--adjustments-csv``),
    ``placeholders``, ``sector_rules`` and ``seller_shares``.
    """
    from .sam import _default_accounts, write_workbook

    R, S = data.regions, data.sectors
    listed = ((data.trade > 0) | (data.tariff != 0)) & ~np.eye(len(R), dtype=bool)[:, :, None]
    n, i, j = np.nonzero(listed)
    trade = pd.DataFrame({"origin": np.asarray(R)[i], "destination": np.asarray(R)[n],
                          "sector": np.asarray(S)[j], "value": data.trade[n, i, j],
                          "tariff_rate": data.tariff[n, i, j],
                          "exporter_share": data.exporter_share[n, i, j]})
    parameters = pd.DataFrame({"sector": list(S), "sigma": data.sigma, "k": data.k,
                               "market_structure": [data.market_structure[s] for s in S],
                               "delta": data.delta})
    firm = [(r, s, data.survival[a, b], data.entrants[a, b])
            for b, s in enumerate(S) if data.market_structure[s] == "melitz"
            for a, r in enumerate(R)]
    firms = pd.DataFrame(firm, columns=["region", "sector", "survival", "entrants"])
    par = report.parameters
    info = {
        "name": data.name, "units": data.units,
        "source": CITATION,
        "licence": "NOT verified; the data must not be redistributed or committed (SOURCE.md)",
        "built_by": "python -m calibration.caliendo_parro (calibration/caliendo_parro.py)",
        "regions": "; ".join(f"{c} = {nm}" for nm, c in REGION_CODES.items()),
        "market_structure": "melitz: " + ", ".join(par.loc[par["market_structure"] == "melitz",
                                                             "sector"])
                            + "; armington: the others (see sheet sector_rules)",
        "parameters": "melitz: k = theta, sigma = min(3.8, 1 + theta/2); armington: "
                      "sigma = 1 + theta; delta = 1",
        "factors": "labour (CP's value added) and a sector-specific capital_<sector> in "
                   "each melitz sector (see notes)",
        "adjustments": "; ".join(data.notes[1:]),
        "notes": "; ".join(report.notes),
    }
    sams = {}
    for k, r in enumerate(R):  # the accounts of calibration.sam.benchmark_sams, built with numpy
        A, acc, _ = region_sam(S, data.trade, data.tariff, data.intermediate, data.final_demand,
                               data.factor_payments, data.deficit, k, data.factors)
        sams[r] = pd.DataFrame(A, index=acc, columns=acc)
    path = write_workbook(path, sams=sams, accounts=_default_accounts(data)[1],
                          trade=trade, parameters=parameters, firms=firms, info=info,
                          layout=layout)
    with pd.ExcelWriter(path, engine="openpyxl", mode="a") as xw:
        report.adjustments[report.adjustments["step"] != "ras"].to_excel(
            xw, sheet_name="adjustments", index=False)
        ras_summary(report).to_excel(xw, sheet_name="ras_summary", index=False)
        report.placeholders.to_excel(xw, sheet_name="placeholders", index=False)
        report.parameters.to_excel(xw, sheet_name="sector_rules", index=False)
        report.seller_shares.to_excel(xw, sheet_name="seller_shares", index=False)
    return Path(path)


# ====================================================================== CLI
def schedule_path(workbook: str | Path) -> Path:
    """Where the CLI writes the NAFTA 2005 tariff schedule: beside the workbook."""
    workbook = Path(workbook)
    return workbook.with_name(workbook.stem + "_nafta2005_tariffs.csv")


def _write_csv_atomically(df: pd.DataFrame, path: Path) -> None:
    from cge.fsio import atomic_write

    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))


def main(argv=None) -> int:
    p = _cli.parser(
        "python -m calibration.caliendo_parro",
        "Convert the Caliendo-Parro (2015) 1993 data (31 regions x 40 sectors) into a balanced "
        "benchmark and write it as a SAM workbook; print every adjustment.",
        DEFAULT_SOURCE, "workbook to write (.xlsx); omit to only check and report")
    p.add_argument("--layout", choices=("long", "matrix"), default="long",
                   help="SAM sheet layout (default: %(default)s)")
    p.add_argument("--melitz", action="append", default=[], metavar="SECTOR",
                   help="make SECTOR melitz even if some region has no domestic sales in it "
                        "(those cells get the domestic floor); repeatable")
    p.add_argument("--domestic-floor", type=float, default=DOMESTIC_FLOOR,
                   help="domestic sales added where a melitz cell has none, as a share of its "
                        "output (default: %(default)s)")
    p.add_argument("--specific-factor-share", type=float, default=SPECIFIC_FACTOR_SHARE,
                   help="share of a firm sector's value added paid to its specific factor "
                        "(default: %(default).4g; 0: labour only)")
    p.add_argument("--adjustments-csv", type=Path, default=None,
                   help="also write every adjustment to this CSV file")
    _cli.add_calibrate(p, "also calibrate and check that the benchmark replicates (slow: "
                          "builds the model)")
    args = p.parse_args(argv)
    try:
        ms = None
        if args.melitz:
            ms = default_market_structure(read_cp(args.data).sectors, read_cp(args.data).trade)
            unknown = [s for s in args.melitz if s not in ms]
            if unknown:
                raise InputError(f"--melitz: unknown sectors {unknown}; sectors: {list(ms)}")
            ms.update({s: "melitz" for s in args.melitz})
        data, report = cp_benchmark(args.data, domestic_floor=args.domestic_floor,
                                    market_structure=ms,
                                    specific_factor_share=args.specific_factor_share)
    except InputError as exc:
        return _cli.error(exc)
    print(report.summary())
    if args.adjustments_csv:
        args.adjustments_csv.parent.mkdir(parents=True, exist_ok=True)
        report.adjustments.to_csv(args.adjustments_csv, index=False)
        print(f"wrote {args.adjustments_csv}")
    if args.output:
        path = write_cp_workbook(data, report, args.output, layout=args.layout)
        print(f"wrote {path}")
        sched = nafta_schedule(args.data, data)
        spath = schedule_path(args.output)
        _write_csv_atomically(sched, spath)
        print(f"wrote {spath} (2005 tariffs among {', '.join(NAFTA)}: {len(sched)} routes)")
    if args.calibrate:
        _cli.calibrate_and_report(data, numeraire=NUMERAIRE, options=SOLVER_OPTIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
