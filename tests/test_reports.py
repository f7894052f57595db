"""Saved reports as streams (tap_hibob/reports.py), against the fake HiBob.

Expected values are computed from the fake's own data (its employees and profile-change
history), never from the tap: a report of each kind syncs with typed columns and keys, the
asynchronous flow runs one generation per report and run, a slow generation times out with
a clear error, an edited report is followed, and a missing Reports permission is named in
the run summary and by the doctor. Runs are in-process (`tests.helpers.sync`), plus one real
CLI run.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob, Profile
from fake_hibob.people import _currency, _fte, field_specs, named_lists
from fake_hibob.profiles import EVERYTHING, REPORTS
from fake_hibob.reports import CHANGES_ID, COMPENSATION_ID, HEADCOUNT_ID, profile_changes, state
from fake_hibob.tenant import Employee, Tenant
from tap_hibob import endpoints
from tap_hibob import reports as tap_reports
from tap_hibob.doctor import Doctor, run
from tap_hibob.doctor.report import render_text
from tap_hibob.errors import HibobIncompleteSyncError
from tap_hibob.reports import (
    ReportColumn,
    SavedReport,
    csv_cell,
    field_column_name,
    file_name,
    report_columns,
    slug,
)
from tap_hibob.tap import TapHibob
from tests.helpers import ROOT, Run, discover, run_tap, select, sync, tap_config

N = 15
HEADCOUNT = "report_headcount_by_department"
COMPENSATION = "report_compensation_snapshot"
CHANGES = "report_profile_changes_last_12_months"
ALL_REPORTS = [
    {"report_id": HEADCOUNT_ID},
    {"report_id": COMPENSATION_ID},
    {"report_id": CHANGES_ID},
]
NO_REPORTS = Profile("no_reports", EVERYTHING - {REPORTS})


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tap_reports, "POLL_FIRST_SECONDS", 0.01)


@pytest.fixture
def fake() -> Iterator[FakeHibob]:
    with FakeHibob(employees=N) as server:
        yield server


# Reading a run ----------------------------------------------------------------------------


def is_report(stream: str) -> bool:
    return stream.startswith("report_")


def by_id(result: Run, stream: str) -> dict[Any, dict[str, Any]]:
    return {r["root__id"]: r for r in result.records(stream)}


def schema_message(result: Run, stream: str) -> dict[str, Any]:
    """The stream's one SCHEMA message (its schema and key properties)."""
    [message] = result.of("SCHEMA", stream)
    return message


def activate_versions(result: Run, stream: str) -> int:
    return len(result.of("ACTIVATE_VERSION", stream))


def counts(fake: FakeHibob) -> Counter[str]:
    return Counter(r.endpoint for r in fake.log if r.endpoint.startswith("report"))


# Ground truth from the fake's own data ----------------------------------------------------


def _department_labels(fake: FakeHibob) -> dict[str, str]:
    return {item["id"]: item["value"] for item in named_lists(fake.tenant)["department"]}


def headcount_truth(fake: FakeHibob, *, labels: bool = False) -> dict[str, dict[str, Any]]:
    names = _department_labels(fake)
    return {
        e.id: {
            "root__id": e.id,
            "root__displayName": e.display_name,
            "work__department": names[e.department] if labels else e.department,
            "work__site": e.site,
            "internal__status": e.status,
            "work__startDate": e.start_date.isoformat(),
            "payroll__employment__fte": _fte(e),
            "work__isManager": 5 * e.index + 1 < N,
        }
        for e in fake.visible_employees()
    }


def _salary(e: Employee) -> float:
    return 40000 + (e.index * 1337) % 90000 + 0.5


def compensation_truth(fake: FakeHibob) -> dict[str, dict[str, Any]]:
    return {
        e.id: {
            "root__id": e.id,
            "root__displayName": e.display_name,
            "work__department": e.department,
            "payroll__salary__payment": {"value": _salary(e), "currency": _currency(e)},
            "payroll__employment__fte": _fte(e),
            "annual_cost_fte_adjusted": f"{_salary(e) * _fte(e):.2f}",
        }
        for e in fake.visible_employees()
        if e.status == "Active"
    }


