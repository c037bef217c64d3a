"""The gate explorer in headless Chromium: errors, the article cell, small screens, CSV upload
and API keys (pytest -m browser)."""

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from bench.http_client import request
from bench.server import Running, gunicorn
from tests.e2e.cases import (
    ARTICLE,
    KEY,
    LONG,
    READOUT_JS,
    SEQ,
    SHOTS,
    api_forecast,
    approx,
    plot_values,
    run,
    typed,
)
from tests.e2e.live import Explorer

pytestmark = pytest.mark.browser


def test_refused_requests_show_the_api_message(explorer: Explorer, live_server: Running):
    explorer.choose_model("tiny")
    zeros = [[0] * 8, [0] * 8]
    cases: list[tuple[str, str, str, dict[str, Any]]] = [
        ("1, 2, x, 4", "2", "", {"sequence": [1, 2, "x", 4], "horizon": 2}),
        (typed(SEQ), "100000", "", {"sequence": SEQ, "horizon": 100000}),
        (
            typed(SEQ),
            "2",
            "1 2",
            {"sequence": SEQ, "horizon": 2, "state": {"c": [[1, 2]], "h": zeros}},
        ),
    ]
    explorer.find("#state-box summary").click()
    messages = []
    for sequence, horizon, cell, body in cases:
        explorer.fill("#sequence", sequence)
        explorer.fill("#horizon", horizon)
        explorer.fill("#state-c-matrix", cell)
        explorer.forecast()
        body = {"model": "tiny", "interval": 0.9, **body}
        reply = request(live_server.port, "POST", "/forecast", body)
        assert reply.status == 400
        messages.append(reply.json()["error"]["message"])
        assert explorer.error() == messages[-1]
        assert explorer.find("#status").text == "The forecast was refused."
    assert messages[0].startswith("sequence.2: ")
    assert messages[1] == "horizon: Input should be less than or equal to 256"
    assert messages[2] == "state: h and c must be 2 layers x 8 units for this model"
    # Fixing the input clears the message.
    explorer.fill("#state-c-matrix", "")
    explorer.forecast()
    assert explorer.error() == "" and explorer.find("#output").is_displayed()


def test_article_cell_replays_the_worked_example(explorer: Explorer, live_server: Running):
    explorer.choose_model("article-cell")
    assert explorer.find("#interval").get_attribute("disabled") is not None  # no interval data
    explorer.find("#state-box summary").click()
    assert explorer.find("#state-one").is_displayed()
    assert not explorer.find("#state-many").is_displayed()
    assert explorer.find('label[for="state-c"]').text == "Long-term memory"
    assert explorer.find('label[for="state-h"]').text == "Short-term memory"
    explorer.fill("#state-c", "2")
    explorer.fill("#state-h", "1")
    run(explorer, "article-cell", "1", "1")
    assert explorer.error() == ""
    shown = {quantity: value for _, quantity, _, value in explorer.js(READOUT_JS)}
    assert shown == {q: pytest.approx(v, abs=1e-4) for q, v in ARTICLE.items()}
    readout = explorer.find("#step-readout").text
    for text in ("Forget gate\n0.99925", "Long-term memory (cell state)\n2.92299", "0.98930"):
        assert text in readout
    captions = [e.text for e in explorer.find_all("figure.unit-plot figcaption")]
    assert captions == [
        "Forget gate",
        "Input gate",
        "Candidate: potential long-term memory",
        "Output gate",
        "Long-term memory (cell state) and short-term memory (hidden state)",
    ]
    assert explorer.find_all("figure.heatmap") == []
    colours = {  # the article's colours: blue, green, yellow, gray; green and red lines
        "forget_gate": "#1f6fc5",
        "input_gate": "#2e8b3a",
        "candidate": "#a87a00",
        "output_gate": "#6b7078",
    }
    for quantity, colour in colours.items():
        dot = explorer.find(f'figure.unit-plot[data-quantity="{quantity}"] circle.point')
        assert dot.get_attribute("fill") == colour
        assert float(dot.get_attribute("data-value") or "") == pytest.approx(
            ARTICLE[quantity], abs=1e-4
        )

    # A longer sequence from the same state: its first step is the worked example again.
    run(explorer, "article-cell", typed(LONG), "4")
    expected = api_forecast(
        live_server,
        model="article-cell",
        sequence=LONG,
        horizon=4,
        state={"c": [[2]], "h": [[1]]},
    )
    layer = expected["internals"]["layers"][0]
    for quantity in colours:
        figure = f'figure.unit-plot[data-quantity="{quantity}"]'
        assert plot_values(explorer, figure) == approx([row[0] for row in layer[quantity]])
    memories = 'figure.unit-plot[data-quantity="cell_state hidden_state"]'
    long_term = plot_values(explorer, memories, "long-term memory")
    assert long_term == approx([row[0] for row in layer["cell_state"]])
    short_term = plot_values(explorer, memories, "short-term memory")
    assert short_term == approx([row[0] for row in layer["hidden_state"]])
    assert plot_values(explorer, "#series-chart", "forecast") == approx(expected["forecast"])
    explorer.find("#step").send_keys(Keys.HOME)
    shown = {quantity: value for _, quantity, _, value in explorer.js(READOUT_JS)}
    assert shown == {q: pytest.approx(v, abs=1e-4) for q, v in ARTICLE.items()}
    explorer.screenshot(SHOTS / "explorer-article-cell.png")


