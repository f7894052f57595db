"""Settings: the JSON schema shown by --about, plus the checks a schema cannot express."""

from __future__ import annotations

import calendar
import ipaddress
import numbers
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from singer_sdk import typing as th

PRODUCTION_URL = "https://api.hibob.com"
SANDBOX_URL = "https://api.sandbox.hibob.com"
HUMAN_READABLE_MODES = ("off", "append", "replace")
#: Longest wait between retries of a 5xx, timeout or reset (429 waits follow HiBob's reset
#: header instead).
BACKOFF_MAX_KEY = "backoff_max_seconds"
DEFAULT_BACKOFF_MAX_SECONDS = 60.0

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "service_user_id",
        th.StringType(nullable=False),
        required=True,
        title="Service User ID",
        description="ID of the HiBob API service user (Settings > Integrations > Service users).",
    ),
    th.Property(
        "service_user_token",
        th.StringType(nullable=False),
        required=True,
        secret=True,
        title="Service User Token",
        description="Token of the HiBob API service user. Shown once by HiBob at creation.",
    ),
    th.Property(
        "sandbox",
        th.BooleanType,
        default=False,
        title="Sandbox",
        description="Use HiBob's sandbox API host (https://api.sandbox.hibob.com).",
    ),
    th.Property(
        "api_url",
        th.StringType,
        title="API URL",
        description=(
            "Base URL of the HiBob API, without /v1. Defaults to https://api.hibob.com "
            "(or the sandbox host). Must be https unless the host is loopback."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start Date",
        description=(
            "Earliest time-off change to read on the first sync (ISO 8601). "
            "Defaults to 6 months before the run."
        ),
    ),
    th.Property(
        "include_inactive",
        th.BooleanType,
        default=True,
        title="Include Inactive Employees",
        description=(
            "Include terminated and not-yet-started employees (people search showInactive)."
        ),
    ),
    th.Property(
        "human_readable",
        th.StringType,
        default="append",
        allowed_values=list(HUMAN_READABLE_MODES),
        title="Human Readable",
        description=(
            "HiBob humanReadable mode: 'off' (machine values only), 'append' (labels in a "
            "humanReadable object next to the machine values) or 'replace' (labels only)."
        ),
    ),
    th.Property(
        "people_batch_size",
        th.IntegerType,
        default=200,
        title="People Batch Size",
        description=(
            "Employees read per people-search request. The tap first lists employee IDs, "
            "then reads full records in batches of this size, so memory stays flat."
        ),
    ),
    th.Property(
        "include_pending",
        th.BooleanType,
        default=False,
        title="Include Pending Time Off",
        description=(
            "Also read time-off changes to pending requests (needs the pending permission)."
        ),
    ),
    th.Property(
        "time_off_overlap_minutes",
        th.IntegerType,
        default=60,
        title="Time-off Overlap (minutes)",
        description=(
            "Each incremental run re-reads this many minutes before the bookmark, so late "
            "changes are not missed. Duplicates upsert on (requestId, changeType)."
        ),
    ),
    th.Property(
        "whos_out_days_back",
        th.IntegerType,
        default=30,
        title="Who's Out: Days Back",
        description="whos_out reads from this many days before today.",
    ),
    th.Property(
        "whos_out_days_ahead",
        th.IntegerType,
        default=90,
        title="Who's Out: Days Ahead",
        description="whos_out reads up to this many days after today.",
    ),
    th.Property(
        "balance_policy_types",
        th.ArrayType(th.StringType),
        title="Balance Policy Types",
        description=(
            "Time-off policy type names for time_off_balances. Empty: read them from "
            "HiBob (needs the time-off settings permission)."
        ),
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=False,
        title="Emit ACTIVATE_VERSION",
        description=(
            "Send ACTIVATE_VERSION after each full-table stream so loaders that support it "
            "delete rows that disappeared in HiBob (HiBob sends no event for deleted history "
            "entries)."
        ),
    ),
    th.Property(
        "request_timeout",
        th.IntegerType,
        default=60,
        title="Request Timeout (seconds)",
        description="Seconds to wait for a HiBob response before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        title="Max Retries",
        description="Retries of one request on 429, 5xx, timeouts and broken responses.",
    ),
    th.Property(
        BACKOFF_MAX_KEY,
        th.NumberType,
        default=DEFAULT_BACKOFF_MAX_SECONDS,
        title="Backoff Max (seconds)",
        description=(
            "Longest wait between retries of a 5xx, timeout or dropped connection (429s wait "
            "for HiBob's X-RateLimit-Reset instead)."
        ),
    ),
    th.Property(
        "default_rate_limit",
        th.IntegerType,
        default=50,
        title="Default Rate Limit",
        description=(
            "Requests per window for endpoints whose HiBob limit is not published. Published "
            "limits (people search 50, payroll 20, balances 50, policies 50) always apply."
        ),
    ),
    th.Property(
        "rate_limit_window_seconds",
        th.NumberType,
        default=60,
        title="Rate Limit Window (seconds)",
        description="Length of HiBob's rate-limit window. Change only for tests and benchmarks.",
    ),
).to_dict()


