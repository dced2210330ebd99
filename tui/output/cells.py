"""A run written out as a Jupyter notebook's cells: plain NumPy, in the seed notebook's style.

The notebook is the product a student reads, so every cell here is code text for a reader:
the forward and backward passes are unrolled for the run's architecture (z1, a1, ..., dz1),
not looped over layers, and each phase gets a markdown cell that says what it does. This
module only makes the cells' text (a list of Cell); tui/output/notebook.py turns them into an
nbformat notebook, validates it and writes the file.

Exactness. The notebook prints the same losses as the stepper, bit for bit where NumPy
allows: the initial parameters and the data are written with repr (which round-trips every
float64), or, for an array of more than LITERAL_LIMIT values, as the base64 of its float64
bytes; and the arithmetic is the engine's (engine/maths/network.py), operation for operation: the
overflow-free sigmoid, the loss from the logits (log(1 + e^((1 - 2y) z)) for binary
cross-entropy, log-sum-exp for softmax), W @ a for one sample and A @ W.T for a batch, and a
batch's gradients as (dz.T @ a) / B.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engine.data.batches import Data
from engine.maths.network import LEAKY_SLOPE, Architecture, Params
from engine.maths.optimizers import MOMENTS, TITLES

#: Arrays up to this many values are written as np.array literals a reader can read; larger
#: ones as base64 of their float64 bytes (exact too, and a quarter of the size).
LITERAL_LIMIT = 1_000
#: Values the notebook may inline in all (parameters, data and batch rows); beyond it the
#: notebook would be tens of megabytes of numbers, so the export is refused.
MAX_INLINED = 5_000_000

LOSS_NAMES = {"bce": "binary cross-entropy", "mse": "squared error (a - y)² / 2",
              "cross-entropy": "softmax cross-entropy"}


@dataclass(frozen=True)
class Cell:
    kind: str  # "markdown" or "code"
    source: str


@dataclass(frozen=True, eq=False)
class Run:
    """What the notebook reproduces: the network, its initial parameters, the sample or the
    data, the settings, and the losses the stepper printed (quoted in the introduction)."""

    arch: Architecture
    params: Params
    lr: float
    eps: float
    steps: int
    seed: int
    init: str
    gradcheck: bool
    x: NDArray[np.float64] | None = None  # the one sample, when there is no data set
    y: int = 1
    data: Data | None = None
    losses: Sequence[float] = field(default_factory=tuple)  # the stepper's, one a step
    final_loss: float | None = None  # the stepper's, after the last update
    optimizer: str = "sgd"  # engine.maths.optimizers' name of the update rule
    #: The numbers the rule reads besides lr, by their keyword (momentum, beta1, beta2, epsilon).
    settings: tuple[tuple[str, float], ...] = ()
    decay: float = 1.0  # the learning rate's decay once an epoch; 1: none

    @property
    def title(self) -> str:
        return TITLES[self.optimizer]

    @property
    def batched(self) -> bool:
        return self.data is not None


class TooLarge(ValueError):
    """The run has more values than a notebook should inline (MAX_INLINED)."""


def inlined_values(run: Run) -> int:
    values = sum(p.size for p in run.params.values())
    if run.data is not None:
        dataset = run.data.dataset
        values += dataset.X.size + dataset.y.size + (0 if run.data.full_batch
                                                     else run.steps * run.data.batch)
    return values


# ---- numbers as text -------------------------------------------------------------------
def _nested(values: NDArray[np.float64] | NDArray[np.int64], indent: str) -> str:
    """A 1-D or 2-D array as a Python list literal, a row a line; floats by repr."""
    if values.ndim == 1:
        return "[" + ", ".join(repr(v) for v in values.tolist()) + "]"
    rows = [_nested(row, indent) for row in values]
    return "[" + (",\n" + indent + " ").join(rows) + "]"


def array_literal(values: NDArray[np.float64], indent: str = "") -> str:
    """Python text that evaluates to exactly `values` (float64, writable)."""
    values = np.asarray(values, dtype=np.float64)
    if not values.any() and not np.signbit(values).any():
        return f"np.zeros({values.shape[0] if values.ndim == 1 else values.shape})"
    if values.size > LITERAL_LIMIT:
        text = base64.b64encode(values.astype("<f8").tobytes()).decode("ascii")
        return f"np.frombuffer(base64.b64decode('{text}'), dtype='<f8').reshape({values.shape}).copy()"
    return f"np.array({_nested(values, indent + ' ' * 9)})"


def int_literal(values: NDArray[np.int64]) -> str:
    return "np.array([" + ", ".join(str(int(v)) for v in values) + "])"


# ---- the architecture in words ----------------------------------------------------------
def _shape(run: Run, n: int) -> str:
    return f"(B, {n})" if run.batched else f"({n},)"


def _layers(arch: Architecture) -> range:
    return range(1, arch.depth + 1)


def _loss_function(arch: Architecture) -> str:
    return {"bce": "bce_loss", "mse": "mse_loss"}.get(arch.loss, "cross_entropy_loss")


# ---- the cells, one function a kind -------------------------------------------------------
def title_cell(run: Run) -> Cell:
    arch = run.arch
    hidden = (f"a hidden layer of {arch.hidden[0]} units" if len(arch.hidden) == 1 else
              f"hidden layers of {', '.join(str(n) for n in arch.hidden)} units")
    where = ("one sample, as the seed notebook does" if run.data is None else
             f"the {run.data.dataset.name} data set, "
             + ("the whole training split a step" if run.data.full_batch
                else f"mini-batches of {run.data.batch} rows"))
    stepper = ""
    if run.losses:
        stepper = (f"\n\nThe stepper printed a loss of `{run.losses[0]!r}` at step 1's forward pass"
                   + (f" and `{run.final_loss!r}` after the last update" if run.final_loss is not None
                      else "")
                   + "; the last cell prints the same numbers.")
    return Cell("markdown", f"""# Backpropagation, step by step: a {arch.label} network

