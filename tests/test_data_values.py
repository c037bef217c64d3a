"""scripts.pipeline.csv_series: missing values, bad cells and unreadable or malformed files."""

import logging
from pathlib import Path

import pytest

from tests.csvload import WriteCsv, load, load_error, monthly

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
