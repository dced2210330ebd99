"""The cell cursor, the Explain panel and the highlighted sources, driven through Pilot."""

from __future__ import annotations

import pytest
from textual.content import Content

from engine.explain import elements
from engine.explain.elements import Explanation, Term
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tui.app.app import StepperApp
from tui.app.commands import stepper_commands
from tui.app.screens.zoom import ZoomScreen
from tui.app.widgets.explain import SHOWN_TERMS, ExplainPanel, explanation_text
from tui.app.widgets.grid import TensorGrid
from tui.app.widgets.panels import Panel
from tui.app.widgets.tensor import CURSOR, SOURCE

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)
#: Keys from the start to the cursor on dW1[1, 2] in the Gradients panel: forward and
#: backward, tab to the panel, down through dz2, dW2, db2, da1, dz1 to dW1's row 1, right 2.
TO_DW1_1_2 = ["n", "n", "tab", "tab", "tab", *["j"] * 6, "l", "l"]


def make_app(**config: object) -> StepperApp:
    return StepperApp(Stepper(Config(**config)))  # type: ignore[arg-type]


def panel(app: StepperApp, name: str) -> Panel:
    return app.query_one(f"#{name}", Panel)


def styled(widget: Panel, style: str) -> list[str]:
    """The text of the cells drawn in `style`."""
    content = widget.render()
    assert isinstance(content, Content)
    return [content.plain[s.start:s.end].strip() for s in content.spans if s.style == style]


async def test_the_cursor_is_hidden_until_a_panel_is_focused() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        assert all(not styled(p, CURSOR) for p in app.query(Panel))
        await pilot.press("tab")
        params = panel(app, "parameters")
        assert params.cursor == ("params.W1", (0, 0))
        assert styled(params, CURSOR) == ["0.4967"]
        await pilot.press("tab")  # the cursor goes with the focus, and is remembered
        assert not styled(params, CURSOR) and params.cursor == ("params.W1", (0, 0))
        assert panel(app, "forward").cursor == ("forward.x", (0,))


async def test_arrows_move_across_rows_columns_and_on_into_the_next_tensor() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab")
        params = panel(app, "parameters")
        await pilot.press("down", "down", "down")
        assert params.cursor == ("params.W1", (3, 0))
        await pilot.press("j")  # past W1's last row: into b1
        assert params.cursor == ("params.b1", (0,))
        await pilot.press("k")
        assert params.cursor == ("params.W1", (3, 0))
        await pilot.press("right", "l", "l", "l")  # clamped at the last column
        assert params.cursor == ("params.W1", (3, 2))
        await pilot.press("h")
        assert params.cursor == ("params.W1", (3, 1))
        await pilot.press("j", "j", "j", "j", "j", "j")  # b1, W2, b2, then no further
        assert params.cursor == ("params.b2", (0,))
        await pilot.press("up", "left")
        assert params.cursor == ("params.W2", (0, 0))


async def test_arrows_in_a_panel_move_the_cursor_and_n_still_steps() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "right", "left", "right")
        assert app.stepper.state.last_phase is None  # not next or back
        assert panel(app, "parameters").cursor == ("params.W1", (0, 1))
        await pilot.press("n", "space")
        assert app.stepper.state.last_phase is Phase.BACKWARD
        await pilot.press("b")
        assert app.stepper.state.last_phase is Phase.FORWARD
        assert panel(app, "parameters").cursor == ("params.W1", (0, 1))


