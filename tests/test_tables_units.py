"""The tap's pure helpers for HiBob's bulk table pages, and the bundled table schemas."""

from __future__ import annotations

from typing import Any

import pytest

from tap_hibob.endpoints import TABLES
from tap_hibob.stream import load_schema
from tap_hibob.tables import next_cursor, rows_of


def test_rows_of_reads_bare_wrapped_and_mixed_results() -> None:
    row = {"id": 1, "effectiveDate": "2024-01-01"}
    payload = {
        "results": [
            {"employeeId": "1", "values": [row, {**row, "id": 2}]},
            {
                "employeeId": "2",
                "values": [{"values": [row], "restricted_columns": {"no_view_permission": ["x"]}}],
            },
            {"employeeId": "3", "values": [{"values": [row, {**row, "id": 3}]}]},
            {"employeeId": "4", "values": []},
            {"employeeId": "5"},
        ]
    }
    got = [(e, r["id"], rc) for e, r, rc in rows_of(payload)]
    assert got == [
        ("1", 1, None),
        ("1", 2, None),
        ("2", 1, {"no_view_permission": ["x"]}),
        ("3", 1, None),
        ("3", 3, None),
    ]


def test_a_row_with_a_values_column_is_still_a_row() -> None:
    payload = {"results": [{"employeeId": "1", "values": [{"id": 7, "values": ["a"]}]}]}
    assert [r for _, r, _ in rows_of(payload)] == [{"id": 7, "values": ["a"]}]


@pytest.mark.parametrize(
    ("payload", "cursor"),
    [
        ({"response_metadata": {"next_cursor": None}}, None),
        ({"response_metadata": {"next_cursor": ""}}, None),
        ({"response_metadata": {}}, None),
        ({}, None),
        ({"response_metadata": {"next_cursor": "a+b/c="}}, "a+b/c="),
    ],
)
def test_next_cursor(payload: dict[str, Any], cursor: str | None) -> None:
    assert next_cursor(payload) == cursor


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_known_table_schema_keys_rows_by_employee_id_text_and_entry_id(table: str) -> None:
    """Employee ids exceed 2^53 (text); entry ids are integers, unique per employee."""
    properties = load_schema(TABLES[table].stream)["properties"]
    assert properties["employeeId"]["type"] == "string"
    assert properties["id"]["type"] == "integer"
