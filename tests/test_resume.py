"""Kill and resume: a signal in the middle of a sync, then a rerun with the last STATE.

A loader commits records up to the last STATE it received and hands that STATE back on the
next run; anything after it may be lost with the killed process. So the guarantee tested is:
records before the killed run's last STATE, plus everything the resumed run emits, cover
every record of a clean sync of the same tenant (at-least-once), and every STATE is JSON the
tap accepts again.

The kill is deterministic (helpers.run_until): the fake, running in this process, holds one
chosen request open (a time-off window, a table's second page, a batch of employees) and the
tap is killed once its output has reached the chosen point. Syncs select every stream the
fake serves, so resuming is proven end to end, not only for the stream that was interrupted.
The syncs to compare with run in-process; the killed ones are real processes.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob, Tenant
from fake_hibob import timeoff as fake_timeoff
from fake_hibob.server import Request
from tap_hibob import timeoff
from tests.helpers import (
    Gate,
    Keyed,
    Run,
    committed,
    discover,
    keyed,
    parse_time,
    quick_config,
    run_until,
    select,
    select_all,
    sync,
)

CHANGES = "/v1/timeoff/requests/changes"
LIFECYCLE = "/v1/bulk/people/lifecycle"
OVERLAP = timedelta(minutes=60)  # time_off_overlap_minutes' default


def assert_union_covers(clean: Keyed, *parts: Keyed) -> None:
    for stream, expected in clean.items():
        assert expected, f"{stream}: the clean sync has no records, nothing is proven"
        for key, record in expected.items():
            seen = [part[stream][key] for part in parts if key in part.get(stream, {})]
            assert seen, f"{stream}: record {key} lost across the kill"
            assert record in seen, f"{stream}: record {key} differs after resuming"


def bookmark_states(messages: list[dict[str, Any]]) -> int:
    """STATE messages so far that carry a time_off_requests bookmark."""
    return sum(
        1
        for m in messages
        if m["type"] == "STATE"
        and "replication_key_value" in m["value"]["bookmarks"].get("time_off_requests", {})
    )


def saw(kind: str, stream: str) -> Callable[[list[dict[str, Any]]], bool]:
    """`until` for run_until: a message of `kind` for `stream` has been written."""
    return lambda messages: any(m["type"] == kind and m.get("stream") == stream for m in messages)


def batch_read(request: Request) -> bool:
    """A people search reading a batch of employees (not an id listing)."""
    return request.path == "/v1/people/search" and "filters" in (request.body or {})


def every_stream(fake: FakeHibob, **config: Any) -> dict[str, Any]:
    return select_all(discover(quick_config(fake, **config)))


@pytest.fixture
def tenant() -> Tenant:
    return Tenant.generate(20, seed=8)


def test_kill_mid_time_off_backfill_then_resume(tenant: Tenant, tmp_path: Path) -> None:
    # 30 months back: five 6-month windows; the third is held open and the tap killed once
    # the first two are written with their STATE.
    start = (tenant.now - timedelta(days=900)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        config = quick_config(fake, start_date=start)
        catalog = every_stream(fake, start_date=start)
        fake.log.clear()
        clean_run = sync(config, catalog)
        clean_windows = len(fake.requests_to(CHANGES))
    assert clean_windows == 5

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        gate = Gate(fake, lambda r: r.path == CHANGES, nth=3)
        until = lambda messages: bookmark_states(messages) == 2  # noqa: E731
        killed = run_until(
            tmp_path, quick_config(fake, start_date=start), catalog, until, gate=gate
        )
    assert killed.returncode == -signal.SIGKILL
    kept, state = committed(killed)
    assert state is not None
    bookmark = state["bookmarks"]["time_off_requests"]
    assert bookmark["replication_key"] == timeoff.BOOKMARK_KEY
    assert kept.records("time_off_requests")  # two windows were read and committed
    assert kept.records("employees")  # the streams before it were done too

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        resumed = sync(quick_config(fake, start_date=start), catalog, state)
        spans = [
            (parse_time(r.arg("since") or ""), parse_time(r.arg("to") or ""))
            for r in fake.requests_to(CHANGES)
        ]
        everything = {
            (c["requestId"], c["changeType"])
            for c in fake_timeoff.visible_changes(
                fake, parse_time(start), spans[-1][1], pending=True
            )
        }
    # The resumed run starts at the bookmark less the overlap, not at start_date again: the
    # three unfinished windows.
    assert spans[0][0] == parse_time(bookmark["replication_key_value"]) - OVERLAP
    assert len(spans) == 3, spans
    changes = {
        (r["requestId"], r["changeType"])
        for r in kept.records("time_off_requests") + resumed.records("time_off_requests")
    }
    assert changes == everything

    assert_union_covers(keyed(clean_run)[0], keyed(kept)[0], keyed(resumed)[0])
    assert_state_accepted(resumed, catalog, tenant, start)


def test_kill_mid_table_walk_then_resume(tmp_path: Path) -> None:
    """Hold the lifecycle table's second page: the streams before it (in name order) are
    done, it is half read, the ones after it have not been written."""
    tenant = Tenant.generate(230, seed=9)  # > 200 lifecycle rows: at least two pages
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        # Balances cost one request per employee and policy type: left out at this size.
        catalog = select(discover(quick_config(fake)), lambda n: n != "time_off_balances")
        clean_run = sync(quick_config(fake), catalog)

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        gate = Gate(fake, lambda r: r.path == LIFECYCLE and "cursor" in r.query, nth=1)
        # Killed once the tap writes lifecycle_history: every stream before it is written.
        until = saw("SCHEMA", "lifecycle_history")
        killed = run_until(tmp_path, quick_config(fake), catalog, until, gate=gate)
    kept, state = committed(killed)
    # Streams sync in name order: the tables before lifecycle_history are done.
    assert kept.records("employment_history")
    assert not kept.records("time_off_requests") and not kept.records("work_history")
    assert state is not None

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        resumed = sync(quick_config(fake), catalog, state)
    assert resumed.records("lifecycle_history")  # the interrupted table is read again
    assert_union_covers(keyed(clean_run)[0], keyed(kept)[0], keyed(resumed)[0])


def assert_state_accepted(run: Run, catalog: dict[str, Any], tenant: Tenant, start: str) -> None:
    """Every STATE is a JSON object the tap takes back; the final one ends a next run's
    backfill at one overlap window."""
    assert run.states and all(isinstance(s, dict) for s in run.states)
    only_changes = select(catalog, ["time_off_requests"])
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        sync(quick_config(fake, start_date=start), only_changes, run.states[-1])
        assert len(fake.requests_to(CHANGES)) == 1


def test_activate_version_only_after_a_complete_stream(tmp_path: Path) -> None:
    """ACTIVATE_VERSION tells the loader to delete rows of older versions. Sent before the
    records (the SDK's habit), a run killed mid-stream leaves that table emptied; it must
    come once, after the stream's last record, and never from an interrupted stream, nor
    from one whose rows must be kept (time_off_balances' daily snapshots)."""
    tenant = Tenant.generate(20, seed=10)
    settings = {"emit_activate_version_messages": True, "people_batch_size": 5}
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog = every_stream(fake)
        complete = sync(quick_config(fake, **settings), catalog)
    full_table = {
        e["tap_stream_id"] for e in catalog["streams"] if e["replication_method"] == "FULL_TABLE"
    }
    activated = {m["stream"] for m in complete.of("ACTIVATE_VERSION")}
    assert activated == full_table - {"time_off_balances"}
    for stream in activated:
        kinds = [m["type"] for m in complete.messages if m.get("stream") == stream]
        [version] = complete.of("ACTIVATE_VERSION", stream)
        last_record = max(i for i, kind in enumerate(kinds) if kind == "RECORD")
        assert kinds.index("ACTIVATE_VERSION") > last_record, stream
        versions = {m.get("version") for m in complete.of("RECORD", stream)}
        assert versions == {version["version"]}, stream

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        # Hold the second batch of employees; kill once the first batch is written.
        gate = Gate(fake, batch_read, nth=2)
        until = saw("RECORD", "employees")
        killed = run_until(tmp_path, quick_config(fake, **settings), catalog, until, gate=gate)
    assert killed.records("employees")  # the first batch went out
    assert not killed.of("ACTIVATE_VERSION", "employees")


def test_sigterm_is_a_failed_run_not_a_success(tmp_path: Path) -> None:
    """Schedulers stop a run that overruns with SIGTERM. The SDK exits 0 on it, so a half
    sync would be recorded as a good one; it must exit 128 + 15, write the last consistent
    STATE, and activate nothing it did not finish."""
    tenant = Tenant.generate(12, seed=11)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        config = quick_config(fake, emit_activate_version_messages=True, people_batch_size=4)
        catalog = every_stream(fake)
        gate = Gate(fake, batch_read, nth=2)
        stopped = run_until(
            tmp_path, config, catalog, saw("RECORD", "employees"), gate=gate, sig=signal.SIGTERM
        )
        resumed = sync(config, catalog, stopped.states[-1])
    assert stopped.returncode == 128 + signal.SIGTERM
    [line] = stopped.errors
    assert "Stopped by SIGTERM before the sync finished" in line
    assert "Traceback" not in stopped.stderr
    assert stopped.records("employees")
    assert not stopped.of("ACTIVATE_VERSION", "employees")
    # The handler writes the state it holds (unless it equals the last one written): a
    # loader commits up to the last STATE and the next run resumes from it.
    assert stopped.states
    assert resumed.records("employees")
