"""Pure inference: float32 sequences and an initial state in, one named result per sequence out.

Sequences are run in one model call per distinct length, those of several requests (parts)
together when service.batching combines them. Results stay numpy float32 arrays that are
views into the model's output tensors; the response is serialized straight from them by
orjson, never through .tolist().
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, groupby
from typing import Any

import numpy as np
import torch

from model.intervals import interval_offsets
from service.schemas import InternalsMode
from service.threads import pin_torch_threads


@dataclass(frozen=True)
class InitialState:
    """Initial state for a call: (h0, c0) each (L, B, H), and the scaling (B,) if given."""

    h0: torch.Tensor
    c0: torch.Tensor
    loc: torch.Tensor | None
    scale: torch.Tensor | None

    def select(self, idx: list[int], batch: int) -> "InitialState":
        """The rows of the sequences in idx (all of them when idx covers the batch)."""
        if len(idx) == batch:
            return self
        pick = torch.tensor(idx)
        return InitialState(
            self.h0.index_select(1, pick),
            self.c0.index_select(1, pick),
            None if self.loc is None else self.loc.index_select(0, pick),
            None if self.scale is None else self.scale.index_select(0, pick),
        )

    @staticmethod
    def concat(states: Sequence["InitialState"]) -> "InitialState":
        """The states of several parts as one, their rows in order; all scaled or none."""
        if len(states) == 1:
            return states[0]
        scaled = [s.loc is not None and s.scale is not None for s in states]
        if any(scaled) and not all(scaled):
            raise ValueError("the states to concatenate are scaled in some parts only")
        loc = scale = None
        if all(scaled):
            loc = torch.cat([s.loc for s in states if s.loc is not None])  # (B,)
            scale = torch.cat([s.scale for s in states if s.scale is not None])
        return InitialState(
            torch.cat([s.h0 for s in states], dim=1),  # (L, B, H)
            torch.cat([s.c0 for s in states], dim=1),
            loc,
            scale,
        )


@dataclass(frozen=True)
class IntervalOffsets:
    """Per forecast step, the interval's offsets from the forecast in scaled units."""

    lower: np.ndarray  # (horizon,) float32
    upper: np.ndarray  # (horizon,) float32

    @staticmethod
    def at_level(quantiles: dict[str, Any], level: float, horizon: int) -> "IntervalOffsets":
        """The offsets of a central interval at `level` from a model's residual quantiles;
        ValueError when the level is out of range or the model has no quantiles."""
        lows, highs = interval_offsets(quantiles, level, horizon)
        return IntervalOffsets(np.asarray(lows, np.float32), np.asarray(highs, np.float32))


@dataclass(frozen=True)
class ModelTraits:
    """What inference needs to know of a model besides its module."""

    direct: bool  # the decoder feeds nothing back, so no steps are generated
    last_step_only: bool  # the module has internals_last (checkpoint format 3+)
    exogenous: bool = False  # the module takes exog and series, has step_inputs (format 4+)


@dataclass(frozen=True)
class ModelOutputs:
    """One call's outputs, named; loc and scale are what the sequences were scaled by."""

    run: int  # observed steps the LSTM ran over: the last `run` of the T sent
    steps: int  # steps computed: run, plus horizon - 1 generated (recursive decoder)
    forecast: torch.Tensor  # (G, horizon)
    internals: torch.Tensor | None  # (G, L, 6, S, H): S = steps, or 1 from internals_last
    h: torch.Tensor  # (L, G, H) state after the observed sequence
    c: torch.Tensor  # (L, G, H)
    loc: torch.Tensor  # (G, 1)
    scale: torch.Tensor  # (G, 1)
    inputs: torch.Tensor | None = None  # (G, S, I): the LSTM's input vectors, with internals

    def rows(self, start: int, stop: int) -> "ModelOutputs":
        """The outputs of sequences start..stop-1 of the call, as views."""
        return ModelOutputs(
            self.run,
            self.steps,
            self.forecast[start:stop],  # (g, horizon)
            None if self.internals is None else self.internals[start:stop],  # (g, L, 6, S, H)
            self.h[:, start:stop],  # (L, g, H)
            self.c[:, start:stop],
            self.loc[start:stop],  # (g, 1)
            self.scale[start:stop],
            None if self.inputs is None else self.inputs[start:stop],  # (g, S, I)
        )


@dataclass(frozen=True)
class Part:
    """One request's share of a call: its sequences, their initial state and what it asked
    for per sequence."""

    sequences: Sequence[np.ndarray]  # each (T,) float32
    state: InitialState | None  # one row per sequence
    offsets: IntervalOffsets | None
    return_state: bool
    exog: Sequence[np.ndarray] | None = None  # each (T + horizon, E) float32, raw
    series: np.ndarray | None = None  # (sequences,) int64 embedding ids


