"""Every setting, declared once: its key, its kind (how its text is read and what a TOML
file may hold), its default, its flag, its TOML key, its form field, its metavar and one
line of help.

The command line's parser (tui.cli.parser), the TOML file's reader (tui.cli.configfile), the
app's config form (tui.app.screens.config) and the documentation's reference tables
(tui.cli.reference) are made from this table; none of them lists a setting of its own. The
rules between settings are engine.settings.rules.

A key is spelled with hyphens ("test-fraction"); a Config field is the key with
underscores. The order is the order of `--help`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.check.verdicts import METHODS
from engine.maths.features import FEATURES, split
from engine.maths.network import ACTIVATIONS, BINARY_LOSSES, INITS
from engine.maths.optimizers import BUGS, OPTIMIZERS
from engine.settings.bounds import (
    DATASETS,
    FORMATS,
    JSON_ARRAYS_MAX,
    MAX_CLASSES,
    MAX_INPUTS,
    MAX_LAYERS,
    MAX_MODEL_TIMEOUT,
    MAX_NOISE,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_STEPS,
    MAX_TEST_FRACTION,
    MODEL_MEMORY_BOUNDS,
    MODEL_MEMORY_MB,
    MODEL_TIMEOUT,
    SUMMARY_OVER,
    TRACES,
)
from engine.settings.text import real, reals, shown, text_value, whole, wholes, word, yes_no


@dataclass(frozen=True)
class Kind:
    """What a setting's value is: how its text is read, and what a TOML file may hold."""

    parse: Callable[[str], Any] | None  # text to value, ValueError for text not of this kind
    expected: str  # what parse wants, for its error message
    toml: tuple[type, ...]  # the TOML types a file may give
    toml_words: str  # those types, as a message names them
    #: Whether the command line reads the flag's text with `parse`; names and file names
    #: are taken as typed, and the rules refuse what is not one of them.
    on_command_line: bool = True


WHOLE = Kind(whole, "a whole number", (int,), "a whole number")
WHOLES = Kind(wholes, "comma-separated whole numbers like 8,8", (int, list),
              "a whole number or an array of them, such as 4 or [8, 8]")
NUMBER = Kind(real, "a number", (int, float), "a number")
NUMBERS = Kind(reals, "comma-separated numbers like 0.2,-0.4,0.1", (list,), "an array of numbers")
NAME = Kind(word, "a name", (str,), "a string", on_command_line=False)
FILE = Kind(text_value, "a file name", (str,), "a string", on_command_line=False)
SWITCH = Kind(yes_no, "yes or no", (bool,), "true or false", on_command_line=False)
TABLE = Kind(None, "a table", (dict,), 'a table such as [keymap] next = "j"', on_command_line=False)
#: Feature names (engine.maths.features), read by the rules' own grammar, never evaluated.
NAMES = Kind(split, "comma-separated features like x1,x2,x1^2", (str, list),
             'a string or an array of strings, such as "x1,x2,x1^2" or ["x1", "x1^2"]')
#: --reg's number: argparse's float, whose refusal is argparse's own ("invalid float value").
FLOAT = Kind(float, "a number", (int, float), "a number", on_command_line=False)


@dataclass(frozen=True)
class Setting:
    """One setting, as every front end names and reads it."""

    key: str
    kind: Kind
    help: str  # one line for --help (argparse wraps it)
    default: Any = None  # the run's default; None: not given
    metavar: str | None = None  # the flag's value in --help; None: a switch
    #: The flag without its dashes; "" for a setting no flag gives (a TOML file's [keymap]).
    flag: str | None = None  # None: the key
    toml: bool = False  # a TOML file may set it (under its key)
    hint: str = ""  # the app's form field's placeholder; "": the form has no field for it
    group: str = ""  # its --help section ("data", "kept"); "": the first
    action: str = "store"  # argparse's: "store", "store_true", "switch_off", "switch_on", "append"
    hidden: bool = False  # left out of --help and the docs' tables (serve's own flag)
    doc: str = ""  # the docs' longer word on it; "": help
    shown_default: str | None = None  # the docs' default column; None: the default as written
    config: bool = False  # a field of engine.settings.config.Config

    @property
    def flag_name(self) -> str:
        return self.key if self.flag is None else self.flag

    @property
    def dest(self) -> str:
        """The attribute on argparse's namespace and on Config."""
        return self.key.replace("-", "_")


