"""Time-off streams: the request change feed, who's out, policy types and balances.

`time_off_requests` is the only incremental stream HiBob allows: its change feed filters by
when a request changed, in windows of at most 6 months (`since` + `to`). Items carry no
change timestamp, so the bookmark is the end of the last window fully read, and each run
re-reads a small overlap before it (duplicates upsert on `requestId`, `changeType`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from singer_sdk import Stream

from tap_hibob import people, settings
from tap_hibob.client import HibobClient
from tap_hibob.errors import HibobAPIError, HibobPermissionError, HibobStateError
from tap_hibob.permissions import BASIC_INFO, for_stream
from tap_hibob.settings import add_months
from tap_hibob.stream import HibobStream, load_schema

INCREMENTAL = "INCREMENTAL"
FULL_TABLE = "FULL_TABLE"
#: HiBob refuses a window longer than this many calendar months (and a `since` older than
#: this without `to`).
MAX_WINDOW_MONTHS = 6
#: Name of the bookmark in state; no record field carries it (HiBob sends no change time).
BOOKMARK_KEY = "changesReadUntil"
#: A bookmark at most this far ahead of the run is clock skew: read from now instead.
FUTURE_TOLERANCE = timedelta(days=1)
PROGRESS_EVERY_SECONDS = 60.0


# Time helpers ----------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and Z, the form HiBob's docs use for since/to."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_millis(moment: datetime) -> datetime:
    """Rounded down to whole milliseconds, HiBob's precision, so windows are what is sent."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def windows(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive (since, to) windows of at most 6 months covering [start, end].

    Full 6-month windows from `start`, so a backfill of M months takes ceil(M / 6) requests.
    """
    since = start
    while since < end:
        to = min(add_months(since, MAX_WINDOW_MONTHS), end)
        yield since, to
        since = to


def utc_timestamp(value: Any) -> Any:
    """HiBob's zone-less timestamps (UTC) as RFC 3339 with Z; anything else unchanged."""
    if not isinstance(value, str) or "T" not in value:
        return value
    parsed = settings.parse_datetime(value)
    if parsed is None:
        return value
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_bookmark(
    stream_state: Mapping[str, Any], run_start: datetime, logger: logging.Logger
) -> datetime | None:
    """The bookmark of `time_off_requests`, or None on a first sync.

    Raises HibobStateError for a value the tap did not write (foreign key, partitions, not a
    date-time, far in the future). A bookmark up to a day ahead of the run is clock skew:
    it is clamped to the run start with a warning, which loses nothing (nothing after the
    run start has been read or exists yet).
    """
    fix = (
        "Pass the last STATE value tap-hibob emitted, or remove the 'time_off_requests' "
        "bookmark to read again from start_date."
    )
    key, value = stream_state.get("replication_key"), stream_state.get("replication_key_value")
    if "partitions" in stream_state:
        raise HibobStateError(
            f"The state's bookmark for time_off_requests has partitions, which tap-hibob "
            f"never writes: it belongs to another tap. {fix}"
        )
    if key is None and value is None:
        return None
    if key != BOOKMARK_KEY:
        raise HibobStateError(
            f"The state's bookmark for time_off_requests uses replication_key {key!r:.60}, "
            f"not {BOOKMARK_KEY!r}: it belongs to another tap or version. {fix}"
        )
    parsed = settings.parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise HibobStateError(
            f"The state's bookmark for time_off_requests ({value!r:.60}) is not an ISO 8601 "
            f"date-time. {fix}"
        )
    if parsed > run_start + FUTURE_TOLERANCE:
        raise HibobStateError(
            f"The state's bookmark for time_off_requests ({value}) is in the future. {fix}"
        )
    if parsed > run_start:
        logger.warning(
            "The time_off_requests bookmark %s is ahead of this run's start %s (clock skew?); "
            "reading from the run start instead.",
            value,
            rfc3339(run_start),
        )
        return run_start
    return parsed


def _items(payload: Any, key: str, where: str) -> list[dict[str, Any]]:
    """The list under `key` ({key: [...]}), tolerating a bare list; refuse other shapes."""
    if isinstance(payload, dict) and isinstance(payload.get(key), list):
        return payload[key]
    if isinstance(payload, list):
        return payload
    raise HibobAPIError(f"HiBob answered {where} without a '{key}' list; nothing was read")


