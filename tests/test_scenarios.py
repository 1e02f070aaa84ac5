"""Scenario files, shocks on primitives, the ready-made runs and the CLI workflow."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from cge import shocks as sh
from cge.examples import three_by_three
from cge.scenario import (
    ScenarioError, ScenarioResult, load_scenario, prepare_scenario, run_scenario,
    switch_market_structure,
)
from cge.tolerance import limit, WALRAS_TERMS

import pinned  # tests/pinned.py

ROOT = Path(__file__).resolve().parents[1]
#: Runs whose data the repository cannot ship are built from ../shared/data by their own
#: tests (tests/test_nafta.py); every other run is checked here.
BUILT_DATA_RUNS = {"nafta"}
#: Sweep and sensitivity-analysis files (``cge sweep``): each is expanded and every member
#: validated by test_sweep_runs_expand below; their solves are tested in tests/test_sweep.py.
SWEEP_RUNS = {p.stem for p in (ROOT / "runs").glob("*.yaml")
              if any(line.startswith(("sweep:", "ssa:")) for line in p.read_text().splitlines())}
RUNS = sorted(p for p in (ROOT / "runs").glob("*.yaml")
              if p.stem not in BUILT_DATA_RUNS | SWEEP_RUNS)
#: Runs on real data too large for the default tests (69 countries under two or three
#: structures): checked here as slow tests.
SLOW_RUNS = {"trade_without_borders", "border_removal_usa_canada"}


@pytest.mark.parametrize("stem", sorted(SWEEP_RUNS))
def test_sweep_runs_expand(stem):
    from cge.sweep import load_sweep

    sweep = load_sweep(ROOT / "runs" / f"{stem}.yaml")
    assert len(sweep.members) >= 2
    assert len({m.name for m in sweep.members}) == len(sweep.members)


def test_sweep_runs_are_the_two_shipped():
    assert SWEEP_RUNS == {"us_china_sweep", "us_china_ssa"}


@pytest.fixture(scope="module")
def prim():
    return three_by_three()


def idx(prim, *labels):
    """Positions of (destination, origin, sector) labels."""
    n, i, s = labels
    return prim.regions.index(n), prim.regions.index(i), prim.sectors.index(s)


# ======================================================================
# shocks (pure numpy)
# ======================================================================
class TestShocks:
    def test_tariff_modes_touch_only_selected_routes(self, prim):
        t0 = prim["tariff"]
        new = sh.tariff(prim, "set", 0.3, importers="North", exporters="South",
                        sectors="manufacturing")
        j = idx(prim, "North", "South", "manufacturing")
        assert new["tariff"][j] == 0.3
        changed = new["tariff"] != t0
        assert changed.sum() == 1
        assert np.array_equal(prim["tariff"], t0), "input primitives were modified"
        cut = sh.tariff(prim, "cut_pct", 50)
        np.testing.assert_allclose(cut["tariff"], 0.5 * t0)
        add = sh.tariff(prim, "add", 0.1, importers="East")
        e = prim.regions.index("East")
        foreign = np.ones(3, dtype=bool)
        foreign[e] = False
        np.testing.assert_allclose(add["tariff"][e][foreign], t0[e][foreign] + 0.1)
        assert add["tariff"][e, e].tolist() == [0, 0, 0], "domestic routes carry no tariff"
        sc = sh.tariff(prim, "scale", 2.0, importers="South")
        np.testing.assert_allclose(sc["tariff"][1], 2 * t0[1])

    def test_fta_and_mfn(self, prim):
        fta = sh.tariff(prim, "set", 0.0, fta=["North", "South"])
        n, s_, e = (prim.regions.index(r) for r in ("North", "South", "East"))
        assert (fta["tariff"][n, s_] == 0).all() and (fta["tariff"][s_, n] == 0).all()
        assert np.array_equal(fta["tariff"][e], prim["tariff"][e])
        assert np.array_equal(fta["tariff"][s_, e], prim["tariff"][s_, e])
        mfn = sh.tariff(prim, "set", 0.07, importers="South")
        assert (mfn["tariff"][s_, [n, e]] == 0.07).all()

    def test_retaliation_mirrors_the_partners_change(self, prim):
        step1 = sh.tariff(prim, "add", 0.2, importers="North", exporters="South",
                          sectors="manufacturing")
        step2 = sh.retaliation(step1, prim, by="South", against="North")
        j = idx(prim, "South", "North", "manufacturing")
        assert step2["tariff"][j] == pytest.approx(prim["tariff"][j] + 0.2)
        k = idx(prim, "South", "North", "agriculture")
        assert step2["tariff"][k] == prim["tariff"][k]
        with pytest.raises(sh.ShockError, match="nothing to retaliate against") as err:
            sh.retaliation(prim, prim, by="South", against="North")
        assert err.value.field == "against"

    def test_iceberg_cut_acts_on_the_margin(self, prim):
        new = sh.iceberg(prim, "cut_pct", 100)
        eye = np.eye(3, dtype=bool)
        assert np.allclose(new["tau"][~eye], 1.0)
        half = sh.iceberg(prim, "cut_pct", 50, sectors="services")
        j = idx(prim, "North", "South", "services")
        assert half["tau"][j] == pytest.approx(1 + 0.5 * (prim["tau"][j] - 1))
        with pytest.raises(sh.ShockError, match="iceberg costs must be >= 1"):
            sh.iceberg(prim, "set", 0.9)

    def test_border_removal(self):
        from cge import Primitives

        p = Primitives.from_file(ROOT / "runs" / "data" / "borderland.yaml")
        groups = [["CA_East", "CA_West"], ["US_East", "US_West"]]
        by_factor = sh.border(p, groups, to="factor", factor=1 / 1.4)
        ce, cw, ue, uw = (p.regions.index(r) for r in ("CA_East", "CA_West", "US_East", "US_West"))
        assert by_factor["tau"][ue, ce, 0] == pytest.approx(1.15)
        assert by_factor["tau"][ce, cw, 0] == p["tau"][ce, cw, 0]  # within-country untouched
        within = sh.border(p, groups, to="within")
        assert within["tau"][ue, ce, 0] == pytest.approx(1.25)  # both groups' internal level
        with pytest.raises(sh.ShockError, match="more than one group"):
            sh.border(p, [["CA_East"], ["CA_East", "US_East"]])

    def test_other_parameters(self, prim):
        e = sh.endowment(prim, "change_pct", 10, regions="South", factors="labour")
        s, lab = prim.regions.index("South"), prim.factors.index("labour")
        assert e["endowment"][s, lab] == pytest.approx(1.1 * prim["endowment"][s, lab])
        assert (e["endowment"] != prim["endowment"]).sum() == 1
        f = sh.fixed_cost(prim, "scale", 0.5, exporters="East")
        assert (f["f"] != prim["f"]).sum() == 6  # East -> North and South, 3 sectors
        fe = sh.entry_cost(prim, "set", 2.0, regions="North", sectors="manufacturing")
        assert fe["f_e"][0, 1] == 2.0
        ph = sh.productivity(prim, "change_pct", 5, sectors="manufacturing")
        np.testing.assert_allclose(ph["phi_min"][:, 1], 1.05 * prim["phi_min"][:, 1])
        d = sh.deficit(prim, "scale", 0)
        assert (d["deficit"] == 0).all()
        with pytest.raises(sh.ShockError, match="sum to"):
            sh.deficit(prim, values={"North": 5.0})
        g = sh.parameter(prim, "pref_weight", "set", 2.0, {"destination": "North"})
        assert (g["pref_weight"][0] == 2).all() and (g["pref_weight"][1:] == 1).all()

    def test_bad_selectors_name_the_culprit(self, prim):
        with pytest.raises(sh.ShockError) as err:
            sh.tariff(prim, "set", 0.1, importers=["North", "Nrth"])
        assert "unknown region 'Nrth'" in str(err.value)
        assert (err.value.field, err.value.item) == ("importers", 1)
        with pytest.raises(sh.ShockError, match="unknown sector 'steel'"):
            sh.tariff(prim, "set", 0.1, sectors="steel")
        with pytest.raises(sh.ShockError, match="exceed -100%"):
            sh.tariff(prim, "add", -1.2)
        with pytest.raises(sh.ShockError, match="no parameter 'gamma'"):
            sh.parameter(prim, "gamma", "set", 1.0)
        with pytest.raises(sh.ShockError, match="structural"):
            sh.parameter(prim, "sigma", "set", 5.0)
        with pytest.raises(sh.ShockError, match="no dimension 'origin'"):
            sh.parameter(prim, "phi_min", "set", 1.0, {"origin": "North"})
        with pytest.raises(sh.ShockError, match="unknown mode"):
            sh.apply_mode(prim["tau"], np.ones(prim["tau"].shape, bool), "double", 2)

    def test_switch_market_structure(self, prim):
        k = switch_market_structure(prim, "krugman")
        assert k.market_structure == {"agriculture": "armington", "manufacturing": "krugman",
                                      "services": "krugman"}
        assert prim.market_structure["manufacturing"] == "melitz"


# ======================================================================
# scenario files: validation errors name file, line and field
# ======================================================================
def write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def problems_of(path):
    with pytest.raises(ScenarioError) as err:
        prepare_scenario(path)
    return err.value.problems


GOOD = """\
name: t
data: {example: three_by_three}
shocks:
  - type: tariff
    importers: North
    mode: add
    value: 0.1