def changes_truth(fake: FakeHibob, *, csv: bool = False) -> dict[tuple[str, str, str], dict]:
    names = {s.id: s.name for s in field_specs(fake.tenant)}
    out = {}
    for c in profile_changes(fake):
        changed_field = names[c.field] if csv else c.field
        at = c.changed_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out[(c.employee.id, changed_field, at)] = {
            "root__id": c.employee.id,
            "root__displayName": c.employee.display_name,
            "changed_field": changed_field,
            "old_value": c.old,
            "new_value": c.new,
            "changed_at": at,
            "changed_by": c.changed_by,
        }
    return out


def _changes_by_key(run: Run) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["root__id"], r["changed_field"], r["changed_at"]): r for r in run.records(CHANGES)}


# Each kind of report -----------------------------------------------------------------------


def test_each_kind_syncs_typed_and_keyed_as_the_fake_says(fake: FakeHibob) -> None:
    config = tap_config(fake, reports=ALL_REPORTS)
    result = sync(config, select(discover(config), is_report))
    assert by_id(result, HEADCOUNT) == headcount_truth(fake)
    assert by_id(result, COMPENSATION) == compensation_truth(fake)
    assert _changes_by_key(result) == changes_truth(fake)
    assert len(result.records(CHANGES)) == len(profile_changes(fake))  # no key twice

    headcount = schema_message(result, HEADCOUNT)
    assert headcount["key_properties"] == ["root__id"]
    types = headcount["schema"]["properties"]
    assert types["work__startDate"]["format"] == "date"
    assert types["payroll__employment__fte"]["type"] == ["number", "null"]
    assert types["work__isManager"]["type"] == ["boolean", "null"]
    assert types["work__department"]["type"] == ["string", "null"]  # list item ids
    compensation = schema_message(result, COMPENSATION)["schema"]["properties"]
    assert set(compensation["payroll__salary__payment"]["properties"]) == {"value", "currency"}
    assert compensation["annual_cost_fte_adjusted"]["type"] == ["string", "null"]  # formula
    changes = schema_message(result, CHANGES)
    assert changes["key_properties"] == ["root__id", "changed_field", "changed_at"]
    assert changes["schema"]["properties"]["old_value"]["type"] == ["string", "null"]


def test_one_list_and_one_download_per_report_and_locale_pinned(fake: FakeHibob) -> None:
    catalog = discover(tap_config(fake, reports=ALL_REPORTS))
    assert counts(fake) == {"reports": 1}
    fake.log.clear()
    sync(tap_config(fake, reports=ALL_REPORTS), select(catalog, is_report))
    assert counts(fake) == {"reports": 1, "report_download": 3}
    for request in fake.requests_to("/v1/company/reports/"):
        assert request.query == {
            "format": ["json"],
            "includeInfo": ["false"],
            "locale": ["en-US"],
        }


def test_no_report_list_when_no_report_is_configured(fake: FakeHibob) -> None:
    catalog = discover(tap_config(fake))
    assert counts(fake) == {}
    assert not [s for s in catalog["streams"] if s["tap_stream_id"].startswith("report_")]


def test_names_and_keys_from_the_setting(fake: FakeHibob) -> None:
    reports = [
        {"report_name": "Headcount by department", "stream_name": "headcount"},
        {"report_id": str(COMPENSATION_ID), "primary_keys": ["root.id", "work__department"]},
    ]
    config = tap_config(fake, reports=reports)
    result = sync(config, select(discover(config), {"headcount", COMPENSATION}))
    assert schema_message(result, "headcount")["key_properties"] == ["root__id"]
    compensation = schema_message(result, COMPENSATION)
    assert compensation["key_properties"] == ["root__id", "work__department"]
    assert len(result.records("headcount")) == len(fake.visible_employees())


# Async -------------------------------------------------------------------------------------


def test_async_runs_one_generation_and_types_the_csv() -> None:
    with FakeHibob(employees=N, options={"reports_pending_polls": 2}) as fake:
        reports = [{"report_id": HEADCOUNT_ID, "download": "async"}]
        catalog = discover(tap_config(fake, reports=reports))
        fake.log.clear()
        result = sync(tap_config(fake, reports=reports), select(catalog, is_report))
        assert counts(fake) == {"reports": 1, "report_download_async": 1, "report_file": 3}
        [generation] = state(fake).generations_of(HEADCOUNT_ID)
        assert generation.polls == 3
        # CSV holds display values: the department's label, typed numbers and booleans.
        assert by_id(result, HEADCOUNT) == headcount_truth(fake, labels=True)
        [start] = fake.requests_to(f"/v1/company/reports/{HEADCOUNT_ID}/download-async")
        assert start.query == {"format": ["csv"], "includeInfo": ["false"], "locale": ["en-US"]}


