"""Scenario files for the sweep, SSA, compare and subtotals tests: base scenarios and a writer."""

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



def two_shocks_scenario() -> dict:
    """Two shocks on the symmetric two-region example (subtotals by shock): a 20-point tariff
    of the first region on the second's goods, and a 30% cut of the second's import costs."""
    from cge.examples import symmetric

    a, b = symmetric(2, 1).regions
    return {
        "name": "two_shocks",
        "data": {"example": "symmetric", "args": {"regions": 2, "sectors": 1}},
        "shocks": [
            {"type": "tariff", "label": "tariff", "importers": a, "exporters": b,
             "mode": "add", "value": 0.2},
            {"type": "iceberg", "label": "trade costs", "importers": b, "mode": "cut_pct",
             "value": 30},
        ],
    }


def write(tmp_path: Path, name: str, mapping: dict) -> Path:
    """``mapping`` as ``<tmp_path>/<name>.yaml``; returns the path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path
