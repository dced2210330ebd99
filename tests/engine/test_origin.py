"""The origin of a NaN or inf (engine.explain.origin): on overflows constructed in each
phase, the first element to become non-finite in the order the phase computes it, and the
product, sum or difference that overflowed, with the numbers read back from the state."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from engine.explain.elements import explain, redo
from engine.explain.origin import backward_order, first_nonfinite, origin, origin_of
from engine.explain.written import num, paren
from engine.maths.network import NOTEBOOK, init_params
from engine.run.sample import sample_view
from engine.run.stepper import Phase, State, Stepper
from engine.settings.config import Config
from engine.usermodel.contract import Contract
from engine.usermodel.inprocess import InProcess
from tests.helpers import FIXTURES, edit
from tui.cli.fit import with_data
from tui.cli.options import parse

NAN_GRADIENT = FIXTURES / "nan_gradient.py"


def started(config: Config, **params: np.ndarray) -> Stepper:
    """A stepper from the initialisation with some parameters replaced."""
    stepper = Stepper(config)
    own = {name: np.array(value) for name, value in stepper.initial.params.items()} | params
    stepper.start_from(own)
    return stepper


def huge_weights() -> dict[str, np.ndarray]:
    """The notebook's network with W1[0,0] = 3.1e200 and W2[0,0] = 4.2e150: z1[0] and a1[0]
    are about 6e199 (x[0] = 0.2), finite; z2[0] = W2[0,0]·a1[0] + ... overflows."""
    params = init_params(NOTEBOOK, 42)
    params["W1"][0, 0], params["W2"][0, 0] = 3.1e200, 4.2e150
    return params


def nonfinite_before(stepper: Stepper, qualified: str) -> list[str]:
    """The tensors computed before `qualified` in its phase that hold inf or NaN."""
    from engine.explain.origin import searched

    out = []
    for _, name, value in searched(stepper.view()):
        if name == qualified:
            return out
        if first_nonfinite(value) is not None:
            out.append(name)
    raise AssertionError(f"{qualified} not searched")


# ---- forward ----------------------------------------------------------------------------

def test_a_huge_weight_names_the_product_that_overflowed_in_the_forward_pass() -> None:
    stepper = started(Config(), **huge_weights())
    stepper.next()
    found = origin(stepper.view())
    assert found is not None
    assert (found.phase, found.tensor, found.index, found.value) == ("forward", "z2", (0,), math.inf)
    cache, params = stepper.state.forward.cache, stepper.state.params  # type: ignore[union-attr]
    w, a = float(params["W2"][0, 0]), float(cache["a1"][0])
    assert math.isfinite(a) and math.isinf(w * a)  # the factors are finite, their product is not
    assert found.cause == "W2[0,0]·a1[0] overflowed"
    assert found.why == f"W2[0,0]·a1[0] = {num(w)} · {num(a)} overflowed" == \
        "W2[0,0]·a1[0] = 4.2e+150 · 6.2e+199 overflowed"
    assert nonfinite_before(stepper, "forward.z2") == []
    assert found.line() == "first non-finite: z2[0] = inf (W2[0,0]·a1[0] overflowed)"
    assert found.explanation is not None and found.explanation.substituted.endswith("= inf")


def test_after_a_whole_step_the_origin_is_still_the_first_phase_that_overflowed() -> None:
    """The state after the update holds z2, a non-finite loss after it and more: the
    forward pass ran first, so z2[0] is named, not what the update made of it."""
    stepper = started(Config(), **huge_weights())
    state = stepper.run_steps(1)
    assert "z2" in state.nonfinite() and len(state.nonfinite()) > 1
    found = origin_of(stepper, state)
    assert found is not None and (found.phase, found.element) == ("forward", "z2[0]")


def test_the_first_element_in_row_major_order_and_the_softmax_loss() -> None:
    """Three classes, b2 = (-1.5e308, 1e308, 0): z2 is finite, and so is the softmax, but the
    loss's max z − z[y] = 1e308 + 1.5e308 overflows; then with two overflowing logits
    (W2[k,1]·a1[1] ≈ 3.7e307 on top of b2[k] = 1.5e308) the first in order is named."""
    config = Config(classes=3, y=0)
    stepper = started(config, W2=np.zeros((3, 4)), b2=np.array([-1.5e308, 1e308, 0.0]))
    stepper.next()
    found = origin(stepper.view())
    assert found is not None and (found.tensor, found.index) == ("loss", ())
    assert found.cause == "z2[1] − z2[0] overflowed"
    assert found.why.endswith("z2[1] − z2[0] = 1e+308 − (-1.5e+308) overflowed")
    W2 = np.zeros((3, 4))
    W2[1:, 1] = 1e308
    stepper = started(config, W2=W2, b2=np.array([0.0, 1.5e308, 1.5e308]))
    stepper.next()
    z2 = stepper.state.forward.cache["z2"]  # type: ignore[union-attr]
    assert np.isfinite(z2).tolist() == [True, False, False]
    found = origin(stepper.view())
    assert found is not None and (found.tensor, found.index) == ("z2", (1,))
    assert found.cause == "the sum overflowed"
    assert found.why == "the sum of its 5 finite terms overflowed (the largest, b2[1] = 1.5e+308)"


def test_a_sum_of_finite_terms_that_overflows_past_the_shown_terms() -> None:
    """12 inputs of 1 and a row of 1e308: every product is finite, the sum is not. Its
    explanation writes the 8 largest terms and the rest's sum, which overflows too (the
    explanation used to raise there: fsum refuses an overflowing sum)."""
    config = Config(inputs=12, x=(1.0,) * 12)
    W1 = np.array(init_params(config.architecture, 42)["W1"])
    W1[0] = 1e308
    stepper = started(config, W1=W1)
    stepper.next()
    found = origin(stepper.view())
    assert found is not None and found.element == "z1[0]"
    assert found.cause == "the sum overflowed"
    assert found.why == "the sum of its 13 finite terms overflowed (the largest, W1[0,0]·x[0] = 1e+308)"
    assert found.explanation is not None and "+ 5 more terms (inf)" in found.explanation.substituted
    assert math.isinf(redo(found.explanation))


def test_a_batch_names_the_sample_and_explains_it_in_that_sample() -> None:
    """ReLU units on moons, every weight 1e200: a sample whose hidden units are all dead
    keeps a finite z2, so the first non-finite row is not always the first."""
    options, data = with_data(parse(["--headless", "--dataset", "moons", "--hidden", "4", "--batch", "8"]))
    stepper = Stepper(options.config, data=data)
    params = {name: np.array(value) for name, value in stepper.initial.params.items()}
    params["W2"][:] = 1e200
    params["W1"][:] = 1e200
    stepper.start_from(params)
    stepper.next()
    z2 = np.asarray(stepper.state.forward.cache["z2"])  # type: ignore[union-attr]
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(z2))[0])
    found = origin(stepper.view())
    assert found is not None and (found.tensor, found.index, found.sample) == ("z2", first, first[0])
    own = explain(sample_view(stepper.view(), first[0]), "forward.z2", first[1:])
    assert found.explanation == own  # derived in the sample's own view
    a = float(stepper.state.forward.cache["a1"][first[0], 0])  # type: ignore[union-attr]
    assert found.why == f"W2[0,0]·a1[0] = 1e+200 · {num(a)} overflowed"  # the factors of that sample
    assert found.sentences()[1].startswith(f"  sample {first[0] + 1} of the batch: z2[{first[1]}] = ")


# ---- backward ---------------------------------------------------------------------------

def deep() -> Stepper:
    """1 → 1 → 1 → 1 with W1 = 1e-300, W2 = 1e150, W3 = 1e200, x = 1, y = 0: the forward
    pass is finite (a1 = 1e-300, a2 = 1e-150, z3 = 1e50); backward, dz3 = a3 − y = 1,
    da2 = W3·dz3 = 1e200, dz2 = 1e200, and da1 = W2·dz2 = 1e150 · 1e200 overflows."""
    return started(Config(inputs=1, hidden=(1, 1), x=(1.0,), y=0),
                   W1=np.array([[1e-300]]), W2=np.array([[1e150]]), W3=np.array([[1e200]]))


def test_an_exploding_gradient_names_the_backward_product_in_chain_rule_order() -> None:
    stepper = deep()
    stepper.next()
    assert stepper.state.nonfinite() == []  # the forward pass is finite
    stepper.next()
    grads = stepper.state.backward
    assert grads is not None
    assert set(stepper.state.nonfinite()) == {"da1", "dz1", "dW1", "db1"}
    found = origin(stepper.view())
    assert found is not None and (found.phase, found.element) == ("backward", "da1[0]")
    assert found.why == "W2[0,0]·dz2[0] = 1e+150 · 1e+200 overflowed"
    assert float(grads["dz2"][0]) == 1e200 and math.isinf(1e150 * float(grads["dz2"][0]))
    # dW1 and db1 come first in the gradients' dict, but the chain rule computes them last.
    assert list(grads).index("dW1") < list(grads).index("da1")
    assert backward_order(stepper.view()) == ["dz3", "dW3", "db3", "da2", "dz2", "dW2", "db2", "da1",
                                              "dz1", "dW1", "db1"]


# ---- update -----------------------------------------------------------------------------

def test_a_huge_learning_rate_names_lr_times_the_gradient() -> None:
    """x = (10, −10, 10): gradients past 2 in size, and lr = 1e308 makes lr·dW1[0,0] overflow."""
    stepper = Stepper(Config(x=(10.0, -10.0, 10.0), lr=1e308))
    state = stepper.run_steps(1)
    assert state.backward is not None and state.update is not None
    assert all(np.isfinite(v).all() for v in state.backward.values())
    found = origin(stepper.view())
    assert found is not None and (found.phase, found.element) == ("update", "W1[0,0]")
    grad = float(state.backward["dW1"][0, 0])
    assert abs(grad) > 2 and math.isinf(1e308 * grad)
    assert found.cause == "lr·dW1[0,0] overflowed"
    assert found.why == f"lr · dW1[0,0] = 1e+308 · {paren(grad)} overflowed" == \
        "lr · dW1[0,0] = 1e+308 · (-2.42) overflowed"
    before = float(state.update.before["W1"][0, 0])
    assert found.explanation is not None and found.explanation.substituted == \
        f"W1[0,0] ← W1[0,0] − lr·dW1[0,0] = {num(before)} − 1e+308 · (-2.42) = inf"


def test_finite_new_parameters_whose_loss_after_overflows() -> None:
    """lr = 1e300: every new parameter is finite (about 1e299), but the forward pass that
    gives the loss after the update overflows; it is run again and searched."""
    stepper = Stepper(Config(lr=1e300))
    state = stepper.run_steps(1)
    assert state.nonfinite() == ["z2 after the update"] and state.update is not None
    found = origin(stepper.view())
    assert found is not None and found.after_update and found.phase == "update"
    assert found.line() == "first non-finite: z2[0] after the update = inf (W2[0,0]·a1[0] overflowed)"
    w = float(state.update.after["W2"][0, 0])  # the new weight, not the one before
    assert found.why.startswith(f"W2[0,0]·a1[0] = {num(w)} · ")
    assert not found.lit_in(stepper.view())  # the pass it read is not on screen


def test_a_step_that_starts_from_a_non_finite_parameter_says_which_update_made_it() -> None:
    stepper = Stepper(Config(x=(10.0, -10.0, 10.0), lr=1e308))
    stepper.run_steps(1)
    state = stepper.run_steps(1)
    assert state.step == 2 and not np.isfinite(state.update.before["W1"]).all()  # type: ignore[union-attr]
    found = origin(stepper.view())
    assert found is not None and (found.phase, found.element) == ("params", "W1[0,0]")
    assert found.cause == "set by step 1's update" and found.explanation is None


def test_a_finite_state_has_no_origin() -> None:
    stepper = Stepper(Config())
    for _ in range(4):
        stepper.next()
        assert origin(stepper.view()) is None


def test_first_nonfinite_reads_numbers_and_nothing_else() -> None:
    assert first_nonfinite(np.array([[1.0, 2.0], [np.nan, np.inf]])) == (1, 0)
    assert first_nonfinite(math.inf) == () and first_nonfinite(1.0) is None
    assert first_nonfinite(np.array([1 + 0j, complex(0, math.inf)])) == (1,)
    assert first_nonfinite("inf") is None and first_nonfinite(np.array([1, 2])) is None


# ---- a user's model ---------------------------------------------------------------------

def module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def user_stepper(path: Path) -> Stepper:
    """The file's functions in this process (no model process), as tui.verify runs them."""
    code = module(path)
    contract = Contract(path, code.forward, code.backward, getattr(code, "sgd_update", None),
                        code.init_params, False)
    return Stepper(Config(), model=InProcess(contract))