"""


SCHEDULE = """\
importer,exporter,sector,tariff
North,South,manufacturing,0.05
South,North,manufacturing,0.12
East,North,agriculture,0.0
"""


class TestTariffSchedule:
    """Route-by-route tariffs from a table (the NAFTA run's 2005 schedule)."""

    def test_sets_each_listed_route_and_nothing_else(self, prim):
        import pandas as pd
        from io import StringIO

        table = pd.read_csv(StringIO(SCHEDULE))
        new = sh.tariff_schedule(prim, table)
        t0, t1 = prim["tariff"], new["tariff"]
        for n, i, s, v in table.itertuples(index=False):
            assert t1[idx(prim, n, i, s)] == v
        assert (t1 != t0).sum() <= len(table)
        mask = np.ones(t0.shape, dtype=bool)
        for n, i, s, _ in table.itertuples(index=False):
            mask[idx(prim, n, i, s)] = False
        assert np.array_equal(t1[mask], t0[mask])
        # a selection restricts the rows that apply; "add" adds each row's value
        only = sh.tariff_schedule(prim, table, importers="South")
        assert only["tariff"][idx(prim, "North", "South", "manufacturing")] == \
            t0[idx(prim, "North", "South", "manufacturing")]
        add = sh.tariff_schedule(prim, table, "add")
        j = idx(prim, "South", "North", "manufacturing")
        assert add["tariff"][j] == pytest.approx(t0[j] + 0.12)

    @pytest.mark.parametrize("row, needle", [
        ("Nrth,South,manufacturing,0.1", "row 5: unknown importer 'Nrth'"),
        ("North,South,steel,0.1", "row 5: unknown sector 'steel'"),
        ("North,North,manufacturing,0.1", "row 5: North -> North is a domestic route"),
        ("North,South,manufacturing,0.3", "row 5: the route South -> North in manufacturing is "
                                          "already given in row 2"),
        ("North,East,services,abc", "row 5: tariff 'abc' is not a finite number"),
        ("North,East,services,-1.5", "would be -1.5 (-150%)"),
    ])
    def test_bad_rows_are_named(self, prim, row, needle):
        import pandas as pd
        from io import StringIO

        table = pd.read_csv(StringIO(SCHEDULE + row + "\n"))
        with pytest.raises(sh.ShockError) as err:
            sh.tariff_schedule(prim, table, source="t.csv")
        assert needle in str(err.value) and err.value.field == "schedule"
        assert "t.csv" in str(err.value) or "would be" in str(err.value)

    def test_route_without_trade_and_missing_column(self, prim):
        import pandas as pd
        from io import StringIO

        tau = prim["tau"].copy()
        tau[idx(prim, "East", "North", "agriculture")] = np.inf
        closed = prim.copy(tau=tau)
        with pytest.raises(sh.ShockError, match=r"row 4: the route North -> East in "
                                                r"agriculture has no trade"):
            sh.tariff_schedule(closed, pd.read_csv(StringIO(SCHEDULE)))
        with pytest.raises(sh.ShockError, match=r"missing column\(s\) \['tariff'\]"):
            sh.tariff_schedule(prim, pd.DataFrame({"importer": ["North"], "exporter": ["South"],
                                                   "sector": ["services"], "rate": [0.1]}))

    def test_scenario_reads_csv_and_excel_relative_to_the_file(self, tmp_path):
        import pandas as pd
        from io import StringIO

        (tmp_path / "sched").mkdir()
        (tmp_path / "sched" / "t.csv").write_text(SCHEDULE)
        pd.read_csv(StringIO(SCHEDULE)).to_excel(tmp_path / "sched" / "t.xlsx",
                                                 sheet_name="rates", index=False)
        head = "name: t\ndata: {example: three_by_three}\nshocks:\n"
        for spec in ("sched/t.csv", "{file: sched/t.xlsx, sheet: rates}"):
            prep = prepare_scenario(write(tmp_path, head + f"  - {{type: tariff, schedule: {spec}}}\n"))
            base, shocked = prep.models["as_specified"]
            assert shocked["tariff"][idx(base, "South", "North", "manufacturing")] == 0.12
        bad = {
            "  - {type: tariff, schedule: sched/none.csv}\n":
                (4, "shocks[0].schedule:", "schedule file 'sched/none.csv' not found"),
            "  - {type: tariff, schedule: {file: sched/t.xlsx, sheet: nope}}\n":
                (4, "shocks[0].schedule:", "has no sheet 'nope'"),
            "  - {type: tariff, schedule: sched/t.csv, value: 0.1}\n":
                (4, "shocks[0]", "do not give 'value'"),
        }
        for shock, (line, where, needle) in bad.items():
            p = write(tmp_path, head + shock)
            (msg,) = problems_of(p)
            assert f"{p}:{line}: {where}" in msg and needle in msg, msg
        (tmp_path / "sched" / "u.csv").write_text(SCHEDULE + "North,Mars,services,0.1\n")
        (msg,) = problems_of(write(tmp_path, head + "  - {type: tariff, schedule: sched/u.csv}\n"))
        assert "u.csv, row 5: unknown exporter 'Mars'" in msg, msg


class TestScenarioErrors:
    def test_good_scenario_prepares(self, tmp_path):
        prep = prepare_scenario(write(tmp_path, GOOD))
        base, shocked = prep.models["as_specified"]
        assert (shocked["tariff"] != base["tariff"]).sum() == 6

    def test_malformed_yaml_names_the_line(self, tmp_path):
        p = write(tmp_path, "name: t\ndata: {example: three_by_three}\nshocks:\n"
                            "  - type: tariff\n    importers: [North\n    mode: set\n")
        (msg,) = problems_of(p)
        assert re.match(rf"{re.escape(str(p))}:6: malformed YAML", msg), msg

    def test_unknown_region_names_line_field_and_item(self, tmp_path):
        p = write(tmp_path, GOOD.replace("importers: North", "importers: [North, Nrth]"))
        (msg,) = problems_of(p)
        assert f"{p}:5: shocks[0].importers[1]:" in msg and "unknown region 'Nrth'" in msg
        assert "['North', 'South', 'East']" in msg

    def test_unknown_sector(self, tmp_path):
        p = write(tmp_path, GOOD + "    sectors: steel\n")
        (msg,) = problems_of(p)
        assert f"{p}:8: shocks[0].sectors: " in msg and "unknown sector 'steel'" in msg

    def test_tariff_below_minus_100_percent(self, tmp_path):
        p = write(tmp_path, GOOD.replace("mode: add", "mode: set").replace("0.1", "-1.5"))
        (msg,) = problems_of(p)
        assert f"{p}:7: shocks[0].value:" in msg and "-100%" in msg
        # reached only after adding to the data's tariffs:
        p = write(tmp_path, GOOD.replace("0.1", "-1.2"))
        (msg,) = problems_of(p)
        assert f"{p}:7: shocks[0].value:" in msg and "tariff[destination=North" in msg

    def test_unknown_shock_type_field_and_mode(self, tmp_path):
        p = write(tmp_path, GOOD + "  - type: gamma\n    value: 1\n"
                                   "  - type: iceberg\n    mode: cut\n    valu: 3\n")
        msgs = problems_of(p)
        assert any(f"{p}:8: shocks[1]: unknown shock type 'gamma'" in m for m in msgs), msgs
        assert any(f"{p}:11: shocks[2].mode:" in m and "'cut'" in m for m in msgs), msgs
        assert any(f"{p}:12: shocks[2].valu: unknown field 'valu' (did you mean 'value'?)" in m
                   for m in msgs), msgs

    def test_shock_on_nonexistent_parameter(self, tmp_path):
        p = write(tmp_path, "name: t\ndata: {example: three_by_three}\nshocks:\n"
                            "  - type: parameter\n    parameter: gamma\n    mode: set\n    value: 1\n")
        (msg,) = problems_of(p)
        assert f"{p}:5: shocks[0].parameter:" in msg and "no parameter 'gamma'" in msg

    def test_missing_required_fields_and_duplicates(self, tmp_path):
        msgs = problems_of(write(tmp_path, "nam: t\ndata: {exmple: three_by_three}\n"))
        assert any(":1: name: Field required" in m for m in msgs), msgs
        assert any("nam: unknown field 'nam' (did you mean 'name'?)" in m for m in msgs), msgs
        assert any(":2: data.exmple: unknown field" in m for m in msgs), msgs
        (msg,) = problems_of(write(tmp_path, GOOD + "name: u\n"))
        assert ":8: name: duplicate key (first given on line 1)" in msg

    def test_data_file_and_overrides(self, tmp_path):
        (msg,) = problems_of(write(tmp_path, "name: t\ndata: nowhere.yaml\n"))
        assert ":2: data: data file 'nowhere.yaml' not found" in msg
        (msg,) = problems_of(write(tmp_path, "name: t\ndata: {example: three_by_three}\n"
                                             "market_structure: {steel: melitz}\n"))
        assert ":3: market_structure.steel: unknown sector 'steel'" in msg
        msgs = problems_of(write(tmp_path, "name: t\ndata: {example: three_by_three}\n"
                                           "market_structure: {services: cournot}\n"))
        assert any(":3: market_structure.services:" in m and "'cournot'" in m for m in msgs)
        (msg,) = problems_of(write(tmp_path, "name: t\ndata: {example: three_by_three}\n"
                                             "numeraire: {factor: gold, region: North}\n"))
        assert ":3: numeraire" in msg and "gold" in msg

    def test_primitives_file_relative_to_scenario(self, tmp_path):
        data = tmp_path / "data" / "p.yaml"
        data.parent.mkdir()
        data.write_text(yaml.safe_dump(three_by_three().to_mapping()))
        prep = prepare_scenario(write(tmp_path, "name: t\ndata: data/p.yaml\n"))
        assert prep.data.path == data.resolve() and len(prep.data.checksum) == 64
        bad = yaml.safe_load(data.read_text())
        bad["sigma"]["services"] = 0.5
        data.write_text(yaml.safe_dump(bad))
        msgs = problems_of(tmp_path / "s.yaml")
        assert any(":2: data:" in m and "sigma[sector=services]" in m for m in msgs), msgs

    def test_workbook_needs_the_calibration_package(self, tmp_path, monkeypatch):
        monkeypatch.setitem(__import__("sys").modules, "calibration", None)  # hide it
        (tmp_path / "book.xlsx").write_bytes(b"")
        (msg,) = problems_of(write(tmp_path, "name: t\ndata: book.xlsx\n"))
        assert "calibration package" in msg

    def test_workbook_reader_options_are_validated(self, tmp_path):
        book = ROOT / "sam_data" / "hosoe_japan_2005.xlsx"
        msgs = problems_of(write(tmp_path, f"name: t\ndata:\n  workbook: {book}\n"
                                           "  production_taxes: prorata\n"))
        assert any(":4: data.production_taxes: Input should be 'tax', 'pro_rata' or 'factor', "
                   "got 'prorata'" in m for m in msgs), msgs
        msgs = problems_of(write(tmp_path, f"name: t\ndata:\n  workbook: {book}\n"
                                           "  balance: RAS\n"))
        assert any(":4: data.balance: Input should be 'ras' or 'cross_entropy', got 'RAS'" in m
                   for m in msgs), msgs
        # only the form of data: that was meant is reported (no noise from the other forms)
        assert len(msgs) == 1, msgs
        (msg,) = problems_of(write(tmp_path, "name: t\ndata: {exampel: three_by_three}\n"))
        assert ":2: data.exampel: unknown field 'exampel' (did you mean 'example'?)" in msg
        # the options are for reading a workbook: with primitives each is an error naming it
        prim = tmp_path / "p.yaml"
        prim.write_text(yaml.safe_dump(three_by_three().to_mapping()))
        msgs = problems_of(write(tmp_path, "name: t\ndata:\n  primitives: p.yaml\n"
                                           "  production_taxes: tax\n  balance: ras\n"))
        for line, name in ((4, "production_taxes"), (5, "balance")):
            assert any(f":{line}: data.{name}: '{name}' is an option for reading a workbook" in m
                       for m in msgs), msgs

    def test_retaliation_and_expectation_labels(self, tmp_path):
        p = write(tmp_path, "name: t\ndata: {example: three_by_three}\nshocks:\n"
                            "  - type: tariff\n    retaliation: {by: South, against: North}\n")
        (msg,) = problems_of(p)
        assert ":5: shocks[0].retaliation.against:" in msg and "nothing to retaliate" in msg
        p = write(tmp_path, GOOD + "expect:\n  welfare: {Westeros: positive}\n"
                                   "  components: {North: {luck: positive}}\n")
        msgs = problems_of(p)
        assert any(":9: expect.welfare.Westeros: unknown region" in m for m in msgs), msgs
        assert any(":10: expect.components.North.luck: unknown component" in m for m in msgs)

    def test_closure_region_keys_and_inert_shocks(self, tmp_path):
        def soe(region):
            return GOOD + f"closure:\n  small_open_economy: {region}\n"

        (msg,) = problems_of(write(tmp_path, soe("Mars")))
        assert f"{tmp_path / 's.yaml'}:9: closure.small_open_economy: unknown region 'Mars'" in msg
        assert "['North', 'South', 'East']" in msg
        (msg,) = problems_of(write(tmp_path, soe("East") + "  fixed: true\n"))
        assert ":10: closure.fixed: unknown field 'fixed'" in msg
        msgs = problems_of(write(tmp_path, GOOD + "closure: {small_open: East}\n"))
        # Every key of closure is optional (small_open_economy, government, investment).
        assert any(":8: closure.small_open: unknown field" in m for m in msgs), msgs
        assert any("did you mean 'small_open_economy'?" in m for m in msgs), msgs
        # A shock that changes only what the closure fixes would do nothing: rejected.
        inert = soe("East").replace("shocks:\n", "shocks:\n  - {type: endowment, value: 10}\n")
        (msg,) = problems_of(write(tmp_path, inert))
        assert ":4: shocks[0]: endowment shock: changes endowment of East" in msg
        assert "closure (line 10)" in msg and "no effect" in msg
        prep = prepare_scenario(write(tmp_path, soe("East")))
        assert prep.scenario.closure.small_open_economy == "East"

    def test_load_from_mapping_and_text(self):
        assert load_scenario(yaml.safe_load(GOOD)).scenario.name == "t"
        assert load_scenario(GOOD).scenario.shocks[0].importers == "North"


# ======================================================================
# the ready-made runs: identities and stated qualitative results
# ======================================================================
_cache: dict[str, ScenarioResult] = {}


def result_of(path: Path) -> ScenarioResult:
    if path.name not in _cache:
        _cache[path.name] = run_scenario(path)
    return _cache[path.name]


def test_runs_exist():
    names = {p.stem for p in RUNS}
    assert {"border_removal", "population_change", "tariff_unilateral", "tariff_retaliation",
            "structures_tariff_cut"} <= names


@pytest.mark.solver
@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW_RUNS
                                  else p for p in RUNS], ids=[p.stem for p in RUNS])
