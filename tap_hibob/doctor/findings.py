"""Pure functions that read HiBob answers: hidden categories, table rows, current-rows-only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from tap_hibob import endpoints
from tap_hibob.doctor.model import SAMPLE_SIZE, CategoryGap, Person
from tap_hibob.field_types import HibobField
from tap_hibob.people import field_value
from tap_hibob.tables import rows_of

# Pure helpers ------------------------------------------------------------------------------


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
            CategoryGap(cid, name, requested[(cid, name)], count, endpoints.for_category(cid, name))
            for (cid, name), count in missing.items()
        ),
        key=lambda gap: gap.category.lower(),
    )


def table_rows(payload: Any) -> tuple[dict[str, list[dict[str, Any]]], set[str], int]:
    """Rows per employee, restricted column names and the count of inaccessible employees
    (read with the tap's own parser, tables.rows_of)."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    restricted: set[str] = set()
    body = payload if isinstance(payload, Mapping) else {}
    results = body.get("results")
    if isinstance(results, list):
        for owner, row, hidden in rows_of({"results": results}):
            rows[str(owner)].append(row)
            restricted |= _restricted(hidden)
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
