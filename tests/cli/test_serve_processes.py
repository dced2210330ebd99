"""Every process ends with its owner: a browser tab's app when its connection ends however it
ends (closed, dropped, idle), when the server stops or dies, and at SIGTERM or SIGHUP; an app in
a terminal when its terminal goes. And `serve --max-tabs N` runs at most N apps.

The tabs are a raw websocket client (aiohttp's, as textual-serve's page speaks to the server).
Each wait is on a condition (a process gone, a page answered) with a generous deadline: nothing
here depends on how fast the machine is, only on what eventually happens. The one deadline
that is a promise is the 5 s after which no app of a vanished tab may remain.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import ROOT, free_port, served
from tests.processes import default_signals
from tests.waits import SAFETY_NET, until_true

#: What the app's first screen shows (its footer): the app is up and drawing.
DRAWN = b"Next phase"
#: The environment textual-serve gives a tab's app (textual_serve.app_service), as far as the
#: app cares: Textual's web driver, talking in packets on stdin and stdout.
WEB_DRIVER = {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver", "COLUMNS": "80", "ROWS": "24"}

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")


# ---- the process table --------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state, ppid, ... starttime at 19)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def app_processes(server: int) -> set[tuple[int, str]]:
    """The apps (`--served`) the server runs, as (pid, start time): its children that still
    run (a zombie has ended, only not been waited for yet)."""
    found = set()
    for entry in os.scandir("/proc"):
        stat = _stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is None or stat[0] == "Z" or int(stat[1]) != server:
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--served" in argv:
            found.add((int(entry.name), stat[19]))
    return found


def running(processes: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Those of the processes still running (the same pid with the same start time)."""
    return {(pid, start) for pid, start in processes
            if (stat := _stat(pid)) is not None and stat[0] != "Z" and stat[19] == start}


# ---- tabs ---------------------------------------------------------------------------------

async def open_tab(session: aiohttp.ClientSession, port: int,
                   drawn: bool = True) -> aiohttp.ClientWebSocketResponse:
    """A tab as textual-serve's page opens one: the websocket, then its terminal's size. With
    `drawn`, once the app has drawn its first screen."""
    tab = await session.ws_connect(f"http://127.0.0.1:{port}/ws?width=80&height=24")
    await tab.send_json(["resize", {"width": 100, "height": 30}])
    if drawn:
        await first_screen(tab)
    return tab


async def first_screen(tab: aiohttp.ClientWebSocketResponse) -> None:
    seen = b""
    async with asyncio.timeout(SAFETY_NET):  # an app's start-up on a loaded machine
        while DRAWN not in seen:
            message = await tab.receive()
            assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
            if message.type is aiohttp.WSMsgType.BINARY:
                seen = seen[-100:] + message.data


def drop(tab: aiohttp.ClientWebSocketResponse) -> None:
    """The connection goes without a websocket close frame, as when a browser is killed or its
    network goes: the socket is shut down under the client."""
    connection = tab.get_extra_info("socket")
    assert connection is not None
    connection.shutdown(socket.SHUT_RDWR)


