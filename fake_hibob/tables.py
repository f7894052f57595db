"""Fake HiBob employee tables: `GET /v1/bulk/people/{table}`, cursor-paginated.

No friendlier than HiBob (hibob-api.md §4, §10):
- only the seven tables below answer; any other name (e.g. `entitlements`) falls through to
  the web app's HTML 200 of the core server;
- `limit` is 1-200 (default 50) and counts table rows, so one employee's rows can be split
  across two pages; anything else is a 400;
- the cursor is opaque standard base64 (`+`, `/`, `=`): a client that does not URL-encode it
  sends a broken cursor and gets a 400, and so does a cursor reused with other parameters;
- `employeeIds` takes at most 200 comma-separated ids; ids the service user cannot see are
  listed under `errors` on every page; the address table ignores the parameter;
- permissions follow `profile.table_access(section)`: None → 403, "current" → only each
  employee's current row, "history" → all rows; employees outside the access scope are absent;
- entry ids repeat across employees, some rows are future-dated (`isCurrent: false`), rows
  carry `customColumns`, fte/weeklyHours/percentages are fractional, money is {value, currency}.

Per-test switches (fields of `app.options`, a FakeOptions):
- `tables_shape`: "wrapped" (default, the current spec: each result's `values` holds one
  `{values: [rows], restricted_columns: {...}}`), "bare" (rows directly) or "mixed"
  (alternating per employee);
- `tables_restricted`: {table: {"no_view_permission": [...], "no_view_history_permission":
  [...]}} nulls those columns (history ones in non-current rows only), names them in
  `restricted_columns` of wrapped results and sets `X-Has-Restricted-Columns: true`;
- `tables_errors`: report this many inaccessible employees under `errors` on every page;
- `tables_repeat_cursor`: answer a cursored page with the cursor it was given (a HiBob bug
  the tap must not loop on);
- `tables_human_readable`: rows carry a `humanReadable` copy (dates as dd/MM/yyyy);
- `tables_extra_column`: rows carry one more column (a column HiBob added after our schema);
- `tables_overlap`: each page after the first repeats this many rows of the previous page
  (an offset that shifted while the table changed).

Rows are generated once per table and cached in `tenant.data`; pages are slices of a cached
row list, so 20,000-employee tenants stay fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from fake_hibob.server import Reply, Request, error_reply, forbidden, json_reply

if TYPE_CHECKING:
    import random

    from fake_hibob.server import FakeHibob
    from fake_hibob.tenant import Employee, Tenant

# Table path segment → the People section whose permissions govern it.
SECTIONS = {
    "work": "Work",
    "employment": "Employment",
    "lifecycle": "Lifecycle",
    "salaries": "Payroll",
    "variable": "Payroll",
    "equities": "Payroll",
    "address": "Address",
}
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_EMPLOYEE_IDS = 200
CHANGED_BY = {"changedBy": "Ada Admin", "changedById": "3332883804594373380"}
CURRENCIES = {"London (Demo)": "GBP", "New York (Demo)": "USD", "Tel Aviv (Demo)": "ILS"}
CITIES = {
    "London (Demo)": ("London", "EC1A 1BB", None, "United Kingdom"),
    "New York (Demo)": ("New York", "10001", "NY", "United States"),
    "Tel Aviv (Demo)": ("Tel Aviv", "6100000", None, "Israel"),
}
TITLES = ["209193001", "209193002", "209193003", "209193004"]
# base64 of these bytes starts with "+/+/": a cursor that is not URL-encoded breaks.
_CURSOR_PREFIX = b"\xfb\xff\xbf\xfb\xff"


@dataclass(frozen=True)
class Entry:
    """One table row of one employee; `current` marks the row effective today."""

    employee_id: str
    employee_index: int
    row: dict[str, Any]
    current: bool


# Row generation -------------------------------------------------------------------------


def _dated_id(day: date) -> int:
    """HiBob's dated entry ids look like 1000020260906 (10000 + YYYYMMDD): they repeat
    across employees whose rows share a date."""
    return int(f"10000{day:%Y%m%d}")


def _change(rng: random.Random, reason: str | None = None) -> dict[str, Any]:
    return {**CHANGED_BY, "reason": reason if rng.random() < 0.5 else None}


def _dated_rows(
    rng: random.Random, today: date, dated: list[tuple[date, dict[str, Any]]]
) -> list[tuple[dict[str, Any], bool]]:
    """Effective-dated rows with end dates, `isCurrent` and audit columns filled in.

    The current row is the latest one effective today; an employee whose only rows are
    future-dated has the first as current (HiBob does this for new salary tables).
    """
    dated.sort(key=lambda pair: pair[0])
    effective = [i for i, (day, _) in enumerate(dated) if day <= today]
    current = effective[-1] if effective else 0
    out = []
    for i, (day, columns) in enumerate(dated):
        end = dated[i + 1][0] - timedelta(days=1) if i + 1 < len(dated) else None
        created = day - timedelta(days=rng.randint(0, 20))
        row = {
            "id": _dated_id(day),
            "effectiveDate": day.isoformat(),
            "endEffectiveDate": end.isoformat() if end else None,
            "activeEffectiveDate": day.isoformat(),
            "isCurrent": i == current,
            "canBeDeleted": i > 0,
            "creationDate": created.isoformat() if rng.random() < 0.8 else None,
            "modificationDate": created.isoformat(),
            **columns,
        }
        out.append((row, i == current))
    return out


def _reorg_date(today: date) -> date:
    """A company-wide change on one date: many employees get a row with the same id."""
    return date(today.year - 1, 1, 1)


def _later(rng: random.Random, after: date, before: date) -> date | None:
    if (before - after).days < 2:
        return None
    return after + timedelta(days=rng.randint(1, (before - after).days - 1))


def _until(e: Employee, today: date) -> date:
    return e.termination_date or today


def _person(tenant: Tenant, employee_id: str | None) -> dict[str, Any] | None:
    if employee_id is None:
        return None
    by_id = tenant.data.get("employees_by_id")
    if by_id is None:
        by_id = tenant.data["employees_by_id"] = {e.id: e for e in tenant.employees}
    m = by_id[employee_id]
    return {
        "id": m.id,
        "firstName": m.first_name,
        "surname": m.surname,
        "email": m.email,
        "displayName": m.display_name,
    }


def _work(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    today = tenant.now.date()

    def columns(change_type: str, title: str, reason: str | None = None) -> dict[str, Any]:
        return {
            "change": _change(rng, reason),
            "workChangeType": change_type,
            "title": title,
            "department": e.department,
            "site": e.site,
            "siteId": e.site_id,
            "reportsTo": _person(tenant, e.manager_id),
            "customColumns": (
                {"column_1644862416222": rng.choice(["Remote", "Hybrid", "Office"])}
                if rng.random() < 0.7
                else {}
            ),
        }

    title = rng.choice(TITLES)
    dated = [(e.start_date, columns("New Employee", title))]
    reorg = _reorg_date(today)
    if e.start_date < reorg < _until(e, today) and rng.random() < 0.6:
        dated.append((reorg, columns("Reorganisation", title, "Reorganisation")))
    if e.lifecycle == "employed" and rng.random() < 0.4:
        base = max(e.start_date, reorg) if reorg < today else e.start_date
        if day := _later(rng, base, today):
            dated.append((day, columns("Promotion", rng.choice(TITLES), "Promotion")))
    if e.lifecycle == "employed" and rng.random() < 0.15:
        dated.append((today + timedelta(days=rng.randint(10, 60)), columns("Transfer", title)))
    return _dated_rows(rng, today, dated)


def _pattern(hours: float, days: int) -> dict[str, Any]:
    names = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    per_day = hours / days
    return {
        "days": {n: (per_day if 0 < i <= days else 0) for i, n in enumerate(names)},
        "hoursPerDay": 7.5,
        "workingPatternId": 100 + days,
        "workingPatternType": "weekly",
    }


def _employment(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    today = tenant.now.date()

    def columns(contract: str, fte: float, days: int) -> dict[str, Any]:
        weekly = 37.5 * fte / 100
        return {
            "change": _change(rng, "Contract change"),
            "contract": contract,
            "type": rng.choice(["Permanent", "Temporary"]),
            "salaryPayType": "Salaried",
            "flsaCode": "Exempt" if e.site.startswith("New York") else None,
            # Whole numbers arrive as JSON integers (100), others as decimals (62.5).
            "fte": int(fte) if fte == int(fte) else fte,
            "weeklyHours": int(weekly) if weekly == int(weekly) else weekly,
            "hoursInDayNotWorked": 7.5,
            "calendarId": 3110 + e.site_id % 3,
            "calendarName": f"{e.site} holidays",
            "actualWorkingPattern": _pattern(weekly, days),
            "siteWorkingPattern": _pattern(37.5, 5),
            "standardWorkingPattern": None,
            "standardWorkingPatternId": None,
            "personalWorkingPatternType": "Fixed" if days < 5 else None,
            "workingPattern": None,
            "customColumns": {"column_1655996461265": rng.choice([12.5, 20, None])},
        }

    dated = [(e.start_date, columns("Full time", 100, 5))]
    if e.lifecycle != "hired" and rng.random() < 0.35:
        fte, days = rng.choice([(80, 4), (62.5, 4), (50, 3)])
        if day := _later(rng, e.start_date, _until(e, today)):
            dated.append((day, columns("Part time", fte, days)))
    if e.lifecycle == "employed" and rng.random() < 0.1:
        dated.append((today + timedelta(days=rng.randint(5, 90)), columns("Full time", 100, 5)))
    return _dated_rows(rng, today, dated)


def _lifecycle(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    today = tenant.now.date()

    def columns(status: str, reason_type: str | None = None) -> dict[str, Any]:
        return {
            "change": _change(rng, reason_type),
            "status": status,
            "employeeStatus": "Inactive" if status == "terminated" else "Active",
            "reasonType": reason_type,
            "leaveReason": None,
            "workChangeType": None,
            "customColumns": {},
        }

    dated = [
        (e.start_date - timedelta(days=rng.randint(14, 60)), columns("hired")),
        (e.start_date, columns("employed")),
    ]
    if e.termination_date:
        reason = rng.choice(["Resignation", "Dismissal", "End of contract"])
        dated.append((e.termination_date, columns("terminated", reason)))
    return _dated_rows(rng, today, dated)


def _salaries(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    today = tenant.now.date()
    currency = CURRENCIES[e.site]
    hourly = rng.random() < 0.1

    def columns(value: float, change_type: str) -> dict[str, Any]:
        return {
            "change": {**CHANGED_BY},
            "base": {"value": value, "currency": currency},
            "payPeriod": "Hourly" if hourly else "Annual",
            "payFrequency": rng.choice(["Monthly", "Every two weeks", "Twice a month"]),
            "workChangeType": change_type,
            "customColumns": {},
        }

    value: float = round(rng.uniform(18, 60), 2) if hourly else rng.randrange(35000, 150000, 250)
    dated = [(e.start_date, columns(value, "New Employee"))]
    if (
        e.lifecycle != "hired"
        and rng.random() < 0.5
        and (day := _later(rng, e.start_date, _until(e, today)))
    ):
        value = round(value * 1.045, 2)
        dated.append((day, columns(value, "Annual review")))
    if e.lifecycle == "employed" and rng.random() < 0.15:
        day = today + timedelta(days=rng.randint(10, 120))
        dated.append((day, columns(round(value * 1.03, 2), "Promotion")))
    return _dated_rows(rng, today, dated)


def _variable(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    today = tenant.now.date()
    if e.lifecycle == "hired" or rng.random() < 0.4:
        return []
    out = []
    count = rng.randint(1, 2)
    for k in range(count):
        day = e.start_date + timedelta(days=365 * k + 30)
        current = k == count - 1 and day <= today
        company = rng.choice([50, 33.3, 40.5])
        department = round(rng.uniform(0, 100 - company), 1)
        row = {
            # Simple tables count their ids up per table, so they repeat across employees.
            "id": 2185610 + k,
            "effectiveDate": day.isoformat(),
            "endEffectiveDate": None,
            "isCurrent": current,
            "change": _change(rng, "Bonus plan"),
            "variableType": rng.choice(["Bonus", "Commission"]),
            "amount": {"value": rng.randrange(1000, 20000, 50), "currency": CURRENCIES[e.site]},
            "paymentPeriod": rng.choice(["Annual", "Quarterly"]),
            "companyPercent": company,
            "departmentPercent": department,
            "individualPercent": round(100 - company - department, 1),
            "percentageOfAnnualSalary": rng.choice([5, 7.5, 10]),
            "payoutType": "Fixed",
            "customColumns": {},
        }
        out.append((row, current))
    return out


def _equities(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    if e.lifecycle == "hired" or rng.random() < 0.6:
        return []
    out = []
    count = rng.randint(1, 2)
    for k in range(count):
        granted = e.start_date + timedelta(days=90 + 400 * k)
        row = {
            "id": 544445 + k,
            "quantity": rng.choice([1000, 2500, 312.5]),
            "equityType": rng.choice(["Options", "RSU"]),
            "grantType": "Initial Grant" if k == 0 else "Merit Grant",
            "grantStatus": "Granted",
            "grantDate": granted.isoformat(),
            "vestingCommencementDate": e.start_date.isoformat(),
            # A list item id, sent as a number.
            "vestingSchedule": 1 + k,
            "vestingTerm": "48 months",
            "optionExpiration": (granted + timedelta(days=3650)).isoformat(),
            "exercisePrice": {"value": rng.choice([1.25, 0.8, 3]), "currency": "USD"},
            "grantAmount": None,
            "grantNumber": f"G-{e.index:05d}-{k}",
            "consentNumber": None,
            "taxPlan": None,
            "specialTerms": None,
            "change": {**CHANGED_BY, "reason": None},
            "customColumns": {},
        }
        out.append((row, k == count - 1))
    return out


def _address(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    today = tenant.now.date()
    city, post_code, state, country = CITIES[e.site]

    def columns(street: int) -> dict[str, Any]:
        line1 = f"{street} High Street"
        return {
            "change": _change(rng, "Moved"),
            "line1": line1,
            "line2": rng.choice([None, "Flat 2"]),
            "city": city,
            "postCode": post_code,
            "state": state,
            "country": country,
            "fullAddress": f"{line1}, {city} {post_code}, {country}",
            "customColumns": {},
        }

    dated = [(e.start_date, columns(rng.randint(1, 200)))]
    if rng.random() < 0.3 and (day := _later(rng, e.start_date, _until(e, today))):
        dated.append((day, columns(rng.randint(1, 200))))
    return _dated_rows(rng, today, dated)


GENERATORS = {
    "work": _work,
    "employment": _employment,
    "lifecycle": _lifecycle,
    "salaries": _salaries,
    "variable": _variable,
    "equities": _equities,
    "address": _address,
}


def table_entries(tenant: Tenant, table: str) -> list[Entry]:
    """Every row of one table for the whole tenant, generated once."""
    cache = tenant.data.setdefault("tables", {})
    if table not in cache:
        rng = tenant.rng(f"tables:{table}")
        cache[table] = [
            Entry(e.id, e.index, row, current)
            for e in tenant.employees
            for row, current in GENERATORS[table](tenant, e, rng)
        ]
    return cache[table]  # type: ignore[no-any-return]


def visible_entries(
    app: FakeHibob, table: str, access: str, employee_ids: tuple[str, ...] | None
) -> list[Entry]:
    """The rows this service user gets, in HiBob's order; cached per scope."""
    profile = app.profile
    key = (table, profile.name, profile.lifecycle_statuses, access, employee_ids)
    cache = app.tenant.data.setdefault("tables_visible", {})
    if key not in cache:
        visible = {e.id for e in app.visible_employees()}
        if employee_ids is not None:
            visible &= set(employee_ids)
        cache[key] = [
            entry
            for entry in table_entries(app.tenant, table)
            if entry.employee_id in visible and (access == "history" or entry.current)
        ]
    return cache[key]  # type: ignore[no-any-return]


