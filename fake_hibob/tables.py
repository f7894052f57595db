"""Fake HiBob employee tables: bulk reads, their metadata and training.

Routes (docs/development/hibob-api.md, "Employee tables"):
- `GET /v1/bulk/people/{table}` for the tables in SECTIONS and a test's `extra_tables`,
  rate-limited per table (`bulk_work`, `bulk_right-to-work`, ...); `deductions` and
  `entitlements` answer 404 `table.not.found`; any other name (`dependent`,
  `right-to-works`, `training`) falls through to the web app's HTML 200;
- `GET /v1/company/people/employee-tables/metadata` and `/metadata/{table}`: every built-in
  table with a data endpoint (fake_hibob/catalog.py), no permission needed;
- `GET /v1/people/{id}/training`: one employee's training rows.

No friendlier than HiBob:
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

"Current" rows: the effective row of historical tables; one per type for deductions and
entitlements (multi-current); the latest variable and equity row; unexpired right-to-work
documents; every dependent and every training record (simple tables).

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
  (an offset that shifted while the table changed);
- `extra_table_columns`: {table: [columns]} adds custom columns to the metadata and a value
  for each to every row's `customColumns` (added when served: the cache is untouched);
- `extra_tables`: whole tables with metadata and a bulk route, 0-3 rows per employee;
- `table_metadata_answer`: "403", "404" or "html" makes the metadata endpoints unavailable.

Rows are generated once per table and cached in `tenant.data`; pages are slices of a cached
row list, so 20,000-employee tenants stay fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from fake_hibob.catalog import BUILT_IN_TABLES, CATEGORY_SECTIONS, COST_CENTRE, column
from fake_hibob.people import CATEGORIES, named_lists
from fake_hibob.server import HTML_PAGE, Reply, Request, error_reply, forbidden, json_reply
from fake_hibob.tenant import FIRST_NAMES

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
    "deduction": "Payroll",
    "entitlement": "Payroll",
    "dependents": "Home",
    "right-to-work": "Identification",
    "address": "Address",
}
# The plural spellings answer 404 JSON; other near misses (`dependent`, `right-to-works`)
# fall through to the web app's HTML 200 (docs/development/hibob-api.md, bulk tables).
NOT_FOUND_TABLES = ("deductions", "entitlements")
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
    m = _employees_by_id(tenant)[employee_id]
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
            "customColumns": {COST_CENTRE: f"CC-{100 + e.index % 7}"},
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


def _typed_rows(
    tenant: Tenant,
    e: Employee,
    rng: random.Random,
    types: list[str],
    columns: Callable[[str], dict[str, Any]],
) -> list[tuple[dict, bool]]:
    """Deductions and entitlements are "multi-current historical": effective-dated rows per
    type, one current row for each type. Changes take effect on the 1st of a month and ids
    are 10000+<type index> then YYYYMMDD, so they repeat across employees and are unique
    within one."""
    today = tenant.now.date()
    if e.lifecycle == "hired" or rng.random() < 0.45:
        return []
    out = []
    for type_id in sorted(rng.sample(types, rng.choice([1, 1, 2, 3]))):
        until = _until(e, today)
        start = _next_first(e.start_date + timedelta(days=rng.randint(0, 60)))
        dated = [(start, columns(type_id))]
        if rng.random() < 0.35 and (day := _later(rng, start, until)):
            dated.append((_next_first(day), columns(type_id)))
        for row, current in _dated_rows(rng, today, dated):
            row["id"] = int(
                f"{10000 + types.index(type_id)}{row['effectiveDate'].replace('-', '')}"
            )
            out.append((row, current))
    return out


def _next_first(day: date) -> date:
    """The first day of the month after `day` (or `day` itself if it is a 1st)."""
    if day.day == 1:
        return day
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _deduction(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    def columns(kind: str) -> dict[str, Any]:
        percentage = kind == "1"  # pensions are a share of salary, the others an amount
        return {
            "change": _change(rng, "Benefits enrolment"),
            "deductionType": kind,
            "amount": None
            if percentage
            else {"value": rng.choice([15, 25, 42.5, 60, 120]), "currency": CURRENCIES[e.site]},
            "percentage": rng.choice([3, 4.5, 5, 8]) if percentage else None,
            "customColumns": {},
        }

    return _typed_rows(tenant, e, rng, ["1", "2", "3", "4"], columns)


def _entitlement(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    def columns(kind: str) -> dict[str, Any]:
        percentage = kind == "3"  # meal vouchers: a share of their value
        return {
            "change": _change(rng, "Entitlement granted"),
            "entitlementType": kind,
            "amount": None
            if percentage
            else {"value": rng.choice([30, 45.5, 250, 400]), "currency": CURRENCIES[e.site]},
            "percentage": 50 if percentage else None,
            "frequency": rng.choice(["Monthly", "Monthly", "Annual", "One-off"]),
            "customColumns": {},
        }

    return _typed_rows(tenant, e, rng, ["1", "2", "3", "4"], columns)


def _simple_row(rng: random.Random, row_id: int, day: date) -> dict[str, Any]:
    return {
        "id": row_id,
        "creationDate": day.isoformat(),
        "modificationDate": (day + timedelta(days=rng.randint(0, 30))).isoformat(),
        "change": {**CHANGED_BY, "reason": None},
    }


def _dependents(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    """A simple table: every dependent is a current row."""
    today = tenant.now.date()
    if rng.random() < 0.55:
        return []
    out = []
    for k in range(rng.choice([1, 1, 2, 2, 3])):
        spouse = k == 0 and rng.random() < 0.4
        age = rng.randint(25, 60) if spouse else rng.randint(0, 24)
        born = today - timedelta(days=365 * age + rng.randint(0, 364))
        row = {
            **_simple_row(rng, 700001 + k, max(e.start_date, born)),
            "firstName": rng.choice(FIRST_NAMES),
            "surname": e.surname,
            "relation": rng.choice(["Spouse", "Partner"])
            if spouse
            else rng.choice(["Child", "Child", "Stepchild"]),
            "birthDate": born.isoformat(),
            "gender": rng.choice(["Female", "Male", "Non-binary", None]),
            "isFullTimeStudent": (not spouse and age >= 16 and rng.random() < 0.6),
            "customColumns": {},
        }
        out.append((row, True))
    return out


def _right_to_work(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    """Documents; the current ones have not expired (a renewal leaves an expired one)."""
    today = tenant.now.date()
    if rng.random() < 0.5:
        return []
    issued = e.start_date - timedelta(days=rng.randint(30, 900))
    expiry: date | None = issued + timedelta(days=365 * rng.randint(2, 10))
    documents = [(rng.choice(["1", "2", "3", "4"]), issued, expiry)]
    if rng.random() < 0.3:
        # Renewed: the first document expired, the new one runs on (or never expires).
        old_expiry = today - timedelta(days=rng.randint(10, 400))
        documents = [(documents[0][0], issued, old_expiry)]
        renewed = old_expiry - timedelta(days=rng.randint(0, 30))
        new_expiry = None if rng.random() < 0.3 else renewed + timedelta(days=365 * 5)
        documents.append((rng.choice(["1", "4"]), renewed, new_expiry))
    elif rng.random() < 0.2:
        documents = [(documents[0][0], issued, None)]
    out = []
    for k, (kind, issue, until) in enumerate(documents):
        row = {
            **_simple_row(rng, 800001 + k, issue),
            "documentType": kind,
            "country": rng.choice(["1000", "1001", "1002", "1003"]),
            "documentNumber": f"{'PVWR'[int(kind) - 1]}{rng.randint(10**7, 10**8 - 1)}",
            "issueDate": issue.isoformat(),
            "expiryDate": until.isoformat() if until else None,
            "customColumns": {},
        }
        out.append((row, until is None or until >= today))
    return out


TRAINING_COURSES = [
    ("Fire safety", "Annual fire warden refresher", "Annual"),
    ("Data protection", "GDPR essentials", "Every two years"),
    ("Leadership 101", "First-time managers' programme", "One time"),
    ("First aid", "Workplace first aid certificate", "Every two years"),
    ("Negotiation", None, "One time"),
]


def _training(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
    """0-3 training records; a simple table (every row is current)."""
    today = tenant.now.date()
    out = []
    for k in range(rng.choice([0, 0, 1, 1, 2, 3])):
        name, description, frequency = rng.choice(TRAINING_COURSES)
        start = e.start_date + timedelta(days=rng.randint(0, 900))
        end = start + timedelta(days=rng.randint(0, 5))
        status = "Completed" if end < today else "Not started" if start > today else "In progress"
        row = {
            "id": 900001 + k,
            "name": name,
            "description": description,
            "cost": {"value": rng.choice([0, 150, 499.99, 1200]), "currency": CURRENCIES[e.site]},
            "status": status,
            "frequency": frequency,
            "startDate": start.isoformat(),
            "endDate": end.isoformat() if rng.random() < 0.9 else None,
            "documentId": rng.randint(10**6, 10**7) if status == "Completed" else None,
            "customColumns": {},
        }
        out.append((row, True))
    return out


GENERATORS = {
    "work": _work,
    "employment": _employment,
    "lifecycle": _lifecycle,
    "salaries": _salaries,
    "variable": _variable,
    "equities": _equities,
    "deduction": _deduction,
    "entitlement": _entitlement,
    "dependents": _dependents,
    "right-to-work": _right_to_work,
    "address": _address,
    "training": _training,
}
Generator = Callable[["Tenant", "Employee", "random.Random"], list[tuple[dict, bool]]]


# Values of declared columns (extra columns, extra tables, custom tables) -----------------


def typed_value(tenant: Tenant, e: Employee, kind: str, list_id: str | None, salt: str) -> Any:
    """A deterministic value of a HiBob field type; about one in eight is empty."""
    h = zlib.crc32(f"{salt}:{e.index}".encode())
    if h % 8 == 0:
        return None
    today = tenant.now.date()
    choices = named_list_ids(tenant, list_id or "")
    match kind:
        case "text" | "text-area":
            return f"{kind} value {h % 1000} of {e.first_name}"
        case "number":
            return (h % 10000) / 4  # fractions included
        case "date":
            return (today - timedelta(days=h % 3000)).isoformat()
        case "boolean":
            return bool(h & 2)
        case "list" | "hierarchy-list":
            return choices[h % len(choices)] if choices else str(1 + h % 4)
        case "list_id":
            value = choices[h % len(choices)] if choices else str(1 + h % 4)
            return int(value) if value.isdigit() else value
        case "multi-list":
            return [choices[(h + k) % len(choices)] for k in range(h % 3)] if choices else []
        case "currency":
            return {"value": (h % 500000) / 100, "currency": CURRENCIES[e.site]}
        case "employee-reference":
            return tenant.employees[h % len(tenant.employees)].id
        case "employee":
            return _person(tenant, tenant.employees[h % len(tenant.employees)].id)
        case "document":
            return {"id": h % 10**6, "name": f"document-{e.index}-{h % 100}.pdf"}
        case "working_pattern":
            return _pattern(37.5, 5)
    return f"{h % 100}"  # a type the fake knows nothing about: some string


def named_list_ids(tenant: Tenant, list_id: str) -> list[str]:
    """Active item ids of one named list (leaves only), for list column values."""
    key = f"tables.choices.{list_id}"
    cached = tenant.data.get(key)
    if cached is None:
        out: list[str] = []

        def walk(items: list[dict]) -> None:
            for item in items:
                if item["children"]:
                    walk(item["children"])
                elif not item["archived"]:
                    out.append(item["id"])

        walk(named_lists(tenant).get(list_id, []))
        cached = tenant.data[key] = out
    return cached  # type: ignore[no-any-return]


def _normal_column(raw: dict[str, Any], *, custom: bool) -> dict[str, Any]:
    """A column as metadata shows it, from a test's short declaration."""
    out = column(
        raw["id"],
        raw.get("name", raw["id"]),
        raw.get("type", "text"),
        (raw.get("typeData") or {}).get("listId"),
        custom=raw.get("custom", custom),
        mandatory=raw.get("mandatory", False),
    )
    if raw.get("typeData"):
        out["typeData"] = dict(raw["typeData"])
    return out