def test_run_identities_and_expectations(path):
    text = yaml.safe_load(path.read_text())
    assert "expect" in text, f"{path.name} states no expected results"
    res = result_of(path)
    bad = res.identities[~res.identities["ok"]]
    assert bad.empty, bad.to_string()
    assert set(res.identities["identity"]) >= {
        "world_trade_balance", "income_equals_expenditure", "income_equals_sources",
        "trade_balance_equals_deficit", "welfare_parts_sum_to_total", "ev_parts_sum_to_ev"}
    assert res.expectations, "expectations were not checked"
    failed = [f"[{c.model}] {c.statement} (got {c.value})" for c in res.expectations if not c.passed]
    assert not failed, failed


@pytest.mark.solver
@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW_RUNS
                                  else p for p in RUNS], ids=[p.stem for p in RUNS])
def test_run_results_are_pinned(path):
    """Each run's counterfactual (prices, quantities, welfare) is where it was before the
    speed work of issue 14, to 1e-9 of each column's scale (tests/pinned.py)."""
    problems = pinned.differences(pinned.from_result(result_of(path)), pinned.load(path.stem))
    assert not problems, "\n".join(problems)


def test_pins_catch_a_moved_value():
    stored = pinned.load("tariff_unilateral")
    column = next(c for c in sorted(stored) if c.endswith("/factors/factor_price"))
    key = sorted(stored[column])[-1]
    scale = max(abs(v) for v in stored[column].values())
    for step, caught in ((0.5e-9, False), (2e-9, True)):
        moved = {c: dict(v) for c, v in stored.items()}
        moved[column][key] += step * scale
        assert bool(pinned.differences(moved, stored)) is caught
    missing = {c: v for c, v in stored.items() if c != column}
    assert pinned.differences(missing, stored) == [f"{column}: missing column"]


