"""A user's model in the app and the headless report: the awkward cases a real model file
brings (odd cache values, shared lists, slow or hanging code, noisy output)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from textual.geometry import Region

from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from engine.usermodel.client import load_model
from tests.helpers import DEFINITIONS, FIXTURES, GRADS_LINE, THREE_LAYER_PATH, edit, snapshot, told
from tests.helpers import write_model as write
from tests.waits import handled, until
from tui.app.app import StepperApp
from tui.app.commands import stepper_commands
from tui.app.screens.zoom import ZoomScreen
from tui.app.widgets.boundary import USER_MODEL_NOTE, BoundaryMap
from tui.app.widgets.panels import Panel
from tui.cli.main import main

pytestmark = pytest.mark.slow  # drives the app with a user's model process (-m 'not slow' leaves it out)

SIZE = (120, 40)
CACHE_LINE = "    cache = {'x': x, 'z1': z1, 'a1': a1, 'z2': z2, 'a2': a2}"


def with_cache_extras(tmp_path: Path) -> Path:
    """A model caching a float, a string array, an object array and a list it later edits."""
    text = edit(DEFINITIONS, CACHE_LINE, CACHE_LINE + "\n    cache.update(note='hi', tag=np.array(['h']), "
                "pair=np.array([{'z': 1}], dtype=object), scale=1.5, acts=[x, a1])")
    text = edit(text, GRADS_LINE, GRADS_LINE + "\n    cache['acts'].pop(); cache['acts'].pop()")
    return write(tmp_path, text)


def test_odd_cache_values_run_headless_and_give_strict_json(tmp_path: Path, capsys) -> None:
    assert main(["--headless", "--format", "json", "--steps", "2", "--model",
                 str(with_cache_extras(tmp_path))]) == 0
    trace = json.loads(capsys.readouterr().out)
    forward = trace["steps"][1]["forward"]
    assert forward["note"] == "hi" and forward["scale"] == 1.5
    assert forward["tag"] == "array(['h'], dtype='<U1')"  # not a number: its repr, with a warning
    assert len(forward["acts"]) == 2  # the backward's pops did not reach the stored cache


async def test_odd_cache_values_show_zoom_and_undo_exactly(tmp_path: Path) -> None:
    app = StepperApp(Stepper(Config(), model=load_model(with_cache_extras(tmp_path))))
    async with app.run_test(size=SIZE) as pilot:
        for key in ("n", "n"):
            await pilot.press(key)
            await app.runner.idle.wait()
            await pilot.pause()
        assert len(app.stepper.state.forward.cache["acts"]) == 2
        before_backward = snapshot(app.stepper._history[-1])
        await pilot.press("b")
        assert snapshot(app.stepper.state) == before_backward
        await pilot.press("n")
        await app.runner.idle.wait()
        await pilot.pause()
        assert app.stepper.state.last_phase is Phase.BACKWARD  # the same backward runs again
        await pilot.press("z")
        assert isinstance(app.screen, ZoomScreen)
        names = list(app.screen.tensors)
        assert "cache z1" in names and "cache scale" in names and "cache note" not in names


def gated(tmp_path: Path) -> StepperApp:
    """A model whose backward waits while a file named "gate" exists."""
    text = "import os, time\n" + edit(
        DEFINITIONS, GRADS_LINE, GRADS_LINE + f"\n    while os.path.exists({str(tmp_path / 'gate')!r}):"
        "\n        time.sleep(0.001)")
    return StepperApp(Stepper(Config(), model=load_model(write(tmp_path, text))))


async def test_escape_ends_the_running_user_code_and_keeps_the_state(tmp_path: Path) -> None:
    app = gated(tmp_path)
    model = app.stepper.model
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await app.runner.idle.wait()
        after_forward = app.stepper.state
        (tmp_path / "gate").touch()
        await pilot.press("n")  # backward starts and waits in the user's code
        assert app.runner.running is not None and app.runner.running.phase is Phase.BACKWARD
        process = model._process.popen
        await pilot.press("escape")
        await app.runner.idle.wait()  # at once: the process is ended, not waited for
        await pilot.pause()
        assert app.stepper.state is after_forward and app.runner.running is None
        assert process.returncode is not None  # ended, not left running
        assert model._process.popen is not process and model._process.popen.poll() is None  # a fresh one
        assert "failed" not in str(app.query_one("#log").render())
        (tmp_path / "gate").unlink()
        await pilot.press("n")  # a fresh process imports the file again and the phase commits
        await app.runner.idle.wait()
        await pilot.pause()
        assert app.stepper.state.last_phase is Phase.BACKWARD


async def test_no_fault_drills_for_a_user_model(tmp_path: Path) -> None:
    app = StepperApp(Stepper(Config(), model=load_model(write(tmp_path, DEFINITIONS))))
    async with app.run_test(size=SIZE):
        titles = [title for title, _, _ in stepper_commands(app)]
        assert "Run the next phase" in titles and not any(t.startswith("Inject bug") for t in titles)
        model = app.stepper.model
        app.action_inject_bug("sign")
        assert app.stepper.model is model


async def test_the_form_keeps_an_injected_bug() -> None:
    app = StepperApp(Stepper(Config()))
    async with app.run_test(size=SIZE) as pilot:
        app.action_inject_bug("cache")
        await pilot.press("c", "enter")
        assert getattr(app.stepper.model, "bug", None) == "cache"


async def test_model_output_cannot_break_the_screen(tmp_path: Path) -> None:
    text = "print('\\x1b[2J\\x1b[31mred\\x1b[0m 50%\\r100%')\n" + DEFINITIONS
    app = StepperApp(Stepper(Config(), model=load_model(write(tmp_path, text))))
    async with app.run_test(size=SIZE):
        log = str(app.query_one("#log").render())
        assert "red 50%\n100%" in log and "\x1b" not in log


async def test_zoom_of_huge_values_shows_a_finite_norm() -> None:
    app = StepperApp(Stepper(Config(lr=1e300)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "z")
        stats = str(app.screen.query_one("#zoom-stats").render())
        assert "norm inf" not in stats and "e+299" in stats


def test_stepper_history_never_holds_a_mutable_user_list(tmp_path: Path) -> None:
    stepper = Stepper(Config(), model=load_model(with_cache_extras(tmp_path)))
    stepper.next()
    acts = stepper.state.forward.cache["acts"]
    stepper.next()
    assert len(acts) == 2 and np.array_equal(acts[1], stepper.state.forward.cache["a1"])


async def test_a_model_with_its_own_names_is_shown_with_them(tmp_path: Path) -> None:
    """three_layer.py (Wi..bo, cs231n's grads['Wi']): the network line lists its own
    parameters, the gradients panel says how they are keyed, and nothing names W1."""
    from tui.app.widgets.bars import NetworkLine
    from tui.app.widgets.panels import GradientsPanel

    app = StepperApp(Stepper(Config(), model=load_model(THREE_LAYER_PATH)))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(2):
            await pilot.press("n")
            await app.runner.idle.wait()
            await pilot.pause()
        line = str(app.query_one(NetworkLine).render())
        gradients = str(app.query_one(GradientsPanel).render())
        assert "Wi(4, 3)" in line and "bo(1,)" in line and "W1" not in line
        assert "gradients keyed by name (cs231n's grads['W1'])" in gradients
        assert "dWi" in gradients and "dbo" in gradients and "dW1" not in gradients


async def test_zoom_lists_a_course_model_s_nested_cache_and_opens_at_its_cursor() -> None:
    """deeplearning.ai code caches its values in a dict of its own (forward.cache.Z1): zoom
    had listed none of them, and opened at W1 from a cursor on Z1."""
    config = Config().resolved()
    fixture = FIXTURES / "dlai_two_layer.py"
    model = load_model(fixture, sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await app.runner.idle.wait()  # the step runs in a worker: a pause alone raced it under load
            await pilot.pause()
            forward = app.query_one("#forward", Panel)
            forward.focus()  # focus, then the panel's cursor message, then the redraw that sets it
            await until(pilot, lambda: forward.cursor is not None, "the forward panel's cursor")
            assert forward.cursor is not None and forward.cursor[0] == "forward.cache.Z1"
            await pilot.press("j", "z")
            zoom = app.screen
            assert isinstance(zoom, ZoomScreen)
            assert {f"cache cache.{name}" for name in ("Z1", "A1", "Z2", "A2")} <= set(zoom.tensors)
            assert zoom.first == "cache cache.Z1" and zoom.cursor == (1, 0)
    finally:
        model.close()


async def test_the_form_rebuilds_a_model_that_builds_itself_from_the_sizes() -> None:
    """A cs231n TwoLayerNet is made with the network's sizes: the form's new hidden size had
    been announced as applied while the old 2-4-2 net went on stepping (and a session saved
    then could not be reopened). Sizes the file cannot take are refused, the old net kept."""
    from dataclasses import replace

    from engine.data import batches

    data = batches.from_config(Config(dataset="moons", batch=16))
    assert data is not None
    config = batches.fitted(Config(dataset="moons", batch=16), data).resolved()
    fixture = FIXTURES / "cs231n_two_layer.py"
    model = load_model(fixture, sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model, data=data))
    try:
        async with app.run_test(size=SIZE) as pilot:
            app.apply_config(replace(config, hidden=(7,)))
            await handled(app, pilot)  # its notification arrives as a message
            assert app.stepper.state.params["W1"].shape == (2, 7)
            assert "cs231n_two_layer.py with parameters W1 (2, 7)" in told(app)[-1]
            app.apply_config(replace(config, hidden=(9, 9)))
            await handled(app, pilot)
            message = told(app)[-1]
            assert message.startswith("Not applied:") and "hidden" in message
            assert app.stepper.config.hidden == (7,) and model.sizes == (2, 7, 1)
            await pilot.press("s")  # the kept network still steps (on the runner's thread)
            await until(pilot, lambda: app.stepper.state.last_phase is Phase.UPDATE, "the update")
            assert app.stepper.state.params["W1"].shape == (2, 7)
    finally:
        model.close()


async def test_the_form_keeps_a_model_s_own_shapes_and_says_so() -> None:
    from dataclasses import replace

    config = Config().resolved()
    model = load_model(THREE_LAYER_PATH, sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            app.apply_config(replace(config, hidden=(8, 8, 8), seed=3))
            # The file is imported again with the new sizes, in the model's new process.
            await handled(app, pilot)  # its notification arrives as a message
            assert app.stepper.state.params["Wi"].shape == (4, 3)  # its init_params' own
            notes = told(app)
            assert any("three_layer.py with parameters Wi (4, 3)" in note for note in notes), notes
    finally:
        model.close()


async def test_the_form_applies_an_optimizer_to_a_model_file() -> None:
    """The optimizers update any model's gradients: the form's Adam applies to a model file
    (which brings no rule of its own, so the stepper's Adam updates its parameters, with
    its state kept like the built-in network's), as --optimizer with --model does."""
    from dataclasses import replace

    config = Config().resolved()
    model = load_model(THREE_LAYER_PATH, sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            old = app.stepper
            assert app.controller.apply(replace(config, optimizer="adam"))
            await handled(app, pilot)
            assert app.stepper is not old and app.stepper.config.optimizer == "adam"
            assert app.stepper.model is model
            assert app.stepper.state.optim["t"] == 0
    finally:
        model.close()


async def test_the_map_s_note_for_a_user_s_model_reads_whole() -> None:
    """With a model file and data, the map's panel says there is no map: its note was cut at
    the panel's edge in the two-column layout ("... over the data is not")."""
    from engine.data import batches

    data = batches.from_config(Config(dataset="moons"))
    assert data is not None
    config = batches.fitted(Config(dataset="moons"), data).resolved()
    fixture = FIXTURES / "cs231n_two_layer.py"
    model = load_model(fixture, sizes=config.architecture.sizes)
    app = StepperApp(Stepper(config, model=model, data=data))
    try:
        async with app.run_test(size=SIZE) as pilot:
            boundary = app.query_one(BoundaryMap)
            for size in (SIZE, (80, 24)):
                await pilot.resize_terminal(*size)
                await pilot.wait_for_scheduled_animations()
                lines = boundary.render_lines(Region(0, 0, *boundary.outer_size))
                words = " ".join(line.text.replace("│", " ") for line in lines).split()
                assert USER_MODEL_NOTE in " ".join(words), (size, [line.text for line in lines])
    finally:
        model.close()
