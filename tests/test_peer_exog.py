"""The peer benchmark's exogenous inputs: covariate splits, the training CSV, gatecast's flags
and NeuralForecast's frames, all without the peers' venv."""

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench.peers import gatecast as gc
from bench.peers.peer_process import future_index, nf_frames
from bench.peers.protocol import make_split
from bench.peers.runner import exog, gatecast_flags, methods_for, write_train_csv
from model.calendar import calendar_features, wall_seconds
from model.export import silence_jit_deprecation


def daily_frame(n: int = 120) -> pd.DataFrame:
    """A daily target with a weekday effect, a measured driver and a working-day flag."""
    index = pd.date_range("2011-01-01", periods=n, freq="D")
    temp = 0.5 + 0.3 * np.sin(2 * np.pi * np.arange(n) / 60)
    workingday = (index.day_of_week < 5).astype(float)
    value = 100 + 40 * workingday + 80 * temp
    return pd.DataFrame({"value": value, "temp": temp, "workingday": workingday}, index=index)


def test_covariates_are_filled_like_the_target_and_hashed() -> None:
    frame = daily_frame()
    frame.iloc[10, 1] = math.nan  # in the training span: interpolated
    frame.iloc[110, 1] = math.nan  # in the test span: carried forward
    split = make_split("d", frame, "D", past=("temp",), future=("workingday",))
    assert (split.cut, split.horizon, split.seasons) == (96, 14, (7,))
    temp = split.covariates["temp"]
    assert temp[10] == pytest.approx((frame["temp"].iloc[9] + frame["temp"].iloc[11]) / 2)
    assert temp[110] == temp[109]
    assert split.covariates["workingday"].tolist() == frame["workingday"].tolist()
    bare = make_split("d", frame["value"], "D")
    assert bare.covariates == {} and bare.digest() != split.digest()
    changed = frame.copy()
    changed.loc[changed.index[50], "workingday"] = 1.0 - float(frame["workingday"].iloc[50])
    assert make_split("d", changed, "D", ("temp",), ("workingday",)).digest() != split.digest()


def test_future_timestamps_run_a_horizon_past_the_end() -> None:
    split = make_split("d", daily_frame(), "D", ("temp",), ("workingday",))
    stamps = split.future_timestamps()
    assert len(stamps) == 120 + 14
    assert stamps[:120] == split.timestamps
    assert stamps[120] == "2011-05-01" and stamps[-1] == "2011-05-14"
    job = {"timestamps": split.timestamps, "horizon": 14, "freq": "D"}
    assert list(future_index(job).strftime("%Y-%m-%d")) == stamps


def test_training_csv_carries_the_covariates_only_when_asked(tmp_path: Path) -> None:
    split = make_split("d", daily_frame(), "D", ("temp",), ("workingday",))
    plain = write_train_csv(split, tmp_path).read_text().splitlines()
    assert plain[0] == "timestamp,value" and len(plain) == 1 + split.cut
    wide = write_train_csv(split, tmp_path, covariates=True).read_text().splitlines()
    assert wide[0] == "timestamp,value,temp,workingday" and len(wide) == 1 + split.cut
    first = wide[1].split(",")
    assert first[0] == "2011-01-01" and float(first[3]) == 0.0  # a Saturday
    assert float(first[1]) == split.train[0] and float(first[2]) == split.covariates["temp"][0]


def test_gatecast_variants_get_their_flags() -> None:
    split = make_split("bikeshare_daily", daily_frame(), "D", ("temp",), ("workingday",))
    assert gatecast_flags(split, "gatecast_nocal") == ["--no-calendar"]
    assert gatecast_flags(split, "gatecast_cal") == []
    cov = ["--past-covariates", "temp", "--future-covariates", "workingday"]
    assert gatecast_flags(split, "gatecast_cov") == cov
    methods = methods_for(split)
    assert {"gatecast_nocal", "gatecast_cal", "gatecast_cov", "nf_lstm_exog"} <= set(methods)
    assert "snaive2" not in methods
    other = make_split("airline_monthly", daily_frame()["value"], "D")
    assert not {"gatecast_cal", "gatecast_cov", "darts_lstm_exog"} & set(methods_for(other))


