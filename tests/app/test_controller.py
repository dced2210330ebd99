"""tui.app.controller without a screen: the rules of the keys that change the stepper, and
what each tells the user (Notes, in order)."""

from __future__ import annotations

from typing import Any

from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.app.controller import Controller, Note
from tui.app.runner import PhaseRunner


def controller(config: Config | None = None) -> tuple[Controller, list[Note]]:
    told: list[Note] = []

    def nothing(*_: Any) -> None:
        return None

    runner = PhaseRunner(Stepper(config or Config()), lambda f, *a: f(*a),
                         shown=nothing, progress=nothing, failed=nothing)
    return Controller(runner, told.append), told


def test_applying_a_config_makes_a_new_stepper_with_the_check_switch_kept() -> None:
    control, told = controller()
    old = control.stepper
    old.gradcheck_enabled = False
    assert control.apply(Config(hidden=(8, 8)).resolved())
    assert control.stepper is not old and control.runner.stepper is control.stepper
    assert control.stepper.config.hidden == (8, 8) and not control.stepper.gradcheck_enabled
    assert [note.message for note in told] == ["Applied: a 3-8-8-1 network, seed 42, lr 0.1."]


def test_a_drill_the_new_network_has_no_place_for_is_dropped_first() -> None:
    control, told = controller(Config(hidden=(8, 8)))
    assert control.inject_bug("transpose")
    assert control.apply(Config(hidden=(4,)).resolved())
    assert control.stepper.model.bug is None
    assert [note.severity for note in told[1:]] == ["warning", "information"]
    assert "'transpose' removed" in told[1].message


def test_a_drill_that_cannot_break_this_network_is_refused() -> None:
    control, told = controller()
    assert not control.inject_bug("transpose")
    assert control.stepper.model.bug is None and told[0].severity == "warning"


def test_undo_at_the_start_says_so_and_training_needs_data() -> None:
    control, told = controller()
    assert control.undo() and told[-1].message == "Already at the start: nothing to undo."
    assert not control.train() and told[-1].message.startswith("Training runs need data")
    assert control.runner.running is None


def test_the_export_names_say_where_in_the_run() -> None:
    control, _ = controller()
    assert control.file_stem("session") == "backprop-session-step1-start"
    control.stepper.next()
    assert control.file_stem("params") == "backprop-params-step1-forward"
