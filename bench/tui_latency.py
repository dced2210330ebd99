"""Keypress-to-frame time of the app, headlessly and in a real terminal (tmux).

For each network size: open the app at 120x40, send the key `n` as the terminal driver
would, and time from sending the key event to the end of the next frame the app renders
(compositing plus turning the frame into terminal output, which a headless app skips, so it
is done here). Between presses the app is left to go idle, so each press is timed alone.
Pilot's own press() waits for idle and would add ~65 ms of its own: it is not used.

In a real terminal (the `tmux` lines, as a person feels it): the app runs in tmux at
120x40; a key is sent with `tmux send-keys` and `capture-pane` is polled until the screen
changes and then stays unchanged for 200 ms; the time is from the key to the last change
(the settled screen, so a repaint in several frames counts whole). Both go through one
tmux control-mode client (Pane), so that watching the screen does not take a core from the
app being watched. The same is done, in the same run, for bench/trivial_app.py (a Static
that changes on a key), the baseline of every ratio, and for `bench/trivial_app.py --screen`
(a key repaints a screenful of styled numbers), the floor of a key that changes most of the
screen. `tmux start` times launching to the first non-blank screen against the trivial app's;
`tmux start settled` to the first screen whole (its last change before it stays unchanged).

    python bench/tui_latency.py [--presses 40] [--tmux-presses 20] [--starts 7] [--no-headless]
                                [--only TEXT] [--starts-only] [--against CHECKOUT]

--only keeps the tmux networks whose label contains TEXT; --starts-only times only the starts
(no keys). --against times another checkout's app too (e.g. main's, to see what a change did),
in the same run: each network's presses are taken in four rounds, this checkout's and the
other's alternated, and its starts alternated with the others, so a busy moment of the machine
falls on both; its lines are marked "(against)".

Goals (issue 28), tmux, against the screenful measured in the same run: median key-to-settled
at most 1.5x at 3-4-1 and on the moons, at most 2x at 784-128-1 and 784-256-128-10; every
phase kind's p90 at most 80 ms at 784-256-128-10. The machine's load (os.getloadavg) is
printed before and after: other work on the machine slows the screenful too, so the ratios
hold up better than the times.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events

from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.app.app import StepperApp

NETWORKS = [Config(), Config(inputs=784, hidden=(128,)),
            Config(inputs=784, hidden=(256, 128), classes=10, init="he")]


class NextFrame:
    """Keys sent to an app as its terminal driver would send them, and the first frame drawn
    after a key changed the stepper's state, turned into terminal output (compositing plus
    what a real terminal's driver does, which a headless app skips)."""

    def __init__(self, app: StepperApp) -> None:
        self.app = app
        self.drawn = asyncio.Event()
        self.before: object = None
        self.display = app._display
        app._display = self.timed_display  # type: ignore[method-assign]

    def timed_display(self, screen, renderable) -> None:  # type: ignore[no-untyped-def]
        self.display(screen, renderable)
        # Only a frame drawn after the key changed the stepper's state counts.
        if renderable is not None and self.app.stepper.state is not self.before:
            renderable.render_segments(self.app.console)
            self.drawn.set()

    def send(self, key: str = "n") -> None:
        self.drawn.clear()
        self.before = self.app.stepper.state
        event = events.Key(key, key)
        event.set_sender(self.app)
        self.app._driver.send_message(event)  # type: ignore[union-attr]


async def measure(config: Config, presses: int) -> list[float]:
    app = StepperApp(Stepper(config.resolved()))
    frame = NextFrame(app)
    times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(presses):
            start = time.perf_counter()
            frame.send()
            await frame.drawn.wait()
            times.append(time.perf_counter() - start)
            await pilot.pause()
    return times


ROOT = Path(__file__).resolve().parent.parent
SESSION = "backprop-tui-latency"
#: A tmux server of its own (tmux -L), kept when it has no session (exit-empty off): a server
#: stops when its last session ends, and a session started as it stops fails ("server exited
#: unexpectedly"), which other programs' sessions on the default server made happen here.
TMUX = ["tmux", "-L", f"backprop-tui-latency-{os.getpid()}"]
QUIET = 0.2  # the screen is settled once unchanged this long
TRIVIAL = [sys.executable, str(ROOT / "bench" / "trivial_app.py")]
APP = [sys.executable, "-m", "tui"]
TERMINAL = {
    "3-4-1": [],
    "784-128-1": ["--inputs", "784", "--hidden", "128"],
    "moons 2-8-8-1 tanh": ["--dataset", "moons", "--hidden", "8,8", "--activation", "tanh"],
    "784-256-128-10": ["--inputs", "784", "--hidden", "256,128", "--classes", "10", "--init", "he"],
}


def tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=True).stdout


