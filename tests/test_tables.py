"""The employee table streams against the fake HiBob (in-process syncs; the CLI where the
exit code is the point)."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fake_hibob import FakeHibob, Tenant
from fake_hibob.catalog import BUILT_IN_TABLES, CERTIFICATIONS, EQUIPMENT
from fake_hibob.profiles import EVERYTHING, Profile, history
from fake_hibob.tables import expected_rows, table_entries
from tap_hibob.endpoints import TABLES as KNOWN_TABLES
from tests.helpers import (
    Run,
    discover,
    root_metadata,
    run_tap,
    select,
    sync,
    tap_config,
)

# Stream -> bulk table path segment, for the tables the fake serves.
TABLES = {spec.stream: table for table, spec in KNOWN_TABLES.items() if spec.bulk}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WORK_HISTORY = "People > Work > View selected employees' Work section histories"
WORK_SECTIONS = "People > Work > View selected employees' Work sections"


def tables_sync(fake: FakeHibob, *streams: str, check: bool = True, **config: Any) -> Run:
    """An in-process sync of exactly these streams, their catalog as discovered."""
    settings = tap_config(fake, **config)
    return sync(settings, select(discover(settings), streams), check=check)


def table_requests(fake: FakeHibob, stream: str) -> list[Any]:
    return fake.requests_to(f"/v1/bulk/people/{TABLES[stream]}")


def keys(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["employeeId"], r["id"]) for r in records]


def warnings(run: Run, text: str) -> list[str]:
    return [line for line in run.warnings if text in line]


# Completeness, keys and page counts -------------------------------------------------------


def test_every_table_syncs_completely_in_the_fewest_pages() -> None:
    with FakeHibob(employees=450) as fake:
        run = tables_sync(fake, *TABLES)
        assert sum(len(expected_rows(fake, t)) for t in TABLES.values()) > 2000
        synced = run.records_by_stream
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


def test_cursor_goes_back_url_encoded_and_unchanged() -> None:
    with FakeHibob(employees=300) as fake:
        tables_sync(fake, "work_history")
    cursors = [r.arg("cursor") for r in table_requests(fake, "work_history")[1:]]
    assert cursors
    # The fake's cursors hold '+', '/' and '='; it answers 400 unless they arrive intact.
    assert all(c and "+" in c and "/" in c and c.endswith("=") for c in cursors)
    assert len(set(cursors)) == len(cursors)


def test_rows_of_one_employee_split_across_two_pages_are_all_kept() -> None:
    # Find a tenant whose 200th and 201st work rows belong to the same employee.
    size = next(
        n
        for n in range(110, 200)
        if (rows := table_entries(Tenant.generate(n), "work"))[199].employee_id
        == rows[200].employee_id
    )
    with FakeHibob(employees=size) as fake:
        run = tables_sync(fake, "work_history")
        split = expected_rows(fake, "work")[199].employee_id
        expected = [e.row["id"] for e in expected_rows(fake, "work") if e.employee_id == split]
    assert len(table_requests(fake, "work_history")) == 2
    assert [r["id"] for r in run.records("work_history") if r["employeeId"] == split] == expected


def as_declared(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row as its table metadata types it: list item ids are text (the fake, like HiBob,
    sends some, such as `calendarId`, as numbers)."""
    [meta] = [t for t in BUILT_IN_TABLES if t["id"] == table]
    ids = {c["id"] for c in meta["columns"] if c["type"] in ("list", "list_id")}
    return {k: str(v) if k in ids and isinstance(v, int) else v for k, v in row.items()}


@pytest.mark.parametrize("shape", ["bare", "wrapped", "mixed"])
def test_both_row_shapes_give_the_same_records(shape: str) -> None:
    with FakeHibob(employees=40, options={"tables_shape": shape}) as fake:
        run = tables_sync(fake, "employment_history", "salary_history")
        for stream, table in (("employment_history", "employment"), ("salary_history", "salaries")):
            expected = [
                {**as_declared(table, e.row), "employeeId": e.employee_id}
                for e in expected_rows(fake, table)
            ]
            # == compares 100 and 100.0 as equal: the values are HiBob's, types checked below.
            assert run.records(stream) == expected, (shape, stream)
    assert not warnings(run, "restricted") and not warnings(run, "hid")
    assert run.warnings == []


# Types ------------------------------------------------------------------------------------


def test_types_follow_the_design() -> None:
    with FakeHibob(employees=120) as fake:
        run = tables_sync(fake, *TABLES)
    synced = run.records_by_stream
    for stream in TABLES:
        schema = run.schemas[stream]
        assert schema["properties"]["employeeId"]["type"] == "string"
        assert schema["properties"]["id"]["type"] == "integer"
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