def expected_rows(app: FakeHibob, table: str) -> list[Entry]:
    """For tests: the rows a full read of one table must return."""
    access = app.profile.table_access(SECTIONS[table])
    return visible_entries(app, table, access, None) if access else []


# Cursors --------------------------------------------------------------------------------


def _fingerprint(table: str, request: Request) -> str:
    others = sorted((k, v) for k, v in request.query.items() if k != "cursor")
    return hashlib.sha256(json.dumps([table, others]).encode()).hexdigest()[:16]


def _encode_cursor(offset: int, fingerprint: str) -> str:
    raw = _CURSOR_PREFIX + json.dumps({"o": offset, "f": fingerprint}).encode()
    # Pad with JSON-safe spaces so the encoding always ends in "=".
    raw += b" " * (1 if len(raw) % 3 == 0 else 0)
    return base64.b64encode(raw).decode()


def _decode_cursor(cursor: str) -> dict[str, Any] | None:
    try:
        raw = base64.b64decode(cursor, validate=True)
    except ValueError:
        return None
    if not raw.startswith(_CURSOR_PREFIX):
        return None
    try:
        data = json.loads(raw[len(_CURSOR_PREFIX) :])
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("o"), int) else None


# Serving --------------------------------------------------------------------------------


def _bad_request(message: str) -> Reply:
    return error_reply(400, "bad.request", message)


