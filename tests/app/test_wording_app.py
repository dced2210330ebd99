"""Issue 27's wording in the app: keys by their printed names in the palette, the help screen
and the notifications (and with a keymap, the keys it binds), and no negative zero in a panel."""

from __future__ import annotations

import pytest
from textual.widgets._toast import Toast

from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests.helpers import told
from tests.waits import handled, until
from tui.app.app import StepperApp
from tui.app.commands import printed_key, printed_keys, stepper_commands

pytestmark = pytest.mark.slow  # drives the app through Pilot

SIZE = (120, 40)


def help_of(app: StepperApp) -> dict[str, str]:
    """The palette's help text of each command, by its title."""
    return {title: help_text for title, _, help_text in stepper_commands(app)}


async def test_the_palette_and_the_help_screen_name_keys_as_the_footer_prints_them() -> None:
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE):
        helps = help_of(app)
        assert helps["Previous sample of the batch: its rows in the panels"] == "Key: ["
        assert helps["Next sample of the batch: its rows in the panels"] == "Key: ]"
        assert helps["Save the session to a file"] == "Key: ^s"
        assert helps["Run the next phase"] == "Key: n, space, →"
        assert helps["Show this help"] == "Key: ?"
        assert not any("_" in text for text in helps.values() if text.startswith("Key: "))
        table = {key_id: keys for keys, _, key_id in app.key_table()}
        assert table["previous-sample"] == "[" and table["help"] == "?" and table["cancel"] == "esc"


async def test_a_notification_names_the_keys_it_means_and_keeps_its_brackets() -> None:
    """"[ and ]" as Rich markup would be eaten; the toast on screen says them."""
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("left_square_bracket")
        await handled(app, pilot)
        await until(pilot, lambda: bool(app.screen.query(Toast)), "the toast")
        shown = str(app.screen.query(Toast).first().render())
        assert shown.startswith("One sample: [ and ] step through a batch"), shown


async def test_a_keymap_moves_the_key_names_in_the_palette_the_help_and_the_notifications() -> None:
    keymap = {"previous-sample": "comma", "next-sample": "full_stop", "back": "u"}
    app = StepperApp(Stepper(Config()), keymap=keymap)
    async with app.run_test(size=SIZE) as pilot:
        assert printed_keys(app, "previous-sample") == "," and printed_key(app, "back") == "u"
        assert help_of(app)["Previous sample of the batch: its rows in the panels"] == "Key: ,"
        await pilot.press("comma")
        await handled(app, pilot)
        await until(pilot, lambda: bool(told(app)), "the notification")
        assert told(app)[-1].startswith("One sample: , and . step through")


async def test_a_dead_units_gradient_shows_as_zero_in_the_panels() -> None:
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")  # forward, backward: dz1[2], dW1[2,:] and dW2[0,2] are -0.0
        await handled(app, pilot)
        await until(pilot, lambda: app.stepper.state.backward is not None, "the backward pass")
        await handled(app, pilot)
        gradients = str(app.query_one("#gradients").render())
        assert "-0.0000" not in gradients and "0.0000" in gradients


async def test_the_controllers_notes_name_the_keys_the_keymap_binds() -> None:
    app = StepperApp(Stepper(Config()), keymap={"next": "j", "finish-step": "question_mark", "help": "h"})
    async with app.run_test(size=SIZE) as pilot:
        app.action_inject_bug("sign")
        app.action_train()  # no data: refused with a note
        await handled(app, pilot)
        messages = told(app)
        assert any(m.startswith("Injected bug 'sign'") and m.endswith("Press j to watch the gradient "
                                                                      "check catch it.") for m in messages)
        assert any("the notebook's one sample is stepped with j and ?." in m for m in messages), messages
