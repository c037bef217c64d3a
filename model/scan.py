"""Log-depth scan of the first-order linear recurrence behind the LSTM cell state."""

import torch
from torch import Tensor


def linear_scan(a: Tensor, b: Tensor, dim: int) -> Tensor:
    """Solve s_t = a_t * s_(t-1) + b_t with s_(-1) = 0 along `dim`, in ceil(log2 T) rounds.

    Hillis-Steele scan over the pairs (a, b): after the round with offset k, each position
    holds the recurrence composed over its last 2k steps. Products of forget gates stay in
    [0, 1], so unlike a cumprod/cumsum closed form nothing overflows or divides by ~0.
    """
    steps = a.size(dim)
    offset = 1
    while offset < steps:
        keep = steps - offset
        head = b.narrow(dim, 0, offset)
        tail = torch.addcmul(
            b.narrow(dim, offset, keep), a.narrow(dim, offset, keep), b.narrow(dim, 0, keep)
        )
        b = torch.cat([head, tail], dim=dim)
        if 2 * offset < steps:  # the last round needs no products of a
            a = torch.cat(
                [a.narrow(dim, 0, offset), a.narrow(dim, offset, keep) * a.narrow(dim, 0, keep)],
                dim=dim,
            )
        offset *= 2
    return b
