"""Bad CSVs through the training command: one clear error line and exit 2, or a documented
repair with exit 0 and a checkpoint; never a checkpoint built from garbage.

The table runs in-process through scripts.train.main (fast, by default) and through the real
CLI, `python -m scripts.train` in a subprocess (slow: each start imports torch).
"""

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.export import list_checkpoints, load
from scripts import train
from scripts.pipeline.csv_series import DataConfig, fingerprint, load_series

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--name", "series", "--window", "4", "--hidden", "4", "--layers", "1", "--epochs", "1"]
DAYS = [f"{1990 + k // 12}-{k % 12 + 1:02d}-01" for k in range(40)]
VALUES = [f"{100 + k + (k % 12) * 2.5}" for k in range(40)]
ROWS = [f"{d},{v}" for d, v in zip(DAYS, VALUES, strict=True)]
GOOD = "month,value\n" + "\n".join(ROWS) + "\n"


@dataclass(frozen=True)
class Case:
    """Files to write, extra flags, and the outcome: an error fragment or a repair."""

    name: str
    files: dict[str, bytes]
    error: str | None  # a fragment of the one error line; None: repaired (exit 0)
    args: tuple[str, ...] = ()
    same_as_good: bool = False  # a repair whose data fingerprint equals the clean file's
    warning: str | None = None  # a fragment of a warning the repair must print
    data: str = "series.csv"  # the --data argument, relative to the case folder


def text(content: str) -> dict[str, bytes]:
    """One file, series.csv, UTF-8."""
    return {"series.csv": content.encode()}


CASES = [
    Case("empty file", text(""), "file is empty"),
    Case("header only", text("month,value\n"), "no data rows below the header"),
    Case(
        "no numeric column",
        text("month,label\n" + "\n".join(f"{d},x" for d in DAYS)),
        "no numeric column",
    ),
    Case("mixed types", text(GOOD.replace(ROWS[5], f"{DAYS[5]},n/x")), "line 7: column 'value'"),
    Case("duplicate timestamps", text(GOOD + ROWS[-1] + "\n"), "duplicate timestamp 1993-04-01"),
    Case("unsorted", text("month,value\n" + "\n".join(reversed(ROWS))), None, same_as_good=True),
    Case("all NaN", text("month,value\n" + "\n".join(f"{d},NaN" for d in DAYS)), "no values"),
    Case("one row", text(f"month,value\n{ROWS[0]}\n"), "long enough for a history of 4"),
    Case("UTF-8 BOM", {"series.csv": b"\xef\xbb\xbf" + GOOD.encode()}, None, same_as_good=True),
    Case(
        "; and decimal commas",
        text(GOOD.replace(",", ";").replace(".", ",")),
        None,
        same_as_good=True,
    ),
    Case(
        "cut mid-row",
        text(GOOD + "1993-05-01"),
        None,
        warning="line 42 has 1 fields, expected 2",
    ),
    Case(
        "cut mid-row, strict",
        text(GOOD + "1993-05-01"),
        "1 missing values (first at 1993-05-01)",
        args=("--missing", "error"),
    ),
    Case("cut inside a date", text(GOOD + "1993-0"), "line 42: '1993-0' in 'month' is not a date"),
    Case("cut inside quotes", text(GOOD + '1993-05-01,"12'), "cannot parse as CSV"),
    Case("binary garbage", {"series.csv": bytes(range(256)) * 8}, "looks like a binary file"),
    Case(
        "latin-1",
        {"series.csv": ("month,valeur\xe9\n" + "\n".join(ROWS)).encode("latin-1")},
        "not UTF-8 text (bad byte at offset 12)",
    ),
    Case("UTF-16", {"series.csv": GOOD.encode("utf-16")}, "UTF-16 or UTF-32 text, not UTF-8"),
    Case("directory without CSVs", {"in/readme.txt": b"x"}, "has no *.csv files", data="in"),
    Case(
        "missing named column",
        text(GOOD),
        "no column 'sales' (value_col)",
        args=("--value-col", "sales"),
    ),
    Case("no such file", {}, "file not found", data="nope.csv"),
]


def setup(case: Case, root: Path) -> list[str]:
    """Write the case's files under root; the training arguments."""
    for name, content in case.files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    models = root / "models"
    data = ["--data", str(root / case.data), "--model-dir", str(models)]
    return [*data, *FAST, "--quiet", *case.args]


def check(case: Case, root: Path, code: int, stderr: str, logged: str = "") -> None:
    """The documented outcome: one error line and no checkpoint, or a sound checkpoint.

    `logged`: log records captured apart from stderr (in-process, pytest takes them).
    """
    assert "Traceback" not in stderr
    found = list((root / "models").rglob("*.pt"))
    errors = [line for line in stderr.splitlines() if line.startswith("gatecast-train:")]
    if case.error is not None:
        assert code == 2, stderr
        assert len(errors) == 1 and errors[0].startswith("gatecast-train: error: "), stderr
        assert case.error in errors[0]
        assert found == []  # nothing written, not even a partial file
        assert not list((root / "models").rglob(".tmp-*"))
        return
    assert code == 0 and errors == [], stderr
    [path] = list_checkpoints(root / "models")["series"]
    assert found == [path]
    if case.warning:
        assert case.warning in stderr + logged
    if case.same_as_good:
        clean = root / "clean" / "series.csv"
        clean.parent.mkdir()
        clean.write_text(GOOD)
        _, meta = load(path)
        assert meta["data"]["sha256"] == fingerprint(load_series(DataConfig([str(clean)])))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_csv_in_process(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="scripts.pipeline.csv_series"):
        code = train.main(setup(case, tmp_path))
    check(case, tmp_path, code, capsys.readouterr().err, caplog.text)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_csv_through_the_cli(case: Case, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.train", *setup(case, tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    check(case, tmp_path, proc.returncode, proc.stderr)


def test_table_has_fifteen_distinct_cases() -> None:
    assert len(CASES) >= 15 and len({c.name for c in CASES}) == len(CASES)
