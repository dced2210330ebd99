"""How much the seeded sweeps and fuzz tests do: enough by default to catch a regression in
a suite of a minute, thousands of keys and every terminal size under the thorough profile.

One switch for both kinds: the Hypothesis profile (tests/conftest.py), set with
BACKPROP_HYPOTHESIS=thorough or pytest's --hypothesis-profile=thorough. Hypothesis's pytest
plugin loads it before the test modules are collected, so parameter lists may use it too.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import settings

T = TypeVar("T")


def thorough() -> bool:
    """Whether the thorough profile (more examples than the quick one) is loaded."""
    quick = settings.get_profile("quick").max_examples
    return settings.default is not None and settings.default.max_examples > quick


def pick(quick: T, more: T) -> T:
    """`quick` under the default profile, `more` under the thorough one."""
    return more if thorough() else quick
