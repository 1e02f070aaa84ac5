"""SAM balancing: RAS and cross entropy on hand-made matrices and on a perturbed bundled workbook."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import calibration as cal
from calibration.balance import (
    RASResult, cross_entropy_balance, cross_entropy_distance, imbalances, ras_balance,
)
from cge import Equilibrium
from cge.errors import InputError
from flows import assert_flows_match  # tests/flows.py

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "sam_data" / "template_multiregion.xlsx"
METHODS = {"ras": ras_balance, "cross_entropy": cross_entropy_balance}
NAMES = ["act", "com", "lab", "hh", "gov"]


def _unbalanced():
    """A small unbalanced SAM with a zero pattern, a negative entry, a diagonal entry and a
    fixed cell (hh <- lab, the wage bill); the free entries are the other positive ones."""
    A = np.array([
        #  act    com   lab   hh    gov
        [0.0,  105.0, 0.0,  0.0,  0.0],    # act
        [40.0,  3.0,  0.0,  62.0, 9.0],    # com (3: a diagonal entry)
        [58.0,  0.0,  0.0,  0.0,  0.0],    # lab
        [0.0,   0.0, 60.0,  0.0,  4.0],    # hh
        [5.0,   0.0,  0.0, 10.0, -1.0],    # gov (-1: a negative entry)
    ])
    fixed = np.zeros_like(A, dtype=bool)
    fixed[3, 2] = True
    return A, ~fixed


def _max_gap(B):
    return np.abs(B.sum(axis=1) - B.sum(axis=0)).max() / np.abs(B).sum(axis=1).max()


@pytest.mark.parametrize("method", list(METHODS))
def test_both_methods_balance_and_keep_zeros_fixed_cells_and_signs(method):
    A, free = _unbalanced()
    assert _max_gap(A) > 0.01
    res = METHODS[method](A, free, accounts=NAMES)
    B = res.matrix
    assert isinstance(res, RASResult) and res.method == method and res.iterations > 0
    assert _max_gap(B) < 1e-10 and res.max_imbalance <= 1e-12
    assert imbalances(B, NAMES)["relative"].max() < 1e-12
    assert np.array_equal(B == 0, A == 0)                  # zero structure kept
    assert np.array_equal(np.sign(B), np.sign(A))          # sign pattern kept
    assert B[3, 2] == 60.0 and B[4, 4] == -1.0             # fixed and negative, bit for bit
    assert not np.allclose(B, A)                           # it did change something


def test_cross_entropy_has_the_solution_form_and_is_a_minimum():
    A, free = _unbalanced()
    res = cross_entropy_balance(A, free, accounts=NAMES)
    B, lam = res.matrix, res.multipliers
    off = free & (A > 0) & ~np.eye(len(A), dtype=bool)
    np.testing.assert_allclose(B[off], (A * np.exp(lam[:, None] - lam[None, :]))[off], rtol=1e-13)
    assert B[1, 1] == 3.0                                  # a free diagonal entry never moves
    # moving flow round a cycle of free entries keeps every account balanced and must
    # raise the objective: act <- com <- gov <- act, and hh <-> gov
    base = cross_entropy_distance(B, A)
    for cycle in ([(0, 1), (1, 4), (4, 0)], [(3, 4), (4, 3)]):
        for eps in (-0.5, 0.5):
            C = B.copy()
            for k, l in cycle:
                C[k, l] += eps
            assert _max_gap(C) < 1e-10
            assert cross_entropy_distance(C, A) > base + 1e-3


def test_cross_entropy_objective_not_larger_than_ras():
    A, free = _unbalanced()
    ce = cross_entropy_distance(cross_entropy_balance(A, free).matrix, A)
    ras = cross_entropy_distance(ras_balance(A, free).matrix, A)
    assert 0 < ce < ras
    # two accounts: cross entropy meets in the geometric mean, sqrt(50 * 1)
    two = np.array([[0.0, 50.0], [1.0, 0.0]])
    B = cross_entropy_balance(two).matrix
    np.testing.assert_allclose(B, [[0, np.sqrt(50)], [np.sqrt(50), 0]], rtol=1e-14)
    assert cross_entropy_distance(B, two) < cross_entropy_distance(ras_balance(two).matrix, two)


@pytest.mark.parametrize("method", list(METHODS))
def test_a_balanced_sam_is_returned_unchanged(method):
    A, free = _unbalanced()
    B = cross_entropy_balance(A, free).matrix
    res = METHODS[method](B, free, accounts=NAMES)
    assert res.iterations == 0
    assert np.array_equal(res.matrix, B)
    assert res.matrix is not B


def test_cross_entropy_names_the_account_that_cannot_be_balanced():
    A, free = _unbalanced()
    no_gov = free.copy()
    no_gov[4, :] = no_gov[:, 4] = False                 # gov: nothing may change, unbalanced
    with pytest.raises(InputError, match="account 'gov' cannot be balanced: it has no free "
                                         "entry in its row or column"):
        cross_entropy_balance(A, no_gov, accounts=NAMES)
    # x's row is fixed at 5 but its column already pays 7 in fixed entries: its free
    # column entry would have to be negative (and, transposed, the same for its row)
    X = np.array([[0.0, 5.0, 0.0], [7.0, 0.0, 4.0], [2.0, 6.0, 0.0]])
    xfree = X > 0
    xfree[0, 1] = xfree[1, 0] = False
    with pytest.raises(InputError, match=r"account 'x' cannot be balanced: its row has no free "
                                         r"entry and its fixed row total 5, fixed column total 7"):
        cross_entropy_balance(X, xfree, accounts=list("xyz"))
    with pytest.raises(InputError, match="account 'x' cannot be balanced: its column has no free"):
        cross_entropy_balance(X.T, xfree.T, accounts=list("xyz"))
    # two groups linked only by fixed entries, each unbalanced
    G = np.array([[0.0, 5.0, 10.0, 0.0], [5.0, 0.0, 0.0, 1.0],
                  [0.0, 0.0, 0.0, 5.0], [0.0, 0.0, 5.0, 0.0]])
    gfree = G > 0
    gfree[0, 2] = gfree[1, 3] = False
    with pytest.raises(InputError, match="accounts 'a', 'b' cannot be balanced: no free entry "
                                         "links them"):
        cross_entropy_balance(G, gfree, accounts=list("abcd"))
    # linked by one free entry in the wrong direction: the multipliers run off
    gfree[1, 3] = True
    with pytest.raises(InputError, match=r"accounts 'a', 'b' cannot be balanced: the fixed "
                                         r"entries leave \(next to\) no room.*the entry 'b' <- "
                                         r"'d' is already scaled by e\^-"):
        cross_entropy_balance(G, gfree, accounts=list("abcd"))


def test_non_convergence_names_the_worst_account():
    A, free = _unbalanced()
    with pytest.raises(InputError, match=r"cross entropy did not converge in 1 Newton steps; "
                                         r"largest remaining imbalance .* in account 'hh'"):
        cross_entropy_balance(A, free, accounts=NAMES, max_iter=1)
    with pytest.raises(InputError, match="RAS did not converge in 2 sweeps.*account"):
        ras_balance(A, free, accounts=NAMES, max_iter=2)


# ----------------------------------------------------------------- workbooks
def _perturbed_template(tmp_path):
    """The bundled template with North's household consumption of mfg raised from 230 to 236."""
    import openpyxl

    path = tmp_path / "perturbed.xlsx"
    shutil.copy(TEMPLATE, path)
    wb = openpyxl.load_workbook(path)
    ws = wb["sam_North"]
    cols = {c.value: c.column for c in ws[1]}
    row = next(r[0].row for r in ws.iter_rows(min_row=2, max_col=1) if r[0].value == "c_mfg")
    cell = ws.cell(row=row, column=cols["household"])
    assert cell.value == 230 and cell.coordinate == "H4"
    cell.value = 236
    wb.save(path)
    return path