def _flag(value: Any) -> str:
    return "true" if value else "false"


class _AppendOnlyStream(HibobStream):
    """INCREMENTAL in the catalog although no record field is a replication key.

    So loaders never receive ACTIVATE_VERSION for it: its rows (old change snapshots, past
    daily balances) must never be deleted downstream. The SDK would raise on records of an
    INCREMENTAL stream without a replication key, so the SDK's per-record bookkeeping is
    switched off and the stream keeps its own bookmark, if any.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The SDK sets this to None in __init__, so a class attribute would be overwritten.
        self.forced_replication_method = INCREMENTAL

    @property
    def partitions(self) -> list[dict] | None:
        """Never partitioned (the SDK would otherwise replay partitions found in state)."""
        return None

    def _increment_stream_state(self, latest_record: Any, *, context: Any = None) -> None:
        """No per-record bookmark: records carry no change time."""

    def _run_start(self) -> datetime:
        """When this tap run started: the newest moment a bookmark may reach."""
        return datetime.fromtimestamp(self._initialized_at / 1000, UTC)


# Streams ---------------------------------------------------------------------------------


class TimeOffRequestsStream(_AppendOnlyStream):
    """Changes to time-off requests (`GET /v1/timeoff/requests/changes`), incrementally.

    One row per (request, change type): a snapshot of the request when it was created,
    submitted for approval (Pending, with include_pending), canceled or deleted. An edit
    deletes the request and creates a new requestId (see originalRequestId/previousRequestId).
    """

    name = "time_off_requests"
    primary_keys = ("requestId", "changeType")
    endpoint = "timeoff_changes"
    schema = load_schema("time_off_requests")

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Walk 6-month windows from the start point to the run start, saving each window."""
        run_start = self._run_start()
        start = to_millis(self._start_point(run_start))
        spans = list(windows(start, run_start))
        self.logger.info(
            "time_off_requests: reading changes from %s to %s in %d window(s) of at most %d months",
            rfc3339(start),
            rfc3339(run_start),
            len(spans),
            MAX_WINDOW_MONTHS,
        )
        previous: set[tuple[Any, Any]] = set()
        for number, (since, to) in enumerate(spans, 1):
            current: set[tuple[Any, Any]] = set()
            changes = self._read_window(since, to)
            for change in changes:
                key = (change.get("requestId"), change.get("changeType"))
                # Consecutive windows share their boundary instant; HiBob may return a
                # change made exactly then in both.
                if key in previous or key in current:
                    continue
                current.add(key)
                yield self._normalise(change)
            self.logger.info(
                "time_off_requests: window %d/%d (%s to %s): %d change(s)",
                number,
                len(spans),
                rfc3339(since),
                rfc3339(to),
                len(changes),
            )
            previous = current
            self._save_bookmark(to)

    def _start_point(self, run_start: datetime) -> datetime:
        overlap = timedelta(minutes=int(self.config.get("time_off_overlap_minutes", 60)))
        bookmark = None
        if self.replication_method == FULL_TABLE:
            self.logger.info("time_off_requests is FULL_TABLE in the catalog: ignoring state")
        else:
            bookmark = read_bookmark(self.stream_state, run_start, self.logger)
        if bookmark is None:
            return settings.start_date(self.config, run_start)
        return bookmark - overlap

    def _read_window(self, since: datetime, to: datetime) -> list[dict[str, Any]]:
        # `to` is always sent: without it HiBob refuses a `since` older than 6 months.
        params = {"since": rfc3339(since), "to": rfc3339(to)}
        if self.config.get("include_pending"):
            params["includePending"] = "true"
        path = "/timeoff/requests/changes"
        payload = self.client.get(
            path, endpoint=self.endpoint, stream=self.name, params=params
        ).payload
        return _items(payload, "changes", f"GET /v1{path}")

    @staticmethod
    def _normalise(change: dict[str, Any]) -> dict[str, Any]:
        record = dict(change)
        if record.get("employeeId") is not None:
            record["employeeId"] = str(record["employeeId"])
        if "createdOn" in record:
            record["createdOn"] = utc_timestamp(record["createdOn"])
        return record

    def _save_bookmark(self, to: datetime) -> None:
        """Record a fully read window and emit STATE now, so a killed run resumes here."""
        state = self.stream_state
        state["replication_key"] = BOOKMARK_KEY
        state["replication_key_value"] = rfc3339(to)
        # Drops the SDK's bookkeeping markers and marks the state as not yet written.
        self.state_manager.finalize_state(state)
        self._write_state_message()


