r"""Systematic sensitivity analysis (SSA): results as distributions over uncertain parameters.

An ``ssa:`` section in a sweep file (:mod:`cge.sweep`) names the uncertain
inputs (any numeric entry of the scenario, by the same paths as a sweep: a
structural parameter such as ``parameters.sigma.mfg``, which recalibrates
the model to the same data, or a shock size such as ``shocks[0].value``), a
distribution for each, and a method::

    ssa:
      method: quadrature          # quadrature (default), monte_carlo or sobol
      rule: stroud3               # quadrature: stroud3 (2 d points) or gaussian
      order: 2                    # gaussian: order + 1 points per parameter (tensor grid)
      samples: 256                # monte_carlo: draws; sobol: base sample N, N (d + 2) members
      seed: 1
      percentiles: [2.5, 97.5]
      results: [total]                # sobol: the results whose indices are reported
                                      # (total: the welfare change in log points)
      parameters:
        sigma_mfg:
          path: parameters.sigma.mfg
          distribution: uniform   # uniform, triangular or normal
          spread: 0.25            # +-25% of the centre (normal: sd = 25% of it)
          # centre: 3.8           # default: the value in the scenario, else the calibrated one
          # lower: 3.0, upper: 5.0 (uniform, triangular) or sd: 0.5 (normal) instead of spread

Distributions are centred on the value the scenario gives at ``path`` or, for
a structural parameter the scenario does not set, the calibrated value of the
data, as RunGTAP's uniform and triangular distributions are; a symmetric
triangular distribution on :math:`[c-a, c+a]` has mode :math:`c` and standard
deviation :math:`a/\sqrt 6`, a uniform one :math:`a/\sqrt 3`.

Methods. ``stroud3`` is Stroud's degree-3 formula for symmetric
independent inputs (the rule RunGTAP uses, after Arndt 1996 and DeVuyst and
Preckel 1997): :math:`2d` equally weighted points :math:`x = \mu + s\,z` with,
for point :math:`j = 1..2d` and :math:`r = 1..\lfloor d/2\rfloor`,

.. math::
    z_{2r-1} = \sqrt 2 \cos\frac{(2r-1) j \pi}{d}, \qquad
    z_{2r} = \sqrt 2 \sin\frac{(2r-1) j \pi}{d}, \qquad
    z_d = (-1)^j \text{ if } d \text{ is odd},

exact for the mean of every polynomial of degree 3 or less: for a result
linear in the inputs both its mean and its variance (the mean of a square)
are exact.
``gaussian`` is the tensor Gaussian rule of chaospy (:math:`(o+1)^d` points,
exact to degree :math:`2o+1` per input). ``monte_carlo`` draws independent
samples; ``sobol`` uses SALib's Saltelli design and reports Sobol first-order
and total indices (:math:`S_1`, :math:`S_T`, with bootstrap confidence
half-widths) of the chosen results.

Every result of the long table gets a mean, a standard deviation and an
interval: empirical percentiles of the draws (``monte_carlo``, ``sobol``,
with the standard error of the mean), or, for quadrature (which has no
draws), the normal approximation :math:`\mu \pm z_p\,\sigma`; the
``interval`` column says which. Files: ``ssa_summary.parquet``/``.csv``,
``sobol.csv``, ``ssa_welfare.png``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

__all__ = ["SSASpec", "Uncertain", "Design", "design_members", "stroud3", "summarise",
           "write_ssa", "print_ssa"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Uncertain(_Strict):
    """One uncertain input: where it is in the scenario and its distribution."""

    path: str
    distribution: Literal["uniform", "triangular", "normal"]
    centre: float | None = Field(None, validation_alias=AliasChoices("centre", "center"))
    spread: float | None = Field(None, gt=0)
    lower: float | None = None
    upper: float | None = None
    sd: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _shape(self):
        bounds = self.lower is not None or self.upper is not None
        if self.distribution == "normal":
            if bounds:
                raise ValueError("a normal distribution takes 'sd' or 'spread', not lower/upper")
            if (self.sd is None) == (self.spread is None):
                raise ValueError("a normal distribution needs exactly one of 'sd' (absolute) or "
                                 "'spread' (sd as a fraction of the centre)")
        else:
            if self.sd is not None:
                raise ValueError(f"a {self.distribution} distribution takes 'spread' or "
                                 "lower/upper, not 'sd'")
            if bounds and (self.lower is None or self.upper is None):
                raise ValueError("give both 'lower' and 'upper'")
            if bounds == (self.spread is not None):
                raise ValueError(f"a {self.distribution} distribution needs 'spread' (half-width "
                                 "as a fraction of the centre) or 'lower' and 'upper'")
            if bounds and not self.lower < self.upper:
                raise ValueError(f"lower {self.lower:g} must be below upper {self.upper:g}")
        return self


class SSASpec(_Strict):
    method: Literal["quadrature", "monte_carlo", "sobol"] = "quadrature"
    rule: Literal["stroud3", "gaussian"] = "stroud3"
    order: int = Field(2, ge=1, le=10)
    samples: int = Field(64, ge=2)
    seed: int = 0
    percentiles: list[float] = [2.5, 97.5]
    results: list[str] = ["total"]  # the welfare change in log points (welfare table)
    parameters: dict[str, Uncertain]

    @model_validator(mode="after")
    def _check(self):
        if not self.parameters:
            raise ValueError("parameters: give at least one uncertain input")
        if len(self.percentiles) != 2 or not 0 < self.percentiles[0] < self.percentiles[1] < 100:
            raise ValueError("percentiles: give two, low and high, between 0 and 100")
        return self


@dataclass
class Distribution:
    """A resolved distribution: centre, bounds (or sd), moments, quantiles."""

    name: str
    kind: str
    centre: float
    lower: float
    upper: float
    sd: float

    @property
    def mean(self) -> float:
        if self.kind == "triangular":
            return (self.lower + self.centre + self.upper) / 3
        return self.centre if self.kind == "normal" else (self.lower + self.upper) / 2

    @property
    def std(self) -> float:
        a, b, c = self.lower, self.upper, self.centre
        if self.kind == "uniform":
            return (b - a) / math.sqrt(12)
        if self.kind == "triangular":
            return math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18)
        return self.sd

    @property
    def symmetric(self) -> bool:
        return self.kind != "triangular" or math.isclose(self.centre - self.lower,
                                                         self.upper - self.centre, rel_tol=1e-12)

    def scipy(self):
        from scipy import stats

        if self.kind == "uniform":
            return stats.uniform(loc=self.lower, scale=self.upper - self.lower)
        if self.kind == "triangular":
            return stats.triang((self.centre - self.lower) / (self.upper - self.lower),
                                loc=self.lower, scale=self.upper - self.lower)
        return stats.norm(loc=self.centre, scale=self.sd)

    def chaospy(self):
        import chaospy

        if self.kind == "uniform":
            return chaospy.Uniform(self.lower, self.upper)
        if self.kind == "triangular":
            return chaospy.Triangle(self.lower, self.centre, self.upper)
        return chaospy.Normal(self.centre, self.sd)

    def describe(self) -> str:
        if self.kind == "normal":
            return f"normal(mean {self.centre:g}, sd {self.sd:g})"
        mode = f", mode {self.centre:g}" if self.kind == "triangular" else ""
        return f"{self.kind}[{self.lower:g}, {self.upper:g}{mode}]"


@dataclass
class Design:
    """The members of an SSA: points (members x parameters), weights, distributions."""

    spec: SSASpec
    distributions: list[Distribution]
    points: np.ndarray
    weights: np.ndarray

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.distributions]


def stroud3(d: int) -> np.ndarray:
    """Stroud's degree-3 points for ``d`` standardised symmetric inputs: shape (2d, d),
    equal weights 1/(2d); every column has mean 0 and variance 1 over the points."""
    z = np.zeros((2 * d, d))
    for j in range(1, 2 * d + 1):
        for r in range(1, d // 2 + 1):
            angle = (2 * r - 1) * j * math.pi / d
            z[j - 1, 2 * r - 2] = math.sqrt(2) * math.cos(angle)
            z[j - 1, 2 * r - 1] = math.sqrt(2) * math.sin(angle)
        if d % 2 == 1:
            z[j - 1, d - 1] = (-1) ** j
    z[np.abs(z) < 1e-12] = 0.0  # cos(pi/2) is 6e-17 in floating point: exactly 0
    return z


def _centre(sweep, name: str, u: Uncertain, problems: list[str]) -> float | None:
    """The centre of ``u``: given, the scenario's value at the path, or the calibrated one."""
    from .sweep import get_path, parse_path

    if u.centre is not None:
        return float(u.centre)
    val = get_path(sweep.base, u.path)
    if isinstance(val, (int, float)) and not isinstance(val, bool):
        return float(val)
    if isinstance(val, dict) and "*" in val and isinstance(val["*"], (int, float)):
        return float(val["*"])
    parts = parse_path(u.path)
    if parts[0] == "parameters" and len(parts) in (2, 3):
        prim = _data_primitives(sweep)
        pname = parts[1]
        if pname in ("sigma", "k", "delta") and prim is not None:
            vals = prim[pname]
            if len(parts) == 3 and parts[2] in prim.sectors:
                return float(vals[prim.sectors.index(parts[2])])
            if len(parts) == 2 and np.allclose(vals, vals[0]):
                return float(vals[0])
    problems.append(f"{sweep.locator.where(('ssa', 'parameters', name))}: ssa.parameters.{name}: "
                    f"no centre: the scenario gives no number at {u.path!r} and it is not a "
                    "structural parameter of one sector (parameters.<sigma|k|delta>.<sector>); "
                    "give 'centre' or 'lower' and 'upper'")
    return None


