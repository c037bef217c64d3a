"""Time and covariates in /forecast: timestamps in and out, covariates, series embedding."""

import csv
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from flask import Flask

from model.calendar import calendar_features, wall_seconds
from model.export import list_checkpoints
from service import ServiceConfig, create_app

HORIZON = 3
OBSERVED = 20


def rows(csv_path: Path, shop: str) -> list[dict[str, str]]:
    """One shop's rows of the CSV, in order."""
    with csv_path.open() as fh:
        return [r for r in csv.DictReader(fh) if r["series_id"] == shop]


def body_for(csv_path: Path, shop: str = "north", at: int = 40) -> dict[str, Any]:
    """A request for OBSERVED days of a shop from day `at`, with every input it reads."""
    got = rows(csv_path, shop)[at : at + OBSERVED + HORIZON]
    return {
        "sequence": [float(r["value"]) for r in got[:OBSERVED]],
        "timestamps": [r["date"] for r in got[:OBSERVED]],
        "covariates": {
            "temp": [float(r["temp"]) for r in got[:OBSERVED]],
            "price": [float(r["price"]) for r in got],
        },
        "series": shop,
        "horizon": HORIZON,
        "internals": "none",
    }


def post(app: Flask, body: dict[str, Any]) -> tuple[int, Any]:
    """POST /forecast; the status and the JSON answer."""
    r = app.test_client().post("/forecast", json=body)
    return r.status_code, r.get_json()


def test_the_forecast_carries_the_dates_of_its_steps(shops: Flask, covariate_csv: Path) -> None:
    body = body_for(covariate_csv)
    status, got = post(shops, body)
    assert status == 200, got
    last = dt.date.fromisoformat(body["timestamps"][-1])
    assert got["timestamps"] == [(last + dt.timedelta(days=k)).isoformat() for k in (1, 2, 3)]
    assert len(got["forecast"]) == HORIZON


def test_start_and_the_frequency_give_the_same_forecast(shops: Flask, covariate_csv: Path) -> None:
    body = body_for(covariate_csv)
    _, given = post(shops, body)
    start = {**body, "start": body["timestamps"][0]}
    del start["timestamps"]
    status, counted = post(shops, start)
    assert status == 200, counted
    assert counted["forecast"] == given["forecast"]
    assert counted["timestamps"] == given["timestamps"]


def test_without_time_there_are_no_timestamps_and_the_calendar_is_neutral(
    shops: Flask, covariate_csv: Path
) -> None:
    body = body_for(covariate_csv)
    del body["timestamps"]
    status, got = post(shops, body)
    assert status == 200, got
    assert "timestamps" not in got
    _, timed = post(shops, body_for(covariate_csv))
    assert got["forecast"] != timed["forecast"]  # the calendar inputs do reach the model


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda b: b["timestamps"].__setitem__(5, b["timestamps"][4]), "timestamps", "duplicate"),
        (lambda b: b["timestamps"].__setitem__(5, "2024-03-30"), "timestamps", "off the model"),
        (lambda b: b["timestamps"].__setitem__(2, "the 3rd"), "timestamps", "ISO 8601"),
        (lambda b: b["timestamps"].pop(), "timestamps", "19 times for 20 values"),
        (lambda b: b["covariates"].__setitem__("rain", [0.0] * 20), "covariates.rain", "no covar"),
        (lambda b: b["covariates"].pop("price"), "covariates.price", "missing"),
        (lambda b: b["covariates"]["price"].pop(), "covariates.price", "expected 23"),
        (lambda b: b["covariates"]["temp"].append(1.0), "covariates.temp", "expected 20"),
        (lambda b: b.__setitem__("series", "east"), "series", "unknown series 'east'"),
        (lambda b: b.pop("series"), "series", "series embedding"),
    ],
)
def test_bad_time_or_covariates_get_a_400_naming_the_field(
    shops: Flask, covariate_csv: Path, change: Any, field: str, words: str
) -> None:
    body = body_for(covariate_csv)
    change(body)
    status, got = post(shops, body)
    assert status == 400, got
    assert got["error"]["field"] == field
    assert words in got["error"]["message"]


def test_a_covariate_changes_the_forecast(shops: Flask, covariate_csv: Path) -> None:
    body = body_for(covariate_csv)
    _, base = post(shops, body)
    for name in ("price", "temp"):
        moved = body_for(covariate_csv)
        moved["covariates"][name] = [v + 5.0 for v in moved["covariates"][name]]
        status, got = post(shops, moved)
        assert status == 200, got
        assert (
            max(abs(a - b) for a, b in zip(got["forecast"], base["forecast"], strict=True)) > 1e-3
        )


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_the_checkpoint_scales_covariates_itself(
    shops: Flask, covariate_models: Path, covariate_csv: Path
) -> None:
    """torch.jit.load alone, fed raw covariates and calendar inputs, forecasts as the service."""
    body = body_for(covariate_csv, shop="south")
    _, want = post(shops, body)
    path = list_checkpoints(covariate_models)["shops"][-1]
    module = torch.jit.load(str(path))
    days = [dt.datetime.fromisoformat(t) for t in body["timestamps"]]
    days += [days[-1] + dt.timedelta(days=k) for k in range(1, HORIZON + 1)]
    wall = torch.tensor([wall_seconds(t) for t in days])
    names = ["day_of_week_sin", "day_of_week_cos", "day_of_year_sin", "day_of_year_cos"]
    temp = body["covariates"]["temp"]
    exog = torch.cat(
        [
            calendar_features(wall, names),
            torch.tensor(temp + [temp[-1]] * HORIZON).unsqueeze(1),
            torch.tensor(body["covariates"]["price"]).unsqueeze(1),
        ],
        dim=1,
    ).unsqueeze(0)  # (1, T + H, E) raw
    x = torch.tensor([body["sequence"]])
    series = torch.tensor([1])  # "south": the second series trained
    with torch.no_grad():
        forecast = module.forward(x, HORIZON, None, None, None, None, exog, series)[0]
    np.testing.assert_allclose(forecast[0].numpy(), want["forecast"], rtol=1e-5, atol=1e-4)


