"""--export-notebook: the exported notebook, executed cell by cell in one namespace (no Jupyter
kernel), prints the stepper's losses; it is valid nbformat 4; its markdown names the phases; its
parameters read back bit for bit; bad paths and unexportable runs exit 2 with one line."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from engine.run.stepper import Stepper
from tui.cli.fit import with_data
from tui.cli.main import main
from tui.cli.options import parse
from tui.output import cells as generator

NOTEBOOK_INITIAL_LOSS = 1.1732865037089109  # the seed notebook's printed initial loss


def export(tmp_path: Path, *flags: str, capsys: pytest.CaptureFixture[str] | None = None) -> Any:
    path = tmp_path / "run.ipynb"
    assert main(["--export-notebook", str(path), *flags]) == 0
    if capsys is not None:
        assert str(path) in capsys.readouterr().out
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def execute(notebook: Any, upto: int | None = None) -> tuple[str, dict[str, Any]]:
    """Each code cell's source exec'd in order in one namespace; what it printed."""
    namespace: dict[str, Any] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in notebook.cells[:upto]:
            if cell.cell_type == "code":
                exec(compile(cell.source, "<cell>", "exec"), namespace)
    return out.getvalue(), namespace


def printed_losses(text: str) -> tuple[list[float], float]:
    """The loss at each step's forward pass, and the final loss, as the notebook printed them."""
    steps = re.findall(r"^(Initial loss|Loss before step (\d+)): (\S+)$", text, re.MULTILINE)
    assert steps and steps[0][0] == "Initial loss"
    assert [int(number) for _, number, _ in steps[1:]] == list(range(2, len(steps) + 1))
    final = re.findall(r"^Final loss after (?:one .+? step|.+? step \d+): (\S+)$", text, re.MULTILINE)
    assert len(final) == 1
    return [float(value) for _, _, value in steps], float(final[0])


def stepper_of(*flags: str) -> Stepper:
    options, data = with_data(parse(["--headless", *flags]))
    return Stepper(options.config, data=data)


def stepper_losses(stepper: Stepper) -> tuple[list[float], float]:
    stepper.gradcheck_enabled = False
    losses: list[float] = []
    final = float("nan")
    for state in stepper.iter_steps(stepper.config.steps):
        assert state.forward is not None and state.update is not None
        losses.append(state.forward.loss)
        final = state.update.loss_after
    return losses, final


def assert_same_run(tmp_path: Path, *flags: str) -> str:
    """The notebook of the run the flags describe prints the stepper's losses (to 1e-12; in
    fact bit for bit, as it does the engine's arithmetic), and its own gradient check of every
    step prints a relative error."""
    text, _ = execute(export(tmp_path, *flags))
    losses, final = printed_losses(text)
    expected, expected_final = stepper_losses(stepper_of(*flags))
    assert losses == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert final == pytest.approx(expected_final, rel=1e-12, abs=1e-12)
    return text