async def until_closed(tab: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """The close the server sends (what it drew before is skipped)."""
    async with asyncio.timeout(SAFETY_NET):
        while (message := await tab.receive()).type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            pass
    return message


async def index_status(session: aiohttp.ClientSession, port: int) -> int:
    async with session.get(f"http://127.0.0.1:{port}/") as page:
        return page.status


# ---- the server ---------------------------------------------------------------------------

@pytest.mark.slow
async def test_twenty_tabs_that_vanish_leave_no_process(tmp_path: Path) -> None:
    """Each of them had left an app spinning at 25-55% of a core, deaf to SIGTERM, for ever.
    Half go while their app is still starting (the page had sent its size: the case that
    made Textual spin), half once it has drawn."""
    port = free_port()
    with served(port, tmp_path / "serve.log", "--max-tabs", "20") as server:
        async with aiohttp.ClientSession() as session:
            for visit in range(20):
                drop(await open_tab(session, port, drawn=visit % 2 == 1))
        until_true(lambda: not app_processes(server.pid), "an app of a vanished tab still runs", within=5)


@pytest.mark.slow
async def test_max_tabs_2_refuses_the_third_tab_with_a_page_and_no_process(tmp_path: Path) -> None:
    port = free_port()
    with served(port, tmp_path / "serve.log", "--max-tabs", "2") as server:
        async with aiohttp.ClientSession() as session:
            first, second = await open_tab(session, port), await open_tab(session, port)
            assert len(app_processes(server.pid)) == 2
            async with session.get(f"http://127.0.0.1:{port}/") as page:
                assert page.status == 503
                assert "server is at its limit of 2 tabs open at once" in await page.text()
            late = await session.ws_connect(f"http://127.0.0.1:{port}/ws")  # its page came earlier
            said = await late.receive()
            assert said.type is aiohttp.WSMsgType.BINARY and b"at its limit of 2 tabs" in said.data
            closed = await until_closed(late)
            assert closed.type is aiohttp.WSMsgType.CLOSE
            assert closed.data == aiohttp.WSCloseCode.TRY_AGAIN_LATER
            assert len(app_processes(server.pid)) == 2  # none was started for it
            await first.close()  # a place comes free once that tab's app has ended
            deadline = time.monotonic() + SAFETY_NET
            while await index_status(session, port) != 200:
                assert time.monotonic() < deadline, "the closed tab's place did not come free"
                await asyncio.sleep(0.05)
            fourth = await open_tab(session, port)
            assert len(app_processes(server.pid)) == 2
            await asyncio.gather(second.close(), fourth.close())


@pytest.mark.slow
async def test_an_idle_tab_is_closed_and_its_app_ended(tmp_path: Path) -> None:
    port = free_port()
    with served(port, tmp_path / "serve.log", "--idle-timeout", "2") as server:
        async with aiohttp.ClientSession() as session:
            tab = await open_tab(session, port, drawn=False)  # and nothing more is sent
            closed = await until_closed(tab)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.extra == "no key or click for 2 s"
        until_true(lambda: not app_processes(server.pid), "the idle tab's app to end")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "ctrl+c"])
async def test_stopping_serve_ends_every_app(stop: signal.Signals, tmp_path: Path) -> None:
    """Two tabs open and one just gone: the server ends them all before it exits (it had
    waited a minute for the open ones, and a spinning app outlived it)."""
    port = free_port()
    with served(port, tmp_path / "serve.log") as server:
        async with aiohttp.ClientSession() as session:
            tabs = [await open_tab(session, port), await open_tab(session, port)]  # kept: open
            drop(await open_tab(session, port, drawn=False))
            apps: set[tuple[int, str]] = set()  # the one gone ends soon: each is counted as it is seen
            until_true(lambda: len(apps.update(app_processes(server.pid)) or apps) == 3, "three apps")
            os.kill(server.pid, stop)
            server.wait(timeout=SAFETY_NET)
            for tab in tabs:  # each page told, to show "Session ended"
                closed = await until_closed(tab)
                assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY)
        assert server.returncode == 0
        until_true(lambda: not running(apps), "an app outlived the server", within=5)


@pytest.mark.slow
async def test_a_server_killed_outright_leaves_no_app(tmp_path: Path) -> None:
    """kill -9 leaves the server no say: each app hears its input end and ends by itself."""
    port = free_port()
    with served(port, tmp_path / "serve.log") as server:
        async with aiohttp.ClientSession() as session:
            tabs = [await open_tab(session, port), await open_tab(session, port)]  # kept: open
            apps = app_processes(server.pid)
            assert len(apps) == len(tabs)
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=SAFETY_NET)
        until_true(lambda: not running(apps), "the apps of the killed server to end")


# ---- an app alone -------------------------------------------------------------------------

