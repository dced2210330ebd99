"""Robustness: random key sequences keep the stepper's invariants; every size renders;
the form, the zoom, the worker and the divergence banner behave."""

from __future__ import annotations

import random

import numpy as np
import pytest
from textual.command import CommandInput, CommandPalette
from textual.widgets import Button, Input, Static

from engine.run.stepper import PHASES, Phase, Stepper
from engine.settings.config import Config
from tests.budget import pick
from tests.helpers import snapshot
from tests.waits import burst, handled, until
from tui.app.app import StepperApp
from tui.app.screens import config as config_screen
from tui.app.screens.config import ConfigScreen, parse_fields
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.safe import LONGEST_SEARCH
from tui.app.screens.zoom import ZoomScreen
from tui.cli.options import parse

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

KEYS = ["n", "n", "n", "space", "right", "b", "left", "s", "r", "g"]


class Shadow:
    """What the stepper must look like, kept independently of it."""

    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper
        self.stack = []  # snapshots of every state that a back must restore, oldest first

    def check_transition(self, before, after, toggle_on: bool) -> None:
        """One committed phase: it follows the last in order, and the step counter with it."""
        expected = Phase.FORWARD if before.last_phase is None else \
            (Phase.GRADCHECK if toggle_on else Phase.UPDATE) if before.last_phase is Phase.BACKWARD \
            else PHASES[(PHASES.index(before.last_phase) + 1) % 4]
        assert after.last_phase is expected
        step = before.step + (1 if expected is Phase.FORWARD and before.forward is not None else 0)
        assert after.step == step


async def press_by_binding(app: StepperApp, key: str) -> None:
    """What a key press does, without Pilot's waits for idle (about 65 ms a key): the key's
    bindings run as Textual runs them for a key event: priority bindings from the app down,
    then the focused widget's bindings up to the app's, the first action that does not skip
    winning (`right` on the focused panels scrolls if it can, else reaches the app's `next`).
    `_check_bindings` is Textual's own dispatch (textual is pinned exactly)."""
    handled = await app._check_bindings(key, priority=True) or await app._check_bindings(key)
    assert handled, f"{key!r} did nothing on {app.screen!r}"


async def fuzz(app: StepperApp, pilot, keys: list[str], through_pilot: set[int]) -> None:
    """Press `keys` one by one, checking the invariants after each. The keys whose index is
    in `through_pilot` go through Pilot (a real key event, and the app idle and repainted
    before the check); the others run their binding directly."""
    stepper = app.stepper
    shadow = Shadow(stepper)
    for index, key in enumerate(keys):
        before = stepper.state
        kept = stepper.history_length
        snap = snapshot(before)
        toggle_on = stepper.gradcheck_enabled
        if index in through_pilot:
            await pilot.press(key)
        else:
            await press_by_binding(app, key)
        # Every phase of this network runs on the app's thread: nothing is left running or
        # typed ahead, so the state checked below is the key's whole effect.
        assert app.runner.running is None and app.runner.queued == 0 and not app.runner.finishing
        after = stepper.state
        if key in ("n", "space", "right"):
            shadow.check_transition(before, after, toggle_on)
            shadow.stack.append(snap)
            assert stepper.history_length == kept + 1
        elif key == "s":
            committed = stepper.history_length - kept
            assert committed >= 1 and after.last_phase is Phase.UPDATE
            shadow.stack.append(snap)
            # The intermediate states are checked on the way back.
            shadow.stack.extend([None] * (committed - 1))
        elif key in ("b", "left"):
            if shadow.stack:
                expected = shadow.stack.pop()
                if expected is not None:
                    assert snapshot(after) == expected
            else:
                assert after is before is stepper.initial
        elif key == "r":
            assert after is stepper.initial
            if before is not stepper.initial:
                shadow.stack.append(snap)
        elif key == "g":
            assert stepper.gradcheck_enabled is not toggle_on and after is before
        assert len(shadow.stack) == stepper.history_length
    while stepper.back():  # everything undoes, to the very start
        pass
    assert snapshot(stepper.state) == snapshot(stepper.initial)


