"""The gate explorer in headless Chromium against the real service (pytest -m browser)."""

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.e2e.live import REPO, Explorer
from tests.server import Running, gunicorn

pytestmark = pytest.mark.browser

SHOTS = REPO / "docs" / "screenshots"
SEQ = [round(100 + 0.5 * k + 10 * math.sin(2 * math.pi * k / 12), 2) for k in range(20)]
QUANTITIES = ("input_gate", "forget_gate", "candidate", "output_gate", "cell_state", "hidden_state")
# The article's worked example: long-term memory 2, short-term memory 1, input 1.
ARTICLE = {
    "forget_gate": 0.99925,
    "input_gate": 0.93703,
    "candidate": 0.98661,
    "output_gate": 0.99503,
    "cell_state": 2.92299,
    "hidden_state": 0.98930,
}
LONG = [1, 0.5, 0, -0.5, -1, -0.5, 0, 0.5, 1, 0.5, 0, -0.5]
KEY = "browser-test-key-0123456789"
# Everything in the readout, as [layer, quantity, unit or null, value] rows, in one call.
READOUT_JS = """return [...document.querySelectorAll('#step-readout [data-quantity][data-value]')]
  .map(e => [Number(e.dataset.layer), e.dataset.quantity, e.dataset.unit ?? null,
             Number(e.dataset.value)]);"""


def typed(values: list[float]) -> str:
    """A sequence as a user would type it."""
    return ", ".join(str(v) for v in values)


def approx(expected: Any) -> Any:
    """What the page shows is the API's JSON numbers, parsed by the browser."""
    return pytest.approx(expected, rel=1e-6, abs=1e-7)


def run(page: Explorer, model: str, sequence: str, horizon: str, interval: str | None = None):
    """Fill the form and press Forecast."""
    page.choose_model(model)
    page.fill("#sequence", sequence)
    page.fill("#horizon", horizon)
    if interval is not None:
        page.fill("#interval", interval)
    page.forecast()


def api_forecast(server: Running, key: str | None = None, **body: Any) -> dict:
    """The same request, sent straight to the API."""
    status, reply, _ = server.request("POST", "/forecast", {"internals": "all", **body}, key=key)
    assert status == 200, reply
    return reply


def plot_values(page: Explorer, figure: str, series: str | None = None) -> list[float]:
    """The values of a chart's points (optionally of one series)."""
    pick = f'[data-series="{series}"]' if series else ""
    return page.floats(f"{figure} circle.point{pick}")


def test_two_layer_forecast_shows_the_api_values(explorer: Explorer, live_server: Running):
    run(explorer, "tiny", typed(SEQ), "3", "0.9")
    assert explorer.error() == ""
    expected = api_forecast(live_server, model="tiny", sequence=SEQ, horizon=3, interval=0.9)
    internals = expected["internals"]
    assert (internals["steps"], internals["observed_steps"]) == (22, 20)

    # The line chart: the input, then the forecast and its interval.
    assert plot_values(explorer, "#series-chart", "observed") == approx(SEQ)
    points = explorer.find_all('#series-chart circle.point[data-series="forecast"]')
    assert [p.get_attribute("data-x") for p in points] == ["20", "21", "22"]
    assert [float(p.get_attribute("data-value") or "") for p in points] == approx(
        expected["forecast"]
    )
    assert [float(p.get_attribute("data-lower") or "") for p in points] == approx(
        expected["interval"]["lower"]
    )
    assert [float(p.get_attribute("data-upper") or "") for p in points] == approx(
        expected["interval"]["upper"]
    )
    assert explorer.find("#series-chart svg").get_attribute("role") == "img"
    assert "90% interval" in (explorer.find("#series-chart svg").get_attribute("aria-label") or "")

    # One heatmap per layer and quantity; hovering shows the API's value of that cell.
    figures = explorer.find_all("figure.heatmap")
    assert [(f.get_attribute("data-layer"), f.get_attribute("data-quantity")) for f in figures] == [
        (str(layer), q) for layer in range(2) for q in QUANTITIES
    ]
    seen = set()
    for figure in (figures[0], figures[4], figures[11]):
        canvas = figure.find_element(By.TAG_NAME, "canvas")
        explorer.js("arguments[0].scrollIntoView({block: 'center'})", canvas)  # off the step bar
        width, height = canvas.size["width"], canvas.size["height"]
        layer = int(figure.get_attribute("data-layer") or "")
        quantity = figure.get_attribute("data-quantity") or ""
        for fx, fy in [(-0.35, -0.3), (0.0, 0.0), (0.3, 0.1)]:
            ActionChains(explorer.driver).move_to_element_with_offset(
                canvas, int(fx * width), int(fy * height)
            ).perform()
            tip = figure.find_element(By.CSS_SELECTOR, ".tip")
            explorer.wait(lambda d, tip=tip: tip.is_displayed())
            step = int(tip.get_attribute("data-step") or "")
            unit = int(tip.get_attribute("data-unit") or "")
            value = float(tip.get_attribute("data-value") or "")
            assert value == approx(internals["layers"][layer][quantity][step][unit])
            assert tip.text.startswith(f"step {step + 1}") and f"unit {unit + 1}" in tip.text
            seen.add((layer, quantity, step, unit))
    assert len(seen) == 9

    ActionChains(explorer.driver).move_to_element(explorer.find("h1")).perform()
    explorer.screenshot(SHOTS / "explorer-2-layer.png")
    # No script errors and no Content-Security-Policy violations along the way.
    assert [e for e in explorer.driver.get_log("browser") if e["level"] == "SEVERE"] == []


