"""Open Inference Protocol v2 wire schemas: the /infer request that is validated, and the
responses the OpenAPI document describes.

Tensor data is a flat or nested (up to 3 levels) list of finite numbers within float32's
range, or (BYTES) a flat or nested (up to 2 levels) list of short strings; which tensors,
datatypes and shapes a model takes is checked after validation (service.v2_request),
against service.v2_model.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from service.schemas import Name, Number, Time

Parameter = bool | int | float | str
Parameters = dict[Annotated[str, Field(max_length=128)], Parameter]
TensorData = (
    list[Number] | list[list[Number]] | list[list[list[Number]]] | list[Time] | list[list[Time]]
)
Dim = Annotated[int, Field(ge=0, le=2**31 - 1)]

STRICT = ConfigDict(extra="forbid", strict=True)


class RequestInput(BaseModel):
    """One input tensor: JSON `data`, or binary data of parameters.binary_data_size bytes."""

    model_config = STRICT

    name: Name
    shape: list[Dim] = Field(max_length=8)
    datatype: Annotated[str, Field(max_length=16)]
    parameters: Parameters | None = None
    data: TensorData | None = Field(
        None, description="Row-major values, flat or nested; absent with binary data."
    )


class RequestOutput(BaseModel):
    """One output asked for; parameters.binary_data: true sends it as binary data."""

    model_config = STRICT

    name: Name
    parameters: Parameters | None = None


class InferRequest(BaseModel):
    """An inference request: named input tensors, and the outputs to compute and send."""

    model_config = STRICT

    id: Annotated[str, Field(max_length=128)] | None = Field(
        None, description="Echoed in the response."
    )
    model_name: Name | None = Field(None, description="Ignored: the path names the model.")
    model_version: Name | None = Field(None, description="Ignored: the path names the version.")
    parameters: Parameters | None = Field(
        None, description="binary_data_output: true sends every output as binary data."
    )
    inputs: list[RequestInput] = Field(min_length=1, max_length=16)
    outputs: list[RequestOutput] | None = Field(
        None,
        max_length=16,
        description="Outputs to compute and send, in this order; every output when absent.",
    )


# Responses


class ResponseOutput(BaseModel):
    """One output tensor: flat row-major `data`, or its binary_data_size in parameters."""

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[float] | None = None


class InferResponse(BaseModel):
    """The outputs asked for, with the model and version that computed them."""

    model_name: str
    model_version: str
    id: str | None = Field(None, description="The request's id, when it gave one.")
    parameters: dict[str, Any] | None = Field(
        None,
        description="observed_steps: the observations the LSTM ran over (the last ones sent), "
        "first_step: the index of the first of them; internals rows 0..observed_steps-1.",
    )
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    """A tensor's name, datatype and shape (-1: any size)."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    """A model's loaded versions and the tensors it takes and gives."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    """The server's name, version and protocol extensions."""

    name: str
    version: str
    extensions: list[str]


class ServerLive(BaseModel):
    """Liveness."""

    live: bool


class ServerReady(BaseModel):
    """Readiness."""

    ready: bool


class ModelReady(BaseModel):
    """A model's readiness."""

    name: str
    ready: bool


class V2Error(BaseModel):
    """Every error on a /v2 path."""

    error: str
