"""Exact HiBob requests per stream for a tenant of N = 1,000 employees.

Request counts decide how long a sync takes at HiBob's per-minute limits, and they are
deterministic, so they are asserted here (wall-clock never is; see benchmarks/). Each
expected count is a formula in tenant facts the fake knows independently of the tap:

- discovery's metadata reads, once per run: fields, tables and custom tables: 1 each
  (`employee_fields` and `employees` share the field metadata)
- the run's id listing, the first data request (is anyone visible?): 1
- `employees`: ceil(N / B) batches x G field groups (B = 200, G = 1 here)
- `named_lists`, `tasks`, `whos_out`: 1 each
- each history table and each custom table (selected by default): max(1, ceil(R / 200)),
  R = rows the service user can see
- `time_off_requests`: ceil(M / 6) windows, M = months from start_date to now
- `time_off_policy_types`: 1 + P (the names, then each type's details)
- `time_off_balances`: 1 id listing of active employees + (1 if balance_policy_types is
  empty) + A x P', A = active employees, P' = policy types asked for

Counted by HiBob path (employee ids shown as {id}), so the count does not depend on how the
fake names its routes.

The fake's own rate limits are lifted so a 429 can never add a retry to the counts; the
tap still paces, on a 0.05 s window so pacing costs no test time.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from fake_hibob import FakeHibob, custom_tables
from fake_hibob.people import field_specs
from fake_hibob.server import Request
from fake_hibob.tables import expected_rows
from fake_hibob.timeoff import POLICY_TYPES
from tap_hibob.endpoints import TABLES
from tests.helpers import (
    Run,
    default_streams,
    discover,
    request_counts,
    select,
    sync,
    tap_config,
)

N = 1000
BATCH = 200  # people_batch_size default
PAGE = 200  # bulk table page size the tap asks for
# Stream -> bulk path segment, for the bulk tables the fake serves.
HISTORY_TABLES = {spec.stream: table for table, spec in TABLES.items() if spec.bulk}
METADATA = {
    "GET /v1/company/people/fields": 1,
    "GET /v1/company/people/employee-tables/metadata": 1,
    "GET /v1/people/custom-tables/metadata": 1,
}
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


def _sync_counts(
    app: FakeHibob, streams: set[str] | None, **overrides: Any
) -> tuple[Counter[str], Run, list[Request]]:
    """Requests per `METHOD path` of one sync (discovery not counted), and the requests."""
    config = _config(app, **overrides)
    catalog = discover(config)
    wanted = streams if streams is not None else default_streams(catalog) | set(HISTORY_TABLES)
    before = len(app.requests_to())
    run = sync(config, select(catalog, wanted))
    log = app.requests_to()[before:]
    assert {r.status for r in log if "metadata" not in r.path} == {200}
    return request_counts(log), run, log


def test_default_streams_and_history_tables(big: FakeHibob) -> None:
    visible = big.visible_employees()
    assert len(field_specs(big.tenant)) <= 400  # so G = 1 field group
    counts, run, log = _sync_counts(big, None)

    expected = {
        **METADATA,
        "POST /v1/people/search": 1 + math.ceil(len(visible) / BATCH) * 1,
        "GET /v1/company/named-lists": 1,
        "GET /v1/tasks": 1,
        "GET /v1/timeoff/whosout": 1,
        "GET /v1/timeoff/requests/changes": TIME_OFF_WINDOWS,
    }
    for stream, table in HISTORY_TABLES.items():
        rows = len(expected_rows(big, table))
        assert len(run.records(stream)) == rows
        expected[f"GET /v1/bulk/people/{table}"] = max(1, math.ceil(rows / PAGE))
    assert len(custom_tables.tables(big)) == 2
    for table_id in custom_tables.tables(big):
        rows = len(custom_tables.expected_rows(big, table_id))
        expected[f"GET /v1/bulk/people/custom-tables/{table_id}"] = max(1, math.ceil(rows / PAGE))
    assert dict(counts) == expected
    # N = 1,000 as the formulas give it (asserted above; spelled out for the reader):
    assert len(visible) == N
    assert expected["POST /v1/people/search"] == 6
    # Tables are read in bulk: no path names an employee, no request narrows a table to
    # some employees (per-employee reads would take thousands of requests).
    assert not [r.path for r in log if re.search(r"/\d{6,}(/|$)", r.path)]
    assert not [r for r in log if r.arg("employeeIds") is not None]


def _policy_type_details() -> dict[str, int]:
    return {f"GET /v1/timeoff/policy-types/{quote(p.name)}": 1 for p in POLICY_TYPES}


def test_time_off_policy_types_and_balances(big: FakeHibob) -> None:
    active = [e for e in big.visible_employees() if e.status == "Active"]
    asked = ["Holiday", "Sick"]
    counts, run, _ = _sync_counts(
        big,
        {"time_off_policy_types", "time_off_balances"},
        balance_policy_types=asked,
    )
    assert dict(counts) == {
        **METADATA,
        "GET /v1/timeoff/policy-types": 1,  # policy types: the names ...
        **_policy_type_details(),  # ... then each one's details
        "POST /v1/people/search": 2,  # the run's id listing, then balances' active ones
        "GET /v1/timeoff/employees/{id}/balance": len(active) * len(asked),
    }
    assert len(run.records("time_off_balances")) == len(active) * len(asked)


def test_balances_list_policy_type_names_when_none_are_configured(big: FakeHibob) -> None:
    """The "+1": without balance_policy_types, balances read the names, then A x P."""
    active = [e for e in big.visible_employees() if e.status == "Active"]
    counts, run, _ = _sync_counts(big, {"time_off_balances"})
    assert dict(counts) == {
        **METADATA,
        "GET /v1/timeoff/policy-types": 1,  # the names
        "POST /v1/people/search": 2,  # the run's id listing, then balances' active ones
        "GET /v1/timeoff/employees/{id}/balance": len(active) * len(POLICY_TYPES),
    }
    assert len(run.records("time_off_balances")) == len(active) * len(POLICY_TYPES)
