"""Hostile files and inputs accepted although wrong (issue 13): every one gets a message
naming the file and the problem, never a traceback.

* text in other encodings (Latin-1, UTF-16/32 with and without byte-order mark),
  binary garbage, files whose content is not what their extension says;
* YAML alias bombs, deep nesting and recursive aliases; deep JSON;
* values that are valid but extreme (a warning naming the field or cell) and
  values that are wrong (refused): a closed domestic route, booleans for numbers,
  expectations for models not compared;
* a property-based test (hypothesis, 1,000 cases each) of scenario YAML and of
  primitives: only the project's own error types, no solve.
"""

from __future__ import annotations

import codecs
import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cge import Primitives, fsio
from cge.cli import app
from cge.errors import CGEError, ExtremeValueWarning, InputError
from cge.examples import three_by_three
from cge.scenario import SHOCK_TYPES, ScenarioError, load_scenario, prepare_scenario

ROOT = Path(__file__).resolve().parents[1]
GOOD = "name: fine\ndata: {example: three_by_three}\n"


def message(exc_info) -> str:
    return " ".join(str(exc_info.value).split())


# ---------------------------------------------------------------- encodings
ENCODED = {
    "latin-1": ("name: caf\xe9\ndata: {example: three_by_three}\n".encode("latin-1"),
                ["s.yaml:1: the scenario file is not UTF-8 (byte 0xe9 at position 9)",
                 "Latin-1 / Windows-1252", "'é'", "iconv -f WINDOWS-1252 -t UTF-8"]),
    "utf-16 with BOM": (GOOD.encode("utf-16"),
                        ["UTF-16 text (byte-order mark ff fe)", "iconv -f UTF-16LE"]),
    "utf-16-be with BOM": (codecs.BOM_UTF16_BE + GOOD.encode("utf-16-be"),
                           ["UTF-16 text (byte-order mark fe ff)", "iconv -f UTF-16BE"]),
    "utf-16 without BOM": (GOOD.encode("utf-16-le"),
                           ["UTF-16 text without a byte-order mark (little-endian)"]),
    "utf-16-be without BOM": (GOOD.encode("utf-16-be"),
                              ["UTF-16 text without a byte-order mark (big-endian)"]),
    "utf-32": (GOOD.encode("utf-32"), ["UTF-32 text (byte-order mark ff fe 00 00)"]),
    "binary garbage": (bytes(range(256)) * 4, ["binary data (it holds NUL bytes)"]),
    "control bytes": (b"\x01\x02\x03\x04\x05\x06\x07\x08\xff" * 50, ["binary data, not a"]),
    "a zip": (b"PK\x03\x04" + b"\x00" * 100, ["this is a zip archive"]),
    "a pdf": (b"%PDF-1.4\n...", ["this is a PDF document"]),
    "an xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ["a legacy Office file"]),
}


@pytest.mark.parametrize("case", sorted(ENCODED))
def test_scenario_files_in_other_encodings_are_named(tmp_path, case):
    data, words = ENCODED[case]
    path = tmp_path / "s.yaml"
    path.write_bytes(data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    for w in words:
        assert w in message(info), (w, message(info))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(codecs.BOM_UTF8 + GOOD.encode())
    assert load_scenario(path).scenario.name == "fine"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_primitives_files_in_other_encodings_are_named(tmp_path, suffix):
    path = tmp_path / f"p{suffix}"
    path.write_bytes('{"name": "Zürich"}'.encode("utf-16"))
    with pytest.raises(InputError, match="the primitives file is UTF-16 text"):
        Primitives.from_file(path)
    path.write_bytes('{"name": "Zürich"}'.encode("latin-1"))
    with pytest.raises(InputError, match=r"p\.\w+:1: the primitives file is not UTF-8"):
        Primitives.from_file(path)


def test_csv_sheets_in_utf16_are_named(tmp_path):
    from calibration import read_workbook

    folder = tmp_path / "book"
    shutil.copytree(ROOT / "sam_data" / "template_multiregion_csv", folder)
    text = (folder / "accounts.csv").read_text()
    (folder / "accounts.csv").write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError) as info:
        read_workbook(folder)
    assert "accounts.csv: the CSV file is UTF-16 text" in message(info)


