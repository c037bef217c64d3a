"""Forecast every series of CSV files with a checkpoint, in this process (no server), and
write the forecasts as CSV or Parquet and optionally the internals as .npz or HDF5.

python -m scripts.forecast --data sales.csv --name sales --output forecasts.parquet
"""

import argparse
import logging
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from model import served
from model.export import check_name, check_version, list_checkpoints
from model.intervals import MAX_LEVEL
from scripts.pipeline.bulk import BulkRequest, BulkResult, forecast_all, open_checkpoint, usable
from scripts.pipeline.bulk_files import (
    INTERNALS_SUFFIXES,
    TABLE_SUFFIXES,
    check_target,
    internals_arrays,
    table_columns,
    write_internals,
    write_table,
)
from scripts.pipeline.csv_series import DataConfig, DataError, Series, load_series
from scripts.pipeline.flags import add_flags, command_parser, from_flags
from scripts.pipeline.shard import Shard
from service.checkpoint import LoadedModel
from service.schemas import InternalsMode
from service.threads import configure_torch

log = logging.getLogger("gatecast.forecast")
PROG = "gatecast-forecast"


def _flag(default: Any, text: str, **more: Any) -> Any:
    """A config field that is also a forecast flag."""
    return field(default=default, metadata={"help": text, **more})


@dataclass
class ForecastConfig:
    """Which checkpoint, what to forecast, where to write it, and this process's share."""

    output: str = field(
        metadata={
            "metavar": "PATH",
            "help": f"forecast table to write: {' or '.join(TABLE_SUFFIXES)} (replaced if there)",
        }
    )
    checkpoint: str | None = _flag(None, "a checkpoint file (.pt); or give --name")
    model_dir: str = _flag("models", "checkpoint root folder for --name")
    name: str | None = _flag(None, "a model name under --model-dir")
    version: str | None = _flag(
        None, "a version of --name (default: the one the service serves: promoted, else newest)"
    )
    horizon: int | None = _flag(None, "steps ahead to forecast (default: the model's trained)")
    interval: float | None = _flag(
        None,
        f"central interval level in (0, {MAX_LEVEL}]: adds lower and upper columns (needs a "
        "checkpoint with residual quantiles)",
    )
    internals: str | None = _flag(
        None,
        "also write the gates and states to this file: "
        f"{' or '.join(INTERNALS_SUFFIXES)} (layout: docs/bulk.md)",
        metavar="PATH",
    )
    internals_mode: str = _flag(
        "all",
        "internals of every step the LSTM ran over, or of its last step only",
        choices=("all", "last"),
    )
    batch_size: int = _flag(1024, "series per model call (series of one length share a call)")
    shard: str | None = _flag(
        None,
        "K/N: forecast only the series of shard K of N (1 <= K <= N, by a stable hash of "
        "the series id), so N processes split the work",
        metavar="K/N",
    )
    threads: int = _flag(1, "torch CPU threads (for parallel work, prefer --shard processes)")
    quiet: bool = _flag(False, "no progress bar (also off when stderr is not a terminal)")
    dry_run: bool = _flag(False, "load the data and the model, forecast one batch, write nothing")

    def __post_init__(self) -> None:
        if (self.checkpoint is None) == (self.name is None):
            raise ValueError("give one of --checkpoint and --name")
        if self.name is not None:
            check_name(self.name)
        if self.version is not None:
            if self.name is None:
                raise ValueError("--version needs --name")
            check_version(self.version)
        for flag, value in (("horizon", self.horizon), ("batch-size", self.batch_size)):
            if value is not None and value < 1:
                raise ValueError(f"--{flag} must be at least 1")
        if self.threads < 1:
            raise ValueError("--threads must be at least 1")
        if self.interval is not None and not 0 < self.interval <= MAX_LEVEL:
            raise ValueError(f"--interval must be in (0, {MAX_LEVEL}]")
        if self.shard is not None:
            Shard.parse(self.shard)

    @property
    def part(self) -> Shard:
        """This process's shard (1/1: everything)."""
        return Shard.parse(self.shard) if self.shard else Shard(1, 1)


