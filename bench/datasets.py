"""Build benchmark series as `timestamp,value` CSVs from data shipped inside statsmodels."""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

# The statsmodels dataset modules read CSVs from inside the installed package, so nothing here
# touches the network; they are imported lazily because statsmodels is the optional `bench` extra.
MIN_POINTS = 100
MAX_POINTS = 1000

# One entry per output file: where it comes from, its licence status and what was done to it.
PROVENANCE: dict[str, dict[str, str]] = {
    "co2_monthly": {
        "source": "statsmodels.datasets.co2 (Keeling & Whorf 2004, SIO flask samples, Mauna Loa)",
        "licence": "public domain (statsmodels COPYRIGHT: 'This is public domain.')",
        "transform": "weekly ppm resampled to monthly means (MS), rounded to 3 decimals; "
        "truncated to start 1965-01 because 1958-06, 1958-10 and 1964-02..04 have no weekly "
        "readings at all (no values are interpolated)",
        "units": "CO2 mole fraction, ppm",
    },
    "elnino_nino12_monthly": {
        "source": "statsmodels.datasets.elnino (NOAA NWS ERSST.V3B, Nino 1+2 region)",
        "licence": "public domain (statsmodels COPYRIGHT: 'This data is in the public domain.')",
        "transform": "year x month table (61 rows x 12 columns) flattened row by row into one "
        "monthly series 1950-01..2010-12",
        "units": "sea-surface temperature, degrees Celsius",
    },
    "sunspots_yearly": {
        "source": "statsmodels.datasets.sunspots (NOAA NGDC yearly sunspot activity)",
        "licence": "public domain (statsmodels COPYRIGHT: 'This data is public domain.')",
        "transform": "none; YEAR column turned into YYYY-01-01 timestamps (1700..2008)",
        "units": "yearly sunspot number",
    },
    "us_realgdp_quarterly": {
        "source": "statsmodels.datasets.macrodata, column realgdp (FRED, accessed 2009-12-15)",
        "licence": "public domain (statsmodels COPYRIGHT: 'This is public domain.')",
        "transform": "none; year + quarter turned into quarter-start timestamps (1959Q1..2009Q3)",
        "units": "US real GDP, billions of chained 2005 dollars, seasonally adjusted annual rate",
    },
    "nile_annual": {
        "source": "statsmodels.datasets.nile (Cobb 1978; Nile flow at Aswan)",
        "licence": "public domain (statsmodels COPYRIGHT: 'This is public domain.')",
        "transform": "none; year turned into YYYY-01-01 timestamps (1871..1970)",
        "units": "annual discharge at Aswan, 10^8 cubic metres",
    },
}

# Pandas frequency alias of each output, checked against the timestamps before writing.
FREQUENCIES: dict[str, str] = {
    "co2_monthly": "MS",
    "elnino_nino12_monthly": "MS",
    "sunspots_yearly": "YS",
    "us_realgdp_quarterly": "QS",
    "nile_annual": "YS",
}

CO2_START = "1965-01-01"
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _frame(module: Any) -> pd.DataFrame:
    """The pandas frame of a statsmodels dataset module."""
    data: pd.DataFrame = module.load_pandas().data
    return data


def _yearly(years: pd.Series, values: pd.Series) -> pd.Series:
    """A series indexed by 1 January of each (float-coded) year."""
    index = pd.to_datetime([f"{int(y):04d}-01-01" for y in years])
    return pd.Series(values.to_numpy(dtype=float), index=index)


def build_co2() -> pd.Series:
    """Mauna Loa CO2, monthly means from 1965 on."""
    from statsmodels.datasets import co2

    weekly = _frame(co2)["co2"]
    monthly = weekly.resample("MS").mean().round(3)
    return monthly.loc[CO2_START:]


def build_elnino() -> pd.Series:
    """Nino 1+2 sea-surface temperature as one long monthly series."""
    from statsmodels.datasets import elnino

    table = _frame(elnino)
    first_year = int(table["YEAR"].iloc[0])
    values = table[MONTHS].to_numpy(dtype=float).reshape(-1)
    index = pd.date_range(f"{first_year}-01-01", periods=len(values), freq="MS")
    return pd.Series(values, index=index)


def build_sunspots() -> pd.Series:
    """Yearly sunspot activity, 1700-2008."""
    from statsmodels.datasets import sunspots

    table = _frame(sunspots)
    return _yearly(table["YEAR"], table["SUNACTIVITY"])


def build_realgdp() -> pd.Series:
    """US real GDP, quarterly."""
    from statsmodels.datasets import macrodata

    table = _frame(macrodata)
    index = pd.to_datetime(
        [
            f"{int(y):04d}-{3 * (int(q) - 1) + 1:02d}-01"
            for y, q in zip(table["year"], table["quarter"], strict=True)
        ]
    )
    return pd.Series(table["realgdp"].to_numpy(dtype=float), index=index)


def build_nile() -> pd.Series:
    """Annual Nile flow, 1871-1970."""
    from statsmodels.datasets import nile

    table = _frame(nile)
    return _yearly(table["year"], table["volume"])


BUILDERS: dict[str, Callable[[], pd.Series]] = {
    "co2_monthly": build_co2,
    "elnino_nino12_monthly": build_elnino,
    "sunspots_yearly": build_sunspots,
    "us_realgdp_quarterly": build_realgdp,
    "nile_annual": build_nile,
}


def validate(name: str, series: pd.Series) -> None:
    """Fail loudly unless the series is complete, regular and of a usable length."""
    freq = FREQUENCIES[name]
    if not MIN_POINTS <= len(series) <= MAX_POINTS:
        raise ValueError(f"{name}: {len(series)} points, outside {MIN_POINTS}..{MAX_POINTS}")
    if series.isna().any():
        raise ValueError(f"{name}: {int(series.isna().sum())} missing values")
    expected = pd.date_range(series.index[0], periods=len(series), freq=freq)
    if not pd.DatetimeIndex(series.index).equals(expected):
        raise ValueError(f"{name}: timestamps are not a regular {freq} range")


def write_csv(series: pd.Series, path: Path) -> None:
    """Write `timestamp,value` with ISO dates and values in their shortest exact form."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(series.index).strftime("%Y-%m-%d"),
            "value": series.to_numpy(),
        }
    )
    frame.to_csv(path, index=False)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.datasets", description=__doc__)
    parser.add_argument(
        "--out", type=Path, required=True, help="directory to write the CSV files into (created)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BUILDERS),
        metavar="NAME",
        default=None,
        help=f"build only these datasets (default: all of {', '.join(BUILDERS)})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the selected datasets and print one line per file written."""
    args = parse_args(argv)
    try:
        import statsmodels
    except ImportError:
        print("statsmodels is missing: pip install 'gatecast[bench]'", file=sys.stderr)
        return 2
    version = str(statsmodels.__version__)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in args.only or list(BUILDERS):
        series = BUILDERS[name]()
        validate(name, series)
        path = out / f"{name}.csv"
        write_csv(series, path)
        start = series.index[0].strftime("%Y-%m-%d")
        end = series.index[-1].strftime("%Y-%m-%d")
        print(
            f"{path.name}\tpoints={len(series)}\tfreq={FREQUENCIES[name]}\t"
            f"start={start}\tend={end}\tsource=statsmodels {version}: {PROVENANCE[name]['source']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
