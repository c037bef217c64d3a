"""The training run's configuration: the data, the network, the fit, and how windows are cut.

Every default is written once, here or in the config dataclass it belongs to; the command
line is built from these fields (scripts.pipeline.flags).
"""

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from model.export import check_name
from model.network import NetworkConfig
from scripts.pipeline.csv_series import DataConfig, default_horizon, season_length, seasons_of
from scripts.pipeline.fit import FitConfig
from scripts.pipeline.flags import add_flags, command_parser, from_flags

# The default window: two of the shortest seasons, kept between these bounds so that short
# seasons still see some history and long ones train fast (their seasonal naives reach the
# decoder whatever the window).
MIN_WINDOW = 24
MAX_WINDOW = 64


def _flag(default: Any, text: str, **more: Any) -> Any:
    """A config field that is also a training flag."""
    return field(default=default, metadata={"help": text, **more})


@dataclass
class TrainConfig:
    """One training run: what to read, what to build, how to fit it and where to write it."""

    data: DataConfig
    network: NetworkConfig = field(default_factory=NetworkConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    window: int | None = _flag(
        None,
        f"input steps the LSTM runs over (default: two seasons, within [{MIN_WINDOW}, "
        f"{MAX_WINDOW}])",
    )
    horizon: int | None = _flag(
        None,
        "steps ahead the model is trained to forecast (default: from the frequency, e.g. 12 "
        "monthly, 8 quarterly, 52 weekly, 14 daily, 48 hourly)",
    )
    season: int | None = _flag(
        None,
        "seasonal period for the baselines, MASE and the decoder's seasonal-naive input "
        "(default: from the frequency, e.g. 12 monthly; sub-daily data also gets the weekly one)",
    )
    val_fraction: float = _flag(
        0.2,
        "last fraction of each series held out: its first half stops training early, its "
        "second half calibrates the intervals",
    )
    no_calendar: bool = _flag(
        False,
        "no calendar inputs (by default a model of timestamped data reads sin/cos pairs of "
        "the hour of day, day of week, ... that fit its frequency)",
        flag="--no-calendar",
    )
    model_dir: str = _flag("models", "checkpoint root folder")
    name: str = _flag("default", "model name (letters, digits, _ . -)")
    per_series: bool = _flag(
        False, "train one model per series, named NAME.SERIES (default: one global model)"
    )
    dry_run: bool = _flag(False, "run one training and one validation batch, write nothing")

    def __post_init__(self) -> None:
        for name in ("window", "horizon", "season"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name} must be at least 1")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("--val-fraction must be in [0, 1)")
        check_name(self.name)
        if self.fit.log_dir is None:
            self.fit = replace(self.fit, log_dir=str(Path(self.model_dir) / "_logs"))

    def resolved(self, freq: str | None) -> "TrainConfig":
        """This config with the window, horizon, season and network shape filled in from the
        data's frequency wherever they were left to it."""
        season = self.season or season_length(freq)
        seasons = seasons_of(freq) if self.season is None else [self.season] * (self.season > 1)
        horizon = self.horizon or default_horizon(freq)
        window = self.window or min(max(2 * season, MIN_WINDOW), MAX_WINDOW)
        net = replace(self.network, context=window, horizon=horizon, seasons=seasons)
        return replace(self, window=window, horizon=horizon, season=season, network=net)

    @property
    def history(self) -> int:
        """Observations each training window holds: the window, or the longest season the
        decoder looks back if that is longer (resolved configs only)."""
        return max(self.window or 1, self.network.min_history)


def build_parser() -> argparse.ArgumentParser:
    """The training command line, every flag from a config field."""
    p = command_parser(
        "gatecast-train",
        "Train an LSTM forecaster on CSV series and write a TorchScript checkpoint "
        "to MODEL_DIR/NAME/VERSION.pt.",
    )
    add_flags(p.add_argument_group("data"), DataConfig, "data.")
    add_flags(p.add_argument_group("run"), TrainConfig, "run.")
    add_flags(p.add_argument_group("network"), NetworkConfig, "network.")
    add_flags(p.add_argument_group("training (Lightning)"), FitConfig, "fit.")
    return p


def from_args(args: argparse.Namespace) -> TrainConfig:
    """The config that parsed flags describe (raises ValueError on nonsense)."""
    return from_flags(
        TrainConfig,
        args,
        "run.",
        data=from_flags(DataConfig, args, "data."),
        network=from_flags(NetworkConfig, args, "network."),
        fit=from_flags(FitConfig, args, "fit."),
    )
