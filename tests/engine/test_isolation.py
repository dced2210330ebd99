"""A user's model runs in a process of its own: whatever its code does (loop forever in
Python or in C, segfault, os._exit, allocate 50 GB, print by any route, raise
KeyboardInterrupt) becomes a message, and the stepper, the app and stdout survive it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.model.protocol import Cancelled
from engine.run.stepper import Phase, Stepper
from engine.settings.config import Config
from engine.usermodel.client import ModelError, UserModel, load_model
from engine.usermodel.transport import Opaque, dumps, loads, plain
from tests.helpers import BATCHED, DEFINITIONS, FIXTURES, GRADS_LINE, ROOT, edit, misbehaving, snapshot
from tests.helpers import run_main as run
from tests.helpers import write_model as write
from tests.processes import default_signals
from tests.waits import until_true
from tui.app.app import StepperApp

pytestmark = pytest.mark.slow  # starts a user's model process in most tests (-m 'not slow' leaves it out)

NOTEBOOK_PARAMS = {"W1": np.zeros((4, 3)), "b1": np.zeros(4), "W2": np.zeros((1, 4)), "b2": np.zeros(1)}
SIZE = (120, 40)


def refused(capsys: pytest.CaptureFixture[str], path: Path, *words: str, timeout: float = 30) -> str:
    status, out, err = run(capsys, "--headless", "--format", "json", "--model-timeout", timeout,
                           "--model", path)
    assert status == 2 and out == "", err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    return err


# ---- headless: each way of misbehaving is a message and exit 2 --------------------------------

@pytest.mark.parametrize("loop", ["while True:\n    pass", "sum(range(10**12))"], ids=["python", "c"])
def test_a_forward_that_never_returns_is_ended_at_the_timeout(tmp_path, capsys, loop: str) -> None:
    refused(capsys, misbehaving(tmp_path, loop), "forward did not return within 1 s",
            "--model-timeout", timeout=1)


@pytest.mark.parametrize(("body", "words"), [
    ("ctypes.string_at(0)", ["forward ended the model's process", "signal 11", "Segmentation fault"]),
    ("os._exit(0)", ["forward ended the model's process", "exit status 0"]),
    ("os.kill(os.getpid(), 9)", ["forward ended the model's process", "signal 9"]),
])
def test_a_process_that_dies_is_reported_as_what_happened(tmp_path, capsys, body: str,
                                                          words: list[str]) -> None:
    refused(capsys, misbehaving(tmp_path, body), *words)


def test_os_exit_at_import_is_a_load_error(tmp_path, capsys) -> None:
    refused(capsys, write(tmp_path, "import os\nos._exit(0)\n" + DEFINITIONS),
            "import ended the model's process: exit status 0")


def test_a_huge_allocation_fails_in_the_model_not_the_machine(tmp_path, capsys) -> None:
    err = refused(capsys, misbehaving(tmp_path, "import numpy\nnumpy.ones(50 * 2**30 // 8)"),
                  "forward raised", "MemoryError")
    assert "line" in err  # the user's own line, as for any exception


@pytest.mark.parametrize("raised", ["KeyboardInterrupt()", "Stop()"])
def test_keyboard_interrupt_or_a_base_exception_is_a_contract_error(tmp_path, capsys, raised: str) -> None:
    path = misbehaving(tmp_path, f"raise {raised}", after=3,
                       header="class Stop(BaseException):\n    pass\n")
    refused(capsys, path, "forward raised")


def test_module_getattr_that_raises_is_a_load_error(tmp_path, capsys) -> None:
    text = DEFINITIONS.replace("def sgd_update", "def _old_update") + \
        "\ndef __getattr__(name):\n    raise KeyError(name)\n"
    refused(capsys, write(tmp_path, text), "looking up sgd_update raised KeyError")


def test_async_forward_is_refused_without_a_never_awaited_warning(tmp_path, capsys) -> None:
    err = refused(capsys, write(tmp_path, DEFINITIONS.replace("def forward", "async def forward")),
                  "forward is an async def")
    assert "never awaited" not in err


def test_output_by_any_route_reaches_stderr_never_stdout(tmp_path, capfd) -> None:
    from tui.cli.main import main

    body = """
    print('plain print')
    sys.__stdout__.write('dunder stdout\\n'); sys.__stdout__.flush()
    os.write(1, b'fd one\\n')
    os.write(2, b'fd two\\n')
    t = threading.Thread(target=lambda: print('from a thread')); t.start(); t.join()
    """
    path = misbehaving(tmp_path, body, header="atexit.register(lambda: print('at exit'))\n")
    assert main(["--headless", "--format", "json", "--model", str(path)]) == 0
    out, err = capfd.readouterr()
    trace = json.loads(out)  # stdout is the report alone
    assert trace["steps"][0]["forward"]["loss"] == pytest.approx(1.1732865037089109)
    for text in ("plain print", "dunder stdout", "fd one", "fd two", "from a thread", "at exit"):
        assert text in err and text not in out, text


def test_stdin_is_empty(tmp_path, capsys) -> None:
    refused(capsys, misbehaving(tmp_path, "input('weights? ')"), "forward raised EOFError")


def test_ctrl_c_while_headless_is_one_quiet_line(tmp_path) -> None:
    started = tmp_path / "started"
    path = misbehaving(tmp_path, f"open({str(started)!r}, 'w').close()\nwhile True:\n    pass")
    process = subprocess.Popen([sys.executable, "-m", "tui", "--headless", "--model", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_signals)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:  # a wait, not a timing
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130 and out == ""
    assert err.strip().splitlines()[-1] == "backprop-stepper: interrupted" and "Traceback" not in err


# ---- caches that cannot travel stay in the model's process -------------------------------------

def test_objects_that_cannot_travel_are_shown_and_handed_back(tmp_path, capsys) -> None:
    cache_line = "    cache = {'x': x, 'z1': z1, 'a1': a1, 'z2': z2, 'a2': a2}"
    text = edit(DEFINITIONS, cache_line, cache_line + "\n    cache.update(gen=(v for v in [7, 8]), "
                "lock=threading.Lock())")
    text = "import threading\n" + edit(text, GRADS_LINE, GRADS_LINE + "\n    assert next(cache['gen']) == 7"
                                       "\n    assert cache['lock'].acquire(blocking=False)")
    path = write(tmp_path, text)
    status, out, err = run(capsys, "--headless", "--format", "json", "--steps", "2", "--model", path)
    assert status == 0, err
    forward = json.loads(out)["steps"][1]["forward"]
    assert forward["gen"].startswith("<generator object") and forward["lock"].startswith("<unlocked")


def test_odd_z1_values_do_not_break_the_loop_check(tmp_path, capsys) -> None:
    """z1 that is not numeric, ragged, or changes shape between calls: no kinks, no crash."""
    z1_line = "    z1 = W1.dot(x) + b1\n"
    for odd in ("'text'", "[[1.0], [2.0, 3.0]]", "np.zeros(_calls[0] % 3 + 1)", "None"):
        text = edit(DEFINITIONS, "    cache = {'x': x, 'z1': z1,", f"    cache = {{'x': x, 'z1': {odd},")
        text = "_calls = [0]\n" + edit(text, z1_line, z1_line + "    _calls[0] += 1\n")
        text = edit(text, "    z1, a1, z2, a2 = cache['z1'],", "    z1 = W1.dot(x) + b1\n    _, a1, z2, a2 = "
                    "cache['z1'],")
        status, out, err = run(capsys, "--headless", "--format", "json", "--model", write(tmp_path, text))
        assert status == 0, (odd, err)
        assert json.loads(out)["steps"][0]["gradcheck"]["passed"] is True, odd


# ---- the stepper's side -----------------------------------------------------------------------

def test_the_timeout_counts_from_the_process_being_ready_not_its_start(tmp_path, monkeypatch) -> None:
    """A process whose Python takes a second to start (as on a machine whose cores are busy)
    still imports and runs a model under a 0.5 s --model-timeout: the user's calls are timed
    from the process's "ready", and its start has a bound of its own."""
    from engine.usermodel import client as usermodel

    monkeypatch.setattr(usermodel, "_HOST", "import time; time.sleep(1.0); " + usermodel._HOST)
    model = load_model(misbehaving(tmp_path, "pass"), timeout=0.5)
    params = {"W1": np.zeros((4, 3)), "b1": np.zeros(4), "W2": np.zeros((1, 4)), "b2": np.zeros(1)}
    _, loss = model.forward(np.zeros(3), params, 1)
    assert loss == pytest.approx(np.log(2))