def test_a_report_too_large_for_sync_falls_back_to_async() -> None:
    with FakeHibob(employees=N, options={"reports_sync_max_rows": 5}) as fake:
        reports = [{"report_id": CHANGES_ID}, {"report_id": COMPENSATION_ID, "download": "sync"}]
        catalog = discover(tap_config(fake, reports=reports))
        fake.log.clear()
        result = sync(tap_config(fake, reports=reports), select(catalog, is_report), check=False)
        assert counts(fake) == {
            "reports": 1,
            "report_download": 2,  # each refused once
            "report_download_async": 1,
            "report_file": 3,
        }
        assert _changes_by_key(result) == changes_truth(fake, csv=True)
        assert "too large" in result.stderr and "set download to 'async'" in result.stderr
        assert not result.records(COMPENSATION)  # download: sync never goes async
        assert isinstance(result.error, HibobIncompleteSyncError)
        assert "its download setting is 'sync'" in result.stderr


def test_a_generation_that_never_finishes_times_out_clearly() -> None:
    options = {"reports_pending_polls": 10**9}
    with FakeHibob(employees=N, options=options) as fake:
        config = tap_config(
            fake,
            reports=[{"report_id": HEADCOUNT_ID, "download": "async"}, {"report_id": CHANGES_ID}],
            report_timeout_seconds=1,
        )
        result = sync(config, select(discover(config), is_report), check=False)
        assert isinstance(result.error, HibobIncompleteSyncError)
        summary = result.stderr[result.stderr.index("These selected streams were not synced") :]
        assert f"{HEADCOUNT}: " in summary
        assert "'Headcount by department' (id 4101)" in summary
        assert "after 1 s" in summary and "report_timeout_seconds" in summary
        [generation] = state(fake).generations_of(HEADCOUNT_ID)  # polled, never re-requested
        assert generation.polls >= 3
        assert not result.records(HEADCOUNT) and activate_versions(result, HEADCOUNT) == 0
        assert len(result.records(CHANGES)) == len(profile_changes(fake))


# A report edited since discovery -----------------------------------------------------------


@pytest.mark.parametrize("download", ["auto", "async"])
@pytest.mark.parametrize("when", ["between runs", "during the run"])
def test_an_edited_report_is_followed_and_said_once(download: str, when: str) -> None:
    tenant = Tenant.generate(N)
    reports = [{"report_id": HEADCOUNT_ID, "download": download}]
    edit = {"reports_edit_after_list": [HEADCOUNT_ID]}
    with FakeHibob(tenant, options={} if when == "between runs" else edit) as fake:
        if when == "between runs":
            catalog = discover(tap_config(fake, reports=reports))
            fake.options["reports_edit_after_list"] = [HEADCOUNT_ID]  # edited since
        else:
            with FakeHibob(tenant) as twin:  # same tenant, not edited yet
                catalog = discover(tap_config(twin, reports=reports))
        result = sync(tap_config(fake, reports=reports), select(catalog, is_report))
        changed = [line for line in result.stderr.splitlines() if "has changed since" in line]
        assert len(changed) == 1
        assert "added: work__title" in changed[0] and "removed: work__department" in changed[0]
        assert "work__title" in result.stderr.split("left out of the records:")[1]
        expected = headcount_truth(fake, labels=download == "async")
        for row in expected.values():
            row["work__department"] = None  # removed from the report: null
        assert by_id(result, HEADCOUNT) == expected


# Permissions and sharing -------------------------------------------------------------------


def test_without_the_reports_permission_the_summary_names_it() -> None:
    with FakeHibob(employees=N, profile=NO_REPORTS) as fake:
        config = tap_config(
            fake, reports=[{"report_id": HEADCOUNT_ID}, {"report_name": "Profile changes"}]
        )
        catalog = discover(config)
        names = {s["tap_stream_id"] for s in catalog["streams"]}
        assert {"report_4101", "report_profile_changes"} <= names  # in the catalog anyway
        fake.log.clear()
        chosen = select(catalog, {"report_4101", "report_profile_changes", "tasks"})
        result = sync(config, chosen, check=False)
        assert isinstance(result.error, HibobIncompleteSyncError)
        summary = result.stderr[result.stderr.index("These selected streams were not synced") :]
        for stream in ("report_4101", "report_profile_changes"):
            [line] = [line for line in summary.splitlines() if f"- {stream}:" in line]
            assert f"denied {endpoints.REPORT_LIST.shown} (403)" in line
            assert REPORTS in line and "share the report with the service user" in line
            assert activate_versions(result, stream) == 0
        assert result.records("tasks")  # the other streams sync
        assert [r.status for r in fake.requests_to("/v1/company/reports")] == [403]  # one


