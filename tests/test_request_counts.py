"""Exact HiBob requests per stream for a tenant of N = 1,000 employees.

Request counts decide how long a sync takes at HiBob's per-minute limits, and they are
deterministic, so they are asserted here (wall-clock never is; see benchmarks/). Each
expected count is a formula in tenant facts the fake knows independently of the tap:

- `employee_fields` and `employees` share one field-metadata read: 1
- `employees`: 1 id listing + ceil(N / B) batches x G field groups (B = 200, G = 1 here)
- `named_lists`, `tasks`, `whos_out`: 1 each
- each history table: max(1, ceil(R / 200)), R = rows the service user can see
- `time_off_requests`: ceil(M / 6) windows, M = months from start_date to now
- `time_off_policy_types`: 1 + P (the names, then each type's details)
- `time_off_balances`: 1 id listing of active employees + (1 if balance_policy_types is
  empty) + A x P', A = active employees, P' = policy types asked for

The fake's own rate limits are lifted so a 429 can never add a retry to the counts; the
tap still paces, on a 0.05 s window so pacing costs no test time.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob
from fake_hibob.people import field_specs
from fake_hibob.tables import expected_rows
from fake_hibob.timeoff import POLICY_TYPES
from tap_hibob import tables
from tests.conftest import run_tap, tap_config

N = 1000
BATCH = 200  # people_batch_size default
PAGE = 200  # bulk table page size the tap asks for
# Stream -> bulk path segment (tests/test_tables.py checks these against the design).
HISTORY_TABLES = {stream.name: stream.table for stream in tables.STREAMS}
# start_date 400 days back = 13 months and a few days: windows [0, 6), [6, 12), [12, 13+].
START_DAYS_BACK = 400
TIME_OFF_WINDOWS = 3


@pytest.fixture(scope="module")
def big() -> Iterator[FakeHibob]:
    with FakeHibob(employees=N) as app:
        app.limits.update({route.endpoint: 10**9 for route in app.routes})
        yield app


def _config(app: FakeHibob, **overrides: Any) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(days=START_DAYS_BACK)
    return tap_config(
        app,
        rate_limit_window_seconds=0.05,
        start_date=start.isoformat(),
        **overrides,
    )


def _select(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """Select exactly `streams` (their properties keep their default selection)."""
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def _default_streams(catalog: dict[str, Any]) -> set[str]:
    chosen = set()
    for entry in catalog["streams"]:
        root = next(i["metadata"] for i in entry["metadata"] if i["breadcrumb"] == [])
        if root.get("selected-by-default", True):
            chosen.add(entry["tap_stream_id"])
    return chosen


def _sync_counts(
    tmp_path: Path, app: FakeHibob, streams: set[str] | None, **overrides: Any
) -> tuple[Counter[str], Any]:
    """Requests per endpoint key of one CLI sync (discovery not counted)."""
    config = _config(app, **overrides)
    discovered = run_tap(tmp_path, config, "--discover")
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    catalog = json.loads(discovered.stdout)
    wanted = streams if streams is not None else _default_streams(catalog) | set(HISTORY_TABLES)
    before = len(app.requests_to())
    run = run_tap(tmp_path, config, catalog=_select(catalog, wanted))
    assert run.returncode == 0, run.stderr[-2000:]
    log = app.requests_to()[before:]
    assert {r.status for r in log} == {200}
    return Counter(r.endpoint for r in log), run


def test_default_streams_and_history_tables(tmp_path: Path, big: FakeHibob) -> None:
    visible = big.visible_employees()
    assert len(field_specs(big.tenant)) <= 400  # so G = 1 field group
    counts, run = _sync_counts(tmp_path, big, None)

    expected = {
        "fields_metadata": 1,  # shared by employee_fields and employees
        "people_search": 1 + math.ceil(len(visible) / BATCH) * 1,
        "named_lists": 1,
        "tasks": 1,
        "whosout": 1,
        "timeoff_changes": TIME_OFF_WINDOWS,
    }
    for stream, table in HISTORY_TABLES.items():
        rows = len(expected_rows(big, table))
        assert len(run.records(stream)) == rows
        expected[f"bulk_{table}"] = max(1, math.ceil(rows / PAGE))
    assert dict(counts) == expected
    # N = 1,000 as the formulas give it (asserted above; spelled out for the reader):
    assert len(visible) == N
    assert expected["people_search"] == 6


def test_time_off_policy_types_and_balances(tmp_path: Path, big: FakeHibob) -> None:
    active = [e for e in big.visible_employees() if e.status == "Active"]
    asked = ["Holiday", "Sick"]
    counts, run = _sync_counts(
        tmp_path,
        big,
        {"time_off_policy_types", "time_off_balances"},
        balance_policy_types=asked,
    )
    assert dict(counts) == {
        "timeoff_policies": 1 + len(POLICY_TYPES),  # policy types: names + details
        "people_search": 1,  # balances: ids of active employees
        "timeoff_balance": len(active) * len(asked),
    }
    assert len(run.records("time_off_balances")) == len(active) * len(asked)


def test_balances_list_policy_type_names_when_none_are_configured(
    tmp_path: Path, big: FakeHibob
) -> None:
    """The "+1": without balance_policy_types, balances read the names, then A x P."""
    active = [e for e in big.visible_employees() if e.status == "Active"]
    counts, run = _sync_counts(tmp_path, big, {"time_off_balances"})
    assert dict(counts) == {
        "timeoff_policies": 1,  # the names
        "people_search": 1,  # ids of active employees
        "timeoff_balance": len(active) * len(POLICY_TYPES),
    }
    assert len(run.records("time_off_balances")) == len(active) * len(POLICY_TYPES)
