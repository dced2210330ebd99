"""The headless report in bounded memory (issue 28's JSON trace at 1,000,000-9-1): it keeps no
undo history, lets go of each step before making the next, and holds about three copies of
the network at once (the parameters, their gradients, the updated parameters). Measured in
bytes Python allocates (tracemalloc, deterministic), never in time, on a network wide enough
(100,000-9-1, 6.9 MiB of parameters) that the weights dominate what a run allocates."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.helpers import peak_allocated
from tui.cli.headless import report_stepper
from tui.cli.main import main
from tui.cli.options import parse

WIDE = ["--headless", "--inputs", "100000", "--hidden", "9", "--steps", "3"]
PARAM_BYTES = 8 * (100_000 * 9 + 9 + 9 + 1)


def test_a_headless_stepper_keeps_no_undo_and_a_session_keeps_its_own(tmp_path: Path) -> None:
    bare = report_stepper(parse(["--headless", "--steps", "3"]), None, None, None)
    bare.run_steps(3)
    assert bare.max_history == 0 and bare.history_length == 0
    saved = report_stepper(parse(["--headless", "--save-session", str(tmp_path / "s.npz")]), None, None, None)
    saved.run_steps(3)
    assert saved.max_history == 8 and saved.history_length == 8  # the session file records them


@pytest.mark.parametrize("config", [Config(inputs=50, hidden=(7,), seed=3, init="he"),
                                    Config(x=(1e308, 1e308, 1e308))],  # diverges: the phases one by one
                         ids=["converging", "diverging"])
def test_a_stepper_without_undo_reaches_the_same_states_bit_for_bit(config: Config) -> None:
    """Committing the forward pass first (no undo) changes what is held, not what is computed,
    nor the path a session would record, even where the fused step falls back to the phases."""
    bare, kept = Stepper(config, max_history=0), Stepper(config)
    for a, b in zip(bare.iter_steps(4), kept.iter_steps(4), strict=True):
        assert a.forward and b.forward and a.update and b.update
        np.testing.assert_array_equal([a.forward.loss, a.update.loss_after],
                                      [b.forward.loss, b.update.loss_after])
        assert a.nonfinite() == b.nonfinite()
        for name in a.params:
            np.testing.assert_array_equal(a.params[name], b.params[name], strict=True)
    assert bare.path == kept.path


def test_the_initial_parameters_are_let_go_of_only_without_undo() -> None:
    kept = Stepper(parse(["--headless"]).config)
    with pytest.raises(RuntimeError):
        kept.let_go_of_start()
    bare = Stepper(parse(["--headless"]).config, max_history=0)
    bare.let_go_of_start()
    with pytest.raises(RuntimeError, match="let go of"):
        _ = bare.initial
    assert bare.run_steps(2).step == 2


def _peak(argv: list[str]) -> float:
    """The most a headless run allocates, in copies of the network's parameters; run once
    before, so imports and caches are not counted."""
    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            main(argv)
    run()
    return peak_allocated(run) / PARAM_BYTES


@pytest.mark.parametrize(("flags", "most"), [
    (["--no-gradcheck", "--quiet"], 3.8),  # 3.24x: W, dW and the new W, and the sample (was 8.6x)
    (["--quiet"], 5.6),  # 4.87x: and the check's numerical gradient and its ranking (was 19.6x)
    (["--no-gradcheck", "--format", "json", "--json-arrays-max", "1000"], 3.9),  # 3.39x (was 9.7x)
    (["--format", "json", "--json-arrays-max", "1000"], 5.7),  # 5.01x (was 19.6x)
], ids=lambda value: " ".join(value) if isinstance(value, list) else str(value))
def test_a_headless_run_holds_a_few_copies_of_the_network(flags: list[str], most: float,
                                                          tmp_path: Path) -> None:
    output = ["--output", str(tmp_path / "trace.json")] if "--format" in flags else []
    assert _peak([*WIDE, *flags, *output]) < most


def test_the_report_holds_no_step_while_the_next_is_computed(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    """Once a step's gradients are made, of the earlier steps' updated parameters only the last
    (this step's parameters) is alive: neither the stepper nor the JSON report (its loop, its
    first step) holds an older one."""
    import weakref

    alive: list[list[int]] = []
    updated: list[tuple[int, weakref.ref[np.ndarray]]] = []
    real = Stepper.commit

    def commit(self: Stepper, new):  # type: ignore[no-untyped-def]
        real(self, new)
        if new.update is not None:
            updated.append((new.step, weakref.ref(new.update.after["W1"])))
        elif new.last_phase is Phase.BACKWARD:
            alive.append([step for step, ref in updated if ref() is not None])

    monkeypatch.setattr(Stepper, "commit", commit)
    assert main([*WIDE[:-1], "4", "--no-gradcheck", "--format", "json", "--output",
                 str(tmp_path / "t.json")]) == 0
    assert alive == [[], [1], [2], [3]]
