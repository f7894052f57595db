"""The `employees` stream against the fake HiBob: discovery, what is requested, and how
HiBob's answers become records. Syncs run in-process; the CLI where its output is the point.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from fake_hibob import FakeHibob, Tenant
from fake_hibob.people import CUSTOM_CATEGORY, CUSTOM_TYPES, field_specs, ids_of
from fake_hibob.profiles import BASIC, SEED, Profile
from fake_hibob.server import Request
from tap_hibob.errors import HibobNoAccessError
from tests.helpers import (
    VOLATILE_FIELDS,
    assert_conforms,
    assert_unique,
    crumb,
    default_employee_fields,
    discover,
    entry,
    request_counts,
    run_tap,
    searches,
    select,
    select_property,
    sync,
    tap_config,
    transform_replies,
    value_at,
)

ACCESS_SCOPE = "Lifecycle status: Hired, Employed, Terminated"
IDENTIFICATION_VIEW = "People > Identification > View selected employees' Identification sections"
IDENTIFICATION_EDIT = "People > Identification > Edit selected employees' Identification sections"


def employees_only(fake: FakeHibob, **config: Any) -> dict[str, Any]:
    return select(discover(tap_config(fake, **config)), ["employees"])


def requested(fake: FakeHibob) -> set[str]:
    """Field ids the batch reads asked for (the first search only lists ids)."""
    return {f for r in searches(fake)[1:] for f in r.body["fields"]}


# Discovery -----------------------------------------------------------------------------


def test_discover_lists_custom_fields_with_their_types(tmp_path: Path) -> None:
    with FakeHibob(Tenant.generate(3, custom_fields=len(CUSTOM_TYPES))) as fake:
        run = run_tap(tmp_path, tap_config(fake), "--discover")
        assert run.returncode == 0, run.stderr[-3000:]
        catalog = json.loads(run.stdout)
        assert catalog == discover(tap_config(fake))  # the CLI prints the in-process catalog
        customs = [s for s in field_specs(fake.tenant) if "field_" in s.id]
    employees = entry(catalog, "employees")
    props = employees["schema"]["properties"]
    expected_types = {
        "text": ["string", "null"],
        "number": ["number", "null"],
        "list": ["string", "null"],
        "date": ["string", "null"],
        "multi-list": ["array", "null"],
        "boolean": ["boolean", "null"],
        "currency": ["object", "null"],
        "employee-reference": ["string", "null"],
        "time": ["string", "null"],
        "text-area": ["string", "null"],
        "hierarchy-list": ["string", "null"],
    }
    permissive = ["object", "array", "string", "number", "boolean", "null"]
    assert len(customs) == len(CUSTOM_TYPES)
    for spec in customs:
        node: dict[str, Any] = {"properties": props}
        for key in spec.path:
            node = node["properties"][key]
        assert node["type"] == expected_types.get(spec.type, permissive), spec
        assert spec.id in node["description"]
    assert props[CUSTOM_CATEGORY]["type"] == ["object", "null"]
    assert employees["key_properties"] == ["id"]
    # One metadata entry per nested field, so each can be deselected; SSN and fields that
    # change daily (images, age and tenure counters) are off by default.
    breadcrumbs = {tuple(m["breadcrumb"]): m["metadata"] for m in employees["metadata"]}
    for spec in customs:
        assert tuple(crumb(spec.json_path)) in breadcrumbs
    searchable = [s for s in field_specs(fake.tenant) if not s.id.startswith("actualPayment.")]
    off = {
        s.id
        for s in searchable
        if breadcrumbs[tuple(crumb(s.json_path))].get("selected-by-default") is False
    }
    assert off == {"identification.ssn", *VOLATILE_FIELDS}
    human = tuple(crumb(["humanReadable", "personal", "age"]))
    assert breadcrumbs[human]["selected-by-default"] is False  # its label too


# Sync: permission profiles ------------------------------------------------------------


def test_everything_profile_emits_every_employee_with_every_field() -> None:
    with FakeHibob(Tenant.generate(25, custom_fields=6)) as fake:
        catalog = employees_only(fake)
        fake.log.clear()
        run = sync(tap_config(fake), catalog)
        expected = default_employee_fields(fake)
        everyone = ids_of(fake)
        terminated = {e.id for e in fake.tenant.employees if e.lifecycle == "terminated"}
        requests = request_counts(fake.log)
        fields = requested(fake)
    records = assert_conforms(run, "employees")
    assert_unique(records, ("id",))
    assert [r["id"] for r in records] == everyone
    assert terminated and terminated <= {r["id"] for r in records}
    for record in records:
        missing = [fid for fid, path in expected.items() if not value_at(record, path)[0]]
        assert not missing, (record["id"], missing)
        assert "identification" not in record  # SSN is the only field there; opt-in
        assert not [key for key in record if key.startswith("/")]
    assert not fields & VOLATILE_FIELDS
    assert run.warnings == []  # nothing left out, nothing stale, nothing undeclared
    # The metadata reads, 1 id listing, 1 batch of 25.
    assert requests == {
        "GET /v1/company/people/fields": 1,
        "GET /v1/company/people/employee-tables/metadata": 1,
        "GET /v1/people/custom-tables/metadata": 1,
        "POST /v1/people/search": 2,
    }


def test_seed_profile_warns_once_per_category_it_cannot_see() -> None:
    with FakeHibob(profile="seed") as fake:
        catalog = select_property(employees_only(fake), "employees", "identification.ssn", True)
        run = sync(tap_config(fake), catalog)
        fields = requested(fake)
    left_out = [w for w in run.warnings if "left out" in w]
    about = "People > About > View selected employees' About sections"
    custom = "People > Equipment > View selected employees' Equipment sections"
    assert len(left_out) == 2, left_out
    assert sum(about in w for w in left_out) == 1
    assert sum(custom in w and "'Equipment' category" in w for w in left_out) == 1
    records = assert_conforms(run, "employees")
    assert all("about" not in r and "personal" in r for r in records)
    # Without the edit permission HiBob masks SSNs: said once, with the permission to add.
    assert "identification.ssn" in fields
    [masked] = [w for w in run.warnings if "obscured" in w]
    assert IDENTIFICATION_EDIT in masked


def test_no_personal_profile_names_the_missing_permissions() -> None:
    with FakeHibob(profile="no_personal") as fake:
        catalog = select_property(employees_only(fake), "employees", "identification.ssn", True)
        run = sync(tap_config(fake), catalog)
    left_out = "\n".join(w for w in run.warnings if "left out" in w)
    assert "People > Personal > View selected employees' Personal sections" in left_out
    assert IDENTIFICATION_VIEW in left_out
    assert "identification.ssn" in left_out
    # A hidden SSN needs both Identification permissions (view, and edit to unmask).
    [ssn] = [w for w in run.warnings if "left out identification.ssn" in w]
    assert IDENTIFICATION_VIEW in ssn and IDENTIFICATION_EDIT in ssn
    assert "People > Work >" not in left_out
    records = assert_conforms(run, "employees")
    assert all("personal" not in r and "identification" not in r for r in records)


def test_no_visible_employees_stops_the_run_naming_basic_info() -> None:
    """HiBob lists nobody (no Basic info): the run stops before any other data request,
    so no full-table stream can empty a loader's table."""
    no_basic = Profile("no_basic", SEED - {BASIC})
    with FakeHibob(profile=no_basic) as fake:
        catalog = discover(tap_config(fake))
        fake.log.clear()
        run = sync(tap_config(fake), catalog, check=False)
        requests = request_counts(fake.log)
    assert run.returncode == 1 and isinstance(run.error, HibobNoAccessError)
    [line] = run.said("lists no employees", level="ERROR")
    assert BASIC in line and ACCESS_SCOPE in line
    assert run.of("RECORD") == []
    assert requests["POST /v1/people/search"] == 1
    assert not [r for r in requests if "/bulk/" in r or "/timeoff/" in r or "/tasks" in r]


