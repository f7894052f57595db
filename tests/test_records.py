"""records.Shaper: values typed to the schema, undeclared properties left out and counted."""

from __future__ import annotations

import copy
import math
from typing import Any

import msgspec

from tap_hibob.records import Shaper

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "fte": {"type": ["number", "null"]},
        "count": {"type": ["integer", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "day": {"type": ["string", "null"], "format": "date"},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "ids": {"type": ["array", "null"], "items": {"type": "string"}},
        "money": {
            "type": ["object", "null"],
            "properties": {"value": {"type": ["number", "null"]}, "currency": {"type": "string"}},
        },
        "free": {"type": ["object", "null"]},
        "anything": {"type": ["object", "array", "string", "number", "boolean", "null"]},
    },
}


def shape(record: dict[str, Any], schema: dict[str, Any] = SCHEMA, **kw: Any) -> dict[str, Any]:
    """A shaped copy (the shaper changes records in place: they are the tap's own)."""
    return Shaper(schema, **kw)(copy.deepcopy(record))


def test_scalars_take_the_declared_type_where_nothing_is_lost() -> None:
    out = shape(
        {
            "id": 3332883894235038486,
            "fte": 100,
            "count": 3.0,
            "flag": "true",
            "day": "2024-05-01T00:00:00",
            "at": "2023-05-19T11:13:40.175639",
        }
    )
    assert out == {
        "id": "3332883894235038486",  # 19 digits kept exactly, as text
        "fte": 100.0,
        "count": 3,
        "flag": True,
        "day": "2024-05-01",
        "at": "2023-05-19T11:13:40.175639Z",  # HiBob's zone-less UTC as RFC 3339
    }
    assert isinstance(out["fte"], float)


def test_numeric_text_becomes_a_number_and_offsets_become_utc() -> None:
    out = shape({"fte": "62.5", "count": "7", "at": "2023-05-19T12:00:00+02:00"})
    assert out == {"fte": 62.5, "count": 7, "at": "2023-05-19T10:00:00Z"}


def test_values_that_do_not_fit_are_null_and_counted_by_path() -> None:
    shaper = Shaper(SCHEMA)
    out = shaper({"fte": "lots", "count": 2.5, "money": {"value": "n/a", "currency": "GBP"}})
    assert out == {"fte": None, "count": None, "money": {"value": None, "currency": "GBP"}}
    assert dict(shaper.findings.mistyped) == {"fte": 1, "count": 1, "money.value": 1}
    (line,) = shaper.warnings("work_history")
    assert "fte (1x)" in line and "money.value (1x)" in line
    assert "lots" not in line and "n/a" not in line  # names, never values


def test_undeclared_properties_are_left_out_and_named_once_each() -> None:
    shaper = Shaper(SCHEMA)
    for _ in range(3):
        out = shaper({"id": "1", "newColumn": "x", "money": {"value": 1, "rate": 2}})
        assert out == {"id": "1", "money": {"value": 1.0}}
    assert dict(shaper.findings.undeclared) == {"newColumn": 3, "money.rate": 3}
    (line,) = shaper.warnings("work_history")
    assert line.startswith("work_history: HiBob sent properties the stream's schema does not")
    assert "money.rate (3x), newColumn (3x)" in line and "--discover" in line


def test_free_form_objects_and_permissive_values_pass_through() -> None:
    value = {"anything": {"deep": [1, {"x": None}]}, "free": {"column_1": 5, "nested": {}}}
    assert shape(value) == value
    assert shape({"anything": [1, "two"]}) == {"anything": [1.0, "two"]}


def test_lists_are_typed_per_item_and_non_finite_numbers_end_up_null() -> None:
    out = shape({"ids": [123, "456"], "fte": math.inf, "count": math.nan})
    assert out["ids"] == ["123", "456"] and out["count"] is None
    # Floats pass through unchecked: the tap's Singer writer (msgspec) writes them as null.
    assert msgspec.json.encode(out["fte"]) == b"null"


def test_an_object_where_a_scalar_is_declared_is_null_not_passed_on() -> None:
    shaper = Shaper(SCHEMA)
    assert shaper({"fte": {"value": 1}, "ids": "not-a-list"}) == {"fte": None, "ids": None}
    assert set(shaper.findings.mistyped) == {"fte", "ids"}


def test_with_flattening_a_null_object_becomes_empty_so_no_bare_key_is_left() -> None:
    # The SDK's flattening keeps a null object under its bare name, which the flattened
    # schema lacks; loaders with fixed columns (target-csv) then reject the row.
    schema = {
        "type": "object",
        "properties": {
            "reportsTo": {"type": ["object", "null"], "properties": {"id": {"type": "string"}}},
            "work": {
                "type": ["object", "null"],
                "properties": {
                    "manager": {
                        "type": ["object", "null"],
                        "properties": {"email": {"type": ["string", "null"]}},
                    }
                },
            },
        },
    }
    record = {"reportsTo": None, "work": {"manager": None}}
    assert shape(record, schema) == record
    assert shape(record, schema, flatten_depth=2) == {"reportsTo": {}, "work": {"manager": {}}}
    # Below the flattening depth objects stay JSON, where null is fine.
    assert shape(record, schema, flatten_depth=1) == {"reportsTo": {}, "work": {"manager": None}}


def test_properties_the_catalog_deselects_are_left_out_without_a_finding() -> None:
    from singer_sdk.singerlib import SelectionMask

    mask = SelectionMask(
        {
            (): True,
            ("properties", "money"): True,
            ("properties", "money", "properties", "currency"): False,
            ("properties", "fte"): False,
        }
    )
    shaper = Shaper(SCHEMA, mask=mask)
    out = shaper({"id": "1", "fte": 1, "money": {"value": 2, "currency": "GBP"}, "extra": 1})
    assert out == {"id": "1", "money": {"value": 2.0}}
    assert dict(shaper.findings.undeclared) == {"extra": 1}
