"""cge: trade-policy general equilibrium with heterogeneous firms (Melitz) in Pyomo.

The main entry points:

* :class:`Primitives` - the economy, read from a mapping or a YAML/JSON file;
* :class:`Equilibrium` - builds the square Pyomo system, solves the benchmark
  and policy shocks with IPOPT;
* :class:`HeterogeneousFirmSector` - the sector block other CGE models can embed.
"""

from . import examples  # noqa: F401 - cge.examples.three_by_three() after `import cge`
from .blocks.sector import HeterogeneousFirmSector
from .equilibrium import Equilibrium
from .errors import CGEError, InputError, SelectionError, SolveError, StructureError
from .parameters import PARAMETERS
from .primitives import Closure, Numeraire, Primitives
from .results import Comparison, Results

__version__ = "0.1.0"

__all__ = [
    "CGEError", "Closure", "Comparison", "Equilibrium", "HeterogeneousFirmSector", "InputError",
    "Numeraire", "PARAMETERS", "Primitives", "Results", "SelectionError", "SolveError",
    "StructureError", "__version__",
]