def test_service_user_in_no_group_stops_at_the_first_403(tmp_path: Path) -> None:
    with FakeHibob(profile="none") as fake:
        catalog = discover(tap_config(fake))  # metadata needs no permission
        fake.log.clear()
        run = run_tap(tmp_path, tap_config(fake), catalog=catalog)
        denied = fake.requests_to(status=403)
        data = [r for r in fake.log if "metadata" not in r.path and "fields" not in r.path]
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = [line for line in run.errors if "(403)" in line]
    assert "probably in no permission group" in line and BASIC in line
    assert [r.path for r in denied] == ["/v1/people/search"]  # one 403, never retried
    assert len(data) == 1  # nothing else was asked
    assert run.of("RECORD") == []


# Sync: what is requested ---------------------------------------------------------------


def test_deselected_fields_are_never_requested(fake: FakeHibob) -> None:
    catalog = employees_only(fake)
    custom = next(s for s in field_specs(fake.tenant) if s.id.startswith("work.custom."))
    select_property(catalog, "employees", "work.department", False)
    select_property(catalog, "employees", "payroll", False)  # a whole category object
    select_property(catalog, "employees", custom.json_path, False)
    fake.log.clear()
    run = sync(tap_config(fake, include_inactive=False), catalog)
    active = ids_of(fake, include_inactive=False)
    reads = searches(fake)[1:]  # after the id listing
    assert reads
    for request in reads:
        fields = set(request.body["fields"])
        assert "work.department" not in fields and custom.id not in fields
        assert not [f for f in fields if f.startswith("payroll.")]
        assert "identification.ssn" not in fields  # not selected by default
        assert not fields & VOLATILE_FIELDS  # nor are fields that change every day
        assert "work.title" in fields and "root.id" in fields
    records = assert_conforms(run, "employees")
    for record in records:
        assert "department" not in record["work"] and "payroll" not in record
        assert custom.path[-1] not in record["work"].get("custom", {})
    # include_inactive=false: HiBob's showInactive=false, so terminated people stay out.
    assert {r.body["showInactive"] for r in searches(fake)} == {False}
    assert [r["id"] for r in records] == active


