"""The command line: flags and an optional TOML file, turned into a validated Config.

Nothing here imports Textual. Every error is a UsageError naming the flag, key or
file, which the entry point prints in at most three lines with exit status 2.
"""

from __future__ import annotations

import argparse
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn

from engine.check.verdicts import METHODS
from engine.explain.elements import parse_element
from engine.files import MAX_CONFIG_BYTES, read_user_file
from engine.maths.network import ACTIVATIONS, BINARY_LOSSES, BUGS, INITS
from engine.model.conventions import CONVENTIONS, WITH_REG
from engine.settings.config import (
    DATASETS,
    FIELDS,
    MAX_MODEL_TIMEOUT,
    MAX_NOISE,
    MAX_SAMPLES,
    MAX_TEST_FRACTION,
    MODEL_MEMORY_BOUNDS,
    MODEL_MEMORY_MB,
    MODEL_TIMEOUT,
    SUMMARY_OVER,
    Config,
    ConfigError,
    shown,
    unreadable,
    validate,
)
from tui.keys import IDS as KEY_IDS
from tui.keys import KEYS
from tui.text import printable

PROG = "backprop-stepper"
FORMATS = ("text", "json")
#: Keys a TOML file may set: the long flag names, except --model (a settings file must not
#: run code the command line never named).
FILE_KEYS = {f.name.replace("_", "-") for f in fields(Config)} | {"format", "keymap", "model-timeout",
                                                                  "model-memory"}
#: Flags that only mean something headless; given to the app they would be silently ignored.
HEADLESS_ONLY = ("steps", "format", "explain", "trace", "save_session", "export_params")
#: Flags that --session allows: how to run and report it, and the model file it names. The
#: session fixes everything else (network, data, seed, lr, ...).
WITH_SESSION = ("headless", "session", "steps", "format", "trace", "explain", "model", "model_timeout",
                "model_memory", "convention", "reg", "save_session", "export_params", "export_notebook",
                "served")
#: Flags naming files, none of which may be empty (Path("") is the current directory).
FILE_FLAGS = ("config", "model", "data", "session", "save_session", "params", "export_params")
#: Flags that only mean something with --model.
MODEL_ONLY = ("model_timeout", "model_memory", "convention", "reg")


class UsageError(Exception):
    """Bad input from the user: printed without a traceback, exit status 2."""


@dataclass(frozen=True)
class Options:
    config: Config
    headless: bool
    format: str
    config_file: Path | None = None  # --config: the TOML file the settings came from
    model: Path | None = None  # a user's model file (--model), loaded by the entry point
    model_timeout: float = MODEL_TIMEOUT  # seconds a call of the model may take
    model_memory: int = MODEL_MEMORY_MB  # the model process's address space, in MB
    #: --convention: the one the model file follows (engine.model.conventions); None: detected.
    convention: str | None = None
    #: --reg: the regularisation strength a course's model takes (cs231n's reg); None: not given.
    reg: float | None = None
    session: Path | None = None  # --session: a saved session to reopen (it fixes the config)
    save_session: Path | None = None  # --save-session: headless, write the session after the run
    params: Path | None = None  # --params: start from these parameters (.npz)
    export_params: Path | None = None  # --export-params: headless, write the final parameters
    session_trace: str | None = None  # --trace given with --session (the session fixes the rest)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, from [keymap]
    #: Elements to explain in the final state (--explain), as typed, their syntax checked;
    #: the names and indexes are checked against the network's tensors by the entry point.
    explain: tuple[str, ...] = ()
    #: The settings the user gave (flags and TOML keys, spelled as the flags): the data
    #: decide the inputs and classes, and only a given --inputs or --classes can disagree.
    given: frozenset[str] = frozenset()
    #: --export-notebook: write the run as a Jupyter notebook to this file, then exit.
    export_notebook: str | None = None
    #: Served mode (tui.cli.serve): the app in a browser, where nothing a visitor types loads a file.
    served: bool = False


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse echoes what it refuses, unquoted or quoted: shorten each long word.
        raise UsageError(re.sub(r"\S{41,}", lambda m: shown(m[0].strip("'")), message))