def _config(*settings: Setting) -> tuple[Setting, ...]:
    """Settings that are Config fields (their default is the Config's)."""
    return tuple(Setting(**{**vars(s), "config": True}) for s in settings)


def _names(names: Iterable[str]) -> str:
    return "|".join(names)


SETTINGS: tuple[Setting, ...] = (
    Setting("headless", SWITCH, "print a report instead of opening the app", action="store_true",
            doc="print a report instead of opening the app"),
    Setting("config", FILE, "TOML file of settings; flags override it", metavar="FILE",
            doc="a TOML file of the same settings; flags override it"),
    *_config(
        Setting("inputs", WHOLE, "input size (default 3)", 3, "N", toml=True,
                hint=f"input size, 1 to {MAX_INPUTS:,}", doc=f"input size, 1 to {MAX_INPUTS:,}"),
        Setting("hidden", WHOLES, "units of each hidden layer: 4 (default), or 8,8 for two layers (up to 8)",
                (4,), "N[,N...]", toml=True,
                hint=f"units per hidden layer, e.g. 4 or 8,8 (1 to {MAX_LAYERS} layers)",
                doc="units of each hidden layer: `4` is one layer, `8,8` two; 1 to 8 layers of 1 to "
                    "100,000 units; at most 10,000,000 parameters in all (80 MB a copy)"),
        Setting("activation", NAME, "the hidden layers' activation (default relu; leaky-relu has slope 0.01)",
                "relu", _names(ACTIVATIONS), toml=True, hint=" | ".join(ACTIVATIONS),
                doc="the hidden layers' activation: `relu`, `leaky-relu` (slope 0.01 below 0), `tanh`, "
                    "`sigmoid`"),
        Setting("classes", WHOLE, "1 (default): one sigmoid output; K >= 2: a softmax over K classes with "
                "cross-entropy, and --y is the class index", 1, "K", toml=True,
                hint=f"1 (a sigmoid unit) or 2 to {MAX_CLASSES:,} (softmax)",
                doc="1: one sigmoid output unit; 2 to 10,000: a softmax over K units with cross-entropy"),
        Setting("loss", NAME, "a single output's loss: binary cross-entropy (default) or (a - y)^2 / 2",
                "", _names(BINARY_LOSSES), toml=True,
                hint=f"{' | '.join(BINARY_LOSSES)} for one output; empty for the default",
                doc="a single output's loss: binary cross-entropy, or squared error (a − y)²/2 on the "
                    "sigmoid output. Refused with `--classes` ≥ 2, whose loss is always cross-entropy",
                shown_default=BINARY_LOSSES[0]),
        Setting("seed", WHOLE, "initialisation seed (default 42)", 42, "N", toml=True,
                hint=f"0 to {MAX_SEED}", doc="initialisation seed (0 to 2³²−1)"),
        Setting("x", NUMBERS,
                "the input sample (default 0.2,-0.4,0.1 for 3 inputs, else drawn from the seed)",
                (), "V,V,...", toml=True, hint="comma-separated; empty for the default",
                doc="the sample; exactly `inputs` finite values. For other sizes the default is drawn "
                    "from the seed (standard normal, by a generator separate from the weights'). A "
                    "leading minus works as typed: `--x -0.5,1,2`",
                shown_default="`0.2,-0.4,0.1`"),
        Setting("y", WHOLE, "the label: 0 or 1 (default 1), or a class index with --classes", 1, "Y",
                toml=True, hint="0 or 1; a class index 0 to K-1 for K classes",
                doc="the label: 0 or 1 for one output; a class index 0 to K−1 with `--classes K`"),
        Setting("lr", NUMBER, "learning rate (default 0.1)", 0.1, "F", toml=True,
                hint="learning rate, finite and > 0", doc="learning rate, finite and > 0"),
        Setting("optimizer", NAME, "the update rule: sgd (default), momentum, nesterov, rmsprop or adam "
                "(cs231n's)", "sgd", _names(OPTIMIZERS), toml=True, hint=" | ".join(OPTIMIZERS),
                doc="the update phase's rule, as cs231n defines it: `sgd` w ← w − lr·dw; `momentum` "
                    "v ← μv − lr·dw, w ← w + v; `nesterov` v ← μv − lr·dw, w ← w − μv_prev + (1+μ)v; "
                    "`rmsprop` s ← β2·s + (1−β2)dw², w ← w − lr·dw/(√s + ε); `adam` t ← t+1, "
                    "m ← β1·m + (1−β1)dw, v ← β2·v + (1−β2)dw², w ← w − lr·m̂/(√v̂ + ε) with "
                    "m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ). The state (v_W1, s_W1, m_W1, t, …) starts at zero "
                    "and is shown, explained, undone and kept in sessions like the parameters (see "
                    "[Optimizers](/explanation/optimizers.md)); the built-in network only"),
        Setting("momentum", NUMBER, "momentum and nesterov: the velocity's decay mu, 0 <= mu < 1 "
                "(default 0.9)", 0.9, "F", toml=True, hint="μ, 0 ≤ μ < 1 (momentum, nesterov)",
                doc="`momentum` and `nesterov`: μ, the share of the velocity kept a step, 0 ≤ μ < 1"),
        Setting("beta1", NUMBER, "adam: the first moment's decay, 0 <= beta1 < 1 (default 0.9)", 0.9, "F",
                toml=True, hint="β1, 0 ≤ β1 < 1 (adam)", doc="`adam`: β1, the first moment's decay, "
                                                             "0 ≤ β1 < 1"),
        Setting("beta2", NUMBER, "rmsprop and adam: the squared gradient's decay, 0 <= beta2 < 1 "
                "(default 0.999)", 0.999, "F", toml=True, hint="β2, 0 ≤ β2 < 1 (rmsprop, adam)",
                doc="`rmsprop` and `adam`: β2, the running mean of dw²'s decay, 0 ≤ β2 < 1 (cs231n's "
                    "rmsprop calls it decay_rate and defaults it to 0.99: give `--beta2 0.99` to match)"),
        Setting("epsilon", NUMBER, "rmsprop and adam: added to the denominator's root, finite and > 0 "
                "(default 1e-8)", 1e-8, "F", toml=True, hint="ε, finite and > 0 (rmsprop, adam)",
                doc="`rmsprop` and `adam`: ε, added to √s or √v̂ so no step divides by 0; finite and > 0",
                shown_default="1e-8"),
        Setting("decay", NUMBER, "learning-rate decay once an epoch, 0 < decay <= 1 (default 1: none)",
                1.0, "F", toml=True, hint="lr × decay each epoch, 0 < decay ≤ 1 (1: none)",
                doc="the learning rate's decay, as cs231n's Solver's `lr_decay`: epoch e (from 1) updates "
                    "with lr·decay^(e−1); 0 < decay ≤ 1, 1 is none. Without data every step is an epoch "
                    "(the one sample is all the data)", shown_default="1"),
        Setting("l1", NUMBER, "L1 regularisation rate: the loss adds l1·Σ|W| over the weights, not the "
                "biases (default 0)", 0.0, "F", toml=True,
                hint="Regularization rate, L1: adds l1·Σ|W| to the loss; 0 for none",
                doc="L1 regularisation rate (TensorFlow Playground's Regularization L1, its rate): the "
                    "loss adds l1·Σ\\|W\\| over every weight matrix, never the biases, and each dW gains "
                    "l1·sign(W) (sign(0) = 0); finite and ≥ 0. With `--l2` too, both terms (see "
                    "[Regularisation](/explanation/phases.md#regularisation))", shown_default="0"),
        Setting("l2", NUMBER, "L2 regularisation rate: the loss adds (l2/2)·ΣW² over the weights, not "
                "the biases (default 0)", 0.0, "F", toml=True,
                hint="Regularization rate, L2: adds (l2/2)·ΣW² to the loss; 0 for none",
                doc="L2 regularisation rate (TensorFlow Playground's Regularization L2, its rate): the "
                    "loss adds (l2/2)·ΣW² over every weight matrix, never the biases, and each dW gains "
                    "l2·W; finite and ≥ 0", shown_default="0"),
        Setting("eps", NUMBER, "gradient-check step (default 1e-5)", 1e-5, "F", toml=True,
                hint="gradient-check step, finite and > 0", doc="gradient-check step, finite and > 0",
                shown_default="1e-5"),
        Setting("steps", WHOLE, "headless: full steps to run (default 1)", 1, "N", toml=True,
                doc=f"headless: whole steps to run, 1 to {MAX_STEPS:,} (refused without `--headless`)"),
    ),
    Setting("export-notebook", FILE, "write the run (network, initial parameters, data, --steps N) as a "
            "Jupyter notebook in plain NumPy, then exit", metavar="FILE.ipynb",
            doc="write the run (network, initial parameters, data, `--steps N`) as a Jupyter notebook "
                "in plain NumPy, then exit (see [A notebook back](/how-to/sessions.md#a-notebook-back))"),
    Setting("format", NAME, "headless: report format (default text)", "text", _names(FORMATS), toml=True,
            doc="headless: the report's format (refused without `--headless`)"),
    Setting("explain", NAME, "headless: after the report, explain why an element of the final state is "
            "what it is, e.g. 'dW1[1,2]', 'update.W1[0,0]', 'gradcheck.W1[0,0]', 'loss' (repeatable)",
            metavar="ELEMENT", action="append",
            doc="headless: after the report, derive this element of the final state, e.g. "
                "`'dW1[1,1]'` (repeatable; see [Why is this number what it is?]"
                "(/explanation/why-a-number.md)). A name that is not a tensor, or an index outside "
                "its shape, exits 2 before anything is printed and lists the tensors and their shapes"),
    Setting("output", FILE, "headless: write the report to FILE instead of stdout, whole or not at all",
            metavar="FILE",
            doc="headless: write the report (text or JSON) to this file instead of stdout, written as "
                "`--save-session` is: whole or not at all, through a temporary file beside it. With "
                "`--format json`, arrays of more than `--json-arrays-max` elements go to FILE's .npz "
                "beside it (trace.json: trace.npz), referred to from the JSON as "
                '`{"npz": "trace.npz", "key": "step1.backward.dW1", "shape": [9, 1000000], '
                '"dtype": "float64"}`'),
    Setting("json-arrays-max", WHOLE, f"headless, with --output and --format json: arrays of more "
            f"elements go to the .npz beside the trace (default {JSON_ARRAYS_MAX:,})", JSON_ARRAYS_MAX, "N",
            shown_default=f"{JSON_ARRAYS_MAX:,}",
            doc="headless, with `--output` and `--format json`: arrays of more elements are written to "
                "the .npz beside the trace, exactly (NaN and infinity kept), instead of as JSON numbers; "
                "a number at least the largest array's size inlines them all"),
    Setting("quiet", SWITCH, "headless: print only a line per failing tensor and a summary line (for CI "
            "logs; the exit status says the verdict)", action="switch_on",
            doc="headless: instead of the report, a line per failing tensor (step, tensor, relative error, "
                "the diagnosis's kind and where it enters) and a summary line; nothing else on stdout (see "
                "[Gradient checks in CI and in pytest](/how-to/ci.md)). Refused "
                "with `--format json`, `--explain` and `--trace`, whose output it replaces"),
    *_config(
        Setting("gradcheck", SWITCH, "skip the gradient-check phase", True, flag="no-gradcheck", toml=True,
                action="switch_off", doc="skip the gradient-check phase", shown_default=""),
        Setting("gradcheck-method", NAME, "numerical gradients: fast (vectorised, default) or loop "
                "(two forward passes an element)", "fast", _names(METHODS), toml=True,
                doc="how numerical gradients are computed (see [Two methods]"
                    "(/explanation/gradient-check.md#two-methods))"),
        Setting("inject-bug", NAME, f"fault drill: use a known-broken backward or update ({', '.join(BUGS)}; "
                "relu-grad is activation-grad's older name)", None, "NAME", toml=True,
                doc="fault drill: a known-broken backward, or update (see [Fault drills]"
                    "(/reference/diagnosis.md#fault-drills))"),
        Setting("init", NAME, "weight initialisation: the notebook's unscaled normals (default), or the "
                "same draws scaled by He (sqrt(2/n_in)) or Xavier (sqrt(2/(n_in+n_out)))", "notebook",
                _names(INITS), toml=True, hint=" | ".join(INITS),
                doc="weights: `RandomState(seed).randn(n_out, n_in)` for W1, W2, … in layer order (the "
                    "notebook's draws), unscaled or times He's √(2/n_in) or Xavier's √(2/(n_in+n_out)); "
                    "biases zero. At 784-128-1 the notebook's draws saturate the sigmoid (initial loss "
                    "7e-69, gradients vanish); `--init he` gives 0.32. A saturated output (every "
                    "sample's probability rounds to 0 or 1: \\|z_L\\|, or a softmax's gap between its two "
                    "largest logits, above ln 2⁵³ ≈ 36.7) is said in the app's banner and the text report "
                    "with its figures (`Output saturated: \\|z2\\| = 156.9, so σ'(z2) = 7.4e-69; … every "
                    "gradient is exactly 0 …; try --init he`) and in the JSON's `warnings`"),
        Setting("dataset", NAME, "train on a data set drawn from the seed (2 inputs, 2 classes; gauss and "
                "spiral also in 3 with --classes 3)", "", _names(DATASETS), toml=True, group="data",
                hint=f"{' | '.join(DATASETS)}; empty: none",
                doc="a data set drawn from the seed, as TensorFlow Playground draws them: "
                    f"{', '.join(f'`{name}`' for name in DATASETS)}; 2 inputs, 2 classes (`gauss` and "
                    "`spiral` also come in 3: `--classes 3`)"),
        Setting("data", FILE, "train on a CSV file: numeric columns, the label (0, 1, ... K-1, or class "
                "names) last, a header row allowed; it decides the inputs and classes", "", "FILE.csv",
                toml=True, group="data", hint="a CSV file: numeric columns, the label last",
                doc="a CSV file ([its format](/reference/csv-format.md)); it decides the inputs and the "
                    "classes"),
        Setting("samples", WHOLE, f"--dataset: points to draw (default 200, at most {MAX_SAMPLES:,})", 200,
                "N", toml=True, group="data", hint=f"points of the data set, 1 to {MAX_SAMPLES:,}",
                doc=f"`--dataset`: points to draw, 1 to {MAX_SAMPLES:,} (at least one a class)"),
        Setting("noise", NUMBER, f"--dataset: noise, 0 to {MAX_NOISE:g} of the shape's radius (default 0.1)",
                0.1, "F", toml=True, group="data",
                hint=f"0 to {MAX_NOISE:g} (a fraction of the shape's radius)",
                doc=f"`--dataset`: Gaussian noise, 0 to {MAX_NOISE:g}, as a fraction of the shape's radius"),
        Setting("test-fraction", NUMBER, f"rows held out to test, 0 to {MAX_TEST_FRACTION:g} (default 0.2)",
                0.2, "F", toml=True, group="data", hint=f"rows held out to test, 0 to {MAX_TEST_FRACTION:g}",
                doc=f"rows held out to test, 0 to {MAX_TEST_FRACTION:g} (floor(n·F) rows; 0: every row "
                    "trains)"),
        Setting("standardize", SWITCH, "scale each feature to mean 0, variance 1 by the training rows", False,
                toml=True, group="data", action="switch_on",
                hint="yes: each feature to mean 0, variance 1 (training rows)",
                doc="scale each feature to mean 0 and variance 1 by the training rows' statistics (the "
                    "test rows are scaled by the same numbers; values near 1e308 too, and a test row that "
                    "would scale past the largest float is refused, its feature named)", shown_default=""),
        Setting("features", NAMES, f"the network's inputs as functions of the data's two columns x1, x2, as "
                f"TensorFlow Playground's: any of {','.join(FEATURES)} (default x1,x2)", (), "F[,F...]",
                toml=True, group="data", hint=f"any of {','.join(FEATURES)}; empty: x1,x2",
                doc=f"the network's inputs as TensorFlow Playground's features of the two columns x1, x2 "
                    f"(a CSV file's first two, whatever its header calls them): any of "
                    f"{', '.join(f'`{name}`' for name in FEATURES)}, in any order, each once; read by a "
                    "grammar of its own, never run as code (see [Feature inputs]"
                    "(/how-to/training.md#feature-inputs-regenerating-and-test-points))",
                shown_default="`x1,x2`"),
        Setting("batch", WHOLE, "rows a step, shuffled each epoch from the seed (default: the whole "
                "training split)", 0, "N", toml=True, group="data",
                hint=f"rows a step, 1 to {MAX_SAMPLES:,}; 0 for the whole training split",
                doc=f"rows a step, 1 to {MAX_SAMPLES:,} (0 also means the whole split)",
                shown_default="the whole training split"),
        Setting("train-steps", WHOLE, "the app: steps a training run (t) takes (default 100)", 100, "K",
                toml=True, group="data", hint=f"steps a training run (t) takes, 1 to {MAX_STEPS:,}",
                doc=f"the app: steps one training run takes, 1 to {MAX_STEPS:,} (refused with "
                    "`--headless`, which runs `--steps N`; a config file may set both)"),
        Setting("check-every", WHOLE, "check gradients every Nth step only: in the app's training runs "
                "(default 0, never) and headless (default: every step)", 0, "N", toml=True, group="data",
                hint=f"a training run checks gradients every Nth step, 0 (never) to {MAX_STEPS:,}",
                doc="check gradients every Nth step only (0: never): in the app's training runs, and in a "
                    "headless run when given (not given, a headless run checks every step unless "
                    "`--no-gradcheck`)"),
        Setting("eval-every", WHOLE, "measure the loss and accuracy over every training and test row "
                "every Nth step (default 0: once an epoch); between, the batch losses' running mean",
                0, "N", toml=True, group="data",
                hint=f"steps between whole-set measurements, 1 to {MAX_STEPS:,}; 0 once an epoch",
                doc=f"steps between measurements of the loss and accuracy over every training and test "
                    f"row, 1 to {MAX_STEPS:,} (0: once an epoch); between them the reports and the app "
                    "show the running mean of the batch losses, labelled as such"),
        Setting("trace", NAME, f"headless with data: full (every tensor) or summary (losses and "
                f"accuracies); default summary over {SUMMARY_OVER} steps", "", _names(TRACES), toml=True,
                group="data", hint=f"{' | '.join(TRACES)}; empty: summary over {SUMMARY_OVER} steps",
                doc="headless: the whole state of each step, or its losses and accuracies only (refused "
                    "without `--headless`)",
                shown_default=f"full up to {SUMMARY_OVER} steps, summary over"),
    ),
    Setting("session", FILE, "reopen a saved session (ctrl+s in the app, --save-session) at the state it "
            "was saved in, its history behind it; headless, run --steps more from there", metavar="FILE.npz",
            group="kept",
            doc="reopen a saved session at the state it was saved in, its history behind it; headless, "
                "run `--steps N` more from there (see [Sessions](/how-to/sessions.md))"),
    Setting("save-session", FILE, "headless: after the run, write the session to FILE (the app: ctrl+s)",
            metavar="FILE.npz", group="kept",
            doc="headless: after the run, write the session (refused without `--headless`; the app "
                "saves with `ctrl+s`). Written whole through a temporary file beside it, with the mode "
                "of the file it replaces (a private 0600 file stays private); a symbolic link is written "
                "through, and so is a file with other hard links (in place, its old contents put back if "
                "the write fails). Refused before the run: a name that cannot be written (a directory, a "
                "device or a FIFO, a read-only file, a folder where no file can be made), a file the run "
                "reads (`--model`, `--data`, `--config`, `--session`, `--params`, or a link to one) and "
                "another output's file"),
    Setting("params", FILE, "start from these parameters (an .npz as np.savez writes, one array a "
            "parameter, named and shaped as the network's)", metavar="FILE.npz", group="kept",
            doc="start from these parameters instead of the initialisation (see "
                "[Weights](/how-to/sessions.md#weights))"),
    Setting("export-params", FILE, "headless: after the run, write the parameters to FILE (the app: x)",
            metavar="FILE.npz", group="kept",
            doc="headless: after the run, write the final parameters (refused without `--headless`; the "
                "app writes them with `x`), written as `--save-session` is"),
    Setting("model", FILE, "step your own forward/backward from this Python file (it runs as code with "
            "your rights)", metavar="FILE.py",
            doc="step your own forward/backward (see [Debug your own backprop](/how-to/your-model.md))"),
    Setting("model-timeout", NUMBER,
            f"end a call of your model that takes longer (default {MODEL_TIMEOUT:g})",
            MODEL_TIMEOUT, "SECONDS", toml=True,
            doc=f"seconds one call of your model may take before its process is ended (0 < S ≤ "
                f"{MAX_MODEL_TIMEOUT:,.0f}); timed from the moment its process has started Python and "
                "NumPy, which has a bound of its own (120 s), so a busy machine's slow start is not your "
                "call's time"),
    Setting("model-memory", WHOLE, f"your model's memory cap (default {MODEL_MEMORY_MB})", MODEL_MEMORY_MB,
            "MB", toml=True,
            doc="your model's memory cap: a larger allocation fails as a `MemoryError` in your code "
                f"({MODEL_MEMORY_BOUNDS[0]} to {MODEL_MEMORY_BOUNDS[1]:,})"),
    Setting("convention", NAME, "the convention your model file follows: notebook, deeplearning-ai, "
            "cs231n, nielsen or nnfs (default: found from the names it defines)", metavar="NAME",
            doc="the convention your model file follows: `notebook`, `deeplearning-ai`, `cs231n`, "
                "`nielsen` or `nnfs` (see "
                "[Course code](/how-to/course-code.md)); only with `--model`",
            shown_default="found"),
    Setting("reg", FLOAT, "the L2 regularisation strength your model takes (cs231n's reg, nnfs's "
            "weight_regularizer_l2; default 0)",
            metavar="F", doc="the L2 regularisation strength your model takes (cs231n's `reg`, nnfs's "
                             "`weight_regularizer_l2`; F ≥ 0, "
                             "finite); only with a convention that has one", shown_default="0"),
    Setting("model-option", NAME, "a keyword for your model class's constructor, such as "
            "normalization=batchnorm (repeatable; cs231n)", metavar="KEY=VALUE", action="append",
            doc="a keyword your model class's constructor takes, passed as given (repeatable): "
                "`normalization=batchnorm`, `dropout_keep_ratio=0.5`; VALUE is a Python literal read "
                "with `ast.literal_eval` (never run) or a bare word, a string; checked against the "
                "constructor's signature; only with `--model` (see [cs231n](/how-to/course-code.md#cs231n))"),
    Setting("served", SWITCH, argparse.SUPPRESS, action="store_true", hidden=True),
    Setting("keymap", TABLE, "the app's keys by binding id (the ids are on the help screen, ?)", flag="",
            toml=True),
)

