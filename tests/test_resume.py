"""Kill and resume: SIGKILL in the middle of a sync, rerun with the last STATE it printed.

A loader commits records up to the last STATE it received and hands that STATE back on the
next run; anything after it may be lost with the killed process. So the guarantee tested is:
records before the killed run's last STATE, plus everything the resumed run emits, cover
every record of a clean sync of the same tenant (at-least-once), and every STATE is JSON the
tap accepts again.

The kill is deterministic: the fake, running in this process, holds one chosen request open
(the third time-off window, or a table's second page) and the test kills the tap while it
waits for the answer. Syncs select every stream, so resuming is proven end to end, not only
for the stream that was interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob, Tenant
from fake_hibob.server import Reply, Request
from tap_hibob import timeoff
from tests.conftest import ROOT, CliRun, run_tap
from tests.test_faults import Keyed, config_for, discover, keyed, select

CHANGES = "/v1/timeoff/requests/changes"
LIFECYCLE = "/v1/bulk/people/lifecycle"


class Gate:
    """Holds the n-th request matching `match` open until released."""

    def __init__(self, fake: FakeHibob, match: Callable[[Request], bool], nth: int) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        self._match, self._nth, self._seen = match, nth, 0
        self._lock = threading.Lock()
        for route in fake.routes:
            route.handler = self._wrap(route.handler)

    def _wrap(self, handler: Any) -> Any:
        def wrapped(app: FakeHibob, request: Request, match: Any) -> Reply:
            if self._match(request):
                with self._lock:
                    self._seen += 1
                    hold = self._seen == self._nth
                if hold:
                    self.reached.set()
                    self.released.wait(timeout=60)
            return handler(app, request, match)

        return wrapped


def run_until_gate(
    tmp_path: Path,
    config: dict[str, Any],
    catalog: dict[str, Any],
    gate: Gate,
    sig: int = signal.SIGKILL,
) -> CliRun:
    """Start the real CLI, signal it (SIGKILL) once it waits at the gate, return its output."""
    paths = {name: tmp_path / f"{name}.json" for name in ("config", "catalog")}
    paths["config"].write_text(json.dumps(config))
    paths["catalog"].write_text(json.dumps(catalog))
    argv = [sys.executable, "-m", "tap_hibob", "--config", str(paths["config"])]
    proc = subprocess.Popen(
        [*argv, "--catalog", str(paths["catalog"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    output: dict[str, str] = {}
    # Read both pipes all along, so a full pipe never stalls the tap before the gate.
    readers = [
        threading.Thread(target=lambda n=n, s=s: output.__setitem__(n, s.read()))
        for n, s in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    try:
        assert gate.reached.wait(timeout=120), "the sync never reached the request to hold"
        os.kill(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait(timeout=30)
    finally:
        gate.released.set()  # a SIGTERM'd tap handles the signal once the answer arrives
        if sig != signal.SIGKILL:
            proc.wait(timeout=30)
        if proc.poll() is None:
            proc.kill()
        for reader in readers:
            reader.join(timeout=30)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    return CliRun(proc.returncode, output.get("out", ""), output.get("err", ""))


def committed(run: CliRun) -> tuple[CliRun, dict[str, Any] | None]:
    """The part of a killed run a loader has committed (up to its last STATE), and that STATE."""
    lines = run.stdout.splitlines()
    last = max((i for i, line in enumerate(lines) if '"type":"STATE"' in line), default=-1)
    if last < 0:
        return CliRun(0, "", ""), None
    kept = "\n".join(lines[: last + 1])
    return CliRun(0, kept, ""), json.loads(lines[last])["value"]


def assert_union_covers(clean: Keyed, *parts: Keyed) -> None:
    for stream, expected in clean.items():
        assert expected, f"{stream}: the clean sync has no records, nothing is proven"
        for key, record in expected.items():
            seen = [part[stream][key] for part in parts if key in part.get(stream, {})]
            assert seen, f"{stream}: record {key} lost across the kill"
            assert record in seen, f"{stream}: record {key} differs after resuming"


@pytest.fixture
def tenant() -> Tenant:
    return Tenant.generate(20, seed=8)


def test_kill_mid_time_off_backfill_then_resume(tenant: Tenant, tmp_path: Path) -> None:
    # 30 months back: five 6-month windows; the third is held open and the tap killed.
    start = (tenant.now - timedelta(days=900)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        config = config_for(fake, start_date=start)
        catalog = select(discover(tmp_path, config))
        clean_run = run_tap(tmp_path, config, catalog=catalog)
        clean_windows = len(fake.requests_to(CHANGES))
    assert clean_run.returncode == 0, clean_run.stderr
    assert clean_windows == 5

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        gate = Gate(fake, lambda r: r.path == CHANGES, nth=3)
        killed = run_until_gate(tmp_path, config_for(fake, start_date=start), catalog, gate)
    kept, state = committed(killed)
    assert state is not None
    bookmark = state["bookmarks"]["time_off_requests"]
    assert bookmark["replication_key"] == timeoff.BOOKMARK_KEY
    assert kept.records("time_off_requests")  # two windows were read and committed
    assert kept.records("employees")  # the streams before it were done too

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        resumed = run_tap(
            tmp_path, config_for(fake, start_date=start), state=state, catalog=catalog
        )
        windows = [r.arg("since") for r in fake.requests_to(CHANGES)]
    assert resumed.returncode == 0, resumed.stderr
    # The resumed run starts at the bookmark (less the overlap), not at start_date again.
    assert len(windows) == 3, windows
    assert windows[0] is not None and windows[0] < bookmark["replication_key_value"]

    assert_union_covers(keyed(clean_run)[0], keyed(kept)[0], keyed(resumed)[0])
    assert_state_accepted(tmp_path, resumed, catalog, tenant, start)


def test_kill_mid_table_walk_then_resume(tmp_path: Path) -> None:
    """Hold the lifecycle table's second page: the streams before it (in name order) are
    done, it is half read, the ones after it have not started."""
    tenant = Tenant.generate(230, seed=9)  # > 200 lifecycle rows: at least two pages
    # Balances cost one request per employee and policy type: left out at this size.
    wanted = select_all_but("time_off_balances")
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog = wanted(discover(tmp_path, config_for(fake)))
        clean_run = run_tap(tmp_path, config_for(fake), catalog=catalog)
    assert clean_run.returncode == 0, clean_run.stderr

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        gate = Gate(fake, lambda r: r.path == LIFECYCLE and "cursor" in r.query, nth=1)
        killed = run_until_gate(tmp_path, config_for(fake), catalog, gate)
    kept, state = committed(killed)
    # Streams sync in name order: the tables before lifecycle_history are done.
    assert kept.records("employment_history")
    assert not kept.records("time_off_requests") and not kept.records("work_history")
    assert state is not None

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        resumed = run_tap(tmp_path, config_for(fake), state=state, catalog=catalog)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.records("lifecycle_history")  # the interrupted table is read again
    assert_union_covers(keyed(clean_run)[0], keyed(kept)[0], keyed(resumed)[0])


def select_all_but(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda catalog: select(catalog, lambda name: name not in names)


def assert_state_accepted(
    tmp_path: Path, run: CliRun, catalog: dict[str, Any], tenant: Tenant, start: str
) -> None:
    """Every STATE is a JSON object the tap takes back; the final one ends a next run's
    backfill at one overlap window."""
    assert run.states and all(isinstance(s, dict) for s in run.states)
    only_changes = select(catalog, lambda name: name == "time_off_requests")
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        again = run_tap(
            tmp_path, config_for(fake, start_date=start), state=run.states[-1], catalog=only_changes
        )
        assert len(fake.requests_to(CHANGES)) == 1
    assert again.returncode == 0, again.stderr


def test_activate_version_only_after_a_complete_stream(tmp_path: Path) -> None:
    """ACTIVATE_VERSION tells the loader to delete rows of older versions. Sent before the
    records (the SDK's habit), a run killed mid-stream leaves that table emptied; it must
    come once, after the stream's last record, and never from an interrupted stream."""
    tenant = Tenant.generate(20, seed=10)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        config = config_for(fake, emit_activate_version_messages=True, people_batch_size=5)
        catalog = select(discover(tmp_path, config))
        complete = run_tap(tmp_path, config, catalog=catalog)
    assert complete.returncode == 0, complete.stderr
    full_table = {
        e["tap_stream_id"] for e in catalog["streams"] if e["replication_method"] == "FULL_TABLE"
    }
    for stream in full_table:
        kinds = [m["type"] for m in complete.messages if m.get("stream") == stream]
        records = [m for m in complete.messages if m["type"] == "RECORD" and m["stream"] == stream]
        versions = [
            m
            for m in complete.messages
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
        ]
        assert len(versions) == 1, stream
        last_record = max(i for i, kind in enumerate(kinds) if kind == "RECORD")
        assert kinds.index("ACTIVATE_VERSION") > last_record, stream
        assert {r.get("version") for r in records} == {versions[0]["version"]}, stream

    with FakeHibob(tenant, window_seconds=1.0) as fake:
        # ids, then batches of 5: hold the second batch of employees.
        gate = Gate(fake, lambda r: r.path == "/v1/people/search", nth=3)
        killed = run_until_gate(tmp_path, config_for(fake, **_without_url(config)), catalog, gate)
    assert killed.records("employees")  # the first batch went out
    assert not [
        m for m in killed.messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "employees"
    ]


def _without_url(config: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in config.items()
        if k not in ("api_url", "service_user_id", "service_user_token")
    }


def test_sigterm_is_a_failed_run_not_a_success(tmp_path: Path) -> None:
    """Schedulers stop a run that overruns with SIGTERM. The SDK exits 0 on it, so a half
    sync would be recorded as a good one; it must exit non-zero and activate nothing."""
    tenant = Tenant.generate(12, seed=11)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        config = config_for(fake, emit_activate_version_messages=True, people_batch_size=4)
        catalog = select(discover(tmp_path, config))
        gate = Gate(fake, lambda r: r.path == "/v1/people/search", nth=3)
        stopped = run_until_gate(tmp_path, config, catalog, gate, sig=signal.SIGTERM)
        resumed = run_tap(tmp_path, config, state=stopped.states[-1], catalog=catalog)
    assert stopped.returncode == 128 + signal.SIGTERM
    [line] = [line for line in stopped.stderr.splitlines() if "| ERROR " in line]
    assert "Stopped by SIGTERM before the sync finished" in line
    assert "Traceback" not in stopped.stderr
    assert stopped.records("employees")
    assert not [
        m
        for m in stopped.messages
        if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "employees"
    ]
    assert resumed.returncode == 0, resumed.stderr
