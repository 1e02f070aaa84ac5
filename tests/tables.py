"""Shared test helper: two solutions' result tables are the same equilibrium."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cge.tolerance import assert_close

#: Results of two routes agree to this relative precision (both solve to SOLVER_TOL).
SAME = 1e-9


def assert_same_tables(a, b, rel: float = SAME) -> None:
    """Every number of the four tables of ``b`` within ``rel`` of its column's scale in
    ``a`` (columns that are zero in equilibrium, free-entry profits, on the scale of the
    table's values), on the same rows and columns."""
    for name in ("regions", "factors", "sectors", "routes"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.index.equals(y.index) and list(x.columns) == list(y.columns), name
        table = np.nanmax(np.abs(x.select_dtypes("number").to_numpy(float)))
        for col in x.columns:
            if pd.api.types.is_numeric_dtype(x[col]) and not pd.api.types.is_bool_dtype(x[col]):
                want = x[col].to_numpy(float)
                scale = max(np.nanmax(np.abs(want)), 1e-3 * table)
                assert_close(y[col].to_numpy(float), want, scale=scale, rel=rel,
                             err_msg=f"{name}.{col}")