# ---------------------------------------------------------------- extension vs content
WORKBOOKS = {
    "text.xlsx": (b"region,value\nNorth,1\n", "named .xlsx but this is a text file (CSV or YAML?)"),
    "old.xlsx": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
                 "named .xlsx but this is a legacy Office file"),
    "empty.xlsx": (b"", "the file is empty, not an Excel workbook"),
    "noise.xlsx": (bytes(range(256)) * 8, "named .xlsx but this is binary data of an unknown kind"),
    "pic.xlsm": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "named .xlsm but this is a PNG picture"),
    "book.xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
                 "a .xls workbook; cge reads .xlsx: open it in Excel or LibreOffice"),
    "book.ods": (b"PK\x03\x04" + b"\x00" * 64, "a .ods workbook; cge reads .xlsx"),
}


@pytest.mark.parametrize("name", sorted(WORKBOOKS))
def test_workbooks_whose_content_is_not_their_extension(tmp_path, name):
    from calibration import read_workbook

    data, words = WORKBOOKS[name]
    book = tmp_path / name
    book.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_workbook(book)
    assert words in message(info)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: x\ndata: {name}\n")
    with pytest.raises(ScenarioError) as info:
        prepare_scenario(scenario)
    assert "s.yaml:2: data:" in message(info) and words in message(info)
    result = CliRunner().invoke(app, ["check", str(book)])
    assert result.exit_code == 1 and words in " ".join(result.output.split())