def test_restricted_columns_warn_once_naming_columns_and_permissions() -> None:
    restricted = {"work": {"no_view_permission": ["title"], "no_view_history_permission": ["site"]}}
    with FakeHibob(employees=450, options={"tables_restricted": restricted}) as fake:
        run = tables_sync(fake, "work_history")
    assert len(table_requests(fake, "work_history")) >= 4
    [line] = warnings(run, "work_history: HiBob hid")
    assert f"title (needs '{WORK_SECTIONS}')" in line
    assert f"site in past rows (needs '{WORK_HISTORY}')" in line
    records = run.records("work_history")
    assert all(r["title"] is None for r in records)
    assert all(r["site"] is None for r in records if not r["isCurrent"])
    assert any(r["site"] for r in records if r["isCurrent"])


def test_restricted_header_without_column_names_still_warns() -> None:
    options = {
        "tables_shape": "bare",
        "tables_restricted": {"lifecycle": {"no_view_permission": ["reasonType"]}},
    }
    with FakeHibob(employees=30, options=options) as fake:
        run = tables_sync(fake, "lifecycle_history")
    [line] = warnings(run, "lifecycle_history: HiBob hid")
    assert "columns it did not name" in line
    assert "People's data > People's fields" in line


def test_employee_errors_are_counted_never_listed() -> None:
    with FakeHibob(employees=300, options={"tables_errors": 3}) as fake:
        run = tables_sync(fake, "work_history")
    assert len(table_requests(fake, "work_history")) >= 2  # errors repeat on every page
    [line] = warnings(run, "work_history: HiBob could not return rows")
    assert "for 3 employee(s)" in line
    assert "9000000000000000000" not in run.stderr
    assert "No access" not in run.stderr


def test_current_rows_only_warns_about_the_history_permission() -> None:
    with FakeHibob(employees=40, profile="sections_only") as fake:
        run = tables_sync(fake, "work_history")
        visible = {e.id for e in fake.visible_employees()}
    records = run.records("work_history")
    assert {r["employeeId"] for r in records} == visible
    assert len(records) == len(visible)
    assert all(r["isCurrent"] for r in records)
    [line] = warnings(run, "exactly one row")
    assert WORK_SECTIONS in line and WORK_HISTORY in line


def test_multi_current_tables_without_history_warn_too() -> None:
    """Deductions keep one current row per deduction type, so "one row each" cannot tell;
    no row being a past entry (isCurrent false) does."""
    no_history = Profile("no_payroll_history", EVERYTHING - {history("Payroll")})
    with FakeHibob(employees=60, profile=no_history) as fake:
        run = tables_sync(fake, "deductions")
    records = run.records("deductions")
    assert len(records) > len({r["employeeId"] for r in records})  # several rows each
    assert all(r["isCurrent"] for r in records)
    [line] = warnings(run, "deductions: none of the")
    assert history("Payroll") in line


def test_full_history_gives_no_current_rows_warning() -> None:
    with FakeHibob(employees=60, profile="all") as fake:
        run = tables_sync(fake, "work_history", "lifecycle_history", "deductions")
    assert not warnings(run, "exactly one row")
    assert not warnings(run, "is a past entry")


def test_columns_missing_from_the_schema_are_dropped_and_named_once() -> None:
    """A column HiBob added after discovery: a record never carries a property its SCHEMA
    message does not declare, and one warning names it (never its values)."""
    with FakeHibob(employees=20, options={"tables_extra_column": "costCenter"}) as fake:
        run = tables_sync(fake, "work_history")
    records = run.records("work_history")
    assert records and all("costCenter" not in r for r in records)
    assert "costCenter" not in run.schemas["work_history"]["properties"]
    [line] = warnings(run, "does not declare")
    assert "work_history" in line and "--discover" in line
    assert re.search(r"costCenter \(\d+x\)\.", line), line  # the name and a count only


def test_rows_sent_twice_are_emitted_once() -> None:
    with FakeHibob(employees=300, options={"tables_overlap": 3}) as fake:
        run = tables_sync(fake, "work_history")
        expected = expected_rows(fake, "work")
    pages = len(table_requests(fake, "work_history"))
    records = run.records("work_history")
    assert len(records) == len(set(keys(records))) == len(expected)
    [line] = warnings(run, "HiBob sent twice")
    assert f"skipped {3 * (pages - 1)} row(s)" in line


def test_human_readable_copies_follow_the_setting() -> None:
    with FakeHibob(employees=10, options={"tables_human_readable": True}) as fake:
        kept = tables_sync(fake, "work_history")
        dropped = tables_sync(fake, "work_history", human_readable="off")
    assert all(
        r["humanReadable"]["effectiveDate"].count("/") == 2 for r in kept.records("work_history")
    )
    assert all("humanReadable" not in r for r in dropped.records("work_history"))


