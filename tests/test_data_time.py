"""scripts.pipeline.csv_series: time columns, parsing, sorting, frequency inference and gaps."""

import pandas as pd
import pytest

from tests.csvload import WriteCsv, load, load_error, stamps


@pytest.mark.parametrize(
    ("pandas_freq", "fmt", "expected"),
    [
        ("MS", "%Y-%m-%d", "MS"),
        ("ME", "%Y-%m-%d", "ME"),
        ("QS", "%Y-%m-%d", "QS-JAN"),
        ("YS", "%Y", "YS-JAN"),
        ("W-SUN", "%Y-%m-%d", "W-SUN"),
        ("D", "%Y-%m-%d", "D"),
        ("B", "%Y-%m-%d", "B"),
        ("h", "%Y-%m-%d %H:%M", "h"),
        ("30min", "%Y-%m-%dT%H:%M:%S", "30min"),
    ],
)
def test_frequency_is_inferred(
    write_csv: WriteCsv, pandas_freq: str, fmt: str, expected: str
) -> None:
    stamps = pd.date_range("2021-01-01", periods=12, freq=pandas_freq).strftime(fmt)
    path = write_csv("f.csv", "time,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(stamps)))
    [s] = load(path)
    assert s.freq == expected
    assert s.values.tolist() == [float(i) for i in range(12)]
    assert s.filled == 0


def test_unsorted_file_is_sorted(write_csv: WriteCsv) -> None:
    path = write_csv(
        "f.csv", "date,value\n2020-01-03,3\n2020-01-01,1\n2020-01-04,4\n2020-01-02,2\n"
    )
    [s] = load(path)
    assert s.values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert stamps(s)[0] == pd.Timestamp("2020-01-01") and s.freq == "D"


def test_monthly_gaps_keep_the_month_start_alias_and_are_filled(write_csv: WriteCsv) -> None:
    text = "month,value\n2020-01-01,1\n2020-02-01,2\n2020-05-01,5\n2020-06-01,6\n2020-08-01,8\n"
    [s] = load(write_csv("f.csv", text))
    assert s.freq == "MS"
    assert s.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert s.filled == 3
    assert stamps(s)[2] == pd.Timestamp("2020-03-01")


def test_quarterly_gap_uses_pandas_quarter_alias(write_csv: WriteCsv) -> None:
    text = "date,value\n2020-02-01,1\n2020-05-01,2\n2020-11-01,4\n2021-02-01,5\n"
    [s] = load(write_csv("f.csv", text))
    assert (s.freq, s.values.tolist(), s.filled) == ("QS-FEB", [1.0, 2.0, 3.0, 4.0, 5.0], 1)


def test_daily_gaps_use_the_most_common_step(write_csv: WriteCsv) -> None:
    text = "date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-05,5\n2020-01-06,6\n"
    [s] = load(write_csv("f.csv", text))
    assert (s.freq, s.values.tolist(), s.filled) == ("D", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2)


def test_hourly_gaps_use_the_most_common_step(write_csv: WriteCsv) -> None:
    text = "time,value\n2020-01-01 00:00,0\n2020-01-01 01:00,1\n2020-01-01 04:00,4\n"
    [s] = load(write_csv("f.csv", text))
    assert (s.freq, s.values.tolist(), s.filled) == ("h", [0.0, 1.0, 2.0, 3.0, 4.0], 2)


def test_business_days_with_a_holiday_stay_business_days(write_csv: WriteCsv) -> None:
    days = pd.bdate_range("2024-01-01", periods=10).delete(3)  # a Thursday off
    path = write_csv("f.csv", "date,value\n" + "".join(f"{d:%Y-%m-%d},1\n" for d in days))
    [s] = load(path)
    assert (s.freq, len(s.values), s.filled) == ("B", 10, 1)


def test_weekly_gap_keeps_the_weekday_anchor(write_csv: WriteCsv) -> None:
    days = pd.date_range("2024-01-01", periods=6, freq="W-MON").delete(2)
    path = write_csv("f.csv", "date,value\n" + "".join(f"{d:%Y-%m-%d},1\n" for d in days))
    assert load(path)[0].freq == "W-MON"


def test_timestamp_off_the_grid_is_an_error(write_csv: WriteCsv) -> None:
    text = "time,value\n2020-01-01 00:00,0\n2020-01-01 01:00,1\n2020-01-01 01:30,1\n"
    text += "2020-01-01 03:00,3\n2020-01-01 04:00,4\n"
    msg = load_error(write_csv("f.csv", text))
    assert "timestamp 2020-01-01 01:30:00" in msg and "'h' grid" in msg


def test_unparseable_timestamp_names_column_and_line(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,value\n2020-01-01,1\n2020-01-02,2\nsoon,3\n")
    msg = load_error(path)
    assert "line 4" in msg and "'soon'" in msg and "'date'" in msg and "not a date" in msg


def test_empty_timestamp_cell_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,value\n2020-01-01,1\n,2\n")
    assert "line 3: '' in 'date' is not a date" in load_error(path)


def test_mixed_utc_offsets_are_converted_to_utc(write_csv: WriteCsv) -> None:
    text = (
        "time,value\n2020-03-29T00:00+01:00,1\n2020-03-29T01:00+01:00,2\n"
        "2020-03-29T03:00+02:00,3\n2020-03-29T04:00+02:00,4\n"
    )
    [s] = load(write_csv("f.csv", text))
    assert (s.freq, s.values.tolist(), str(stamps(s).tz)) == ("h", [1.0, 2.0, 3.0, 4.0], "UTC")


def test_duplicate_timestamp_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("a.csv", "month,x\n1950-01-01,1\n1950-03-01,2\n1950-02-01,3\n1950-03-01,4\n")
    msg = load_error(path, layout="wide")
    assert msg == f"duplicate timestamp 1950-03-01 in series 'x' (file {path})"


def test_time_column_detected_by_content(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "label,when,value\nq,2020-01-01,1\nr,2020-01-02,2\ns,2020-01-03,3\n")
    [s] = load(path)
    assert s.freq == "D" and stamps(s)[-1] == pd.Timestamp("2020-01-03")


def test_year_column_is_a_time_column(write_csv: WriteCsv) -> None:
    [s] = load(write_csv("f.csv", "Year,value\n2001,1\n2002,2\n2004,4\n"))
    assert (s.freq, s.values.tolist(), s.filled) == ("YS-JAN", [1.0, 2.0, 3.0, 4.0], 1)


def test_explicit_time_col(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "obs,value\n2020-01-01,1\n2020-02-01,2\n2020-03-01,3\n")
    assert load(path, time_col="obs")[0].freq == "MS"


def test_no_time_column_keeps_file_order(write_csv: WriteCsv) -> None:
    [s] = load(write_csv("f.csv", "value\n3\n1\n2\n"))
    assert (s.values.tolist(), s.timestamps, s.freq, s.name) == ([3.0, 1.0, 2.0], None, None, "f")


def test_no_time_column_wide(write_csv: WriteCsv) -> None:
    out = load(write_csv("f.csv", "a,b\n1,4\n2,5\n"))
    assert [(s.name, s.values.tolist(), s.freq) for s in out] == [
        ("a", [1.0, 2.0], None),
        ("b", [4.0, 5.0], None),
    ]


def test_single_point_series_has_no_freq(write_csv: WriteCsv) -> None:
    [s] = load(write_csv("f.csv", "date,value\n2020-01-01,7\n"))
    assert (s.values.tolist(), s.freq, len(stamps(s))) == ([7.0], None, 1)


# --- missing values ----------------------------------------------------------------------------
