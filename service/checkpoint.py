"""One checkpoint file: open it (regular files only), check its meta.json, warm it up."""

import datetime as dt
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.calendar import calendar_features
from model.export import load
from service.checkpoint_meta import CheckpointMeta, parse_meta
from service.inference import ModelTraits
from service.model_folder import Stamp
from service.threads import pin_torch_threads


class CheckpointError(Exception):
    """A checkpoint that cannot be served; str(err) is the reason, without server paths."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A servable checkpoint: the TorchScript module and what its meta.json says."""

    name: str
    version: str
    stamp: Stamp
    module: torch.jit.ScriptModule
    meta: CheckpointMeta
    loaded_at: str

    @property
    def hidden_size(self) -> int:
        """Units per LSTM layer."""
        return self.meta.network.hidden_size

    @property
    def num_layers(self) -> int:
        """Stacked LSTM layers."""
        return self.meta.network.num_layers

    @property
    def direct(self) -> bool:
        """Whether the decoder gives every horizon step at once (no feedback)."""
        return self.meta.decoder == "direct"

    @property
    def trained_horizon(self) -> int:
        """Steps ahead the model was trained for."""
        return self.meta.horizon

    @property
    def context(self) -> int:
        """Observed steps the LSTM runs over when no state is carried in."""
        return self.meta.network.context or self.meta.window

    @property
    def min_history(self) -> int:
        """Fewest observations a forecast needs."""
        return self.meta.min_history or 1

    @property
    def last_step_only(self) -> bool:
        """Whether the module computes internals "last" alone (internals_last, format 3+);
        older checkpoints compute every step's internals and keep the last."""
        return self.meta.format_version >= 3

    @property
    def traits(self) -> ModelTraits:
        """What inference needs to know of this model besides its module."""
        return ModelTraits(
            direct=self.direct,
            last_step_only=self.last_step_only,
            exogenous=self.meta.format_version >= 4,
        )

    @property
    def calendar(self) -> list[str]:
        """The calendar inputs the network reads (model.calendar names)."""
        return list(self.meta.network.calendar or [])

    @property
    def past_covariates(self) -> list[str]:
        """Covariates known up to the last observed value."""
        return list(self.meta.network.past_covariates or [])

    @property
    def future_covariates(self) -> list[str]:
        """Covariates known over the horizon too."""
        return list(self.meta.network.future_covariates or [])

    @property
    def series_ids(self) -> list[str]:
        """The series ids of the model's embedding; empty without one."""
        return list(self.meta.network.series or []) if self.meta.network.series_embedding else []

    @property
    def input_names(self) -> list[str]:
        """The LSTM's input vector, element by element."""
        return self.meta.network.input_names

    @property
    def exogenous(self) -> bool:
        """Whether the network reads anything besides the values."""
        return len(self.input_names) > 1

    @property
    def quantiles(self) -> dict[str, Any]:
        """Residual quantiles for prediction intervals (read-only: shared by requests)."""
        rq = self.meta.residual_quantiles
        return {"probs": rq.probs, "steps": rq.steps, "count": rq.count}


def now_iso() -> str:
    """Current UTC time, ISO 8601 to the millisecond."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def warm_up(module: torch.jit.ScriptModule, meta: CheckpointMeta) -> None:
    """Run the entry points twice on zeros and check the shapes against meta.json.

    TorchScript's profiling executor optimises a function on its first calls; doing that
    here keeps the cost out of the first request, and a module that loads but cannot run
    (or does not match its meta.json) is caught before it is served.
    """
    layers, hidden = meta.network.num_layers, meta.network.hidden_size
    width = len(meta.network.input_names)
    steps = min(meta.window, 64)
    x = torch.zeros(1, max(steps, meta.min_history or 1))
    direct = meta.decoder == "direct"
    horizon = min(2, meta.horizon) if direct else 2
    generated = 0 if direct else horizon - 1
    # A model with exogenous inputs is warmed up on them too, the path requests take.
    more: tuple[torch.Tensor | None, ...] = (None, None)
    if meta.format_version >= 4 and width > 1:
        exog = torch.zeros(1, x.size(1) + horizon, len(meta.network.exog_names))
        ids = torch.zeros(1, dtype=torch.long) if meta.network.series_embedding else None
        more = (None, None, None, None, exog, ids)
    pin_torch_threads()  # the scan thread has its own OpenMP setting
    if meta.network.calendar:  # builds model.calendar's day table before the first request
        calendar_features(torch.zeros(1, dtype=torch.long), list(meta.network.calendar))
    with torch.inference_mode():
        for _ in range(2):
            forecast, h, _c, _loc, _scale = module.forward(x, horizon, *more)
            _f, internals, _h, _c, _loc, _scale = module.internals(x, horizon, *more)
            if meta.format_version >= 3:
                _f, last, _h, _c, _loc, _scale = module.internals_last(x, horizon, *more)
            run = int(module.steps_run(x.size(1), False))
            if meta.format_version >= 4:
                inputs = module.step_inputs(x, forecast, run, _loc, _scale, *more[4:])
    if meta.format_version >= 4 and tuple(inputs.shape) != (1, run + generated, width):
        raise CheckpointError(
            f"the network's input vectors have shape {tuple(inputs.shape)}; meta.json names "
            f"{width} inputs"
        )
    if tuple(forecast.shape) != (1, horizon) or tuple(h.shape) != (layers, 1, hidden):
        raise CheckpointError(
            f"the network's outputs {tuple(forecast.shape)}, {tuple(h.shape)} do not match "
            f"meta.json (layers {layers}, hidden size {hidden})"
        )
    if tuple(internals.shape) != (1, layers, 6, run + generated, hidden):
        raise CheckpointError(f"the network's internals have shape {tuple(internals.shape)}")
    if meta.format_version >= 3 and tuple(last.shape) != (1, layers, 6, 1, hidden):
        raise CheckpointError(f"the network's last-step internals have shape {tuple(last.shape)}")


def load_checkpoint(path: Path, name: str, version: str, stamp: Stamp) -> LoadedModel:
    """Load, validate and warm up one checkpoint; raises CheckpointError with the reason.

    The file's place (<name>/<version>.pt) is authoritative: a checkpoint copied to a new
    version or name is served under that, whatever its meta.json recorded when written.
    """
    try:
        # O_NONBLOCK: opening a FIFO (swapped in since the scan) returns at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise CheckpointError(f"cannot open the file: {err.strerror or err}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CheckpointError("it is not a regular file")
        # torch reads the very file checked above: /dev/fd/N reopens that open file.
        module, raw = load(f"/dev/fd/{fd}")
        meta = parse_meta(raw)
    except CheckpointError:
        raise
    except Exception as err:  # torch raises RuntimeError, ValueError, OSError, zip errors
        raise CheckpointError(_reason(err, path, f"/dev/fd/{fd}")) from err
    finally:
        os.close(fd)
    try:
        warm_up(module, meta)
    except CheckpointError:
        raise
    except Exception as err:  # a module that loads but cannot run as ours
        raise CheckpointError(f"the network failed a trial run: {_reason(err, path)}") from err
    return LoadedModel(name, version, stamp, module, meta, now_iso())


def _reason(err: BaseException, path: Path, opened: str = "") -> str:
    """One line for /models and the log: the error's first line, server paths cut out."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = text.replace(str(path), path.name)
    if opened:
        text = text.replace(opened, path.name)
    return f"{type(err).__name__}: {text}"[:300]
