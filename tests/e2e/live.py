"""The pieces the browser tests drive: headless Chromium and the page (gunicorn: bench.server)."""

import time
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,800",
)
WAIT = 30  # seconds: the machine is shared, be patient


def chromium(user_data_dir: Path) -> Chrome:
    """Debian's headless Chromium through its chromedriver; nothing is downloaded."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


class Explorer:
    """The explorer page in the browser, as a user drives it."""

    def __init__(self, driver: Chrome, url: str) -> None:
        self.driver = driver
        self.url = url

    def open(self, wait_for_models: bool = True) -> None:
        """Load the page (and wait until the model list is filled)."""
        self.driver.get(self.url)
        if wait_for_models:
            self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option[value]"))

    def wait(self, condition: Any, timeout: float = WAIT) -> Any:
        """Wait until `condition(driver)` is truthy and return it."""
        return WebDriverWait(self.driver, timeout).until(condition)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def fill(self, css: str, text: str) -> None:
        """Replace a text field's content as typed."""
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def choose_model(self, name: str) -> None:
        Select(self.find("#model")).select_by_value(name)

    def forecast(self) -> None:
        """Press Forecast and wait until the API answered (result or error)."""
        before = int(self.find("#results").get_attribute("data-forecasts") or 0)
        self.find("#run").click()
        self.wait(
            lambda d: int(self.find("#results").get_attribute("data-forecasts") or 0) > before
        )

    def error(self) -> str:
        """The error box's text, or "" while it is hidden."""
        box = self.find("#error")
        return box.text if box.is_displayed() else ""

    def floats(self, css: str) -> list[float]:
        """The data-value of every element matching `css`, in document order."""
        return [float(e.get_attribute("data-value") or "nan") for e in self.find_all(css)]

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        """Emulate a viewport of exactly this size (CSS pixels)."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)

    def reset_viewport(self) -> None:
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def screenshot(self, path: Path, width: int = 1280) -> None:
        """The whole page at `width`, as one PNG (overwrites)."""
        self.js("document.activeElement?.blur()")  # no focus ring in the picture
        self.viewport(width, 800)
        height = int(self.js("return document.documentElement.scrollHeight"))
        self.viewport(width, min(height, 6000))
        time.sleep(0.3)  # let a resize redraw settle
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), path
        self.reset_viewport()