def test_every_run_has_pinned_results():
    assert {p.stem for p in RUNS} <= {p.stem for p in pinned.PINNED.glob("*.json")}


SOE = """\
name: soe
data: {example: three_by_three}
closure: {small_open_economy: East}
shocks:
  - {type: tariff, importers: [North, South], mode: cut_pct, value: 50}
compare_market_structures: [armington, melitz]
expect:
  tariff_revenue: {North: negative, South: negative}
  cutoffs:
    - {importers: [North, South], exporters: East, sectors: manufacturing, sign: negative}
"""


@pytest.mark.solver
def test_small_open_economy_closure_in_every_model(tmp_path):
    res = run_scenario(write(tmp_path, SOE))
    assert list(res.runs) == ["armington", "melitz"]
    ids = res.identities
    assert res.identities_hold, ids[~ids["ok"]].to_string()
    assert (ids["identity"] == "closure_region_fixed").sum() == 2
    # tariff revenue in both models, cutoffs (two routes) in the melitz model only
    assert res.expectations_met and len(res.expectations) == 6
    for label, run in res.runs.items():
        assert run.stats["closure"] == {"government": "regional_household",
                                        "investment": "savings_driven",
                                        "deficit": "world_income_share", "small_open_economy": "East"}
        assert "factor prices of East" in run.stats["numeraire"]
        # The rest of the world stays at its benchmark in the counterfactual ...
        for col in ("price_index", "expenditure", "input_price"):
            np.testing.assert_allclose(run.new.sectors.loc["East", col],
                                       run.base.sectors.loc["East", col], rtol=1e-10)
        np.testing.assert_allclose(run.new.factors.loc["East", "factor_price"],
                                   run.base.factors.loc["East", "factor_price"], rtol=1e-10)
        assert run.new.regions.loc["East", "income"] == pytest.approx(
            run.base.regions.loc["East", "income"], rel=1e-12)
        # ... while trade with it moves, and the home regions' welfare changes.
        b, n = run.base.routes, run.new.routes
        assert n.loc[("South", "East", "manufacturing"), "trade_value"] > \
            b.loc[("South", "East", "manufacturing"), "trade_value"]
        w = run.welfare.regions
        assert (w.loc["East"] == 0).all()
        assert abs(w.loc["North", "welfare_change_pct"]) > 1e-3
        assert w.loc[["North", "South"], "residual"].abs().max() < limit(terms=WALRAS_TERMS)
        # Without the closure East's own accounts would have to balance; under it they
        # do not (its income is fixed while its intermediate use changes), which is why
        # the region-level identities are taken over the home regions.
        sec = run.new.sectors.loc["East"]
        gamma = run.shocked["input_share"][run.shocked.regions.index("East")]  # (sector, input)
        intermediate = (gamma.sum(axis=1) * (sec["input_price"] * sec["input_demand"])).sum()
        final = sec["expenditure"].sum() - intermediate
        assert abs(final / run.new.regions.loc["East", "income"] - 1) > 1e-6


