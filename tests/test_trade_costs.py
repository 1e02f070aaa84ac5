"""Trade costs that can fall in every market structure: the calibrated split of the observed
trade friction into tau and a preference weight, iceberg cuts against exact hat algebra,
route selection and the refusals that remain."""

from __future__ import annotations

import numpy as np
import pytest

import calibration as cal
from cge import Equilibrium
from cge import shocks as sh

REGIONS = ["A", "B", "C", "D"]
# Bilateral flows X[n, i] (destination, origin) with home bias, asymmetric, and a deficit
# pattern (E_n != Y_n).
FLOWS = np.array([[60.0, 8.0, 4.0, 2.0],
                  [6.0, 50.0, 5.0, 3.0],
                  [3.0, 7.0, 80.0, 6.0],
                  [1.5, 2.0, 9.0, 40.0]])


def one_sector(structure="armington", sigma=5.0, k=4.6, X=FLOWS):
    """The gravity economy: one sector, one factor, no intermediates, E - Y as deficit."""
    R = len(X)
    sales, spending = X.sum(axis=0), X.sum(axis=1)
    return cal.BenchmarkData(
        regions=REGIONS[:R], sectors=["g"], factors=["labour"], trade=X[:, :, None],
        factor_payments=sales[:, None, None], final_demand=spending[:, None],
        deficit=spending - sales, sigma=[sigma], k=[k], market_structure={"g": structure})


def hat_algebra(X, tau_hat, eps, deficit, tol=1e-15):
    r"""Exact hat algebra of the one-sector Armington (Eaton-Kortum) economy with each
    deficit held at its benchmark share of world income (Dekle, Eaton and Kortum 2008;
    cge's default deficit closure), written independently of the library:

    lambda'_ni = lambda_ni (tau^_ni w^_i)^-eps / sum_k lambda_nk (tau^_nk w^_k)^-eps,
    w^_i Y_i = sum_n lambda'_ni (w^_n Y_n + D'_n),  D'_n = D_n sum_m w^_m Y_m / sum_m Y_m,
    w^_0 = 1,
    real income U^_n = (E'_n / E_n) / P^_n,  P^_n = (sum_i lambda_ni (tau^ w^_i)^-eps)^(-1/eps).
    """
    Y, E = X.sum(axis=0), X.sum(axis=1)
    lam = X / E[:, None]
    w = np.ones(len(Y))
    for _ in range(100000):
        cost = (tau_hat * w[None, :]) ** (-eps)
        lam1 = lam * cost / (lam * cost).sum(axis=1, keepdims=True)
        E1 = w * Y + deficit * (w * Y).sum() / Y.sum()
        excess = (lam1 * E1[:, None]).sum(axis=0) / (w * Y)  # demand / supply of labour
        w_new = w * excess ** 0.5
        w_new /= w_new[0]
        if np.max(np.abs(w_new / w - 1)) < tol:
            w = w_new
            break
        w = w_new
    cost = (tau_hat * w[None, :]) ** (-eps)
    P_hat = ((lam * cost).sum(axis=1)) ** (-1 / eps)
    E1 = w * Y + deficit * (w * Y).sum() / Y.sum()
    lam1 = lam * cost / (lam * cost).sum(axis=1, keepdims=True)
    return {"wage": w, "welfare": (E1 / E) / P_hat, "trade": lam1 * E1[:, None]}


def test_iceberg_cut_on_armington_equals_exact_hat_algebra():
    data = one_sector("armington", sigma=5.0)
    prim, start = cal.calibrate(data)
    tau = prim["tau"][:, :, 0]
    assert (np.diag(tau) == 1).all() and (tau[~np.eye(4, dtype=bool)] > 1.2).all()
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    base = eq.solve()
    assert eq.last_stats.iterations <= 1
    shocked = sh.iceberg(prim, "cut_pct", 40)  # (tau - 1) down 40% on every foreign route
    new = eq.solve(shocked)
    tau_hat = shocked["tau"][:, :, 0] / tau
    exact = hat_algebra(FLOWS, tau_hat, eps=4.0, deficit=data.deficit)
    welfare = (new.regions["real_income"] / base.regions["real_income"]).reindex(REGIONS)
    np.testing.assert_allclose(welfare.to_numpy(), exact["welfare"], rtol=1e-8)
    X1 = new.routes.xs("g", level="sector")["trade_value"].unstack("origin").loc[REGIONS, REGIONS]
    np.testing.assert_allclose(X1.to_numpy(), exact["trade"], rtol=1e-8)
    assert (exact["welfare"] > 1.01).all()  # the cut matters: a test that can fail


@pytest.mark.parametrize("structure", ["armington", "krugman", "melitz"])
def test_every_structure_takes_a_border_removal(structure):
    # the default split keeps the symmetric (Head-Ries) part of the friction in tau, so a
    # cut of the border between {A, B} and {C, D} is a valid shock in every structure
    prim, start = cal.calibrate(one_sector(structure))
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    base = eq.solve()
    assert eq.last_stats.iterations <= 1
    shocked = sh.border(prim, [["A", "B"], ["C", "D"]], to="factor", factor=0.9)
    gain = eq.solve(shocked).compare(base).welfare["welfare_change_pct"]
    assert (gain > 0).all()