#: Each setting by its key.
BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}
#: The --help sections after the first: a title and a line under it.
GROUPS: dict[str, tuple[str, str]] = {
    "data": ("learning from data", "a data set, mini-batches and training runs (see "
             "docs/how-to/training.md)"),
    "kept": ("sessions and weights", "keep a run and reopen it, start from given weights, write them out "
             "(see docs/how-to/sessions.md)"),
}
#: The keys a TOML file may set.
TOML_KEYS = frozenset(setting.key for setting in SETTINGS if setting.toml)


def flag(key: str) -> str:
    """A setting as the command line names it: --inputs, --no-gradcheck."""
    return f"--{BY_KEY[key].flag_name}" if key in BY_KEY else f"--{key}"


def field_name(key: str) -> str:
    """A setting as the app's form names it: its field's label, which is the key; a setting
    the form has no field for by its flag, without the dashes."""
    setting = BY_KEY.get(key)
    return key if setting is None or setting.hint else setting.flag_name


def toml_key(key: str) -> str:
    """A setting as a TOML file names it."""
    return key


def unreadable(key: str, text: str) -> str:
    """Why a setting's text is not a value of its kind (its parser refused it), in the words
    the command line and the app's form both say. Whole numbers too long to read (Python's
    int() refuses more than 4,300 digits) are out of range, not of the wrong kind."""
    if text.isascii() and all(part.strip().lstrip("+-").isdigit() for part in text.split(",")):
        return f"{shown(text)} is far out of range"
    return f"expected {BY_KEY[key].kind.expected}, got {shown(text)}"


def missing_help(settings: Iterable[Setting]) -> list[str]:
    """The keys of settings with no help text (every setting says what it is for)."""
    return [setting.key for setting in settings if not setting.help.strip()]
