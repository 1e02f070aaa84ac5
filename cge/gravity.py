r"""Structural gravity: PPML with exporter and importer fixed effects, and trade costs from it.

The estimating equation (Yotov, Piermartini, Monteiro and Larch 2016, *An
Advanced Guide to Trade Policy Analysis: The Structural Gravity Model*, ch. 1-2;
Santos Silva and Tenreyro 2006) for the flow from exporter :math:`i` to
importer :math:`n`, domestic flows included, is

.. math::
    X_{ni} = \exp\Big(\pi_i + \chi_n + \sum_k b_k z_{k,ni}\Big)\,\varepsilon_{ni},

estimated by Poisson pseudo-maximum likelihood with the fixed effects
:math:`\pi_i, \chi_n` absorbed (through :mod:`pyfixest`). The gravity
variables :math:`z_{k,ni}` (log distance, contiguity, an international
border, ...) and their coefficients give the **trade-cost index**

.. math:: T_{ni} = \exp\Big(\sum_k b_k z_{k,ni}\Big) = \tau_{ni}^{-\epsilon},

where :math:`\epsilon` is the trade elasticity of the market structure
(:math:`\sigma-1` under armington and krugman, :math:`k` under melitz). The
index does not depend on the market structure; the iceberg cost
:math:`\tau_{ni} = T_{ni}^{-1/\epsilon}` does. :mod:`calibration` uses
:math:`T` to split observed trade frictions into this trade cost and a
preference term (``docs/calibration.md``, "Trade costs and preferences").

PPML with both sets of fixed effects fits each exporter's total sales and
each importer's total spending exactly, so the fitted flows
:math:`\hat X_{ni}` are a benchmark with the observed outputs and
expenditures: :func:`benchmark_from_gravity` builds it (fitted or observed
flows, the user's choice).

>>> from cge.gravity import read_bilateral_table, estimate_gravity   # doctest: +SKIP
>>> table = read_bilateral_table("yotov2016_trade_without_border_2006.csv")
>>> fit = estimate_gravity(table, flow="trade", variables=["DIST", "CNTG", "INTL_BRDR"],
...                        log=["DIST"])
>>> fit.coefficients["ln_DIST"], fit.coefficients["INTL_BRDR"]       # -0.791, -2.474
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["GravityError", "GravityResult", "read_bilateral_table", "estimate_gravity",
           "check_bilateral_table", "benchmark_from_gravity", "trade_elasticity",
           "write_gravity_workbook", "removal_routes", "removal_scenario"]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".xlsx", ".xlsm", ".parquet", ".pq")


class GravityError(InputError):
    """A bilateral table or gravity specification that cannot be estimated; every problem
    names the column, the row (counted as a spreadsheet counts, header = row 1) and the value."""


def trade_elasticity(market_structure: str, sigma: float, k: float) -> float:
    r"""The elasticity of trade to the iceberg cost, :math:`-\partial\ln X_{ni}/\partial\ln\tau_{ni}`:
    :math:`k` under melitz and cara (Pareto), :math:`\sigma-1` under krugman and armington."""
    return float(k) if market_structure in ("melitz", "cara") else float(sigma) - 1.0


# ---------------------------------------------------------------- reading
def read_bilateral_table(path, sheet: str | None = None) -> pd.DataFrame:
    """A tidy bilateral table (one row per exporter-importer pair) from CSV, Excel or Parquet.

    Raises :class:`GravityError` naming the file when it is missing, of an unknown kind or
    unreadable."""
    path = Path(path)
    if not path.is_file():
        raise GravityError(f"{path}: no such file (a bilateral table is a .csv, .xlsx or "
                           ".parquet file with one row per exporter-importer pair)")
    suffix = "".join(path.suffixes[-2:]).lower() if path.name.lower().endswith(".csv.gz") \
        else path.suffix.lower()
    try:
        if suffix in (".csv", ".csv.gz"):
            return pd.read_csv(path)
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(path, sheet_name=sheet or 0)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is reported with the file
        raise GravityError(f"{path}: cannot be read as a {suffix[1:]} table: {exc}") from None
    raise GravityError(f"{path}: unknown kind of table {suffix!r}; give one of "
                       f"{', '.join(TABLE_SUFFIXES)}")


# ----------------------------------------------------------------- checks
def check_columns(table: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Every named column is in the table."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        return [f"missing column(s) {missing}; the table has {list(table.columns)}"]
    return []


def check_numeric(table: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Every cell of the flow and the gravity variables is a finite number."""
    out = []
    for c in columns:
        num = pd.to_numeric(table[c], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(num.to_numpy(float)))
        for j in bad[:3]:
            out.append(f"column {c!r}, row {j + 2}: {table[c].iloc[j]!r} is not a finite number")
        if len(bad) > 3:
            out.append(f"column {c!r}: {len(bad) - 3} more cells that are not finite numbers")
    return out


