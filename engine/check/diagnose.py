"""What a failing gradient check's errors look like, and where they enter the backward pass.

Pure NumPy, run after a check that failed (GradCheck.diagnosis stays empty otherwise).

The reference: the gradient a correct backward gives. For the built-in network that is
engine.maths.network.backward without a drill, on the same cache; for a user's model whose
parameters are named and shaped as the architecture's (W1..WL, b1..bL) and whose loss
equals the built-in network's on the same parameters and sample, it is the built-in
backward too. Otherwise there is none, and the numerical gradient stands in for it (off
the kinks and the unresolved elements), with nothing said about where the error enters.

Where: backprop runs from the loss down, so along the path from the output to a tensor
(dzL, da(L-1), dz(L-1), ..., dz_l, then dW_l or db_l) the first value that differs from
the reference is where the error enters. The model's intermediates are compared where it
returns them (the built-in backward returns every dz_l and da_l); where it does not, dz_l
is taken as wrong when both dW_l and db_l are (each is computed from it).

What, per failing tensor, the first hypothesis the analytic gradient matches on every
compared element (within the check's tolerance, atol + rtol * max):
- zero: the analytic is 0 on every failing element, where the reference is not;
- sign: analytic = -reference;
- dead-units: the backward with the activation's derivative taken as 1 (the
  activation-grad drill), or one sigmoid output unit's σ′ taken as 1 (dz_L = dL/da_L);
  or, for relu / leaky-relu, the errors lie only in the rows of
  units whose pre-activation is <= 0;
- transpose: the backward with W in place of Wᵀ where W is square (the transpose drill);
- wrong-cache: dW_l = dz_l z_(l-1)ᵀ, the pre-activation in place of the activation a_(l-1)
  (the cache drill, at any layer);
- regularisation: a dW without the L2 term of a course's loss (cs231n's reg·W, nnfs's 2·reg·W),
  or without the built-in network's penalty gradient (l1·sign(W) + l2·W);
- penalty-not-in-loss: the built-in network's penalty gradient in dW while the loss computed
  leaves the penalty out (the penalty-loss drill): the reference is then the gradient of the
  loss actually computed, and the analytic dW is it plus the penalty's gradient;
- scale: analytic = c * reference for one constant c (the factor);
- cost: the model's loss is not the built-in network's, yet every failing tensor's analytic
  gradient is the built-in loss's: the backward differentiates a loss the forward pass does not
  compute, and the error enters at the loss;
- other: none of these; the worst elements are listed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from engine.check.verdicts import RTOL, Diagnosis, GradCheck, TensorCheck
from engine.maths import names, network, penalty
from engine.maths.fastcheck import Mask
from engine.maths.network import Architecture, Array, Labels, Params, Tensors
from engine.model.course_names import CS231N, DLAI, NIELSEN, NNFS, NOTEBOOK

#: Agreement of a user's loss with the built-in network's, for the built-in backward to serve
#: as the reference (the notebook's clipped BCE agrees to about 1e-16).
LOSS_RTOL = 1e-9
LOSS_ATOL = 1e-12
WORST_SHOWN = 3
#: The conventions whose files are compared with the built-in network through their own layout.
COURSES = (DLAI, CS231N, NIELSEN, NNFS)
#: The built-in network's losses, as a diagnosis names them.
LOSS_NAMES = {"bce": "the mean binary cross-entropy", "mse": "the mean squared error",
              network.SOFTMAX_LOSS: "the mean cross-entropy of a softmax"}
#: How the note that a model's loss is not the built-in network's begins.
LOSS_DIFFERS = "diagnosis: the model's loss"


def _close(a: Array, b: Array, atol: float, rtol: float = RTOL) -> Mask:
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ",".join(str(i) for i in idx) + "]"


def _rows(mask: Mask, limit: int = 8) -> str:
    """"row 2", "rows 0, 1, 4"."""
    rows = [str(int(i)) for i in np.flatnonzero(mask)]
    more = f", … ({len(rows)} in all)" if len(rows) > limit else ""
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(rows[:limit]) + more


def _square(arch: Architecture) -> list[int]:
    """Layers l >= 2 whose W_l is square, the output layer's included: where a forgotten
    transpose makes no shape error (W_1's transpose never runs: no da_0 is computed)."""
    return [l for l in range(2, arch.depth + 1) if arch.sizes[l] == arch.sizes[l - 1]]


def _down(arch: Architecture, params: Params, x: Array, cache: Tensors, out: Tensors, top: int,
          da: Array) -> Tensors:
    """The chain rule as it is from da_top down to layer 1, into `out`. A batch's rows are its
    samples."""
    batch = np.ndim(x) == 2
    for k in range(top, 0, -1):
        out[f"da{k}"] = da
        dz = da * arch.f.derivative(cache[f"z{k}"])
        out[f"dz{k}"] = dz
        a_prev = x if k == 1 else cache[f"a{k - 1}"]
        out[f"dW{k}"] = dz.T @ a_prev / len(dz) if batch else np.outer(dz, a_prev)
        out[f"db{k}"] = dz.sum(axis=0) / len(dz) if batch else dz.copy()
        da = dz @ params[f"W{k}"] if batch else params[f"W{k}"].T @ dz
    return out


def _forgotten_at(arch: Architecture, params: Params, x: Array, y: Labels, cache: Tensors,
                  l: int) -> Tensors:
    """network.backward with da_(l-1) = W_l dz_l (no transpose) at layer l alone: the true
    pass above layer l, the chain rule as it is below it."""
    out = dict(network.backward(arch, x, y, params, cache))
    dz, W = out[f"dz{l}"], params[f"W{l}"]
    return _down(arch, params, x, cache, out, l - 1, dz @ W.T if np.ndim(x) == 2 else W @ dz)


def _output_unit(arch: Architecture, params: Params, x: Array, y: Labels, cache: Tensors) -> Tensors:
    """network.backward of one sigmoid output unit with its σ′ taken as 1: dz_L = dL/da_L (the
    true dz_L over a_L(1 - a_L)), every other line true."""
    out = dict(network.backward(arch, x, y, params, cache))
    L, batch = arch.depth, np.ndim(x) == 2
    a = cache[f"a{L}"]
    with np.errstate(all="ignore"):
        dz = out[f"dz{L}"] / (a * (1.0 - a))
    a_prev = x if L == 1 else cache[f"a{L - 1}"]
    out[f"dz{L}"] = dz
    out[f"dW{L}"] = dz.T @ a_prev / len(dz) if batch else np.outer(dz, a_prev)
    out[f"db{L}"] = dz.sum(axis=0) / len(dz) if batch else dz.copy()
    if L == 1:
        return out
    W = params[f"W{L}"]
    return _down(arch, params, x, cache, out, L - 1, dz @ W if batch else W.T @ dz)


class _Reference:
    """The true backward (and the drills' backwards) of the built-in network on this sample.

    For a course's file (engine.model.conventions) `params` are the built-in network's copy of
    its parameters, `convert` turns the built-in gradients into the file's layout (its dW,
    db shapes, and its regularisation term), `extra` is the regularisation its loss adds,
    and `unit_axis` says which axis of each parameter runs over the layer's units."""

    def __init__(self, arch: Architecture, params: Params, x: Array, y: Labels,
                 convert: Callable[[Tensors], Tensors] | None = None, extra: float = 0.0,
                 unit_axis: dict[str, int] | None = None) -> None:
        self.arch, self.params, self.x, self.y = arch, params, x, y
        self._convert = convert or (lambda grads: grads)
        self.unit_axis = unit_axis or {}
        #: Hypotheses of the file's convention: (kind, predicted gradient, what it says) by name.
        self.extra: dict[str, list[tuple[str, Array, str]]] = {}
        with np.errstate(all="ignore"):
            self.cache, loss = network.forward(arch, x, params, y)
            self.loss = loss + extra
            self.true = self._convert(network.backward(arch, x, y, params, self.cache))
        self._drills: dict[str, Tensors] = {}

    def drill(self, bug: str) -> Tensors:
        if bug not in self._drills:
            with np.errstate(all="ignore"):
                self._drills[bug] = self._convert(network.backward(
                    self.arch, self.x, self.y, self.params, self.cache, bug))
        return self._drills[bug]

    def forgotten(self, l: int) -> Tensors:
        """The backward with W_l in place of W_lᵀ (W_l square), every other line true:
        da_(l-1) = W_l dz_l, and from there down the chain rule as it is."""
        key = f"transpose{l}"
        if key not in self._drills:
            with np.errstate(all="ignore"):
                self._drills[key] = self._convert(
                    _forgotten_at(self.arch, self.params, self.x, self.y, self.cache, l))
        return self._drills[key]

    def output_unit(self) -> Tensors:
        """The backward with the output sigmoid's σ′ taken as 1 (_output_unit)."""
        if "output-unit" not in self._drills:
            with np.errstate(all="ignore"):
                self._drills["output-unit"] = self._convert(
                    _output_unit(self.arch, self.params, self.x, self.y, self.cache))
        return self._drills["output-unit"]

    def rows(self, name: str, wrong: Mask) -> Mask:
        """The units (of the layer `name` belongs to) with a wrong element."""
        if wrong.ndim == 1:
            return wrong
        axis = self.unit_axis.get(name, 0)
        return np.asarray(wrong.any(axis=tuple(i for i in range(wrong.ndim) if i != axis)), dtype=bool)


#: A course's reference network: its architecture, the built-in copy of the file's
#: parameters, the conversion of the built-in gradients to the file's layout, the loss's
#: regularisation and the units' axes (what _Reference takes).
Course = tuple[Architecture, Params, Callable[[Tensors], Tensors], float, dict[str, int]]

#: How every "no reference" note ends: what the diagnosis does without one.
NO_REFERENCE = ("so there is no reference backward: kinds come from the numerical gradient and "
                "where the error enters is not told")


def _as_expected(params: Params, expected: dict[str, tuple[int, ...]],
                 rows: bool = False) -> dict[str, tuple[int, ...]] | None:
    """The file's own shapes when its parameters are exactly the expected ones by name (in
    any order) and shape, a bias written as a row (1, n) accepted where `rows`; else None."""
    if set(params) != set(expected):
        return None
    from engine.model import conventions  # a course file only: engine.model.course_names says why

    shapes = conventions.row_bias(params, expected) if rows else expected
    if any(np.shape(params[n]) != shape for n, shape in shapes.items()):
        return None
    return shapes


def _dlai_course(arch: Architecture, params: Params) -> Course | None:
    """deeplearning.ai's W (n_l, n_(l-1)) is the built-in's; its b (n_l, 1) the built-in's (n_l,)."""
    from engine.model import conventions  # a course file only: engine.model.course_names says why

    expected = conventions.expected_dlai(arch.sizes)
    if _as_expected(params, expected) is None:
        return None
    mapped = {n: np.reshape(params[n], -1) if n.startswith("b") else params[n] for n in expected}

    def to_dlai(grads: Tensors) -> Tensors:
        return {**grads, **{f"d{n}": np.reshape(grads[f"d{n}"], expected[n])
                            for n in expected if f"d{n}" in grads}}

    return arch, mapped, to_dlai, 0.0, {}


def _dlai_courses(arch: Architecture, params: Params) -> list[Course]:
    """deeplearning.ai's hidden layers are ReLU (the L-layer assignment) or tanh (the planar
    one), whatever --activation says: the network with the given activation first, then
    the others."""
    activations = dict.fromkeys((arch.activation, "relu", "tanh", "sigmoid"))
    courses = (_dlai_course(replace(arch, activation=f), params) for f in activations)
    return [course for course in courses if course is not None]


def _rows_course(arch: Architecture, params: Params, reg: float, half: bool,
                 sigmoid: bool) -> Course | None:
    """A rows layout's net (cs231n, nnfs): W (n_(l-1), n_l) the built-in's transposed, b (n_l,)
    or (1, n_l) the built-in's (n_l,), a softmax of max(2, classes) out (or, where `sigmoid`,
    one sigmoid unit with binary cross-entropy), and the loss's L2 term: 0.5 * reg * sum(W ** 2)
    where `half` (cs231n: each dW gains reg * W), reg * sum(W ** 2) otherwise (nnfs: 2 reg W).
    The parameters are matched by name, in whatever order."""
    out = Architecture(arch.inputs, arch.hidden, arch.activation, 1, "bce") if sigmoid else \
        Architecture(arch.inputs, arch.hidden, arch.activation, max(2, arch.classes), network.SOFTMAX_LOSS)
    from engine.model import conventions  # a course file only: engine.model.course_names says why

    expected = conventions.expected_cs231n(out.sizes)
    if sigmoid:
        expected[f"W{out.depth}"], expected[f"b{out.depth}"] = (out.sizes[-2], 1), (1,)
    shapes = _as_expected(params, expected, rows=True)
    if shapes is None:
        return None
    mapped = {n: np.transpose(params[n]) if n.startswith("W") else np.reshape(params[n], -1)
              for n in out.param_names}
    weights = [n for n in out.param_names if n.startswith("W")]
    c = 0.5 * reg if half else reg
    extra = c * sum(float(np.sum(np.square(params[n]))) for n in weights)

    def to_rows(grads: Tensors) -> Tensors:
        converted = dict(grads)
        for n in out.param_names:
            if f"d{n}" not in grads:
                continue
            if n.startswith("W"):
                converted[f"d{n}"] = np.transpose(grads[f"d{n}"]) + 2 * c * params[n]
            else:
                converted[f"d{n}"] = np.reshape(grads[f"d{n}"], shapes[n])
        return converted

    return out, mapped, to_rows, extra, dict.fromkeys(weights, 1)


def _cs231n_course(arch: Architecture, params: Params, reg: float) -> Course | None:
    """cs231n's W (n_(l-1), n_l) is the built-in's transposed, its b (n_l,) or (1, n_l) the
    built-in's (n_l,), its output a softmax, and its loss adds 0.5 * reg * sum(W ** 2) (so
    each dW gains reg * W). The parameters are matched by name, in whatever order."""
    return _rows_course(arch, params, reg, half=True, sigmoid=False)


def _nnfs_courses(arch: Architecture, params: Params, reg: float) -> list[Course]:
    """Neural Networks from Scratch: cs231n's layout with (1, n) biases, ReLU hidden layers, a
    softmax with cross-entropy or (an output W of one column) one sigmoid unit with binary
    cross-entropy, and Layer_Dense's L2 loss reg * sum(W ** 2), without cs231n's 0.5."""
    L = len(arch.hidden) + 1
    last = params.get(f"W{L}")
    sigmoid = last is not None and np.ndim(last) == 2 and np.shape(last)[1] == 1
    course = _rows_course(replace(arch, activation="relu"), params, reg, half=False, sigmoid=sigmoid)
    return [] if course is None else [course]


def _nielsen_courses(arch: Architecture, params: Params) -> list[Course]:
    """Nielsen's Network: deeplearning.ai's layout, sigmoid in every layer. The built-in network
    has his costs for one output unit only: network.py's |a - y|²/2 is its "mse", network2's
    CrossEntropyCost its "bce" (whichever the file's loss agrees with is the reference); for K
    output units both costs sum K sigmoid units' costs, which no built-in loss does (its K >= 2
    is a softmax), so there is none."""
    if arch.sizes[-1] != 1:
        return []
    out = []
    for loss in ("mse", "bce"):
        course = _dlai_course(replace(arch, activation="sigmoid", classes=1, loss=loss), params)
        if course is not None:
            out.append(course)
    return out


def _courses(arch: Architecture, params: Params, convention: str, reg: float) -> list[Course]:
    """The built-in networks that may compute a course's 2-layer (or deeper) net (the first
    whose loss agrees with the file's is the reference), each with its copy of the parameters,
    the conversion of its gradients to the file's layout, the loss's regularisation and the
    units' axes; none when the parameters are not the course's."""
    if convention == NIELSEN:
        return _nielsen_courses(arch, params)
    if convention == NNFS:
        return _nnfs_courses(arch, params, reg)
    if convention == DLAI:
        return _dlai_courses(arch, params)
    course = _cs231n_course(arch, params, reg) if convention == CS231N else None
    return [] if course is None else [course]


def _loss_differs(loss: float, ref: _Reference, label: str, over: str) -> str | None:
    """Why the built-in backward cannot be the reference of a model whose loss is not the
    built-in network's (`over`: "sample" or "batch"); None when the losses agree."""
    if abs(ref.loss - loss) <= LOSS_ATOL + LOSS_RTOL * abs(ref.loss):
        return None
    return (f"{LOSS_DIFFERS} ({loss!r}) differs from the built-in {label} network's "
            f"({ref.loss!r}) on the same parameters and {over}, {NO_REFERENCE}")


def _course_reference(arch: Architecture, params: Params, x: Array, y: Labels, loss: float,
                      convention: str, reg: float) -> tuple[_Reference | None, str | None]:
    """reference_for a course's file, through its own layout (_courses)."""
    courses = _courses(arch, params, convention, reg)
    if not courses:
        return None, (f"diagnosis: the model's parameters are not the {arch.label} network's in the "
                      f"{convention} convention's shapes, {NO_REFERENCE}")
    first: str | None = None
    for ref_arch, mapped, convert, extra, axes in courses:
        ref = _Reference(ref_arch, mapped, x, y, convert, extra, axes)
        why = _loss_differs(loss, ref, ref_arch.label, "batch")
        if why is None:
            _regularisation(ref, params, convention, reg)
            return ref, None
        first = first or why
    return None, first


def _regularisation(ref: _Reference, params: Params, convention: str, reg: float) -> None:
    """The hypothesis of a dW without its L2 term (cs231n's reg·W, nnfs's 2·reg·W)."""
    if convention not in (CS231N, NNFS) or reg <= 0:
        return
    c, term = (reg, "reg·") if convention == CS231N else (2 * reg, "2·reg·")
    for name in params:
        if name.startswith("W"):
            ref.extra[name] = [("regularisation", ref.true[f"d{name}"] - c * params[name],
                                f"matches d{name} without its regularisation term "
                                f"{term}{name} (reg = {reg:g})")]


def _builtin_reference(arch: Architecture, params: Params, x: Array, y: Labels, loss: float) -> _Reference:
    """The built-in backward, of the loss the model computed: with the weights' penalty, the
    network as it is, its dW's hypothesis of a penalty gradient left out ("regularisation");
    where the loss is the one without the penalty (the penalty-loss drill), the network
    without it, its dW's hypothesis of the penalty's gradient added ("penalty-not-in-loss")."""
    ref = _Reference(arch, params, x, y)
    if not arch.penalised:
        return ref
    terms = " + ".join(term for term, rate in (("l1·sign({0})", arch.l1), ("l2·{0}", arch.l2)) if rate)
    rates = f"l1 = {arch.l1:g}, l2 = {arch.l2:g}"
    plain = _Reference(arch.unpenalised(), params, x, y)
    if _loss_differs(loss, ref, arch.label, "sample") is None or _loss_differs(loss, plain, arch.label,
                                                                               "sample") is not None:
        L = arch.depth
        for name in arch.param_names[::2]:  # the weights: where the penalty's gradient is
            ref.extra[name] = [
                ("regularisation", ref.true[f"d{name}"] - _penalty(arch, params[name]),
                 f"matches d{name} without its penalty term {terms.format(name)} ({rates})"),
                # The drills whose dW the penalty's term hides from _plain and the generic forms.
                ("sign", ref.drill("sign")[f"d{name}"], f"matches dz{L} negated (y − a{L}): the data "
                 f"term of d{name} points uphill (its penalty term {terms.format(name)} is right)"),
                ("wrong-cache", ref.drill("cache")[f"d{name}"], f"matches dW{L} = dz{L}·z{L - 1}ᵀ "
                 f"+ {terms.format(name)}: the pre-activation z{L - 1} in place of the activation "
                 f"a{L - 1}")]
        return ref
    for name in arch.param_names[::2]:
        plain.extra[name] = [("penalty-not-in-loss", plain.true[f"d{name}"] + _penalty(arch, params[name]),
                              f"analytic − true = {terms.format(name)} on every element: the penalty is "
                              f"in the gradient but not in the loss ({rates})")]
    return plain


def _penalty(arch: Architecture, W: Array) -> Array:
    return penalty.gradient(arch.l1, arch.l2, np.asarray(W, dtype=np.float64))


def _not_the_network(arch: Architecture, params: Params) -> str | None:
    """Why a notebook-style model's parameters are not the architecture's W1..WL, b1..bL
    (names in any order, then shapes); None when they are."""
    names = tuple(params)
    if set(names) != set(arch.param_names):
        return (f"diagnosis: the model's parameters ({', '.join(names)}) are not the {arch.label} "
                f"network's ({', '.join(arch.param_names)}), {NO_REFERENCE}")
    expected: dict[str, tuple[int, ...]] = {}
    for l, (m, n) in enumerate(zip(arch.sizes, arch.sizes[1:], strict=False), start=1):
        expected[f"W{l}"], expected[f"b{l}"] = (n, m), (n,)
    if any(np.shape(params[name]) != shape for name, shape in expected.items()):
        return f"diagnosis: the model's parameter shapes are not the {arch.label} network's, {NO_REFERENCE}"
    return None


def reference_for(arch: Architecture, params: Params, x: Array, y: Labels, loss: float,
                  builtin: bool, convention: str = NOTEBOOK,
                  reg: float = 0.0) -> tuple[_Reference | None, str | None]:
    """The built-in backward as the reference, or None and why not (for a user's model).

    A course's file (deeplearning-ai, cs231n, nielsen, nnfs) is compared with the built-in
    network of the same architecture through its own layout: deeplearning.ai's b (n, 1) is the
    built-in's (n,); cs231n's W (n_(l-1), n_l) the built-in's transposed, its output a softmax
    of max(2, classes), and its loss with 0.5 * reg * sum(W ** 2) added (the assignment's
    convention; the gradient's reg * W); Nielsen's is deeplearning.ai's with sigmoid layers and
    one output unit ("mse" for |a - y|²/2, "bce" for CrossEntropyCost); nnfs's is cs231n's with
    ReLU layers, a softmax or one sigmoid unit, and reg * sum(W ** 2) (gradient 2 reg W)."""
    if builtin:
        return _builtin_reference(arch, params, x, y, loss), None
    if convention in COURSES:
        return _course_reference(arch, params, x, y, loss, convention, reg)
    why = _not_the_network(arch, params)
    if why is not None:
        return None, why
    ref = _Reference(arch, params, x, y)
    why = _loss_differs(loss, ref, arch.label, "sample")
    return (ref, None) if why is None else (None, why)


def _shadows(arch: Architecture, params: Params, x: Array, y: Labels, convention: str,
             reg: float) -> list[_Reference]:
    """The references a model would have if its loss were the built-in network's: one for each
    layout its convention allows (a deeplearning.ai file's activations)."""
    if convention in COURSES:
        return [_Reference(a, mapped, x, y, convert, extra, axes)
                for a, mapped, convert, extra, axes in _courses(arch, params, convention, reg)]
    return [] if _not_the_network(arch, params) else [_Reference(arch, params, x, y)]


def _cost(check: GradCheck, shadows: list[_Reference], loss: float) -> tuple[Diagnosis, ...] | None:
    """When every failing tensor's analytic gradient is the built-in network's loss's, and
    the model's own loss is another, the backward pass differentiates a loss the forward pass
    does not compute: the bug is where the two part, in the loss (a deeplearning.ai file's
    compute_cost), whatever the gradients look like against the numerical ones."""
    for ref in shadows:
        if all(_is_true(check.tensors[name], name, ref, check.atol) for name in check.failed_names):
            says = (f"matches the gradient of {LOSS_NAMES.get(ref.arch.loss, ref.arch.loss)} ({ref.loss:.6g} "
                    f"on this batch), while the model's own loss is {loss:.6g}{_times(loss, ref.loss)}: the "
                    "backward pass "
                    "differentiates another loss than the forward pass computes; enters at the loss")
            return tuple(Diagnosis(name, "cost", says, None, "the loss") for name in check.failed_names)
    return None


def _times(loss: float, true: float) -> str:
    """" (16 × it)" when the model's loss is a constant multiple of the true one, as a batch's
    sum is of its mean; "" otherwise."""
    ratio = loss / true if true else math.inf
    return f" ({ratio:.4g} × it)" if math.isfinite(ratio) and ratio > 0 else ""


def _is_true(t: TensorCheck, name: str, ref: _Reference, atol: float) -> bool:
    """Whether the analytic gradient is the reference's true one on every element."""
    expected, compared, _ = _expected(name, t, ref)
    return bool(compared.any() and _close(t.analytic[compared], expected[compared], atol).all())


def _path(arch: Architecture, name: str) -> list[str]:
    """The backward's values from the loss down to the gradient of `name`."""
    l = names.layer(name)
    out = []
    for k in range(arch.depth, l - 1, -1):
        out.append(f"dz{k}")
        if k > l:
            out.append(f"da{k - 1}")
    return [*out, f"d{name}"]


def enters(arch: Architecture, name: str, grads: Tensors, ref: _Reference, atol: float) -> str | None:
    """The first value on the path from the loss to d`name` that differs from the reference."""
    for value in _path(arch, name):
        mine = grads.get(value)
        if mine is None or np.shape(mine) != np.shape(ref.true[value]):
            parsed = names.parse(value)
            if parsed is not None and parsed.symbol == "dz":  # a dz not returned is wrong when
                l = parsed.layer  # both gradients made from it are
                both = [grads.get(f"d{p}{l}") for p in "Wb"]
                if all(g is not None and np.shape(g) == np.shape(ref.true[f"d{p}{l}"]) and
                       not _close(np.asarray(g, dtype=np.float64), ref.true[f"d{p}{l}"], atol).all()
                       for g, p in zip(both, "Wb", strict=True)):
                    return value
            continue
        if not _close(np.asarray(mine, dtype=np.float64), ref.true[value], atol).all():
            return value
    return None


def _forgot(layers: list[int]) -> str:
    return "matches " + ", ".join(f"da{k - 1} = W{k}·dz{k} instead of W{k}ᵀ·dz{k}" for k in layers)


def _transposes(arch: Architecture, name: str, ref: _Reference) -> list[tuple[Array, str, str]]:
    """The forgotten transposes' (gradient of `name`, what it says, the da it enters at):
    the transpose drill's (every square hidden-to-hidden W at once), then each square W's
    alone, the output layer's included (a softmax over as many classes as the last hidden
    layer has units)."""
    out: list[tuple[Array, str, str]] = []
    if arch.square_layers():
        layers = arch.square_layers()
        out.append((ref.drill("transpose")[f"d{name}"], _forgot(layers), f"da{max(layers) - 1}"))
    for l in _square(arch):
        if [l] != arch.square_layers():
            out.append((ref.forgotten(l)[f"d{name}"], _forgot([l]), f"da{l - 1}"))
    return out


def _hypotheses(arch: Architecture, name: str, ref: _Reference) -> list[tuple[str, Array, str]]:
    """(kind, the gradient the hypothesis predicts for `name`, what it says)."""
    out: list[tuple[str, Array, str]] = list(ref.extra.get(name, []))
    parsed = names.parse(name)
    l = names.layer(name)
    f = arch.f
    out.append(("dead-units", ref.drill("activation-grad")[f"d{name}"],
                f"matches {f.symbol}′ taken as 1" + (" (dead units pass gradient)" if f.kinked else "")))
    out.extend(("transpose", predicted, says) for predicted, says, _ in _transposes(arch, name, ref))
    if arch.classes == 1:
        out.append(("dead-units", ref.output_unit()[f"d{name}"],
                    f"matches the output's σ′ taken as 1: dz{arch.depth} = dL/da{arch.depth}"))
    if parsed is not None and parsed.kind == "W" and l >= 2:
        dz = ref.true[f"dz{l}"]
        out.append(("wrong-cache", np.outer(dz, ref.cache[f"z{l - 1}"]),
                    f"matches dW{l} = dz{l}·z{l - 1}ᵀ: the pre-activation z{l - 1} in place of "
                    f"the activation a{l - 1}"))
    return out


def _worst(check: TensorCheck, compared: Mask, expected: Array, atol: float, what: str) -> str:
    a = check.analytic
    with np.errstate(invalid="ignore", over="ignore"):
        excess = np.abs(a - expected) / (atol + RTOL * np.maximum(np.abs(a), np.abs(expected)))
    excess = np.where(compared, np.nan_to_num(excess, nan=np.inf), -np.inf)
    order = np.argsort(excess, axis=None)[::-1][:WORST_SHOWN]
    parts = []
    for flat in order:
        idx = tuple(int(i) for i in np.unravel_index(int(flat), a.shape))
        if excess[idx] <= 1:
            break
        parts.append(f"{check.name}{_index(idx)} analytic {a[idx]:.6g}, {what} {expected[idx]:.6g}")
    return "worst: " + "; ".join(parts) if parts else "no element differs beyond the tolerance"


#: What classify finds of one failing tensor: (kind, detail, factor).
Kind = tuple[str, str, float | None]


def classify(check: TensorCheck, expected: Array, compared: Mask, atol: float, what: str,
             arch: Architecture | None, ref: _Reference | None) -> Kind:
    """(kind, detail, factor) of one failing tensor, against `expected` on `compared`: the
    first hypothesis that holds, in the order the module's docstring lists them (the drills
    and the dead units need the reference: `arch` and `ref`)."""
    if not compared.any():  # diverged: there is nothing to hold the analytic gradient against
        return "other", (f"no element of the {what} gradient is finite (the values overflowed): "
                         "nothing to compare the analytic one with"), None
    wrong = compared & ~_close(check.analytic, expected, atol)
    found = _plain(check, expected, compared, wrong, atol, what)
    if found is None and arch is not None and ref is not None:
        found = _drilled(check, wrong, atol, arch, ref)
    if found is None:
        found = _scaled(check, expected, compared, wrong, atol, what)
    if found is None and arch is not None and ref is not None:
        found = _dead_units(check, wrong, arch, ref)
    return found or ("other", _worst(check, compared, expected, atol, what), None)


def _plain(check: TensorCheck, expected: Array, compared: Mask, wrong: Mask, atol: float,
           what: str) -> Kind | None:
    """Nothing wrong after all, a zero gradient, or the sign flipped: what needs no reference."""
    a = check.analytic
    if not wrong.any():
        return "other", (f"the analytic gradient equals the {what} gradient: the numerical one "
                         "is off (eps, precision, or kinks)"), None
    if (np.abs(a[wrong]) <= atol).all() and (np.abs(expected[wrong]) > atol).all():
        every = "every element" if wrong.all() else f"{int(wrong.sum())} of {wrong.size} elements"
        return "zero", f"analytic 0 where the {what} gradient is not ({every})", None
    if _close(a[compared], -expected[compared], atol).all():
        return "sign", f"analytic = −{what} on every element: the gradient points uphill", None
    return None


def _drilled(check: TensorCheck, wrong: Mask, atol: float, arch: Architecture,
             ref: _Reference) -> Kind | None:
    """The first of the known bugs' gradients (_hypotheses) the analytic one equals, where
    that bug changes this tensor at all."""
    a = check.analytic
    for kind, predicted, says in _hypotheses(arch, check.name, ref):
        if np.shape(predicted) != np.shape(a):  # a hypothesis made for one sample's shapes
            continue
        if not _close(predicted, ref.true[f"d{check.name}"], atol).all() and \
                _close(a, predicted, atol).all():
            if kind == "dead-units" and not says.startswith("matches the output's"):
                says = _dead_rows(arch, check.name, ref, wrong, says)
            return kind, says, None
    return None


def _scaled(check: TensorCheck, expected: Array, compared: Mask, wrong: Mask, atol: float,
            what: str) -> Kind | None:
    """One constant factor between the analytic gradient and the expected one, everywhere."""
    a = check.analytic
    failing = check.failing & compared
    scale = np.abs(expected) > atol
    basis = wrong & scale if (wrong & scale).any() else failing & scale
    if basis.any():
        factor = float(np.median(a[basis] / expected[basis]))
        matches = _close(a[compared], factor * expected[compared], atol).all()
        if factor != 0 and np.isfinite(factor) and matches:
            return "scale", f"analytic = {factor:.6g} × {what} on every element", factor
    return None


def _dead_units(check: TensorCheck, wrong: Mask, arch: Architecture, ref: _Reference) -> Kind | None:
    """Errors only in the rows of units at or below a kinked activation's kink."""
    if arch.f.kinked:
        l = names.layer(check.name)
        if l < arch.depth:
            dead = ref.cache[f"z{l}"] <= 0
            rows: Mask = ref.rows(check.name, wrong)
            if rows.any() and not (rows & ~dead).any():
                return "dead-units", (f"errors only in {_rows(rows)} of units with z{l} <= 0: "
                                      f"{arch.f.symbol}′ of a unit at or below its kink"), None
    return None


def _dead_rows(arch: Architecture, name: str, ref: _Reference, wrong: Mask, says: str) -> str:
    """The activation-grad hypothesis's sentence, led by where the dead units are."""
    l = names.layer(name)
    if not arch.f.kinked or l >= arch.depth:
        return says
    dead = ref.cache[f"z{l}"] <= 0
    rows: Mask = ref.rows(name, wrong)
    if rows.any() and not (rows & ~dead).any():
        return f"errors only in {_rows(rows)} of units with z{l} <= 0: {says}"
    return f"{says}, in this layer or a later one"


def diagnose(check: GradCheck, grads: Tensors, arch: Architecture, params: Params, x: Array,
             y: Labels, loss: float, builtin: bool, convention: str = NOTEBOOK,
             reg: float = 0.0) -> GradCheck:
    """The check with its diagnosis (and a note when a user's model has no reference);
    the check itself when nothing failed."""
    failed = check.failed_names
    if not failed:
        return check
    ref, why = reference_for(arch, params, x, y, loss, builtin, convention, reg)
    if ref is None and why is not None and why.startswith(LOSS_DIFFERS):
        cost = _cost(check, _shadows(arch, params, x, y, convention, reg), loss)
        if cost is not None:
            return replace(check, diagnosis=cost)
    if ref is not None:
        arch = ref.arch  # a cs231n file's softmax output, a deeplearning.ai file's tanh
    if convention == DLAI:  # its dA1, dZ1 (columns) as the built-in's da1, dz1
        from engine.model import conventions  # a course file only: engine.model.course_names says why

        grads = {**grads, **conventions.builtin_gradients(grads, arch.depth)}
    notes = check.notes if why is None else (*check.notes, why)
    passing = [name for name, t in check.tensors.items() if t.verdict == "pass"]
    entries = [_diagnosis(name, check.tensors[name], grads, arch, ref, check.atol, passing)
               for name in failed]
    return replace(check, diagnosis=tuple(entries), notes=notes)


def _expected(name: str, t: TensorCheck, ref: _Reference | None) -> tuple[Array, Mask, str]:
    """What the analytic gradient is held against, where, and its name: the reference's
    true gradient, or else the numerical one off its kinks and unresolved elements."""
    if ref is not None:
        expected = np.asarray(ref.true[f"d{name}"], dtype=np.float64).reshape(t.analytic.shape)
        return expected, np.isfinite(expected), "true"
    return t.numerical, ~t.kinks & ~t.unresolved & np.isfinite(t.numerical), "numerical"


def _unused(name: str, t: TensorCheck, atol: float, referenced: bool) -> str | None:
    """The loss does not move with `name` at all (a numerical gradient of 0 on every element,
    off the kinks) while the backward gives it a gradient: the forward pass leaves `name` out
    (a reference network agrees on the loss only while `name` is 0, a bias at its start)."""
    off = ~t.kinks & ~t.unresolved & np.isfinite(t.numerical)
    if not off.any() or not (np.abs(t.numerical[off]) <= atol).all() or \
            not (np.abs(t.analytic[off]) > atol).any():
        return None
    who = "the reference network's loss does, and the analytic gradient says so too" if referenced \
        else "the analytic gradient says it does"
    return (f"the loss does not change with {name} (its numerical gradient is 0 on every element), "
            f"though {who}: does the forward pass use {name}?")


def _where(arch: Architecture, name: str, grads: Tensors, ref: _Reference, atol: float, kind: str,
           detail: str) -> str | None:
    """Where the error enters: a forgotten transpose at the da it computes (a model that returns
    no intermediates shows it first in dz), anything else at the first value that differs."""
    found = enters(arch, name, grads, ref, atol)
    if kind == "transpose":
        return next((entry for _, says, entry in _transposes(arch, name, ref) if says == detail), found)
    return found


def _diagnosis(name: str, t: TensorCheck, grads: Tensors, arch: Architecture, ref: _Reference | None,
               atol: float, passing: list[str]) -> Diagnosis:
    """One failing tensor's kind, where its error enters, and which layers above it pass."""
    expected, compared, what = _expected(name, t, ref)
    kind, detail, factor = classify(t, expected, compared, atol, what,
                                    arch if ref is not None else None, ref)
    unused = _unused(name, t, atol, ref is not None) if kind == "other" else None
    detail = unused or detail
    where = None if ref is None or not compared.any() or unused else _where(arch, name, grads, ref, atol,
                                                                             kind, detail)
    if where is not None:
        detail += f"; enters at {where}"
    if ref is not None and passing:
        above = [p for p in passing if names.layer(p) > names.layer(name)]
        if above:
            detail += f" ({', '.join(above)} pass)"
    return Diagnosis(name, kind, detail, factor, where)
