"""Postprocess POST /forecast: refuse overflowed results, then build the response body.

The body holds the SequenceResult arrays themselves, for orjson to serialize.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from model.network import QUANTITIES
from service.errors import ApiError
from service.inference import SequenceResult
from service.request import ForecastRequest
from service.schemas import InternalsMode


def check_finite(results: Sequence[SequenceResult], field: str) -> None:
    """A 400 naming the request field when a forecast or interval overflowed to inf or NaN.

    JSON has no inf or NaN (orjson would send null), so such a result is never answered;
    nor is one whose values overflow once scaled, whose gates saturate into a forecast that
    means nothing.
    """
    if not all(r.scaled_finite for r in results):
        raise ApiError(
            400,
            "invalid_request",
            "the values are too far apart for the model's float32 arithmetic: they overflow "
            "once scaled",
            field,
        )
    checks = [
        ("forecast", [r.forecast for r in results]),
        ("interval", [b for r in results for b in (r.lower, r.upper) if b is not None]),
    ]
    for what, arrays in checks:
        if not all(np.isfinite(a).all() for a in arrays):
            raise ApiError(
                400,
                "invalid_request",
                f"the {what} is not finite: the values overflow the model's float32 arithmetic",
                field,
            )


def internals_body(
    r: SequenceResult, mode: InternalsMode, input_names: list[str] | None = None
) -> dict[str, Any]:
    """Per layer, each quantity as steps x units; with "last" only the final step; and the
    LSTM's input vector of each step returned, named by input_names.

    `steps` is the number of steps computed (the observed steps the LSTM ran over, then any
    generated ones), `first_step` the index of the first row returned (0, or steps - 1
    with "last").
    """
    assert r.internals is not None
    steps = r.steps
    gates = r.internals  # (L, 6, S, H)
    layers = [
        {name: gates[layer, k] for k, name in enumerate(QUANTITIES)}
        for layer in range(gates.shape[0])
    ]
    return {
        "steps": steps,
        "observed_steps": r.run,
        "first_step": steps - 1 if mode == "last" else 0,
        "layers": layers,
        "inputs": r.inputs,
        "input_names": input_names or ["value"],
    }


def sequence_parts(r: SequenceResult, req: ForecastRequest, k: int) -> dict[str, Any]:
    """forecast, and timestamps / interval / internals / state when asked for (sequence k)."""
    part: dict[str, Any] = {
        "forecast": r.forecast,
        "context": {"first_step": r.length - r.run, "steps": r.run},
    }
    if req.timestamps is not None:
        part["timestamps"] = req.timestamps[k]
    if req.interval is not None:
        part["interval"] = {"level": req.interval, "lower": r.lower, "upper": r.upper}
    if req.internals != "none":
        part["internals"] = internals_body(r, req.internals, req.model.input_names)
    if r.h is not None:
        part["state"] = {"h": r.h, "c": r.c, "loc": r.loc, "scale": r.scale}
    return part


def render(req: ForecastRequest, results: Sequence[SequenceResult]) -> dict[str, Any]:
    """The whole response: single values for `sequence`, lists for `sequences`."""
    check_finite(results, req.field)
    body: dict[str, Any] = {
        "id": req.id,
        "model": req.model.name,
        "version": req.model.version,
        "horizon": req.horizon,
    }
    parts = [sequence_parts(r, req, k) for k, r in enumerate(results)]
    if not req.batch:
        body.update(parts[0])
        return body
    for key in ("forecast", "context", "timestamps", "interval", "internals", "state"):
        if key in parts[0]:
            body[key] = [part[key] for part in parts]
    return body
