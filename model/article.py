"""The tutorial article's hand-set one-unit LSTM cell, in nn.LSTM's weight layout.

The article draws the cell in colours; in PyTorch's gate names they are:

| article                          | gatecast / PyTorch     | formula                       |
|----------------------------------|------------------------|-------------------------------|
| blue cell                        | forget gate  (f)       | sigmoid(2.7 h + 2.2 x + 2.3)  |
| green cell                       | input gate   (i)       | sigmoid(1.1 h + 0.8 x + 0.8)  |
| yellow cell                      | candidate    (g)       | tanh(0.4 h + 1.2 x + 0.9)     |
| gray cell                        | output gate  (o)       | sigmoid(0.3 h + 2.9 x + 2.1)  |
| pink cell                        | tanh(cell state)       | tanh(c)                       |
| green line, "long-term memory"   | cell state   (c)       | f * c + i * g                 |
| red line, "short-term memory"    | hidden state (h)       | o * tanh(c)                   |

(h is the previous short-term memory, x the input.) Each gate has its own bias; the
article's code reuses the forget bias for the input gate, which its own numbers contradict.
"""

import torch

from model.network import GateLSTM, NetworkConfig

# Per gate: (weight on short-term memory h, weight on input x, bias), in nn.LSTM's row
# order input, forget, cell (candidate), output.
ARTICLE_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "input_gate": (1.1, 0.8, 0.8),  # green
    "forget_gate": (2.7, 2.2, 2.3),  # blue
    "candidate": (0.4, 1.2, 0.9),  # yellow
    "output_gate": (0.3, 2.9, 2.1),  # gray
}

ARTICLE_COLOURS: dict[str, str] = {
    "input_gate": "green",
    "forget_gate": "blue",
    "candidate": "yellow",
    "output_gate": "gray",
}


def article_config() -> NetworkConfig:
    """One unit, one layer, no head, no scaling: the forecast is the new short-term memory."""
    return NetworkConfig(
        hidden_size=1,
        num_layers=1,
        dropout=0.0,
        head=False,
        decoder="recursive",
        normalization="none",
    )


def article_cell() -> GateLSTM:
    """The article's cell with its hand-set weights and biases."""
    net = GateLSTM(article_config())
    rows = list(ARTICLE_WEIGHTS.values())
    w_ih, w_hh, b_ih, b_hh = net.weights()
    with torch.no_grad():
        w_hh.copy_(torch.tensor([[r[0]] for r in rows]))  # (4, 1)
        w_ih.copy_(torch.tensor([[r[1]] for r in rows]))  # (4, 1)
        b_ih.copy_(torch.tensor([r[2] for r in rows]))  # (4,)
        b_hh.zero_()  # one bias per gate, held in b_ih
    return net.eval()
