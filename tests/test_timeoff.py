"""Time-off streams through the real CLI against the fake HiBob.

time_off_requests: windows of at most 6 months from start_date or the bookmark minus the
overlap, STATE after every window, resume after SIGKILL, corrupt state. whos_out and
time_off_policy_types: parameters, permissions, keys.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import PROFILES, FakeHibob
from fake_hibob import timeoff as fake_timeoff
from fake_hibob.profiles import PENDING, WHOS_OUT
from tap_hibob.tap import TapHibob
from tap_hibob.timeoff import BOOKMARK_KEY, add_months, rfc3339
from tests.conftest import ROOT, CliRun, run_tap, tap_config

CHANGES = "/v1/timeoff/requests/changes"
Key = tuple[int, str]


def catalog(fake: FakeHibob, *streams: str) -> dict[str, Any]:
    """The tap's own catalog with only `streams` in it (so only they run)."""
    entries = [copy.deepcopy(_ENTRIES[name]) for name in streams if name in _entries(fake)]
    for entry in entries:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = True
    return {"streams": entries}


_ENTRIES: dict[str, dict[str, Any]] = {}


def _entries(fake: FakeHibob) -> dict[str, dict[str, Any]]:
    """Discovered once per test process: time-off schemas are static files."""
    if not _ENTRIES:
        tap = TapHibob(config=tap_config(fake), parse_env_config=False)
        _ENTRIES.update({e["tap_stream_id"]: e for e in tap.catalog_dict["streams"]})
    return _ENTRIES


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def keys(records: list[dict[str, Any]]) -> list[Key]:
    return [(r["requestId"], r["changeType"]) for r in records]


def windows_requested(fake: FakeHibob) -> list[tuple[datetime, datetime]]:
    return [
        (parse(r.arg("since") or ""), parse(r.arg("to") or ""))
        for r in fake.requests_to(CHANGES, status=200)
    ]


def bookmarks(run: CliRun) -> list[str]:
    """The time_off_requests bookmark of each STATE message, in order."""
    found = []
    for state in run.states:
        entry = state.get("bookmarks", {}).get("time_off_requests", {})
        if "replication_key_value" in entry:
            found.append(entry["replication_key_value"])
    return found


def expected(fake: FakeHibob, since: datetime, to: datetime, **flags: bool) -> set[Key]:
    return set(keys(fake_timeoff.visible_changes(fake, since, to, **flags)))