def check_flows(table: pd.DataFrame, flow: str) -> list[str]:
    """Flows are >= 0 and some are positive."""
    x = pd.to_numeric(table[flow], errors="coerce").to_numpy(float)
    out = [f"column {flow!r}, row {j + 2}: flow {x[j]:g} is negative (flows are values >= 0)"
           for j in np.flatnonzero(x < 0)[:5]]
    if not out and not (x > 0).any():
        out.append(f"column {flow!r}: no positive flow")
    return out


def check_logs(table: pd.DataFrame, log: Sequence[str]) -> list[str]:
    """Variables entered in logs are > 0."""
    out = []
    for c in log:
        x = pd.to_numeric(table[c], errors="coerce").to_numpy(float)
        out += [f"column {c!r}, row {j + 2}: {x[j]:g} has no logarithm (variables in 'log' "
                "must be > 0)" for j in np.flatnonzero(np.isfinite(x) & (x <= 0))[:3]]
    return out


def check_pairs(table: pd.DataFrame, exporter: str, importer: str, by: Sequence[str] = ()) -> list[str]:
    """Each exporter-importer pair appears once (per value of ``by``)."""
    keys = [exporter, importer, *by]
    dup = table.duplicated(keys, keep="first").to_numpy()
    return [f"row {j + 2}: pair {tuple(table.iloc[j][keys])} already given"
            for j in np.flatnonzero(dup)[:5]]


def check_bilateral_table(table: pd.DataFrame, flow: str, exporter: str, importer: str,
                          variables: Sequence[str], log: Sequence[str] = ()) -> None:
    """Run every ``check_*`` rule and raise one :class:`GravityError` listing the problems."""
    problems = check_columns(table, [exporter, importer, flow, *variables])
    if problems:
        raise GravityError(problems)
    problems = check_numeric(table, [flow, *variables])
    if problems:
        raise GravityError(problems)
    problems = check_flows(table, flow) + check_logs(table, log) + check_pairs(table, exporter, importer)
    if problems:
        raise GravityError(problems)


# ------------------------------------------------------------- estimation
@dataclass
class GravityResult:
    """What :func:`estimate_gravity` returns.

    ``coefficients`` and ``std_errors`` (pandas Series by term; a log variable ``DIST`` is
    the term ``ln_DIST``), ``pairs`` (one row per pair: ``exporter``, ``importer``,
    ``observed``, ``fitted``, ``trade_cost`` = :math:`T_{ni} = \\exp(\\sum_k b_k z_k)` and
    one column per term with :math:`z_k`), ``exporter_effects`` and
    ``importer_effects`` (:math:`\\exp(\\pi_i)`, :math:`\\exp(\\chi_n)`, up to a common
    normalisation), the formula and the number of observations.
    """

    coefficients: pd.Series
    std_errors: pd.Series
    pairs: pd.DataFrame
    exporter_effects: pd.Series
    importer_effects: pd.Series
    formula: str
    n_obs: int
    vcov: str
    notes: list[str] = field(default_factory=list)

    @property
    def fitted(self) -> pd.DataFrame:
        """exporter, importer, observed and fitted flows."""
        return self.pairs[["exporter", "importer", "observed", "fitted"]]

    def iceberg(self, elasticity: float) -> pd.Series:
        """:math:`\\tau_{ni} = T_{ni}^{-1/\\epsilon}` for a trade elasticity :math:`\\epsilon`."""
        return self.pairs["trade_cost"] ** (-1.0 / float(elasticity))

    def table(self) -> pd.DataFrame:
        """Coefficients, standard errors and t statistics."""
        return pd.DataFrame({"coefficient": self.coefficients, "std_error": self.std_errors,
                             "t": self.coefficients / self.std_errors})

    def matrix(self, column: str = "fitted") -> pd.DataFrame:
        """A (importer x exporter) matrix of a ``pairs`` column."""
        return self.pairs.pivot(index="importer", columns="exporter", values=column)


