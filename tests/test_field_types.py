"""The pure HiBob type -> JSON Schema mapping and the employees schema builder."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tap_hibob.field_types import (
    HUMAN_READABLE_KEY,
    KNOWN_TYPES,
    PERMISSIVE,
    HibobField,
    employee_schema,
    json_schema_for_type,
    parse_fields,
)
from tap_hibob.timeutil import to_utc_timestamp
from tests.helpers import HIBOB_FIELD_TYPES

NULLABLE_STRING = {"type": ["string", "null"]}

# Every documented HiBob type, with values HiBob sends for it (docs/development/hibob-api.md,
# People) and values it must not accept. The mapping is checked against both.
TYPE_CASES: dict[str, tuple[dict[str, Any], list[Any], list[Any]]] = {
    "text": (NULLABLE_STRING, ["Ada", None], [1, True, {}]),
    "text-area": (NULLABLE_STRING, ["Line 1\nLine 2", None], [[], 2.5]),
    "number": ({"type": ["number", "null"]}, [44, 0.8, 37.5, None], ["44", True]),
    "date": (
        {"type": ["string", "null"], "format": "date"},
        ["1986-08-10", None],
        [19860810],
    ),
    "short-date": (NULLABLE_STRING, ["08-10", None], [810]),
    "time": (
        {"type": ["string", "null"], "format": "date-time"},
        ["2023-05-19T11:13:40.175639Z", None],
        [1684494820],
    ),
    "boolean": ({"type": ["boolean", "null"]}, [True, False, None], ["Yes", 1]),
    "list": (NULLABLE_STRING, ["209192163", "He / Him", None], [209192163]),
    "list_id": (NULLABLE_STRING, ["2606110", None], [{"id": 1}]),
    "hierarchy-list": (NULLABLE_STRING, ["9101", None], [["9001", "9101"]]),
    "multi-list": (
        {"type": ["array", "null"], "items": {"type": "string"}},
        [["Animals", "1001"], [], None],
        ["Animals", [1001]],
    ),
    "currency": (
        {
            "type": ["object", "null"],
            "properties": {
                "value": {"type": ["number", "null"]},
                "currency": {"type": ["string", "null"]},
            },
        },
        [{"value": 100000.5, "currency": "GBP"}, None],
        [{"value": "100000", "currency": "GBP"}, 12],
    ),
    "employee-reference": (NULLABLE_STRING, ["3332883894235038486", None], [3332883894235038486]),
    "avatar": (NULLABLE_STRING, ["https://images.hibob.com/a.png", None], [{}]),
    "ssn": (NULLABLE_STRING, ["123-45-6789", None], [123456789]),
}
OBJECT_TYPES = {
    "employee": {
        "id": "1",
        "firstName": "A",
        "surname": "B",
        "email": "a@b.c",
        "displayName": "A B",
    },
    "period": {"humanize": "2 years, 3 months", "periodISO": "P2Y3M", "sortFactor": 821},
    "working_pattern": {
        "days": {"monday": 8, "tuesday": 7.5},
        "hoursPerDay": 8,
        "workingPatternId": 1,
        "workingPatternType": "fixed",
    },
}


def test_every_documented_type_is_mapped() -> None:
    assert HIBOB_FIELD_TYPES == KNOWN_TYPES


@pytest.mark.parametrize("hibob_type", sorted(TYPE_CASES))
def test_scalar_types_map_exactly(hibob_type: str) -> None:
    expected, good, bad = TYPE_CASES[hibob_type]
    schema = json_schema_for_type(hibob_type)
    assert schema == expected
    for value in good:
        jsonschema.validate(value, schema)
    for value in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(value, schema)


@pytest.mark.parametrize("hibob_type", sorted(OBJECT_TYPES))
def test_object_types_take_hibob_shapes_and_declare_no_extra_keys(hibob_type: str) -> None:
    """A key HiBob adds later is valid JSON Schema-wise, but the schema does not promise it:
    records carry only declared properties (the tap drops and names the others)."""
    schema = json_schema_for_type(hibob_type)
    assert schema["type"] == ["object", "null"]
    assert "additionalProperties" not in schema
    jsonschema.validate(OBJECT_TYPES[hibob_type], schema)
    jsonschema.validate({**OBJECT_TYPES[hibob_type], "addedLater": 1}, schema)
    jsonschema.validate(None, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("text", schema)


@pytest.mark.parametrize("hibob_type", ["document", "duration_with_unit", "rating", "", "x-new"])
def test_undocumented_shapes_and_unknown_types_are_permissive(hibob_type: str) -> None:
    schema = json_schema_for_type(hibob_type)
    assert schema == PERMISSIVE
    for value in ({"value": 3, "unit": "months"}, [1, "a"], "3 months", 3, True, None):
        jsonschema.validate(value, schema)


@pytest.mark.parametrize("hibob_type", sorted(KNOWN_TYPES | {"rating"}))
def test_replace_mode_makes_every_type_a_string(hibob_type: str) -> None:
    assert json_schema_for_type(hibob_type, human_readable="replace") == NULLABLE_STRING


def test_mapping_returns_fresh_copies() -> None:
    first = json_schema_for_type("currency")
    first["properties"]["value"]["type"] = "string"
    assert json_schema_for_type("currency")["properties"]["value"]["type"] == ["number", "null"]


# Metadata parsing ----------------------------------------------------------------------


def meta(field_id: str, field_type: str = "text", **extra: Any) -> dict[str, Any]:
    category = extra.pop("categoryId", field_id.split(".", maxsplit=1)[0])
    return {
        "id": field_id,
        "name": extra.pop("name", field_id),
        "category": category,
        "categoryId": category,
        "categoryDisplayName": extra.pop("categoryDisplayName", category.title()),
        "jsonPath": extra.pop("jsonPath", field_id),
        "type": field_type,
        "typeData": extra.pop("typeData", {}),
        "historical": False,
        **extra,
    }


def test_parse_fields_reads_paths_categories_and_lists() -> None:
    fields = parse_fields(
        [
            meta("root.id", "employee-reference", jsonPath="id"),
            meta("home.privateEmail", categoryId="personalContact"),
            meta("work.department", "list", typeData={"listId": "department"}),
            meta("payroll.variable.Executive bonus.amount", "currency"),
            meta("root.fullName", jsonPath=None),  # no jsonPath: root rule applies
        ]
    )
    by_id = {f.id: f for f in fields}
    assert by_id["root.id"].path == ("id",)
    assert by_id["home.privateEmail"].category_id == "personalContact"
    assert by_id["work.department"].list_id == "department"
    assert by_id["payroll.variable.Executive bonus.amount"].path[-2] == "Executive bonus"
    assert by_id["payroll.variable.Executive bonus.amount"].slash_key == (
        "/payroll/variable/Executive bonus/amount"
    )
    assert by_id["root.fullName"].path == ("fullName",)


def test_parse_fields_skips_broken_unsearchable_and_duplicate_entries() -> None:
    fields = parse_fields(
        [
            "not an object",
            {"name": "no id"},
            meta("actualPayment.amount", "currency"),  # only via actual-payments search
            meta("work.title"),
            meta("work.titleCopy", jsonPath="work.title"),
            meta("humanReadable.x"),
        ]
    )
    assert [f.id for f in fields] == ["work.title"]
    assert parse_fields({"not": "a list"}) == []


def test_sensitive_fields_are_ssn_typed() -> None:
    [ssn, last4] = parse_fields(
        [meta("identification.ssn", "ssn"), meta("identification.ssnSerialNumber")]
    )
    assert ssn.sensitive and not last4.sensitive


def test_volatile_fields_are_images_calendar_counters_and_risk_scores() -> None:
    """Values that change every day without an HR change (issue 13): not selected by
    default in `employees`, so snapshots do not churn."""
    volatile = parse_fields(
        [
            meta("root.avatarUrl", "avatar", jsonPath="avatarUrl", categoryId="root"),
            meta("about.avatar", "avatar"),
            meta("work.tenureDuration", "period"),
            meta("payroll.timeSinceLastSalaryChange", "period"),
            meta("personal.age", "number"),
            meta("work.tenureYears", "number"),
            meta("peopleAnalytics.lowPerformance", "number"),
            meta("category_1.flightRisk", "number"),
        ]
    )
    steady = parse_fields(
        [
            meta("work.startDate", "date"),
            meta("personal.birthDate", "date"),
            meta("work.title", "list"),
            meta("identification.ssn", "ssn"),
        ]
    )
    assert [f.id for f in volatile if not f.volatile] == []
    assert [f.id for f in steady if f.volatile] == []


# Schema builder -----------------------------------------------------------------------

FIELDS = parse_fields(
    [
        meta("root.id", "employee-reference", jsonPath="id", categoryId="root"),
        meta("root.email", jsonPath="email", categoryId="root"),
        meta("root.creationDateTime", "time", jsonPath="creationDateTime", categoryId="root"),
        meta("work.department", "list", typeData={"listId": "department"}),
        meta("work.startDate", "date"),
        meta("work.reportsTo", "employee"),
        meta("work.reportsTo.email"),
        meta("work.custom.field_1698036945383", "number"),
        meta("payroll.salary.payment", "currency"),
        meta("payroll.salary.payment.currency"),
        meta("payroll.employment.fte", "number", categoryId="employment"),
        meta("category_1720508362305.field_1", "rating", categoryDisplayName="Equipment"),
    ]
)


def test_schema_nests_by_json_path_with_root_fields_on_top() -> None:
    props = employee_schema(FIELDS, human_readable="off")["properties"]
    assert set(props) == {"id", "email", "creationDateTime", "work", "payroll",
                          "category_1720508362305"}  # fmt: skip
    assert props["id"] == {"type": "string", "description": "HiBob employee id (root.id)"}
    work = props["work"]
    assert work["type"] == ["object", "null"]
    assert work["properties"]["department"]["type"] == ["string", "null"]
    assert work["properties"]["startDate"]["format"] == "date"
    assert work["properties"]["custom"]["properties"]["field_1698036945383"]["type"] == [
        "number",
        "null",
    ]
    employment = props["payroll"]["properties"]["employment"]["properties"]
    assert employment["fte"]["type"] == ["number", "null"]
    assert "HiBob field work.department" in work["properties"]["department"]["description"]
    assert HUMAN_READABLE_KEY not in props


def test_fields_below_fields_merge_into_the_parent_object() -> None:
    props = employee_schema(FIELDS, human_readable="off")["properties"]
    payment = props["payroll"]["properties"]["salary"]["properties"]["payment"]
    assert payment["type"] == ["object", "null"]
    assert set(payment["properties"]) == {"value", "currency"}
    reports_to = props["work"]["properties"]["reportsTo"]
    assert {"id", "displayName", "email"} <= set(reports_to["properties"])
    jsonschema.validate({"value": 1.5, "currency": "GBP"}, payment)


def test_replace_mode_turns_leaves_into_strings_and_allows_both_shapes() -> None:
    schema = employee_schema(FIELDS, human_readable="replace")
    props = schema["properties"]
    assert props["work"]["properties"]["startDate"] == {
        **NULLABLE_STRING,
        "description": props["work"]["properties"]["startDate"]["description"],
    }
    payment = props["payroll"]["properties"]["salary"]["properties"]["payment"]
    # A scalar field with a field below it: the display string or an object holding it.
    jsonschema.validate("100,000.50 GBP", payment)
    jsonschema.validate({"currency": "GBP"}, payment)
    assert props["id"]["type"] == "string"


def test_append_mode_mirrors_fields_as_strings_in_human_readable() -> None:
    props = employee_schema(FIELDS, human_readable="append")["properties"]
    human = props[HUMAN_READABLE_KEY]
    assert human["type"] == ["object", "null"]
    assert human["properties"]["work"]["properties"]["startDate"] == NULLABLE_STRING
    assert human["properties"]["email"] == NULLABLE_STRING
    # machine values keep their types next to it
    assert props["work"]["properties"]["startDate"]["format"] == "date"
    record = {
        "id": "3332883894235038486",
        "work": {"startDate": "2026-09-06", "department": "209192163"},
        HUMAN_READABLE_KEY: {"work": {"startDate": "06/09/2026", "department": "Finance"}},
    }
    jsonschema.validate(record, {"type": "object", "properties": props})


def test_schema_has_an_id_even_without_metadata() -> None:
    assert employee_schema([], human_readable="off") == {
        "type": "object",
        "properties": {"id": {"type": "string", "description": "HiBob employee id (root.id)"}},
    }


def test_unknown_type_field_is_permissive_in_the_schema() -> None:
    props = employee_schema(FIELDS, human_readable="off")["properties"]
    custom = props["category_1720508362305"]["properties"]["field_1"]
    assert custom["type"] == PERMISSIVE["type"]


# Timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-05-19T11:13:40.175639", "2023-05-19T11:13:40.175639Z"),
        ("2023-05-19T11:13:40", "2023-05-19T11:13:40Z"),
        ("2023-05-19T13:13:40+02:00", "2023-05-19T11:13:40Z"),
        ("2023-05-19T11:13:40Z", "2023-05-19T11:13:40Z"),
        ("yesterday", "yesterday"),
        (None, None),
        (1684494820, 1684494820),
    ],
)
def test_time_values_become_rfc3339_utc(raw: Any, expected: Any) -> None:
    assert to_utc_timestamp(raw) == expected


def test_field_dataclass_slash_key_for_root_fields() -> None:
    field = HibobField("root.id", "ID", "employee-reference", "root", "Basic info", ("id",))
    assert field.slash_key == "/root/id"
    assert field.searchable
