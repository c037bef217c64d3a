"""Forecast many series in this process with a checkpoint, through the service's own path.

The checkpoint is loaded, checked and warmed up by service.checkpoint and run by
service.inference, as POST /forecast does. Each series is first cut to the observations the
model reads (its context, or the longest season its decoder looks back, if longer), which
gives the forecast of the whole series; so series of any length past that share one length
and run in full batches.
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from model.export import VERSION_RE
from model.network import QUANTITIES
from scripts.pipeline.csv_series import DataError, Series, step_times
from service import inference
from service.checkpoint import CheckpointError, LoadedModel, load_checkpoint
from service.inference import IntervalOffsets
from service.schemas import FLOAT32_MAX, InternalsMode


@dataclass(frozen=True)
class BulkRequest:
    """What to compute for every series."""

    horizon: int
    level: float | None  # central interval level, or None for no interval
    internals: InternalsMode  # "none", "all" (every step the LSTM ran) or "last"
    batch_size: int  # series per model call


@dataclass
class BulkResult:
    """Forecasts of N series, row i for series[i]; arrays float32 unless noted."""

    series: list[Series]
    horizon: int
    level: float | None
    forecast: np.ndarray  # (N, horizon)
    lower: np.ndarray | None  # (N, horizon), with a level
    upper: np.ndarray | None
    internals: np.ndarray | None  # (N, L, 6, S, H); series i's steps are the last steps[i]
    steps: np.ndarray  # (N,) int64: internals steps of each series (0 without internals)
    first_position: np.ndarray  # (N,) int64: series index of the value read at its first step
    forecast_times: list[list[str] | None]  # ISO 8601 per forecast step, None: no timestamps
    step_times: list[list[str] | None]  # ISO 8601 of the value read at each internals step

    @property
    def positions(self) -> np.ndarray:
        """(N, S) int64: the series index of the value each internals step read (positions
        from the series' length on are forecasts fed back); -1 where a row is padding."""
        width = 0 if self.internals is None else self.internals.shape[3]
        out = np.full((len(self.series), width), -1, dtype=np.int64)
        for i, (n, first) in enumerate(zip(self.steps, self.first_position, strict=True)):
            out[i, width - n :] = first + np.arange(n)
        return out


def open_checkpoint(path: Path) -> LoadedModel:
    """Load, check and warm up a checkpoint as the service does; DataError with the reason."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise DataError(f"cannot read the checkpoint {path}: {err.strerror or err}") from None
    stamp = st.st_size, st.st_mtime_ns, st.st_ctime_ns
    try:
        model = load_checkpoint(path, path.parent.name, path.stem, stamp)
    except CheckpointError as err:
        raise DataError(f"cannot use the checkpoint {path}: {err}") from None
    if VERSION_RE.match(path.stem):  # <name>/<version>.pt: its place names it, as served
        return model
    return replace(model, name=model.meta.name or model.name, version=model.meta.version or "")


def observed_need(model: LoadedModel) -> int:
    """Observations of a series the model reads: the rest cannot change its forecast."""
    return max(model.context, model.min_history)


def check_request(model: LoadedModel, req: BulkRequest) -> IntervalOffsets | None:
    """Refuse a horizon or interval the model cannot give; the interval's offsets."""
    if model.direct and req.horizon > model.trained_horizon:
        raise DataError(
            f"--horizon {req.horizon} is beyond the {model.trained_horizon} steps this model "
            "was trained for (its decoder is direct)"
        )
    if req.level is None:
        return None
    try:
        return IntervalOffsets.at_level(model.quantiles, req.level, req.horizon)
    except ValueError as err:
        raise DataError(f"--interval: {err}") from None


def usable(model: LoadedModel, series: Sequence[Series]) -> tuple[list[Series], list[str]]:
    """The series long enough for the model, and the names of the rest; DataError when a
    series holds a value float32 cannot (the service refuses it too)."""
    for s in series:
        if len(s.values) and float(np.abs(s.values).max()) > FLOAT32_MAX:
            raise DataError(f"series {s.name!r} has values beyond float32's range (3.4e38)")
    need = model.min_history
    kept = [s for s in series if len(s.values) >= need]
    return kept, [s.name for s in series if len(s.values) < need]


def forecast_all(
    model: LoadedModel,
    series: Sequence[Series],
    req: BulkRequest,
    progress: Callable[[int], object] = lambda n: None,
) -> BulkResult:
    """Forecast every series, in batches of one length; results in the order given."""
    offsets = check_request(model, req)
    need = observed_need(model)
    inputs = [np.asarray(s.values[-need:], dtype=np.float32) for s in series]  # each (T,)
    runs = {n: int(model.module.steps_run(n, False)) for n in {len(x) for x in inputs}}
    lengths = [len(s.values) for s in series]
    steps, first = kept_steps(lengths, [runs[len(x)] for x in inputs], model, req)
    n, h = len(series), req.horizon
    forecast = np.empty((n, h), dtype=np.float32)
    lower = upper = None
    if offsets is not None:
        lower, upper = np.empty((n, h), dtype=np.float32), np.empty((n, h), dtype=np.float32)
    internals = None
    width = int(steps.max(initial=0))
    if req.internals != "none":
        shape = (n, model.num_layers, len(QUANTITIES), width, model.hidden_size)
        internals = np.full(shape, np.nan, dtype=np.float32)  # (N, L, 6, S, H)
    for batch in batches([len(x) for x in inputs], req.batch_size):
        sequences = [inputs[i] for i in batch]
        results = inference.run(
            model.module, sequences, h, req.internals, None, offsets, False, model.traits
        )
        for i, r in zip(batch, results, strict=True):
            forecast[i] = r.forecast
            if lower is not None and upper is not None:
                assert r.lower is not None and r.upper is not None  # an interval was asked for
                lower[i], upper[i] = r.lower, r.upper
            if internals is not None and r.internals is not None:
                internals[i, :, :, width - r.internals.shape[2] :] = r.internals  # (L, 6, s, H)
        progress(len(batch))
    return BulkResult(
        series=list(series),
        horizon=h,
        level=req.level,
        forecast=forecast,
        lower=lower,
        upper=upper,
        internals=internals,
        steps=steps,
        first_position=first,
        forecast_times=[times(s, model, len(s.values), h) for s in series],
        step_times=[
            times(s, model, int(p), int(k)) if k else None
            for s, p, k in zip(series, first, steps, strict=True)
        ],
    )


def kept_steps(
    lengths: Sequence[int], runs: Sequence[int], model: LoadedModel, req: BulkRequest
) -> tuple[np.ndarray, np.ndarray]:
    """Per series, the internals steps kept (N,) and the series index of the value the
    first of them read (N,): the run's first observation, or with "last" the last step's
    (the last observation, or the last forecast fed back)."""
    generated = 0 if model.direct else req.horizon - 1
    ends = np.asarray(lengths, dtype=np.int64) + generated  # one past the last value read
    if req.internals == "last":
        return np.ones(len(lengths), dtype=np.int64), ends - 1
    first = np.asarray(lengths, dtype=np.int64) - np.asarray(runs, dtype=np.int64)
    if req.internals == "none":
        return np.zeros(len(lengths), dtype=np.int64), first
    return ends - first, first


def batches(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Indices grouped by length, each group cut into batches of at most `size`."""
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(n, []).append(i)
    return [
        idx[start : start + size]
        for _, idx in sorted(groups.items())
        for start in range(0, len(idx), size)
    ]


def times(s: Series, model: LoadedModel, start: int, count: int) -> list[str] | None:
    """ISO 8601 times of series positions start .. start+count-1, past the end on the
    series' grid (the model's frequency when the series is too short to show one)."""
    return step_times(s, start, count, model.meta.frequency)