def test_a_zip_that_is_not_a_workbook_is_named(tmp_path):
    import zipfile

    from calibration import read_workbook

    book = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(book, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(InputError, match="fake.xlsx: cannot be read as an Excel workbook"):
        read_workbook(book)


# ---------------------------------------------------------------- YAML and JSON limits
def billion_laughs(levels: int = 9) -> str:
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for j in range(1, levels + 1):
        lines.append(f"lol{j}: &lol{j} [" + ", ".join([f"*lol{j - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["scenario", "primitives", "check"])
def test_an_alias_bomb_fails_fast_with_a_message(tmp_path, where):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    t0 = time.perf_counter()
    if where == "scenario":
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        text = message(info)
    elif where == "primitives":
        with pytest.raises(InputError) as info:
            Primitives.from_file(path)
        text = message(info)
    else:
        result = CliRunner().invoke(app, ["check", str(path)])
        assert result.exit_code == 1
        text = " ".join(result.output.split())
    assert time.perf_counter() - t0 < 5
    assert "YAML document refused: its aliases repeat anchored parts into more than 200,000 " \
           "extra nodes (an alias bomb?)" in text


def test_aliases_within_the_limits_still_work():
    text = "a: &row {x: 1, y: 2}\nb: *row\nc: [*row, *row]\n"
    assert fsio.load_yaml(text) == {"a": {"x": 1, "y": 2}, "b": {"x": 1, "y": 2},
                                    "c": [{"x": 1, "y": 2}] * 2}


@pytest.mark.parametrize("text,words", [
    ("[" * 100_000 + "]" * 100_000, "nested more than 64 levels deep"),
    ("a:\n" + "".join("  " * j + "b:\n" for j in range(1, 200)), "nested more than 64 levels"),
    ("a: &a [*a]\n", "recursive alias"),
    ("a: &a {b: *a}\n", "recursive alias"),
    ("".join(f"k{j}: *a\n" if j else "k0: &a 1\n" for j in range(10_002)), "more than 10000 aliases"),
    ("a: [1, 2\n", "malformed YAML"),
    ("a: *undefined\n", "malformed YAML"),
    ("!!python/object:os.system {}\n", "malformed YAML"),
])
def test_yaml_limits(text, words):
    with pytest.raises(InputError) as info:
        fsio.load_yaml(text, "doc.yaml")
    assert message(info).startswith("invalid model input: doc.yaml") and words in message(info)


def test_deep_json_is_refused_without_recursion_error(tmp_path):
    path = tmp_path / "p.json"
    for text in ("[" * 200_000 + "]" * 200_000, "[" * 100 + "]" * 100):
        path.write_text(text)
        with pytest.raises(InputError, match="JSON document refused: nested"):
            Primitives.from_file(path)
    path.write_text('{"regions": [1, 2,]}')
    with pytest.raises(InputError, match=r"p.json:1: malformed JSON"):
        Primitives.from_file(path)


# ---------------------------------------------------------------- accepted although wrong
def test_a_closed_domestic_route_is_refused():
    mapping = three_by_three().to_mapping()
    mapping["tau"]["North"]["North"]["manufacturing"] = "inf"
    with pytest.raises(InputError) as info:
        Primitives.from_mapping(mapping)
    assert ("tau[destination=North, origin=North, sector=manufacturing] = inf: the domestic route "
            "of a melitz sector must be open") in message(info)
    mapping = three_by_three().to_mapping()  # an armington sector may sell nothing at home
    mapping["tau"]["North"]["North"]["agriculture"] = "inf"
    Primitives.from_mapping(mapping)


def test_a_primitives_file_with_tau_inf_at_home_is_refused(tmp_path):
    mapping = three_by_three().to_mapping()
    mapping["tau"]["South"]["South"]["services"] = float("inf")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False))
    assert ".inf" in (tmp_path / "p.yaml").read_text()
    (tmp_path / "s.yaml").write_text("name: x\ndata: p.yaml\n")
    with pytest.raises(ScenarioError) as info:
        prepare_scenario(tmp_path / "s.yaml")
    assert ("s.yaml:2: data: " in message(info) and "tau[destination=South, origin=South, "
            "sector=services] = inf: the domestic route of a krugman sector must be open"
            in message(info))


@pytest.mark.parametrize("shock,where", [
    ("{type: tariff, importers: North, mode: add, value: true}", "shocks[0].value"),
    ("{type: endowment, value: yes}", "shocks[0].value"),
    ("{type: tariff, retaliation: {by: South, against: North, share: on}}",
     "shocks[0].retaliation.share"),
    ("{type: deficit, values: {North: false, South: 0, East: 0}}", "shocks[0].values.North"),
    ("{type: iceberg, border: {groups: [[North, South]], to: factor, factor: true}}",
     "shocks[0].border.factor"),
])
def test_a_boolean_where_a_number_is_meant_is_refused(shock, where):
    with pytest.raises(ScenarioError) as info:
        load_scenario(GOOD + f"shocks:\n  - {shock}\n")
    assert f"<scenario>:4: {where}: expected a number, got the boolean" in message(info)


def test_a_boolean_in_primitives_is_refused():
    mapping = three_by_three().to_mapping()
    mapping["sigma"]["services"] = True
    with pytest.raises(InputError, match=r"sigma\[sector=services\]: expected a number, got True"):
        Primitives.from_mapping(mapping)


def test_expectations_for_models_not_compared_are_refused():
    text = GOOD + "expect:\n  models:\n    krugman: {welfare: {North: positive}}\n"
    with pytest.raises(ScenarioError) as info:
        prepare_scenario(text)
    assert ("<scenario>:5: expect.models.krugman: expectations for model 'krugman', but the "
            "scenario compares no market structures") in message(info)
    ok = text + "compare_market_structures: [krugman, melitz]\n"
    prepare_scenario(ok)


def test_extreme_trade_costs_and_tariffs_warn_with_the_field():
    text = GOOD + ("shocks:\n  - {type: iceberg, importers: North, exporters: South, "
                   "sectors: manufacturing, mode: set, value: 1000}\n"
                   "  - {type: tariff, importers: East, exporters: North, sectors: agriculture, "
                   "mode: set, value: 25}\naccept_implausible: true\n")
    with pytest.warns(ExtremeValueWarning) as caught:
        prepare_scenario(text)
    msgs = [str(w.message) for w in caught]
    assert any("<scenario>:3: shocks: after the shocks: tau[destination=North, origin=South, "
               "sector=manufacturing] = 1000 is above 100" in m for m in msgs), msgs
    assert any("tariff[destination=East, origin=North, sector=agriculture] = 25 is above 10 "
               "(1000%)" in m for m in msgs), msgs
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtremeValueWarning)
        prepare_scenario(GOOD)  # the bundled data is not extreme


def test_a_huge_sam_cell_warns_with_its_cell(tmp_path):
    import openpyxl

    from calibration import calibrate, read_workbook

    book = tmp_path / "book.xlsx"
    shutil.copy(ROOT / "sam_data" / "template_multiregion.xlsx", book)
    wb = openpyxl.load_workbook(book)
    wb["sam_North"]["H4"].value = 1e15
    wb.save(book)
    with pytest.warns(ExtremeValueWarning) as caught:
        data = read_workbook(book, balance="ras")
    assert any("book.xlsx: sam_North!H4 (row c_mfg, column household) = 1e+15 is 2e+13 times "
               "the median non-zero cell of the SAM of North" in str(w.message) for w in caught)
    assert any("sam_North!H4" in n for n in data.notes)
    out = calibrate(data)
    prim = out[0] if isinstance(out, tuple) else out
    from cge.checks import extreme_values

    # balancing spreads the cell into absurd iceberg costs, each named
    assert any(m.startswith("tau[destination=") and "is above 100" in m
               for m in extreme_values(prim))


def test_check_prints_the_warning(tmp_path):
    import openpyxl

    book = tmp_path / "book.xlsx"
    shutil.copy(ROOT / "sam_data" / "template_multiregion.xlsx", book)
    wb = openpyxl.load_workbook(book)
    wb["sam_North"]["H4"].value = 1e15
    wb.save(book)
    result = CliRunner().invoke(app, ["check", str(book), "--balance", "ras"])
    out = " ".join(result.output.split())
    assert "warning: book.xlsx: sam_North!H4" in out and "Traceback" not in result.output


# ---------------------------------------------------------------- property-based
REGIONS = ["North", "South", "East"]
SECTORS = ["agriculture", "manufacturing", "services"]
FIELDS = ["type", "mode", "value", "importers", "exporters", "sectors", "regions", "factors",
          "fta", "mfn", "retaliation", "schedule", "routes", "border", "values", "parameter",
          "where", "label", "by", "against", "share", "groups", "to", "factor", "sheet", "file"]
TOP = ["name", "description", "data", "market_structure", "entry", "numeraire", "closure",
       "shocks", "compare_market_structures", "solver_options", "expect", "surprise"]

scalars = st.one_of(
    st.sampled_from(REGIONS + SECTORS + ["labour", "capital", "all", "*", "", "..", "melitz",
                                         "krugman", "armington", "set", "scale", "cut_pct",
                                         "change_pct", "add", "positive", "negative", "foreign",
                                         "domestic", "within", "factor", "tariff", "tau", "sigma"]),
    st.sampled_from(list(SHOCK_TYPES)),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, -0.5, 1e300, -1e300, 1e-300, 0.25, 1.0, 10.0]),
    st.booleans(), st.none(), st.text(max_size=6),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS + REGIONS + SECTORS), st.text(max_size=6)),
                        inner, max_size=4)),
    max_leaves=5)
