"""The gate explorer with time and covariates: the form asks for what the model reads, and
the results show the covariates, the forecast's dates and the input weights (pytest -m browser).
"""

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.support.ui import Select

from bench.http_client import request
from bench.server import Running, gunicorn
from tests.e2e.cases import SEQ, SHOTS, api_forecast, approx, plot_values, run, typed
from tests.e2e.live import Explorer

pytestmark = pytest.mark.browser

OBSERVED, HORIZON = 20, 3
GATES = ["input_gate", "forget_gate", "candidate", "output_gate"]


@pytest.fixture(scope="module")
def covariate_server(
    covariate_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """The service on the covariate model 'shops' (calendar, temp past, price future)."""
    log = tmp_path_factory.mktemp("covariates") / "gunicorn.log"
    with gunicorn(
        covariate_models, log, env={"GATECAST_WORKERS": "1"}, ready_path="/readyz"
    ) as srv:
        yield srv


@pytest.fixture
def page(driver: Chrome, covariate_server: Running) -> Iterator[Explorer]:
    """The page on the covariate service, freshly loaded at 1280x800."""
    explorer = Explorer(driver, covariate_server.url + "/")
    explorer.reset_viewport()
    driver.get_log("browser")  # drop what earlier tests logged
    explorer.open()
    yield explorer
    explorer.reset_viewport()


def get(server: Running, path: str) -> Any:
    """A GET the page makes too, straight to the API."""
    reply = request(server.port, "GET", path)
    assert reply.status == 200, reply.text()
    return reply.json()


def shop_rows(covariate_csv: Path) -> list[dict[str, str]]:
    """North's rows from day 40: OBSERVED with values, then HORIZON with price alone."""
    with covariate_csv.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["series_id"] == "north"]
    return rows[40 : 40 + OBSERVED + HORIZON]


def weight_cells(page: Explorer) -> dict[str, list[list[float]]]:
    """The weight view's cells, gate -> units x inputs (signed weights, from data-value)."""
    found = page.js(
        """return Object.fromEntries([...document.querySelectorAll('figure.weight-map')].map(f =>
          [f.dataset.gate, [...f.querySelectorAll('tbody tr')].map(tr =>
            [...tr.querySelectorAll('td')].map(td => Number(td.dataset.value)))]));"""
    )
    return dict(found)


