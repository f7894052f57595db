"""Faults: a sync through 5xx, resets, truncated bodies, stalls and 429 bursts loses nothing.

Every stream the tap discovers is selected (opt-in ones included) and synced twice against the
same tenant: once fault-free, once through HiBob misbehaving. The records, keyed by each
stream's primary key, must be equal, and full-table streams must hold no duplicate key (a
retried page must not be emitted twice). Besides the random faults at the rates of issue 9,
the first request to every endpoint meets one scripted fault, so each endpoint's retry path
runs in every seed whatever the dice say.

The helpers at the top are shared by the other reliability tests (resume, secrets, odd data).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob, Faults, Tenant
from fake_hibob.server import Reply, Request
from tap_hibob import tables
from tests.conftest import CliRun, run_tap, tap_config

# Settings that keep a test fast without patching the subprocess: a short rate-limit window
# on both sides, a 1 s read timeout (the shortest the setting allows) and short backoff waits.
FAST = {
    "rate_limit_window_seconds": 1,
    "request_timeout": 1,
    "backoff_max_seconds": 0.05,
}
FAULT_KINDS = ("error", "reset", "truncate", "stall")
QUICK_FAULTS = ("error", "reset", "truncate")
TABLE_STREAMS = tuple(stream.name for stream in tables.STREAMS)
SEEDS = (11, 12, 13)

Keyed = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


# Shared helpers ------------------------------------------------------------------------------


def discover(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    run = run_tap(tmp_path, config, "--discover")
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def select(catalog: dict[str, Any], names: Callable[[str], bool] = lambda _: True) -> dict:
    """A copy of the catalog with exactly the streams `names` accepts selected."""
    catalog = json.loads(json.dumps(catalog))
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = names(entry["tap_stream_id"])
    return catalog


def stream_names(catalog: dict[str, Any]) -> list[str]:
    return [entry["tap_stream_id"] for entry in catalog["streams"]]


def full_table_streams(catalog: dict[str, Any]) -> set[str]:
    return {
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        if entry.get("replication_method", "FULL_TABLE") == "FULL_TABLE"
    }


def key_properties(run: CliRun) -> dict[str, list[str]]:
    return {m["stream"]: m["key_properties"] for m in run.messages if m["type"] == "SCHEMA"}


def keyed(run: CliRun) -> tuple[Keyed, Counter[str]]:
    """Records per stream by primary key (last one wins), and duplicate keys per stream."""
    keys = key_properties(run)
    out: Keyed = {stream: {} for stream in keys}
    duplicates: Counter[str] = Counter()
    for message in run.messages:
        if message["type"] != "RECORD":
            continue
        stream, record = message["stream"], message["record"]
        key = tuple(json.dumps(record.get(k), sort_keys=True) for k in keys[stream])
        if key in out[stream]:
            duplicates[stream] += 1
        out[stream][key] = record
    return out, duplicates


def transform_replies(
    fake: FakeHibob,
    change: Callable[[Request, Any], Any],
    *,
    only: Callable[[Request], bool] = lambda _: True,
) -> None:
    """Rewrite the JSON of every 200 the domain routes send (the fake runs in-process)."""

    def wrap(handler: Any) -> Any:
        def wrapped(app: FakeHibob, request: Request, match: Any) -> Reply:
            reply: Reply = handler(app, request, match)
            if reply.status == 200 and "json" in reply.content_type and only(request):
                payload = change(request, json.loads(reply.body))
                reply.body = json.dumps(payload).encode()
            return reply

        return wrapped

    for route in fake.routes:
        route.handler = wrap(route.handler)


def config_for(fake: FakeHibob, **extra: Any) -> dict[str, Any]:
    # A fixed start_date so two runs seconds apart read the same time-off windows.
    start = (fake.tenant.now - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return tap_config(fake, **{"start_date": start, **FAST, **extra})


def error_lines(run: CliRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "| ERROR " in line]


# A fake whose first request to each endpoint always fails ------------------------------------


class ScriptedFaults(FakeHibob):
    """Random faults as configured, plus scripted ones: the first request to each endpoint
    fails, and so does its first request that carries a page cursor (a retried page 2 must
    resend the same cursor and must not emit page 2 twice).

    The first scripted fault is a stall; then 5xx, reset and truncation rotate in the order
    the tap meets the endpoints, so a full sync puts each on several endpoints.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._current = threading.local()
        self.scripted: dict[tuple[str, bool], str] = {}

    def handle(self, request: Request) -> Reply | None:
        route, _ = self._match(request)
        endpoint = route.endpoint if route else "unknown"
        self._current.key = (endpoint, "cursor" in request.query)
        return super().handle(request)

    def _roll_fault(self) -> str:
        rolled = super()._roll_fault()  # always roll, so the seeded sequence stays stable
        key = self._current.key
        with self._lock:
            if key not in self.scripted:
                # One scripted stall is enough (each costs a full request_timeout).
                n = len(self.scripted)
                self.scripted[key] = "stall" if n == 0 else QUICK_FAULTS[(n - 1) % 3]
                return self.scripted[key]
        return rolled


# The tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return Tenant.generate(20, seed=5)