def test_a_process_that_never_starts_is_its_own_message(tmp_path, monkeypatch) -> None:
    from engine.usermodel import client as usermodel

    monkeypatch.setattr(usermodel, "START_TIMEOUT", 0.2)
    monkeypatch.setattr(usermodel, "_HOST", "import time; time.sleep(60); " + usermodel._HOST)
    with pytest.raises(ModelError, match=r"process did not start within 0\.2 s \(Python and NumPy"):
        load_model(misbehaving(tmp_path, "pass"), timeout=0.1)


def test_a_timed_out_call_leaves_the_state_and_the_next_call_starts_afresh(tmp_path) -> None:
    path = misbehaving(tmp_path, "while os.path.exists(__file__ + '.hang'):\n    pass")
    model = load_model(path, timeout=1.5)
    try:
        stepper = Stepper(Config(), model=model)
        stepper.next()
        stepper.next()
        before = snapshot(stepper.state)
        hung = model._process
        Path(str(path) + ".hang").touch()
        with pytest.raises(ModelError, match=r"forward did not return within 1\.5 s"):
            stepper.next()  # the check's forward hangs
        assert snapshot(stepper.state) == before
        assert hung.popen.returncode is not None and model._process is not hung  # ended, replaced
        Path(str(path) + ".hang").unlink()
        stepper.next()  # a fresh process, the same file
        assert stepper.state.gradcheck is not None and stepper.state.gradcheck.passed
    finally:
        model.close()