def _typed(key: str) -> Any:
    """An argparse type from the field's parser in engine.settings.config, which the app's form uses too."""
    field = FIELDS[key]

    def parse(text: str) -> Any:
        try:
            value = field.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(unreadable(key, text)) from None
        return list(value) if isinstance(value, tuple) else value  # x = [] in TOML is a list

    parse.__name__ = key  # argparse names the type in its messages
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Step a 2-layer network through backpropagation, one "
                "phase at a time: forward, backward, gradient check, SGD update.",
                epilog="In the app, press ? for the keys. Every flag can also be set in a TOML "
                "file (--config); see README.md. In a browser: backprop-stepper serve [--host "
                "ADDRESS] [--port N] [these flags] (see serve --help).")
    p.add_argument("--headless", action="store_true", help="print a report instead of opening the app")
    p.add_argument("--config", metavar="FILE", help="TOML file of settings; flags override it")
    p.add_argument("--inputs", type=_typed("inputs"), metavar="N", help="input size (default 3)")
    p.add_argument("--hidden", type=_typed("hidden"), metavar="N[,N...]",
                   help="units of each hidden layer: 4 (default), or 8,8 for two layers (up to 8)")
    p.add_argument("--activation", metavar="|".join(ACTIVATIONS),
                   help="the hidden layers' activation (default relu; leaky-relu has slope 0.01)")
    p.add_argument("--classes", type=_typed("classes"), metavar="K",
                   help="1 (default): one sigmoid output; K >= 2: a softmax over K classes with "
                   "cross-entropy, and --y is the class index")
    p.add_argument("--loss", metavar="|".join(BINARY_LOSSES),
                   help="a single output's loss: binary cross-entropy (default) or (a - y)^2 / 2")
    p.add_argument("--seed", type=_typed("seed"), metavar="N", help="initialisation seed (default 42)")
    p.add_argument("--x", type=_typed("x"), metavar="V,V,...",
                   help="the input sample (default 0.2,-0.4,0.1 for 3 inputs, else drawn from the seed)")
    p.add_argument("--y", type=_typed("y"), metavar="Y",
                   help="the label: 0 or 1 (default 1), or a class index with --classes")
    p.add_argument("--lr", type=_typed("lr"), metavar="F", help="SGD learning rate (default 0.1)")
    p.add_argument("--eps", type=_typed("eps"), metavar="F", help="gradient-check step (default 1e-5)")
    p.add_argument("--steps", type=_typed("steps"), metavar="N",
                   help="headless: full steps to run (default 1)")
    p.add_argument("--export-notebook", metavar="FILE.ipynb",
                   help="write the run (network, initial parameters, data, --steps N) as a Jupyter "
                   "notebook in plain NumPy, then exit")
    p.add_argument("--format", metavar="text|json", help="headless: report format (default text)")
    p.add_argument("--explain", action="append", metavar="ELEMENT",
                   help="headless: after the report, explain why an element of the final state is "
                   "what it is, e.g. 'dW1[1,2]', 'update.W1[0,0]', 'gradcheck.W1[0,0]', 'loss' "
                   "(repeatable)")
    p.add_argument("--no-gradcheck", dest="gradcheck", action="store_const", const=False,
                   help="skip the gradient-check phase")
    p.add_argument("--gradcheck-method", metavar="|".join(METHODS),
                   help="numerical gradients: fast (vectorised, default) or loop "
                   "(two forward passes an element)")
    p.add_argument("--inject-bug", metavar="NAME",
                   help=f"fault drill: use a known-broken backward ({', '.join(BUGS)}; relu-grad is "
                   "activation-grad's older name)")
    p.add_argument("--init", metavar="|".join(INITS),
                   help="weight initialisation: the notebook's unscaled normals (default), or the "
                   "same draws scaled by He (sqrt(2/n_in)) or Xavier (sqrt(2/(n_in+n_out)))")
    data = p.add_argument_group("learning from data", "a data set, mini-batches and training runs "
                                "(see README.md, Learning from data)")
    data.add_argument("--dataset", metavar="|".join(DATASETS),
                      help="train on a data set drawn from the seed (2 inputs, 2 classes; gauss and "
                      "spiral also in 3 with --classes 3)")
    data.add_argument("--data", metavar="FILE.csv",
                      help="train on a CSV file: numeric columns, the label (0, 1, ... K-1) last, a "
                      "header row allowed; it decides the inputs and classes")
    data.add_argument("--samples", type=_typed("samples"), metavar="N",
                      help=f"--dataset: points to draw (default 200, at most {MAX_SAMPLES:,})")
    data.add_argument("--noise", type=_typed("noise"), metavar="F",
                      help=f"--dataset: noise, 0 to {MAX_NOISE:g} of the shape's radius (default 0.1)")
    data.add_argument("--test-fraction", type=_typed("test-fraction"), metavar="F",
                      help=f"rows held out to test, 0 to {MAX_TEST_FRACTION:g} (default 0.2)")
    data.add_argument("--standardize", action="store_const", const=True,
                      help="scale each feature to mean 0, variance 1 by the training rows")
    data.add_argument("--batch", type=_typed("batch"), metavar="N",
                      help="rows a step, shuffled each epoch from the seed (default: the whole "
                      "training split)")
    data.add_argument("--train-steps", type=_typed("train-steps"), metavar="K",
                      help="the app: steps a training run (t) takes (default 100)")
    data.add_argument("--check-every", type=_typed("check-every"), metavar="N",
                      help="check gradients every Nth step only: in the app's training runs "
                      "(default 0, never) and headless (default: every step)")
    data.add_argument("--trace", metavar="summary|full",
                      help=f"headless with data: full (every tensor) or summary (losses and "
                      f"accuracies); default summary over {SUMMARY_OVER} steps")
    kept = p.add_argument_group("sessions and weights", "keep a run and reopen it, start from "
                                "given weights, write them out (see README.md, Sessions and Weights)")
    kept.add_argument("--session", metavar="FILE.npz",
                      help="reopen a saved session (ctrl+s in the app, --save-session) at the state "
                      "it was saved in, its history behind it; headless, run --steps more from there")
    kept.add_argument("--save-session", metavar="FILE.npz",
                      help="headless: after the run, write the session to FILE (the app: ctrl+s)")
    kept.add_argument("--params", metavar="FILE.npz",
                      help="start from these parameters (an .npz as np.savez writes, one array "
                      "a parameter, named and shaped as the network's)")
    kept.add_argument("--export-params", metavar="FILE.npz",
                      help="headless: after the run, write the parameters to FILE (the app: x)")
    p.add_argument("--model", metavar="FILE.py",
                   help="step your own forward/backward from this Python file (it runs as code "
                   "with your rights)")
    p.add_argument("--model-timeout", type=_typed("model-timeout"), metavar="SECONDS",
                   help=f"end a call of your model that takes longer (default {MODEL_TIMEOUT:g})")
    p.add_argument("--model-memory", type=_typed("model-memory"), metavar="MB",
                   help=f"your model's memory cap (default {MODEL_MEMORY_MB})")
    p.add_argument("--convention", metavar="NAME",
                   help="the convention your model file follows: notebook, deeplearning-ai or "
                   "cs231n (default: found from the names it defines)")
    p.add_argument("--reg", type=float, metavar="F",
                   help="the L2 regularisation strength your model takes (cs231n's reg; default 0)")
    # Served mode: passed by `backprop-stepper serve` to each browser tab's app (tui.cli.serve).
    p.add_argument("--served", action="store_true", help=argparse.SUPPRESS)
    return p


