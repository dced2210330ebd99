"""The notebook's network, generalised: any depth, activation, loss and number of classes.

x = a0 -> z1 = W1 a0 + b1 -> a1 = f(z1) -> ... -> zL = WL a(L-1) + bL -> aL -> loss.

Sizes n0 (inputs) .. nL; W_l has shape (n_l, n_(l-1)), b_l (n_l,). The hidden layers share
one activation f; the output is one sigmoid unit (binary cross-entropy or squared error)
or a softmax of K units (cross-entropy against a class index). The default architecture
is the seed notebook's 3 -> 4 ReLU -> 1 sigmoid with BCE, and with it every function here
computes the notebook's numbers: a reader can put this file beside the notebook and see
the same maths. Only the numerics differ, where the notebook would overflow or warn.

The maths is written once, here: the forward pass, the backward pass (with the fault
drills as switches inside it, so a drill differs from the truth in exactly one line), the
activations and their derivatives, and the loss of a batch of output logits that the
vectorised gradient check (engine.maths.fastcheck) evaluates.

Every function takes one sample, x of shape (n0,) and y a class index, as the notebook
does, or a mini-batch: X of shape (B, n0), one sample a row, and y of shape (B,). A batch's
loss is the mean of its samples' losses, so its parameter gradients are the mean of the
samples' gradients; the intermediate gradients (dz, da) are kept per sample, one row each,
exactly the single-sample numbers of that row. An architecture with L1 or L2 rates adds the
weights' penalty (engine.maths.penalty) to that mean once, and its gradient to each dW_l.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.maths import penalty

Array = NDArray[np.float64]
Params = dict[str, Array]
Tensors = dict[str, Any]

LEAKY_SLOPE = 0.01
#: Numbers a chunk of a pass over many rows holds in its layers (32 MiB of float64 a matrix):
#: every row of the data at once, 80,000 rows through 100,000 units, asked for 59.6 GiB.
ROWS_CHUNK = 1 << 22


def sigmoid(z: Array) -> Array:
    """σ(z) = 1 / (1 + e^−z), elementwise, never overflowing: exp is only taken of -|z|.

    Inputs:
    - z: pre-activations, any shape

    Returns σ(z), z's shape, each in [0, 1].
    """
    e = np.exp(-np.abs(z))
    d = 1.0 + e
    return np.where(z >= 0, 1.0 / d, e / d)


def relu(z: Array) -> Array:
    """max(0, z), elementwise.

    Inputs:
    - z: pre-activations, any shape

    Returns relu(z), z's shape.
    """
    return np.maximum(0.0, z)


def relu_derivative(z: Array) -> Array:
    """relu'(z): 1 where the unit is alive (z > 0), else 0, the notebook's convention at the
    kink z = 0.

    Inputs:
    - z: pre-activations, any shape

    Returns relu'(z), z's shape and dtype.
    """
    return (z > 0).astype(z.dtype)


def leaky_relu(z: Array) -> Array:
    """z where z > 0, else LEAKY_SLOPE·z, elementwise: a unit below its kink still passes
    some gradient.

    Inputs:
    - z: pre-activations, any shape

    Returns lrelu(z), z's shape.
    """
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def leaky_relu_derivative(z: Array) -> Array:
    """lrelu'(z): 1 where z > 0, else LEAKY_SLOPE (also at the kink z = 0).

    Inputs:
    - z: pre-activations, any shape

    Returns lrelu'(z), z's shape.
    """
    return np.where(z > 0, 1.0, LEAKY_SLOPE)


def tanh_derivative(z: Array) -> Array:
    """tanh'(z) = 1 − tanh(z)², elementwise.

    Inputs:
    - z: pre-activations, any shape

    Returns tanh'(z), z's shape.
    """
    return 1.0 - np.tanh(z) ** 2


def sigmoid_derivative(z: Array) -> Array:
    """σ'(z) = σ(z)·(1 − σ(z)), elementwise.

    Inputs:
    - z: pre-activations, any shape

    Returns σ'(z), z's shape.
    """
    s = sigmoid(z)
    return s * (1.0 - s)


@dataclass(frozen=True)
class Activation:
    """A hidden layer's f and f'. `kinked`: f is piecewise linear with a kink at 0, where a
    central difference straddling it measures an average of two slopes (see gradcheck)."""

    f: Callable[[Array], Array]
    derivative: Callable[[Array], Array]
    symbol: str  # as the formulas write it
    kinked: bool


ACTIVATIONS = {
    "relu": Activation(relu, relu_derivative, "relu", kinked=True),
    "leaky-relu": Activation(leaky_relu, leaky_relu_derivative, "lrelu", kinked=True),
    "tanh": Activation(np.tanh, tanh_derivative, "tanh", kinked=False),
    "sigmoid": Activation(sigmoid, sigmoid_derivative, "σ", kinked=False),
}

#: The loss of a single sigmoid output; K >= 2 outputs always use softmax cross-entropy.
BINARY_LOSSES = ("bce", "mse")
SOFTMAX_LOSS = "cross-entropy"


def softmax(z: Array) -> Array:
    """softmax(z)_k = e^z_k / Σ_j e^z_j over the last axis, computed from z − max z so exp
    never overflows (the ratio is the same).

    Inputs:
    - z: logits, shape (K,) for one sample or (B, K) for a batch

    Returns the probabilities, z's shape, each row summing to 1.
    """
    e: Array = np.exp(z - np.max(z, axis=-1, keepdims=True))
    out: Array = e / np.sum(e, axis=-1, keepdims=True)
    return out


Labels = int | NDArray[np.int64]  # one sample's class index, or a batch's (B,)


def bce_from_logit(z: Array, y: Labels) -> Array:
    """Binary cross-entropy of sigmoid(z) against y, computed from the logit.

    For y in {0, 1}: -log(a) = log(1 + e^-z) when y = 1 and -log(1 - a) = log(1 + e^z) when
    y = 0, i.e. log(1 + e^((1 - 2y) z)). logaddexp(0, t) is log(1 + e^t) without overflow or
    cancellation, so the loss is finite and accurate for every finite logit (and +inf, not
    NaN, for a logit that has overflowed the wrong way). It agrees with the notebook's
    clipped formula to about 1e-16 (the last printed digit may differ).

    Inputs:
    - z: logits of one sigmoid unit, any shape
    - y: labels in {0, 1}, a scalar or z's shape

    Returns the losses, z's shape, elementwise.
    """
    return np.logaddexp(0.0, (1 - 2 * y) * z)


def output_loss(loss: str, z: Array, y: Labels) -> Array:
    """The loss of output logits, one value per leading index: a whole batch of perturbed
    logits costs one call, which the vectorised check relies on.

    Inputs:
    - loss: "bce" or "mse" (one sigmoid unit), or SOFTMAX_LOSS (K >= 2 units)
    - z: logits, shape (..., n_L); for a mini-batch the last two axes are (B, n_L)
    - y: the class index, or for a mini-batch one per sample, shape (B,)

    Returns the losses, shape z.shape[:-1].
    """
    if loss == "bce":
        return bce_from_logit(z[..., 0], y)  # type: ignore[no-any-return]
    if loss == "mse":
        return 0.5 * (sigmoid(z[..., 0]) - y) ** 2
    # log-sum-exp: log sum e^z - z_y, shifted by the maximum, finite for any finite z.
    m: Array = np.max(z, axis=-1)
    out: Array = m + np.log(np.sum(np.exp(z - m[..., None]), axis=-1)) - _picked(z, y)
    return out


def _picked(z: Array, y: Labels) -> Array:
    """z[..., y]: each sample's logit of its own class.

    Inputs:
    - z: logits, shape (..., K), or (..., B, K) for a batch
    - y: the class index, or a batch's, shape (B,)

    Returns the picked logits, shape z.shape[:-1].
    """
    if np.ndim(y) == 0:
        return z[..., y]
    index = np.broadcast_to(np.asarray(y)[:, None], (*z.shape[:-1], 1))
    return np.take_along_axis(z, index, axis=-1)[..., 0]


def target(a: Array, y: Labels) -> Array | Labels:
    """What the output aL is compared with: y for one sigmoid unit (a column for a batch),
    the one-hot rows of y for a softmax.

    Inputs:
    - a: the output's activation, shape (n_L,) or (B, n_L)
    - y: the class index, or a batch's, shape (B,)

    Returns y itself (one unit, one sample), y as a column (B, 1), or one-hot rows of a's
    shape.
    """
    if a.shape[-1] == 1 and np.ndim(y):
        return np.asarray(y, dtype=np.float64)[:, None]
    if a.shape[-1] == 1:
        return y
    onehot = np.zeros_like(a)
    if np.ndim(y):
        onehot[np.arange(len(onehot)), y] = 1.0
    else:
        onehot[y] = 1.0
    return onehot


def output_delta(loss: str, a: Array, y: Labels) -> Array:
    """dL/dz_L from the output's activation aL, per sample. For sigmoid + BCE and for
    softmax + cross-entropy it simplifies to aL - y (y one-hot); for sigmoid + squared error
    the sigmoid's slope a(1 - a) stays in.

    Inputs:
    - loss: the output's loss (BINARY_LOSSES or SOFTMAX_LOSS)
    - a: the output's activation aL, shape (n_L,) or (B, n_L)
    - y: the class index, or a batch's, shape (B,)

    Returns dz_L, a's shape (one row a sample for a batch).
    """
    delta: Array = a - target(a, y)
    return delta * a * (1.0 - a) if loss == "mse" else delta


def mean_loss(losses: Array) -> float:
    """The loss of a sample, or the mean loss of a batch (the loss its gradients are of).

    Inputs:
    - losses: each sample's loss, shape () or (B,)

    Returns their mean, a float.
    """
    return float(losses.sum() / losses.size)  # np.mean's sum and division, without its overhead


def _into(W: Array, a: Array) -> Array:
    """W a for one sample; for a batch (rows a_b), every W a_b as rows: a Wᵀ.

    Inputs:
    - W: weights, shape (n_l, n_(l-1))
    - a: activations, shape (n_(l-1),) or (B, n_(l-1))

    Returns shape (n_l,) or (B, n_l).
    """
    out: Array = W @ a if a.ndim == 1 else a @ W.T
    return out


def _back(W: Array, dz: Array) -> Array:
    """Wᵀ dz for one sample; for a batch, every Wᵀ dz_b as rows: dz W.

    Inputs:
    - W: weights, shape (n_l, n_(l-1))
    - dz: gradients, shape (n_l,) or (B, n_l)

    Returns shape (n_(l-1),) or (B, n_(l-1)).
    """
    out: Array = W.T @ dz if dz.ndim == 1 else dz @ W
    return out


def _mean_outer(dz: Array, a: Array) -> Array:
    """dz aᵀ for one sample; for a batch, the mean over samples of dz_b a_bᵀ.

    Inputs:
    - dz: gradients, shape (n_l,) or (B, n_l)
    - a: activations, shape (n_(l-1),) or (B, n_(l-1))

    Returns shape (n_l, n_(l-1)).
    """
    out: Array = np.outer(dz, a) if dz.ndim == 1 else dz.T @ a / len(dz)
    return out


@dataclass(frozen=True)
class Architecture:
    """Layer sizes, the hidden activation and the output's loss. (Derived sizes are cached:
    the forward and backward passes of a training run read them every layer.)"""

    inputs: int = 3
    hidden: tuple[int, ...] = (4,)
    activation: str = "relu"
    classes: int = 1  # 1: one sigmoid unit; K >= 2: softmax over K classes
    loss: str = "bce"  # "bce" or "mse" for one unit; SOFTMAX_LOSS for K >= 2
    #: The weights' penalty rates (see `penalty`): part of the objective, as the loss is.
    l1: float = 0.0
    l2: float = 0.0

    @cached_property
    def sizes(self) -> tuple[int, ...]:
        """n0 .. nL."""
        return (self.inputs, *self.hidden, self.classes)

    @cached_property
    def depth(self) -> int:
        """L, the number of weight layers."""
        return len(self.hidden) + 1

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        return tuple(name for l in range(1, self.depth + 1) for name in (f"W{l}", f"b{l}"))

    @property
    def param_count(self) -> int:
        return sum(n * (m + 1) for m, n in zip(self.sizes, self.sizes[1:], strict=False))

    @property
    def label(self) -> str:
        """784-256-128-10, the sizes as a course writes them."""
        return "-".join(str(n) for n in self.sizes)

    @cached_property
    def f(self) -> Activation:
        return ACTIVATIONS[self.activation]

    @property
    def output(self) -> str:
        """The output unit's function, as the formulas write it."""
        return "softmax" if self.classes > 1 else "σ"

    @property
    def penalised(self) -> bool:
        """Whether the objective has a penalty term (some rate above 0)."""
        return self.l1 > 0 or self.l2 > 0

    def unpenalised(self) -> Architecture:
        """The same network whose objective is its data loss alone."""
        return replace(self, l1=0.0, l2=0.0) if self.penalised else self

    def square_layers(self) -> list[int]:
        """Layers l whose W_l maps a hidden layer to one of equal width (square W_l):
        where the `transpose` drill can forget a transpose without a shape error."""
        return [l for l in range(2, self.depth) if self.sizes[l] == self.sizes[l - 1]]