def test_a_user_models_nan_gradient_is_traced_to_the_inf_it_cached() -> None:
    """nan_gradient.py's naive sigmoid caches e^-z2 = e^800 = inf and its backward's
    inf / inf makes every gradient NaN: the first non-finite value in the order the model
    returned its tensors is the cached e2[0], named as coming from the user's code."""
    stepper = user_stepper(NAN_GRADIENT)
    with np.errstate(all="ignore"):
        stepper.next()
        stepper.next()
    state: State = stepper.state
    assert state.last_phase is Phase.BACKWARD and state.backward is not None
    assert all(np.isnan(state.backward[name]).all() for name in ("dW1", "db1", "dW2", "db2"))
    found = origin(stepper.view())
    assert found is not None and found.user_code
    assert (found.phase, found.element, found.value) == ("forward", "e2[0]", math.inf)
    assert found.cause == "from nan_gradient.py's forward" and found.explanation is None
    assert list(state.forward.cache).index("e2") < list(state.forward.cache).index("a2")  # type: ignore[union-attr]


def test_a_user_models_nan_gradient_from_non_finite_parameters_names_the_first_returned() -> None:
    """The user's gradients are searched in the order the stepper holds them; with the cache
    finite and a parameter already NaN, the parameter is named, not the gradients."""
    stepper = user_stepper(NAN_GRADIENT)
    params = {name: np.array(value) for name, value in stepper.initial.params.items()}
    params["b2"][0] = 0.0
    params["W1"][2, 1] = math.nan
    stepper.start_from(params)
    with np.errstate(all="ignore"):
        stepper.next()
    found = origin(stepper.view())
    assert found is not None and (found.phase, found.element) == ("params", "W1[2,1]")


