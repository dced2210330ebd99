"""The JSON trace's published schema (tui/output/trace.schema.json): a valid JSON Schema that
every trace the suite writes fits (tests/conftest.py checks each one), strict enough that a
trace with a field missing, misnamed or of the wrong type does not fit, and the source of the
docs' table of the trace's fields."""

from __future__ import annotations

import copy
import json
from typing import Any

import fastjsonschema
import jsonschema
import pytest

from tests.helpers import run_main
from tests.traces import check_all, validate
from tui.output import schema


def written(capsys: pytest.CaptureFixture[str], *argv: object) -> dict[str, Any]:
    status, out, err = run_main(capsys, "--headless", "--format", "json", *argv)
    assert status in (0, 1), err
    trace: dict[str, Any] = json.loads(out)
    return trace


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema.trace_schema())


def test_the_traces_a_test_writes_are_recorded_and_fit(capsys, traces_fit_their_schema) -> None:
    written(capsys, "--steps", "2", "--optimizer", "adam", "--explain", "dW1[1,1]")
    written(capsys, "--dataset", "moons", "--batch", "16", "--steps", "2", "--hidden", "8,8")
    assert len(traces_fit_their_schema) == 2
    check_all(traces_fit_their_schema)


@pytest.mark.parametrize("spoil", [
    lambda t: t.pop("steps"),
    lambda t: t.update(extra=1),
    lambda t: t["steps"][0]["update"].update(loss_after="0.9"),
    lambda t: t["steps"][0]["gradcheck"]["W1"].update(verdict="maybe"),
    lambda t: t["steps"][0]["gradcheck"]["W1"].pop("passed"),
    lambda t: t["steps"][0]["forward"].update(z1=[{"a": 1}]),
    lambda t: t["steps"][0].update(step=0),
    lambda t: t["config"].update(hidden=4),
    lambda t: t["warnings"].append(None),
], ids=["no steps", "unknown field", "loss as text", "verdict", "no passed",
        "object in a tensor", "step 0", "hidden not a list", "warning not text"])
def test_a_spoiled_trace_does_not_fit(capsys, spoil) -> None:
    trace = written(capsys)
    validate(trace)
    spoiled = copy.deepcopy(trace)
    spoil(spoiled)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate(spoiled)


def test_a_wrong_schema_fails_the_traces_it_did_not_describe(capsys) -> None:
    """A schema that says otherwise than the program (a step's loss_after a string, the model a
    number) fails the traces: the check is live, not a formality."""
    trace = written(capsys)
    update = ["definitions", "step", "properties", "update", "anyOf", 0, "properties"]
    for where, field, seen in ((update, "loss_after", "update"), (["properties"], "model", "model")):
        wrong = copy.deepcopy(schema.trace_schema())
        node = wrong
        for key in where:
            node = node[key]
        node[field] = {"type": "string" if field == "loss_after" else "integer"}
        with pytest.raises(fastjsonschema.JsonSchemaValueException, match=seen):
            fastjsonschema.compile(wrong)(trace)


def test_the_docs_table_is_the_schemas_fields() -> None:
    table = schema.fields_table()
    trace = schema.trace_schema()
    for name in (*trace["properties"], *trace["definitions"]["step"]["properties"]):
        assert f"| `{name}`" in table, name


def test_a_field_without_a_description_stops_the_docs_build(monkeypatch) -> None:
    bare = copy.deepcopy(schema.trace_schema())
    bare["properties"]["model"].pop("description")
    monkeypatch.setattr(schema, "trace_schema", lambda: bare)
    with pytest.raises(ValueError, match="no description"):
        schema.fields_table()
