"""gatecast's LSTM as Open Inference Protocol v2 tensors: what a model takes and gives.

Inputs: `observations` FP32 [batch, steps] (required), `horizon` INT64 or INT32 [1],
`interval` FP32 [1] (the level, for a model with residual quantiles), and an initial state:
`state_h`, `state_c` FP32 [batch, layers, units] with, optionally, `state_loc`,
`state_scale` FP32 [batch] (a first dimension of 1 gives every sequence the same state).
A model that reads more takes it as /forecast does: calendar inputs from `timestamps`
BYTES [batch, steps] or `start` BYTES [batch]; each covariate as `covariates.<name>` FP32
[batch, steps] (past) or [batch, steps + horizon] (future); `series` BYTES [batch] for a
series embedding (a first dimension of 1 again serves every sequence).
Outputs: `forecast` FP32 [batch, horizon]; `lower`, `upper` likewise, with `interval`;
each internal quantity FP32 [batch, layers, steps, units]; `inputs` FP32 [batch, steps,
inputs], the LSTM's input vector of each step (named in the model's /models entry); the
state after the observed steps, shaped like the state inputs.
"""

from dataclasses import dataclass

from model.network import QUANTITIES
from service.checkpoint import LoadedModel

PLATFORM = "pytorch_torchscript"
BOUNDS = ("lower", "upper")
STATE_INPUTS = ("state_h", "state_c", "state_loc", "state_scale")
STATE_OUTPUTS = STATE_INPUTS  # the state after the observed steps, fed back as the input
TIME_INPUTS = ("timestamps", "start")  # for a model with calendar inputs
COVARIATE = "covariates."  # the prefix of a covariate input's name
# The inputs every model takes, and the datatypes each may come in (the first is documented).
INPUT_DATATYPES: dict[str, tuple[str, ...]] = {
    "observations": ("FP32",),
    "horizon": ("INT64", "INT32"),
    "interval": ("FP32",),
    **{name: ("FP32",) for name in STATE_INPUTS},
}
INTERNAL_OUTPUTS = (*QUANTITIES, "inputs")  # computed by an internals call
OUTPUTS = ("forecast", *BOUNDS, *INTERNAL_OUTPUTS, *STATE_OUTPUTS)


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


def exog_specs(model: LoadedModel) -> list[TensorSpec]:
    """The inputs of what a model reads besides its observations: times for its calendar
    inputs, its covariates, its series ids."""
    specs = []
    if model.calendar:
        specs += [TensorSpec("timestamps", "BYTES", (-1, -1)), TensorSpec("start", "BYTES", (-1,))]
    specs += [TensorSpec(COVARIATE + name, "FP32", (-1, -1)) for name in model.past_covariates]
    specs += [TensorSpec(COVARIATE + name, "FP32", (-1, -1)) for name in model.future_covariates]
    if model.series_ids:
        specs.append(TensorSpec("series", "BYTES", (-1,)))
    return specs


def input_datatypes(model: LoadedModel) -> dict[str, tuple[str, ...]]:
    """Every input this model reads, and the datatypes each may come in."""
    return {**INPUT_DATATYPES, **{s.name: (s.datatype,) for s in exog_specs(model)}}


def input_specs(model: LoadedModel) -> list[TensorSpec]:
    """The inputs a model takes (`interval` only with residual quantiles)."""
    specs = [TensorSpec("observations", "FP32", (-1, -1)), TensorSpec("horizon", "INT64", (1,))]
    if model.meta.has_intervals:
        specs.append(TensorSpec("interval", "FP32", (1,)))
    return specs + state_specs(model) + exog_specs(model)


def output_specs(model: LoadedModel) -> list[TensorSpec]:
    """The outputs a model gives (`lower` and `upper` only with residual quantiles)."""
    specs = [TensorSpec("forecast", "FP32", (-1, -1))]
    if model.meta.has_intervals:
        specs += [TensorSpec(name, "FP32", (-1, -1)) for name in BOUNDS]
    internals = (-1, model.num_layers, -1, model.hidden_size)
    specs += [TensorSpec(name, "FP32", internals) for name in QUANTITIES]
    specs.append(TensorSpec("inputs", "FP32", (-1, -1, len(model.input_names) or 1)))
    return specs + state_specs(model)
