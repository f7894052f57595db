"""Time-off streams: the request change feed, who's out, policy types and balances.

`time_off_requests` is the only incremental stream HiBob allows: its change feed filters by
when a request changed, in windows of at most 6 months (`since` + `to`). Items carry no
change timestamp, so the bookmark is the end of the last window fully read, and each run
re-reads a small overlap before it (duplicates upsert on `requestId`, `changeType`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tap_hibob import endpoints, people
from tap_hibob.client import HibobClient
from tap_hibob.errors import HibobAPIError, HibobPermissionError, HibobStateError
from tap_hibob.progress import Progress
from tap_hibob.readahead import Checkpoint
from tap_hibob.sdk_overrides import OwnBookmark
from tap_hibob.stream import HibobStream, load_schema
from tap_hibob.timeutil import (
    add_months,
    from_epoch_millis,
    parse_datetime,
    rfc3339_millis,
    to_millis,
)

if TYPE_CHECKING:
    from tap_hibob.tap import TapHibob

INCREMENTAL = "INCREMENTAL"
FULL_TABLE = "FULL_TABLE"
#: HiBob refuses a window longer than this many calendar months (and a `since` older than
#: this without `to`).
MAX_WINDOW_MONTHS = 6
#: Name of the bookmark in state; no record field carries it (HiBob sends no change time).
BOOKMARK_KEY = "changesReadUntil"
#: A bookmark at most this far ahead of the run is clock skew: read from now instead.
FUTURE_TOLERANCE = timedelta(days=1)
#: With include_pending on, this many changes and not one Pending suggests HiBob leaves
#: pending changes out silently (the pending permission is missing).
PENDING_HINT_MIN_CHANGES = 20
CHANGE_TYPES = ("Created", "Pending", "Canceled", "Deleted")


def windows(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive (since, to) windows of at most 6 months covering [start, end].

    Full 6-month windows from `start`, so a backfill of M months takes ceil(M / 6) requests.
    """
    since = start
    while since < end:
        to = min(add_months(since, MAX_WINDOW_MONTHS), end)
        yield since, to
        since = to


