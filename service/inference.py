"""Run a validated request through a loaded model: batching by length, state, intervals.

Results stay numpy float32 arrays that are views into the model's output tensors; the
response is serialized straight from them by orjson, never through .tolist().
"""

from dataclasses import dataclass

import numpy as np
import torch

from model.intervals import interval_offsets
from service.checkpoint import LoadedModel
from service.errors import ApiError
from service.request_model import InternalsMode, StateIn
from service.threads import pin_torch_threads


@dataclass(frozen=True)
class Prediction:
    """One sequence's results: arrays are C-contiguous views, ready for orjson."""

    length: int  # observed steps T
    forecast: np.ndarray  # (horizon,)
    lower: np.ndarray | None  # (horizon,)
    upper: np.ndarray | None
    internals: np.ndarray | None  # (L, 6, S, H), S = T + horizon - 1, or 1 with "last"
    h: np.ndarray | None  # (L, H) state after the observed sequence
    c: np.ndarray | None
    loc: float | None  # the scaling the sequence got, returned with the state
    scale: float | None


@dataclass(frozen=True)
class Initial:
    """Initial state for a call: (h0, c0) each (L, B, H), and the scaling (B,) if given."""

    h0: torch.Tensor
    c0: torch.Tensor
    loc: torch.Tensor | None
    scale: torch.Tensor | None

    def select(self, idx: list[int], batch: int) -> "Initial":
        """The rows of the sequences in idx (all of them when idx covers the batch)."""
        if len(idx) == batch:
            return self
        pick = torch.tensor(idx)
        return Initial(
            self.h0.index_select(1, pick),
            self.c0.index_select(1, pick),
            None if self.loc is None else self.loc.index_select(0, pick),
            None if self.scale is None else self.scale.index_select(0, pick),
        )


def state_tensors(states: list[StateIn], model: LoadedModel, batch: int) -> Initial:
    """Initial (h0, c0), each (L, batch, H), from one state for all or one per sequence."""
    shape = (model.num_layers, model.hidden_size)
    if len(states) not in (1, batch):
        raise ApiError(
            400, "invalid_request", f"state: give one state, or one per sequence ({batch})", "state"
        )
    scaled = [s.loc is not None for s in states]
    if any(scaled) and not all(scaled):
        raise ApiError(
            400, "invalid_request", "state: give loc and scale in every state or in none", "state"
        )
    hs, cs = [], []
    for s in states:
        h, c = s.h, s.c
        for part in (h, c):
            if len(part) != shape[0] or any(len(row) != shape[1] for row in part):
                raise ApiError(
                    400,
                    "invalid_request",
                    f"state: h and c must be {shape[0]} layers x {shape[1]} units for this model",
                    "state",
                )
        hs.append(h)
        cs.append(c)
    h0 = torch.from_numpy(np.array(hs, dtype=np.float32)).transpose(0, 1)  # (L, B or 1, H)
    c0 = torch.from_numpy(np.array(cs, dtype=np.float32)).transpose(0, 1)
    loc = scale = None
    if all(scaled):
        loc = torch.tensor([s.loc for s in states], dtype=torch.float32)  # (B or 1,)
        scale = torch.tensor([s.scale for s in states], dtype=torch.float32)
    if len(states) == 1 and batch > 1:
        h0, c0 = h0.expand(-1, batch, -1), c0.expand(-1, batch, -1)
        if loc is not None and scale is not None:
            loc, scale = loc.expand(batch), scale.expand(batch)
    return Initial(h0.contiguous(), c0.contiguous(), loc, scale)


