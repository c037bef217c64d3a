"""Command-line pieces the offline commands share: how CSV input is described."""

import argparse

from scripts.data import LAYOUTS, MISSING, DataConfig


def add_data_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--data and the flags that say how to read it."""
    p.add_argument("--data", nargs="+", required=True, metavar="PATH",
                   help="CSV files, directories of CSVs or glob patterns")  # fmt: skip
    p.add_argument("--time-col", help="timestamp column (default: detected)")
    p.add_argument("--value-col", help="value column (default: detected)")
    p.add_argument("--series-col", help="series id column of a long CSV (default: detected)")
    p.add_argument("--layout", default="auto", choices=LAYOUTS,
                   help="one series, one column per series, or series_id rows")  # fmt: skip
    p.add_argument("--sep", help="field separator (default: sniffed)")
    p.add_argument("--missing", default="interpolate", choices=MISSING,
                   help="what to do with missing values and gaps in the time grid")  # fmt: skip


def data_config(args: argparse.Namespace) -> DataConfig:
    """The DataConfig those flags describe."""
    return DataConfig(
        paths=list(args.data),
        time_col=args.time_col,
        value_col=args.value_col,
        series_col=args.series_col,
        layout=args.layout,
        missing=args.missing,
        sep=args.sep,
    )
