"""The README's code runs as written: every ```python block, executed in order from the
repository's root, and the YAML block is a valid primitives file (issue 12)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_readme_has_python_blocks():
    assert _blocks("python"), "README.md lost its Python example"


@pytest.mark.solver
def test_readme_python_blocks_run_verbatim(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "__readme__"}
    for j, block in enumerate(_blocks("python")):
        exec(compile(block, f"README.md python block {j + 1}", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "terms_of_trade" in out and "ev" in out
    # what the README says the example shows: the decomposition adds up to the total
    change = namespace["change"]
    w = change.welfare
    from cge.welfare import COMPONENTS

    parts = w[list(COMPONENTS) + ["residual"]].sum(axis=1)
    assert (abs(parts - w["total"]) <= 1e-9 * abs(w["total"]).max()).all()


def test_readme_yaml_block_is_the_bundled_example():
    from cge import Primitives

    # the README's YAML block and the file its Python example reads are the same economy
    # (defaults spelt out or not)
    block = Primitives.from_mapping(yaml.safe_load(_blocks("yaml")[0]))
    bundled = Primitives.from_file(ROOT / "docs" / "examples" / "two_by_two.yaml")
    assert block.to_mapping() == bundled.to_mapping()


def test_readme_commands_name_existing_files():
    """Paths the README's bash blocks and tables name exist in a clean clone."""
    text = (ROOT / "README.md").read_text()
    for path in set(re.findall(r"`((?:runs|docs|sam_data|scripts|bench)/[\w./-]+\.\w+)`", text)):
        if "<" in path:
            continue
        assert (ROOT / path).exists() or path.startswith("runs/data/"), path
    assert os.path.isfile(ROOT / "docs" / "examples" / "two_by_two.yaml")
