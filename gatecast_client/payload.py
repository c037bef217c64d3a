"""The POST /forecast body from what a caller holds: lists, numpy arrays or pandas objects.

pandas is never imported here: a value can only be a pandas object if the caller imported
pandas already, so the module is looked up in sys.modules.
"""

import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np

from gatecast_client.state import State

InternalsMode = Literal["none", "last", "all"]
INTERNALS_MODES = ("none", "last", "all")


@dataclass(frozen=True)
class Observations:
    """The values to forecast from: one sequence or a batch, with timestamps and names."""

    batch: bool
    sequences: list[list[float]]
    timestamps: list[list[str]] | None  # from a DatetimeIndex, one list per sequence
    names: list[Hashable]  # per sequence: a Series' name, a column, or its position


def loaded_pandas() -> ModuleType | None:
    """pandas if the caller has imported it, else None."""
    return sys.modules.get("pandas")


def finite_values(values: Any, field: str) -> list[float]:
    """One sequence as a list of floats; ValueError naming `field` unless 1-D and finite."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{field} must hold numbers: {err}") from err
    if array.ndim != 1:
        raise ValueError(f"{field} must be one list of numbers, not shaped {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{field}[{bad[0]}] is {array[bad[0]]}: every value must be finite")
    values_list: list[float] = array.tolist()
    return values_list


def iso(value: Any) -> str:
    """An ISO 8601 string for a str, datetime, date, pandas Timestamp or numpy datetime64."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"not a time: {value!r} (give ISO 8601 strings or datetimes)")


def index_times(index: Any) -> list[str] | None:
    """The ISO 8601 times of a pandas DatetimeIndex; None for any other index."""
    pd = loaded_pandas()
    if pd is None or not isinstance(index, pd.DatetimeIndex):
        return None
    return [stamp.isoformat() for stamp in index]


def is_number(value: Any) -> bool:
    """Whether value is one number (not a list of them)."""
    return isinstance(value, int | float | np.number)


def one_sequence(values: Any, field: str) -> tuple[list[float], list[str] | None]:
    """A 1-D sequence (list, array or Series) and the times of a Series' DatetimeIndex."""
    pd = loaded_pandas()
    if pd is not None and isinstance(values, pd.Series):
        return finite_values(values.to_numpy(dtype=np.float64), field), index_times(values.index)
    return finite_values(values, field), None


def frame_observations(frame: Any) -> Observations:
    """Each column of a DataFrame as one sequence; leading and trailing NaN are dropped, so
    columns may differ in length. A DatetimeIndex gives each column its times."""
    if frame.shape[1] == 0:
        raise ValueError("the DataFrame has no columns")
    sequences, stamps = [], []
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        present = np.flatnonzero(column.notna().to_numpy())
        if present.size == 0:
            raise ValueError(f"column {frame.columns[position]!r} holds no values")
        column = column.iloc[present[0] : present[-1] + 1]
        values, times = one_sequence(column, f"column {frame.columns[position]!r}")
        sequences.append(values)
        stamps.append(times)
    timestamps = None if stamps[0] is None else [t for t in stamps if t is not None]
    return Observations(True, sequences, timestamps, list(frame.columns))