NOTEBOOK = Architecture()


#: Weight scale of each initialisation, from a layer's fan-in and fan-out. The notebook draws
#: unscaled normals, which saturate the sigmoid of a wide network (z2 ~ 157 at 784-128-1);
#: He keeps a ReLU layer's activations at unit variance, Xavier (Glorot) a layer's in and out.
INITS: dict[str, Callable[[int, int], float]] = {
    "notebook": lambda n_in, n_out: 1.0,
    "he": lambda n_in, n_out: float(np.sqrt(2.0 / n_in)),
    "xavier": lambda n_in, n_out: float(np.sqrt(2.0 / (n_in + n_out))),
}


def param_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Each parameter's shape, in init_params' order.

    Inputs:
    - arch: sizes n0 .. nL

    Returns {"W1": (n1, n0), "b1": (n1,), ..., "WL": (nL, n(L-1)), "bL": (nL,)}.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for l, (n_in, n_out) in enumerate(zip(arch.sizes, arch.sizes[1:], strict=False), start=1):
        shapes[f"W{l}"], shapes[f"b{l}"] = (n_out, n_in), (n_out,)
    return shapes


def init_params(arch: Architecture, seed: int, init: str = "notebook") -> Params:
    """The notebook's draws, draw for draw (so seed 42 gives its numbers): every W_l from
    one RandomState in layer order, scaled as `init` says; biases zero. With init "notebook"
    (scale 1) each W_l is its normals as drawn.

    Inputs:
    - arch: sizes n0 .. nL
    - seed: the RandomState's seed
    - init: a key of INITS

    Returns W_l of shape (n_l, n_(l-1)) and b_l of shape (n_l,), in arch.param_names order.
    """
    rs = np.random.RandomState(seed)
    scale = INITS[init]
    params: Params = {}
    for l, (n_in, n_out) in enumerate(zip(arch.sizes, arch.sizes[1:], strict=False), start=1):
        params[f"W{l}"] = rs.randn(n_out, n_in) * scale(n_in, n_out)
        params[f"b{l}"] = np.zeros(n_out)
    return {name: params[name] for name in arch.param_names}