def _join_negative_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`--x -0.5,1,2` as typed: argparse alone takes '-0.5,1,2' for a flag."""
    takes_value = {o for a in parser._actions if a.nargs is None and a.const is None
                   for o in a.option_strings}
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in takes_value and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and argv[i + 1] not in takes_value and not argv[i + 1].startswith("--"):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out


def read_config_file(path_text: str) -> dict[str, Any]:
    """The TOML file's settings, keyed as the long flags, with clear errors."""
    try:
        raw = read_user_file(Path(path_text), "TOML file", MAX_CONFIG_BYTES)
    except OSError as error:
        raise UsageError(f"--config: {error}") from None
    try:  # utf-8-sig: a byte-order mark, as some editors write, is not content
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UsageError(f"--config: {path_text} is not a text file (not UTF-8)") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"--config: {path_text} is not valid TOML: {error}") from None
    except ValueError:  # tomllib's int() of a number past 4,300 digits
        raise UsageError(f"--config: {path_text} holds a number too long to read") from None
    if "model" in data:
        raise UsageError(f"--config: {path_text} names a model file; a settings file may not run "
                         "code: pass --model FILE on the command line")
    if "explain" in data:  # not a setting of the run but a question about its output
        raise UsageError(f"--config: {path_text} sets explain; which numbers to explain is asked "
                         "of one report, not set for every run: pass --explain ELEMENT on the "
                         "command line")
    unknown = sorted(set(data) - FILE_KEYS)
    if unknown:
        raise UsageError(f"--config: unknown key {unknown[0]!r} in {path_text}; "
                         f"known keys: {', '.join(sorted(FILE_KEYS))}")
    return data


