"""The bulk history table streams, through the real CLI against the fake HiBob."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fake_hibob import FakeHibob, Tenant
from fake_hibob.tables import expected_rows, table_entries
from tap_hibob.stream import load_schema
from tests.conftest import CliRun, run_tap, tap_config

# Stream → bulk table path segment.
TABLES = {
    "work_history": "work",
    "employment_history": "employment",
    "lifecycle_history": "lifecycle",
    "salary_history": "salaries",
    "variable_payments": "variable",
    "equity_grants": "equities",
    "address_history": "address",
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WORK_HISTORY = "People > Work > View selected employees' Work section histories"
WORK_SECTIONS = "People > Work > View selected employees' Work sections"


def catalog(*streams: str) -> dict[str, Any]:
    """A catalog selecting exactly these table streams (all others are deselected)."""
    return {
        "streams": [
            {
                "tap_stream_id": name,
                "stream": name,
                "schema": load_schema(name),
                "key_properties": ["employeeId", "id"],
                "metadata": [
                    {
                        "breadcrumb": [],
                        "metadata": {
                            "selected": True,
                            "table-key-properties": ["employeeId", "id"],
                            "inclusion": "available",
                        },
                    }
                ],
            }
            for name in streams
        ]
    }


def sync(tmp_path: Path, fake: FakeHibob, *streams: str, **config: Any) -> CliRun:
    # A tap that loops on pages fails the test within a minute instead of hanging it.
    return run_tap(tmp_path, tap_config(fake, **config), catalog=catalog(*streams), timeout=60)


def table_requests(fake: FakeHibob, stream: str) -> list[Any]:
    return fake.requests_to(f"/v1/bulk/people/{TABLES[stream]}")


def records_by_stream(run: CliRun) -> dict[str, list[dict[str, Any]]]:
    """All RECORD messages, parsed once (CliRun.records re-parses stdout per call)."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    for message in run.messages:
        if message["type"] == "RECORD":
            out.setdefault(message["stream"], []).append(message["record"])
    return out


def keys(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["employeeId"], r["id"]) for r in records]


def warnings(run: CliRun, text: str) -> list[str]:
    return [line for line in run.stderr.splitlines() if "WARNING" in line and text in line]


# Completeness, keys and page counts -------------------------------------------------------


def test_every_table_syncs_completely_in_the_fewest_pages(tmp_path: Path) -> None:
    with FakeHibob(employees=450) as fake:
        run = sync(tmp_path, fake, *TABLES)
        assert run.returncode == 0, run.stderr
        assert sum(len(expected_rows(fake, t)) for t in TABLES.values()) > 2000
        synced = records_by_stream(run)
        for stream, table in TABLES.items():
            expected = expected_rows(fake, table)
            records = synced[stream]
            # Every row once, keyed by (employeeId, id): entry ids repeat across employees.
            assert len(set(keys(records))) == len(records) == len(expected), stream
            assert set(keys(records)) == {(e.employee_id, e.row["id"]) for e in expected}
            assert len({r["id"] for r in records}) < len(records), f"{stream}: no repeated ids"
            # Exactly the pages needed for R rows at 200 a page, no extra empty request.
            requests = table_requests(fake, stream)
            assert len(requests) == max(1, math.ceil(len(expected) / 200)), stream
            assert [r.arg("limit") for r in requests] == ["200"] * len(requests)
            assert requests[0].arg("cursor") is None
            assert all(r.status == 200 for r in requests)
    assert len(table_requests(fake, "work_history")) >= 4


def test_cursor_goes_back_url_encoded_and_unchanged(tmp_path: Path) -> None:
    with FakeHibob(employees=300) as fake:
        run = sync(tmp_path, fake, "work_history")
    assert run.returncode == 0, run.stderr
    cursors = [r.arg("cursor") for r in table_requests(fake, "work_history")[1:]]
    assert cursors
    # The fake's cursors hold '+', '/' and '='; it answers 400 unless they arrive intact.
    assert all(c and "+" in c and "/" in c and c.endswith("=") for c in cursors)
    assert len(set(cursors)) == len(cursors)