def test_a_user_update_that_divides_by_zero_is_said_to_be_the_files_own(tmp_path: Path) -> None:
    """An RMSProp whose cache was never accumulated: g / sqrt(0) = ±inf. θ − lr·dθ would be
    finite from the same numbers, so the origin says the file's update computed it."""
    text = NAN_GRADIENT.read_text()
    text = edit(text, "'b2': np.full(1, -800.0)", "'b2': np.zeros(1)")
    text += ("\n\ndef sgd_update(params, grads, lr):\n    cache = 0.0  # never accumulated\n"
             "    for name in params:\n        params[name] -= lr * grads['d' + name] / np.sqrt(cache)\n")
    path = tmp_path / "rmsprop.py"
    path.write_text(text)
    stepper = user_stepper(path)
    with np.errstate(all="ignore"):
        state = stepper.run_steps(1)
    assert state.backward is not None and all(np.isfinite(v).all() for v in state.backward.values())
    found = origin(stepper.view())
    assert found is not None and found.phase == "update" and found.user_code
    assert found.element == "W1[" + ",".join(map(str, first_nonfinite(state.update.after["W1"]) or ())) + "]"  # type: ignore[union-attr]
    assert found.cause == "from rmsprop.py's update"
    assert "θ − lr·dθ gives" in found.why


@pytest.mark.parametrize("phase", ["forward", "backward", "update"])
def test_origin_as_json_is_strict(phase: str) -> None:
    import json

    stepper = {"forward": lambda: started(Config(), **huge_weights()), "backward": deep,
               "update": lambda: Stepper(Config(x=(10.0, -10.0, 10.0), lr=1e308))}[phase]()
    while origin(stepper.view()) is None:
        stepper.next()
    found = origin(stepper.view())
    assert found is not None and found.phase == phase
    written = json.loads(json.dumps(found.as_dict(), allow_nan=False))
    assert written["value"] in ("inf", "-inf", "nan") and written["phase"] == phase
