"""The notebook's 2-layer binary classifier, generalised to any size.

x (inputs,) -> W1 (hidden, inputs), b1 -> ReLU -> W2 (1, hidden), b2 -> sigmoid -> BCE.

The functions keep the notebook's names and shapes so that a reader can put this file
beside the notebook and see the same maths; only the numerics differ, where the
notebook would overflow or warn (sigmoid of a large negative logit, log of 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Params = dict[str, Array]
Tensors = dict[str, Any]

PARAM_NAMES = ("W1", "b1", "W2", "b2")
GRAD_NAMES = ("dW1", "db1", "dW2", "db2")


#: Weight scale of each initialisation, from a layer's fan-in and fan-out. The notebook draws
#: unscaled normals, which saturate the sigmoid of a wide network (z2 ~ 157 at 784-128-1);
#: He keeps a ReLU layer's activations at unit variance, Xavier (Glorot) a layer's in and out.
INITS: dict[str, Callable[[int, int], float]] = {
    "notebook": lambda n_in, n_out: 1.0,
    "he": lambda n_in, n_out: float(np.sqrt(2.0 / n_in)),
    "xavier": lambda n_in, n_out: float(np.sqrt(2.0 / (n_in + n_out))),
}


def init_params(inputs: int, hidden: int, seed: int, init: str = "notebook") -> Params:
    """The notebook's draws, draw for draw (so seed 42 gives its numbers), each weight matrix
    scaled as `init` says; biases zero."""
    rs = np.random.RandomState(seed)
    scale = INITS[init]
    w1 = rs.randn(hidden, inputs) * scale(inputs, hidden)
    w2 = rs.randn(1, hidden) * scale(hidden, 1)
    return {"W1": w1, "b1": np.zeros(hidden), "W2": w2, "b2": np.zeros(1)}


def sigmoid(z: Array) -> Array:
    """Logistic function that never overflows: exp is only taken of -|z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(z: Array) -> Array:
    return np.maximum(0.0, z)


def relu_derivative(z: Array) -> Array:
    """1 where the unit is alive (z > 0), else 0: the notebook's convention at the kink."""
    return (z > 0).astype(z.dtype)


def bce_from_logit(z2: Array, y: float) -> Array:
    """Binary cross-entropy of sigmoid(z2) against y, computed from the logit.

    For y in {0, 1}: -log(a) = log(1 + e^-z) when y = 1 and -log(1 - a) = log(1 + e^z) when
    y = 0, i.e. log(1 + e^((1 - 2y) z)). logaddexp(0, t) is log(1 + e^t) without overflow or
    cancellation, so the loss is finite and accurate for every finite logit (and +inf, not
    NaN, for a logit that has overflowed the wrong way). It agrees with the notebook's
    clipped formula to about 1e-16 (the last printed digit may differ). Works elementwise:
    a batch of perturbed logits costs one call.
    """
    return np.logaddexp(0.0, (1 - 2 * y) * z2)


def forward(x: Array, params: Params, y: float) -> tuple[Tensors, float]:
    """Forward pass: the cache the backward pass needs, and the loss."""
    z1 = params["W1"] @ x + params["b1"]
    a1 = relu(z1)
    z2 = params["W2"] @ a1 + params["b2"]
    a2 = sigmoid(z2)
    loss = float(bce_from_logit(z2, y)[0])
    return {"x": x, "z1": z1, "a1": a1, "z2": z2, "a2": a2}, loss


def backward(x: Array, y: float, params: Params, cache: Tensors) -> Tensors:
    """Backward pass by the chain rule, with the intermediate gradients kept for display.

    For sigmoid + BCE, dL/dz2 simplifies to a2 - y.
    """
    dz2 = cache["a2"] - y
    dW2 = np.outer(dz2, cache["a1"])
    db2 = dz2.copy()
    da1 = params["W2"][0] * dz2[0]
    dz1 = da1 * relu_derivative(cache["z1"])
    dW1 = np.outer(dz1, x)
    db1 = dz1.copy()
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dz2": dz2, "da1": da1, "dz1": dz1}


def sgd_update(params: Params, grads: Tensors, lr: float) -> Params:
    """W <- W - lr dW, into new arrays: the stepper keeps the old ones for undo."""
    return {name: params[name] - lr * grads["d" + name] for name in PARAM_NAMES}