def test_internals_show_the_input_vector_of_each_step(shops: Flask, covariate_csv: Path) -> None:
    body = {**body_for(covariate_csv), "internals": "all", "return_state": True}
    status, got = post(shops, body)
    assert status == 200, got
    inside = got["internals"]
    assert inside["input_names"] == [
        "value",
        "day_of_week_sin",
        "day_of_week_cos",
        "day_of_year_sin",
        "day_of_year_cos",
        "temp",
        "price",
        "series_0",
        "series_1",
    ]
    inputs = np.array(inside["inputs"])  # (steps, inputs)
    assert inputs.shape == (inside["steps"], 9)
    run = got["context"]["steps"]
    seen = np.array(body["sequence"][-run:])
    loc, scale = got["state"]["loc"], got["state"]["scale"]
    np.testing.assert_allclose(inputs[:, 0], (seen - loc) / scale, rtol=1e-5, atol=1e-5)
    days = [wall_seconds(dt.datetime.fromisoformat(t)) for t in body["timestamps"][-run:]]
    calendar = calendar_features(torch.tensor(days), inside["input_names"][1:5]).numpy()
    np.testing.assert_allclose(inputs[:, 1:5], calendar, atol=1e-6)
    last = {**body, "internals": "last"}
    _, tail = post(shops, last)
    np.testing.assert_allclose(tail["internals"]["inputs"], inputs[-1:], atol=1e-6)


def test_models_lists_frequency_and_features(shops: Flask) -> None:
    listing = shops.test_client().get("/models").get_json()
    version = listing["models"][0]["versions"][0]
    assert version["frequency"] == "D"
    assert version["features"] == {
        "calendar": ["day_of_week_sin", "day_of_week_cos", "day_of_year_sin", "day_of_year_cos"],
        "past_covariates": ["temp"],
        "future_covariates": ["price"],
        "series": ["north", "south"],
    }


def test_batched_requests_with_covariates_match_unbatched(
    shops: Flask, covariate_models: Path, covariate_csv: Path
) -> None:
    bodies = [body_for(covariate_csv, shop, at) for shop, at in (("north", 10), ("south", 30))]
    bodies.append(
        {
            "sequences": [body_for(covariate_csv, "south", 50)["sequence"]] * 2,
            "timestamps": [body_for(covariate_csv, "south", 50)["timestamps"]] * 2,
            "covariates": [
                body_for(covariate_csv, "south", 50)["covariates"],
                body_for(covariate_csv, "north", 50)["covariates"],
            ],
            "series": ["south", "north"],
            "horizon": HORIZON,
            "internals": "none",
        }
    )
    batched = create_app(
        ServiceConfig(
            model_dir=str(covariate_models), poll_seconds=0, batch_max=8, batch_delay_us=1_000_000
        )
    )
    answers: list[Any] = [None] * len(bodies)

    def one(k: int) -> None:
        answers[k] = post(batched, bodies[k])

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = batched.test_client().get("/metrics").get_data(as_text=True)
    batched.extensions["gatecast"].registry.close()
    assert "gatecast_batch_requests_sum 3.0" in text  # one call for all three
    for (status, got), body in zip(answers, bodies, strict=True):
        assert status == 200, got
        _, want = post(shops, body)
        np.testing.assert_allclose(
            np.array(got["forecast"]), np.array(want["forecast"]), rtol=1e-5, atol=1e-5
        )
        assert got["timestamps"] == want["timestamps"]


def test_a_model_of_timestamped_data_counts_months_from_a_start(client) -> None:
    r = client.post(
        "/forecast",
        json={"model": "tiny", "sequence": [100.0 + k for k in range(12)], "start": "1990-01-01"},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["timestamps"] == ["1991-01-01"]


def test_a_model_without_frequency_continues_the_step_it_is_given(client) -> None:
    body = {"model": "article-cell", "sequence": [1.0, 0.5], "internals": "none"}
    times = ["2024-01-01T00:00:00+02:00", "2024-01-01T00:10:00+02:00"]
    r = client.post("/forecast", json={**body, "horizon": 2, "timestamps": times})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["timestamps"] == ["2024-01-01T00:20:00+02:00", "2024-01-01T00:30:00+02:00"]
    plain = client.post("/forecast", json={**body, "horizon": 2}).get_json()
    assert r.get_json()["forecast"] == plain["forecast"]
    r = client.post("/forecast", json={**body, "start": "2024-01-01"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "start"
