"""Why is this number what it is: every element of every tensor explained, and the
explanation's own arithmetic (its operation redone from the operands it shows) gives the
number. Fast: small random networks, a sample of elements of each tensor."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.explain.elements import (
    SHOWN_TERMS,
    Explanation,
    explain,
    explain_text,
    final_shapes,
    parse_element,
    redo,
    shapes,
    tensors,
)
from engine.maths.network import ACTIVATIONS, BUGS, DRILLS, NO_DRILL
from engine.run.stepper import Phase, Stepper, View
from engine.settings.config import Config, validate
from tests.helpers import FIXTURES
from tui.cli.main import main

THREE_LAYER = FIXTURES / "three_layer.py"
LOSSES = {"bce": {"classes": 1, "loss": "bce"}, "mse": {"classes": 1, "loss": "mse"},
          "softmax-3": {"classes": 3, "loss": ""}}


def random_config(activation: str, loss: str, seed: int, **extra: object) -> Config:
    """1 to 4 hidden layers of 1 to 10 units, 1 to 11 inputs (past SHOWN_TERMS sometimes)."""
    rng = np.random.default_rng(seed)
    hidden = tuple(int(n) for n in rng.integers(1, 11, size=int(rng.integers(1, 5))))
    inputs = int(rng.integers(1, 12))
    y = int(rng.integers(0, 3 if loss == "softmax-3" else 2))
    return validate(Config(inputs=inputs, hidden=hidden, activation=activation, y=y, seed=seed,
                           **LOSSES[loss], **extra))  # type: ignore[arg-type]


def sample(shape: tuple[int, ...], rng: np.random.Generator, k: int = 3) -> list[tuple[int, ...]]:
    """The first and last element and a random one."""
    if not shape:
        return [()]
    picks = {tuple(0 for _ in shape), tuple(n - 1 for n in shape)}
    picks |= {tuple(int(rng.integers(0, n)) for n in shape) for _ in range(k - 2)}
    return sorted(picks)


def assert_adds_up(e: Explanation, expected: float, tensor: str) -> None:
    """The element's value, and the explanation's own arithmetic giving it to 1e-12 relative
    (of the larger of the value and the sum of |terms|, for a sum whose terms cancel)."""
    assert e.value == expected, (tensor, e.index)
    assert e.substituted.startswith(re.split(" = | ≈ | ← ", e.formula)[0]), e.substituted
    assert e.operation != "unknown", (tensor, e.index)
    result = redo(e)
    scale = max(abs(expected), math.fsum(abs(t.value) for t in e.operands)
                if e.operation == "sum" else abs(expected))
    assert abs(result - expected) <= 1e-12 * scale + 1e-300, (tensor, e.index, result, expected, e)
    if e.operation == "sum":
        assert e.terms == e.operands and math.isclose(math.fsum(t.value for t in e.terms), result)


def explain_everything(view: View, seed: int = 0) -> int:
    """Explain a sample of every tensor of the view's state; the number explained."""
    rng = np.random.default_rng(seed)
    count = 0
    for tensor, value in tensors(view.state).items():
        for index in sample(tuple(np.shape(value)), rng):
            e = explain(view, tensor, index)
            assert e.tensor == tensor and e.index == index
            expected = float(np.asarray(value)[index])
            if tensor.startswith("gradcheck.") and view.state.gradcheck is not None \
                    and view.state.gradcheck.method == "fast":
                # The vectorised check nudges z, not W: the same losses, summed in another
                # order, so its quotient may differ from the forward pass's by rounding.
                assert e.value == expected
                assert abs(redo(e) - expected) <= view.state.gradcheck.atol
                continue
            assert_adds_up(e, expected, tensor)
            count += 1
    return count


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_tensor_of_a_random_network_adds_up_after_a_full_step(activation: str, loss: str) -> None:
    for seed, method in ((sum(map(ord, activation + loss)), "loop"), (7, "fast")):
        config = random_config(activation, loss, seed, gradcheck_method=method)
        stepper = Stepper(config)
        stepper.run_steps(1)
        assert explain_everything(stepper.view(), seed) > 20
        assert final_shapes(config.architecture, True) == shapes(stepper.state)


