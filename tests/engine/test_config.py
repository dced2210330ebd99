"""engine.settings.config through its public face: Config's defaults, validate's bounds (the
last value allowed passes, the next one is refused) and the words of each refusal, as the
command line, a TOML file and the app's form all show them.

Only Config, validate and ConfigError (its key and message) are used: how the rules are
written inside may change, what they accept and say may not.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from engine.settings.config import Config, ConfigError, validate


def refusal(config: Config, given: tuple[str, ...] | None = None) -> tuple[str, str]:
    with pytest.raises(ConfigError) as error:
        validate(config, given)
    assert str(error.value) == f"{error.value.key}: {error.value.message}"
    return error.value.key, error.value.message


def test_the_defaults_are_the_seed_notebooks_run() -> None:
    config = Config()
    assert (config.inputs, config.hidden, config.activation, config.classes) == (3, (4,), "relu", 1)
    assert (config.seed, config.y, config.lr, config.eps, config.steps) == (42, 1, 0.1, 1e-5, 1)
    assert (config.init, config.gradcheck, config.gradcheck_method, config.inject_bug) == \
        ("notebook", True, "fast", None)
    assert not config.learns_from_data and config.shape_label == "3-4-1"


def test_validate_fills_in_the_defaults_that_depend_on_other_values() -> None:
    config = validate(Config())
    assert config.x == (0.2, -0.4, 0.1) and config.loss == "bce"
    assert validate(Config(classes=3, y=2)).loss == "cross-entropy"
    five = validate(Config(inputs=5))
    assert len(five.x) == 5 and five.x == validate(Config(inputs=5)).x != validate(Config(inputs=5, seed=1)).x
    assert validate(Config(inject_bug="relu-grad")).inject_bug == "activation-grad"
    assert Config(hidden=7).hidden == (7,) and Config(hidden=[2, 3]).hidden == (2, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "last", "key", "message"), [
    ("inputs", 1_000_000, "inputs", "must be between 1 and 1,000,000, got 1000001"),
    ("classes", 10_000, "classes", "must be between 1 and 10,000, got 10001"),
    ("steps", 1_000_000, "steps", "must be between 1 and 1,000,000, got 1000001"),
    ("seed", 2**32 - 1, "seed", "must be a whole number from 0 to 4294967295, got 4294967296"),
])
def test_a_bound_passes_and_one_past_it_is_refused(field: str, last: int, key: str, message: str) -> None:
    extra = {"hidden": (1,)} if field in ("inputs", "classes") else {}
    extra |= {"y": 0} if field == "classes" else {}
    validate(Config(**{field: last}, **extra))  # type: ignore[arg-type]
    assert refusal(Config(**{field: last + 1}, **extra)) == (key, message)  # type: ignore[arg-type]


@pytest.mark.parametrize(("config", "key", "message"), [
    (Config(inputs=0), "inputs", "must be between 1 and 1,000,000, got 0"),
    (Config(inputs=2.0), "inputs", "must be a whole number, got 2.0"),  # type: ignore[arg-type]
    (Config(inputs=True), "inputs", "must be a whole number, got True"),
    (Config(hidden=()), "hidden", "needs 1 to 8 hidden layers (e.g. 4 or 8,8), got no layers"),
    (Config(hidden=(2,) * 9), "hidden", "needs 1 to 8 hidden layers (e.g. 4 or 8,8), got 9 layers"),
    (Config(hidden=(4, 0)), "hidden",
     "each layer needs a whole number of units from 1 to 100,000, got 0 (layer 2)"),
    (Config(hidden=(100_001,)), "hidden",
     "each layer needs a whole number of units from 1 to 100,000, got 100001"),
    (Config(hidden=(5000, 5000)), "hidden",  # 5000·4 + 5000·5001 + 5001
     "a 3-5000-5000-1 network has 25,030,001 parameters; at most 10,000,000 fit in memory with their "
     "history"),
    (Config(activation="swish"), "activation", "must be one of relu, leaky-relu, tanh, sigmoid, got 'swish'"),
    (Config(classes=3, loss="bce"), "loss",
     "bce applies to a single sigmoid output; with 3 classes the output is a softmax with cross-entropy "
     "(leave --loss out)"),
    (Config(loss="hinge"), "loss", "must be one of bce, mse, got 'hinge'"),
    (Config(loss="cross-entropy"), "loss",
     "cross-entropy is the softmax output's loss: give --classes 2 or more, or use bce or mse"),
    (Config(seed=-1), "seed", "must be a whole number from 0 to 4294967295, got -1"),
    (Config(x=(1.0, 2.0)), "x", "needs exactly 3 values (one per input), got 2"),
    (Config(x=(1.0, math.nan, 2.0)), "x", "value 2 must be a finite number, got nan"),
    (Config(y=2), "y", "must be 0 or 1, got 2"),
    (Config(classes=3, y=3), "y", "must be a class index from 0 to 2, got 3"),
    (Config(y=True), "y", "must be 0 or 1, got True"),
    (Config(lr=0.0), "lr", "must be finite and > 0, got 0.0"),
    (Config(lr=math.inf), "lr", "must be finite and > 0, got inf"),
    (Config(eps=-1e-5), "eps", "must be finite and > 0, got -1e-05"),
    (Config(eps="1e-5"), "eps", "must be a number, got '1e-5'"),  # type: ignore[arg-type]
    (Config(gradcheck="no"), "gradcheck", "must be true or false, got 'no'"),  # type: ignore[arg-type]
    (Config(gradcheck_method="exact"), "gradcheck-method", "must be one of fast, loop, got 'exact'"),
    (Config(init="zeros"), "init", "must be one of notebook, he, xavier, got 'zeros'"),
    (Config(inject_bug="typo"), "inject-bug",
     "must be one of activation-grad, bias-grad, sign, cache, transpose, penalty-loss, "
     "adam-no-bias-correction, momentum-no-carry, got 'typo'"),
])
def test_each_refusal_names_the_setting_and_the_rule(config: Config, key: str, message: str) -> None:
    assert refusal(config) == (key, message)


def test_the_transpose_drill_needs_a_square_hidden_weight() -> None:
    key, message = refusal(Config(inject_bug="transpose"))
    assert key == "inject-bug" and "two adjacent hidden layers of equal width" in message
    assert message.endswith("this network is 3-4-1")
    assert validate(Config(hidden=(4, 4), inject_bug="transpose")).inject_bug == "transpose"


def test_a_long_value_is_cut_in_the_message() -> None:
    _, message = refusal(Config(activation="x" * 500))
    assert message.endswith("… (500 characters)") and len(message) < 120


@pytest.mark.parametrize(("config", "given", "key", "message"), [
    (Config(samples=50), None, "samples", "only applies to a generated data set: add --dataset NAME"),
    (Config(noise=0.2), ("noise",), "noise", "only applies to a generated data set: add --dataset NAME"),
    (Config(test_fraction=0.3), None, "test-fraction",
     "only applies to learning from data: add --dataset NAME or --data FILE.csv"),
    (Config(batch=8), None, "batch",
     "the single sample is a batch of 1; a batch of 8 needs data: add --dataset NAME or --data FILE.csv"),
    (Config(dataset="moons", data="d.csv"), None, "data",
     "cannot be used with --dataset: --dataset draws a data set from the seed, --data reads one from a "
     "file; give one of them"),
    (Config(dataset="rings"), None, "dataset",
     "must be one of xor, circle, gauss, spiral, moons, got 'rings'"),
    (Config(dataset="moons", classes=3), None, "classes",
     "moons comes in 2 classes; only gauss and spiral also come in 3, got 3"),
    (Config(dataset="spiral", classes=4), None, "classes", "spiral comes in 2 or 3 classes, got 4"),
    (Config(dataset="moons", x=(1.0, 2.0, 3.0)), None, "x",
     "the data give the samples and their labels; --x and --y are the single sample's, without --dataset "
     "or --data: leave it out"),
    (Config(dataset="moons", samples=100_001), None, "samples", "must be between 1 and 100,000, got 100001"),
    (Config(dataset="moons", noise=1.5), None, "noise", "must be a number from 0 to 1, got 1.5"),
    (Config(dataset="moons", test_fraction=0.95), None, "test-fraction",
     "must be a number from 0 to 0.9, got 0.95"),
    (Config(dataset="moons", batch=-1), None, "batch",
     "must be a whole number from 1 to 100,000 (0: the whole training split), got -1"),
    (Config(dataset="moons", check_every=-1), None, "check-every",
     "must be a whole number from 0 to 1,000,000, got -1"),
    (Config(dataset="moons", trace="all"), None, "trace", "must be one of summary, full, got 'all'"),
])
def test_the_data_settings_and_their_rules(config: Config, given: tuple[str, ...] | None, key: str,
                                           message: str) -> None:
    assert refusal(config, given) == (key, message)


def test_given_decides_which_settings_count_as_set() -> None:
    """A value equal to its default still counts when the user gave it; None: every value
    that differs from its default counts."""
    assert refusal(Config(samples=200), ("samples",))[0] == "samples"
    validate(Config(samples=200))
    validate(Config(samples=50), given=())


def test_data_settings_pass_with_data_and_stay_out_of_a_single_sample_trace() -> None:
    config = validate(Config(dataset="moons", samples=50, noise=0.2, test_fraction=0.5, batch=8,
                             standardize=True, trace="full"))
    assert config.learns_from_data and "x" not in config.as_dict() and config.as_dict()["samples"] == 50
    single = validate(Config()).as_dict()
    assert "samples" not in single and "dataset" not in single
    assert single["x"] == [0.2, -0.4, 0.1] and single["hidden"] == [4]


def test_validate_leaves_its_argument_alone() -> None:
    config = Config(inputs=5)
    resolved = validate(config)
    assert config.x == () and config.loss == ""
    assert replace(resolved, x=(), loss="") == config
