"""`backprop-stepper serve`: the app in a browser, through textual-serve.

textual-serve runs a command for each browser tab that connects, a process of its own with
Textual's web driver, so every tab has its own stepper. The command is this Python running
`-m tui` with the app's flags exactly as they were given to `serve`, plus the hidden
`--served`, quoted with shlex.join: nothing a visitor sends reaches it. The flags are checked
here first, and the files they name opened as the app opens them, so a bad one is refused
(exit 2) before anything listens. tui.cli.tabs runs the tabs: at most --max-tabs at once, closed
after --idle-timeout seconds without a message, and each app ended with its tab.

In served mode (tui.app.app.StepperApp.served) nothing a visitor types loads a file or runs code:
the config form's file field is refused, and files the app gives out (a saved session)
arrive in the browser as downloads instead of being written on the server.

textual-serve has no authentication: anyone who can reach the port can use the app (and
start processes on this machine), which is why a non-loopback address gets a warning.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import socket
import sys
from typing import NoReturn

from engine.usermodel.errors import ModelError
from tui.cli.load import app_stepper, load_user_model, opened
from tui.cli.options import PROG, Options, UsageError, parse
from tui.text import printable

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: The hidden flag that puts the app in served mode (tui.cli.options); only `serve` passes it.
SERVED_FLAG = "--served"
#: At most this many tabs (app processes) at once, by default: each is a process of about
#: 100 MB; a class of a few people, each with a tab or two.
DEFAULT_MAX_TABS = 8
MAX_TABS_BOUNDS = (1, 1000)
#: A tab that sends nothing (no key, click or resize) for this long is closed, its process
#: ended, by default: half an hour.
DEFAULT_IDLE_TIMEOUT = 1800
IDLE_TIMEOUT_BOUNDS = (1, 7 * 24 * 3600)
OWN_FLAGS = ("--host", "--port", "--public-url", "--max-tabs", "--idle-timeout")


class _ServeParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _ServeParser(prog=f"{PROG} serve", allow_abbrev=False,
                description="Serve the app to web browsers (textual-serve): each browser tab gets "
                "its own stepper. The other flags are the app's (see backprop-stepper --help) and "
                "are fixed for every visitor.",
                epilog="Anyone who can reach the address and port can use the app: there is no "
                "password. The default address, 127.0.0.1, is reachable from this machine only.")
    p.add_argument("--host", default=DEFAULT_HOST, metavar="ADDRESS",
                   help=f"address to listen on (default {DEFAULT_HOST}, this machine only)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, metavar="N",
                   help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--public-url", type=_url, metavar="URL",
                   help="the address browsers reach the server at, when it is not http://HOST:PORT "
                   "(with --host 0.0.0.0, or behind a proxy), e.g. http://192.0.2.10:8000")
    p.add_argument("--max-tabs", type=_max_tabs, default=DEFAULT_MAX_TABS, metavar="N",
                   help=f"at most N tabs open at once, each a process on this machine (default "
                   f"{DEFAULT_MAX_TABS}); one more gets a page saying the server is at its limit")
    p.add_argument("--idle-timeout", type=_idle_timeout, default=DEFAULT_IDLE_TIMEOUT, metavar="SECONDS",
                   help=f"close a tab, and end its process, after SECONDS without a key, click or "
                   f"resize (default {DEFAULT_IDLE_TIMEOUT}, half an hour)")
    return p


def _whole(text: str, bounds: tuple[int, int], what: str) -> int:
    """A whole number within bounds, as typed (digits only, so no sign, no 1e3)."""
    low, high = bounds
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high)) and low <= int(text) <= high):
        raise argparse.ArgumentTypeError(f"expected {what} from {low} to {high}, got {text!r}")
    return int(text)


def _max_tabs(text: str) -> int:
    return _whole(text, MAX_TABS_BOUNDS, "a number of tabs")


def _idle_timeout(text: str) -> int:
    return _whole(text, IDLE_TIMEOUT_BOUNDS, "a whole number of seconds")


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1].strip("/")) == 0:
        raise argparse.ArgumentTypeError(f"expected an address such as http://HOST:PORT, got {text!r}")
    return text.rstrip("/")


def _port(text: str) -> int:
    return _whole(text, (1, 65535), "a port number")


def split(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """serve's own flags (--host, --port, --public-url) and the app's flags, in the order typed.

    serve's flags are taken out wherever they stand (`--port 8001` or `--port=8001`);
    everything else is the app's, passed on untouched."""
    own: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if name in OWN_FLAGS:
            own.append(arg)
            if "=" not in arg:
                if i + 1 >= len(argv):
                    raise UsageError(f"{name}: expected a value")
                own.append(argv[i + 1])
                i += 1
        elif arg in ("-h", "--help"):
            own.append(arg)
        else:
            rest.append(arg)
        i += 1
    return build_parser().parse_args(own), rest


