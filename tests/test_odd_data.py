"""Odd but valid data: nothing crashes, nothing is dropped silently.

Unicode everywhere, nulls in every value, an empty tenant, a service user who sees nobody, a
field renamed or re-created between discovery and sync. Each sync selects every stream and
runs the real CLI against the fake; the fake's answers are rewritten in-process where HiBob
may send what the stock fake does not.
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
from tests.conftest import CliRun, run_tap
from tests.test_faults import config_for, discover, keyed, select, transform_replies

FIELDS_PATH = "/v1/company/people/fields"
# Primary-key columns of every stream: a null there is not valid data, so they are kept.
KEYS = {"id", "employeeId", "requestId", "changeType", "name", "listName", "policyType"}


def warnings(run: CliRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "| WARNING " in line]


def assert_ok(run: CliRun) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert not [line for line in run.stderr.splitlines() if "| ERROR " in line]


def sync_all(tmp_path: Path, fake: FakeHibob, **config: Any) -> tuple[dict[str, Any], CliRun]:
    catalog = select(discover(tmp_path, config_for(fake, **config)))
    return catalog, run_tap(tmp_path, config_for(fake, **config), catalog=catalog)


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
        _, run = sync_all(tmp_path, fake)
        # Harsh: an ASCII-only stdout/stderr would crash any writer that is not escaping.
        again = run_tap(tmp_path, config_for(fake), env={"PYTHONIOENCODING": "ascii"})
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


def test_nulls_everywhere_drop_no_record(tmp_path: Path) -> None:
    tenant = Tenant.generate(15, seed=4)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog, clean = sync_all(tmp_path, fake)
    assert_ok(clean)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        transform_replies(
            fake, lambda _, payload: null_values(payload), only=lambda r: r.path != FIELDS_PATH
        )
        run = run_tap(tmp_path, config_for(fake), catalog=catalog)
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
def test_null_instead_of_a_list_is_handled(stream: str, key: str, tmp_path: Path) -> None:
    """`{"tasks": null}`: either no records with a warning, or one clear error line. Never a
    crash, and never silently nothing (with ACTIVATE_VERSION an empty full-table sync makes
    the loader delete every row)."""

    def null_list(_: Request, payload: Any) -> Any:
        return {**payload, key: None} if isinstance(payload, dict) else payload

    with FakeHibob(Tenant.generate(8, seed=5), window_seconds=1.0) as fake:
        catalog = select(discover(tmp_path, config_for(fake)), lambda name: name == stream)
        transform_replies(fake, null_list)
        run = run_tap(tmp_path, config_for(fake), catalog=catalog)
    assert "Traceback" not in run.stderr
    assert run.records(stream) == []
    if run.returncode == 0:
        assert [w for w in warnings(run) if stream in w], run.stderr[-2000:]
    else:
        errors = [line for line in run.stderr.splitlines() if "| ERROR " in line]
        ours = [e for e in errors if "An unhandled error occurred" not in e]
        assert ours and all("unexpected" not in e for e in ours), errors
        assert [e for e in ours if f"'{key}'" in e], errors


# Nobody there ---------------------------------------------------------------------------------


def test_empty_tenant(tmp_path: Path) -> None:
    with FakeHibob(Tenant.generate(0), window_seconds=1.0) as fake:
        _, run = sync_all(tmp_path, fake)
    assert_ok(run)
    assert run.records("employees") == []
    assert run.records("employee_fields")  # the company's fields exist without people
    assert run.states and "bookmarks" in run.states[-1]
    assert any("HiBob returned no employees" in line for line in warnings(run))


def test_service_user_who_sees_nobody(tmp_path: Path) -> None:
    """A permission group whose access scope matches no one: people search returns 0
    employees. Not an error, but the user must be told where to look."""
    nobody = Profile("nobody", EVERYTHING, lifecycle_statuses=frozenset())
    with FakeHibob(Tenant.generate(10, seed=6), profile=nobody, window_seconds=1.0) as fake:
        _, run = sync_all(tmp_path, fake)
    assert_ok(run)
    assert run.records("employees") == []
    assert any("Whose data can members access?" in line for line in warnings(run)), warnings(run)


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
    tmp_path: Path, custom_field: tuple[Tenant, str, tuple[str, ...]]
) -> None:
    """HiBob field ids are stable: renaming a field changes only its display name."""
    tenant, field_id, path = custom_field
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog, before = sync_all(tmp_path, fake)

        def rename(_: Request, fields: Any) -> Any:
            for field in fields:
                if field.get("id") == field_id:
                    field["name"] = "Renamed by an admin ✎"
            return fields

        transform_replies(fake, rename, only=lambda r: r.path == FIELDS_PATH)
        after = run_tap(tmp_path, config_for(fake), catalog=catalog)
    assert_ok(after)
    assert after.records("employees") == before.records("employees")
    assert any(_value_at(r, path) is not None for r in after.records("employees"))
    assert not [w for w in warnings(after) if field_id in w]


def test_field_recreated_under_a_new_id_is_reported_both_ways(
    tmp_path: Path, custom_field: tuple[Tenant, str, tuple[str, ...]]
) -> None:
    """An admin deleted a field and created it again: the catalog's id is gone and a new id
    exists the catalog does not know. Both must be named; the rest of the record is intact."""
    tenant, field_id, _ = custom_field
    new_id = field_id.rsplit(".", 1)[0] + ".field_1799999999999"
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog, before = sync_all(tmp_path, fake)
        fake.options["drop_fields"] = [field_id]

        def recreate(_: Request, fields: Any) -> Any:
            old = next(f for f in field_specs(tenant) if f.id == field_id).metadata()
            return [*fields, {**old, "id": new_id, "jsonPath": new_id}]

        transform_replies(fake, recreate, only=lambda r: r.path == FIELDS_PATH)
        after = run_tap(tmp_path, config_for(fake), catalog=catalog)
    assert_ok(after)
    said = warnings(after)
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
