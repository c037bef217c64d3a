"""The backtest command: report, plot, errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model.export import list_checkpoints, load
from scripts import backtest


def test_report_and_plot(
    model_dir: Path, sine_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bt"
    args = ["--model", "tiny", "--model-dir", str(model_dir), "--data", str(sine_csv)]
    code = backtest.main([*args, "--tail", "30", "--horizon", "6", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    one, multi, rolling = report["one_step"], report["multi_step"], report["rolling"]
    assert report["points"] == 200 and report["season"] == 1 and report["window"] == 12
    assert one["origins"] == 30 and one["first_origin"] == 170 and len(one["forecast"]) == 30
    # The one-step forecasts are the checkpoint's own forecasts from each origin's history.
    module, _ = load(list_checkpoints(model_dir)["tiny"][-1])
    values = np.array(report["values"], dtype=np.float32)
    x = torch.from_numpy(np.stack([values[t - 12 : t] for t in range(170, 200)]))
    expected = module(x, 1)[0][:, 0].tolist()
    assert one["forecast"] == pytest.approx(expected, abs=1e-4)
    assert one["actual"] == pytest.approx(values[170:].tolist(), abs=1e-4)
    bands = zip(one["lower"], one["forecast"], one["upper"], strict=True)
    assert all(lo <= f <= hi for lo, f, hi in bands)
    assert set(one["metrics"]) == {"model", "naive", "seasonal_naive"}
    assert set(one["coverage"]) == {"0.8", "0.95"}
    assert all(0.0 <= v <= 1.0 for v in one["coverage"].values())
    # Rolling 6-step forecasts from every origin whose six targets are known: 170..194.
    assert rolling["horizon"] == 6 and rolling["origins"] == 25
    assert set(rolling["metrics"]) == {"model", "naive", "seasonal_naive"}
    assert multi["origin"] == 194 and len(multi["forecast"]) == 6 and len(multi["actual"]) == 6
    assert multi["timestamps"][0].startswith("2006-03-01")
    # tiny was trained on this very series: origins before its calibration span are flagged.
    assert report["trained_span"] == 180 and report["origins_in_trained_span"] == 10
    printed = capsys.readouterr().out
    assert "wrote" in printed and "10 origins lie before index 180" in printed
    assert "6-step interval coverage" in printed


def test_forecast_past_the_end(model_dir: Path, sine_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = ["--model", "tiny", "--model-dir", str(model_dir), "--data", str(sine_csv)]
    assert backtest.main([*args, "--origin", "200", "--horizon", "3", "--out", str(out)]) == 0
    multi = json.loads((out / "report.json").read_text())["multi_step"]
    assert multi["actual"] == [] and "metrics" not in multi
    months = ["2006-09-01", "2006-10-01", "2006-11-01"]
    assert multi["timestamps"] == [f"{m}T00:00:00" for m in months]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--origin", "5"], "--origin must lie in"),
        (["--series", "nope"], "no series 'nope'"),
        (["--model", "ghost"], "no model 'ghost'"),
        (["--tail", "0"], "--tail must be positive"),
    ],
)
def test_bad_input(
    model_dir: Path,
    sine_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = ["--model", "tiny", "--model-dir", str(model_dir), "--data", str(sine_csv)]
    assert backtest.main([*args, *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
    assert not (tmp_path / "o").exists()
