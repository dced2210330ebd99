"""Learning from data in the stepper: batches from the seed, training runs that undo exactly
and stop cleanly, one-sample models averaged, and the sample the screens show."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from engine.data import batches
from engine.explain.elements import explain_text, num, redo
from engine.maths import network
from engine.model.builtin import BatchMean, BuiltinModel
from engine.model.protocol import Cancelled
from engine.run.sample import sample_view
from engine.run.stepper import Phase, Stepper, history_limit
from engine.settings.config import Config

MOONS = Config(dataset="moons", hidden=(8, 8), activation="tanh", samples=60, batch=16)


def stepper(config: Config = MOONS, **kwargs: Any) -> Stepper:
    data = batches.from_config(config)
    assert data is not None
    return Stepper(batches.fitted(config, data), data=data, **kwargs)


# ---- which rows a step trains on -------------------------------------------------------

def test_every_training_row_once_an_epoch_in_an_order_the_seed_fixes() -> None:
    data = batches.from_config(MOONS)
    assert data is not None and data.steps_per_epoch == 3  # 48 training rows, batches of 16
    train = set(data.dataset.train.tolist())
    for epoch in (1, 2):
        steps = range((epoch - 1) * 3 + 1, epoch * 3 + 1)
        rows = np.concatenate([data.rows(s) for s in steps])
        assert sorted(rows.tolist()) == sorted(train)  # each once, none of the test rows
    assert not np.array_equal(data.rows(1), data.rows(4))  # reshuffled each epoch
    again = batches.from_config(MOONS)
    assert again is not None and all(np.array_equal(data.rows(s), again.rows(s)) for s in range(1, 8))
    other = batches.from_config(replace(MOONS, seed=7))
    assert other is not None and not np.array_equal(data.rows(1), other.rows(1))


def test_a_full_batch_is_the_training_split_and_the_last_batch_of_an_epoch_is_what_is_left() -> None:
    full = batches.from_config(replace(MOONS, batch=0))
    assert full is not None and full.full_batch and np.array_equal(full.rows(5), full.dataset.train)
    odd = batches.from_config(replace(MOONS, batch=20))
    assert odd is not None and [len(odd.rows(s)) for s in (1, 2, 3, 4)] == [20, 20, 8, 20]


def test_data_does_not_move_the_initial_parameters() -> None:
    plain = Stepper(Config(inputs=2, hidden=(8, 8), activation="tanh"))
    trained = stepper()
    for name, value in plain.initial.params.items():
        assert np.array_equal(value, trained.initial.params[name])


# ---- the maths of a batch --------------------------------------------------------------

def test_a_step_is_the_mean_of_its_samples_single_sample_steps() -> None:
    s = stepper(replace(MOONS, classes=3, dataset="spiral", activation="relu"))
    s.finish_step()
    state = s.state
    assert state.forward is not None and state.backward is not None and state.update is not None
    X, y = s.inputs(state)
    arch, params = s.config.architecture, state.update.before
    passes = [network.forward(arch, X[b], params, int(y[b])) for b in range(len(X))]
    singles = [network.backward(arch, X[b], int(y[b]), params, passes[b][0]) for b in range(len(X))]
    losses = [loss for _, loss in passes]
    assert state.forward.loss == pytest.approx(np.mean(losses), rel=1e-13)
    for name in params:
        mean = np.mean([g["d" + name] for g in singles], axis=0)
        np.testing.assert_allclose(state.backward["d" + name], mean, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(state.update.after[name], params[name] - s.config.lr * mean,
                                   rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(state.backward["dz1"], np.stack([g["dz1"] for g in singles]), atol=1e-15)
    assert state.gradcheck is not None and not state.gradcheck.failed_names


def test_a_one_sample_model_given_a_batch_is_averaged_to_the_batch_maths() -> None:
    native = stepper()
    one_at_a_time = stepper(model=replace(BuiltinModel(native.config.architecture), batched=False))
    assert isinstance(one_at_a_time.model, BatchMean) and not isinstance(native.model, BatchMean)
    native.finish_step()
    one_at_a_time.finish_step()
    a, b = native.state, one_at_a_time.state
    assert a.backward is not None and b.backward is not None and a.gradcheck and b.gradcheck
    for name, value in a.backward.items():
        np.testing.assert_allclose(b.backward[name], value, rtol=1e-12, atol=1e-15)
    for name, check in a.gradcheck.tensors.items():
        np.testing.assert_allclose(b.gradcheck.tensors[name].numerical, check.numerical, atol=1e-9)
    for name, value in a.forward.cache.items() if a.forward else ():
        np.testing.assert_allclose(b.forward.cache[name], value, atol=1e-15)  # type: ignore[union-attr]


# ---- training runs -----------------------------------------------------------------------

def test_a_training_run_learns_and_b_walks_back_through_it_to_the_start() -> None:
    s = stepper(replace(MOONS, samples=200, batch=0))
    assert s.train(100) == 100
    state = s.state
    assert state.last_phase is Phase.UPDATE and state.step == 100
    assert state.gradcheck is None  # a run checks no gradients unless asked
    curves = state.trail.curves() if state.trail else None
    assert curves is not None and len(curves.train_loss) == 100
    assert curves.train_loss[-1] < 0.5 * curves.train_loss[0]
    assert state.forward is not None and state.forward.metrics is not None
    assert state.forward.metrics.train_accuracy is not None and state.forward.metrics.train_accuracy > 0.9
    phases = 0
    while s.back():
        phases += 1
    assert phases == 300  # forward, backward, update a step
    assert all(np.array_equal(v, s.initial.params[k]) for k, v in s.state.params.items())


def test_check_every_checks_those_steps_only() -> None:
    s = stepper()
    s.train(6, check_every=3)
    checked = []
    while s.back():
        if s.state.last_phase is Phase.GRADCHECK:
            checked.append(s.state.step)
    assert sorted(checked) == [3, 6]
    assert s.check_every is None  # stepping by hand afterwards checks as before


def test_escape_keeps_the_finished_steps_and_undoes_the_one_in_progress() -> None:
    """Step 4 checks gradients, so it runs phase by phase (the others fused, in one call):
    escape after its forward pass undoes that forward pass."""
    s = stepper()

    def progress(done: int, total: int) -> None:
        if done == 3 and s.state.last_phase is Phase.FORWARD:  # inside step 4, after its forward
            raise Cancelled

    with pytest.raises(Cancelled):
        s.train(10, check_every=4, progress=progress)
    assert s.state.last_phase is Phase.UPDATE and s.state.step == 3
    assert s.history_length == 9


def test_escape_between_fused_steps_keeps_the_finished_ones() -> None:
    s = stepper()

    def progress(done: int, total: int) -> None:
        if done == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        s.train(10, progress=progress)
    assert s.state.last_phase is Phase.UPDATE and s.state.step == 3 and s.history_length == 9


def test_undo_history_counts_the_batch_activations() -> None:
    small = history_limit(100)
    assert history_limit(100, activations=10_000_000) < small


# ---- the sample the screens show -------------------------------------------------------

def test_the_sample_view_slices_the_batch_and_keeps_the_mean_gradients() -> None:
    s = stepper()
    s.next()
    s.next()
    view = sample_view(s.view(), 5)
    assert view.sample is not None and view.sample.index == 5 and view.sample.size == 16
    rows = s.state.rows
    assert rows is not None and view.sample.row == rows[5]
    full, sliced = s.state, view.state
    assert full.forward is not None and sliced.forward is not None
    assert full.backward is not None and sliced.backward is not None
    for name, value in full.forward.cache.items():
        np.testing.assert_array_equal(sliced.forward.cache[name], value[5])
    np.testing.assert_array_equal(sliced.backward["dW1"], full.backward["dW1"])
    np.testing.assert_array_equal(sliced.backward["dz1"], full.backward["dz1"][5])
    assert sample_view(s.view(), 99).sample.index == 15  # type: ignore[union-attr]  # clamped
    assert sample_view(Stepper(Config()).view(), 3).sample is None  # one sample: nothing to slice


def test_an_input_of_a_batch_is_explained_as_its_data_row_not_as_x() -> None:
    """--x is refused with data; the explanation had said the value was "set by --x"."""
    s = stepper()
    s.next()
    view = sample_view(s.view(), 5)
    assert view.sample is not None and view.data is not None
    e = explain_text(view, "x[1]")
    row = view.sample.row
    assert e.formula == f"x[1], feature 1 of data row {row}"
    assert e.notes == (f"sample 6 of 16 in the batch: row {row} of the {view.data.dataset.name} data; "
                       "[ and ] show another",)
    assert e.value == float(view.data.dataset.X[row, 1])


def test_explanations_of_a_batch_write_the_mean_and_derive_the_shown_samples_term() -> None:
    s = stepper(replace(MOONS, activation="relu"))
    for _ in range(3):
        s.next()
    view = sample_view(s.view(), 2)
    for text in ("dW1[1,0]", "db2[3]", "dW3[0,5]", "loss"):
        e = explain_text(view, text)
        assert e.operation == "mean" and len(e.operands) == 16
        assert redo(e) == pytest.approx(e.value, rel=1e-12, abs=1e-15)
        assert e.chain[0].startswith("sample 3 (row")
    for text in ("dW1[1,0]", "dW2[3,4]"):  # the shown sample's own term, derived to its value
        e = explain_text(view, text)
        assert e.chain[0].endswith(f"= {num(e.operands[2].value)}")
    check = explain_text(view, "gradcheck.W2[1,1]")  # the nudged losses are the batch's
    assert redo(check) == pytest.approx(check.value, rel=1e-6)


def test_a_run_that_diverges_stops_at_the_first_phase_that_made_inf_or_nan() -> None:
    s = stepper(replace(MOONS, lr=1e300, activation="relu"))
    done = s.train(50)
    assert done < 50 and s.state.diverged() and s.state.nonfinite()
    s.back()
    assert not s.state.diverged()  # the phase before it was finite: nothing skipped past


def test_a_batchs_check_takes_the_cheaper_way_and_both_agree() -> None:
    """A small network's batch is checked by nudging the whole batch (the loop method over
    rows); its numbers are the mean of the samples' own vectorised checks, to rounding."""
    from engine.model.builtin import make_model, whole_batch_cheaper

    assert whole_batch_cheaper(105, 160) and not whole_batch_cheaper(21_834, 64)
    arch = network.Architecture(2, (8, 8), "relu")
    params = network.init_params(arch, 3, "he")
    rs = np.random.RandomState(0)
    X, y = rs.randn(40, 2), rs.randint(0, 2, 40)
    model = make_model(arch)
    whole = model.numerical_gradients(params, X, y, 1e-5, None, "fast")
    samples = [model.numerical_gradients(params, X[b], int(y[b]), 1e-5, None, "fast") for b in range(40)]
    for name, (numerical, kinks, _) in whole.items():
        np.testing.assert_allclose(numerical, np.mean([s[name][0] for s in samples], axis=0), atol=2e-10)
        assert np.array_equal(kinks, np.any([s[name][1] for s in samples], axis=0))
