"""A sync reads everything the service user may read (issue 13's run semantics).

A denied stream costs one request and is summed up at the end; every other selected stream
syncs completely; a service user that sees no one stops the run before anything else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob
from fake_hibob.people import ids_of
from fake_hibob.tables import expected_rows
from tap_hibob import endpoints
from tap_hibob.errors import HibobIncompleteSyncError, HibobNoAccessError
from tests.helpers import Run, discover, run_tap, select, sync, tap_config

PAYROLL_HISTORY = "People > Payroll > View selected employees' Payroll section histories"


def _run(fake: FakeHibob, streams: tuple[str, ...] | None, **overrides: Any) -> Run:
    """An in-process sync of `streams` (the default selection if None), errors kept."""
    config = tap_config(fake, **overrides)
    catalog = select(discover(config), streams) if streams is not None else None
    return sync(config, catalog, check=False)


def _activated(run: Run) -> set[str]:
    return {m["stream"] for m in run.of("ACTIVATE_VERSION")}


DEFAULTS = ("employees", "work_history", "lifecycle_history", "time_off_requests", "tasks")


@pytest.mark.parametrize("read_ahead", [True, False])
def test_a_denied_stream_costs_one_request_and_the_rest_sync_completely(read_ahead: bool) -> None:
    with FakeHibob(employees=60, profile="seed_minus_payroll") as fake:
        run = _run(
            fake,
            ("salary_history", *DEFAULTS),
            read_ahead=read_ahead,
            emit_activate_version_messages=True,
        )
        assert len(fake.requests_to("/v1/bulk/people/salaries")) == 1
        work = {(r.employee_id, r.row["id"]) for r in expected_rows(fake, "work")}
        life = {(r.employee_id, r.row["id"]) for r in expected_rows(fake, "lifecycle")}
        people = set(ids_of(fake))
    assert isinstance(run.error, HibobIncompleteSyncError)
    assert run.records("salary_history") == []
    assert {(r["employeeId"], r["id"]) for r in run.records("work_history")} == work
    assert {(r["employeeId"], r["id"]) for r in run.records("lifecycle_history")} == life
    assert {r["id"] for r in run.records("employees")} == people
    assert run.records("time_off_requests") and run.records("tasks")
    # ACTIVATE_VERSION for every complete full-table stream, never for the denied one.
    assert _activated(run) == {"employees", "work_history", "lifecycle_history", "tasks"}
    summary = run.stderr[run.stderr.index("These selected streams were not synced") :]
    assert "salary_history: HiBob denied GET /v1/bulk/people/salaries (403)" in summary
    assert PAYROLL_HISTORY in summary
    assert "work_history" not in summary


def test_warn_accepts_partial_syncs() -> None:
    with FakeHibob(employees=20, profile="seed_minus_payroll") as fake:
        run = _run(fake, ("salary_history", "work_history"), on_missing_permission="warn")
    assert run.error is None
    assert run.records("work_history")
    assert "salary_history: HiBob denied" in run.stderr


def test_the_cli_exits_1_on_a_denied_stream_and_0_with_warn(tmp_path: Path) -> None:
    with FakeHibob(employees=10, profile="seed_minus_payroll") as fake:
        config = tap_config(fake)
        catalog = select(discover(config), ("salary_history", "work_history"))
        failed = run_tap(tmp_path, config, catalog=catalog)
        accepted = run_tap(tmp_path, {**config, "on_missing_permission": "warn"}, catalog=catalog)
    assert failed.returncode == 1
    assert "1 selected stream(s) need a HiBob permission" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert failed.records("work_history")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.records("work_history")


def test_a_service_user_in_no_group_stops_before_any_other_request() -> None:
    with FakeHibob(profile="none") as fake:
        run = _run(fake, None)
        denied = [r for r in fake.log if r.status == 403]
        metadata = ("fields_metadata", "table_metadata", "custom_table_metadata")
        data = [r for r in fake.log if r.endpoint not in metadata]
    assert isinstance(run.error, HibobNoAccessError)
    assert "probably in no permission group" in str(run.error)
    assert endpoints.BASIC_INFO in str(run.error)
    assert len(denied) == 1 <= 3  # HiBob's firewall blocks a credential at 50 in 10 s
    assert [r.path for r in data] == ["/v1/people/search"]
    assert not [m for m in run.messages if m["type"] == "RECORD"]


def test_a_service_user_who_sees_no_one_stops_and_empties_no_table() -> None:
    nobody = FakeHibob(profile="basic_only")
    nobody.profile = type(nobody.profile)("no_basic", frozenset({"x"}))
    with nobody as fake:
        run = _run(fake, None, emit_activate_version_messages=True)
    assert isinstance(run.error, HibobNoAccessError)
    assert "lists no employees" in str(run.error)
    assert not [m for m in run.messages if m["type"] in ("RECORD", "ACTIVATE_VERSION")]


def test_pending_changes_are_read_by_default_with_the_seed_permissions() -> None:
    with FakeHibob(employees=80, profile="seed") as fake:
        run = _run(fake, ("time_off_requests",), start_date="2024-07-01T00:00:00Z")
        sent = [r.arg("includePending") for r in fake.requests_to("/v1/timeoff/requests")]
    kinds = {r["changeType"] for r in run.records("time_off_requests")}
    assert "Pending" in kinds
    assert set(sent) == {"true"}


def test_silently_missing_pending_changes_name_the_permission() -> None:
    from fake_hibob.profiles import PENDING, PROFILES, Profile

    seed = PROFILES["seed"]
    without = Profile("seed_no_pending", seed.permissions - {PENDING})
    with FakeHibob(employees=80, profile=without) as fake:
        run = _run(fake, ("time_off_requests",), start_date="2024-07-01T00:00:00Z")
    assert run.error is None
    assert "Pending" not in {r["changeType"] for r in run.records("time_off_requests")}
    assert f"probably lacks '{endpoints.PENDING}'" in run.stderr


def test_a_stream_hibob_keeps_breaking_fails_alone() -> None:
    with FakeHibob(employees=300, options={"tables_repeat_cursor": True}) as fake:
        run = _run(fake, ("work_history", "employees"), emit_activate_version_messages=True)
    assert isinstance(run.error, HibobIncompleteSyncError)
    assert "work_history: HiBob returned the same page cursor twice" in run.stderr
    assert run.records("employees") and "work_history" not in _activated(run)
    assert "employees" in _activated(run)


def _seed_without_pending() -> Any:
    from fake_hibob.profiles import PENDING, PROFILES, Profile

    return Profile("seed_no_pending", PROFILES["seed"].permissions - {PENDING})


def test_a_403_for_pending_changes_names_the_pending_permission() -> None:
    options = {"pending_without_permission": "403"}
    with FakeHibob(employees=20, profile=_seed_without_pending(), options=options) as fake:
        run = _run(fake, ("time_off_requests", "whos_out", "work_history"))
        denied = [r for r in fake.log if r.status == 403]
    assert isinstance(run.error, HibobIncompleteSyncError)
    summary = run.stderr[run.stderr.index("These selected streams were not synced") :]
    for stream in ("time_off_requests", "whos_out"):
        line = next(x for x in summary.splitlines() if f"- {stream}:" in x)
        assert endpoints.PENDING in line, line
    assert len(denied) == 2 and run.records("work_history")


@pytest.mark.parametrize("mode", ["403", "omit"])
def test_the_doctor_names_the_pending_permission_either_way(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tap_hibob import doctor

    options = {"pending_without_permission": mode}
    with FakeHibob(employees=80, profile=_seed_without_pending(), options=options) as fake:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(tap_config(fake)))
        code = doctor.run(["--config", str(config), "--format", "json"])
        denied = sum(1 for r in fake.log if r.status in (401, 403))
    report = json.loads(capsys.readouterr().out)
    streams = {s["stream"]: s for s in report["streams"]}
    requests = streams["time_off_requests"]
    assert requests["permission"] == endpoints.PENDING
    assert requests["status"] == ("missing_permission" if mode == "403" else "partially_visible")
    assert denied <= 5
    if mode == "403":
        assert code == 1
    assert streams["whos_out"]["status"] == ("missing_permission" if mode == "403" else "ok")