@pytest.mark.solver
def test_workbook_scenario_uses_calibrated_start(tmp_path):
    book = ROOT / "sam_data" / "yotov2016_mfg.xlsx"  # bundled: its absence is a failure
    p = write(tmp_path, f"name: us_tariff\ndata: {book}\nshocks:\n"
                        "  - {type: tariff, importers: USA, mfn: true, mode: set, value: 0.2}\n"
                        "expect:\n  components: {USA: {terms_of_trade: positive}}\n")
    res = run_scenario(p)
    run = res.runs["as_specified"]
    assert run.stats["benchmark_iterations"] == 0, "calibrated start values were not used"
    assert res.identities_hold and res.expectations_met
    assert res.prepared.data.description.startswith("workbook")


def test_workbook_reader_options_are_passed_on(tmp_path):
    """data: {workbook: ..., production_taxes: ..., balance: ...} reads the workbook with
    those options (calibration.read_workbook); the default reading is production_taxes: tax."""
    import shutil

    import openpyxl

    book = ROOT / "sam_data" / "hosoe_japan_2005.xlsx"
    prep = {}
    for reading in (None, "tax", "pro_rata", "factor"):
        option = f"\n  production_taxes: {reading}" if reading else ""
        p = write(tmp_path, f"name: t\ndata:\n  workbook: {book}{option}\n")
        prep[reading] = prepare_scenario(p).data
    assert prep[None].description == f"workbook {book}"
    assert prep["pro_rata"].description == f"workbook {book} (production_taxes: pro_rata)"
    ptax = {k: v.primitives["production_tax"] for k, v in prep.items()}
    assert (ptax[None] > 0).all()
    np.testing.assert_array_equal(ptax["tax"], ptax[None])
    assert (ptax["pro_rata"] == 0).all() and (ptax["factor"] == 0).all()
    assert prep["factor"].primitives.factors == ("CAP", "LAB", "production_tax")
    assert prep[None].checksum == prep["pro_rata"].checksum  # the file's sha256
    # balance: a workbook that does not balance as given (North's household buys 236, not 230)
    unbalanced = tmp_path / "perturbed.xlsx"
    shutil.copy(ROOT / "sam_data" / "template_multiregion.xlsx", unbalanced)
    wb = openpyxl.load_workbook(unbalanced)
    wb["sam_North"]["H4"].value = 236
    wb.save(unbalanced)
    msgs = problems_of(write(tmp_path, "name: t\ndata: {workbook: perturbed.xlsx}\n"))
    assert any(":2: data.workbook:" in m and "account c_mfg does not balance" in m
               for m in msgs), msgs
    for method in ("ras", "cross_entropy"):
        p = write(tmp_path, f"name: t\ndata: {{workbook: perturbed.xlsx, balance: {method}}}\n")
        data = prepare_scenario(p).data
        assert data.description == f"workbook perturbed.xlsx (balance: {method})"
        assert data.primitives.regions == ("North", "South")


