"""Forecast many series in this process with a checkpoint, through the service's own path.

The checkpoint is loaded, checked and warmed up by service.checkpoint and run by
service.inference, as POST /forecast does, with the inputs the service builds from
`timestamps`, `covariates` and `series`: calendar inputs from each series' times continued
on the model's grid (service.timeline), covariates from its columns (future ones over the
horizon from the rows after its last value), and its embedding id. Each series is first
cut to the observations the model reads (its context, or the longest season its decoder
looks back, if longer), which gives the forecast of the whole series; so series of any
length past that share one length and run in full batches.
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
from service.timeline import calendar_rows, grid, parse_frequency


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
    inputs: np.ndarray | None = None  # (N, S, I): the LSTM's input vector at each step
    input_names: tuple[str, ...] = ()  # (I,) what each element of an input vector is

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


def some(names: Sequence[str]) -> str:
    """The first few names, for a message."""
    return ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")


def exog_inputs(model: LoadedModel, s: Series, need: int, horizon: int) -> np.ndarray:
    """One series' raw exogenous inputs over its last `need` values and the horizon, as the
    service builds them from timestamps and covariates: (T + horizon, E) float32."""
    calendar, past, future = model.calendar, model.past_covariates, model.future_covariates
    n = min(need, len(s.values))
    total = n + horizon
    exog = np.zeros((total, len(model.meta.network.exog_names)), dtype=np.float32)  # (T + H, E)
    if calendar:
        if s.wall is None:
            raise DataError(
                f"series {s.name!r} has no timestamps; this model reads calendar inputs "
                f"({', '.join(calendar)}): give the data a time column"
            )
        trained, own = parse_frequency(model.meta.frequency), parse_frequency(s.freq)
        if trained is not None and own is not None and own != trained:
            raise DataError(
                f"series {s.name!r} has frequency {s.freq}, this model reads calendar inputs "
                f"on its {model.meta.frequency!r} grid"
            )
        step = trained or own
        if step is None:
            raise DataError(
                f"series {s.name!r}: no regular frequency to continue its times over the "
                "horizon (the model has none and the series shows none)"
            )
        seen = s.wall[-n:]  # (T,) wall-clock seconds
        # The horizon keeps the last time's UTC offset, as the service's timeline does.
        wall = np.concatenate([seen, grid(int(seen[-1]), step, horizon + 1)[1:]])  # (T + H,)
        exog[:, : len(calendar)] = calendar_rows(wall.astype(np.int64).tobytes(), tuple(calendar))
    have = len(s.ahead.get(future[0], ())) if future else horizon  # rows shared by them all
    if have < horizon:
        raise DataError(
            f"series {s.name!r}: the future covariates ({', '.join(future)}) need {horizon} "
            f"rows after its last value, one per horizon step; found {have}"
        )
    for j, name in enumerate([*past, *future]):
        column = len(calendar) + j
        exog[:n, column] = s.covariates[name][-n:]
        if name in future:
            exog[n:, column] = s.ahead[name][:horizon]
        else:  # known up to the last value: carried forward, as the service sends it
            exog[n:, column] = s.covariates[name][-1]
    return exog


def series_inputs(model: LoadedModel, series: Sequence[Series]) -> np.ndarray | None:
    """The embedding ids (N,) int64 of the series' names; None for a model without one."""
    ids = model.series_ids
    if not ids:
        return None
    index = {name: i for i, name in enumerate(ids)}
    for s in series:
        if s.name not in index:
            raise DataError(
                f"series {s.name!r} is not in this model's series embedding (it knows "
                f"{some(ids)}); forecast it with a model trained on it"
            )
    return np.array([index[s.name] for s in series], dtype=np.int64)


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
    exog = None
    if model.traits.exogenous and model.meta.network.exog_names:
        exog = [exog_inputs(model, s, need, req.horizon) for s in series]  # each (T + H, E)
    ids = series_inputs(model, series)  # (N,)
    runs = {n: int(model.module.steps_run(n, False)) for n in {len(x) for x in inputs}}
    lengths = [len(s.values) for s in series]
    steps, first = kept_steps(lengths, [runs[len(x)] for x in inputs], model, req)
    n, h = len(series), req.horizon
    forecast = np.empty((n, h), dtype=np.float32)
    lower = upper = None
    if offsets is not None:
        lower, upper = np.empty((n, h), dtype=np.float32), np.empty((n, h), dtype=np.float32)
    internals = inputs_seen = None
    width = int(steps.max(initial=0))
    if req.internals != "none":
        shape = (n, model.num_layers, len(QUANTITIES), width, model.hidden_size)
        internals = np.full(shape, np.nan, dtype=np.float32)  # (N, L, 6, S, H)
        size = len(model.input_names)
        inputs_seen = np.full((n, width, size), np.nan, dtype=np.float32)  # (N, S, I)
    for batch in batches([len(x) for x in inputs], req.batch_size):
        sequences = [inputs[i] for i in batch]
        results = inference.run(
            model.module,
            sequences,
            h,
            req.internals,
            None,
            offsets,
            False,
            model.traits,
            None if exog is None else [exog[i] for i in batch],
            None if ids is None else ids[batch],
        )
        for i, r in zip(batch, results, strict=True):
            if not (r.scaled_finite and np.isfinite(r.forecast).all()):
                raise DataError(
                    f"series {series[i].name!r}: its values are too far apart for the "
                    "model's float32 arithmetic (they overflow once scaled)"
                )
            forecast[i] = r.forecast
            if lower is not None and upper is not None:
                assert r.lower is not None and r.upper is not None  # an interval was asked for
                lower[i], upper[i] = r.lower, r.upper
            if internals is not None and r.internals is not None:
                internals[i, :, :, width - r.internals.shape[2] :] = r.internals  # (L, 6, s, H)
            if inputs_seen is not None and r.inputs is not None:
                inputs_seen[i, width - r.inputs.shape[0] :] = r.inputs  # (s, I)
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
        inputs=inputs_seen,
        input_names=tuple(model.input_names),
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