def check_bookmark(stream_state: Mapping[str, Any]) -> datetime | None:
    """The bookmark of `time_off_requests`, or None on a first sync.

    Raises HibobStateError for a value the tap did not write (foreign key, partitions, not a
    date-time).
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
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise HibobStateError(
            f"The state's bookmark for time_off_requests ({value!r:.60}) is not an ISO 8601 "
            f"date-time. {fix}"
        )
    return parsed


def clamp_bookmark(
    bookmark: datetime, run_start: datetime, logger: logging.Logger | None
) -> datetime:
    """A bookmark up to a day ahead of the run is clock skew: read from the run start (which
    loses nothing: nothing after it has been read or exists yet). Further ahead: refused."""
    if bookmark > run_start + FUTURE_TOLERANCE:
        raise HibobStateError(
            f"The state's bookmark for time_off_requests ({rfc3339_millis(bookmark)}) is in "
            "the future. Pass the last STATE value tap-hibob emitted, or remove the "
            "'time_off_requests' bookmark to read again from start_date."
        )
    if bookmark > run_start:
        if logger is None:  # checked before the run: the stream warns when it runs
            return run_start
        logger.warning(
            "The time_off_requests bookmark %s is ahead of this run's start %s (clock skew?); "
            "reading from the run start instead.",
            rfc3339_millis(bookmark),
            rfc3339_millis(run_start),
        )
        return run_start
    return bookmark


def _items(payload: Any, key: str, where: str) -> list[dict[str, Any]]:
    """The list under `key` ({key: [...]}), tolerating a bare list; refuse other shapes."""
    if isinstance(payload, dict) and isinstance(payload.get(key), list):
        return payload[key]
    if isinstance(payload, list):
        return payload
    raise HibobAPIError(f"HiBob answered {where} without a '{key}' list; nothing was read")


def _flag(value: bool) -> str:
    return "true" if value else "false"


class TimeOffRequestsStream(OwnBookmark, HibobStream):
    """Changes to time-off requests (`GET /v1/timeoff/requests/changes`), incrementally.

    One row per (request, change type): a snapshot of the request when it was created,
    submitted for approval (Pending, with include_pending), canceled or deleted. An edit
    deletes the request and creates a new requestId (see originalRequestId/previousRequestId).
    """

    name = "time_off_requests"
    primary_keys = ("requestId", "changeType")

    def __init__(self, tap: TapHibob) -> None:
        super().__init__(tap, schema=load_schema(self.name))
        # INCREMENTAL although no record field is a replication key: its rows (change
        # snapshots) must never be deleted downstream. The SDK sets this in __init__.
        self.forced_replication_method = INCREMENTAL
        self._start: datetime | None = None  # set by prepare() before reading starts

    @property
    def partitions(self) -> list[dict] | None:
        """Never partitioned (the SDK would otherwise replay partitions found in state)."""
        return None

    def prepare(self) -> None:
        super().prepare()
        self._start = to_millis(self._start_point(self.hibob.run_start))

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[Any]:
        """Walk 6-month windows from the start point to the run start; a Checkpoint after
        each window saves the bookmark once its records are written."""
        run_start = self.hibob.run_start
        start = self._start if self._start is not None else to_millis(self._start_point(run_start))
        spans = list(windows(start, run_start))
        self.logger.info(
            "time_off_requests: reading changes from %s to %s in %d window(s) of at most %d months",
            rfc3339_millis(start),
            rfc3339_millis(run_start),
            len(spans),
            MAX_WINDOW_MONTHS,
        )
        kinds: Counter[str] = Counter()
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
                kinds[str(change.get("changeType"))] += 1
                yield self._normalise(change)
            self.logger.info(
                "time_off_requests: window %d/%d (%s to %s): %d change(s)",
                number,
                len(spans),
                rfc3339_millis(since),
                rfc3339_millis(to),
                len(changes),
            )
            previous = current
            yield Checkpoint(rfc3339_millis(to))
        self._hint_pending(kinds)

    def _start_point(self, run_start: datetime) -> datetime:
        if self.replication_method == FULL_TABLE:
            self.logger.info("time_off_requests is FULL_TABLE in the catalog: ignoring state")
            bookmark = None
        else:
            bookmark = check_bookmark(self.stream_state)
        if bookmark is None:
            return self.settings.start_date or add_months(run_start, -MAX_WINDOW_MONTHS)
        overlap = timedelta(minutes=self.settings.time_off_overlap_minutes)
        return clamp_bookmark(bookmark, run_start, self.logger) - overlap

    def _read_window(self, since: datetime, to: datetime) -> list[dict[str, Any]]:
        # `to` is always sent: without it HiBob refuses a `since` older than 6 months.
        params = {"since": rfc3339_millis(since), "to": rfc3339_millis(to)}
        if self.settings.include_pending:
            params["includePending"] = "true"
        endpoint = endpoints.TIME_OFF_CHANGES
        payload = self.client.get(endpoint, stream=self.name, params=params).payload
        return _items(payload, "changes", endpoint.shown)

    @staticmethod
    def _normalise(change: dict[str, Any]) -> dict[str, Any]:
        record = dict(change)
        if record.get("employeeId") is not None:
            record["employeeId"] = str(record["employeeId"])
        return record

    def _hint_pending(self, kinds: Counter[str]) -> None:
        if not self.settings.include_pending or kinds["Pending"]:
            return
        if sum(kinds.values()) >= PENDING_HINT_MIN_CHANGES:
            self.logger.warning(
                "time_off_requests: HiBob returned %d changes but no Pending one although "
                "include_pending is on. If any of your policies need approval, the service "
                "user probably lacks '%s' (HiBob then leaves pending changes out silently).",
                sum(kinds.values()),
                endpoints.PENDING,
            )

    def checkpoint(self, value: Any) -> None:
        """A window is fully written: save its end as the bookmark and emit STATE now, so a
        killed run resumes here."""
        state = self.stream_state
        state["replication_key"] = BOOKMARK_KEY
        state["replication_key_value"] = value
        self.state_manager.finalize_state(state)  # drops the SDK's progress markers
        self.hibob.state_writer.write_state(self.tap_state)


class WhosOutStream(HibobStream):
    """Approved (and, with include_pending, pending) leave of active employees in a window
    around today (`GET /v1/timeoff/whosout`); a full-table snapshot of that window."""

    name = "whos_out"
    primary_keys = ("requestId",)

    def __init__(self, tap: TapHibob) -> None:
        super().__init__(tap, schema=load_schema(self.name))

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """One request over today - whos_out_days_back ... today + whos_out_days_ahead."""
        today = self.hibob.run_start.date()
        settings = self.settings
        params = {
            "from": (today - timedelta(days=settings.whos_out_days_back)).isoformat(),
            "to": (today + timedelta(days=settings.whos_out_days_ahead)).isoformat(),
            "includeHourly": _flag(settings.whos_out_include_hourly),
            # Private-policy leave comes only with this flag *and* the permission; its policy
            # names may be sensitive, so it is opt-in.
            "includePrivate": _flag(settings.whos_out_include_private),
            "includePending": _flag(settings.include_pending),
        }
        endpoint = endpoints.WHOS_OUT_ENDPOINT
        payload = self.client.get(endpoint, stream=self.name, params=params).payload
        for out in _items(payload, "outs", endpoint.shown):
            record = dict(out)
            if record.get("employeeId") is not None:
                record["employeeId"] = str(record["employeeId"])
            yield record


def policy_type_names(client: HibobClient, stream: str) -> list[str]:
    """Names of the company's time-off policy types (`GET /v1/timeoff/policy-types`)."""
    endpoint = endpoints.POLICY_TYPES
    payload = client.get(endpoint, stream=stream).payload
    names = payload.get("policyTypes") if isinstance(payload, dict) else payload
    if not isinstance(names, list):
        raise HibobAPIError(f"HiBob answered {endpoint.shown} without a 'policyTypes' list")
    return [str(name) for name in names]