def test_interrupt_from_another_thread_cancels_the_call(tmp_path) -> None:
    import threading

    started = tmp_path / "started"
    model = load_model(misbehaving(tmp_path, f"open({str(started)!r}, 'w').close()\nsum(range(10**12))"))
    try:
        def interrupt_when_started() -> None:
            while not started.exists():
                time.sleep(0.001)
            model.interrupt()

        threading.Thread(target=interrupt_when_started).start()
        looping = model._process
        with pytest.raises(Cancelled):
            model.forward(np.zeros(3), {"W1": np.zeros((4, 3)), "b1": np.zeros(4), "W2": np.zeros((1, 4)),
                                        "b2": np.zeros(1)}, 1)
        assert looping.popen.returncode is not None and model._process is not looping
    finally:
        model.close()


def test_closing_during_a_call_reaps_the_process_on_one_thread(tmp_path, monkeypatch) -> None:
    """q while a user's phase runs: the app's thread closes the model while the call's
    thread sees its process end. Both reaping it closed its pipes twice (EBADF at exit)."""
    import threading

    from engine.usermodel.client import _Process

    started = tmp_path / "started"
    model = load_model(misbehaving(tmp_path, f"open({str(started)!r}, 'w').close()\nsum(range(10**12))"))
    reap, inside, entered = _Process.reap, [0], threading.Event()
    overlaps: list[int] = []

    def reap_alone(process: _Process) -> int:
        inside[0] += 1
        overlaps.append(inside[0])
        if inside[0] == 1:
            entered.wait(0.5)  # room for another thread to come in, as it would
        else:
            entered.set()
        try:
            return reap(process)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(_Process, "reap", reap_alone)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            model.forward(np.zeros(3), {"W1": np.zeros((4, 3)), "b1": np.zeros(4),
                                        "W2": np.zeros((1, 4)), "b2": np.zeros(1)}, 1)
        except BaseException as error:  # what the call ended with is the point
            failures.append(error)

    calling = threading.Thread(target=call)
    calling.start()
    while not started.exists():
        time.sleep(0.001)
    model.close()  # no exception here
    calling.join(10)
    assert not calling.is_alive() and max(overlaps) == 1
    assert len(failures) == 1 and isinstance(failures[0], ModelError)
    assert model._process is None


def test_the_loop_check_is_one_request_not_one_per_element(tmp_path, monkeypatch) -> None:
    import engine.usermodel.client

    model = load_model(write(tmp_path, DEFINITIONS))
    sent: list[str] = []
    real = engine.usermodel.client.dumps
    monkeypatch.setattr(engine.usermodel.client, "dumps",
                        lambda request: sent.append(request[0]) or real(request))
    try:
        stepper = Stepper(Config(inputs=20, hidden=30), model=model)
        stepper.next()
        stepper.next()
        sent.clear()
        stepper.next()  # the check: 661 elements, 1,322 forward calls
        assert sent == ["forward", "gradcheck"]  # the loss for the rounding floor, then the check
    finally:
        model.close()


# ---- models that escape their limits: the memory cap, the process group, the pipe -----------

