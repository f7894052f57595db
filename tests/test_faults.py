"""Faults: a sync through 5xx, resets, truncated bodies, stalls and 429 bursts loses nothing.

Every stream the fake serves is selected (opt-in ones included) and synced twice against the
same tenant: once fault-free, once through HiBob misbehaving. The records, keyed by each
stream's primary key, must be equal, and full-table streams must hold no duplicate key (a
retried page must not be emitted twice). Besides the random faults at the rates of issue 9,
the first request to every endpoint meets one scripted fault, so each endpoint's retry path
runs in every seed whatever the dice say.

Timing: the fault-free runs keep the default read timeout, so a busy machine cannot fail
them; the faulty runs time out after 2 s, against stalls of 4 s (a slow answer there is one
more retry, which the assertions allow).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob, Faults, Tenant
from fake_hibob.server import Reply, Request
from tap_hibob.endpoints import TABLES
from tests.helpers import (
    Run,
    ScriptedFaults,
    discover,
    keyed,
    quick_config,
    replace_route,
    run_tap,
    select,
    select_all,
    stream_names,
    sync,
)

FAULT_KINDS = ("error", "reset", "truncate", "stall")
TABLE_STREAMS = tuple(spec.stream for spec in TABLES.values() if spec.bulk)
SEEDS = (11, 12, 13)
#: Faulty runs only: a stall of STALL seconds must time out (and be retried).
TIMEOUT, STALL = 2, 4.0


def faulty_config(fake: FakeHibob, **extra: Any) -> dict[str, Any]:
    return quick_config(fake, request_timeout=TIMEOUT, **extra)


def full_table_streams(catalog: dict[str, Any]) -> set[str]:
    return {
        entry["tap_stream_id"]
        for entry in catalog["streams"]
        if entry.get("replication_method", "FULL_TABLE") == "FULL_TABLE"
    }


def retries(run: Run) -> list[str]:
    return run.said("Retrying")


# The tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return Tenant.generate(20, seed=5)


@pytest.fixture(scope="module")
def clean(tenant: Tenant) -> dict[str, Any]:
    """The fault-free sync every faulty one is compared with."""
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog = select_all(discover(quick_config(fake)))
        run = sync(quick_config(fake), catalog)
        requests = len(fake.log)
    records, duplicates = keyed(run)
    return {"catalog": catalog, "records": records, "duplicates": duplicates, "requests": requests}


def test_clean_sync_covers_every_stream(clean: dict[str, Any]) -> None:
    """The baseline is worth comparing with: every stream selected, records in every one."""
    names = [name for name in stream_names(clean["catalog"])]
    assert set(clean["records"]) == set(names)
    empty = [name for name in names if not clean["records"][name]]
    assert not empty, f"streams without records in the baseline: {empty}"
    assert not clean["duplicates"], clean["duplicates"]


@pytest.mark.parametrize("seed", SEEDS)
def test_faults_lose_and_duplicate_nothing(
    seed: int, tenant: Tenant, clean: dict[str, Any]
) -> None:
    faults = Faults(
        error_rate=0.05,
        reset_rate=0.02,
        truncate_rate=0.01,
        stall_rate=0.01,
        stall_seconds=STALL,  # longer than request_timeout: the tap must time out
        burst_429=2,
        burst_reset_seconds=0.1,
        seed=seed,
    )
    with ScriptedFaults(tenant, window_seconds=1.0, faults=faults) as fake:
        run = sync(faulty_config(fake), clean["catalog"], check=False)
        log = list(fake.log)
    assert run.returncode == 0, run.errors or run.stderr[-3000:]

    injected = Counter(r.fault for r in log if r.fault)
    assert set(injected) == set(FAULT_KINDS), injected
    assert sum(r.status == 429 for r in log) >= 2
    assert len(retries(run)) >= sum(injected.values()) + 2  # every fault cost a retry

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


def test_faults_mid_table_walk_lose_nothing() -> None:
    """Tables of a few hundred employees take several 200-row pages: fault every endpoint's
    first page and first cursored page, compare with a clean walk of the same tenant."""
    tenant = Tenant.generate(230, seed=6)
    wanted = {"employees", *TABLE_STREAMS}
    faults = Faults(error_rate=0.05, reset_rate=0.02, truncate_rate=0.01, seed=3)
    with FakeHibob(tenant, window_seconds=1.0) as fake:
        catalog = select(discover(quick_config(fake)), wanted)
        clean_run = sync(quick_config(fake), catalog)
        clean_pages = Counter(r.endpoint for r in fake.log if "cursor" in r.query)
    with ScriptedFaults(tenant, window_seconds=1.0, faults=faults) as fake:
        run = sync(faulty_config(fake), catalog, check=False)
        scripted = dict(fake.scripted)
    assert run.returncode == 0, run.errors or run.stderr[-3000:]
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
        run = run_tap(tmp_path, quick_config(fake, max_retries=2), catalog=clean["catalog"])
        log = list(fake.log)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.said("gave up after the configured max_retries", level="ERROR")
    assert len(log) == 3  # the first request and 2 retries, then nothing more
    assert not run.states


def test_an_empty_200_is_retried_not_read_as_no_data() -> None:
    """An answer cut off before its body is not an empty tenant: read as "no tasks", a
    full-table stream with ACTIVATE_VERSION would make the loader delete every row."""
    with FakeHibob(window_seconds=1.0) as fake:
        catalog = select(discover(quick_config(fake)), ["tasks"])
        expected = sync(quick_config(fake), catalog).records("tasks")
        calls = Counter[str]()

        def empty_first(app: FakeHibob, request: Request, match: Any) -> Reply:
            calls["tasks"] += 1
            return Reply(200, b"") if calls["tasks"] == 1 else inner(app, request, match)

        inner = replace_route(fake, "tasks", empty_first)
        run = sync(quick_config(fake), catalog)
    assert expected and run.records("tasks") == expected
    assert calls["tasks"] == 2
    assert run.said("empty body for GET /v1/tasks")