shocks = st.builds(
    lambda t, extra: {"type": t, **extra},
    st.one_of(st.sampled_from(list(SHOCK_TYPES)), scalars),
    st.dictionaries(st.sampled_from(FIELDS[1:]), values, max_size=5))
data_specs = st.one_of(
    st.just({"example": "three_by_three"}),
    st.builds(lambda n, s: {"example": "symmetric", "args": {"regions": n, "sectors": s}},
              st.one_of(st.integers(-1, 3), scalars), st.one_of(st.integers(-1, 2), scalars)),
    st.builds(lambda a: {"example": "random_economy", "args": a},
              st.fixed_dictionaries({"regions": st.integers(0, 3), "sectors": st.integers(0, 3)},
                                    optional={"factors": st.integers(-1, 2), "seed": scalars})),
    st.sampled_from(["nothing.yaml", "book.xlsx", "old.xls", {"workbook": "x.xlsx"},
                     {"primitives": "p.yaml", "balance": "ras"}, {}, None, 3]),
    values,
)
documents = st.builds(
    lambda name, data, sh, extra: {"name": name, "data": data, "shocks": sh, **extra},
    st.one_of(st.just("fuzz"), scalars),
    data_specs,
    st.one_of(st.lists(shocks, max_size=3), values),
    st.dictionaries(st.sampled_from(TOP[1:]), values, max_size=3))


