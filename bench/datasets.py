"""Build benchmark series as `timestamp,value[,covariate...]` CSVs from data shipped inside
PyPI packages.

Sources: statsmodels' dataset modules, pmdarima's datasets, ISLP's bundled CSVs and the airline
CSV bundled in this repository; every loader used here reads files or arrays inside the
installed package.
"""

import argparse
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

# The statsmodels dataset modules read CSVs from inside the installed package and pmdarima's
# wineind, taylor and msft read arrays or tarballs inside it (never load_gasoline or the other
# web loaders), and ISLP's CSVs are read straight from its installed data folder, so nothing
# here touches the network; all three are imported lazily because they are the optional
# `bench` extra.
MIN_POINTS = 100
MAX_POINTS = 5000
REPO = Path(__file__).resolve().parent.parent

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
    "airline_monthly": {
        "source": "data/airline_passengers.csv in this repository (Box & Jenkins series G; "
        "see data/README.md: taken from the sktime 1.2.0 wheel on PyPI)",
        "licence": "public domain (classic textbook series; data/README.md)",
        "transform": "none; month column renamed timestamp (1949-01..1960-12)",
        "units": "international airline passengers, thousands per month",
    },
    "wineind_monthly": {
        "source": "pmdarima.datasets.load_wineind (R forecast::wineind, Australian Bureau of "
        "Statistics)",
        "licence": "pmdarima is MIT; the data is the R forecast package's (GPL-3), from ABS",
        "transform": "none; monthly timestamps 1980-01..1994-08 built from the documented start",
        "units": "Australian wine sales, bottles <= 1 litre, per month",
    },
    "co2_weekly": {
        "source": "statsmodels.datasets.co2 (Keeling & Whorf 2004, SIO flask samples, Mauna Loa)",
        "licence": "public domain (statsmodels COPYRIGHT: 'This is public domain.')",
        "transform": "none: the raw weekly (W-SAT) readings 1958-03-29..2001-12-29, with its 59 "
        "missing weeks kept as empty values",
        "units": "CO2 mole fraction, ppm",
    },
    "msft_business_daily": {
        "source": "pmdarima.datasets.load_msft (Kaggle 'price-volume data for all US stocks "
        "and ETFs', bundled as msft.tar.gz)",
        "licence": "pmdarima is MIT; the Kaggle dataset is CC0 (public domain)",
        "transform": "Close column put on a business-day (B) grid; the last 1000 business days "
        "to 2017-11-10; exchange holidays inside them are kept as empty values",
        "units": "MSFT daily close, US dollars (split-adjusted by the source)",
    },
    "taylor_half_hourly": {
        "source": "pmdarima.datasets.load_taylor (R forecast::taylor; Taylor 2003, National "
        "Grid half-hourly demand for England and Wales)",
        "licence": "pmdarima is MIT; the data is the R forecast package's (GPL-3)",
        "transform": "none; half-hourly timestamps built from the documented start, Monday "
        "2000-06-05 00:00, to Sunday 2000-08-27 23:30 (4032 points)",
        "units": "electricity demand, megawatts",
    },
    "bikeshare_daily": {
        "source": "ISLP/data/Bikeshare.csv in the ISLP wheel (ISLR2 Bikeshare: Capital "
        "Bikeshare, Washington DC, 2011, hourly; Fanaee-T & Gama 2013, UCI Bike Sharing)",
        "licence": "ISLP is BSD-3-Clause; the UCI Bike Sharing data is CC BY 4.0 (Capital "
        "Bikeshare trip data under its public data licence)",
        "transform": "hourly rows summed per day (registered) and averaged per day (temp, hum, "
        "windspeed: normalised as shipped); workingday taken per day; day of year 1..365 of "
        "2011 turned into dates 2011-01-01..2011-12-31 (365 points, every day present). The "
        "target is the registered (commuter) rentals: their weekday pattern is real (weekends "
        "about 18% below the week's mean), while in all rentals the casual riders' opposite "
        "pattern cancels it to about 3%",
        "units": "registered rentals per day; covariates: normalised temperature (t/41 C), "
        "humidity (/100), wind speed (/67), workingday 0/1",
    },
    "nyse_volume_business_daily": {
        "source": "ISLP/data/NYSE.csv in the ISLP wheel (ISLR2 NYSE: New York Stock Exchange "
        "daily log volume, Dow Jones return and log volatility; LeBaron & Weigend 1998)",
        "licence": "ISLP is BSD-3-Clause; the series are from the ISLR2 R package (GPL-2+)",
        "transform": "log_volume (detrended by the source) put on a business-day (B) grid; the "
        "last 1500 business days to 1986-12-31; exchange holidays inside them are kept as "
        "empty values in every column; DJ_return and log_volatility renamed dj_return and "
        "log_volatility",
        "units": "detrended log trading volume; covariates: Dow Jones daily return, log volatility",
    },
}


