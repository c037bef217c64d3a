"""Postprocess /v2 inference: the results of one InferCall as the outputs it asked for."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from flask import Response

from model.network import QUANTITIES
from service.inference import SequenceResult
from service.render import check_finite
from service.tensors import OutputTensor, encode
from service.v2_request import HEADER_LENGTH, InferCall


def output_values(name: str, results: Sequence[SequenceResult]) -> np.ndarray:
    """One output over the batch: sequences stacked along a new first dimension."""
    rows: list[Any]  # per sequence: an array, a float (loc, scale), or None if not computed
    if name in QUANTITIES:
        k = QUANTITIES.index(name)
        rows = [None if r.internals is None else r.internals[:, k] for r in results]  # (L, S, H)
    elif name == "inputs":
        rows = [r.inputs for r in results]  # each (S, I)
    elif name == "forecast":
        rows = [r.forecast for r in results]  # each (horizon,)
    elif name in ("lower", "upper"):
        rows = [r.lower if name == "lower" else r.upper for r in results]
    elif name in ("state_h", "state_c"):
        rows = [r.h if name == "state_h" else r.c for r in results]  # each (L, H)
    else:
        rows = [r.loc if name == "state_loc" else r.scale for r in results]
    if any(row is None for row in rows):
        raise RuntimeError(f"the model call did not compute {name!r}")
    return np.stack(rows).astype(np.float32, copy=False)


def infer_response(call: InferCall, results: Sequence[SequenceResult]) -> Response:
    """The v2 response: JSON, or a JSON header and binary data when an output is binary."""
    req = call.request
    check_finite(results, req.field)
    first = results[0]  # every sequence has the same length, so the same steps
    head: dict[str, object] = {"model_name": req.model.name, "model_version": req.model.version}
    if call.id is not None:
        head["id"] = call.id
    head["parameters"] = {"observed_steps": first.run, "first_step": first.length - first.run}
    outputs = [
        OutputTensor(name, output_values(name, results), name in call.binary)
        for name in call.outputs
    ]
    body, header_length = encode(head, outputs)
    if header_length is None:
        return Response(body, mimetype="application/json")
    headers = {HEADER_LENGTH: str(header_length)}
    return Response(body, headers=headers, mimetype="application/octet-stream")