def test_volatile_fields_are_read_when_selected(fake: FakeHibob) -> None:
    catalog = select_property(employees_only(fake), "employees", "work.tenureDuration", True)
    run = sync(tap_config(fake), catalog)
    assert "work.tenureDuration" in requested(fake)
    assert "personal.age" not in requested(fake)
    records = assert_conforms(run, "employees")
    assert any(r["work"].get("tenureDuration") for r in records)


def test_a_catalog_field_hibob_no_longer_has_warns_once() -> None:
    with FakeHibob() as fake:
        catalog = employees_only(fake)
        gone = next(s for s in field_specs(fake.tenant) if s.id.startswith("work.custom."))
    # work.reportsTo.email also goes; its path stays a property of work.reportsTo's
    # `employee` type, so it is no stale field.
    with FakeHibob(options={"drop_fields": [gone.id, "work.reportsTo.email"]}) as fake:
        run = sync(tap_config(fake), catalog)
        fields = requested(fake)
        everyone = ids_of(fake)
    assert gone.id not in fields
    [stale] = [w for w in run.warnings if "no longer in HiBob's field metadata" in w]
    assert gone.json_path in stale
    assert "1 selected catalog field(s)" in stale
    assert "reportsTo" not in stale
    assert [r["id"] for r in run.records("employees")] == everyone


# Sync: how answers become records ---------------------------------------------------------


