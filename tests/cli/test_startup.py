"""Start-up: the headless report imports only what it needs (issue 28, item 7).

Each module below costs the headless start tens of milliseconds and is imported inside the
function that needs it (with a comment saying why). These tests run a fresh interpreter, so
a module imported at the top of any module on the report's path again makes them fail.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Modules the plain headless report (no --explain, no model, no session, no diverged step,
#: no --version, no --config, no CSV, no failed check, no smooth activation) never needs.
LAZY = ("engine.explain", "engine.usermodel.contract", "engine.model.conventions", "engine.run.session",
        "tui.cli.explain", "importlib.metadata", "tempfile", "tomllib", "zipfile", "tui.cli.reportfile",
        "engine.check.diagnose", "engine.data.csv_file", "engine.data.csv_rows", "engine.data.csv_table",
        "engine.usermodel.transport", "tui.cli.configfile", "tui.keys", "difflib", "numpy.polynomial",
        # concurrent.futures brings logging: the gradient check's threads, for big networks only
        "concurrent.futures", "logging")
#: Modules only the JSON trace needs: the text report leaves them out too.
JSON_ONLY = ("json", "tui.output.jsontext", "engine.run.picture")

#: The module list is taken before anything else is imported to print it.
_LOADED = ("import contextlib, io, sys\n"
           "{run}\n"
           "loaded = sorted(sys.modules)\n"
           "print('modules:', *loaded)")


def loaded_after(run: str) -> set[str]:
    """The modules a fresh interpreter holds after `run`."""
    done = subprocess.run([sys.executable, "-c", _LOADED.format(run=run)], capture_output=True, text=True,
                          check=True)
    listed = done.stdout.splitlines()[-1].split()
    assert listed[0] == "modules:"
    return set(listed[1:])


def _of(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_importing_the_command_line_leaves_the_lazy_modules_out() -> None:
    modules = loaded_after("import tui.cli.main")
    lazy = LAZY + JSON_ONLY
    assert {package: _of(modules, package) for package in lazy} == {package: [] for package in lazy}


def test_the_text_report_leaves_the_json_modules_out() -> None:
    run = ("from tui.cli.main import main\n"
           "with contextlib.redirect_stdout(io.StringIO()): assert main(['--headless']) == 0")
    modules = loaded_after(run)
    assert {package: _of(modules, package) for package in JSON_ONLY} == {package: [] for package in JSON_ONLY}


@pytest.mark.parametrize("flags", [["--headless"], ["--headless", "--format", "json", "--steps", "2"]])
def test_the_headless_report_leaves_the_lazy_modules_out(flags: list[str]) -> None:
    run = ("from tui.cli.main import main\n"
           f"with contextlib.redirect_stdout(io.StringIO()): assert main({flags!r}) == 0")
    modules = loaded_after(run)
    assert {package: _of(modules, package) for package in LAZY} == {package: [] for package in LAZY}


def test_explain_still_loads_what_it_needs() -> None:
    """The other side: --explain imports engine.explain when it is given (a lazy import that
    never ran would leave its names undefined)."""
    run = ("from tui.cli.main import main\n"
           "with contextlib.redirect_stdout(io.StringIO()): "
           "assert main(['--headless', '--explain', 'dW1[1,1]']) == 0")
    assert "engine.explain.elements" in loaded_after(run)


def test_the_lazy_imports_load_when_their_run_needs_them() -> None:
    """A JSON trace of a two-layer tanh network on a CSV file, from a --config file, with a
    broken backward (a failing check): each lazy import runs where it is needed (one that never
    ran would leave its names undefined)."""
    run = ("import pathlib, tempfile\n"
           "folder = pathlib.Path(tempfile.mkdtemp())\n"
           "(folder / 'd.csv').write_text('a,b,label\\n0,1,0\\n1,0,1\\n1,1,0\\n0,0,1\\n')\n"
           "(folder / 'c.toml').write_text('activation = \"tanh\"\\n')\n"
           "from tui.cli.main import main\n"
           "with contextlib.redirect_stdout(io.StringIO()):\n"
           "    main(['--headless', '--format', 'json', '--steps', '1', '--config', str(folder / 'c.toml'),"
           "          '--data', str(folder / 'd.csv'), '--hidden', '4,4', '--inject-bug', 'sign'])")
    modules = loaded_after(run)
    wanted = {"json", "tui.output.jsontext", "engine.data.csv_file", "tui.cli.configfile", "numpy.polynomial",
              "engine.check.diagnose"}
    assert wanted - modules == set()


def test_the_collector_is_paused_while_the_app_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """tui.cli.launch pauses the collector from the app's imports to its first frame (each
    collection walks what starting made, none of it garbage), and it is on again after, even
    when the app ends before drawing anything."""
    import gc

    import tui.app.app
    from tui.cli.main import main

    during: list[bool] = []
    monkeypatch.setattr(tui.app.app.StepperApp, "run", lambda app: during.append(gc.isenabled()))
    assert gc.isenabled()
    assert main([]) == 0
    assert during == [False]
    assert gc.isenabled()


def test_the_first_frame_turns_the_collector_back_on() -> None:
    import gc

    from tui.app.app import started

    gc.disable()
    try:
        started()
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_command_line_is_imported_with_the_collector_paused_and_runs_with_it_on() -> None:
    """tui.cli.start, the entry point: tui.cli.main's imports with the collector paused, the
    run with it on."""
    run = ("import gc, sys\n"
           "seen = []\n"
           "class Watch:\n"
           "    def find_spec(self, name, path=None, target=None):\n"
           "        if name == 'tui.cli.main':\n"
           "            seen.append(gc.isenabled())\n"
           "sys.meta_path.insert(0, Watch())\n"
           "from tui.cli import start\n"
           "sys.argv = ['backprop-stepper', '--headless', '--steps', '1']\n"
           "with contextlib.redirect_stdout(io.StringIO()): assert start.main() == 0\n"
           "assert seen == [False] and gc.isenabled(), seen")
    loaded_after(run)  # check=True: an assertion above failing fails the run
