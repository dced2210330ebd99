"""The JSON trace's published JSON Schema (trace.schema.json, beside this module), and its
fields as the documentation's tables.

The schema is the contract a reader of `--format json` can hold the program to: the test suite
validates every trace it writes against it (tests/conftest.py), and the docs' reference page
is made from its descriptions (docs/hooks.py), so the page, the schema and the traces cannot
part ways.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).with_name("trace.schema.json")


@cache
def trace_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


def _resolved(node: dict[str, Any]) -> dict[str, Any]:
    """A property's own schema, its $ref followed (one level)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    found: dict[str, Any] = trace_schema()["definitions"][ref.rsplit("/", 1)[1]]
    return found


def _kind(node: dict[str, Any]) -> str:
    """A property's type in words: `number or null`, `array of step`, `one of "full", "summary"`."""
    if "$ref" in node:
        return str(node["$ref"].rsplit("/", 1)[1])
    if "enum" in node:
        return "one of " + ", ".join(json.dumps(v) for v in node["enum"])
    if "anyOf" in node:
        return " or ".join(_kind(option) for option in node["anyOf"])
    kind = node.get("type", "any")
    words = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if words == "array" and "items" in node:
        return f"array of {_kind(node['items'])}"
    return words


def _description(node: dict[str, Any]) -> str:
    text = node.get("description") or _resolved(node).get("description", "")
    if not str(text).strip():
        raise ValueError(f"the trace schema has a field with no description: {node}")
    return str(text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(properties: dict[str, Any], required: list[str]) -> str:
    rows = [f"| `{name}`{'' if name in required else ' (optional)'} | {_kind(node)} | "
            f"{_cell(_description(node))} |\n" for name, node in properties.items()]
    return "| field | type | meaning |\n| --- | --- | --- |\n" + "".join(rows)


def fields_table() -> str:
    """The trace's top-level fields, then a step's: each with its type and description (a
    field without a description stops the docs' build)."""
    schema = trace_schema()
    step = schema["definitions"]["step"]
    return (f"{_table(schema['properties'], schema['required'])}\nEach element of `steps`:\n\n"
            f"{_table(step['properties'], step['required'])}")
