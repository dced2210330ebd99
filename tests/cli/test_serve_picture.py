"""The network picture (key m) in a real browser: `serve` with data, as a visitor sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser
from tests.browser import NEEDS_BROWSER

pytestmark = pytest.mark.slow  # serves the app to a real browser (-m 'not slow' leaves it out)

MOONS = ("--dataset", "moons", "--hidden", "8,8", "--activation", "tanh")


@NEEDS_BROWSER
def test_in_a_real_browser_the_network_picture_draws_every_layer_and_m_hides_it(tmp_path: Path) -> None:
    with browser.served_page(tmp_path, *MOONS, window="1600,1000") as (page, _):
        screen = page.screen_with("Network (m)")  # wide, with data: shown without asking
        names = next(line for line in screen.splitlines() if " a1 " in line).replace("│", " ").split()
        assert [name for name in names if name in ("x", "a1", "a2", "a3")] == ["x", "a1", "a2", "a3"]
        assert any(0x2800 < ord(char) <= 0x28FF for char in screen)  # the weights' braille lines
        page.type("m")
        page.until(lambda _: "Network (m)" not in page.screen())
