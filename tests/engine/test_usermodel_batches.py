"""--model with data: a user's model on mini-batches.

A file without BATCHED = True gets one sample at a time (the notebook's signature) and the
batch's loss and gradients are its samples' means, computed in the model's process in one
request; a file with BATCHED = True gets the batch matrix whole. Either way the numbers
must be the built-in network's batch mathematics.

One model process per fixture file is shared by the tests of this module (starting one
costs about 0.2 s); the contract's error cases run in-process (engine.usermodel.contract.load_source).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.data import batches
from engine.data.batches import Data
from engine.data.sets import Dataset
from engine.maths import network
from engine.maths.network import Params
from engine.model.builtin import BatchMean, BuiltinModel
from engine.run.stepper import Phase, Stepper, init_params
from engine.settings.config import Config
from engine.usermodel.client import UserModel, load_model
from engine.usermodel.contract import Contract, ModelError, load_source
from tests.helpers import BATCHED, FIXTURES, edit

pytestmark = pytest.mark.slow  # starts a user's model process in most tests (-m 'not slow' leaves it out)

NOTEBOOK_PATH = FIXTURES / "notebook.py"
BATCHED_PATH = FIXTURES / "batched.py"
THREE_LAYER_PATH = FIXTURES / "three_layer.py"
MEAN_LOSS = "    return cache, float(np.mean(losses))   # the batch's loss: the mean of its samples'\n"
CLOSE = {"rtol": 0, "atol": 1e-12}  # the same maths, summed in another order
CHECK_CLOSE = {"rtol": 0, "atol": 1e-6}  # central differences of the same loss


def contract(text: str, name: str = "model.py") -> Contract:
    return load_source(Path(name), text.encode())


@pytest.fixture(scope="module")
def notebook() -> Iterator[UserModel]:
    model = load_model(NOTEBOOK_PATH)
    yield model
    model.close()


@pytest.fixture(scope="module")
def batched() -> Iterator[UserModel]:
    model = load_model(BATCHED_PATH)
    yield model
    model.close()


@pytest.fixture(scope="module")
def three_layer() -> Iterator[UserModel]:
    model = load_model(THREE_LAYER_PATH)
    yield model
    model.close()


def moons(batch: int = 8, samples: int = 200) -> tuple[Config, Data]:
    config = Config(dataset="moons", hidden=(4,), batch=batch, samples=samples)
    data = batches.from_config(config)
    assert data is not None
    return batches.fitted(config, data).resolved(), data


def three_inputs(batch: int) -> tuple[Config, Data]:
    """Moons with a third feature, x1 * x2: three_layer.py's init_params makes 3 inputs.
    60 samples: its loop check is 58 parameters, two forwards each, for every sample."""
    config, data = moons(batch, samples=60)
    X = data.dataset.X
    dataset = Dataset(np.column_stack([X, X[:, 0] * X[:, 1]]), data.dataset.y, "moons3",
                      data.dataset.train, data.dataset.test)
    return replace(config, inputs=3, x=()).resolved(), replace(data, dataset=dataset)


def first_batch(data: Data) -> tuple[np.ndarray, np.ndarray]:
    return data.inputs(data.rows(1))


# ---- the numbers: one sample at a time, averaged, is the built-in batch maths --------------------

@pytest.mark.parametrize("batch", [8, 0], ids=["batch 8", "full batch"])
def test_a_one_sample_model_on_a_batch_is_the_built_in_batch_maths(notebook, batch) -> None:
    config, data = moons(batch)
    X, y = first_batch(data)
    assert X.shape == ((8, 2) if batch else (len(data.dataset.train), 2))
    arch, params = config.architecture, init_params(config.architecture, config.seed, config.init)
    builtin = BuiltinModel(arch)

    cache, loss = notebook.forward(X, params, y)
    want_cache, want_loss = network.forward(arch, X, params, y)
    np.testing.assert_allclose(loss, want_loss, **CLOSE)
    for name in ("z1", "a1", "z2", "a2"):  # the samples' caches, one row a sample
        np.testing.assert_allclose(cache[name], want_cache[name], **CLOSE)

    grads = notebook.backward(X, y, params, cache)
    want = network.backward(arch, X, y, params, want_cache)
    assert set(grads) == {"dW1", "db1", "dW2", "db2"}
    for name in grads:
        np.testing.assert_allclose(grads[name], want[name], **CLOSE)

    numerical = notebook.numerical_gradients(params, X, y, config.eps, None)
    reference = builtin.numerical_gradients(params, X, y, config.eps, None, "fast")
    for name in params:
        np.testing.assert_allclose(numerical[name][0], reference[name][0], **CHECK_CLOSE)
        np.testing.assert_allclose(numerical[name][0], want["d" + name], **CHECK_CLOSE)


def test_the_process_averages_exactly_as_batch_mean_does_in_the_stepper(notebook) -> None:
    """One request a batch (the model's process loops) or one a sample (BatchMean loops here):
    the same samples, the same sums, bit for bit."""
    config, data = moons()
    X, y = first_batch(data)
    params = init_params(config.architecture, config.seed, config.init)
    one_at_a_time = BatchMean(notebook)
    cache, loss = notebook.forward(X, params, y)
    their_cache, their_loss = one_at_a_time.forward(X, params, y)
    assert loss == their_loss
    grads = notebook.backward(X, y, params, cache)
    for name, value in one_at_a_time.backward(X, y, params, their_cache).items():
        assert np.array_equal(grads[name], value)
    numerical = notebook.numerical_gradients(params, X, y, config.eps, None)
    for name, (num, kinks, sides) in one_at_a_time.numerical_gradients(
            params, X, y, config.eps, None, "loop").items():
        assert np.array_equal(numerical[name][0], num) and np.array_equal(numerical[name][1], kinks)
        assert np.array_equal(numerical[name][2], sides, equal_nan=True)


def test_the_check_of_a_batch_reports_progress_over_all_its_samples(notebook) -> None:
    config, data = moons()
    X, y = first_batch(data)
    params = init_params(config.architecture, config.seed, config.init)
    seen: list[tuple[int, int]] = []
    notebook.numerical_gradients(params, X, y, config.eps, lambda done, total: seen.append((done, total)))
    elements = sum(value.size for value in params.values())
    assert seen[-1] == (8 * elements, 8 * elements)


# ---- BATCHED = True: the batch matrix whole ---------------------------------------------------------

def test_a_batched_file_gives_the_one_sample_files_numbers(notebook, batched) -> None:
    assert batched.file_batched and not notebook.file_batched
    config, data = moons()
    X, y = first_batch(data)
    params = init_params(config.architecture, config.seed, config.init)
    cache, loss = batched.forward(X, params, y)
    their_cache, their_loss = notebook.forward(X, params, y)
    np.testing.assert_allclose(loss, their_loss, **CLOSE)
    assert cache["z1"].shape == (8, 4) and cache["a2"].shape == (8, 1)
    np.testing.assert_allclose(cache["z1"], their_cache["z1"], **CLOSE)
    grads, theirs = batched.backward(X, y, params, cache), notebook.backward(X, y, params, their_cache)
    for name in theirs:
        np.testing.assert_allclose(grads[name], theirs[name], **CLOSE)
    numerical = batched.numerical_gradients(params, X, y, config.eps, None)
    their_numerical = notebook.numerical_gradients(params, X, y, config.eps, None)
    for name in params:
        np.testing.assert_allclose(numerical[name][0], their_numerical[name][0], **CHECK_CLOSE)
    after = batched.update(params, grads, config.lr)
    for name in params:
        np.testing.assert_allclose(after[name], params[name] - config.lr * theirs["d" + name], **CLOSE)


RECORDS_ITS_ARGUMENTS = """
import numpy as np
BATCHED = {flag}

def forward(x, params, y=None):
    cache = {{'x_shape': np.array(x.shape), 'y_type': type(y).__name__, 'y_shape': np.array(np.shape(y))}}
    return cache, 0.5

def backward(x, y, params, cache):
    assert x.shape == tuple(cache['x_shape']) and np.shape(y) == tuple(cache['y_shape'])
    return {{'d' + name: np.zeros_like(value) for name, value in params.items()}}
"""


@pytest.mark.parametrize("flag", [True, False])
def test_what_the_functions_get_for_one_sample_and_for_a_batch(flag) -> None:
    """BATCHED: the batch matrix and a label array, and the one sample as a batch of one.
    Without it: one sample as the notebook takes it, x (n0,) and y an int."""
    model = contract(RECORDS_ITS_ARGUMENTS.format(flag=flag))
    assert model.batched is flag
    params = {"W": np.ones((4, 2))}
    X, y = np.ones((5, 2)), np.array([0, 1, 1, 0, 1])
    cache, _ = model.forward(X[0], params, 1)
    one = (cache["x_shape"].tolist(), cache["y_type"], cache["y_shape"].tolist())
    assert one == (([1, 2], "ndarray", [1]) if flag else ([2], "int", []))
    model.backward(X[0], 1, params, cache)
    if flag:
        cache, _ = model.forward(X, params, y)
        assert (cache["x_shape"].tolist(), cache["y_type"], cache["y_shape"].tolist()) == \
            ([5, 2], "ndarray", [5])


def test_a_batched_file_steps_the_single_sample_as_the_built_in_does(batched) -> None:
    """Without data the notebook's x (3,) reaches a BATCHED file as a batch of one: the same
    three steps as the built-in network."""
    theirs, ours = Stepper(Config(), model=batched), Stepper(Config())
    for a, b in zip(theirs.iter_steps(3), ours.iter_steps(3), strict=True):
        assert a.forward is not None and b.forward is not None
        np.testing.assert_allclose(a.forward.loss, b.forward.loss, **CLOSE)
        assert a.gradcheck is not None and a.gradcheck.passed
        for name in b.params:
            np.testing.assert_allclose(a.params[name], b.params[name], **CLOSE)


def test_a_per_sample_loss_vector_is_refused_by_name() -> None:
    model = contract(edit(BATCHED, MEAN_LOSS, "    return cache, losses\n"))
    config, data = moons()
    X, y = first_batch(data)
    params = init_params(config.architecture, config.seed, config.init)
    with pytest.raises(ModelError) as error:
        model.forward(X, params, y)
    assert error.value.message == ("model.py: forward returned a loss of shape (8,) for a batch of 8; "
                                   "with BATCHED = True the loss is the batch's mean, a number "
                                   "(np.mean of the samples' losses)")


def test_per_sample_gradients_are_refused_by_name() -> None:
    model = contract(edit(BATCHED, "    dW1 = dz1.T @ X / B ", "    dW1 = dz1[:, :, None] * X[:, None, :]"))
    config, data = moons()
    X, y = first_batch(data)
    params = init_params(config.architecture, config.seed, config.init)
    cache, _ = model.forward(X, params, y)
    with pytest.raises(ModelError, match=r"backward returned dW1 of shape \(8, 4, 2\); expected \(4, 2\), "
                       r"the shape of W1 \(a batch's gradient is the mean over its rows"):
        model.backward(X, y, params, cache)


@pytest.mark.parametrize(("value", "shown"), [('"yes"', "'yes'"), ("1", "1"), ("None", "None"),
                                              ("np.True_", "a bool")])
def test_batched_must_be_true_or_false(value, shown) -> None:
    text = edit(BATCHED, "BATCHED = True\n", f"BATCHED = {value}\n")
    with pytest.raises(ModelError) as error:
        contract(text)
    assert error.value.message.startswith(f"model.py: BATCHED must be True or False, got {shown}; ")


def test_a_batched_flag_that_is_not_a_bool_fails_the_load(tmp_path) -> None:
    path = tmp_path / "model.py"
    path.write_text(edit(BATCHED, "BATCHED = True\n", 'BATCHED = "yes"\n'))
    with pytest.raises(ModelError, match="BATCHED must be True or False, got 'yes'"):
        load_model(path)


def test_a_sample_that_breaks_the_contract_is_named(tmp_path) -> None:
    path = tmp_path / "model.py"
    text = NOTEBOOK_PATH.read_text().replace("\nrun_demo()", "\n")
    path.write_text(edit(text, "    return cache, loss\n",
                         "    return cache, (loss if x[0] < 2.0 else float('nan'))\n"))
    model = load_model(path)
    config, _ = moons()
    params = init_params(config.architecture, config.seed, config.init)
    X = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    with pytest.raises(ModelError, match=r"non-finite loss \(nan\) although x and params are finite "
                                         r"\(sample 3 of 3\)"):
        model.forward(X, params, np.array([0, 1, 0]))


# ---- the stepper with data and a user's model ------------------------------------------------------

def builtin_steps(config: Config, data: Data, steps: int) -> list[tuple[float, Params]]:
    stepper = Stepper(config, data=data)
    return [(state.forward.loss, state.params) for state in stepper.iter_steps(steps)
            if state.forward is not None]


@pytest.mark.parametrize("fixture", ["notebook", "batched"])
@pytest.mark.parametrize("batch", [8, 0], ids=["batch 8", "full batch"])
def test_the_stepper_trains_a_user_model_as_the_built_in_network(request, fixture, batch) -> None:
    model = request.getfixturevalue(fixture)
    config, data = moons(batch)
    stepper = Stepper(config, model=model, data=data)
    assert stepper.model is model  # no BatchMean here: report and app read the file's own facts
    want = builtin_steps(config, data, 3)
    for state, (loss, params) in zip(stepper.iter_steps(3), want, strict=True):
        assert state.forward is not None and state.gradcheck is not None and state.update is not None
        assert state.gradcheck.method == "loop" and state.gradcheck.passed
        np.testing.assert_allclose(state.forward.loss, loss, **CLOSE)
        for name in params:  # the file's own sgd_update, with the mean gradients
            np.testing.assert_allclose(state.params[name], params[name], **CLOSE)
        if stepper.measures(state.step) or state.step == 3:  # on the schedule, and at the run's end
            assert state.forward.metrics is not None and np.isfinite(state.forward.metrics.train_loss)
        else:
            assert state.forward.metrics is None and state.forward.running is not None


@pytest.mark.parametrize("batch", [8, 0], ids=["batch 8", "full batch"])
def test_three_layer_trains_on_three_input_moons(three_layer, batch) -> None:
    config, data = three_inputs(batch)
    stepper = Stepper(config, model=three_layer, data=data)
    assert three_layer.own_init
    losses = []
    for state in stepper.iter_steps(3):
        assert state.forward is not None and state.gradcheck is not None and state.update is not None
        assert state.gradcheck.passed, state.gradcheck
        assert state.backward is not None
        for name, before in state.update.before.items():  # its sgd_update: the mean gradient
            np.testing.assert_allclose(state.params[name], before - config.lr * state.backward["d" + name],
                                       **CLOSE)
        losses.append(state.forward.loss)
    assert three_layer.gradient_keys == "name"  # its own convention, kept across the samples
    # The batch's loss is the mean of the file's own one-sample losses.
    X, y = data.inputs(data.rows(3))
    assert stepper.state.update is not None
    params = stepper.state.update.before
    mean = np.mean([three_layer.forward(X[b], params, int(y[b]))[1] for b in range(len(X))])
    np.testing.assert_allclose(losses[-1], mean, **CLOSE)


@pytest.mark.parametrize("fixture", ["notebook", "batched"])
def test_back_to_the_start_gives_the_initial_parameters_bit_for_bit(request, fixture) -> None:
    model = request.getfixturevalue(fixture)
    config, data = moons(8)
    stepper = Stepper(config, model=model, data=data)
    initial = {name: value.copy() for name, value in stepper.state.params.items()}
    trail = []
    for _ in range(3 * 4):  # forward, backward, check, update
        stepper.next()
        trail.append(stepper.state)
    assert stepper.state.last_phase is Phase.UPDATE and stepper.state.step == 3
    moved = stepper.state.params
    assert any(not np.array_equal(moved[name], initial[name]) for name in initial)
    for state in reversed(trail):
        assert stepper.state is state
        assert stepper.back()
    assert not stepper.back()
    for name, value in initial.items():
        assert np.array_equal(stepper.state.params[name], value)
        assert stepper.state.params[name].dtype == value.dtype
    stepper.next()  # the same batch and the same loss again
    assert stepper.state.forward is not None and trail[0].forward is not None
    assert stepper.state.forward.loss == trail[0].forward.loss
    assert np.array_equal(stepper.state.forward.rows, trail[0].forward.rows)


def test_the_timeout_counts_from_the_last_sample_not_the_whole_batch(tmp_path) -> None:
    """Six samples of 0.25 s each in one request (1.5 s), under a 1 s timeout: the process
    reports between samples, so only a single sample's call could run out of time. The
    margins are wide (0.75 s a sample) so that a busy machine's scheduling cannot fail it."""
    path = tmp_path / "model.py"
    text = NOTEBOOK_PATH.read_text().replace("\nrun_demo()", "\n")
    slow = edit(text, "    # Hidden pre-activation (4,)\n", "    time.sleep(0.25)\n")
    path.write_text("import time\n" + slow)
    model = load_model(path, timeout=1.0)
    config, data = moons()
    params = init_params(config.architecture, config.seed, config.init)
    X, y = first_batch(data)
    _, loss = model.forward(X[:6], params, y[:6])
    assert np.isfinite(loss)
