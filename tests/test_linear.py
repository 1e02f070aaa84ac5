r"""Melitz-Ottaviano inside the general equilibrium (``market_structure: linear`` with an ``outside``
good; MR section 8, seed 002).

Expected numbers come from MR's closed forms, from the stand-alone
:mod:`cge.melitz_ottaviano` (an independent solution of the same model by two
linear systems) or from first principles, never from the model itself. The MR
economy: one factor (labour), an ``outside`` sector ``q0`` (one unit of labour
per unit, so the wage is the price of q0) and a ``linear`` sector ``d``;
population = workforce.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cge import Equilibrium, Primitives
from cge.blocks.linear import markup_of_firm
from cge.errors import InputError
from cge.melitz_ottaviano import solve_melitz_ottaviano
from cge.solve import check_structure
from cge.tolerance import WALRAS_TERMS, limit

REL = 1e-8


def economy(L=(100.0,), *, tau=1.5, k=2.0, f_e=0.01, alpha=1.0, gamma=1.0, eta=1.0,
            phi_min=1.0, endowment=None, tariff=0.0, sectors=("q0", "d"),
            structure=("outside", "linear")):
    """MR's economy with regions of populations ``L`` and a common foreign iceberg cost."""
    R = [f"r{i}" for i in range(len(L))]
    nR = len(R)
    eye = np.eye(nR, dtype=bool)
    tau_d = np.where(eye, 1.0, tau) if np.ndim(tau) == 0 else np.asarray(tau, float)
    return Primitives.from_mapping({
        "regions": R, "sectors": list(sectors), "factors": ["labour"],
        "market_structure": dict(zip(sectors, structure)),
        "sigma": 2.0, "k": k, "beta": [[1.0, 0.0]] * nR,
        "endowment": [[x] for x in (L if endowment is None else endowment)],
        "factor_share": 1.0, "population": list(L), "f_e": f_e, "phi_min": phi_min,
        "tau": np.stack([np.ones((nR, nR)), tau_d], axis=2).tolist(),
        "tariff": np.stack([np.zeros((nR, nR)), np.where(eye, 0.0, tariff)], axis=2).tolist(),
        "linear_alpha": alpha, "linear_gamma": gamma, "linear_eta": eta})


def perturbed(eq, shift=0.15):
    """Move every unknown away from the (exact) initial guess, so that IPOPT does the work."""
    for v in eq.model.component_data_objects(pyo.Var, descend_into=True):
        if not v.fixed and v.value is not None:
            v.set_value(v.value + shift)
    return eq


def mr_cutoff(L, k, f_e, gamma, phi_min):
    """MR section 8: c_D = (gamma phi / L)^(1/(k+2)), phi = 2(k+1)(k+2) c_M^k f_E."""
    phi = 2 * (k + 1) * (k + 2) * (1 / phi_min) ** k * f_e
    return (gamma * phi / L) ** (1 / (k + 2))


def route(res, n, i, s="d"):
    return res.routes.loc[(n, i, s)]


# ------------------------------------------------------------ closed economy
@pytest.mark.parametrize("L, k, f_e, alpha, gamma, eta, phi_min",
                         [(100.0, 2.0, 0.01, 1.0, 1.0, 1.0, 1.0),
                          (40.0, 3.5, 0.05, 2.0, 0.5, 3.0, 1.4)])
def test_closed_economy_cutoff(L, k, f_e, alpha, gamma, eta, phi_min):
    """The cost cutoff of MR section 8 and the varieties of eq. (27), to solver precision,
    solved from a start moved away from the solution."""
    eq = perturbed(Equilibrium(economy((L,), k=k, f_e=f_e, alpha=alpha, gamma=gamma, eta=eta,
                                       phi_min=phi_min)))
    res = eq.solve()
    assert eq.last_stats.iterations > 0
    c_d = mr_cutoff(L, k, f_e, gamma, phi_min)
    r = route(res, "r0", "r0")
    assert r["cost_cutoff"] == pytest.approx(c_d, rel=REL)
    assert r["choke_price"] == pytest.approx(c_d, rel=REL)
    assert r["sellers"] == pytest.approx(2 * (k + 1) * gamma * (alpha - c_d) / (eta * c_d),
                                         rel=REL)
    # prices p = (c_D + c)/2: the mean price of sellers (2k+1)/(2k+2) c_D
    assert r["price_mean"] == pytest.approx((2 * k + 1) / (2 * k + 2) * c_d, rel=REL)


