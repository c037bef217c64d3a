"""Inputs, expected values and small helpers shared by the explorer's browser tests."""

import math
from typing import Any

import pytest

from bench.common import REPO
from bench.http_client import request
from bench.server import Running
from tests.article_values import WORKED_EXAMPLE
from tests.e2e.live import Explorer

SHOTS = REPO / "docs" / "screenshots"
SEQ = [round(100 + 0.5 * k + 10 * math.sin(2 * math.pi * k / 12), 2) for k in range(20)]
# The article's worked example: long-term memory 2, short-term memory 1, input 1.
ARTICLE = WORKED_EXAMPLE
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
    reply = request(server.port, "POST", "/forecast", {"internals": "all", **body}, key=key)
    assert reply.status == 200, reply.text()
    result: dict = reply.json()
    return result


def plot_values(page: Explorer, figure: str, series: str | None = None) -> list[float]:
    """The values of a chart's points (optionally of one series)."""
    pick = f'[data-series="{series}"]' if series else ""
    return page.floats(f"{figure} circle.point{pick}")
