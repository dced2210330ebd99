"""engine.run.deadunits: the hidden ReLU units that are off, computed in the engine (the panels
only mark them), and why a user's z_l cannot say."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.run.deadunits import dead_layers, dead_units, layer_count
from engine.run.stepper import Stepper
from engine.settings.config import Config


def test_the_maths_names_give_the_layer_count() -> None:
    W, b = np.zeros((2, 2)), np.zeros(2)
    assert layer_count({"W1": W, "b1": b, "W2": W, "b2": b}) == 2
    assert layer_count({"W1": W, "b1": b, "W3": W, "b3": b}) is None  # a gap: names of its own
    assert layer_count({}) is None


def test_dead_units_are_the_units_off_in_this_forward_pass() -> None:
    stepper = Stepper(Config())
    assert dead_units(stepper.state) == (None, None)  # no forward pass yet
    stepper.next()
    mask, why = dead_units(stepper.state)
    assert why is None and mask is not None
    z1 = np.asarray(stepper.state.forward.cache["z1"])  # type: ignore[union-attr]
    np.testing.assert_array_equal(mask, z1 <= 0)


def test_a_z_that_is_not_one_number_a_unit_is_not_marked() -> None:
    stepper = Stepper(Config())
    stepper.next()
    state = stepper.state
    assert state.forward is not None
    for value, real in ((np.zeros((4, 2)), True), ("text", False), (None, False)):
        forward = replace(state.forward, cache={**state.forward.cache, "z1": value})
        mask, why = dead_units(replace(state, forward=forward))
        assert mask is None and why is not None and why.name == "z1" and why.units == 4
        assert why.real is real and why.value is value


def test_only_relu_has_dead_units() -> None:
    for activation, marked in (("relu", True), ("tanh", False)):
        stepper = Stepper(Config(activation=activation))
        stepper.next()
        dead, unmarked = dead_layers(stepper.view())
        assert (1 in dead) is marked and unmarked == {}