Exported by backprop-stepper. A network with {arch.inputs} inputs, {hidden} \
({arch.activation}) and {_output_words(arch)}, trained with {_trained_with(run)} on {where}: \
{run.steps} step{'s' * (run.steps != 1)} of forward pass, backward pass, \
{'numerical gradient check, ' if run.gradcheck else ''}and update, with learning rate {run.lr!r}\
{_rates_words(arch)}.

Everything is plain NumPy. The initial parameters (drawn by `np.random.RandomState({run.seed})`, \
{_init_words(run.init)}) and the data are written out exactly, so running the cells in order \
reproduces the stepper's numbers.{stepper}""")


def _rates_words(arch: Architecture) -> str:
    """", and L2 regularisation at rate 0.01" (the rates given), or nothing."""
    rates = [f"{name} regularisation at rate {rate!r}" for name, rate in (("L1", arch.l1), ("L2", arch.l2))
             if rate]
    return f", and {' and '.join(rates)}" if rates else ""


def _output_words(arch: Architecture) -> str:
    if arch.classes == 1:
        return f"one sigmoid output unit with {LOSS_NAMES[arch.loss]}"
    return f"a softmax over {arch.classes} classes with cross-entropy"


def _init_words(init: str) -> str:
    return {"notebook": "unscaled normals as in the seed notebook",
            "he": "normals scaled by He's sqrt(2 / n_in)",
            "xavier": "normals scaled by Xavier's sqrt(2 / (n_in + n_out))"}[init] + ", biases zero"


def imports_cell(run: Run) -> Cell:
    large = any(p.size > LITERAL_LIMIT for p in run.params.values()) or (
        run.data is not None and run.data.dataset.X.size > LITERAL_LIMIT)
    extra = "import base64  # large arrays are written as the base64 of their float64 bytes\n" \
        if large else ""
    return Cell("code", f"# backprop for a {run.arch.label} network (NumPy only), exported by "
                f"backprop-stepper\n\n{extra}import numpy as np")


def network_markdown(run: Run) -> Cell:
    arch = run.arch
    f = arch.activation
    output = (r"$a_L = \sigma(z_L)$, the probability of class 1" if arch.classes == 1
              else r"$a_L = \mathrm{softmax}(z_L)$, one probability a class")
    loss = {"bce": r"$-(y \log a_L + (1 - y) \log(1 - a_L))$",
            "mse": r"$\frac{1}{2}(a_L - y)^2$",
            "cross-entropy": r"$-\log a_{L,y}$"}[arch.loss]
    return Cell("markdown", f"""## The network

Layer sizes {arch.label}: from $a_0 = x$, each layer $l$ computes $z_l = W_l a_{{l-1}} + b_l$; \
the hidden layers apply {f}, $a_l = f(z_l)$, and the output layer gives {output}. The loss is \
{LOSS_NAMES[arch.loss]}, {loss}{', averaged over the samples of a batch' if run.batched else ''}\
{_penalty_words(arch)}.

First the utilities: the activation and its derivative (which the backward pass needs), \
{'the softmax, ' if arch.classes > 1 else 'the sigmoid, '}and the loss, computed from the \
output's pre-activation $z_L$ so that it never overflows.""")


