"""Every example in the docs (README.md and docs/) that claims a result runs here, and its
claim is checked (issue 26, item 6; issue 29): a loss that falls to a figure, an accuracy a run
trains to, a report's lines.

Each test reads the docs' own words (tests/docs.py): the command from its line (the app's
`--train-steps K` run headless as `--steps K`, which is the same K steps without the screen),
the figures from its comment or prose, so a claim edited in the docs is checked as it now
reads, and a claim that is no longer in the docs fails here until its test follows. The seed
fixes everything (the weights, the data set, the batches), so every figure is exact to the
digits the docs print.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.docs import assert_printed, block_after, claim, line_starting, text
from tests.helpers import FIXTURES, raw_csv, run_main


def command(start: str) -> tuple[list[str], str]:
    """The docs' example line that begins `start`: its arguments after the program's name,
    and its comment."""
    code, _, comment = line_starting(start).partition("  # ")
    return shlex.split(code)[1:], comment


def headless(argv: list[str]) -> list[str]:
    """The app's command run headless: its training run's --train-steps K as --steps K, with no
    gradient check (a training run checks none unless --check-every asks)."""
    argv = list(argv)
    if "--train-steps" in argv:
        argv[argv.index("--train-steps")] = "--steps"
    return ["--headless", "--no-gradcheck", *argv]


def report(capsys: pytest.CaptureFixture[str], *argv: object, status: int = 0) -> str:
    got, out, err = run_main(capsys, *argv)
    assert got == status, err
    return out


def trace(capsys: pytest.CaptureFixture[str], *argv: object) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(report(capsys, *argv, "--format", "json", "--trace", "summary"))
    return result


def losses(out: str) -> list[float]:
    """A text report's initial loss and each step's loss after its update."""
    found = re.findall(r"^(?:Initial loss|Final loss after (?:one SGD step|SGD step \d+)): (\S+)$", out, re.M)
    return [float(v) for v in found]


def figures(comment: str) -> list[str]:
    """The numbers of a comment such as `5.08 -> 3.87 -> 2.81`, as written."""
    return comment.rsplit(": ", 1)[1].split(" -> ")


# ---- Usage -------------------------------------------------------------------------------------

@pytest.mark.parametrize("start", ["backprop-stepper --inputs 784 --hidden 256,128 --classes 10",
                                   "backprop-stepper --inputs 784 --hidden 128 --init he"])
def test_usage_the_784_input_networks_losses_fall_as_their_comments_say(capsys, start) -> None:
    """The docs, Usage: `# MNIST-sized softmax: 5.08 -> 3.87 -> 2.81` and `# 784-128-1 that
    learns: 0.316 -> 0.0176`: the initial loss, then the loss after each update, to 3 digits."""
    argv, comment = command(start)
    said = figures(comment)
    got = losses(report(capsys, *headless(argv), "--steps", len(said) - 1))
    assert [f"{v:.3g}" for v in got] == said


def test_usage_the_moons_example_learns_to_93_percent_in_a_training_run(capsys) -> None:
    """The docs, Usage: `backprop-stepper --dataset moons --hidden 8,8 --activation tanh  # learns
    from data: 93% train accuracy after a run (t)`: a training run's default 100 steps, from
    17% at the first step."""
    argv, comment = command("backprop-stepper --dataset moons --hidden 8,8 --activation tanh")
    assert comment == "learns from data: 93% train accuracy after a run (t)"
    steps = trace(capsys, *headless(argv), "--steps", "100")["steps"]
    first, last = steps[0]["metrics"]["train_accuracy"], steps[-1]["metrics"]["train_accuracy"]
    assert (len(steps), f"{first:.0%}", f"{last:.0%}") == (100, "17%", "93%")


def test_flags_init_the_notebooks_draws_saturate_784_128_1_and_he_gives_0_32(capsys) -> None:
    """The docs, Flags, `--init`: "At 784-128-1 the notebook's draws saturate the sigmoid
    (initial loss 7e-69, gradients vanish); `--init he` gives 0.32"."""
    claim("At 784-128-1 the notebook's draws saturate the sigmoid (initial loss 7e-69, gradients "
          "vanish); `--init he` gives 0.32")
    base = ("--headless", "--no-gradcheck", "--inputs", "784", "--hidden", "128", "--steps", "1")
    (notebook, *_), (he, *_) = losses(report(capsys, *base)), losses(report(capsys, *base, "--init", "he"))
    assert (f"{notebook:.0e}", f"{he:.2g}") == ("7e-69", "0.32")


# ---- Learning from data --------------------------------------------------------------------------

def test_learning_from_data_the_spiral_example_trains_to_98_percent(capsys) -> None:
    """The docs, Learning from data: `backprop-stepper --dataset spiral --classes 3 --hidden
    16,16 --batch 32 … --train-steps 1000  # three arms: 98% train accuracy after a run (t)`,
    and the paragraph under it: "one run of 1000 steps ends at 98.1% train and 92.5% test
    accuracy" (the fit before the run's last update, as the report's table and the app's
    data line give it); issue 26 asks for at least 90%."""
    argv, comment = command("backprop-stepper --dataset spiral --classes 3")
    assert comment.endswith("98% train accuracy after a run (t)")
    claim("one run of 1000 steps ends at 98.1% train and 92.5% test accuracy")
    assert argv[argv.index("--train-steps") + 1] == "1000"
    result = trace(capsys, *headless(argv))
    assert len(result["steps"]) == 1000
    metrics = result["steps"][-1]["metrics"]
    assert metrics["train_accuracy"] >= 0.9
    assert (f"{metrics['train_accuracy']:.1%}", f"{metrics['test_accuracy']:.1%}") == ("98.1%", "92.5%")