def test_a_catalog_discovered_while_denied_asks_for_a_new_discovery() -> None:
    tenant = Tenant.generate(N)
    reports = [{"report_id": HEADCOUNT_ID, "stream_name": "headcount"}]
    with FakeHibob(tenant, profile=NO_REPORTS) as denied:
        catalog = discover(tap_config(denied, reports=reports))
    with FakeHibob(tenant) as fake:  # the permission was granted since
        result = sync(
            tap_config(fake, reports=reports), select(catalog, {"headcount"}), check=False
        )
    assert isinstance(result.error, HibobIncompleteSyncError)
    assert not result.records("headcount") and activate_versions(result, "headcount") == 0
    assert "declares no columns" in result.stderr and "run --discover again" in result.stderr


def test_a_report_not_shared_fails_alone_with_the_sharing_hint() -> None:
    with FakeHibob(employees=N, options={"reports_hidden": [HEADCOUNT_ID]}) as fake:
        config = tap_config(fake, reports=[{"report_id": HEADCOUNT_ID}, {"report_id": CHANGES_ID}])
        result = sync(config, select(discover(config), is_report), check=False)
        assert isinstance(result.error, HibobIncompleteSyncError)
        [line] = [line for line in result.stderr.splitlines() if "- report_4101:" in line]
        assert "id 4101" in line and "share the report with the service user" in line
        assert REPORTS in line
        assert len(result.records(CHANGES)) == len(profile_changes(fake))
        assert counts(fake)["report_download"] == 1  # the unshared report is not asked for


# Keys --------------------------------------------------------------------------------------


def test_a_key_that_repeats_stops_the_stream_before_any_record(fake: FakeHibob) -> None:
    reports = [{"report_id": HEADCOUNT_ID, "primary_keys": ["work.department"]}]
    config = tap_config(fake, reports=reports)
    result = sync(config, select(discover(config), is_report), check=False)
    assert isinstance(result.error, HibobIncompleteSyncError)
    assert not result.records(HEADCOUNT)
    assert "repeating another row's key" in result.stderr


def test_without_a_key_the_table_is_replaced_with_activate_version(fake: FakeHibob) -> None:
    reports = [{"report_id": HEADCOUNT_ID, "primary_keys": []}, {"report_id": CHANGES_ID}]
    config = tap_config(fake, reports=reports)
    result = sync(config, select(discover(config), is_report))
    assert schema_message(result, HEADCOUNT)["key_properties"] == []
    assert activate_versions(result, HEADCOUNT) == 1
    last = [m["type"] for m in result.messages if m.get("stream") == HEADCOUNT][-1]
    assert last == "ACTIVATE_VERSION"  # after the records, never before
    assert activate_versions(result, CHANGES) == 0  # keyed: upserts (the setting's default)


# The doctor --------------------------------------------------------------------------------


def test_doctor_names_the_reports_permission_within_its_budget() -> None:
    logging.disable(logging.WARNING)
    try:
        with FakeHibob(employees=60, profile=NO_REPORTS) as fake:
            report = Doctor(tap_config(fake, reports=ALL_REPORTS)).run()
        text = render_text(report)
        checks = {c.stream: c for c in report.checks}
        assert checks[HEADCOUNT.replace("headcount_by_department", "4101")].permission == REPORTS
        assert REPORTS in text and "share the report with the service user" in text
        assert report.denied == 1 and not report.can_run
        with FakeHibob(employees=60) as fake:
            full = Doctor(tap_config(fake, reports=[*ALL_REPORTS, {"report_id": 999}])).run()
        checks = {c.stream: c for c in full.checks}
        assert checks[HEADCOUNT].status.value == "ok"
        assert checks["report_999"].status.value == "missing_permission"
        assert "share the report" in " ".join(checks["report_999"].notes)
        assert full.requests <= 25 and full.denied <= 5
    finally:
        logging.disable(logging.NOTSET)