def _penalty_words(arch: Architecture) -> str:
    """What the loss adds for the weights' penalty, in the markdown's maths; nothing without."""
    if not arch.penalised:
        return ""
    terms = [term for term, rate in ((r"l_1 \sum |W|", arch.l1), (r"\frac{l_2}{2} \sum W^2", arch.l2))
             if rate]
    return (f", plus the weights' penalty ${' + '.join(terms)}$ over every $W_l$ (never the biases), "
            "added once to the loss")


def functions_cell(run: Run) -> Cell:
    arch = run.arch
    parts = ["''' Creating utilities '''"]
    if arch.classes == 1 or arch.activation == "sigmoid":
        parts.append('''def sigmoid(z):
    # 1 / (1 + e^-z), written so that exp never overflows: only e^-|z| is taken
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))''')
    parts.append({
        "relu": '''def relu(z):
    return np.maximum(0.0, z)

def relu_derivative(z):
    # 1 where the unit is alive (z > 0), else 0 (also at the kink z = 0)
    return (z > 0).astype(float)''',
        "leaky-relu": f'''def leaky_relu(z):
    return np.where(z > 0, z, {LEAKY_SLOPE!r} * z)

def leaky_relu_derivative(z):
    # 1 where z > 0, else the leak's slope {LEAKY_SLOPE!r}
    return np.where(z > 0, 1.0, {LEAKY_SLOPE!r})''',
        "tanh": '''def tanh(z):
    return np.tanh(z)

def tanh_derivative(z):
    return 1.0 - np.tanh(z) ** 2''',
        "sigmoid": '''def sigmoid_derivative(z):
    s = sigmoid(z)
    return s * (1.0 - s)''',
    }[arch.activation])
    if arch.classes > 1:
        parts.append('''def softmax(z):
    # e^z / sum e^z over the last axis, shifted by the maximum so exp never overflows
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)''')
    parts.append(_loss_code(run))
    if arch.penalised:
        parts.append(_penalty_code(arch))
    return Cell("code", "\n\n".join(parts))


def _penalty_code(arch: Architecture) -> str:
    """The rates, the penalty and its gradient, term for term as engine/maths/penalty.py adds
    them (so the losses and gradients are the stepper's bit for bit)."""
    value = [line for line, rate in (("            total += l1 * float(np.abs(W).sum())", arch.l1),
                                     ("            total += 0.5 * l2 * float(np.square(W).sum())", arch.l2))
             if rate]
    gradient = " + ".join(term for term, rate in (("l1 * np.sign(W)", arch.l1), ("l2 * W", arch.l2)) if rate)
    return f"""l1, l2 = {arch.l1!r}, {arch.l2!r}  # the regularisation rates

def penalty(params):
    \"\"\"The weights' penalty l1·Σ|W| + (l2/2)·ΣW², over W1 .. W{arch.depth} (never the biases):
    the loss adds it once (not once a sample).\"\"\"
    total = 0.0
    for name, W in params.items():
        if name.startswith('W'):
{chr(10).join(value)}
    return total

def penalty_gradient(W):
    # dpenalty/dW = l1·sign(W) + l2·W (sign(0) = 0: a subgradient of |w| at its kink)
    return {gradient}"""


def _loss_code(run: Run) -> str:
    if run.arch.loss == "bce":
        doc = '''    """Binary cross-entropy of a = sigmoid(z) against y: -(y log a + (1 - y) log(1 - a)).
    From the logit: -log a = log(1 + e^-z) and -log(1 - a) = log(1 + e^z), that is
    log(1 + e^((1 - 2y) z)), which np.logaddexp(0, t) computes without overflow."""'''
        one, many = "np.logaddexp(0.0, (1 - 2 * y) * z[0])", "np.logaddexp(0.0, (1 - 2 * y) * z[:, 0])"
    elif run.arch.loss == "mse":
        doc = '''    """Squared error of a = sigmoid(z) against y: (a - y)^2 / 2."""'''
        one, many = "0.5 * (sigmoid(z[0]) - y) ** 2", "0.5 * (sigmoid(z[:, 0]) - y) ** 2"
    else:
        doc = '''    """Cross-entropy of softmax(z) against the class y: -log softmax(z)[y], that is
    log(sum_k e^z_k) - z_y, shifted by max(z) so exp never overflows."""'''
        one = "m + np.log(np.sum(np.exp(z - m))) - z[y]"
        many = "m + np.log(np.sum(np.exp(z - m[:, None]), axis=1)) - z[np.arange(len(y)), y]"
    name = _loss_function(run.arch)
    if not run.batched:
        head = "    m = np.max(z)\n" if run.arch.loss == "cross-entropy" else ""
        return f"def {name}(z, y):\n{doc}\n{head}    return float({one})"
    head = "    m = np.max(z, axis=1)\n" if run.arch.loss == "cross-entropy" else ""
    return (f"def {name}(z, y):\n{doc}\n    # z: (B, {run.arch.classes}), one row a sample; the loss "
            f"of a batch is the mean of its samples' losses\n{head}    losses = {many}\n"
            "    return float(np.mean(losses))")