def test_larger_market_is_more_competitive():
    """A larger market: lower cost cutoff, lower mark-up p - c for a firm of given cost, more
    varieties (the pro-competitive effect CES cannot give)."""
    small, large = (Equilibrium(economy((L,))).solve() for L in (50.0, 200.0))
    rs, rl = route(small, "r0", "r0"), route(large, "r0", "r0")
    assert rl["cost_cutoff"] < rs["cost_cutoff"]
    assert rl["sellers"] > rs["sellers"]
    c = 0.5 * rl["cost_cutoff"]  # a firm that sells in both markets
    _, _, margin_small = markup_of_firm(c, rs["choke_price"])
    _, _, margin_large = markup_of_firm(c, rl["choke_price"])
    assert margin_large < margin_small
    assert rl["margin_mean"] < rs["margin_mean"]
    # the wage (numeraire) is pinned by the outside good in both
    assert small.factors["factor_price"].iloc[0] == pytest.approx(1.0, rel=REL)
    assert large.factors["factor_price"].iloc[0] == pytest.approx(1.0, rel=REL)


def test_relative_markups_do_not_depend_on_market_size():
    """Under Pareto the distribution of p/c among sellers is the same in every market size
    (ACDR), while p - c moves: quantiles of p/c from each market's own cutoff and choke price."""
    u = np.linspace(0.05, 0.95, 10)
    dists, margins = [], []
    for L in (30.0, 300.0):
        r = route(Equilibrium(economy((L,), k=3.0)).solve(), "r0", "r0")
        costs = r["cost_cutoff"] * u ** (1 / 3.0)  # quantiles of c | c < c_D, Pareto k = 3
        _, ratio, margin = markup_of_firm(costs, r["choke_price"])
        dists.append(ratio)
        margins.append(margin)
    np.testing.assert_allclose(dists[1], dists[0], rtol=REL)
    assert (margins[1] < margins[0]).all()


def test_two_symmetric_regions_near_free_trade_are_one_economy():
    """tau -> 1 between two identical regions: the closed economy of the summed size."""
    closed = route(Equilibrium(economy((200.0,))).solve(), "r0", "r0")
    two = Equilibrium(economy((100.0, 100.0), tau=1 + 1e-7)).solve()
    varieties = route(two, "r0", "r0")["sellers"] + route(two, "r0", "r1")["sellers"]
    assert route(two, "r0", "r0")["cost_cutoff"] == pytest.approx(closed["cost_cutoff"], rel=1e-6)
    assert varieties == pytest.approx(closed["sellers"], rel=1e-6)
    assert two.regions.loc["r0", "real_income_per_capita"] == pytest.approx(
        Equilibrium(economy((200.0,))).solve().regions.loc["r0", "real_income_per_capita"],
        rel=1e-6)


# --------------------------------------------------- the stand-alone model
def test_agrees_with_the_stand_alone_model_on_three_regions():
    """Cutoffs, varieties, entrants and welfare per capita against cge.melitz_ottaviano, at the
    first equilibrium and after a change of trade costs (solved by the homotopy)."""
    L = (100.0, 80.0, 60.0)
    R = ["r0", "r1", "r2"]
    tau0 = np.array([[1.0, 1.8, 2.0], [1.7, 1.0, 1.9], [2.1, 1.6, 1.0]])
    eq = Equilibrium(economy(L, tau=tau0, k=2.5))
    for tau in (tau0, 1 + (tau0 - 1) * 0.6):
        res = eq.solve(tau=np.stack([np.ones((3, 3)), tau], axis=2))
        mo = solve_melitz_ottaviano(R, L, tau, alpha=1.0, gamma=1.0, eta=1.0, k=2.5,
                                    c_max=1.0, f_e=0.01).table
        for n in R:
            assert route(res, n, n)["cost_cutoff"] == pytest.approx(mo.loc[n, "cost_cutoff"],
                                                                    rel=REL)
            assert sum(route(res, n, i)["sellers"] for i in R) == pytest.approx(
                mo.loc[n, "sellers"], rel=REL)
            assert res.sectors.loc[(n, "d"), "entry_mass"] == pytest.approx(
                mo.loc[n, "entrants"], rel=REL)
            assert res.regions.loc[n, "real_income_per_capita"] == pytest.approx(
                mo.loc[n, "welfare_per_capita"], rel=REL)
            for i in R:  # export cutoffs c_Dn / tau_ni
                assert route(res, n, i)["cost_cutoff"] == pytest.approx(
                    mo.loc[n, "cost_cutoff"] / tau[R.index(n), R.index(i)], rel=REL)
    assert abs(res.walras_residual) <= limit(res.regions["income"].max(), terms=WALRAS_TERMS)


