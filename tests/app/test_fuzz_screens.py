"""Fast keys in the modal screens: the command palette, the config form, help and zoom.

Pilot's `press` waits for the app to be idle after every key, so it never meets the races a
fast typist (or a held key) does: a second Enter routed to a form before the form is gone, a
page move before a list has a size. `burst` sends keys the way a terminal does, all queued
before the app handles the first, then waits once.

The fuzz tests drive the screens with seeded random key sequences and check, after every
burst, that the app is alive and the stepper's history is a valid sequence of phases.
"""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.command import CommandList

from engine.run.stepper import PHASES, Phase, State, Stepper
from engine.settings.config import Config
from tests.budget import pick
from tests.waits import burst, handled, until
from tui.app.app import StepperApp
from tui.app.controller import NewRun
from tui.app.screens.config import ConfigScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.safe import SafeOptionList
from tui.app.screens.zoom import ZoomScreen

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)


def make_app() -> StepperApp:
    return StepperApp(Stepper(Config()))


# ---- the races, one by one ----------------------------------------------------------------

def alive(app: StepperApp) -> None:
    assert app._exception is None and app.return_code in (None, 0)


async def test_config_form_enter_twice_fast_applies_once() -> None:
    app = make_app()
    applied: list[NewRun | None] = []
    config_chosen = app.config_chosen
    app.config_chosen = lambda chosen: (applied.append(chosen), config_chosen(chosen))  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ConfigScreen)
        burst(app, "enter", "enter")  # both reach the form's input before it closes
        await until(pilot, lambda: len(app.screen_stack) == 1, "the form closed")
        await handled(app, pilot)
        assert len(applied) == 1 and applied[0] is not None
        await pilot.press("c")
        burst(app, "enter", "escape", "enter", "escape")
        await until(pilot, lambda: len(app.screen_stack) == 1, "the form closed")
        await handled(app, pilot)
        assert len(app.screen_stack) == 1 and len(applied) == 2
    alive(app)


async def test_palette_enter_twice_fast_runs_the_command_once() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        burst(app, *"run the next phase")
        await handled(app, pilot)
        palette = app.screen
        # The palette gathers its matches in a worker, in batches: Enter selects once they are in.
        await until(pilot, lambda: not any(w.is_running for w in app.workers)
                    and palette.query_one(CommandList).highlighted is not None, "the palette's matches")
        burst(app, "enter", "enter")
        await until(pilot, lambda: len(app.screen_stack) == 1 and app.stepper.history_length > 0,
                    "the command run")
        await handled(app, pilot)
        # One phase ran, not two: the second Enter did not select the command again.
        assert app.stepper.state.last_phase is Phase.FORWARD and app.stepper.history_length == 1
    alive(app)


async def test_a_palette_worker_that_ends_after_the_palette_closed_finds_nothing_to_update() -> None:
    """The palette gathers commands in a worker that may finish after the palette's widgets
    are gone (escape right after ctrl+p): its last updates must be no-ops, not NoMatches."""
    from textual.command import CommandList

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await handled(app, pilot)
        palette = app.screen
        await palette.query_one(CommandList).remove()
        palette._list_visible = not palette._list_visible  # what the late worker sets
        palette._show_busy = not palette._show_busy
        await handled(app, pilot)
        assert app._exception is None
    alive(app)


async def test_page_keys_before_a_list_has_a_size_and_keys_held_down() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for key in ("pagedown", "pageup"):
            burst(app, "ctrl+p", key)  # the page move reaches the list before its first layout
            await handled(app, pilot)
            burst(app, "escape")
            await until(pilot, lambda: len(app.screen_stack) == 1, "the palette closed")
            alive(app)
            burst(app, "z", key, key)  # the same in zoom's list of tensors
            await handled(app, pilot)
            assert isinstance(app.screen, ZoomScreen)
            await pilot.press(key)  # once laid out, the page keys move as they should
            await pilot.press("escape")
            assert len(app.screen_stack) == 1
            alive(app)
        burst(app, *["question_mark"] * 5, *["z"] * 5, "escape", "escape")  # held keys
        await handled(app, pilot)
        assert len(app.screen_stack) == 1 or isinstance(app.screen, HelpScreen | ZoomScreen)
    alive(app)


async def test_safe_option_list_pages_without_a_size() -> None:
    """Textual's OptionList raises KeyError: 0 on pageup/pagedown while it has no size
    (its line cache is empty); zoom's list of tensors does nothing instead."""

    class Lists(App[None]):
        CSS = "SafeOptionList { height: 0; }"

        def compose(self) -> ComposeResult:
            yield SafeOptionList("a", "b", "c")

    app = Lists()
    async with app.run_test(size=SIZE) as pilot:
        options = app.query_one(SafeOptionList)
        options.highlighted = 0
        options.action_page_down()
        options.action_page_up()
        await pilot.pause()
        assert options.highlighted == 0
    assert app._exception is None


