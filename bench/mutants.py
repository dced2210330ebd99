"""A mutation check of engine/maths/network.py: does some fast test fail when the maths is
wrong? Each mutant is one small edit of the kind people make (a sign, a factor 1/m, a
transpose, an index, the kink's convention, softmax without its shift); the fast tests that
cover the network run against it, and a mutant no test fails on "survived".

    python bench/mutants.py [--only NAME ...] [--list]

The tree is copied to a temporary directory and every mutant is written into the copy, so
the working tree is never modified, whatever happens. A mutant marked equivalent computes
the same numbers as the original (nothing could kill it) and is left out of the kill rate.
Tests run with -x, fast files first, so a killed mutant costs a few seconds; a survivor
runs them all (about half a minute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path("engine/maths/network.py")
#: The fast tests that cover the network, the unit tests first (they kill most mutants in a second).
TESTS = ("tests/engine/test_network.py", "tests/engine/test_fastcheck.py", "tests/engine/test_gradcheck.py",
         "tests/engine/test_properties.py", "tests/engine/test_architectures.py")
PYTEST = ("-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-n", "0", "-m", "not slow",
          "--hypothesis-seed=0")
COPIED = ("engine", "tui", "tests", "pyproject.toml")
TIMEOUT = 900.0  # seconds; a mutant that hangs the tests counts as killed


@dataclass(frozen=True)
class Mutant:
    name: str
    old: str  # must occur exactly once in the target
    new: str
    equivalent: str = ""  # why it computes the same numbers, if it does


MUTANTS = [
    Mutant("sigmoid: halves swapped", "np.where(z >= 0, 1.0 / d, e / d)", "np.where(z >= 0, e / d, 1.0 / d)"),
    Mutant("sigmoid: exp of +|z|", "e = np.exp(-np.abs(z))", "e = np.exp(np.abs(z))"),
    Mutant("relu: minimum", "np.maximum(0.0, z)", "np.minimum(0.0, z)"),
    Mutant("relu': 1 at the kink", "(z > 0).astype(z.dtype)", "(z >= 0).astype(z.dtype)"),
    Mutant("leaky relu: z >= 0", "np.where(z > 0, z, LEAKY_SLOPE * z)",
           "np.where(z >= 0, z, LEAKY_SLOPE * z)", equivalent="at z = 0 both branches give 0"),
    Mutant("leaky relu': 0 below the kink", "np.where(z > 0, 1.0, LEAKY_SLOPE)", "np.where(z > 0, 1.0, 0.0)"),
    Mutant("leaky slope 0.02", "LEAKY_SLOPE = 0.01", "LEAKY_SLOPE = 0.02"),
    Mutant("tanh': 1 + tanh²", "1.0 - np.tanh(z) ** 2", "1.0 + np.tanh(z) ** 2"),
    Mutant("sigmoid': s (1 + s)", "s * (1.0 - s)", "s * (1.0 + s)"),
    Mutant("softmax without max-subtraction", "np.exp(z - np.max(z, axis=-1, keepdims=True))", "np.exp(z)"),
    Mutant("softmax: sum over every axis", "e / np.sum(e, axis=-1, keepdims=True)", "e / np.sum(e)"),
    Mutant("bce: label sign flipped", "(1 - 2 * y) * z", "(2 * y - 1) * z"),
    Mutant("mse: factor 1/2 dropped", "return 0.5 * (sigmoid(z[..., 0]) - y) ** 2",
           "return (sigmoid(z[..., 0]) - y) ** 2"),
    Mutant("cross-entropy: + z_y", "np.log(np.sum(np.exp(z - m[..., None]), axis=-1)) - _picked(z, y)",
           "np.log(np.sum(np.exp(z - m[..., None]), axis=-1)) + _picked(z, y)"),
    Mutant("cross-entropy: log-sum-exp not shifted", "m: Array = np.max(z, axis=-1)",
           "m: Array = np.zeros(z.shape[:-1])"),
    Mutant("one sample's logit: class 0", "return z[..., y]", "return z[..., 0]"),
    Mutant("one-hot of a batch: whole columns", "onehot[np.arange(len(onehot)), y] = 1.0",
           "onehot[:, y] = 1.0"),
    Mutant("mse delta: sigmoid slope dropped", "delta * a * (1.0 - a) if loss", "delta * a if loss"),
    Mutant("output delta: y - a", "delta: Array = a - target(a, y)", "delta: Array = target(a, y) - a"),
    Mutant("mean loss: 1/m dropped", "losses.sum() / losses.size", "losses.sum()"),
    Mutant("W a of a batch: W not transposed", "a @ W.T", "a @ W"),
    Mutant("Wᵀ dz: transpose forgotten", "W.T @ dz if dz.ndim == 1", "W @ dz if dz.ndim == 1"),
    Mutant("Wᵀ dz of a batch: transposed", "else dz @ W\n", "else dz @ W.T\n"),
    Mutant("dW of a batch: 1/m dropped", "dz.T @ a / len(dz)", "dz.T @ a"),
    Mutant("dW: outer product reversed", "np.outer(dz, a)", "np.outer(a, dz)"),
    Mutant("dW: outer product reversed and transposed back", "np.outer(dz, a)", "np.outer(a, dz).T",
           equivalent="(a dzᵀ)ᵀ = dz aᵀ"),
    Mutant("db of a batch: 1/m dropped", "dz.sum(axis=0) / len(dz)", "dz.sum(axis=0)"),
    Mutant("db: dz itself, not a copy", "db = dz.copy() if", "db = dz if",
           equivalent="nothing writes into dz or db afterwards"),
    Mutant("backward: a layer short", "for l in range(L, 0, -1):", "for l in range(L, 1, -1):"),
    Mutant("backward: a_l for a_(l-1)", 'a_prev = x if l == 1 else cache[f"a{l - 1}"]',
           'a_prev = x if l == 1 else cache[f"a{l}"]'),
    Mutant("backward: f' of a, not of z", 'da * arch.f.derivative(cache[f"z{l - 1}"])',
           'da * arch.f.derivative(cache[f"a{l - 1}"])'),
    Mutant("forward: bias dropped", 'z = _into(params[f"W{l}"], a) + params[f"b{l}"]',
           'z = _into(params[f"W{l}"], a)'),
    Mutant("forward: bias subtracted", 'z = _into(params[f"W{l}"], a) + params[f"b{l}"]',
           'z = _into(params[f"W{l}"], a) - params[f"b{l}"]'),
    Mutant("forward: last hidden layer gets the output function", "f(z) if l < L else",
           "f(z) if l < L - 1 else"),
    Mutant("init: draws transposed", "rs.randn(n_out, n_in) * scale(n_in, n_out)",
           "rs.randn(n_in, n_out).T * scale(n_in, n_out)"),
    Mutant("He: fan-out", "float(np.sqrt(2.0 / n_in))", "float(np.sqrt(2.0 / n_out))"),
    Mutant("Xavier: product of the fans", "np.sqrt(2.0 / (n_in + n_out))", "np.sqrt(2.0 / (n_in * n_out))"),
    Mutant("sgd: uphill", "value - lr * grads", "value + lr * grads"),
    Mutant("prediction: z >= 0 is class 1", "((zL[..., 0] > 0)", "((zL[..., 0] >= 0)"),
    Mutant("decided: any finite output", "np.isfinite(zL).all(axis=-1)", "np.isfinite(zL).any(axis=-1)"),
    Mutant("chunks: the last row left out", "for start in range(0, len(x), rows):",
           "for start in range(0, len(x) - 1, rows):"),
    Mutant("kink sides: the output too", "for l in range(1, arch.depth)]",
           "for l in range(1, arch.depth + 1)]"),
    Mutant("square layers: from layer 1", "for l in range(2, self.depth) if",
           "for l in range(1, self.depth) if"),
    Mutant("parameter count: biases left out", "sum(n * (m + 1) for m, n", "sum(n * m for m, n"),
    Mutant("bias drill: does nothing", "np.zeros_like(db) if broken.zero_db else db", "db"),
]


def copy_tree(into: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
        else:
            shutil.copy2(source, into / name)


def run_tests(tree: Path) -> tuple[bool, str, float]:
    """Whether the tests pass in `tree`, the first failure's name, and the seconds taken."""
    env = os.environ | {"PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", *PYTEST, *TESTS], cwd=tree, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {TIMEOUT:.0f} s", time.monotonic() - start
    failed = next((line.split(" - ")[0] for line in done.stdout.splitlines()
                   if line.startswith(("FAILED", "ERROR"))), "")
    return done.returncode == 0, failed, time.monotonic() - start


