"""Odd but valid data: nothing crashes, nothing is dropped silently.

Unicode everywhere, nulls in every value, an empty tenant, a service user who sees nobody, a
field renamed or re-created between discovery and sync. Each sync selects every stream the
fake serves and runs in-process (the CLI once, for an ASCII-only terminal); the fake's
answers are rewritten where HiBob may send what the stock fake does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob, Profile, Tenant
from fake_hibob.people import field_specs
from fake_hibob.profiles import EVERYTHING
from fake_hibob.server import Request
from tap_hibob.errors import HibobNoAccessError
from tests.helpers import (
    Run,
    discover,
    keyed,
    quick_config,
    run_tap,
    select,
    select_all,
    sync,
    transform_replies,
)

FIELDS_PATH = "/v1/company/people/fields"
# Primary-key columns of every stream: a null there is not valid data, so they are kept.
KEYS = {"id", "employeeId", "requestId", "changeType", "name", "listName", "policyType"}


def assert_ok(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert not run.errors


def sync_all(fake: FakeHibob, **config: Any) -> tuple[dict[str, Any], Run]:
    catalog = select_all(discover(quick_config(fake, **config)))
    return catalog, sync(quick_config(fake, **config), catalog)


# Unicode --------------------------------------------------------------------------------------

ODD_NAMES = [
    ("Zoë 👩🏽‍💻", "Nguyễn-李"),  # emoji with skin tone and ZWJ, Vietnamese, CJK
    ("مريم", "עברית"),  # right-to-left scripts
    ("Ame\u0301lie", 'O\'Brien "Jr" \\ Esq.'),  # combining accent, quotes, backslash
    ("Line\nBreak", "Tab\tSurname"),  # control characters JSON must escape
    ("\u200bZero", "Width\ufeff"),  # zero-width space and BOM inside a value
]


def test_unicode_names_arrive_exactly(tmp_path: Path) -> None:
    tenant = Tenant.generate(12, seed=3)
    for employee, (first, last) in zip(tenant.employees, ODD_NAMES, strict=False):
        employee.first_name, employee.surname = first, last
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        _, run = sync_all(fake)
        # Harsh: an ASCII-only stdout/stderr would crash any writer that is not escaping.
        again = run_tap(tmp_path, quick_config(fake), env={"PYTHONIOENCODING": "ascii"})
    assert_ok(run)
    assert_ok(again)
    # Singer output is UTF-8 JSON whatever the locale (the ASCII-only run is compared below).
    names = {(r.get("firstName"), r.get("surname")) for r in run.records("employees")}
    for pair in ODD_NAMES:
        assert pair in names, pair
    people = [
        person
        for task in run.records("tasks")
        for person in (task.get("requestedFor"), task.get("owner"))
        if person
    ]
    odd = {first for first, _ in ODD_NAMES}
    assert {p["firstName"] for p in people} & odd  # nested copies survive too
    assert again.records("employees") == run.records("employees")


# Nulls ----------------------------------------------------------------------------------------


def null_values(value: Any) -> Any:
    """Every value in every object becomes null, except primary keys and page cursors.

    Scalars inside lists (id lists, policy type names) stay: they are not values of a record.
    """
    if isinstance(value, list):
        return [null_values(item) for item in value]
    if isinstance(value, dict):
        return {
            k: v
            if k in KEYS or k in ("next_cursor", "response_metadata")
            else null_values(v)
            if isinstance(v, list | dict)
            else None
            for k, v in value.items()
        }
    return value


def test_nulls_everywhere_drop_no_record() -> None:
    tenant = Tenant.generate(15, seed=4)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog, clean = sync_all(fake)
    assert_ok(clean)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        transform_replies(
            fake, lambda _, payload: null_values(payload), only=lambda r: r.path != FIELDS_PATH
        )
        run = sync(quick_config(fake), catalog)
    assert_ok(run)
    expected, _ = keyed(clean)
    got, duplicates = keyed(run)
    assert not duplicates
    for stream, records in expected.items():
        assert got.get(stream, {}).keys() == records.keys(), stream
    employees = run.records("employees")
    assert employees and all(e.get("firstName") is None for e in employees)


@pytest.mark.parametrize(
    ("stream", "key"),
    [
        ("tasks", "tasks"),
        ("whos_out", "outs"),
    ],
)
def test_null_instead_of_a_list_fails_the_stream_clearly(stream: str, key: str) -> None:
    """`{"tasks": null}` is not "no tasks": read as an empty full-table sync, it would let
    ACTIVATE_VERSION delete every row downstream. The stream fails with one clear line
    naming the key, the others sync, and nothing is activated."""

    def null_list(_: Request, payload: Any) -> Any:
        return {**payload, key: None} if isinstance(payload, dict) else payload

    with FakeHibob(Tenant.generate(8, seed=5), window_seconds=1.0) as fake:
        config = quick_config(fake, emit_activate_version_messages=True)
        catalog = select(discover(config), [stream, "named_lists"])
        transform_replies(fake, null_list)
        run = sync(config, catalog, check=False)
    assert "Traceback" not in run.stderr
    assert run.returncode == 1
    assert run.records(stream) == []
    line, summary = run.said(f"'{key}'", level="ERROR")  # when it failed, and the summary
    assert "unexpected" not in line
    assert f"  - {stream}: " in summary
    assert run.records("named_lists")
    assert [m["stream"] for m in run.of("ACTIVATE_VERSION")] == ["named_lists"]


# Nobody there ---------------------------------------------------------------------------------


def test_empty_tenant_stops_the_run_before_any_stream() -> None:
    """Nobody to read: the run stops after the id listing (a full-table stream must not
    empty a loader's table) and says why; the company-level streams still run alone."""
    with FakeHibob(Tenant.generate(0), window_seconds=1.0) as fake:
        catalog = select_all(discover(quick_config(fake)))
        run = sync(quick_config(fake), catalog, check=False)
        company = sync(quick_config(fake), select(catalog, ["employee_fields", "named_lists"]))
    assert run.returncode == 1 and isinstance(run.error, HibobNoAccessError)
    assert run.said("HiBob lists no employees", level="ERROR")
    assert not run.of("RECORD") and not run.of("SCHEMA")
    assert company.records("employee_fields")  # the company's fields exist without people


def test_service_user_who_sees_nobody() -> None:
    """A permission group whose access scope matches no one: people search returns 0
    employees. The run stops, and the user is told where to look."""
    nobody = Profile("nobody", EVERYTHING, lifecycle_statuses=frozenset())
    with FakeHibob(Tenant.generate(10, seed=6), profile=nobody, window_seconds=1.0) as fake:
        catalog = select_all(discover(quick_config(fake)))
        run = sync(quick_config(fake), catalog, check=False)
    assert run.returncode == 1
    assert run.records("employees") == []
    [line] = run.said("Whose data can members access?", level="ERROR")
    assert "Hired, Employed, Terminated" in line


# A field changed between discovery and sync ---------------------------------------------------


@pytest.fixture
def custom_field() -> tuple[Tenant, str, tuple[str, ...]]:
    tenant = Tenant.generate(10, seed=7, custom_fields=3)
    spec = next(s for s in field_specs(tenant) if ".custom." in s.id)
    return tenant, spec.id, spec.path


def _value_at(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        record = (record or {}).get(key)  # type: ignore[assignment]
    return record


def test_field_renamed_in_hibob_keeps_its_data(
    custom_field: tuple[Tenant, str, tuple[str, ...]],
) -> None:
    """HiBob field ids are stable: renaming a field changes only its display name."""
    tenant, field_id, path = custom_field
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog, before = sync_all(fake)

        def rename(_: Request, fields: Any) -> Any:
            for field in fields:
                if field.get("id") == field_id:
                    field["name"] = "Renamed by an admin ✎"
            return fields

        transform_replies(fake, rename, only=lambda r: r.path == FIELDS_PATH)
        after = sync(quick_config(fake), catalog)
    assert_ok(after)
    assert after.records("employees") == before.records("employees")
    assert any(_value_at(r, path) is not None for r in after.records("employees"))
    assert not after.said(field_id)


def test_field_recreated_under_a_new_id_is_reported_both_ways(
    custom_field: tuple[Tenant, str, tuple[str, ...]],
) -> None:
    """An admin deleted a field and created it again: the catalog's id is gone and a new id
    exists the catalog does not know. Both must be named; the rest of the record is intact."""
    tenant, field_id, _ = custom_field
    new_id = field_id.rsplit(".", 1)[0] + ".field_1799999999999"
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog, before = sync_all(fake)
        fake.options["drop_fields"] = [field_id]

        def recreate(_: Request, fields: Any) -> Any:
            old = next(f for f in field_specs(tenant) if f.id == field_id).metadata()
            return [*fields, {**old, "id": new_id, "jsonPath": new_id}]

        transform_replies(fake, recreate, only=lambda r: r.path == FIELDS_PATH)
        after = sync(quick_config(fake), catalog)
    assert_ok(after)
    said = after.warnings
    assert [w for w in said if field_id in w and "--discover" in w], said
    assert [w for w in said if new_id in w], f"the new field {new_id} was not named: {said}"
    drop = field_id.split(".")

    def without_field(record: dict[str, Any]) -> dict[tuple[str, ...], Any]:
        # Compare leaves: an object left empty by the strip and an absent one are the same.
        return _leaves(_strip(_strip(record, drop), ["humanReadable", *drop]))

    kept_before = [without_field(r) for r in before.records("employees")]
    assert [without_field(r) for r in after.records("employees")] == kept_before


def _leaves(node: dict[str, Any], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(_leaves(value, (*path, key)))
        else:
            out[(*path, key)] = value
    return out


def _strip(record: dict[str, Any], path: list[str]) -> dict[str, Any]:
    record = json.loads(json.dumps(record))
    node = record
    for key in path[:-1]:
        node = node.get(key) or {}
    node.pop(path[-1], None)
    return record
