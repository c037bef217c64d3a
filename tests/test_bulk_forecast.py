"""gatecast-forecast: the service's forecasts for every series of a CSV, written as CSV or
Parquet, the internals as .npz or HDF5, bad input refused in one line, files written
atomically, and shards whose union is the whole."""

import csv
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.atomic import fill_atomically
from model.network import QUANTITIES
from scripts import forecast
from scripts.pipeline import bulk
from scripts.pipeline.shard import Shard, shard_of

# Series of every kind of length for the 'tiny' model (context 12, recursive, min history 1).
LENGTHS = {"north": 40, "south": 12, "east": 5, "west-1": 60, "a b": 25, "z": 1, "q": 12}
HORIZON = 3
LEVEL = 0.8


def values_of(name: str, n: int) -> list[float]:
    """A deterministic series per name: level, trend and a yearly cycle."""
    base = 50 + 7 * (sum(map(ord, name)) % 13)
    return [round(base + 0.4 * k + 6 * math.sin(2 * math.pi * k / 12), 4) for k in range(n)]


def months(n: int) -> list[str]:
    """n month starts from 2001-01-01."""
    return [f"{2001 + k // 12}-{k % 12 + 1:02d}-01" for k in range(n)]


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    """A long CSV of LENGTHS' series, monthly, each ending at a different month."""
    path = tmp_path / "data" / "long.csv"
    path.parent.mkdir()
    lines = ["series_id,month,value"]
    for name, n in LENGTHS.items():
        lines += [f"{name},{d},{v}" for d, v in zip(months(n), values_of(name, n), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_ok(*argv: str) -> None:
    """Run the command in this process; it must succeed."""
    assert forecast.main(list(argv)) == 0


def base_args(data: Path, model_dir: Path, out: Path) -> list[str]:
    """Flags shared by the runs: the tiny model, horizon 3, small batches, no bar."""
    return [
        *("--data", str(data), "--model-dir", str(model_dir), "--name", "tiny"),
        *("--output", str(out), "--horizon", str(HORIZON), "--batch-size", "2", "--quiet"),
    ]


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV output."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def service(client, name: str, internals: str = "none") -> dict:
    """The service's /forecast answer for one whole series."""
    body = {
        "model": "tiny",
        "sequence": values_of(name, LENGTHS[name]),
        "horizon": HORIZON,
        "interval": LEVEL,
        "internals": internals,
    }
    r = client.post("/forecast", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def f32(values) -> np.ndarray:
    """Values as the float32 the model computed."""
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def test_csv_forecasts_equal_the_service(client, model_dir: Path, long_csv: Path, tmp_path):
    out = tmp_path / "forecasts.csv"
    run_ok(*base_args(long_csv, model_dir, out), "--interval", str(LEVEL))
    rows = read_rows(out)
    assert list(rows[0]) == ["series", "step", "timestamp", "forecast", "lower", "upper"]
    assert [r["series"] for r in rows] == [n for n in LENGTHS for _ in range(HORIZON)]
    for name, n in LENGTHS.items():
        mine = [r for r in rows if r["series"] == name]
        assert [r["step"] for r in mine] == ["1", "2", "3"]
        after = pd.date_range(months(n)[-1], periods=HORIZON + 1, freq="MS")[1:]
        assert [r["timestamp"] for r in mine] == [t.isoformat() for t in after]
        answer = service(client, name)
        np.testing.assert_array_equal(f32([r["forecast"] for r in mine]), f32(answer["forecast"]))
        for side in ("lower", "upper"):
            got, want = f32([r[side] for r in mine]), f32(answer["interval"][side])
            np.testing.assert_array_equal(got, want)


def test_parquet_holds_the_csv_values(model_dir: Path, long_csv: Path, tmp_path: Path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    args = base_args(long_csv, model_dir, tmp_path / "f.csv")
    run_ok(*args, "--interval", str(LEVEL))
    args[args.index("--output") + 1] = str(tmp_path / "f.parquet")
    run_ok(*args, "--interval", str(LEVEL))
    table = pq.read_table(tmp_path / "f.parquet")
    assert table.schema.names == ["series", "step", "timestamp", "forecast", "lower", "upper"]
    assert str(table.schema.field("forecast").type) == "float"
    about = table.schema.metadata[b"gatecast"].decode()
    assert '"model": "tiny"' in about and '"interval": 0.8' in about
    frame = table.to_pandas()
    rows = read_rows(tmp_path / "f.csv")
    assert frame["series"].tolist() == [r["series"] for r in rows]
    assert frame["timestamp"].tolist() == [r["timestamp"] for r in rows]
    assert frame["step"].tolist() == [int(r["step"]) for r in rows]
    for col in ("forecast", "lower", "upper"):
        np.testing.assert_array_equal(frame[col].to_numpy(), f32([r[col] for r in rows]))


def test_no_interval_no_bounds_and_no_timestamps_without_times(
    model_dir: Path, write_csv, tmp_path: Path
):
    data = write_csv("plain.csv", "a,b\n" + "\n".join(f"{k},{2 * k + 1}" for k in range(30)))
    out = tmp_path / "f.csv"
    run_ok(*base_args(Path(data), model_dir, out))
    rows = read_rows(out)
    assert list(rows[0]) == ["series", "step", "forecast"]
    assert [r["series"] for r in rows] == ["a"] * HORIZON + ["b"] * HORIZON


def internals_run(model_dir: Path, data: Path, tmp_path: Path, name: str, *extra: str) -> Path:
    """Run with --internals into tmp_path/name; the internals file."""
    path = tmp_path / name
    args = base_args(data, model_dir, tmp_path / "f.csv")
    run_ok(*args, "--interval", str(LEVEL), "--internals", str(path), *extra)
    return path


def check_internals(arrays: dict, client) -> None:
    """The documented layout, each series' steps equal to the service's internals."""
    names = list(LENGTHS)
    assert [str(s) for s in arrays["series"]] == names
    assert [str(q) for q in arrays["quantities"]] == list(QUANTITIES)
    gates = arrays["internals"]
    n, layers, six, width, units = gates.shape
    assert (n, layers, six, units) == (len(names), 2, 6, 8)
    assert width == 12 + HORIZON - 1  # the longest: the whole context, then generated steps
    assert str(arrays["model"]) == "tiny" and int(arrays["horizon"]) == HORIZON
    for i, name in enumerate(names):
        answer = service(client, name, internals="all")
        steps = int(arrays["steps"][i])
        assert steps == answer["internals"]["steps"]
        mine = gates[i, :, :, width - steps :]  # (L, 6, steps, H)
        assert np.isnan(gates[i, :, :, : width - steps]).all()
        want = [[layer[q] for q in QUANTITIES] for layer in answer["internals"]["layers"]]
        np.testing.assert_allclose(mine, f32(want), rtol=1e-6, atol=1e-6)
        length, first = LENGTHS[name], answer["context"]["first_step"]
        positions = arrays["positions"][i]
        assert (positions[: width - steps] == -1).all()
        assert positions[width - steps :].tolist() == list(range(first, first + steps))
        times = [str(t) for t in arrays["step_times"][i][width - steps :]]
        grid = pd.date_range(months(length)[first], periods=steps, freq="MS")
        assert times == [t.isoformat() for t in grid]
        np.testing.assert_array_equal(arrays["forecast"][i], f32(answer["forecast"]))
        np.testing.assert_array_equal(arrays["lower"][i], f32(answer["interval"]["lower"]))


def test_internals_npz_layout_and_values(client, model_dir, long_csv, tmp_path):
    path = internals_run(model_dir, long_csv, tmp_path, "gates.npz")
    with np.load(path) as data:  # no pickle needed: strings are numpy unicode arrays
        check_internals({k: data[k] for k in data.files}, client)


def test_internals_hdf5_same_layout(client, model_dir, long_csv, tmp_path):
    h5py = pytest.importorskip("h5py")
    path = internals_run(model_dir, long_csv, tmp_path, "gates.h5")
    with h5py.File(path, "r") as f:
        arrays = {k: f[k].asstr()[()] if f[k].dtype.kind == "O" else f[k][()] for k in f}
        arrays.update(f.attrs)
    check_internals(arrays, client)


def test_internals_last_step(client, model_dir, long_csv, tmp_path):
    path = internals_run(model_dir, long_csv, tmp_path, "last.npz", "--internals-mode", "last")
    with np.load(path) as data:
        gates, positions = data["internals"], data["positions"]
        assert gates.shape[3] == 1 and data["steps"].tolist() == [1] * len(LENGTHS)
        for i, name in enumerate(LENGTHS):
            answer = service(client, name, internals="last")
            want = [[layer[q] for q in QUANTITIES] for layer in answer["internals"]["layers"]]
            np.testing.assert_allclose(gates[i], f32(want), rtol=1e-6, atol=1e-6)
            # The last step read the last forecast fed back: index length + horizon - 2.
            n = LENGTHS[name]
            assert positions[i].tolist() == [n + HORIZON - 2]
            when = pd.date_range(months(1)[0], periods=n + HORIZON - 1, freq="MS")[-1]
            assert data["step_times"][i].tolist() == [when.isoformat()]


def with_flags(args: list[str], extra: list[str]) -> list[str]:
    """args with each flag of `extra` (flag, value pairs) set: replaced if there, else added."""
    args = list(args)
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


BAD = [
    ("empty file", ["--data", "{empty}"], "file is empty"),
    ("unknown model", ["--name", "nope"], "no model 'nope'"),
    ("unknown version", ["--version", "20000101T000000000000Z"], "has no version"),
    ("bad version", ["--version", "latest"], "invalid version 'latest'"),
    ("bad shard", ["--shard", "3/2"], "1 <= K <= N"),
    ("shard not K/N", ["--shard", "half"], "--shard must be K/N"),
    ("table suffix", ["--output", "{tmp}/f.txt"], "must end in .csv or .parquet"),
    ("internals suffix", ["--internals", "{tmp}/g.json"], "must end in .npz or .h5"),
    ("no folder", ["--output", "{tmp}/nowhere/f.csv"], "does not exist"),
    ("interval range", ["--interval", "1.5"], "--interval must be in (0, 0.99]"),
    ("zero batch", ["--batch-size", "0"], "--batch-size must be at least 1"),
    ("two models", ["--checkpoint", "{tmp}/x.pt"], "give one of --checkpoint and --name"),
    ("overflow once scaled", ["--data", "{far}"], "series 'far': its values are too far apart"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_one_line_exit_2(case, model_dir, long_csv, tmp_path, capsys):
    _, extra, fragment = case
    (tmp_path / "empty.csv").write_text("")
    far = [-3.4e38] * 12 + [3.4e38] + [-3.4e38] * 11  # 3.4e38 - its mean is beyond float32
    (tmp_path / "far.csv").write_text("value\n" + "\n".join(map(str, far)) + "\n")
    out = tmp_path / "out.csv"
    args = base_args(long_csv, model_dir, out)
    fill = {
        "{empty}": str(tmp_path / "empty.csv"),
        "{far}": str(tmp_path / "far.csv"),
        "{tmp}": str(tmp_path),
    }
    for key, path in fill.items():
        extra = [value.replace(key, path) for value in extra]
    args = with_flags(args, extra)
    assert forecast.main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatecast-forecast: error: "), lines
    assert fragment in lines[0]
    assert not out.exists() and not list(tmp_path.rglob(".tmp-*"))


def test_bad_checkpoints_one_line_exit_2(make_checkpoint, long_csv, tmp_path, capsys):
    plain = make_checkpoint(tmp_path / "models", "plain", quantiles=False)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip archive")
    cases = [
        (["--checkpoint", str(plain), "--interval", "0.9"], "this model has no residual quantiles"),
        (["--checkpoint", str(junk)], "cannot use the checkpoint"),
    ]
    for extra, fragment in cases:
        args = ["--data", str(long_csv), "--output", str(tmp_path / "f.csv"), *extra]
        assert forecast.main(args) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], lines
        assert not (tmp_path / "f.csv").exists()


def test_interrupted_run_leaves_the_old_file(model_dir, long_csv, tmp_path, monkeypatch, capsys):
    out = tmp_path / "f.csv"
    out.write_text("old\n")
    calls = []
    real = bulk.inference.run

    def run_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk.inference, "run", run_then_stop)
    assert forecast.main(base_args(long_csv, model_dir, out)) == 130
    assert "interrupted" in capsys.readouterr().err
    assert out.read_text() == "old\n" and not list(tmp_path.glob(".tmp-*"))


def test_atomic_write_failing_midway_leaves_nothing(tmp_path: Path):
    target = tmp_path / "f.csv"

    def half(tmp: Path) -> None:
        tmp.write_text("series,step\nnorth,")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fill_atomically(target, half, None)
    assert not target.exists() and os.listdir(tmp_path) == []
    fill_atomically(target, lambda tmp: tmp.write_text("done\n"), None)
    assert target.read_text() == "done\n" and os.listdir(tmp_path) == ["f.csv"]


def test_dry_run_writes_nothing(model_dir, long_csv, tmp_path, capsys):
    out = tmp_path / "f.csv"
    run_ok(
        *base_args(long_csv, model_dir, out), "--dry-run", "--internals", str(tmp_path / "g.npz")
    )
    assert "dry run" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_shards_are_stable_and_split_every_series():
    # Pinned: a series keeps its shard across processes, runs and releases.
    assert [shard_of(f"s{k}", 4) for k in range(8)] == [4, 4, 3, 1, 4, 1, 1, 3]
    ids = [f"series-{k}" for k in range(400)]
    counts = [sum(Shard(k, 4).owns(i) for i in ids) for k in range(1, 5)]
    assert sum(counts) == 400 and min(counts) > 60
    assert Shard.parse("2/8") == Shard(2, 8)


def row_key(row: dict) -> tuple[str, int]:
    """Rows in series and step order, whichever file they came from."""
    return row["series"], int(row["step"])


def shard_rows(model_dir: Path, data: Path, out: Path, shard: str | None) -> list[dict]:
    """One run's CSV rows, of one shard or of all series."""
    args = base_args(data, model_dir, out) + (["--shard", shard] if shard else [])
    run_ok(*args)
    return read_rows(out)


def test_shards_union_is_the_whole(model_dir, long_csv, tmp_path):
    whole = shard_rows(model_dir, long_csv, tmp_path / "all.csv", None)
    parts = [shard_rows(model_dir, long_csv, tmp_path / f"{k}.csv", f"{k}/2") for k in (1, 2)]
    assert all(parts)  # both shards hold series
    names = [{r["series"] for r in p} for p in parts]
    assert not names[0] & names[1]
    assert sorted(parts[0] + parts[1], key=row_key) == sorted(whole, key=row_key)


@pytest.mark.slow
def test_shards_on_two_dask_workers(model_dir, long_csv, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    root = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("PYTHONPATH", str(root))  # the workers import this checkout
    whole = shard_rows(model_dir, long_csv, tmp_path / "all.csv", None)
    argv = [
        [*base_args(long_csv, model_dir, tmp_path / f"part-{k}.csv"), "--shard", f"{k}/2"]
        for k in (1, 2)
    ]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask,
    ):
        codes = dask.gather(dask.map(forecast.main, argv, pure=False))
        workers = len(dask.scheduler_info()["workers"])
    assert codes == [0, 0] and workers == 2
    parts = [read_rows(tmp_path / f"part-{k}.csv") for k in (1, 2)]
    assert sorted(parts[0] + parts[1], key=row_key) == sorted(whole, key=row_key)


def test_the_default_version_is_the_one_the_service_serves(
    make_checkpoint, publish_copy, long_csv: Path, tmp_path: Path
):
    from scripts import models

    root = tmp_path / "models"
    old = make_checkpoint(root, "tiny", seed=1)
    new = make_checkpoint(root, "tiny", seed=2)  # a newer version with other weights
    assert old.stem < new.stem
    out = tmp_path / "f.csv"

    def forecasts() -> list[str]:
        run_ok(*base_args(long_csv, root, out))
        return [r["forecast"] for r in read_rows(out)]

    newest = forecasts()  # nothing promoted: the newest
    assert models.main(["promote", "tiny", old.stem, "--model-dir", str(root)]) == 0
    promoted = forecasts()
    run_ok(*base_args(long_csv, root, out), "--version", old.stem)
    assert promoted == [r["forecast"] for r in read_rows(out)] != newest