@pytest.mark.solver
def test_structure_comparison_runs_each_model_against_its_own_benchmark():
    res = result_of(ROOT / "runs" / "structures_tariff_cut.yaml")
    assert list(res.runs) == ["armington", "krugman", "melitz"]
    for label, run in res.runs.items():
        assert run.primitives.market_structure["manufacturing"] == label
        assert run.shocked.market_structure["manufacturing"] == label
        np.testing.assert_allclose(run.shocked["tariff"], 0.5 * run.primitives["tariff"])
    w = {k: r.welfare.regions["welfare_change_pct"] for k, r in res.runs.items()}
    assert not np.allclose(w["krugman"], w["melitz"])


# ======================================================================
# CLI
# ======================================================================
@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner

    from cge.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.mark.solver
def test_cli_run_check_compare(cli, tmp_path):
    out1, out2 = tmp_path / "a", tmp_path / "b"
    r = cli("run", str(ROOT / "runs" / "tariff_unilateral.yaml"), "-o", str(out1), "--no-plots",
            "--strict")
    assert r.exit_code == 0, r.output
    assert "Welfare" in r.output and "ok" in r.output and (out1 / "results.xlsx").is_file()
    r = cli("run", str(ROOT / "runs" / "tariff_retaliation.yaml"), "-o", str(out2), "--no-plots",
            "--no-excel")
    assert r.exit_code == 0, r.output
    assert not (out2 / "results.xlsx").exists() and (out2 / "welfare.csv").is_file()
    r = cli("compare", str(out1), str(out2), "-o", str(tmp_path / "cmp.csv"))
    assert r.exit_code == 0, r.output
    assert "a" in r.output and "b" in r.output
    assert (tmp_path / "cmp.csv").read_text().startswith("region,a:welfare_log_points")
    r = cli("compare", str(tmp_path))
    assert r.exit_code == 1 and "not a results folder" in r.output