def test_the_memory_cap_cannot_be_raised_by_the_model(tmp_path, capsys) -> None:
    """The cap was a soft limit: one setrlimit call lifted it, and 600 MB were allocated under
    --model-memory 256. np.empty asks for the address space without touching it."""
    body = """
    import resource, numpy
    try:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except ValueError:
        pass
    numpy.empty(600 * 2**20 // 8)
    """
    path = misbehaving(tmp_path, body)
    status, out, err = run(capsys, "--headless", "--model-memory", 256, "--model", path)
    assert status == 2 and out == "" and "forward raised" in err and "MemoryError" in err, err


def test_a_model_that_closes_its_pipe_is_told_so(tmp_path, capsys) -> None:
    """It was "signal 9 (Killed)", the stepper's own kill, after a traceback of ours."""
    err = refused(capsys, misbehaving(tmp_path, "os.closerange(3, 1024)"),
                  "forward closed the model's process's pipe to the stepper")
    assert "signal" not in err and "modelhost" not in err


def test_a_model_that_closes_its_pipe_and_goes_on_is_ended(tmp_path, monkeypatch) -> None:
    """Alive without its pipe, it is given EXIT_GRACE to end by itself (a process that dies
    closes its pipes a moment before it can be reaped): made short, since this one never will."""
    import engine.usermodel.client

    monkeypatch.setattr(engine.usermodel.client, "EXIT_GRACE", 0.05)
    model = load_model(misbehaving(tmp_path, "os.closerange(3, 1024)\nwhile True:\n    pass"))
    looping = model._process
    with pytest.raises(ModelError, match="forward closed the model's process's pipe to the stepper"):
        model.forward(np.zeros(3), NOTEBOOK_PARAMS, 1)
    assert looping.popen.returncode == -signal.SIGKILL  # ended by the stepper


DAEMON = """
pid = os.fork()
if pid == 0:  # a daemon: a session of its own, then a second fork; it keeps the pipes open
    os.setsid()
    if os.fork() == 0:
        with open({pidfile!r} + '.part', 'w') as out:
            out.write(str(os.getpid()))
        os.rename({pidfile!r} + '.part', {pidfile!r})
        import time
        time.sleep(120)
    os._exit(0)
os.waitpid(pid, 0)
while not os.path.exists({pidfile!r}):
    pass
"""


def _daemon(tmp_path: Path, then: str) -> tuple[Path, Path]:
    """A model whose forward starts a daemon, then does `then`; and the daemon's pid file."""
    pidfile = tmp_path / "daemon.pid"
    return misbehaving(tmp_path, DAEMON.format(pidfile=str(pidfile)) + then), pidfile