@pytest.mark.parametrize("init", ["notebook", "he", "xavier"])
def test_every_phase_adds_up_and_parameters_say_where_they_came_from(init: str) -> None:
    """Initial draws (step 1, no update yet), then each phase, then step 2's forward, whose
    parameters came from step 1's update, which that state no longer holds."""
    stepper = Stepper(random_config("tanh", "softmax-3", 3, init=init, gradcheck_method="loop"))
    first = explain(stepper.view(), "W2", (0, 0))
    assert first.operation == "product" and "RandomState(3)" in first.formula
    assert any(f"init {init}" in note for note in first.notes)
    assert explain(stepper.view(), "b1", (0,)).value == 0.0
    for _ in range(5):
        stepper.next()
        explain_everything(stepper.view())
    assert stepper.state.step == 2 and stepper.state.update is None
    later = explain(stepper.view(), "params.W1", (0, 0))
    assert any("step 1's update, which this state does not hold" in note for note in later.notes)


def test_the_default_networks_dW1_substitutes_down_to_the_values_it_came_from() -> None:
    stepper = Stepper(Config())
    stepper.run_steps(1)
    view = stepper.view()
    e = explain(view, "dW1", (1, 1))
    assert e.substituted == ("dW1[1,1] = dz1[1] · x[1] = (da1[1] · relu'(z1[1])) · x[1] "
                             "= ((W2[0,1]·dz2[0]) · 1) · (-0.4) = ((-1.913 · -0.6907) · 1) · (-0.4) "
                             "= -0.5286")
    assert e.value == view.state.backward["dW1"][1, 1]  # type: ignore[index]
    assert e.chain == ("dz2[0] = a2[0] − y = 0.3093 − 1 = -0.6907",)
    assert {(s.tensor, s.index) for s in e.sources} == {("backward.dz1", (1,)), ("forward.x", (1,))}
    assert explain_text(view, "backward.dW1[1,1]") == e
    e = explain(view, "dW1", (1, 2))
    assert e.substituted.endswith("· 0.1 = ((-1.913 · -0.6907) · 1) · 0.1 = 0.1321")


def test_a_wide_sum_lists_all_its_terms_and_shows_the_largest() -> None:
    stepper = Stepper(validate(Config(inputs=12, hidden=(3,))))
    stepper.run_steps(1)
    e = explain(stepper.view(), "forward.z1", (0,))
    assert len(e.terms) == 13  # 12 products and the bias
    assert f"+ {13 - SHOWN_TERMS} more terms" in e.substituted
    numbers = e.substituted.split(" = ")[2]
    assert len(numbers.split(" + ")) == SHOWN_TERMS + 1
    assert redo(e) == pytest.approx(e.value, rel=1e-12)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("bug", list(BUGS))
def test_a_fault_drill_is_explained_as_the_broken_backward_computed_it(bug: str, loss: str) -> None:
    rates = {"l2": 0.1} if bug == "penalty-loss" else {}
    config = validate(Config(hidden=(4, 4), inject_bug=bug, gradcheck_method="loop", **LOSSES[loss],  # type: ignore[arg-type]
                             **rates))
    stepper = Stepper(config)
    stepper.run_steps(1)
    view = stepper.view()
    explain_everything(view)
    expect = {"activation-grad": ("backward.dz1", (2,), "taken as 1 by the injected bug"),
              "bias-grad": ("backward.db2", (0,), "returned as 0 by the injected bug"),
              "sign": ("backward.dz3", (0,), "negated (y − a) by the injected bug"),
              "cache": ("backward.dW3", (0, 1), "used instead of a2[1] by the injected bug"),
              "transpose": ("backward.da1", (0,), "by the injected bug 'transpose'"),
              "penalty-loss": ("backward.dW1", (0, 1), "the injected bug 'penalty-loss' left the penalty "
                                                       "out of the loss")}[bug]
    e = explain(view, expect[0], expect[1])
    assert any(expect[2] in note for note in e.notes), e.notes