# --------------------------------------------------------------- calibration
def benchmark_data(seed=0, L=(100.0, 80.0, 60.0), tariff=0.1, linear="linear"):
    """Consistent benchmark flows: one factor, an outside good q0 with a non-pooled bilateral
    pattern, a differentiated sector d with tariffs, balanced trade."""
    from calibration import BenchmarkData
    rng = np.random.default_rng(seed)
    R = [f"r{i}" for i in range(len(L))]
    nR = len(R)
    L = np.asarray(L)
    Xd = rng.uniform(1.0, 3.0, (nR, nR)) * np.outer(L, L) / L.sum()
    Xd[np.diag_indices(nR)] *= 15
    Xd *= (0.2 * L / Xd.sum(axis=1))[:, None] * rng.uniform(0.9, 1.1, nR)[:, None]
    t = np.where(np.eye(nR, dtype=bool), 0.0, tariff)
    Rd = Xd.sum(axis=0)
    final_d = ((1 + t) * Xd).sum(axis=1)
    Yo = L - Rd
    final_o = L + (t * Xd).sum(axis=1) - final_d
    Xo = np.outer(final_o, Yo) / Yo.sum()
    bump = 0.05 * Xo.min()
    Xo[0, 0] += bump
    Xo[1, 1] += bump
    Xo[0, 1] -= bump
    Xo[1, 0] -= bump
    return BenchmarkData.from_mapping({
        "regions": R, "sectors": ["q0", "d"], "factors": ["labour"],
        "market_structure": {"q0": "outside", "d": linear},
        "trade": np.stack([Xo, Xd], axis=2).tolist(),
        "tariff": np.stack([np.zeros((nR, nR)), t], axis=2).tolist(),
        "factor_payments": np.stack([Yo, Rd], axis=1)[:, :, None].tolist(),
        "final_demand": np.stack([final_o, final_d], axis=1).tolist(),
        "sigma": 2.0, "k": 3.0}), L


def with_intermediate_outside_good(data, share=0.2):
    """The same benchmark where the linear sector buys ``share`` of its costs as q0 (from its
    own region's market): q0 output and labour rise by as much."""
    Z = np.zeros((len(data.regions), 2, 2))
    V, X = data.factor_payments.copy(), data.trade.copy()
    for i in range(len(data.regions)):
        z = share * V[i, 1, 0]
        Z[i, 1, 0] = z
        V[i, 1, 0] -= z
        V[i, 0, 0] += z
        X[i, i, 0] += z
    return data.copy(intermediate=Z, factor_payments=V, trade=X)