def test_cli_check(cli, tmp_path):
    r = cli("check", str(ROOT / "runs" / "border_removal.yaml"))
    assert r.exit_code == 0 and "ok" in r.output and "tau" in r.output, r.output
    r = cli("check", str(ROOT / "runs" / "data" / "borderland.yaml"))
    assert r.exit_code == 0 and "pass every check" in r.output, r.output
    bad = write(tmp_path, GOOD.replace("North", "Nrth"))
    r = cli("check", str(bad))
    assert r.exit_code == 1 and f"{bad}:5: shocks[0].importers:" in r.output, r.output
    prim = three_by_three().to_mapping()
    prim["beta"]["North"]["services"] = 0.9
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(prim))
    r = cli("check", str(p))
    assert r.exit_code == 1 and "beta[region=North]" in r.output
    r = cli("run", str(bad))
    assert r.exit_code == 1 and "unknown region 'Nrth'" in r.output


def test_cli_calibrate_without_calibration_package(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "calibration", None)  # hide it
    r = cli("calibrate", str(tmp_path / "book.xlsx"))
    assert r.exit_code == 1 and "calibration package" in r.output


def test_cli_keeps_solvers_and_example(cli):
    r = cli("--help")
    for cmd in ("solvers", "example", "run", "check", "calibrate", "compare"):
        assert cmd in r.output
    r = cli("example", "--cut", "20")
    assert r.exit_code == 0 and "Welfare" in r.output, r.output
