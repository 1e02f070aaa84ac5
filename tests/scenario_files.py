"""Scenario files for the sweep, SSA and compare tests: one base scenario and a writer."""

from __future__ import annotations

from pathlib import Path

import yaml

#: A 10-point tariff on the 3x3 example's manufactures from South into North.
TARIFF_BASE = {
    "name": "levels",
    "data": {"example": "three_by_three"},
    "shocks": [{"type": "tariff", "importers": "North", "exporters": "South",
                "sectors": "manufacturing", "mode": "add", "value": 0.1}],
}


def write(tmp_path: Path, name: str, mapping: dict) -> Path:
    """``mapping`` as ``<tmp_path>/<name>.yaml``; returns the path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path
