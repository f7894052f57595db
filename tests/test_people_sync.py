"""`employees` syncs: what is requested, and how HiBob's answers become records."""

from __future__ import annotations

from pathlib import Path

from fake_hibob import FakeHibob
from fake_hibob.people import field_specs, ids_of
from tests.test_people import (
    assert_conforms,
    assert_unique,
    discover,
    entry,
    only,
    searches,
    select,
    sync,
    warnings,
)


def test_deselected_fields_are_never_requested(tmp_path: Path) -> None:
    with FakeHibob() as fake:
        catalog = only(discover(fake), "employees")
        custom = next(s for s in field_specs(fake.tenant) if s.id.startswith("work.custom."))
        select(catalog, "employees", "work.department", False)
        select(catalog, "employees", "payroll", False)  # a whole category object
        select(catalog, "employees", custom.json_path, False)
        fake.log.clear()
        run = sync(tmp_path, fake, catalog, include_inactive=False)
        requests = searches(fake)
        active = ids_of(fake, include_inactive=False)
    reads = requests[1:]  # after the id listing
    assert reads
    for request in reads:
        fields = set(request.body["fields"])
        assert "work.department" not in fields and custom.id not in fields
        assert not [f for f in fields if f.startswith("payroll.")]
        assert "identification.ssn" not in fields  # not selected by default
        assert "work.title" in fields and "root.id" in fields
    records = assert_conforms(run, "employees")
    for record in records:
        assert "department" not in record["work"] and "payroll" not in record
        assert custom.path[-1] not in record["work"].get("custom", {})
    # include_inactive=false: HiBob's showInactive=false, so terminated people stay out.
    assert {r.body["showInactive"] for r in requests} == {False}
    assert [r["id"] for r in records] == active


def test_a_catalog_field_hibob_no_longer_has_warns_once(tmp_path: Path) -> None:
    with FakeHibob() as fake:
        catalog = only(discover(fake), "employees")
        gone = next(s for s in field_specs(fake.tenant) if s.id.startswith("work.custom."))
    with FakeHibob(options={"drop_fields": [gone.id]}) as fake:
        run = sync(tmp_path, fake, catalog)
        requested = {f for r in searches(fake)[1:] for f in r.body["fields"]}
        everyone = ids_of(fake)
    assert gone.id not in requested
    stale = [w for w in warnings(run) if "no longer in HiBob's field metadata" in w]
    assert len(stale) == 1 and gone.json_path in stale[0]
    assert [r["id"] for r in run.records("employees")] == everyone


def test_values_come_out_nested_typed_and_without_slash_keys(tmp_path: Path) -> None:
    # work.site and root.email come only as slash keys here: their values must survive.
    options = {"slash_only_fields": ["work.site", "root.email"]}
    with FakeHibob(options=options) as fake:
        catalog = only(discover(fake), "employees")
        run = sync(tmp_path, fake, catalog, human_readable="off")
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


def test_human_readable_append_and_replace(tmp_path: Path) -> None:
    with FakeHibob() as fake:
        off = only(discover(fake, human_readable="off"), "employees")
        append = only(discover(fake), "employees")
        replace = only(discover(fake, human_readable="replace"), "employees")
        assert "humanReadable" not in entry(off, "employees")["schema"]["properties"]
        assert "humanReadable" in entry(append, "employees")["schema"]["properties"]
        fake.log.clear()
        appended = sync(tmp_path, fake, append)
        append_bodies = [r.body for r in searches(fake)[1:]]
        fake.log.clear()
        replaced = sync(tmp_path, fake, replace, human_readable="replace")
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
