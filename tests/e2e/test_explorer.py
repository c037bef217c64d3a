"""The gate explorer in headless Chromium: forecasts, steps and heatmaps (pytest -m browser)."""

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bench.server import Running
from model.network import QUANTITIES
from tests.e2e.cases import (
    READOUT_JS,
    SHOTS,
    api_forecast,
    approx,
    plot_values,
    run,
    typed,
)
from tests.e2e.cases import (
    SEQ as LONG_SEQ,
)
from tests.e2e.live import Explorer

pytestmark = pytest.mark.browser

# tiny's window: the model runs over all of these (test_explorer_context covers longer ones).
SEQ = LONG_SEQ[-12:]


def test_two_layer_forecast_shows_the_api_values(explorer: Explorer, live_server: Running):
    run(explorer, "tiny", typed(SEQ), "3", "0.9")
    assert explorer.error() == ""
    expected = api_forecast(live_server, model="tiny", sequence=SEQ, horizon=3, interval=0.9)
    internals = expected["internals"]
    assert (internals["steps"], internals["observed_steps"]) == (14, 12)

    # The line chart: the input, then the forecast and its interval.
    assert plot_values(explorer, "#series-chart", "observed") == approx(SEQ)
    points = explorer.find_all('#series-chart circle.point[data-series="forecast"]')
    assert [p.get_attribute("data-x") for p in points] == ["12", "13", "14"]
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
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", "14")
    check_step(explorer, layers, 11, 15, 12)  # first shown: the step that made forecast 1
    slider.send_keys(Keys.HOME)
    check_step(explorer, layers, 0, 15, 12)
    for _ in range(3):
        slider.send_keys(Keys.ARROW_RIGHT)
    check_step(explorer, layers, 3, 15, 12)
    slider.send_keys(Keys.END)
    check_step(explorer, layers, 14, 15, 12)
    slider.send_keys(Keys.ARROW_LEFT)
    check_step(explorer, layers, 13, 15, 12)


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