class TimeOffPolicyTypesStream(HibobStream):
    """Time-off policy types and their settings (`GET /v1/timeoff/policy-types[/{name}]`).

    Needs a feature permission outside the usual integration list, so it is opt-in.
    """

    name = "time_off_policy_types"
    primary_keys = ("name",)
    selected_by_default = False

    def __init__(self, tap: TapHibob) -> None:
        super().__init__(tap, schema=load_schema(self.name))

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """1 request for the names, then 1 per policy type for its details."""
        gone = []
        for name in policy_type_names(self.client, self.name):
            details = self.client.get_if_found(
                endpoints.POLICY_TYPE, stream=self.name, path={"name": name}
            )
            if details is None:
                gone.append(name)  # deleted between the two calls
                continue
            yield {**(details if isinstance(details, dict) else {}), "name": name}
        if gone:
            self.logger.warning(
                "time_off_policy_types: %d policy type(s) disappeared while reading (404): %s",
                len(gone),
                ", ".join(gone),
            )


class TimeOffBalancesStream(HibobStream):
    """Each active employee's balance per policy type at the run date
    (`GET /v1/timeoff/employees/{id}/balance`): a daily snapshot that accumulates.

    Active N employees x P policy types requests at HiBob's 50 per minute (HiBob documents
    no way to ask which policy types an employee has): opt-in, and read alongside every
    other stream under its own budget. Rows of earlier days are never deleted downstream.
    """

    name = "time_off_balances"
    primary_keys = ("employeeId", "policyType", "date")
    selected_by_default = False
    keeps_history = True

    def __init__(self, tap: TapHibob) -> None:
        super().__init__(tap, schema=load_schema(self.name))
        self._lock = threading.Lock()

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """One balance request per active employee and policy type, paced by the client."""
        day = self.hibob.run_start.date()
        policy_types = self._policy_types()
        employee_ids = self._active_employee_ids()
        total = len(employee_ids) * len(policy_types)
        plan = (
            f"{len(employee_ids)} active employees x {len(policy_types)} policy types "
            f"({', '.join(policy_types)})"
        )
        progress = Progress(
            self.logger, self.name, total, self.client, endpoints.BALANCE, plan=plan
        )
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
            raise self._denied(
                exc, endpoints.PEOPLE_SEARCH, "to list active employees", "Add this permission"
            ) from None

    def _policy_types(self) -> list[str]:
        configured = self.settings.balance_policy_types
        if configured:
            return list(configured)
        try:
            return policy_type_names(self.client, self.name)
        except HibobPermissionError as exc:
            raise self._denied(
                exc,
                endpoints.POLICY_TYPES,
                "to list policy types",
                'Either set balance_policy_types to the policy type names (e.g. ["Holiday", '
                '"Sick"]) or add this permission, which is not in the usual integration '
                "permission list",
            ) from None

    def _denied(
        self, exc: HibobPermissionError, endpoint: endpoints.Endpoint, purpose: str, fix: str
    ) -> HibobPermissionError:
        """A 403 on a request this stream makes for another purpose names that purpose's
        permission, not the balances one."""
        return HibobPermissionError(
            f"HiBob denied {endpoint.shown} (403), which time_off_balances uses {purpose}. "
            f"{fix}: {endpoint.permission}",
            stream=self.name,
            endpoint=exc.endpoint,
            permission=endpoint.permission,
        )

    def _balance(self, employee_id: str, policy_type: str, day: date) -> dict[str, Any] | None:
        params = {"policyType": policy_type, "date": day.isoformat()}
        payload = self.client.get_if_found(
            endpoints.BALANCE, stream=self.name, params=params, path={"employee": employee_id}
        )
        if payload is None:
            return None
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
                "404 for (no policy of that type, removed, or out of the service user's "
                "reach since the employee list was read).",
                len(rest),
                len({e for e, _ in rest}),
            )


def run_start_of(initialized_at_millis: int) -> datetime:
    """When a tap run started: the newest moment a bookmark may reach."""
    return from_epoch_millis(initialized_at_millis)