def test_the_default_run_prints_the_seed_notebooks_losses(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    text, _ = execute(export(tmp_path, capsys=capsys))
    (initial,), final = printed_losses(text)
    assert abs(initial - NOTEBOOK_INITIAL_LOSS) <= 1e-12
    assert abs(final - 0.9036177230801858) <= 1e-12  # the seed notebook's final loss
    expected, expected_final = stepper_losses(stepper_of())
    assert (initial, final) == (expected[0], expected_final)
    # The seed notebook's updated W1, printed as it prints it.
    assert "[ 1.49660166 -0.18129699 -0.24735105]" in text
    errors = [float(e) for e in re.findall(r"max relative error: (\S+)", text)]
    assert len(errors) == 1 and errors[0] < 1e-7


def test_steps_without_headless(tmp_path: Path) -> None:
    text = assert_same_run(tmp_path, "--steps", "4")
    assert len(printed_losses(text)[0]) == 4


ACTIVATIONS = ("relu", "leaky-relu", "tanh", "sigmoid")
LOSSES = (("--loss", "bce"), ("--loss", "mse"), ("--classes", "3"))
INITS = ["notebook", "he", "xavier"]


def _architectures() -> list[tuple[str, ...]]:
    """Every activation with every loss, 1 to 3 hidden layers of random widths, random seeds,
    inits, labels and learning rates (a fixed sample, so a failure reproduces)."""
    rng = np.random.default_rng(13)
    cases = []
    for i, (activation, loss) in enumerate((a, lo) for a in ACTIVATIONS for lo in LOSSES):
        depth = i % 3 + 1
        hidden = ",".join(str(w) for w in rng.integers(2, 6, depth))
        label = str(rng.integers(0, 3 if loss[0] == "--classes" else 2))
        cases.append(("--activation", activation, *loss, "--hidden", hidden,
                      "--inputs", str(rng.integers(2, 5)), "--y", label,
                      "--seed", str(rng.integers(0, 1000)), "--init", str(rng.choice(INITS)),
                      "--lr", str(float(rng.choice([0.1, 0.5]))), "--steps", "3"))
    return cases


@pytest.mark.parametrize("flags", _architectures(), ids=lambda flags: " ".join(flags[1:8]))
def test_architectures(tmp_path: Path, flags: tuple[str, ...]) -> None:
    assert_same_run(tmp_path, *flags)


@pytest.mark.parametrize("activation", ["relu", "leaky-relu"])
def test_the_kink_convention(tmp_path: Path, activation: str) -> None:
    """x = 0 puts every first-layer unit exactly at its kink (z1 = b1 = 0): the notebook takes
    the derivative there as the engine does (the slope left of 0), or step 2's loss differs."""
    assert_same_run(tmp_path, "--x", "0,0,0", "--activation", activation, "--steps", "2")


def test_moons_in_mini_batches(tmp_path: Path) -> None:
    text = assert_same_run(tmp_path, "--dataset", "moons", "--batch", "16", "--steps", "3")
    assert len(printed_losses(text)[0]) == 3


def test_softmax_spiral(tmp_path: Path) -> None:
    assert_same_run(tmp_path, "--dataset", "spiral", "--classes", "3", "--hidden", "6,5",
                    "--activation", "tanh", "--batch", "32", "--steps", "3", "--standardize")


def test_full_batch_without_gradient_check(tmp_path: Path) -> None:
    text = assert_same_run(tmp_path, "--dataset", "xor", "--steps", "2", "--no-gradcheck")
    assert "relative error" not in text


def test_the_gradient_check_agrees_with_the_backward_pass(tmp_path: Path) -> None:
    """The notebook checks its own backward pass: on a smooth network the relative error of
    every step is tiny (a wrong derivative in the written backward pass shows here)."""
    for flags in (("--activation", "tanh", "--hidden", "4,3", "--classes", "3", "--y", "2"),
                  ("--activation", "sigmoid", "--hidden", "3", "--loss", "mse"),
                  ("--dataset", "circle", "--activation", "tanh", "--batch", "8")):
        text, _ = execute(export(tmp_path, *flags, "--steps", "2"))
        errors = [float(e) for e in re.findall(r"max relative error: (\S+)", text)]
        assert len(errors) == 2 and max(errors) < 1e-6, (flags, errors)


@pytest.mark.parametrize("flags", [
    ("--l2", "0.1", "--steps", "3"),
    ("--l1", "0.05", "--activation", "tanh", "--hidden", "4,3", "--classes", "3", "--y", "2", "--steps", "2"),
    ("--l1", "0.01", "--l2", "0.02", "--dataset", "moons", "--batch", "16", "--steps", "3"),
], ids=["l2", "l1-softmax", "both-batches"])
def test_regularisation_is_in_the_exported_loss_and_gradient(tmp_path: Path, flags: tuple[str, ...]) -> None:
    """The notebook's loss adds the penalty once and its dW the penalty's gradient: it prints
    the stepper's losses bit for bit, and its own check of its backward pass agrees."""
    notebook = export(tmp_path, *flags)
    text, namespace = execute(notebook)
    losses, final = printed_losses(text)
    assert (losses, final) == stepper_losses(stepper_of(*flags))
    errors = [float(e) for e in re.findall(r"max relative error: (\S+)", text)]
    assert errors and max(errors) < 1e-6, errors
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "+ penalty(params)" in code and "dW1 = " in code and "+ penalty_gradient(W1)" in code
    assert "db1 = dz1" in code and "penalty_gradient(b" not in code
    rates = dict(zip(flags[::2], flags[1::2], strict=False))
    assert (namespace["l1"], namespace["l2"]) == (float(rates.get("--l1", 0)), float(rates.get("--l2", 0)))


def test_without_rates_the_notebook_has_no_penalty(tmp_path: Path) -> None:
    notebook = export(tmp_path)
    assert not any("penalty" in cell.source or "regularisation" in cell.source.lower()
                   for cell in notebook.cells)


@pytest.mark.parametrize("flags", [(), ("--inputs", "40", "--hidden", "30", "--init", "he")],
                         ids=["literals", "base64"])
def test_parameters_read_back_bit_for_bit(tmp_path: Path, flags: tuple[str, ...]) -> None:
    notebook = export(tmp_path, *flags)
    _, namespace = execute(notebook, upto=-2)  # every cell but the run
    initial = stepper_of(*flags).initial.params
    assert list(namespace["params"]) == list(initial)
    for name, value in initial.items():
        assert namespace["params"][name].dtype == np.float64
        assert np.array_equal(namespace["params"][name], value), name
        assert namespace["params"][name].flags.writeable
    large = any(value.size > generator.LITERAL_LIMIT for value in initial.values())
    params_source = next(c.source for c in notebook.cells if c.source.startswith("params = {"))
    assert ("base64.b64decode" in params_source) is large


def test_data_and_batches_are_the_steppers(tmp_path: Path) -> None:
    flags = ("--dataset", "gauss", "--batch", "10", "--steps", "5")
    _, namespace = execute(export(tmp_path, *flags), upto=-2)
    data = stepper_of(*flags).data
    assert data is not None
    assert np.array_equal(namespace["X"], data.dataset.X)
    assert np.array_equal(namespace["y"], data.dataset.y)
    assert np.array_equal(namespace["train"], data.dataset.train)
    assert np.array_equal(namespace["test"], data.dataset.test)
    assert len(namespace["batches"]) == 5
    for step, rows in enumerate(namespace["batches"], start=1):
        assert np.array_equal(rows, data.rows(step))


def test_markdown_names_every_phase(tmp_path: Path) -> None:
    notebook = export(tmp_path, "--hidden", "3,3")
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and "code" in kinds
    headings = [line for cell in notebook.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("#")]
    for phase in ("Forward pass", "Backward pass", "Numerical gradient check", "SGD update"):
        assert any(phase in heading for heading in headings), phase
    # Each phase's markdown comes just before the code that does it, written for this network.
    sources = [cell.source for cell in notebook.cells]
    forward = next(i for i, s in enumerate(sources) if s.startswith("## Forward pass"))
    assert sources[forward + 1].startswith("def forward(") and "z3 = W3 @ a2 + b3" in sources[forward + 1]
    backward = next(i for i, s in enumerate(sources) if s.startswith("## Backward pass"))
    assert "dz1 = da1 * relu_derivative(z1)" in sources[backward + 1]
    assert notebook.nbformat == 4


@pytest.mark.parametrize(("where", "message"), [
    ("{tmp}", "is a directory"),
    ("{tmp}/missing/run.ipynb", "no such folder"),
    ("/proc/run.ipynb", "cannot write"),
    ("", "the file name is empty"),
])
def test_bad_paths_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str,
                          message: str) -> None:
    assert main(["--export-notebook", where.format(tmp=tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("backprop-stepper: error: --export-notebook: ")
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(("flags", "message"), [
    (("--inject-bug", "sign"), "--inject-bug"),
    (("--model", "tests/fixtures/notebook.py"), "--model"),
    (("--headless", "--format", "json"), "--format"),
    (("--headless", "--explain", "loss"), "--explain"),
])
def test_unexportable_runs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  flags: tuple[str, ...], message: str) -> None:
    path = tmp_path / "run.ipynb"
    assert main(["--export-notebook", str(path), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("backprop-stepper: error: --export-notebook: ") and message in err
    assert not path.exists()


def test_too_many_values_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(generator, "MAX_INLINED", 20)
    assert main(["--export-notebook", str(tmp_path / "run.ipynb")]) == 2
    assert "more than a notebook should hold" in capsys.readouterr().err


def test_a_sessions_notebook_prints_the_sessions_losses(tmp_path: Path) -> None:
    """--session with --export-notebook: the session's initial parameters and data, as many
    steps as it finished; the losses are the ones the session's own states hold."""
    from engine.run.session import open_session, read

    saved = tmp_path / "s.npz"
    assert main(["--headless", "--dataset", "moons", "--hidden", "8,8", "--activation", "tanh",
                 "--batch", "16", "--steps", "3", "--save-session", str(saved)]) == 0
    text, _ = execute(export(tmp_path, "--session", str(saved)))
    losses, final = printed_losses(text)
    session = open_session(read(saved))
    assert len(losses) == 3 and final == session.state.update.loss_after  # type: ignore[union-attr]
    assert losses == session.state.losses


def test_a_notebook_from_params_starts_from_them(tmp_path: Path) -> None:
    from engine.settings.config import Config

    params = tmp_path / "p.npz"
    assert main(["--headless", "--steps", "5", "--export-params", str(params)]) == 0
    losses, _ = printed_losses(execute(export(tmp_path, "--params", str(params)))[0])
    stepper = Stepper(Config())
    with np.load(params) as start:
        stepper.start_from({name: start[name] for name in start.files})
    stepper.next()
    assert stepper.state.forward is not None
    assert losses[0] == stepper.state.forward.loss != NOTEBOOK_INITIAL_LOSS


@pytest.mark.parametrize("flags", [
    ("--optimizer", "adam", "--steps", "6"),
    ("--optimizer", "adam", "--beta1", "0.8", "--beta2", "0.99", "--epsilon", "1e-6", "--decay", "0.9",
     "--hidden", "5,3", "--activation", "tanh", "--steps", "5"),
    ("--optimizer", "momentum", "--momentum", "0.5", "--steps", "4"),
    ("--optimizer", "nesterov", "--classes", "3", "--y", "2", "--steps", "4"),
    ("--optimizer", "rmsprop", "--lr", "0.01", "--steps", "4"),
    ("--decay", "0.5", "--steps", "3"),
    ("--optimizer", "adam", "--dataset", "moons", "--batch", "16", "--decay", "0.8", "--steps", "12"),
], ids=lambda flags: " ".join(flags))
def test_an_optimizers_run_prints_the_steppers_losses(tmp_path: Path, flags: tuple[str, ...]) -> None:
    """The exported notebook writes the optimizer (its state, its settings, the decay once an
    epoch) and reproduces the run's losses: an Adam run's too, saved state and all."""
    text = assert_same_run(tmp_path, *flags)
    optimizer = flags[1] if flags[0] == "--optimizer" else "sgd"
    notebook = export(tmp_path, *flags)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert f"def {optimizer}_update(" in code
    if optimizer == "adam":
        assert "state['t'] += 1" in code and "Adam step" in text