def params_markdown(run: Run) -> Cell:
    return Cell("markdown", f"""## The initial parameters

The stepper's initial parameters, written out exactly (every float with all its digits, \
so it reads back bit for bit{'; the larger arrays as the base64 of their float64 bytes' if
any(p.size > LITERAL_LIMIT for p in run.params.values()) else ''}). They are the draws of \
`np.random.RandomState({run.seed})`, every $W_l$ in layer order ({_init_words(run.init)}): \
`rs.randn(n_out, n_in)` gives the same numbers.""")


def params_cell(run: Run) -> Cell:
    lines = ["params = {"]
    for name, value in run.params.items():
        lines.append(f"    '{name}': {array_literal(value, indent=' ' * (8 + len(name)))},  # {value.shape}")
    lines.append("}")
    return Cell("code", "\n".join(lines))


def data_markdown(run: Run) -> Cell:
    if run.data is None:
        return Cell("markdown", "## The sample\n\nOne input vector $x$ and its label $y$"
                    + (" (a class index)." if run.arch.classes > 1 else " (0 or 1)."))
    data = run.data
    dataset = data.dataset
    std = " standardized by the training rows' mean and variance, and" if data.standardized else ""
    plan = ("Every step trains on the whole training split (full-batch gradient descent)."
            if data.full_batch else
            f"Each step trains on a mini-batch of {data.batch} training rows: each epoch shuffles "
            f"the training split (from seed {data.seed}) and takes it {data.batch} rows at a time "
            "(an epoch's last batch may be shorter). "
            "`batches[s - 1]` holds the rows of step s.")
    return Cell("markdown", f"""## The data

The {dataset.name} data set: {dataset.samples} rows of {dataset.features} features \
(one sample a row of `X`{_feature_words(data)}),{std} their class labels `y`. The split holds out \
{len(dataset.test)} rows to test (`test`); the other {len(dataset.train)} train (`train`). \
{plan}""")


def _feature_words(data: Data) -> str:
    """With feature inputs, what X's columns are: TensorFlow Playground's features of `points`."""
    if not data.features:
        return ""
    return (f": the features {', '.join(data.dataset.column_names)} of each row's point (x1, x2) of "
            "`points`, as TensorFlow Playground's feature inputs")


def data_cell(run: Run) -> Cell:
    if run.data is None:
        assert run.x is not None
        return Cell("code", f"x = {array_literal(run.x)}\ny = {run.y}")
    data = run.data
    dataset = data.dataset
    points = data.plane.X
    X = dataset.X
    lines = [f"X = {array_literal(X, indent='    ')}  # {X.shape}"] if not data.features else [
        f"points = {array_literal(points, indent='    ')}  # {points.shape}: each row's (x1, x2)",
        "# The inputs: TensorFlow Playground's features of each point (--features "
        f"{','.join(f.name for f in data.features)})",
        f"X = np.column_stack([{', '.join(f.numpy('points') for f in data.features)}])"]
    lines += [f"y = {int_literal(dataset.y)}",
             f"train = {int_literal(dataset.train)}",
             f"test = {int_literal(dataset.test)}"]
    if data.full_batch:
        lines.append("batches = [train] * " + str(run.steps) + "  # the whole training split each step")
    else:
        lines.append("batches = [")
        lines += [f"    {int_literal(data.rows(step))},  # step {step}" for step in range(1, run.steps + 1)]
        lines.append("]")
    return Cell("code", "\n".join(lines))


def forward_markdown(run: Run) -> Cell:
    batch = (" A batch goes through at once, one sample a row of $X$ (so $z_l = A_{l-1} W_l^T + b_l$), "
             "and its loss is the mean of its samples' losses." if run.batched else "")
    return Cell("markdown", f"""## Forward pass

From the input, layer by layer: each layer's pre-activation $z_l = W_l a_{{l-1}} + b_l$ and \
activation $a_l$, up to the output and the loss. The cache keeps every $z_l$ and $a_l$: the \
backward pass needs them.{batch}""")