def sync(tmp_path: Path, fake: FakeHibob, *, state: Any = None, **config: Any) -> CliRun:
    run = run_tap(
        tmp_path,
        tap_config(fake, **config),
        catalog=catalog(fake, "time_off_requests"),
        state=state,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


# First sync --------------------------------------------------------------------------------


def test_first_sync_reads_30_months_in_five_windows_with_state_after_each(
    tmp_path: Path, fake: FakeHibob
) -> None:
    start = parse(rfc3339(add_months(fake.tenant.now, -30) + timedelta(hours=1)))
    run = sync(tmp_path, fake, start_date=rfc3339(start))

    spans = windows_requested(fake)
    assert len(spans) == 5  # ceil(30 / 6): the minimum HiBob's 6-month limit allows
    assert spans[0][0] == start
    for (_, to), (since, _) in itertools.pairwise(spans):
        assert since == to  # contiguous: nothing skipped, nothing read twice
    for since, to in spans[:-1]:
        assert to == add_months(since, 6)  # full windows
    run_end = spans[-1][1]
    assert datetime.now(UTC) - timedelta(minutes=5) < run_end <= datetime.now(UTC)

    # Every change HiBob shows for the whole span, each once.
    emitted = keys(run.records("time_off_requests"))
    assert len(emitted) == len(set(emitted))
    assert set(emitted) == expected(fake, start, run_end)
    assert len(emitted) > 30

    # One STATE per finished window, each naming that window's end, after its records.
    assert bookmarks(run)[:5] == [rfc3339(to) for _, to in spans]
    assert set(bookmarks(run)[5:]) <= {rfc3339(run_end)}
    state = run.states[-1]["bookmarks"]["time_off_requests"]
    assert state == {"replication_key": BOOKMARK_KEY, "replication_key_value": rfc3339(run_end)}


def test_records_follow_the_schema_conventions(tmp_path: Path, fake: FakeHibob) -> None:
    run = sync(tmp_path, fake, start_date=rfc3339(add_months(fake.tenant.now, -30)))
    records = run.records("time_off_requests")
    assert records
    for record in records:
        assert isinstance(record["requestId"], int)
        assert isinstance(record["employeeId"], str) and len(record["employeeId"]) == 19
        assert record["createdOn"].endswith("Z")
        parse(record["createdOn"])
        assert isinstance(record["totalDuration"], int | float)
    schema = next(m for m in run.messages if m["type"] == "SCHEMA")
    assert schema["key_properties"] == ["requestId", "changeType"]
    assert "bookmark_properties" not in schema or not schema["bookmark_properties"]


def test_catalog_marks_time_off_requests_incremental_without_replication_key(
    fake: FakeHibob,
) -> None:
    entry = catalog(fake, "time_off_requests")["streams"][0]
    root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
    assert root["forced-replication-method"] == "INCREMENTAL"
    assert not root.get("valid-replication-keys")


def test_no_activate_version_even_when_enabled(tmp_path: Path, fake: FakeHibob) -> None:
    # ACTIVATE_VERSION would make loaders delete every change snapshot not re-read this run.
    run = sync(tmp_path, fake, emit_activate_version_messages=True)
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    assert run.records("time_off_requests")


def test_default_start_date_is_six_months_back(tmp_path: Path, fake: FakeHibob) -> None:
    sync(tmp_path, fake)
    [(since, to)] = windows_requested(fake)
    # Six calendar months (181 to 184 days), HiBob's own limit: one window, no more.
    assert abs(since - add_months(to, -6)) < timedelta(seconds=5)


# Incremental runs --------------------------------------------------------------------------


def test_second_run_reads_only_from_the_bookmark_minus_the_overlap(
    tmp_path: Path, fake: FakeHibob
) -> None:
    first = sync(tmp_path, fake, start_date=rfc3339(fake.tenant.now - timedelta(days=60)))
    bookmark = parse(bookmarks(first)[-1])
    before = len(fake.requests_to(CHANGES))

    # A change HiBob only shows after the first run read past it (read-after-write lag),
    # plus fresh changes after the bookmark.
    late = fake_timeoff.add_changes(fake, created=1, at=bookmark - timedelta(minutes=20))
    fresh = fake_timeoff.add_changes(fake, created=3, canceled=2)

    second = sync(tmp_path, fake, state=first.states[-1])
    [(since, to)] = windows_requested(fake)[before:]
    assert since == bookmark - timedelta(minutes=60)
    assert to > bookmark

    emitted = set(keys(second.records("time_off_requests")))
    new = set(keys(late + fresh))
    assert new <= emitted
    # Besides the new ones, only what lies in the overlap is read again.
    assert emitted - new == expected(fake, since, bookmark) - new
    assert parse(bookmarks(second)[-1]) == to


def test_overlap_is_configurable(tmp_path: Path, fake: FakeHibob) -> None:
    first = sync(tmp_path, fake)
    bookmark = parse(bookmarks(first)[-1])
    before = len(fake.requests_to(CHANGES))
    sync(tmp_path, fake, state=first.states[-1], time_off_overlap_minutes=0)
    assert windows_requested(fake)[before][0] == bookmark


def test_a_bookmark_older_than_six_months_still_uses_windows(
    tmp_path: Path, fake: FakeHibob
) -> None:
    old = parse(rfc3339(fake.tenant.now - timedelta(days=400)))
    state = {
        "bookmarks": {
            "time_off_requests": {
                "replication_key": BOOKMARK_KEY,
                "replication_key_value": rfc3339(old),
            }
        }
    }
    run = sync(tmp_path, fake, state=state, start_date="2026-01-01T00:00:00Z")
    spans = windows_requested(fake)
    assert len(spans) == 3
    assert spans[0][0] == old - timedelta(hours=1)  # the bookmark wins over start_date
    assert set(keys(run.records("time_off_requests"))) == expected(fake, spans[0][0], spans[-1][1])


def test_full_table_in_the_catalog_rereads_from_start_date(tmp_path: Path, fake: FakeHibob) -> None:
    start = parse(rfc3339(fake.tenant.now - timedelta(days=90)))
    state = {
        "bookmarks": {
            "time_off_requests": {
                "replication_key": BOOKMARK_KEY,
                "replication_key_value": rfc3339(fake.tenant.now),
            }
        }
    }
    full = catalog(fake, "time_off_requests")
    full["streams"][0]["replication_method"] = "FULL_TABLE"
    run = run_tap(tmp_path, tap_config(fake, start_date=rfc3339(start)), catalog=full, state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "FULL_TABLE in the catalog: ignoring state" in run.stderr
    [(since, to)] = windows_requested(fake)
    assert since == start
    assert set(keys(run.records("time_off_requests"))) == expected(fake, start, to)


def test_kill_and_resume_from_the_last_state_loses_nothing(tmp_path: Path) -> None:
    with FakeHibob(latency=0.4) as fake:
        start = parse(rfc3339(add_months(fake.tenant.now, -30) + timedelta(hours=1)))
        config = tap_config(fake, start_date=rfc3339(start))
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog(fake, "time_off_requests")))
        argv = [sys.executable, "-m", "tap_hibob", "--config", str(tmp_path / "config.json")]
        argv += ["--catalog", str(tmp_path / "catalog.json")]
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
        )
        committed: list[Key] = []  # records a loader has committed: those before a STATE
        pending: list[Key] = []
        last_state: dict[str, Any] = {}
        states_seen = 0
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            if message["type"] == "RECORD":
                pending.append((message["record"]["requestId"], message["record"]["changeType"]))
            elif message["type"] == "STATE":
                entry = message["value"]["bookmarks"].get("time_off_requests", {})
                if "replication_key_value" in entry:
                    committed += pending
                    pending = []
                    last_state = message["value"]
                    states_seen += 1
                    if states_seen == 2:
                        os.kill(proc.pid, signal.SIGKILL)
                        break
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert states_seen == 2

    # The same tenant behind a new server, so the killed run's last request stays out of
    # the new request log.
    with FakeHibob(tenant=fake.tenant) as again:
        resumed = sync(tmp_path, again, state=last_state, start_date=rfc3339(start))
        bookmark = parse(last_state["bookmarks"]["time_off_requests"]["replication_key_value"])
        spans = windows_requested(again)
        assert spans[0][0] == bookmark - timedelta(hours=1)
        assert len(spans) == 4  # the 3 unfinished windows, shifted back by the overlap
        everything = expected(again, start, spans[-1][1])
    assert set(committed) | set(keys(resumed.records("time_off_requests"))) == everything


