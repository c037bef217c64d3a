"""Torch thread settings that hold in every thread that runs a model.

torch.set_num_threads ends in omp_set_num_threads, which OpenMP keeps per calling thread:
gunicorn's gthread request threads and the registry's poll thread would otherwise run with
OpenMP's default (all cores) and oversubscribe the CPU, costing several times the model's
own time per request. So each thread applies the setting once, on first use.
"""

import contextlib
import threading

import torch

_wanted = 1
_applied = threading.local()


def configure_torch(threads: int) -> None:
    """Set the intra-op thread count for this process and pin it in the calling thread.

    Inter-op parallelism is of no use to these small graphs; it can only be set once per
    process, before its pool starts, so a second app in one process keeps the first value.
    """
    global _wanted
    _wanted = threads
    _applied.threads = None
    pin_torch_threads()
    with contextlib.suppress(RuntimeError):  # already set, or the pool already started
        torch.set_num_interop_threads(1)


def pin_torch_threads() -> None:
    """Apply the configured thread count to the current thread (cheap after the first call)."""
    if getattr(_applied, "threads", None) != _wanted:
        torch.set_num_threads(_wanted)
        _applied.threads = _wanted