def check_step(page: Explorer, layers: list[dict], step: int, steps: int, observed: int) -> None:
    """Every view shows `step`, and the readout holds the API's numbers for it."""
    assert page.find("#step").get_attribute("value") == str(step)
    assert page.find("#results").get_attribute("data-selected-step") == str(step)
    assert page.find("#series-chart").get_attribute("data-selected-step") == str(step)
    marks = {f.get_attribute("data-selected-step") for f in page.find_all("figure.heatmap")}
    assert marks == {str(step)}
    rows = page.js(READOUT_JS)
    assert len(rows) == 2 * 6 * 8
    for layer, quantity, unit, value in rows:
        assert value == approx(layers[layer][quantity][step][int(unit)])
    kind = "generated" if step >= observed else "observed"
    head = page.find("#step-readout .step-head").text
    assert head.startswith(f"Step {step + 1} of {steps}") and kind.upper() in head
    said = f"Step {step + 1} of {steps}, {kind}"
    page.wait(lambda d: said in (page.find("#announce").get_attribute("textContent") or ""))
    assert page.find("#step").get_attribute("aria-valuetext") == said


def test_step_slider_moves_by_keyboard(explorer: Explorer, live_server: Running):
    run(explorer, "tiny", typed(SEQ), "4")
    layers = api_forecast(live_server, model="tiny", sequence=SEQ, horizon=4, interval=0.9)[
        "internals"
    ]["layers"]
    slider = explorer.find("#step")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", "22")
    check_step(explorer, layers, 19, 23, 20)  # first shown: the step that made forecast 1
    slider.send_keys(Keys.HOME)
    check_step(explorer, layers, 0, 23, 20)
    for _ in range(3):
        slider.send_keys(Keys.ARROW_RIGHT)
    check_step(explorer, layers, 3, 23, 20)
    slider.send_keys(Keys.END)
    check_step(explorer, layers, 22, 23, 20)
    slider.send_keys(Keys.ARROW_LEFT)
    check_step(explorer, layers, 21, 23, 20)


def test_heatmap_cells_by_keyboard(explorer: Explorer, live_server: Running):
    run(explorer, "tiny", typed(SEQ), "2")
    layers = api_forecast(live_server, model="tiny", sequence=SEQ, horizon=2, interval=0.9)[
        "internals"
    ]["layers"]
    # Tab from the slider reaches the first heatmap, with a visible focus ring.
    explorer.find("#step").send_keys(Keys.HOME)
    ActionChains(explorer.driver).send_keys(Keys.TAB).perform()
    first = explorer.find('figure.heatmap[data-layer="0"][data-quantity="input_gate"] canvas')
    assert explorer.js("return document.activeElement") == first
    assert explorer.js("return arguments[0].matches(':focus-visible')", first)
    assert explorer.js("return getComputedStyle(arguments[0]).outlineStyle", first) == "solid"
    assert "Arrow keys" in (first.get_attribute("aria-label") or "")

    figure = explorer.find('figure.heatmap[data-layer="1"][data-quantity="cell_state"]')
    canvas = figure.find_element(By.TAG_NAME, "canvas")
    canvas.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_DOWN, Keys.ARROW_DOWN)
    tip = figure.find_element(By.CSS_SELECTOR, ".tip")
    assert tip.is_displayed()
    assert (tip.get_attribute("data-step"), tip.get_attribute("data-unit")) == ("2", "2")
    assert float(tip.get_attribute("data-value") or "") == approx(layers[1]["cell_state"][2][2])
    assert explorer.find("#step").get_attribute("value") == "2"
    marks = {f.get_attribute("data-selected-step") for f in explorer.find_all("figure.heatmap")}
    assert marks == {"2"}
    said = "Layer 2 cell state, step 3, unit 3"
    explorer.wait(lambda d: said in (explorer.find("#announce").get_attribute("textContent") or ""))
    focus_rows = explorer.find_all("#step-readout tr.focus th")
    assert [r.text for r in focus_rows] == ["3", "3"]  # unit 3 marked in both layers' tables


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
        status, reply, _ = live_server.request(
            "POST", "/forecast", {"model": "tiny", "interval": 0.9, **body}
        )
        assert status == 400
        messages.append(reply["error"]["message"])
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
