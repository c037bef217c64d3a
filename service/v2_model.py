"""gatecast's LSTM as Open Inference Protocol v2 tensors: what a model takes and gives.

Inputs: `observations` FP32 [batch, steps] (required), `horizon` INT64 or INT32 [1],
`interval` FP32 [1] (the level, for a model with residual quantiles), and an initial state:
`state_h`, `state_c` FP32 [batch, layers, units] with, optionally, `state_loc`,
`state_scale` FP32 [batch] (a first dimension of 1 gives every sequence the same state).
Outputs: `forecast` FP32 [batch, horizon]; `lower`, `upper` likewise, with `interval`;
each internal quantity FP32 [batch, layers, steps, units]; the state after the observed
steps, shaped like the state inputs.
"""

from dataclasses import dataclass

from model.network import QUANTITIES
from service.checkpoint import LoadedModel

PLATFORM = "pytorch_torchscript"
BOUNDS = ("lower", "upper")
STATE_INPUTS = ("state_h", "state_c", "state_loc", "state_scale")
STATE_OUTPUTS = STATE_INPUTS  # the state after the observed steps, fed back as the input
# Every input gatecast reads, and the datatypes each may come in (the first is documented).
INPUT_DATATYPES: dict[str, tuple[str, ...]] = {
    "observations": ("FP32",),
    "horizon": ("INT64", "INT32"),
    "interval": ("FP32",),
    **{name: ("FP32",) for name in STATE_INPUTS},
}
OUTPUTS = ("forecast", *BOUNDS, *QUANTITIES, *STATE_OUTPUTS)


@dataclass(frozen=True)
class TensorSpec:
    """A tensor of a model's metadata: -1 marks a dimension of any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]


def state_specs(model: LoadedModel) -> list[TensorSpec]:
    """The state tensors of a model, in and out alike."""
    layers, units = model.num_layers, model.hidden_size
    return [
        TensorSpec("state_h", "FP32", (-1, layers, units)),
        TensorSpec("state_c", "FP32", (-1, layers, units)),
        TensorSpec("state_loc", "FP32", (-1,)),
        TensorSpec("state_scale", "FP32", (-1,)),
    ]


def input_specs(model: LoadedModel) -> list[TensorSpec]:
    """The inputs a model takes (`interval` only with residual quantiles)."""
    specs = [TensorSpec("observations", "FP32", (-1, -1)), TensorSpec("horizon", "INT64", (1,))]
    if model.meta.has_intervals:
        specs.append(TensorSpec("interval", "FP32", (1,)))
    return specs + state_specs(model)


def output_specs(model: LoadedModel) -> list[TensorSpec]:
    """The outputs a model gives (`lower` and `upper` only with residual quantiles)."""
    specs = [TensorSpec("forecast", "FP32", (-1, -1))]
    if model.meta.has_intervals:
        specs += [TensorSpec(name, "FP32", (-1, -1)) for name in BOUNDS]
    internals = (-1, model.num_layers, -1, model.hidden_size)
    specs += [TensorSpec(name, "FP32", internals) for name in QUANTITIES]
    return specs + state_specs(model)