def forward_cell(run: Run) -> Cell:
    arch = run.arch
    L = arch.depth
    x = "X" if run.batched else "x"
    names = ", ".join(arch.param_names)
    keys = ", ".join(f"params['{n}']" for n in arch.param_names)
    shape = f"(B, {arch.inputs}), one sample a row" if run.batched else f"({arch.inputs},)"
    lines = [f"def forward({x}, params, y):",
             '    """',
             f"    {x}: {shape}; params: {', '.join(arch.param_names)}",
             "    Returns the cache and the loss" + (" (the batch's mean loss)." if run.batched else "."),
             '    """',
             f"    {names} = {keys}"]
    previous = x
    f = arch.activation.replace("-", "_")
    for l in _layers(arch):
        n = arch.sizes[l]
        into = f"{previous} @ W{l}.T + b{l}" if run.batched else f"W{l} @ {previous} + b{l}"
        if l < L:
            lines.append(f"    # Hidden layer {l}: pre-activation and {arch.activation} activation "
                         f"{_shape(run, n)}")
            lines += [f"    z{l} = {into}", f"    a{l} = {f}(z{l})"]
        else:
            out = "sigmoid" if arch.classes == 1 else "softmax"
            what = "the probability of class 1" if arch.classes == 1 else "the class probabilities"
            lines.append(f"    # Output: pre-activation and {what} {_shape(run, n)}")
            lines += [f"    z{l} = {into}", f"    a{l} = {out}(z{l})"]
        previous = f"a{l}"
    cache = ", ".join([f"'x': {x}"] + [f"'{k}{l}': {k}{l}" for l in _layers(arch) for k in "za"])
    penalty = " + penalty(params)  # the data loss and the weights' penalty" if arch.penalised else ""
    lines += [f"    cache = {{{cache}}}",
              f"    loss = {_loss_function(arch)}(z{L}, y){penalty}",
              "    return cache, loss"]
    return Cell("code", "\n".join(lines))


def backward_markdown(run: Run) -> Cell:
    arch = run.arch
    L = arch.depth
    delta = {"bce": r"for a sigmoid output with binary cross-entropy it simplifies to $a_L - y$",
             "mse": r"for a sigmoid output with squared error the sigmoid's slope stays in: "
                    r"$(a_L - y)\, a_L (1 - a_L)$",
             "cross-entropy": r"for a softmax with cross-entropy it simplifies to $a_L - Y$, "
                              r"$Y$ the one-hot row of the class $y$"}[arch.loss].replace("_L", f"_{L}")
    batch = (" For a batch, $dz_l$ and $da_l$ hold one row a sample, and $dW_l$, $db_l$ are the "
             "means over the batch's samples (the gradients of the mean loss)." if run.batched else "")
    terms = [term for term, rate in ((r"l_1 \operatorname{sign}(W_l)", arch.l1), ("l_2 W_l", arch.l2))
             if rate]
    penalty = f" + {' + '.join(terms)}" if terms else ""
    penalty_words = " (the biases have no penalty)" if terms else ""
    return Cell("markdown", f"""## Backward pass

The chain rule, from the loss back to the first layer. At the output, $dz_{L} = \\partial L / \
\\partial z_{L}$: {delta}. Then for each layer $l$ from {L} down to 1:

- $dW_l = dz_l\\, a_{{l-1}}^T{penalty}$ and $db_l = dz_l${penalty_words};
- into the layer below: $da_{{l-1}} = W_l^T dz_l$, then $dz_{{l-1}} = da_{{l-1}} \\odot \
f'(z_{{l-1}})$, with $f'$ the derivative of {arch.activation}.{batch}""")


def backward_cell(run: Run) -> Cell:
    arch = run.arch
    x = "X" if run.batched else "x"
    lines = [f"def backward({x}, y, params, cache):", '    """',
             "    Returns the gradients " + ", ".join(f"d{n}" for n in arch.param_names) + ".",
             '    """',
             "    " + ", ".join(f"W{l}" for l in _layers(arch)) + " = "
             + ", ".join(f"params['W{l}']" for l in _layers(arch)),
             "    " + ", ".join(f"{k}{l}" for l in _layers(arch) for k in "za") + " = "
             + ", ".join(f"cache['{k}{l}']" for l in _layers(arch) for k in "za")]
    if run.batched:
        lines.append(f"    B = len({x})  # samples in the batch")
    lines += _output_delta_lines(run)
    for l in range(arch.depth, 0, -1):
        lines += _layer_gradient_lines(run, l)
    grads = ", ".join(f"'d{n}': d{n}" for n in arch.param_names)
    lines.append(f"    return {{{grads}}}")
    return Cell("code", "\n".join(lines))