def test_values_come_out_nested_typed_and_without_slash_keys() -> None:
    # work.site and root.email come only as slash keys here: their values must survive.
    options = {"slash_only_fields": ["work.site", "root.email"]}
    with FakeHibob(options=options) as fake:
        run = sync(tap_config(fake, human_readable="off"), employees_only(fake))
        people = {e.id: e for e in fake.tenant.employees}
    records = assert_conforms(run, "employees")
    assert_unique(records, ("id",))
    for record in records:
        person = people[record["id"]]
        assert not [key for key in record if key.startswith("/")]
        assert record["work"]["site"] == person.site
        assert record["email"] == person.email
        assert isinstance(record["id"], str) and len(record["id"]) == 19
        assert record["work"]["siteId"] == str(person.site_id)  # HiBob sends a number
        assert record["work"]["startDate"] == person.start_date.isoformat()
        assert record["creationDateTime"].endswith("Z")
        assert all(isinstance(h, str) for h in record["about"]["hobbies"] or [])
        assert isinstance(record["payroll"]["employment"]["fte"], float)
        assert "humanReadable" not in record
    assert {r["internal"]["status"] for r in records} == {"Active", "Inactive"}
    assert run.warnings == []


def test_slash_keys_fill_nested_nulls_and_unknown_ones_are_dropped(fake: FakeHibob) -> None:
    """HiBob sends a field twice, nested and as `/category/field`; where the nested form
    says null the slash key's value counts, and a slash key of no known field is left out."""

    def reshape(request: Request, payload: Any) -> Any:
        for employee in payload.get("employees", []):
            if "work" in employee and "/work/site" in employee:
                employee["work"]["site"] = None
            employee["/no/longer/known"] = {"value": 1}
        return payload

    transform_replies(fake, reshape, only=lambda r: r.path == "/v1/people/search")
    run = sync(tap_config(fake, human_readable="off"), employees_only(fake))
    people = {e.id: e for e in fake.tenant.employees}
    records = assert_conforms(run, "employees")
    assert all(r["work"]["site"] == people[r["id"]].site for r in records)
    assert "no" not in json.dumps([sorted(r) for r in records])
    assert run.warnings == []


def test_human_readable_append_and_replace(fake: FakeHibob) -> None:
    off = employees_only(fake, human_readable="off")
    append = employees_only(fake)
    replace = employees_only(fake, human_readable="replace")
    assert "humanReadable" not in entry(off, "employees")["schema"]["properties"]
    assert "humanReadable" in entry(append, "employees")["schema"]["properties"]
    fake.log.clear()
    appended = sync(tap_config(fake), append)
    append_bodies = [r.body for r in searches(fake)[1:]]
    fake.log.clear()
    replaced = sync(tap_config(fake, human_readable="replace"), replace)
    replace_bodies = [r.body for r in searches(fake)[1:]]
    assert {b["humanReadable"] for b in append_bodies} == {"APPEND"}
    assert {b["humanReadable"] for b in replace_bodies} == {"REPLACE"}
    for record in assert_conforms(appended, "employees"):
        human = record["humanReadable"]
        year, month, day = record["work"]["startDate"].split("-")
        assert human["work"]["startDate"] == f"{day}/{month}/{year}"
        assert record["work"]["department"].isdigit()
        assert not human["work"]["department"].isdigit()
    for record in assert_conforms(replaced, "employees"):
        assert record["work"]["startDate"].count("/") == 2
        assert not record["work"]["department"].isdigit()
        assert record["work"]["isManager"] in ("Yes", "No")
        assert "humanReadable" not in record


def test_employees_and_employee_fields_share_one_metadata_read(fake: FakeHibob) -> None:
    catalog = select(discover(tap_config(fake)), ["employees", "employee_fields", "named_lists"])
    fake.log.clear()
    run = sync(tap_config(fake), catalog)
    requests = Counter(r.path for r in fake.log)
    assert requests["/v1/company/people/fields"] == 1
    assert requests["/v1/company/named-lists"] == 1
    assert run.records("employees") and run.records("employee_fields")