@pytest.fixture(scope="module")
def clean(tenant: Tenant, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fault-free sync every faulty one is compared with."""
    tmp = tmp_path_factory.mktemp("clean")
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog = select(discover(tmp, config_for(fake)))
        run = run_tap(tmp, config_for(fake), catalog=catalog)
        requests = len(fake.log)
    assert run.returncode == 0, run.stderr
    records, duplicates = keyed(run)
    return {"catalog": catalog, "records": records, "duplicates": duplicates, "requests": requests}


def test_clean_sync_covers_every_stream(clean: dict[str, Any]) -> None:
    """The baseline is worth comparing with: every stream selected, records in nearly all."""
    names = stream_names(clean["catalog"])
    assert set(clean["records"]) == set(names)
    empty = [name for name in names if not clean["records"][name]]
    assert not empty, f"streams without records in the baseline: {empty}"
    assert not clean["duplicates"], clean["duplicates"]


@pytest.mark.parametrize("seed", SEEDS)
def test_faults_lose_and_duplicate_nothing(
    seed: int, tenant: Tenant, clean: dict[str, Any], tmp_path: Path
) -> None:
    faults = Faults(
        error_rate=0.05,
        reset_rate=0.02,
        truncate_rate=0.01,
        stall_rate=0.01,
        stall_seconds=1.5,  # longer than request_timeout (1 s): the tap must time out
        burst_429=2,
        burst_reset_seconds=0.1,
        seed=seed,
    )
    with ScriptedFaults(tenant, window_seconds=1.0, faults=faults) as fake:
        run = run_tap(tmp_path, config_for(fake), catalog=clean["catalog"])
        log = list(fake.log)
    assert run.returncode == 0, error_lines(run) or run.stderr[-3000:]

    injected = Counter(r.fault for r in log if r.fault)
    assert set(injected) == set(FAULT_KINDS), injected
    assert sum(r.status == 429 for r in log) >= 2
    retries = [line for line in run.stderr.splitlines() if "Retrying" in line]
    assert len(retries) >= sum(injected.values()) + 2  # every fault cost a retry, none hidden

    records, duplicates = keyed(run)
    full_table = full_table_streams(clean["catalog"])
    assert not {s: n for s, n in duplicates.items() if s in full_table}, duplicates
    for stream, expected in clean["records"].items():
        got = records.get(stream, {})
        assert got.keys() == expected.keys(), (
            f"{stream}: missing {len(expected.keys() - got.keys())}, "
            f"extra {len(got.keys() - expected.keys())}"
        )
        changed = [k for k in expected if got[k] != expected[k]]
        assert not changed, f"{stream}: {len(changed)} records differ, e.g. {changed[:1]}"


def test_faults_mid_table_walk_lose_nothing(tmp_path: Path) -> None:
    """Tables of a few hundred employees take several 200-row pages: fault every endpoint's
    first page and first cursored page, compare with a clean walk of the same tenant."""
    tenant = Tenant.generate(230, seed=6)
    wanted = {"employees", *TABLE_STREAMS}
    faults = Faults(error_rate=0.05, reset_rate=0.02, truncate_rate=0.01, seed=3)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog = select(discover(tmp_path, config_for(fake)), lambda name: name in wanted)
        clean_run = run_tap(tmp_path, config_for(fake), catalog=catalog)
        clean_pages = Counter(r.endpoint for r in fake.log if "cursor" in r.query)
    with ScriptedFaults(tenant, window_seconds=1.0, faults=faults) as fake:
        run = run_tap(tmp_path, config_for(fake), catalog=catalog)
        scripted = dict(fake.scripted)
    assert clean_run.returncode == 0, clean_run.stderr
    assert run.returncode == 0, error_lines(run) or run.stderr[-3000:]
    paged = {endpoint for endpoint, n in clean_pages.items() if n}
    assert len(paged) >= 3, clean_pages  # the walk really has second pages
    assert {endpoint for endpoint, cursored in scripted if cursored} == paged

    expected, _ = keyed(clean_run)
    records, duplicates = keyed(run)
    assert not duplicates, duplicates
    assert set(records) == wanted
    for stream in wanted:
        assert records[stream] == expected[stream], stream
        assert expected[stream], stream


def test_faults_past_max_retries_stop_the_run_with_one_line(
    tenant: Tenant, clean: dict[str, Any], tmp_path: Path
) -> None:
    """When HiBob stays broken the run stops (no partial success reported as success)."""
    with FakeHibob(tenant, faults=Faults(error_rate=1.0)) as fake:
        run = run_tap(tmp_path, config_for(fake, max_retries=2), catalog=clean["catalog"])
        log = list(fake.log)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert any("gave up after the configured max_retries" in line for line in error_lines(run))
    assert len(log) == 3  # the first request and 2 retries, then nothing more
    assert not [m for m in run.messages if m["type"] == "STATE"]


def test_an_empty_200_is_retried_not_read_as_no_data(tmp_path: Path) -> None:
    """An answer cut off before its body is not an empty tenant: read as "no tasks", a
    full-table stream with ACTIVATE_VERSION would make the loader delete every row."""
    with FakeHibob(window_seconds=1.0) as fake:
        catalog = select(discover(tmp_path, config_for(fake)), lambda name: name == "tasks")
        expected = run_tap(tmp_path, config_for(fake), catalog=catalog).records("tasks")
        calls = Counter[str]()
        [route] = [route for route in fake.routes if route.endpoint == "tasks"]
        inner = route.handler

        def empty_first(app: FakeHibob, request: Request, match: Any) -> Reply:
            calls["tasks"] += 1
            return Reply(200, b"") if calls["tasks"] == 1 else inner(app, request, match)

        route.handler = empty_first
        run = run_tap(tmp_path, config_for(fake), catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert expected and run.records("tasks") == expected
    assert calls["tasks"] == 2
    assert any("empty body for GET /v1/tasks" in line for line in run.stderr.splitlines())