@pytest.mark.parametrize("intermediates", [False, True])
def test_calibration_replicates_the_benchmark(intermediates):
    """Every flow in at most one iteration; square and nonsingular; Walras; homogeneity (also
    with the linear sector buying the outside good as an intermediate input)."""
    from calibration.calibrate import calibrate, set_start
    data, L = benchmark_data()
    if intermediates:
        data = with_intermediate_outside_good(data)
    prim, start = calibrate(data, population=L)
    eq = Equilibrium(prim)
    set_start(eq, start)
    base = eq.solve()
    assert base.info["iterations"] <= 1
    check_structure(eq.model)
    R, S = data.regions, data.sectors
    for (n, i, s), row in base.routes.iterrows():
        x = data.trade[R.index(n), R.index(i), S.index(s)]
        assert row["trade_value"] == pytest.approx(x, rel=REL), (n, i, s)
    for (r, s), row in base.sectors.iterrows():  # final and intermediate demand, costs
        n, j = R.index(r), S.index(s)
        assert row["expenditure"] == pytest.approx(
            data.final_demand[n, j] + data.intermediate[n, :, j].sum(), rel=REL)
        assert row["household_demand"] == pytest.approx(data.final_demand[n, j], rel=REL)
        assert row["input_price"] * row["input_demand"] == pytest.approx(
            data.factor_payments[n, j, 0] + data.intermediate[n, j].sum(), rel=REL)
        assert row["tariff_revenue"] == pytest.approx(data.tariff_revenue()[R.index(r), S.index(s)],
                                                      rel=REL, abs=1e-12)
    assert abs(base.walras_residual) <= limit(base.regions["income"].max(), terms=WALRAS_TERMS)
    # a tariff cut, then homogeneity: doubling the numeraire doubles prices and values
    new = eq.solve(tariff=prim["tariff"] * 0.5)
    assert abs(new.walras_residual) <= limit(new.regions["income"].max(), terms=WALRAS_TERMS)
    doubled = eq.solve(numeraire=2.0)
    for table, col in (("regions", "income"), ("sectors", "price_index"),
                       ("routes", "trade_value")):
        np.testing.assert_allclose(getattr(doubled, table)[col], 2 * getattr(new, table)[col],
                                   rtol=1e-7)
    np.testing.assert_allclose(doubled.regions["real_income"], new.regions["real_income"],
                               rtol=1e-7)


def test_calibrated_counterfactual_matches_the_stand_alone_model():
    """Data generated by the stand-alone model (no tariffs, unit prices), calibrated with its own
    choke share: the calibrated model reproduces the stand-alone counterfactual."""
    from calibration import BenchmarkData
    from calibration.calibrate import calibrate, set_start
    R, L, k = ["r0", "r1", "r2"], np.array([100.0, 80.0, 60.0]), 2.5
    tau0 = np.array([[1.0, 1.8, 2.0], [1.7, 1.0, 1.9], [2.1, 1.6, 1.0]])
    eq0 = Equilibrium(economy(tuple(L), tau=tau0, k=k))
    res = eq0.solve()
    X = np.zeros((3, 3, 2))
    for (n, i, s), row in res.routes.iterrows():
        X[R.index(n), R.index(i), ["q0", "d"].index(s)] = row["trade_value"]
    output = X.sum(axis=0)
    data = BenchmarkData.from_mapping({
        "regions": R, "sectors": ["q0", "d"], "factors": ["labour"],
        "market_structure": {"q0": "outside", "d": "linear"}, "trade": X.tolist(),
        "factor_payments": output[:, :, None].tolist(), "final_demand": X.sum(axis=1).tolist(),
        "sigma": 2.0, "k": k})
    spend = X[:, :, 1].sum(axis=1) / L
    choke = res.routes.xs("d", level="sector")["choke_price"].groupby(level=0).first()
    prim, start = calibrate(data, population=L, linear_choke=float(choke[R[int(spend.argmax())]]))
    eq = Equilibrium(prim)
    set_start(eq, start)
    assert eq.solve().info["iterations"] <= 1
    tau1 = 1 + (tau0 - 1) * 0.6
    cal = eq.solve(tau=prim["tau"] * np.stack([np.ones((3, 3)), tau1 / tau0], axis=2))
    mo0 = solve_melitz_ottaviano(R, L, tau0, alpha=1.0, gamma=1.0, eta=1.0, k=k, f_e=0.01).table
    mo1 = solve_melitz_ottaviano(R, L, tau1, alpha=1.0, gamma=1.0, eta=1.0, k=k, f_e=0.01).table
    base = eq.benchmark
    for n in R:
        got = route(cal, n, n)["cost_cutoff"] / route(base, n, n)["cost_cutoff"]
        assert got == pytest.approx(mo1.loc[n, "cost_cutoff"] / mo0.loc[n, "cost_cutoff"],
                                    rel=1e-7)
        got = cal.regions.loc[n, "real_income"] / base.regions.loc[n, "real_income"]
        assert got == pytest.approx(mo1.loc[n, "welfare"] / mo0.loc[n, "welfare"], rel=1e-7)


