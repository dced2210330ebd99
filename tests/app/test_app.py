"""The app, driven by keys through Textual's Pilot: every key flow, and the screen it leaves."""

from __future__ import annotations

import numpy as np
import pytest

from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.helpers import FIXTURES, snapshot, told
from tests.waits import handled, until
from tui.app.app import StepperApp
from tui.app.commands import stepper_commands
from tui.app.screens.help import HelpScreen

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

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
        titles = [title for title, _, _ in stepper_commands(app)]
        for title in ("Run the next phase", "Undo the last phase exactly", "Inject bug: activation-grad"):
            assert title in titles
        assert "Inject bug: transpose" not in titles  # no two equal hidden layers to swap
        app.apply_config(Config(hidden=(8, 8)).resolved())
        assert "Inject bug: transpose" in [title for title, _, _ in stepper_commands(app)]
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
        await app.runner.idle.wait()
        await pilot.pause()


async def test_user_model_steps_like_the_builtin_and_shows_its_output() -> None:
    from engine.usermodel.client import Loading, load_model

    # --run-module: the notebook's run_demo() at import runs, and its printout is the log's
    app = StepperApp(Stepper(Config(), model=load_model(FIXTURES / "notebook.py",
                                                        loading=Loading(run_module=True))))
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
    from engine.usermodel.client import load_model

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


# ---- any architecture ------------------------------------------------------------------------

def panel(app: StepperApp, name: str) -> str:
    return str(app.query_one(f"#{name}").render())


async def test_a_two_layer_tanh_net_steps_a_whole_step_grouped_by_layer() -> None:
    app = make_app(hidden=(8, 8), activation="tanh")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n", "n")
        assert app.stepper.state.update is not None and app.stepper.state.gradcheck.passed
        forward, gradients = panel(app, "forward"), panel(app, "gradients")
        parameters, update = panel(app, "parameters"), panel(app, "update")
        for text, names in ((forward, ("z2", "a2", "z3")), (gradients, ("dz2", "da2", "dW3")),
                            (parameters, ("W3", "b3")), (update, ("W3 before", "ΔW3 = −lr·dW3"))):
            assert all(f"\n{name}  (" in text for name in names), names
        assert "layer 2 · 8 → 8 · tanh" in parameters and "layer 3 · 8 → 1 · sigmoid" in gradients
        # Layer 3's heading comes before its blocks in backward order: dz3, dW3, db3, da2.
        assert gradients.index("layer 3") < gradients.index("\ndz3  (") < gradients.index("\nda2  (") \
            < gradients.index("layer 2 ·")
        assert "a2 = tanh(z2)" in forward and "all 6 tensors pass" in panel(app, "gradcheck")
        assert "dead" not in forward  # tanh has no dead units
        assert app.query_one("#panels").has_class("-broad")  # 8 columns: one panel a row
        assert "W1(8×3), b1 → tanh → W2(8×8), b2 → tanh" in str(app.query_one("#network").render())


async def test_dead_units_are_marked_in_every_relu_layer() -> None:
    app = make_app(hidden=(8, 8))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        forward, gradients = panel(app, "forward"), panel(app, "gradients")
        assert "z1  (8,) float64  2 of 8 units dead" in forward
        assert "z2  (8,) float64  6 of 8 units dead" in forward
        assert "dz2  (8,) float64  6 of 8 units dead" in gradients
        dW2 = gradients[gradients.index("\ndW2"):gradients.index("\ndb2")]
        assert dW2.count("← dead unit: row zeroed") == 6


async def test_the_form_applies_two_hidden_layers_and_three_classes() -> None:
    from tui.app.screens.config import ConfigScreen
    from tui.app.screens.confirm import ConfirmScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        form = app.screen
        assert isinstance(form, ConfigScreen)
        form.query_one("#field-hidden").value = "8,8"
        form.query_one("#field-classes").value = "3"
        form.query_one("#field-y").value = "2"
        await pilot.pause()
        form.apply()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question: new weights")
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
        arch = app.stepper.config.architecture
        assert (arch.hidden, arch.classes, arch.loss) == ((8, 8), 3, "cross-entropy")
        await pilot.press("n")
        assert "a3 = softmax(z3)" in panel(app, "forward")


