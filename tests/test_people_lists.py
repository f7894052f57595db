"""`named_lists` and `employee_fields`: every shape HiBob answers in, each item exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from fake_hibob import FakeHibob, Tenant
from fake_hibob.people import field_specs, named_lists
from fake_hibob.server import Request
from tap_hibob.company import list_items
from tests.helpers import (
    assert_conforms,
    assert_unique,
    discover,
    select,
    sync,
    tap_config,
    transform_replies,
)


def sync_only(fake: FakeHibob, stream: str) -> Any:
    return sync(tap_config(fake), select(discover(tap_config(fake)), [stream]))


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
def test_named_lists_emit_each_item_once_in_every_shape(shape: str, items_key: str) -> None:
    options = {"named_lists_shape": shape, "named_lists_items_key": items_key}
    with FakeHibob(options=options) as fake:
        run = sync_only(fake, "named_lists")
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


def test_employee_fields_one_record_per_metadata_field() -> None:
    with FakeHibob(Tenant.generate(3, custom_fields=5)) as fake:
        run = sync_only(fake, "employee_fields")
        specs = field_specs(fake.tenant)
        metadata_reads = fake.requests_to("/v1/company/people/fields")
    records = assert_conforms(run, "employee_fields")
    assert_unique(records, ("id",))
    assert [r["id"] for r in records] == [s.id for s in specs]
    by_id = {r["id"]: r for r in records}
    assert by_id["work.department"]["typeData"] == {"listId": "department"}
    assert by_id["root.id"]["jsonPath"] == "id"
    assert by_id["home.privateEmail"]["categoryDisplayName"] == "Personal contact details"
    # Discovery read the metadata once; the sync once more (no request of its own).
    assert len(metadata_reads) == 2


# Shapes the stock fake does not produce ----------------------------------------------------


def named_lists_answering(fake: FakeHibob, payload: Any) -> list[dict[str, Any]]:
    """The named_lists records when HiBob answers `payload`."""

    def answer(request: Request, _: Any) -> Any:
        return payload

    transform_replies(fake, answer, only=lambda r: r.path == "/v1/company/named-lists")
    return sync_only(fake, "named_lists").records("named_lists")


def test_object_entries_that_are_bare_item_arrays(fake: FakeHibob) -> None:
    payload = {"department": [{"id": 209192163, "value": "Finance", "name": "Finance"}]}
    [record] = named_lists_answering(fake, payload)
    assert record == {
        "listName": "department",
        "id": "209192163",  # ids as strings, numeric or not
        "value": "Finance",
        "name": "Finance",
        "archived": False,
        "parentId": None,
    }


def test_junk_is_skipped_without_failing(fake: FakeHibob) -> None:
    payload = [
        "junk",
        {"items": [{"id": "1"}]},  # no list name
        {"name": "pronouns", "values": [{"value": "no id"}, {"id": "He / Him"}, 7]},
    ]
    records = named_lists_answering(fake, payload)
    assert [(r["listName"], r["id"]) for r in records] == [("pronouns", "He / Him")]


@pytest.mark.parametrize("payload", [None, "not json we know"])
def test_an_answer_of_no_known_shape_fails_the_stream(fake: FakeHibob, payload: Any) -> None:
    transform_replies(fake, lambda *_: payload, only=lambda r: r.path == "/v1/company/named-lists")
    config = tap_config(fake, emit_activate_version_messages=True)
    run = sync(config, select(discover(config), ["named_lists"]), check=False)
    assert run.returncode == 1
    assert not run.of("ACTIVATE_VERSION")


def test_list_items_flatten_hierarchies_children_after_their_parent() -> None:
    items = [
        {"id": 1, "value": "EMEA", "children": [{"id": "11", "name": "London", "archived": True}]},
        {"id": 2, "value": "AMER", "children": []},
    ]
    assert [(r["id"], r["parentId"], r["archived"]) for r in list_items("site", items)] == [
        ("1", None, False),
        ("11", "1", True),
        ("2", None, False),
    ]
