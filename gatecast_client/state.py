"""State: the LSTM state after a sequence and its scaling, to send back with the next chunk."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class State:
    """h and c (layers x units, float32) and the loc and scale the sequence was scaled by.

    Sent as a request's `state`, the model goes on from h and c, scaling the new values by
    loc and scale (by their own statistics when both are None).
    """

    h: FloatArray
    c: FloatArray
    loc: float | None = None
    scale: float | None = None

    def __post_init__(self) -> None:
        """Refuse h and c that are not one matrix of the same shape, or half a scaling."""
        if self.h.ndim != 2 or self.h.shape != self.c.shape:
            raise ValueError(
                f"h and c must both be layers x units, not {self.h.shape} and {self.c.shape}"
            )
        if (self.loc is None) != (self.scale is None):
            raise ValueError("give both loc and scale, or neither")

    @classmethod
    def zeros(
        cls, layers: int, units: int, loc: float | None = None, scale: float | None = None
    ) -> "State":
        """The zero state a model starts from, with an optional fixed scaling."""
        empty = np.zeros((layers, units), dtype=np.float32)
        return cls(empty, empty.copy(), loc, scale)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "State":
        """A state as the service sends it: {"h", "c", "loc", "scale"}."""
        return cls(
            np.asarray(body["h"], dtype=np.float32),
            np.asarray(body["c"], dtype=np.float32),
            None if body.get("loc") is None else float(body["loc"]),
            None if body.get("scale") is None else float(body["scale"]),
        )

    def to_json(self) -> dict[str, Any]:
        """The request's `state` object; float32 values are sent exactly."""
        body: dict[str, Any] = {"h": self.h.tolist(), "c": self.c.tolist()}
        if self.loc is not None and self.scale is not None:
            body["loc"], body["scale"] = self.loc, self.scale
        return body
