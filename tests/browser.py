"""A real headless Chromium on `backprop-stepper serve`'s page, driven by Selenium: the text
the page's terminal shows, for the tests that look at the app as a browser's visitor does."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
    SELENIUM = True
except ImportError:
    SELENIUM = False

#: On a test that needs the browser: skipped, saying what to install, where it is missing.
NEEDS_BROWSER = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and SELENIUM),
    reason="needs chromium, chromedriver (Debian: apt-get install chromium chromium-driver; "
    ".ci/run installs them) and selenium (pip install -e '.[test]')")

#: Run before the page's own scripts: keep the xterm.js Terminal that textual-serve's page
#: creates (`this.terminal = new Terminal(...)`), so the test reads the text the terminal
#: holds. The page draws it on a canvas (WebGL or 2D), so no DOM node has the text.
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {configurable: true, set(value) {
  Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
  if (value && value.buffer && !window.__terminal) window.__terminal = value;
}});
"""
#: The terminal's screen as lines of text (null before the page made its terminal).
SCREEN_TEXT = """
const terminal = window.__terminal;
if (!terminal) return null;
const buffer = terminal.buffer.active, lines = [];
for (let y = 0; y < terminal.rows; y++) {
  const line = buffer.getLine(buffer.viewportY + y);
  lines.push(line ? line.translateToString(true) : '');
}
return lines.join('\\n');
"""


@dataclass
class Page:
    """The served page open in the browser: `driver`, and `wait` that polls it."""

    driver: Any
    wait: Any

    def screen_with(self, text: str) -> str:
        """The terminal's screen once it shows `text` (a TimeoutException after 30 s)."""
        def seen(driver: Any) -> str | None:
            screen = driver.execute_script(SCREEN_TEXT)
            return screen if screen and text in screen else None
        return str(self.wait.until(seen))

    def until(self, condition: Callable[[Any], object]) -> Any:
        return self.wait.until(condition)

    def screen(self) -> str:
        """The terminal's screen now ("" before the page made its terminal)."""
        return str(self.driver.execute_script(SCREEN_TEXT) or "")

    def type(self, *keys: str) -> None:
        """Keys typed into xterm.js's input, one after another."""
        from selenium.webdriver.common.by import By

        field = self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        for key in keys:
            field.send_keys(key)

    def ctrl(self, key: str) -> None:
        """ctrl + `key`, as a visitor presses it."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL).perform()


@contextlib.contextmanager
def page(port: int, downloads: Path | None = None, window: str = "1280,900") -> Iterator[Page]:
    """The page served on `port`, in a headless Chromium of `window` pixels, files it
    downloads put in `downloads`; the browser is closed however the block ends."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window}",
                     "--disable-popup-blocking"):  # the page opens a download in a new tab
        options.add_argument(argument)
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_TERMINAL})
        driver.get(f"http://127.0.0.1:{port}/")
        yield Page(driver, WebDriverWait(driver, 30, poll_frequency=0.05))
    finally:
        driver.quit()


@contextlib.contextmanager
def served_page(tmp_path: Path, *flags: str, window: str = "1280,900") -> Iterator[tuple[Page, Path]]:
    """`serve` with `flags` on a free port and its page in a headless Chromium, once the app
    is on it; files the page downloads land in tmp_path/downloads, which is yielded too."""
    from tests.helpers import free_port, served

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    port = free_port()
    with served(port, tmp_path / "serve.log", *flags), page(port, downloads, window) as opened:
        opened.screen_with("Next phase")  # the stepper and its footer
        yield opened, downloads

