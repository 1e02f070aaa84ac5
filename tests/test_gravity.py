"""PPML gravity (cge.gravity): Yotov et al. (2016) chapter 2 reproduced, and bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cge.gravity import GravityError, estimate_gravity, read_bilateral_table

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "sam_data" / "yotov2016_trade_without_border_2006.csv.gz"
SOURCE = ROOT.parent / "shared" / "data" / "yotov2016" / "yotov2016_trade_without_border_2006.csv"
SPEC = dict(flow="trade", variables=["DIST", "CNTG", "INTL_BRDR"], log=["DIST"])


@pytest.fixture(scope="module")
def yotov():
    return estimate_gravity(read_bilateral_table(BUNDLED), **SPEC)


def test_ppml_reproduces_yotov_chapter2(yotov):
    # Yotov, Piermartini, Monteiro and Larch (2016), ch. 2, application 1 ("trade without
    # borders"): PPML of trade on ln DIST, CNTG, INTL_BRDR with exporter and importer fixed
    # effects, 69 countries in 2006, domestic flows included: ln DIST -0.791, CNTG 0.674,
    # INTL_BRDR -2.474.
    b = yotov.coefficients
    assert round(b["ln_DIST"], 3) == -0.791
    assert round(b["CNTG"], 3) == 0.674
    assert round(b["INTL_BRDR"], 3) == -2.474
    assert yotov.n_obs == 69 * 69
    assert (yotov.std_errors > 0).all()


def test_fitted_flows_keep_outputs_and_expenditures(yotov):
    # PPML with exporter and importer fixed effects fits every row and column sum exactly
    # (the first-order conditions), so the fitted flows are a benchmark with the data's Y, E.
    p = yotov.pairs
    for key in ("exporter", "importer"):
        obs, fit = p.groupby(key)["observed"].sum(), p.groupby(key)["fitted"].sum()
        np.testing.assert_allclose(fit, obs, rtol=1e-8)
    # the trade-cost index is exp(b'z) pair by pair
    z = p[["ln_DIST", "CNTG", "INTL_BRDR"]].to_numpy() @ yotov.coefficients.to_numpy()
    np.testing.assert_allclose(np.log(p["trade_cost"]), z, rtol=1e-12)


@pytest.mark.skipif(not SOURCE.exists(), reason="the shared data folder is not next to the repository")
def test_bundled_table_is_the_source():
    src, bun = pd.read_csv(SOURCE), read_bilateral_table(BUNDLED)
    for c in bun.columns:
        if c in ("exporter", "importer"):
            assert (src[c] == bun[c]).all()
        else:
            np.testing.assert_array_equal(src[c].to_numpy(float), bun[c].to_numpy(float))


def _small():
    return pd.DataFrame({"exporter": ["A", "A", "B", "B"], "importer": ["A", "B", "A", "B"],
                         "trade": [10.0, 2.0, 3.0, 20.0], "DIST": [1.0, 5.0, 5.0, 1.0],
                         "BRDR": [0, 1, 1, 0]})


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.drop(columns="DIST"), r"missing column\(s\) \['DIST'\]"),
    (lambda d: d.assign(trade=[10.0, -2.0, 3.0, 20.0]), r"column 'trade', row 3: flow -2 is negative"),
    (lambda d: d.assign(DIST=[1.0, "far", 5.0, 1.0]), r"column 'DIST', row 3: 'far' is not a finite number"),
    (lambda d: d.assign(DIST=[0.0, 5.0, 5.0, 1.0]), r"column 'DIST', row 2: 0 has no logarithm"),
    (lambda d: pd.concat([d, d.iloc[[1]]]), r"row 6: pair \('A', 'B'\) already given"),
])
def test_bad_tables_are_named(edit, match):
    with pytest.raises(GravityError, match=match):
        estimate_gravity(edit(_small()), flow="trade", variables=["DIST", "BRDR"], log=["DIST"])


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(GravityError, match="no such file"):
        read_bilateral_table(tmp_path / "nothere.csv")
    (tmp_path / "t.txt").write_text("a,b\n1,2\n")
    with pytest.raises(GravityError, match="unknown kind of table '.txt'"):
        read_bilateral_table(tmp_path / "t.txt")
    with pytest.raises(GravityError, match=r"log variable\(s\) \['X'\]"):
        estimate_gravity(_small(), variables=["DIST"], log=["X"])
