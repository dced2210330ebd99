"""StepperApp: key -> action -> controller (or runner) -> stepper -> View -> widgets.

The app holds no maths and no rules of the run: an action asks the controller
(tui.app.controller), which owns the stepper and says what to tell the user, or for the keys
that run phases its runner (tui.app.runner, which runs a slow phase on a thread with a
progress bar and cancels it on escape); then `show_state` redraws the widgets from one View
of the stepper. What the app needs of Textual's private API is in tui.app.compat.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.drivers.web_driver import WebDriver
from textual.geometry import Region
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import ThemeProvider
from textual.widgets import Footer, ProgressBar, Static

from engine.check.verdicts import method_for
from engine.data.batches import Data
from engine.explain.catalog import tensors as state_tensors
from engine.model.protocol import Captured
from engine.run.sample import sample_view
from engine.run.stepper import Phase, State, Stepper, View
from engine.settings.config import Config
from engine.usermodel.errors import ModelError
from tui.app.commands import StepperCommands, printed_key, printed_keys
from tui.app.compat import FooterKey, PaintedScreen, ScreenlessKeys, TerminalDriver, exiting, keymap_of
from tui.app.controller import Controller, NewRun, Note, said
from tui.app.headline import headline_line
from tui.app.health import Guard, rebuilt
from tui.app.lifeline import Lifeline, ServedDriver
from tui.app.runner import PhaseRunner
from tui.app.screens.safe import SafeCommandPalette
from tui.app.widgets import quiet
from tui.app.widgets.bars import BatchLine, NetworkLine, PhaseBar
from tui.app.widgets.boundary import BoundaryMap
from tui.app.widgets.chart import LossChart
from tui.app.widgets.explain import ExplainPanel
from tui.app.widgets.formulas import for_view
from tui.app.widgets.log import LogPanel
from tui.app.widgets.network import NetworkPicture, cell_of, unit_of
from tui.app.widgets.panels import (
    ForwardPanel,
    GradcheckPanel,
    GradientsPanel,
    Panel,
    ParametersPanel,
    UpdatePanel,
    broad,
    is_numeric,
)
from tui.app.widgets.quiet import QuietScroll
from tui.app.widgets.tensor import Cell
from tui.keys import KEYS
from tui.text import printable

if TYPE_CHECKING:
    from engine.explain.origin import Origin


#: Zoom's label for the tensors of each qualifier of engine.explain.elements's names.
def hidden_unit(cell: tuple[str, tuple[int, ...]] | None, depth: int) -> tuple[int, int] | None:
    """The hidden unit (l, i) a cursor cell belongs to: z_l[i], a_l[i], their gradients, or
    row i of W_l and b_l, for a hidden layer l; None elsewhere."""
    unit = unit_of(cell, depth)
    return unit if unit is not None and 1 <= unit[0] < depth else None


#: The line a first screen shows, until the first key: how to step, move and explain.
FIRST_RUN = "{next} step · Tab and arrows move · {explain} why is this number what it is"
#: The footer's keys at widths under the "-wide" breakpoint (by binding id): the rest, cut
#: off there, are in help (?) and the palette (ctrl+p).
NARROW_FOOTER = frozenset({"next", "back", "zoom", "explain", "help", "quit"})


class StepperFooter(Footer):
    """Textual's footer, its keys outside NARROW_FOOTER marked "-wide-only": at narrow
    widths stepper.tcss hides them, so Help and Quit stay in view (at 80 columns the whole
    footer was cut at "c Co")."""

    def compose(self) -> ComposeResult:
        narrow = {k.action for k in KEYS if k.id in NARROW_FOOTER}
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action not in narrow:
                widget.add_class("-wide-only")
            yield widget


ZOOM_NAMES = {"params": "param", "forward": "cache", "backward": "grad", "gradcheck": "numerical",
              "update.before": "before update"}


def zoom_name(qualified: str) -> str | None:
    """The zoom's name of a tensor by its qualified name: "forward.z1" is "cache z1", and a
    course model's nested cache "forward.cache.Z1" is "cache cache.Z1". None for what zoom
    does not list (the update's new parameters are the parameters, listed already)."""
    for phase, label in ZOOM_NAMES.items():
        if qualified.startswith(f"{phase}."):
            return f"{label} {qualified.removeprefix(f'{phase}.')}"
    return None


def started() -> None:
    """After the first frame: what starting made moved out of the collector's sight, and the
    collector (paused by tui.cli.launch while the app started) back on."""
    gc.freeze()
    gc.enable()


def breakpoint_classes(breakpoints: list[tuple[int, str]], width: int) -> dict[str, bool]:
    """Each breakpoint's class, on for the widest breakpoint `width` reaches (as Textual's
    Screen sets them on a resize)."""
    reached = [(edge, name) for edge, name in breakpoints if width >= edge]
    chosen = max(reached)[1] if reached else None
    return {name: name == chosen for _, name in breakpoints}


def kept_slices(fresh: View, view: View, taken: tuple[object, ...], before: View) -> View:
    """`fresh`, the slice of `view` to a sample, with the slices of the previous state's parts
    kept where the new state has the same parts (`taken`: what `before` was sliced from): at
    a backward pass the forward pass is the one sliced before, and at an update both passes
    are. A panel drawn from the same objects is not drawn again, so a key on data redraws the
    panels it changed, not every panel (the sample's config and forward slice were new
    objects at every key)."""
    state, config = taken[0], taken[1]
    if fresh.sample is None or before.sample is None or config is not view.config \
            or (fresh.sample.index, fresh.sample.row) != (before.sample.index, before.sample.row) \
            or not isinstance(state, State):
        return fresh
    forward = before.state.forward if view.state.forward is state.forward else fresh.state.forward
    backward = before.state.backward if view.state.backward is state.backward else fresh.state.backward
    kept = replace(fresh.state, forward=forward, backward=backward)
    return replace(fresh, state=kept, config=before.config if fresh.config == before.config else fresh.config)


class StepperApp(ScreenlessKeys):
    TITLE = "backprop-stepper"
    CSS_PATH = "stepper.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide"), (170, "-very-wide")]  # noqa: RUF012 (Textual: an instance attribute)
    COMMANDS = App.COMMANDS | {StepperCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(k.keys, k.action, k.footer or k.description, show=bool(k.footer), id=k.id,
                priority=k.priority)
        for k in KEYS if k.scope == "app"
    ]

    def __init__(self, stepper: Stepper, keymap: dict[str, str] | None = None,
                 served: bool = False, model_file: str | None = None) -> None:
        super().__init__()
        #: serve: in a browser (tui.cli.serve); nothing a visitor types loads a file or runs code,
        #: and files go to the browser as downloads (deliver).
        self.served = served
        self.runner = PhaseRunner(stepper, self.call_from_thread, shown=self.show_state,
                                  progress=self.show_progress, failed=self.phase_failed)
        #: Owns the stepper (through the runner) and applies what the keys ask of it.
        self.controller = Controller(self.runner, self.tell, model_file, key=partial(printed_key, self))
        self.keymap = keymap or {}
        #: Ends the app with its owner: SIGTERM, SIGHUP, a served tab's server gone (tui.app.lifeline).
        self.lifeline = Lifeline(self)
        #: The batch's sample the panels show ([ and ]); kept across steps, clamped to the batch.
        self.sample = 0
        self.ran = False  # a training run is going or just ended: the pictures stay in view
        self.sliced: tuple[tuple[object, ...], View] | None = None  # (what it was taken from, view)
        #: The first non-finite element of a state (engine.explain.origin), found once a state.
        self.found: tuple[State, Origin | None] | None = None
        #: The data line's guard rails, judged when drawn (tui.app.health).
        self.guard = Guard()
        #: How to step, move and explain, on the first screen until the first key.
        self.first_run = Static(id="first-run")

    def get_driver_class(self) -> type[Driver]:
        """Textual's, except that a served app's web driver is one that ends the app when its
        server goes (tui.app.lifeline.ServedDriver), and a terminal's resumes only what it stopped
        (tui.app.compat.TerminalDriver)."""
        driver = super().get_driver_class()
        return {WebDriver: ServedDriver, LinuxDriver: TerminalDriver}.get(driver, driver)

    def view(self) -> View:
        """The stepper's view, sliced to the sample the panels show (engine.run.sample). The
        slice of a state is taken once: the panels see the same arrays again, and a panel
        drawn from the same arrays is not drawn again."""
        view = self.stepper.view()
        taken = (view.state, view.config, self.sample)
        if self.sliced is None or not quiet.same(taken, self.sliced[0]):
            fresh = sample_view(view, self.sample)
            self.sliced = taken, fresh if self.sliced is None else kept_slices(fresh, view, *self.sliced)
        sliced = self.sliced[1]
        return replace(view, state=sliced.state, config=sliced.config, sample=sliced.sample)

    def get_default_screen(self) -> Screen[Any]:
        """The default screen: one whose scrolls repaint what moved, not the whole screen
        (compat.PaintedScreen), made with the width's breakpoint class (see on_mount): set once
        the widgets are mounted, the class would apply every widget's styles a second time,
        about a fifth of the time to the first frame."""
        classes = breakpoint_classes(self.HORIZONTAL_BREAKPOINTS, self.size.width)
        return PaintedScreen(id="_default", classes=" ".join(name for name, on in classes.items() if on))

    def compose(self) -> ComposeResult:
        yield PhaseBar(id="phase-bar")
        yield NetworkLine(id="network")
        yield BatchLine(id="batch")
        yield Static(id="guard")
        yield Static(id="banner")
        yield Static(id="origin")
        yield self.first_run
        with Horizontal(id="progress"):
            yield Static(id="progress-label")
            yield ProgressBar(id="progress-bar", show_eta=False)
        with QuietScroll(id="panels"):
            yield ParametersPanel(id="parameters")
            yield ForwardPanel(id="forward")
            yield GradientsPanel(id="gradients")
            yield GradcheckPanel(id="gradcheck")
            yield UpdatePanel(id="update")
            # The pictures: with data at 110 columns and more a column docked beside the
            # panels (stepper.tcss), so a unit's map stays in view as the cursor moves; the
            # network picture above the panels, as wide as they are.
            with Vertical(id="pictures"):
                yield BoundaryMap(id="boundary")
                yield LossChart(id="loss")
            yield NetworkPicture(id="network-picture")
            yield LogPanel(id="log")
        yield ExplainPanel(id="explain")
        yield StepperFooter()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification, the app's and Textual's, is plain text, never markup: what it
        says holds key names (as markup "[ and ]" reads as " "), file names and a model's messages.
        And it is printable (tui.text): no escape sequence in it reaches the terminal."""
        super().notify(printable(message), title=printable(title, oneline=True), severity=severity,
                       timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        """ctrl+c: Textual's hint of the key that quits, without its markup."""
        for active in self.active_bindings.values():
            if active.binding.action in ("quit", "app.quit"):
                self.notify(f"Press {self.get_key_display(active.binding)} to quit the app",
                            title="Do you want to quit?")
                return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No key does anything once the app is exiting (keys typed behind q)."""
        return not exiting(self)

    async def on_event(self, event: events.Event) -> None:
        """A key typed behind q can reach the app after Textual has torn its screens down;
        App.on_event then asks for the screen (ScreenStackError in Textual 8.2.8). Such a key
        has nothing left to act on. Once the app is asked to end (SIGTERM, SIGHUP), neither has
        the input still on its way: a long paste's keys, which the exit would wait behind."""
        if isinstance(event, events.Key) and not self.screen_stack:
            return
        if isinstance(event, events.Key) and self.first_run.display:
            self.first_run.display = False  # the first key dismisses it
        if self.lifeline.asked and isinstance(event, events.InputEvent | events.Paste):
            return
        await super().on_event(event)

    def on_mount(self) -> None:
        # Textual sets the width's breakpoint class on the first Resize event, which comes
        # after the first frame: that frame would be laid out in one column and jump into two
        # or three a few frames later. Set now, the first frame has the layout that stays.
        # (get_default_screen set it already, unless the size changed since: then nothing.)
        self.screen.update_classes(breakpoint_classes(self.HORIZONTAL_BREAKPOINTS, self.size.width))
        if not self.is_headless:  # a kill, its terminal closing: exit as q does, or be ended
            self.lifeline.hold()
            self.app_resume_signal.subscribe(self, self.repaint)
        if self.keymap:
            self.set_keymap(self.keymap)
        self.show_first_run()
        self.show_state()
        if not self.is_headless:
            # What starting made (modules, Textual's styles, the widgets: about 64,000 objects)
            # lives as long as the app: moved out of the collector's sight, a full collection
            # takes about 8 ms instead of 50, otherwise the slowest frames of a big
            # network. Not in tests, where each of many apps would be kept for ever. The
            # collector, paused while the app started (tui.cli.launch), is back on from here.
            self.call_after_refresh(started)

    def show_first_run(self) -> None:
        """The first-run line, with the keys as mapped now (a keymap may move n and e)."""
        keymap = keymap_of(self)
        first = {k.id: keymap.get(k.id, k.keys).split(",")[0].strip() for k in KEYS}
        shown = {name: self.get_key_display(Binding(first[name], name)) for name in ("next", "explain")}
        self.first_run.update(Content(FIRST_RUN.format(**shown)))

    def repaint(self, _: App[None]) -> None:
        """Draw the whole screen again: back from ctrl+z, the terminal shows a blank
        alternate screen, and Textual draws only what changes (as its App.suspend does)."""
        self.refresh(layout=True)

    @cached_property
    def panels(self) -> list[Panel]:
        """The panels of numbers (looked up once: a key redraws them all)."""
        return list(self.query(Panel))

    @cached_property
    def pictures(self) -> list[BoundaryMap | LossChart | NetworkPicture]:
        return [self.query_one(BoundaryMap), self.query_one(LossChart), self.query_one(NetworkPicture)]

    def show_state(self) -> None:
        """Redraw every widget from a view of the stepper."""
        self.show_running(self.runner.running is not None)
        view = self.view()
        self.query_one(PhaseBar).show(view)
        self.query_one(NetworkLine).show(view)
        self.query_one(BatchLine).show(view)
        self.show_guard(view)
        panels = self.query_one("#panels")
        panels.set_class(broad(self.stepper.state.params), "-broad")
        panels.set_class(view.data is not None, "-data")
        if view.data is not None and panels.children[0].id != "pictures":
            # Learning from data, the pictures say most: they come first.
            pictures = self.query_one("#pictures")
            panels.move_child(pictures, before=0)
            panels.move_child(self.query_one(NetworkPicture), after=pictures)
        for picture in self.pictures:
            picture.show(view)
        self.show_panels(view)
        self.follow()
        self.show_banner()

    def show_guard(self, view: View) -> None:
        """Under the data line, a line a guard rail said (inputs far from unit scale, a loss
        jump, a layer all dead), cut to the width: v shows them whole."""
        line = self.query_one("#guard", Static)
        running = self.runner.running
        if running is not None and running.phase is None:
            return  # the training thread commits to the history: judged once the run ends
        said = self.guard.verdicts(self.stepper, view.data) if view.data is not None else []
        if said:
            quiet.update(line, Content("\n".join(printable(f"⚠ health (v): {v.says}", oneline=True)
                                                  for v in said)))
        line.display = bool(said)

    def follow(self) -> None:
        """Scroll to what changed: a training run's pictures, else what the last phase
        computed, the tensor the notebook prints first at the top (tui.app.headline), unless
        the user is reading: a panel or the chart has the focus."""
        training = self.runner.running is not None and self.runner.running.phase is None
        if training or self.ran:  # a run is watched in its pictures, not its last phase
            self.ran = training
            self.query_one("#panels", QuietScroll).scroll_home(animate=False)
        elif not isinstance(self.focused, Panel | LossChart):
            fresh = [panel for panel in self.panels if panel.has_class("-fresh")]
            state = self.stepper.state
            found = next(((p, line) for p in fresh if (line := headline_line(p, state)) is not None),
                         (fresh[0], -1) if fresh else None)  # no headline: its top
            if found is not None:
                # At once, from the layout on screen, so the scroll is painted in the same
                # frame as the new numbers (exact when no panel changed size, the usual
                # case); and after the next refresh, which corrects it when one did.
                self.scroll_to_line(*found, immediate=True)
                self.call_after_refresh(self.scroll_to_line, *found)

    def scroll_to_line(self, panel: Panel, line: int, immediate: bool = False) -> None:
        """Scroll the panels so that line `line` of the panel's content is their top line (its
        border's, with its title, for the first line and for -1)."""
        if isinstance(self.focused, Panel | LossChart):
            return  # the user has moved to a panel since: its cursor is followed instead
        area = panel.virtual_region
        top = Region(area.x, area.y + 1 + line if line > 0 else area.y, area.width, 1)  # its title too
        self.query_one("#panels", QuietScroll).scroll_to_region(top, animate=False, top=True,
                                                                  immediate=immediate)

    def show_banner(self) -> None:
        """A warning over the panels: the state diverged, or a layer saturated."""
        nonfinite = self.stepper.state.nonfinite()
        saturated = None if nonfinite else self.stepper.saturation()
        banner = self.query_one("#banner", Static)
        if nonfinite:  # the names may be a user's cache keys: plain text, never markup
            names = printable(", ".join(nonfinite), oneline=True)
            quiet.update(banner, Content(f"⚠ Diverged: non-finite values in {names}. Auto-advance (s) "
                                  "stops here; b goes back, r resets, c changes lr."))
        elif saturated is not None:
            quiet.update(banner, Content(f"⚠ {saturated.message()}"))
        banner.display = bool(nonfinite) or saturated is not None
        self.show_origin(bool(nonfinite))

    def show_origin(self, diverged: bool) -> None:
        """Under a Diverged banner, one line (cut with … to the width) on where the first inf
        or NaN came from; e explains it when nothing else is under a cursor."""
        line = self.query_one("#origin", Static)
        found = self.origin() if diverged else None
        if found is not None:
            hint = " — e explains it" if found.explanation is not None else ""
            quiet.update(line, Content(printable(f"{found.line()}{hint}", oneline=True)))
        line.display = found is not None

    def origin(self) -> Origin | None:
        """The current state's first non-finite element and why (None: all finite), searched
        once a state: the banner and the Explain panel both read it."""
        state = self.stepper.state
        if self.found is None or self.found[0] is not state:
            # Here, for a state searched: engine.explain (every phase's derivations) is start-up
            # time the first screen does not need.
            from engine.explain.origin import origin_of

            self.found = state, (origin_of(self.stepper, state) if state.nonfinite() else None)
        return self.found[1]

    # ---- the cell cursor and the Explain panel ------------------------------------------
    def show_panels(self, view: View | None = None) -> None:
        """Draw the panels with the focused one's cursor, the explanation of the element
        under it (when the Explain panel is open) and that element's sources highlighted,
        from `view` when the caller has just taken it (else a fresh one)."""
        current = view if view is not None else self.view()
        focused = self.focused if isinstance(self.focused, Panel) else None
        panels = self.panels
        for panel in panels:
            panel.active = panel is focused
        if focused is not None:
            focused.show(current)  # settles its cursor on what it draws now
        cell = focused.cursor if focused is not None and focused.cursor_valid() else None
        boundary = self.query_one(BoundaryMap)
        unit = hidden_unit(cell, current.config.architecture.depth)
        if unit != boundary.unit:  # the unit under the cursor, over the input plane
            boundary.show_unit(current, unit)
        self.query_one(NetworkPicture).select(unit_of(cell, current.config.architecture.depth))
        sources = self.explain_cursor(current, cell)
        for panel in panels:
            if panel is not focused or panel.sources != sources:
                panel.sources = sources
                panel.show(current)
        if focused is not None and focused.cursor_line is not None:
            self.call_after_refresh(self.scroll_to_cursor, focused)

    def explain_cursor(self, view: View, cell: Cell | None) -> frozenset[Cell]:
        """The explanation of the element under the cursor, when the Explain panel is open,
        and the cells it is computed from (highlighted in the panels).

        A user's model is not called from here: its process may be busy with a phase on the
        runner's thread (the call would wait for it, freezing the screen) or hang. Its
        numerical gradients are explained from what the check recorded."""
        explain = self.query_one(ExplainPanel)
        if not explain.display:
            return frozenset()
        first = self.origin() if cell is None else None
        explanation = explain.show(view, cell, first)
        if explanation is None or (first is not None and not first.lit_in(view)):
            return frozenset()
        return frozenset((s.tensor, tuple(s.index)) for s in explanation.sources)

    def scroll_to_cursor(self, panel: Panel) -> None:
        """Panel scrolling follows the cursor: its line (below the border) is kept on screen."""
        if panel.cursor_line is None or not panel.is_mounted:
            return
        area = panel.virtual_region
        line = Region(area.x, area.y + 1 + panel.cursor_line, max(1, area.width), 1)
        self.query_one("#panels", QuietScroll).scroll_to_region(line, animate=False, immediate=True)

    def on_panel_cursor_moved(self, message: Panel.CursorMoved) -> None:
        """Redraw for the cursor's new cell; a move a panel posted while the app was closing
        arrives after its screens are gone, with nothing left to draw."""
        if self.screen_stack:
            self.show_panels()

    def on_network_picture_selected(self, message: NetworkPicture.Selected) -> None:
        """A unit clicked in the network picture: the panels' cursor goes to it (row i of W_l,
        or input x[i] once the forward pass ran), which selects it everywhere."""
        target = cell_of(message.unit, self.stepper.state.forward is not None)
        if target is None:
            self.notify("x is in the panels after the forward pass: n runs it.", timeout=3)
            return
        panel = self.query_one(f"#{target[0]}", Panel)
        panel.cursor = target[1], target[2]
        panel.focus()
        self.show_panels()

    def action_toggle_picture(self) -> None:
        """m: the network picture shown or hidden (its default: shown with data when wide)."""
        picture = self.query_one(NetworkPicture)
        picture.wanted = not picture.display
        picture.show(self.view())

    def action_toggle_explain(self) -> None:
        explain = self.query_one(ExplainPanel)
        explain.display = not explain.display
        if not explain.display:
            explain.update("")
        self.show_panels()

    # ---- running phases (tui.app.runner) ----------------------------------------------------
    @property
    def stepper(self) -> Stepper:
        return self.runner.stepper

    def busy(self) -> bool:
        running = self.runner.running
        if running is not None:
            what = "Training is" if running.phase is None else "A phase is still"
            self.notify(f"{what} running: wait, or press {printed_key(self, 'cancel')} to stop it.",
                        timeout=2)
            return True
        return False

    def show_running(self, running: bool) -> None:
        """The progress line shown while a phase or a run goes on. Hidden, its bar is an empty
        one of known length: Textual 8.2.8 animates a bar without one (Bar.auto_refresh, 15
        times a second) even when it is hidden, and each of those frames asks whether the bar
        is on screen, which lays the whole screen out again (the compositor's full map) and
        makes the next scroll of the panels repaint every line of the screen."""
        self.query_one("#progress").display = running
        if not running:
            self.query_one(ProgressBar).update(total=1, progress=0)

    def show_progress(self, phase: Phase | None, done: int, total: int) -> None:
        self.show_running(True)
        if phase is None:  # a training run: the pictures follow it
            self.show_state()
            playing = self.runner.running is not None and self.runner.running.playing
            self.query_one(ProgressBar).display = not playing  # a play has no end to measure against
            self.query_one("#progress-label", Static).update(
                f"playing: step {self.stepper.state.step:,} · lr {self.runner.tuned().lr:g}   p or escape "
                "pauses · + and - change lr " if playing else
                f"training: step {done:,} of {total:,}   escape stops, keeping the steps finished ")
            self.query_one(ProgressBar).update(total=total, progress=done)
            return
        method = method_for(self.stepper.model, self.stepper.config.gradcheck_method)
        what = f"{phase.value} ({method})" if phase is Phase.GRADCHECK else phase.value
        per_sample = method == "fast" and self.stepper.state.rows is not None  # a batch's check
        count = f" {done:,} / {total:,} {'samples' if per_sample else 'elements'}" if total else ""
        self.query_one("#progress-label", Static).update(f"running {what}{count}   escape cancels ")
        self.query_one(ProgressBar).update(total=total or None, progress=done)

    def phase_failed(self, phase: Phase | None, error: ModelError) -> None:
        """A user's model broke its contract: say where, keep the app and the state as they were
        (a training run keeps the steps it finished)."""
        log = self.stepper.model.log
        if log is not None:
            log.append(Captured("error", "\n".join(filter(None, [error.message, error.user_traceback]))))
        what = "training" if phase is None else phase.value
        self.notify(f"{what} failed: {error.message}", severity="error", timeout=8)
        self.show_state()
        self.query_one("#log").scroll_visible()

    def action_cancel(self) -> None:
        running = self.runner.running
        if running is not None and running.playing:
            self.controller.play()  # escape pauses a play, as p does
            return
        if running is None or not self.runner.cancel():
            return
        if running.phase is None:
            self.query_one("#progress-label", Static).update("stopping after the finished steps ")
            self.notify(f"Training stopped: the finished steps are kept ({printed_key(self, 'back')} walks "
                        "back through them); the step in progress was undone.", timeout=4)
        else:
            self.query_one("#progress-label", Static).update("cancelling: the state stays as it was ")
            self.notify("Cancelled: the state is as it was before the phase.", timeout=3)

    # ---- actions -------------------------------------------------------------------
    def action_next(self) -> None:
        if not self.runner.next():
            self.busy()

    def action_finish_step(self) -> None:
        if not self.busy():
            self.runner.finish_step()

    def action_train(self) -> None:
        if not self.busy():
            self.controller.train()

    def action_play(self) -> None:
        """p: play or pause (tui.app.controller.Controller.play)."""
        running = self.runner.running
        if running is not None and not running.playing:
            self.busy()
            return
        self.controller.play()

    def action_lr_up(self) -> None:
        self.step_rate(up=True)

    def action_lr_down(self) -> None:
        self.step_rate(up=False)

    def step_rate(self, up: bool) -> None:
        """+ and -: the learning rate a rung up or down, mid-run (also while a run goes)."""
        running = self.runner.running
        if running is not None and running.phase is not None:
            self.busy()
            return
        if self.controller.step_rate(up):
            self.show_state()

    def action_previous_sample(self) -> None:
        self.show_sample(-1)

    def action_next_sample(self) -> None:
        self.show_sample(1)

    def show_sample(self, delta: int) -> None:
        """[ and ]: the previous or next sample of the batch, round the batch's ends."""
        rows = self.stepper.state.rows
        if rows is None:
            keys = printed_key(self, "previous-sample"), printed_key(self, "next-sample")
            self.notify(f"One sample: {keys[0]} and {keys[1]} step through a batch (--dataset, --batch).",
                        timeout=3)
            return
        self.sample = (min(self.sample, len(rows) - 1) + delta) % len(rows)
        self.show_state()

    def action_undo(self) -> None:
        if not self.busy() and self.controller.undo():
            self.show_state()

    def action_reset(self) -> None:
        if not self.busy() and self.controller.reset():
            self.show_state()

    def action_measure(self) -> None:
        if not self.busy() and self.controller.measure():
            self.show_state()

    def action_regenerate(self) -> None:
        if not self.busy() and self.controller.regenerate():
            self.show_state()

    def action_toggle_gradcheck(self) -> None:
        if not self.busy() and self.controller.toggle_gradcheck():
            self.show_state()

    def action_inject_bug(self, bug: str) -> None:
        """Fault drill: break the backward pass and rewind to this step's forward pass."""
        if not self.busy() and self.controller.inject_bug(bug):
            self.show_state()

    def action_edit_config(self) -> None:
        from tui.app.screens.config import ConfigScreen  # imported when first used: a faster start

        running = self.runner.running
        if running is None or running.phase is None or not self.busy():  # open while a run goes
            self.push_screen(ConfigScreen(self.runner.tuned(), served=self.served), self.config_chosen)

    def config_chosen(self, chosen: NewRun | None) -> None:
        """The form's result (None: cancelled): settings a run takes as it goes are changed in
        place; a change that needs new weights asks first (tui.app.screens.confirm)."""
        from tui.app.screens.confirm import ConfirmScreen  # imported when first used: a faster start

        if chosen is None:
            return
        changes, others = self.controller.differences(chosen.config)
        if not others:
            if not changes:
                self.notify("Nothing changed.", timeout=2)
            elif self.controller.retune(changes, said(changes)):
                self.show_state()
            return
        if self.runner.running is not None:
            self.notify("Pause first (p): a change of those settings starts a new run.", timeout=4)
            return
        names = ", ".join(name.replace("_", "-") for name in others)
        question = (f"Changing {names} needs new weights: the run starts again from step 1, and b cannot "
                    "go back to this one. (lr, l1, l2, batch and eps alone change mid-run, keeping the "
                    "weights.)\n\nStart the new run?")
        self.push_screen(ConfirmScreen(question),
                         lambda yes: self.apply_config(chosen.config, chosen.data) if yes else None)

    def apply_config(self, config: Config, data: Data | None = None) -> None:
        """A new stepper for `config` (tui.app.controller), shown when it could be made."""
        if self.controller.apply(config, data):
            self.show_state()

    def tell(self, note: Note) -> None:
        """A controller's note, as a notification."""
        self.notify(note.message, severity=note.severity, timeout=note.timeout)

    def action_zoom(self) -> None:
        """Exact values of the focused panel's tensors (or of every tensor in this state)."""
        from tui.app.screens.zoom import ZoomScreen  # imported when first used: a faster start

        tensors = {}
        for qualified, value in state_tensors(self.stepper.state).items():
            name = zoom_name(qualified)
            if name is not None and qualified != "forward.loss" and is_numeric(value):
                tensors[name] = np.asarray(value)
        focused = self.focused
        prefix = {ForwardPanel: "cache", GradientsPanel: "grad", GradcheckPanel: "numerical",
                  UpdatePanel: "before update"}.get(type(focused), "param") if isinstance(focused, Panel) \
            else "param"
        first = next((name for name in tensors if name.startswith(prefix)), None)
        cursor = focused.cursor if isinstance(focused, Panel) else None
        if cursor is not None:  # open at the cell cursor, when zoom lists its tensor
            name = zoom_name(cursor[0])
            if name is not None and name in tensors:
                self.push_screen(ZoomScreen(tensors, name, cursor[1]))
                return
        self.push_screen(ZoomScreen(tensors, first))

    # ---- keeping: sessions, parameters, the state as JSON --------------------------------
    # The bytes come from the controller (session_bytes, params_bytes, state_json) and go
    # where `deliver` sends them: a new file in the working directory in a terminal; in a
    # browser (served) a download, never a file on the server.
    def deliver(self, name: str, data: bytes, what: str, mime_type: str = "application/octet-stream") -> None:
        """Put a file the user asked for where they get it: in a browser (served) a download;
        in a terminal a new file in the working directory (name, else name-1, name-2, ...:
        nothing is overwritten); the message says where. A file that cannot be written is a
        notification saying why; the app goes on."""
        if self.served:
            self.deliver_binary(io.BytesIO(data), save_filename=name, mime_type=mime_type)
            self.notify(f"Sent {what} to your browser as a download: {name}", timeout=5)
            return
        stem, dot, suffix = name.rpartition(".")
        for n in range(1000):
            try:  # absolute: the message names the folder (getcwd fails if it was removed)
                path = Path(name if n == 0 else f"{stem}-{n}{dot}{suffix}").absolute()
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            except OSError as error:  # the name as given: the folder may be what is gone
                self.notify(f"Cannot write {what} as {name} in the working folder: "
                            f"{error.strerror or error}.", severity="error", timeout=6)
                return
            try:
                with open(fd, "wb") as file:
                    file.write(data)
            except OSError as error:
                with contextlib.suppress(OSError):
                    path.unlink()
                self.notify(f"Cannot write {what} to {path}: {error.strerror or error}.",
                            severity="error", timeout=6)
                return
            self.notify(f"Wrote {what} to {path}", timeout=6)
            return
        self.notify(f"Cannot write {what}: {name} and 999 numbered copies exist.", severity="error",
                    timeout=6)

    def keep(self, what: str, name: str, make: Callable[[], bytes]) -> None:
        if self.busy():  # a phase or training run is going: its state is not settled yet
            return
        try:
            data = make()
        except (ValueError, OSError, MemoryError) as error:  # nothing expected; never lose the app
            self.notify(f"Cannot write {what}: {error}", severity="error", timeout=6)
            return
        self.deliver(name, data, what)

    def action_save_session(self) -> None:
        self.keep("the session", f"{self.controller.file_stem('session')}.npz",
                  self.controller.session_bytes)

    def action_export_params(self) -> None:
        self.keep("the parameters", f"{self.controller.file_stem('params')}.npz",
                  self.controller.params_bytes)

    def action_export_json(self) -> None:
        self.keep("the state as JSON", f"{self.controller.file_stem('state')}.json",
                  lambda: self.controller.state_json().encode("utf-8"))

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's "Screenshot": an SVG of the screen, delivered as the other exports are
        (a new file here, backprop-stepper-20250102-030405.svg; in a browser a download).
        Textual's own saved it in ~/Downloads, which need not exist, and said only "Failed to
        save screenshot"."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
        self.deliver(filename or f"backprop-stepper-{stamp}.svg", self.export_screenshot().encode("utf-8"),
                     "the screenshot", mime_type="image/svg+xml")
        return None

    def action_health(self) -> None:
        """The training-health view, its tracker rebuilt from the undo history now."""
        from tui.app.screens.health import HealthScreen  # imported when first used: a faster start

        if self.busy():  # a training thread is adding to the history the view is built from
            return
        self.push_screen(HealthScreen(rebuilt(self.stepper), self.stepper.data, self.stepper.state))

    def action_toggle_log_scale(self) -> None:
        """The loss chart's loss axis, linear or logarithmic."""
        chart = self.query_one(LossChart)
        chart.log_scale = not chart.log_scale
        chart.show(self.view())
        self.notify(f"Loss chart: {'log' if chart.log_scale else 'linear'} scale", timeout=2)

    def action_toggle_test_points(self) -> None:
        """The map's test points, drawn or not: the field is the same either way."""
        boundary = self.query_one(BoundaryMap)
        if self.stepper.data is None or not len(self.stepper.data.dataset.test):
            self.notify("o shows or hides the map's test points: this run has none", timeout=3)
            return
        boundary.test_points = not boundary.test_points
        boundary.show(self.view())
        self.notify(f"Map: test points {'shown' if boundary.test_points else 'hidden'} (o)", timeout=2)

    def action_help(self) -> None:
        from tui.app.screens.help import HelpScreen  # imported when first used: a faster start

        self.push_screen(HelpScreen(self.key_table(), for_view(self.stepper.view())))

    def action_command_palette(self) -> None:
        """Textual's palette, guarded against keys typed faster than it closes."""
        if self.use_command_palette and not SafeCommandPalette.is_open(cast(App[object], self)):
            self.push_screen(SafeCommandPalette(id="--command-palette"))

    def search_themes(self) -> None:
        """The palette's "Theme" command opens a palette of themes: guarded the same way."""
        self.push_screen(SafeCommandPalette(providers=[ThemeProvider], placeholder="Search for themes…"))

    # ---- discoverability -------------------------------------------------------------
    def key_table(self) -> list[tuple[str, str, str]]:
        """(keys, description, binding id) for every binding, as currently mapped."""
        table = [(printed_keys(self, k.id), k.description, k.id) for k in KEYS]
        table.append(("ctrl+p", "The command palette: every action by name", ""))
        return table
