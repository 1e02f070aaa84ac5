"""The South Africa 2015 micro SAM (195 accounts) as an 18-sector benchmark
(``calibration.south_africa_micro``), and the command lines of the real-data converters.

The data's licence is not verified: they are read from the shared data folder
next to the repository (``../shared/data``) and nothing derived from them is
stored here; every expected value is computed from the source file at test
time. The data tests are skipped only when that folder is absent. The South
Africa macro SAM tests are in ``tests/test_real_data.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import calibration as cal
from calibration import caliendo_parro as cp
from calibration import south_africa as za
from calibration import south_africa_micro as zm
from cge import Equilibrium
from cge.errors import InputError
from cge.solve import max_residual
from cge.tolerance import limit, WALRAS_TERMS
from flows import assert_flows_match  # tests/flows.py

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ZA_DIR = DATA / "south_africa_sam_2015"

needs_data = pytest.mark.skipif(
    not (ZA_DIR / zm.MICRO_FILE).is_file(),
    reason=f"{ZA_DIR / zm.MICRO_FILE} is absent (the South Africa 2015 SAM's licence is not "
           "verified, so it is not in the repository)")

FACTORS = list(zm.LABOUR) + ["fcap"]


@pytest.fixture(scope="module")
def source():
    return zm.read_micro_sam(ZA_DIR)


@pytest.fixture(scope="module")
def micro(source):
    return zm.zaf_micro_benchmark(ZA_DIR)


def _by_sector(series: pd.Series, aggregation: dict[str, str]) -> pd.Series:
    return series.groupby(series.index.map(aggregation)).sum()


# ================================================================ the workbook
@needs_data
def test_micro_workbook_passes_the_checks(micro):
    data, record, report = micro
    assert data.regions == ("ZAF", "ROW")
    assert data.sectors == tuple(zm.SECTORS) and len(data.sectors) == 18
    assert data.factors == ("labour_primary", "labour_middle", "labour_secondary",
                            "labour_tertiary", "capital")
    assert cal.benchmark_problems(data) == []
    melitz = [s for s in data.sectors if data.market_structure[s] == "melitz"]
    assert melitz == ["food", "textiles", "wood_paper", "petroleum", "chemicals", "minerals",
                      "metals", "machinery", "vehicles", "other_manufacturing"]
    for j, s in enumerate(data.sectors):
        par = zm.SECTOR_PARAMETERS[data.market_structure[s]]
        assert (data.sigma[j], data.k[j]) == (par["sigma"], par["k"])
        assert data.k[j] > data.sigma[j] - 1
    # exporter shares raised (above the default) only where melitz imports need them
    raised = np.argwhere(np.isfinite(data.exporter_share))
    assert len(raised) > 0
    for n, i, j in raised:
        assert (data.regions[n], data.regions[i]) == ("ZAF", "ROW")
        assert data.market_structure[data.sectors[j]] == "melitz"
        assert data.exporter_share[n, i, j] > cal.DEFAULT_EXPORTER_SHARE
    # the source balances to 1e-9: RAS has (almost) nothing to do
    assert report.adjustments.empty or report.adjustments["relative_change"].abs().max() < 1e-9
    # ROW (leontief): final demand is row_scale times ZAF's, sector by sector
    np.testing.assert_allclose(data.final_demand[1], 9.0 * data.final_demand[0], rtol=1e-9)


@needs_data
def test_micro_aggregation_covers_every_commodity_once_and_keeps_the_totals(source, micro):
    data, record, _ = micro
    agg = zm.DEFAULT_AGGREGATION
    assert sorted(agg) == sorted(zm.COMMODITIES) and len(agg) == 104
    coms, acts = list(zm.COMMODITIES), list(zm.ACTIVITIES)
    S = source
    # sector by sector: output (make matrix + product taxes), imports and tariffs
    make = _by_sector(S.loc[acts, coms].sum(axis=0), agg)
    stax = _by_sector(S.loc["stax", coms], agg)
    imports = _by_sector(S.loc["row", coms], agg)
    mtax = _by_sector(S.loc["mtax", coms], agg)
    output = data.trade[:, 0, :].sum(axis=0)
    sectors = list(data.sectors)
    for name, got, want in (("output", output, make + stax), ("imports", data.trade[0, 1],
                                                              imports),
                            ("tariffs", data.tariff_revenue()[0], mtax)):
        np.testing.assert_allclose(got, want.reindex(sectors).to_numpy(), rtol=1e-9,
                                   err_msg=name)
    # economy-wide totals
    rel = 1e-9
    assert output.sum() == pytest.approx(S.loc[acts].to_numpy().sum() + S.loc["stax"].sum(),
                                         rel=rel)
    # value added at factor cost; the activity taxes and the net product taxes are the
    # production tax (the reader's default), and together they are value added at market
    # prices
    factor_cost = S.loc[FACTORS, acts].to_numpy().sum()
    taxes = S.loc["atax", acts].sum() + S.loc["stax"].sum()
    value_added = factor_cost + taxes
    assert data.factor_payments[0].sum() == pytest.approx(factor_cost, rel=rel)
    assert data.production_tax[0].sum() == pytest.approx(taxes, rel=rel)
    assert data.factor_payments[0].sum() + data.production_tax[0].sum() == pytest.approx(
        value_added, rel=rel)
    # with production_taxes="pro_rata" they are folded into factor payments instead
    folded, _, _ = zm.zaf_micro_benchmark(ZA_DIR, production_taxes="pro_rata")
    assert folded.factor_payments[0].sum() == pytest.approx(value_added, rel=rel)
    assert (folded.production_tax == 0).all()
    np.testing.assert_allclose(folded.factor_payments.sum(axis=2),
                               data.factor_payments.sum(axis=2) + data.production_tax, rtol=1e-9)
    assert data.tariff_revenue()[0].sum() == pytest.approx(S.loc["mtax"].sum(), rel=rel)
    assert data.trade[1, 0].sum() == pytest.approx(S.loc[coms, "row"].sum(), rel=rel)
    final = [c for c in S.columns if c.startswith("hhd-")] + ["gov", "s-i", "dstk"]
    assert data.final_demand[0].sum() == pytest.approx(S.loc[coms, final].to_numpy().sum(),
                                                       rel=rel)
    assert data.intermediate[0].sum() == pytest.approx(S.loc[coms, acts].to_numpy().sum(),
                                                       rel=rel)
    # total supply at basic prices plus taxes: the source's commodity columns less margins
    supply = data.absorption()[0].sum() + data.trade[1, 0].sum()
    assert supply == pytest.approx(S[coms].to_numpy().sum() - S.loc["trc"].sum(), rel=rel)


@needs_data
def test_micro_mapping_record_reports_each_step(source, micro):
    _, record, _ = micro
    S = source
    coms, acts = list(zm.COMMODITIES), list(zm.ACTIVITIES)
    assert list(record.columns) == zm.RECORD_COLUMNS
    summary = zm.step_summary(record).set_index("step")
    assert list(summary.index) == ["aggregation", "primary_production", "secondary_production",
                                   "margins", "product_taxes", "exports", "inventories"]
    moved = summary["moved"]
    production = moved["primary_production"] + moved["secondary_production"]
    assert production == pytest.approx(S.loc[acts, coms].to_numpy().sum(), rel=1e-12)
    assert 0 < moved["secondary_production"] < 0.2 * production
    assert moved["margins"] == pytest.approx(S.loc["trc"].sum(), rel=1e-12)
    assert summary.loc["margins", "removed"] == pytest.approx(2 * S.loc["trc"].sum(), rel=1e-12)
    assert summary.loc["product_taxes", "added"] == pytest.approx(S.loc["stax"].sum(), rel=1e-12)
    assert summary.loc["exports", "removed"] == pytest.approx(S.loc[coms, "row"].sum(),
                                                              rel=1e-12)
    assert moved["inventories"] == pytest.approx(S.loc[coms, "dstk"].sum(), rel=1e-12)
    # margins go only to the margin providers' commodity rows
    to = record.loc[(record["step"] == "margins") & (record["to_row"] != ""), "to_row"]
    assert set(to) == {"c_trade", "c_transport"}
    # every source commodity and household group is named once in the aggregation step
    agg = record[record["step"] == "aggregation"]
    assert sorted(agg["from_row"]) == sorted(coms + list(zm.HOUSEHOLDS))


@needs_data
def test_micro_calibrates_replicates_and_a_tariff_cut_raises_imports(micro):
    data, _, _ = micro
    prim, start = cal.calibrate(data)
    eq = Equilibrium(prim)
    cal.set_start(eq, start)
    assert max_residual(eq.model) < limit()
    base = eq.solve()
    assert eq.last_stats.iterations <= 1
    assert_flows_match(eq, data)
    assert abs(base.walras_residual) < limit(terms=WALRAS_TERMS)
    cut = eq.solve(tariff=0.9 * prim["tariff"])
    assert abs(cut.walras_residual) < limit(terms=WALRAS_TERMS) and cut.max_residual < limit()
    into_zaf = cut.routes.index.get_level_values("destination") == "ZAF"
    from_row = cut.routes.index.get_level_values("origin") == "ROW"
    imports = (into_zaf & from_row)
    assert cut.routes.loc[imports, "trade_value"].sum() > \
        base.routes.loc[imports, "trade_value"].sum()


# ============================================================ other mappings
@needs_data
def test_micro_bad_aggregation_names_the_account(source):
    agg = dict(zm.DEFAULT_AGGREGATION)
    del agg["cjewl"]
    with pytest.raises(InputError, match=r"unmapped commodity accounts \['cjewl'\]"):
        zm.zaf_micro_home_sam(source, agg)
    agg = dict(zm.DEFAULT_AGGREGATION, cunobtainium="mining", afood="food")
    with pytest.raises(InputError, match=r"unknown commodity accounts \['cunobtainium', 'afood'\]"
                                         r".*activities, which need no mapping"):
        zm.zaf_micro_home_sam(source, agg)
    with pytest.raises(InputError, match="expected 'default' or a mapping"):
        zm.check_aggregation("coarse")


@needs_data
def test_micro_coarse_aggregation_and_scaled_row(source, tmp_path):
    coarse = {c: ("manufacturing" if c in zm.MANUFACTURING else
                  "primary" if zm.DEFAULT_AGGREGATION[c] in ("agriculture", "mining")
                  else "services") for c in zm.COMMODITIES}
    path = zm.build_zaf_micro_workbook(tmp_path / "coarse.xlsx", ZA_DIR, aggregation=coarse)
    data = cal.read_workbook(path, balance="ras")
    assert cal.benchmark_problems(data) == []
    assert data.market_structure == {"primary": "armington", "manufacturing": "melitz",
                                     "services": "armington"}
    assert data.trade[0, 1].sum() == pytest.approx(source.loc["row", list(zm.COMMODITIES)].sum(),
                                                   rel=1e-9)
    # ROW at nine times ZAF's output cannot be built for the default sectors: ZAF uses more
    # minerals and machinery as inputs than it makes
    with pytest.raises(InputError, match="minerals"):
        zm.zaf_micro_workbook_parts(source, row_output="scaled")


@needs_data
def test_micro_cli_writes_the_workbook_and_the_record(tmp_path, capsys):
    out, rec = tmp_path / "zaf_micro.xlsx", tmp_path / "mapping.csv"
    assert za.main(["--micro", "--data", str(ZA_DIR), "-o", str(out),
                    "--mapping-csv", str(rec)]) == 0
    text = capsys.readouterr().out
    assert "secondary_production" in text and "margins" in text and "RAS balancing" in text
    assert cal.benchmark_problems(cal.read_workbook(out, balance="ras")) == []
    assert set(pd.read_csv(rec)["step"]) >= {"margins", "product_taxes", "exports"}
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"commodity": list(zm.COMMODITIES[1:]),
                  "sector": ["x"] * (len(zm.COMMODITIES) - 1)}).to_csv(bad, index=False)
    assert za.main(["--micro", "--data", str(ZA_DIR), "--aggregation", str(bad)]) == 1
    assert "unmapped commodity accounts ['cagri']" in capsys.readouterr().err


# ================================================================ the CLIs
@pytest.mark.parametrize("module", [za, cp])
def test_converter_clis_print_help(module, capsys):
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--data" in text and "--output" in text and "--calibrate" in text