def test_a_kink_element_shows_the_one_sided_differences() -> None:
    stepper = Stepper(Config(eps=0.1, gradcheck_method="loop"))
    stepper.run_steps(1)
    check = stepper.state.gradcheck
    assert check is not None
    index = tuple(int(i) for i in np.argwhere(check.tensors["W1"].kinks)[0])
    e = explain(stepper.view(), "gradcheck.W1", index)
    assert e.verdict is not None and e.verdict.startswith("kink: ")
    assert any("(L(θ + ε) − L(θ)) / ε" in note and "(L(θ) − L(θ − ε)) / ε" in note for note in e.notes)
    assert redo(e) == e.value


def test_a_numerical_gradient_shows_both_losses_the_quotient_and_the_verdict() -> None:
    stepper = Stepper(Config(gradcheck_method="loop"))
    stepper.run_steps(1)
    e = explain(stepper.view(), "gradcheck.W1", (0, 0))
    plus, minus, eps = (t.value for t in e.operands)
    assert e.operation == "central-difference" and eps == 1e-5 and repr(plus) in e.substituted
    assert (plus - minus) / eps / 2 == e.value
    assert e.verdict == "pass"
    assert any("finite-difference estimate" in n for n in e.notes)
    assert any("tolerance atol + rtol·max(|a|, |n|) = 1e-07 + 0.0001 ·" in n for n in e.notes)


@pytest.mark.parametrize("text, expected", [
    ("dW1[1,2]", ("dW1", (1, 2))), ("update.W1[0, 0]", ("update.W1", (0, 0))),
    ("b2[0]", ("b2", (0,))), ("loss", ("loss", ())), (" update.before.b1[3] ", ("update.before.b1", (3,))),
])
def test_parse_element(text: str, expected: tuple[str, tuple[int, ...]]) -> None:
    assert parse_element(text) == expected


@pytest.mark.parametrize("text, words", [
    ("dW1[1,2", "is not an element"), ("dW1[]", "brackets are empty"), ("dW1[-1,0]", "not a whole number"),
    ("dW1[a]", "not a whole number"), ("", "is not an element"), ("update.[0]", "not a tensor's name"),
])
def test_parse_element_refuses_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("[", r"\[")):
        parse_element(text)


def test_unknown_or_ambiguous_names_and_bad_indexes_list_what_exists() -> None:
    stepper = Stepper(Config())
    stepper.run_steps(1)
    view = stepper.view()
    for tensor, index, words in (("dW9", (0, 0), "no tensor 'dW9'"), ("W1", (4, 0), "out of range"),
                                 ("loss", (0,), "takes no index"), ("dW1", (0,), "takes 2 index")):
        with pytest.raises(ValueError, match=words) as caught:
            explain(view, tensor, index)
        assert "params.W1 (4, 3)" in str(caught.value) and "forward.loss (scalar)" in str(caught.value)


# ---- headless ------------------------------------------------------------------------

def every_element_flag(shapes_: dict[str, tuple[int, ...]]) -> list[str]:
    argv: list[str] = []
    for name, shape in shapes_.items():
        argv += ["--explain", f"{name}[{','.join('0' for _ in shape)}]" if shape else name]
    return argv


DEEP = ["--hidden", "3,2", "--classes", "3", "--y", "2", "--activation", "tanh"]