class WhosOutStream(HibobStream):
    """Approved (and, with include_pending, pending) leave of active employees in a window
    around today (`GET /v1/timeoff/whosout`); a full-table snapshot of that window."""

    name = "whos_out"
    primary_keys = ("requestId",)
    endpoint = "whosout"
    schema = load_schema("whos_out")

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """One request over today - whos_out_days_back ... today + whos_out_days_ahead."""
        today = datetime.fromtimestamp(self._initialized_at / 1000, UTC).date()
        back = int(self.config.get("whos_out_days_back", 30))
        ahead = int(self.config.get("whos_out_days_ahead", 90))
        params = {
            "from": (today - timedelta(days=back)).isoformat(),
            "to": (today + timedelta(days=ahead)).isoformat(),
            "includeHourly": "true",
            # Private-policy leave is returned only with this flag *and* the permission.
            "includePrivate": "true",
            "includePending": _flag(self.config.get("include_pending")),
        }
        path = "/timeoff/whosout"
        payload = self.client.get(
            path, endpoint=self.endpoint, stream=self.name, params=params
        ).payload
        for out in _items(payload, "outs", f"GET /v1{path}"):
            record = dict(out)
            if record.get("employeeId") is not None:
                record["employeeId"] = str(record["employeeId"])
            yield record


def policy_type_names(client: HibobClient, stream: str) -> list[str]:
    """Names of the company's time-off policy types (`GET /v1/timeoff/policy-types`)."""
    path = "/timeoff/policy-types"
    payload = client.get(path, endpoint="timeoff_policies", stream=stream).payload
    names = payload.get("policyTypes") if isinstance(payload, dict) else payload
    if not isinstance(names, list):
        raise HibobAPIError(f"HiBob answered GET /v1{path} without a 'policyTypes' list")
    return [str(name) for name in names]


class TimeOffPolicyTypesStream(HibobStream):
    """Time-off policy types and their settings (`GET /v1/timeoff/policy-types[/{name}]`).

    Needs a feature permission outside the usual integration list, so it is opt-in.
    """

    name = "time_off_policy_types"
    primary_keys = ("name",)
    endpoint = "timeoff_policies"
    selected_by_default = False
    schema = load_schema("time_off_policy_types")

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """1 request for the names, then 1 per policy type for its details."""
        gone = []
        for name in policy_type_names(self.client, self.name):
            path = f"/timeoff/policy-types/{quote(name, safe='')}"
            try:
                details = self.client.get(path, endpoint=self.endpoint, stream=self.name).payload
            except HibobAPIError as exc:
                if exc.status != 404:
                    raise
                gone.append(name)  # deleted between the two calls
                continue
            yield {**(details if isinstance(details, dict) else {}), "name": name}
        if gone:
            self.logger.warning(
                "time_off_policy_types: %d policy type(s) disappeared while reading (404): %s",
                len(gone),
                ", ".join(gone),
            )


