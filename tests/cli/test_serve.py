"""`backprop-stepper serve`: the command each browser tab runs, the warning for an address
other machines reach, served mode (no file loaded from what a visitor types, files out as
downloads), and the whole thing in a real headless Chromium driven by Selenium."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from engine.run import session as sessions
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tests import browser
from tests.browser import NEEDS_BROWSER
from tests.helpers import ROOT
from tui.app.app import StepperApp
from tui.app.screens.config import ConfigScreen, _shown, parse_fields
from tui.cli import serve
from tui.cli.main import main
from tui.cli.options import parse

pytestmark = pytest.mark.slow  # serves the app to a real browser (-m 'not slow' leaves it out)

SIZE = (120, 40)


# ---- the command and the flags ------------------------------------------------------------

def test_each_tab_runs_the_app_with_the_same_flags_quoted() -> None:
    app_argv = ["--lr", "0.5", "--x", "-0.5,1,2", "--data", "my data; rm -rf ~ $(id).csv"]
    command = serve.app_command(app_argv)
    # exec: the process the server starts, and ends, is the app itself, not a shell around it
    assert shlex.split(command) == ["exec", sys.executable, "-m", "tui", *app_argv, "--served"]
    assert "'my data; rm -rf ~ $(id).csv'" in command  # one quoted word for the shell


def test_host_and_port_are_taken_out_wherever_they_stand() -> None:
    args, rest = serve.split(["--lr", "0.5", "--port", "8123", "--x", "-0.5,1,2", "--host=::1",
                              "--public-url", "http://[::1]:8123", "--max-tabs=3", "--idle-timeout", "60"])
    assert (args.host, args.port, args.public_url) == ("::1", 8123, "http://[::1]:8123")
    assert (args.max_tabs, args.idle_timeout) == (3, 60)
    assert rest == ["--lr", "0.5", "--x", "-0.5,1,2"]
    args, rest = serve.split([])
    assert (args.host, args.port, rest) == ("127.0.0.1", 8000, [])
    assert (args.max_tabs, args.idle_timeout) == (8, 1800)  # a few visitors; half an hour


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_a_loopback_address_gets_no_warning(host: str) -> None:
    assert serve.is_loopback(host) and serve.warning(host, 8000) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "stepper.example.org"])
def test_any_other_address_gets_the_warning(host: str) -> None:
    text = serve.warning(host, 8000)
    assert text is not None and "anyone who can reach this port can use the app" in text


class FakeServer:
    made: list[FakeServer] = []  # noqa: RUF012

    def __init__(self, command: str, *, max_tabs: int, idle_timeout: float, host: str, port: int, title: str,
                 public_url: str | None) -> None:
        self.command, self.host, self.port, self.title = command, host, port, title
        self.public_url, self.max_tabs, self.idle_timeout = public_url, max_tabs, idle_timeout
        self.served = False
        FakeServer.made.append(self)

    def serve(self) -> None:
        self.served = True


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeServer]]:
    import tui.cli.tabs

    FakeServer.made = []
    monkeypatch.setattr(tui.cli.tabs, "TabServer", FakeServer)
    yield FakeServer


def test_serve_passes_the_flags_and_warns_off_loopback(fake_server: type[FakeServer],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123", "--lr", "0.5", "--seed", "7"]) == 0
    (server,) = fake_server.made
    assert server.served and (server.host, server.port, server.public_url) == ("0.0.0.0", 8123, None)
    assert shlex.split(server.command)[4:] == ["--lr", "0.5", "--seed", "7", "--served"]
    assert (server.max_tabs, server.idle_timeout) == (8, 1800)
    err = capsys.readouterr().err
    assert "warning" in err and "anyone who can reach this port can use the app" in err
    assert main(["serve", "--port", "8124", "--public-url", "https://stepper.example.org/"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert fake_server.made[-1].public_url == "https://stepper.example.org"


@pytest.mark.parametrize("argv, message", [
    (["--lr", "abc"], "--lr: expected a number"),
    (["--headless"], "--headless: serve runs the app"),
    (["--steps", "3"], "--steps only applies to a report"),
    (["--data", "/nonexistent/file.csv"], "--data:"),
    (["--port", "99999"], "--port: expected a port number"),
    (["--port"], "--port: expected a value"),
    (["--public-url", "stepper:8000"], "--public-url: expected an address"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--max-tabs", "0"], "--max-tabs: expected a number of tabs from 1 to 1000, got '0'"),
    (["--max-tabs", "1001"], "--max-tabs: expected a number of tabs from 1 to 1000"),
    (["--idle-timeout", "1e3"], "--idle-timeout: expected a whole number of seconds from 1 to 604800"),
    (["--idle-timeout", "9" * 5000], "--idle-timeout: expected a whole number of seconds"),
])
def test_bad_flags_are_refused_before_serving(argv: list[str], message: str, fake_server: type[FakeServer],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *argv]) == 2
    assert not fake_server.made
    out, err = capsys.readouterr()
    assert out == "" and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--export-notebook", "run.ipynb"], "--export-notebook: writes a notebook on this machine and exits"),
    (["--export-notebook", "run.ipynb", "--steps", "3"], "--export-notebook: writes a notebook"),
    (["--save-session", "s.npz"], "--save-session only applies to a report"),
    (["--export-params", "p.npz"], "--export-params only applies to a report"),
    (["--format", "json"], "--format only applies to a report"),
    (["--explain", "loss"], "--explain only applies to a report"),
])
def test_an_output_written_instead_of_the_app_is_refused(argv: list[str], message: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         fake_server: type[FakeServer],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --export-notebook FILE` wrote FILE on the server and served nothing: the flags
    that make the command write a file or a report instead of running the app mean nothing to a
    browser's tab."""
    monkeypatch.chdir(tmp_path)
    assert main(["serve", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"serve: error: {message}" in err and "Traceback" not in err
    assert not fake_server.made and list(tmp_path.iterdir()) == []


def _session_bytes(**changes: Any) -> bytes:
    stepper = Stepper(Config())
    stepper.next()
    stepper.next()
    return sessions.to_bytes(replace(sessions.record(stepper), **changes))


@pytest.mark.parametrize("content, message", [
    (b"not a zip at all", "not a session file (.npz)"),
    (_session_bytes()[:-40], "not a session file (.npz)"),  # cut short: its zip directory is gone
    # (without checkpoints, whose loss trail would be refused first as not reaching step 7)
    (_session_bytes(at=(7, "update"), checkpoints=None),
     "the path leads to step 1 (backward), not to step 7 (update)"),
])
def test_a_damaged_session_is_refused_before_serving(content: bytes, message: str, tmp_path: Path,
                                                     fake_server: type[FakeServer],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """It was served: every visitor's tab opened it, failed and closed at once. The last one
    reads well and fails only when its path is replayed, as the app replays it."""
    path = tmp_path / "damaged.npz"
    path.write_bytes(content)
    assert main(["serve", "--session", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and not fake_server.made
    assert err.startswith(f"backprop-stepper serve: error: --session: {path}: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line: a file is no flag to read about


def test_a_course_model_sized_by_the_flags_is_served(fake_server: type[FakeServer],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A cs231n TwoLayerNet is built with the sizes the flags give; serve imported it without
    them and refused it ("the cs231n convention needs the network's sizes") though the app
    runs it. Now it is loaded as the app loads it."""
    model = str(ROOT / "tests" / "fixtures" / "cs231n_two_layer.py")
    flags = ["--model", model, "--convention", "cs231n", "--inputs", "3", "--hidden", "4", "--classes", "3",
             "--reg", "0.1"]
    assert main(["serve", *flags]) == 0, capsys.readouterr().err
    (server,) = fake_server.made
    assert shlex.split(server.command)[4:] == [*flags, "--served"]
    assert main(["serve", *flags[:-2], "--hidden", "0"]) == 2  # and what the app refuses, serve refuses
    assert "serve: error: --hidden" in capsys.readouterr().err


def test_an_address_that_cannot_be_listened_on_is_refused_before_any_banner(
        fake_server: type[FakeServer], capsys: pytest.CaptureFixture[str]) -> None:
    """textual-serve printed "Serving ... on http://..." and then failed with exit 1."""

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"serve: error: cannot listen on 127.0.0.1:{port}: Address already in use" in err
    assert main(["serve", "--host", "bad host!!", "--port", "8125"]) == 2
    out, err = capsys.readouterr()
    assert "serve: error: --host: cannot resolve 'bad host!!'" in err and "warning" not in err
    assert out == "" and not fake_server.made


def test_served_is_a_hidden_flag() -> None:
    assert parse(["--served"]).served and not parse([]).served
    assert "--served" not in subprocess.run([sys.executable, "-m", "tui", "--help"], capture_output=True,
                                            text=True, check=True).stdout


# ---- served mode --------------------------------------------------------------------------

def test_served_mode_refuses_a_changed_csv_path() -> None:
    config = Config()
    values = {key: _shown(config, key) for key in ("inputs", "seed", "data")}
    result, errors = parse_fields(values, config, served=True)
    assert result is not None and errors == {}  # the path the server started with is fine
    values["data"] = "/etc/passwd"
    result, errors = parse_fields(values, config, served=True)
    assert result is None and "fixed by the command line" in errors["data"]
    assert "data" in parse_fields(values, config, served=False)[1]  # not a CSV: refused anyway,
    assert "fixed by" not in parse_fields(values, config, served=False)[1]["data"]  # for that reason


async def test_the_served_form_shows_the_csv_field_disabled() -> None:
    app = StepperApp(Stepper(Config()), served=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ConfigScreen)
        assert app.screen.query_one("#field-data", Input).disabled
        assert not app.screen.query_one("#field-dataset", Input).disabled
        app.screen.query_one("#field-data", Input).value = "/etc/passwd"  # as if it got through
        app.screen.query_one("#apply").press()
        await pilot.pause()
        assert isinstance(app.screen, ConfigScreen)  # refused: the form stays open
        assert "fixed by the command line" in str(app.screen.query_one("#error-data").render())


async def test_served_ctrl_s_delivers_the_session_to_the_browser(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = StepperApp(Stepper(Config()), served=True)
    delivered: list[tuple[bytes, dict[str, Any]]] = []
    monkeypatch.setattr(app, "deliver_binary", lambda file, **kw: delivered.append((file.read(), kw)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n", "n", "ctrl+s")
    ((data, kwargs),) = delivered
    assert kwargs["save_filename"] == "backprop-session-step1-update.npz"
    assert list(tmp_path.iterdir()) == []  # nothing written on the server
    stepper = sessions.open_session(sessions.from_bytes(data))
    assert stepper.state.update is not None and round(stepper.state.update.loss_after, 4) == 0.9036


async def test_the_served_screenshot_is_a_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = StepperApp(Stepper(Config()), served=True)
    delivered: list[tuple[bytes, dict[str, Any]]] = []
    monkeypatch.setattr(app, "deliver_binary", lambda file, **kw: delivered.append((file.read(), kw)))
    async with app.run_test(size=SIZE):
        app.action_screenshot()  # what the palette's Screenshot calls
    ((data, kwargs),) = delivered
    assert data.startswith(b"<svg") and kwargs["mime_type"] == "image/svg+xml"
    name = kwargs["save_filename"]
    assert name.startswith("backprop-stepper-") and name.endswith(".svg")
    assert list(tmp_path.iterdir()) == []  # nothing written on the server


async def test_ctrl_s_in_a_terminal_writes_the_session_here(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "ctrl+s")
    stepper = sessions.open_session(sessions.read(tmp_path / "backprop-session-step1-forward.npz"))
    assert stepper.state.forward is not None and stepper.state.update is None


# ---- a real browser -----------------------------------------------------------------------

@NEEDS_BROWSER
def test_in_a_real_browser_four_n_show_the_loss_and_ctrl_s_downloads_the_session(tmp_path: Path) -> None:
    with browser.served_page(tmp_path) as (page, downloads):
        page.type(*"nnnn")
        screen = page.screen_with("loss 0.9036")
        assert "step 1" in screen.splitlines()[0]
        page.ctrl("s")
        page.until(lambda _: (downloads / "backprop-session-step1-update.npz").exists())
        if os.environ.get("BACKPROP_SCREENSHOT"):  # to look at the page as a visitor sees it
            page.driver.save_screenshot(os.environ["BACKPROP_SCREENSHOT"])
    stepper = sessions.open_session(sessions.read(downloads / "backprop-session-step1-update.npz"))
    assert stepper.state.step == 1 and stepper.state.update is not None
    assert round(stepper.state.update.loss_after, 4) == 0.9036
    assert stepper.path == [("next", 4)]


@NEEDS_BROWSER
def test_in_a_real_browser_p_plays_plus_changes_the_rate_and_p_pauses(tmp_path: Path) -> None:
    with browser.served_page(tmp_path) as (page, downloads):
        page.type("p")
        page.screen_with("playing: step")
        page.type("+")
        page.screen_with("lr=0.3")  # the network line, redrawn as the run goes
        page.type("p")
        page.screen_with("Paused")
        page.until(lambda _: "playing: step" not in page.screen())
        page.ctrl("s")
        page.until(lambda _: list(downloads.glob("backprop-session-step*-update.npz")))
    [saved] = downloads.glob("backprop-session-step*-update.npz")
    stepper = sessions.open_session(sessions.read(saved))
    assert stepper.config.lr == 0.3 and any(action == "set lr=0.3" for action, _ in stepper.path)
    update = stepper.state.update
    assert update is not None and update.lr == 0.3
    assert saved.name == f"backprop-session-step{stepper.state.step}-update.npz"