def test_neuralforecast_frames_hold_only_the_history_and_the_known_future() -> None:
    n, horizon = 30, 4
    stamps = pd.date_range("2011-01-01", periods=n + horizon, freq="D")
    y = np.arange(n, dtype=float)
    hist = {"temp": 100 + np.arange(n, dtype=float)}
    futr = {"workingday": 200 + np.arange(n + horizon, dtype=float)}
    df, future = nf_frames(stamps, y, hist, futr, [10, 30], horizon)
    first = df[df["unique_id"] == "o0000010"]
    assert first["y"].tolist() == list(range(10))
    assert first["temp"].tolist() == [100 + k for k in range(10)]
    assert first["workingday"].tolist() == [200 + k for k in range(10)]
    assert future is not None and list(future.columns) == ["unique_id", "ds", "workingday"]
    last = future[future["unique_id"] == "o0000030"]
    assert last["ds"].tolist() == list(stamps[30:34])
    assert last["workingday"].tolist() == [230.0, 231.0, 232.0, 233.0]
    assert len(df) == 40 and len(future) == 8
    assert nf_frames(stamps, y, hist, {}, [10], horizon)[1] is None


def test_lstm_peers_get_gatecasts_calendar_features_and_the_covariates() -> None:
    split = make_split("d", daily_frame(), "D", ("temp",), ("workingday",))
    inputs = exog(split)
    assert list(inputs["past"]) == ["temp"]
    assert inputs["past"]["temp"] == split.covariates["temp"].tolist()
    names = ["workingday", "day_of_week_sin", "day_of_week_cos"]
    names += ["day_of_year_sin", "day_of_year_cos"]
    assert list(inputs["future"]) == names
    assert all(len(v) == 120 + 14 for v in inputs["future"].values())
    # Past the series' end a future covariate repeats its last value.
    assert inputs["future"]["workingday"][120:] == [split.covariates["workingday"][-1]] * 14
    stamps = split.future_timestamps()
    wall = torch.tensor([wall_seconds(dt.datetime.fromisoformat(t)) for t in stamps])
    same = calendar_features(wall, names[1:]).double().numpy()  # (134, 4)
    got = np.array([inputs["future"][n] for n in names[1:]]).T
    np.testing.assert_allclose(got, same, rtol=0, atol=1e-7)
    assert got[0, 0] == pytest.approx(math.sin(2 * math.pi * 5 / 7), abs=1e-6)  # a Saturday


class HorizonExog(torch.nn.Module):
    """A stand-in model that forecasts its first exogenous input over the horizon."""

    def forward(
        self,
        x: torch.Tensor,
        horizon: int = 1,
        h0: torch.Tensor | None = None,
        c0: torch.Tensor | None = None,
        loc: torch.Tensor | None = None,
        scale: torch.Tensor | None = None,
        exog: torch.Tensor | None = None,
        series: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """exog's first column at the horizon's steps, as the forecast."""
        assert exog is not None
        mean = exog[:, x.size(1) :, 0]  # (1, horizon)
        ones = torch.ones(1, 1)
        return mean, ones, ones, ones, ones


def test_gatecast_forecasts_never_read_a_past_covariate_from_their_horizon() -> None:
    meta = {"features": {"calendar": [], "past_covariates": ["temp"], "future_covariates": []}}
    silence_jit_deprecation()
    checkpoint = (torch.jit.script(HorizonExog()), meta)
    stamps = [f"2011-01-{d:02d}" for d in range(1, 11)]
    temp = np.arange(10, dtype=float)
    rows = gc.exog_matrix(checkpoint, stamps, {"temp": temp})
    assert rows is not None and rows.shape == (10, 1)
    got = gc.forecast(checkpoint, np.zeros(6), 3, (), rows[:9])
    assert got.mean.tolist() == [5.0, 5.0, 5.0]  # the last observed temp, not 6, 7, 8
    with pytest.raises(ValueError, match="covariates \\['temp'\\]"):
        gc.exog_matrix(checkpoint, stamps, {})
    assert gc.exog_matrix((checkpoint[0], {}), stamps, {"temp": temp}) is None
