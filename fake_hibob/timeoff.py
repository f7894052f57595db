"""Fake HiBob time-off routes (hibob-api.md §6, §8, §10), no friendlier than the real API.

- `GET /v1/timeoff/requests/changes?since&to&includePending`: a change feed filtered by
  change time (both ends inclusive), 400 for a missing/zone-less `since`, a `since` older
  than 6 months without `to`, a `to` not after `since` or more than 6 calendar months after
  it. Items are snapshots; edits create a new requestId and a Deleted change of the old one.
- `GET /v1/timeoff/whosout?from&to&includeHourly&includePrivate&includePending`: current
  requests of active employees only.
- `GET /v1/timeoff/policy-types` and `/policy-types/{name}`: need the time-off settings
  feature permission (outside the usual integration list).
- `GET /v1/timeoff/employees/{id}/balance?policyType&date`: both parameters required,
  404 for an unknown employee or policy type.

Requests under the private policy are invisible without the private-policy permission
(`PRIVATE`, which no stock profile grants); a custom-named policy shows its public name
without it. Pending changes need the pending permission and includePending=true; without the
permission they are left out, or (`options.pending_without_permission = "403"`) the whole
request is refused.
The data is generated once per tenant, spread over the 30 months before `tenant.now`, and
kept sorted by change time so a window is a bisect and a slice (cheap at 20,000 people).
"""

from __future__ import annotations

import bisect
import calendar
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fake_hibob.profiles import BALANCES, PENDING, TIME_OFF_SETTINGS, WHOS_OUT
from fake_hibob.server import Reply, Request, error_reply, forbidden, json_reply

if TYPE_CHECKING:
    from fake_hibob.options import FakeOptions
    from fake_hibob.server import FakeHibob
    from fake_hibob.tenant import Employee, Tenant

PRIVATE = "Timeoff > See who's out today > See who's out because of private policy"
HISTORY_MONTHS = 30
# A third of the requests made in the last PENDING_DAYS still wait for approval.
PENDING_DAYS = 21
MAX_WINDOW_MONTHS = 6
HOURLY_TYPES = (
    "hours",
    "hoursOnRange",
    "specificHoursDayDurations",
    "differentSpecificHoursDayDurations",
)
DAILY_TYPES = ("days", "portionOnRange", "differentDayDurations", "percentageOnRange")


@dataclass(frozen=True)
class PolicyType:
    name: str
    activity: str
    unit: str
    approval: bool
    weight: int
    allowance: float
    visibility: str = "Public"
    public_name: str | None = None  # shown instead of `name` to users without PRIVATE


POLICY_TYPES = (
    PolicyType("Holiday", "paidTimeoff", "days", True, 10, 25.0),
    PolicyType("Sick", "paidTimeoff", "days", False, 5, 10.0),
    PolicyType("Parental leave", "unpaidTimeoff", "days", True, 1, 0.0),
    PolicyType("Time off in lieu", "workTime", "hours", False, 3, 0.0),
    PolicyType("Wellbeing", "paidTimeoff", "days", True, 2, 3.0, "Custom name", "Personal day"),
    PolicyType("Medical", "paidTimeoff", "days", False, 2, 5.0, "Private"),
)
POLICY_BY_NAME = {p.name: p for p in POLICY_TYPES}


@dataclass
class Change:
    """One entry of the change feed: when it happened and the request snapshot then."""

    at: datetime
    item: dict[str, Any]
    policy: PolicyType


@dataclass
class TimeOffRequest:
    """The current state of one request id (what whosout and balances read)."""

    snapshot: dict[str, Any]
    policy: PolicyType
    status: str  # Pending | Approved | Canceled | Deleted


@dataclass
class Store:
    """All time-off data of one tenant, sorted by change time."""

    changes: list[Change] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    requests: dict[int, TimeOffRequest] = field(default_factory=dict)
    by_employee: dict[str, list[int]] = field(default_factory=dict)
    next_id: int = 180_000_001
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, change: Change) -> None:
        """Insert keeping time order (new changes usually land at the end)."""
        stamp = change.at.timestamp()
        index = bisect.bisect_right(self.times, stamp)
        self.times.insert(index, stamp)
        self.changes.insert(index, change)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