def _normal_table(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": raw["id"],
        "name": raw.get("name", raw["id"]),
        "category": raw.get("category", "work"),
        "description": raw.get("description"),
        "historical": bool(raw.get("historical", False)),
        "columns": [_normal_column(c, custom=False) for c in raw.get("columns", [])],
    }


def extra_tables(app: FakeHibob) -> dict[str, dict[str, Any]]:
    """Tables a test added (`options.extra_tables`), by id, as metadata shows them."""
    return {t["id"]: _normal_table(t) for t in app.options.extra_tables}


def extra_columns(app: FakeHibob, table: str) -> list[dict[str, Any]]:
    """Custom columns a test added to one table (`options.extra_table_columns`)."""
    return [_normal_column(c, custom=True) for c in app.options.extra_table_columns.get(table, [])]


def tables_metadata(app: FakeHibob) -> list[dict[str, Any]]:
    """Every built-in table with a data endpoint, then the test's extra tables."""
    out = []
    for table in [*BUILT_IN_TABLES, *extra_tables(app).values()]:
        columns = [*table["columns"], *extra_columns(app, table["id"])]
        out.append({**table, "columns": [dict(c) for c in columns]})
    return out


def section_of(app: FakeHibob, table: str) -> str | None:
    """The People section whose permissions govern a table; None: no such table."""
    if table in SECTIONS:
        return SECTIONS[table]
    declared = extra_tables(app).get(table)
    if declared is None:
        return None
    category = declared["category"]
    return CATEGORY_SECTIONS.get(category) or CATEGORIES.get(category, category)