async def test_explain_follows_the_cursor_and_lights_its_sources() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*TO_DW1_1_2)
        gradients, forward = panel(app, "gradients"), panel(app, "forward")
        assert gradients.cursor == ("backward.dW1", (1, 2))
        explain = app.query_one(ExplainPanel)
        assert not explain.display and not styled(gradients, SOURCE)
        await pilot.press("e")
        assert explain.display
        lines = str(explain.render()).splitlines()
        assert lines[0] == "dW1[1,2] = dz1[1] · x[2]"  # the formula, then the substituted chain
        assert lines[1] == "  = (da1[1] · relu'(z1[1])) · x[2]"
        assert lines[3] == "  = ((-1.913 · -0.6907) · 1) · 0.1" and lines[4] == "  = 0.1321"
        assert lines[5] == "from dz1[1] = 1.321 (in Gradients)  x[2] = 0.1 (in Forward cache)"
        dz1 = f"{app.stepper.state.backward['dz1'][1]:.4f}"
        x2 = f"{app.stepper.state.forward.cache['x'][2]:.4f}"
        assert dz1 in styled(gradients, SOURCE)
        assert styled(forward, SOURCE) == [x2]
        assert styled(gradients, CURSOR) == [f"{app.stepper.state.backward['dW1'][1, 2]:.4f}"]
        await pilot.press("h")  # the explanation follows: dW1[1, 1] comes from x[1]
        assert str(explain.render()).splitlines()[3:5] == ["  = ((-1.913 · -0.6907) · 1) · (-0.4)",
                                                            "  = -0.5286"]
        assert styled(forward, SOURCE) == [f"{app.stepper.state.forward.cache['x'][1]:.4f}"]
        await pilot.press("e")
        assert not explain.display and not styled(forward, SOURCE)


async def test_explain_with_no_cursor_says_how_to_get_one() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        assert "No element under a cursor" in str(app.query_one(ExplainPanel).render())


async def test_the_loss_has_a_cell_of_its_own() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "tab", "tab", *["j"] * 6, "e")  # x, z1, a1, z2, a2, then the loss
        forward = panel(app, "forward")
        assert forward.cursor == ("forward.loss", ())
        assert styled(forward, CURSOR) == [repr(app.stepper.state.forward.loss)]
        assert str(app.query_one(ExplainPanel).render()).startswith("loss = ")
        assert styled(forward, SOURCE) == ["-0.8032"]  # z2: the loss is computed from the logit
        await pilot.press("j", "k")  # nothing below the loss
        assert forward.cursor == ("forward.a2", (0,))


async def test_undo_past_the_cursor_s_tensor_leaves_no_stale_cursor() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*TO_DW1_1_2, "e", "b")  # backward undone: no dW1 to explain
        gradients = panel(app, "gradients")
        assert not gradients.cursor_valid() and not styled(gradients, CURSOR)
        assert "No element under a cursor" in str(app.query_one(ExplainPanel).render())
        assert not styled(panel(app, "forward"), SOURCE)
        await pilot.press("n")  # backward again: the cursor is back where it was
        assert gradients.cursor == ("backward.dW1", (1, 2)) and styled(panel(app, "forward"), SOURCE)


async def test_an_element_that_cannot_be_explained_is_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> Explanation:
        raise ValueError("no derivation here")

    monkeypatch.setattr(elements, "explain", broken)  # the panel imports it when first used
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "e", "j")
        text = str(app.query_one(ExplainPanel).render())
        assert "Cannot explain params.W1[1,0]: no derivation here" in text


async def test_a_click_on_a_value_puts_the_cursor_there() -> None:
    app = make_app()
    async with app.run_test(size=(120, 80)) as pilot:
        await pilot.press("n", "n")
        gradients = panel(app, "gradients")
        where = next((start, line) for cell, line, start, _ in gradients.cells()
                     if cell == ("backward.dW1", (1, 1)))
        assert gradients.cell_at(*where) == ("backward.dW1", (1, 1))
        gutter = gradients.styles.gutter
        assert await pilot.click("#gradients", offset=(where[0] + gutter.left, where[1] + gutter.top))
        assert app.focused is gradients and gradients.cursor == ("backward.dW1", (1, 1))
        assert styled(gradients, CURSOR) == [f"{app.stepper.state.backward['dW1'][1, 1]:.4f}"]


