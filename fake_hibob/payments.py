"""Fake HiBob actual payments: `POST /v1/people/actual-payments/search`.

Body and answer as docs/development/hibob-api.md ("Actual payments") describes them:

    {"filters": [{"fieldPath": "employeeId", "operator": "equals", "values": ["…"]},
                 {"fieldPath": "payDate", "operator": "range",
                  "values": ["2025-01-01", "2025-06-30"]}],
     "pagination": {"limit": 200, "cursor": null}}

- the `employeeId` filter is required and takes 1-200 ids; the optional `payDate` filter
  takes a `range` of two ISO dates, both inclusive; anything else is a 400;
- `pagination.limit` is 1-200 (default 50) and counts rows, so an employee's payments can
  continue on the next page; the cursor is bound to the filters and the limit;
- the answer is the bulk tables' envelope (fake_hibob/tables.py); requested employees
  outside the access scope are listed under `errors`;
- without "People > Payroll > View selected employees' Payroll section histories": 403.

Each employee has 0-24 payments: the monthly salary on the 25th of the latest 24 months
worked, some Decembers with a bonus; generated per employee on first request.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from fake_hibob.profiles import history
from fake_hibob.server import Reply, Request, error_reply, forbidden
from fake_hibob.tables import (
    CHANGED_BY,
    CURRENCIES,
    MAX_EMPLOYEE_IDS,
    MAX_LIMIT,
    Entry,
    cursor_offset,
    fingerprint,
    page_reply,
    parse_limit,
)

if TYPE_CHECKING:
    from fake_hibob.server import FakeHibob
    from fake_hibob.tenant import Employee, Tenant

MAX_PAYMENTS = 24
PAY_DAY = 25
SALARY, BONUS = "1", "2"  # items of the named list payType (fake_hibob/catalog.py)


def payments(tenant: Tenant, e: Employee) -> list[dict[str, Any]]:
    """One employee's payments, oldest first (generated once)."""
    cache = tenant.data.setdefault("actual_payments", {})
    if e.id not in cache:
        cache[e.id] = _generate(tenant, e)
    return cache[e.id]  # type: ignore[no-any-return]


def _generate(tenant: Tenant, e: Employee) -> list[dict[str, Any]]:
    rng = tenant.rng(f"actual_payments:{e.id}")
    if e.lifecycle == "hired" or rng.random() < 0.08:
        return []  # not started yet, or paid outside Bob
    today = tenant.now.date()
    last = min(today, e.termination_date or today)
    days: list[date] = []
    year, month = last.year, last.month
    while len(days) < MAX_PAYMENTS:
        day = date(year, month, PAY_DAY)
        if day < e.start_date:
            break
        if day <= last:
            days.append(day)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    currency = CURRENCIES[e.site]
    monthly = round(rng.randrange(35000, 150000, 250) / 12, 2)
    bonus = rng.random() < 0.3
    rows: list[dict[str, Any]] = []
    for day in sorted(days):
        rows.append(_row(day, SALARY, monthly, currency))
        if bonus and day.month == 12:
            rows.append(_row(day, BONUS, round(monthly * rng.uniform(0.5, 1.5), 2), currency))
    return rows[-MAX_PAYMENTS:]


def _row(day: date, pay_type: str, value: float, currency: str) -> dict[str, Any]:
    return {
        # Like the tables' dated ids: they repeat across employees paid on the same day.
        "id": int(f"{day:%Y%m%d}{pay_type}"),
        "payDate": day.isoformat(),
        "payType": pay_type,
        "amount": {"value": value, "currency": currency},
        "change": {**CHANGED_BY, "reason": "Payroll import"},
        "customColumns": {},
    }


# Request checks ---------------------------------------------------------------------------


def _bad(message: str) -> Reply:
    return error_reply(400, "bad.request", message)


def _iso_date(raw: Any) -> date | None:
    if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _parse(body: Any) -> tuple[tuple[str, ...], tuple[date, date] | None, int, Any] | Reply:
    """(employee ids, payDate range, limit, cursor) or the 400."""
    if not isinstance(body, dict):
        return _bad("Request body must be a JSON object")
    filters = body.get("filters")
    if not isinstance(filters, list) or not filters:
        return _bad("filters must hold an employeeId filter")
    ids: tuple[str, ...] | None = None
    window: tuple[date, date] | None = None
    for item in filters:
        if not isinstance(item, dict):
            return _bad("A filter must be an object")
        path, operator, values = item.get("fieldPath"), item.get("operator"), item.get("values")
        if path == "employeeId" and ids is None:
            if operator != "equals":
                return _bad("The employeeId filter supports the equals operator only")
            if not isinstance(values, list) or not values:
                return _bad("employeeId filter values must be a non-empty array")
            if len(values) > MAX_EMPLOYEE_IDS:
                return _bad(f"Each call can retrieve up to {MAX_EMPLOYEE_IDS} employees")
            if not all(isinstance(v, str) for v in values):
                return _bad("employeeId filter values must be strings")
            ids = tuple(dict.fromkeys(values))
        elif path == "payDate" and window is None:
            if operator != "range":
                return _bad("The payDate filter supports the range operator only")
            if not isinstance(values, list) or len(values) != 2:
                return _bad("The payDate range takes two dates")
            start, end = _iso_date(values[0]), _iso_date(values[1])
            if start is None or end is None or end < start:
                return _bad("The payDate range takes two dates (YYYY-MM-DD), from <= to")
            window = (start, end)
        else:
            return _bad(f"Unsupported or repeated filter: {path!r}")
    if ids is None:
        return _bad("filters must hold an employeeId filter")
    pagination = body.get("pagination", {})
    if pagination is None:
        pagination = {}
    if not isinstance(pagination, dict):
        return _bad("pagination must be an object")
    limit = parse_limit(pagination.get("limit"))
    if limit is None:
        return _bad(f"pagination.limit must be an integer from 1 to {MAX_LIMIT}")
    cursor = pagination.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        return _bad("pagination.cursor must be a string")
    return ids, window, limit, cursor


def search(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    if not app.profile.grants(history("Payroll")):
        return forbidden()
    parsed = _parse(request.body)
    if isinstance(parsed, Reply):
        return parsed
    ids, window, limit, cursor = parsed
    body = request.body
    bound_to = fingerprint(
        "actual_payments",
        {k: v for k, v in body.items() if k != "pagination"} | {"limit": limit},
    )
    offset = cursor_offset(cursor, bound_to)
    if isinstance(offset, Reply):
        return offset
    wanted = set(ids)
    entries = []
    for e in app.visible_employees():
        if e.id not in wanted:
            continue
        for row in payments(app.tenant, e):
            if window and not window[0].isoformat() <= row["payDate"] <= window[1].isoformat():
                continue
            entries.append(Entry(e.id, e.index, row, True))
    return page_reply(
        app,
        "actual_payments",
        entries,
        offset=offset,
        limit=limit,
        bound_to=bound_to,
        cursor=cursor,
        employee_ids=ids,
    )


def expected_rows(app: FakeHibob, ids: list[str]) -> list[Entry]:
    """For tests: every payment a search for these employees returns."""
    wanted = set(ids)
    return [
        Entry(e.id, e.index, row, True)
        for e in app.visible_employees()
        if e.id in wanted
        for row in payments(app.tenant, e)
    ]


def register(app: FakeHibob) -> None:
    app.route("POST", "/v1/people/actual-payments/search", "actual_payments")(search)