# ---- the fuzz -------------------------------------------------------------------------------

LETTERS = list("abcdeghilmnoprstuvwxyz")  # no q: quitting ends a session early (it is handled)
PALETTE_KEYS = ["ctrl+p"] * 4 + LETTERS + ["up", "down", "pageup", "pagedown", "home", "end",
                                           "enter", "enter", "escape", "backspace", "space"]
FORM_KEYS = ["c"] * 4 + ["tab", "shift+tab", *"0123456789", *"abex", "comma", "minus", "full_stop",
                         "backspace", "backspace", "enter", "enter", "escape"]
OTHER_KEYS = ["question_mark", "question_mark", "z", "z", "n", "n", "b", "s", "g", "r", "tab",
              "pagedown", "pageup", "home", "end", "up", "down", "escape",
              "e", "e", "h", "j", "k", "l", "left", "right"]  # the cell cursor and Explain
POOLS = (PALETTE_KEYS, FORM_KEYS, OTHER_KEYS)

#: The form may be typed into any size; keep the fuzz cheap by applying only small networks.
MAX_FUZZ_PARAMS = 5_000


def well_formed(state: State) -> None:
    """What a state holds matches the phase that produced it."""
    computed = (state.forward is not None, state.backward is not None, state.gradcheck is not None,
                state.update is not None)
    expected = {
        None: [(False, False, False, False)],
        Phase.FORWARD: [(True, False, False, False)],
        Phase.BACKWARD: [(True, True, False, False)],
        Phase.GRADCHECK: [(True, True, True, False)],
        Phase.UPDATE: [(True, True, True, True), (True, True, False, True)],
    }[state.last_phase]
    assert computed in expected, (state.last_phase, computed)
    assert state.step >= 1 and len(state.losses) in (state.step - 1, state.step)


def consistent(app: StepperApp) -> None:
    """The stepper's undo history is a sequence of phases in order (or resets)."""
    stepper = app.stepper
    states = [*stepper._history, stepper.state]
    for state in states:
        well_formed(state)
    for before, after in pairwise(states):
        if after is stepper.initial:
            continue  # r: the reset is itself a step of the history
        if after.retuned is not None:  # + or -: a change of settings repeats the phase before it
            assert after.last_phase is before.last_phase and after.params is before.params
            continue
        if before.last_phase is None:
            assert after.last_phase is Phase.FORWARD
        elif before.last_phase is Phase.BACKWARD:  # g may have toggled the check meanwhile
            assert after.last_phase in (Phase.GRADCHECK, Phase.UPDATE)
        else:
            assert after.last_phase is PHASES[(PHASES.index(before.last_phase) + 1) % 4]
        if after.last_phase is Phase.FORWARD and before.last_phase is Phase.UPDATE:
            assert after.step == before.step + 1 and after.params is before.update.after  # type: ignore[union-attr]


def keep_the_form_small(app: StepperApp) -> None:
    """Before an Enter reaches the form: sizes typed past MAX_FUZZ_PARAMS are put back."""
    screen = app.screen
    if not isinstance(screen, ConfigScreen):
        return
    from textual.css.query import NoMatches
    from textual.widgets import Input

    try:
        inputs, hidden = screen.query_one("#field-inputs", Input), screen.query_one("#field-hidden", Input)
    except NoMatches:  # pushed but not composed yet: nothing has been typed into it
        return
    try:
        arch = Config(inputs=int(inputs.value), hidden=int(hidden.value)).architecture
        big = arch.param_count > MAX_FUZZ_PARAMS
    except ValueError:
        big = False
    if big:
        inputs.value, hidden.value = "3", "4"


async def fuzz(seed: int, keys: int) -> int:
    """Seeded random bursts; returns how many keys were sent."""
    rng = random.Random(seed)
    sent = 0
    while sent < keys:  # a new session if the palette's Quit was picked
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            while sent < keys and app.return_code is None:
                pool = rng.choice(POOLS)
                batch = [rng.choice(pool) for _ in range(rng.randint(1, 8))]
                if "enter" in batch:
                    keep_the_form_small(app)
                burst(app, *batch)
                sent += len(batch)
                await pilot.pause(0)  # until the screen has handled what is queued, not idle
                assert app._exception is None, (seed, sent, batch)
                running = app.runner.running
                if running is not None and running.playing:  # p plays until paused: pause it to look
                    app.runner.cancel()
                    await app.runner.idle.wait()
                consistent(app)
            await pilot.pause()
        assert app._exception is None, seed
        assert app.return_code in (None, 0), seed
    return sent


@pytest.mark.parametrize("seed", [0, 1])
async def test_fuzz_palette_form_help_and_zoom(seed: int, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the palette's Screenshot command writes to the working directory
    keys = pick(120, 1000)  # tests/budget.py: the thorough profile sends a thousand a seed
    assert await fuzz(seed, keys) >= keys