def observations(values: Any) -> Observations:
    """One sequence (a list of numbers, a 1-D array, a Series) or a batch (a 2-D array, one
    row per sequence; a list of sequences; a DataFrame, one column per sequence)."""
    pd = loaded_pandas()
    if pd is not None and isinstance(values, pd.DataFrame):
        return frame_observations(values)
    if pd is not None and isinstance(values, pd.Series):
        sequence, times = one_sequence(values, "sequence")
        return Observations(False, [sequence], None if times is None else [times], [values.name])
    if isinstance(values, np.ndarray) and values.ndim == 2:
        rows = [finite_values(row, f"sequences[{k}]") for k, row in enumerate(values)]
        return Observations(True, rows, None, list(range(len(rows))))
    if isinstance(values, np.ndarray) or (
        isinstance(values, Sequence) and all(is_number(v) for v in values)
    ):
        return Observations(False, [finite_values(values, "sequence")], None, [None])
    if isinstance(values, Sequence) and not isinstance(values, str | bytes):
        parts = [one_sequence(v, f"sequences[{k}]") for k, v in enumerate(values)]
        stamps = [t for _, t in parts if t is not None]
        if stamps and len(stamps) != len(parts):
            raise ValueError("some sequences have a DatetimeIndex and some not: give all or none")
        timestamps = stamps or None
        names = [k if getattr(v, "name", None) is None else v.name for k, v in enumerate(values)]
        return Observations(True, [s for s, _ in parts], timestamps, names)
    raise TypeError(
        "values must be a list or 1-D array (one sequence), a 2-D array or a list of "
        f"sequences (a batch), or a pandas Series or DataFrame; not {type(values).__name__}"
    )


def times_field(given: Any, batch: bool) -> list[str] | list[list[str]]:
    """`timestamps` as given by the caller: one list of times, or one per sequence."""
    if batch:
        return [[iso(t) for t in times] for times in given]
    return [iso(t) for t in given]


def start_field(given: Any) -> str | list[str]:
    """`start` as given: one time, or (with a batch) one per sequence."""
    if isinstance(given, str) or not isinstance(given, Iterable):
        return iso(given)
    return [iso(t) for t in given]


def covariate_columns(given: Any, field: str) -> dict[str, list[float]]:
    """One sequence's covariates: a mapping of name to values, or a DataFrame's columns."""
    pd = loaded_pandas()
    if pd is not None and isinstance(given, pd.DataFrame):
        given = {str(name): given[name].to_numpy() for name in given.columns}
    if not isinstance(given, Mapping):
        raise TypeError(f"{field} must map names to values, not {type(given).__name__}")
    return {str(k): finite_values(v, f"{field}.{k}") for k, v in given.items()}


def covariates_field(given: Any, batch: bool) -> dict[str, list[float]] | list[Any]:
    """`covariates`: one mapping, or (with a batch) one per sequence."""
    if batch:
        return [covariate_columns(c, f"covariates[{k}]") for k, c in enumerate(given)]
    return covariate_columns(given, "covariates")


def state_field(given: Any) -> dict[str, Any] | list[dict[str, Any]]:
    """`state`: a State or its JSON object, or a list of them (one per sequence)."""
    if isinstance(given, State):
        return given.to_json()
    if isinstance(given, Mapping):
        return dict(given)
    return [s.to_json() if isinstance(s, State) else dict(s) for s in given]


def forecast_body(
    obs: Observations,
    horizon: int,
    *,
    model: str | None = None,
    version: str | None = None,
    internals: InternalsMode = "none",
    interval: float | None = None,
    state: Any = None,
    return_state: bool = False,
    timestamps: Any = None,
    start: Any = None,
    covariates: Any = None,
    series: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """The JSON body of POST /forecast; fields left at None are not sent."""
    if internals not in INTERNALS_MODES:
        raise ValueError(f"internals must be one of {INTERNALS_MODES}, not {internals!r}")
    body: dict[str, Any] = {"horizon": horizon, "internals": internals}
    if obs.batch:
        body["sequences"] = obs.sequences
    else:
        body["sequence"] = obs.sequences[0]
    optional = {"model": model, "version": version, "interval": interval}
    body.update({k: v for k, v in optional.items() if v is not None})
    if state is not None:
        body["state"] = state_field(state)
    if return_state:
        body["return_state"] = True
    if timestamps is not None:
        body["timestamps"] = times_field(timestamps, obs.batch)
    elif obs.timestamps is not None:
        body["timestamps"] = obs.timestamps if obs.batch else obs.timestamps[0]
    if start is not None:
        body["start"] = start_field(start)
    if covariates is not None:
        body["covariates"] = covariates_field(covariates, obs.batch)
    if series is not None:
        body["series"] = series if isinstance(series, str) else list(series)
    return body
