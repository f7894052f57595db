"""Pacing from HiBob's own rate-limit headers (client.Pacer), on a fake clock."""

from __future__ import annotations

from typing import Any

from fake_hibob import FakeHibob
from fake_hibob.tables import expected_rows
from tap_hibob.client import RESET_MARGIN_SECONDS, Pacer
from tests.helpers import FakeClock, Run, discover, select, stream_names, sync, tap_config

WALL_START = 1_800_000_000.0


class Clock(FakeClock):
    """The toolkit's fake clock from 0, as monotonic and wall clocks that only move when the
    code under test sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_START + self.now


def pacer(limit: int = 50, window: float = 60.0) -> tuple[Pacer, Clock]:
    clock = Clock()
    return Pacer(limit, window, clock.monotonic, clock.sleep, clock.wall), clock


def headers(limit: int, remaining: int, reset_in: float, clock: Clock) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{clock.wall() + reset_in:.3f}",
    }


def test_the_sliding_window_never_lets_more_than_the_limit_through() -> None:
    p, clock = pacer(limit=3, window=10)
    sent = []
    for _ in range(7):
        p.wait()
        sent.append(clock.now)
        p.done(None)
    assert sent == [0, 0, 0, 10, 10, 10, 20]


def test_a_lower_limit_from_hibob_is_followed_for_the_rest_of_the_run() -> None:
    p, clock = pacer(limit=50, window=60)
    p.wait()
    p.done(headers(20, 19, 60, clock))
    assert p.limit == 20 and p.lowered_to == 20
    p.done(headers(50, 10, 60, clock))  # never raised above HiBob's lowest word
    assert p.limit == 20


def test_nothing_is_sent_when_hibob_says_nothing_remains_before_the_reset() -> None:
    p, clock = pacer(limit=50, window=60)
    p.wait()
    p.done(headers(50, 0, 12.0, clock))  # another client used the rest of the window
    p.wait()
    assert clock.sleeps == [12.0 + RESET_MARGIN_SECONDS]


def test_requests_in_flight_count_against_what_hibob_reports() -> None:
    p, clock = pacer(limit=50, window=60)
    p.wait()
    p.wait()  # two in flight
    p.done(headers(50, 1, 30.0, clock))  # HiBob counted the first only: 1 left, 1 in flight
    p.wait()
    assert clock.sleeps == [30.0 + RESET_MARGIN_SECONDS]


def test_sends_after_a_report_use_up_what_remains_then_wait() -> None:
    p, clock = pacer(limit=50, window=60)
    p.wait()
    p.done(headers(50, 3, 20.0, clock))
    for _ in range(3):
        p.wait()
        p.done(None)
    assert clock.sleeps == []
    p.wait()
    assert clock.sleeps == [20.0 + RESET_MARGIN_SECONDS]


def test_a_new_window_in_the_headers_restores_the_budget() -> None:
    p, clock = pacer(limit=50, window=60)
    p.wait()
    p.done(headers(50, 0, 5.0, clock))
    p.wait()  # waits out the first window
    p.done(headers(50, 49, 60.0, clock))
    for _ in range(10):
        p.wait()
        p.done(None)
    assert clock.sleeps == [5.0 + RESET_MARGIN_SECONDS]


def test_answers_without_headers_leave_the_published_limit_in_charge() -> None:
    p, clock = pacer(limit=2, window=60)
    for _ in range(3):
        p.wait()
        p.done({"Content-Type": "application/json"})
    assert clock.sleeps == [60.0]


# Against the fake HiBob --------------------------------------------------------------------


def _sync_tables(fake: FakeHibob, *streams: str, **overrides: Any) -> Run:
    config = tap_config(fake, **overrides)
    return sync(config, select(discover(config), streams))


def _rows(fake: FakeHibob, table: str) -> set[tuple[str, int]]:
    return {(e.employee_id, e.row["id"]) for e in expected_rows(fake, table)}


def _keys(records: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(r["employeeId"], r["id"]) for r in records}


def test_read_ahead_sends_requests_of_two_endpoints_at_the_same_time() -> None:
    with FakeHibob(employees=300, latency=0.3) as fake:
        _sync_tables(fake, "work_history", "lifecycle_history", read_ahead=True)
        work = fake.requests_to("/v1/bulk/people/work")
        life = fake.requests_to("/v1/bulk/people/lifecycle")
    assert len(work) >= 2 and len(life) >= 2
    overlapping = [
        (a, b) for a in work for b in life if a.started < b.finished and b.started < a.finished
    ]
    assert overlapping, "the two tables were read one after the other"


def test_one_stream_at_a_time_when_read_ahead_is_off() -> None:
    with FakeHibob(employees=300, latency=0.05) as fake:
        _sync_tables(fake, "work_history", "lifecycle_history", read_ahead=False)
        work = fake.requests_to("/v1/bulk/people/work")
        life = fake.requests_to("/v1/bulk/people/lifecycle")
    first, second = sorted((work, life), key=lambda rs: rs[0].started)
    assert max(r.finished for r in first) <= min(r.started for r in second)


def test_another_client_eating_the_budget_causes_no_429() -> None:
    options = {"foreign_usage": {"bulk_work": 46}}  # 4 of 50 left for the tap per window
    with FakeHibob(employees=900, window_seconds=2.0, options=options) as fake:
        run = _sync_tables(fake, "work_history", rate_limit_window_seconds=2.0)
        statuses = [r.status for r in fake.requests_to("/v1/bulk/people/work")]
        truth = _rows(fake, "work")
    assert _keys(run.records("work_history")) == truth
    assert len(statuses) > 8 and 429 not in statuses


def test_a_lower_limit_in_hibobs_headers_is_followed_without_429() -> None:
    with FakeHibob(employees=400, window_seconds=2.0, limits={"bulk_work": 3}) as fake:
        run = _sync_tables(fake, "work_history", rate_limit_window_seconds=2.0)
        statuses = [r.status for r in fake.requests_to("/v1/bulk/people/work")]
        truth = _rows(fake, "work")
    assert _keys(run.records("work_history")) == truth
    assert len(statuses) > 3 and 429 not in statuses


def test_a_tenant_limiting_bulk_reads_together_only_makes_the_sync_wait() -> None:
    tables = {
        "work_history": "work",
        "employment_history": "employment",
        "lifecycle_history": "lifecycle",
    }
    options = {"shared_bucket": ["bulk"]}
    with FakeHibob(
        employees=300, window_seconds=1.0, limits={"shared": 4}, options=options
    ) as fake:
        run = _sync_tables(fake, *tables, rate_limit_window_seconds=1.0, read_ahead=True)
        truth = {name: _rows(fake, table) for name, table in tables.items()}
    for name in tables:
        assert _keys(run.records(name)) == truth[name], name


def test_each_custom_table_has_a_budget_of_its_own() -> None:
    """Like the built-in tables' bulk routes: one custom table's pages never wait for
    another's (HiBob publishes no limit for either; a shared one would show in its headers)."""
    with FakeHibob(employees=200) as fake:
        config = tap_config(
            fake, default_rate_limit=3, rate_limit_window_seconds=60, read_ahead=True
        )
        catalog = discover(config)
        tables = [n for n in stream_names(catalog) if n.startswith("custom_table_")]
        sync(config, select(catalog, tables))
        per_table = [
            [
                r
                for r in fake.log
                if r.path.startswith("/v1/bulk/people/custom-tables/")
                and r.path.endswith(name.removeprefix("custom_table_"))
            ]
            for name in tables
        ]
    assert len(tables) == 2 and all(1 <= len(requests) <= 3 for requests in per_table)
    assert sum(map(len, per_table)) > 3  # one shared budget of 3 would hold some back a window
    starts = [r.started for requests in per_table for r in requests]
    assert max(starts) - min(starts) < 30, "a custom table waited for another one's budget"
