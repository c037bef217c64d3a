"""The gate explorer marks the part of a long series the model ran over (pytest -m browser)."""

import math

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bench.server import Running
from tests.e2e.cases import SHOTS, api_forecast, approx, plot_values, run, typed
from tests.e2e.live import Explorer

pytestmark = pytest.mark.browser

# Five seasons: longer than the 12 values the session's 'tiny' model runs over.
LONG_SEQ = [round(100 + 0.5 * k + 10 * math.sin(2 * math.pi * k / 12), 2) for k in range(60)]


def cx(page: Explorer, series: str, x: int) -> float:
    """The horizontal centre of one series chart point."""
    point = page.find(f'#series-chart circle.point[data-series="{series}"][data-x="{x}"]')
    return float(point.get_attribute("cx") or "nan")


def test_long_series_marks_the_context(explorer: Explorer, live_server: Running):
    run(explorer, "tiny", typed(LONG_SEQ), "3")
    assert explorer.error() == ""
    reply = api_forecast(live_server, model="tiny", sequence=LONG_SEQ, horizon=3)
    assert reply["context"] == {"first_step": 48, "steps": 12}
    layers = reply["internals"]["layers"]
    assert reply["internals"]["steps"] == 14  # 12 observed, then 2 generated

    note = explorer.find("#context-note")
    assert note.text == (
        "The model ran over the last 12 of 60 values (steps 49\u201360, shaded); "
        "the 48 earlier ones are faded."
    )
    assert (note.get_attribute("data-first-step"), note.get_attribute("data-steps")) == ("48", "12")

    # The shaded span runs from between values 47 and 48 to the observed/generated boundary.
    span = explorer.find("#series-chart g.context rect")
    assert (span.get_attribute("data-from"), span.get_attribute("data-to")) == ("48", "60")
    left = float(span.get_attribute("x") or "nan")
    right = left + float(span.get_attribute("width") or "nan")
    assert left == pytest.approx((cx(explorer, "observed", 47) + cx(explorer, "observed", 48)) / 2)
    assert right == pytest.approx((cx(explorer, "observed", 59) + cx(explorer, "forecast", 60)) / 2)
    assert plot_values(explorer, "#series-chart", "observed") == approx(LONG_SEQ)
    faded = explorer.find_all('#series-chart circle.point.faded[data-series="observed"]')
    assert [int(p.get_attribute("data-x") or "") for p in faded] == list(range(48))
    assert "what the model ran over" in explorer.find("#series-legend").text

    # The first step shown made forecast 1: internals row 11 is value 60 of the series.
    assert explorer.find("#results").get_attribute("data-selected-step") == "11"
    line = explorer.find("#series-chart g.highlight line")
    assert float(line.get_attribute("x1") or "nan") == pytest.approx(cx(explorer, "observed", 59))
    assert explorer.find("#step-label").text == "60 / 62 · observed"
    assert explorer.find("#step-readout .step-head").text.startswith("Step 60 of 62")

    # Heatmap row 0 is value 49: its tooltip, the slider and the readout say so.
    figure = explorer.find('figure.heatmap[data-layer="0"][data-quantity="forget_gate"]')
    canvas = figure.find_element(By.TAG_NAME, "canvas")
    explorer.js("arguments[0].scrollIntoView({block: 'center'})", canvas)
    canvas.send_keys(Keys.HOME)
    tip = figure.find_element(By.CSS_SELECTOR, ".tip")
    explorer.wait(lambda d: tip.get_attribute("data-step") == "0")
    assert tip.get_attribute("data-position") == "48"
    assert tip.text.startswith("step 49 · unit 1")
    assert float(tip.get_attribute("data-value") or "") == approx(layers[0]["forget_gate"][0][0])
    assert explorer.find("#step-label").text == "49 / 62 · observed"
    head = explorer.find("#step-readout .step-head").text
    assert head.startswith("Step 49 of 62") and f"input {LONG_SEQ[48]:g}" in head
    assert "They start at step 49" in explorer.find(".layer .hint").text

    explorer.js("document.activeElement?.blur()")
    explorer.screenshot(SHOTS / "explorer-context.png")

    # A series no longer than the context: all of it, and nothing shaded.
    run(explorer, "tiny", typed(LONG_SEQ[:10]), "3")
    assert explorer.find("#context-note").text == "The model ran over all 10 values."
    assert explorer.find_all("#series-chart g.context") == []
    assert explorer.find_all("#series-chart circle.point.faded") == []
    assert [e for e in explorer.driver.get_log("browser") if e["level"] == "SEVERE"] == []
