"""Log-depth scan of the first-order linear recurrence behind the LSTM cell state."""

import torch
from torch import Tensor


def linear_scan(a: Tensor, b: Tensor, dim: int, out: Tensor | None = None) -> Tensor:
    """Solve s_t = a_t * s_(t-1) + b_t with s_(-1) = 0 along `dim`, in ceil(log2 T) rounds.

    Hillis-Steele scan over the pairs (a, b): after the round with offset k, each position
    holds the recurrence composed over its last 2k steps. Products of forget gates stay in
    [0, 1], so unlike a cumprod/cumsum closed form nothing overflows or divides by ~0.
    The last round writes into `out` when given (same shape as b), saving a copy.
    """
    steps = a.size(dim)
    offset = 1
    while offset < steps:
        keep = steps - offset
        last = 2 * offset >= steps
        head = b.narrow(dim, 0, offset)
        a_tail, b_tail, b_prev = (
            a.narrow(dim, offset, keep),
            b.narrow(dim, offset, keep),
            b.narrow(dim, 0, keep),
        )
        if last and out is not None:
            out.narrow(dim, 0, offset).copy_(head)
            torch.addcmul(b_tail, a_tail, b_prev, out=out.narrow(dim, offset, keep))
            return out
        b = torch.cat([head, torch.addcmul(b_tail, a_tail, b_prev)], dim=dim)
        if not last:  # the last round needs no products of a
            a = torch.cat([a.narrow(dim, 0, offset), a_tail * a.narrow(dim, 0, keep)], dim=dim)
        offset *= 2
    if out is not None:
        out.copy_(b)
        return out
    return b
