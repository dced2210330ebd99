"""The command palette's stepper commands (ctrl+p): every key's action by name, from the
same key table as the footer and the help screen (tui.keys), and the fault drills that
apply to the network on screen; and printed_keys, which writes a binding's keys as the
footer prints them, for the palette, the help screen and the notifications alike.

A Textual Provider of its own, as Posting does, so the app does not assemble palette
entries and the palette lists them before anything is typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from engine.model.builtin import BUGS, bug_problem
from tui.app.compat import keymap_of
from tui.keys import BY_ID, KEYS

if TYPE_CHECKING:
    from tui.app.app import StepperApp

#: Actions with no place in the palette: it has its own Quit, and escape and tab act on
#: the screen the palette covers.
LEFT_OUT = ("quit", "cancel", "app.focus_next", "app.focus_previous")


def _printed(app: App[Any], key_id: str) -> list[str]:
    keys = [key.strip() for key in keymap_of(app).get(key_id, BY_ID[key_id].keys).split(",")]
    return [app.get_key_display(Binding(key, BY_ID[key_id].action)) for key in keys]


def printed_keys(app: App[Any], key_id: str) -> str:
    """The keys of binding `key_id`, as the keymap the app was given binds them, by the names
    the footer prints (Textual's get_key_display: "[" for left_square_bracket, "?", "^s",
    "esc"), comma-separated. A Textual key name such as "left_square_bracket" means nothing
    to a reader (and as markup "[" would be eaten: notifications are plain text)."""
    return ", ".join(_printed(app, key_id))


def printed_key(app: App[Any], key_id: str) -> str:
    """The first of printed_keys: the key a message names."""
    return _printed(app, key_id)[0]


def stepper_commands(app: StepperApp) -> Iterator[tuple[str, Callable[[], object], str]]:
    """(title, callback, help) of every command, as the stepper stands now."""
    for k in KEYS:
        if k.action not in LEFT_OUT and k.scope == "app":  # a panel's keys act on that panel
            yield (k.description.split(" (")[0], getattr(app, f"action_{k.action}"),
                   f"Key: {printed_keys(app, k.id)}")
    view = app.stepper.view()
    if view.user_code:
        return  # a user's model: the drills break the built-in backward, not theirs
    for bug, description in BUGS.items():
        if not bug_problem(view.config.architecture, bug, optimizer=view.config.optimizer):
            yield f"Inject bug: {bug}", partial(app.action_inject_bug, bug), f"Fault drill. {description}"
    if view.bug:
        yield ("Remove injected bug", partial(app.action_inject_bug, ""),
               "Back to the correct backward pass")


class StepperCommands(Provider):
    def app_commands(self) -> list[tuple[str, Callable[[], object], str]]:
        return list(stepper_commands(self.app))  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for title, callback, help_text in self.app_commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self.app_commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
