"""The LSTM's input weights per layer and gate, read from a loaded TorchScript module."""

import torch

from service.checkpoint import LoadedModel
from service.schemas import InputWeights, LayerInputWeights

# PyTorch stacks weight_ih's rows as input, forget, cell (candidate), output gate.
GATES = ("input_gate", "forget_gate", "candidate", "output_gate")


def input_weights(model: LoadedModel) -> InputWeights:
    """Every layer's weight_ih, split into its four gates (units x inputs each)."""
    hidden = model.hidden_size
    layers: list[LayerInputWeights] = []
    for k in range(model.num_layers):
        weight: torch.Tensor = getattr(model.module.lstm, f"weight_ih_l{k}")  # (4H, I)
        rows = weight.detach().tolist()
        names = list(model.input_names) if k == 0 else [f"hidden_state.{u}" for u in range(hidden)]
        gates = {g: rows[j * hidden : (j + 1) * hidden] for j, g in enumerate(GATES)}
        layers.append(LayerInputWeights(inputs=names, **gates))
    return InputWeights(model=model.name, version=model.version, layers=layers)
