"""Keys repaint what they change (issue 28): the map, the network picture and the loss chart
of a run on data are drawn again when what they show changes, not at every key."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from engine.data import batches
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.waits import handled
from tui.app.app import StepperApp
from tui.app.widgets import chart
from tui.app.widgets.boundary import BoundaryMap
from tui.app.widgets.network import NetworkPicture, same_source

pytestmark = pytest.mark.slow  # drives the app through Pilot

SIZE = (120, 40)


def moons_app() -> StepperApp:
    config = Config(dataset="moons", hidden=(8, 8), activation="tanh", seed=7)
    data = batches.from_config(config)
    assert data is not None
    return StepperApp(Stepper(batches.fitted(config, data), data=data))


async def test_the_pictures_are_drawn_again_only_when_the_parameters_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The map is drawn (render) and the network picture asked to be (refresh, as it may be
    scrolled out of view) at an update only; the chart gains a point at a forward pass, and
    with data it has none for the loss after an update."""
    drawn: Counter[str] = Counter()
    render, refresh = BoundaryMap.render, NetworkPicture.refresh

    def rendered(self: BoundaryMap) -> object:
        drawn["map"] += 1
        return render(self)

    def refreshed(self: NetworkPicture, *regions: object, **how: bool) -> object:
        drawn["network"] += 1
        return refresh(self, *regions, **how)  # type: ignore[arg-type]

    monkeypatch.setattr(BoundaryMap, "render", rendered)
    monkeypatch.setattr(NetworkPicture, "refresh", refreshed)
    plots: list[int] = []
    monkeypatch.setattr(chart, "draw", lambda *args, _draw=chart.draw: plots.append(1) or _draw(*args))
    app = moons_app()
    async with app.run_test(size=SIZE) as pilot:
        await handled(app, pilot)
        for _ in range(8):  # two whole steps: the chart is on screen, with its width
            await pilot.press("n")
            await handled(app, pilot)
        for phase in (Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK, Phase.UPDATE):
            drawn.clear()
            plots.clear()
            await pilot.press("n")
            await handled(app, pilot)
            assert app.stepper.state.last_phase is phase
            updated = phase is Phase.UPDATE
            assert drawn == (Counter(map=1, network=1) if updated else Counter()), phase
            assert len(plots) == (phase is Phase.FORWARD), phase


async def test_a_key_repaints_the_panels_it_scrolls_not_the_pictures_beside_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The panels scroll to each phase's panel; the frame repaints the panels' lines and what
    changed, never the whole screen (tui.app.compat.PaintedMapCompositor): at a backward pass
    the pictures docked beside the panels are not sent to the terminal again."""
    from textual._compositor import Compositor  # only this test reads the compositor

    frames: list[tuple[bool, list[object]]] = []
    render_update = Compositor.render_update

    def recorded(compositor: Compositor, full: bool = False, **kwargs: object) -> object:
        regions = list(compositor._dirty_regions)
        frames.append((full or compositor.size.region in regions, regions))
        return render_update(compositor, full, **kwargs)  # type: ignore[arg-type]

    app = moons_app()
    async with app.run_test(size=SIZE) as pilot:
        await handled(app, pilot)
        for _ in range(8):  # two whole steps: every panel has its size
            await pilot.press("n")
            await handled(app, pilot)
        pictures = app.query_one("#pictures").region
        monkeypatch.setattr(Compositor, "render_update", recorded)
        for phase in (Phase.FORWARD, Phase.BACKWARD, Phase.GRADCHECK, Phase.UPDATE):
            frames.clear()
            scrolled = app.query_one("#panels").scroll_y
            await pilot.press("n")
            await handled(app, pilot)
            assert app.stepper.state.last_phase is phase
            assert frames and not any(full for full, _ in frames), phase
            if phase is Phase.BACKWARD:
                assert app.query_one("#panels").scroll_y != scrolled  # the panels did scroll
                assert not any(pictures.overlaps(r) for _, regions in frames for r in regions)  # type: ignore[attr-defined]


async def test_an_update_on_data_builds_only_the_panels_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The panels show one sample's slice of the batch: the forward pass and gradients an
    update leaves as they were keep their slices (tui.app.app.kept_slices), and a new step
    redraws only the panels that name it, so an update builds the Parameters and Update
    panels and no other."""
    from tui.app.widgets.panels import Panel  # the base every panel builds through

    built: Counter[str] = Counter()
    draw = Panel.draw

    def counted(self: Panel, *args: object, **kwargs: object) -> object:
        built[type(self).__name__] += 1
        return draw(self, *args, **kwargs)  # type: ignore[arg-type]

    app = moons_app()
    async with app.run_test(size=SIZE) as pilot:
        await handled(app, pilot)
        for _ in range(7):  # to the update of step 2
            await pilot.press("n")
            await handled(app, pilot)
        assert app.stepper.next_phase is Phase.UPDATE and app.view().sample is not None
        monkeypatch.setattr(Panel, "draw", counted)
        await pilot.press("n")
        await handled(app, pilot)
        assert app.stepper.state.last_phase is Phase.UPDATE
        assert set(built) == {"ParametersPanel", "UpdatePanel"}


async def test_the_hidden_progress_bar_does_not_animate() -> None:
    """Textual animates a bar of unknown length 15 times a second even while it is hidden,
    and each of those frames lays the whole screen out: hidden, the progress bar is an empty
    bar of known length, still."""
    from textual.widgets._progress_bar import Bar  # the ProgressBar's animated part

    app = moons_app()
    async with app.run_test(size=SIZE) as pilot:
        await handled(app, pilot)
        bar = app.query_one(Bar)
        assert not app.query_one("#progress").display and bar.auto_refresh is None
        app.show_progress(Phase.GRADCHECK, 0, 0)  # running, of unknown length: it animates
        assert app.query_one("#progress").display and bar.auto_refresh is not None
        await pilot.press("n")  # the run over (none was going on), the next key hides it
        await handled(app, pilot)
        assert not app.query_one("#progress").display and bar.auto_refresh is None


def test_the_network_pictures_bars_are_compared_by_their_values() -> None:
    """Without a plane the units are bars of the sample's activations, sliced anew from each
    state: the same values need no new picture, other values or other parameters do."""
    params: dict[str, np.ndarray] = {}
    acts = [np.array([0.5, -1.0]), np.array([np.nan])]
    source = ((False, params, None), acts)
    assert same_source(source, ((False, params, None), [a.copy() for a in acts]))
    assert not same_source(source, ((False, params, None), [np.array([0.5, 1.0]), acts[1]]))
    assert not same_source(source, ((False, {}, None), acts))
    assert not same_source(source, ((False, params, None), None))
    assert same_source(((False, params, None), None), ((False, params, None), None))
    assert not same_source(source, None)