def test_armington_without_the_split_refuses_with_the_route_and_the_remedy():
    prim, _ = cal.calibrate(one_sector("armington"), trade_costs="implied")
    with pytest.raises(sh.ShockError) as err:
        sh.border(prim, [["A", "B"], ["C", "D"]], to="factor", factor=0.9)
    msg = str(err.value)
    assert "tau[A,C] (route C -> A, sector g, armington) would be 0.9" in msg
    assert "iceberg costs must be >= 1" in msg and "cge gravity" in msg and "Head-Ries" in msg
    with pytest.raises(sh.ShockError, match=r"tau\[A,B\] \(route B -> A.*would be 0\.8 .*11 more routes"):
        sh.parameter(prim, "tau", "scale", 0.8, routes="foreign")


def test_gravity_trade_costs_and_term_removal_are_structure_free():
    # T = tau^-eps from a trade-cost function: tau = T^(-1/eps) in every structure, and the
    # removal of a gravity term b changes T by exp(-b) whatever the structure
    T = np.exp(-0.8 * np.log(1 + np.abs(np.subtract.outer(range(4), range(4)))) - 1.5 * (1 - np.eye(4)))
    data = one_sector("armington").copy(trade_cost=T[:, :, None])
    for structure, eps in (("armington", 4.0), ("krugman", 4.0), ("melitz", 4.6)):
        d = data.copy()
        d.market_structure = {"g": structure}
        prim, start = cal.calibrate(d)
        np.testing.assert_allclose(prim["tau"][:, :, 0] ** (-eps), T, rtol=1e-12)
        eq = Equilibrium(prim)
        cal.set_start(eq, start)
        eq.solve()
        assert eq.last_stats.iterations <= 1
        out = sh.iceberg(prim, remove_gravity_term=-1.5, routes="international")
        np.testing.assert_allclose(out["tau"][:, :, 0] ** (-eps),
                                   np.where(np.eye(4, dtype=bool), T, T * np.exp(1.5)), rtol=1e-12)


def test_route_selection_by_group():
    prim, _ = cal.calibrate(one_sector("armington"))
    tau = prim["tau"][:, :, 0]

    def changed(p):
        return {(REGIONS[i], REGIONS[n]) for n, i in zip(*np.nonzero(p["tau"][:, :, 0] != tau))}

    assert changed(sh.iceberg(prim, "cut_pct", 10, pairs=[["A", "C"]])) == {("A", "C"), ("C", "A")}
    assert changed(sh.iceberg(prim, "cut_pct", 10, importers="B", exporters="D",
                              both_directions=True)) == {("D", "B"), ("B", "D")}
    assert changed(sh.iceberg(prim, "cut_pct", 10, fta=["A", "B", "C"])) == {
        (a, b) for a in "ABC" for b in "ABC" if a != b}
    assert len(changed(sh.iceberg(prim, "cut_pct", 10, routes="international"))) == 12
    with pytest.raises(sh.ShockError, match="give one of fta"):
        sh.iceberg(prim, "cut_pct", 10, fta=["A", "B"], pairs=[["A", "C"]])
    with pytest.raises(sh.ShockError, match=r"pair \['A', 'A'\] names one region twice"):
        sh.iceberg(prim, "cut_pct", 10, pairs=[["A", "A"]])
    # a preference shock on foreign routes only
    p = sh.parameter(prim, "pref_weight", "scale", 2.0, routes="foreign")
    ratio = p["pref_weight"][:, :, 0] / prim["pref_weight"][:, :, 0]
    np.testing.assert_array_equal(ratio, np.where(np.eye(4, dtype=bool), 1.0, 2.0))


def test_trade_costs_sheet_round_trip_and_named_errors(tmp_path):
    import openpyxl

    T = np.exp(-1.5 * (1 - np.eye(4)))[:, :, None]
    data = one_sector("armington").copy(trade_cost=T)
    path = cal.write_benchmark_workbook(data, tmp_path / "book.xlsx", layout="long")
    back = cal.read_workbook(path)
    np.testing.assert_allclose(back.trade_cost, T, rtol=1e-15)  # as Excel stores it
    book = openpyxl.load_workbook(path)
    sheet = book["trade_costs"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=3, column=header.index("trade_cost") + 1, value=-2.0)
    sheet.cell(row=4, column=header.index("origin") + 1, value="Atlantis")
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(cal.WorkbookError) as err:
        cal.read_workbook(tmp_path / "bad.xlsx")
    msg = str(err.value)
    assert "trade_costs!D3" in msg and "-2" in msg and "must be > 0" in msg
    with pytest.raises(cal.WorkbookError, match=r"trade_costs row 4: unknown origin 'Atlantis'"):
        sheet.cell(row=3, column=header.index("trade_cost") + 1, value=2.0)
        book.save(tmp_path / "bad2.xlsx")
        cal.read_workbook(tmp_path / "bad2.xlsx")