def api_base(config: Mapping[str, Any]) -> str:
    """The API base URL (without /v1) the config points at."""
    url = config.get("api_url") or (SANDBOX_URL if config.get("sandbox") else PRODUCTION_URL)
    return str(url).rstrip("/")


def start_date(config: Mapping[str, Any], now: datetime) -> datetime:
    """The configured start date as an aware UTC datetime (default: 6 months ago)."""
    raw = config.get("start_date")
    if not raw:
        return add_months(now, -6)  # the change feed's own limit, in calendar months
    parsed = parse_datetime(str(raw))
    if parsed is None:
        raise ValueError(raw)
    return parsed


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus calendar months, the day clamped to the month's end (31 Aug + 6 = 28 Feb).

    HiBob counts "6 months" in calendar months; 183 days would overshoot from some dates.
    """
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def parse_datetime(raw: str) -> datetime | None:
    """Parse ISO 8601 (date or date-time); naive values are UTC."""
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_number(value: Any) -> bool:
    # The SDK parses config files with Decimal for non-integers, so float is not enough.
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def problems(config: Mapping[str, Any]) -> list[str]:
    """Semantic problems the JSON schema cannot catch, one clear line each."""
    found: list[str] = []
    for key in ("service_user_id", "service_user_token"):
        value = config.get(key)
        # A blank credential can only earn a 401; say so before spending a request on it.
        if isinstance(value, str) and not value.strip():
            found.append(f"{key} is empty; copy it from HiBob (Settings > Integrations)")
        elif isinstance(value, str) and value != value.strip():
            found.append(f"{key} starts or ends with whitespace (a copy-paste slip?); remove it")
    url = config.get("api_url")
    if url:
        parsed = urlparse(str(url))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            found.append(f"api_url '{url}' is not a URL; use e.g. {PRODUCTION_URL}")
        elif parsed.scheme != "https" and not _is_loopback(parsed.hostname):
            found.append(
                f"api_url must use https (got {parsed.scheme}://{parsed.hostname}); "
                "plain http is only allowed for loopback test servers"
            )
        elif parsed.path.rstrip("/").endswith("/v1"):
            found.append("api_url must not end with /v1; the tap adds /v1 itself")
    raw_start = config.get("start_date")
    if raw_start and parse_datetime(str(raw_start)) is None:
        found.append(
            f"start_date '{raw_start}' is not an ISO 8601 date-time (e.g. 2024-01-01T00:00:00Z)"
        )
    for key, low in (
        ("people_batch_size", 1),
        ("request_timeout", 1),
        ("max_retries", 0),
        ("default_rate_limit", 1),
        ("time_off_overlap_minutes", 0),
        ("whos_out_days_back", 0),
        ("whos_out_days_ahead", 0),
    ):
        value = config.get(key)
        if isinstance(value, int) and value < low:
            found.append(f"{key} must be at least {low} (got {value})")
    backoff_max = config.get(BACKOFF_MAX_KEY)
    if backoff_max is not None and not (_is_number(backoff_max) and backoff_max > 0):
        found.append(f"{BACKOFF_MAX_KEY} must be a positive number of seconds")
    window = config.get("rate_limit_window_seconds")
    if window is not None and _is_number(window) and window <= 0:
        found.append(f"rate_limit_window_seconds must be positive (got {window})")
    return found