async def test_random_keys_keep_the_invariants() -> None:
    """250 keys by default, a thousand under the thorough profile (tests/budget.py)."""
    rng = random.Random(1234)
    keys = [rng.choice(KEYS) for _ in range(pick(250, 1000))]
    # Each key also as a real key event: its first press, and more picked at random.
    through_pilot = {keys.index(key) for key in KEYS} | set(random.Random(5678).sample(range(len(keys)), 40))
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(100, 30)) as pilot:
        await fuzz(app, pilot, keys, through_pilot)
    assert app.return_code in (None, 0)  # no exception in a handler or a repaint


#: Where the layout changes: too small for anything, the common 80x24, each side of the width
#: breakpoints (tui.app.app: wide from 110 columns, very wide from 170), and very large. The
#: default profile renders the sizes either side of a change; the thorough one all of them.
ALL_SIZES = [(20, 8), (32, 10), (60, 16), (80, 24), (109, 30), (110, 30), (120, 40), (169, 50),
             (170, 50), (300, 100)]
SIZES = pick([(20, 8), (80, 24), (110, 30), (170, 50)], ALL_SIZES)
BIG_NETWORK_SIZES = pick([(20, 8), (80, 24)], [(20, 8), (80, 24), (300, 100)])


@pytest.mark.parametrize(("shape", "size"), [((3, 4), size) for size in SIZES] +
                         # A large network's summaries at the extremes and the common size:
                         # between them its layout is the small network's.
                         [((784, 128), size) for size in BIG_NETWORK_SIZES])
async def test_every_size_renders(size: tuple[int, int], shape: tuple[int, int]) -> None:
    app = StepperApp(Stepper(Config(inputs=shape[0], hidden=shape[1])))
    async with app.run_test(size=size) as pilot:
        # The whole screen is exported (rendered without an exception) at each new sight: every
        # phase's panels, the help, zoom and its grid scrolled, the form, Explain open, undo. Each
        # key between also renders its frame, where an exception fails the run all the same.
        for keys in [["n"], ["n"], ["n"], ["n", "tab", "question_mark"], ["escape", "z"],
                     ["tab", "down"], ["escape", "c"], ["escape", "tab", "e"], ["e", "b"]]:
            await pilot.press(*keys)
            assert app.export_screenshot()
        assert app.stepper.state.last_phase is Phase.GRADCHECK and app._exception is None


# ---- the configuration form ------------------------------------------------------------

async def test_a_refused_apply_on_a_short_screen_goes_to_the_first_bad_field() -> None:
    """At 60x20 the form scrolls: Apply with a bad field above showed nothing at all."""
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("c")
        form = app.screen
        assert isinstance(form, ConfigScreen)
        form.query_one("#field-inputs", Input).value = "abc"
        form.query_one("#apply", Button).focus()  # docked: in view however far the fields scroll
        form.query_one("#config-body").scroll_end(animate=False)  # the inputs field away
        await until(pilot, lambda: not form.region.contains_region(form.query_one("#field-inputs").region),
                    "the inputs field scrolled away")
        await pilot.press("enter")
        error = form.query_one("#error-inputs")
        assert app.focused is form.query_one("#field-inputs") and error.display
        # The form scrolls to the field (animated): wait for it, however busy the machine.
        await until(pilot, lambda: form.region.contains_region(error.region), "the error in view")
        assert isinstance(app.screen, ConfigScreen)  # nothing applied


async def test_form_shows_errors_inline_and_applies_only_valid_values() -> None:
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(100, 50)) as pilot:  # the form's Apply button in view, to click
        await pilot.press("n", "n", "c")
        form = app.screen
        assert isinstance(form, ConfigScreen)
        form.query_one("#field-lr").value = "-1"
        form.query_one("#field-hidden").value = "2"
        await pilot.pause()
        apply = form.query_one("#apply", Button)
        await pilot.click(apply)
        assert isinstance(app.screen, ConfigScreen)  # nothing applied
        error = form.query_one("#error-lr")
        assert error.display and "finite and > 0" in str(error.render())
        assert app.stepper.config.lr == 0.1 and app.stepper.state.last_phase is Phase.BACKWARD
        form.query_one("#field-lr").value = "abc"
        await pilot.pause()
        assert "expected a number" in str(form.query_one("#error-lr").render())
        form.query_one("#field-lr").value = "0.5"
        form.query_one("#field-inputs").value = "5"
        await pilot.pause()
        assert not form.query_one("#error-lr").display
        # A Button ignores clicks for 0.2 s after a press (its "-active" effect), and the
        # lines above take less than that: a click now could be dropped, as a person's
        # double click would be. Click again once the button takes clicks, as a person does.
        await until(pilot, lambda: not apply.has_class("-active"), "the button taking clicks")
        await pilot.click(apply)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question: new weights")
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
        config = app.stepper.config
        assert (config.lr, config.inputs, config.hidden) == (0.5, 5, (2,))
        assert len(config.x) == 5  # the new size's default x
        assert app.stepper.state is app.stepper.initial and app.stepper.state.params["W1"].shape == (2, 5)


