"""The tensor-name grammar: every name the network makes parses, and writes back as itself."""

from __future__ import annotations

import pytest

from engine.maths import names
from engine.maths.names import Name, parse
from engine.maths.network import Architecture, backward, forward, init_params


@pytest.mark.parametrize(("text", "expected"), [
    ("W1", Name("W", 1)), ("b3", Name("b", 3)), ("z12", Name("z", 12)), ("a2", Name("a", 2)),
    ("dW2", Name("W", 2, grad=True)), ("db1", Name("b", 1, grad=True)),
    ("dz3", Name("z", 3, grad=True)), ("da1", Name("a", 1, grad=True)),
    ("x", Name("x")), ("loss", Name("loss")),
])
def test_a_name_parses_and_writes_back(text: str, expected: Name) -> None:
    assert parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["", "W", "W0", "W01", "dx", "dloss", "Wi", "forward.z1", "w1",
                                  "W1 ", "ddW1", "W١", "z-1", "x1"])
def test_anything_else_is_not_a_name(text: str) -> None:
    assert parse(text) is None


def test_every_tensor_of_a_pass_is_a_name() -> None:
    arch = Architecture(inputs=3, hidden=(4, 4), classes=3, loss="cross-entropy")
    params = init_params(arch, 0)
    cache, _ = forward(arch, params["W1"][0, :3] * 0 + 1.0, params, 1)
    grads = backward(arch, cache["x"], 1, params, cache)
    for text in [*params, *cache, *grads]:
        name = parse(text)
        assert name is not None and str(name) == text


def test_the_panels_put_da_with_the_layer_that_computes_it() -> None:
    assert parse("da2").panel_layer == 3  # type: ignore[union-attr]
    assert parse("dz2").panel_layer == 2  # type: ignore[union-attr]
    assert parse("x").panel_layer is None  # type: ignore[union-attr]


def test_layer_says_a_layered_names_layer_and_refuses_the_rest() -> None:
    assert names.layer("dW7") == 7
    with pytest.raises(ValueError, match="names no layer"):
        names.layer("loss")
