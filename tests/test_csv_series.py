"""Tests for scripts.pipeline.csv_series: layouts, time, values and their errors."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scripts.pipeline.csv_series import Series, fingerprint, season_length
from scripts.pipeline.windows import split_windows
from tests.csvload import WriteCsv, load, load_error, monthly, stamps

# --- layouts -----------------------------------------------------------------------------------


def test_single_series_is_named_after_the_file(write_csv: WriteCsv) -> None:
    path = write_csv(
        "airline_passengers.csv", "Month,Passengers\n1949-01,112\n1949-02,118\n1949-03,132\n"
    )
    [s] = load(path)
    assert s.name == "airline_passengers"
    assert s.values.dtype == np.float64
    assert s.values.tolist() == [112.0, 118.0, 132.0]
    assert list(stamps(s).strftime("%Y-%m-%d")) == ["1949-01-01", "1949-02-01", "1949-03-01"]
    assert s.freq == "MS"
    assert s.filled == 0
    assert s.source == path


def test_value_col_picked_among_several_is_named_after_the_column(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,a,b\n2020-01-01,1,10\n2020-01-02,2,20\n2020-01-03,3,30\n")
    [s] = load(path, value_col="b")
    assert (s.name, s.values.tolist(), s.freq) == ("b", [10.0, 20.0, 30.0], "D")


def test_nixtla_style_columns(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "ds,y,note\n2020-01-01,1,hi\n2020-01-02,2,ho\n2020-01-03,3,x\n")
    [s] = load(path)
    assert (s.name, s.values.tolist()) == ("f", [1.0, 2.0, 3.0])


def test_wide_file_gives_one_series_per_numeric_column(write_csv: WriteCsv) -> None:
    path = write_csv(
        "wide.csv", "date,a,b,comment\n2020-01-01,1,10,x\n2020-01-02,2,20,y\n2020-01-03,3,30,z\n"
    )
    out = load(path)
    assert [s.name for s in out] == ["a", "b"]  # the text column is not a series
    assert out[0].values.tolist() == [1.0, 2.0, 3.0]
    assert out[1].values.tolist() == [10.0, 20.0, 30.0]
    assert all(s.freq == "D" and s.source == path for s in out)


def test_long_file_gives_one_series_per_id_in_order_of_appearance(write_csv: WriteCsv) -> None:
    text = (
        "series_id,timestamp,value\n"
        "b,2020-01-01 00:00,1\na,2020-01-01 00:00,10\nb,2020-01-01 01:00,2\n"
        "a,2020-01-01 01:00,20\nb,2020-01-01 02:00,3\na,2020-01-01 02:00,30\n"
    )
    out = load(write_csv("long.csv", text))
    assert [s.name for s in out] == ["b", "a"]
    assert out[0].values.tolist() == [1.0, 2.0, 3.0]
    assert out[1].values.tolist() == [10.0, 20.0, 30.0]
    assert [s.freq for s in out] == ["h", "h"]


def test_long_file_numeric_ids_stay_strings(write_csv: WriteCsv) -> None:
    text = "unique_id,ds,y\n1,2020-01-01,5\n1,2020-01-02,6\n2,2020-01-01,7\n2,2020-01-02,8\n"
    out = load(write_csv("l.csv", text))
    assert [(s.name, s.values.tolist()) for s in out] == [("1", [5.0, 6.0]), ("2", [7.0, 8.0])]


def test_long_file_with_explicit_columns(write_csv: WriteCsv) -> None:
    text = "store,day,sales,price\nx,2020-01-01,1,9\nx,2020-01-02,2,9\ny,2020-01-01,3,9\n"
    out = load(write_csv("l.csv", text), series_col="store", time_col="day", value_col="sales")
    assert [(s.name, s.values.tolist()) for s in out] == [("x", [1.0, 2.0]), ("y", [3.0])]


def test_long_file_empty_id_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("l.csv", "series_id,date,value\na,2020-01-01,1\n,2020-01-02,2\n")
    assert "line 3: empty series id" in load_error(path)


def test_explicit_single_layout_with_several_numeric_columns_is_an_error(
    write_csv: WriteCsv,
) -> None:
    path = write_csv("f.csv", "date,a,b\n2020-01-01,1,10\n2020-01-02,2,20\n")
    msg = load_error(path, layout="single")
    assert "several numeric columns (a, b)" in msg and "value_col" in msg
    assert [s.name for s in load(path)] == ["a", "b"]  # auto: wide


def test_explicit_long_layout_without_id_column_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,value\n2020-01-01,1\n")
    assert "layout 'long' needs a series id column" in load_error(path, layout="long")


def test_explicit_wide_layout_with_one_column_uses_the_column_name(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,temp\n2020-01-01,1\n2020-01-02,2\n")
    assert [s.name for s in load(path, layout="wide")] == ["temp"]
    assert [s.name for s in load(path)] == ["f"]


def test_no_numeric_column_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,note\n2020-01-01,x\n2020-01-02,y\n")
    assert "no numeric column" in load_error(path)


def test_saved_index_column_is_ignored(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", ",date,value\n0,2020-01-01,5\n1,2020-01-02,6\n")
    [s] = load(path)
    assert (s.name, s.values.tolist()) == ("f", [5.0, 6.0])


def test_directory_reads_every_csv_sorted(write_csv: WriteCsv, tmp_path: Path) -> None:
    write_csv("d/b.csv", monthly(3))
    write_csv("d/a.csv", monthly(4))
    write_csv("d/notes.txt", "not a csv")
    out = load(str(tmp_path / "d"))
    assert [(s.name, len(s.values)) for s in out] == [("a", 4), ("b", 3)]


def test_glob_and_several_paths(write_csv: WriteCsv, tmp_path: Path) -> None:
    write_csv("g/x2.csv", monthly(2))
    write_csv("g/x1.csv", monthly(3))
    write_csv("g/y.csv", monthly(4))
    other = write_csv("other.csv", monthly(5))
    out = load(str(tmp_path / "g" / "x*.csv"), other)
    assert [(s.name, len(s.values)) for s in out] == [("x1", 3), ("x2", 2), ("other", 5)]


def test_same_file_listed_twice_is_read_once(write_csv: WriteCsv) -> None:
    path = write_csv("a.csv", monthly(3))
    assert [s.name for s in load(path, path)] == ["a"]


def test_name_clash_across_files_gets_the_file_stem(write_csv: WriteCsv) -> None:
    one = write_csv("one.csv", "date,a,b\n2020-01-01,1,2\n2020-01-02,1,2\n")
    two = write_csv("two.csv", "date,a,c\n2020-01-01,3,4\n2020-01-02,3,4\n")
    out = load(one, two)
    assert [s.name for s in out] == ["one/a", "b", "two/a", "c"]
    assert out[2].values.tolist() == [3.0, 3.0]


def test_name_clash_that_the_stem_cannot_fix_is_an_error(write_csv: WriteCsv) -> None:
    one = write_csv("d1/x.csv", monthly(3))
    two = write_csv("d2/x.csv", monthly(3))
    assert "series name 'x/x' occurs twice" in load_error(one, two)


# --- timestamps and frequency ------------------------------------------------------------------


@pytest.mark.parametrize(("option", "value"), [("layout", "tall"), ("missing", "zero")])
def test_bad_config_values(write_csv: WriteCsv, option: str, value: str) -> None:
    msg = load_error(write_csv("f.csv", monthly(3)), **{option: value})
    assert f"{option} must be one of" in msg and repr(value) in msg


# --- season length and fingerprint -------------------------------------------------------------


@pytest.mark.parametrize(
    ("freq", "season"),
    [
        ("MS", 12), ("ME", 12), ("QS-JAN", 4), ("QE-DEC", 4), ("YS-JAN", 1), ("W-SUN", 52),
        ("D", 7), ("B", 5), ("h", 24), ("30min", 48), ("15min", 96), ("min", 60), ("s", 60),
        ("2h", 12), ("3MS", 4), ("7h", 1), ("bogus", 1), (None, 1), ("", 1),
    ],
)  # fmt: skip
def test_season_length(freq: str | None, season: int) -> None:
    assert season_length(freq) == season


def test_fingerprint_ignores_csv_formatting(write_csv: WriteCsv) -> None:
    one = write_csv("a/f.csv", "date,value\n2020-01-01,1.0\n2020-01-02,2.50\n2020-01-03,-0\n")
    two = write_csv("b/f.csv", "value;date\n 1 ;2020-01-01\n0;2020-01-03\n2,5;2020-01-02\n")
    digest = fingerprint(load(one))
    assert digest == fingerprint(load(two))
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_fingerprint_changes_with_values_names_and_timestamps(write_csv: WriteCsv) -> None:
    [base] = load(write_csv("f.csv", monthly(4)))
    digest = fingerprint([base])
    bumped = base.values + np.array([0, 0, 0, 1e-9])
    changed_value = Series(base.name, bumped, base.timestamps, "MS", 0, "")
    renamed = Series("g", base.values, base.timestamps, "MS", 0, "")
    shifted = Series(base.name, base.values, stamps(base) + pd.DateOffset(months=1), "MS", 0, "")
    no_time = Series(base.name, base.values, None, None, 0, "")
    digests = {fingerprint([s]) for s in (changed_value, renamed, shifted, no_time)}
    assert digest not in digests and len(digests) == 4
    assert fingerprint([base, renamed]) != fingerprint([renamed, base])  # order is covered
    moved = Series(base.name, base.values, base.timestamps, None, 9, "elsewhere")
    assert fingerprint([moved]) == digest  # freq, fill count and source are not


def test_end_to_end_csv_to_windows(write_csv: WriteCsv) -> None:
    split = split_windows(load(write_csv("f.csv", monthly(24))), history=12, val_fraction=0.25)
    assert split.train.origin.tolist() == list(range(12, 18))
    assert split.val.y[:, 0].tolist() == [19.0, 20.0, 21.0]
    assert split.calib.y[:, 0].tolist() == [22.0, 23.0, 24.0]


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


GAPPY = "date,value\n2020-01-01,\n2020-01-02,1\n2020-01-03,\n2020-01-05,7\n2020-01-06,\n"


def test_interpolate_fills_linearly_and_ends_with_the_nearest_value(
    write_csv: WriteCsv, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="scripts.pipeline.csv_series"):
        [s] = load(write_csv("f.csv", GAPPY))
    assert s.values.tolist() == [1.0, 1.0, 3.0, 5.0, 7.0, 7.0]
    assert s.filled == 4  # three empty cells and the missing 2020-01-04 row
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "series 'f'" in infos[0] and "filled 4" in infos[0]


def test_ffill_fills_forward_and_backfills_the_start(write_csv: WriteCsv) -> None:
    [s] = load(write_csv("f.csv", GAPPY), missing="ffill")
    assert s.values.tolist() == [1.0, 1.0, 1.0, 1.0, 7.0, 7.0]
    assert s.filled == 4


def test_missing_error_policy_reports_count_and_first(write_csv: WriteCsv) -> None:
    msg = load_error(write_csv("f.csv", GAPPY), missing="error")
    assert "has 4 missing values (first at 2020-01-01)" in msg and "series 'f'" in msg


def test_missing_error_policy_counts_a_gap(write_csv: WriteCsv) -> None:
    text = "date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-04,4\n2020-01-05,5\n"
    msg = load_error(write_csv("f.csv", text), missing="error")
    assert "has 1 missing values (first at 2020-01-03)" in msg


def test_missing_without_timestamps_names_the_line(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "value\n1\n2\n\n \n4\nNA\n6\n")  # blank lines are skipped
    assert "(first at line 7)" in load_error(path, missing="error")
    [s] = load(path)
    assert (s.values.tolist(), s.filled) == ([1.0, 2.0, 4.0, 5.0, 6.0], 1)


def test_na_spellings_are_missing(write_csv: WriteCsv) -> None:
    text = (
        "date,value\n2020-01-01,0\n2020-01-02,NA\n2020-01-03,nan\n2020-01-04,null\n2020-01-05,4\n"
    )
    [s] = load(write_csv("f.csv", text))
    assert (s.values.tolist(), s.filled) == ([0.0, 1.0, 2.0, 3.0, 4.0], 3)


def test_all_missing_series_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,a,b\n2020-01-01,1,\n2020-01-02,2,\n")
    msg = load_error(path, value_col="b")
    assert "series 'b'" in msg and "no values" in msg


@pytest.mark.parametrize("policy", ["interpolate", "ffill"])
def test_wide_columns_are_filled_independently(write_csv: WriteCsv, policy: str) -> None:
    text = "date,a,b\n2020-01-01,1,10\n2020-01-02,,20\n2020-01-03,3,\n2020-01-04,4,40\n"
    a, b = load(write_csv("f.csv", text), missing=policy)
    assert (a.filled, b.filled) == (1, 1)
    if policy == "interpolate":
        assert (a.values.tolist(), b.values.tolist()) == ([1, 2, 3, 4], [10, 20, 30, 40])
    else:
        assert (a.values.tolist(), b.values.tolist()) == ([1, 1, 3, 4], [10, 20, 20, 40])


# --- bad cells ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sep", "cell", "shown"),
    [(",", "abc", "abc"), (";", "12,5x", "12,5x"), (",", '"12,5x"', "12,5x"), (",", "inf", "inf"),
     (",", "1.2.3", "1.2.3"), (";", "1,2,3", "1,2,3")],
)  # fmt: skip
def test_non_numeric_cell_names_line_column_and_cell(
    write_csv: WriteCsv, sep: str, cell: str, shown: str
) -> None:
    rows = ["date,value", "2020-01-01,1", "2020-01-02,2", "2020-01-03,3"]
    text = "\n".join(r.replace(",", sep) for r in rows) + f"\n2020-01-04{sep}{cell}\n"
    msg = load_error(write_csv("f.csv", text))
    assert f"line 5: column 'value' has {shown!r}, not a finite number" in msg


def test_bad_cell_line_counts_blank_lines(write_csv: WriteCsv) -> None:
    text = "date,value\n2020-01-01,1\n\n2020-01-02,x\n2020-01-03,3\n"
    assert "line 4: column 'value' has 'x'" in load_error(write_csv("f.csv", text))


def test_numbers_with_whitespace_and_exponents_are_fine(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date, value \n2020-01-01,  1.5 \n 2020-01-02 ,-2e1\n2020-01-03,+3\n")
    [s] = load(path)
    assert s.values.tolist() == [1.5, -20.0, 3.0]


# --- file problems -----------------------------------------------------------------------------


def test_empty_file(write_csv: WriteCsv) -> None:
    assert "file is empty" in load_error(write_csv("f.csv", ""))
    assert "file is empty" in load_error(write_csv("g.csv", " \n\n"))


def test_header_only(write_csv: WriteCsv) -> None:
    assert "no data rows" in load_error(write_csv("f.csv", "date,value\n"))
    assert "no data rows" in load_error(write_csv("g.csv", "date,value\n\n,\n"))


@pytest.mark.parametrize("option", ["time_col", "value_col", "series_col"])
def test_missing_named_column_lists_the_columns(write_csv: WriteCsv, option: str) -> None:
    path = write_csv("f.csv", "date,value\n2020-01-01,1\n")
    msg = load_error(path, **{option: "nope"})
    assert f"no column 'nope' ({option})" in msg and "date, value" in msg


def test_file_not_found(tmp_path: Path) -> None:
    assert "file not found" in load_error(str(tmp_path / "nope.csv"))


def test_directory_without_csvs(write_csv: WriteCsv, tmp_path: Path) -> None:
    write_csv("d/readme.txt", "hi")
    assert "has no *.csv files" in load_error(str(tmp_path / "d"))


def test_glob_matching_nothing(tmp_path: Path) -> None:
    assert "no files match" in load_error(str(tmp_path / "*.csv"))


def test_no_paths() -> None:
    assert "no input paths" in load_error()


def test_permission_denied(write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv("f.csv", monthly(3))

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)  # chmod does not stop root, which CI may be
    assert load_error(path) == f"cannot read {path}: Permission denied"


def test_binary_file(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    assert "binary file" in load_error(path)


def test_undecodable_bytes(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,caf\xe9\n2020-01-01,1\n".encode("latin-1"))
    assert "not UTF-8 text (bad byte at offset 8)" in load_error(path)


def test_row_with_too_many_fields_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date,value\n2020-01-01,1\n2020-01-02,2,3\n")
    msg = load_error(path)
    assert "cannot parse as CSV" in msg and "line 3" in msg


def test_bom_is_stripped(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "\ufeffdate,value\n2020-01-01,1\n2020-01-02,2\n")
    [s] = load(path, time_col="date")
    assert s.freq == "D" and s.values.tolist() == [1.0, 2.0]


def test_semicolon_file_with_decimal_commas(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", "date;a;b\n2020-01-01;1,5;2\n2020-01-02;2,5;3\n2020-01-03;3;4\n")
    a, b = load(path)
    assert (a.values.tolist(), b.values.tolist()) == ([1.5, 2.5, 3.0], [2.0, 3.0, 4.0])


def test_tab_file_and_explicit_sep(write_csv: WriteCsv) -> None:
    tab = write_csv("t.csv", "date\tvalue\n2020-01-01\t1\n2020-01-02\t2\n")
    assert load(tab)[0].values.tolist() == [1.0, 2.0]
    pipe = write_csv("p.csv", "date|value\n2020-01-01|1\n2020-01-02|2\n")
    assert load(pipe, sep="|")[0].values.tolist() == [1.0, 2.0]


def test_truncated_last_row_warns_and_is_a_missing_value(
    write_csv: WriteCsv, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_csv("f.csv", "date,a,b\n2020-01-01,1,10\n2020-01-02,2,20\n2020-01-03,3")
    with caplog.at_level(logging.WARNING, logger="scripts.pipeline.csv_series"):
        a, b = load(path)
    assert "line 4 has 2 fields, expected 3" in caplog.text
    assert (a.values.tolist(), b.values.tolist(), b.filled) == ([1, 2, 3], [10, 20, 20], 1)
    assert "1 missing values (first at 2020-01-03)" in load_error(path, missing="error")


def test_file_cut_inside_a_quoted_field_is_an_error(write_csv: WriteCsv) -> None:
    path = write_csv("f.csv", 'date,value\n2020-01-01,1\n2020-01-02,"2')
    assert "cannot parse as CSV" in load_error(path)