def _mutate(text: str, edits) -> str:
    for pos, junk in edits:
        pos = pos % (len(text) + 1)
        text = text[:pos] + junk + text[pos + len(junk) // 2:]
    return text


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(documents, st.lists(st.tuples(st.integers(0, 10_000),
                                     st.text(alphabet="{}[]:,-&*!|>'\"#\n \t\x00é", max_size=4)),
                           max_size=2))
def test_fuzzed_scenarios_raise_only_cge_errors(doc, edits):
    try:
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return
    text = _mutate(text, edits) if edits else text
    if "\n" not in text:
        text += "\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prepare_scenario(text)
        except CGEError:
            pass


BASE_JSON = json.dumps(three_by_three().to_mapping())
PARAMS = ["sigma", "k", "delta", "beta", "endowment", "factor_share", "input_share", "phi_min",
          "f", "f_e", "tau", "tariff", "deficit", "production_tax", "pref_weight", "entrants",
          "agent_share", "agent_beta", "real_government", "real_investment", "nonsense"]


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(PARAMS + ["regions", "sectors", "factors",
                                                 "market_structure", "entry", "numeraire",
                                                 "closure", "name"]), values, max_size=6),
       st.booleans())
def test_fuzzed_primitives_raise_only_cge_errors(changes, through_yaml):
    mapping = json.loads(BASE_JSON)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if through_yaml:  # the changes as a user would write them in the YAML file
                text = yaml.safe_dump(changes, sort_keys=False, allow_unicode=True)
                changes = fsio.load_yaml(text, "p.yaml") or {}
            mapping.update(changes)
            Primitives.from_mapping(mapping)
        except CGEError:
            pass
        except yaml.YAMLError:
            pass  # safe_dump of a value it cannot represent: not cge's input


@pytest.mark.parametrize("name,data,words", [
    ("rates.csv", "importer,exporter,sector,value\nNorth,South,manufacturing,0.1\n".encode("utf-16"),
     "the schedule file is UTF-16 text"),
    ("rates.csv", "importer,exporter,sector,value\nNorth,Süd,manufacturing,0.1\n".encode("latin-1"),
     "the schedule file is not UTF-8"),
    ("rates.xlsx", b"importer,exporter\n", "named .xlsx but this is a text file"),
])
def test_tariff_schedules_in_hostile_files_are_named(tmp_path, name, data, words):
    (tmp_path / name).write_bytes(data)
    path = tmp_path / "s.yaml"
    path.write_text(GOOD + f"shocks:\n  - {{type: tariff, schedule: {name}}}\n")
    with pytest.raises(ScenarioError) as info:
        prepare_scenario(path)
    assert "s.yaml:4: shocks[0].schedule: tariff shock:" in message(info) and words in message(info)


def test_check_prints_extreme_values_of_a_scenario(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(GOOD + "shocks:\n  - {type: iceberg, importers: North, exporters: South, "
                    "mode: set, value: 500}\n")
    result = CliRunner().invoke(app, ["check", str(path)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "warning: " in out and "after the shocks: tau[destination=North, origin=South" in out


@pytest.mark.parametrize("args, words", [
    ({"regions": 175398, "sectors": 0}, "regions must be from 1 to 300, got 175398"),
    ({"regions": 2, "sectors": 10**6}, "sectors must be from 1 to 200"),
    ({"regions": 2.5, "sectors": 1}, "regions must be a whole number, got 2.5"),
])
def test_example_sizes_are_named_not_allocated(args, words):
    """An example economy too large for memory is refused before any array is made (found
    by the fuzzed scenarios: 175,398 regions asked numpy for 28.7 GiB)."""
    text = yaml.safe_dump({"name": "big", "data": {"example": "symmetric", "args": args},
                           "shocks": []})
    with pytest.raises(CGEError) as err:
        prepare_scenario(text)
    assert words in str(err.value)
