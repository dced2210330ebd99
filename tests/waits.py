"""Keys and waits for Pilot tests: keys as a terminal delivers them, and waits on a condition
or an event, never on a pause that guesses.

Pilot's own waits (`press`, `pause`) judge the app idle by comparing its CPU time with the
clock, which a machine whose cores are busy with other work fools: the app looks idle
while a worker, a timer or an animation still has work queued, and an assertion right
after reads a screen half-done. These waits end when the thing awaited has happened; their
deadline is a safety net that fails a hung test, never a timing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual import events
from textual.app import App
from textual.pilot import Pilot

#: The characters of the named keys a burst types.
CHARACTERS = {"comma": ",", "minus": "-", "full_stop": ".", "question_mark": "?", "space": " "}
#: Seconds before a wait fails the test: far beyond any machine's load, short of CI's limit.
SAFETY_NET = 120.0


async def until(pilot: Pilot[object], condition: Callable[[], bool], what: str = "the condition") -> None:
    """Let the app run until `condition()` holds."""
    app = pilot.app
    deadline = time.monotonic() + SAFETY_NET
    while not condition():
        assert app._exception is None, app._exception
        assert time.monotonic() < deadline, f"{what}: not within {SAFETY_NET:g} s"
        await pilot.pause(0.01)


def until_true(condition: Callable[[], bool], what: str = "the condition",
               within: float = SAFETY_NET) -> None:
    """Until `condition()` holds, outside an app: a file a model's process writes, a process
    that ends. `within` is for the rare deadline that is itself the promise tested (no process
    left 5 s after its tab went)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within:g} s"
        time.sleep(0.01)


async def handled(app: App[object], pilot: Pilot[object]) -> None:
    """Until the app has handled every key and event queued so far (a callback sent the same
    way runs after them), then until nothing they set off is still queued anywhere.

    A key travels through several queues: the app forwards it to the focused widget, which
    bubbles it up through its parents back to the app, where the screen's bindings run (the
    palette's escape). One pass of `Pilot._wait_for_screen` can end while the key is still on
    its way up, so the passes repeat until every queue of the app and its screen is empty, and
    once more for a message taken off its queue but still being handled."""
    assert app._driver is not None
    done = asyncio.Event()
    app._driver.send_message(events.Callback(callback=done.set))
    await done.wait()
    while True:
        await pilot._wait_for_screen()
        if _quiet(app):
            await pilot._wait_for_screen()
            if _quiet(app):
                return


def _quiet(app: App[object]) -> bool:
    """Whether no message waits in the queue of the app, its screen or the screen's widgets."""
    nodes = (app, *app.screen.walk_children(with_self=True))
    return all(node._message_queue.empty() and node._pending_message is None for node in nodes)


def burst(app: App[object], *keys: str) -> None:
    """Queue key events as a terminal delivers typed keys: no waiting between them."""
    assert app._driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else CHARACTERS.get(key))
        event.set_sender(app)
        app._driver.send_message(event)