# Dates and times -------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months, day clamped to the month's end (like Java's plusMonths)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, _days_in(year, month)))


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _zoned(raw: str | None) -> datetime | None:
    """An ISO 8601 date-time with Z or an offset; dates and zone-less values are refused."""
    if not raw or "T" not in raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _plain_date(raw: str | None) -> date | None:
    if not raw or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _hibob_time(moment: datetime) -> str:
    """HiBob's zone-less timestamp with microseconds (hibob-api.md §9)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


# Generation ------------------------------------------------------------------------------


def store(app: FakeHibob) -> Store:
    """The tenant's time-off data, generated on first use."""
    tenant = app.tenant
    with _GENERATION_LOCK:
        if "timeoff" not in tenant.data:
            tenant.data["timeoff"] = _generate(tenant, app.options)
    data: Store = tenant.data["timeoff"]
    return data


_GENERATION_LOCK = threading.Lock()


def _generate(tenant: Tenant, options: FakeOptions) -> Store:
    data = Store()
    rng = tenant.rng("timeoff")
    most = options.timeoff_requests_per_employee
    first = add_months(tenant.now, -HISTORY_MONTHS)
    weights = [p.weight for p in POLICY_TYPES]
    for employee in tenant.employees:
        if employee.lifecycle == "hired":
            continue  # not started yet: no leave booked
        low = max(first, datetime.combine(employee.start_date, datetime.min.time(), UTC))
        high = tenant.now
        if employee.termination_date:
            high = min(high, datetime.combine(employee.termination_date, datetime.min.time(), UTC))
        if high <= low:
            continue
        for _ in range(rng.randint(0, most)):
            at = low + (high - low) * rng.random()
            policy = rng.choices(POLICY_TYPES, weights)[0]
            _book(data, rng, employee, policy, at, until=high)
    return data


def _book(
    data: Store,
    rng: random.Random,
    employee: Employee,
    policy: PolicyType,
    at: datetime,
    *,
    until: datetime,
    previous: dict[str, Any] | None = None,
) -> int:
    """One request's whole life: pending → approved, maybe canceled or edited."""
    request_id = data.new_id()
    snapshot = _snapshot(rng, employee, policy, request_id, at, previous)
    if policy.approval:
        _change(data, "Pending", snapshot, policy, at)
        requested = at
        at = at + timedelta(hours=rng.randint(1, 72), seconds=rng.random())
        if at > until:
            return request_id  # still waiting for approval
        if until - requested < timedelta(days=PENDING_DAYS) and request_id % 3 == 0:
            return request_id  # a recent request a manager has not approved yet
    _change(data, "Created", snapshot, policy, at)
    fate = rng.random()
    later = at + (until - at) * rng.random()
    if later <= at:
        return request_id
    if fate < 0.12:
        _change(data, "Canceled", snapshot, policy, later, reason="Plans changed")
    elif fate < 0.22:
        # An edit: HiBob deletes the old request and creates a new id for the new dates.
        _change(data, "Deleted", snapshot, policy, later, reason="Edited")
        _book(data, rng, employee, policy, later, until=until, previous=snapshot)
    return request_id


def _change(
    data: Store,
    change_type: str,
    snapshot: dict[str, Any],
    policy: PolicyType,
    at: datetime,
    reason: str | None = None,
) -> None:
    item = {"changeType": change_type, **snapshot, "changeReason": reason}
    data.add(Change(at, item, policy))
    status = {"Pending": "Pending", "Created": "Approved"}.get(change_type, change_type)
    request_id = snapshot["requestId"]
    data.requests[request_id] = TimeOffRequest(snapshot, policy, status)
    ids = data.by_employee.setdefault(snapshot["employeeId"], [])
    if request_id not in ids:
        ids.append(request_id)


