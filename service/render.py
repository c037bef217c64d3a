"""The /forecast response body, built from Prediction arrays for orjson to serialize."""

from typing import Any

from model.network import QUANTITIES
from service.inference import Prediction
from service.request_model import InternalsMode


def internals_body(p: Prediction, horizon: int, mode: InternalsMode) -> dict[str, Any]:
    """Per layer, each quantity as steps x units; with "last" only the final step.

    `steps` is the number of steps run (T + horizon - 1), `first_step` the index of the
    first row returned (0, or steps - 1 with "last").
    """
    assert p.internals is not None
    steps = p.length + horizon - 1
    gates = p.internals  # (L, 6, S, H)
    layers = [
        {name: gates[layer, k] for k, name in enumerate(QUANTITIES)}
        for layer in range(gates.shape[0])
    ]
    return {
        "steps": steps,
        "observed_steps": p.length,
        "first_step": steps - 1 if mode == "last" else 0,
        "layers": layers,
    }


def prediction_parts(
    p: Prediction, horizon: int, mode: InternalsMode, level: float | None
) -> dict[str, Any]:
    """forecast, and interval / internals / state when asked for."""
    part: dict[str, Any] = {"forecast": p.forecast}
    if level is not None:
        part["interval"] = {"level": level, "lower": p.lower, "upper": p.upper}
    if mode != "none":
        part["internals"] = internals_body(p, horizon, mode)
    if p.h is not None:
        part["state"] = {"h": p.h, "c": p.c, "loc": p.loc, "scale": p.scale}
    return part


def response_body(
    *,
    request_id: str | None,
    model: str,
    version: str,
    horizon: int,
    predictions: list[Prediction],
    batch: bool,
    mode: InternalsMode,
    level: float | None,
) -> dict[str, Any]:
    """The whole response: single values for `sequence`, lists for `sequences`."""
    body: dict[str, Any] = {
        "id": request_id,
        "model": model,
        "version": version,
        "horizon": horizon,
    }
    parts = [prediction_parts(p, horizon, mode, level) for p in predictions]
    if not batch:
        body.update(parts[0])
        return body
    for key in ("forecast", "interval", "internals", "state"):
        if key in parts[0]:
            body[key] = [part[key] for part in parts]
    return body
