"""A drawn x held as one array (engine.settings.floats.Floats) reads as the tuple of floats it
replaced: the same equality, hash, text, JSON and session values, and the stepper computes on
its array without a copy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.run.session import _config_dict
from engine.run.stepper import Stepper
from engine.settings.config import Config, default_x
from engine.settings.floats import Floats


def _drawn_as_before(inputs: int, seed: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.random.default_rng(seed).standard_normal(inputs))


def test_a_drawn_x_reads_as_the_tuple_it_was() -> None:
    x, before = default_x(5, 7), _drawn_as_before(5, 7)
    assert isinstance(x, Floats)
    assert x == before and before == x and x == Floats(before) and x != before[:4] and x != (1.0,) * 5
    assert hash(x) == hash(before) and repr(x) == repr(before) and str(x) == str(before)
    assert list(x) == list(before) and all(type(v) is float for v in x)
    assert (x[0], x[-1], x[1:3]) == (before[0], before[-1], before[1:3]) and len(x) == 5
    assert default_x(3, 7) == (0.2, -0.4, 0.1)  # the notebook's own stays a tuple


def test_every_output_of_the_config_is_the_tuples() -> None:
    config = Config(inputs=5, seed=7).resolved()
    typed = Config(inputs=5, seed=7, x=_drawn_as_before(5, 7)).resolved()
    assert isinstance(config.x, Floats) and isinstance(typed.x, tuple) and config == typed
    assert json.dumps(config.as_dict()) == json.dumps(typed.as_dict())
    assert json.dumps(_config_dict(config)) == json.dumps(_config_dict(typed))


def test_the_stepper_computes_on_the_array_itself() -> None:
    stepper = Stepper(Config(inputs=1000, seed=2))
    assert isinstance(stepper.config.x, Floats)
    assert np.shares_memory(stepper.x, np.asarray(stepper.config.x)) and not stepper.x.flags.writeable
    with pytest.raises(ValueError):
        stepper.x[0] = 1.0


@pytest.mark.parametrize("inputs", [5, 5000])  # 5000: over the streamed arrays' 4096
def test_a_drawn_xs_json_trace_is_a_typed_ones_byte_for_byte(inputs: int,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import run_main

    flags = ["--headless", "--inputs", inputs, "--hidden", 3, "--seed", 7, "--steps", 1, "--format", "json"]
    typed = ",".join(map(repr, _drawn_as_before(inputs, 7)))
    drawn_status, drawn, _ = run_main(capsys, *flags)
    typed_status, written, _ = run_main(capsys, *flags, "--x", typed)
    assert drawn_status == typed_status == 0 and drawn == written