@pytest.mark.parametrize("argv", [[], DEEP])
def test_explain_works_headless_for_every_tensor_in_the_trace(argv: list[str], capsys) -> None:
    config = validate(Config(hidden=(3, 2), classes=3, y=2, activation="tanh")) if argv else Config()
    stepper = Stepper(config)
    stepper.run_steps(1)
    names = shapes(stepper.state)  # every tensor in the trace, as the stepper made them
    assert main(["--headless", "--format", "json", *argv, *every_element_flag(names)]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert [e["tensor"] for e in trace["explanations"]] == list(names)
    last = trace["steps"][-1]
    for e in trace["explanations"]:
        assert {"tensor", "index", "value", "formula", "substituted", "terms"} <= set(e)
        phase, _, name = e["tensor"].rpartition(".")
        if phase in ("forward", "backward"):
            held = last[phase][name]
            assert e["value"] == (held if not e["index"] else np.asarray(held)[tuple(e["index"])])
        if phase == "gradcheck":
            assert e["verdict"] in ("pass", "kink: consistent", "kink: inconsistent")
    assert main(["--headless", *argv, *every_element_flag(names)]) == 0
    out = capsys.readouterr().out
    block = out.split("\nWhy is this number what it is?\n", 1)[1]
    for name in names:
        assert f"\n{name}" in block
    assert "Final loss after one SGD step" in out.split("Why is this")[0]


def test_explain_speaks_of_the_final_state_after_several_steps(capsys) -> None:
    assert main(["--headless", "--format", "json", "--steps", "3", "--explain", "update.W2[0,1]",
                 "--explain", "W2[0,1]"]) == 0
    trace = json.loads(capsys.readouterr().out)
    after = trace["steps"][-1]["update"]["W2"][0][1]
    assert [e["value"] for e in trace["explanations"]] == [after, after]
    assert "step 3" in trace["explanations"][0]["notes"][0]


@pytest.mark.parametrize("flag, words", [
    ("dW9[0,0]", "no tensor 'dW9'"), ("dW1[4,0]", "out of range"), ("W1[0,0,0]", "takes 2 index"),
    ("dW1[1,", "is not an element"),
])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_bad_element_exits_2_with_the_listing_and_nothing_on_stdout(flag: str, words: str, fmt: str,
                                                                      capsys) -> None:
    assert main(["--headless", "--format", fmt, "--explain", "loss", "--explain", flag]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert words in captured.err
    if "element" not in words:
        assert "backward.dW1 (4, 3)" in captured.err and "forward.loss (scalar)" in captured.err


def test_explain_is_a_flag_not_a_setting_of_a_toml_file(tmp_path: Path, capsys) -> None:
    settings = tmp_path / "run.toml"
    settings.write_text('explain = ["dW1[1,2]"]\n')
    assert main(["--headless", "--config", str(settings)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "pass --explain ELEMENT on the command line" in captured.err


def test_explain_needs_headless_and_no_gradcheck_means_no_gradcheck_tensors(capsys) -> None:
    assert main(["--explain", "loss"]) == 2
    assert "--explain only applies to a report" in capsys.readouterr().err
    assert main(["--headless", "--no-gradcheck", "--explain", "gradcheck.W1[0,0]"]) == 2
    assert "no tensor 'gradcheck.W1'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_user_model_explains_its_numerical_gradient_and_refuses_its_forward(capsys) -> None:
    assert main(["--headless", "--format", "json", "--model", str(THREE_LAYER), "--explain",
                 "gradcheck.Wi[0,0]", "--explain", "forward.zi[0]", "--explain", "update.Wi[0,0]"]) == 0
    trace = json.loads(capsys.readouterr().out)
    numerical, forward, update = trace["explanations"]
    assert numerical["value"] == trace["steps"][0]["gradcheck"]["Wi"]["numerical"][0][0]
    assert "L(Wi[0,0] + ε)" in numerical["formula"] and numerical["verdict"] == "pass"
    assert forward["value"] == trace["steps"][0]["forward"]["zi"][0]
    assert any("cannot be derived" in note and "does not know the file's maths" in note
               for note in forward["notes"])
    assert update["value"] == trace["steps"][0]["update"]["Wi"][0][0]
    assert main(["--headless", "--model", str(THREE_LAYER), "--explain", "forward.z1[0]"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no tensor 'forward.z1'" in captured.err and "forward.zi (4,)" in captured.err


def test_a_user_models_numerical_gradient_adds_up_with_its_forward() -> None:
    """In-process, the built-in network posing as a user's file: only the stepper's own
    computations are explained, the nudged losses through the forward callable given."""
    stepper = Stepper(Config(gradcheck_method="loop"))
    stepper.run_steps(1)
    view = replace(stepper.view(), user_code=True)
    e = explain(view, "gradcheck.W1", (0, 0), forward=stepper.model.forward)
    assert e.operation == "central-difference" and redo(e) == e.value
    without = explain(view, "gradcheck.W1", (0, 0))
    assert without.verdict == "pass" and any("not recomputed" in note for note in without.notes)
    refused = explain(view, "forward.z1", (0,))
    assert refused.operation == "unknown" and "cannot be derived" in refused.notes[0]
    assert refused.value == stepper.state.forward.cache["z1"][0]  # type: ignore[union-attr]
    assert stepper.state.last_phase is Phase.UPDATE


def test_every_drill_breaks_one_line_and_the_explainer_reads_the_same_switch() -> None:
    switches = ("negates_delta", "unit_derivative", "zero_db", "z_in_last_dW", "forgets_transpose",
                "unpenalised_loss")
    for bug, drill in DRILLS.items():
        assert sum(getattr(drill, s) for s in switches) == 1, bug
        assert BUGS[bug] == drill.says
    assert not any(getattr(NO_DRILL, s) for s in switches)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "rmsprop", "adam"])
def test_every_element_of_an_optimizers_update_and_state_adds_up(optimizer: str) -> None:
    """The new parameters, each moment, Adam's m̂, v̂ and t, before and after, at every phase of
    three steps: each explained with its numbers and redone through the optimizer's own function."""
    config = replace(random_config("tanh", "bce", 11 + len(optimizer), gradcheck_method="loop"),
                     optimizer=optimizer, decay=0.7)
    stepper = Stepper(config)
    moment = {"rmsprop": "s", "adam": "m"}.get(optimizer, "v")
    start = explain(stepper.view(), f"{moment}_W1", (0, 0))
    assert start.value == 0.0 and start.operation == "constant" and "starts at zeros" in start.notes[0]
    for _ in range(3 * 4):
        stepper.next()
        explain_everything(stepper.view())
    state = stepper.state
    assert state.update is not None and final_shapes(config.architecture, True, optimizer) == shapes(state)
    e = explain(stepper.view(), "update.W1", (0, 0))
    assert e.operation == f"optimizer.{optimizer}"
    assert f"{state.update.lr:.4g}" in " ".join((e.substituted, *e.chain))  # the decayed rate
    if optimizer == "adam":
        hat = explain(stepper.view(), "update.mhat_W1", (0, 0))
        assert hat.operation == "bias-correction" and "0.9^3" in hat.substituted
        assert "t ← t + 1 = 2 + 1 = 3" in e.chain


@pytest.mark.parametrize(("optimizer", "bug"), [("adam", "adam-no-bias-correction"),
                                                ("nesterov", "momentum-no-carry")])
def test_an_update_drill_is_explained_as_the_broken_line_computed_it(optimizer: str, bug: str) -> None:
    config = replace(random_config("relu", "bce", 5, gradcheck_method="loop"), optimizer=optimizer,
                     inject_bug=bug)
    stepper = Stepper(config)
    stepper.run_steps(2)
    explain_everything(stepper.view())
    e = explain(stepper.view(), "update.W1", (0, 0))
    assert e.operation.endswith(f"@{bug}") and any(bug in note for note in e.notes)
    assert f"(fault drill {bug})" in " ".join(e.chain)