def _output_delta_lines(run: Run) -> list[str]:
    """dz_L, the loss's slope at the output's pre-activation: a_L - y for BCE or softmax
    with cross-entropy (Y one-hot, built first), with the sigmoid's slope for squared error."""
    arch = run.arch
    L = arch.depth
    aL = f"a{L}"
    lines: list[str] = []
    if arch.classes > 1:
        if run.batched:
            lines += [f"    Y = np.zeros_like({aL})  # the one-hot rows of the classes y",
                      "    Y[np.arange(B), y] = 1.0"]
        else:
            lines += [f"    Y = np.zeros_like({aL})  # the one-hot row of the class y", "    Y[y] = 1.0"]
        target = "Y"
    else:
        target = "y.reshape(-1, 1)" if run.batched else "y"
    if arch.loss == "mse":
        lines.append(f"    # dL/dz{L}: the squared error's (a{L} - y) times the sigmoid's slope a(1 - a)")
        lines.append(f"    dz{L} = ({aL} - {target}) * {aL} * (1.0 - {aL})")
    else:
        what = ("sigmoid output with BCE, simplifies to a{L} - y" if arch.loss == "bce"
                else "softmax with cross-entropy, simplifies to a{L} - Y (Y one-hot)").format(L=L)
        lines.append(f"    # dL/dz{L}: for a {what}")
        lines.append(f"    dz{L} = {aL} - {target}")
    return lines


def _layer_gradient_lines(run: Run, l: int) -> list[str]:
    """Layer l's dW_l and db_l from dz_l (a batch's means), then, below the first layer's,
    da and dz of the layer under it."""
    arch = run.arch
    below = ("X" if run.batched else "x") if l == 1 else f"a{l - 1}"
    shape = f"({arch.sizes[l]}, {arch.sizes[l - 1]})"
    penalty = f" + penalty_gradient(W{l})" if arch.penalised else ""
    if run.batched:
        lines = [f"    dW{l} = dz{l}.T @ {below} / B{penalty}  # {shape}: the mean of dz{l} {below}^T"
                 + (", and the penalty's gradient once" if penalty else ""),
                 f"    db{l} = dz{l}.sum(axis=0) / B  # ({arch.sizes[l]},)"]
    else:
        lines = [f"    dW{l} = np.outer(dz{l}, {below}){penalty}  # {shape}",
                 f"    db{l} = dz{l}.copy()  # ({arch.sizes[l]},)"]
    if l > 1:
        back = f"dz{l} @ W{l}" if run.batched else f"W{l}.T @ dz{l}"
        f = arch.activation.replace("-", "_")
        lines += [f"    # Into hidden layer {l - 1}: da{l - 1} = W{l}^T dz{l}, then times "
                  f"{arch.activation}'(z{l - 1})",
                  f"    da{l - 1} = {back}  # {_shape(run, arch.sizes[l - 1])}",
                  f"    dz{l - 1} = da{l - 1} * {f}_derivative(z{l - 1})"]
    return lines


def gradcheck_markdown(run: Run) -> Cell:
    kink = (f" {run.arch.activation} has a kink at 0: where a unit's $z$ is within eps of it, the "
            "two nudges straddle the kink and the difference measures an average of two slopes, "
            "so a large error there is the method's, not the backward pass's."
            if run.arch.f.kinked else "")
    return Cell("markdown", f"""## Numerical gradient check

Central differences, element by element, as the seed notebook does: nudge one parameter by \
$+\\epsilon$ and $-\\epsilon$, run the forward pass each time, and take \
$(L^+ - L^-) / 2\\epsilon$. It needs no derivative at all, so it checks the backward pass. \
The relative error of each element is $|g - \\hat g| / \\max(|g|, |\\hat g|)$; \
about 1e-7 or less means the two agree (float64; a tiny gradient can show a larger relative \
error while the absolute difference stays near 1e-12).{kink}""")


