"""The command line: flags and an optional TOML file, turned into a validated Config.

Nothing here imports Textual. Every error is a UsageError naming the flag, key or
file, which the entry point prints in at most three lines with exit status 2. The flags
are the settings' schema's (tui.cli.parser); the rules between the run's settings are the
engine's (engine.settings.rules); the rules here are the command line's own: which flags
go with --headless, --session and --model.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.settings.bounds import FORMATS, JSON_ARRAYS_MAX
from engine.settings.config import (
    MAX_MODEL_TIMEOUT,
    MODEL_MEMORY_BOUNDS,
    MODEL_MEMORY_MB,
    MODEL_TIMEOUT,
    Config,
    ConfigError,
    shown,
    validate,
)
from engine.settings.schema import flag
from tui.cli.parser import PROG, UsageError, build_parser, join_negative_values

__all__ = ["PROG", "Options", "UsageError", "parse", "refused"]

#: Flags that only mean something headless; given to the app they would be silently ignored.
HEADLESS_ONLY = ("steps", "format", "explain", "trace", "save_session", "export_params", "quiet", "output",
                 "json_arrays_max")
#: Flags that --session allows: how to run and report it, and the model file it names. The
#: session fixes everything else (network, data, seed, lr, ...).
WITH_SESSION = ("headless", "session", "steps", "format", "trace", "explain", "quiet", "model",
                "model_timeout", "model_memory", "convention", "reg", "model_option", "save_session",
                "export_params", "export_notebook", "served", "run_module", "python", "output",
                "json_arrays_max")
#: Flags naming files, none of which may be empty (Path("") is the current directory).
FILE_FLAGS = ("config", "model", "data", "session", "save_session", "params", "export_params", "python",
              "output")
#: Flags that only mean something with --model.
MODEL_ONLY = ("model_timeout", "model_memory", "convention", "reg", "model_option", "run_module", "python")
#: Flags that are not settings of the run: how to run it and which files it reads and writes.
NOT_SETTINGS = ("headless", "config", "explain", "quiet", "export_notebook", "served", "session",
                "save_session", "params", "export_params", "run_module", "python", "output",
                "json_arrays_max")


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
    #: --model-option KEY=VALUE: keywords for a course's model class, read as literals, in order.
    model_options: tuple[tuple[str, Any], ...] = ()
    session: Path | None = None  # --session: a saved session to reopen (it fixes the config)
    save_session: Path | None = None  # --save-session: headless, write the session after the run
    params: Path | None = None  # --params: start from these parameters (.npz)
    export_params: Path | None = None  # --export-params: headless, write the final parameters
    session_trace: str | None = None  # --trace given with --session (the session fixes the rest)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, from [keymap]
    #: Elements to explain in the final state (--explain), as typed, their syntax checked;
    #: the names and indexes are checked against the network's tensors by the entry point.
    explain: tuple[str, ...] = ()
    #: --quiet: headless, a line per failing tensor and a summary line instead of the report.
    quiet: bool = False
    #: The settings the user gave (flags and TOML keys, by the settings' keys): the data
    #: decide the inputs and classes, and only a given --inputs or --classes can disagree.
    given: frozenset[str] = frozenset()
    #: --export-notebook: write the run as a Jupyter notebook to this file, then exit.
    export_notebook: str | None = None
    #: Served mode (tui.cli.serve): the app in a browser, where nothing a visitor types loads a file.
    served: bool = False
    #: --run-module: run the model file's whole top level at import (engine.usermodel.loading).
    run_module: bool = False
    #: --python: the Python the model's process runs in; None: the stepper's own.
    python: str | None = None
    #: --output: headless, the report written to this file instead of stdout.
    output: Path | None = None
    #: --json-arrays-max: with --output and --format json, arrays of more elements go to the
    #: .npz beside the trace (tui.output.sidecar).
    json_arrays_max: int = JSON_ARRAYS_MAX

    @property
    def sidecar(self) -> Path | None:
        """The .npz beside a JSON trace's file that holds its large arrays; None without one."""
        if self.output is None or self.format != "json":
            return None
        return self.output.with_suffix(".npz")


