"""What a model computes (engine.run.picture) and a dead network (engine.run.deadnet), on
in-process models (tests.helpers.FileModel): the built-in network dressed as a user's file
of some convention, with its forward or backward changed where a test needs a file that is
not the notebook's."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from engine.data import batches
from engine.maths.network import Array, Labels, Params, Tensors
from engine.model.builtin import BuiltinModel
from engine.run import deadnet, picture
from engine.run.deadnet import Dead, dead_network
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from tests.helpers import FileModel, stepped
from tui.output.report import json_report, text_report


def maths(stepper: Stepper) -> picture.Maths:
    return picture.of_view(stepper.view())


def test_the_built_in_network_is_its_own_maths_drill_or_not() -> None:
    assert maths(stepped(BuiltinModel())) == picture.Maths(picture.BUILTIN, 1, "bce")
    assert maths(stepped(BuiltinModel(bug="transpose"), 0)).kind == picture.BUILTIN


def test_a_notebook_file_is_the_notebooks_network_only_when_its_forward_pass_measures_so() -> None:
    """Before any forward pass nothing is measured; the same numbers make it the notebook's
    network, through the update (whose state holds the new parameters, its forward the
    old); a loss off by 1e-6 makes it a file of its own, with unknown classes and loss."""
    assert maths(stepped(FileModel(), 0)) == picture.Maths(picture.OWN, None, None)
    same = stepped(FileModel(), 1)
    assert maths(same) == picture.Maths(picture.BUILTIN, 1, "bce")
    for _ in range(3):
        same.next()
    assert same.state.last_phase is Phase.UPDATE and maths(same).kind == picture.BUILTIN
    assert maths(stepped(FileModel(loss_shift=1e-6), 1)) == picture.Maths(picture.OWN, None, None)


@pytest.mark.parametrize(("follows", "classes", "expected"), [
    ("cs231n", 1, picture.Maths(picture.CS231N, 2, "cross-entropy")),
    ("cs231n", 3, picture.Maths(picture.CS231N, 3, "cross-entropy")),
    ("deeplearning-ai", 1, picture.Maths(picture.DLAI, 1, "bce")),
    ("deeplearning-ai", 3, picture.Maths(picture.DLAI, 3, "cross-entropy")),
    ("nielsen", 1, picture.Maths(picture.OWN, None, None)),
])
def test_a_course_file_computes_what_its_convention_defines(follows: str, classes: int,
                                                             expected: picture.Maths) -> None:
    config = Config(classes=classes)
    assert maths(stepped(FileModel(follows=follows, arch=config.resolved().architecture), 1,
                         config)) == expected


def test_computes_builtin_needs_every_name_and_number() -> None:
    stepper = stepped(FileModel(), 1)
    forward, arch = stepper.state.forward, stepper.config.architecture
    assert forward is not None
    x, y = picture.inputs(stepper.config.x, stepper.config.y, forward)
    params = stepper.state.params
    assert picture.computes_builtin(arch, x, y, params, forward)
    renamed = {("pre" if name == "z1" else name): value for name, value in forward.cache.items()}
    assert not picture.computes_builtin(arch, x, y, params, type(forward)(renamed, forward.loss))
    tanh = dict(forward.cache, a1=np.tanh(forward.cache["z1"]))
    assert not picture.computes_builtin(arch, x, y, params, type(forward)(tanh, forward.loss))
    assert not picture.computes_builtin(arch, x, y, {"Wi": params["W1"]}, forward)


def test_the_json_config_states_the_models_classes_and_loss() -> None:
    def config_of(model: BuiltinModel, config: Config | None = None) -> dict[str, object]:
        stepper = Stepper(config or Config(), model=model)
        trace = json.loads("".join(json_report(stepper.config, stepper, stepper.iter_steps(1))))
        return dict(trace["config"])

    builtin = config_of(BuiltinModel())
    assert (builtin["classes"], builtin["loss"]) == (1, "bce")
    assert config_of(FileModel()) == builtin  # the notebook's network, measured
    own = config_of(FileModel(loss_shift=0.5))
    assert (own["classes"], own["loss"]) == (None, None)
    assert {k: v for k, v in own.items() if k not in ("classes", "loss")} == \
        {k: v for k, v in builtin.items() if k not in ("classes", "loss")}
    cs231n = config_of(FileModel(follows="cs231n"))
    assert (cs231n["classes"], cs231n["loss"]) == (2, "cross-entropy")


# ---- a dead network ---------------------------------------------------------------------
Z, ONE = np.zeros(4), np.ones(4)
PARAMS = {name: ONE for name in ("W1", "b1", "W2", "b2")}
ZERO_GRADS = {f"d{name}": Z for name in PARAMS}


def test_dead_only_when_every_parameters_gradient_is_exactly_zero() -> None:
    assert dead_network(PARAMS, ZERO_GRADS | {"dz2": Z}) is not None
    assert dead_network(PARAMS, ZERO_GRADS | {"db2": np.full(4, 1e-300)}) is None
    assert dead_network(PARAMS, {k: v for k, v in ZERO_GRADS.items() if k != "db1"}) is None
    assert dead_network(PARAMS, ZERO_GRADS | {"db2": np.array([])}) is None
    assert dead_network(PARAMS, ZERO_GRADS | {"db2": np.array(["0"])}) is None


@pytest.mark.parametrize(("intermediates", "expected"), [
    ({"dz2": Z, "da1": Z, "dz1": Z}, Dead("dz2", 2)),  # stopped at the output
    ({"dz2": ONE, "da1": Z, "dz1": Z}, Dead("da1", 1)),  # W2ᵀ·dz2 = 0
    ({"dz1": Z, "dz2": ONE, "da1": ONE}, Dead("dz1", 1)),  # the ReLU mask: dz1 = da1 ⊙ 0
    ({"dZ2": ONE, "dA1": Z}, Dead("dA1", 1)),  # deeplearning.ai's names
    ({}, Dead("dW2, db2", 2)),  # a cs231n class keeps no intermediate: its output layer
])
def test_the_signal_stops_at_the_first_all_zero_gradient_from_the_output_down(
        intermediates: Tensors, expected: Dead) -> None:
    assert dead_network(PARAMS, ZERO_GRADS | intermediates) == expected


def test_the_finding_names_where_the_signal_stops() -> None:
    assert Dead("dz2", 2).message == "every gradient is zero: the signal stops at layer 2: dz2 is all zero"
    assert Dead("dW2, db2", 2).message.endswith("layer 2: dW2, db2 are all zero")
    own = dead_network({"Wi": ONE, "bo": ONE}, {"dWi": Z, "dbo": Z})
    assert own == Dead("dWi, dbo", None)
    assert Dead("dWi, dbo", None).as_dict() == {
        "message": "every gradient is zero: the signal stops at dWi, dbo are all zero",
        "stops_at": "dWi, dbo", "layer": None}


def test_a_dead_network_is_named_in_the_text_report_and_the_json_trace_before_any_diagnosis() -> None:
    def run(model: BuiltinModel, fmt: str) -> str:
        stepper = Stepper(Config(), model=model)
        report = json_report if fmt == "json" else text_report
        return "\n".join(report(stepper.config, stepper, stepper.iter_steps(2)))

    text = run(FileModel(dead=True), "text")
    line = "Dead network: every gradient is zero: the signal stops at layer 2: dz2 is all zero."
    assert text.count(line) == 2
    assert text.index(line) < text.index("Diagnosis:\n  W1: zero")  # before a tensor is called zero
    trace = json.loads(run(FileModel(dead=True), "json"))
    assert [step["dead"]["stops_at"] for step in trace["steps"]] == ["dz2", "dz2"]
    assert trace["steps"][0]["dead"]["layer"] == 2
    alive = json.loads(run(FileModel(), "json"))
    assert all("dead" not in step for step in alive["steps"])
    assert "Dead network" not in run(FileModel(), "text")


def test_the_summary_trace_marks_dead_steps_and_says_where_once() -> None:
    config = Config(dataset="moons", batch=16, steps=3, trace="summary")
    data = batches.from_config(config)
    assert data is not None
    config = batches.fitted(config, data)
    stepper = Stepper(config, model=FileModel(dead=True, arch=config.resolved().architecture), data=data)
    lines = list(text_report(stepper.config, stepper, stepper.iter_steps(3)))
    assert sum("(dead network)" in line for line in lines) == 3
    assert [line for line in lines if "Dead network" in line] == \
        ["At step 1: Dead network: every gradient is zero: the signal stops at layer 2: dz2 is all zero."]
    stepper = Stepper(config, model=FileModel(dead=True, arch=config.resolved().architecture), data=data)
    trace = json.loads("".join(json_report(stepper.config, stepper, stepper.iter_steps(3))))
    assert trace["trace"] == "summary" and [step["dead"]["layer"] for step in trace["steps"]] == [2, 2, 2]


@dataclass(frozen=True)
class FirstRowStops(FileModel):
    """Dead, except that dz2 is alive in every row of the batch but the first."""

    def backward(self, x: Array, y: Labels, params: Params, cache: Tensors) -> Tensors:
        grads = {name: value * 0.0 for name, value in super().backward(x, y, params, cache).items()}
        grads["dz2"] = np.ones_like(grads["dz2"])
        grads["dz2"][0] = 0.0
        return grads


def test_of_view_reads_the_whole_batch_behind_a_sample() -> None:
    """A sample's slice of dz2 may be zero where the batch's is not: the finding is the batch's."""
    from engine.run.sample import sample_view

    config = Config(dataset="moons", batch=8)
    data = batches.from_config(config)
    assert data is not None
    config = batches.fitted(config, data)
    stepper = Stepper(config, model=FirstRowStops(arch=config.resolved().architecture), data=data)
    stepper.next()
    stepper.next()
    first = sample_view(stepper.view(), 0)
    assert first.sample is not None and not np.any(first.state.backward["dz2"])  # type: ignore[index]
    assert deadnet.of_view(first) == Dead("da1", 1)
    assert deadnet.of_view(stepped(FileModel(), 2).view()) is None
