"""Pure functions that read HiBob answers: hidden categories, table rows, current-rows-only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tap_hibob import permissions
from tap_hibob.doctor.model import SAMPLE_SIZE, CategoryGap, Person
from tap_hibob.field_types import HibobField
from tap_hibob.permissions import STREAM_ACCESS

# Pure helpers ------------------------------------------------------------------------------


def field_value(employee: Mapping[str, Any], field: HibobField) -> tuple[bool, Any]:
    """(present, value) of one field in a people-search record, nested or slash form.

    Present-but-null counts as present: HiBob omits only fields the user may not see.
    """
    node: Any = employee
    for part in field.path:
        if not isinstance(node, Mapping) or part not in node:
            break
        node = node[part]
    else:
        return True, node
    if field.slash_key in employee:
        value = employee[field.slash_key]
        return True, value.get("value") if isinstance(value, Mapping) else value
    return False, None


def hidden_categories(
    fields: Sequence[HibobField], employees: Sequence[Mapping[str, Any]]
) -> list[CategoryGap]:
    """Requested fields that no returned employee carries, grouped by HiBob category."""
    requested: dict[tuple[str, str], int] = defaultdict(int)
    missing: dict[tuple[str, str], int] = defaultdict(int)
    for f in fields:
        key = (f.category_id, f.category_name)
        requested[key] += 1
        if not any(field_value(employee, f)[0] for employee in employees):
            missing[key] += 1
    return sorted(
        (
            CategoryGap(
                cid, name, requested[(cid, name)], count, permissions.for_category(cid, name)
            )
            for (cid, name), count in missing.items()
        ),
        key=lambda gap: gap.category.lower(),
    )


def table_rows(payload: Any) -> tuple[dict[str, list[dict[str, Any]]], set[str], int]:
    """Rows per employee, restricted column names and the count of inaccessible employees.

    Accepts both shapes HiBob sends: bare rows, and {values: [rows], restricted_columns}.
    """
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    restricted: set[str] = set()
    body = payload if isinstance(payload, Mapping) else {}
    for result in body.get("results") or []:
        if not isinstance(result, Mapping):
            continue
        employee = str(result.get("employeeId", ""))
        values = result.get("values")
        items = values if isinstance(values, list) else [values] if values else []
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("values"), list):
                rows[employee].extend(r for r in item["values"] if isinstance(r, dict))
                restricted |= _restricted(item.get("restricted_columns"))
            elif isinstance(item, dict):
                rows[employee].append(item)
        restricted |= _restricted(result.get("restricted_columns"))
    restricted |= _restricted(body.get("restricted_columns"))
    errors = body.get("errors")
    return dict(rows), restricted, len(errors) if isinstance(errors, list) else 0


def _restricted(value: Any) -> set[str]:
    if not isinstance(value, Mapping):
        return set()
    return {
        str(column) for columns in value.values() if isinstance(columns, list) for column in columns
    }


def current_rows_only(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    people: Mapping[str, Person],
    *,
    lifecycle: bool = False,
) -> str | None:
    """Why a table looks cut to current rows ("sections" without "section histories").

    Any employee with two rows proves history is visible. Otherwise a single row that starts
    after the employee's start date, or a terminated employee with one lifecycle row (hired
    and terminated are two), shows that earlier rows exist but are withheld.
    """
    if not rows or any(len(employee_rows) > 1 for employee_rows in rows.values()):
        return None
    for employee, employee_rows in rows.items():
        person = people.get(employee)
        if person is None or not employee_rows:
            continue
        effective = str(employee_rows[0].get("effectiveDate") or "")[:10]
        if person.start and effective and effective > person.start[:10]:
            return (
                "no sampled employee has more than one row, and some rows start after the "
                "start date"
            )
        if lifecycle and person.terminated:
            return "a terminated employee has a single lifecycle row, without the hiring"
    return None


def choose_sample(people: Sequence[Person], size: int = SAMPLE_SIZE) -> list[Person]:
    """Employees most likely to show history: two leavers, then the longest-serving others.

    Leavers prove lifecycle history; long tenure makes work, employment and salary changes
    likely; and active employees are needed to check balances.
    """

    def tenure(person: Person) -> tuple[bool, str]:
        return (person.start is None, person.start or "")

    leavers = sorted((p for p in people if p.terminated), key=tenure)
    others = sorted((p for p in people if not p.terminated), key=tenure)
    chosen: dict[str, Person] = {}
    for person in [*leavers[:2], *others, *leavers[2:]]:
        chosen.setdefault(person.id, person)
        if len(chosen) == size:
            break
    return list(chosen.values())


def bulk_path(stream: str) -> str:
    return STREAM_ACCESS[stream].endpoint.split(" ", 1)[1].removeprefix("/v1")


def table_groups() -> list[list[str]]:
    """Bulk-table streams grouped by permission: one probe answers for the whole group."""
    groups: dict[str, list[str]] = {}
    for name, access in STREAM_ACCESS.items():
        if access.endpoint.startswith("GET /v1/bulk/people/"):
            groups.setdefault(access.permission, []).append(name)
    return list(groups.values())


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
