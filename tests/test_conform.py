"""The compiled record conformer in HibobStream must equal the SDK's conform_record_data_types.

HibobStream replaces the SDK's per-record schema walk with one compiled per schema (it was
the largest CPU cost in the benchmark profile). These tests compare the two on every
shipped schema and on edge-case schemas, with seeded random records that include wrong
types, extra keys, NaN/inf, datetimes, Decimals and booleans given as integers.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import _conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import Catalog, SelectionMask

from tap_hibob.stream import ObjectConformer, RecordPruner
from tests.conftest import ROOT, run_tap, tap_config

SCHEMA_FILES = sorted((ROOT / "schemas").glob("*.json"))

EDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "flag": {"type": ["boolean", "null"]},
        "strict_flag": {"type": "boolean"},
        "flag_list": {"type": ["boolean"]},
        "amount": {"type": ["number", "null"]},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "loose": {},
        "any_of": {"anyOf": [{"type": "object", "properties": {"a": {"type": "integer"}}}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "bools": {"type": "array", "items": {"type": "boolean"}},
        "tuple": {"type": "array", "prefixItems": [{"type": "string"}], "items": {}},
        "rows": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "ok": {"type": "boolean"},
                    "deep": {
                        "type": "object",
                        "properties": {"x": {"type": "number"}},
                        "additionalProperties": False,
                    },
                },
            },
        },
        "open_rows": {"type": "array", "items": {"type": "object"}},
        "nested": {
            "type": ["object", "null"],
            "properties": {
                "value": {"type": ["number", "null"]},
                "inner": {
                    "type": "object",
                    "properties": {"on": {"type": "boolean"}},
                    "additionalProperties": True,
                },
            },
        },
        "free": {"type": "object", "additionalProperties": True},
    },
}

SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -7,
    2**70,
    0.0,
    2.5,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
    "text",
    "2024-01-01",
    decimal.Decimal("1.10"),
    decimal.Decimal("NaN"),
    datetime.datetime(2024, 5, 6, 7, 8, 9),
    datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
    datetime.date(2024, 5, 6),
    datetime.time(7, 8),
    datetime.timedelta(seconds=90),
    b"\x00",
    b"\x01",
]


def _value(rng: random.Random, schema: dict[str, Any], depth: int) -> Any:
    """A value that usually fits the schema and sometimes does not."""
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice(SCALARS)
    if roll < 0.55:
        return [_value(rng, schema.get("items") or {}, depth + 1) for _ in range(rng.randint(0, 3))]
    return _record(rng, schema, depth + 1)


def _record(rng: random.Random, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    out = {name: _value(rng, sub, depth) for name, sub in properties.items() if rng.random() < 0.85}
    for n in range(rng.randint(0, 2)):
        out[f"extra{n}"] = rng.choice(SCALARS)
    return out


def _sdk(record: dict[str, Any], schema: dict[str, Any]) -> tuple[Any, Any]:
    """The SDK's result and unmapped paths, or the exception type it raised."""
    try:
        return _conform_record_data_types(
            copy.deepcopy(record), schema, TypeConformanceLevel.RECURSIVE, None
        )
    except Exception as exc:  # compared: both must raise the same
        return type(exc), None


def _ours(record: dict[str, Any], schema: dict[str, Any]) -> tuple[Any, Any]:
    unmapped: list[str] = []
    try:
        return ObjectConformer(schema)(copy.deepcopy(record), unmapped), unmapped
    except Exception as exc:
        return type(exc), None


