"""Memory that must not grow: the headless stepper keeps no loss trail, the undo history
stays within its byte budget however large the network, and inputs of legal sizes are read,
or refused, in bounded memory. Structural checks only: tests never time anything or read the
process's memory (tracemalloc counts what Python allocates, deterministically), and limits
are made small where the real ones would need gigabytes."""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import astuple
from typing import Any

import numpy as np
import pytest

import engine.data.sets
import engine.run.stepper
from engine.data.sets import DataError, parse_csv
from engine.run.stepper import HISTORY_BUDGET, State, Stepper, all_finite_fast, history_limit, step_bytes
from engine.settings.config import Config
from tests.helpers import DEFINITIONS, edit, peak_allocated
from tests.helpers import write_model as write
from tui.cli.main import main


def test_a_stepper_without_a_trail_keeps_none_and_the_app_keeps_its_own() -> None:
    bare, kept = Stepper(Config(), keep_trail=False), Stepper(Config())
    bare.run_steps(50)
    kept.run_steps(50)
    assert bare.state.trail is None and bare.state.losses == []
    assert len(kept.state.losses) == 50  # the app's loss history is unchanged


def test_the_headless_run_keeps_no_trail(monkeypatch, capsys) -> None:
    import tui.cli.headless

    seen: list[Stepper] = []
    real = tui.cli.headless.text_report

    def spy(config, stepper, finished):  # type: ignore[no-untyped-def]
        seen.append(stepper)
        return real(config, stepper, finished)

    monkeypatch.setattr(tui.cli.headless, "text_report", spy)
    assert main(["--headless", "--steps", "20", "--no-gradcheck"]) == 0
    assert capsys.readouterr().out.count("=== Step") == 20
    assert seen[0].state.trail is None and seen[0].state.step == 20


def _arrays(state: State) -> dict[int, int]:
    """Every array a state holds, by the buffer it owns, with its size in bytes."""
    found = [*state.params.values()]
    if state.forward is not None:
        found += state.forward.cache.values()
    if state.backward is not None:
        found += state.backward.values()
    if state.gradcheck is not None:
        for t in state.gradcheck.tensors.values():
            found += [t.analytic, t.numerical, t.kinks, t.failing, t.unresolved]
    if state.update is not None:
        found += [*state.update.before.values(), *state.update.after.values()]
    owners: dict[int, int] = {}
    for array in found:
        while isinstance(array, np.ndarray) and array.base is not None:
            array = array.base
        if isinstance(array, np.ndarray):
            owners[id(array)] = array.nbytes
        elif isinstance(array, bytes | bytearray):  # what an array from a model's process was unpickled in
            owners[id(array)] = len(array)
    return owners


def test_the_limit_fits_the_budget_at_the_largest_networks() -> None:
    for inputs, hidden in [(1_000_000, 9), (1_000_000, 10), (100_000, 99), (784, 128)]:
        count = hidden * inputs + 2 * hidden + 1
        limit = history_limit(count)
        # n phases of history hold at most ceil(n / 4) steps' arrays beyond the current state's.
        assert limit >= 1 and math.ceil(limit / 4) * step_bytes(count) <= HISTORY_BUDGET


def test_the_history_never_holds_more_than_its_budget() -> None:
    budget = 400_000  # a mid-size net, a small budget: about two steps of 100-50-1
    stepper = Stepper(Config(inputs=100, hidden=50), max_history=history_limit(100 * 50 + 2 * 50 + 1, budget))
    for _ in range(40):
        stepper.next()
        assert stepper.history_length <= stepper.max_history
        current = _arrays(stepper.state)
        held: dict[int, int] = {}
        for state in stepper._history:
            held |= _arrays(state)
        assert sum(n for owner, n in held.items() if owner not in current) <= budget


def test_a_csv_of_too_many_rows_is_refused_at_the_first_row_past_the_limit(monkeypatch) -> None:
    """Refusing a 64 MiB file of short rows took 5.7 GB and 55 s: every line was split into
    a list before the rows were counted."""
    monkeypatch.setattr(engine.data.sets, "MAX_SAMPLES", 10)
    text = "0,1\n1,0\n" * 500_000  # a million rows, 8 MB of text

    def refused() -> None:
        with pytest.raises(DataError, match=r"^line 11: more than 10 rows$"):
            parse_csv(text)

    assert peak_allocated(refused) < 2**20  # ten rows' worth, not a million


