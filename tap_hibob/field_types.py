"""HiBob metadata -> JSON Schema: the one type mapping, and the schema builders using it.

Pure functions only (no HTTP, no SDK). `employees` is built from the fields metadata: values
sit where HiBob's nested representation puts them, by each field's `jsonPath` (root fields
have no `root.` prefix, so they land at the top level), typed by the field's HiBob `type`.
Built-in and custom tables are built from their column metadata with the same mapping.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

HUMAN_READABLE_KEY = "humanReadable"
# Fields listed in the metadata that people search never returns: actual payments are read
# through POST /people/actual-payments/search only (docs/development/hibob-api.md).
ACTUAL_PAYMENT_PREFIX = "actualPayment."
UNSEARCHABLE_PREFIXES = (ACTUAL_PAYMENT_PREFIX,)
SENSITIVE_TYPES = frozenset({"ssn"})
#: Not selected by default in `employees`: image URLs (re-signed daily), counters that tick
#: with the calendar (age, tenure, time since a change) and People Analytics risk scores.
VOLATILE_TYPES = frozenset({"avatar", "period"})
VOLATILE_FIELDS = frozenset(
    {
        "root.avatarUrl",
        "root.coverImageUrl",
        "about.avatar",
        "personal.age",
        "work.tenureDuration",
        "work.tenureYears",
        "work.tenureDurationYears",
        "work.yearsOfService",
        "work.durationOfEmployment",
    }
)
VOLATILE_CATEGORIES = frozenset({"peopleAnalytics", "people_analytics"})
_RISK = re.compile(r"risk(Indicator|Counter|Score|Level)?$", re.IGNORECASE)

_STRING: dict[str, Any] = {"type": ["string", "null"]}
_MONEY: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "value": {"type": ["number", "null"]},
        "currency": {"type": ["string", "null"]},
    },
}
_PERSON: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        name: {"type": ["string", "null"]}
        for name in ("id", "firstName", "surname", "email", "displayName")
    },
}
_PERIOD: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "humanize": {"type": ["string", "null"]},
        "periodISO": {"type": ["string", "null"]},
        "sortFactor": {"type": ["number", "null"]},
    },
}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WORKING_PATTERN: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "days": {
            "type": ["object", "null"],
            "properties": {day: {"type": ["number", "null"]} for day in _DAYS},
        },
        "hoursPerDay": {"type": ["number", "null"]},
        "workingPatternId": {"type": ["number", "null"]},
        "workingPatternType": {"type": ["string", "null"]},
    },
}
#: Any JSON value: for types whose shape HiBob does not document, and for types it adds later.
#: The types are spelled out: the SDK cannot conform a list value against an empty schema.
PERMISSIVE: dict[str, Any] = {
    "type": ["object", "array", "string", "number", "boolean", "null"],
}

# Machine values of each documented HiBob field type (docs/development/hibob-api.md).
_MACHINE_TYPES: dict[str, dict[str, Any]] = {
    "text": _STRING,
    "text-area": _STRING,
    "number": {"type": ["number", "null"]},  # fractions (fte, percentages) included
    "date": {"type": ["string", "null"], "format": "date"},
    "short-date": _STRING,  # MM-DD, no year
    "time": {"type": ["string", "null"], "format": "date-time"},  # emitted as RFC 3339 UTC
    "boolean": {"type": ["boolean", "null"]},
    # List values are named-list item ids: strings, joinable to named_lists.id.
    "list": _STRING,
    "list_id": _STRING,
    "hierarchy-list": _STRING,
    "multi-list": {"type": ["array", "null"], "items": {"type": "string"}},
    "currency": _MONEY,
    "employee-reference": _STRING,  # an employee id (19 digits: a string, never a number)
    "employee": _PERSON,
    "avatar": _STRING,
    "ssn": _STRING,
    "period": _PERIOD,
    "working_pattern": _WORKING_PATTERN,
    "document": PERMISSIVE,
    "duration_with_unit": PERMISSIVE,
}
#: HiBob types whose machine values are ids: the tap turns numbers into strings (multi-list:
#: each element), so they match the schema and join to named_lists.id.
ID_TYPES = frozenset({"list", "list_id", "hierarchy-list", "employee-reference", "multi-list"})
#: The documented vocabulary; anything else maps to PERMISSIVE.
KNOWN_TYPES = frozenset(_MACHINE_TYPES)


def json_schema_for_type(hibob_type: str, *, human_readable: str = "off") -> dict[str, Any]:
    """JSON Schema of one value of a HiBob field type; every value may be null.

    With `human_readable="replace"` HiBob sends display strings instead of machine values,
    so every type is a string. Unknown types get a permissive schema instead of an error.
    """
    if human_readable == "replace":
        return dict(_STRING)
    return copy.deepcopy(_MACHINE_TYPES.get(hibob_type, PERMISSIVE))


@dataclass(frozen=True)
class HibobField:
    """One entry of HiBob's field metadata, reduced to what the tap uses."""

    id: str
    name: str
    type: str
    category_id: str
    category_name: str
    path: tuple[str, ...]
    historical: bool = False
    list_id: str | None = None

    @property
    def slash_key(self) -> str:
        """The duplicate key people search adds for non-null values (`/work/department`)."""
        return "/" + self.id.replace(".", "/")

    @property
    def sensitive(self) -> bool:
        """Fields users opt into explicitly (SSN)."""
        return self.type in SENSITIVE_TYPES

    @property
    def volatile(self) -> bool:
        """Values that change every day without an HR change (they churn every snapshot)."""
        return (
            self.type in VOLATILE_TYPES
            or self.id in VOLATILE_FIELDS
            or self.category_id in VOLATILE_CATEGORIES
            or bool(_RISK.search(self.id))
        )

    @property
    def searchable(self) -> bool:
        """Whether POST /people/search can return this field at all."""
        return not self.id.startswith(UNSEARCHABLE_PREFIXES)

    @classmethod
    def from_metadata(cls, raw: Any) -> HibobField | None:
        """Parse one metadata entry; None for entries without a usable id."""
        if not isinstance(raw, Mapping):
            return None
        field_id = raw.get("id")
        if not isinstance(field_id, str) or not field_id.strip("."):
            return None
        json_path = raw.get("jsonPath")
        if not isinstance(json_path, str) or not json_path.strip("."):
            # Without a jsonPath, HiBob's rule for root fields still places the value.
            json_path = field_id.removeprefix("root.")
        path = tuple(part for part in json_path.split(".") if part)
        category_id = str(raw.get("categoryId") or raw.get("category") or "")
        type_data = raw.get("typeData")
        list_id = type_data.get("listId") if isinstance(type_data, Mapping) else None
        return cls(
            id=field_id,
            name=str(raw.get("name") or field_id),
            type=str(raw.get("type") or ""),
            category_id=category_id,
            category_name=str(raw.get("categoryDisplayName") or category_id),
            path=path,
            historical=bool(raw.get("historical")),
            list_id=str(list_id) if list_id is not None else None,
        )