class Pane:
    """The tmux session's pane, read and typed into through one control-mode client
    (`tmux -C`): a capture costs about 0.06 ms there, against about 1.8 ms for a tmux process
    started per capture. Polling by process kept one of this machine's two cores busy, so the
    app under test ran on what was left (its frames came 20-40 ms later than unobserved)."""

    def __init__(self) -> None:
        self.client = subprocess.Popen([*TMUX, "-C", "attach", "-t", SESSION], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, bufsize=1)
        self.reply()  # the attach command's own
        self.command("refresh-client -f no-output")  # no copy of everything the app writes

    def reply(self) -> list[str]:
        assert self.client.stdout is not None
        lines: list[str] = []
        inside = False
        for line in self.client.stdout:
            if line.startswith("%begin"):
                inside, lines = True, []
            elif line.startswith(("%end", "%error")) and inside:
                if line.startswith("%error"):
                    raise RuntimeError(f"tmux: {' '.join(lines)}")
                return lines
            elif inside:
                lines.append(line.rstrip("\n"))
        raise RuntimeError("the tmux control client ended")

    def command(self, command: str) -> list[str]:
        assert self.client.stdin is not None
        self.client.stdin.write(command + "\n")
        self.client.stdin.flush()
        return self.reply()

    def screen(self) -> str:
        return "\n".join(self.command(f"capture-pane -p -t {SESSION}"))

    def send(self, key: str) -> None:
        self.command(f"send-keys -t {SESSION} {key}")

    def close(self) -> None:
        self.client.kill()
        self.client.wait()


def launch(command: list[str], root: Path = ROOT) -> tuple[Pane, float]:
    """Start `command` in a fresh 120x40 tmux session, in the checkout `root` (`python -m tui`
    runs that checkout's app): its pane, and when it was started (perf_counter), once its
    first frame (a non-blank screen) is on the screen."""
    subprocess.run([*TMUX, "kill-session", "-t", SESSION], capture_output=True)
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "-c", str(root),
         " ".join(command))
    pane = Pane()
    while not pane.screen().strip():
        if time.perf_counter() - start > 20:
            raise TimeoutError("no first frame")
        time.sleep(0.0005)
    return pane, start


def settle(pane: Pane, timeout: float = 20.0) -> tuple[str, float]:
    """The screen once unchanged for QUIET seconds, and when it last changed."""
    last, since = pane.screen(), time.perf_counter()
    begin = since
    while time.perf_counter() - since < QUIET:
        if since - begin > timeout:
            raise TimeoutError("the screen never settles")
        time.sleep(0.0005)
        now = pane.screen()
        if now != last:
            last, since = now, time.perf_counter()
    return last, since


def key_to_settled(pane: Pane, before: str, key: str = "n") -> float:
    """Send a key; the seconds until the screen has changed and settled."""
    start = time.perf_counter()
    pane.send(key)
    while pane.screen() == before:
        if time.perf_counter() - start > 20:
            raise TimeoutError("the screen did not change")
        time.sleep(0.0005)
    _, changed = settle(pane)
    return changed - start


def presses_in_tmux(command: list[str], presses: int, root: Path = ROOT) -> dict[str, list[float]]:
    """Seconds a press, keyed by the phase it ran (the phase bar's ▶ marks the next one)."""
    pane, _ = launch(command, root)
    try:
        times: dict[str, list[float]] = defaultdict(list)
        before, _ = settle(pane)
        for _ in range(presses):
            phase = re.search(r"▶ (\w+)", before.split("\n", 1)[0])
            times[phase.group(1) if phase else "key"].append(key_to_settled(pane, before))
            before, _ = settle(pane)
        return times
    finally:
        pane.close()
        subprocess.run([*TMUX, "kill-session", "-t", SESSION], capture_output=True)


def starts_in_tmux(command: list[str], root: Path = ROOT) -> tuple[float, float]:
    """Seconds to the first frame, and to the whole first screen (its last change before it
    settled: a first frame that is then laid out again, or filled in, counts at the end)."""
    pane, start = launch(command, root)
    first = time.perf_counter() - start
    _, settled = settle(pane)
    pane.close()
    subprocess.run([*TMUX, "kill-session", "-t", SESSION], capture_output=True)
    return first, settled - start


