"""The tabs `serve` runs: one app process a browser tab, counted, bounded and always ended.

textual-serve 1.1.3 (pinned ==1.1.3 in pyproject.toml) starts a process for each websocket
that connects and, when the websocket ends, asks the app to quit (a "quit" packet on its
stdin) and waits for its output to end. Nothing more: it never closes the app's stdin, never
signals it, and has no limit on tabs and no idle timeout. An app that did not quit when asked
(one asked during its start-up could spin in Textual's layout for ever, see tui.app.lifeline) was
left running, tab after tab, and outlived the server.

TabServer keeps textual-serve's page, downloads and the packets it exchanges with an app, and
replaces its websocket handler (Server.handle_websocket, a public method):
- at most `max_tabs` apps run at once: the page is refused beyond that (503, a page saying
  so), and a connection beyond it (its page loaded before the limit was reached) is closed
  with the same words and no process;
- the browser's messages are passed to the app through AppService's public methods, each
  checked first: a malformed one is dropped, a terminal size is bounded;
- a tab that sends nothing for `idle_timeout` seconds is closed;
- however the connection ends (closed, dropped, timed out by the heartbeat, idle), the app is
  ended: asked to quit, its stdin closed (the app then ends by itself: tui.app.lifeline), and
  killed if it has not ended within GRACE seconds; the tab counts until its process is gone;
- when the server stops (ctrl+c, SIGTERM), every tab is ended before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
from asyncio.subprocess import Process
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tui.cli.options import PROG

log = logging.getLogger("textual-serve")  # textual-serve's logger: its handler shows our lines too

#: Seconds an app has to end after its tab did, before it is killed. tui.app.lifeline gives an app
#: that hears its input end less; this is for one that cannot (stopped, or stuck in C code).
GRACE = 3.0
#: Seconds between the pings that find a connection gone silently (textual-serve's value).
HEARTBEAT = 15.0
#: The terminal sizes a tab may ask for: a bound on what one visitor can make an app draw.
MAX_COLUMNS, MAX_ROWS = 1000, 500
DEFAULT_COLUMNS, DEFAULT_ROWS = 80, 24
ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


class Tab(AppService):
    """One tab's app process, which can be ended whatever the app does.

    Overrides AppService._open_app_process, private in textual-serve 1.1.3 (pinned ==1.1.3),
    only to keep the process it starts: AppService offers no other way to wait for it or to
    signal it. The command starts with `exec` (tui.cli.serve.app_command), so the process is the
    app itself, not a shell around it."""

    process: Process | None = None
    _ending: asyncio.Task[None] | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self.process = await super()._open_app_process(width, height)
        return self.process

    def ending(self, grace: float = GRACE) -> asyncio.Task[None]:
        """The task that ends the app (started once, by whoever asks first)."""
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end(grace))
        return self._ending

    async def _end(self, grace: float) -> None:
        """Ask the app to quit and close its input; kill it if it has not ended within `grace`
        seconds; then let AppService finish (downloads cancelled, the output read to its end)."""
        process = self.process
        if process is not None and process.returncode is None:
            await self.send_meta({"type": "quit"})
            self.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                log.warning("a tab's app (pid %d) did not end within %g s of its tab: killed",
                            process.pid, grace)
                await process.wait()
        with contextlib.suppress(TimeoutError):  # a child of the app may hold its output open
            await asyncio.wait_for(self.stop(), grace)


def full_message(max_tabs: int) -> str:
    return (f"This {PROG} server is at its limit of {max_tabs} tab{'s' * (max_tabs != 1)} open at once. "
            "Close another tab, or try again later.")


def full_page(max_tabs: int) -> str:
    text = html.escape(full_message(max_tabs))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{PROG}: at its limit</title></head>"
            f"<body style='font-family: monospace; margin: 2em'><h1>{PROG}</h1><p>{text}</p>"
            "<p><a href='/'>Try again</a></p></body></html>")


def bounded_size(width: object, height: object) -> tuple[int, int] | None:
    """A terminal size a tab may have (whole numbers, clamped to MAX_COLUMNS x MAX_ROWS), or
    None for anything that is not two whole numbers."""
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (width, height)):
        return None
    assert isinstance(width, int) and isinstance(height, int)
    return max(1, min(width, MAX_COLUMNS)), max(1, min(height, MAX_ROWS))


def _query_size(query: Any) -> tuple[int, int]:
    """The size the page asks for in its websocket's address (?width=W&height=H)."""
    try:
        size = bounded_size(int(query.get("width", DEFAULT_COLUMNS)), int(query.get("height", DEFAULT_ROWS)))
    except ValueError:
        size = None
    return size or (DEFAULT_COLUMNS, DEFAULT_ROWS)


