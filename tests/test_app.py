"""The app, driven by keys through Textual's Pilot: every key flow, and the screen it leaves."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import Config
from engine.stepper import Phase, Stepper
from tests.test_stepper import snapshot
from tui.app import StepperApp
from tui.screens.help import HelpScreen

SIZE = (120, 40)


def make_app(**config: object) -> StepperApp:
    return StepperApp(Stepper(Config(**config)))  # type: ignore[arg-type]



def bar(app: StepperApp) -> str:
    return str(app.query_one("#phase-bar").render())


async def test_next_runs_one_whole_step_and_shows_the_losses() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert "▶ forward" in bar(app) and "loss —" in bar(app)
        await pilot.press("n")
        assert "loss 1.1733" in bar(app) and "▶ backward" in bar(app)
        await pilot.press("space", "right")
        assert app.stepper.state.last_phase is Phase.GRADCHECK
        await pilot.press("n")
        assert "loss 0.9036" in bar(app) and "▶ forward" in bar(app)
        assert app.stepper.state.update is not None
        assert app.query_one("#parameters").has_class("-fresh")


async def test_back_to_the_start_restores_every_tensor() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        states = [snapshot(app.stepper.state)]
        for _ in range(6):
            await pilot.press("n")
            states.append(snapshot(app.stepper.state))
        for expected in reversed(states[:-1]):
            await pilot.press("b")
            assert snapshot(app.stepper.state) == expected
        await pilot.press("left")  # nothing left to undo: a notice, no crash
        assert app.stepper.state is app.stepper.initial
        assert "loss —" in bar(app)


async def test_finish_step_and_reset() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "s")
        assert app.stepper.state.update is not None and app.stepper.state.step == 1
        await pilot.press("s")
        assert app.stepper.state.step == 2 and app.stepper.state.update is not None
        await pilot.press("r")
        assert app.stepper.state is app.stepper.initial
        np.testing.assert_array_equal(app.stepper.state.params["W1"], app.stepper.initial.params["W1"])
        await pilot.press("b")  # the reset itself is undoable
        assert app.stepper.state.step == 2


async def test_toggle_gradcheck_skips_the_phase() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        assert not app.stepper.gradcheck_enabled
        await pilot.press("n", "n", "n")
        assert app.stepper.state.last_phase is Phase.UPDATE and app.stepper.state.gradcheck is None
        assert "off" in str(app.query_one("#gradcheck").render())
        await pilot.press("g", "n", "n")
        assert app.stepper.state.last_phase is Phase.BACKWARD and app.stepper.next_phase is Phase.GRADCHECK


async def test_help_screen_lists_every_key_and_closes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        lines = str(app.screen.query_one("#help-body Static").render()).splitlines()
        for keys, description, binding_id in app.key_table():
            # One row names the keys, the binding id and what they do, together.
            row = [line for line in lines if line.split()[:1] == keys.split()[:1] and description in line]
            assert len(row) == 1 and binding_id in row[0] and keys in row[0], (keys, binding_id)
        assert "n, space, →" in "\n".join(lines)
        await pilot.press("n")  # keys of the main screen do not leak through the modal
        assert app.stepper.state is app.stepper.initial
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_tab_moves_between_panels() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab")
        first = app.focused
        assert first is app.query_one("#parameters")  # the first panel, not some other widget
        await pilot.press("tab")
        assert app.focused is app.query_one("#forward")
        await pilot.press("shift+tab")
        assert app.focused is first


async def test_quit_exits_cleanly() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
    assert app.return_code == 0


async def test_bindings_can_be_remapped_by_id() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.set_keymap({"next": "j", "back": "k"})
        await pilot.press("j", "j")
        assert app.stepper.state.last_phase is Phase.BACKWARD
        await pilot.press("k")
        assert app.stepper.state.last_phase is Phase.FORWARD


async def test_dead_units_are_marked() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        forward = str(app.query_one("#forward").render())
        gradients = str(app.query_one("#gradients").render())
        assert "1 of 4 units dead" in forward
        assert "← dead unit: row zeroed" in gradients


@pytest.mark.parametrize("presses", [0, 1, 2, 3, 4])
def test_snapshot_after_each_phase(snap_compare, presses: int) -> None:
    assert snap_compare(make_app(), press=["n"] * presses, terminal_size=SIZE)


def test_snapshot_help_screen(snap_compare) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=SIZE)


def test_snapshot_wide_terminal_after_gradcheck(snap_compare) -> None:
    assert snap_compare(make_app(), press=["n", "n", "n"], terminal_size=(200, 60))


async def test_injected_bug_is_caught_and_named_in_the_gradcheck_panel() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")
        app.action_inject_bug("cache")
        assert app.stepper.state.last_phase is Phase.FORWARD  # rewound to re-run backward
        await pilot.press("n", "n")
        panel = str(app.query_one("#gradcheck").render())
        assert "injected bug 'cache'" in panel and "FAILED: W2" in panel
        assert app.stepper.state.gradcheck.failed_names == ["W2"]
        app.action_inject_bug("")
        await pilot.press("n", "n")
        assert app.stepper.state.gradcheck.passed


async def test_command_palette_offers_the_actions() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Run the next phase", "Undo the last phase exactly", "Inject bug: activation-grad"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"next phase", "enter")
        assert app.stepper.state.last_phase is Phase.FORWARD


def test_snapshot_fault_drill(snap_compare) -> None:
    app = StepperApp(Stepper(Config(inject_bug="activation-grad")))
    assert snap_compare(app, press=["n", "n", "n"], terminal_size=(120, 60))


# ---- a user's own model ------------------------------------------------------------------

async def press_and_wait(app: StepperApp, pilot, *keys: str) -> None:
    """Press keys one by one, letting any worker that a key starts finish first."""
    for key in keys:
        await pilot.press(key)
        await app.idle.wait()
        await pilot.pause()


async def test_user_model_steps_like_the_builtin_and_shows_its_output() -> None:
    from engine.usermodel import load_model
    from tests.conftest import FIXTURES

    app = StepperApp(Stepper(Config(), model=load_model(FIXTURES / "notebook.py")))
    builtin = Stepper(Config())
    builtin.run_steps(1)
    async with app.run_test(size=SIZE) as pilot:
        log = str(app.query_one("#log").render())
        assert "printed while being imported" in log and "Initial loss: 1.1732865037089109" in log
        await press_and_wait(app, pilot, "n", "n", "n", "n")
        state = app.stepper.state
        assert state.update is not None and state.gradcheck is not None
        assert state.gradcheck.method == "loop" and state.gradcheck.passed
        np.testing.assert_allclose(state.params["W1"], builtin.state.params["W1"], atol=1e-12)
        assert "loss 0.9036" in bar(app)


async def test_user_model_error_is_logged_and_the_app_stays_alive(tmp_path) -> None:
    from engine.usermodel import load_model
    from tests.conftest import FIXTURES

    source = (FIXTURES / "notebook.py").read_text().replace(
        "    grads = {'dW1': dW1, 'db1': db1, 'dW2': dW2, 'db2': db2}",
        "    grads = {'dW1': dW1, 'db1': db1, 'dW2': dW2, 'db2': db2}\n"
        "    if cache['a2'][0] > 0.35:\n        raise ValueError('a2 too large')")
    path = tmp_path / "fragile.py"
    path.write_text(source)
    app = StepperApp(Stepper(Config(), model=load_model(path)))
    async with app.run_test(size=SIZE) as pilot:
        await press_and_wait(app, pilot, "s", "n")  # step 1 fine (a2 = 0.31); step 2 forward
        assert app.stepper.state.step == 2 and app.stepper.state.last_phase is Phase.FORWARD
        before = app.stepper.state
        await press_and_wait(app, pilot, "n")  # backward raises: a2 = 0.41
        assert app.stepper.state is before
        log = str(app.query_one("#log").render())
        assert "ValueError: a2 too large" in log and "fragile.py" in log and "in backward" in log
        await press_and_wait(app, pilot, "b")
        assert app.stepper.state.last_phase is Phase.UPDATE  # still responsive


def test_snapshot_light_theme(snap_compare) -> None:
    app = make_app()

    async def light(pilot) -> None:
        app.theme = "textual-light"

    assert snap_compare(app, press=["n", "n", "n"], terminal_size=SIZE, run_before=light)


def test_snapshot_config_form_with_an_error(snap_compare) -> None:
    async def bad_lr(pilot) -> None:
        await pilot.press("c")
        for field in pilot.app.screen.query("Input"):
            field.cursor_blink = False  # a blinking cursor would make the picture random
        pilot.app.screen.query_one("#field-lr").value = "-0.1"

    assert snap_compare(make_app(), run_before=bad_lr, terminal_size=(100, 30))
