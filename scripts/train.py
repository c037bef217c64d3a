"""Train gatecast models from CSV files and write TorchScript checkpoints.

python -m scripts.train --data data/airline_passengers.csv --name airline
"""

import argparse
import logging
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from model.export import check_name, new_version, save
from model.lightning import Forecaster
from model.network import NORMALIZATIONS, NetworkConfig
from scripts.cli import add_data_arguments, data_config
from scripts.data import DataConfig, DataError, Series, load_series, season_length
from scripts.fit import FitConfig, FitResult, fit
from scripts.report import build_meta, summary_table
from scripts.windows import Split, train_part
from scripts.windows import split_windows as make_split

log = logging.getLogger("gatecast.train")


@dataclass
class TrainConfig:
    """Everything one training run needs besides the data."""

    window: int = 24
    horizon: int = 1
    val_fraction: float = 0.2
    season: int | None = None  # None: from the inferred frequency
    network: NetworkConfig = field(default_factory=NetworkConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    model_dir: str = "models"
    name: str = "default"
    per_series: bool = False
    dry_run: bool = False


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = argparse.ArgumentParser(
        prog="gatecast-train",
        description="Train an LSTM forecaster on CSV series and write a TorchScript checkpoint "
        "to MODEL_DIR/NAME/VERSION.pt.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = p.add_argument_group("data")
    add_data_arguments(d)
    d.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="last fraction of each series held out for validation (by time)",
    )
    m = p.add_argument_group("model")
    m.add_argument("--window", type=int, default=24, help="input steps per training window")
    m.add_argument(
        "--horizon", type=int, default=1, help="steps ahead trained (recursively) and scored"
    )
    m.add_argument("--hidden", type=int, default=64, help="LSTM units per layer")
    m.add_argument("--layers", type=int, default=2, help="stacked LSTM layers")
    m.add_argument("--dropout", type=float, default=0.0, help="dropout between LSTM layers")
    m.add_argument(
        "--normalization",
        default="window",
        choices=NORMALIZATIONS,
        help="input scaling inside the model: none, global (training statistics) "
        "or window (each window by its own mean and spread)",
    )
    m.add_argument(
        "--season",
        type=int,
        help="seasonal period for baselines and MASE "
        "(default: from the inferred frequency, e.g. 12 for monthly)",
    )
    f = p.add_argument_group("training")
    f.add_argument("--epochs", type=int, default=300, help="maximum epochs")
    f.add_argument(
        "--patience",
        type=int,
        default=30,
        help="epochs without validation improvement before stopping early",
    )
    f.add_argument("--batch-size", type=int, default=32, help="windows per batch")
    f.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    f.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay")
    f.add_argument("--seed", type=int, default=0, help="random seed (same seed, same result)")
    f.add_argument(
        "--dry-run",
        action="store_true",
        help="run one training and one validation batch, write nothing",
    )
    o = p.add_argument_group("output")
    o.add_argument("--model-dir", default="models", help="checkpoint root folder")
    o.add_argument("--name", default="default", help="model name (letters, digits, _ . -)")
    o.add_argument(
        "--per-series",
        action="store_true",
        help="train one model per series, named NAME.SERIES (default: one global model)",
    )
    o.add_argument("--log-dir", help="where losses are logged as CSV (default: MODEL_DIR/_logs)")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    h = p.add_argument_group("hardware (Lightning)")
    h.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto, ...")
    h.add_argument("--devices", default="1", help="devices per node: a count, a list or auto")
    h.add_argument("--strategy", default="auto", help="auto, ddp, ddp_spawn, ...")
    h.add_argument("--num-nodes", type=int, default=1, help="machines taking part (DDP)")
    h.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads per process; small LSTM batches gain little from "
        "more, and oversubscribed cores slow training by an order of magnitude",
    )
    return p


