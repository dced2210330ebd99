"""The Model protocol's facts: every model states its convention, its regularisation, its
source, whether it made its own parameters, its loss alone (fit_loss) and how it is resized,
so that the stepper, the session, the report and the app ask the model, never its class.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.maths import network
from engine.maths.network import NOTEBOOK, Architecture
from engine.model.builtin import BatchMean, BuiltinModel, make_model
from engine.usermodel.client import load_model
from tests.helpers import FIXTURES

WIDER = Architecture(3, (5,))


def batch(arch: Architecture = NOTEBOOK, rows: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.normal(size=(rows, arch.inputs)), rng.integers(0, 2, size=rows)


def test_the_built_in_model_states_that_it_is_the_engine_s_own_notebook_network() -> None:
    model = make_model(NOTEBOOK, "sign")
    assert (model.convention, model.described, model.reg, model.source, model.own_init) == \
        ("notebook", "", 0.0, None, False)


def test_the_built_in_fit_loss_is_its_forward_loss() -> None:
    model = make_model()
    params = network.init_params(NOTEBOOK, 7)
    X, y = batch()
    assert model.fit_loss(X, params, y) == model.forward(X, params, y)[1]


def test_resizing_the_built_in_model_rebuilds_it_with_its_drill_and_its_class() -> None:
    class Mine(BuiltinModel):
        pass

    model = Mine(NOTEBOOK, "sign", user_code=True)
    resized = model.resize(WIDER)
    assert isinstance(resized, Mine) and resized == replace(model, arch=WIDER)
    assert resized.bug == "sign" and resized.user_code and model.arch == NOTEBOOK  # a new model


def test_batch_mean_states_its_inner_model_s_facts_and_fits_by_the_samples_mean() -> None:
    inner = BuiltinModel(NOTEBOOK, "sign", batched=False)
    model = BatchMean(inner)
    assert (model.convention, model.described, model.reg, model.source, model.own_init) == \
        (inner.convention, inner.described, inner.reg, inner.source, inner.own_init)
    params = network.init_params(NOTEBOOK, 7)
    X, y = batch()
    mean = float(np.mean([inner.forward(X[b], params, int(y[b]))[1] for b in range(len(X))]))
    assert model.fit_loss(X, params, y) == mean


def test_batch_mean_resizes_its_inner_model() -> None:
    resized = BatchMean(BuiltinModel(NOTEBOOK, batched=False)).resize(WIDER)
    assert isinstance(resized, BatchMean) and isinstance(resized.inner, BuiltinModel)
    assert resized.inner.arch == WIDER and resized.batched


@pytest.mark.slow  # starts a user's model process
def test_a_user_s_model_states_its_facts_and_resizes_by_being_imported_again() -> None:
    path = FIXTURES / "cs231n_two_layer.py"
    arch = Architecture(2, (4,), classes=2, loss=network.SOFTMAX_LOSS)
    model = load_model(path, sizes=arch.sizes, reg=0.1)
    try:
        assert model.convention == "cs231n" and model.described.startswith("TwoLayerNet(")
        assert model.reg == 0.1 and model.source == path.read_bytes() and not model.own_init
        params = model.init_params(0)
        assert params is not None and model.own_init and params["W1"].shape == (2, 4)
        X, y = batch(arch)
        assert model.fit_loss(X, params, y) == model.forward(X, params, y)[1]
        imports = model._imports
        assert model.resize(arch) is model and model._imports == imports  # the same sizes: kept
        wider = Architecture(2, (6,), classes=2, loss=network.SOFTMAX_LOSS)
        assert model.resize(wider) is model and model.sizes == wider.sizes
        params = model.init_params(0)
        assert params is not None and params["W1"].shape == (2, 6) and model._imports == imports + 1
    finally:
        model.close()