def _term(v: str, log: Sequence[str]) -> str:
    return f"ln_{v}" if v in log else v


def estimate_gravity(table: pd.DataFrame, *, flow: str = "trade", exporter: str = "exporter",
                     importer: str = "importer", variables: Sequence[str] = (),
                     log: Sequence[str] = (), vcov="hetero", tol: float = 1e-12) -> GravityResult:
    r"""PPML of ``flow`` on the gravity ``variables`` with exporter and importer fixed effects.

    ``log`` lists the variables that enter in logarithms (term ``ln_<name>``, e.g.
    distance). ``vcov`` is passed to :func:`pyfixest.fepois` (``"hetero"``, or
    ``{"CRV1": "exporter"}`` to cluster). The table must hold one row per pair, domestic
    pairs included when the variables identify them (e.g. an international-border dummy).
    Zero flows are kept (that is the point of PPML); pairs with a missing flow are an
    error. ``tol`` is the convergence tolerance of the IRLS iterations and of the
    fixed-effects demeaning (tight, so that the fitted flows add up to every exporter's
    sales and importer's spending to about 1e-9). Raises :class:`GravityError` naming the column and the row for bad input.
    """
    variables = list(variables)
    log = list(log)
    if not variables:
        raise GravityError("give at least one gravity variable (e.g. DIST, CNTG, INTL_BRDR)")
    unknown = [v for v in log if v not in variables]
    if unknown:
        raise GravityError(f"log variable(s) {unknown} are not among the variables {variables}")
    if not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(table)
    check_bilateral_table(table, flow, exporter, importer, variables, log)
    try:
        import pyfixest as pf
    except ImportError as exc:  # pragma: no cover - pyfixest is a dependency
        raise GravityError(f"PPML needs pyfixest, which is not available: {exc}") from None

    df = pd.DataFrame({"_exporter": table[exporter].astype(str).to_numpy(),
                       "_importer": table[importer].astype(str).to_numpy(),
                       "_flow": pd.to_numeric(table[flow]).to_numpy(float)})
    terms = []
    for v in variables:
        x = pd.to_numeric(table[v]).to_numpy(float)
        t = _term(v, log)
        df[t] = np.log(x) if v in log else x
        terms.append(t)
    formula = f"_flow ~ {' + '.join(terms)} | _exporter + _importer"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = pf.fepois(formula, data=df, vcov=vcov, iwls_tol=tol, fixef_tol=tol,
                            iwls_maxiter=100)
        except Exception as exc:  # noqa: BLE001 - report pyfixest's reason with the spec
            raise GravityError(f"pyfixest could not estimate {flow} ~ {' + '.join(terms)} | "
                               f"{exporter} + {importer}: {exc}") from None
    notes = sorted({str(w.message).splitlines()[0] for w in caught
                    if not issubclass(w.category, (DeprecationWarning, FutureWarning))
                    and "deprecated" not in str(w.message)})
    coef = fit.coef().reindex(terms)
    if coef.isna().any():
        dropped = list(coef.index[coef.isna()])
        raise GravityError(f"the term(s) {dropped} cannot be estimated with exporter and importer "
                           "fixed effects (collinear with them, or constant); drop them")
    se = fit.se().reindex(terms)
    fitted = np.asarray(fit.predict(type="response"), dtype=float)
    if len(fitted) != len(df):
        raise GravityError(f"pyfixest dropped {len(df) - len(fitted)} of {len(df)} pairs (e.g. an "
                           "exporter or importer whose flows are all zero); remove them from the table")
    index = df[terms].to_numpy(float) @ coef.to_numpy(float)
    pairs = pd.DataFrame({"exporter": df["_exporter"], "importer": df["_importer"],
                          "observed": df["_flow"], "fitted": fitted,
                          "trade_cost": np.exp(index)})
    for t in terms:
        pairs[t] = df[t].to_numpy(float)
    fe = fit.fixef()
    def effects(key):
        d = next((v for k, v in fe.items() if key in k), {})
        s = pd.Series({str(k): float(v) for k, v in d.items()})
        return np.exp(s - s.max()) if len(s) else s
    return GravityResult(
        coefficients=coef.rename(None), std_errors=se.rename(None), pairs=pairs,
        exporter_effects=effects("_exporter"), importer_effects=effects("_importer"),
        formula=f"{flow} ~ {' + '.join(terms)} | {exporter} + {importer} (PPML, pyfixest)",
        n_obs=int(len(df)), vcov=str(vcov), notes=notes)