def config_from_args(args: argparse.Namespace) -> tuple[DataConfig, TrainConfig]:
    """Turn parsed flags into the data and training configs (raises ValueError on nonsense)."""
    for flag in (
        "window",
        "horizon",
        "hidden",
        "layers",
        "epochs",
        "batch_size",
        "num_nodes",
        "threads",
    ):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.lr <= 0:
        raise ValueError("--lr must be positive")
    if args.season is not None and args.season < 1:
        raise ValueError("--season must be at least 1")
    check_name(args.name)
    data = data_config(args)
    net = NetworkConfig(
        hidden_size=args.hidden,
        num_layers=args.layers,
        dropout=args.dropout,
        normalization=args.normalization,
    )
    fit_cfg = FitConfig(
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        accelerator=args.accelerator,
        devices=args.devices,
        strategy=args.strategy,
        num_nodes=args.num_nodes,
        threads=args.threads,
        log_dir=args.log_dir or str(Path(args.model_dir) / "_logs"),
        progress=not args.quiet,
    )
    train = TrainConfig(
        window=args.window,
        horizon=args.horizon,
        val_fraction=args.val_fraction,
        season=args.season,
        network=net,
        fit=fit_cfg,
        model_dir=args.model_dir,
        name=args.name,
        per_series=args.per_series,
        dry_run=args.dry_run,
    )
    return data, train


def loaders(split: Split, batch_size: int) -> tuple[DataLoader, DataLoader | None]:
    """Shuffled training and ordered validation loaders over the windows."""

    def dataset(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y).float())

    train = DataLoader(dataset(split.train.x, split.train.y), batch_size=batch_size, shuffle=True)
    if len(split.val.x) == 0:
        return train, None
    return train, DataLoader(dataset(split.val.x, split.val.y), batch_size=4096)


def train_model(series: list[Series], data: DataConfig, cfg: TrainConfig, name: str) -> Path | None:
    """Train one model on the given series; write and return its checkpoint (rank 0 only)."""
    L.seed_everything(cfg.fit.seed, workers=True, verbose=False)  # before the weights exist
    split = make_split(series, cfg.window, cfg.horizon, cfg.val_fraction)
    skipped = set(split.skipped)
    kept = [s for s in series if s.name not in skipped]
    season = cfg.season or season_length(series[0].freq)
    train_values = np.concatenate([train_part(s, cfg.val_fraction) for s in kept])
    module = Forecaster(
        network=cfg.network.to_dict(),
        lr=cfg.fit.lr,
        weight_decay=cfg.fit.weight_decay,
        global_loc=float(train_values.mean()),
        global_scale=float(train_values.std()),
    )
    run_id = new_version()  # names the loss log; the checkpoint's version is stamped on save
    train_dl, val_dl = loaders(split, cfg.fit.batch_size)
    result: FitResult = fit(module, train_dl, val_dl, cfg.fit, name, run_id, cfg.dry_run)
    if cfg.dry_run or not result.is_global_zero:
        if cfg.dry_run and result.is_global_zero:
            print(
                f"dry run of {name!r}: {len(split.train.x)} training windows, "
                "one batch run, nothing written"
            )
        return None
    net = module.net.cpu().eval()
    meta, scores = build_meta(net, series, split, data, cfg, season, result)
    # Stamped now, not at the start, so of two overlapping runs the later-finished one is newest.
    path = save(net, meta, cfg.model_dir, name)
    print(summary_table(name, series, split, result, scores, season))
    print(f"checkpoint: {path}")
    return path


def series_model_name(name: str, series: str) -> str:
    """NAME.SERIES with anything outside the allowed characters replaced by '_'."""
    return check_name(f"{name}.{re.sub(r'[^A-Za-z0-9_.-]', '_', series)}"[:128])


def run(argv: list[str] | None = None) -> list[Path]:
    """Parse flags, load data, train; returns the written checkpoints."""
    args = build_parser().parse_args(argv)
    quiet_lightning()
    data, cfg = config_from_args(args)
    series = load_series(data)
    if not cfg.per_series:
        path = train_model(series, data, cfg, cfg.name)
        return [path] if path else []
    written = []
    for s in series:
        path = train_model([s], data, cfg, series_model_name(cfg.name, s.name))
        if path:
            written.append(path)
    return written


def quiet_lightning() -> None:
    """Drop Lightning's start-up chatter and one upstream deprecation notice we cannot act on."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one line on bad input."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    try:
        run(argv)
    except (DataError, ValueError, FileExistsError) as err:
        print(f"gatecast-train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gatecast-train: interrupted; no checkpoint written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
