"""Train gatecast models from CSV files and write TorchScript checkpoints.

python -m scripts.train --data data/airline_passengers.csv --name airline
"""

import logging
import re
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from model.export import check_name, new_version, save
from model.lightning import Forecaster
from scripts.pipeline.config import TrainConfig, build_parser, from_args
from scripts.pipeline.csv_series import DataError, Series, load_series
from scripts.pipeline.features import calendar_names, exog_matrix, exog_stats, with_inputs
from scripts.pipeline.fit import fit
from scripts.pipeline.report import build_meta, summary_table
from scripts.pipeline.windows import Windows, split_windows, train_part

log = logging.getLogger("gatecast.train")


def loader(windows: Windows, batch_size: int, shuffle: bool) -> DataLoader:
    """Batches of (history, targets) tensors, with (exogenous inputs, series ids) when the
    windows carry exogenous inputs."""
    tensors = [torch.from_numpy(windows.x), torch.from_numpy(windows.y)]
    if windows.exog is not None:
        tensors += [torch.from_numpy(windows.exog), torch.from_numpy(windows.series)]
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle)


def train_model(series: list[Series], base: TrainConfig, name: str) -> Path | None:
    """Train one model on the given series; write and return its checkpoint (rank 0 only)."""
    cfg = base.resolved(series[0].freq)
    calendar = calendar_names(series, series[0].freq, not cfg.no_calendar)
    cfg = replace(cfg, network=with_inputs(cfg.network, series, cfg.data, calendar))
    L.seed_everything(cfg.fit.seed, workers=True, verbose=False)  # before the weights exist
    featured = bool(cfg.network.exog_names) or cfg.network.series_embedding > 0
    exog = [exog_matrix(s, cfg.network) for s in series] if featured else None
    split = split_windows(series, cfg.history, cfg.horizon or 1, cfg.val_fraction, exog=exog)
    skipped = set(split.skipped)
    kept = [k for k, s in enumerate(series) if s.name not in skipped]
    parts = [len(train_part(series[k], cfg.val_fraction)) for k in kept]
    train_values = np.concatenate([series[k].values[:n] for k, n in zip(kept, parts, strict=True)])
    exog_loc = exog_scale = None
    if exog is not None:
        exog_loc, exog_scale = exog_stats([exog[k] for k in kept], parts, cfg.network)
    module = Forecaster(
        network=cfg.network.to_dict(),
        lr=cfg.fit.lr,
        weight_decay=cfg.fit.weight_decay,
        loss=cfg.fit.loss,
        global_loc=float(train_values.mean()),
        global_scale=float(train_values.std()),
        exog_loc=exog_loc,
        exog_scale=exog_scale,
    )
    run_id = new_version()  # names the loss log; the checkpoint's version is stamped on save
    train_dl = loader(split.train, cfg.fit.batch_size, shuffle=True)
    val_dl = loader(split.val, 4096, shuffle=False) if len(split.val.x) else None
    result = fit(module, train_dl, val_dl, cfg.fit, name, run_id, cfg.dry_run)
    if cfg.dry_run or not result.is_global_zero:
        if cfg.dry_run and result.is_global_zero:
            print(
                f"dry run of {name!r}: {len(split.train.x)} training windows, "
                "one batch run, nothing written"
            )
        return None
    net = module.net.cpu().eval()
    meta, scores = build_meta(net, series, split, cfg, result)
    # Stamped now, not at the start, so of two overlapping runs the later-finished one is newest.
    path = save(net, meta, cfg.model_dir, name)
    print(summary_table(name, series, split, result, scores, cfg))
    print(f"checkpoint: {path}")
    return path


def series_model_name(name: str, series: str) -> str:
    """NAME.SERIES with anything outside the allowed characters replaced by '_'."""
    return check_name(f"{name}.{re.sub(r'[^A-Za-z0-9_.-]', '_', series)}"[:128])


def run(argv: list[str] | None = None) -> list[Path]:
    """Parse flags, load data, train; returns the written checkpoints."""
    cfg = from_args(build_parser().parse_args(argv))
    quiet_lightning()
    series = load_series(cfg.data)
    if not cfg.per_series:
        path = train_model(series, cfg, cfg.name)
        return [path] if path else []
    written = []
    for s in series:
        path = train_model([s], cfg, series_model_name(cfg.name, s.name))
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