class _Progress:
    """Logs done/total with an ETA at most every PROGRESS_EVERY_SECONDS (and at the end)."""

    def __init__(self, logger: logging.Logger, total: int, clock: Callable[[], float]) -> None:
        self.logger = logger
        self.total = total
        self.clock = clock
        self.done = 0
        self.started = clock()
        self.last_log = self.started

    def step(self) -> None:
        self.done += 1
        now = self.clock()
        if now - self.last_log >= PROGRESS_EVERY_SECONDS or self.done == self.total:
            self.last_log = now
            elapsed = now - self.started
            remaining = elapsed / self.done * (self.total - self.done)
            self.logger.info(
                "time_off_balances: %d of %d requests done (%.0f%%), about %s left",
                self.done,
                self.total,
                100.0 * self.done / max(1, self.total),
                _duration(remaining),
            )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class TimeOffBalancesStream(_AppendOnlyStream):
    """Each active employee's balance per policy type at the run date
    (`GET /v1/timeoff/employees/{id}/balance`): a daily snapshot that accumulates.

    N employees x P policy types requests at HiBob's 50 per minute: opt-in.
    """

    name = "time_off_balances"
    primary_keys = ("employeeId", "policyType", "date")
    endpoint = "timeoff_balance"
    selected_by_default = False
    schema = load_schema("time_off_balances")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Clock of the progress log (tests swap it together with the client's clock).
        self.clock: Callable[[], float] = time.monotonic

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """One balance request per active employee and policy type, paced by the client."""
        day = self._run_start().date()
        policy_types = self._policy_types()
        employee_ids = self._active_employee_ids()
        total = len(employee_ids) * len(policy_types)
        self._log_plan(len(employee_ids), policy_types, total)
        progress = _Progress(self.logger, total, self.clock)
        missing: list[tuple[str, str]] = []
        for employee_id in employee_ids:
            for policy_type in policy_types:
                record = self._balance(employee_id, policy_type, day)
                progress.step()
                if record is None:
                    missing.append((employee_id, policy_type))
                else:
                    yield record
        self._report_missing(missing, len(employee_ids))

    def _active_employee_ids(self) -> list[str]:
        try:
            return people.list_employee_ids(self.client, include_inactive=False, stream=self.name)
        except HibobPermissionError as exc:
            # The client named the balances permission; the search needs Basic info.
            raise HibobPermissionError(
                "HiBob denied POST /v1/people/search (403), which time_off_balances uses to "
                f"list active employees. Add this permission: {BASIC_INFO}",
                stream=self.name,
                endpoint=exc.endpoint,
                permission=BASIC_INFO,
            ) from None

    def _policy_types(self) -> list[str]:
        configured = self.config.get("balance_policy_types")
        if configured:
            return [str(name) for name in configured]
        try:
            return policy_type_names(self.client, "time_off_policy_types")
        except HibobPermissionError as exc:
            setting = for_stream("time_off_policy_types").permission
            raise HibobPermissionError(
                "HiBob denied GET /v1/timeoff/policy-types (403), which time_off_balances "
                "uses to list policy types. Either set balance_policy_types to the policy "
                f'type names (e.g. ["Holiday", "Sick"]) or add this permission, which is '
                f"not in the usual integration permission list: {setting}",
                stream=self.name,
                endpoint=exc.endpoint,
                permission=setting,
            ) from None

    def _log_plan(self, employees: int, policy_types: list[str], total: int) -> None:
        limit = self.client.pacer(self.endpoint).limit
        window = self.client.window
        seconds = max(0, total - 1) // limit * window
        self.logger.info(
            "time_off_balances: %d active employees x %d policy types (%s) = %d requests; "
            "HiBob allows %d per %.0f s, so this takes about %s",
            employees,
            len(policy_types),
            ", ".join(policy_types),
            total,
            limit,
            window,
            _duration(seconds),
        )

    def _balance(self, employee_id: str, policy_type: str, day: date) -> dict[str, Any] | None:
        path = f"/timeoff/employees/{quote(employee_id, safe='')}/balance"
        params = {"policyType": policy_type, "date": day.isoformat()}
        try:
            payload = self.client.get(
                path, endpoint=self.endpoint, stream=self.name, params=params
            ).payload
        except HibobAPIError as exc:
            if exc.status == 404:
                return None
            raise
        record = dict(payload) if isinstance(payload, dict) else {}
        # The key is what was asked for; the answer's `policy` is the policy's own name.
        return {**record, "employeeId": employee_id, "policyType": policy_type, "date": str(day)}

    def _report_missing(self, missing: list[tuple[str, str]], employees: int) -> None:
        """One warning per unknown policy type, one for employees HiBob no longer knows."""
        per_type = Counter(policy_type for _, policy_type in missing)
        unknown = sorted(t for t, count in per_type.items() if count == employees)
        for policy_type in unknown:
            self.logger.warning(
                "time_off_balances: HiBob answered 404 for policy type '%s' for every "
                "employee; check the name in balance_policy_types (names are exact).",
                policy_type,
            )
        rest = [(e, t) for e, t in missing if t not in unknown]
        if rest:
            self.logger.warning(
                "time_off_balances: skipped %d balance(s) of %d employee(s) HiBob answered "
                "404 for (removed or out of the service user's reach since the employee list "
                "was read).",
                len(rest),
                len({e for e, _ in rest}),
            )


STREAMS: list[type[Stream]] = [
    TimeOffRequestsStream,
    WhosOutStream,
    TimeOffPolicyTypesStream,
    TimeOffBalancesStream,
]