# Errors -----------------------------------------------------------------------------------


def test_repeated_cursor_fails_the_stream_with_a_clear_error() -> None:
    with FakeHibob(employees=300, options={"tables_repeat_cursor": True}) as fake:
        run = tables_sync(fake, "work_history", check=False, emit_activate_version_messages=True)
    assert run.returncode == 1
    assert len(table_requests(fake, "work_history")) == 2
    said = "returned the same page cursor twice for GET /v1/bulk/people/work"
    assert run.said(said, level="ERROR")
    assert run.said("  - work_history: ", said, level="ERROR")  # the run's summary
    assert not run.of("ACTIVATE_VERSION")  # a half-read table must not replace the old one


def test_403_skips_the_stream_naming_endpoint_and_permission(tmp_path: Path) -> None:
    with FakeHibob(employees=10, profile="seed_minus_payroll") as fake:
        config = tap_config(fake, emit_activate_version_messages=True)
        catalog = select(discover(config), ["salary_history", "work_history"])
        run = run_tap(tmp_path, config, catalog=catalog, timeout=60)
        work = expected_rows(fake, "work")
    assert run.returncode == 1
    assert len(fake.requests_to("/v1/bulk/people/salaries")) == 1  # never retried
    [line, summary] = [line for line in run.errors if "(403)" in line]
    for said in (line, summary):
        assert "GET /v1/bulk/people/salaries" in said
        assert "salary_history" in said
        assert "People > Payroll > View selected employees' Payroll section histories" in said
    assert "'salary_history'" in line
    assert "Traceback" not in run.stderr
    assert len(run.records("work_history")) == len(work)  # the other stream synced fully
    assert run.records("salary_history") == []
    # Only the complete stream tells the loader to drop rows it did not send.
    assert [m["stream"] for m in run.of("ACTIVATE_VERSION")] == ["work_history"]


def test_on_missing_permission_warn_exits_0_with_the_same_summary(tmp_path: Path) -> None:
    with FakeHibob(employees=10, profile="seed_minus_payroll") as fake:
        config = tap_config(fake, on_missing_permission="warn")
        catalog = select(discover(config), ["salary_history", "work_history"])
        run = run_tap(tmp_path, config, catalog=catalog, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    [summary] = run.said("  - salary_history: ", "(403)")
    assert "People > Payroll > View selected employees' Payroll section histories" in summary
    assert run.records("work_history")


# Selection --------------------------------------------------------------------------------


def test_only_work_employment_and_lifecycle_are_selected_by_default() -> None:
    with FakeHibob(employees=10) as fake:
        run = sync(tap_config(fake))
    called = Counter(r.path for r in fake.requests_to("/v1/bulk/"))
    assert called == {  # and the tenant's custom tables (DESIGN.md: selected by default)
        "/v1/bulk/people/work": 1,
        "/v1/bulk/people/employment": 1,
        "/v1/bulk/people/lifecycle": 1,
        f"/v1/bulk/people/custom-tables/{CERTIFICATIONS}": 1,
        f"/v1/bulk/people/custom-tables/{EQUIPMENT}": 1,
    }
    assert run.streams >= {
        "work_history",
        "employment_history",
        "lifecycle_history",
    }


def test_unselected_tables_are_never_called() -> None:
    with FakeHibob(employees=10) as fake:
        run = tables_sync(fake, "equity_grants")
    assert {r.path for r in fake.requests_to("/v1/bulk/")} == {"/v1/bulk/people/equities"}
    assert set(run.records_by_stream) == {"equity_grants"}


def test_discovery_marks_all_but_work_employment_and_lifecycle_opt_in() -> None:
    with FakeHibob(employees=5) as fake:
        catalog = discover(tap_config(fake))
    for spec in KNOWN_TABLES.values():
        root = root_metadata(catalog, spec.stream)
        assert root["table-key-properties"] == ["employeeId", "id"]
        default = spec.stream in ("work_history", "employment_history", "lifecycle_history")
        assert root["selected-by-default"] is default, spec.stream
    assert not fake.requests_to("/v1/bulk/"), "discovery must not read tables"


# ACTIVATE_VERSION -------------------------------------------------------------------------


def test_activate_version_follows_the_last_record() -> None:
    with FakeHibob(employees=250) as fake:
        run = tables_sync(
            fake, "work_history", "address_history", emit_activate_version_messages=True
        )
    messages = run.messages
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


def test_no_activate_version_unless_asked() -> None:
    with FakeHibob(employees=10) as fake:
        run = tables_sync(fake, "work_history")
    assert not run.of("ACTIVATE_VERSION")
    assert all("version" not in m for m in run.of("RECORD"))