def gradcheck_cell(run: Run) -> Cell:
    x = "X" if run.batched else "x"
    return Cell("code", f'''def numerical_gradient(params, {x}, y, eps=1e-5):
    """Central differences for every parameter, element by element."""
    num_grads = {{}}
    for name, value in params.items():
        num = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            orig = value[idx]
            value[idx] = orig + eps
            _, loss_plus = forward({x}, params, y)
            value[idx] = orig - eps
            _, loss_minus = forward({x}, params, y)
            num[idx] = (loss_plus - loss_minus) / (2 * eps)
            value[idx] = orig  # restored exactly
        num_grads['d' + name] = num
    return num_grads

def max_relative_error(grads, num_grads):
    """The largest |analytic - numerical| / max(|analytic|, |numerical|) over every element
    (a floor of 1e-12 in the denominator, so two zeros agree)."""
    worst = 0.0
    for name, num in num_grads.items():
        diff = np.abs(grads[name] - num)
        scale = np.maximum(np.abs(grads[name]), np.abs(num))
        worst = max(worst, float(np.max(diff / np.maximum(scale, 1e-12))))
    return worst''')


def _trained_with(run: Run) -> str:
    """The update rule in the title's words: the notebook's "plain SGD" by default."""
    return "plain SGD" if run.optimizer == "sgd" else run.title


def _decay_words(run: Run) -> str:
    if run.decay == 1:
        return ""
    epoch = ("an epoch (a pass over the training rows)" if run.batched
             else "a step (the one sample is all the data)")
    return (f" The learning rate decays by {run.decay!r} once {epoch}, as cs231n's Solver's `lr_decay` does: "
            "epoch e updates with $\\eta \\cdot \\text{decay}^{e-1}$.")


#: Each optimizer's rule in the notebook's markdown, cs231n's definitions.
RULE_MARKDOWN = {
    "momentum": "$v \\leftarrow \\mu v - \\eta\\, dW$, $W \\leftarrow W + v$ (cs231n's `sgd_momentum`)",
    "nesterov": "$v_{prev} = v$, $v \\leftarrow \\mu v - \\eta\\, dW$, "
                "$W \\leftarrow W - \\mu v_{prev} + (1 + \\mu) v$ "
                "(Nesterov's momentum, as cs231n's notes write it)",
    "rmsprop": "$s \\leftarrow \\beta_2 s + (1 - \\beta_2)\\, dW^2$, "
               "$W \\leftarrow W - \\eta\\, dW / (\\sqrt{s} + \\epsilon)$ "
               "(cs231n's `rmsprop`, its decay rate $\\beta_2$)",
    "adam": "$t \\leftarrow t + 1$, $m \\leftarrow \\beta_1 m + (1 - \\beta_1)\\, dW$, "
            "$v \\leftarrow \\beta_2 v + (1 - \\beta_2)\\, dW^2$, $\\hat m = m / (1 - \\beta_1^t)$, "
            "$\\hat v = v / (1 - \\beta_2^t)$, "
            "$W \\leftarrow W - \\eta\\, \\hat m / (\\sqrt{\\hat v} + \\epsilon)$ "
            "(cs231n's `adam`)",
}


def update_markdown(run: Run) -> Cell:
    if run.optimizer == "sgd":
        return Cell("markdown", f"""## SGD update

Every parameter takes a step against its gradient: $W \\leftarrow W - \\eta\\, dW$, \
$b \\leftarrow b - \\eta\\, db$, with learning rate $\\eta$ = {run.lr!r}.{_decay_words(run)}""")
    settings = ", ".join(f"{key} = {value!r}" for key, value in run.settings)
    return Cell("markdown", f"""## {run.title} update

Every parameter, with the state the optimizer keeps for it (zeros at the start, as cs231n \
starts it): {RULE_MARKDOWN[run.optimizer]}, with learning rate $\\eta$ = {run.lr!r} and {settings}.\
{_decay_words(run)}""")


#: Each optimizer's function over every parameter, cs231n's arithmetic operation for operation
#: (engine.maths.optimizers), so the notebook's numbers are the stepper's bit for bit.
RULE_CODE = {
    "momentum": '''def momentum_update(params, grads, state, lr, momentum):
    for name in params:
        v = momentum * state['v_' + name] - lr * grads['d' + name]
        state['v_' + name] = v
        params[name] = params[name] + v''',
    "nesterov": '''def nesterov_update(params, grads, state, lr, momentum):
    for name in params:
        v_prev = state['v_' + name]
        v = momentum * v_prev - lr * grads['d' + name]
        state['v_' + name] = v
        params[name] = params[name] + (-momentum * v_prev + (1 + momentum) * v)''',
    "rmsprop": '''def rmsprop_update(params, grads, state, lr, beta2, epsilon):
    for name in params:
        dw = grads['d' + name]
        s = beta2 * state['s_' + name] + (1 - beta2) * (dw ** 2)
        state['s_' + name] = s
        params[name] = params[name] - lr * dw / (np.sqrt(s) + epsilon)''',
    "adam": '''def adam_update(params, grads, state, lr, beta1, beta2, epsilon):
    state['t'] += 1  # counted before the bias correction
    t = state['t']
    for name in params:
        dw = grads['d' + name]
        state['m_' + name] = beta1 * state['m_' + name] + (1 - beta1) * dw
        m_hat = state['m_' + name] / (1 - beta1 ** t)
        state['v_' + name] = beta2 * state['v_' + name] + (1 - beta2) * (dw ** 2)
        v_hat = state['v_' + name] / (1 - beta2 ** t)
        params[name] = params[name] - lr * m_hat / (np.sqrt(v_hat) + epsilon)''',
}