def _ended(pid: int) -> bool:
    """Whether the process has ended (gone, or a zombie no one has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def test_a_cancel_returns_at_once_and_ends_a_daemon_the_model_started(tmp_path) -> None:
    """The daemon kept the reply pipe open, so a cancelled phase waited for the timeout (or
    the daemon's end) and was then reported as out of time; the daemon lived on."""
    started = tmp_path / "started"
    path, pidfile = _daemon(tmp_path, f"open({str(started)!r}, 'w').close()\nsum(range(10**12))")
    model = load_model(path, timeout=60)

    def interrupt_in_the_loop() -> None:
        until_true(started.exists, "the model's loop")
        model.interrupt()

    threading.Thread(target=interrupt_in_the_loop).start()
    try:
        with pytest.raises(Cancelled):
            model.forward(np.zeros(3), NOTEBOOK_PARAMS, 1)
        until_true(lambda: _ended(int(pidfile.read_text())), "the daemon's end")
    finally:
        model.close()


def test_a_model_that_dies_is_reported_at_once_though_its_daemon_holds_the_pipe(tmp_path) -> None:
    """Its death went unseen until the timeout ("did not return within 60 s"). The daemon,
    orphaned when the process died, is out of reach (the docs say so): ended here."""
    path, pidfile = _daemon(tmp_path, "os._exit(7)")
    model = load_model(path, timeout=60)
    try:
        with pytest.raises(ModelError, match="forward ended the model's process: exit status 7"):
            model.forward(np.zeros(3), NOTEBOOK_PARAMS, 1)
    finally:
        model.close()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_a_daemon_the_model_started_ends_with_its_process(tmp_path) -> None:
    path, pidfile = _daemon(tmp_path, "pass")
    model = load_model(path)
    model.forward(np.zeros(3), NOTEBOOK_PARAMS, 1)
    model.close()
    until_true(lambda: _ended(int(pidfile.read_text())), "the daemon's end")


def test_a_reply_too_large_is_refused_by_its_size(tmp_path, capsys) -> None:
    """A cache too big to receive was "something other than plain data (a garbled message:
    MemoryError)". The file lowers its own process's limit to 1 MiB, to need no gigabytes."""
    header = "import engine.usermodel.host\nengine.usermodel.host.REPLY_LIMIT = 2**20\n"
    path = misbehaving(tmp_path, "import numpy\nreturn {'big': numpy.ones(2**18)}, 0.5", header=header)
    err = refused(capsys, path, "model.py: forward's cache is 2 MiB, more than the 1 MiB the stepper "
                                "takes in one reply")
    assert "garbled" not in err


def test_a_reply_past_the_limit_is_not_read(tmp_path, monkeypatch) -> None:
    """The stepper's own bound, for a process that sends more than it should."""
    import engine.usermodel.client

    model = load_model(misbehaving(tmp_path, "import numpy\nreturn {'big': numpy.ones(2**14)}, 0.5"))
    monkeypatch.setattr(engine.usermodel.client, "REPLY_LIMIT", 2**16)
    try:
        with pytest.raises(ModelError, match=r"the model's process sent a reply of more than 64 KiB; "
                                             "it was ended"):
            model.forward(np.zeros(3), NOTEBOOK_PARAMS, 1)
    finally:
        model.close()


def test_the_fit_to_every_row_leaves_the_cache_in_the_models_process(tmp_path) -> None:
    """A cache of every row (the fit each forward phase reports) crossed the pipe, to be
    dropped: beyond the reply's bound, it refused a step whose own cache was small."""
    from engine.data import batches

    header = "import engine.usermodel.host\nengine.usermodel.host.REPLY_LIMIT = 2**17\n"  # 128 KiB
    cache_line = "    cache = {'x': X, 'z1': z1, 'a1': a1, 'z2': z2, 'a2': a2}\n"
    path = write(tmp_path, header + edit(BATCHED, cache_line,
                                         cache_line + "    cache['wide'] = np.ones((len(X), 100))\n"))
    config = Config(dataset="moons", samples=400, batch=8, gradcheck=False)
    data = batches.from_config(config)
    assert data is not None
    model = load_model(path)
    try:
        stepper = Stepper(batches.fitted(config, data), model=model, data=data)
        stepper.next()  # 8 rows' cache (6 kB) comes back; 320 training rows' (250 kB) would not
        assert stepper.state.forward is not None and stepper.state.forward.metrics is not None
    finally:
        model.close()


# ---- the app: the model misbehaves, the app and its history stay ------------------------------

@pytest.mark.parametrize("body", ["ctypes.string_at(0)", "os._exit(0)",
                                  "import numpy\nnumpy.ones(50 * 2**30 // 8)", "raise KeyboardInterrupt"],
                         ids=["segfault", "os-exit", "50gb", "ctrl-c"])
async def test_the_app_survives_its_model(tmp_path, body: str) -> None:
    model = load_model(misbehaving(tmp_path, body, after=2))  # the rehearsal's forwards pass
    app = StepperApp(Stepper(Config(), model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(2):
                await pilot.press("n")
                await app.runner.idle.wait()
            before = snapshot(app.stepper.state)
            await pilot.press("n")  # the check's forward misbehaves
            await app.runner.idle.wait()
            await pilot.pause()
            assert snapshot(app.stepper.state) == before and app.runner.running is None
            log = str(app.query_one("#log").render())
            assert "error" in log and "forward" in log
            await pilot.press("b")  # the history is all there
            assert app.stepper.state.last_phase is Phase.FORWARD
    finally:
        model.close()


async def test_escape_on_a_c_loop_returns_at_once(tmp_path) -> None:
    model = load_model(misbehaving(tmp_path, "sum(range(10**12))", after=2))
    app = StepperApp(Stepper(Config(), model=model))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("n", "n")
            await app.runner.idle.wait()
            before = snapshot(app.stepper.state)
            looping = model._process
            app.action_next()
            assert app.runner.running is not None
            await pilot.press("escape")
            await app.runner.idle.wait()
            assert snapshot(app.stepper.state) == before
            assert looping.popen.returncode is not None and model._process is not looping
    finally:
        model.close()


# ---- transport -----------------------------------------------------------------------------

def test_only_plain_data_travels() -> None:
    class Mine(dict):  # type: ignore[type-arg]
        pass

    value = plain({"a": np.arange(3.0), "b": [1, "s", None], "c": Mine(), "d": np.array([object()]),
                   "e": np.longdouble(1.5)}, keep=lambda _v: 7)
    assert isinstance(value["c"], Opaque) and value["c"].ref == 7 and value["c"].type_name == "Mine"
    assert isinstance(value["d"], Opaque)
    back = loads(dumps(value))
    np.testing.assert_array_equal(back["a"], np.arange(3.0))
    assert back["b"] == [1, "s", None] and back["e"] == np.longdouble(1.5)


def test_arrays_travel_in_their_own_shape_and_order() -> None:
    """A scalar parameter is a 0-d array; np.ascontiguousarray would make it 1-d."""
    wide = np.arange(12.0).reshape(3, 4)
    for value in (np.array(1.5), np.ones((2, 0)), wide.T, wide[:, ::2], np.ones((2, 1, 3))):
        back = loads(dumps(plain(value)))
        assert back.shape == value.shape and back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)


def test_the_stepper_never_unpickles_code() -> None:
    class Evil:
        def __reduce__(self):
            return os.getcwd, ()  # any function outside the few allowed constructors

    evil = pickle.dumps(Evil())
    with pytest.raises(pickle.UnpicklingError):
        loads(evil)
    with pytest.raises(pickle.UnpicklingError):
        loads(b"not a pickle")


def test_bad_model_limits_are_refused(capsys) -> None:
    notebook = FIXTURES / "notebook.py"
    for argv, words in ((["--model-timeout", "0"], "must be a number of seconds above 0"),
                        (["--model-timeout", "nan"], "must be a number of seconds above 0"),
                        (["--model-memory", "10"], "must be between 256 and")):
        status, out, err = run(capsys, "--headless", "--model", notebook, *argv)
        assert status == 2 and out == "" and argv[0] in err and words in err, err
    status, out, err = run(capsys, "--headless", "--model-timeout", "5")
    assert status == 2 and "only applies to your own model" in err


def test_user_model_is_a_model(tmp_path) -> None:
    model = load_model(write(tmp_path, DEFINITIONS))
    try:
        assert isinstance(model, UserModel) and model.own_update and not model.fast_gradcheck
    finally:
        model.close()


async def test_an_unexpected_failure_in_a_worker_phase_is_reported(tmp_path, monkeypatch) -> None:
    app = StepperApp(Stepper(Config(), model=load_model(write(tmp_path, DEFINITIONS))))

    def broken(progress=None):  # type: ignore[no-untyped-def]
        raise ValueError("a bug of ours")

    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app.stepper, "compute", broken)
        await pilot.press("n")
        await asyncio.wait_for(app.runner.idle.wait(), 30)  # a guard: a lost worker never sets it
        await pilot.pause()
        assert app.runner.running is None and app.stepper.state is app.stepper.initial
        assert "ValueError: a bug of ours" in str(app.query_one("#log").render())


@pytest.mark.parametrize(("closed", "status", "words"), [
    ("<&-", 0, ""), (">&-", 1, "stdout is closed"), ("2>&-", 2, "")], ids=["stdin", "stdout", "stderr"])
def test_a_model_runs_with_a_standard_stream_closed(tmp_path, closed: str, status: int, words: str) -> None:
    """Started with fd 0, 1 or 2 closed (cron, `>&-`), os.pipe would hand out that number and the
    model's process would lose its pipe to the stepper ("signal 9", a traceback on stdout)."""
    bad = closed == "2>&-"
    path = misbehaving(tmp_path, "raise ValueError('x')") if bad else write(tmp_path, DEFINITIONS)
    command = f"exec {sys.executable} -m tui --headless --model {path} {closed}"
    result = subprocess.run(["bash", "-c", command], stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == status, result.stderr
    assert b"Traceback" not in result.stdout + result.stderr and b"signal 9" not in result.stderr
    assert words.encode() in result.stderr
    if closed == "2>&-":
        assert result.stdout == b""  # the error has nowhere to go, but never onto stdout
    elif closed == "<&-":
        assert b"Loss decreased" in result.stdout


@pytest.mark.parametrize("loss", ["10**400", "np.longdouble('1e4000')",
                                  "np.array([np.longdouble('1e4000')])"])
def test_a_finite_loss_beyond_float64_is_named_as_such(tmp_path, capsys, loss: str) -> None:
    path = write(tmp_path, edit(DEFINITIONS, "    return cache, loss\n", f"    return cache, {loss}\n"))
    refused(capsys, path, "forward returned a loss too large for float64")