# ------------------------------------------------------------ a benchmark
def benchmark_from_gravity(result: GravityResult, *, flows: str = "fitted", sector: str = "mfg",
                           factor: str = "labour", sigma: float = 7.0, k: float | None = None,
                           market_structure: str = "armington", name: str | None = None,
                           survival: float = 0.5, exporter_share: float = 0.01):
    r"""A one-sector benchmark (:class:`calibration.BenchmarkData`) from a gravity fit.

    The economy of the structural gravity model: each region is endowed with one factor
    that makes the region's output :math:`Y_i = \sum_n X_{ni}`, spends
    :math:`E_n = \sum_i X_{ni}` and runs the deficit :math:`D_n = E_n - Y_n`. ``flows`` is
    ``"fitted"`` (the PPML fitted flows, which keep every :math:`Y_i` and :math:`E_n`) or
    ``"observed"``. The trade-cost index :math:`T_{ni}` of the fit is stored as the
    benchmark's ``trade_cost`` (with a single sector), so that calibration puts the
    estimated trade costs into :math:`\tau` and the rest into preferences. Every pair of
    regions must be in the table (a missing pair is an error naming it).

    ``survival`` and ``exporter_share`` are the seller shares a melitz calibration uses
    (``docs/calibration.md``, section 2): under Pareto they do not change percentage
    results as long as every cutoff stays above the Pareto lower bound, so the default
    share of producers selling abroad is small (1%), leaving room for a border removal
    that multiplies foreign sales many times.
    """
    from calibration import BenchmarkData

    if flows not in ("fitted", "observed"):
        raise GravityError(f"flows must be 'fitted' or 'observed', got {flows!r}")
    p = result.pairs
    regions = sorted(set(p["exporter"]) | set(p["importer"]))
    R = len(regions)
    pos = {r: j for j, r in enumerate(regions)}
    X = np.full((R, R), np.nan)
    T = np.full((R, R), np.nan)
    n = p["importer"].map(pos).to_numpy()
    i = p["exporter"].map(pos).to_numpy()
    X[n, i] = p[flows].to_numpy(float)
    T[n, i] = p["trade_cost"].to_numpy(float)
    missing = np.argwhere(np.isnan(X))
    if len(missing):
        shown = ", ".join(f"{regions[b]} -> {regions[a]}" for a, b in missing[:5])
        raise GravityError(f"the table has no row for {len(missing)} pair(s) ({shown}); a "
                           "benchmark needs every exporter-importer pair, domestic ones included")
    if (np.diag(X) <= 0).any():
        bad = [regions[j] for j in np.flatnonzero(np.diag(X) <= 0)]
        raise GravityError(f"no domestic sales for {bad}: every region must sell at home")
    sales, spending = X.sum(axis=0), X.sum(axis=1)
    kk = float(k) if k is not None else float(sigma)  # k is unused under armington/krugman
    return BenchmarkData(
        regions=regions, sectors=[sector], factors=[factor],
        trade=X[:, :, None], tariff=np.zeros((R, R, 1)),
        factor_payments=sales[:, None, None], intermediate=np.zeros((R, 1, 1)),
        final_demand=spending[:, None], deficit=spending - sales,
        sigma=np.array([float(sigma)]), k=np.array([kk]), delta=np.array([1.0]),
        market_structure={sector: market_structure},
        trade_cost=T[:, :, None],
        survival=np.full((R, 1), float(survival)),
        exporter_share=np.where(np.eye(R, dtype=bool), np.nan, float(exporter_share))[:, :, None],
        name=name or f"gravity benchmark ({flows} flows; {result.formula})")