def refused(error: ConfigError) -> UsageError:
    """A rule's error as the command line says it: the setting by its flag."""
    return UsageError(f"{flag(error.key)}: {error.says(flag)}")


def _flag_of(dest: str) -> str:
    return flag(dest.replace("_", "-"))


# ---- the command line's own rules, on the flags as given ----

def no_empty_file_names(args: argparse.Namespace) -> None:
    for dest in FILE_FLAGS:
        if getattr(args, dest) == "":  # Path("") would be ".", the current directory
            raise UsageError(f"{_flag_of(dest)}: the file name is empty")


def report_flags_need_headless(args: argparse.Namespace) -> None:
    """Refused rather than ignored: the user expects a report and would get the app. A config
    file's steps and format are fine, since one file may serve both modes."""
    if args.headless:
        return
    for dest in HEADLESS_ONLY:
        if getattr(args, dest) is not None and not (dest == "steps" and args.export_notebook is not None):
            where = {"save_session": " (in the app, ctrl+s saves the session)",
                     "export_params": " (in the app, x writes the parameters)"}.get(dest, "")
            raise UsageError(f"{_flag_of(dest)} only applies to a report: add --headless{where}")


def session_fixes_the_rest(args: argparse.Namespace) -> None:
    if args.session is None:
        return
    fixed = [dest for dest, value in vars(args).items() if value is not None and dest not in WITH_SESSION]
    if fixed:
        raise UsageError(f"{_flag_of(fixed[0])} cannot be used with --session: the session fixes the "
                         "network, data and settings it was saved with (it may be given --headless, "
                         "--steps, --format, --trace, --explain, --quiet, --model (with --run-module and "
                         "--python), --save-session, --export-params and --export-notebook)")


def training_runs_are_the_apps(args: argparse.Namespace) -> None:
    if args.headless and args.train_steps is not None:  # a report runs --steps, never a run of K
        raise UsageError("--train-steps only applies to the app's training runs (t); a report runs "
                         "--steps N")


def model_flags_need_model(args: argparse.Namespace) -> None:
    if args.model is None:
        for dest in MODEL_ONLY:
            if getattr(args, dest) is not None:
                raise UsageError(f"{_flag_of(dest)} only applies to your own model: add --model FILE.py")


def explain_elements_read(args: argparse.Namespace) -> None:
    if not args.explain:
        return
    # Here, not at the top: engine.explain is a few tens of milliseconds of import that a run
    # without --explain never needs.
    from engine.explain.elements import parse_element

    for text in args.explain:
        try:
            parse_element(text)
        except ValueError as error:
            raise UsageError(f"--explain: {error}") from None


def quiet_is_the_whole_report(args: argparse.Namespace) -> None:
    """--quiet replaces the report, so a flag that shapes the report contradicts it (a
    config file's format or trace is overridden, as flags override the file)."""
    if not args.quiet:
        return
    given = [flag for flag, on in (("--format json", args.format == "json"), ("--explain", args.explain),
                                   ("--trace", args.trace is not None)) if on]
    if given:
        raise UsageError(f"--quiet and {given[0]} cannot be used together: --quiet prints only a line "
                         "per failing tensor and a summary line instead of the report")


def arrays_go_beside_a_file(args: argparse.Namespace) -> None:
    """--json-arrays-max says which arrays go to the .npz beside --output's file: without
    that file there is nowhere to put them."""
    if args.json_arrays_max is None:
        return
    if args.json_arrays_max < 0:
        raise UsageError(f"--json-arrays-max: must be a whole number >= 0, got {args.json_arrays_max}")
    if args.output is None:
        raise UsageError("--json-arrays-max: the large arrays go to an .npz beside the trace's file: add "
                         "--output FILE.json (stdout's trace holds every array)")


#: The flags' own rules, in the order they are checked.
FLAG_RULES: tuple[Callable[[argparse.Namespace], None], ...] = (
    no_empty_file_names, report_flags_need_headless, session_fixes_the_rest, training_runs_are_the_apps,
    model_flags_need_model, explain_elements_read, quiet_is_the_whole_report, arrays_go_beside_a_file,
)


