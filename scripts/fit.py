"""Lightning training loop: early stopping, best weights restored, losses logged to CSV."""

import copy
import time
from dataclasses import dataclass

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from model.lightning import Forecaster


@dataclass
class FitConfig:
    """Optimisation and hardware settings."""

    epochs: int = 300
    patience: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    gradient_clip: float = 1.0  # LSTMs on raw-ish series can take huge steps without it
    seed: int = 0
    accelerator: str = "cpu"
    devices: str = "1"
    strategy: str = "auto"
    num_nodes: int = 1
    threads: int = 1  # torch CPU threads per process
    log_dir: str = "models/_logs"
    progress: bool = True


@dataclass
class FitResult:
    """What a run did, for the summary and meta.json."""

    epochs_run: int
    best_epoch: int | None
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
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Remember the weights when validation loss improves."""
        loss = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or loss is None:
            return
        value = float(loss)
        if self.best_loss is None or value < self.best_loss:
            self.best_loss, self.best_epoch = value, trainer.current_epoch
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
    callbacks: list[Callback] = [best]
    if val is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=cfg.patience, mode="min"))
    logger = None if dry_run else CSVLogger(cfg.log_dir, name=name, version=version)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=_devices(cfg.devices),
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        logger=logger or False,
        callbacks=callbacks,
        deterministic=True,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=cfg.progress,
        gradient_clip_val=cfg.gradient_clip,
        fast_dev_run=1 if dry_run else False,
        log_every_n_steps=1,
    )
    start = time.perf_counter()
    trainer.fit(module, train, val)
    seconds = time.perf_counter() - start
    epochs = trainer.current_epoch if not dry_run else 1
    windows = len(train.dataset) * epochs  # type: ignore[arg-type]
    return FitResult(
        epochs_run=epochs,
        best_epoch=None if best.best_epoch is None else best.best_epoch + 1,
        best_val_loss=best.best_loss,
        seconds=seconds,
        windows_per_second=windows / seconds if seconds > 0 else 0.0,
        log_path=None if logger is None else str(logger.log_dir),
        is_global_zero=trainer.is_global_zero,
    )
