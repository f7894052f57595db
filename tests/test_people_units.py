"""Pure parts of the employees sync: request planning, record shaping, omission reports."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tap_hibob.field_types import employee_schema, parse_fields
from tap_hibob.people import _merge, _Plan, _stale_paths

METADATA = [
    {"id": "root.id", "jsonPath": "id", "type": "employee-reference", "categoryId": "root",
     "categoryDisplayName": "Basic info"},
    {"id": "root.email", "jsonPath": "email", "type": "text", "categoryId": "root",
     "categoryDisplayName": "Basic info"},
    {"id": "root.creationDateTime", "jsonPath": "creationDateTime", "type": "time",
     "categoryId": "root", "categoryDisplayName": "Basic info"},
    {"id": "work.site", "jsonPath": "work.site", "type": "text", "categoryId": "work",
     "categoryDisplayName": "Work"},
    {"id": "work.siteId", "jsonPath": "work.siteId", "type": "list_id", "categoryId": "work",
     "categoryDisplayName": "Work"},
    {"id": "about.hobbies", "jsonPath": "about.hobbies", "type": "multi-list",
     "categoryId": "about", "categoryDisplayName": "About"},
    {"id": "payroll.salary.payment", "jsonPath": "payroll.salary.payment", "type": "currency",
     "categoryId": "payroll", "categoryDisplayName": "Payroll"},
    {"id": "work.reportsTo", "jsonPath": "work.reportsTo", "type": "employee",
     "categoryId": "work", "categoryDisplayName": "Work"},
    {"id": "work.reportsTo.email", "jsonPath": "work.reportsTo.email", "type": "text",
     "categoryId": "work", "categoryDisplayName": "Work"},
    {"id": "identification.ssn", "jsonPath": "identification.ssn", "type": "ssn",
     "categoryId": "identification", "categoryDisplayName": "Identification"},
]  # fmt: skip
FIELDS = parse_fields(METADATA)


def plan(mode: str = "append") -> _Plan:
    return _Plan.build(FIELDS, FIELDS, mode)


def test_field_groups_hold_at_most_400_and_all_carry_root_id() -> None:
    many = parse_fields(
        [METADATA[0]]
        + [
            {"id": f"work.custom.field_{i}", "type": "text", "categoryId": "work"}
            for i in range(799)
        ]
    )
    groups = _Plan.build(many, many, "off").groups
    assert [len(g) for g in groups] == [400, 400, 2]  # ceil((800 - 1) / 399) = 3
    assert all(g[0] == "root.id" for g in groups)
    assert sum(len(g) - 1 for g in groups) == 799
    assert _Plan.build(many, many[:1], "off").groups == [["root.id"]]


def test_normalize_folds_slash_keys_into_the_nested_form() -> None:
    raw = {
        "id": "3332883894235038486",
        "/root/id": {"value": "3332883894235038486"},
        "/root/email": {"value": "ada@example.com"},  # only here: must not be lost
        "work": {"site": None, "siteId": 2606110},
        "/work/site": {"value": "London (Demo)"},  # nested says null, slash has it
        "/work/siteId": {"value": 2606110},
        "/no/longer/known": {"value": 1},
        "creationDateTime": "2023-05-19T11:13:40.175639",
        "about": {"hobbies": ["Animals", 1001]},
    }
    record = plan().normalize(raw)
    assert record == {
        "id": "3332883894235038486",
        "email": "ada@example.com",
        "work": {"site": "London (Demo)", "siteId": "2606110"},
        "creationDateTime": "2023-05-19T11:13:40.175639Z",
        "about": {"hobbies": ["Animals", "1001"]},
    }


def test_replace_mode_leaves_display_strings_alone() -> None:
    raw = {"id": "1", "creationDateTime": "19/05/2023 11:13", "work": {"siteId": "London"}}
    assert plan("replace").normalize(raw) == raw


def test_report_warns_once_per_missing_category_naming_the_permission(
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = plan()
    first = {
        "id": "1",
        "email": None,
        "creationDateTime": None,
        "work": {"site": None, "siteId": None, "reportsTo": None},
        "payroll": {"salary": {"payment": None}},
    }
    p.observe(first)
    p.observe({"id": "2", "work": {}, "identification": {"ssn": "***-**-1234"}})
    with caplog.at_level(logging.WARNING):
        p.report(logging.getLogger("t"), "employees", employees=2)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    [about] = [m for m in messages if "'About'" in m]
    assert "1 requested field(s)" in about and "about.hobbies" in about
    assert "People > About > View selected employees' About sections" in about
    [masked] = [m for m in messages if "obscured" in m]
    assert "identification.ssn" in masked
    assert "Edit selected employees' Identification sections" in masked
    # work.reportsTo.email counts as returned: its parent (reportsTo) was null.


def test_report_with_no_employees_names_basic_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        plan().report(logging.getLogger("t"), "employees", employees=0)
    [message] = [r.getMessage() for r in caplog.records]
    assert "no employees" in message
    assert "People > Basic Info > View selected employees' Basic info sections" in message


def test_merge_combines_partial_records_of_field_groups() -> None:
    record: dict[str, Any] = {"id": "1", "work": {"site": "London"}}
    _merge(record, {"id": "1", "work": {"title": "301"}, "about": {"hobbies": []}})
    assert record == {"id": "1", "work": {"site": "London", "title": "301"},
                      "about": {"hobbies": []}}  # fmt: skip


def test_stale_paths_ignore_the_insides_of_field_types() -> None:
    schema = employee_schema(FIELDS, human_readable="append")["properties"]
    known = {f.path for f in FIELDS}
    prefixes = {f.path[:i] for f in FIELDS for i in range(1, len(f.path))}
    everything = _stale_paths(schema, known, prefixes, lambda _: True)
    assert everything == []  # currency.value, reportsTo.displayName... are not fields
    fewer = [f for f in FIELDS if f.id not in ("work.site", "work.reportsTo.email")]
    known = {f.path for f in fewer}
    prefixes = {f.path[:i] for f in fewer for i in range(1, len(f.path))}
    stale = _stale_paths(schema, known, prefixes, lambda path: path != ("about", "hobbies"))
    # work.reportsTo.email now belongs to the `employee` type of work.reportsTo.
    assert stale == ["work.site"]


def test_a_hidden_ssn_names_both_identification_permissions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ssn_only = [f for f in FIELDS if f.id in ("root.id", "identification.ssn")]
    p = _Plan.build(FIELDS, ssn_only, "off")
    p.observe({"id": "1"})  # HiBob left the SSN out (no Edit permission on Identification)
    with caplog.at_level(logging.WARNING):
        p.report(logging.getLogger("t"), "employees", employees=1)
    [message] = [r.getMessage() for r in caplog.records]
    assert "left out identification.ssn" in message
    assert "People > Identification > View selected employees' Identification sections" in message
    assert "People > Identification > Edit selected employees' Identification sections" in message