def _data_primitives(sweep):
    from .scenario import LoadedScenario, Scenario
    from .sweep import _data

    loaded = LoadedScenario(Scenario.model_validate(sweep.base), sweep.text, sweep.path,
                            sweep.locator)
    return _data(loaded).primitives


def _resolve(sweep, spec: SSASpec) -> list[Distribution]:
    from .parameters import PARAMETERS
    from .sweep import SweepError, parse_path

    problems: list[str] = []
    out = []
    for name, u in spec.parameters.items():
        where = f"{sweep.locator.where(('ssa', 'parameters', name))}: ssa.parameters.{name}"
        needs_centre = u.spread is not None or u.distribution == "normal"
        c = _centre(sweep, name, u, problems) if needs_centre else u.centre
        if needs_centre and c is None:
            continue
        if u.distribution == "normal":
            sd = u.sd if u.sd is not None else abs(c) * u.spread
            dist = Distribution(name, "normal", c, -math.inf, math.inf, sd)
        elif u.lower is not None:
            mode = c if c is not None else (u.lower + u.upper) / 2
            if u.distribution == "triangular" and not u.lower <= mode <= u.upper:
                problems.append(f"{where}: mode (centre) {mode:g} outside [{u.lower:g}, {u.upper:g}]")
                continue
            dist = Distribution(name, u.distribution, mode, u.lower, u.upper, math.nan)
        else:
            half = abs(c) * u.spread
            dist = Distribution(name, u.distribution, c, c - half, c + half, math.nan)
        parts = parse_path(u.path)
        if parts[0] == "parameters" and len(parts) >= 2 and parts[1] in PARAMETERS:
            p = PARAMETERS[parts[1]]
            lo = dist.lower if u.distribution != "normal" else dist.centre - 4 * dist.sd
            if (lo <= p.lower if p.strict else lo < p.lower):
                problems.append(f"{where}: the distribution {dist.describe()} reaches {lo:g}, "
                                f"outside the admissible range {p.admissible} of {parts[1]}"
                                + (" (4 sd below the mean)" if u.distribution == "normal" else ""))
                continue
        out.append(dist)
    if problems:
        raise SweepError(problems)
    return out


