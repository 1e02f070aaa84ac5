"""cge: trade-policy general equilibrium with heterogeneous firms (Melitz) in Pyomo.

The main entry points:

* :class:`Primitives` - the economy, read from a mapping or a YAML/JSON file;
* :class:`Equilibrium` - builds the square Pyomo system, solves the benchmark
  and policy shocks with IPOPT;
* :class:`HeterogeneousFirmSector` - the sector block other CGE models can embed.

Names and submodules are imported when first used (PEP 562), so that
``import cge`` and the command line start without loading Pyomo, pandas or
matplotlib until a command needs them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "HeterogeneousFirmSector": "blocks.sector",
    "Equilibrium": "equilibrium",
    "CGEError": "errors", "InputError": "errors", "SelectionError": "errors",
    "SolveError": "errors", "StructureError": "errors",
    "PARAMETERS": "parameters",
    "Closure": "primitives", "Numeraire": "primitives", "Primitives": "primitives",
    "Comparison": "results", "Results": "results",
}
#: Submodules reachable as attributes (``cge.examples.three_by_three()``) without an import.
_SUBMODULES = {
    "blocks", "checks", "closure", "embedding", "equilibrium", "errors", "examples", "model",
    "parameters", "primitives", "report", "results", "scenario", "shocks", "solve", "tolerance",
    "toolchain", "welfare", "units", "subtotals", "html_report", "pictures", "formats",
    "plausibility",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'cge' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