def test_rows_of_one_employee_split_across_two_pages_are_all_kept(tmp_path: Path) -> None:
    # Find a tenant whose 200th and 201st work rows belong to the same employee.
    size = next(
        n
        for n in range(110, 200)
        if (rows := table_entries(Tenant.generate(n), "work"))[199].employee_id
        == rows[200].employee_id
    )
    with FakeHibob(employees=size) as fake:
        run = sync(tmp_path, fake, "work_history")
        split = expected_rows(fake, "work")[199].employee_id
        expected = [e.row["id"] for e in expected_rows(fake, "work") if e.employee_id == split]
    assert run.returncode == 0, run.stderr
    assert len(table_requests(fake, "work_history")) == 2
    assert [r["id"] for r in run.records("work_history") if r["employeeId"] == split] == expected


@pytest.mark.parametrize("shape", ["bare", "wrapped", "mixed"])
def test_both_row_shapes_give_the_same_records(tmp_path: Path, shape: str) -> None:
    with FakeHibob(employees=40, options={"tables_shape": shape}) as fake:
        run = sync(tmp_path, fake, "employment_history", "salary_history")
        for stream, table in (("employment_history", "employment"), ("salary_history", "salaries")):
            expected = [{**e.row, "employeeId": e.employee_id} for e in expected_rows(fake, table)]
            # == compares 100 and 100.0 as equal: the values are HiBob's, types checked below.
            assert run.records(stream) == expected, (shape, stream)
    assert run.returncode == 0, run.stderr
    assert not warnings(run, "restricted") and not warnings(run, "hid")


# Types ------------------------------------------------------------------------------------


def test_types_follow_the_design(tmp_path: Path) -> None:
    with FakeHibob(employees=120) as fake:
        run = sync(tmp_path, fake, *TABLES)
    assert run.returncode == 0, run.stderr
    synced = records_by_stream(run)
    for stream in TABLES:
        schema = load_schema(stream)
        validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
        records = synced[stream]
        assert records, stream
        for record in records:
            validator.validate(record)
            assert re.fullmatch(r"\d{19}", record["employeeId"])
            assert isinstance(record["id"], int)
            for column, spec in schema["properties"].items():
                if spec.get("format") == "date" and record.get(column) is not None:
                    assert DATE.match(record[column]), (stream, column)
    employment = synced["employment_history"]
    # HiBob sends fte 100 as a JSON integer next to 62.5; a column gets one type.
    assert all(
        isinstance(r["fte"], float) and isinstance(r["weeklyHours"], float) for r in employment
    )
    assert any(not r["fte"].is_integer() for r in employment)
    assert any(not r["weeklyHours"].is_integer() for r in employment)
    days = employment[0]["actualWorkingPattern"]["days"]
    assert all(isinstance(v, float) for v in days.values())
    salaries = synced["salary_history"]
    assert all(
        isinstance(r["base"]["value"], float) and len(r["base"]["currency"]) == 3 for r in salaries
    )
    variable = synced["variable_payments"]
    assert all(isinstance(r["companyPercent"], float) for r in variable)
    assert all(isinstance(r["amount"]["value"], float) for r in variable)
    equities = synced["equity_grants"]
    assert all(isinstance(r["vestingSchedule"], str) for r in equities)
    assert all(isinstance(r["quantity"], float) for r in equities)
    work = synced["work_history"]
    assert {type(r["isCurrent"]) for r in work} == {bool}
    today = datetime.now(UTC).date().isoformat()
    assert any(r["isCurrent"] is False and r["effectiveDate"] > today for r in work)
    assert any(r["customColumns"] for r in work), "customColumns must be kept"
    assert all(isinstance(r["reportsTo"]["id"], str) for r in work if r["reportsTo"])


# Warnings ---------------------------------------------------------------------------------


def test_restricted_columns_warn_once_naming_columns_and_permissions(tmp_path: Path) -> None:
    restricted = {"work": {"no_view_permission": ["title"], "no_view_history_permission": ["site"]}}
    with FakeHibob(employees=450, options={"tables_restricted": restricted}) as fake:
        run = sync(tmp_path, fake, "work_history")
    assert run.returncode == 0, run.stderr
    assert len(table_requests(fake, "work_history")) >= 4
    [line] = warnings(run, "work_history: HiBob hid")
    assert f"title (needs '{WORK_SECTIONS}')" in line
    assert f"site in past rows (needs '{WORK_HISTORY}')" in line
    records = run.records("work_history")
    assert all(r["title"] is None for r in records)
    assert all(r["site"] is None for r in records if not r["isCurrent"])
    assert any(r["site"] for r in records if r["isCurrent"])