# ---- the settings that are not the run's Config: the model process and the report ----

def _course_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """--convention and --reg, taken out of the settings and checked."""
    convention, reg = settings.pop("convention", None), settings.pop("reg", None)
    given = settings.pop("model-option", None) or []
    if convention is None and reg is None and not given:
        return {"convention": None, "reg": None, "model_options": ()}
    # Only now: the course conventions (engine.model.conventions imports all four) cost a
    # run that names none of them tens of milliseconds of start-up.
    from engine.model.conventions import CONVENTIONS, WITH_REG

    if convention is not None and convention not in CONVENTIONS:
        raise UsageError(f"--convention: must be one of {', '.join(CONVENTIONS)}, got {shown(convention)}")
    if reg is not None:
        if not (math.isfinite(reg) and reg >= 0):
            raise UsageError(f"--reg: must be a finite number >= 0, got {shown(reg)}")
        if convention is not None and convention not in WITH_REG:
            raise UsageError(f"--reg: the {convention} convention takes no regularisation; --reg "
                             f"applies to {', '.join(WITH_REG)}")
    return {"convention": convention, "reg": None if reg is None else float(reg),
            "model_options": _model_options(given)}


def _model_options(given: list[str]) -> tuple[tuple[str, Any], ...]:
    """--model-option KEY=VALUE, each read as a literal (never run), no key given twice."""
    from engine.model.conventions.common import read_option  # only with options: see _course_settings

    out: dict[str, Any] = {}
    for text in given:
        try:
            key, value = read_option(text)
        except ValueError as error:
            raise UsageError(f"--model-option {shown(text)}: {error}") from None
        if key in out:
            raise UsageError(f"--model-option: {key} is given twice")
        out[key] = value
    return tuple(out.items())


def _process_settings(settings: dict[str, Any], model: object) -> dict[str, Any]:
    """--model-timeout, --model-memory and --format, taken out of the settings and checked."""
    if model is not None and settings.get("inject-bug") is not None:
        raise UsageError("--model and --inject-bug cannot be used together: --inject-bug breaks "
                         "the built-in network, --model replaces it")
    rate = next((key for key in ("l1", "l2") if settings.get(key)), None)
    if model is not None and rate is not None:
        raise UsageError(f"--model and --{rate} cannot be used together: --{rate} regularises the "
                         "built-in network, whose loss your model replaces (a cs231n or nnfs file "
                         "takes --reg)")
    timeout = settings.pop("model-timeout", MODEL_TIMEOUT)
    if not 0 < timeout <= MAX_MODEL_TIMEOUT:  # NaN fails this too
        raise UsageError(f"--model-timeout: must be a number of seconds above 0 and at most "
                         f"{MAX_MODEL_TIMEOUT:,.0f}, got {shown(timeout)}")
    memory = settings.pop("model-memory", MODEL_MEMORY_MB)
    if not MODEL_MEMORY_BOUNDS[0] <= memory <= MODEL_MEMORY_BOUNDS[1]:
        raise UsageError(f"--model-memory: must be between {MODEL_MEMORY_BOUNDS[0]} and "
                         f"{MODEL_MEMORY_BOUNDS[1]:,} (MB), got {shown(memory)}")
    output_format = settings.pop("format", "text")
    if output_format not in FORMATS:
        raise UsageError(f"--format: must be one of {', '.join(FORMATS)}, got {shown(output_format)}")
    return {"model_timeout": float(timeout), "model_memory": memory, "format": output_format}


# ---- the run's Config ----

