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
