"""Every table HiBob holds, from HiBob's own metadata (issue 12): built-in tables, custom
columns, custom tables, tables added later, and the fallback when the metadata is missing."""

from __future__ import annotations

from typing import Any

import pytest

from fake_hibob import FakeHibob
from fake_hibob import custom_tables as fake_custom
from fake_hibob import tables as fake_tables
from fake_hibob.catalog import BONUS_TARGET, CERTIFICATIONS, EQUIPMENT, WORK_LOCATION
from tap_hibob import endpoints
from tests.helpers import Run, discover, select, sync, tap_config

CUSTOM = {f"custom_table_{CERTIFICATIONS}": CERTIFICATIONS, f"custom_table_{EQUIPMENT}": EQUIPMENT}
BULK_TABLES = {spec.stream: table for table, spec in endpoints.TABLES.items() if spec.bulk}


def _discover(fake: FakeHibob) -> dict[str, Any]:
    """The discovered catalog's entries by stream name."""
    return {entry["tap_stream_id"]: entry for entry in discover(tap_config(fake))["streams"]}


def _selected_by_default(entry: dict[str, Any]) -> bool:
    root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
    return bool(root["metadata"].get("selected-by-default"))


def _sync(fake: FakeHibob, streams: set[str]) -> Run:
    config = tap_config(fake)
    return sync(config, select(discover(config), streams))


def _keys(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["employeeId"], r["id"]) for r in records]


def test_discovery_offers_every_table_of_the_metadata_and_every_custom_table() -> None:
    with FakeHibob(employees=20) as fake:
        streams = _discover(fake)
    assert set(BULK_TABLES) | set(CUSTOM) | {"training", "actual_payments"} <= set(streams)
    work = streams["work_history"]["schema"]["properties"]
    assert work["customColumns"]["properties"][WORK_LOCATION]["type"] == ["string", "null"]
    employment = streams["employment_history"]["schema"]["properties"]
    assert employment["customColumns"]["properties"][BONUS_TARGET]["type"] == ["number", "null"]
    assert employment["fte"]["type"] == ["number", "null"]
    certifications = streams[f"custom_table_{CERTIFICATIONS}"]
    assert list(certifications["key_properties"]) == ["employeeId", "id"]
    assert "Certifications" in certifications["schema"]["description"]
    assert _selected_by_default(certifications)
    for name in ("deductions", "entitlements", "dependents", "right_to_work", "training"):
        assert not _selected_by_default(streams[name]), name


def test_a_column_added_to_hibobs_metadata_appears_typed_without_a_code_change() -> None:
    column = {"id": "column_1799999999999", "name": "Shift", "type": "number", "custom": True}
    with FakeHibob(employees=20, options={"extra_table_columns": {"work": [column]}}) as fake:
        streams = _discover(fake)
        records = _sync(fake, {"work_history"}).records("work_history")
    custom = streams["work_history"]["schema"]["properties"]["customColumns"]["properties"]
    assert custom["column_1799999999999"]["type"] == ["number", "null"]
    values = [r["customColumns"].get("column_1799999999999") for r in records]
    assert any(isinstance(v, float) for v in values)


def test_a_table_hibob_adds_later_becomes_a_stream_not_selected_by_default() -> None:
    table = {
        "id": "bank-accounts",
        "name": "Bank accounts",
        "category": "payroll",
        "historical": False,
        "columns": [
            {"id": "bankName", "name": "Bank", "type": "text"},
            {"id": "accountNumber", "name": "Account number", "type": "text"},
        ],
    }
    with FakeHibob(employees=20, options={"extra_tables": [table]}) as fake:
        entry = _discover(fake)["bank_accounts"]
        records = _sync(fake, {"bank_accounts"}).records("bank_accounts")
        expected = fake_tables.expected_rows(fake, "bank-accounts")
    assert not _selected_by_default(entry)
    assert set(entry["schema"]["properties"]) >= {"employeeId", "id", "bankName", "accountNumber"}
    assert sorted(_keys(records)) == sorted((e.employee_id, e.row["id"]) for e in expected)


@pytest.mark.parametrize("answer", ["403", "404", "html"])
def test_without_table_metadata_the_bundled_schemas_stand_in(answer: str) -> None:
    options = {"table_metadata_answer": answer}
    with FakeHibob(employees=20, options=options) as fake:
        streams = _discover(fake)
        run = _sync(fake, {"work_history"})
    assert set(BULK_TABLES) <= set(streams)
    assert run.said("built-in tables metadata could not be read")
    records = run.records("work_history")
    assert records and all("customColumns" in r for r in records)


def test_every_table_syncs_exactly_the_fakes_rows_even_split_across_pages() -> None:
    streams = set(BULK_TABLES) | set(CUSTOM)
    with FakeHibob(employees=400) as fake:
        run = _sync(fake, streams)
        truth = {
            name: fake_tables.expected_rows(fake, table) for name, table in BULK_TABLES.items()
        }
        truth |= {name: fake_custom.expected_rows(fake, table) for name, table in CUSTOM.items()}
        pages = {
            name: len(fake.requests_to(f"/v1/bulk/people/{table}"))
            for name, table in {
                **BULK_TABLES,
                **{n: f"custom-tables/{t}" for n, t in CUSTOM.items()},
            }.items()
        }
    for name in streams:
        got, want = _keys(run.records(name)), [(e.employee_id, e.row["id"]) for e in truth[name]]
        assert len(got) == len(set(got)) == len(want), name
        assert set(got) == set(want), name
        assert pages[name] == max(1, -(-len(want) // 200)), name
    # Entry ids repeat across employees, and some employees' rows span two pages.
    work = run.records("work_history")
    assert len({r["id"] for r in work}) < len(work)


def test_custom_table_rows_carry_their_columns_typed() -> None:
    with FakeHibob(employees=60) as fake:
        schema = _discover(fake)[f"custom_table_{EQUIPMENT}"]["schema"]["properties"]
        records = _sync(fake, {f"custom_table_{EQUIPMENT}"}).records(f"custom_table_{EQUIPMENT}")
    money = [k for k, v in schema.items() if "properties" in v and "currency" in v["properties"]]
    assert money, "the Equipment table has a currency column"
    values = [r[money[0]] for r in records if r.get(money[0])]
    assert values and all(isinstance(v["value"], float) for v in values)
    assert all(set(r) <= set(schema) for r in records)