def _same(a: Any, b: Any) -> bool:
    """Equality of types and values, NaN equal to NaN (nested NaNs pass through both)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, decimal.Decimal) and a.is_nan():
        return b.is_nan()
    return bool(a == b)


@pytest.mark.parametrize(
    "schema_name", [p.stem for p in SCHEMA_FILES] + ["edge"], ids=lambda name: name
)
def test_compiled_conformer_matches_the_sdk(schema_name: str) -> None:
    if schema_name == "edge":
        schema = EDGE_SCHEMA
    else:
        schema = json.loads((ROOT / "schemas" / f"{schema_name}.json").read_text())
    rng = random.Random(f"conform:{schema_name}")
    for _ in range(400):
        record = _record(rng, schema)
        expected, expected_unmapped = _sdk(record, schema)
        actual, actual_unmapped = _ours(record, schema)
        assert _same(actual, expected), record
        assert actual_unmapped == expected_unmapped, record


def test_edge_cases_the_sdk_defines() -> None:
    """Spot checks, so a regression in both implementations still shows up here."""
    record = {
        "flag": 0,
        "strict_flag": 1,
        "amount": float("nan"),
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "rows": [{"id": 1, "ok": 0, "deep": {"x": 1.5, "y": 2}, "gone": 1}, "bare"],
        "nested": {"value": float("inf"), "inner": {"on": 1, "kept": "k"}, "drop": 1},
        "free": {"anything": [1]},
        "extra": 1,
    }
    out, unmapped = _ours(record, EDGE_SCHEMA)
    assert out == {
        "flag": False,
        "strict_flag": True,
        "amount": None,
        "when": "2024-01-02T03:04:05.000000+00:00",
        "rows": [{"id": 1, "ok": False, "deep": {"x": 1.5}}, "bare"],
        "nested": {"value": None, "inner": {"on": True, "kept": "k"}},
        "free": {"anything": [1]},
    }
    assert unmapped == ["rows.deep.y", "rows.gone", "nested.drop", "extra"]


def _breadcrumbs(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every breadcrumb the SDK's metadata would hold, array items included."""
    out = []
    for name, sub in (schema.get("properties") or {}).items():
        here = (*prefix, "properties", name)
        out.append(here)
        out += _breadcrumbs(sub, here)
        if isinstance(sub.get("items"), dict):
            out += _breadcrumbs(sub["items"], (*here, "items"))
    return out


@pytest.mark.parametrize(
    "schema_name", [p.stem for p in SCHEMA_FILES] + ["edge"], ids=lambda name: name
)
def test_compiled_pruner_matches_the_sdk(schema_name: str) -> None:
    if schema_name == "edge":
        schema = EDGE_SCHEMA
    else:
        schema = json.loads((ROOT / "schemas" / f"{schema_name}.json").read_text())
    crumbs = _breadcrumbs(schema)
    rng = random.Random(f"prune:{schema_name}")
    for case in range(300):
        share = rng.choice([0.0, 0.05, 0.3, 0.8])
        entries = {crumb: rng.random() >= share for crumb in crumbs if rng.random() < 0.9}
        entries[()] = case % 50 != 0  # now and then a deselected stream
        for _ in range(rng.randint(0, 2)):  # breadcrumbs of properties the schema lacks
            entries[("properties", f"extra{rng.randint(0, 1)}")] = rng.random() < 0.5
        mask = SelectionMask(entries)
        record = _record(rng, schema)
        expected = copy.deepcopy(record)
        pop_deselected_record_properties(expected, schema, mask)
        actual = copy.deepcopy(record)
        RecordPruner(mask, schema)(actual)
        assert _same(actual, expected), (record, entries)


def test_pruner_does_nothing_when_everything_is_selected() -> None:
    mask = SelectionMask({(): True, ("properties", "flag"): True})
    assert RecordPruner(mask, EDGE_SCHEMA).paths == []


def test_discovered_schemas_and_default_masks(tmp_path: Path, fake: Any) -> None:
    """Every discovered stream (employees' schema is built from HiBob's field metadata),
    with the selection its catalog metadata gives by default."""
    discovered = run_tap(tmp_path, tap_config(fake), "--discover")
    assert discovered.returncode == 0, discovered.stderr
    catalog = Catalog.from_dict(json.loads(discovered.stdout))
    assert "employees" in catalog
    for name, entry in catalog.items():
        schema = entry.schema.to_dict()
        mask = entry.metadata.resolve_selection()
        if name == "employees":  # SSN fields are deselected by default: pruning is live
            assert RecordPruner(mask, schema).paths
        rng = random.Random(f"discovered:{name}")
        for _ in range(100):
            record = _record(rng, schema)
            expected, expected_unmapped = _sdk(record, schema)
            actual, actual_unmapped = _ours(record, schema)
            assert _same(actual, expected), (name, record)
            assert actual_unmapped == expected_unmapped, (name, record)
            pruned = copy.deepcopy(record)
            pop_deselected_record_properties(pruned, schema, mask)
            ours = copy.deepcopy(record)
            RecordPruner(mask, schema)(ours)
            assert _same(ours, pruned), (name, record)


def test_deselected_properties_are_pruned_through_the_cli(tmp_path: Path, fake: Any) -> None:
    """With a property deselected in the catalog, RECORDs lack it (the pruning path)."""
    config = tap_config(fake)
    discovered = run_tap(tmp_path, config, "--discover")
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if entry["tap_stream_id"] != "tasks":
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = False
            elif item["breadcrumb"] == []:
                item["metadata"]["selected"] = True
            elif item["breadcrumb"] == ["properties", "owner"]:
                item["metadata"]["selected"] = False
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    tasks = run.records("tasks")
    assert tasks
    assert all("owner" not in task and "requestedFor" in task for task in tasks)