def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The TOML file's settings with the flags over them, by key, and the file's [keymap]."""
    settings: dict[str, Any] = {}
    keymap: dict[str, str] = {}
    if args.config is not None:
        # Only with --config: the file's reader (and the app's key names) is start-up time.
        from tui.cli.configfile import check_file_types, check_keymap, read_config_file

        settings = read_config_file(args.config)
        check_file_types(settings, args.config)
        keymap = check_keymap(settings.pop("keymap", {}), args.config)
    for dest, value in vars(args).items():
        if value is not None and dest not in NOT_SETTINGS:
            settings[dest.replace("_", "-")] = value
    return settings, keymap


def _config_fields(settings: dict[str, Any], config_file: str | None) -> dict[str, Any]:
    """The settings as Config's keywords, in its types (a TOML array is a tuple, 1 is 1.0)."""
    kwargs = {key.replace("-", "_"): value for key, value in settings.items()}
    if "x" in kwargs:
        kwargs["x"] = tuple(float(v) for v in kwargs["x"])
    if isinstance(kwargs.get("hidden"), list):
        kwargs["hidden"] = tuple(kwargs["hidden"])
    for key in ("lr", "l1", "l2", "eps", "noise", "test_fraction", "momentum", "beta1", "beta2", "epsilon",
                "decay"):
        if key in kwargs and isinstance(kwargs[key], int):
            kwargs[key] = float(kwargs[key])
    if kwargs.get("data") == "":  # from TOML: Path("") would be the current directory
        raise UsageError(f"--data: the file name is empty (in {config_file})")
    return kwargs


def _config(settings: dict[str, Any], args: argparse.Namespace) -> Config:
    """The run's Config, validated with the settings given."""
    kwargs = _config_fields(settings, args.config)
    if args.headless and settings.get("check-every") and settings.get("gradcheck") is False:
        raise UsageError("--check-every and --no-gradcheck contradict each other: --no-gradcheck "
                         "checks no step, --check-every N every Nth: give one of them")
    try:
        config = validate(Config(**kwargs), frozenset(settings))
    except ConfigError as error:
        raise refused(error) from None
    except OverflowError:
        raise UsageError("--x: values must be finite numbers") from None
    if args.explain and config.learns_from_data:  # engine.explain.elements derives one sample's numbers
        raise UsageError("--explain: explanations follow one sample's numbers; with --dataset or "
                         "--data a step is a batch, which they do not cover yet: leave --explain out")
    if "x" in kwargs and not kwargs["x"]:  # not the default: the user gave no values
        raise UsageError(f"--x: needs exactly {config.inputs} values (one per input), got 0")
    return config


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


def parse(argv: list[str], also_known: tuple[str, ...] = ()) -> Options:
    """Flags (and the TOML file they name) to validated options, or a UsageError; a mistyped
    flag is told the closest of the flags and of `also_known` (serve's own)."""
    parser = build_parser(also_known)
    args = parser.parse_args(join_negative_values(argv, parser))
    for rule in FLAG_RULES:
        rule(args)
    settings, keymap = _settings(args)
    model = settings.pop("model", None)
    course = _course_settings(settings)
    # With --session the run's settings are the session's; the report's trace is this
    # command's, checked against the session's config by the entry point (tui.cli.main).
    session_trace = settings.pop("trace", None) if args.session is not None else None
    process = _process_settings(settings, model)
    config = _config(settings, args)
    _report_file(args, process["format"])
    return Options(config=config, headless=args.headless, config_file=_path(args.config),
                   model=_path(model), keymap=keymap, session=_path(args.session),
                   save_session=_path(args.save_session), params=_path(args.params),
                   export_params=_path(args.export_params), session_trace=session_trace,
                   explain=tuple(args.explain or ()), quiet=bool(args.quiet), given=frozenset(settings),
                   export_notebook=args.export_notebook, served=args.served,
                   run_module=bool(args.run_module), python=args.python, output=_path(args.output),
                   json_arrays_max=JSON_ARRAYS_MAX if args.json_arrays_max is None else args.json_arrays_max,
                   **course, **process)


def _report_file(args: argparse.Namespace, output_format: str) -> None:
    """--output's file and --json-arrays-max against the report's format (which a TOML file
    may give)."""
    if args.json_arrays_max is not None and output_format != "json":
        raise UsageError("--json-arrays-max: only a JSON trace has arrays to put beside it: add "
                         "--format json")
    if args.output is not None and output_format == "json" and Path(args.output).suffix == ".npz":
        raise UsageError(f"--output: name the trace FILE.json, not {shown(args.output)}: its large arrays "
                         "go to FILE.npz beside it")