def test_narrow_screen_has_no_horizontal_scroll(explorer: Explorer):
    def fits() -> bool:
        """Nothing sticks out of a 390 px page, and the page does not scroll sideways."""
        right = explorer.js(
            "return Math.max(...[...document.querySelectorAll('svg, canvas, table, input, select,"
            " textarea, button')].map(e => e.getBoundingClientRect().right))"
        )
        return right <= 390 and explorer.js("return document.documentElement.scrollWidth") <= 390

    # Drawn wide, then the window narrows: the charts are drawn again to fit.
    run(explorer, "tiny", typed(SEQ), "6")
    assert explorer.error() == "" and not fits()
    explorer.viewport(390, 844, mobile=True)
    explorer.wait(lambda d: fits())
    # Loaded narrow.
    explorer.open()
    assert explorer.js("return window.innerWidth") == 390
    for model, sequence, horizon in [("tiny", typed(SEQ), "6"), ("article-cell", typed(LONG), "3")]:
        run(explorer, model, sequence, horizon)
        assert explorer.error() == ""
        assert fits()
    # One column: the form comes first, the results below it.
    form = explorer.find("#forecast-form").rect
    results = explorer.find("#results").rect
    assert results["y"] >= form["y"] + form["height"]


def write(path: Path, lines: list[str]) -> str:
    """A CSV file for the upload field."""
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_csv_upload_puts_time_on_the_x_axis(explorer: Explorer, tmp_path: Path):
    explorer.choose_model("tiny")
    months = [f"{1949 + k // 12}-{k % 12 + 1:02d}" for k in range(24)]
    values = [str(round(112 + 3 * k + 8 * math.sin(k / 2), 1)) for k in range(24)]
    monthly = [f"{m},{v}" for m, v in zip(months, values, strict=True)]
    explorer.find("#csv-file").send_keys(
        write(tmp_path / "air.csv", ["month,passengers", *monthly])
    )
    explorer.wait(lambda d: explorer.find("#csv-options").is_displayed())
    assert explorer.find("#csv-header").is_selected()
    assert Select(explorer.find("#csv-time")).first_selected_option.text == "month (dates)"
    assert Select(explorer.find("#csv-value")).first_selected_option.text == "passengers (numbers)"
    assert explorer.find("#sequence").get_attribute("value") == ", ".join(values)
    note = explorer.find("#csv-note").text
    assert "24 values from air.csv" in note and "(step 1 month)" in note
    explorer.fill("#horizon", "3")
    explorer.forecast()
    assert explorer.error() == ""
    labels = [
        p.get_attribute("data-label") for p in explorer.find_all("#series-chart circle.point")
    ]
    assert labels[0] == "1949-01" and labels[23] == "1950-12"
    assert labels[24:] == ["1951-01", "1951-02", "1951-03"]
    assert "at 1950-12" in explorer.find("#step-readout .step-head").text

    # Two numeric columns and daily dates over a leap day: the user picks the column.
    days = ["2024-02-26", "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"]
    rows = [f"{d};{k};{10 * k + 5}" for k, d in enumerate(days)]
    explorer.find("#csv-file").send_keys(write(tmp_path / "days.csv", ["day;low;high", *rows]))
    explorer.wait(lambda d: "days.csv" in explorer.find("#csv-note").text)
    assert "Several columns fit" in explorer.find("#csv-note").text
    Select(explorer.find("#csv-value")).select_by_visible_text("low (numbers)")
    assert explorer.find("#sequence").get_attribute("value") == "0, 1, 2, 3, 4, 5"
    explorer.fill("#horizon", "2")
    explorer.forecast()
    forecast = explorer.find_all('#series-chart circle.point[data-series="forecast"]')
    assert [p.get_attribute("data-label") for p in forecast] == ["2024-03-03", "2024-03-04"]
    # Edited values lose the file's time axis.
    explorer.find("#sequence").send_keys(", 6")
    explorer.forecast()
    forecast = explorer.find_all('#series-chart circle.point[data-series="forecast"]')
    assert [p.get_attribute("data-label") for p in forecast] == ["8", "9"]
    # A cell that is not a number goes to the API as it is, and the API names its position.
    rows = [f"{d};{k};{10 * k + 5}" for k, d in enumerate(days)]
    rows[3] = "2024-02-29;n/a;35"
    explorer.find("#csv-file").send_keys(write(tmp_path / "gap.csv", ["day;low;high", *rows]))
    explorer.wait(lambda d: "gap.csv" in explorer.find("#csv-note").text)
    Select(explorer.find("#csv-value")).select_by_visible_text("low (numbers)")
    explorer.forecast()
    assert explorer.error() == "sequence.3: Input should be a valid number"