class TabServer(Server):
    """textual-serve's Server, with the tabs bounded, idle ones closed and every app ended."""

    def __init__(self, command: str, *, max_tabs: int, idle_timeout: float, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.max_tabs = max_tabs
        self.idle_timeout = idle_timeout
        #: The tabs whose app may still run, and their connections.
        self.tabs: dict[Tab, web.WebSocketResponse] = {}

    @property
    def full(self) -> bool:
        return len(self.tabs) >= self.max_tabs

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self.full:
            return web.Response(status=503, text=full_page(self.max_tabs), content_type="text/html",
                                headers={"Retry-After": "60"})
        response: web.StreamResponse = await super().handle_index(request)
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=HEARTBEAT)
        await websocket.prepare(request)
        if self.full:  # its page was loaded before the limit was reached
            log.info("a tab refused: already %d open (--max-tabs)", len(self.tabs))
            with contextlib.suppress(ConnectionError):
                await websocket.send_bytes(f"\r\n{full_message(self.max_tabs)}\r\n".encode())
            await websocket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"server at its limit of tabs")
            return websocket
        async def close() -> None:  # the app has exited (q): its page shows "Session ended"
            await websocket.close()

        tab = Tab(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                  close=close, download_manager=self.download_manager, debug=self.debug)
        self.tabs[tab] = websocket
        try:
            await tab.start(*_query_size(request.query))
            if not await self._relay(websocket, tab):
                log.info("a tab closed after %g s without a message (--idle-timeout)", self.idle_timeout)
                await websocket.close(message=f"no key or click for {self.idle_timeout:g} s".encode())
        except Exception:
            log.exception("a tab failed")
        finally:
            ending = tab.ending()
            ending.add_done_callback(lambda _: self.tabs.pop(tab, None))  # counted until it is gone
            await asyncio.shield(ending)
            await websocket.close()
        return websocket

    async def _relay(self, websocket: web.WebSocketResponse, tab: Tab) -> bool:
        """Pass the browser's messages to the app until the connection ends (True) or has
        been idle for idle_timeout seconds (False)."""
        while True:
            try:
                message = await websocket.receive(timeout=self.idle_timeout)
            except TimeoutError:
                return False
            if message.type in ENDED:
                return True
            if message.type is WSMsgType.TEXT:
                with contextlib.suppress(ConnectionError):  # going: the next receive says so
                    await self._deliver(websocket, tab, message.data)

    async def _deliver(self, websocket: web.WebSocketResponse, tab: Tab, text: str) -> None:
        """One message of textual-serve's page: ["stdin", keys], ["resize", {"width": W,
        "height": H}], ["ping", token], ["focus"] or ["blur"]. Anything else is dropped."""
        try:
            envelope = json.loads(text)
        except ValueError:
            return
        if not isinstance(envelope, list) or not envelope:
            return
        kind, body = envelope[0], envelope[1] if len(envelope) > 1 else None
        if kind == "stdin" and isinstance(body, str):
            await tab.send_bytes(body.encode("utf-8", "replace"))
        elif kind == "resize" and isinstance(body, dict):
            size = bounded_size(body.get("width"), body.get("height"))
            if size is not None:
                await tab.set_terminal_size(*size)
        elif kind == "ping" and isinstance(body, str):
            await websocket.send_json(["pong", body])
        elif kind == "focus":
            await tab.focus()
        elif kind == "blur":
            await tab.blur()

    async def on_shutdown(self, app: web.Application) -> None:
        """The server is stopping (ctrl+c, SIGTERM): every tab is closed (its page says so) and
        its app ended before the server exits."""
        await asyncio.gather(*(self._close(tab, websocket) for tab, websocket in list(self.tabs.items())))

    async def _close(self, tab: Tab, websocket: web.WebSocketResponse) -> None:
        await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopped")
        await tab.ending()
