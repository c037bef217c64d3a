"""The files gatecast-forecast writes, each atomically: the forecast table (CSV or Parquet)
and the internals (.npz or HDF5), laid out as docs/bulk.md describes.

Every file is written to a hidden temporary file in its folder, flushed and fsynced, then
renamed over the target, so a crash or Ctrl-C leaves the old file or none, never half a file.
"""

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.atomic import fill_atomically
from model.network import QUANTITIES
from scripts.pipeline.bulk import BulkResult
from scripts.pipeline.csv_series import DataError

TABLE_SUFFIXES = (".csv", ".parquet")
INTERNALS_SUFFIXES = (".npz", ".h5", ".hdf5")
# The optional packages each format needs, and the extra that installs them.
NEEDS = {".parquet": "pyarrow", ".h5": "h5py", ".hdf5": "h5py"}
EXTRA = "pip install 'gatecast[bulk]'"

Columns = dict[str, list[Any] | np.ndarray]


def check_target(path: Path, suffixes: tuple[str, ...], flag: str) -> None:
    """Refuse, before any work, a file type not written here, a folder that does not exist,
    or a format whose package is not installed."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise DataError(f"{flag} {path}: the name must end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise DataError(f"{flag} {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise DataError(f"{flag} {path}: is a folder")
    package = NEEDS.get(suffix)
    if package is not None:
        try:
            __import__(package)
        except ImportError:
            raise DataError(f"writing {suffix} files needs {package}: {EXTRA}") from None


def table_columns(result: BulkResult, with_times: bool) -> Columns:
    """One row per series and forecast step: series, step (1..horizon), timestamp (with
    times; empty for a series without), forecast, and lower and upper with a level."""
    n, h = len(result.series), result.horizon
    cols: Columns = {
        "series": [s.name for s in result.series for _ in range(h)],
        "step": np.tile(np.arange(1, h + 1, dtype=np.int32), n),
    }
    if with_times:
        cols["timestamp"] = [t for times in result.forecast_times for t in (times or [""] * h)]
    cols["forecast"] = result.forecast.reshape(-1)
    if result.lower is not None and result.upper is not None:
        cols["lower"], cols["upper"] = result.lower.reshape(-1), result.upper.reshape(-1)
    return cols


def write_table(path: Path, cols: Columns, about: dict[str, Any]) -> None:
    """The forecast table as CSV or Parquet (by the name's suffix), atomically; `about`
    (model, version, level) goes into Parquet's metadata."""
    if path.suffix.lower() == ".parquet":
        fill_atomically(path, lambda tmp: _parquet(tmp, cols, about), None)
    else:
        fill_atomically(path, lambda tmp: _csv(tmp, cols), None)


def _csv(tmp: Path, cols: Columns) -> None:
    """CSV with a header; float32 values in their shortest exact form."""
    names = list(cols)
    text = [[str(v) for v in col] if isinstance(col, np.ndarray) else col for col in cols.values()]
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(names)
        out.writerows(zip(*text, strict=True))


def _parquet(tmp: Path, cols: Columns, about: dict[str, Any]) -> None:
    """Parquet: strings, int32 steps and float32 values, `about` under the key gatecast."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"series": pa.string(), "step": pa.int32(), "timestamp": pa.string()}
    arrays = {k: pa.array(v, type=types.get(k, pa.float32())) for k, v in cols.items()}
    table = pa.table(arrays).replace_schema_metadata({"gatecast": json.dumps(about)})
    pq.write_table(table, tmp)


def internals_arrays(result: BulkResult, about: dict[str, Any]) -> dict[str, np.ndarray]:
    """The internals file's arrays, by name (docs/bulk.md): the same in .npz and HDF5."""
    assert result.internals is not None
    n, width = len(result.series), result.internals.shape[3]
    out: dict[str, np.ndarray] = {
        "internals": result.internals,  # (N, L, 6, S, H)
        "quantities": np.array(QUANTITIES),
        "series": np.array([s.name for s in result.series], dtype=str),
        "steps": result.steps,
        "positions": result.positions,  # (N, S)
        "forecast": result.forecast,  # (N, horizon)
    }
    if result.inputs is not None:
        out["inputs"] = result.inputs  # (N, S, I)
        out["input_names"] = np.array(result.input_names, dtype=str)
    if result.lower is not None and result.upper is not None:
        out["lower"], out["upper"] = result.lower, result.upper
    if any(t is not None for t in result.step_times):
        step_times = np.full((n, width), "", dtype=object)
        for i, times in enumerate(result.step_times):
            if times is not None:
                step_times[i, width - len(times) :] = times
        out["step_times"] = step_times.astype(str)
        forecast_times = np.full((n, result.horizon), "", dtype=object)
        for i, times in enumerate(result.forecast_times):
            if times is not None:
                forecast_times[i] = times
        out["forecast_times"] = forecast_times.astype(str)
    for key, value in about.items():  # no level: NaN, so the key is always there
        out[key] = np.array(np.nan if value is None else value)
    return out


def write_internals(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The internals as compressed .npz or HDF5 (by the name's suffix), atomically."""
    if path.suffix.lower() == ".npz":
        fill_atomically(path, lambda tmp: _npz(tmp, arrays), None)
    else:
        fill_atomically(path, lambda tmp: _hdf5(tmp, arrays), None)


def _npz(tmp: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed into an open file (given a name, numpy would append .npz);
    no pickled objects, so np.load reads it without allow_pickle."""
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, allow_pickle=False, **arrays)


def _hdf5(tmp: Path, arrays: dict[str, np.ndarray]) -> None:
    """One dataset per array (gzip-compressed, UTF-8 strings); scalars become file attributes."""
    import h5py

    with h5py.File(tmp, "w") as f:
        for key, value in arrays.items():
            if value.ndim == 0:
                f.attrs[key] = value.item()
            elif value.dtype.kind == "U":
                f.create_dataset(key, data=value.astype(object), dtype=h5py.string_dtype())
            else:
                f.create_dataset(key, data=value, compression="gzip" if value.size else None)
