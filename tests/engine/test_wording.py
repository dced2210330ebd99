"""Issue 27's wording in the explanations: an index never reads as a value, and an
explanation made once the step holds its update names the parameters it read as they were
before that update (the Parameters panel shows the new ones)."""

from __future__ import annotations

import re

from engine.explain.elements import explain
from engine.run.stepper import Stepper
from engine.settings.config import Config


def test_an_input_says_which_input_it_is_in_words_not_as_a_value_after_an_equals_sign() -> None:
    stepper = Stepper(Config())
    stepper.run_steps(1)
    for j, value in enumerate((0.2, -0.4, 0.1)):
        e = explain(stepper.view(), "x", (j,))
        assert e.formula == f"x[{j}], input {j} of the sample"
        assert e.substituted == f"x[{j}], input {j} of the sample, = {value:g}"
        # no "= ... 0" before the value: the only number after an "=" is the value itself
        assert re.findall(r"= ([^,]*)$", e.substituted) == [f"{value:g}"]


def test_after_the_update_an_explanation_names_the_parameters_it_read_before_that_update() -> None:
    """dW1[1,1] reads W2[0,1] = -1.913, which the update has since moved to -1.887."""
    stepper = Stepper(Config())
    for _ in range(3):  # forward, backward, gradient check: no update yet
        stepper.next()
    before = explain(stepper.view(), "dW1", (1, 1))
    assert not any("before this step's update" in note for note in before.notes)
    stepper.next()  # the update
    assert stepper.state.update is not None
    after = explain(stepper.view(), "dW1", (1, 1))
    assert after.notes[0] == "computed from W2[0,1] before this step's update = -1.913 (after it -1.887)"
    assert after.substituted == before.substituted and after.value == before.value
    z = explain(stepper.view(), "z1", (0,))
    assert z.notes[0].startswith("computed from the parameters before this step's update: "
                                 "W1[0,0] = 0.4967 (after it 0.5001), W1[0,1] = -0.1383")
    assert "b1[0] = 0 (after it 0.01671)" in z.notes[0]


def test_the_parameters_own_explanations_and_the_next_step_need_no_such_note() -> None:
    stepper = Stepper(Config())
    stepper.run_steps(1)
    assert not any("before this step" in n for n in explain(stepper.view(), "W2", (0, 1)).notes)
    stepper.next()  # step 2's forward: it read the parameters the Parameters panel shows
    assert stepper.state.update is None
    assert not any("before this step" in n for n in explain(stepper.view(), "z1", (0,)).notes)


def test_a_parameter_the_update_did_not_move_needs_no_before_and_after() -> None:
    """dz1[2] reads W2[0,2], whose gradient is 0 (unit 2 of layer 1 is dead): it kept its value."""
    stepper = Stepper(Config())
    stepper.run_steps(1)
    e = explain(stepper.view(), "dz1", (2,))
    assert "W2[0,2]" in e.substituted
    assert not any("before this step's update" in note for note in e.notes)
