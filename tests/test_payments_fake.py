"""The fake's actual-payments search (docs/development/hibob-api.md, "Actual payments")."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob
from fake_hibob.payments import expected_rows

PATH = "/v1/people/actual-payments/search"
JAN, FEB = "2025-01-01", "2025-02-01"


def pay_date(operator: str, *values: str) -> dict[str, Any]:
    return {"fieldPath": "payDate", "operator": operator, "values": list(values)}


def employee_filter(values: list[str], operator: str = "equals") -> dict[str, Any]:
    return {"fieldPath": "employeeId", "operator": operator, "values": values}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHibob]:
    with FakeHibob(employees=60, limits={"actual_payments": 10_000}) as server:
        yield server


def post(fake: FakeHibob, body: Any) -> requests.Response:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    return session.post(f"{fake.url}{PATH}", json=body, timeout=10)


def by_ids(ids: list[str], *extra: dict[str, Any], **pagination: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filters": [{"fieldPath": "employeeId", "operator": "equals", "values": ids}, *extra]
    }
    if pagination:
        body["pagination"] = pagination
    return body


def search_all(fake: FakeHibob, body: dict[str, Any]) -> list[list[tuple[str, dict]]]:
    pages, cursor = [], None
    while True:
        pagination = {**body.get("pagination", {}), "cursor": cursor}
        response = post(fake, {**body, "pagination": pagination})
        assert response.status_code == 200, response.text
        payload = response.json()
        page = []
        for result in payload["results"]:
            for item in result["values"]:
                for row in item["values"] if "restricted_columns" in item else [item]:
                    page.append((result["employeeId"], row))
        pages.append(page)
        cursor = payload["response_metadata"]["next_cursor"]
        if not cursor:
            return pages


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"filters": []},
        {"filters": [pay_date("range", JAN, FEB)]},  # no employeeId filter
        {"filters": [employee_filter(["1"], "in")]},
        {"filters": [employee_filter([])]},
        {"filters": [employee_filter([str(n) for n in range(201)])]},
        {"filters": [employee_filter(["1"]), employee_filter(["2"])]},
        {"filters": [{"fieldPath": "root.id", "operator": "equals", "values": ["1"]}]},
        by_ids(["1"], pay_date("equals", JAN)),
        by_ids(["1"], pay_date("range", FEB, JAN)),
        by_ids(["1"], pay_date("range", JAN)),
        by_ids(["1"], pay_date("range", "2025-01-01T00:00:00Z", FEB)),
        by_ids(["1"], limit=0),
        by_ids(["1"], limit=201),
        by_ids(["1"], limit="ten"),
    ],
)  # fmt: skip
def test_refuses_what_the_contract_refuses(fake: FakeHibob, body: dict[str, Any]) -> None:
    assert post(fake, body).status_code == 400


def test_200_ids_are_accepted(fake: FakeHibob) -> None:
    ids = [e.id for e in fake.tenant.employees] + [str(n) for n in range(140)]
    assert len(ids) == 200
    assert post(fake, by_ids(ids)).status_code == 200


def test_rows_count_against_the_limit_and_split_employees(fake: FakeHibob) -> None:
    fake.log.clear()
    ids = [e.id for e in fake.visible_employees()][:20]
    pages = search_all(fake, by_ids(ids, limit=25))
    rows = [pair for page in pages for pair in page]
    assert all(len(page) <= 25 for page in pages) and len(pages) > 3
    assert len(rows) == len(expected_rows(fake, ids))
    assert any(a[-1][0] == b[0][0] for a, b in itertools.pairwise(pages))
    assert len({(e, r["id"]) for e, r in rows}) == len(rows)
    per_employee: dict[str, int] = {}
    for employee, row in rows:
        per_employee[employee] = per_employee.get(employee, 0) + 1
        assert set(row) == {"id", "payDate", "payType", "amount", "change", "customColumns"}
        assert set(row["amount"]) == {"value", "currency"}
        assert row["payType"] in {"1", "2", "3", "4"}
    assert max(per_employee.values()) == 24
    assert min(per_employee.values()) < 24
    assert {r.endpoint for r in fake.log} == {"actual_payments"}


def test_pay_date_range_is_inclusive(fake: FakeHibob) -> None:
    ids = [e.id for e in fake.visible_employees()][:10]
    everything = [r for page in search_all(fake, by_ids(ids, limit=200)) for _, r in page]
    day = sorted({r["payDate"] for r in everything})[len(everything) // 20]
    window = {"fieldPath": "payDate", "operator": "range", "values": [day, day]}
    some = [r for page in search_all(fake, by_ids(ids, window, limit=200)) for _, r in page]
    assert some and {r["payDate"] for r in some} == {day}
    assert len(some) == sum(r["payDate"] == day for r in everything)


def test_cursor_is_bound_to_the_filters(fake: FakeHibob) -> None:
    ids = [e.id for e in fake.visible_employees()][:10]
    first = post(fake, by_ids(ids, limit=10)).json()
    cursor = first["response_metadata"]["next_cursor"]
    assert cursor
    assert post(fake, by_ids(ids, limit=10, cursor=cursor)).status_code == 200
    assert post(fake, by_ids(ids[:5], limit=10, cursor=cursor)).status_code == 400
    assert post(fake, by_ids(ids, limit=11, cursor=cursor)).status_code == 400
    assert post(fake, by_ids(ids, limit=10, cursor="bm9wZQ==")).status_code == 400


def test_out_of_scope_employees_are_errors_and_payroll_history_is_needed() -> None:
    with FakeHibob(employees=40, profile="active_only") as fake:
        gone = next(e for e in fake.tenant.employees if e.lifecycle == "terminated").id
        here = fake.visible_employees()[0].id
        payload = post(fake, by_ids([here, gone, "42"])).json()
    assert {r["employeeId"] for r in payload["results"]} <= {here}
    assert [e["employeeId"] for e in payload["errors"]] == [gone, "42"]
    for profile in ("seed_minus_payroll", "sections_only", "none"):
        with FakeHibob(employees=5, profile=profile) as fake:
            assert post(fake, by_ids([fake.tenant.employees[0].id])).status_code == 403, profile


def test_fields_metadata_lists_the_payment_columns_with_matching_types(fake: FakeHibob) -> None:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    fields = session.get(f"{fake.url}/v1/company/people/fields", timeout=10).json()
    payment = {f["id"]: f for f in fields if f["id"].startswith("actualPayment.")}
    assert payment["actualPayment.payDate"]["type"] == "date"
    assert payment["actualPayment.payType"]["type"] == "list"
    assert payment["actualPayment.payType"]["typeData"] == {"listId": "payType"}
    assert payment["actualPayment.amount"]["type"] == "currency"
    lists = session.get(f"{fake.url}/v1/company/named-lists", timeout=10).json()
    pay_types = next(x for x in lists if x["name"] == "payType")
    assert {i["id"] for i in pay_types["values"]} == {"1", "2", "3", "4"}