def test_list_reports_prints_ids_names_kinds_and_entries(
    fake: FakeHibob, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(fake)))
    assert run(["--config", str(config), "--list-reports"]) == 0
    out = capsys.readouterr().out
    assert "4103  Profile changes (last 12 months)  changes" in out
    assert '{"report_id": 4101, "stream_name": "report_headcount_by_department"}' in out
    assert "root__id, changed_field, changed_at" in out
    assert run(["--config", str(config), "--list-reports", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["kind"] for r in listed["reports"]] == ["people", "people", "changes"]
    assert listed["requests"] == 2
    # The entry it prints is a valid setting that syncs that report.
    entry = listed["reports"][1]["entry"]
    tap = TapHibob(config=tap_config(fake, reports=[entry]), parse_env_config=False)
    assert tap.streams[COMPENSATION]


def test_list_reports_without_the_permission_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHibob(employees=N, profile=NO_REPORTS) as fake:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(tap_config(fake)))
        assert run(["--config", str(config), "--list-reports"]) == 1
        assert REPORTS in capsys.readouterr().out
        assert len(fake.log) == 1


# The real CLI ------------------------------------------------------------------------------


def test_cli_discovers_and_syncs_reports(fake: FakeHibob, tmp_path: Path) -> None:
    reports = [{"report_id": HEADCOUNT_ID}, {"report_id": CHANGES_ID, "download": "async"}]
    config = tap_config(fake, reports=reports)
    discovered = run_tap(tmp_path, config, "--discover")
    assert discovered.returncode == 0, discovered.stderr
    catalog = select(json.loads(discovered.stdout), is_report)
    done = run_tap(tmp_path, config, catalog=catalog)
    assert done.returncode == 0, done.stderr
    assert by_id(done, HEADCOUNT) == headcount_truth(fake)
    synced = {(r["root__id"], r["changed_field"], r["changed_at"]) for r in done.records(CHANGES)}
    assert synced == set(changes_truth(fake, csv=True))
    assert len(state(fake).generations_of(CHANGES_ID)) == 1
    assert "Old value" not in done.stderr and "Engineering" not in done.stderr  # no contents


# Pieces ------------------------------------------------------------------------------------


def test_column_names() -> None:
    assert field_column_name("work.department") == "work__department"
    assert field_column_name("payroll.variable.Executive bonus.amount") == (
        "payroll__variable__Executive_bonus__amount"
    )
    assert slug("Annual cost (FTE-adjusted)") == "annual_cost_fte_adjusted"
    assert slug("2024 bonus") == "col_2024_bonus"
    assert slug("€€") == "col"
    known = {"root.id"}
    columns = report_columns(
        [("root.id", "ID"), ("f1", "Total"), ("f2", "Total"), ("x", "Root id")],
        {k: object() for k in known},  # type: ignore[misc]
    )
    assert [c.name for c in columns] == ["root__id", "total", "total_2", "root_id"]
    assert isinstance(columns[0], ReportColumn)


def test_report_parsing_accepts_bare_field_ids() -> None:
    report = SavedReport.parse(
        {
            "id": 7,
            "name": "R",
            "configuration": {"fields": ["root.id", {"id": "a.b"}], "changes": []},
        }
    )
    assert report is not None
    assert report.id == "7" and report.columns == (("root.id", "root.id"), ("a.b", "a.b"))
    assert report.kind == "people"


def test_file_name_is_decoded_from_the_location() -> None:
    location = (
        "https://app.hibob.com/api/company/reports/download/2026-01-01T10_00_00-My%20report.1"
    )
    assert file_name(location) == "2026-01-01T10_00_00-My report.1"
    assert file_name("https://api.hibob.com/v1/elsewhere") is None
    assert file_name(None) is None


def test_csv_cells() -> None:
    money = {"type": ["object", "null"], "properties": {"value": {}, "currency": {}}}
    assert csv_cell("40000.5 GBP", money) == {"value": 40000.5, "currency": "GBP"}
    assert csv_cell("1,250.00 USD", money) == {"value": 1250.0, "currency": "USD"}
    assert csv_cell("", money) is None
    assert csv_cell("A, B", {"type": ["array", "null"]}) == ["A", "B"]
    assert csv_cell("Ada", {"type": ["object"], "properties": {"displayName": {}}}) == {
        "displayName": "Ada"
    }


def test_no_report_path_or_permission_outside_the_registry() -> None:
    for path in (ROOT / "tap_hibob").rglob("*.py"):
        if path.name == "endpoints.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "/company/reports" not in text, path
        assert "View reports according to" not in text, path
        assert "profile changes history" not in text, path