def test_restricted_header_without_column_names_still_warns(tmp_path: Path) -> None:
    options = {
        "tables_shape": "bare",
        "tables_restricted": {"lifecycle": {"no_view_permission": ["reasonType"]}},
    }
    with FakeHibob(employees=30, options=options) as fake:
        run = sync(tmp_path, fake, "lifecycle_history")
    assert run.returncode == 0, run.stderr
    [line] = warnings(run, "lifecycle_history: HiBob hid")
    assert "columns it did not name" in line
    assert "People's data > People's fields" in line


def test_employee_errors_are_counted_never_listed(tmp_path: Path) -> None:
    with FakeHibob(employees=300, options={"tables_errors": 3}) as fake:
        run = sync(tmp_path, fake, "work_history")
    assert run.returncode == 0, run.stderr
    assert len(table_requests(fake, "work_history")) >= 2  # errors repeat on every page
    [line] = warnings(run, "work_history: HiBob could not return rows")
    assert "for 3 employee(s)" in line
    assert "9000000000000000000" not in run.stderr
    assert "No access" not in run.stderr


def test_current_rows_only_warns_about_the_history_permission(tmp_path: Path) -> None:
    with FakeHibob(employees=40, profile="sections_only") as fake:
        run = sync(tmp_path, fake, "work_history")
        visible = {e.id for e in fake.visible_employees()}
    assert run.returncode == 0, run.stderr
    records = run.records("work_history")
    assert {r["employeeId"] for r in records} == visible
    assert len(records) == len(visible)
    assert all(r["isCurrent"] for r in records)
    [line] = warnings(run, "exactly one row")
    assert WORK_SECTIONS in line and WORK_HISTORY in line


def test_full_history_gives_no_current_rows_warning(tmp_path: Path) -> None:
    with FakeHibob(employees=40, profile="seed") as fake:
        run = sync(tmp_path, fake, "work_history", "lifecycle_history")
    assert run.returncode == 0, run.stderr
    assert not warnings(run, "exactly one row")


def test_columns_missing_from_the_schema_are_kept_and_named(tmp_path: Path) -> None:
    with FakeHibob(employees=20, options={"tables_extra_column": "costCenter"}) as fake:
        run = sync(tmp_path, fake, "work_history")
    assert run.returncode == 0, run.stderr
    assert all(r["costCenter"] == "new" for r in run.records("work_history"))
    [line] = warnings(run, "does not declare")
    assert "costCenter" in line


def test_rows_sent_twice_are_emitted_once(tmp_path: Path) -> None:
    with FakeHibob(employees=300, options={"tables_overlap": 3}) as fake:
        run = sync(tmp_path, fake, "work_history")
        expected = expected_rows(fake, "work")
    assert run.returncode == 0, run.stderr
    pages = len(table_requests(fake, "work_history"))
    records = run.records("work_history")
    assert len(records) == len(set(keys(records))) == len(expected)
    [line] = warnings(run, "HiBob sent twice")
    assert f"skipped {3 * (pages - 1)} row(s)" in line


def test_human_readable_copies_follow_the_setting(tmp_path: Path) -> None:
    with FakeHibob(employees=10, options={"tables_human_readable": True}) as fake:
        kept = sync(tmp_path, fake, "work_history")
        dropped = sync(tmp_path, fake, "work_history", human_readable="off")
    assert kept.returncode == dropped.returncode == 0
    assert all(
        r["humanReadable"]["effectiveDate"].count("/") == 2 for r in kept.records("work_history")
    )
    assert all("humanReadable" not in r for r in dropped.records("work_history"))


# Errors -----------------------------------------------------------------------------------


def test_repeated_cursor_stops_with_a_clear_error(tmp_path: Path) -> None:
    with FakeHibob(employees=300, options={"tables_repeat_cursor": True}) as fake:
        run = sync(tmp_path, fake, "work_history")
    assert run.returncode == 1
    assert len(table_requests(fake, "work_history")) == 2
    assert "returned the same page cursor twice for GET /v1/bulk/people/work" in run.stderr
    assert "Traceback" not in run.stderr


def test_403_names_stream_endpoint_and_permission(tmp_path: Path) -> None:
    with FakeHibob(employees=10, profile="seed_minus_payroll") as fake:
        run = sync(tmp_path, fake, "salary_history")
    assert run.returncode == 1
    assert len(fake.requests_to("/v1/bulk/people/salaries")) == 1  # never retried
    [line] = [line for line in run.stderr.splitlines() if "(403)" in line]
    assert "GET /v1/bulk/people/salaries" in line
    assert "'salary_history'" in line
    assert "People > Payroll > View selected employees' Payroll section histories" in line
    assert "Traceback" not in run.stderr