def is_loopback(host: str) -> bool:
    """Only this machine can reach the address: localhost, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def warning(host: str, port: int) -> str | None:
    """The warning for an address other machines can reach, or None for a loopback one."""
    if is_loopback(host):
        return None
    return (f"{PROG}: warning: serving on {host}:{port}, which other machines can reach: anyone "
            "who can reach this port can use the app (there is no password), and each browser "
            "tab starts a process on this machine. Use --host 127.0.0.1 to serve this machine only.")


def app_command(app_argv: list[str]) -> str:
    """The shell command textual-serve runs for each tab: this Python, the app, the flags as
    given (each one quoted) and --served. `exec`: the shell becomes the app, so the process the
    server started, and ends, is the app itself (tui.cli.tabs)."""
    return "exec " + shlex.join([sys.executable, "-m", "tui", *app_argv, SERVED_FLAG])


def check_flags(app_argv: list[str]) -> Options:
    """The app's flags, parsed as the app parses them; the ones that would make a tab do
    something other than run the app are refused. Raises UsageError."""
    options = parse(app_argv, also_known=OWN_FLAGS)
    if options.headless:
        raise UsageError("--headless: serve runs the app in a browser; for a report, run "
                         f"{PROG} --headless without serve")
    if options.export_notebook is not None:
        raise UsageError("--export-notebook: writes a notebook on this machine and exits instead of "
                         f"running the app; serve runs the app in a browser: run {PROG} "
                         "--export-notebook FILE without serve")
    return options


def check_files(options: Options) -> None:
    """Open what each tab will open, exactly as the app opens it (tui.cli.load): the config
    file, the session or data file, the model file (imported with the convention, sizes and
    --reg the flags give, its parameters made and one step rehearsed) and --params. Every
    visitor would otherwise get a tab that fails at once. Raises UsageError."""
    options, data, session = opened(options)
    model = None
    try:
        model = load_user_model(options)
        app_stepper(options, model, data, session)
    except ModelError as error:
        raise UsageError(error.message) from None
    finally:
        if model is not None:
            model.close()


def check_address(host: str, port: int) -> None:
    """Listen on the address for a moment: a host that does not resolve, is not this
    machine's, or a port that is taken is refused before textual-serve prints its banner
    (it printed "Serving ... on", then failed with exit 1). Raises UsageError."""
    shown = printable(host, oneline=True)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as error:
        why = getattr(error, "strerror", None) or error
        raise UsageError(f"--host: cannot resolve {shown!r}: {why}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(address)
        except OSError as error:
            raise UsageError(f"cannot listen on {shown}:{port}: {error.strerror or error}") from None


def _refused(error: UsageError, hint: bool = False) -> int:
    print(f"{PROG} serve: error: {printable(str(error), oneline=True)}", file=sys.stderr)
    if hint:
        print(f"Try '{PROG} serve --help' for the flags.", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    try:
        args, app_argv = split(argv)
        options = check_flags(app_argv)
    except UsageError as error:  # a flag: where to read about them
        return _refused(error, hint=True)
    try:  # a file, a model or the address: one line, as the app says it
        check_files(options)
        check_address(args.host, args.port)
    except UsageError as error:
        return _refused(error)
    caution = warning(args.host, args.port)
    if caution is not None:
        print(caution, file=sys.stderr)
    from tui.cli.tabs import TabServer  # only now: aiohttp and textual-serve take a while to import

    server = TabServer(app_command(app_argv), max_tabs=args.max_tabs, idle_timeout=args.idle_timeout,
                       host=args.host, port=args.port, title=PROG, public_url=args.public_url)
    try:
        server.serve()
    except OSError as error:  # taken between check_address and now
        print(f"{PROG} serve: error: cannot listen on {args.host}:{args.port}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 1
    return 0
