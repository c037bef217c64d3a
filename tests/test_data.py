"""scripts.pipeline.csv_series: CSV layouts, paths and names, fingerprints; CSV to windows."""

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
    split = split_windows(load(write_csv("f.csv", monthly(24))), window=12, val_fraction=0.25)
    assert split.train.origin.tolist() == list(range(12, 18))
    assert split.val.y[:, 0].tolist() == [19.0, 20.0, 21.0, 22.0, 23.0, 24.0]