async def test_form_escape_changes_nothing() -> None:
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(100, 40)) as pilot:
        stepper = app.stepper
        await pilot.press("c")
        app.screen.query_one("#field-seed").value = "7"
        await pilot.press("escape")
        assert app.stepper is stepper and stepper.config.seed == 42


async def settled(app: StepperApp, pilot) -> None:
    """Until every key typed is handled, and all it set off: a key goes from the app to the
    focused field, the field's Changed up to the form (every queue empty)."""
    await handled(app, pilot)
    await until(pilot, lambda: not any(node.message_queue_size
                                       for node in [app, *app.screen.walk_children(with_self=True)]),
                "every message handled")


def typed(app: StepperApp, field: str, text: str) -> Input:
    """`text` typed into a field of the open form at once, a key a character, as a paste
    arrives from a terminal that does not bracket it."""
    target = app.screen.query_one(f"#field-{field}", Input)
    target.focus()
    burst(app, *text)
    return target


async def test_a_paste_typed_into_a_field_stops_at_its_bound(monkeypatch) -> None:
    """Each key a field takes posts its whole value: 100,000 characters typed into a field
    without a bound had queued gigabytes of them. The refused keys ring the bell once, not
    once each."""
    bells: list[None] = []
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(120, 40)) as pilot:
        monkeypatch.setattr(app, "bell", lambda: bells.append(None))
        await pilot.press("c")
        assert {key: app.screen.query_one(f"#field-{key}", Input).max_length for key in ("seed", "data")} \
            == {"seed": 64, "data": 4096}
        field = typed(app, "seed", "7" * 200)
        await settled(app, pilot)
        assert field.value == "42" + "7" * 62
        assert len(bells) == 1
        assert "from 0 to" in str(app.screen.query_one("#error-seed", Static).render())


async def test_keys_typed_faster_than_the_form_checks_them_are_checked_once(monkeypatch) -> None:
    """The form checks every field at each key: a paste into a field queued a check per key,
    each slower than the key (and each Changed holding the whole value). A Changed the field
    has moved on from is skipped: a burst is checked at its end."""
    checks: list[dict[str, str]] = []

    def counted(values: dict[str, str], *args, **kwargs):
        checks.append(values)
        return parse_fields(values, *args, **kwargs)

    monkeypatch.setattr(config_screen, "parse_fields", counted)
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        field = typed(app, "data", "d" * 400)
        await settled(app, pilot)
        assert len(field.value) == 400 and len(checks) < 100, len(checks)  # 400 a check a key
        assert checks[-1]["data"] == field.value  # the last value was checked
        assert not app.screen.query_one("#error-data", Static).display  # a file is read at Apply


async def test_a_paste_into_the_palette_stops_at_its_bound_and_searches_at_its_end(monkeypatch) -> None:
    """The palette searches its commands at each key: 30,000 characters pasted into it ran
    searches for minutes, and an exit (a closed terminal) waited behind them."""
    searches: list[None] = []
    cancel = CommandPalette._cancel_gather_commands
    monkeypatch.setattr(CommandPalette, "_cancel_gather_commands",
                        lambda self: searches.append(None) or cancel(self))  # at each search
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette open")
        search = app.screen.query_one(CommandInput)
        searches.clear()
        burst(app, *"a" * 600)
        await settled(app, pilot)
        assert search.value == "a" * LONGEST_SEARCH and len(searches) < 100, len(searches)


