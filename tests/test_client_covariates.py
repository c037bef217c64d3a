"""The client against the real service on a model with calendar inputs, covariates and a
series embedding: a dated pandas Series and a covariate DataFrame in, dated results out,
equal to the raw JSON of the same request."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.http_client import request
from bench.server import Running, gunicorn
from gatecast_client import Client, GatecastError, Internals

OBSERVED, HORIZON = 20, 3


@pytest.fixture(scope="module")
def server(covariate_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """gunicorn (one worker) on the covariate model folder."""
    log = tmp_path_factory.mktemp("client-cov") / "gunicorn.log"
    env = {"GATECAST_WORKERS": "1"}
    with gunicorn(covariate_models, log, env=env, ready_path="/readyz") as srv:
        yield srv
        assert "Traceback" not in srv.log_text()


@pytest.fixture(scope="module")
def north(covariate_csv: Path) -> pd.DataFrame:
    """OBSERVED + HORIZON days of the north shop from day 40, indexed by date."""
    frame = pd.read_csv(covariate_csv, parse_dates=["date"])
    shop = frame[frame.series_id == "north"].set_index("date")
    return shop.iloc[40 : 40 + OBSERVED + HORIZON]


def test_dated_series_and_covariate_frame_give_a_dated_forecast(
    server: Running, north: pd.DataFrame
) -> None:
    seen = north.iloc[:OBSERVED]
    covariates = {"temp": seen["temp"].to_numpy(), "price": north["price"].to_numpy()}
    with Client(server.url) as client:
        got = client.forecast(
            seen["value"], HORIZON, covariates=covariates, series="north", internals="all"
        )
    want = request(
        server.port,
        "POST",
        "/forecast",
        {
            "sequence": seen["value"].tolist(),
            "timestamps": [t.date().isoformat() for t in seen.index],
            "covariates": {k: list(map(float, v)) for k, v in covariates.items()},
            "series": "north",
            "horizon": HORIZON,
            "internals": "all",
        },
    )
    assert want.status == 200, want.text()
    raw = want.json()
    assert isinstance(got.forecast, pd.Series)
    pd.testing.assert_index_equal(got.forecast.index, north.index[OBSERVED:].rename(None))
    np.testing.assert_allclose(got.forecast.to_numpy(), raw["forecast"], rtol=1e-6)
    assert isinstance(got.internals, Internals)
    assert got.internals.input_names == tuple(raw["internals"]["input_names"])
    assert got.internals.inputs is not None
    np.testing.assert_allclose(got.internals.inputs, raw["internals"]["inputs"], rtol=1e-6)


def test_a_missing_covariate_is_an_error_naming_it(server: Running, north: pd.DataFrame) -> None:
    seen = north.iloc[:OBSERVED]
    with Client(server.url) as client, pytest.raises(GatecastError) as caught:
        client.forecast(seen["value"], HORIZON, covariates={"temp": seen["temp"]}, series="north")
    assert caught.value.status == 400
    assert "covariates.price" in str(caught.value)
