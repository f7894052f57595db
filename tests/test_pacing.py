"""Pacing from HiBob's own rate-limit headers (client.Pacer), on a fake clock."""

from __future__ import annotations

from tap_hibob.client import RESET_MARGIN_SECONDS, Pacer

WALL_START = 1_800_000_000.0


class Clock:
    """monotonic and wall clocks that only move when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_START + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


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