def _declared_generator(declaration: dict[str, Any]) -> Generator:
    """Rows of a test's extra table: 0-3 per employee with a value for every column."""
    columns = declaration["columns"]

    def generate(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
        count = rng.choice([0, 1, 1, 2, 3])

        def values(k: int) -> dict[str, Any]:
            row: dict[str, Any] = {"customColumns": {}}
            for c in columns:
                value = typed_value(
                    tenant, e, c["type"], c["typeData"].get("listId"), f"{c['id']}:{k}"
                )
                (row["customColumns"] if c["custom"] else row)[c["id"]] = value
            return row

        if declaration["historical"]:
            today = tenant.now.date()
            days = sorted(
                {e.start_date + timedelta(days=rng.randint(0, 700)) for _ in range(count)}
            )
            dated = [(day, {"change": _change(rng), **values(k)}) for k, day in enumerate(days)]
            return _dated_rows(rng, today, dated)
        return [({"id": 600001 + k, **values(k)}, True) for k in range(count)]

    return generate


# Cached rows -----------------------------------------------------------------------------


def table_entries(
    tenant: Tenant, table: str, generator: Generator | None = None, key: str | None = None
) -> list[Entry]:
    """Every row of one table for the whole tenant, generated once (cached under `key`,
    the table name for built-in tables)."""
    cache = tenant.data.setdefault("tables", {})
    key = key or table
    if key not in cache:
        rng = tenant.rng(f"tables:{table}")
        make = generator or GENERATORS[table]
        cache[key] = [
            Entry(e.id, e.index, row, current)
            for e in tenant.employees
            for row, current in make(tenant, e, rng)
        ]
    return cache[key]  # type: ignore[no-any-return]


def _source(app: FakeHibob, table: str) -> tuple[Generator | None, str]:
    """The generator and cache key of a built-in or extra table."""
    if table in GENERATORS:
        return None, table
    declaration = extra_tables(app)[table]
    key = f"extra:{json.dumps(declaration, sort_keys=True)}"
    return _declared_generator(declaration), key


def visible_entries(
    app: FakeHibob,
    table: str,
    access: str,
    employee_ids: tuple[str, ...] | None,
    generator: Generator | None = None,
    key: str | None = None,
) -> list[Entry]:
    """The rows this service user gets, in HiBob's order; cached per scope."""
    profile = app.profile
    if generator is None and key is None and table not in GENERATORS:
        generator, key = _source(app, table)
    source = key or table
    scope = (source, profile.name, profile.lifecycle_statuses, access, employee_ids)
    cache = app.tenant.data.setdefault("tables_visible", {})
    if scope not in cache:
        visible = {e.id for e in app.visible_employees()}
        if employee_ids is not None:
            visible &= set(employee_ids)
        cache[scope] = [
            entry
            for entry in table_entries(app.tenant, table, generator, key)
            if entry.employee_id in visible and (access == "history" or entry.current)
        ]
    return cache[scope]  # type: ignore[no-any-return]


def expected_rows(app: FakeHibob, table: str) -> list[Entry]:
    """For tests: the rows a full read of one table must return."""
    section = section_of(app, table)
    access = app.profile.table_access(section) if section else None
    return visible_entries(app, table, access, None) if access else []


def employee_rows(app: FakeHibob, table: str, employee_id: str) -> list[dict[str, Any]]:
    """One employee's rows of a table (for per-employee routes), indexed once."""
    index = app.tenant.data.setdefault("tables_by_employee", {})
    if table not in index:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in table_entries(app.tenant, table):
            grouped.setdefault(entry.employee_id, []).append(entry.row)
        index[table] = grouped
    return list(index[table].get(employee_id, []))


# Cursors --------------------------------------------------------------------------------


def fingerprint(table: str, params: Any) -> str:
    """What a cursor is bound to: the table and every other request parameter."""
    return hashlib.sha256(json.dumps([table, params], sort_keys=True).encode()).hexdigest()[:16]


def _query_fingerprint(table: str, request: Request) -> str:
    return fingerprint(table, sorted((k, v) for k, v in request.query.items() if k != "cursor"))


def _encode_cursor(offset: int, bound_to: str) -> str:
    raw = _CURSOR_PREFIX + json.dumps({"o": offset, "f": bound_to}).encode()
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


def cursor_offset(cursor: str | None, bound_to: str) -> int | Reply:
    """The row offset a cursor stands for, or the 400 HiBob gives a broken or reused one."""
    if cursor is None:
        return 0
    decoded = _decode_cursor(cursor)
    if decoded is None:
        return bad_request("Invalid cursor")
    if decoded.get("f") != bound_to:
        return bad_request("The cursor was issued for different request parameters")
    return int(decoded["o"])


# Serving --------------------------------------------------------------------------------


def bad_request(message: str) -> Reply:
    return error_reply(400, "bad.request", message)


def parse_limit(raw: Any) -> int | None:
    """1-200, default 50; anything else is None (a 400)."""
    if raw is None:
        return DEFAULT_LIMIT
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and re.fullmatch(r"\d{1,6}", raw):
        value = int(raw)
    else:
        return None
    return value if 1 <= value <= MAX_LIMIT else None


def _employee_ids(request: Request) -> tuple[str, ...] | Reply | None:
    raw = request.arg("employeeIds")
    if raw is None:
        return None
    ids = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not ids:
        return bad_request("employeeIds must list at least one employee id")
    if len(ids) > MAX_EMPLOYEE_IDS:
        return bad_request(f"employeeIds accepts at most {MAX_EMPLOYEE_IDS} ids")
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
    for column_id in restricted.get("no_view_permission", []):
        row[column_id] = None
    if not entry.current:
        for column_id in restricted.get("no_view_history_permission", []):
            row[column_id] = None
    return row


def _with_extra_columns(
    app: FakeHibob, table: str, entry: Entry, row: dict[str, Any], columns: list[dict[str, Any]]
) -> None:
    """Values of a test's extra custom columns, in `customColumns` (a copy, not the cache)."""
    employee = app.tenant.employees[entry.employee_index]
    custom = dict(row.get("customColumns") or {})
    for c in columns:
        salt = f"{table}:{c['id']}:{row.get('id')}"
        value = typed_value(app.tenant, employee, c["type"], c["typeData"].get("listId"), salt)
        if c["custom"]:
            custom[c["id"]] = value
        else:
            row[c["id"]] = value
    row["customColumns"] = custom


def _results(app: FakeHibob, table: str, page: list[Entry]) -> list[dict[str, Any]]:
    """Group a page's rows by employee, in the row shape the test asked for."""
    shape = app.options.tables_shape
    restricted = app.options.tables_restricted.get(table, {})
    human = app.options.tables_human_readable
    extra = app.options.tables_extra_column
    added = extra_columns(app, table)
    results: list[dict[str, Any]] = []
    for entry in page:
        row = _restrict(entry, restricted) if restricted else dict(entry.row)
        if added:
            _with_extra_columns(app, table, entry, row, added)
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
    visible = app.visible_ids()
    errors = [
        {"employeeId": i, "error": "Employee not found or not accessible"}
        for i in employee_ids or ()
        if i not in visible
    ]
    for n in range(app.options.tables_errors):
        errors.append({"employeeId": str(9000000000000000000 + n), "error": "No access"})
    return errors


def page_reply(
    app: FakeHibob,
    table: str,
    entries: list[Entry],
    *,
    offset: int,
    limit: int,
    bound_to: str,
    cursor: str | None,
    employee_ids: tuple[str, ...] | None,
) -> Reply:
    """One page of the bulk envelope: `limit` rows from `offset`, grouped by employee (an
    employee's rows may continue on the next page), the next cursor, the errors."""
    start = max(0, offset - app.options.tables_overlap) if offset else 0
    page = entries[start : offset + limit]
    next_cursor = None
    if offset + limit < len(entries):
        next_cursor = _encode_cursor(offset + limit, bound_to)
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


def serve_bulk(
    app: FakeHibob,
    request: Request,
    table: str,
    rows: Callable[[tuple[str, ...] | None], list[Entry]],
    *,
    ignore_employee_ids: bool = False,
) -> Reply:
    """A `GET /bulk/...` page: limit, employeeIds and cursor checked as HiBob does."""
    limit = parse_limit(request.arg("limit"))
    if limit is None:
        return bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}")
    employee_ids = _employee_ids(request)
    if isinstance(employee_ids, Reply):
        return employee_ids
    if ignore_employee_ids:
        employee_ids = None
    cursor = request.arg("cursor")
    bound_to = _query_fingerprint(table, request)
    offset = cursor_offset(cursor, bound_to)
    if isinstance(offset, Reply):
        return offset
    return page_reply(
        app,
        table,
        rows(employee_ids),
        offset=offset,
        limit=limit,
        bound_to=bound_to,
        cursor=cursor,
        employee_ids=employee_ids,
    )


