"""The training command: checkpoints, summary, determinism, errors, DDP."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.export import list_checkpoints, load
from model.served import STATE_FILE
from scripts import train

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--window", "12", "--hidden", "8", "--layers", "1", "--epochs", "3", "--quiet"]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "scripts.train", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_checkpoint_meta_and_summary(
    sine_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = train.run(["--data", str(sine_csv), "--model-dir", str(tmp_path), "--name", "s", *FAST])
    out = capsys.readouterr().out
    assert len(paths) == 1 and paths[0].parent == tmp_path / "s"
    module, meta = load(paths[0])
    assert meta["window"] == 12 and meta["frequency"] == "MS" and meta["season"] == 12
    assert meta["network"]["hidden_size"] == 8 and meta["normalization"]["mode"] == "window"
    assert meta["series"][0]["name"] == "sine" and meta["series"][0]["length"] == 200
    assert len(meta["data"]["sha256"]) == 64
    assert meta["training"]["epochs_run"] == 3
    # 200 points, a tail of 40: training targets before 160, early stopping 160..179,
    # calibration 180..199; monthly data: a 12-step direct decoder reading season 12.
    assert meta["training"]["windows"] == {"train": 148, "val": 31, "calib": 31}
    assert meta["horizon"] == 12 and meta["decoder"] == "direct" and meta["min_history"] == 12
    assert meta["network"]["seasons"] == [12] and meta["network"]["context"] == 12
    assert [s["calibration_from"] for s in meta["series"]] == [180]
    for key in ("metrics", "metrics_horizon"):
        assert set(meta[key]) == {"model", "naive", "seasonal_naive"}
        assert set(meta[key]["model"]) == {"mae", "rmse", "smape", "mase"}
    q = meta["residual_quantiles"]
    assert q["source"] == "calibration" and q["counts"] == [20] * 12 and q["count"] == 20
    assert len(q["steps"]) == 12 and all(row == sorted(row) for row in q["steps"])
    assert {"torch", "lightning", "python"} <= set(meta["versions"])
    words = (
        "gatecast",
        "seasonal naive",
        "MAE",
        "RMSE",
        "sMAPE",
        "MASE",
        "window 12",
        "horizon 12",
    )
    for word in words:
        assert word in out
    # Losses were logged to CSV, one validation loss per epoch.
    rows = read_csv(Path(meta["training"]["log_path"]) / "metrics.csv")
    assert len([r for r in rows if r.get("val_loss")]) == 3
    x = torch.linspace(100, 130, 12).unsqueeze(0)
    assert torch.isfinite(module(x, 3)[0]).all()
    # Any longer history gives the same forecast: the model reads its last 12 values.
    longer = torch.cat([torch.full((1, 30), 5.0), x], dim=1)
    torch.testing.assert_close(module(longer, 12)[0], module(x, 12)[0])


def test_same_seed_same_result(sine_csv: Path, tmp_path: Path) -> None:
    args = ["--data", str(sine_csv), "--model-dir", str(tmp_path), "--name", "d", *FAST]
    first, second = train.run(args)[0], train.run(args)[0]
    assert first != second
    (m1, meta1), (m2, meta2) = load(first), load(second)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert meta1["metrics"] == meta2["metrics"]
    other = train.run([*args, "--seed", "1"])[0]
    key = "lstm.weight_ih_l0"
    assert not torch.equal(m1.state_dict()[key], load(other)[0].state_dict()[key])


def test_early_stopping_restores_best(sine_csv: Path, tmp_path: Path) -> None:
    args = ["--data", str(sine_csv), "--model-dir", str(tmp_path), "--name", "e", *FAST]
    path = train.run([*args, "--epochs", "40", "--patience", "2", "--lr", "0.05"])[0]
    meta = load(path)[1]
    training = meta["training"]
    assert training["epochs_run"] < 40
    assert training["best_epoch"] <= training["epochs_run"] - 2
    rows = read_csv(Path(training["log_path"]) / "metrics.csv")
    losses = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
    assert training["best_val_loss"] == pytest.approx(min(losses), rel=1e-5)


def test_dry_run_writes_nothing(sine_csv: Path, tmp_path: Path) -> None:
    proc = run_cli("--data", str(sine_csv), "--model-dir", str(tmp_path), "--dry-run", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "dry run" in proc.stdout
    assert not list(tmp_path.rglob("*.pt"))


def test_per_series_models(tmp_path: Path) -> None:
    lines = ["date,north,south"] + [
        f"2020-01-{d:02d},{d % 7 + 10},{(d * 3) % 5 + 100}" for d in range(1, 31)
    ]
    data = tmp_path / "wide.csv"
    data.write_text("\n".join(lines) + "\n")
    args = ["--data", str(data), "--model-dir", str(tmp_path / "m"), "--name", "w", "--per-series"]
    train.run(
        [*args, "--window", "7", "--hidden", "4", "--layers", "1", "--epochs", "2", "--quiet"]
    )
    found = list_checkpoints(tmp_path / "m")
    assert sorted(found) == ["w.north", "w.south"]
    meta = load(found["w.south"][0])[1]
    assert [s["name"] for s in meta["series"]] == ["south"] and meta["season"] == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "/nonexistent/x.csv"], "x.csv"),
        (["--name", "../evil"], "invalid model name"),
        (["--window", "0"], "--window must be at least 1"),
        (["--window", "500"], "window"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    sine_csv: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    base = {"--data": str(sine_csv), "--model-dir": str(tmp_path)}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    proc = run_cli(*[v for kv in base.items() for v in kv], *FAST[4:])
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.pt"))


def test_every_flag_has_help() -> None:
    parser = train.build_parser()
    for action in parser._actions:
        assert action.help, action.dest


def test_console_entry_point_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'gatecast-train = "scripts.train:main"' in text


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(sine_csv: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "--data",
        str(sine_csv),
        "--model-dir",
        str(tmp_path),
        "--name",
        "ddp",
        *FAST,
        "--accelerator",
        "cpu",
        "--devices",
        "2",
        "--strategy",
        "ddp",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = list_checkpoints(tmp_path)
    assert list(found) == ["ddp"] and len(found["ddp"]) == 1  # rank 0 alone writes
    module, meta = load(found["ddp"][0])
    assert meta["training"]["epochs_run"] == 3
    forecast = module(torch.linspace(100, 130, 12).unsqueeze(0), 2)[0]  # within the 12 trained
    assert forecast.shape == (1, 2) and torch.isfinite(forecast).all()
    assert json.dumps(meta)  # plain JSON


@pytest.mark.slow
def test_killed_training_never_leaves_a_partial_checkpoint(sine_csv: Path, tmp_path: Path) -> None:
    """SIGKILL a real training run at spread-out moments; whatever is visible must load."""
    import random
    import signal
    import time

    args = [sys.executable, "-m", "scripts.train", "--data", str(sine_csv), "--name", "k"]
    args += ["--model-dir", str(tmp_path), *FAST, "--epochs", "10", "--patience", "100"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    duration = time.perf_counter() - start
    rng = random.Random(7)
    for fraction in (0.5, 0.9, 0.97, 0.99):
        out = subprocess.DEVNULL
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out)
        time.sleep(duration * fraction * rng.uniform(0.9, 1.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for path in (tmp_path / "k").iterdir():  # served.json: written with the first version
        assert (
            path.name.endswith(".pt") or path.name.startswith(".tmp-") or path.name == STATE_FILE
        ), path.name
    for path in list_checkpoints(tmp_path)["k"]:
        _, meta = load(path)  # every visible checkpoint is whole
        assert meta["training"]["epochs_run"] == 10