@contextlib.contextmanager
def served_app(stdout: int = subprocess.PIPE) -> Iterator[subprocess.Popen[bytes]]:
    """A tab's app as textual-serve starts it, without the server: our end of its pipes."""
    with subprocess.Popen([sys.executable, "-m", "tui", "--served"], cwd=ROOT, env=os.environ | WEB_DRIVER,
                          stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.DEVNULL,
                          preexec_fn=default_signals) as app:
        try:
            yield app
        finally:
            app.kill()


def fill(path: str) -> None:
    """Write into a pipe or terminal until it takes no more: nothing more the app writes there
    (its exit's last words included) can go through until someone reads. Through a file
    description of our own, non-blocking: the app's stays blocking."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        for size in (1 << 16, 1):  # whole pages, then what room is left in the last one
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


@pytest.mark.slow
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_served_app_that_cannot_write_ends_at_sigterm_and_sighup(number: signal.Signals) -> None:
    """Nobody reads its output any more (its server hung or stopped): exiting as q does means
    writing, so the app waited for ever, deaf to the signal. It is ended instead."""
    output, into = os.pipe()
    with served_app(stdout=into) as app:
        os.close(into)
        shown = b""
        while DRAWN not in shown:  # up and drawing: its handlers are in place
            chunk = os.read(output, 1 << 16)
            assert chunk, "the app ended before drawing"
            shown = shown[-100:] + chunk
        fill(f"/proc/self/fd/{output}")  # the read end's path opens the pipe for writing too
        app.send_signal(number)
        assert app.wait(timeout=SAFETY_NET) == 128 + number  # ended: it could not exit itself
    os.close(output)


@pytest.mark.slow
def test_a_served_app_ends_when_its_input_ends() -> None:
    """The server gone (or done with it), its stdin ends: Textual's web driver stopped reading
    and the app ran on, unseen, for ever."""
    with served_app() as app:
        assert app.stdin is not None and app.stdout is not None
        output = bytearray()

        def read() -> None:  # all it draws, so that it never waits on a full pipe
            while chunk := app.stdout.read1():
                output.extend(chunk)

        threading.Thread(target=read, daemon=True).start()
        until_true(lambda: DRAWN in output, "the app's first screen")
        app.stdin.close()
        assert app.wait(timeout=SAFETY_NET) == 0  # it exited as q does: not ended without its help


# ---- an app in a terminal -----------------------------------------------------------------

@contextlib.contextmanager
def in_terminal() -> Iterator[tuple[subprocess.Popen[bytes], int, str]]:
    """The app in a 120x40 pseudo-terminal: the app, our end of the terminal and the path of
    the app's end."""
    ours, its = os.openpty()
    fcntl.ioctl(its, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    path = os.ttyname(its)
    try:
        with subprocess.Popen([sys.executable, "-m", "tui"], cwd=ROOT, stdin=its, stdout=its, stderr=its,
                              env=dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40"),
                              start_new_session=True, preexec_fn=default_signals) as app:
            os.close(its)
            try:
                yield app, ours, path
            finally:
                app.kill()
    finally:
        os.close(ours)


@pytest.mark.slow
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_an_app_whose_terminal_takes_no_output_ends_at_sigterm_and_sighup(number: signal.Signals) -> None:
    """A terminal that takes no more output (its output stopped as ctrl+s stops it, or hung):
    exiting as q does means restoring the terminal, so the app waited for ever, deaf to the
    signal (the issue's apps left running 25 minutes after their terminals closed). It is
    ended instead."""
    with in_terminal() as (app, terminal, path):
        shown = b""
        while DRAWN not in shown:
            shown = shown[-100:] + os.read(terminal, 1 << 16)
        stopper = os.open(path, os.O_WRONLY | os.O_NOCTTY)
        try:
            termios.tcflow(stopper, termios.TCOOFF)  # every write to the terminal now waits
            app.send_signal(number)
            assert app.wait(timeout=SAFETY_NET) == 128 + number
        finally:
            os.close(stopper)