@dataclass(frozen=True)
class SequenceResult:
    """One sequence's results: arrays are C-contiguous views, ready for orjson."""

    length: int  # observed steps T sent
    run: int  # of them, the last `run` are the ones the LSTM ran over
    steps: int  # internals rows computed: run, plus horizon - 1 generated (recursive decoder)
    forecast: np.ndarray  # (horizon,)
    lower: np.ndarray | None  # (horizon,)
    upper: np.ndarray | None
    internals: np.ndarray | None  # (L, 6, S, H), S = steps, or 1 with "last"
    h: np.ndarray | None  # (L, H) state after the observed sequence
    c: np.ndarray | None
    loc: float | None  # the scaling the sequence got, returned with the state
    scale: float | None
    inputs: np.ndarray | None = None  # (S, I) the LSTM's input vectors, with internals
    scaled_finite: bool = True  # the observed values it ran over stay finite once scaled


def call_model(
    module: torch.jit.ScriptModule,
    x: torch.Tensor,
    horizon: int,
    internals: InternalsMode,
    state: InitialState | None,
    traits: ModelTraits,
    exog: torch.Tensor | None = None,
    series: torch.Tensor | None = None,
) -> ModelOutputs:
    """Run forward, internals_last or internals on x (G, T), whichever builds no more than
    is asked for, with exogenous inputs exog (G, T + horizon, E) and series ids (G,) for a
    module that takes them; outputs named, with internals the input vector of each step."""
    h0 = c0 = loc = scale = None
    if state is not None:
        h0, c0, loc, scale = state.h0, state.c0, state.loc, state.scale
    more: tuple[torch.Tensor | None, ...] = (exog, series) if traits.exogenous else ()
    run = int(module.steps_run(x.size(1), state is not None))
    steps = run + (0 if traits.direct else horizon - 1)
    if internals == "none":
        forecast, h, c, used_loc, used_scale = module.forward(x, horizon, h0, c0, loc, scale, *more)
        return ModelOutputs(run, steps, forecast, None, h, c, used_loc, used_scale)
    last = internals == "last" and traits.last_step_only
    entry = module.internals_last if last else module.internals
    forecast, gates, h, c, used_loc, used_scale = entry(x, horizon, h0, c0, loc, scale, *more)
    if traits.exogenous:
        inputs = module.step_inputs(x, forecast, run, used_loc, used_scale, *more)  # (G, S, I)
    else:  # the scaled value alone: the observed ones, then the forecast fed back
        values = torch.cat([x[:, x.size(1) - run :], forecast[:, : steps - run]], dim=1)
        inputs = ((values - used_loc) / used_scale).unsqueeze(-1)  # (G, S, 1)
    if internals == "last":
        inputs = inputs[:, -1:]  # (G, 1, I)
    return ModelOutputs(run, steps, forecast, gates, h, c, used_loc, used_scale, inputs)


def run(
    module: torch.jit.ScriptModule,
    sequences: Sequence[np.ndarray],
    horizon: int,
    internals: InternalsMode,
    state: InitialState | None,
    offsets: IntervalOffsets | None,
    return_state: bool,
    traits: ModelTraits,
    exog: Sequence[np.ndarray] | None = None,
    series: np.ndarray | None = None,
) -> list[SequenceResult]:
    """Forecast every sequence (T,); one model call per distinct length, in request order.

    exog: per sequence its raw exogenous inputs (T + horizon, E); series: ids (B,) int64.
    """
    part = Part(sequences, state, offsets, return_state, exog, series)
    return run_parts(module, [part], horizon, internals, traits)[0]