def design_members(sweep):
    """The design of ``sweep.spec`` (an :class:`SSASpec`) and its members."""
    from .sweep import Member, SweepError

    spec: SSASpec = sweep.spec
    dists = _resolve(sweep, spec)
    d = len(dists)
    if spec.method == "quadrature":
        if spec.rule == "stroud3":
            asym = [x.name for x in dists if not x.symmetric]
            if asym:
                raise SweepError(f"{sweep.locator.where(('ssa', 'rule'))}: ssa.rule: stroud3 needs "
                                 f"symmetric distributions; {asym} are not (use rule: gaussian)")
            z = stroud3(d)
            points = np.array([[x.mean for x in dists]]) + z * np.array([[x.std for x in dists]])
            weights = np.full(len(points), 1.0 / len(points))
        else:
            import chaospy

            joint = chaospy.J(*[x.chaospy() for x in dists])
            nodes, weights = chaospy.generate_quadrature(spec.order, joint, rule="gaussian")
            points = np.asarray(nodes, float).T
            weights = np.asarray(weights, float)
        prefix = "point"
    else:
        if spec.method == "monte_carlo":
            u = np.random.default_rng(spec.seed).random((spec.samples, d))
        else:
            from SALib.sample import sobol as sobol_sample

            problem = {"num_vars": d, "names": [x.name for x in dists], "bounds": [[0.0, 1.0]] * d}
            u = sobol_sample.sample(problem, spec.samples, calc_second_order=False, seed=spec.seed)
        u = np.clip(u, 1e-12, 1 - 1e-12)
        points = np.column_stack([x.scipy().ppf(u[:, j]) for j, x in enumerate(dists)])
        weights = np.full(len(points), 1.0 / len(points))
        prefix = "draw"
    width = len(str(len(points)))
    members = []
    for j, row in enumerate(points):
        values = {x.name: float(v) for x, v in zip(dists, row)}
        assignments = {u_.path: float(v) for u_, v in zip(spec.parameters.values(), row)}
        members.append(Member(f"{prefix}{j + 1:0{width}d}", values, assignments, float(weights[j])))
    return Design(spec, dists, points, weights), members


