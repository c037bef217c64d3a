"""Run one peer forecaster on one split, inside the peers' own virtual environment.

python bench/peers/peer_process.py JOB.json RESULT.json

Imports only numpy, pandas and the peer's package (never gatecast), because it runs under
the peers' interpreter. The job gives the gap-filled inputs, the cut, the horizon, the
season, the seed and the origins to recompute, and for the `_exog` methods the exogenous
inputs (`exog`: past columns over the series, future columns, calendar features included,
over the series and `horizon` steps beyond it); the result holds the one-step forecasts at
every test origin (fixed parameters, true history), the H-step forecast from the training
end, the recomputed forecasts from truncated histories, the fit's wall and CPU seconds (CPU time
is the fair measure on a shared machine) and the versions.
"""

import importlib.metadata
import json
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

Result = dict[str, Any]


def quiet() -> None:
    """Silence the peers' progress output and warnings; the result file says what matters."""
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "darts", "neuralforecast"):
        logging.getLogger(name).setLevel(logging.ERROR)


def one_thread() -> None:
    """One intra-op thread, like every other method in the benchmark."""
    import torch

    torch.set_num_threads(1)


TRAINER = {  # Lightning options that change no forecast: no progress bars, logs or summaries
    "accelerator": "cpu",
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "logger": False,
    "enable_checkpointing": False,
}


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of the given distributions."""
    return {p: importlib.metadata.version(p) for p in packages}


def statsforecast_model(job: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """AutoARIMA or AutoETS with the job's season and the settings the bench documents."""
    from statsforecast.models import AutoARIMA, AutoETS

    season, n = job["season"], job["cut"]
    if job["method"] == "autoarima":
        # R's auto.arima rule: the approximate search for long or long-season series.
        approximation = n > 150 or season > 12
        settings = {"season_length": season, "approximation": approximation}
        return AutoARIMA(**settings), settings
    # AutoETS keeps no seasonal states above a season of 24: it is non-seasonal there.
    settings = {"season_length": season if season <= 24 else 1}
    return AutoETS(**settings), settings


def run_statsforecast(job: dict[str, Any]) -> Result:
    """Fit on the training span; one-step fitted values with fixed parameters via forward."""
    y = np.asarray(job["inputs"], dtype=np.float64)
    cut, horizon = job["cut"], job["horizon"]
    model, settings = statsforecast_model(job)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(y[:cut])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    hstep = model.predict(h=horizon)["mean"]
    # forward keeps the fitted parameters and filters the whole series: fitted[t] uses y[:t].
    onestep = model.forward(y=y, h=1, fitted=True)["fitted"][cut:]
    check = {o: float(model.forward(y=y[:o], h=1)["mean"][0]) for o in job["check_origins"]}
    return {
        "onestep": onestep,
        "hstep": hstep,
        "check": check,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "settings": settings,
        "versions": versions("statsforecast"),
    }


def past_exog(job: dict[str, Any]) -> dict[str, np.ndarray]:
    """The job's past (historic) exogenous columns over the series; none for plain methods."""
    past = job.get("exog", {}).get("past", {})
    return {k: np.asarray(v, dtype=np.float64) for k, v in past.items()}


def future_exog(job: dict[str, Any]) -> dict[str, np.ndarray]:
    """The job's future exogenous columns over the series and `horizon` steps beyond it."""
    future = job.get("exog", {}).get("future", {})
    return {k: np.asarray(v, dtype=np.float64) for k, v in future.items()}


def future_index(job: dict[str, Any]) -> pd.DatetimeIndex:
    """The series' timestamps and the `horizon` steps after its end."""
    stamps = pd.to_datetime(job["timestamps"])
    more = pd.date_range(stamps[-1], periods=job["horizon"] + 1, freq=job["freq"])[1:]
    return pd.DatetimeIndex(stamps.append(more), freq=job["freq"])


def darts_chunk(season: int) -> int:
    """Input chunk: two seasons, clamped to 12..96."""
    return min(max(2 * season, 12), 96)


def run_darts(job: dict[str, Any]) -> Result:
    """Darts RNNModel(model="LSTM") on MinMax-scaled data (scaler fitted on the training span);
    the future exogenous columns go in as future_covariates, scaled the same way. RNNModel
    takes no past covariates, so a job's past columns are left out (the settings say so)."""
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import RNNModel

    one_thread()
    cut, horizon = job["cut"], job["horizon"]
    index = pd.DatetimeIndex(pd.to_datetime(job["timestamps"]), freq=job["freq"])
    series = TimeSeries.from_times_and_values(index, np.asarray(job["inputs"], dtype=np.float64))
    scaler = Scaler()
    train = scaler.fit_transform(series[:cut])
    full = scaler.transform(series)
    chunk = darts_chunk(job["season"])
    settings: dict[str, Any] = {
        "model": "LSTM",
        "input_chunk_length": chunk,
        "training_length": 2 * chunk,  # must exceed the input chunk; Darts' 12 -> 24 ratio
        "random_state": job["seed"],
    }
    settings |= job.get("settings", {}).get("darts", {})
    if job["quick"]:
        settings["n_epochs"] = 2
    futr = future_exog(job)
    covs: dict[str, Any] = {}
    inputs: dict[str, Any] = {}  # what went in besides the target, for the result
    if futr:
        names = sorted(futr)
        values = np.stack([futr[k] for k in names], axis=1)  # (n + H, F)
        raw_covs = TimeSeries.from_times_and_values(future_index(job), values, columns=names)
        cov_scaler = Scaler()
        cov_scaler.fit(raw_covs[:cut])  # like the target: fitted on the training span only
        covs["future_covariates"] = cov_scaler.transform(raw_covs)
        inputs = {"future_covariates": names, "past_covariates_left_out": sorted(past_exog(job))}
    model = RNNModel(**settings, pl_trainer_kwargs=dict(TRAINER))
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(train, verbose=False, **covs)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu

    def raw(ts: Any) -> np.ndarray:
        """Forecast values back in the data's units."""
        return np.asarray(scaler.inverse_transform(ts).values()[:, 0], dtype=np.float64)

    hstep = raw(model.predict(n=horizon, series=train, verbose=False, **covs))
    rolled = model.historical_forecasts(
        full,
        start=cut,
        start_format="position",
        forecast_horizon=1,
        retrain=False,
        last_points_only=True,
        verbose=False,
        **covs,
    )
    if rolled.start_time() != index[cut] or len(rolled) != len(index) - cut:
        raise RuntimeError(f"historical_forecasts covers {rolled.start_time()}, {len(rolled)}")
    check = {
        o: float(raw(model.predict(n=1, series=full[:o], verbose=False, **covs))[0])
        for o in job["check_origins"]
    }
    return {
        "onestep": raw(rolled),
        "hstep": hstep,
        "check": check,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "settings": settings | inputs,
        "versions": versions("darts", "torch"),
    }