_KINDS: dict[str, tuple[type, ...]] = {
    "inputs": (int,), "hidden": (int, list), "seed": (int,), "y": (int,), "steps": (int,),
    "activation": (str,), "classes": (int,), "loss": (str,),
    "lr": (int, float), "eps": (int, float), "x": (list,), "gradcheck": (bool,),
    "gradcheck-method": (str,), "inject-bug": (str,), "init": (str,), "format": (str,), "keymap": (dict,),
    "model-timeout": (int, float), "model-memory": (int,),
    "dataset": (str,), "data": (str,), "samples": (int,), "noise": (int, float),
    "test-fraction": (int, float), "standardize": (bool,), "batch": (int,), "train-steps": (int,),
    "check-every": (int,), "trace": (str,),
}


def _check_keymap(keymap: dict[str, Any], path: str) -> dict[str, str]:
    """[keymap] maps binding ids (see the help screen) to comma-separated Textual key names."""
    for binding_id, keys in keymap.items():
        if binding_id not in KEY_IDS:
            raise UsageError(f"--config: unknown binding id {binding_id!r} in [keymap] of {path}; "
                             f"known ids: {', '.join(sorted(KEY_IDS))}")
        if not isinstance(keys, str) or not all(key.strip() for key in keys.split(",")):
            raise UsageError(f"--config: [keymap] {binding_id} in {path} must be a string of "
                             f"key names such as \"j\" or \"j,down\", none of them empty, "
                             f"got {shown(keys)}")
        if printable(keys, oneline=True) != keys:  # a shared file's escape codes, bound for the help screen
            raise UsageError(f"--config: [keymap] {binding_id} in {path} holds a control character or "
                             f"escape sequence, got {shown(keys)}; key names are printable, such as "
                             "\"j\" or \"ctrl+s\"")
    bound: dict[tuple[str, str], str] = {}  # (scope, key) -> binding id, after the keymap
    for key in KEYS:
        for name in keymap.get(key.id, key.keys).split(","):
            other = bound.setdefault((key.scope, name.strip()), key.id)
            if other != key.id:  # Textual would keep one of them and drop the other in silence
                raise UsageError(f"--config: [keymap] in {path} leaves {name.strip()!r} bound to both "
                                 f"{other} and {key.id}; give each key one binding (the defaults are "
                                 "on the help screen, ?)")
    return dict(keymap)