def _snapshot(
    rng: random.Random,
    employee: Employee,
    policy: PolicyType,
    request_id: int,
    at: datetime,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """The request as the change feed shows it; fields depend on the duration type."""
    original = previous["originalRequestId"] if previous else request_id
    start = at.date() + timedelta(days=rng.randint(-5, 90))
    days = rng.randint(0, 9)
    item: dict[str, Any] = {
        "requestId": request_id,
        "originalRequestId": original,
        "previousRequestId": previous["requestId"] if previous else None,
        "employeeId": employee.id,
        "employeeDisplayName": employee.display_name,
        "employeeEmail": employee.email,
        "policyTypeDisplayName": policy.name,
        "createdOn": _hibob_time(at),
        "visibility": policy.visibility,
    }
    if policy.unit == "hours":
        kind = rng.choice(HOURLY_TYPES)
        hours = round(rng.choice([0.5, 1, 1.5, 2, 4, 7.5]), 2)
        if kind == "hours":
            item |= {"type": kind, "date": start.isoformat(), "hoursOnDate": hours}
            days = 0
        else:
            item |= {
                "type": kind,
                "startDate": start.isoformat(),
                "endDate": (start + timedelta(days=days)).isoformat(),
                "dailyHours": hours,
            }
        total = hours * (days + 1)
        item |= {"durationUnit": "hours", "totalDuration": total, "totalCost": total}
        return item
    kind = rng.choice(DAILY_TYPES) if rng.random() < 0.97 else "openEnded"
    end = start + timedelta(days=days)
    item |= {"type": kind, "startDate": start.isoformat(), "durationUnit": "days"}
    if kind == "days":
        item |= {
            "startPortion": rng.choice(["all_day", "morning", "afternoon"]),
            "endDate": end.isoformat(),
            "endPortion": "all_day",
        }
    elif kind == "portionOnRange":
        item |= {"endDate": end.isoformat(), "dayPortion": rng.choice(["morning", "afternoon"])}
    elif kind == "openEnded":
        item |= {"endDate": None}
    else:
        item |= {"endDate": end.isoformat()}
    share = 0.5 if kind == "portionOnRange" else 1.0
    total = 0.0 if kind == "openEnded" else float(days + 1) * share
    item |= {"totalDuration": total, "totalCost": total}
    return item


# Helpers for tests -----------------------------------------------------------------------


def add_changes(
    app: FakeHibob, created: int = 3, canceled: int = 0, at: datetime | None = None
) -> list[dict[str, Any]]:
    """New changes happening `at` (default: now): `created` new approved requests of active
    visible employees and `canceled` cancellations of approved requests. Returns them."""
    data = store(app)
    at = at or datetime.now(UTC)
    rng = app.tenant.rng(f"timeoff-added-{len(data.changes)}")
    people = [e for e in app.visible_employees() if e.status == "Active"]
    public = [p for p in POLICY_TYPES if p.visibility == "Public" and not p.approval]
    added: list[dict[str, Any]] = []
    with data.lock:
        for _ in range(created):
            employee = rng.choice(people)
            policy = rng.choice(public)
            snapshot = _snapshot(rng, employee, policy, data.new_id(), at, None)
            _change(data, "Created", snapshot, policy, at)
            added.append({"changeType": "Created", **snapshot, "changeReason": None})
        approved = [
            r
            for r in data.requests.values()
            if r.status == "Approved" and r.policy.visibility == "Public"
        ]
        for request in rng.sample(approved, canceled):
            _change(data, "Canceled", request.snapshot, request.policy, at, "Plans changed")
            added.append(
                {"changeType": "Canceled", **request.snapshot, "changeReason": "Plans changed"}
            )
    return added


def visible_changes(
    app: FakeHibob, since: datetime, to: datetime, *, pending: bool = False
) -> list[dict[str, Any]]:
    """What the change feed returns for [since, to] (tests compare the tap's output to it)."""
    data = store(app)
    with data.lock:
        low = bisect.bisect_left(data.times, since.timestamp())
        high = bisect.bisect_right(data.times, to.timestamp())
        window = data.changes[low:high]
    visible = {e.id for e in app.visible_employees()}
    private = app.profile.grants(PRIVATE)
    show_pending = pending and app.profile.grants(PENDING)
    out = []
    for change in window:
        item = change.item
        if item["employeeId"] not in visible:
            continue
        if item["changeType"] == "Pending" and not show_pending:
            continue
        shown = _as_seen(item, change.policy, private)
        if shown is not None:
            out.append(shown)
    return out


def _as_seen(item: dict[str, Any], policy: PolicyType, private: bool) -> dict[str, Any] | None:
    """Private requests vanish without PRIVATE; custom-named ones show the public name."""
    if policy.visibility == "Private" and not private:
        return None
    if policy.public_name and not private:
        return {**item, "policyTypeDisplayName": policy.public_name}
    return dict(item)


# Routes ----------------------------------------------------------------------------------


def _flag(request: Request, name: str) -> bool:
    return (request.arg(name) or "").lower() == "true"


def _bad(key: str, message: str) -> Reply:
    return error_reply(400, key, message)


def get_changes(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    if not app.profile.grants(WHOS_OUT):
        return forbidden()
    since = _zoned(request.arg("since"))
    if since is None:
        return _bad("timeoff.changes.since.invalid", "since must be an ISO-8601 date-time")
    raw_to = request.arg("to")
    now = datetime.now(UTC)
    if raw_to is None:
        if since < add_months(now, -MAX_WINDOW_MONTHS):
            return _bad(
                "timeoff.changes.since.too.old",
                "since may be at most 6 months ago when to is not given",
            )
        to = now
    else:
        parsed_to = _zoned(raw_to)
        if parsed_to is None:
            return _bad("timeoff.changes.to.invalid", "to must be an ISO-8601 date-time")
        if parsed_to <= since:
            return _bad("timeoff.changes.to.before.since", "to must be after since")
        if parsed_to > add_months(since, MAX_WINDOW_MONTHS):
            return _bad("timeoff.changes.range.too.long", "to must be at most 6 months after since")
        to = parsed_to
    denied = _pending_denied(app, request)
    if denied is not None:
        return denied
    changes = visible_changes(app, since, to, pending=_flag(request, "includePending"))
    return json_reply({"changes": changes})


def _pending_denied(app: FakeHibob, request: Request) -> Reply | None:
    """includePending=true without the pending permission: HiBob either leaves the pending
    items out or refuses the whole request (docs/development/hibob-api.md, Time off)."""
    if not _flag(request, "includePending") or app.profile.grants(PENDING):
        return None
    return forbidden() if app.options.pending_without_permission == "403" else None


def get_whos_out(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    if not app.profile.grants(WHOS_OUT):
        return forbidden()
    start, end = _plain_date(request.arg("from")), _plain_date(request.arg("to"))
    if start is None or end is None:
        return _bad("timeoff.whosout.dates", "from and to are required dates (YYYY-MM-DD)")
    if end < start:
        return _bad("timeoff.whosout.range", "to must not be before from")
    denied = _pending_denied(app, request)
    if denied is not None:
        return denied
    data = store(app)
    active = {e.id: e for e in app.visible_employees() if e.status == "Active"}
    private = _flag(request, "includePrivate") and app.profile.grants(PRIVATE)
    pending = _flag(request, "includePending") and app.profile.grants(PENDING)
    hourly = _flag(request, "includeHourly")
    outs = []
    with data.lock:
        entries = list(data.requests.items())
    for request_id, entry in entries:
        snap = entry.snapshot
        if snap["employeeId"] not in active or entry.status not in ("Approved", "Pending"):
            continue
        if entry.status == "Pending" and not pending:
            continue
        if snap["type"] in HOURLY_TYPES and not hourly:
            continue
        first, last = _leave_dates(snap, end)
        if last < start or first > end:
            continue
        shown = _as_seen(snap, entry.policy, private)
        if shown is not None:
            outs.append(_out(request_id, shown, entry))
    return json_reply({"outs": outs})


def _leave_dates(snap: dict[str, Any], horizon: date) -> tuple[date, date]:
    if "date" in snap:
        day = date.fromisoformat(snap["date"])
        return day, day
    first = date.fromisoformat(snap["startDate"])
    last = date.fromisoformat(snap["endDate"]) if snap.get("endDate") else horizon
    return first, last


def _out(request_id: int, snap: dict[str, Any], entry: TimeOffRequest) -> dict[str, Any]:
    keys = (
        "employeeId",
        "employeeDisplayName",
        "policyTypeDisplayName",
        "type",
        "startDate",
        "startPortion",
        "endDate",
        "endPortion",
        "dayPortion",
        "date",
        "hoursOnDate",
        "dailyHours",
        "visibility",
        "totalCost",
    )
    out = {"requestId": request_id, "policyType": entry.policy.name, "status": entry.status}
    out |= {k: snap[k] for k in keys if k in snap}
    if "hoursOnDate" in snap:
        out["minutes"] = int(snap["hoursOnDate"] * 60)
    return out


def get_policy_types(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    if not app.profile.grants(TIME_OFF_SETTINGS):
        return forbidden()
    return json_reply({"policyTypes": [p.name for p in POLICY_TYPES]})


def get_policy_type(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    if not app.profile.grants(TIME_OFF_SETTINGS):
        return forbidden()
    policy = POLICY_BY_NAME.get(unquote(match["name"]))
    if policy is None:
        return error_reply(404, "timeoff.policy.type.not.found", "Policy type not found")
    return json_reply(
        {
            "name": policy.name,
            "activity": policy.activity,
            "bookingWorkDaysOnly": policy.unit == "days",
            "unit": policy.unit,
        }
    )


def get_balance(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    if not app.profile.grants(BALANCES):
        return forbidden()
    policy_name, day = request.arg("policyType"), _plain_date(request.arg("date"))
    if not policy_name or day is None:
        return _bad("timeoff.balance.params", "policyType and date (YYYY-MM-DD) are required")
    employee_id = unquote(match["employee"])
    visible = {e.id for e in app.visible_employees()}
    missing = app.options.timeoff_missing_employees
    if employee_id not in visible or employee_id in missing:
        return error_reply(404, "employee.not.found", "Employee not found")
    policy = POLICY_BY_NAME.get(policy_name)
    if policy is None:
        return error_reply(404, "timeoff.policy.type.not.found", "Policy type not found")
    return json_reply(_balance(app, employee_id, policy, day))


def _balance(app: FakeHibob, employee_id: str, policy: PolicyType, day: date) -> dict[str, Any]:
    data = store(app)
    year_start = date(day.year, 1, 1)
    taken = 0.0
    for request_id in data.by_employee.get(employee_id, []):
        entry = data.requests[request_id]
        snap = entry.snapshot
        first = snap.get("startDate") or snap.get("date")
        if (
            entry.policy is policy
            and entry.status == "Approved"
            and first
            and year_start.isoformat() <= first <= day.isoformat()
        ):
            taken += float(snap.get("totalDuration") or 0)
    rng = app.tenant.rng(f"balance:{employee_id}:{policy.name}")
    starting = round(rng.uniform(0, 5), 2)
    admin = round(rng.choice([0.0, 0.0, 1.0, -0.5]), 2)
    system = round(policy.allowance * (day.timetuple().tm_yday / 366), 4)
    balance = starting + system + admin - taken
    return {
        "employeeId": employee_id,
        "policy": f"{policy.name} policy",
        "pointInTime": day.isoformat(),
        "startingBalance": starting,
        "startingBalanceAsOf": year_start.isoformat(),
        "totalTaken": taken,
        "totalAdminAdjustments": admin,
        "totalSystemAdjustments": system,
        "annualAllowance": policy.allowance,
        "totalBalanceAsOfDate": round(balance, 4),
        "totalRoundedBalanceAsOfDate": round(balance * 2) / 2,
    }


def register(app: FakeHibob) -> None:
    app.route("GET", "/v1/timeoff/requests/changes", "timeoff_changes")(get_changes)
    app.route("GET", "/v1/timeoff/whosout", "whosout")(get_whos_out)
    app.route("GET", "/v1/timeoff/policy-types", "timeoff_policies")(get_policy_types)
    app.route("GET", r"/v1/timeoff/policy-types/(?P<name>[^/]+)", "timeoff_policies")(
        get_policy_type
    )
    app.route("GET", r"/v1/timeoff/employees/(?P<employee>[^/]+)/balance", "timeoff_balance")(
        get_balance
    )
