"""Errors that name settings, each front end in its own words.

A message that mentions a setting is written as a function of a namer (key to name), so
the command line says "--inputs", a TOML file's reader "inputs" and the app's form its
field's label, from the one message. str() of an error speaks as the command line does.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.settings.schema import flag

#: A setting's key to the name a front end gives it.
Namer = Callable[[str], str]
#: A message: plain words, or words that name settings (a function of a Namer).
Words = str | Callable[[Namer], str]


class NamedError(ValueError):
    """An error whose message may name settings; says(name) words it for a front end."""

    def __init__(self, words: Words) -> None:
        self._words = words
        super().__init__(self.says(flag))

    def says(self, name: Namer) -> str:
        return self._words(name) if callable(self._words) else self._words


class ConfigError(NamedError):
    """A value that breaks a rule. `key` is the setting it is about (as the schema spells it),
    which each front end names its own way."""

    def __init__(self, key: str, words: Words) -> None:
        self.key = key
        self._words = words
        ValueError.__init__(self, f"{key}: {self.message}")

    @property
    def message(self) -> str:
        """The message as the command line words it."""
        return self.says(flag)
