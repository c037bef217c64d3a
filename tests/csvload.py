"""Helpers shared by the CSV loading tests (scripts.pipeline.csv_series)."""

from collections.abc import Callable

import pandas as pd
import pytest

from scripts.pipeline.csv_series import DataConfig, DataError, Series, load_series

WriteCsv = Callable[[str, str | bytes], str]


def load(*paths: str, **kw: object) -> list[Series]:
    """load_series on the given paths with config overrides."""
    return load_series(DataConfig(paths=list(paths), **kw))  # type: ignore[arg-type]


def load_error(*paths: str, **kw: object) -> str:
    """The one-line message of the DataError that loading raises."""
    with pytest.raises(DataError) as info:
        load(*paths, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def monthly(n: int, start: str = "1950-01") -> str:
    """A single-series monthly CSV body with values 1..n."""
    months = pd.date_range(start, periods=n, freq="MS").strftime("%Y-%m")
    return "month,value\n" + "".join(f"{m},{i + 1}\n" for i, m in enumerate(months))


def stamps(s: Series) -> pd.DatetimeIndex:
    """The timestamps of a series that must have them."""
    assert s.timestamps is not None
    return s.timestamps