@dataclass(frozen=True)
class Covariates:
    """A dataset's covariate columns: past ones are known only up to now, future ones ahead."""

    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every covariate column, past ones first."""
        return self.past + self.future


# Datasets with covariate columns next to `value`; the rest are a bare target.
COVARIATES: dict[str, Covariates] = {
    # Weather is measured (past); whether a day is a working day is known ahead (future), and
    # it marks the holidays that no calendar feature can derive.
    "bikeshare_daily": Covariates(past=("temp", "hum", "windspeed"), future=("workingday",)),
    "nyse_volume_business_daily": Covariates(past=("dj_return", "log_volatility")),
}

# Pandas frequency alias of each output, checked against the timestamps before writing.
FREQUENCIES: dict[str, str] = {
    "co2_monthly": "MS",
    "elnino_nino12_monthly": "MS",
    "sunspots_yearly": "YS",
    "us_realgdp_quarterly": "QS",
    "nile_annual": "YS",
    "airline_monthly": "MS",
    "wineind_monthly": "MS",
    "co2_weekly": "W-SAT",
    "msft_business_daily": "B",
    "taylor_half_hourly": "30min",
    "bikeshare_daily": "D",
    "nyse_volume_business_daily": "B",
}

# Datasets whose missing values are part of what they test (kept as empty CSV cells).
WITH_GAPS = frozenset({"co2_weekly", "msft_business_daily", "nyse_volume_business_daily"})
WINEIND_START = "1980-01-01"
TAYLOR_START = "2000-06-05 00:00"
MSFT_DAYS = 1000
NYSE_DAYS = 1500
BIKESHARE_YEAR = 2011
ISLP_DATASETS = frozenset({"bikeshare_daily", "nyse_volume_business_daily"})
# Only ISLP's bundled CSVs are read, so none of its (heavy) dependencies is needed.
ISLP_INSTALL = "pip install --no-deps ISLP==0.6.0"

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


def build_airline() -> pd.Series:
    """The airline passengers CSV bundled with gatecast."""
    table = pd.read_csv(REPO / "data" / "airline_passengers.csv")
    index = pd.to_datetime(table["month"])
    return pd.Series(table["passengers"].to_numpy(dtype=float), index=index)


def build_wineind() -> pd.Series:
    """Australian wine sales, monthly from January 1980."""
    from pmdarima.datasets import load_wineind

    values = load_wineind().astype(float)
    return pd.Series(values, index=pd.date_range(WINEIND_START, periods=len(values), freq="MS"))


def build_co2_weekly() -> pd.Series:
    """Mauna Loa CO2, the raw weekly readings with their gaps."""
    from statsmodels.datasets import co2

    weekly = _frame(co2)["co2"].astype(float)
    return weekly.asfreq("W-SAT")


def build_msft() -> pd.Series:
    """MSFT close on a business-day grid, the last MSFT_DAYS days; holidays are gaps."""
    from pmdarima.datasets import load_msft

    table = load_msft()
    close = pd.Series(table["Close"].to_numpy(dtype=float), index=pd.to_datetime(table["Date"]))
    grid = pd.date_range(close.index[0], close.index[-1], freq="B")
    return close.reindex(grid).iloc[-MSFT_DAYS:]


def build_taylor() -> pd.Series:
    """Half-hourly electricity demand, 12 weeks from Monday 2000-06-05."""
    from pmdarima.datasets import load_taylor

    values = load_taylor().astype(float)
    return pd.Series(values, index=pd.date_range(TAYLOR_START, periods=len(values), freq="30min"))


def islp_csv(name: str) -> Path:
    """A CSV inside the installed ISLP package, found without importing ISLP (its __init__
    pulls in heavy optional dependencies)."""
    spec = importlib.util.find_spec("ISLP")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"ISLP is not installed: {ISLP_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not in this ISLP installation")
    return path


def build_bikeshare_daily() -> pd.DataFrame:
    """Capital Bikeshare registered rentals per day in 2011 with the day's weather and
    workingday."""
    hourly = pd.read_csv(islp_csv("Bikeshare"))
    days = hourly.groupby("day", sort=True)
    frame = pd.DataFrame(
        {
            "value": days["registered"].sum().astype(float),
            "temp": days["temp"].mean().round(4),
            "hum": days["hum"].mean().round(4),
            "windspeed": days["windspeed"].mean().round(4),
            "workingday": days["workingday"].first().astype(float),
        }
    )
    first = pd.Timestamp(f"{BIKESHARE_YEAR}-01-01")
    frame.index = pd.DatetimeIndex([first + pd.Timedelta(days=int(d) - 1) for d in frame.index])
    return frame


def build_nyse_volume() -> pd.DataFrame:
    """NYSE detrended log volume on a business-day grid, the last NYSE_DAYS days, with the
    Dow Jones return and log volatility; holidays are gaps."""
    table = pd.read_csv(islp_csv("NYSE"))
    frame = pd.DataFrame(
        {
            "value": table["log_volume"].to_numpy(dtype=float),
            "dj_return": table["DJ_return"].to_numpy(dtype=float),
            "log_volatility": table["log_volatility"].to_numpy(dtype=float),
        },
        index=pd.to_datetime(table["date"]),
    )
    grid = pd.date_range(frame.index[0], frame.index[-1], freq="B")
    return frame.reindex(grid).iloc[-NYSE_DAYS:]


BUILDERS: dict[str, Callable[[], pd.Series | pd.DataFrame]] = {
    "co2_monthly": build_co2,
    "elnino_nino12_monthly": build_elnino,
    "sunspots_yearly": build_sunspots,
    "us_realgdp_quarterly": build_realgdp,
    "nile_annual": build_nile,
    "airline_monthly": build_airline,
    "wineind_monthly": build_wineind,
    "co2_weekly": build_co2_weekly,
    "msft_business_daily": build_msft,
    "taylor_half_hourly": build_taylor,
    "bikeshare_daily": build_bikeshare_daily,
    "nyse_volume_business_daily": build_nyse_volume,
}


def load(name: str) -> pd.DataFrame:
    """A dataset as a frame: `value`, then its covariate columns (COVARIATES), on its grid."""
    built = BUILDERS[name]()
    frame = built.to_frame("value") if isinstance(built, pd.Series) else built
    return frame[["value", *COVARIATES.get(name, Covariates()).names]]


def validate(name: str, frame: pd.DataFrame) -> None:
    """Fail loudly unless the dataset is regular, of a usable length and complete (or may have
    gaps, and its first and last rows are present) in every column."""
    freq = FREQUENCIES[name]
    if not MIN_POINTS <= len(frame) <= MAX_POINTS:
        raise ValueError(f"{name}: {len(frame)} points, outside {MIN_POINTS}..{MAX_POINTS}")
    if name in WITH_GAPS:
        if frame.isna().iloc[[0, -1]].any(axis=None):
            raise ValueError(f"{name}: the first or last row has a missing value")
    elif frame.isna().any(axis=None):
        raise ValueError(f"{name}: {int(frame.isna().sum().sum())} missing values")
    series = frame["value"]
    expected = pd.date_range(series.index[0], periods=len(series), freq=freq)
    if not pd.DatetimeIndex(series.index).equals(expected):
        raise ValueError(f"{name}: timestamps are not a regular {freq} range")


def write_csv(data: pd.Series | pd.DataFrame, path: Path) -> None:
    """Write `timestamp,value[,covariate...]` with ISO dates (and times when not all midnight),
    values in their shortest exact form and missing values as empty cells."""
    frame = data.to_frame("value") if isinstance(data, pd.Series) else data
    index = pd.DatetimeIndex(frame.index)
    daily = bool((index == index.normalize()).all())
    out = frame.reset_index(drop=True)
    out.insert(0, "timestamp", index.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"))
    out.to_csv(path, index=False)


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
        import pmdarima
        import statsmodels
    except ImportError:
        print("statsmodels or pmdarima is missing: pip install 'gatecast[bench]'", file=sys.stderr)
        return 2
    names = args.only or list(BUILDERS)
    versions = f"statsmodels {statsmodels.__version__}, pmdarima {pmdarima.__version__}"
    if ISLP_DATASETS & set(names):
        if importlib.util.find_spec("ISLP") is None:
            print(f"ISLP is missing: {ISLP_INSTALL}", file=sys.stderr)
            return 2
        versions += f", ISLP {importlib.metadata.version('ISLP')}"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        frame = load(name)
        validate(name, frame)
        path = out / f"{name}.csv"
        write_csv(frame, path)
        start = frame.index[0].strftime("%Y-%m-%d")
        end = frame.index[-1].strftime("%Y-%m-%d")
        extra = COVARIATES.get(name, Covariates())
        print(
            f"{path.name}\tpoints={len(frame)}\tfreq={FREQUENCIES[name]}\t"
            f"start={start}\tend={end}\tmissing={int(frame['value'].isna().sum())}\t"
            f"past={','.join(extra.past) or '-'}\tfuture={','.join(extra.future) or '-'}\t"
            f"source={PROVENANCE[name]['source']} ({versions})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