def _limit(request: Request) -> int | None:
    raw = request.arg("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d{1,6}", raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_LIMIT else None


def _employee_ids(request: Request) -> tuple[str, ...] | Reply | None:
    raw = request.arg("employeeIds")
    if raw is None:
        return None
    ids = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not ids:
        return _bad_request("employeeIds must list at least one employee id")
    if len(ids) > MAX_EMPLOYEE_IDS:
        return _bad_request(f"employeeIds accepts at most {MAX_EMPLOYEE_IDS} ids")
    return ids


def _human_readable(row: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in row.items():
        if value is None or isinstance(value, dict | list):
            continue
        text = str(value)
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            text = f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
        elif isinstance(value, bool):
            text = "Yes" if value else "No"
        out[key] = text
    return out


def _restrict(entry: Entry, restricted: dict[str, list[str]]) -> dict[str, Any]:
    row = dict(entry.row)
    for column in restricted.get("no_view_permission", []):
        row[column] = None
    if not entry.current:
        for column in restricted.get("no_view_history_permission", []):
            row[column] = None
    return row


def _results(app: FakeHibob, table: str, page: list[Entry]) -> list[dict[str, Any]]:
    """Group a page's rows by employee, in the row shape the test asked for."""
    shape = app.options.tables_shape
    restricted = app.options.tables_restricted.get(table, {})
    human = app.options.tables_human_readable
    extra = app.options.tables_extra_column
    results: list[dict[str, Any]] = []
    for entry in page:
        row = _restrict(entry, restricted) if restricted else dict(entry.row)
        if human:
            row["humanReadable"] = _human_readable(row)
        if extra:
            row[extra] = "new"
        if not results or results[-1]["employeeId"] != entry.employee_id:
            wrapped = shape == "wrapped" or (shape == "mixed" and entry.employee_index % 2)
            results.append({"employeeId": entry.employee_id, "_wrapped": wrapped, "rows": []})
        results[-1]["rows"].append(row)
    out = []
    for result in results:
        values: list[Any] = result["rows"]
        if result["_wrapped"]:
            columns = {
                "no_view_permission": list(restricted.get("no_view_permission", [])),
                "no_view_history_permission": list(
                    restricted.get("no_view_history_permission", [])
                ),
            }
            values = [{"values": values, "restricted_columns": columns}]
        out.append({"employeeId": result["employeeId"], "values": values})
    return out


def _errors(app: FakeHibob, employee_ids: tuple[str, ...] | None) -> list[dict[str, str]]:
    visible = {e.id for e in app.visible_employees()}
    errors = [
        {"employeeId": i, "error": "Employee not found or not accessible"}
        for i in employee_ids or ()
        if i not in visible
    ]
    for n in range(app.options.tables_errors):
        errors.append({"employeeId": str(9000000000000000000 + n), "error": "No access"})
    return errors


def bulk_table(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    table = match.group("table")
    access = app.profile.table_access(SECTIONS[table])
    if access is None:
        return forbidden()
    limit = _limit(request)
    if limit is None:
        return _bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}")
    employee_ids = _employee_ids(request)
    if isinstance(employee_ids, Reply):
        return employee_ids
    if table == "address":
        employee_ids = None  # observed: the address table ignores employeeIds
    fingerprint = _fingerprint(table, request)
    offset = 0
    cursor = request.arg("cursor")
    if cursor is not None:
        decoded = _decode_cursor(cursor)
        if decoded is None:
            return _bad_request("Invalid cursor")
        if decoded.get("f") != fingerprint:
            return _bad_request("The cursor was issued for different request parameters")
        offset = decoded["o"]
    entries = visible_entries(app, table, access, employee_ids)
    start = max(0, offset - app.options.tables_overlap) if offset else 0
    page = entries[start : offset + limit]
    next_cursor = None
    if offset + limit < len(entries):
        next_cursor = _encode_cursor(offset + limit, fingerprint)
    if cursor is not None and app.options.tables_repeat_cursor:
        next_cursor = cursor
    payload = {
        "results": _results(app, table, page),
        "response_metadata": {"next_cursor": next_cursor},
        "errors": _errors(app, employee_ids),
    }
    headers = {}
    if app.options.tables_restricted.get(table):
        headers["X-Has-Restricted-Columns"] = "true"
    return json_reply(payload, headers=headers)


def register(app: FakeHibob) -> None:
    """One route per table, each with its own rate-limit key (bulk_work, ...)."""
    for table in SECTIONS:
        app.route("GET", f"/v1/bulk/people/(?P<table>{table})", f"bulk_{table}")(bulk_table)
