"""The fake's custom tables are no friendlier than HiBob's (docs/development/hibob-api.md)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob
from fake_hibob.custom_tables import expected_rows

CERTIFICATIONS = "root__table_1791380280851"
EQUIPMENT = "root__table_1791380290123"
LEVEL_LIST = f"{CERTIFICATIONS}.column_1791380280854"
ACCESSORIES_LIST = f"{EQUIPMENT}.column_1791380290127"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHibob]:
    limits = {
        "custom_table_metadata": 10_000,
        "named_lists": 10_000,
        f"bulk_custom_table_{CERTIFICATIONS}": 10_000,
        f"bulk_custom_table_{EQUIPMENT}": 10_000,
        f"people_custom_table_{EQUIPMENT}": 10_000,
    }
    with FakeHibob(employees=90, limits=limits) as server:
        yield server


def get(fake: FakeHibob, path: str, **params: Any) -> requests.Response:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    return session.get(f"{fake.url}{path}", params=params, timeout=10)


def bulk(fake: FakeHibob, table: str, **params: Any) -> requests.Response:
    return get(fake, f"/v1/bulk/people/custom-tables/{table}", **params)


def walk(fake: FakeHibob, table: str, **params: Any) -> list[list[tuple[str, dict[str, Any]]]]:
    pages, cursor = [], None
    while True:
        response = bulk(fake, table, **params, **({"cursor": cursor} if cursor else {}))
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


def test_metadata_needs_no_permission_and_404s_unknown_tables() -> None:
    with FakeHibob(employees=5, profile="none") as fake:
        everything = get(fake, "/v1/people/custom-tables/metadata")
        one = get(fake, f"/v1/people/custom-tables/metadata/{EQUIPMENT}")
        unknown = get(fake, "/v1/people/custom-tables/metadata/root__table_1")
        keys = {r.endpoint for r in fake.log}
    assert everything.status_code == 200 and keys == {"custom_table_metadata"}
    tables = everything.json()["tables"]
    assert [t["id"] for t in tables] == [CERTIFICATIONS, EQUIPMENT]
    assert one.json() == tables[1]
    assert unknown.status_code == 404 and unknown.json()["key"] == "custom.table.not.found"
    certifications, equipment = tables
    assert certifications["category"] == "work" and certifications["name"] == "Certifications"
    assert equipment["category"] == "category_1720508362305"
    for table in tables:
        assert set(table) == {"id", "name", "category", "description", "columns"}
        for column in table["columns"]:
            assert set(column) == {"id", "name", "description", "mandatory", "type", "typeData"}
            assert column["id"].startswith("column_")
    types = {c["type"] for t in tables for c in t["columns"]}
    assert {"text", "date", "list", "number", "currency", "employee-reference"} <= types
    assert {"multi-list", "document"} <= types
    [level] = [c for c in certifications["columns"] if c["type"] == "list"]
    assert level["typeData"] == {"listId": LEVEL_LIST}


def test_category_display_name_comes_from_the_fields_metadata(fake: FakeHibob) -> None:
    fields = get(fake, "/v1/company/people/fields").json()
    names = {f["categoryId"]: f["categoryDisplayName"] for f in fields}
    assert names["category_1720508362305"] == "Equipment"
    assert names["work"] == "Work"


def test_list_columns_use_named_lists_called_table_dot_column(fake: FakeHibob) -> None:
    lists = {x["name"]: x["values"] for x in get(fake, "/v1/company/named-lists").json()}
    assert LEVEL_LIST in lists and ACCESSORIES_LIST in lists
    level_ids = {i["id"] for i in lists[LEVEL_LIST]}
    accessory_ids = {i["id"] for i in lists[ACCESSORIES_LIST]}
    rows = [r for page in walk(fake, CERTIFICATIONS, limit=200) for _, r in page]
    assert {r["column_1791380280854"] for r in rows} - {None} <= level_ids
    equipment = [r for page in walk(fake, EQUIPMENT, limit=200) for _, r in page]
    assert all(set(r["column_1791380290127"] or []) <= accessory_ids for r in equipment)


@pytest.mark.parametrize("table", [CERTIFICATIONS, EQUIPMENT])
def test_bulk_counts_rows_and_splits_employees_across_pages(fake: FakeHibob, table: str) -> None:
    fake.log.clear()
    pages = walk(fake, table, limit=6)
    rows = [pair for page in pages for pair in page]
    assert all(len(page) <= 6 for page in pages) and len(pages) > 2
    assert len(rows) == len(expected_rows(fake, table))
    assert len({(e, r["id"]) for e, r in rows}) == len(rows)
    assert len({r["id"] for _, r in rows}) < len(rows), "ids repeat across employees"
    assert any(a[-1][0] == b[0][0] for a, b in itertools.pairwise(pages))
    meta = get(fake, f"/v1/people/custom-tables/metadata/{table}").json()
    columns = {c["id"] for c in meta["columns"]}
    for _, row in rows:
        assert set(row) == {"id"} | columns  # columns at the top level, no customColumns
    employees = {e for e, _ in rows}
    assert 0 < len(employees) < len(fake.visible_employees()), "not everyone has rows"
    assert {r.endpoint for r in fake.log} >= {f"bulk_custom_table_{table}"}


def test_bulk_checks_parameters_like_the_built_in_tables(fake: FakeHibob) -> None:
    unknown = bulk(fake, "root__table_1")
    assert unknown.status_code == 404 and unknown.json()["key"] == "custom.table.not.found"
    assert bulk(fake, EQUIPMENT, limit=0).status_code == 400
    assert bulk(fake, EQUIPMENT, limit=201).status_code == 400
    too_many = ",".join(str(n) for n in range(201))
    assert bulk(fake, EQUIPMENT, employeeIds=too_many).status_code == 400
    ids = [e.id for e in fake.visible_employees()][:4]
    payload = bulk(fake, EQUIPMENT, employeeIds=",".join([*ids, "7"])).json()
    assert {r["employeeId"] for r in payload["results"]} <= set(ids)
    assert [e["employeeId"] for e in payload["errors"]] == ["7"]
    cursor = bulk(fake, EQUIPMENT, limit=3).json()["response_metadata"]["next_cursor"]
    assert {"+", "/", "="} & set(cursor)
    assert bulk(fake, EQUIPMENT, limit=3, cursor=cursor).status_code == 200
    assert bulk(fake, CERTIFICATIONS, limit=3, cursor=cursor).status_code == 400
    assert bulk(fake, EQUIPMENT, limit=4, cursor=cursor).status_code == 400


def test_bulk_shapes_and_restricted_columns(fake: FakeHibob) -> None:
    column = "column_1791380290125"
    fake.options.tables_shape = "bare"
    fake.options.tables_restricted = {EQUIPMENT: {"no_view_permission": [column]}}
    try:
        response = bulk(fake, EQUIPMENT, limit=200)
    finally:
        fake.options.tables_shape = "wrapped"
        fake.options.tables_restricted = {}
    assert response.headers["X-Has-Restricted-Columns"] == "true"
    rows = [row for r in response.json()["results"] for row in r["values"]]
    assert rows and all("values" not in row and row[column] is None for row in rows)
    wrapped = bulk(fake, EQUIPMENT, limit=200)
    assert "X-Has-Restricted-Columns" not in wrapped.headers
    assert all("restricted_columns" in v for r in wrapped.json()["results"] for v in r["values"])


def test_permission_is_the_tables_category() -> None:
    with FakeHibob(employees=30, profile="seed") as fake:
        assert bulk(fake, CERTIFICATIONS).status_code == 200  # Work: in the seed guide
        assert bulk(fake, EQUIPMENT).status_code == 403  # the custom category is not
        employee = fake.visible_employees()[0].id
        assert get(fake, f"/v1/people/custom-tables/{employee}/{EQUIPMENT}").status_code == 403
        assert get(fake, "/v1/people/custom-tables/metadata").status_code == 200
    with FakeHibob(employees=30, profile="all") as fake:
        assert bulk(fake, CERTIFICATIONS).status_code == 200
        assert bulk(fake, EQUIPMENT).status_code == 200
    with FakeHibob(employees=30, profile="none") as fake:
        assert bulk(fake, CERTIFICATIONS).status_code == 403


def test_per_employee_rows_match_the_bulk_rows(fake: FakeHibob) -> None:
    by_employee: dict[str, list[dict[str, Any]]] = {}
    for page in walk(fake, EQUIPMENT, limit=200):
        for employee, row in page:
            by_employee.setdefault(employee, []).append(row)
    for employee in fake.visible_employees()[:12]:
        response = get(fake, f"/v1/people/custom-tables/{employee.id}/{EQUIPMENT}")
        assert response.status_code == 200
        assert response.json() == {"values": by_employee.get(employee.id, [])}
    assert get(fake, f"/v1/people/custom-tables/42/{EQUIPMENT}").status_code == 404
    employee = fake.visible_employees()[0].id
    assert get(fake, f"/v1/people/custom-tables/{employee}/root__table_1").status_code == 404


def test_a_tenant_without_custom_tables() -> None:
    with FakeHibob(employees=5, options={"custom_tables": False}) as fake:
        assert get(fake, "/v1/people/custom-tables/metadata").json() == {"tables": []}
        assert get(fake, f"/v1/people/custom-tables/metadata/{EQUIPMENT}").status_code == 404
        assert bulk(fake, EQUIPMENT).status_code == 404
        names = {x["name"] for x in get(fake, "/v1/company/named-lists").json()}
    assert LEVEL_LIST not in names and ACCESSORIES_LIST not in names
    assert "department" in names
