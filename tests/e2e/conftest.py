"""Fixtures for the browser tests: one gunicorn and one headless Chromium per session."""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.server import Running, gunicorn

if TYPE_CHECKING:  # selenium is imported lazily: without it, collection must still work
    from selenium.webdriver import Chrome

    from tests.e2e.live import Explorer

BROWSER_FILES = (Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver"))

try:
    import selenium  # noqa: F401
except ImportError:  # the dev extra is not installed: nothing here can run
    collect_ignore_glob = ["test_*.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip browser tests, with the reason, when Debian's Chromium or its driver is missing."""
    missing = [str(p) for p in BROWSER_FILES if not p.exists()]
    if not missing:
        return
    reason = f"{' and '.join(missing)} missing: apt-get install -y chromium chromium-driver"
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def live_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The real service (gunicorn, one worker) on the session's models, no API keys."""
    log = tmp_path_factory.mktemp("live") / "gunicorn.log"
    with gunicorn(model_dir, log, env={"GATECAST_WORKERS": "1"}, ready_path="/readyz") as srv:
        yield srv


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator["Chrome"]:
    """One headless Chromium for the session, with a fresh profile."""
    from tests.e2e.live import chromium

    browser = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def explorer(driver: "Chrome", live_server: Running) -> Iterator["Explorer"]:
    """The page, freshly loaded at 1280x800 with an empty browser log."""
    from tests.e2e.live import Explorer

    page = Explorer(driver, live_server.url + "/")
    page.reset_viewport()
    driver.get_log("browser")  # drop what earlier tests logged
    page.open()
    yield page
    page.reset_viewport()
