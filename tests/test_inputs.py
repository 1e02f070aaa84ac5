"""Bad input is refused before any model is built, with messages that name the
parameter and the offending index in labels."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml

from cge import Equilibrium, InputError, Numeraire, Primitives, examples

#: A valid economy in the user format; each test breaks one thing.
BASE = {
    "name": "inputs",
    "regions": ["USA", "EU", "CHN"],
    "sectors": ["mfg", "srv"],
    "factors": ["labour", "capital"],
    "market_structure": {"mfg": "melitz", "srv": "armington"},
    "sigma": {"mfg": 3.8, "srv": 2.0},
    "k": 4.2,
    "beta": {"*": {"mfg": 0.4, "srv": 0.6}},
    "endowment": {"USA": {"labour": 100, "capital": 50}, "EU": 120, "CHN": 200},
    "factor_share": {"*": {"*": {"labour": 0.6, "capital": 0.4}}},
    "f": {"*": {"*": 2.0}, "USA": {"USA": 1.0}, "EU": {"EU": 1.0}, "CHN": {"CHN": 1.0}},
    "tau": {"*": {"*": 1.3}, "USA": {"USA": 1}, "EU": {"EU": 1}, "CHN": {"CHN": 1}},
    "tariff": {"USA": {"EU": {"mfg": 0.1}}},
    "deficit": {"USA": 1.5, "EU": -0.5, "CHN": -1.0},
    "numeraire": {"factor": "labour", "region": "USA"},
}


def with_(**changes):
    """BASE with fields replaced (``None`` removes a field)."""
    data = copy.deepcopy(BASE)
    for key, val in changes.items():
        if val is None:
            data.pop(key)
        else:
            data[key] = val
    return data


def refused(data, *fragments):
    """Assert that ``data`` is refused with a message containing every fragment."""
    with pytest.raises(InputError) as err:
        Primitives.from_mapping(data)
    msg = str(err.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"
    return err.value


def test_base_is_valid():
    prim = Primitives.from_mapping(BASE)
    assert prim["tariff"][0, 1, 0] == 0.1 and prim["tariff"][0, 1, 1] == 0.0
    assert prim["tau"][1, 2, 0] == 1.3 and prim["tau"][2, 2, 1] == 1.0
    assert prim["endowment"].tolist() == [[100, 50], [120, 120], [200, 200]]


# ------------------------------------------------------------------ ranges
def test_pareto_shape_must_exceed_sigma_minus_one():
    # k = sigma - 1 exactly is refused (strict), and only for the melitz sector.
    refused(with_(k={"mfg": 2.8, "srv": 1.0}), "k[sector=mfg] = 2.8", "sigma - 1 = 2.8")
    e = refused(with_(k={"mfg": 2.0, "srv": 0.5}), "k[sector=mfg] = 2")
    assert not any("sector=srv" in p for p in e.problems)


def test_sigma_must_exceed_one():
    refused(with_(sigma={"mfg": 3.8, "srv": 1.0}), "sigma[sector=srv] = 1", "must be > 1")
    refused(with_(sigma={"mfg": 0.5, "srv": 2.0}), "sigma[sector=mfg] = 0.5")


def test_iceberg_cost_at_least_one():
    tau = copy.deepcopy(BASE["tau"])
    tau["USA"]["EU"] = {"srv": 0.9}
    refused(with_(tau=tau), "tau[destination=USA, origin=EU, sector=srv] = 0.9", "must be >= 1")


def test_tariff_above_minus_one():
    refused(with_(tariff={"EU": {"CHN": {"srv": -1.0}}}),
            "tariff[destination=EU, origin=CHN, sector=srv] = -1", "must be > -1")
    refused(with_(tariff={"EU": {"EU": {"srv": 0.1}}}),
            "tariff[destination=EU, origin=EU, sector=srv]", "own sales")


def test_endowment_positive():
    e = refused(with_(endowment={"USA": {"labour": 0, "capital": 50}, "EU": 120, "CHN": -3}),
                "endowment[region=USA, factor=labour] = 0",
                "endowment[region=CHN, factor=capital] = -3")
    assert len(e.problems) == 3  # every problem is listed at once


def test_fixed_costs_positive():
    f = copy.deepcopy(BASE["f"])
    f["EU"]["EU"] = {"mfg": 0.0}
    refused(with_(f=f), "f[destination=EU, origin=EU, sector=mfg] = 0", "must be > 0")
    refused(with_(f_e={"CHN": {"srv": -1}}), "f_e[region=CHN, sector=srv] = -1", "must be > 0")


def test_exit_rate_in_unit_interval():
    refused(with_(delta={"mfg": 1.5}), "delta[sector=mfg] = 1.5", "<= 1")
    refused(with_(delta={"srv": 0.0}), "delta[sector=srv] = 0", "> 0")


def test_final_demand_shares_sum_to_one():
    refused(with_(beta={"*": {"mfg": 0.4, "srv": 0.6}, "EU": {"mfg": 0.5}}),
            "beta[region=EU] sums to 1.1")


def test_cost_shares_sum_to_one():
    refused(with_(factor_share={"*": {"*": {"labour": 0.6, "capital": 0.4}},
                                "CHN": {"srv": {"capital": 0.3}}}),
            "region=CHN, sector=srv", "sum to 0.9")


def test_deficits_sum_to_zero():
    refused(with_(deficit={"USA": 1.0, "EU": -0.5}), "deficit sums to 0.5")


# ------------------------------------------------------------------ parsing
def test_unknown_region_label():
    refused(with_(endowment={"USA": 1, "EU": 2, "CHN": 3, "Mars": 4}),
            "endowment", "unknown region 'Mars'")
    tau = copy.deepcopy(BASE["tau"])
    tau["USA"]["Mars"] = 2.0
    refused(with_(tau=tau), "tau[destination=USA]: unknown origin 'Mars'")
    refused(with_(numeraire={"factor": "labour", "region": "Mars"}), "numeraire.region", "'Mars'")
    refused(with_(market_structure={"mfg": "melitz", "agri": "armington"}),
            "market_structure", "unknown sector 'agri'")


def test_list_of_wrong_length():
    refused(with_(sigma=[3.0, 4.0, 5.0]), "sigma", "expected 2 entries along 'sector'", "got 3")
    refused(with_(endowment={"USA": [1.0], "EU": 2, "CHN": 3}),
            "endowment[region=USA]", "along 'factor'", "got 1")
    # A list of the right length is read in label order.
    prim = Primitives.from_mapping(with_(sigma=[3.0, 4.0]))
    assert prim["sigma"].tolist() == [3.0, 4.0]


def test_text_in_numeric_field():
    refused(with_(phi_min={"USA": "high"}), "phi_min[region=USA]", "got text 'high'")
    refused(with_(tariff={"USA": {"EU": {"mfg": "ten"}}}),
            "tariff[destination=USA, origin=EU, sector=mfg]", "'ten'")
    refused(with_(k=True), "k", "expected a number")
    # Numbers written as text are numbers.
    assert Primitives.from_mapping(with_(k="4.5"))["k"].tolist() == [4.5, 4.5]


def test_missing_required_parameter():
    for name in ("sigma", "beta", "endowment", "factor_share"):
        refused(with_(**{name: None}), f"{name}: required parameter is missing")
    refused(with_(regions=None), "regions: required list of labels is missing")


def test_unknown_top_level_field():
    refused(with_(sigmas=3.0), "unknown field 'sigmas'")


def test_invalid_numeraire_and_structure():
    refused(with_(numeraire={"factor": "land", "region": "USA"}), "numeraire.factor", "'land'")
    refused(with_(numeraire={"cpi": "EU", "value": -1}), "numeraire.value")
    refused(with_(market_structure="oligopoly"), "market_structure[mfg]", "'oligopoly'")
    refused(with_(regions=["USA", "USA", "CHN"]), "regions: duplicate labels ['USA']")


def test_shock_is_validated():
    """Parameters given to Equilibrium.solve go through the same checks."""
    prim = Primitives.from_mapping(BASE)
    eq = Equilibrium(prim)
    tau = prim["tau"].copy()
    tau[2, 0, 1] = 0.95
    with pytest.raises(InputError, match=r"tau\[destination=CHN, origin=USA, sector=srv\] = 0.95"):
        eq.solve(tau=tau)
    with pytest.raises(InputError, match="wrong shape"):
        eq.solve(tau=tau[:, :, :1])
    with pytest.raises(InputError, match="no such parameter"):
        eq.solve(taus=tau)
    assert not eq.solved


# ------------------------------------------------------------------ files
def _assert_same(a: Primitives, b: Primitives):
    assert (a.regions, a.sectors, a.factors, a.name) == (b.regions, b.sectors, b.factors, b.name)
    assert a.market_structure == b.market_structure and a.entry == b.entry
    assert a.numeraire == b.numeraire
    assert set(a.arrays) == set(b.arrays)
    for name in a.arrays:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture
def rich_primitives():
    """The example economy plus an inactive route, fixed entry and a CPI numeraire."""
    data = examples.three_by_three().to_mapping()
    data["tau"]["North"]["East"]["services"] = float("inf")
    data["entry"] = {"manufacturing": "fixed"}
    data["entrants"] = {"*": {"manufacturing": 7.5}}
    data["numeraire"] = {"cpi": "South", "value": 1.7}
    prim = Primitives.from_mapping(data)
    assert np.isinf(prim["tau"][0, 2, 2])
    return prim


def test_yaml_round_trip(tmp_path, rich_primitives):
    path = tmp_path / "economy.yaml"
    path.write_text(yaml.safe_dump(rich_primitives.to_mapping(), sort_keys=False))
    _assert_same(Primitives.from_file(path), rich_primitives)


def test_json_round_trip(tmp_path, rich_primitives):
    path = tmp_path / "economy.json"
    path.write_text(json.dumps(rich_primitives.to_mapping()))
    _assert_same(Primitives.from_file(path), rich_primitives)
    # An Equilibrium accepts the path directly.
    assert Equilibrium(path).primitives.numeraire == Numeraire("cpi", "South", None, 1.7)


def test_malformed_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("regions: [USA, EU\nsectors: [mfg]\n")
    with pytest.raises(InputError, match="malformed YAML") as err:
        Primitives.from_file(path)
    assert str(path) in str(err.value)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_(sigma={"mfg": 3.8, "srv": 0.9})))
    with pytest.raises(InputError) as err:
        Primitives.from_file(path)
    assert str(path) in str(err.value) and "sigma[sector=srv] = 0.9" in str(err.value)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="must be a mapping"):
        Primitives.from_file(listed)
    text = tmp_path / "economy.txt"
    text.write_text(yaml.safe_dump(BASE))
    with pytest.raises(InputError, match="expected a .yaml"):
        Primitives.from_file(text)


def test_whole_rows_of_numbers_parse_as_entry_by_entry():
    """parse_labelled takes a last axis of plain numbers at once (cge.primitives.
    _numbers_along); the array is the one the entry-by-entry parse gives (forced here by
    a wildcard), and rows with text, NaN, booleans or missing labels keep their messages."""
    from cge.primitives import WILDCARD, parse_labelled

    labels = {"region": ["A", "B", "C"], "sector": ["x", "y"]}
    rows = {"A": {"x": 1, "y": 2.5}, "B": [np.float64(3.0), np.int64(4)],
            "C": {"y": float("inf"), "x": -1e300}}
    fast = parse_labelled("p", rows, ["region", "sector"], labels, None, problems := [])
    slow_rows = {"A": {WILDCARD: 0, "x": 1, "y": 2.5}, "B": {WILDCARD: 0, "x": 3.0, "y": 4},
                 "C": {WILDCARD: 0, "y": "inf", "x": -1e300}}
    slow = parse_labelled("p", slow_rows, ["region", "sector"], labels, None, [])
    assert not problems
    np.testing.assert_array_equal(fast, slow)
    bad = {"A": {"x": float("nan"), "y": 1.0}, "B": {"x": True, "y": 1.0}, "C": {"x": 1.0}}
    parse_labelled("p", bad, ["region", "sector"], labels, None, problems := [])
    assert problems == ["p[region=A, sector=x]: value is NaN",
                        "p[region=B, sector=x]: expected a number, got True",
                        "p[region=C, sector=y]: missing entry (no default)"]