# --------------------------------------------------------------- outputs
def _rename(result: GravityResult, rename: dict[str, str] | None) -> GravityResult:
    if not rename:
        return result
    pairs = result.pairs.copy()
    for col in ("exporter", "importer"):
        pairs[col] = pairs[col].replace(rename)
    return GravityResult(result.coefficients, result.std_errors, pairs,
                         result.exporter_effects.rename(index=rename),
                         result.importer_effects.rename(index=rename), result.formula,
                         result.n_obs, result.vcov, list(result.notes))


def write_gravity_workbook(result: GravityResult, path, *, flows: str = "fitted",
                           rename: dict[str, str] | None = None, info: dict | None = None,
                           **benchmark) -> Path:
    """Write the benchmark of :func:`benchmark_from_gravity` as a calibration workbook
    (long SAM layout) with the estimated trade-cost index in its ``trade_costs`` sheet and
    the estimates in its ``info`` sheet. ``rename`` maps region codes (e.g.
    ``{"ZZZ": "DEU"}``). Returns the path (written atomically)."""
    from calibration import write_benchmark_workbook

    result = _rename(result, rename)
    data = benchmark_from_gravity(result, flows=flows, **benchmark)
    meta = {"source": "cge gravity: " + result.formula,
            "flows": f"{flows} flows" + (" (PPML fitted values)" if flows == "fitted" else ""),
            "trade_costs": "trade_costs sheet: T = exp(sum_k b_k z_k) of the estimated gravity "
                           "function on every route (tau = T^(-1/epsilon) when calibrated)",
            **{f"coefficient {k}": f"{v:.10g} (s.e. {result.std_errors[k]:.4g})"
               for k, v in result.coefficients.items()}}
    meta.update(info or {})
    return write_benchmark_workbook(data, path, layout="long", info=meta)


def removal_routes(result: GravityResult, term: str) -> dict:
    """The route selection of an iceberg shock that removes the 0/1 gravity dummy ``term``:
    ``{"routes": "international"}`` when it is 1 exactly on the international routes, else
    ``{"pairs": [...]}`` (a symmetric dummy). Raises :class:`GravityError` otherwise."""
    if term not in result.coefficients.index:
        raise GravityError(f"--remove {term!r}: not a term of the estimate; terms are "
                           f"{list(result.coefficients.index)}")
    p = result.pairs
    z = p[term].to_numpy(float)
    if not np.isin(z, (0.0, 1.0)).all():
        raise GravityError(f"--remove {term!r}: only a 0/1 dummy can be removed (it takes the "
                           f"values {sorted(set(np.round(z, 6)))[:5]}...)")
    foreign = (p["exporter"] != p["importer"]).to_numpy()
    if np.array_equal(z == 1, foreign):
        return {"routes": "international"}
    on = {(a, b) for a, b, v in zip(p["exporter"], p["importer"], z) if v == 1}
    if any(a == b for a, b in on) or any((b, a) not in on for a, b in on):
        raise GravityError(f"--remove {term!r}: the dummy is 1 on domestic or on one-way routes; "
                           "write the shock by hand (docs/scenarios.md)")
    return {"pairs": sorted({tuple(sorted(x)) for x in on})}


def removal_scenario(result: GravityResult, term: str, workbook: str, *, name: str,
                     compare: Sequence[str] | None = None,
                     structure_parameters: dict | None = None,
                     rename: dict[str, str] | None = None) -> dict:
    """A scenario (a mapping for ``cge run``) that removes the gravity dummy ``term`` from
    the workbook's economy (``workbook`` relative to the scenario file)."""
    result = _rename(result, rename)
    b = float(result.coefficients[term])
    shock = {"type": "iceberg", "label": f"remove {term} (coefficient {b:.6g})",
             **removal_routes(result, term), "remove_gravity_term": b}
    out = {"name": name,
           "description": f"Remove {term} from the trade-cost function estimated by cge gravity "
                          f"({result.formula}): the trade-cost index T = tau^-epsilon of the "
                          f"selected routes is multiplied by exp({-b:.6g}).",
           "data": {"workbook": workbook}, "shocks": [shock]}
    if compare:
        out["compare_market_structures"] = list(compare)
        if structure_parameters:
            out["structure_parameters"] = structure_parameters
    return out
