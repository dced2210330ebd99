"""Every JSON trace the suite writes, held to its published JSON Schema
(tui/output/trace.schema.json): tests/conftest.py records each trace the report writes while a
test runs (tui.output.report.json_report, as the command line and the app's `w` call it) and
validates it when the test ends, so a trace that strays from the schema, or a schema that
strays from the traces, fails the test that wrote it.

fastjsonschema compiles the schema once a process: a 784-128-1 trace validates in 0.3 s, where
jsonschema's interpreter took 7 s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import fastjsonschema
import pytest

from tui.output.schema import trace_schema


@cache
def validator() -> Callable[[Any], Any]:
    return fastjsonschema.compile(trace_schema())


def validate(trace: dict[str, Any]) -> None:
    """Raises fastjsonschema.JsonSchemaValueException, naming the field, when `trace` strays."""
    validator()(trace)


def record(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every whole trace json_report writes from now on (one the reader stopped reading early,
    as `| head` does, is not whole and is left out)."""
    from tui.cli import headless
    from tui.output import report

    written: list[str] = []
    original = report.json_report

    def recorded(*args: Any, **kwargs: Any) -> Iterator[str]:
        chunks = []
        for chunk in original(*args, **kwargs):
            chunks.append(chunk)
            yield chunk
        written.append("".join(chunks))

    monkeypatch.setattr(report, "json_report", recorded)
    monkeypatch.setattr(headless, "json_report", recorded)
    return written


def check_all(written: list[str]) -> None:
    for text in written:
        try:
            validate(json.loads(text))
        except fastjsonschema.JsonSchemaValueException as error:
            pytest.fail(f"a JSON trace this test wrote does not fit tui/output/trace.schema.json: "
                        f"{error.message} (at {error.path})", pytrace=False)