# ======================================================================
# Statistics
# ======================================================================
def summarise(sweep, table: pd.DataFrame, members: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``summary`` (mean, sd, interval of every result) and, for ``sobol``, ``sobol``."""
    from scipy import stats

    from .sweep import KEYS

    design: Design = sweep.design
    spec = design.spec
    names = [m.name for m in sweep.members]
    ok = set(members.loc[members["status"] == "ok", "member"])
    failed = [n for n in names if n not in ok]
    keys = list(KEYS) + ["variable"]
    wide = table.set_index(keys + ["member"])["value"].unstack("member")
    present = [n for n in names if n in wide.columns]
    Y = wide[present].to_numpy(float) if present else np.empty((len(wide), 0))
    w = np.array([design.weights[names.index(n)] for n in present])
    lo_p, hi_p = spec.percentiles
    out = pd.DataFrame(index=wide.index).reset_index()
    complete = not failed
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        # results that are NaN in every member (cutoffs of armington sectors): NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        if spec.method == "quadrature":
            if not complete:  # a quadrature rule needs every point
                mean = sd = np.full(len(wide), np.nan)
            else:
                mean = Y @ w
                sd = np.sqrt(np.maximum(((Y - mean[:, None]) ** 2) @ w, 0.0))
            z_lo, z_hi = stats.norm.ppf(lo_p / 100), stats.norm.ppf(hi_p / 100)
            out["mean"], out["sd"] = mean, sd
            out["se_mean"] = np.nan
            out[f"p{lo_p:g}"], out[f"p{hi_p:g}"] = mean + z_lo * sd, mean + z_hi * sd
            out["interval"] = "normal approximation (quadrature)"
        else:
            n = Y.shape[1]
            mean = np.nanmean(Y, axis=1) if n else np.full(len(wide), np.nan)
            sd = np.nanstd(Y, axis=1, ddof=1) if n > 1 else np.full(len(wide), np.nan)
            out["mean"], out["sd"] = mean, sd
            out["se_mean"] = sd / math.sqrt(max(n, 1))
            out[f"p{lo_p:g}"] = np.nanpercentile(Y, lo_p, axis=1) if n else np.nan
            out[f"p{hi_p:g}"] = np.nanpercentile(Y, hi_p, axis=1) if n else np.nan
            out["interval"] = "empirical percentiles"
    out["members"] = len(present)
    out["failed"] = len(failed)
    result = {"summary": out}
    if spec.method == "sobol":
        result["sobol"] = _sobol(design, wide, present, names, failed, keys)
    return result


def _sobol(design: Design, wide: pd.DataFrame, present, names, failed, keys) -> pd.DataFrame:
    from SALib.analyze import sobol as sobol_analyze

    spec = design.spec
    problem = {"num_vars": len(design.distributions), "names": design.names,
               "bounds": [[0.0, 1.0]] * len(design.distributions)}
    rows = []
    variables = wide.index.get_level_values("variable")
    tables = wide.index.get_level_values("table")
    for var in spec.results:
        sel = variables == var
        if var in ("welfare_change_pct", "total"):  # the welfare table's (report it once)
            sel &= tables == "welfare"
        for idx, y in zip(wide.index[sel], wide[sel].itertuples(index=False)):
            y = np.asarray(y, float)
            base = dict(zip(keys, idx))
            if failed or not np.isfinite(y).all():
                for p in design.names:
                    rows.append({**base, "parameter": p, "S1": np.nan, "S1_conf": np.nan,
                                 "ST": np.nan, "ST_conf": np.nan,
                                 "note": f"{len(failed)} members failed" if failed else "NaN result"})
                continue
            if np.ptp(y) == 0:
                res = {"S1": np.zeros(len(design.names)), "S1_conf": np.zeros(len(design.names)),
                       "ST": np.zeros(len(design.names)), "ST_conf": np.zeros(len(design.names))}
            else:
                res = sobol_analyze.analyze(problem, y, calc_second_order=False,
                                            print_to_console=False, seed=spec.seed)
            for j, p in enumerate(design.names):
                rows.append({**base, "parameter": p, "S1": float(res["S1"][j]),
                             "S1_conf": float(res["S1_conf"][j]), "ST": float(res["ST"][j]),
                             "ST_conf": float(res["ST_conf"][j]), "note": ""})
    return pd.DataFrame(rows)


# ======================================================================
# Output
# ======================================================================
def write_ssa(result, plots: bool = True) -> None:
    """``ssa_summary``, ``sobol`` and ``ssa_design`` (CSV and Parquet) and the picture."""
    from .fsio import atomic_write
    from .sweep import _write_table

    outdir = result.outdir
    _write_table(outdir / "ssa_summary", result.ssa["summary"])
    if "sobol" in result.ssa:
        atomic_write(outdir / "sobol.csv", lambda p: result.ssa["sobol"].to_csv(p, index=False))
    design = result.sweep.design
    rows = [{"parameter": x.name, "path": u.path, "distribution": x.describe(), "mean": x.mean,
             "sd": x.std} for x, u in zip(design.distributions, design.spec.parameters.values())]
    atomic_write(outdir / "ssa_design.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False))
    if plots and not result.ssa["summary"]["mean"].isna().all():
        plot_ssa(result, outdir / "ssa_welfare.png")


#: The welfare result of the SSA's console table and picture: log points (cge.units).
WELFARE = "total"


def _welfare_sobol(sob):
    """The Sobol indices of the welfare change: of the log points if computed, else of the
    % change (an SSA file may ask for either in ``results``)."""
    if sob is None or not len(sob):
        return None
    for var in (WELFARE, "welfare_change_pct"):
        if (sob["variable"] == var).any():
            return sob[sob["variable"] == var]
    return None


def _welfare_rows(summary: pd.DataFrame) -> pd.DataFrame:
    w = summary[(summary["table"] == "welfare") & (summary["variable"] == WELFARE)]
    return w[w["model"] == w["model"].iloc[0]] if len(w) else w


def plot_ssa(result, path):
    """Mean welfare change by region with its interval; for Sobol, the indices beside."""
    from .report import _plt, _save

    plt = _plt()
    summary = result.ssa["summary"]
    w = _welfare_rows(summary)
    lo, hi = [c for c in summary.columns if c.startswith("p") and c[1:2].isdigit()][:2]
    if len(w) > 12:
        w = w.reindex(w["mean"].abs().sort_values(ascending=False).index[:12])
    sob = result.ssa.get("sobol")
    sob = _welfare_sobol(sob)
    panels = 2 if sob is not None and len(sob) else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.8), squeeze=False)
    ax = axes[0][0]
    x = np.arange(len(w))
    err = np.vstack([w["mean"] - w[lo], w[hi] - w["mean"]])
    ax.bar(x, w["mean"], 0.6, yerr=err, capsize=4, color="tab:blue", alpha=0.8,
           label=f"mean, {lo}-{hi} interval")
    ax.errorbar(x + 0.33, w["mean"], yerr=w["sd"], fmt="none", ecolor="black", capsize=3,
                label="+- 1 sd")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(x, w["region"], rotation=30 if len(w) > 6 else 0)
    ax.set_ylabel("welfare change (log points: 100 x change in log real income)")
    spec = result.sweep.design.spec
    how = spec.method + (f" ({spec.rule})" if spec.method == "quadrature" else "")
    ax.set_title(f"{result.sweep.name}: welfare, {how}, {len(result.members)} members")
    ax.legend(fontsize=8)
    if panels == 2:
        ax2 = axes[0][1]
        regions = list(w["region"])
        params = list(dict.fromkeys(sob["parameter"]))
        width = 0.8 / (2 * len(params))
        for k, p in enumerate(params):
            s = sob[sob["parameter"] == p].set_index("region").reindex(regions)
            ax2.bar(x + (2 * k - len(params) + 0.5) * width, s["S1"], width, label=f"S1 {p}")
            ax2.bar(x + (2 * k + 1 - len(params) + 0.5) * width, s["ST"], width, alpha=0.5,
                    label=f"ST {p}")
        ax2.set_xticks(x, regions, rotation=30 if len(regions) > 6 else 0)
        ax2.set_ylabel("Sobol index")
        ax2.set_ylim(0, 1.05)
        ax2.set_title("Sobol indices of the welfare change")
        ax2.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def print_ssa(console, result) -> None:
    from .cli import _frame_table

    design = result.sweep.design
    for x in design.distributions:
        console.print(f"  {x.name}: {x.describe()} (mean {x.mean:.4g}, sd {x.std:.4g})",
                      highlight=False)
    summary = result.ssa["summary"]
    w = _welfare_rows(summary)
    if len(w):
        cols = ["mean", "sd"] + [c for c in summary.columns if c.startswith("p") and
                                 c[1:2].isdigit()][:2]
        console.print(_frame_table(f"Welfare change (log points): {w['interval'].iloc[0]}",
                                   w.set_index("region")[cols]))
    s = _welfare_sobol(result.ssa.get("sobol"))
    if s is not None:
        if len(s):
            wide = s.pivot_table(index="region", columns="parameter", values=["S1", "ST"],
                                 sort=False)
            wide.columns = [f"{a} {b}" for a, b in wide.columns]
            console.print(_frame_table("Sobol indices of the welfare change", wide))