def check_the_copy_is_imported(tree: Path) -> None:
    """The editable install points at the working tree; PYTHONPATH must win over it."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    where = subprocess.run([sys.executable, "-c", "import engine.maths.network as n; print(n.__file__)"],
                           cwd=tree, env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the tests would import {where}, not the copy in {tree}")


def mutate(tree: Path, original: str, mutant: Mutant) -> bool:
    """Write the mutant into the copy; False when its text is not in the target once."""
    if original.count(mutant.old) != 1:
        return False
    (tree / TARGET).write_text(original.replace(mutant.old, mutant.new))
    return True


def judge(tree: Path, original: str, mutant: Mutant) -> bool | None:
    """Run the tests against one mutant and print the verdict: whether they killed it, or
    None when its text is not in the target."""
    try:
        if not mutate(tree, original, mutant):
            print(f"{'not applied':12} {mutant.name} (its text is not in {TARGET} exactly once)")
            return None
        passed, failed, seconds = run_tests(tree)
    finally:
        (tree / TARGET).write_text(original)
    verdict = "survived" if passed else "killed"
    note = f"equivalent: {mutant.equivalent}" if mutant.equivalent else failed
    print(f"{verdict:12} {mutant.name} [{seconds:.0f} s] {note}", flush=True)
    return not passed


def check(chosen: list[Mutant]) -> int:
    """Every chosen mutant against the tests in a copy of the tree; 0 when all were killed."""
    original = (ROOT / TARGET).read_text()
    with tempfile.TemporaryDirectory(prefix="mutants-") as temp:
        tree = Path(temp)
        copy_tree(tree)
        check_the_copy_is_imported(tree)
        passed, failed, seconds = run_tests(tree)
        if not passed:
            print(f"the unmutated tests fail ({failed}): fix them first", file=sys.stderr)
            return 1
        print(f"unmutated: the tests pass in {seconds:.0f} s")
        verdicts = [(mutant, judge(tree, original, mutant)) for mutant in chosen]
    judged = [killed for mutant, killed in verdicts if killed is not None and not mutant.equivalent]
    rate = f"{sum(judged) / len(judged):.0%}" if judged else "n/a"
    print(f"\nkilled {sum(judged)} of {len(judged)} non-equivalent mutants ({rate})")
    return 0 if all(judged) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="*", default=None, help="run the mutants whose names contain these")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or any(word in m.name for word in args.only)]
    if not args.list:
        return check(chosen)
    for mutant in chosen:
        print(mutant.name + (f"  (equivalent: {mutant.equivalent})" if mutant.equivalent else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