def update_cell(run: Run) -> Cell:
    if run.optimizer == "sgd":
        return Cell("code", '''def sgd_update(params, grads, lr=0.1):
    for name in params:
        params[name] -= lr * grads['d' + name]''')
    moments = ", ".join(repr(m) for m in MOMENTS[run.optimizer])
    start = [f"state = {{m + '_' + name: np.zeros_like(value) for m in ({moments},)",
             "         for name, value in params.items()}  # the optimizer's state, zeros at the start"]
    if run.optimizer == "adam":
        start.append("state['t'] = 0")
    return Cell("code", "\n".join([RULE_CODE[run.optimizer], "", "", *start]))


def _update_call(run: Run) -> list[str]:
    """The run loop's update: the rule with its settings, the learning rate decayed to the epoch."""
    lines = []
    lr = "lr"
    if run.decay != 1:
        epoch = f"(step - 1) // {run.data.steps_per_epoch} + 1" if run.data is not None else "step"
        lines.append(f"    epoch = {epoch}")
        lr = "lr * decay ** (epoch - 1)"
    if run.optimizer == "sgd":
        return [*lines, f"    sgd_update(params, grads, lr={lr})"]
    settings = "".join(f", {key}={key}" for key, _ in run.settings)
    return [*lines, f"    {run.optimizer}_update(params, grads, state, lr={lr}{settings})"]


def run_markdown(run: Run) -> Cell:
    check = "the gradient check, " if run.gradcheck else ""
    batch = " on its batch" if run.batched else ""
    return Cell("markdown", f"""## Run the steps

Each step runs the four phases{batch}: the forward pass (printing the loss), the backward pass, \
{check}and the {run.title} update. After the last update, one more forward pass gives the final loss.""")


def run_cell(run: Run) -> Cell:
    x = "X[rows]" if run.batched else "x"
    y = "y[rows]" if run.batched else "y"
    lines = [f"lr = {run.lr!r}", *(f"{key} = {value!r}" for key, value in run.settings),
             *([f"decay = {run.decay!r}"] if run.decay != 1 else []),
             f"eps = {run.eps!r}", f"steps = {run.steps}", "", "for step in range(1, steps + 1):"]
    if run.batched:
        lines.append("    rows = batches[step - 1]  # this step's batch: rows of X")
    lines += [f"    cache, loss = forward({x}, params, {y})",
              "    if step == 1:",
              "        print('Initial loss:', loss)",
              "    else:",
              "        print(f'Loss before step {step}:', loss)",
              f"    grads = backward({x}, {y}, params, cache)"]
    if run.gradcheck:
        lines += [f"    num_grads = numerical_gradient(params, {x}, {y}, eps=eps)",
                  "    print('  gradient check, max relative error:', max_relative_error(grads, num_grads))"]
    lines += [*_update_call(run), "",
              f"_, final_loss = forward({x}, params, {y})",
              f"print('Final loss after ' + ('one {run.title} step:' if steps == 1 else f'{run.title} step "
              "{steps}:'), final_loss)"]
    if run.steps == 1 and not run.batched:
        lines += ["for name, value in params.items():",
                  "    print(f'\\nUpdated {name}:\\n', value)"]
    return Cell("code", "\n".join(lines))


def cells(run: Run) -> list[Cell]:
    """The notebook, in reading order."""
    if inlined_values(run) > MAX_INLINED:
        raise TooLarge(f"the run has {inlined_values(run):,} parameters and data values to write out, "
                       f"more than a notebook should hold ({MAX_INLINED:,})")
    return [title_cell(run), imports_cell(run),
            network_markdown(run), functions_cell(run),
            params_markdown(run), params_cell(run),
            data_markdown(run), data_cell(run),
            forward_markdown(run), forward_cell(run),
            backward_markdown(run), backward_cell(run),
            *([gradcheck_markdown(run), gradcheck_cell(run)] if run.gradcheck else []),
            update_markdown(run), update_cell(run),
            run_markdown(run), run_cell(run)]