def parse_fields(metadata: Any) -> list[HibobField]:
    """Fields of the metadata answer that people search can read, in HiBob's order.

    A path used twice keeps its first field, and nothing may take the place of the
    `humanReadable` object at the top level.
    """
    fields: list[HibobField] = []
    seen: set[tuple[str, ...]] = set()
    for raw in metadata if isinstance(metadata, list) else []:
        parsed = HibobField.from_metadata(raw)
        if parsed is None or not parsed.searchable or parsed.path in seen:
            continue
        if parsed.path[0] == HUMAN_READABLE_KEY:
            continue
        seen.add(parsed.path)
        fields.append(parsed)
    return fields


@dataclass
class _Node:
    schema: dict[str, Any] | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(entries: Iterable[tuple[tuple[str, ...], dict[str, Any]]]) -> _Node:
    root = _Node()
    for path, schema in entries:
        node = root
        for key in path:
            node = node.children.setdefault(key, _Node())
        node.schema = schema
    return root


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _render(node: _Node) -> dict[str, Any]:
    """A node's schema. A field with fields below it (`payroll.salary.payment` and
    `payroll.salary.payment.currency`) becomes an object holding both."""
    if not node.children:
        return node.schema if node.schema is not None else dict(PERMISSIVE)
    children = {key: _render(child) for key, child in node.children.items()}
    if node.schema is None:
        return {"type": ["object", "null"], "properties": children}
    merged = copy.deepcopy(node.schema)
    types = _types(merged)
    if types and "object" not in types:
        # A scalar field with sub-fields (e.g. a currency in humanReadable REPLACE form):
        # either shape may come back, so allow both.
        merged["type"] = [*(t for t in types if t != "null"), "object", "null"]
        merged.pop("format", None)
    merged["properties"] = {**merged.get("properties", {}), **children}
    return merged


def _description(f: HibobField) -> str:
    return f"{f.name} (HiBob field {f.id}, type {f.type or 'unknown'}, category {f.category_name})"


def employee_schema(fields: Iterable[HibobField], *, human_readable: str) -> dict[str, Any]:
    """The `employees` stream schema: nested by jsonPath, typed by HiBob type.

    `human_readable` is the tap setting: "append" adds a `humanReadable` object mirroring
    the fields with string leaves; "replace" makes every field a string.
    """
    fields = list(fields)
    machine: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for f in fields:
        schema = json_schema_for_type(f.type, human_readable=human_readable)
        schema["description"] = _description(f)
        machine.append((f.path, schema))
    properties = _render(_tree(machine)).get("properties", {})
    # The primary key: HiBob's employee id, always a string.
    properties["id"] = {"type": "string", "description": "HiBob employee id (root.id)"}
    if human_readable == "append":
        labels = _render(_tree((f.path, dict(_STRING)) for f in fields))
        properties[HUMAN_READABLE_KEY] = {
            "type": ["object", "null"],
            "description": "HiBob's display values (list labels, formatted dates) by field",
            "properties": labels.get("properties", {}),
        }
    return {"type": "object", "properties": properties}