def test_learning_from_data_the_spiral_with_the_defaults_stays_near_40_percent(capsys) -> None:
    """The docs, Learning from data: "With the defaults (SGD at lr 0.1, the notebook's init,
    noise 0.1) the same network stays near 40%" (a training run's 100 steps)."""
    claim("With the defaults (SGD at lr 0.1, the notebook's init, noise 0.1) the same network "
          "stays near 40%")
    result = trace(capsys, "--headless", "--no-gradcheck", "--dataset", "spiral", "--classes", "3",
                   "--hidden", "16,16", "--batch", "32", "--steps", "100")
    assert f"{result['steps'][-1]['metrics']['train_accuracy']:.0%}" == "40%"


# ---- Training health -----------------------------------------------------------------------------

def test_training_health_the_raw_csvs_report_is_the_docs(capsys, tmp_path: Path) -> None:
    """The docs, Training health: the report of `--data raw.csv --batch 16 --steps 100` (its
    Data and Notice lines, the table, every verdict), printed as the docs print it."""
    claim("A newcomer's CSV of raw ages and weights (`--data raw.csv --batch 16 --steps 100`):")
    expected = block_after("(`--data raw.csv --batch 16 --steps 100`):")
    assert sum(line.startswith("  ⚠") for line in expected) == 5
    csv = raw_csv(tmp_path)
    assert_printed(expected, report(capsys, "--headless", "--no-gradcheck", "--data", csv, "--batch", "16",
                                    "--steps", "100"))


def test_training_health_standardized_the_raw_csv_trains_to_98_8_percent(capsys, tmp_path: Path) -> None:
    """The docs, Training health: "With `--standardize --init he` the same file trains to 98.8%
    train accuracy (train loss 0.15) and the section ends "No verdict: …"" (100 steps)."""
    claim("With `--standardize --init he` the same file trains to 98.8% train accuracy (train loss "
          "0.15) and the section ends \"No verdict: every statistic stayed in its healthy range.\"")
    argv = ["--headless", "--no-gradcheck", "--data", raw_csv(tmp_path), "--batch", "16", "--steps", "100",
            "--standardize", "--init", "he"]
    metrics = trace(capsys, *argv)["steps"][-1]["metrics"]
    assert (f"{metrics['train_accuracy']:.1%}", f"{metrics['train_loss']:.2f}") == ("98.8%", "0.15")
    assert report(capsys, *argv).rstrip().endswith(
        "No verdict: every statistic stayed in its healthy range.")


# ---- The notebook, your own model, the worked example --------------------------------------------

def test_notebook_the_defaults_losses_are_the_ones_the_docs_print(capsys) -> None:
    """The docs, A notebook back: "It prints the same losses as the stepper (`Initial loss:
    1.173286503708911` and `Final loss after one SGD step: 0.9036177230801856` for the
    defaults, as the headless report does)"."""
    claim("(`Initial loss: 1.173286503708911` and `Final loss after one SGD step: 0.9036177230801856` "
          "for the defaults, as the headless report does)")
    assert_printed(["Initial loss: 1.173286503708911", "Final loss after one SGD step: 0.9036177230801856",
                    "Loss decreased after the SGD update."], report(capsys, "--headless"))


def test_your_own_model_the_three_layer_files_losses(capsys) -> None:
    """The docs, Your own model, any shape: `$ backprop-stepper --headless --steps 2 --model
    tests/fixtures/three_layer.py` and the lines it prints (0.6324541308338669 falling to
    0.5690212382469869)."""
    dollar = claim("$ backprop-stepper --headless --steps 2 --model tests/fixtures/three_layer.py")
    printed = text().split(dollar + "\n", 1)[1].split("```", 1)[0].splitlines()
    assert printed[1:3] == ["=== Step 1 ===", "Initial loss: 0.6324541308338669"]
    argv = shlex.split(dollar)[2:]
    argv[argv.index("--model") + 1] = str(FIXTURES / "three_layer.py")
    assert_printed(printed, report(capsys, *argv))


def test_worked_example_the_broken_relu_fails_its_check_and_its_loss_still_falls(capsys, tmp_path) -> None:
    """The docs, Find a bug in your own backprop: the `sed` line's broken.py exits 1 ("1: the
    check failed"), stderr says the demo call was left out at import, and its report prints the
    docs' lines: the notebook's losses, "The loss still falls"."""
    claim("backprop-stepper --headless --model broken.py; echo $?    # 1: the check failed")
    claim("The loss still falls, which is why a loss curve alone would not have caught this.")
    source = (FIXTURES / "notebook.py").read_text(encoding="utf-8")
    assert "return (z > 0).astype(float)" in source
    broken = tmp_path / "broken.py"
    broken.write_text(source.replace("return (z > 0).astype(float)", "return np.ones_like(z)"),
                      encoding="utf-8")
    status, out, err = run_main(capsys, "--headless", "--model", broken)
    assert status == 1, err
    assert_printed(block_after("and its printout goes to stderr instead):"), err)
    assert_printed(block_after(claim("and the report, on stdout, flags W1 and b1, the gradients that pass "
                                     "through the ReLU:")), out)