def forward(arch: Architecture, x: Array, params: Params, y: Labels) -> tuple[Tensors, float]:
    """Forward pass: the cache the backward pass needs, and the loss.

    Inputs:
    - arch: the architecture, L = arch.depth layers of sizes n0 .. nL
    - x: the input, shape (n0,), or a batch's, (B, n0)
    - params: W_l of shape (n_l, n_(l-1)) and b_l of shape (n_l,), for l = 1 .. L
    - y: the class index, or a batch's, shape (B,)

    Returns:
    - cache: x, then z_l and a_l of shape (n_l,), or (B, n_l) for a batch
    - loss: the objective: the sample's loss, or the batch's mean loss, plus the weights'
      penalty (penalty_of) where the architecture has rates, a float
    """
    cache, losses = forward_each(arch, x, params, y)
    loss = mean_loss(losses)
    return cache, loss + penalty_of(arch, params) if arch.penalised else loss


def penalty_of(arch: Architecture, params: Params) -> float:
    """The weights' penalty P = l1·Σ|W| + (l2/2)·ΣW² over W_1 .. W_L (engine.maths.penalty
    says why weights only, and why the 1/2), added once to a sample's or a batch's loss.

    Inputs:
    - arch: the architecture, its rates l1 and l2
    - params: W_l of shape (n_l, n_(l-1)), for l = 1 .. L (the biases are not read)

    Returns P, a float; 0.0 without rates.
    """
    return penalty.value(arch.l1, arch.l2, [params[f"W{l}"] for l in range(1, arch.depth + 1)])