# Tables ------------------------------------------------------------------------------------

_DATE: dict[str, Any] = {"type": ["string", "null"], "format": "date"}
#: Columns every built-in table row carries, whatever the table (not in HiBob's column list).
TABLE_BOOKKEEPING: dict[str, dict[str, Any]] = {
    "employeeId": {
        "type": "string",
        "description": "HiBob employee ID (a 19-digit string). Part of the primary key.",
    },
    "id": {
        "type": "integer",
        "description": "Table entry ID, unique only within one employee's table. Part of the "
        "primary key.",
    },
    "effectiveDate": {**_DATE, "description": "Date the entry takes effect (zone-less)."},
    "endEffectiveDate": {
        **_DATE,
        "description": "Last day the entry was in effect; null for the latest entry.",
    },
    "activeEffectiveDate": dict(_DATE),
    "isCurrent": {
        "type": ["boolean", "null"],
        "description": "True for the entry in effect today; future entries are false until "
        "their date.",
    },
    "canBeDeleted": {"type": ["boolean", "null"]},
    "creationDate": dict(_DATE),
    "modificationDate": dict(_DATE),
    "change": {
        "type": ["object", "null"],
        "description": "Who made the last change to this entry, and why.",
        "properties": {
            "changedBy": _STRING,
            "changedById": _STRING,
            "reason": _STRING,
        },
    },
}
HUMAN_READABLE_ROW: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "HiBob's display values of the row, when HiBob sends them (left out when "
    "human_readable is off).",
}


class ColumnLike(Protocol):
    """What the table builders need of a column (metadata.Column)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def custom(self) -> bool: ...


def column_schema(column: ColumnLike) -> dict[str, Any]:
    """One table column, typed by the same mapping as employee fields."""
    schema = json_schema_for_type(column.type)
    schema["description"] = (
        f"{column.name} (HiBob {'custom ' if column.custom else ''}column {column.id}, type "
        f"{column.type or 'unknown'})"
    )
    return schema


def table_schema(
    columns: Iterable[ColumnLike] | None, *, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A built-in table's row schema: the bookkeeping (or the bundled schema it extends),
    every metadata column typed, and custom columns inside `customColumns` as HiBob sends
    them. `columns` None: HiBob's metadata could not be read, so `customColumns` stays a
    free-form object."""
    properties: dict[str, Any] = copy.deepcopy(
        dict(base["properties"]) if base is not None else TABLE_BOOKKEEPING
    )
    custom_columns: dict[str, Any] = {
        "type": ["object", "null"],
        "description": "The table's custom columns, by column id.",
    }
    if columns is not None:
        custom: dict[str, Any] = {}
        for column in columns:
            if column.custom:
                custom[column.id] = column_schema(column)
            elif column.id not in TABLE_BOOKKEEPING:
                properties[column.id] = column_schema(column)
        custom_columns["properties"] = custom
    properties["customColumns"] = custom_columns
    properties.setdefault(HUMAN_READABLE_KEY, copy.deepcopy(HUMAN_READABLE_ROW))
    return {"type": "object", "required": ["employeeId", "id"], "properties": properties}


def custom_table_schema(columns: Iterable[ColumnLike]) -> dict[str, Any]:
    """A custom table's row schema: its columns sit at the top level of each row."""
    properties: dict[str, Any] = {
        "employeeId": copy.deepcopy(TABLE_BOOKKEEPING["employeeId"]),
        "id": copy.deepcopy(TABLE_BOOKKEEPING["id"]),
    }
    for column in columns:
        if column.id not in properties:
            properties[column.id] = column_schema(column)
    properties[HUMAN_READABLE_KEY] = copy.deepcopy(HUMAN_READABLE_ROW)
    return {"type": "object", "required": ["employeeId", "id"], "properties": properties}


def fields_schema(
    fields: Iterable[HibobField], base: Mapping[str, Any], prefix: str
) -> dict[str, Any]:
    """A table described by employee fields of one prefix (`actualPayment.`): each field's
    last path segment becomes a column, typed by the same mapping."""
    properties: dict[str, Any] = copy.deepcopy(dict(base["properties"]))
    for f in fields:
        if f.id.startswith(prefix) and f.id.count(".") == 1:
            schema = json_schema_for_type(f.type)
            schema["description"] = _description(f)
            properties[f.id.removeprefix(prefix)] = schema
    return {**copy.deepcopy(dict(base)), "properties": properties}