def test_covariates_dates_and_weights(
    page: Explorer, covariate_server: Running, tmp_path: Path, covariate_csv: Path
) -> None:
    page.choose_model("shops")
    assert page.find("#exog-box").is_displayed()
    fields = page.find_all("#covariate-fields .covariate")
    assert [(f.get_attribute("data-covariate"), f.get_attribute("data-kind")) for f in fields] == [
        ("temp", "past"),
        ("price", "future"),
    ]
    rows = shop_rows(covariate_csv)
    values = [float(r["value"]) for r in rows[:OBSERVED]]
    prices = [float(r["price"]) for r in rows]
    temps = [float(r["temp"]) for r in rows[:OBSERVED]]
    dates = [r["date"] for r in rows[:OBSERVED]]

    # Typed: a future covariate without the horizon's values is called out before sending.
    page.fill("#sequence", typed(values))
    page.fill("#horizon", str(HORIZON))
    page.fill("#covariate-1", typed(prices[:OBSERVED]))
    hint = page.find("#covariate-1-hint").text
    assert hint.startswith("Missing 3 values for the forecast's steps") and "20 + 3 = 23" in hint
    assert page.find("#covariate-0-hint").text.startswith("Required: this model reads it.")
    page.forecast()
    assert page.error().startswith("covariates.")  # the API names the covariate at fault
    page.driver.get_log("browser")  # drop the refused request's network line

    # A CSV with the model's column names; rows after the last value carry the price ahead.
    lines = ["date,value,price,temp"]
    for k, r in enumerate(rows):
        value, temp = (r["value"], r["temp"]) if k < OBSERVED else ("", "")
        lines.append(f"{r['date']},{value},{r['price']},{temp}")
    path = tmp_path / "north.csv"
    path.write_text("\n".join(lines) + "\n")
    page.find("#csv-file").send_keys(str(path))
    page.wait(lambda d: "north.csv" in page.find("#csv-note").text)
    note = page.find("#csv-note").text
    assert "covariates from columns “temp”, “price”" in note
    assert "3 rows after the last value: future covariates only" in note
    assert page.find("#sequence").get_attribute("value") == ", ".join(
        r["value"] for r in rows[:OBSERVED]
    )
    assert (page.find("#timestamps").get_attribute("value") or "").split("\n") == dates
    assert page.find("#covariate-1-hint").text.startswith("23 values.")
    Select(page.find("#series")).select_by_value("north")
    page.forecast()
    assert page.error() == ""

    assert get(covariate_server, "/models/shops")["versions"][0]["intervals"]  # 0.9 was sent
    expected = api_forecast(
        covariate_server,
        model="shops",
        sequence=values,
        timestamps=dates,
        covariates={"temp": temps, "price": prices},
        series="north",
        horizon=HORIZON,
        interval=0.9,
    )
    assert plot_values(page, "#series-chart", "forecast") == approx(expected["forecast"])
    # The forecast's dates: on the axis, in the list under the chart and in the readout.
    stamps = expected["timestamps"]
    assert [s[:10] for s in stamps] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    labels = [p.get_attribute("data-label") for p in page.find_all("#series-chart circle.point")]
    assert labels[0] == "2024-02-10" and labels[OBSERVED:] == [s[:10] for s in stamps]
    items = page.find_all("#forecast-dates li")
    assert [i.get_attribute("data-time") for i in items] == stamps
    assert page.find("#step-readout .next").get_attribute("data-time") == stamps[0]
    assert "forecast 1 for 2024-03-01" in page.find("#step-readout .step-head").text
    # The covariates as sent, one chart each, on the series chart's positions.
    charts = page.find_all("figure.covariate-chart")
    assert [c.get_attribute("data-covariate") for c in charts] == ["temp", "price"]
    assert plot_values(page, 'figure[data-covariate="temp"]') == approx(temps)
    assert plot_values(page, 'figure[data-covariate="price"]') == approx(prices)
    price_x = [
        p.get_attribute("data-x")
        for p in page.find_all('figure[data-covariate="price"] circle.point')
    ]
    assert price_x == [str(x) for x in range(OBSERVED + HORIZON)]
    marks = {
        c.get_attribute("data-selected-step")
        for c in page.find_all("figure.covariate-chart .chart")
    }
    assert marks == {page.find("#results").get_attribute("data-selected-step")}

    # How strongly each input drives each gate: the service's weights, layer 1.
    weights = get(covariate_server, f"/models/shops/versions/{expected['version']}/input-weights")
    layer = weights["layers"][0]
    page.wait(lambda d: len(page.find_all("figure.weight-map")) == 4)
    heads = page.find_all('figure.weight-map[data-gate="input_gate"] thead th.input-name')
    assert [h.get_attribute("title") for h in heads] == layer["inputs"]
    assert layer["inputs"][0] == "value" and {"temp", "price"} <= set(layer["inputs"])
    cells = weight_cells(page)
    gates = [f.get_attribute("data-gate") for f in page.find_all("figure.weight-map")]
    assert gates == GATES and set(cells) == set(GATES)
    for gate in GATES:
        assert cells[gate] == layer[gate]  # the JSON numbers, through the page unchanged
    page.screenshot(SHOTS / "explorer-covariates.png")

    # Only the first value's time: the API counts the others at the model's frequency.
    page.fill("#timestamps", dates[0])
    page.forecast()
    assert page.error() == ""
    items = page.find_all("#forecast-dates li")
    assert [i.get_attribute("data-time") for i in items] == stamps
    assert [i.text.split()[0] for i in items] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert [e for e in page.driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_values_only_models_keep_their_form_and_weigh_each_layer(
    explorer: Explorer, live_server: Running
) -> None:
    explorer.choose_model("tiny")
    assert not explorer.find("#exog-box").is_displayed()
    run(explorer, "tiny", typed(SEQ[-12:]), "2")
    assert explorer.error() == ""
    assert not explorer.find("#covariates").is_displayed()
    assert not explorer.find("#forecast-dates").is_displayed()
    version = explorer.find("#summary").text.split(" · ")[1].removeprefix("version ")
    weights = get(live_server, f"/models/tiny/versions/{version}/input-weights")
    explorer.wait(lambda d: len(explorer.find_all("figure.weight-map")) == 4)
    options = Select(explorer.find("#weights-layer")).options
    assert [o.text for o in options] == ["Layer 1", "Layer 2"]
    assert weight_cells(explorer) == {g: weights["layers"][0][g] for g in GATES}
    Select(explorer.find("#weights-layer")).select_by_value("1")
    explorer.wait(lambda d: explorer.find("#weight-maps").get_attribute("data-layer") == "1")
    heads = explorer.find_all('figure.weight-map[data-gate="forget_gate"] thead th.input-name')
    assert [h.text for h in heads] == [f"h{u + 1}" for u in range(8)]
    assert [h.get_attribute("title") for h in heads] == weights["layers"][1]["inputs"]
    assert weight_cells(explorer) == {g: weights["layers"][1][g] for g in GATES}
    assert "reads the hidden state of layer 1" in explorer.find("#weights-hint").text