def bulk_table(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    table = match.group("table")
    if table in NOT_FOUND_TABLES:
        return error_reply(404, "table.not.found", f"Table '{table}' was not found")
    section = section_of(app, table)
    access = app.profile.table_access(section) if section else None
    if access is None:
        return forbidden()
    return serve_bulk(
        app,
        request,
        table,
        lambda ids: visible_entries(app, table, access, ids),
        # Observed: the address table ignores employeeIds.
        ignore_employee_ids=table == "address",
    )


def _is_extra(app: FakeHibob, match: re.Match[str]) -> bool:
    return match["table"] in extra_tables(app)


# Metadata and training -------------------------------------------------------------------


def _metadata_unavailable(app: FakeHibob) -> Reply | None:
    match app.options.table_metadata_answer:
        case "403":
            return forbidden()
        case "404":
            return error_reply(404, "not.found", "Not found")
        case "html":
            return Reply(200, HTML_PAGE, "text/html; charset=utf-8")
    return None


def get_tables_metadata(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    # Metadata endpoints need no permission, not even a permission group.
    unavailable = _metadata_unavailable(app)
    if unavailable is not None:
        return unavailable
    return json_reply({"tables": tables_metadata(app)})


def get_table_metadata(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    unavailable = _metadata_unavailable(app)
    if unavailable is not None:
        return unavailable
    for table in tables_metadata(app):
        if table["id"] == match["table"]:
            return json_reply(table)
    return error_reply(404, "table.not.found", f"Table '{match['table']}' was not found")


def get_training(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    # A simple table: view or history permission both give every row.
    if app.profile.table_access("Training") is None:
        return forbidden()
    employee_id = match["employee"]
    if employee_id not in app.visible_ids():
        return error_reply(404, "employee.not.found", "Employee not found")
    rows = employee_rows(app, "training", employee_id)
    added = extra_columns(app, "training")
    if added:
        employee = _employees_by_id(app.tenant)[employee_id]
        for n, row in enumerate(rows):
            rows[n] = dict(row)
            entry = Entry(employee_id, employee.index, row, True)
            _with_extra_columns(app, "training", entry, rows[n], added)
    return json_reply({"values": rows})


def _employees_by_id(tenant: Tenant) -> dict[str, Employee]:
    by_id = tenant.data.get("employees_by_id")
    if by_id is None:
        by_id = tenant.data["employees_by_id"] = {e.id: e for e in tenant.employees}
    return by_id  # type: ignore[no-any-return]


def register(app: FakeHibob) -> None:
    """Each table its own route and rate-limit key (bulk_work, bulk_right-to-work, ...): tests
    read `route.endpoint`. A test's extra tables share one route that names the key."""
    for table in (*SECTIONS, *NOT_FOUND_TABLES):
        app.route("GET", f"/v1/bulk/people/(?P<table>{re.escape(table)})", f"bulk_{table}")(
            bulk_table
        )
    app.route("GET", r"/v1/bulk/people/(?P<table>[A-Za-z0-9_-]+)", "bulk_{table}", _is_extra)(
        bulk_table
    )
    app.route("GET", "/v1/company/people/employee-tables/metadata", "table_metadata")(
        get_tables_metadata
    )
    app.route(
        "GET", r"/v1/company/people/employee-tables/metadata/(?P<table>[^/]+)", "table_metadata"
    )(get_table_metadata)
    app.route("GET", r"/v1/people/(?P<employee>[^/]+)/training", "people_training")(get_training)
