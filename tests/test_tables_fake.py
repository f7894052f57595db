"""The fake's bulk table endpoints, table metadata and training are no friendlier than HiBob."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, Profile, Tenant
from fake_hibob.profiles import BASIC, EVERYTHING, view
from fake_hibob.tables import SECTIONS, employee_rows, expected_rows, table_entries


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
    # training is in the metadata but has no bulk route; the near misses of real names too.
    for table in ("training", "salary", "dependent", "right-to-works", "rightToWork"):
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
    for table in ("work", "employment", "lifecycle", "salaries", "variable", "equities"):
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


# Newer tables, metadata and training (plain requests) ---------------------------------------

NEW_TABLES = ("deduction", "entitlement", "dependents", "right-to-work")
BUILT_IN = (
    "work", "employment", "lifecycle", "salaries", "variable", "equities", "deduction",
    "entitlement", "dependents", "right-to-work", "training",
)  # fmt: skip
BOOKKEEPING = {
    "id", "effectiveDate", "endEffectiveDate", "activeEffectiveDate", "isCurrent",
    "canBeDeleted", "creationDate", "modificationDate", "change",
}  # fmt: skip


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeHibob]:
    """One fake for the read-only checks below; tests that change options restore them."""
    limits = {f"bulk_{t}": 10_000 for t in NEW_TABLES} | {
        "table_metadata": 10_000,
        "people_training": 10_000,
        "bulk_work": 10_000,
    }
    with FakeHibob(employees=80, limits=limits) as fake:
        yield fake


def _session() -> requests.Session:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    return session


def _get(fake: FakeHibob, path: str, **params: Any) -> requests.Response:
    return _session().get(f"{fake.url}{path}", params=params, timeout=10)


def walk(fake: FakeHibob, table: str, **params: Any) -> list[list[tuple[str, dict[str, Any]]]]:
    """Every page of a bulk table as (employeeId, row) lists, following the cursor."""
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = _get(fake, f"/v1/bulk/people/{table}", **query)
        assert response.status_code == 200, response.text
        payload = response.json()
        rows = []
        for result in payload["results"]:
            for item in result["values"]:
                for row in item["values"] if "restricted_columns" in item else [item]:
                    rows.append((result["employeeId"], row))
        pages.append(rows)
        cursor = payload["response_metadata"]["next_cursor"]
        if not cursor:
            return pages


def test_plural_spellings_are_a_json_404(shared: FakeHibob) -> None:
    for table in ("deductions", "entitlements"):
        response = _get(shared, f"/v1/bulk/people/{table}")
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["key"] == "table.not.found"
    for table in NEW_TABLES:
        assert _get(shared, f"/v1/bulk/people/{table}").status_code == 200


@pytest.mark.parametrize("table", NEW_TABLES)
def test_new_tables_count_rows_split_employees_and_use_their_own_key(
    shared: FakeHibob, table: str
) -> None:
    shared.log.clear()
    pages = walk(shared, table, limit=7)
    rows = [pair for page in pages for pair in page]
    assert all(len(page) <= 7 for page in pages) and len(pages) > 2
    assert len(rows) == len(expected_rows(shared, table))
    assert len({(e, r["id"]) for e, r in rows}) == len(rows)  # (employeeId, id) is the key
    assert len({r["id"] for _, r in rows}) < len(rows), "ids repeat across employees"
    split = [a[-1][0] for a, b in itertools.pairwise(pages) if a[-1][0] == b[0][0]]
    assert split, "some employee's rows should continue on the next page"
    assert {r.endpoint for r in shared.log} == {f"bulk_{table}"}
    assert SECTIONS[table] in ("Payroll", "Home", "Identification")


def test_new_tables_distribution_is_realistic() -> None:
    tenant = Tenant.generate(300)
    for table in NEW_TABLES:
        per_employee: dict[str, int] = {}
        for entry in table_entries(tenant, table):
            per_employee[entry.employee_id] = per_employee.get(entry.employee_id, 0) + 1
        assert 0.2 * 300 < len(per_employee) < 0.8 * 300, table  # not everyone has rows
        assert max(per_employee.values()) >= 2, table  # some have several
    deductions = table_entries(tenant, "deduction")
    current: dict[str, int] = {}
    for entry in deductions:
        current[entry.employee_id] = current.get(entry.employee_id, 0) + entry.current
        row = entry.row
        assert (row["amount"] is None) != (row["percentage"] is None)
        assert row["deductionType"] in {"1", "2", "3", "4"} and row["effectiveDate"]
    assert max(current.values()) >= 2, "multi-current: one current row per deduction type"
    dependents = table_entries(tenant, "dependents")
    assert {"firstName", "surname", "relation", "birthDate", "gender"} <= set(dependents[0].row)
    documents = table_entries(tenant, "right-to-work")
    assert any(not e.current for e in documents), "renewed documents leave an expired one"
    assert any(e.row["expiryDate"] is None for e in documents)


def test_new_tables_follow_section_permissions() -> None:
    with FakeHibob(employees=40, profile="seed_minus_payroll") as fake:
        assert _get(fake, "/v1/bulk/people/deduction").status_code == 403
        assert _get(fake, "/v1/bulk/people/entitlement").status_code == 403
        assert _get(fake, "/v1/bulk/people/dependents").status_code == 200
    with FakeHibob(employees=40, profile="basic_only") as fake:
        for table in NEW_TABLES:
            assert _get(fake, f"/v1/bulk/people/{table}").status_code == 403, table
    # The seed guide grants Identification sections, not histories: current documents only.
    with FakeHibob(employees=80, profile="seed") as fake:
        seed = [r for page in walk(fake, "right-to-work", limit=200) for _, r in page]
    with FakeHibob(employees=80, profile="all") as fake:
        everything = [r for page in walk(fake, "right-to-work", limit=200) for _, r in page]
    assert len(seed) < len(everything)
    today = fake.tenant.now.date().isoformat()
    assert all(r["expiryDate"] is None or r["expiryDate"] >= today for r in seed)
    assert any(r["expiryDate"] and r["expiryDate"] < today for r in everything)


def test_new_tables_check_employee_ids_and_report_errors(shared: FakeHibob) -> None:
    ids = [e.id for e in shared.visible_employees()][:5]
    too_many = ",".join(str(n) for n in range(201))
    assert _get(shared, "/v1/bulk/people/dependents", employeeIds=too_many).status_code == 400
    payload = _get(shared, "/v1/bulk/people/dependents", employeeIds=",".join([*ids, "42"]))
    body = payload.json()
    assert {r["employeeId"] for r in body["results"]} <= set(ids)
    assert body["errors"] == [{"employeeId": "42", "error": "Employee not found or not accessible"}]
    cursor = _get(shared, "/v1/bulk/people/deduction", limit=5).json()["response_metadata"][
        "next_cursor"
    ]
    assert {"+", "/", "="} & set(cursor)
    assert _get(shared, "/v1/bulk/people/entitlement", limit=5, cursor=cursor).status_code == 400


def test_new_tables_can_come_bare_and_restricted() -> None:
    restricted = {"deduction": {"no_view_permission": ["amount"]}}
    options = {"tables_shape": "bare", "tables_restricted": restricted}
    with FakeHibob(employees=30, options=options) as fake:
        bare = _get(fake, "/v1/bulk/people/dependents", limit=200).json()
        limited = _get(fake, "/v1/bulk/people/deduction", limit=200)
    assert all("firstName" in row for r in bare["results"] for row in r["values"])
    assert limited.headers["X-Has-Restricted-Columns"] == "true"
    assert all(row["amount"] is None for r in limited.json()["results"] for row in r["values"])


def test_table_metadata_lists_the_built_in_tables_with_typed_columns() -> None:
    with FakeHibob(employees=60, profile="none") as fake:  # no permission needed
        response = _get(fake, "/v1/company/people/employee-tables/metadata")
        one = _get(fake, "/v1/company/people/employee-tables/metadata/work")
        missing = _get(fake, "/v1/company/people/employee-tables/metadata/address")
        keys = {r.endpoint for r in fake.log}
        tenant = fake.tenant
    assert response.status_code == 200 and keys == {"table_metadata"}
    tables = response.json()["tables"]
    assert [t["id"] for t in tables] == list(BUILT_IN)
    assert one.json() == tables[0]
    assert missing.status_code == 404 and missing.json()["key"] == "table.not.found"
    by_id = {t["id"]: t for t in tables}
    assert {t for t in BUILT_IN if by_id[t]["historical"]} == {
        "work", "employment", "lifecycle", "salaries"
    }  # fmt: skip
    assert by_id["dependents"]["category"] == "home"
    assert by_id["right-to-work"]["category"] == "identification"
    assert by_id["deduction"]["category"] == "payroll"
    assert by_id["training"]["category"] == "training"
    for table in tables:
        assert set(table) == {"id", "name", "category", "description", "historical", "columns"}
        columns = {c["id"]: c for c in table["columns"]}
        assert not BOOKKEEPING & set(columns), table["id"]
        for c in columns.values():
            assert set(c) == {"id", "name", "type", "typeData", "mandatory", "custom"}
            assert ("listId" in c["typeData"]) == (c["type"] in ("list", "list_id")), c
        # The columns are exactly what the rows carry, custom ones inside customColumns.
        top, custom = set(), set()
        for entry in table_entries(tenant, table["id"]):
            top |= set(entry.row) - BOOKKEEPING - {"customColumns"}
            custom |= set(entry.row["customColumns"])
        assert top == {i for i, c in columns.items() if not c["custom"]}, table["id"]
        assert custom == {i for i, c in columns.items() if c["custom"]}, table["id"]
    work = {c["id"]: c for c in by_id["work"]["columns"]}
    assert work["column_1644862416222"]["custom"] is True
    assert work["column_1644862416222"]["typeData"] == {"listId": "work.column_1644862416222"}
    assert work["reportsTo"]["type"] == "employee"
    employment = {c["id"]: c for c in by_id["employment"]["columns"]}
    assert employment["column_1655996461265"]["type"] == "number"
    assert employment["actualWorkingPattern"]["type"] == "working_pattern"
    salaries = {c["id"]: c for c in by_id["salaries"]["columns"]}
    assert salaries["base"]["type"] == "currency"
    assert any(c["custom"] for c in salaries.values())


@pytest.mark.parametrize(("answer", "status", "content"), [
    ("403", 403, "application/json"), ("404", 404, "application/json"), ("html", 200, "text/html"),
])  # fmt: skip
def test_table_metadata_can_be_unavailable(
    shared: FakeHibob, answer: str, status: int, content: str
) -> None:
    shared.options.table_metadata_answer = answer
    try:
        for path in ("", "/work"):
            response = _get(shared, f"/v1/company/people/employee-tables/metadata{path}")
            assert response.status_code == status
            assert response.headers["Content-Type"].startswith(content)
    finally:
        shared.options.table_metadata_answer = None


def test_extra_columns_are_typed_in_metadata_and_filled_in_rows(shared: FakeHibob) -> None:
    added = [{"id": "column_1700000000001", "name": "Desk", "type": "number"}]
    shared.options.extra_table_columns = {"work": added}
    try:
        meta = _get(shared, "/v1/company/people/employee-tables/metadata/work").json()
        rows = [r for page in walk(shared, "work", limit=200) for _, r in page]
        again = [r for page in walk(shared, "work", limit=200) for _, r in page]
    finally:
        shared.options.extra_table_columns = {}
    [column] = [c for c in meta["columns"] if c["id"] == "column_1700000000001"]
    assert column == {
        "id": "column_1700000000001", "name": "Desk", "type": "number", "typeData": {},
        "mandatory": False, "custom": True,
    }  # fmt: skip
    values = [r["customColumns"]["column_1700000000001"] for r in rows]
    assert all(v is None or isinstance(v, int | float) for v in values)
    assert any(v is not None for v in values)
    assert values == [r["customColumns"]["column_1700000000001"] for r in again]
    # The cached rows are untouched once the option is gone.
    plain = [r for page in walk(shared, "work", limit=200) for _, r in page]
    assert all("column_1700000000001" not in r["customColumns"] for r in plain)


def test_extra_tables_get_metadata_and_a_bulk_route(shared: FakeHibob) -> None:
    table = {
        "id": "bank-accounts",
        "name": "Bank accounts",
        "category": "payroll",
        "columns": [
            {"id": "bankName", "type": "text"},
            {"id": "accountType", "type": "list", "typeData": {"listId": "payType"}},
            {"id": "opened", "type": "date"},
            {"id": "column_1700000000002", "type": "boolean", "custom": True},
        ],
    }
    assert (
        _get(shared, "/v1/bulk/people/bank-accounts")
        .headers["Content-Type"]
        .startswith("text/html")
    )
    shared.options.extra_tables = [table]
    shared.log.clear()
    try:
        meta = _get(shared, "/v1/company/people/employee-tables/metadata").json()["tables"]
        pages = walk(shared, "bank-accounts", limit=10)
        keys = {r.endpoint for r in shared.log}
    finally:
        shared.options.extra_tables = []
    assert meta[-1]["id"] == "bank-accounts" and meta[-1]["historical"] is False
    rows = [pair for page in pages for pair in page]
    assert len(pages) > 1 and rows
    assert all({"id", "bankName", "accountType", "opened"} <= set(r) for _, r in rows)
    assert all("column_1700000000002" in r["customColumns"] for _, r in rows)
    assert {r["accountType"] for _, r in rows} <= {"1", "2", "3", "4", None}
    assert "bulk_bank-accounts" in keys
    with FakeHibob(
        employees=10, profile="seed_minus_payroll", options={"extra_tables": [table]}
    ) as fake:
        assert _get(fake, "/v1/bulk/people/bank-accounts").status_code == 403


def test_training_is_read_per_employee(shared: FakeHibob) -> None:
    shared.log.clear()
    counts = []
    for employee in shared.visible_employees()[:30]:
        response = _get(shared, f"/v1/people/{employee.id}/training")
        assert response.status_code == 200
        values = response.json()["values"]
        counts.append(len(values))
        for row in values:
            assert set(row) == {
                "id", "name", "description", "cost", "status", "frequency", "startDate",
                "endDate", "documentId", "customColumns",
            }  # fmt: skip
            assert set(row["cost"]) == {"value", "currency"} and row["customColumns"] == {}
    assert min(counts) == 0 and max(counts) >= 2 and max(counts) <= 3
    assert _get(shared, "/v1/people/42/training").status_code == 404
    assert {r.endpoint for r in shared.log} == {"people_training"}


def test_training_needs_the_training_section_and_the_access_scope() -> None:
    with FakeHibob(employees=40, profile="seed") as fake:  # the seed guide has no Training
        employee = fake.visible_employees()[0].id
        assert _get(fake, f"/v1/people/{employee}/training").status_code == 403
    sections_only = Profile("training_view", frozenset({view("Training"), BASIC}))
    with FakeHibob(employees=40, profile=sections_only) as fake:
        rows = {
            e.id: _get(fake, f"/v1/people/{e.id}/training").json()["values"]
            for e in fake.tenant.employees[:20]
        }
        assert sum(map(len, rows.values())) == sum(
            len(employee_rows(fake, "training", i)) for i in rows
        )  # a simple table: the section permission gives every row
    active = Profile("training_active", EVERYTHING, lifecycle_statuses=frozenset({"employed"}))
    with FakeHibob(employees=40, profile=active) as fake:
        gone = next(e for e in fake.tenant.employees if e.lifecycle == "terminated")
        assert _get(fake, f"/v1/people/{gone.id}/training").status_code == 404