def _check_file_types(data: dict[str, Any], path: str) -> None:
    for key, value in data.items():
        kinds = _KINDS.get(key, ())
        bad = not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool))
        if key == "x" and not bad:
            bad = not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        if key == "hidden" and isinstance(value, list) and not bad:
            bad = not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        if bad:
            want = {"x": "an array of numbers", "gradcheck": "true or false", "lr": "a number",
                    "standardize": "true or false", "noise": "a number", "test-fraction": "a number",
                    "hidden": "a whole number or an array of them, such as 4 or [8, 8]",
                    "eps": "a number", "keymap": "a table such as [keymap] next = \"j\""}.get(
                key, "a whole number" if kinds == (int,) else "a string")
            raise UsageError(f"--config: key {key!r} in {path} must be {want}, got {shown(value)}")


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


def parse(argv: list[str]) -> Options:
    """Flags (and the TOML file they name) to validated options, or a UsageError."""
    parser = build_parser()
    args = parser.parse_args(_join_negative_values(argv, parser))
    for flag in FILE_FLAGS:
        if getattr(args, flag) == "":  # Path("") would be ".", the current directory
            raise UsageError(f"--{flag.replace('_', '-')}: the file name is empty")
    if not args.headless:
        # Refused rather than ignored: the user expects a report and would get the app. A
        # config file's steps and format are fine, since one file may serve both modes.
        for flag in HEADLESS_ONLY:
            if getattr(args, flag) is not None and not (flag == "steps" and args.export_notebook is not None):
                key = {"save_session": " (in the app, ctrl+s saves the session)",
                       "export_params": " (in the app, x writes the parameters)"}.get(flag, "")
                raise UsageError(f"--{flag.replace('_', '-')} only applies to a report: add "
                                 f"--headless{key}")
    if args.session is not None:
        fixed = [flag for flag, value in vars(args).items()
                 if value is not None and flag not in WITH_SESSION]
        if fixed:
            flag = fixed[0].replace("_", "-")
            name = "--no-gradcheck" if flag == "gradcheck" else f"--{flag}"
            raise UsageError(f"{name} cannot be used with --session: the session fixes the network, "
                             "data and settings it was saved with (it may be given --headless, "
                             "--steps, --format, --trace, --explain, --model, --save-session, "
                             "--export-params and --export-notebook)")
    if args.headless and args.train_steps is not None:  # a report runs --steps, never a run of K
        raise UsageError("--train-steps only applies to the app's training runs (t); a report runs "
                         "--steps N")
    if args.model is None:
        for flag in MODEL_ONLY:
            if getattr(args, flag) is not None:
                raise UsageError(f"--{flag.replace('_', '-')} only applies to your own model: add "
                                 "--model FILE.py")
    explain = tuple(args.explain or ())
    for text in explain:
        try:
            parse_element(text)
        except ValueError as error:
            raise UsageError(f"--explain: {error}") from None
    settings: dict[str, Any] = {}
    keymap: dict[str, str] = {}
    if args.config is not None:
        settings = read_config_file(args.config)
        _check_file_types(settings, args.config)
        keymap = _check_keymap(settings.pop("keymap", {}), args.config)
    for key, value in vars(args).items():
        if value is not None and key not in ("headless", "config", "explain", "export_notebook",
                                             "served", "session", "save_session", "params",
                                             "export_params"):
            settings[key.replace("_", "-")] = value
    model = settings.pop("model", None)
    convention, reg = settings.pop("convention", None), settings.pop("reg", None)
    if convention is not None and convention not in CONVENTIONS:
        raise UsageError(f"--convention: must be one of {', '.join(CONVENTIONS)}, got {shown(convention)}")
    if reg is not None:
        if not (math.isfinite(reg) and reg >= 0):
            raise UsageError(f"--reg: must be a finite number >= 0, got {shown(reg)}")
        if convention is not None and convention not in WITH_REG:
            raise UsageError(f"--reg: the {convention} convention takes no regularisation; --reg "
                             f"applies to {', '.join(WITH_REG)}")
    # With --session the run's settings are the session's; the report's trace is this
    # command's, checked against the session's config by the entry point (tui.cli.main).
    session_trace = settings.pop("trace", None) if args.session is not None else None
    if model is not None and settings.get("inject-bug") is not None:
        raise UsageError("--model and --inject-bug cannot be used together: --inject-bug breaks "
                         "the built-in network, --model replaces it")
    model_timeout = settings.pop("model-timeout", MODEL_TIMEOUT)
    if not 0 < model_timeout <= MAX_MODEL_TIMEOUT:  # NaN fails this too
        raise UsageError(f"--model-timeout: must be a number of seconds above 0 and at most "
                         f"{MAX_MODEL_TIMEOUT:,.0f}, got {shown(model_timeout)}")
    model_memory = settings.pop("model-memory", MODEL_MEMORY_MB)
    if not MODEL_MEMORY_BOUNDS[0] <= model_memory <= MODEL_MEMORY_BOUNDS[1]:
        raise UsageError(f"--model-memory: must be between {MODEL_MEMORY_BOUNDS[0]} and "
                         f"{MODEL_MEMORY_BOUNDS[1]:,} (MB), got {shown(model_memory)}")
    output_format = settings.pop("format", "text")
    if output_format not in FORMATS:
        raise UsageError(f"--format: must be one of {', '.join(FORMATS)}, got {shown(output_format)}")
    kwargs = {key.replace("-", "_"): value for key, value in settings.items()}
    if "x" in kwargs:
        kwargs["x"] = tuple(float(v) for v in kwargs["x"])
    if isinstance(kwargs.get("hidden"), list):
        kwargs["hidden"] = tuple(kwargs["hidden"])
    for key in ("lr", "eps", "noise", "test_fraction"):
        if key in kwargs and isinstance(kwargs[key], int):
            kwargs[key] = float(kwargs[key])
    if kwargs.get("data") == "":  # from TOML: Path("") would be the current directory
        raise UsageError(f"--data: the file name is empty (in {args.config})")
    given = frozenset(settings)
    if args.headless and settings.get("check-every") and settings.get("gradcheck") is False:
        raise UsageError("--check-every and --no-gradcheck contradict each other: --no-gradcheck "
                         "checks no step, --check-every N every Nth: give one of them")
    try:
        config = validate(Config(**kwargs), given)
    except ConfigError as error:
        raise UsageError(f"--{error.key}: {error.message}") from None
    except OverflowError:
        raise UsageError("--x: values must be finite numbers") from None
    if explain and config.learns_from_data:  # engine.explain.elements derives one sample's numbers
        raise UsageError("--explain: explanations follow one sample's numbers; with --dataset or "
                         "--data a step is a batch, which they do not cover yet: leave --explain out")
    if "x" in kwargs and not kwargs["x"]:  # not the default: the user gave no values
        raise UsageError(f"--x: needs exactly {config.inputs} values (one per input), got 0")
    return Options(config=config, headless=args.headless, format=output_format,
                   config_file=_path(args.config), model=None if model is None else Path(model),
                   keymap=keymap,
                   session=_path(args.session), save_session=_path(args.save_session),
                   params=_path(args.params), export_params=_path(args.export_params),
                   session_trace=session_trace,
                   model_timeout=float(model_timeout), model_memory=model_memory, explain=explain,
                   convention=convention, reg=None if reg is None else float(reg),
                   given=given, export_notebook=args.export_notebook, served=args.served)
