"""`named_lists` and `employee_fields`: every shape HiBob answers in, each item exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob, Tenant
from fake_hibob.people import field_specs, named_lists
from tap_hibob.people import _named_lists, list_items
from tests.test_people import assert_conforms, assert_unique, discover, only, sync


def expected_items(fake: FakeHibob) -> set[tuple[str, str, str | None, bool]]:
    """(listName, id, parentId, archived) of every item the fake holds, archived included."""
    out: set[tuple[str, str, str | None, bool]] = set()

    def walk(name: str, items: list[dict[str, Any]], parent: str | None) -> None:
        for item in items:
            out.add((name, item["id"], parent, item["archived"]))
            walk(name, item["children"], item["id"])

    for name, items in named_lists(fake.tenant).items():
        walk(name, items, None)
    return out


@pytest.mark.parametrize(
    ("shape", "items_key"),
    [("array", "both"), ("array", "values"), ("object", "items"), ("object", "both")],
)
def test_named_lists_emit_each_item_once_in_every_shape(
    tmp_path: Path, shape: str, items_key: str
) -> None:
    options = {"named_lists_shape": shape, "named_lists_items_key": items_key}
    with FakeHibob(options=options) as fake:
        run = sync(tmp_path, fake, only(discover(fake), "named_lists"))
        [request] = fake.requests_to("/v1/company/named-lists")
        expected = expected_items(fake)
    assert request.query == {"includeArchived": ["true"]}
    records = assert_conforms(run, "named_lists")
    assert_unique(records, ("listName", "id"))
    got = {(r["listName"], r["id"], r["parentId"], r["archived"]) for r in records}
    assert got == expected
    assert any(archived for *_, archived in got)  # archived items are kept
    assert any(parent for _, _, parent, _ in got)  # hierarchy flattened with parents
    # Ids repeat across lists ("1" is Mr and Single): only (listName, id) is unique.
    assert len({r["id"] for r in records}) < len(records)


def test_employee_fields_one_record_per_metadata_field(tmp_path: Path) -> None:
    with FakeHibob(Tenant.generate(3, custom_fields=5)) as fake:
        run = sync(tmp_path, fake, only(discover(fake), "employee_fields"))
        specs = field_specs(fake.tenant)
        metadata_reads = fake.requests_to("/v1/company/people/fields")
    records = assert_conforms(run, "employee_fields")
    assert_unique(records, ("id",))
    assert [r["id"] for r in records] == [s.id for s in specs]
    by_id = {r["id"]: r for r in records}
    assert by_id["work.department"]["typeData"] == {"listId": "department"}
    assert by_id["root.id"]["jsonPath"] == "id"
    assert by_id["home.privateEmail"]["categoryDisplayName"] == "Personal contact details"
    # Discovery in this test process read the metadata once; the sync once more, shared.
    assert len(metadata_reads) == 2


def test_employees_and_employee_fields_share_one_metadata_read(tmp_path: Path) -> None:
    with FakeHibob() as fake:
        catalog = only(discover(fake), "employees", "employee_fields", "named_lists")
        fake.log.clear()
        run = sync(tmp_path, fake, catalog)
        endpoints = [r.endpoint for r in fake.log]
    assert endpoints.count("fields_metadata") == 1
    assert endpoints.count("named_lists") == 1
    assert run.records("employees") and run.records("employee_fields")


# The parser on its own: shapes the fake does not produce ---------------------------------


def test_parser_reads_object_entries_that_are_bare_item_arrays() -> None:
    payload = {"department": [{"id": 209192163, "value": "Finance", "name": "Finance"}]}
    [(name, items)] = list(_named_lists(payload))
    assert name == "department"
    [record] = list(list_items(name, items))
    assert record == {
        "listName": "department",
        "id": "209192163",  # ids as strings, numeric or not
        "value": "Finance",
        "name": "Finance",
        "archived": False,
        "parentId": None,
    }


def test_parser_skips_junk_without_failing() -> None:
    payload = [
        "junk",
        {"items": [{"id": "1"}]},  # no list name
        {"name": "pronouns", "values": [{"value": "no id"}, {"id": "He / Him"}, 7]},
    ]
    lists = list(_named_lists(payload))
    assert [name for name, _ in lists] == ["pronouns"]
    assert [r["id"] for r in list_items(*lists[0])] == ["He / Him"]
    assert list(_named_lists("not json we know")) == []