def forward_each(arch: Architecture, x: Array, params: Params, y: Labels,
                 output: bool = True) -> tuple[Tensors, Array]:
    """The forward pass with every sample's own loss: what a batch's accuracy, a test set's
    loss and a decision boundary need. These are data losses: the weights' penalty is no
    sample's, and forward() adds it once to their mean.

    Inputs: as forward(), and
    - output: False leaves the output's activation aL out of the cache (the loss and the
      predictions need only the logits zL)

    Returns:
    - cache: as forward()'s
    - losses: each sample's loss, shape () or (B,)
    """
    cache: Tensors = {"x": x}
    a, L, f = x, arch.depth, arch.f.f
    for l in range(1, L + 1):
        z = _into(params[f"W{l}"], a) + params[f"b{l}"]
        cache[f"z{l}"] = z
        if l < L or output:
            a = cache[f"a{l}"] = f(z) if l < L else sigmoid(z) if arch.classes == 1 else softmax(z)
    return cache, output_loss(arch.loss, z, y)


def forward_chunks(arch: Architecture, x: Array, params: Params, y: NDArray[np.int64],
                   output: bool = True) -> Iterator[tuple[slice, Tensors, Array]]:
    """forward_each over the rows of x a chunk at a time: a pass over every row of the data
    (its fit, its map) in bounded memory, at most ROWS_CHUNK numbers in all of a chunk's
    layers. Data that fit are one chunk.

    Inputs: as forward_each(), with x of shape (N, n0) and y of shape (N,).

    Yields (rows, cache, losses): the chunk's slice of the N rows, and forward_each's cache
    and losses of those rows.
    """
    rows = max(1, ROWS_CHUNK // sum(arch.sizes))
    for start in range(0, len(x), rows):
        part = slice(start, start + rows)
        cache, losses = forward_each(arch, x[part], params, y[part], output)
        yield part, cache, losses


def decided(zL: Array) -> NDArray[np.bool_]:
    """The rows whose output logits are all finite: a NaN or an inf predicts no class
    (argmax and > 0 would still name one, and an accuracy counted from it means nothing).

    Inputs:
    - zL: output logits, shape (..., n_L)

    Returns a mask of shape zL.shape[:-1].
    """
    finite: NDArray[np.bool_] = np.asarray(np.isfinite(zL).all(axis=-1))
    return finite


def predictions(zL: Array) -> NDArray[np.int64]:
    """The class the output logits predict: zL > 0 (σ(zL) > 0.5) for one sigmoid unit, else
    the likeliest (softmax keeps the order of the logits).

    Inputs:
    - zL: output logits, shape (..., n_L)

    Returns the class indexes, shape zL.shape[:-1].
    """
    classes: NDArray[np.int64] = ((zL[..., 0] > 0) if zL.shape[-1] == 1
                                  else np.argmax(zL, axis=-1)).astype(np.int64)
    return classes


@dataclass(frozen=True)
class Drill:
    """A fault drill: one line of the backward pass broken, as people break it. Each switch
    is that line; backward() reads it where the line is, and the explainer reads the same
    switches to derive the number the broken line computed.

    says: the drill in a sentence, as the command line and the app list it.
    negates_delta: dz_L = −(a_L − y) = y − a_L.
    unit_derivative: dz_(l-1) = da_(l-1), f' taken as 1.
    zero_db: db_l = 0.
    z_in_last_dW: dW_L = dz_L z_(L-1)ᵀ, the pre-activation in place of a_(L-1).
    forgets_transpose: da_(l-1) = W_l dz_l, where W_l is square (see transposes).
    unpenalised_loss: the loss computed without the weights' penalty, while the backward
    still adds its gradient (the one drill outside the backward pass: the model's forward
    reads it, engine.model.builtin).
    """

    says: str
    negates_delta: bool = False
    unit_derivative: bool = False
    zero_db: bool = False
    z_in_last_dW: bool = False
    forgets_transpose: bool = False
    unpenalised_loss: bool = False

    def uses_z(self, arch: Architecture, l: int) -> bool:
        """Whether dW_l is computed from z_(l-1) in place of a_(l-1)."""
        return self.z_in_last_dW and l == arch.depth

    def transposes(self, arch: Architecture, l: int) -> bool:
        """Whether da_(l-1) is computed with W_l in place of W_lᵀ: only a square W_l makes
        no shape error of it."""
        return self.forgets_transpose and l in arch.square_layers()


#: The true backward pass: no switch set.
NO_DRILL = Drill("The true backward pass.")

#: The fault drills, by the name --inject-bug takes.
DRILLS = {
    "activation-grad": Drill("The activation's derivative taken as 1: dead units still pass gradient.",
                             unit_derivative=True),
    "bias-grad": Drill("The biases forgotten: every db returned as zeros.", zero_db=True),
    "sign": Drill("dz at the output negated (y − a): every gradient points uphill.", negates_delta=True),
    "cache": Drill("The last weight gradient computed from the pre-activation z instead of the "
                   "activation a.", z_in_last_dW=True),
    "transpose": Drill("da computed with W instead of its transpose, where W is square (two hidden "
                       "layers of equal width).", forgets_transpose=True),
    "penalty-loss": Drill("The weights' penalty in the gradient but not in the loss (needs --l1 or "
                          "--l2 above 0).", unpenalised_loss=True),
}
BUGS = {name: drill.says for name, drill in DRILLS.items()}
#: Other names a drill is known by.
BUG_ALIASES = {"relu-grad": "activation-grad"}


def drill(bug: str | None) -> Drill:
    """The drill `bug` names (BUGS), the true pass for None or a name no drill has."""
    return DRILLS.get(bug, NO_DRILL) if bug else NO_DRILL


def backward(arch: Architecture, x: Array, y: Labels, params: Params, cache: Tensors,
             bug: str | None = None) -> Tensors:
    """Backward pass by the chain rule, with the intermediate gradients kept for display:
    dW1, db1, ..., dWL, dbL, then dzL, da(L-1), dz(L-1), ..., da1, dz1.

    dz_L = dL/dz_L (output_delta); dW_l = dz_l a_(l-1)ᵀ (+ l1·sign(W_l) + l2·W_l, the
    penalty's gradient, where the architecture has rates); db_l = dz_l;
    da_(l-1) = W_lᵀ dz_l; dz_(l-1) = da_(l-1) ⊙ f'(z_(l-1)). For a batch dW_l and db_l
    are the means over its samples (the penalty's gradient added once, after the mean), and
    dz, da one row a sample.

    Inputs:
    - arch: the architecture, L = arch.depth layers of sizes n0 .. nL
    - x: the input, shape (n0,), or a batch's, (B, n0)
    - y: the class index, or a batch's, shape (B,)
    - params: W_l of shape (n_l, n_(l-1)) and b_l of shape (n_l,), for l = 1 .. L
    - cache: forward()'s x, z_l and a_l, each of shape (n_l,), or (B, n_l) for a batch
    - bug: a fault drill's name (BUGS); its switch (Drill) is read where its line is

    Returns the gradients by name: dW_l (n_l, n_(l-1)) and db_l (n_l,), a batch's means;
    dz_l (n_l,) and da_l (n_l,), or (B, n_l) for a batch, one row a sample.
    """
    broken = drill(bug)
    L = arch.depth
    dz = output_delta(arch.loss, cache[f"a{L}"], y)
    if broken.negates_delta:
        dz = -dz
    params_grads: Tensors = {}
    steps: Tensors = {}
    for l in range(L, 0, -1):
        steps[f"dz{l}"] = dz
        a_prev = x if l == 1 else cache[f"a{l - 1}"]
        source = cache[f"z{l - 1}"] if broken.uses_z(arch, l) else a_prev
        dW = _mean_outer(dz, source)
        params_grads[f"dW{l}"] = dW + penalty.gradient(arch.l1, arch.l2, params[f"W{l}"]) \
            if arch.penalised else dW
        db = dz.copy() if dz.ndim == 1 else dz.sum(axis=0) / len(dz)  # never dz itself: kept too
        params_grads[f"db{l}"] = np.zeros_like(db) if broken.zero_db else db
        if l == 1:
            break
        W = params[f"W{l}"]
        da = _back(W.T if broken.transposes(arch, l) else W, dz)
        steps[f"da{l - 1}"] = da
        dz = da if broken.unit_derivative else da * arch.f.derivative(cache[f"z{l - 1}"])
    ordered = {f"d{name}": params_grads[f"d{name}"] for name in arch.param_names}
    return ordered | steps


def implied_finite(arch: Architecture) -> frozenset[str]:
    """The names in forward's cache and backward's gradients that are finite whenever the
    others are, so a check for inf and NaN over a step can leave them out: x (the data's,
    checked when read); each a_l, since every activation (and the output's sigmoid or
    softmax) is finite on finite z_l, so a_l is not finite only where z_l is not; dz_L, which is a_L's
    difference from the labels (times a_L(1 - a_L) for mse); and each da_l, since
    dz_l = da_l ⊙ f'(z_l) with f' finite in [0, 1] on finite z_l makes an infinite da_l
    an inf (or 0·inf = NaN) in dz_l. Every fault drill keeps this: it changes what dz or
    dW is made of, and those stay checked.

    Inputs:
    - arch: the architecture, L = arch.depth layers

    Returns the names, for the built-in network only (a user's model names its own).
    """
    L = arch.depth
    return frozenset({"x", f"dz{L}", *(f"a{l}" for l in range(1, L + 1)), *(f"da{l}" for l in range(1, L))})


def sgd_update(params: Params, grads: Tensors, lr: float) -> Params:
    """θ <- θ - lr·dθ for every parameter θ, into new arrays: the stepper keeps the old ones
    for undo.

    Inputs:
    - params: each parameter θ by name, any shapes
    - grads: dθ for each, named "d" + θ's name, of θ's shape
    - lr: the learning rate

    Returns the new parameters, by name, of the same shapes.
    """
    return {name: _minus(value, lr * grads["d" + name]) for name, value in params.items()}


def _minus(value: Array, step: Array) -> Array:
    """value - step, written over step when it can hold the result: step is a new array
    (lr·dθ) that nothing else holds, so the update's peak is θ, dθ and the new θ, not one
    more array of θ's size (1,000,000-9-1: 69 MiB). The same ufunc on the same numbers."""
    if isinstance(step, np.ndarray) and step.shape == np.shape(value) \
            and step.dtype == np.result_type(value, step):
        return np.subtract(value, step, out=step)
    return value - step


def kink_sides(arch: Architecture, cache: Tensors) -> list[NDArray[np.bool_]]:
    """Which side of its kink each hidden unit is on (z > 0), for a piecewise activation;
    nothing for a smooth one. Two forward passes whose sides differ straddle a kink.

    Inputs:
    - arch: the architecture
    - cache: forward()'s, with z_l of shape (n_l,) or (B, n_l)

    Returns one mask a hidden layer, l = 1 .. L-1, of z_l's shape; [] for a smooth f.
    """
    if not arch.f.kinked:
        return []
    return [np.asarray(cache[f"z{l}"]) > 0 for l in range(1, arch.depth)]