def predict(
    model: LoadedModel,
    sequences: list[list[float]],
    horizon: int,
    internals: InternalsMode,
    state: Initial | None,
    interval: float | None,
    return_state: bool,
    field: str = "sequence",
) -> list[Prediction]:
    """Forecast every sequence; one model call per distinct length, results in request order.

    `field` is the request field the sequences came in, named by errors about their values.
    """
    offsets = None
    if interval is not None:
        try:
            lows, highs = interval_offsets(model.quantiles, interval, horizon)
        except ValueError as err:
            raise ApiError(400, "invalid_request", f"interval: {err}", "interval") from None
        offsets = (np.asarray(lows, np.float32), np.asarray(highs, np.float32))
    groups: dict[int, list[int]] = {}
    for i, seq in enumerate(sequences):
        groups.setdefault(len(seq), []).append(i)
    out: list[Prediction | None] = [None] * len(sequences)
    pin_torch_threads()  # request threads start with OpenMP's default thread count
    with torch.inference_mode():
        for idx in groups.values():
            # numpy builds the array from Python floats about 3x faster than torch.tensor.
            rows = np.array([sequences[i] for i in idx], dtype=np.float32)
            x = torch.from_numpy(rows)  # (G, T)
            init = None if state is None else state.select(idx, len(sequences))
            h0, c0, loc, scale = (None,) * 4 if init is None else (
                init.h0, init.c0, init.loc, init.scale
            )  # fmt: skip
            if internals == "none":
                outputs = tuple(model.module.forward(x, horizon, h0, c0, loc, scale))
            else:
                outputs = tuple(model.module.internals(x, horizon, h0, c0, loc, scale))
            results = _finish(x, outputs, internals, offsets, return_state, field)
            for j, p in enumerate(results):
                out[idx[j]] = p
    return [p for p in out if p is not None]


def _require_finite(values: np.ndarray, what: str, field: str) -> None:
    """A 400 naming the request field when `values` overflowed to inf or NaN."""
    if not np.isfinite(values).all():
        raise ApiError(
            400,
            "invalid_request",
            f"the {what} is not finite: the values overflow the model's float32 arithmetic",
            field,
        )


def _finish(
    x: torch.Tensor,
    outputs: tuple[torch.Tensor, ...],
    internals: InternalsMode,
    offsets: tuple[np.ndarray, np.ndarray] | None,
    return_state: bool,
    field: str = "sequence",
) -> list[Prediction]:
    """Per-sequence results of one call on sequences of equal length, x (G, T).

    outputs: (forecast, hT, cT, loc, scale) from forward, or (forecast, gates, hT, cT, loc,
    scale) from internals; loc and scale (G, 1) are what the sequences were scaled by.
    """
    forecast, h_t, c_t = outputs[0], outputs[-4], outputs[-3]
    stats = outputs[-2], outputs[-1]
    gates = None
    if internals != "none":
        gates = outputs[1]
        if internals == "last":
            gates = gates[:, :, :, -1:]  # (G, L, 6, 1, H): each (1, H) block stays contiguous
    f = forecast.numpy()
    _require_finite(f, "forecast", field)
    lower = upper = None
    loc, spread = stats[0].numpy()[:, 0], stats[1].numpy()[:, 0]  # (G,)
    if offsets is not None:
        # Summed in float64 so that no intermediate overflows, then sent as float32 like the
        # forecast; a bound beyond float32's range becomes inf and so a 400, never JSON null.
        scale = spread[:, None].astype(np.float64)  # (G, 1) raw units per scaled unit
        with np.errstate(over="ignore"):
            lower = (f + offsets[0][None, :] * scale).astype(np.float32)  # (G, horizon)
            upper = (f + offsets[1][None, :] * scale).astype(np.float32)
        _require_finite(lower, "interval", field)
        _require_finite(upper, "interval", field)
    g = gates.numpy() if gates is not None else None
    hb = h_t.transpose(0, 1).contiguous().numpy() if return_state else None  # (G, L, H)
    cb = c_t.transpose(0, 1).contiguous().numpy() if return_state else None
    return [
        Prediction(
            length=x.size(1),
            forecast=f[j],
            lower=None if lower is None else lower[j],
            upper=None if upper is None else upper[j],
            internals=None if g is None else g[j],
            h=None if hb is None else hb[j],
            c=None if cb is None else cb[j],
            loc=float(loc[j]) if return_state else None,
            scale=float(spread[j]) if return_state else None,
        )
        for j in range(x.size(0))
    ]