def run_parts(
    module: torch.jit.ScriptModule,
    parts: Sequence[Part],
    horizon: int,
    internals: InternalsMode,
    traits: ModelTraits,
) -> list[list[SequenceResult]]:
    """Forecast the sequences of all parts together, one model call per distinct length;
    each part gets its own results, in its order. States, exogenous inputs and series ids
    are each given in every part or none."""
    for what, given in (
        ("a state", [p.state is not None for p in parts]),
        ("exogenous inputs", [p.exog is not None for p in parts]),
        ("series ids", [p.series is not None for p in parts]),
    ):
        if any(given) and not all(given):
            raise ValueError(f"{what} is given in some parts only")
    carried = [p.state is not None for p in parts]
    sequences = [seq for p in parts for seq in p.sequences]
    exog = None
    if parts[0].exog is not None:
        exog = [e for p in parts if p.exog is not None for e in p.exog]
    ids = None
    if parts[0].series is not None:
        ids = torch.from_numpy(np.concatenate([p.series for p in parts if p.series is not None]))
    owner = [k for k, p in enumerate(parts) for _ in p.sequences]  # part of each sequence
    first = list(accumulate((len(p.sequences) for p in parts), initial=0))  # each part's first row
    state = None
    if all(carried):
        state = InitialState.concat([p.state for p in parts if p.state is not None])
    groups: dict[int, list[int]] = {}
    for i, seq in enumerate(sequences):
        groups.setdefault(len(seq), []).append(i)
    out: list[list[SequenceResult | None]] = [[None] * len(p.sequences) for p in parts]
    pin_torch_threads()  # request threads start with OpenMP's default thread count
    with torch.inference_mode():
        for idx in groups.values():
            x = torch.from_numpy(np.stack([sequences[i] for i in idx]))  # (G, T)
            init = None if state is None else state.select(idx, len(sequences))
            ex = None if exog is None else torch.from_numpy(np.stack([exog[i] for i in idx]))
            se = None if ids is None else ids[idx] if len(idx) < len(sequences) else ids
            outputs = call_model(module, x, horizon, internals, init, traits, ex, se)
            # idx ascends, so the rows of one part are adjacent: split each part's own rows
            # with its own intervals and state choice.
            start = 0
            seen = x.numpy()[:, x.size(1) - outputs.run :]  # (G, R) the values the LSTM read
            for k, members in groupby(idx, key=owner.__getitem__):
                mine = list(members)
                stop = start + len(mine)
                rows = outputs if len(mine) == len(idx) else outputs.rows(start, stop)
                part = parts[k]
                results = split(
                    rows, seen[start:stop], x.size(1), internals, part.offsets, part.return_state
                )
                for i, result in zip(mine, results, strict=True):
                    out[k][i - first[k]] = result
                start = stop
    return [[r for r in rs if r is not None] for rs in out]


def split(
    outputs: ModelOutputs,
    seen: np.ndarray,
    length: int,
    internals: InternalsMode,
    offsets: IntervalOffsets | None,
    return_state: bool,
) -> list[SequenceResult]:
    """Per-sequence results of one call on G sequences of `length` observed steps; seen
    (G, R): the observed values the LSTM ran over, the last R of them."""
    gates = outputs.internals
    if gates is not None and internals == "last":
        gates = gates[:, :, :, -1:]  # (G, L, 6, 1, H): each (1, H) block stays contiguous
    f = outputs.forecast.numpy()  # (G, horizon)
    loc, spread = outputs.loc.numpy()[:, 0], outputs.scale.numpy()[:, 0]  # (G,)
    # Values far apart overflow float32 once scaled (x - loc), which the LSTM's saturated
    # gates can hide: such a sequence is refused whatever its internals mode.
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (seen - loc[:, None]) / spread[:, None]  # (G, R) float32, as the model scales
    finite = np.isfinite(scaled).all(axis=1)  # (G,)
    lower = upper = None
    if offsets is not None:
        # Summed in float64 so that no intermediate overflows, then sent as float32 like the
        # forecast; a bound beyond float32's range becomes inf, for rendering to refuse.
        scale = spread[:, None].astype(np.float64)  # (G, 1) raw units per scaled unit
        with np.errstate(over="ignore"):
            lower = (f + offsets.lower[None, :] * scale).astype(np.float32)  # (G, horizon)
            upper = (f + offsets.upper[None, :] * scale).astype(np.float32)
    g = gates.numpy() if gates is not None else None
    inputs = None
    if outputs.inputs is not None:  # orjson needs each row C-contiguous
        inputs = np.ascontiguousarray(outputs.inputs.numpy())  # (G, S, I)
    hb = outputs.h.transpose(0, 1).contiguous().numpy() if return_state else None  # (G, L, H)
    cb = outputs.c.transpose(0, 1).contiguous().numpy() if return_state else None
    return [
        SequenceResult(
            length=length,
            run=outputs.run,
            steps=outputs.steps,
            forecast=f[j],
            lower=None if lower is None else lower[j],
            upper=None if upper is None else upper[j],
            internals=None if g is None else g[j],
            h=None if hb is None else hb[j],
            c=None if cb is None else cb[j],
            loc=float(loc[j]) if return_state else None,
            scale=float(spread[j]) if return_state else None,
            inputs=None if inputs is None else inputs[j],
            scaled_finite=bool(finite[j]),
        )
        for j in range(f.shape[0])
    ]