def test_read_workbook_cross_entropy_reports_every_change_and_calibrates(tmp_path):
    path = _perturbed_template(tmp_path)
    with pytest.raises(cal.WorkbookError, match="account c_mfg does not balance"):
        cal.read_workbook(path)
    data, rep = cal.read_workbook(path, balance="cross_entropy", with_report=True)
    adj = rep.adjustments
    assert set(adj["region"]) == {"North"} and set(adj["sheet"]) == {"sam_North"}
    assert (adj["reason"] == "cross-entropy adjustment").all()
    by_cell = adj.set_index("cell")
    assert by_cell.loc["H4", "row_account"] == "c_mfg"
    assert by_cell.loc["H4", "column_account"] == "household"
    assert by_cell.loc["H4", "before"] == 236.0
    assert 230.0 < by_cell.loc["H4", "after"] < 236.0
    np.testing.assert_allclose(adj["change"], adj["after"] - adj["before"], rtol=1e-12)
    assert 0 < adj["relative_change"].abs().max() < 0.02
    # the trade-sheet cells (imports, exports, tariffs) are not among the changes
    assert not ({"rest_of_world", "tariffs"} & set(adj["row_account"]))
    assert "rest_of_world" not in set(adj["column_account"])
    before = rep.imbalances_before["North"]
    assert before.loc[0, "account"] in ("c_mfg", "household")
    assert abs(before.loc[0, "difference"]) == pytest.approx(6.0)
    assert rep.notes[1].startswith(f"cross-entropy balancing changed {len(adj)} cells")
    assert data.notes == rep.notes
    # cross entropy is no further from the data than RAS, measured on the reported cells
    _, ras = cal.read_workbook(path, balance="ras", with_report=True)

    def distance(a):
        return float((a["after"] * np.log(a["after"] / a["before"]) - a["after"] + a["before"]).sum())

    assert set(ras.adjustments["cell"]) == set(adj["cell"])
    assert 0 < distance(adj) < distance(ras.adjustments)
    prim, start = cal.calibrate(data)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    eq.solve()
    assert eq.last_stats.iterations <= 1
    assert_flows_match(eq, data)


def test_read_workbook_unknown_balance_option_names_it_and_both_choices(tmp_path):
    with pytest.raises(InputError, match=r"balance: expected None, 'ras' or 'cross_entropy', "
                                         r"got 'entropy'"):
        cal.read_workbook(TEMPLATE, balance="entropy")
