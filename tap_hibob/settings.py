"""Settings: the JSON schema `--about` shows, and the typed settings object built from it.

The schema states every default and every rule it can (minimums, enums, non-blank
credentials); `Settings.from_config` applies the defaults once, and the client, the streams
and the doctor read the typed object instead of the raw config. `problems` holds the few
rules a JSON schema cannot state.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from singer_sdk import typing as th

from tap_hibob import endpoints
from tap_hibob.timeutil import parse_datetime

PRODUCTION_URL = "https://api.hibob.com"
SANDBOX_URL = "https://api.sandbox.hibob.com"
HUMAN_READABLE_MODES = ("off", "append", "replace")
ON_MISSING_PERMISSION = ("fail", "warn")
REPORT_DOWNLOADS = ("auto", "sync", "async")
#: Non-blank, without leading or trailing whitespace (a copy-paste slip earns a 401). The
#: end is a lookahead, not `$`: Python's `$` also matches before a final newline.
CREDENTIAL_PATTERN = r"^\S(?:.*\S)?(?![\s\S])"
_STREAM_NAME = r"^[a-z][a-z0-9_]*$"

_REPORT = th.ObjectType(
    th.Property(
        "report_id",
        th.CustomType({"type": ["integer", "string"]}),
        description="The report's id, a number (tap-hibob-doctor --list-reports shows it).",
    ),
    th.Property("report_name", th.StringType, description="Or its exact name."),
    th.Property(
        "stream_name",
        th.StringType(pattern=_STREAM_NAME),
        description="Stream name; default report_<slug of the report name>.",
    ),
    th.Property(
        "primary_keys",
        th.ArrayType(th.StringType),
        description="Columns that identify a row (column names or field ids); default from "
        "the report's kind; [] for none (full-table replace).",
    ),
    th.Property(
        "download",
        th.StringType,
        allowed_values=list(REPORT_DOWNLOADS),
        description="'auto' (JSON, or the async CSV flow when HiBob says the report is too "
        "large), 'sync' or 'async'.",
    ),
    additional_properties=False,
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "service_user_id",
        th.StringType(nullable=False, min_length=1, pattern=CREDENTIAL_PATTERN),
        required=True,
        title="Service User ID",
        description="ID of the HiBob API service user (Settings > Integrations > Service users).",
    ),
    th.Property(
        "service_user_token",
        th.StringType(nullable=False, min_length=1, pattern=CREDENTIAL_PATTERN),
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
        th.StringType(min_length=1),
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
        th.IntegerType(minimum=1),
        default=200,
        title="People Batch Size",
        description=(
            "Employee IDs per people-search request. The tap lists IDs first, then reads full "
            "records in batches of this size; a batch HiBob refuses as too large is halved."
        ),
    ),
    th.Property(
        "include_pending",
        th.BooleanType,
        default=True,
        title="Include Pending Time Off",
        description=(
            "Also read time-off changes of requests not yet approved (changeType Pending). "
            f"Needs '{endpoints.PENDING}', which the usual setup grants."
        ),
    ),
    th.Property(
        "time_off_overlap_minutes",
        th.IntegerType(minimum=0),
        default=60,
        title="Time-off Overlap (minutes)",
        description=(
            "Each incremental run re-reads this many minutes before the bookmark, so late "
            "changes are not missed. Duplicates upsert on (requestId, changeType)."
        ),
    ),
    th.Property(
        "whos_out_days_back",
        th.IntegerType(minimum=0),
        default=30,
        title="Who's Out: Days Back",
        description="whos_out reads from this many days before today.",
    ),
    th.Property(
        "whos_out_days_ahead",
        th.IntegerType(minimum=0),
        default=90,
        title="Who's Out: Days Ahead",
        description="whos_out reads up to this many days after today.",
    ),
    th.Property(
        "whos_out_include_private",
        th.BooleanType,
        default=False,
        title="Who's Out: Include Private Policies",
        description=(
            "Include leave under private policies (HiBob includePrivate). Private policy names "
            "can be sensitive (e.g. medical leave); also needs the private-policy permission."
        ),
    ),
    th.Property(
        "whos_out_include_hourly",
        th.BooleanType,
        default=True,
        title="Who's Out: Include Hourly Leave",
        description="Include hourly leave (HiBob includeHourly).",
    ),
    th.Property(
        "balance_policy_types",
        th.ArrayType(th.StringType(min_length=1)),
        title="Balance Policy Types",
        description=(
            "Time-off policy type names for time_off_balances. Empty: read them from "
            "HiBob (needs the time-off settings permission)."
        ),
    ),
    th.Property(
        "tasks_include_closed",
        th.BooleanType,
        default=False,
        title="Tasks: Include Closed",
        description=(
            f"Also read closed tasks: one request per employee ({endpoints.TASKS.shown} lists "
            "open tasks only)."
        ),
    ),
    th.Property(
        "reports",
        th.ArrayType(_REPORT),
        title="Saved Reports",
        description=(
            "Saved Bob reports to sync, each as its own stream: objects with report_id or "
            "report_name, and optional stream_name, primary_keys and download."
        ),
    ),
    th.Property(
        "report_timeout_seconds",
        th.IntegerType(minimum=1),
        default=600,
        title="Report Timeout (seconds)",
        description="How long to wait for HiBob to generate a large report asynchronously.",
    ),
    th.Property(
        "on_missing_permission",
        th.StringType,
        default="fail",
        allowed_values=list(ON_MISSING_PERMISSION),
        title="On Missing Permission",
        description=(
            "A stream HiBob denies (403) is skipped and the others sync. 'fail' (default) "
            "then exits non-zero so schedulers notice; 'warn' exits 0."
        ),
    ),
    th.Property(
        "read_ahead",
        th.BooleanType,
        default=True,
        title="Read Ahead",
        description=(
            "Read the selected streams' endpoints concurrently (each within its own rate "
            "limit) while streams are written one after another; false reads one stream at "
            "a time."
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
        th.IntegerType(minimum=1),
        default=60,
        title="Request Timeout (seconds)",
        description="Seconds to wait for a HiBob response before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=8,
        title="Max Retries",
        description="Retries of one request on 429, 5xx, timeouts and broken responses.",
    ),
    th.Property(
        "backoff_max_seconds",
        th.NumberType(exclusive_minimum=0),
        default=60.0,
        title="Backoff Max (seconds)",
        description=(
            "Longest wait between retries of a 5xx, timeout or dropped connection (429s wait "
            "for HiBob's X-RateLimit-Reset instead)."
        ),
    ),
    th.Property(
        "default_rate_limit",
        th.IntegerType(minimum=1),
        default=50,
        title="Default Rate Limit",
        description=(
            "Requests per window for endpoints whose HiBob limit is not published. Published "
            "limits (people search 50, balances 50, policies 50, metadata 50) always apply, "
            "and a lower X-RateLimit-Limit from HiBob is followed."
        ),
    ),
    th.Property(
        "rate_limit_window_seconds",
        th.NumberType(exclusive_minimum=0),
        default=60,
        title="Rate Limit Window (seconds)",
        description="Length of HiBob's rate-limit window. Change only for tests and benchmarks.",
    ),
).to_dict()


@dataclass(frozen=True)
class ReportSetting:
    """One entry of the `reports` setting."""

    report_id: str | None
    report_name: str | None
    stream_name: str | None
    primary_keys: tuple[str, ...] | None
    download: str


@dataclass(frozen=True)
class Settings:
    """The validated config, typed, with the schema's defaults applied once."""

    service_user_id: str
    service_user_token: str
    sandbox: bool
    api_url: str | None
    start_date: datetime | None
    include_inactive: bool
    human_readable: str
    people_batch_size: int
    include_pending: bool
    time_off_overlap_minutes: int
    whos_out_days_back: int
    whos_out_days_ahead: int
    whos_out_include_private: bool
    whos_out_include_hourly: bool
    balance_policy_types: tuple[str, ...]
    tasks_include_closed: bool
    reports: tuple[ReportSetting, ...]
    report_timeout_seconds: int
    on_missing_permission: str
    read_ahead: bool
    emit_activate_version_messages: bool
    request_timeout: int
    max_retries: int
    backoff_max_seconds: float
    default_rate_limit: int
    rate_limit_window_seconds: float

    def __repr__(self) -> str:  # the token must never reach a log
        return f"Settings(service_user_id={self.service_user_id!r}, api_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """The API base URL without /v1."""
        url = self.api_url or (SANDBOX_URL if self.sandbox else PRODUCTION_URL)
        return url.rstrip("/")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Typed settings from a config the schema has validated (defaults filled in here)."""
        values = {**defaults(), **{k: v for k, v in config.items() if v is not None}}
        start = values.get("start_date")
        return cls(
            service_user_id=str(values["service_user_id"]),
            service_user_token=str(values["service_user_token"]),
            sandbox=bool(values["sandbox"]),
            api_url=str(values["api_url"]) if values.get("api_url") else None,
            start_date=parse_datetime(str(start)) if start else None,
            include_inactive=bool(values["include_inactive"]),
            human_readable=str(values["human_readable"]),
            people_batch_size=int(values["people_batch_size"]),
            include_pending=bool(values["include_pending"]),
            time_off_overlap_minutes=int(values["time_off_overlap_minutes"]),
            whos_out_days_back=int(values["whos_out_days_back"]),
            whos_out_days_ahead=int(values["whos_out_days_ahead"]),
            whos_out_include_private=bool(values["whos_out_include_private"]),
            whos_out_include_hourly=bool(values["whos_out_include_hourly"]),
            balance_policy_types=tuple(str(n) for n in values.get("balance_policy_types") or ()),
            tasks_include_closed=bool(values["tasks_include_closed"]),
            reports=tuple(_report(entry) for entry in values.get("reports") or ()),
            report_timeout_seconds=int(values["report_timeout_seconds"]),
            on_missing_permission=str(values["on_missing_permission"]),
            read_ahead=bool(values["read_ahead"]),
            emit_activate_version_messages=bool(values["emit_activate_version_messages"]),
            request_timeout=int(values["request_timeout"]),
            max_retries=int(values["max_retries"]),
            backoff_max_seconds=float(values["backoff_max_seconds"]),
            default_rate_limit=int(values["default_rate_limit"]),
            rate_limit_window_seconds=float(values["rate_limit_window_seconds"]),
        )

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (the doctor shortens retries and timeouts)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        return Settings(**{**current, **changes})


def defaults() -> dict[str, Any]:
    """Every default the schema declares."""
    return {
        key: prop["default"]
        for key, prop in CONFIG_SCHEMA["properties"].items()
        if "default" in prop
    }


def _report(entry: Mapping[str, Any]) -> ReportSetting:
    keys = entry.get("primary_keys")
    return ReportSetting(
        report_id=str(entry["report_id"]) if entry.get("report_id") is not None else None,
        report_name=str(entry["report_name"]) if entry.get("report_name") else None,
        stream_name=str(entry["stream_name"]) if entry.get("stream_name") else None,
        primary_keys=tuple(str(k) for k in keys) if keys is not None else None,
        download=str(entry.get("download") or "auto"),
    )


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def problems(config: Mapping[str, Any]) -> list[str]:
    """What the JSON schema cannot catch, one clear line each."""
    found: list[str] = []
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
    for index, entry in enumerate(config.get("reports") or []):
        if isinstance(entry, Mapping) and not (entry.get("report_id") or entry.get("report_name")):
            found.append(f"reports[{index}] needs a report_id or a report_name")
    return found
