"""The app against what a user's model hands it: an odd z1, odd cache values, and text (file
names, cache keys, exception messages) holding markup or terminal escape codes.

Models are written to tmp_path by editing the seed notebook's code (tests/engine/test_usermodel.py)
and loaded with load_model, as the other app tests do.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import OptionList

from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from engine.usermodel.client import load_model
from tests.helpers import DEFINITIONS, GRADS_LINE, edit, members, rezip, told
from tests.helpers import write_model as write
from tests.waits import until
from tui.app.app import StepperApp
from tui.app.screens.zoom import ZoomScreen
from tui.app.widgets.grid import TensorGrid
from tui.app.widgets.panels import dead_units
from tui.app.widgets.tensor import grid, number_format, summary, tensor_block
from tui.text import printable

pytestmark = pytest.mark.slow  # drives the app's screens through Pilot (-m 'not slow' leaves it out)

SIZE = (120, 40)
CACHE_LINE = "    cache = {'x': x, 'z1': z1, 'a1': a1, 'z2': z2, 'a2': a2}"


def text_of(app: StepperApp, selector: str) -> str:
    return str(app.query_one(selector).render())


async def settle(app: StepperApp, pilot: object) -> None:
    """Until the phase running in a worker is done, or the app has crashed (then idle is
    never set again: the timeout is a safety net, not a timing)."""
    idle = asyncio.ensure_future(app.runner.idle.wait())
    crashed = asyncio.ensure_future(app._exception_event.wait())
    await asyncio.wait([idle, crashed], timeout=120, return_when=asyncio.FIRST_COMPLETED)
    idle.cancel()
    crashed.cancel()
    assert app._exception is None, app._exception
    await pilot.pause()  # type: ignore[attr-defined]


def with_z1(tmp_path: Path, z1: str) -> StepperApp:
    """A model whose cache holds `z1` as the given expression (of the real z1); its
    backward reads the real one, cached as 'pre'."""
    text = edit(DEFINITIONS, CACHE_LINE, CACHE_LINE.replace("'z1': z1", f"'z1': {z1}, 'pre': z1"))
    text = edit(text, "z1, a1, z2, a2 = cache['z1']", "z1, a1, z2, a2 = cache['pre']")
    return StepperApp(Stepper(Config(), model=load_model(write(tmp_path, text))))


async def step_resize_and_zoom(app: StepperApp, pilot: object, only: str | None = None) -> None:
    """Forward and backward, a resize to 80x24 and back, every tensor in zoom (or only the
    one named, when zoom has it: a z1 that is not numeric is not there), a screenshot."""
    for _ in range(2):
        await pilot.press("n")  # type: ignore[attr-defined]
        await settle(app, pilot)
    assert app.stepper.state.last_phase is Phase.BACKWARD, text_of(app, "#log")
    await pilot.resize_terminal(80, 24)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert app.export_screenshot()
    await pilot.resize_terminal(*SIZE)  # type: ignore[attr-defined]
    await pilot.press("z")  # type: ignore[attr-defined]
    assert isinstance(app.screen, ZoomScreen)
    if only is None:
        for _ in app.screen.tensors:
            await pilot.press("down")  # type: ignore[attr-defined]
    else:
        names = list(app.screen.tensors)
        app.screen.query_one(OptionList).highlighted = names.index(only) if only in names else 0
    await pilot.press("pagedown", "end", "right")  # type: ignore[attr-defined]
    assert app.export_screenshot()
    await pilot.press("escape")  # type: ignore[attr-defined]
    assert app._exception is None


# ---- 7: an odd z1 -----------------------------------------------------------------------------

@pytest.mark.parametrize(("z1", "note"), [
    ("z1.reshape(1, -1)", "z1 has shape (1, 4), not (4,); dead units not marked"),
    ("z1.reshape(-1, 1)", "z1 has shape (4, 1), not (4,); dead units not marked"),
    ("np.zeros((0, 4))", "z1 has shape (0, 4), not (4,); dead units not marked"),
    ("float(z1[0])", "z1 has shape (), not (4,); dead units not marked"),
    ("None", "z1 is None; dead units not marked"),
    ("'relu input'", "z1 is a str; dead units not marked"),
    ("z1 + 0j", "z1 is an array of complex128; dead units not marked"),
])
async def test_an_odd_z1_is_shown_and_said_not_marked(tmp_path: Path, z1: str, note: str) -> None:
    app = with_z1(tmp_path, z1)
    async with app.run_test(size=SIZE) as pilot:
        await step_resize_and_zoom(app, pilot, only="cache z1")
        forward, gradients = text_of(app, "#forward"), text_of(app, "#gradients")
        assert note in forward and note in gradients
        assert "units dead" not in forward + gradients and "← dead" not in gradients
    assert app._exception is None


async def test_a_z1_of_the_hidden_shape_is_marked(tmp_path: Path) -> None:
    app = with_z1(tmp_path, "z1")  # the notebook's own: unit 2 is dead
    async with app.run_test(size=SIZE) as pilot:
        await step_resize_and_zoom(app, pilot)
        assert "1 of 4 units dead" in text_of(app, "#forward")
        assert "← dead unit: row zeroed" in text_of(app, "#gradients")
        assert "dead units not marked" not in text_of(app, "#forward")


ODD_VALUES = {
    "zero_d": np.array(2.5), "cube": np.arange(24.0).reshape(2, 3, 4), "empty": np.zeros((0, 3)),
    "empty_cube": np.zeros((2, 0, 3)), "wave": np.array([1 + 2j, -3e-7j]), "flags": np.array([True, False]),
    "counts": np.array([1, -(2**63), 2**62]), "big": np.array([2**64 - 1], dtype=np.uint64),
    "huge": np.array([1e308, -1.7e308, np.inf, np.nan]), "huge_many": np.full(200, 1.7e308),
    "ints_many": np.arange(200), "complex_many": np.full(200, 1 + 1j), "words": np.array(["a"]),
    "objects": np.array([None], dtype=object), "half": np.array([1, 2], dtype=np.float16),
}


@pytest.mark.parametrize("name", list(ODD_VALUES))
def test_tensor_functions_take_any_array(name: str) -> None:
    value = ODD_VALUES[name]
    with np.errstate(all="raise"):
        block = tensor_block(name, value).plain
        summary(value)
        if value.dtype.kind in "biufc":
            grid(value)
            number_format(value)
    assert block.startswith(name)
    if value.size == 0:
        assert "no values" in block
    if value.ndim > 2:
        assert "shown as 2×" in block


async def test_odd_cache_values_in_the_panels_and_zoom(tmp_path: Path) -> None:
    extras = ("cache.update(zero_d=np.array(2.5), cube=np.arange(24.0).reshape(2, 3, 4), "
              "empty=np.zeros((0, 3)), wave=np.array([1 + 2j, -3e-7j]), flags=z1 > 0, "
              "counts=np.array([1, -2**63, 2**62]), big=np.array([2**64 - 1], dtype=np.uint64), "
              "huge=np.array([1e308, -1.7e308]), huge_many=np.full(200, 1.7e308), "
              "complex_many=np.full(200, 1 + 1j))")
    text = edit(DEFINITIONS, CACHE_LINE, CACHE_LINE + "\n    " + extras)
    app = StepperApp(Stepper(Config(), model=load_model(write(tmp_path, text))))
    async with app.run_test(size=SIZE) as pilot:
        await step_resize_and_zoom(app, pilot)
        forward = text_of(app, "#forward")
        assert "1.000e+00+2.000e+00j" in forward and "-9223372036854775808" in forward
        assert "18446744073709551615" in forward and "shown as 2×12" in forward
        assert "True" in forward and "[] no values" in forward
        await pilot.press("z")
        zoom = app.screen
        assert isinstance(zoom, ZoomScreen)
        for name in ("cache wave", "cache big", "cache empty", "cache zero_d", "cache huge_many"):
            zoom.show(name)
            await pilot.pause()
            stats = str(zoom.query_one("#zoom-stats").render())
            assert name in stats
        zoom.show("cache big")
        grid_widget = zoom.query_one(TensorGrid)
        assert "18446744073709551615" in "".join(s.text for s in grid_widget.render_line(1))
        zoom.show("cache huge_many")
        assert "mean 1.7e+308" in str(zoom.query_one("#zoom-stats").render())  # not inf
    assert app._exception is None


def test_dead_units_says_why_not() -> None:
    stepper = Stepper(Config())
    assert dead_units(stepper.state) == (None, "")
    stepper.next()
    dead, note = dead_units(stepper.state)
    assert note == "" and dead is not None and dead.tolist() == [False, False, True, False]


# ---- 9: user text is never markup, and carries no escape codes to the terminal ------------------

HOSTILE = "[/] [link=x] [bold] x[i=2] \x1b[2J \x1b]0;title\x07 \x1bPdcs\x1b\\ \x9b2J end"
SHOWN = "[/] [link=x] [bold] x[i=2]     end"  # the escapes gone, every other character kept


def test_printable_removes_every_kind_of_escape() -> None:
    assert printable(HOSTILE) == SHOWN
    assert printable("a\x1bPdcs\x1b\\b \x1b_apc\x1b\\c \x1b^pm\x1b\\d \x1bXsos\x1b\\e") == "ab c d e"
    assert printable("a\x90dcs\x9cb \x9d0;t\x07c \x9b31md \x85e \x1b(Bf") == "ab c d e f"
    assert printable("50%\r100%\x00\x7f\tok") == "50%\n100%\tok"
    assert printable("a\nb\tc", oneline=True) == "a b c"


def unsafe(text: str) -> bool:
    return any(c in text for c in "\x1b\x9b\x07\x90\x9c")


async def test_hostile_exception_message_is_shown_literally(tmp_path: Path) -> None:
    text = edit(DEFINITIONS, GRADS_LINE, GRADS_LINE + f"\n    raise RuntimeError({HOSTILE!r})")
    app = StepperApp(Stepper(Config(), model=load_model(write(tmp_path, text))))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("n")  # backward raises: refused, reported, the app alive
        await settle(app, pilot)
        assert app.stepper.state.last_phase is Phase.FORWARD
        log = text_of(app, "#log")
        message = log.split("\n")[1]  # below it, the traceback quotes the source: escaped by repr
        assert SHOWN in message and "dcs" not in message and not unsafe(log)
        messages = told(app)
        assert any(SHOWN in m for m in messages) and not any(unsafe(m) for m in messages)
        assert app.export_screenshot()
    assert app._exception is None


@pytest.mark.parametrize("name", ["[bold]model.py", "x[i=2].py", "[link=x]m.py", "a\x1b[2Jb.py",
                                  "t\x1b]0;title\x07.py", "d\x1bPdcs\x1b\\.py", "c\x9b2J.py"])
async def test_hostile_model_file_name(tmp_path: Path, name: str) -> None:
    app = StepperApp(Stepper(Config(), model=load_model(write(tmp_path, DEFINITIONS, name=name))))
    shown = printable(name)
    assert not unsafe(shown) and "dcs" not in shown
    async with app.run_test(size=SIZE) as pilot:
        assert f"model: {shown}" in text_of(app, "#network")
        assert f"{shown} has printed nothing yet" in text_of(app, "#log")
        await pilot.press("n")
        await settle(app, pilot)
        assert f"model: {shown}" in text_of(app, "#gradients")
        for selector in ("#network", "#gradients", "#log"):
            assert not unsafe(text_of(app, selector))
    assert app._exception is None


async def test_hostile_cache_keys_and_values(tmp_path: Path) -> None:
    extras = ("cache.update({'[/]k': np.ones(2), 'x[i=2]': 1.5, '[bold]\\x1b[2J': np.ones(2), "
              "'note\\x1bPdcs\\x1b\\\\': '\\x1b]0;title\\x07[link=x]hi', '[/]bad': np.array([np.inf])})")
    text = edit(DEFINITIONS, CACHE_LINE, CACHE_LINE + "\n    " + extras)
    app = StepperApp(Stepper(Config(), model=load_model(write(tmp_path, text))))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        forward = text_of(app, "#forward")
        for shown in ("[/]k", "x[i=2]", "[bold]", "note", "[link=x]hi"):
            assert shown in forward
        assert not unsafe(forward) and "dcs" not in forward
        banner = text_of(app, "#banner")  # the inf: a diverged run, named by the user's key
        assert "[/]bad" in banner
        await pilot.press("z")
        assert isinstance(app.screen, ZoomScreen)
        for name in ("cache [/]k", "cache [bold]\x1b[2J"):
            app.screen.show(name)
            stats = str(app.screen.query_one("#zoom-stats").render())
            assert printable(name) in stats and not unsafe(stats)
        assert app.export_screenshot()
    assert app._exception is None


# ---- 16: the progress label names the method actually used -----------------------------------------

async def test_progress_label_says_loop_for_a_user_model(tmp_path: Path) -> None:
    """A user's model is checked with the loop method whatever the config says."""
    hold = tmp_path / "hold"  # while it exists, forward waits: the label can be read
    text = "import os, time\n" + edit(DEFINITIONS, "def forward(x, params, y=None):\n",
                                      "def forward(x, params, y=None):\n"
                                      f"    while os.path.exists({str(hold)!r}):\n"
                                      "        time.sleep(0.001)\n")
    model = load_model(write(tmp_path, text))
    app = StepperApp(Stepper(Config(gradcheck_method="fast"), model=model))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        hold.touch()
        try:
            await pilot.press("n")
            assert app.runner.running is not None and app.runner.running.phase is Phase.GRADCHECK
            label = text_of(app, "#progress-label")
        finally:
            hold.unlink()
        await settle(app, pilot)
        assert "gradcheck (loop)" in label and "fast" not in label
        assert app.stepper.state.gradcheck is not None and app.stepper.state.gradcheck.method == "loop"