def test_compare_market_structures_on_workbook_data(tmp_path):
    """``compare_market_structures: [melitz, linear, armington]`` on CSV workbook data whose
    differentiated sector is melitz and whose outside good is ``outside``: every structure is
    recalibrated, replicates the benchmark, and its welfare decomposition is exact."""
    import yaml

    from calibration.csv_io import write_benchmark_csv
    from cge.scenario import run_scenario
    data, _ = benchmark_data(linear="melitz")
    write_benchmark_csv(data, tmp_path / "book")
    populations = {"r0": 100.0, "r1": 80.0, "r2": 60.0}
    scenario = {"name": "mo", "data": {"workbook": str(tmp_path / "book"),
                                       "population": populations, "linear_choke": 0.2},
                "shocks": [{"type": "tariff", "importers": "r0", "exporters": ["r1", "r2"],
                            "sectors": "d", "mode": "set", "value": 0.0}],
                "compare_market_structures": ["melitz", "linear", "armington"]}
    (tmp_path / "sc.yaml").write_text(yaml.safe_dump(scenario))
    out = run_scenario(tmp_path / "sc.yaml")
    assert set(out.runs) == {"melitz", "linear", "armington"}
    for label, run in out.runs.items():
        assert run.stats["benchmark_iterations"] <= 1, label
        assert run.primitives.market_structure["q0"] == "outside"
    assert out.runs["linear"].primitives.market_structure["d"] == "linear"
    np.testing.assert_array_equal(out.runs["linear"].primitives["population"], [100.0, 80.0, 60.0])
    # linear_choke: the highest choke price, relative to alpha P0 = 1, is the given share
    choke = out.runs["linear"].base.routes.xs("d", level="sector")["choke_price"]
    assert choke.max() == pytest.approx(0.2, rel=REL)
    assert out.identities_hold
    w = out.runs["linear"].welfare.regions
    assert (w["consumer_surplus"].abs() > 1e-6).all()


# ------------------------------------------------------------ named errors
@pytest.mark.parametrize("field, value, where", [
    ("linear_alpha", 0.0, "linear_alpha[sector=d]"),
    ("linear_alpha", -1.0, "linear_alpha[sector=d]"),
    ("linear_gamma", 0.0, "linear_gamma[sector=d]"),
    ("linear_eta", -2.0, "linear_eta[sector=d]"),
    ("k", 0.0, "k[sector=d]"),
])
def test_bad_parameters_are_named(field, value, where):
    d = economy().to_mapping()
    d[field] = {"q0": 1.0 if field != "k" else 2.0, "d": value}
    with pytest.raises(InputError) as err:
        Primitives.from_mapping(d)
    assert where in str(err.value)


def test_outside_good_not_produced_is_named():
    """The linear sector needs more labour than r1 has: r1 cannot produce the outside good,
    before solving and when a counterfactual would get there."""
    with pytest.raises(InputError, match=r"region=r1: the outside good q0 is not produced"):
        economy((100.0, 100.0), endowment=(100.0, 5.0))
    eq = Equilibrium(economy((100.0, 100.0)))
    eq.solve()
    with pytest.raises(InputError, match=r"region=r1: the outside good q0 is not produced"):
        eq.solve(endowment=np.array([[100.0], [5.0]]))


def test_declaration_errors_are_named():
    with pytest.raises(InputError, match="need it"):
        economy(structure=("armington", "linear"))
    three = economy().to_mapping()
    three.update(sectors=["q0", "d", "m"], market_structure={"q0": "outside", "d": "linear",
                                                             "m": "melitz"},
                 beta={"r0": {"q0": 1.0, "d": 0.0, "m": 0.0}},
                 tau={"r0": {"r0": {"q0": 1.0, "d": 1.0, "m": 1.0}}},
                 tariff=0.0, k=2.0, sigma=2.0, factor_share=1.0)
    with pytest.raises(InputError, match=r"sectors \['m'\] \(melitz\) cannot sit alongside"):
        Primitives.from_mapping(three)
    d = economy().to_mapping()
    d["beta"] = [[0.5, 0.5]]
    with pytest.raises(InputError, match=r"beta\[region=r0, sector=q0\] = 0.5"):
        Primitives.from_mapping(d)


