"""Training wrapper: the LightningModule around GateLSTM."""

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from model.network import GateLSTM, NetworkConfig

LOSSES = ("mae", "mse")
Batch = tuple[Tensor, ...]  # (x, y) or (x, y, exog, series)


class Forecaster(L.LightningModule):
    """Trains GateLSTM on (history, next `horizon` values) pairs, the loss in scaled units.

    The loss is taken after each window's own scaling, so a global model over series of very
    different sizes weighs every series alike.
    """

    def __init__(
        self,
        network: dict[str, Any],
        lr: float,
        weight_decay: float,
        loss: str,
        global_loc: float = 0.0,
        global_scale: float = 1.0,
        exog_loc: list[float] | None = None,
        exog_scale: list[float] | None = None,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}")
        self.save_hyperparameters()
        self.net = GateLSTM(NetworkConfig(**network))
        self.net.set_global_stats(global_loc, global_scale)
        if exog_loc is not None and exog_scale is not None:
            self.net.set_exog_stats(exog_loc, exog_scale)

    def forward(self, x: Tensor, horizon: int = 1) -> Tensor:
        """Raw forecast for raw histories: (B, T) -> (B, horizon)."""
        return self.net(x, horizon)[0]

    def _common_step(self, batch: Batch, stage: str) -> Tensor:
        """Scaled loss of the forecast over the target's horizon, logged per stage.

        A batch is (x, y), or (x, y, exog, series) for a model with exogenous inputs.
        """
        x, y = batch[0], batch[1]  # (B, T), (B, horizon)
        exog = batch[2] if len(batch) > 2 else None  # (B, T + horizon, E)
        series = batch[3] if len(batch) > 3 else None  # (B,)
        z, run, loc, scale, h0, c0 = self.net.prepare(x)  # (B, T), int, (B, 1) x 2, (L, B, H) x 2
        t, horizon = x.size(1), y.size(1)
        feats = self.net.features(exog, series, t, t + horizon, z)  # (B, T + horizon, F)
        pred, _, _ = self.net.forward_scaled(z, run, horizon, h0, c0, feats)  # (B, horizon)
        target = (y - loc) / scale  # NaN where a target lies outside the window's part
        known = ~torch.isnan(target)
        if self.hparams["loss"] == "mae":
            loss = F.l1_loss(pred[known], target[known])
        else:
            loss = F.mse_loss(pred[known], target[known])
        self.log(
            f"{stage}_loss",
            loss,
            prog_bar=True,
            on_step=False,
            on_epoch=True,
            batch_size=x.size(0),
            sync_dist=stage != "train",
        )
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """One optimisation step."""
        return self._common_step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Validation loss, the early-stopping signal."""
        self._common_step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam, as in the article."""
        return torch.optim.Adam(
            self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
        )
