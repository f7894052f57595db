"""Dates and times: HiBob's zone-less timestamps, calendar months, RFC 3339 in UTC."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any


def parse_datetime(raw: str) -> datetime | None:
    """ISO 8601 (a date or a date-time) as an aware datetime; naive values are UTC."""
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_utc_timestamp(value: Any) -> Any:
    """A HiBob timestamp as RFC 3339 in UTC (`2023-05-19T11:13:40.175639Z`).

    HiBob sends ISO 8601 date-times without a zone, in UTC; values with an offset are
    converted. Anything that is not a date-time string (dates included) is returned as is.
    """
    if not isinstance(value, str) or "T" not in value:
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        return value
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rfc3339_millis(moment: datetime) -> str:
    """UTC with milliseconds and Z: the form HiBob's docs use for `since` and `to`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_millis(moment: datetime) -> datetime:
    """Rounded down to whole milliseconds, HiBob's precision, so windows are what is sent."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus calendar months, the day clamped to the month's end (31 Aug + 6 = 28 Feb).

    HiBob counts "6 months" in calendar months; 183 days would overshoot from some dates.
    """
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def from_epoch_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def duration(seconds: float) -> str:
    """A wait or an ETA as people read it: 40 s, 12 min, 1.7 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