def test_a_session_json_too_large_to_parse_is_refused_before_it_is_read() -> None:
    """512 MiB of session.json could hold 100 million numbers, all parsed before the session
    was refused; its declared size is checked first, and no more than the bound is read."""
    from engine.run.session import MAX_JSON_BYTES, SessionError, from_bytes

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("session.json", b'{"format": 1, "path": [' + b"0," * (MAX_JSON_BYTES // 2) + b"0]}")
    packed = buffer.getvalue()
    assert len(packed) < 50_000

    def refused() -> None:
        with pytest.raises(SessionError, match=r"member 'session.json' of the session file unpacks to "
                                               r"4,194,330 bytes; at most 4,194,304 for a member"):
            from_bytes(packed)

    assert peak_allocated(refused) < 2**20  # nothing unpacked, let alone parsed


def test_a_user_models_cache_counts_against_the_history_budget(tmp_path, monkeypatch) -> None:
    """A user's model may cache anything: its caches were held uncounted (50 MB a step: 1,000
    steps made 50 GB of undo history against a budget of 512 MiB)."""
    from engine.usermodel.client import load_model

    cache_line = "    cache = {'x': x, 'z1': z1, 'a1': a1, 'z2': z2, 'a2': a2}"
    big = write(tmp_path, edit(DEFINITIONS, cache_line, cache_line + "\n    cache['big'] = np.ones(2**17)"))
    monkeypatch.setattr(engine.run.stepper, "HISTORY_BUDGET", 5 * 2**20)  # five of its 1 MiB caches
    model = load_model(big)
    stepper = Stepper(Config(gradcheck=False), model=model)
    assert stepper.max_history > 40  # the estimate from the 3-4-1 shape cannot see the cache
    for _ in range(40):
        stepper.next()
        current = _arrays(stepper.state)
        held: dict[int, int] = {}
        for state in stepper._history:
            held |= _arrays(state)
        assert sum(n for owner, n in held.items() if owner not in current) <= 5 * 2**20
    # The bar says what is kept.
    assert stepper.forgotten > 0 and stepper.max_history == stepper.history_length


def test_the_finiteness_check_reads_small_arrays_of_any_layout_and_kind() -> None:
    """Small float64 arrays are summed as their joined bytes: one that is not C-contiguous, or
    of another float type, must still be read for what it holds."""
    square, with_nan = np.ones((4, 4)), np.ones((4, 4))
    with_nan[1, 2] = np.nan
    assert all_finite_fast([square, square[:, ::2], np.float32([1.0]), 2.0, np.arange(3)])
    assert not all_finite_fast([square, with_nan[:, ::2]])
    assert not all_finite_fast([square, np.float32([np.inf])])
    assert not all_finite_fast([square, math.inf])
    assert all_finite_fast([np.full(3, 1e308), 1e308])  # the sum overflows; every value is finite


def test_the_finiteness_check_of_a_phase_copies_none_of_its_tensors() -> None:
    """The check concatenated every tensor of a phase to sum them: a copy of them all."""
    tensors = [np.ones(2**17), np.ones((256, 512))]  # 1 MiB each
    assert peak_allocated(lambda: all_finite_fast(tensors)) < 2**16


# ---- a step's tensors at legal sizes: refused up front, or computed in chunks of rows ------------

@pytest.fixture
def no_stepper(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stepper made is a failure, not gigabytes asked of NumPy: a test of a refusal that
    regressed then fails at once, whatever the machine's memory."""
    def made(*_: object, **__: object) -> None:
        raise AssertionError("a stepper was made: nothing refused the sizes up front")

    monkeypatch.setattr(Stepper, "__init__", made)


@pytest.mark.usefixtures("no_stepper")
@pytest.mark.parametrize(("argv", "words"), [
    (["--dataset", "moons", "--samples", "100000", "--hidden", "100000"],
     ["--hidden: a step on 80,000 rows (the whole training split) through 100,000 units",
      "makes 59.6 GiB matrices, 238 GiB in all", "a step may take 1 GiB: give --batch 335 or less"]),
    (["--dataset", "moons", "--samples", "100000", "--hidden", "100000", "--batch", "5000"],
     ["--batch: a step on 5,000 rows through 100,000 units", "makes 3.73 GiB matrices"]),
], ids=["full-batch", "batch"])
def test_a_step_too_large_for_memory_is_refused_before_anything_is_allocated(
        capsys, argv: list[str], words: list[str]) -> None:
    """Legal sizes asked NumPy for 59.6 GiB at the first forward pass."""
    assert main(["--headless", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


@pytest.mark.usefixtures("no_stepper")
def test_ten_thousand_classes_on_many_rows_are_refused_by_the_data(tmp_path, capsys) -> None:
    """80,000 rows with 10,000 classes made 6 GiB matrices: the output layer is the widest."""
    (tmp_path / "wide.csv").write_text("".join(f"{i % 7},{i % 10_000}\n" for i in range(20_000)))
    assert main(["--headless", "--data", str(tmp_path / "wide.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("backprop-stepper: error: --data: a step on 16,000 rows (the whole training "
                          "split) through 10,000 units (the widest layer) makes 1.19 GiB matrices"), err


def test_the_config_form_and_a_session_refuse_it_in_the_same_words() -> None:
    from engine.data import batches
    from engine.run.session import Session, SessionError, from_bytes, to_bytes
    from engine.settings.config import validate
    from tui.app.screens.config import FIELDS, _shown, parse_fields

    base = Config().resolved()
    values = {key: _shown(base, key) for key in FIELDS}
    asked_in_form = {"dataset": "moons", "samples": "100000", "hidden": "100000"}
    config, errors = parse_fields(values | asked_in_form, base)
    assert config is None and set(errors) == {"hidden"}
    assert errors["hidden"].startswith("a step on 80,000 rows") and "give batch 335" in errors["hidden"]

    asked = validate(Config(dataset="moons", samples=100_000, hidden=(100_000,)))
    data = batches.from_config(asked)
    assert data is not None
    fitted = batches.fitted(asked, data)
    params = {"W1": np.zeros((100_000, 2)), "b1": np.zeros(100_000), "W2": np.zeros((1, 100_000)),
              "b2": np.zeros(1)}
    with pytest.raises(SessionError, match=r"^config: a step on 80,000 rows .* makes 59.6 GiB matrices"):
        from_bytes(to_bytes(Session(fitted, params, (), data)))


@pytest.mark.parametrize(("caller", "rows"), [("evaluate", 300), ("confusion", 300), ("map", 30 * 20)])
def test_a_pass_over_every_row_goes_a_chunk_of_rows_at_a_time(monkeypatch, caller: str, rows: int) -> None:
    """The fit to every row (each forward phase), the confusion tables and the map: all rows
    at once made matrices of every row by every layer's units (6 GiB at 10,000 classes)."""
    from engine.data import batches
    from engine.data.confusion import confusion
    from engine.maths import network, plane

    asked = Config(dataset="spiral", samples=300, classes=3, hidden=(16, 16))
    data = batches.from_config(asked)
    assert data is not None
    arch = batches.fitted(asked, data).architecture
    params = network.init_params(arch, 0, "he")
    run = {"evaluate": lambda: batches.evaluate(arch, params, data),
           "confusion": lambda: confusion(arch, params, data),
           "map": lambda: plane.field(arch, params, plane.Plane.around(data.dataset.X), 30, 20)}[caller]
    whole, seen = run(), []
    forward_each = network.forward_each

    def spy(arch: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(x))
        return forward_each(arch, x, *args, **kwargs)

    monkeypatch.setattr(network, "ROWS_CHUNK", 7 * sum(arch.sizes))  # 7 rows a chunk
    monkeypatch.setattr(network, "forward_each", spy)
    chunked = run()
    assert max(seen) == 7 and sum(seen) == rows
    if isinstance(whole, dict):  # the confusion tables: counts
        assert whole.keys() == chunked.keys() and all(np.array_equal(whole[k], chunked[k]) for k in whole)
        return
    for before, after in zip(astuple(whole), astuple(chunked), strict=True):
        assert (before is None) == (after is None)
        if before is not None:
            np.testing.assert_allclose(before, after, rtol=1e-12)
