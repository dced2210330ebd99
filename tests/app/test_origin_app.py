"""The first non-finite value in the app: a line under the Diverged banner, cut with … to
one line of the screen, and `e` (no cell under a cursor) explains that element with its
numbers, its cells lit in the panels."""

from __future__ import annotations

from textual.geometry import Region
from textual.widgets import Static

from engine.maths.network import NOTEBOOK, init_params
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.app.app import StepperApp
from tui.app.widgets.explain import ExplainPanel
from tui.app.widgets.panels import Panel


def huge() -> Stepper:
    """W1[0,0] = 3.1e200, W2[0,0] = 4.2e150: the forward pass overflows at z2[0]."""
    params = init_params(NOTEBOOK, 42)
    params["W1"][0, 0], params["W2"][0, 0] = 3.1e200, 4.2e150
    stepper = Stepper(Config())
    stepper.start_from(params)
    return stepper


def shown(widget: Static) -> list[str]:
    """The widget's lines as the screen shows them."""
    return ["".join(segment.text for segment in line).rstrip()
            for line in widget.render_lines(Region(0, 0, *widget.outer_size))]


async def test_the_banner_names_the_first_non_finite_element_and_e_explains_it() -> None:
    app = StepperApp(huge())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await app.runner.idle.wait()
        await pilot.pause()
        origin = app.query_one("#origin", Static)
        assert origin.display and app.query_one("#banner").display
        assert shown(origin) == [" first non-finite: z2[0] = inf (W2[0,0]·a1[0] overflowed) — e explains it"]
        await pilot.press("e")
        await pilot.pause()
        explain = app.query_one(ExplainPanel)
        assert explain.border_title == "Explain z2[0]: the first non-finite value"
        text = str(explain.render())
        assert "W2[0,0]·a1[0] = 4.2e+150 · 6.2e+199 overflowed" in text and "= inf" in text
        lit = {cell for panel in app.query(Panel) for cell in panel.sources}
        assert ("params.W2", (0, 0)) in lit and ("forward.a1", (0,)) in lit
        await pilot.press("b")  # back before the forward pass: finite again
        await pilot.pause()
        assert not origin.display
    assert app._exception is None


async def test_a_long_origin_is_cut_to_one_line_with_an_ellipsis() -> None:
    """lr = 1e300: the loss after the update overflows; its line is longer than 80 columns."""
    app = StepperApp(Stepper(Config(lr=1e300)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await app.runner.idle.wait()
        await pilot.pause()
        [line] = shown(app.query_one("#origin", Static))
        assert line.startswith(" first non-finite: z2[0] after the update = inf (W2[0,0]·a1[0] overf")
        assert line.endswith("…") and len(line) <= 80
    app = StepperApp(Stepper(Config(lr=1e300)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await app.runner.idle.wait()
        await pilot.pause()
        assert shown(app.query_one("#origin", Static)) == [
            " first non-finite: z2[0] after the update = inf (W2[0,0]·a1[0] overflowed) — e explains it"]
        await pilot.press("e")
        await pilot.pause()
        lit = {cell for panel in app.query(Panel) for cell in panel.sources}
        assert lit == set()  # the pass after the update is not on screen: nothing is lit
    assert app._exception is None
