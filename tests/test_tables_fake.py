"""The fake's bulk table endpoints are no friendlier than HiBob."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, Tenant
from fake_hibob.tables import SECTIONS, expected_rows, table_entries


@pytest.fixture
def api() -> Iterator[tuple[FakeHibob, requests.Session]]:
    with FakeHibob(employees=60) as fake:
        session = requests.Session()
        session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
        yield fake, session


def get(api: tuple[FakeHibob, requests.Session], table: str, **params: Any) -> requests.Response:
    fake, session = api
    return session.get(f"{fake.url}/v1/bulk/people/{table}", params=params, timeout=10)


# The fake ---------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "2.5"])
def test_limit_outside_1_to_200_is_a_400(api: Any, limit: str) -> None:
    assert get(api, "work", limit=limit).status_code == 400


def test_default_limit_is_50_rows_and_splits_employees(api: Any) -> None:
    payload = get(api, "work").json()
    rows = [
        row for result in payload["results"] for item in result["values"] for row in item["values"]
    ]
    assert len(rows) == 50
    assert payload["response_metadata"]["next_cursor"]


def test_unknown_tables_answer_the_web_apps_html(api: Any) -> None:
    for table in ("entitlements", "training", "salary"):
        response = get(api, table)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/html")


def test_cursor_must_be_url_encoded_and_used_with_the_same_parameters(api: Any) -> None:
    fake, session = api
    cursor = get(api, "work", limit=10).json()["response_metadata"]["next_cursor"]
    assert {"+", "/", "="} <= set(cursor)
    assert get(api, "work", limit=10, cursor=cursor).status_code == 200
    raw = session.get(f"{fake.url}/v1/bulk/people/work?limit=10&cursor={cursor}", timeout=10)
    assert raw.status_code == 400  # '+' arrives as a space
    assert get(api, "work", limit=20, cursor=cursor).status_code == 400
    assert get(api, "employment", limit=10, cursor=cursor).status_code == 400
    assert get(api, "work", limit=10, cursor="bm90IGEgY3Vyc29y").status_code == 400


def test_last_page_has_a_null_cursor(api: Any) -> None:
    fake, _ = api
    total = len(expected_rows(fake, "lifecycle"))
    payload = get(api, "lifecycle", limit=200).json()
    assert total < 200
    assert payload["response_metadata"]["next_cursor"] is None
    assert sum(len(i["values"]) for r in payload["results"] for i in r["values"]) == total


def test_employee_ids_are_capped_and_unknown_ones_reported(api: Any) -> None:
    fake, _ = api
    ids = [e.id for e in fake.visible_employees()][:3]
    assert get(api, "work", employeeIds=",".join(["1"] * 201)).status_code == 400
    payload = get(api, "work", employeeIds=",".join([*ids, "123"])).json()
    assert {r["employeeId"] for r in payload["results"]} == set(ids)
    assert [e["employeeId"] for e in payload["errors"]] == ["123"]
    # The address table ignores employeeIds: the whole tenant comes back.
    address = get(api, "address", employeeIds=ids[0], limit=200).json()
    assert len({r["employeeId"] for r in address["results"]}) == len(fake.visible_employees())
    assert address["errors"] == []


def test_permissions_decide_403_current_rows_or_history() -> None:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    with FakeHibob(employees=40, profile="seed_minus_payroll") as fake:
        for table in ("salaries", "variable", "equities"):
            assert session.get(f"{fake.url}/v1/bulk/people/{table}", timeout=10).status_code == 403
    with FakeHibob(employees=40, profile="sections_only") as fake:
        current = expected_rows(fake, "work")
        assert all(e.current for e in current)
        assert len(current) == len({e.employee_id for e in current})
    with FakeHibob(employees=40, profile="active_only") as fake:
        visible = {e.id for e in fake.visible_employees()}
        assert {e.employee_id for e in expected_rows(fake, "lifecycle")} == visible
        assert all(e.row["status"] != "terminated" for e in expected_rows(fake, "lifecycle"))


def test_restricted_columns_are_nulled_named_and_flagged() -> None:
    restricted = {"salaries": {"no_view_permission": ["base"], "no_view_history_permission": []}}
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    with FakeHibob(employees=10, options={"tables_restricted": restricted}) as fake:
        response = session.get(f"{fake.url}/v1/bulk/people/salaries", timeout=10)
        plain = session.get(f"{fake.url}/v1/bulk/people/work", timeout=10)
    assert response.headers["X-Has-Restricted-Columns"] == "true"
    assert "X-Has-Restricted-Columns" not in plain.headers
    wrapper = response.json()["results"][0]["values"][0]
    assert wrapper["restricted_columns"]["no_view_permission"] == ["base"]
    assert all(row["base"] is None for row in wrapper["values"])


def test_generated_rows_look_like_hibobs() -> None:
    tenant = Tenant.generate(200)
    for table in SECTIONS:
        entries = table_entries(tenant, table)
        per_employee: dict[str, int] = {}
        for entry in entries:
            per_employee[entry.employee_id] = per_employee.get(entry.employee_id, 0) + 1
        assert min(per_employee.values()) >= 1 and max(per_employee.values()) <= 4, table
        ids = [e.row["id"] for e in entries]
        assert len(set(ids)) < len(ids), f"{table}: entry ids must repeat across employees"
        currents = [e for e in entries if e.current]
        assert len(currents) <= len(per_employee)
    work = table_entries(tenant, "work")
    assert any(
        e.row["isCurrent"] is False and e.row["effectiveDate"] > tenant.now.date().isoformat()
        for e in work
    )
    employment = table_entries(tenant, "employment")
    assert any(isinstance(e.row["fte"], int) for e in employment)
    assert any(isinstance(e.row["fte"], float) for e in employment)


def test_twenty_thousand_employees_are_served_from_one_cached_list() -> None:
    with FakeHibob(Tenant.generate(20000)) as fake:
        session = requests.Session()
        session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
        url = f"{fake.url}/v1/bulk/people/work"
        cursor = None
        for _ in range(5):
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = session.get(url, params=params, timeout=30).json()
            cursor = page["response_metadata"]["next_cursor"]
        generated = fake.tenant.data["tables"]
        served = fake.tenant.data["tables_visible"]
    # Generated once, filtered once; every page is a slice of the same list.
    assert list(generated) == ["work"] and len(served) == 1
    assert len(generated["work"]) > 20000
    assert cursor