def test_an_unterminated_string_escape_hides_no_later_line() -> None:
    assert printable("C\x1bPnoterm\nD\x1b_apc\x1b\\E\nF") == "C\nDE\nF"


async def test_a_key_that_arrives_after_the_screens_are_gone_is_dropped() -> None:
    """What a key typed behind q (or the palette's Quit) meets while Textual tears the app
    down: no screen to dispatch to. It is dropped, not a ScreenStackError."""
    from textual import events

    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=(80, 24)):
        stack = list(app._screen_stack)
        app._screen_stack.clear()
        try:
            await app.on_event(events.Key("n", "n"))
        finally:
            app._screen_stack.extend(stack)
        assert app.stepper.state.last_phase is None


# ---- 22: what a notification says; what a shared file (a session, a keymap) holds -------------------

OSC = "\x1b]0;title\x07\x1b]52;c;aGk=\x07"  # set the terminal's title, write its clipboard


def drawn(app: StepperApp) -> str:
    """Every character the screen draws now (toasts and the screen under a modal included),
    its styles aside: what reaches the terminal besides Textual's own sequences."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return "\n".join("".join(s.text for strip in line for s in strip) for line in update.strips)


async def test_a_notification_is_plain_printable_text() -> None:
    """] on one sample: the toast read 'One sample:  step through a batch' ([ and ] taken as
    markup); what a notification quotes from a file is printable."""
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("]")
        await until(pilot, lambda: "One sample:" in drawn(app), "the toast")
        assert "One sample: [ and ] step through a batch" in drawn(app)
        app.clear_notifications()
        app.notify(f"Cannot open {HOSTILE}")
        await until(pilot, lambda: "Cannot open" in drawn(app), "the toast")
        assert told(app)[-1] == f"Cannot open {SHOWN}"
        assert not unsafe(drawn(app))
        await pilot.press("ctrl+c")  # Textual's own hint, marked up, said plainly
        await until(pilot, lambda: "to quit the app" in drawn(app), "the toast")
        assert "Press ^q to quit the app" in drawn(app) and "[b]" not in drawn(app)


def hostile_session(tmp_path: Path, drill: str = "sign") -> Stepper:
    """A session as a bug report may bring it: a CSV run whose data path and data set name
    carry escape codes, with a fault drill. Opened as --session opens it."""
    from engine.run.session import from_bytes, open_session, record, to_bytes
    from tui.cli.fit import with_data
    from tui.cli.options import parse

    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n2,1,1\n3,3,0\n0,1,1\n")
    options, data = with_data(parse(["--data", str(tmp_path / "d.csv")]))
    parts = members(to_bytes(record(Stepper(options.config, data=data))))
    head = json.loads(parts["session.json"])
    head["config"]["data"] = f"d{OSC}.csv"
    head["data"]["name"] = f"n{OSC}"
    head["path"] = [[f"drill {drill}", 1], ["next", 1]]
    del head["at"]
    parts["session.json"] = json.dumps(head).encode()
    return open_session(from_bytes(rezip(parts)))


async def test_a_shared_sessions_text_reaches_the_terminal_printable(tmp_path: Path) -> None:
    """Its data path (the form's data field) and data set name had reached the terminal with
    their escape codes, and so had a drill's name, which is now refused when the file is read,
    its escapes shown as text. (The form is read through the values its fields are given:
    opening it costs seconds under load.)"""
    from engine.run.session import SessionError
    from tui.app.screens.config import _shown

    with pytest.raises(SessionError, match="unknown fault drill") as refused:
        hostile_session(tmp_path, f"sign{OSC}")
    assert not unsafe(str(refused.value))
    stepper = hostile_session(tmp_path)
    assert _shown(stepper.config, "data") == "d.csv"
    app = StepperApp(stepper)
    async with app.run_test(size=SIZE):
        assert "bug: sign" in text_of(app, "#network") and "n " in text_of(app, "#batch")
        assert not unsafe(drawn(app))
