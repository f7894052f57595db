"""`time_off_requests` against the fake HiBob: windows of at most 6 months from start_date
or the bookmark minus the overlap, STATE after every window, pending changes by default,
permissions. (Kill and resume: test_resume.py; corrupt state: test_bad_input.py.)
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fake_hibob import PROFILES, FakeHibob
from fake_hibob import timeoff as fake_timeoff
from fake_hibob.profiles import PENDING, WHOS_OUT
from tap_hibob.timeoff import BOOKMARK_KEY
from tap_hibob.timeutil import add_months
from tests.helpers import (
    Run,
    discover,
    entry,
    parse_time,
    rfc3339,
    root_metadata,
    run_tap,
    select,
    sync,
    tap_config,
)

CHANGES = "/v1/timeoff/requests/changes"
Key = tuple[int, str]


def changes_catalog(fake: FakeHibob) -> dict[str, Any]:
    return select(discover(tap_config(fake)), ["time_off_requests"])


def keys(records: list[dict[str, Any]]) -> list[Key]:
    return [(r["requestId"], r["changeType"]) for r in records]


def windows_requested(fake: FakeHibob) -> list[tuple[datetime, datetime]]:
    return [
        (parse_time(r.arg("since") or ""), parse_time(r.arg("to") or ""))
        for r in fake.requests_to(CHANGES, status=200)
    ]


def bookmarks(run: Run) -> list[str]:
    """The time_off_requests bookmark of each STATE message, in order."""
    found = []
    for state in run.states:
        stream_state = state.get("bookmarks", {}).get("time_off_requests", {})
        if "replication_key_value" in stream_state:
            found.append(stream_state["replication_key_value"])
    return found


def expected(fake: FakeHibob, since: datetime, to: datetime, **flags: bool) -> set[Key]:
    flags.setdefault("pending", True)  # the default since issue 13
    return set(keys(fake_timeoff.visible_changes(fake, since, to, **flags)))


def changes_sync(fake: FakeHibob, *, state: Any = None, **config: Any) -> Run:
    return sync(tap_config(fake, **config), changes_catalog(fake), state)


# First sync --------------------------------------------------------------------------------


def test_first_sync_reads_30_months_in_five_windows_with_state_after_each(
    fake: FakeHibob,
) -> None:
    start = parse_time(rfc3339(add_months(fake.tenant.now, -30) + timedelta(hours=1)))
    run = changes_sync(fake, start_date=rfc3339(start))

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


def test_records_follow_the_schema_conventions(fake: FakeHibob) -> None:
    run = changes_sync(fake, start_date=rfc3339(add_months(fake.tenant.now, -30)))
    records = run.records("time_off_requests")
    assert records
    for record in records:
        assert isinstance(record["requestId"], int)
        assert isinstance(record["employeeId"], str) and len(record["employeeId"]) == 19
        assert record["createdOn"].endswith("Z")
        parse_time(record["createdOn"])
        assert isinstance(record["totalDuration"], int | float)
    [schema] = run.of("SCHEMA")
    assert schema["key_properties"] == ["requestId", "changeType"]
    assert "bookmark_properties" not in schema or not schema["bookmark_properties"]


def test_catalog_marks_time_off_requests_incremental_without_replication_key(
    fake: FakeHibob,
) -> None:
    catalog = changes_catalog(fake)
    root = root_metadata(catalog, "time_off_requests")
    assert entry(catalog, "time_off_requests")["replication_method"] == "INCREMENTAL"
    assert root["forced-replication-method"] == "INCREMENTAL"
    assert not root.get("valid-replication-keys")


def test_no_activate_version_even_when_enabled(fake: FakeHibob) -> None:
    # ACTIVATE_VERSION would make loaders delete every change snapshot not re-read this run.
    run = changes_sync(fake, emit_activate_version_messages=True)
    assert not run.of("ACTIVATE_VERSION")
    assert run.records("time_off_requests")


def test_default_start_date_is_six_months_back(fake: FakeHibob) -> None:
    changes_sync(fake)
    [(since, to)] = windows_requested(fake)
    # Six calendar months (181 to 184 days), HiBob's own limit: one window, no more.
    assert abs(since - add_months(to, -6)) < timedelta(seconds=5)


# Incremental runs --------------------------------------------------------------------------


def test_second_run_reads_only_from_the_bookmark_minus_the_overlap(fake: FakeHibob) -> None:
    first = changes_sync(fake, start_date=rfc3339(fake.tenant.now - timedelta(days=60)))
    bookmark = parse_time(bookmarks(first)[-1])
    before = len(fake.requests_to(CHANGES))

    # A change HiBob only shows after the first run read past it (read-after-write lag),
    # plus fresh changes after the bookmark.
    late = fake_timeoff.add_changes(fake, created=1, at=bookmark - timedelta(minutes=20))
    fresh = fake_timeoff.add_changes(fake, created=3, canceled=2)

    second = changes_sync(fake, state=first.states[-1])
    [(since, to)] = windows_requested(fake)[before:]
    assert since == bookmark - timedelta(minutes=60)
    assert to > bookmark

    emitted = set(keys(second.records("time_off_requests")))
    new = set(keys(late + fresh))
    assert new <= emitted
    # Besides the new ones, only what lies in the overlap is read again.
    assert emitted - new == expected(fake, since, bookmark) - new
    assert parse_time(bookmarks(second)[-1]) == to


def test_overlap_is_configurable(fake: FakeHibob) -> None:
    first = changes_sync(fake)
    bookmark = parse_time(bookmarks(first)[-1])
    before = len(fake.requests_to(CHANGES))
    changes_sync(fake, state=first.states[-1], time_off_overlap_minutes=0)
    assert windows_requested(fake)[before][0] == bookmark


def test_a_bookmark_older_than_six_months_still_uses_windows(fake: FakeHibob) -> None:
    old = parse_time(rfc3339(fake.tenant.now - timedelta(days=400)))
    state = {
        "bookmarks": {
            "time_off_requests": {
                "replication_key": BOOKMARK_KEY,
                "replication_key_value": rfc3339(old),
            }
        }
    }
    run = changes_sync(fake, state=state, start_date="2026-01-01T00:00:00Z")
    spans = windows_requested(fake)
    assert len(spans) == 3
    assert spans[0][0] == old - timedelta(hours=1)  # the bookmark wins over start_date
    assert set(keys(run.records("time_off_requests"))) == expected(fake, spans[0][0], spans[-1][1])


def test_full_table_in_the_catalog_rereads_from_start_date(fake: FakeHibob) -> None:
    start = parse_time(rfc3339(fake.tenant.now - timedelta(days=90)))
    state = {
        "bookmarks": {
            "time_off_requests": {
                "replication_key": BOOKMARK_KEY,
                "replication_key_value": rfc3339(fake.tenant.now),
            }
        }
    }
    full = changes_catalog(fake)
    entry(full, "time_off_requests")["replication_method"] = "FULL_TABLE"
    run = sync(tap_config(fake, start_date=rfc3339(start)), full, state)
    assert run.said("FULL_TABLE in the catalog: ignoring state", level="INFO")
    [(since, to)] = windows_requested(fake)
    assert since == start
    assert set(keys(run.records("time_off_requests"))) == expected(fake, start, to)


# Pending, private, permissions -------------------------------------------------------------


def test_pending_changes_are_read_by_default_and_need_the_permission() -> None:
    """The usual setup grants "Timeoff > Requests", so include_pending is on by default;
    without the permission HiBob leaves pending changes out silently, and the tap says
    which permission is missing."""

    def kinds(profile: Any, **config: Any) -> tuple[Counter[str], Run]:
        with FakeHibob(profile=profile) as fake:
            start = rfc3339(add_months(fake.tenant.now, -30))
            run = changes_sync(fake, start_date=start, **config)
            flag = fake.requests_to(CHANGES)[0].arg("includePending")
        changes = Counter(r["changeType"] for r in run.records("time_off_requests"))
        return changes + Counter([f"flag={flag}"]), run

    default, run = kinds("seed")
    assert default["Pending"] > 0 and default["flag=true"] == 1
    assert not run.said("no Pending one")
    without, _ = kinds("seed", include_pending=False)
    assert without["Pending"] == 0 and without["flag=None"] == 1
    no_permission = replace(
        PROFILES["seed"], name="np", permissions=PROFILES["seed"].permissions - {PENDING}
    )
    silent, run = kinds(no_permission)
    assert silent["Pending"] == 0 and silent["flag=true"] == 1
    [hint] = run.said("no Pending one although include_pending is on")
    assert PENDING in hint


def test_pk_is_unique_with_pending_edits_and_cancellations() -> None:
    with FakeHibob(employees=60, profile="seed") as fake:
        start = add_months(fake.tenant.now, -30)
        run = changes_sync(fake, start_date=rfc3339(start))
    emitted = keys(run.records("time_off_requests"))
    assert len(emitted) == len(set(emitted)) > 100
    kinds = {kind for _, kind in emitted}
    assert {"Created", "Canceled", "Deleted", "Pending"} <= kinds
    # An edited request shows up as its old id (Deleted) and its new id (Created).
    edited = [r for r in run.records("time_off_requests") if r["previousRequestId"]]
    assert edited
    assert all((r["previousRequestId"], "Deleted") in set(emitted) for r in edited)


def test_missing_whos_out_permission_skips_the_stream_with_one_clear_line(
    tmp_path: Path,
) -> None:
    profile = replace(
        PROFILES["seed"], name="nw", permissions=PROFILES["seed"].permissions - {WHOS_OUT}
    )
    with FakeHibob(profile=profile) as fake:
        catalog = select(discover(tap_config(fake)), ["time_off_requests", "tasks"])
        run = run_tap(tmp_path, tap_config(fake), catalog=catalog)
        assert len(fake.requests_to(CHANGES)) == 1  # a 403 is never retried
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = [line for line in run.errors if "'time_off_requests'" in line]
    assert WHOS_OUT in line
    [summary] = [line for line in run.errors if "  - time_off_requests: " in line]
    assert "GET /v1/timeoff/requests/changes (403)" in summary and WHOS_OUT in summary
    assert run.records("tasks")  # the other stream still synced
    assert bookmarks(run) == []  # no bookmark moves for a stream that read nothing


# A bookmark from a clock running ahead ----------------------------------------------


def test_a_bookmark_a_little_ahead_is_clamped_with_a_warning(fake: FakeHibob) -> None:
    ahead = rfc3339(datetime.now(UTC) + timedelta(minutes=30))
    state = {
        "bookmarks": {
            "time_off_requests": {"replication_key": BOOKMARK_KEY, "replication_key_value": ahead}
        }
    }
    run = changes_sync(fake, state=state)
    assert len(run.said("ahead of this run's start")) == 1
    [(since, to)] = windows_requested(fake)
    assert to - since == timedelta(hours=1)
    assert parse_time(bookmarks(run)[-1]) == to
