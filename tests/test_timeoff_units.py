"""Pure time-off helpers: calendar months, window splitting, bookmark checks, timestamps."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fake_hibob import timeoff as fake_timeoff
from tap_hibob.errors import HibobStateError
from tap_hibob.timeoff import BOOKMARK_KEY, check_bookmark, clamp_bookmark, windows
from tap_hibob.timeutil import add_months, to_millis, to_utc_timestamp
from tap_hibob.timeutil import rfc3339_millis as rfc3339

LOG = logging.getLogger("test")
RUN = datetime(2026, 3, 15, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2025, 8, 31, 10, tzinfo=UTC), 6, datetime(2026, 2, 28, 10, tzinfo=UTC)),
        (datetime(2023, 8, 31, tzinfo=UTC), 6, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 6, datetime(2024, 8, 29, tzinfo=UTC)),
        (datetime(2025, 12, 15, 23, 59, tzinfo=UTC), 6, datetime(2026, 6, 15, 23, 59, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), -6, datetime(2025, 9, 30, tzinfo=UTC)),
        (datetime(2026, 1, 10, tzinfo=UTC), -30, datetime(2023, 7, 10, tzinfo=UTC)),
    ],
)
def test_add_months_is_calendar_months_clamped_to_the_month_end(
    moment: datetime, months: int, expected: datetime
) -> None:
    assert add_months(moment, months) == expected
    # The fake implements the rule on its own; both must agree or tests prove nothing.
    assert fake_timeoff.add_months(moment, months) == expected


def _sweep() -> list[tuple[datetime, datetime]]:
    """Start dates on every day of a leap and a normal year, spans up to 31 months."""
    spans = []
    base = datetime(2023, 1, 1, 7, 30, tzinfo=UTC)
    for day in range(0, 730, 3):
        start = base + timedelta(days=day, seconds=day * 97)
        for length in (
            timedelta(minutes=5),
            timedelta(days=181),
            timedelta(days=184),
            timedelta(days=400),
            timedelta(days=944),
        ):
            spans.append((start, start + length))
    return spans


def test_windows_tile_the_span_within_hibobs_six_month_rule() -> None:
    for start, end in _sweep():
        parts = list(windows(start, end))
        assert parts[0][0] == start
        assert parts[-1][1] == end
        for (_, to), (next_since, _) in itertools.pairwise(parts):
            assert to == next_since  # no gap, no overlap
        for since, to in parts:
            assert since < to <= fake_timeoff.add_months(since, 6)
        # Minimum count: one fewer window could not reach `end` from `start`.
        assert fake_timeoff.add_months(start, 6 * (len(parts) - 1)) < end


def test_a_30_month_backfill_takes_five_windows_and_a_second_more_takes_six() -> None:
    end = RUN
    assert len(list(windows(add_months(end, -30), end))) == 5
    assert len(list(windows(add_months(end, -30) - timedelta(seconds=1), end))) == 6
    assert list(windows(end, end)) == []


def test_rfc3339_is_utc_with_milliseconds_and_z() -> None:
    assert rfc3339(RUN) == "2026-03-15T12:00:00.123Z"
    plus_two = RUN.astimezone(timezone(timedelta(hours=2)))
    assert rfc3339(plus_two) == "2026-03-15T12:00:00.123Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-05-19T11:13:40.175639", "2023-05-19T11:13:40.175639Z"),
        ("2023-05-19T13:13:40+02:00", "2023-05-19T11:13:40Z"),
        ("2023-05-19", "2023-05-19"),
        ("not a time", "not a time"),
        (None, None),
    ],
)
def test_created_on_becomes_rfc3339_utc(value: object, expected: object) -> None:
    assert to_utc_timestamp(value) == expected


def test_to_millis_rounds_down_to_what_hibob_keeps() -> None:
    assert to_millis(datetime(2026, 1, 1, 0, 0, 0, 123999, tzinfo=UTC)) == datetime(
        2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC
    )


def _state(value: object, key: object = BOOKMARK_KEY) -> dict[str, object]:
    return {"replication_key": key, "replication_key_value": value}


def read_bookmark(state: dict[str, object]) -> datetime | None:
    """The start point a run at RUN takes from a stream state: checked, then clamped."""
    bookmark = check_bookmark(state)
    return None if bookmark is None else clamp_bookmark(bookmark, RUN, LOG)


def test_no_bookmark_means_first_sync() -> None:
    assert read_bookmark({}) is None


def test_own_bookmark_is_read_back() -> None:
    assert read_bookmark(_state("2026-01-01T00:00:00.000Z")) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (_state("yesterday"), "is not an ISO 8601 date-time"),
        (_state(1767225600), "is not an ISO 8601 date-time"),
        (_state(None), "is not an ISO 8601 date-time"),
        (_state("2026-01-01T00:00:00Z", key="creationDateTime"), "belongs to another tap"),
        ({"replication_key_value": "2026-01-01T00:00:00Z"}, "belongs to another tap"),
        ({"partitions": [{"context": {"x": 1}}]}, "has partitions"),
        (_state("2026-03-17T12:00:00Z"), "is in the future"),
    ],
)
def test_corrupt_or_foreign_bookmarks_are_refused(state: dict, message: str) -> None:
    with pytest.raises(HibobStateError, match=message) as caught:
        read_bookmark(state)
    assert "Pass the last STATE value" in str(caught.value)


def test_a_bookmark_slightly_ahead_is_clock_skew_and_clamped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert read_bookmark(_state("2026-03-15T12:30:00Z")) == RUN
    assert "ahead of this run's start" in caplog.text


def test_checked_before_the_run_the_clamp_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """The tap checks the state when it loads it (no logger): the stream warns later."""
    ahead = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)
    with caplog.at_level(logging.WARNING):
        assert clamp_bookmark(ahead, RUN, None) == RUN
    assert caplog.text == ""
