"""The fake HiBob's people routes behave like HiBob (quirks included), and list_employee_ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, Tenant
from fake_hibob.people import CUSTOM_CATEGORY, ids_of
from tap_hibob import endpoints
from tap_hibob.client import HibobClient
from tap_hibob.errors import HibobAPIError, HibobPermissionError
from tap_hibob.people import list_employee_ids
from tests.helpers import HIBOB_FIELD_TYPES, hibob_client


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeHibob]:
    # Shared by many tests within one rate-limit window: rate limits are not tested here.
    with FakeHibob(limits={"people_search": 10_000, "named_lists": 10_000}) as server:
        yield server


@pytest.fixture
def fake(_server: FakeHibob) -> FakeHibob:
    """One default fake for the module (read-only tests), its request log cleared."""
    _server.log.clear()
    return _server


def client_for(fake: FakeHibob) -> HibobClient:
    return hibob_client(fake, max_retries=0)


def search(fake: FakeHibob, body: dict[str, Any]) -> list[dict[str, Any]]:
    payload = client_for(fake).post(endpoints.PEOPLE_SEARCH, body).payload
    return list(payload["employees"])


def fields(fake: FakeHibob) -> list[dict[str, Any]]:
    return list(client_for(fake).get(endpoints.FIELDS).payload)


# list_employee_ids --------------------------------------------------------------------


def test_list_employee_ids_is_one_request_without_filters(fake: FakeHibob) -> None:
    ids = list_employee_ids(client_for(fake), include_inactive=True, stream="employees")
    assert ids == ids_of(fake)
    assert all(isinstance(i, str) and len(i) == 19 for i in ids)
    [request] = fake.requests_to("/v1/people/search")
    assert request.body == {"fields": ["root.id"], "showInactive": True}
    assert "filters" not in request.body


def test_list_employee_ids_respects_include_inactive(fake: FakeHibob) -> None:
    active = list_employee_ids(client_for(fake), include_inactive=False, stream="employees")
    everyone = list_employee_ids(client_for(fake), include_inactive=True, stream="employees")
    terminated = {e.id for e in fake.tenant.employees if e.lifecycle == "terminated"}
    assert terminated, "the tenant should hold terminated employees"
    assert set(active) == set(everyone) - terminated
    assert fake.requests_to("/v1/people/search")[0].body["showInactive"] is False


def test_list_employee_ids_403_names_the_stream() -> None:
    with FakeHibob(profile="none") as fake, pytest.raises(HibobPermissionError) as caught:
        list_employee_ids(client_for(fake), include_inactive=True, stream="time_off_balances")
    assert "'time_off_balances'" in str(caught.value)
    assert len(fake.log) == 1


# Fields metadata ----------------------------------------------------------------------


def test_fields_metadata_is_a_bare_array_covering_every_type() -> None:
    with FakeHibob(Tenant.generate(5, custom_fields=13), profile="none") as fake:
        meta = fields(fake)  # needs no permission
    assert isinstance(meta, list)
    types = {f["type"] for f in meta}
    assert types >= HIBOB_FIELD_TYPES
    assert types - HIBOB_FIELD_TYPES, "a type unknown to the tap should be present too"
    by_id = {f["id"]: f for f in meta}
    assert by_id["root.id"]["jsonPath"] == "id"
    assert by_id["home.privateEmail"]["categoryId"] == "personalContact"
    assert by_id["internal.status"]["categoryId"] == "lifecycle"
    custom = [f for f in meta if f["categoryId"] == CUSTOM_CATEGORY]
    assert custom and all(f["jsonPath"].startswith(CUSTOM_CATEGORY + ".") for f in custom)
    assert any(f["id"].startswith("work.custom.field_") for f in meta)


def test_a_tenant_can_have_more_than_400_fields() -> None:
    with FakeHibob(Tenant.generate(2, custom_fields=400)) as fake:
        assert len(fields(fake)) > 400


# People search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"filters": []},
        {"filters": {}},
        {"filters": [{"fieldPath": "root.id", "operator": "equals", "values": []}]},
        {"filters": [{"fieldPath": "work.department", "operator": "equals", "values": ["1"]}]},
        {"filters": [{"fieldPath": "root.id", "operator": "contains", "values": ["1"]}]},
        {
            "filters": [
                {"fieldPath": "root.id", "operator": "equals", "values": ["1"]},
                {"fieldPath": "root.email", "operator": "equals", "values": ["a@b.c"]},
            ]
        },
        {"fields": [f"work.custom.field_{i}" for i in range(401)]},
        {"humanReadable": "append"},
    ],
)
def test_search_rejects_what_hibob_rejects(fake: FakeHibob, body: dict[str, Any]) -> None:
    with pytest.raises(HibobAPIError, match="400"):
        search(fake, body)


def test_search_shows_nested_and_slash_keys_and_omits_unknown_fields(fake: FakeHibob) -> None:
    employees = search(
        fake,
        {
            "fields": ["root.id", "work.department", "internal.terminationDate", "no.suchField"],
            "showInactive": True,
        },
    )
    assert len(employees) == len(ids_of(fake))
    for e in employees:
        assert e["/root/id"] == {"value": e["id"]}
        assert e["/work/department"] == {"value": e["work"]["department"]}
        assert "terminationDate" in e["internal"]  # nested objects show nulls ...
        if e["internal"]["terminationDate"] is None:
            assert "/internal/terminationDate" not in e  # ... slash keys do not
        assert "no" not in e and "/no/suchField" not in e


def test_search_defaults_to_active_employees_only(fake: FakeHibob) -> None:
    employees = search(fake, {"fields": ["root.id"]})
    assert {e["id"] for e in employees} == set(ids_of(fake, include_inactive=False))


def test_search_by_id_filter_returns_exactly_those(fake: FakeHibob) -> None:
    wanted = ids_of(fake)[3:7]
    body = {
        "fields": ["root.id"],
        "showInactive": True,
        "filters": [{"fieldPath": "root.id", "operator": "equals", "values": wanted}],
    }
    assert [e["id"] for e in search(fake, body)] == wanted


def test_unpermitted_categories_are_silently_omitted() -> None:
    with FakeHibob(profile="no_personal") as fake:
        employees = search(
            fake,
            {"fields": ["root.id", "personal.birthDate", "identification.ssn", "work.title"]},
        )
    assert employees
    for e in employees:
        assert "personal" not in e and "identification" not in e
        assert "/personal/birthDate" not in e
        assert "title" in e["work"]


def test_ssn_is_obscured_without_the_identification_edit_permission() -> None:
    body = {"fields": ["root.id", "identification.ssn"], "showInactive": True}
    with FakeHibob(profile="seed") as fake:
        obscured = search(fake, body)
    with FakeHibob(profile="all") as fake:
        clear = search(fake, body)
    with FakeHibob(profile="seed", options={"ssn_without_edit": "omit"}) as fake:
        omitted = search(fake, body)
    assert all(e["identification"]["ssn"].startswith("***-**-") for e in obscured)
    assert all("*" not in e["identification"]["ssn"] for e in clear)
    assert all("identification" not in e for e in omitted)


def test_custom_categories_need_their_own_permission() -> None:
    with FakeHibob(profile="seed") as fake:
        meta = fields(fake)
        custom = next(f["id"] for f in meta if f["categoryId"] == CUSTOM_CATEGORY)
        seed = search(fake, {"fields": ["root.id", custom]})
    with FakeHibob(profile="all") as fake:
        everything = search(fake, {"fields": ["root.id", custom]})
    assert all(CUSTOM_CATEGORY not in e for e in seed)
    assert all(CUSTOM_CATEGORY in e for e in everything)


def test_human_readable_append_and_replace(fake: FakeHibob) -> None:
    wanted = ["root.id", "work.department", "work.startDate", "work.isManager"]
    [append] = search(fake, {"fields": wanted, "humanReadable": "APPEND"})[:1]
    [replace] = search(fake, {"fields": wanted, "humanReadable": "REPLACE"})[:1]
    year, month, day = append["work"]["startDate"].split("-")
    assert append["humanReadable"]["work"]["startDate"] == f"{day}/{month}/{year}"
    assert append["work"]["department"].isdigit()
    assert not append["humanReadable"]["work"]["department"].isdigit()
    assert append["humanReadable"]["work"]["isManager"] in ("Yes", "No")
    assert replace["work"] == append["humanReadable"]["work"]
    assert "humanReadable" not in replace
    assert replace["id"] == append["id"]


def test_slash_only_fields_come_only_as_slash_keys() -> None:
    with FakeHibob(options={"slash_only_fields": ["work.site"]}) as fake:
        employees = search(fake, {"fields": ["root.id", "work.site"]})
    assert all("site" not in e.get("work", {}) and e["/work/site"]["value"] for e in employees)


def test_search_403_for_a_service_user_in_no_group() -> None:
    with FakeHibob(profile="none") as fake, pytest.raises(HibobPermissionError):
        search(fake, {"fields": ["root.id"]})


def test_lifecycle_scope_limits_who_is_returned() -> None:
    with FakeHibob(profile="active_only") as fake:
        employees = search(fake, {"fields": ["root.id"], "showInactive": True})
        terminated = {e.id for e in fake.tenant.employees if e.lifecycle == "terminated"}
    assert employees and not {e["id"] for e in employees} & terminated


# Named lists --------------------------------------------------------------------------


def named(fake: FakeHibob, archived: bool = True) -> Any:
    params = {"includeArchived": "true" if archived else "false"}
    return client_for(fake).get(endpoints.NAMED_LISTS, params=params).payload


def test_named_lists_array_shape_with_items_twice(fake: FakeHibob) -> None:
    payload = named(fake)
    assert isinstance(payload, list)
    department = next(x for x in payload if x["name"] == "department")
    assert department["values"] == department["items"]


def test_named_lists_object_shape_and_single_key() -> None:
    options = {"named_lists_shape": "object", "named_lists_items_key": "items"}
    with FakeHibob(options=options) as fake:
        payload = named(fake)
    assert isinstance(payload, dict)
    assert "items" in payload["department"] and "values" not in payload["department"]


def test_named_lists_hide_archived_items_unless_asked(fake: FakeHibob) -> None:
    def archived_ids(payload: list[dict]) -> set[str]:
        found: set[str] = set()

        def walk(items: list[dict]) -> None:
            for item in items:
                if item["archived"]:
                    found.add(item["id"])
                walk(item["children"])

        for lst in payload:
            walk(lst["values"])
        return found

    assert archived_ids(named(fake, archived=True))
    assert not archived_ids(named(fake, archived=False))


def test_named_lists_nest_and_repeat_ids_across_lists(fake: FakeHibob) -> None:
    payload = {x["name"]: x["values"] for x in named(fake)}
    tree = payload["employer_workLocation_tree_entity_list"]
    assert any(item["children"] for item in tree)
    assert {i["id"] for i in payload["honorific"]} & {i["id"] for i in payload["familystatus"]}
    assert any(i["id"] == i["value"] for i in payload["pronouns"])


# Batch limit and volatile fields (plain requests) -----------------------------------------


def _post_search(fake: FakeHibob, body: dict[str, Any]) -> requests.Response:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    return session.post(f"{fake.url}/v1/people/search", json=body, timeout=10)


def _by_ids(ids: list[str], fields: list[str] | None = None) -> dict[str, Any]:
    return {
        "fields": fields or ["root.id"],
        "showInactive": True,
        "filters": [{"fieldPath": "root.id", "operator": "equals", "values": ids}],
    }


def test_max_filter_values_refuses_larger_batches() -> None:
    with FakeHibob(employees=30, options={"max_filter_values": 10}) as fake:
        ids = ids_of(fake)
        at_cap = _post_search(fake, _by_ids(ids[:10]))
        over = _post_search(fake, _by_ids(ids[:11]))
        fake.options.max_filter_values = None
        uncapped = _post_search(fake, _by_ids(ids))
    assert at_cap.status_code == 200 and len(at_cap.json()["employees"]) == 10
    assert over.status_code == 400
    assert over.json()["key"] == "people.search.filter.too.many.values"
    assert uncapped.status_code == 200 and len(uncapped.json()["employees"]) == len(ids)


VOLATILE = [
    "root.coverImageUrl",
    "peopleAnalytics.lowRetentionRiskIndicator",
    "peopleAnalytics.riskCounter",
    "peopleAnalytics.lastCalculated",
]


def _volatile_values(day: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with FakeHibob(Tenant.generate(40, now=day)) as fake:
        meta = fields(fake)
        employees = _post_search(fake, _by_ids(ids_of(fake), VOLATILE)).json()["employees"]
    return meta, employees


def test_volatile_fields_change_from_one_day_to_the_next() -> None:
    today = datetime(2026, 3, 9, 12, tzinfo=UTC)
    meta, first = _volatile_values(today)
    _, same_day = _volatile_values(today.replace(hour=18))
    _, next_day = _volatile_values(today + timedelta(days=1))
    by_id = {f["id"]: f for f in meta}
    assert by_id["root.coverImageUrl"]["type"] == "avatar"
    assert by_id["root.coverImageUrl"]["jsonPath"] == "coverImageUrl"
    analytics = [f for f in meta if f["categoryId"] == "peopleAnalytics"]
    assert {f["categoryDisplayName"] for f in analytics} == {"People Analytics"}
    assert {f["type"] for f in analytics} >= {"list", "number"}
    assert first == same_day  # deterministic within a day
    assert all(e["coverImageUrl"].startswith("https://") for e in first)
    assert [e["coverImageUrl"] for e in first] != [e["coverImageUrl"] for e in next_day]
    counters = [e["peopleAnalytics"]["riskCounter"] for e in first]
    assert counters != [e["peopleAnalytics"]["riskCounter"] for e in next_day]
    assert {e["peopleAnalytics"]["lastCalculated"] for e in next_day} == {"2026-03-10"}
    risks = {e["peopleAnalytics"]["lowRetentionRiskIndicator"] for e in first}
    assert risks <= {"1", "2", "3"} and len(risks) > 1
    # Existing volatile fields stay listed.
    assert {"personal.age", "work.tenureDuration", "work.tenureYears", "root.avatarUrl"} <= set(
        by_id
    )


def test_people_analytics_needs_its_own_permission() -> None:
    field = "peopleAnalytics.riskCounter"
    with FakeHibob(employees=10, profile="seed") as fake:
        seed = _post_search(fake, _by_ids(ids_of(fake), ["root.id", field])).json()
    with FakeHibob(employees=10, profile="all") as fake:
        everything = _post_search(fake, _by_ids(ids_of(fake), ["root.id", field])).json()
    assert all("peopleAnalytics" not in e for e in seed["employees"])
    assert all("riskCounter" in e["peopleAnalytics"] for e in everything["employees"])