async def test_the_form_leaves_a_long_drawn_x_empty_and_keeps_it() -> None:
    """x drawn for 784 inputs is 15,000 characters (two million for 100,000 inputs): shown
    empty, its default, and the field bounded as any other; applied as it was."""
    app = StepperApp(Stepper(Config(inputs=784, hidden=4)))
    async with app.run_test(size=(120, 40)) as pilot:
        x = app.stepper.config.x
        await pilot.press("c")
        field = app.screen.query_one("#field-x", Input)
        assert field.value == "" and field.max_length == 4096
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ConfigScreen), "the form closed")
        assert app.stepper.config.x == x and len(x) == 784


# ---- zoom ---------------------------------------------------------------------------

async def test_zoom_shows_exact_values_of_a_large_tensor() -> None:
    app = StepperApp(Stepper(Config(inputs=784, hidden=128)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "z")
        assert isinstance(app.screen, ZoomScreen)
        stats = str(app.screen.query_one("#zoom-stats").render())
        assert "param W1" in stats and "100,352 values" in stats
        w1 = app.stepper.state.params["W1"]
        text = app.export_screenshot()
        assert repr(float(w1[0, 0])) in text and repr(float(w1[0, 1])) in text
        grid = app.screen.query_one("#zoom-grid")
        grid.scroll_to(24 * 700, 120, animate=False)
        await pilot.pause()
        assert repr(float(w1[127, 701])) in app.export_screenshot()
        await pilot.press("escape")
        assert not isinstance(app.screen, ZoomScreen)


# ---- long work in a worker --------------------------------------------------------------

async def test_a_slow_phase_runs_in_a_worker_and_escape_cancels_it() -> None:
    app = StepperApp(Stepper(Config(inputs=784, hidden=128, gradcheck_method="loop")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n")
        before = snapshot(app.stepper.state)
        # The loop check of 100,609 parameters: seconds of work. (Not pilot.press: it waits
        # for the app to go idle, which a busy worker's progress reports delay.)
        app.action_next()
        assert app.runner.running is not None and app.query_one("#progress").display
        await pilot.press("b")  # refused while running: the state is not touched
        await pilot.press("escape")
        await app.runner.idle.wait()
        await pilot.pause()
        assert app.runner.running is None and not app.query_one("#progress").display
        assert snapshot(app.stepper.state) == before and app.stepper.state.last_phase is Phase.BACKWARD


async def test_a_worker_phase_commits_when_done() -> None:
    app = StepperApp(Stepper(Config(inputs=60, hidden=40, gradcheck_method="loop")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n")
        await app.runner.idle.wait()
        await pilot.pause()
        check = app.stepper.state.gradcheck
        assert check is not None and check.method == "loop" and check.passed


# ---- divergence -------------------------------------------------------------------------

async def test_divergence_shows_a_banner_and_stops_the_auto_run() -> None:
    app = StepperApp(Stepper(Config(lr=1e300)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        banner = app.query_one("#banner")
        assert banner.display and "Diverged" in str(banner.render())
        await pilot.press("s")  # would run a whole step; stops after the overflowing forward
        assert app.stepper.state.last_phase is Phase.FORWARD
        assert not np.isfinite(app.stepper.state.forward.cache["z2"]).all()
        await pilot.press("r")
        assert not banner.display


async def test_keymap_from_a_config_file_reaches_the_app_and_the_help(tmp_path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('[keymap]\nnext = "j,down"\n')
    options = parse(["--config", str(path)])
    app = StepperApp(Stepper(options.config), keymap=options.keymap)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j", "down")
        assert app.stepper.state.last_phase is Phase.BACKWARD  # the file's keys drive the app
        await pilot.press("question_mark")
        help_text = str(app.screen.query_one("#help-body Static").render())
        assert "j, ↓" in help_text


async def test_remapped_keys_show_in_the_help() -> None:
    app = StepperApp(Stepper(Config()), keymap={"next": "j,down"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        assert app.stepper.state.last_phase is Phase.FORWARD
        keys = {binding_id: key for key, _, binding_id in app.key_table()}
        assert keys["next"] == "j, ↓"