# Selection --------------------------------------------------------------------------------


def test_only_work_employment_and_lifecycle_are_selected_by_default(tmp_path: Path) -> None:
    with FakeHibob(employees=10) as fake:
        run = run_tap(tmp_path, tap_config(fake))
    assert run.returncode == 0, run.stderr
    called = Counter(r.path for r in fake.requests_to("/v1/bulk/"))
    assert called == {
        "/v1/bulk/people/work": 1,
        "/v1/bulk/people/employment": 1,
        "/v1/bulk/people/lifecycle": 1,
    }
    assert {m["stream"] for m in run.messages if m["type"] == "SCHEMA"} >= {
        "work_history",
        "employment_history",
        "lifecycle_history",
    }


def test_unselected_tables_are_never_called(tmp_path: Path) -> None:
    with FakeHibob(employees=10) as fake:
        run = sync(tmp_path, fake, "equity_grants")
    assert run.returncode == 0, run.stderr
    assert {r.path for r in fake.requests_to("/v1/bulk/")} == {"/v1/bulk/people/equities"}
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} == {"equity_grants"}


def test_discovery_marks_payroll_and_address_tables_opt_in(tmp_path: Path) -> None:
    with FakeHibob(employees=5) as fake:
        run = run_tap(tmp_path, tap_config(fake), "--discover")
    assert run.returncode == 0, run.stderr
    streams = {s["tap_stream_id"]: s for s in json.loads(run.stdout)["streams"]}
    for name in TABLES:
        root = next(m["metadata"] for m in streams[name]["metadata"] if m["breadcrumb"] == [])
        assert root["table-key-properties"] == ["employeeId", "id"]
        opt_in = name in ("salary_history", "variable_payments", "equity_grants", "address_history")
        assert root["selected-by-default"] is (not opt_in), name
    assert not fake.requests_to("/v1/bulk/"), "discovery must not read tables"


# ACTIVATE_VERSION -------------------------------------------------------------------------


def test_activate_version_follows_the_last_record(tmp_path: Path) -> None:
    with FakeHibob(employees=250) as fake:
        run = sync(
            tmp_path, fake, "work_history", "address_history", emit_activate_version_messages=True
        )
    assert run.returncode == 0, run.stderr
    messages = run.messages  # parsed once: CliRun.messages re-parses stdout on each access
    for stream in ("work_history", "address_history"):
        positions = [i for i, m in enumerate(messages) if m.get("stream") == stream]
        kinds = [messages[i]["type"] for i in positions]
        assert kinds.count("ACTIVATE_VERSION") == 1, stream
        # After the last record: a run that fails halfway must not empty the table.
        assert kinds[-1] == "ACTIVATE_VERSION" and kinds[0] == "SCHEMA"
        version = messages[positions[-1]]["version"]
        assert isinstance(version, int) and version > 0
        records = [messages[i] for i in positions if messages[i]["type"] == "RECORD"]
        assert records and all(m["version"] == version for m in records)


def test_no_activate_version_unless_asked(tmp_path: Path) -> None:
    with FakeHibob(employees=10) as fake:
        run = sync(tmp_path, fake, "work_history")
    assert run.returncode == 0, run.stderr
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    assert all("version" not in m for m in run.messages if m["type"] == "RECORD")


# Scale ------------------------------------------------------------------------------------


def test_all_tables_for_1000_employees_make_no_per_employee_requests(tmp_path: Path) -> None:
    with FakeHibob(employees=1000) as fake:
        run = sync(tmp_path, fake, *TABLES)
        expected = {s: len(expected_rows(fake, t)) for s, t in TABLES.items()}
    assert run.returncode == 0, run.stderr
    # No path names an employee, and no request narrows a table to some employees.
    assert not [r.path for r in fake.log if re.search(r"/\d{6,}(/|$)", r.path)]
    assert not [r for r in fake.log if r.arg("employeeIds") is not None]
    pages = {s: len(table_requests(fake, s)) for s in TABLES}
    assert pages == {s: max(1, math.ceil(n / 200)) for s, n in expected.items()}
    assert sum(pages.values()) < 70  # per-employee reads would take 7,000
    assert {s: len(r) for s, r in records_by_stream(run).items()} == expected
