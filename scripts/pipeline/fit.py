"""Lightning training loop: early stopping, best weights restored, losses logged to CSV."""

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from model.lightning import LOSSES, Forecaster


def _flag(default: Any, text: str, **more: Any) -> Any:
    """A config field that is also a training flag."""
    return field(default=default, metadata={"help": text, **more})


@dataclass
class FitConfig:
    """Optimisation and hardware settings; every field but gradient_clip is a flag."""

    epochs: int = _flag(300, "maximum passes over the training windows")
    max_steps: int = _flag(1500, "maximum optimisation steps (batches), whatever the epochs")
    patience: int = _flag(20, "validation checks without improvement before stopping early")
    val_every: int = _flag(50, "optimisation steps between validation checks (at most an epoch)")
    batch_size: int = _flag(32, "windows per batch")
    lr: float = _flag(3e-3, "Adam learning rate")
    weight_decay: float = _flag(0.0, "Adam weight decay")
    loss: str = _flag("mae", "training loss on scaled values", choices=LOSSES)
    seed: int = _flag(0, "random seed (same seed, same result)")
    gradient_clip: float = 1.0  # LSTMs on raw-ish series can take huge steps without it
    accelerator: str = _flag("cpu", "Lightning accelerator: cpu, gpu, auto, ...")
    devices: str = _flag("1", "devices per node: a count, a list or auto")
    strategy: str = _flag("auto", "Lightning strategy: auto, ddp, ddp_spawn, ...")
    num_nodes: int = _flag(1, "machines taking part (DDP)")
    threads: int = _flag(
        1,
        "torch CPU threads per process; small LSTM batches gain little from more, and "
        "oversubscribed cores slow training by an order of magnitude",
    )
    log_dir: str | None = _flag(None, "where losses are logged as CSV (default: MODEL_DIR/_logs)")
    quiet: bool = _flag(False, "no progress bar")

    def __post_init__(self) -> None:
        for name in ("epochs", "max_steps", "val_every", "batch_size", "num_nodes", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.patience < 0 or self.weight_decay < 0:
            raise ValueError("--patience and --weight-decay must not be negative")
        if self.lr <= 0:
            raise ValueError("--lr must be positive")


@dataclass
class FitResult:
    """What a run did, for the summary and meta.json."""

    epochs_run: int
    steps_run: int
    best_epoch: int | None
    best_step: int | None
    best_val_loss: float | None
    seconds: float
    windows_per_second: float
    log_path: str | None
    is_global_zero: bool


class BestWeights(Callback):
    """Keep the weights of the epoch with the lowest validation loss; restore them at the end."""

    def __init__(self) -> None:
        self.best_loss: float | None = None
        self.best_epoch: int | None = None
        self.best_step: int | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Remember the weights when validation loss improves."""
        loss = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or loss is None:
            return
        value = float(loss)
        if self.best_loss is None or value < self.best_loss:
            self.best_loss, self.best_epoch = value, trainer.current_epoch
            self.best_step = trainer.global_step
            self.state = copy.deepcopy(
                {k: v.detach().cpu() for k, v in pl_module.state_dict().items()}
            )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Put the best weights back."""
        if self.state is not None:
            pl_module.load_state_dict(self.state)


def _devices(value: str) -> int | str | list[int]:
    """Lightning's devices from a flag: '2' -> 2, '0,1' -> [0, 1], 'auto' stays."""
    if value.isdigit():
        return int(value)
    if "," in value:
        return [int(v) for v in value.split(",") if v.strip()]
    return value


def fit(
    module: Forecaster,
    train: DataLoader,
    val: DataLoader | None,
    cfg: FitConfig,
    name: str,
    version: str,
    dry_run: bool = False,
) -> FitResult:
    """Train module in place and return what happened."""
    torch.set_num_threads(cfg.threads)
    best = BestWeights()
    batches = len(train)
    callbacks: list[Callback] = [best]
    if val is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=cfg.patience, mode="min"))
    logger = None if dry_run else CSVLogger(cfg.log_dir or ".", name=name, version=version)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        # Every val_every steps (or every epoch if that is shorter), counted across epochs, so
        # long series validate within an epoch and DDP's shorter per-rank epochs still fit.
        val_check_interval=min(cfg.val_every, batches) if val is not None else None,
        check_val_every_n_epoch=None if val is not None else 1,
        accelerator=cfg.accelerator,
        devices=_devices(cfg.devices),
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        logger=logger or False,
        callbacks=callbacks,
        deterministic=True,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=not cfg.quiet,
        gradient_clip_val=cfg.gradient_clip,
        fast_dev_run=1 if dry_run else False,
        log_every_n_steps=1,
    )
    start = time.perf_counter()
    trainer.fit(module, train, val)
    seconds = time.perf_counter() - start
    epochs = trainer.current_epoch if not dry_run else 1
    steps = trainer.global_step if not dry_run else 1
    windows = steps * (train.batch_size or 1)
    return FitResult(
        epochs_run=epochs,
        steps_run=steps,
        best_epoch=None if best.best_epoch is None else best.best_epoch + 1,
        best_step=best.best_step,
        best_val_loss=best.best_loss,
        seconds=seconds,
        windows_per_second=windows / seconds if seconds > 0 else 0.0,
        log_path=None if logger is None else str(logger.log_dir),
        is_global_zero=trainer.is_global_zero,
    )