# Pending, private, permissions -------------------------------------------------------------


def test_pending_changes_need_the_setting_and_the_permission(tmp_path: Path) -> None:
    def kinds(profile: Any, **config: Any) -> Counter[str]:
        with FakeHibob(profile=profile) as fake:
            start = rfc3339(add_months(fake.tenant.now, -30))
            run = sync(tmp_path, fake, start_date=start, **config)
            pending = fake.requests_to(CHANGES)[0].arg("includePending")
        return Counter(
            [r["changeType"] for r in run.records("time_off_requests")] + [f"flag={pending}"]
        )

    without = kinds("seed")
    assert without["Pending"] == 0 and without["flag=None"] == 1
    with_pending = kinds("seed", include_pending=True)
    assert with_pending["Pending"] > 0 and with_pending["flag=true"] == 1
    no_permission = replace(
        PROFILES["seed"], name="np", permissions=PROFILES["seed"].permissions - {PENDING}
    )
    # HiBob leaves them out silently: the README says which permission to add.
    assert kinds(no_permission, include_pending=True)["Pending"] == 0


def test_pk_is_unique_with_pending_edits_and_cancellations(tmp_path: Path) -> None:
    with FakeHibob(employees=60, profile="seed") as fake:
        start = add_months(fake.tenant.now, -30)
        run = sync(tmp_path, fake, start_date=rfc3339(start), include_pending=True)
    emitted = keys(run.records("time_off_requests"))
    assert len(emitted) == len(set(emitted)) > 100
    kinds = {kind for _, kind in emitted}
    assert {"Created", "Canceled", "Deleted", "Pending"} <= kinds
    # An edited request shows up as its old id (Deleted) and its new id (Created).
    edited = [r for r in run.records("time_off_requests") if r["previousRequestId"]]
    assert edited
    assert all((r["previousRequestId"], "Deleted") in set(emitted) for r in edited)


def test_missing_whos_out_permission_is_one_clear_line(tmp_path: Path) -> None:
    profile = replace(
        PROFILES["seed"], name="nw", permissions=PROFILES["seed"].permissions - {WHOS_OUT}
    )
    with FakeHibob(profile=profile) as fake:
        run = run_tap(tmp_path, tap_config(fake), catalog=catalog(fake, "time_off_requests"))
        assert len(fake.requests_to(CHANGES)) == 1  # a 403 is never retried
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "'time_off_requests'" in run.stderr
    assert "Timeoff > See who's out today > See who's out today" in run.stderr


# Corrupt state -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bookmark", "message"),
    [
        (
            {"replication_key": BOOKMARK_KEY, "replication_key_value": "last tuesday"},
            "is not an ISO 8601 date-time",
        ),
        (
            {"replication_key": BOOKMARK_KEY, "replication_key_value": 1767225600},
            "is not an ISO 8601 date-time",
        ),
        (
            {"replication_key": "createdOn", "replication_key_value": "2026-01-01T00:00:00Z"},
            "belongs to another tap",
        ),
        (
            {"replication_key": BOOKMARK_KEY, "replication_key_value": "2099-01-01T00:00:00Z"},
            "is in the future",
        ),
    ],
)
def test_corrupt_or_foreign_state_is_one_clear_line(
    tmp_path: Path, fake: FakeHibob, bookmark: dict[str, Any], message: str
) -> None:
    run = run_tap(
        tmp_path,
        tap_config(fake),
        catalog=catalog(fake, "time_off_requests"),
        state={"bookmarks": {"time_off_requests": bookmark}},
    )
    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not fake.requests_to(CHANGES)


def test_a_bookmark_a_little_ahead_is_clamped_with_a_warning(
    tmp_path: Path, fake: FakeHibob
) -> None:
    ahead = rfc3339(datetime.now(UTC) + timedelta(minutes=30))
    state = {
        "bookmarks": {
            "time_off_requests": {"replication_key": BOOKMARK_KEY, "replication_key_value": ahead}
        }
    }
    run = sync(tmp_path, fake, state=state)
    assert "ahead of this run's start" in run.stderr
    [(since, to)] = windows_requested(fake)
    assert to - since == timedelta(hours=1)
    assert parse(bookmarks(run)[-1]) == to