@dataclass(frozen=True)
class Summary:
    """What one run did."""

    series: int  # in the data
    forecast: int  # by this process (its shard, less those too short)
    skipped: list[str]  # too short for the model
    rows: int  # in the forecast table
    output: Path | None  # None on a dry run
    internals: Path | None


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag from a config field."""
    p = command_parser(
        PROG,
        "Forecast every series of CSV files with a checkpoint, in this process, and write "
        "the forecasts (CSV or Parquet) and optionally the internals (.npz or HDF5).",
    )
    add_flags(p.add_argument_group("data"), DataConfig, "data.")
    add_flags(p.add_argument_group("forecast"), ForecastConfig, "fc.")
    return p


def checkpoint_path(cfg: ForecastConfig) -> Path:
    """The checkpoint file the flags name: --checkpoint, or --name's --version, or the
    version the service serves by default (promoted, else the newest)."""
    if cfg.checkpoint is not None:
        path = Path(cfg.checkpoint)
        if not path.is_file():
            raise DataError(f"checkpoint not found: {path}")
        return path
    found = list_checkpoints(cfg.model_dir)
    versions = found.get(str(cfg.name), [])
    if not versions:
        have = ", ".join(sorted(found)[:10]) or "none"
        raise DataError(f"no model {cfg.name!r} in {cfg.model_dir} (models there: {have})")
    if cfg.version is None:
        try:
            state = served.read(Path(cfg.model_dir) / str(cfg.name))
        except served.StateError as err:
            raise DataError(f"model {cfg.name!r}: {err}") from None
        by_version = {path.stem: path for path in versions}
        newest_first = sorted(by_version, reverse=True)
        chosen, why = served.choose(served.PROMOTED, state, newest_first, {})
        log.debug("model %s: version %s (%s)", cfg.name, chosen, why)
        return by_version[str(chosen)]
    for path in versions:
        if path.stem == cfg.version:
            return path
    raise DataError(f"model {cfg.name!r} has no version {cfg.version}")


def model_data(data: DataConfig, model: LoadedModel) -> DataConfig:
    """The data flags with the covariate columns the model reads, so that they need not be
    repeated; DataError when the flags name others."""
    reads = model.past_covariates, model.future_covariates
    given = data.past_covariates, data.future_covariates
    if any(given) and given != reads:
        raise DataError(
            f"this model reads past covariates {', '.join(reads[0]) or 'none'} and future "
            f"covariates {', '.join(reads[1]) or 'none'}: leave out --past-covariates and "
            "--future-covariates"
        )
    return replace(data, past_covariates=reads[0], future_covariates=reads[1])


def warn_frequency(model: LoadedModel, series: list[Series]) -> None:
    """Warn once when the data's frequency is not the one the model was trained on."""
    if model.calendar:  # forecast_all refuses such a series: its calendar would be off
        return
    trained = model.meta.frequency
    other = next((s for s in series if trained and s.freq and s.freq != trained), None)
    if other is not None:
        log.warning(
            "series %r has frequency %s, the model was trained on %s; forecast times follow "
            "each series' own grid",
            other.name,
            other.freq,
            trained,
        )


def internals_mode(path: Path | None, flag: str) -> InternalsMode:
    """What the model call computes: no internals without a file to write them to."""
    if path is None:
        return "none"
    return "all" if flag == "all" else "last"


def about(model: LoadedModel, result: BulkResult, mode: str) -> dict[str, Any]:
    """What the files record of the run: model, version, horizon, interval level, internals."""
    return {
        "model": model.name,
        "version": model.version,
        "horizon": result.horizon,
        "interval": result.level,
        "internals_mode": mode,
    }


def run(argv: list[str] | None = None) -> Summary:
    """Parse flags, load the model and data, forecast, write; returns what was done."""
    args = build_parser().parse_args(argv)
    data = from_flags(DataConfig, args, "data.")
    cfg = from_flags(ForecastConfig, args, "fc.")
    output = Path(cfg.output)
    check_target(output, TABLE_SUFFIXES, "--output")
    internals_path = Path(cfg.internals) if cfg.internals else None
    if internals_path is not None:
        check_target(internals_path, INTERNALS_SUFFIXES, "--internals")
    configure_torch(cfg.threads)
    model = open_checkpoint(checkpoint_path(cfg))
    data = model_data(data, model)
    # Rows after a series' last value hold the horizon's future covariates.
    everything = load_series(data, ahead=bool(model.future_covariates))
    with_times = any(s.timestamps is not None for s in everything)  # the same in every shard
    mine = [s for s in everything if cfg.part.owns(s.name)]
    kept, skipped = usable(model, mine)
    if skipped:
        log.warning(
            "%d series shorter than the %d observations this model needs are skipped: %s",
            len(skipped),
            model.min_history,
            ", ".join(map(repr, skipped[:5])) + (", ..." if len(skipped) > 5 else ""),
        )
    if mine and not kept:
        raise DataError(f"no series has the {model.min_history} observations this model needs")
    warn_frequency(model, kept)
    req = BulkRequest(
        horizon=cfg.horizon or model.trained_horizon,
        level=cfg.interval,
        internals=internals_mode(internals_path, cfg.internals_mode),
        batch_size=cfg.batch_size,
    )
    if cfg.dry_run:
        forecast_all(model, kept[: cfg.batch_size], req)
        print(
            f"dry run of {model.name!r} version {model.version}: {len(everything)} series, "
            f"{len(kept)} to forecast in shard {cfg.part.index}/{cfg.part.count}, one batch "
            "run, nothing written"
        )
        return Summary(len(everything), len(kept), skipped, 0, None, None)
    bar = tqdm(
        total=len(kept),
        unit="series",
        desc=PROG,
        disable=cfg.quiet or not sys.stderr.isatty(),
        file=sys.stderr,
    )
    with bar:
        result = forecast_all(model, kept, req, bar.update)
    described = about(model, result, req.internals)
    if internals_path is not None:
        write_internals(internals_path, internals_arrays(result, described))
    cols = table_columns(result, with_times)
    write_table(output, cols, described)
    rows = len(cols["series"])
    print(f"{model.name} {model.version}: {len(kept)} series, {rows} forecasts: {output}")
    if internals_path is not None:
        print(f"internals: {internals_path}")
    return Summary(len(everything), len(kept), skipped, rows, output, internals_path)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one line on bad input."""
    # WARNING, not INFO: a line per series is noise with thousands of them.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        run(argv)
    except (DataError, ValueError, OSError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no partial file written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
