"""--init: the notebook's draws, scaled by He or Xavier; the notebook's own by default."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.maths.network import Architecture, init_params
from engine.run.stepper import Stepper
from engine.settings.config import Config
from tui.cli.main import main


@pytest.mark.parametrize(("init", "w1_scale", "w2_scale"), [
    ("notebook", 1.0, 1.0),
    ("he", np.sqrt(2 / 784), np.sqrt(2 / 128)),
    ("xavier", np.sqrt(2 / (784 + 128)), np.sqrt(2 / (128 + 1))),
])
def test_each_init_scales_the_notebook_draws(init: str, w1_scale: float, w2_scale: float) -> None:
    rs = np.random.RandomState(7)  # the same draws, in the same order, for every init
    w1, w2 = rs.randn(128, 784), rs.randn(1, 128)
    params = init_params(Architecture(784, (128,)), 7, init)
    np.testing.assert_array_equal(params["W1"], w1 * w1_scale)
    np.testing.assert_array_equal(params["W2"], w2 * w2_scale)
    assert not params["b1"].any() and not params["b2"].any()


def test_he_makes_a_wide_network_instructive() -> None:
    """The notebook's unscaled draws saturate the sigmoid at 784-128-1 (a loss of 7e-69 and
    vanishing gradients); He keeps the logit near 1."""
    notebook = Stepper(Config(inputs=784, hidden=128)).run_steps(1)
    he = Stepper(Config(inputs=784, hidden=128, init="he")).run_steps(1)
    assert notebook.forward is not None and he.forward is not None
    assert notebook.forward.loss < 1e-60 < 1e-3 < he.forward.loss


def test_init_on_the_command_line_in_toml_and_in_the_trace(tmp_path, capsys) -> None:
    path = tmp_path / "he.toml"
    path.write_text('init = "xavier"\n')
    assert main(["--headless", "--format", "json", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["init"] == "xavier"
    assert main(["--headless", "--init", "glorot"]) == 2
    err = capsys.readouterr().err
    assert "--init: must be one of notebook, he, xavier, got 'glorot'" in err


def test_a_saturated_wide_network_is_told_to_scale_its_init() -> None:
    """784-256-128-10 from the notebook's draws starts at a loss of 4742: the check cannot
    resolve small gradients, and says which flag would; scaled draws need no such note."""
    from engine.run.stepper import SATURATED

    notes = {}
    for init in ("notebook", "he"):
        stepper = Stepper(Config(inputs=784, hidden=(256, 128), classes=10, init=init))
        for _ in range(3):
            stepper.next()
        assert stepper.state.gradcheck is not None
        notes[init] = stepper.state.gradcheck.notes
    assert SATURATED in notes["notebook"] and "--init he" in SATURATED
    assert SATURATED not in notes["he"]
