"""Shared fixtures. The colour and theme variables are cleared so snapshots do not pick up
the environment they run in.

OpenBLAS is held to one kernel (Haswell's, AVX2 and FMA) where the processor has it: the
kernel it picks by itself differs between machines (SkylakeX's on an AVX-512 processor), and
so do the last bits of a matrix product. A gradient check's differences are such bits, so a
snapshot naming its worst element would pass on one CI machine and fail on the next. Set
before NumPy is imported, here and in every process the tests start (they inherit it).

Hypothesis runs under a profile: "quick" by default (every property test, 150 examples),
"thorough" (many more) with BACKPROP_HYPOTHESIS=thorough in the environment, or with
pytest's --hypothesis-profile=thorough. Tests set no max_examples of their own, so the
profile decides.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType


def _hold_openblas_kernel() -> None:
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    if "avx2" in flags and "fma" in flags:
        os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
    assert "numpy" not in sys.modules, "NumPy was imported before the OpenBLAS kernel was chosen"


_hold_openblas_kernel()

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from tests import traces  # noqa: E402

for variable in ("TEXTUAL_THEME", "NO_COLOR", "FORCE_COLOR", "COLORTERM", "TEXTUAL"):
    os.environ.pop(variable, None)

FIXTURES = Path(__file__).parent / "fixtures"

settings.register_profile("quick", max_examples=150, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)
HYPOTHESIS_PROFILE = os.environ.get("BACKPROP_HYPOTHESIS", "quick")
settings.load_profile(HYPOTHESIS_PROFILE)  # an unknown name fails here, naming the profiles


@pytest.fixture(autouse=True)
def traces_fit_their_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every JSON trace a test writes is validated against the published schema when the test
    ends (tests/traces.py); a test that asks for this fixture reads the traces it wrote."""
    written = traces.record(monkeypatch)
    yield written
    traces.check_all(written)


@pytest.fixture(scope="session")
def notebook() -> ModuleType:
    """The seed notebook's code cell, imported as a module (its run_demo output swallowed)."""
    spec = importlib.util.spec_from_file_location("seed_notebook", FIXTURES / "notebook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(io.StringIO()):
        spec.loader.exec_module(module)
    return module


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A property test's own @settings(max_examples=...) would silently override the
    profile (as few examples under "thorough" as in a quick run): it fails instead."""
    own = getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None)
    profile = settings.default
    if own is not None and profile is not None and own.max_examples != profile.max_examples:
        pytest.fail(f"max_examples={own.max_examples} overrides the Hypothesis profile "
                    f"{HYPOTHESIS_PROFILE!r} (max_examples={profile.max_examples}): leave it to "
                    "the profile (tests/conftest.py)", pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under xdist, start the slow tests first (a stable sort: same order on every worker), so
    the last tests to finish are short ones and no worker is left running a long test alone."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def close_user_models(monkeypatch: pytest.MonkeyPatch):
    """Every model process a test starts is ended with the test, as the command line does
    on exit: a suite that loads a hundred models would otherwise hold a hundred processes."""
    from engine.usermodel import client as usermodel

    opened: list[usermodel.UserModel] = []
    start = usermodel.UserModel.start

    def recording_start(self: usermodel.UserModel) -> None:
        opened.append(self)
        start(self)

    monkeypatch.setattr(usermodel.UserModel, "start", recording_start)
    yield
    for model in opened:
        model.close()


@pytest.fixture(autouse=True)
def _every_notification_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every notification's message kept on its app, in order (tests.helpers.told): a toast
    leaves Textual's list when its timeout runs out on the clock, so on a busy machine a test
    that read the list after a slow step found it empty. Recorded where Textual receives it,
    after the app made it printable."""
    from textual.app import App

    notify = App.notify

    def told(self: App[object], message: str, **keywords: object) -> None:
        self.__dict__.setdefault("told", []).append(str(message))
        notify(self, message, **keywords)  # type: ignore[arg-type]

    monkeypatch.setattr(App, "notify", told)

