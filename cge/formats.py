"""Results in further formats: Parquet (pyarrow) and netCDF (xarray).

Parquet holds one file per table, as the CSV files do. netCDF holds all the
tables of a run in one file, ``results.nc``: every tidy table becomes a group
of variables along its own row dimension (``<table>_row``), each variable
carrying its unit and meaning from the data dictionary (:mod:`cge.units`) as
the attributes ``units`` and ``long_name``; the run's provenance (scenario,
data checksum, money unit, welfare measure) are global attributes. Written
with scipy's netCDF3 backend, which needs no further library; text columns
are stored as fixed-width character arrays.

>>> import xarray as xr
>>> ds = xr.open_dataset("results/us_china_tariffs/results.nc")   # doctest: +SKIP
>>> ds["welfare__ev"].attrs["units"]                                # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["parquet_ready", "write_parquet", "netcdf_dataset", "write_netcdf"]


def parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every mixed-type text column as text (Parquet columns have one type:
    an expectation's value is a number or a region's name)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col].dropna()}
            if len(kinds) > 1 or (kinds and not kinds <= {str}):
                out[col] = out[col].map(lambda v: None if v is None else str(v))
    return out


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    parquet_ready(frame).to_parquet(path, index=False)


def _column(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype="int8")
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float)
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                      else str(v)).to_numpy(dtype=str)


def netcdf_dataset(tables: dict[str, pd.DataFrame], info: dict | None = None):
    """An :class:`xarray.Dataset` of the tables: variable ``<table>__<column>`` along
    dimension ``<table>_row``, with ``units`` and ``long_name`` attributes."""
    import xarray as xr

    units = tables.get("units")
    lookup = {}
    if units is not None:
        lookup = {(r.table, r.column): (r.unit, r.meaning) for r in units.itertuples(index=False)}
    variables = {}
    for name, frame in tables.items():
        if name == "units" or frame.shape[1] == 0:
            continue
        dim = f"{name}_row"
        for col in frame.columns:
            unit, meaning = lookup.get((name, str(col)), ("", ""))
            data = _column(frame[col])
            variables[f"{name}__{col}"] = xr.Variable(
                dim, data, attrs={"units": unit, "long_name": meaning, "table": name,
                                  "column": str(col)})
    ds = xr.Dataset(variables)
    for key in ("scenario", "description", "data", "data_sha256", "scenario_sha256",
                "money_unit", "welfare_measure"):
        if info and info.get(key) is not None:
            ds.attrs[key] = str(info[key])
    ds.attrs["conventions"] = ("one variable per table column, <table>__<column>, along "
                               "<table>_row; see the units sheet of results.xlsx")
    return ds


def write_netcdf(tables: dict[str, pd.DataFrame], info: dict | None, path: str | Path) -> None:
    """Write ``results.nc`` (netCDF3 through scipy: no compiled netCDF library needed)."""
    netcdf_dataset(tables, info).to_netcdf(path, engine="scipy")