def p90(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[int(0.9 * (len(ordered) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def terminal(per_phase: int, starts: int, only: str = "", keys: bool = True,
             against: Path | None = None) -> None:
    tmux("start-server", ";", "set", "-s", "exit-empty", "off")
    try:
        # The README's run command installs the app with pip, which compiles its bytecode; this
        # checkout runs from source, and where PYTHONDONTWRITEBYTECODE is set (as on these
        # machines) every start would compile engine/ and tui/ (12,000 lines, about 90 ms) again.
        for root in (ROOT,) if against is None else (ROOT, against):
            for package in ("engine", "tui"):
                compileall.compile_dir(root / package, quiet=1)
        if keys:
            terminal_figures(per_phase, only, against)
        start_figures(starts, against)
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)


def app_presses(flags: list[str], presses: int,
                against: Path | None) -> list[tuple[str, dict[str, list[float]]]]:
    """Seconds a press by phase, of this checkout's app (and of `against`'s, its label's
    suffix " (against)"), taken in four rounds alternated when there are two."""
    roots = [("", ROOT)] + ([(" (against)", against)] if against is not None else [])
    rounds = 2 * len(roots)  # alternated twice over: a slow minute of the machine hits both
    merged: dict[str, dict[str, list[float]]] = {suffix: defaultdict(list) for suffix, _ in roots}
    for _ in range(rounds):
        for suffix, root in roots:
            for phase, ts in presses_in_tmux([*APP, *flags], presses // rounds, root).items():
                merged[suffix][phase].extend(ts)
    return list(merged.items())


def terminal_figures(per_phase: int, only: str = "", against: Path | None = None) -> None:
    trivial = presses_in_tmux(TRIVIAL, 4 * per_phase)["key"]
    base = statistics.median(trivial)
    print(f"tmux trivial median {ms(base)}, p90 {ms(p90(trivial))}, max {ms(max(trivial))} "
          f"over {len(trivial)} presses (baseline: bench/trivial_app.py, tmux 120x40)")
    screenful = presses_in_tmux([*TRIVIAL, "--screen"], 4 * per_phase)["key"]
    whole = statistics.median(screenful)
    print(f"tmux screenful median {ms(whole)}, {whole / base:.2f}x the trivial app, p90 "
          f"{ms(p90(screenful))} over {len(screenful)} presses (bench/trivial_app.py --screen: "
          f"a key repaints the whole screen with styled numbers)")
    for name, flags in TERMINAL.items():
        if only not in name:
            continue
        for suffix, phases in app_presses(flags, 4 * per_phase, against):
            label = name + suffix
            every = [t for ts in phases.values() for t in ts]
            median = statistics.median(every)
            print(f"tmux {label} median {ms(median)}, {median / base:.2f}x the trivial app, "
                  f"{median / whole:.2f}x the screenful, p90 {ms(p90(every))}, max {ms(max(every))} "
                  f"over {len(every)} presses")
            for phase, ts in phases.items():
                print(f"tmux {label} {phase} p90 {ms(p90(ts))}, median {ms(statistics.median(ts))}, "
                      f"max {ms(max(ts))} over {len(ts)} presses")


def start_figures(starts: int, against: Path | None) -> None:
    if starts <= 0:
        return
    mine: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    others: list[tuple[float, float]] = []
    for _ in range(starts):  # alternated, so a slow moment of the machine hits both
        theirs.append(starts_in_tmux(TRIVIAL))
        mine.append(starts_in_tmux(APP))
        if against is not None:
            others.append(starts_in_tmux(APP, against))
    for which, what in ((0, "start"), (1, "start settled")):
        app = statistics.median(times[which] for times in mine)
        minimal = statistics.median(times[which] for times in theirs)
        print(f"tmux {what} median {ms(app)}, {app / minimal:.2f}x a minimal Textual app's {ms(minimal)} "
              f"({'first non-blank screen' if which == 0 else 'the first screen whole: its last change'}, "
              f"{starts} starts each)")
        if others:
            them = statistics.median(times[which] for times in others)
            print(f"tmux {what} (against) median {ms(them)}, {them / minimal:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--tmux-presses", type=int, default=20, help="presses per phase kind")
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--no-headless", action="store_true")
    parser.add_argument("--no-tmux", action="store_true")
    parser.add_argument("--only", default="", help="only the tmux networks whose label contains this")
    parser.add_argument("--starts-only", action="store_true", help="in tmux, time the starts alone (no keys)")
    parser.add_argument("--against", type=Path, help="another checkout whose app is timed too, alternated")
    args = parser.parse_args()
    print(f"load {load()} (1, 5, 15 minutes) at the start")
    if not args.no_headless:
        for config in NETWORKS:
            times = sorted(asyncio.run(measure(config, args.presses)))
            print(f"{config.shape_label} median {statistics.median(times) * 1000:.1f} ms, "
                  f"p90 {p90(times) * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms over "
                  f"{len(times)} presses (headless)")
    if not args.no_tmux:
        if shutil.which("tmux") is None:
            sys.exit("tmux is not installed")
        terminal(args.tmux_presses, args.starts, args.only, keys=not args.starts_only,
                 against=None if args.against is None else args.against.resolve())
    print(f"load {load()} (1, 5, 15 minutes) at the end")


def load() -> str:
    return ", ".join(f"{average:.2f}" for average in os.getloadavg())


if __name__ == "__main__":
    main()