def nf_frames(
    stamps: pd.DatetimeIndex,
    y: np.ndarray,
    hist: dict[str, np.ndarray],
    futr: dict[str, np.ndarray],
    ends: list[int],
    horizon: int,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """NeuralForecast's inputs for one history per end index, each named by its end: the
    history y[:end] with every exogenous column up to `end` (df), and the future exogenous
    columns at the `horizon` steps after it (futr_df; None without future columns)."""
    history, future = [], []
    for end in ends:
        uid = f"o{end:07d}"
        part = {"unique_id": uid, "ds": stamps[:end], "y": y[:end]}
        history.append(pd.DataFrame(part | {k: v[:end] for k, v in (hist | futr).items()}))
        ahead = {"unique_id": uid, "ds": stamps[end : end + horizon]}
        future.append(pd.DataFrame(ahead | {k: v[end : end + horizon] for k, v in futr.items()}))
    df = pd.concat(history, ignore_index=True)
    return df, pd.concat(future, ignore_index=True) if futr else None


def run_neuralforecast(job: dict[str, Any]) -> Result:
    """NeuralForecast LSTM(h=H) with its defaults; one-step = step 1 of a predict per origin.
    Past exogenous columns go in as hist_exog_list, future ones (calendar features included)
    as futr_exog_list with their values at the H steps after each history in futr_df."""
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    one_thread()
    cut, horizon = job["cut"], job["horizon"]
    stamps = future_index(job)  # the series' timestamps, then H more for futr_df
    y = np.asarray(job["inputs"], dtype=np.float64)
    hist, futr = past_exog(job), future_exog(job)
    settings: dict[str, Any] = {"h": horizon, "random_seed": job["seed"]}
    settings |= job.get("settings", {}).get("nf", {})
    if hist:
        settings["hist_exog_list"] = sorted(hist)
    if futr:
        settings["futr_exog_list"] = sorted(futr)
    if job["quick"]:
        settings["max_steps"] = 10
    nf = NeuralForecast(models=[LSTM(**settings, **TRAINER)], freq=job["freq"])

    def predict(ends: list[int]) -> pd.DataFrame:
        """NeuralForecast's forecast from each history inputs[:end]."""
        history, future = nf_frames(stamps, y, hist, futr, ends, horizon)
        out: pd.DataFrame = nf.predict(df=history, futr_df=future)
        return out

    def first_steps(ends: list[int]) -> list[float]:
        """Step 1 of the forecast from each history inputs[:end], in the order given."""
        out = predict(ends).groupby("unique_id").head(1)
        by_id = dict(zip(out["unique_id"], out["LSTM"], strict=True))
        return [float(by_id[f"o{end:07d}"]) for end in ends]

    start, cpu = time.perf_counter(), time.process_time()
    nf.fit(nf_frames(stamps, y, hist, futr, [cut], horizon)[0])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    hstep = predict([cut])["LSTM"].to_numpy(dtype=np.float64)
    origins = list(range(cut, len(y)))
    onestep: list[float] = []
    for k in range(0, len(origins), 50):  # 50 histories per predict call bounds the memory
        onestep += first_steps(origins[k : k + 50])
    check = {o: first_steps([o])[0] for o in job["check_origins"]}
    return {
        "onestep": onestep,
        "hstep": hstep,
        "check": check,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "settings": {**settings, "input_size": nf.models[0].input_size},
        "versions": versions("neuralforecast", "torch"),
    }


RUNNERS: dict[str, Callable[[dict[str, Any]], Result]] = {
    "autoarima": run_statsforecast,
    "autoets": run_statsforecast,
    "darts_lstm": run_darts,
    "nf_lstm": run_neuralforecast,
    "darts_lstm_exog": run_darts,
    "nf_lstm_exog": run_neuralforecast,
}


def plain(value: Any) -> Any:
    """JSON-ready: arrays to lists of floats, numpy scalars to floats, keys to strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return [plain(v) for v in list(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def main(argv: list[str]) -> int:
    """Run the job; write the result (or the error) as JSON; exit 1 on failure."""
    if len(argv) != 2:
        print("usage: python bench/peers/peer_process.py JOB.json RESULT.json", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        job = json.load(f)
    quiet()
    start = time.perf_counter()
    try:
        result = RUNNERS[job["method"]](job)
        code = 0
    except Exception as err:  # the report shows a failed peer and why, and goes on
        traceback.print_exc()
        result, code = {"error": f"{type(err).__name__}: {err}"[:500]}, 1
    result["wall_seconds"] = time.perf_counter() - start
    result["threads"] = {k: os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    with open(argv[1], "w") as out:
        json.dump(plain(result), out)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
