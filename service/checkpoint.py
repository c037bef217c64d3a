"""One checkpoint file: load it through model.export, check its meta.json, warm it up."""

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.export import FORMAT, FORMAT_VERSION, load
from service.threads import pin_torch_threads

# (size, mtime, ctime in ns): a file whose stamp is unchanged is not loaded again. ctime is
# in it so that fixing an unreadable file's permissions (chmod) also counts as a change.
Stamp = tuple[int, int, int]

# Keys meta.json must carry, and the JSON type each must have.
REQUIRED_META: dict[str, type | tuple[type, ...]] = {
    "network": dict,
    "window": int,
    "horizon": int,
    "normalization": dict,
    "residual_quantiles": dict,
}


class CheckpointError(Exception):
    """A checkpoint that cannot be served; str(err) is the reason, without server paths."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A servable checkpoint: the TorchScript module and what its meta.json says."""

    name: str
    version: str
    stamp: Stamp
    module: torch.jit.ScriptModule
    meta: dict[str, Any]
    loaded_at: str

    @property
    def hidden_size(self) -> int:
        """Units per LSTM layer."""
        return int(self.meta["network"]["hidden_size"])

    @property
    def num_layers(self) -> int:
        """Stacked LSTM layers."""
        return int(self.meta["network"]["num_layers"])

    @property
    def direct(self) -> bool:
        """Whether the decoder gives every horizon step at once (no feedback)."""
        return self.meta.get("decoder") == "direct"

    @property
    def trained_horizon(self) -> int:
        """Steps ahead the model was trained for."""
        return int(self.meta["horizon"])

    @property
    def context(self) -> int:
        """Observed steps the LSTM runs over when no state is carried in."""
        return int(self.meta["network"].get("context", self.meta["window"]))

    @property
    def min_history(self) -> int:
        """Fewest observations a forecast needs."""
        return int(self.meta.get("min_history", 1))

    @property
    def quantiles(self) -> dict[str, Any]:
        """Residual quantiles for prediction intervals (read-only: shared by requests)."""
        rq: dict[str, Any] = self.meta["residual_quantiles"]
        return rq


def has_intervals(meta: dict[str, Any]) -> bool:
    """Whether a checkpoint's meta.json holds residual quantiles for intervals."""
    rq = meta.get("residual_quantiles", {})
    return bool(rq.get("steps")) and bool(rq.get("count"))


def stamp_of(path: Path) -> Stamp:
    """Size, modification and change time; raises OSError if the file cannot be stat'ed."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def now_iso() -> str:
    """Current UTC time, ISO 8601 to the millisecond."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def check_meta(meta: dict[str, Any]) -> None:
    """Raise CheckpointError unless meta.json has the format and keys the service relies on."""
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"meta.json format {meta.get('format')!r} version {meta.get('format_version')!r}, "
            f"expected {FORMAT!r} version {FORMAT_VERSION}"
        )
    for key, kind in REQUIRED_META.items():
        value = meta.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(f"meta.json: {key!r} is missing or has the wrong type")
    net = meta["network"]
    for key in ("hidden_size", "num_layers"):
        value = net.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CheckpointError(f"meta.json: network.{key} is missing or not a positive integer")
    if meta["window"] < 1 or meta["horizon"] < 1:
        raise CheckpointError("meta.json: window and horizon must be positive")
    rq = meta["residual_quantiles"]
    if not isinstance(rq.get("probs"), list) or not isinstance(rq.get("steps"), list):
        raise CheckpointError("meta.json: residual_quantiles needs 'probs' and 'steps' lists")
    for row in rq["steps"]:
        if not isinstance(row, list) or len(row) != len(rq["probs"]):
            raise CheckpointError("meta.json: each residual_quantiles step needs one per prob")


def warm_up(module: torch.jit.ScriptModule, meta: dict[str, Any]) -> None:
    """Run both entry points twice on zeros and check the shapes against meta.json.

    TorchScript's profiling executor optimises a function on its first calls; doing that
    here keeps the cost out of the first request, and a module that loads but cannot run
    (or does not match its meta.json) is caught before it is served.
    """
    layers, hidden = meta["network"]["num_layers"], meta["network"]["hidden_size"]
    steps = min(meta["window"], 64)
    x = torch.zeros(1, max(steps, int(meta.get("min_history", 1))))
    horizon = min(2, meta["horizon"]) if meta.get("decoder") == "direct" else 2
    generated = 0 if meta.get("decoder") == "direct" else horizon - 1
    pin_torch_threads()  # the poll thread, or a request thread loading an old version
    with torch.inference_mode():
        for _ in range(2):
            forecast, h, _c, _loc, _scale = module.forward(x, horizon, None, None)
            _f, internals, _h, _c, _loc, _scale = module.internals(x, horizon, None, None)
            run = int(module.steps_run(x.size(1), False))
    if tuple(forecast.shape) != (1, horizon) or tuple(h.shape) != (layers, 1, hidden):
        raise CheckpointError(
            f"the network's outputs {tuple(forecast.shape)}, {tuple(h.shape)} do not match "
            f"meta.json (layers {layers}, hidden size {hidden})"
        )
    if tuple(internals.shape) != (1, layers, 6, run + generated, hidden):
        raise CheckpointError(f"the network's internals have shape {tuple(internals.shape)}")


def load_checkpoint(path: Path, name: str, version: str, stamp: Stamp) -> LoadedModel:
    """Load, validate and warm up one checkpoint; raises CheckpointError with the reason.

    The file's place (<name>/<version>.pt) is authoritative: a checkpoint copied to a new
    version or name is served under that, whatever its meta.json recorded when written.
    """
    try:
        module, meta = load(path)
    except Exception as err:  # torch raises RuntimeError, ValueError, OSError, zip errors...
        raise CheckpointError(_reason(err, path)) from err
    check_meta(meta)
    try:
        warm_up(module, meta)
    except CheckpointError:
        raise
    except Exception as err:  # a module that loads but cannot run as ours
        raise CheckpointError(f"the network failed a trial run: {_reason(err, path)}") from err
    return LoadedModel(name, version, stamp, module, meta, now_iso())


def _reason(err: BaseException, path: Path) -> str:
    """One line for /models and the log: the error's first line, the server path cut out."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = text.replace(str(path), path.name)
    return f"{type(err).__name__}: {text}"[:300]