async def test_a_drill_that_no_longer_applies_is_dropped_on_apply() -> None:
    from dataclasses import replace

    app = make_app(hidden=(8, 8), inject_bug="transpose")
    async with app.run_test(size=SIZE) as pilot:
        assert app.stepper.model.bug == "transpose"
        app.apply_config(replace(app.stepper.config, hidden=(4,), inject_bug=None))
        await handled(app, pilot)  # its notification arrives as a message
        assert app.stepper.model.bug is None and app.stepper.config.inject_bug is None
        assert any("'transpose' removed" in m for m in told(app))
        app.apply_config(replace(app.stepper.config, seed=7))  # nothing to drop: kept as it is
        app.action_inject_bug("sign")
        app.apply_config(replace(app.stepper.config, hidden=(8, 8)))
        assert app.stepper.model.bug == "sign"


def test_formulas_follow_the_architecture() -> None:
    from engine.maths.network import NOTEBOOK, Architecture
    from tui.app.widgets.formulas import formulas

    notebook = formulas(NOTEBOOK)  # the notebook's lines, exactly
    assert notebook[Phase.FORWARD] == ("z1 = W1·x + b1        a1 = relu(z1)\n"
                                       "z2 = W2·a1 + b2       a2 = σ(z2)\n"
                                       "L  = −[y·log a2 + (1−y)·log(1−a2)]")
    assert notebook[Phase.BACKWARD] == ("dz2 = a2 − y          dW2 = dz2·a1ᵀ    db2 = dz2\n"
                                        "da1 = W2ᵀ·dz2         dz1 = da1 ⊙ relu′(z1)\n"
                                        "dW1 = dz1·xᵀ          db1 = dz1")
    assert "kink" in notebook[Phase.GRADCHECK]
    mse = formulas(Architecture(3, (4,), "sigmoid", 1, "mse"))
    assert "L  = (a2 − y)²/2" in mse[Phase.FORWARD] and "a1 = σ(z1)" in mse[Phase.FORWARD]
    assert mse[Phase.BACKWARD].startswith("dz2 = (a2 − y)·a2·(1 − a2)\n")
    assert "kink" not in mse[Phase.GRADCHECK]
    softmax = formulas(Architecture(784, (256, 128), "tanh", 10, "cross-entropy"))
    assert "a3 = softmax(z3)" in softmax[Phase.FORWARD] and "−log softmax(z3)_y" in softmax[Phase.FORWARD]
    assert softmax[Phase.BACKWARD].startswith("dz3 = a3 − y") and "tanh′(z2)" in softmax[Phase.BACKWARD]
    deep = formulas(Architecture(3, (8,) * 6, "leaky-relu"))
    assert "z_l = W_l·a_{l−1} + b_l" in deep[Phase.FORWARD] and "z7" in deep[Phase.FORWARD]
    assert "lrelu′(z_{l−1})" in deep[Phase.BACKWARD] and "leaky ReLU" in deep[Phase.GRADCHECK]
    assert "z3" not in deep[Phase.FORWARD]  # one l-line, not a line per layer


def test_the_network_line_fits_deep_networks() -> None:
    from engine.maths.network import NOTEBOOK, Architecture
    from tui.app.widgets.bars import network_label

    assert network_label(NOTEBOOK, 80) == "x(3) → W1(4×3), b1 → ReLU → W2(1×4), b2 → sigmoid → BCE"
    assert network_label(Architecture(784, (256, 128), classes=10, loss="cross-entropy"), 80) == \
        "x(784) → 256 → 128 → 10 · ReLU · softmax → cross-entropy"


async def test_help_shows_the_networks_own_formulas() -> None:
    app = make_app(hidden=(8, 8), activation="tanh")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert "a2 = tanh(z2)" in str(app.screen.query_one("#help-body Static").render())


def test_snapshot_deep_network_after_gradcheck(snap_compare) -> None:
    assert snap_compare(make_app(hidden=(8, 8), activation="tanh"), press=["n", "n", "n"],
                        terminal_size=SIZE)