async def test_the_cursor_walks_a_summarised_tensor_by_its_index() -> None:
    app = make_app(inputs=20, hidden=(10,))  # W1 is 10x20: summarised
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", *["l"] * 12, "j")
        params = panel(app, "parameters")
        assert params.cursor == ("params.W1", (1, 12))
        value = app.stepper.state.params["W1"][1, 12]
        assert styled(params, CURSOR) == [f"▸ W1[1,12] = {value:.4f}"]
        await pilot.press(*["j"] * 9)  # row 9 is the last: on into b1, the column clamped
        assert params.cursor == ("params.b1", (9,))


async def test_panel_scrolling_follows_the_cursor() -> None:
    app = make_app()
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.press("n", "n", "tab", "tab", "tab")
        scroll = app.query_one("#panels")
        top = scroll.scroll_y
        await pilot.press(*["j"] * 9)  # down to db1, the Gradients panel's last block
        await pilot.pause()
        gradients = panel(app, "gradients")
        assert gradients.cursor is not None and gradients.cursor[0] == "backward.db1"
        assert gradients.cursor_line is not None
        line = gradients.virtual_region.y + 1 + gradients.cursor_line
        assert scroll.scroll_y > top and scroll.scroll_y <= line < scroll.scroll_y + scroll.size.height


def test_the_keys_are_in_the_one_table() -> None:
    app = make_app()
    titles = [title for title, _, _ in stepper_commands(app)]
    assert any(title.startswith("Explain") for title in titles)
    assert not any(title.startswith("In a panel") for title in titles)  # a panel's keys: not here
    ids = {binding_id for _, _, binding_id in app.key_table()}
    assert {"cursor-up", "cursor-down", "cursor-left", "cursor-right", "explain"} <= ids


def test_explanation_text_shows_the_largest_terms_and_the_total() -> None:
    terms = tuple(Term(f"t{k}", (k - 5) / 10) for k in range(12))
    text = explanation_text(Explanation("forward.z1", (0,), 0.6, "z1[0] = Σ W1[0,k]·x[k] + b1[0]",
                                        "z1[0] = t0 + t1 + … = 0.6", terms=terms, verdict="pass")).plain
    lines = text.splitlines()
    assert lines[:3] == ["z1[0] = Σ W1[0,k]·x[k] + b1[0]", "  = t0 + t1 + …", "  = 0.6"]
    assert lines[3] == f"terms: the {SHOWN_TERMS} largest |term| of 12"
    assert lines[4].split() == ["t11", "0.6"] and lines[5].split() == ["t0", "-0.5"]
    assert f"+ {12 - SHOWN_TERMS} more terms" in text and "total  0.6" in text
    assert "verdict: pass" in text


def test_snapshot_explain_panel(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(), press=[*TO_DW1_1_2, "e"], terminal_size=SIZE)


async def test_zoom_opens_at_the_cursor_and_its_grid_has_one_of_its_own() -> None:
    app = make_app(inputs=20, hidden=(10,))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", *["l"] * 12, "j", "z")
        await pilot.pause()
        zoom = app.screen
        assert isinstance(zoom, ZoomScreen)
        grid = zoom.query_one(TensorGrid)
        w1 = app.stepper.state.params["W1"]
        assert app.focused is grid and grid.cursor == (1, 12)
        shown = str(zoom.query_one("#zoom-cursor").render())
        assert shown == f"cursor param W1[1,12] = {float(w1[1, 12])!r}"
        await pilot.press("right", "right", "down", "h")
        assert grid.cursor == (2, 13)
        assert f"param W1[2,13] = {float(w1[2, 13])!r}" in str(zoom.query_one("#zoom-cursor").render())
        assert repr(float(w1[2, 13])) in app.export_screenshot()  # the scroll followed
        x = grid.index_width + 24 * 13 - grid.scroll_offset.x + 3  # a click on row 0, column 13
        assert await pilot.click(TensorGrid, offset=(x, 1))
        assert grid.cursor == (0, 13)
        await pilot.press("escape")
        assert panel(app, "parameters").cursor == ("params.W1", (1, 12))