@pytest.fixture(scope="module")
def keyed_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The service with an API key configured."""
    log = tmp_path_factory.mktemp("keyed") / "gunicorn.log"
    env = {"GATECAST_WORKERS": "1", "GATECAST_API_KEYS": KEY}
    with gunicorn(model_dir, log, env=env, ready_path="/readyz") as srv:
        yield srv


def test_api_key_field_when_the_server_has_keys(driver: Chrome, keyed_server: Running):
    page = Explorer(driver, keyed_server.url + "/")
    page.reset_viewport()
    page.open(wait_for_models=False)
    page.wait(lambda d: page.error() != "")
    assert page.error() == "missing or invalid API key"
    assert page.find("#key-field").is_displayed()
    # The page's own files need no key: the style sheet and the module script both ran.
    assert page.js("return getComputedStyle(document.querySelector('.top')).backgroundColor") == (
        "rgb(22, 38, 61)"
    )
    page.find("#api-key").send_keys(KEY, Keys.TAB)
    page.wait(lambda d: page.find_all("#model option[value='tiny']"))
    assert page.error() == ""
    assert page.js("return sessionStorage.getItem('gatecast.apiKey')") == KEY
    run(page, "tiny", typed(SEQ), "2")
    assert page.error() == ""
    expected = api_forecast(keyed_server, KEY, model="tiny", sequence=SEQ, horizon=2, interval=0.9)
    assert plot_values(page, "#series-chart", "forecast") == approx(expected["forecast"])
    # Kept for the tab: a reload needs no typing.
    page.open()
    assert page.find("#api-key").get_attribute("value") == KEY and page.error() == ""
