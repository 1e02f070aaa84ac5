"""The documentation states every equation family and parameter the code has."""

from __future__ import annotations

import re
from pathlib import Path

import pyomo.environ as pyo
import pytest

from cge import Equilibrium, Primitives
from cge.examples import three_by_three
from cge.model import build_model
from cge.parameters import PARAMETERS
from cge.tolerance import limit, WALRAS_TERMS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_doc() -> str:
    return (ROOT / "docs" / "model.md").read_text()


def test_every_constraint_family_is_documented(model_doc):
    prim = three_by_three().to_mapping()
    prim["entry"] = {"manufacturing": "fixed"}  # also declare fixed-entry components
    m = build_model(Primitives.from_mapping(prim))
    names = {c.local_name for c in m.component_objects(pyo.Constraint, descend_into=True)}
    missing = sorted(n for n in names if f"`{n}`" not in model_doc)
    assert not missing, f"docs/model.md does not document {missing}"


def test_every_parameter_is_documented(model_doc):
    missing = [p for p in PARAMETERS if f"`{p}`" not in model_doc]
    assert not missing


def test_every_equation_family_has_its_equation_in_the_docstring():
    m = build_model(three_by_three())
    for comp in m.component_objects(pyo.Constraint, descend_into=True):
        if comp.is_reference():
            continue
        assert comp.doc and ("math::" in comp.doc or "=" in comp.doc), comp.name


def test_readme_yaml_example_solves(tmp_path):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    path = tmp_path / "economy.yaml"
    path.write_text(block)
    eq = Equilibrium(Primitives.from_file(path))
    base = eq.solve()
    assert abs(base.walras_residual) < limit(terms=WALRAS_TERMS)
    cut = eq.solve(tariff=eq.primitives["tariff"] * 0.9)
    assert cut.max_residual < limit()