async def test_the_zoom_cursor_stays_clear_of_the_grid_s_scrollbars() -> None:
    """Scrolled by the grid's whole size, the cursor's row and column went under the
    horizontal and vertical scrollbars."""
    app = make_app(inputs=784, hidden=(128,))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("z", "tab", *["j"] * 40, *["l"] * 5)
        grid = app.screen.query_one(TensorGrid)
        assert grid.cursor == (40, 5)
        seen = grid.scrollable_content_region
        assert seen.height < grid.size.height and seen.width < grid.size.width  # both bars shown
        row, col = grid.cursor
        assert 1 <= row - grid.scroll_offset.y + 1 < seen.height  # below the header, above the bar
        assert (col + 1) * grid.cell - grid.scroll_offset.x <= seen.width - grid.index_width
        assert grid.scroll_offset.x % grid.cell == 0  # no number cut at the left edge


async def test_explaining_a_user_model_s_numerical_gradient_never_calls_the_model() -> None:
    """Its process may be busy with a phase on the runner's thread, or hang: the Explain
    panel derives from what the check recorded and says the losses were not recomputed."""
    from engine.model.builtin import BuiltinModel

    calls = []

    class Counted(BuiltinModel):
        def forward(self, x, params, y):  # type: ignore[no-untyped-def]
            calls.append(1)
            return super().forward(x, params, y)

    app = StepperApp(Stepper(Config(), model=Counted(user_code=True)))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(3):
            await pilot.press("n")
            await app.runner.idle.wait()
            await pilot.pause()
        assert app.stepper.state.gradcheck is not None
        app.query_one("#gradcheck", Panel).focus()
        await pilot.press(*["j"] * 4, "e")  # past the analytic W1's 4 rows: the numerical W1
        assert app.query_one("#gradcheck", Panel).cursor == ("gradcheck.W1", (0, 0))
        before = len(calls)
        await pilot.press("l", "l")
        text = str(app.query_one(ExplainPanel).render())
        assert "numerical" in text and "not recomputed" in text
        assert len(calls) == before


def test_the_substituted_stages_never_repeat_the_formula() -> None:
    from tui.app.widgets.explain import stages

    assert stages("dW1[1,2] = dz1[1] · x[2]", "dW1[1,2] = dz1[1] · x[2] = 1.3 · 0.1 = 0.13") == \
        ["  = 1.3 · 0.1", "  = 0.13"]
    assert stages("dWi[1,0] = -0.01542", "dWi[1,0] = -0.01542") == []  # a user's value, as it is


async def test_a_step_updated_without_a_check_does_not_promise_one() -> None:
    """g at the end of a step that ran no check: "not computed yet in step 1" promised a
    check that step would never run."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", "s")
        await pilot.pause()
        assert app.stepper.state.last_phase is Phase.UPDATE and app.stepper.state.gradcheck is None
        await pilot.press("g")
        await pilot.pause()
        text = str(panel(app, "gradcheck").render())
        assert "numerical gradients  not computed in step 1" in text and "yet" not in text
        await pilot.press("n")  # step 2's forward: its check is to come
        await pilot.pause()
        assert "not computed yet in step 2" in str(panel(app, "gradcheck").render())


def test_a_cursor_move_that_arrives_after_the_screens_are_gone_draws_nothing() -> None:
    """Under load a panel's CursorMoved reached the app after its last screen was popped at
    exit, and show_panels asked for the screen: ScreenStackError at the end of a passing test.
    An app with no screen (as one that has not started, or has closed) ignores the move."""
    app = StepperApp(Stepper(Config()))
    assert not app.screen_stack
    app.on_panel_cursor_moved(Panel.CursorMoved(Panel()))  # raised ScreenStackError before