def test_calibration_without_outside_production_is_named():
    from calibration.calibrate import CalibrationError, calibrate
    data, L = benchmark_data()
    X = data.trade.copy()
    moved = X[:, 2, 0].copy()
    X[:, 2, 0] = 0.0
    X[:, 1, 0] += moved  # r1 makes all of r2's outside good
    V = data.factor_payments.copy()
    V[1, 0, 0] += V[2, 0, 0]
    V[2, 0, 0] = 0.0
    bad = data.copy(trade=X, factor_payments=V)
    with pytest.raises((CalibrationError, InputError), match=r"r2.*outside good q0 is not produced|"
                       r"region=r2, sector=q0: no output"):
        calibrate(bad, population=L)


def test_every_equation_family_of_a_linear_economy_is_documented():
    """docs/model.md names every constraint of a linear economy, and each has its equation."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text()
    m = Equilibrium(economy((100.0, 80.0))).model
    names = set()
    for comp in m.component_objects(pyo.Constraint, descend_into=True):
        if comp.is_reference():
            continue
        names.add(comp.local_name)
        assert comp.doc and ("math::" in comp.doc or "=" in comp.doc), comp.name
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, f"docs/model.md does not document {missing}"


def test_outside_good_not_consumed_after_a_shock_is_named():
    """With two factors the wage is not pinned by one price, so no check before solving: a shock
    that leaves r1 no income for the outside good fails with the region and the reason named."""
    from cge.solve import SolveError
    share = {"q0": {"labour": 0.5, "capital": 0.5}, "d": {"labour": 1.0, "capital": 0.0}}
    d = economy((100.0, 100.0)).to_mapping()
    d.update(factors=["labour", "capital"], endowment=[[100.0, 50.0], [100.0, 50.0]],
             factor_share={"r0": share, "r1": share})
    eq = Equilibrium(Primitives.from_mapping(d))
    eq.solve()
    with pytest.raises(SolveError, match=r"region=r1: the outside good q0 is no longer consumed"):
        eq.solve(endowment=np.array([[100.0, 50.0], [5.0, 2.5]]))


def test_outside_good_alongside_a_ces_sector_solves_from_a_cold_start():
    """An outside good with Cobb-Douglas demand next to a melitz sector (what a comparison of
    structures runs): solved from the initial guess, Walras' law, one world price of q0."""
    d = economy((100.0, 80.0)).to_mapping()
    d.update(market_structure={"q0": "outside", "d": "melitz"}, beta=[[0.6, 0.4]] * 2,
             sigma=3.0, k=4.0)
    eq = Equilibrium(Primitives.from_mapping(d))
    res = eq.solve()
    assert abs(res.walras_residual) <= limit(res.regions["income"].max(), terms=WALRAS_TERMS)
    tariff = np.stack([np.zeros((2, 2)), np.array([[0.0, 0.2], [0.2, 0.0]])], axis=2)
    new = eq.solve(tariff=tariff)
    p0 = new.sectors.xs("q0", level="sector")["price_index"]
    np.testing.assert_allclose(p0, p0.iloc[0], rtol=REL)
    np.testing.assert_allclose(new.sectors.xs("q0", level="sector")["household_demand"],
                               0.6 * new.regions["income"], rtol=REL)


@pytest.mark.parametrize("k", [1.5, 3.0, 6.0])
def test_markup_moments_against_integrals_over_sellers(k):
    """Mean and revenue-weighted p/c among sellers (route results) against quadrature over cost
    draws c ~ Pareto on [0, c*] (c* = p^d), with p = (p^d + c)/2 and revenue p q ~ (p^d)^2 - c^2."""
    from scipy.integrate import quad

    from cge.blocks.linear import markup_mean, markup_revenue_weighted
    pd_, dens = 0.7, (lambda c: k * c ** (k - 1) / 0.7 ** k)  # noqa: E731

    def markup(c):
        return markup_of_firm(c, pd_)[1]

    mean = quad(lambda c: markup(c) * dens(c), 0, pd_, limit=200)[0]
    rev = quad(lambda c: markup(c) * (pd_ ** 2 - c ** 2) * dens(c), 0, pd_, limit=200)[0] / \
        quad(lambda c: (pd_ ** 2 - c ** 2) * dens(c), 0, pd_, limit=200)[0]
    assert markup_mean(k) == pytest.approx(mean, rel=1e-7)
    assert markup_revenue_weighted(k) == pytest.approx(rev, rel=1e-7)
