"""gatecast-forecast with a model of calendar inputs, covariates and a series embedding: the
service's inputs from the CSV (future covariates from the rows after the last value), the
service's forecasts, and bad data refused in one line."""

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask

from model.export import list_checkpoints
from scripts import forecast
from scripts.pipeline import bulk
from service import inference
from tests.test_bulk_forecast import with_flags

HORIZON = 3
OBSERVED = 60  # days of each shop the CSV gives values of
SHOPS = ("north", "south")


def days_of(covariate_csv: Path, shop: str) -> list[dict[str, str]]:
    """One shop's rows of the session's covariate CSV, in order."""
    with covariate_csv.open() as fh:
        return [r for r in csv.DictReader(fh) if r["series_id"] == shop]


def write_data(
    path: Path,
    covariate_csv: Path,
    ahead: dict[str, int] | None = None,
    columns: tuple[str, ...] = ("series_id", "date", "value", "price", "temp"),
    names: dict[str, str] | None = None,
    every: int = 1,
) -> Path:
    """A long CSV of OBSERVED days per shop, then `ahead[shop]` rows (HORIZON by default)
    with the price alone: the horizon's future covariate, no value, no temperature."""
    lines = [",".join(columns)]
    for shop in SHOPS:
        got = days_of(covariate_csv, shop)[: OBSERVED + 10 : every]
        seen = len(got[: OBSERVED // every])
        more = HORIZON if ahead is None else ahead[shop]
        for k, row in enumerate(got[: seen + more]):
            row = {**row, "series_id": (names or {}).get(shop, shop)}
            if k >= seen:
                row = {**row, "value": "", "temp": ""}
            lines.append(",".join(row[c] for c in columns))
    path.write_text("\n".join(lines) + "\n")
    return path


def args_for(data: Path, models: Path, out: Path, *more: str) -> list[str]:
    """The command line for the 'shops' model, horizon HORIZON."""
    return [
        *("--data", str(data), "--model-dir", str(models), "--name", "shops"),
        *("--output", str(out), "--horizon", str(HORIZON), "--quiet", *more),
    ]


def body_for(covariate_csv: Path, shop: str, internals: str = "none") -> dict[str, Any]:
    """The /forecast request for the same shop: its whole history, times and covariates."""
    got = days_of(covariate_csv, shop)
    return {
        "sequence": [float(r["value"]) for r in got[:OBSERVED]],
        "timestamps": [r["date"] for r in got[:OBSERVED]],
        "covariates": {
            "temp": [float(r["temp"]) for r in got[:OBSERVED]],
            "price": [float(r["price"]) for r in got[: OBSERVED + HORIZON]],
        },
        "series": shop,
        "horizon": HORIZON,
        "internals": internals,
    }


def post(app: Flask, body: dict[str, Any]) -> dict[str, Any]:
    """POST /forecast; the JSON answer of a 200."""
    r = app.test_client().post("/forecast", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def read_forecasts(path: Path) -> dict[str, list[float]]:
    """Each series' forecast from the output table."""
    out: dict[str, list[float]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["series"], []).append(float(row["forecast"]))
    return out


def test_forecasts_equal_the_service_given_times_and_covariates(
    shops: Flask, covariate_models: Path, covariate_csv: Path, tmp_path: Path
) -> None:
    data = write_data(tmp_path / "shops.csv", covariate_csv)
    out, gates = tmp_path / "f.csv", tmp_path / "gates.npz"
    assert forecast.main(args_for(data, covariate_models, out, "--internals", str(gates))) == 0
    got = read_forecasts(out)
    assert list(got) == list(SHOPS)
    with np.load(gates) as f:
        inputs, names, steps = f["inputs"], [str(n) for n in f["input_names"]], f["steps"]
    assert names[0] == "value" and names[5:] == ["temp", "price", "series_0", "series_1"]
    for i, shop in enumerate(SHOPS):
        want = post(shops, body_for(covariate_csv, shop, internals="all"))
        np.testing.assert_allclose(got[shop], want["forecast"], rtol=0, atol=1e-5)
        # The input vector of each step, calendar and covariates included, as the service's.
        seen = inputs[i, inputs.shape[1] - steps[i] :]  # (steps, I)
        assert seen.shape == (want["internals"]["steps"], len(names))
        np.testing.assert_allclose(seen, want["internals"]["inputs"], rtol=0, atol=1e-5)


def test_the_calendar_and_covariates_reach_the_model(
    covariate_models: Path, covariate_csv: Path, tmp_path: Path
) -> None:
    """The forecasts are not those of zero calendar inputs and zero covariates."""
    data = write_data(tmp_path / "shops.csv", covariate_csv)
    out = tmp_path / "f.csv"
    assert forecast.main(args_for(data, covariate_models, out)) == 0
    got = read_forecasts(out)
    model = bulk.open_checkpoint(list_checkpoints(covariate_models)["shops"][-1])
    need = bulk.observed_need(model)
    for k, shop in enumerate(SHOPS):
        values = [float(r["value"]) for r in days_of(covariate_csv, shop)[:OBSERVED]]
        x = np.array(values[-need:], dtype=np.float32)  # (T,)
        ids = np.array([k], dtype=np.int64)
        bare = inference.run(model.module, [x], HORIZON, "none", None, None, False, model.traits)
        named = inference.run(
            model.module, [x], HORIZON, "none", None, None, False, model.traits, None, ids
        )
        for zero in (bare[0].forecast, named[0].forecast):
            assert np.abs(np.array(got[shop]) - zero).max() > 1e-3


def test_a_future_covariate_over_the_horizon_changes_the_forecast(
    covariate_models: Path, covariate_csv: Path, tmp_path: Path
) -> None:
    data = write_data(tmp_path / "shops.csv", covariate_csv)
    out = tmp_path / "f.csv"
    assert forecast.main(args_for(data, covariate_models, out)) == 0
    lines = data.read_text().splitlines()
    last = lines[-1].split(",")  # south's last horizon row: its price, changed
    last[3] = str(float(last[3]) + 5)
    data.write_text("\n".join([*lines[:-1], ",".join(last)]) + "\n")
    moved = tmp_path / "moved.csv"
    assert forecast.main(args_for(data, covariate_models, moved)) == 0
    before, after = read_forecasts(out), read_forecasts(moved)
    assert before["north"] == after["north"]
    assert np.abs(np.array(before["south"]) - after["south"]).max() > 1e-4


BAD = [
    (
        "no timestamps",
        {"columns": ("series_id", "value", "price", "temp")},
        (),
        "series 'north' has no timestamps; this model reads calendar inputs (day_of_week_sin, "
        "day_of_week_cos, day_of_year_sin, day_of_year_cos): give the data a time column",
    ),
    (
        "no covariate column",
        {"columns": ("series_id", "date", "value", "price")},
        (),
        "no covariate column 'temp'; columns: series_id, date, value, price",
    ),
    (
        "horizon not covered",
        {"ahead": {"north": 3, "south": 1}},
        (),
        "series 'south': the future covariates (price) need 3 rows after its last value, one "
        "per horizon step; found 1",
    ),
    (
        "no horizon rows",
        {"ahead": {"north": 0, "south": 3}},
        (),
        "series 'north': the future covariates (price) need 3 rows after its last value, one "
        "per horizon step; found 0",
    ),
    (
        "unknown series",
        {"names": {"south": "east"}},
        (),
        "series 'east' is not in this model's series embedding (it knows 'north', 'south'); "
        "forecast it with a model trained on it",
    ),
    (
        "another frequency",
        {"every": 2},
        (),
        "series 'north' has frequency 2D, this model reads calendar inputs on its 'D' grid",
    ),
    (
        "other covariates named",
        {},
        ("--past-covariates", "price"),
        "this model reads past covariates temp and future covariates price: leave out "
        "--past-covariates and --future-covariates",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_data_one_line_exit_2(
    case: Any, covariate_models: Path, covariate_csv: Path, tmp_path: Path, capsys: Any
) -> None:
    _, layout, extra, message = case
    data = write_data(tmp_path / "shops.csv", covariate_csv, **layout)
    out = tmp_path / "f.csv"
    args = with_flags(args_for(data, covariate_models, out), extra)
    assert forecast.main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("gatecast-forecast: error: ") and lines[0].endswith(message)
    assert not out.exists()
