"""Open Inference Protocol v2 tensors: request data decoded, response tensors encoded.

JSON data may be flat or nested: either way it is read in row-major order and must hold
exactly as many values as the shape. With the binary tensor data extension, a tensor's
bytes (little-endian, row-major) follow the JSON header of the body, in the order of the
tensors, each giving its byte count in parameters.binary_data_size. BYTES tensors (the
times and series ids of models that read them) hold UTF-8 strings: JSON strings, or in
binary data each string's 4-byte little-endian length and then its bytes.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

# The datatypes gatecast reads and writes, as little-endian numpy types.
DTYPES: dict[str, np.dtype[Any]] = {
    "FP32": np.dtype("<f4"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
}
BINARY_SIZE = "binary_data_size"  # a tensor parameter: its bytes follow the JSON header
TEXT = "BYTES"  # UTF-8 strings, decoded to an object array of str


class TensorError(ValueError):
    """A tensor whose data does not fit its datatype and shape; str(err) names it."""


def decode(
    name: str, datatype: str, shape: Sequence[int], data: list[Any] | None, raw: bytes | None
) -> np.ndarray:
    """The values of one tensor as an array of `shape`, from JSON `data` or binary `raw`.

    Raises TensorError for an unknown datatype, a count of values (or bytes) that does not
    match the shape, ragged nested data, fractional or out-of-range integers and
    non-finite floats.
    """
    if datatype == TEXT:
        return decode_text(name, shape, data, raw)
    dtype = DTYPES.get(datatype)
    if dtype is None:
        known = ", ".join([*DTYPES, TEXT])
        raise TensorError(f"{name}: datatype {datatype!r} is not one of {known}")
    count = math.prod(shape)
    if raw is not None:
        if len(raw) != count * dtype.itemsize:
            raise TensorError(
                f"{name}: {len(raw)} bytes of binary data, but shape {list(shape)} of "
                f"{datatype} takes {count * dtype.itemsize}"
            )
        values = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))  # a copy
    else:
        if data is None:
            raise TensorError(f"{name}: no data (give `data`, or binary data and its size)")
        try:
            flat = np.asarray(data, dtype=np.float64).reshape(-1)
        except ValueError:
            raise TensorError(f"{name}: data is not a rectangular array of numbers") from None
        if flat.size != count:
            raise TensorError(
                f"{name}: {flat.size} values given, but shape {list(shape)} holds {count}"
            )
        if dtype.kind == "i":
            info = np.iinfo(dtype)
            whole = np.floor(flat) == flat
            # max + 1 is a power of two, exact in float64 (max itself is not, for INT64).
            inside = (flat >= info.min) & (flat < float(info.max) + 1)
            if not (whole.all() and inside.all()):
                raise TensorError(f"{name}: {datatype} data must be whole numbers in its range")
        values = flat.astype(dtype.newbyteorder("="))
    if dtype.kind == "f" and not np.isfinite(values).all():
        raise TensorError(f"{name}: every value must be finite and within {datatype}'s range")
    return values.reshape(tuple(shape))


def decode_text(
    name: str, shape: Sequence[int], data: list[Any] | None, raw: bytes | None
) -> np.ndarray:
    """A BYTES tensor as an object array of str of `shape`, from JSON strings or from
    length-prefixed binary elements; TensorError when the count or the UTF-8 is wrong."""
    count = math.prod(shape)
    texts: list[str] = []
    if raw is not None:
        at = 0
        while at < len(raw):
            if at + 4 > len(raw):
                raise TensorError(f"{name}: BYTES data ends inside an element's 4-byte length")
            size = int.from_bytes(raw[at : at + 4], "little")
            if at + 4 + size > len(raw):
                raise TensorError(f"{name}: BYTES data ends inside an element of {size} bytes")
            try:
                texts.append(raw[at + 4 : at + 4 + size].decode("utf-8"))
            except UnicodeDecodeError:
                raise TensorError(f"{name}: BYTES elements must be UTF-8 text") from None
            at += 4 + size
    else:
        if data is None:
            raise TensorError(f"{name}: no data (give `data`, or binary data and its size)")
        try:
            flat = np.asarray(data, dtype=object).reshape(-1)
        except ValueError:
            flat = np.asarray([None], dtype=object)  # ragged: refused just below
        if not all(isinstance(v, str) for v in flat):
            raise TensorError(f"{name}: BYTES data must be a rectangular array of strings")
        texts = list(flat)
    if len(texts) != count:
        given = len(texts)
        raise TensorError(f"{name}: {given} strings given, but shape {list(shape)} holds {count}")
    out = np.empty(count, dtype=object)
    out[:] = texts
    return out.reshape(tuple(shape))


@dataclass(frozen=True)
class OutputTensor:
    """A response tensor: FP32 values of any shape, sent as JSON data or as binary data."""

    name: str
    values: np.ndarray
    binary: bool


def encode(head: dict[str, Any], outputs: Sequence[OutputTensor]) -> tuple[bytes, int | None]:
    """The response body: the JSON header with `outputs`, then the binary outputs' bytes;
    and the header's length when any output is binary (None: the body is all JSON)."""
    entries: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for out in outputs:
        values = np.ascontiguousarray(out.values, dtype=DTYPES["FP32"])
        entry: dict[str, Any] = {"name": out.name, "datatype": "FP32", "shape": list(values.shape)}
        if out.binary:
            blob = values.tobytes()
            entry["parameters"] = {BINARY_SIZE: len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = values.reshape(-1)  # flat, row-major: a view
        entries.append(entry)
    header = orjson.dumps({**head, "outputs": entries}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)
