"""Fake HiBob people routes: fields metadata, people search and named lists.

Behaviour follows hibob-api.md §2, §3 and §9, quirks included:

- `GET /v1/company/people/fields` is a bare JSON array and needs no permission. Field ids
  are stable identifiers, not locations: `home.privateEmail` sits in the "Personal contact
  details" category, `internal.*` in "Lifecycle", root fields have a jsonPath without
  `root.`, some fields nest under other fields (`payroll.salary.payment.currency`), and
  some path segments hold spaces (`payroll.variable.Executive bonus.amount`).
- `POST /v1/people/search` has no pagination. Each employee carries nested category objects
  (nulls shown) AND slash-key duplicates (`"/work/department": {"value": …}`, non-null values
  only). Categories the profile may not view are left out silently (200, no warning), as are
  unknown field ids. `showInactive` defaults to false. `filters: []`, `{}`, more than one
  filter, another path or operator, or empty `values` answer 400; so do more than 400
  `fields`. `humanReadable` APPEND adds a `humanReadable` object (dates dd/MM/yyyy, list ids
  as labels), REPLACE puts those strings in place of the machine values.
- `GET /v1/company/named-lists` answers either as an object keyed by list name or as an array
  of `{name, items}`; items sit under `values`, `items` or both (the same items twice), lists
  nest (`children`), archived items only come with `includeArchived=true`, item ids repeat
  across lists and some ids are the label itself.

Per-test toggles are fields of `app.options` (fake_hibob/options.py):
`drop_fields` (ids gone from metadata and search), `slash_only_fields` (ids whose value only
comes as a slash key), `ssn_without_edit` ("obscure" default, or "omit"),
`named_lists_shape` ("array" default, or "object"), `named_lists_items_key` ("both" default,
"values" or "items"), `max_filter_values` (a search filter with more values is a 400
`people.search.filter.too.many.values`).

Volatile fields: `root.coverImageUrl` carries a token and People Analytics scores that change
every day (derived from `tenant.now`), like age and tenure.

Values are computed on demand from (employee index, field) with integer hashing, so a
20,000-employee tenant costs nothing until read and nothing is stored per employee.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fake_hibob.catalog import CUSTOM_TABLE_LISTS, TABLE_LISTS
from fake_hibob.profiles import BASIC, IDENTIFICATION_EDIT
from fake_hibob.server import Reply, Request, error_reply, forbidden, json_reply
from fake_hibob.tenant import DEPARTMENTS, SITES

if TYPE_CHECKING:
    from fake_hibob.server import FakeHibob
    from fake_hibob.tenant import Employee, Tenant

MAX_FIELDS = 400
CUSTOM_CATEGORY = "category_1720508362305"
CUSTOM_CATEGORY_NAME = "Equipment"
# Category id -> display name (what metadata's categoryDisplayName says).
CATEGORIES = {
    "root": "Basic info",
    "about": "About",
    "work": "Work",
    "workContact": "Work contact details",
    "employment": "Employment",
    "personal": "Personal",
    "personalContact": "Personal contact details",
    "identification": "Identification",
    "address": "Address",
    "home": "Home",
    "payroll": "Payroll",
    "lifecycle": "Lifecycle",
    "eeo": "EEO",
    "peopleAnalytics": "People Analytics",
    CUSTOM_CATEGORY: CUSTOM_CATEGORY_NAME,
}
# Categories a search without `fields` returns (HiBob's default set; never custom fields).
DEFAULT_CATEGORIES = ("root", "about", "employment", "work")
# Fields listed in metadata that people search never returns (read via actual payments).
UNSEARCHABLE_PREFIX = "actualPayment."

# (id, type, categoryId, name, listId, historical, jsonPath if not the id)
# fmt: off
_STANDARD: list[tuple[str, str, str, str, str | None, bool, str | None]] = [
    ("root.id", "employee-reference", "root", "ID", None, False, "id"),
    ("root.companyId", "number", "root", "Company id", None, False, "companyId"),
    ("root.email", "text", "root", "Email", None, False, "email"),
    ("root.firstName", "text", "root", "First name", None, False, "firstName"),
    ("root.surname", "text", "root", "Last name", None, False, "surname"),
    ("root.fullName", "text", "root", "Full name", None, False, "fullName"),
    ("root.displayName", "text", "root", "Display name", None, False, "displayName"),
    ("root.secondName", "text", "root", "Middle name", None, False, "secondName"),
    ("root.creationDateTime", "time", "root", "Creation timestamp", None, False,
     "creationDateTime"),
    ("root.avatarUrl", "avatar", "root", "Avatar URL", None, False, "avatarUrl"),
    ("root.coverImageUrl", "avatar", "root", "Cover image URL", None, False,
     "coverImageUrl"),
    ("about.about", "text-area", "about", "About", None, False, None),
    ("about.hobbies", "multi-list", "about", "Hobbies", "hobbies", False, None),
    ("about.socialData.linkedin", "text", "about", "Social - LinkedIn", None, False, None),
    ("work.title", "list", "work", "Job title", "title", True, None),
    ("work.department", "list", "work", "Department", "department", True, None),
    ("work.site", "text", "work", "Site", None, False, None),
    ("work.siteId", "list_id", "work", "Site", "site", True, None),
    ("work.startDate", "date", "work", "Start date", None, False, None),
    ("work.shortStartDate", "short-date", "work", "Work anniversary", None, False, None),
    ("work.reportsTo", "employee", "work", "Reports to", None, True, None),
    ("work.reportsTo.email", "text", "work", "Manager's email", None, False, None),
    ("work.manager", "employee-reference", "work", "Manager", None, True, None),
    ("work.isManager", "boolean", "work", "Is a manager", None, False, None),
    ("work.directReports", "number", "work", "Number of direct reports", None, False, None),
    ("work.tenureDuration", "period", "work", "Tenure (duration)", None, False, None),
    ("work.tenureYears", "number", "work", "Work anniversary (years)", None, False, None),
    ("work.employeeIdInCompany", "number", "work", "Employee ID", None, False, None),
    ("employee.buddy", "employee-reference", "work", "Buddy", None, False, None),
    ("work.workPhone", "text", "workContact", "Work phone", None, False, None),
    ("work.workMobile", "text", "workContact", "Work mobile", None, False, None),
    ("payroll.employment.contract", "list", "employment", "Employment contract",
     "employmentstatus", True, None),
    ("payroll.employment.type", "list", "employment", "Employment type",
     "payrollEmploymentType", True, None),
    ("payroll.employment.fte", "number", "employment", "FTE %", None, True, None),
    ("payroll.employment.weeklyHours", "number", "employment", "Weekly hours", None, True,
     None),
    ("payroll.employment.workingPattern", "working_pattern", "employment",
     "Working pattern", None, True, None),
    ("payroll.employment.standardWorkingPattern", "working_pattern", "employment",
     "Standard working pattern", None, False, None),
    ("payroll.employment.standardWorkingPattern.workingPatternId", "list_id", "employment",
     "Full time working pattern", "workingPattern_entity_list", False, None),
    ("employee.employerWorkLocationId", "hierarchy-list", "employment",
     "Employer and work location", "employer_workLocation_tree_entity_list", True, None),
    ("personal.honorific", "list", "personal", "Prefix", "honorific", False, None),
    ("personal.pronouns", "list", "personal", "Pronouns", "pronouns", False, None),
    ("personal.birthDate", "date", "personal", "Date of Birth", None, False, None),
    ("personal.shortBirthDate", "short-date", "personal", "Birthday", None, False, None),
    ("personal.age", "number", "personal", "Age", None, False, None),
    ("personal.nationality", "multi-list", "personal", "Nationality", "nationalities", False,
     None),
    ("home.privateEmail", "text", "personalContact", "Personal email", None, False, None),
    ("home.mobilePhone", "text", "personalContact", "Personal mobile", None, False, None),
    ("identification.ssn", "ssn", "identification", "SSN", None, False, None),
    ("financial.passportNumber", "text", "identification", "Passport number", None, False,
     None),
    ("employee.sinExpirationDate", "date", "identification", "SIN expiration date", None,
     False, None),
    ("address.line1", "text", "address", "Address line 1", None, True, None),
    ("address.city", "text", "address", "City", None, True, None),
    ("address.postCode", "text", "address", "Zip/Post/Postal code", None, True, None),
    ("address.country", "list", "address", "Country", "countries", True, None),
    ("home.familyStatus", "list", "home", "Marital status", "familystatus", False, None),
    ("home.numberOfKids", "number", "home", "Number of children", None, False, None),
    ("home.spouse.firstName", "text", "home", "Spouse's first name", None, False, None),
    ("payroll.salary.payment", "currency", "payroll", "Base salary", None, True, None),
    ("payroll.salary.payment.currency", "text", "payroll", "Base salary currency code", None,
     False, None),
    ("payroll.salary.payPeriod", "list", "payroll", "Salary pay period", "payPeriod", True,
     None),
    ("payroll.salary.payFrequency", "list", "payroll", "Salary pay frequency",
     "payFrequency", True, None),
    ("payroll.salary.yearlyPayment", "currency", "payroll", "Base salary (annual)", None,
     False, None),
    ("payroll.taxCode", "text", "payroll", "Tax code", None, False, None),
    ("payroll.timeSinceLastSalaryChange", "period", "payroll",
     "Time since last salary change", None, False, None),
    ("payroll.variable.Executive bonus.amount", "currency", "payroll",
     "Variable Pay/Executive bonus/Amount", None, True, None),
    ("actualPayment.payDate", "date", "payroll", "Payment Date", None, False, None),
    ("actualPayment.payType", "list", "payroll", "Pay type", "payType", False, None),
    ("actualPayment.amount", "currency", "payroll", "Amount", None, False, None),
    ("actualPayment.change.reason", "text", "payroll", "Change reason", None, False, None),
    ("actualPayment.change.changedBy", "text", "payroll", "Changed by", None, False, None),
    ("internal.status", "list", "lifecycle", "Status", "status", True, None),
    ("internal.lifecycleStatus", "list", "lifecycle", "Lifecycle status", "lifecycleStatus",
     True, None),
    ("internal.terminationDate", "date", "lifecycle", "Termination date", None, False, None),
    ("internal.terminationReason", "list", "lifecycle", "Reason for termination",
     "terminationreason", False, None),
    ("internal.notice", "duration_with_unit", "lifecycle", "Notice period", None, False,
     None),
    ("internal.periodSinceTermination", "period", "lifecycle", "Period since termination",
     None, False, None),
    ("internal.probationEndDate", "date", "lifecycle", "Probation end date", None, False,
     None),
    ("eeo.ethnicity", "list", "eeo", "Ethnicity", "ethnicity", False, None),
    ("eeo.jobCategory", "list", "eeo", "Job category", "jobCategory", False, None),
    # Computed daily by HiBob: values change from one day to the next.
    ("peopleAnalytics.lowRetentionRiskIndicator", "list", "peopleAnalytics",
     "Low retention risk indicator", "retentionRisk", False, None),
    ("peopleAnalytics.riskCounter", "number", "peopleAnalytics", "Risk counter", None, False,
     None),
    ("peopleAnalytics.lastCalculated", "date", "peopleAnalytics", "Last calculated", None,
     False, None),
]
# fmt: on
_STANDARD_IDS = frozenset(row[0] for row in _STANDARD)
# Types custom fields cycle through; "rating" is a type the tap has never heard of.
CUSTOM_TYPES = [
    "text",
    "list",
    "number",
    "date",
    "multi-list",
    "boolean",
    "currency",
    "employee-reference",
    "document",
    "time",
    "rating",
    "text-area",
    "hierarchy-list",
]  # fmt: skip


@dataclass(frozen=True)
class FieldSpec:
    """One employee field of the fake tenant."""

    id: str
    type: str
    category: str
    name: str
    list_id: str | None
    historical: bool
    json_path: str
    salt: int
    path: tuple[str, ...]
    slash_key: str

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "categoryId": self.category,
            "categoryDisplayName": CATEGORIES[self.category],
            "description": None if self.category != CUSTOM_CATEGORY else "Custom category field",
            "jsonPath": self.json_path,
            "type": self.type,
            "typeData": {"listId": self.list_id} if self.list_id else {},
            "historical": self.historical,
        }


def _spec(
    field_id: str,
    field_type: str,
    category: str,
    name: str,
    list_id: str | None = None,
    historical: bool = False,
    json_path: str | None = None,
) -> FieldSpec:
    json_path = json_path or field_id
    return FieldSpec(
        field_id,
        field_type,
        category,
        name,
        list_id,
        historical,
        json_path,
        zlib.crc32(field_id.encode()),
        tuple(json_path.split(".")),
        "/" + field_id.replace(".", "/"),
    )


def field_specs(tenant: Tenant) -> list[FieldSpec]:
    """Every field of the tenant: HiBob's standard ones plus `tenant.custom_fields` custom."""
    cached = tenant.data.get("people.fields")
    if cached is None:
        cached = [_spec(*row) for row in _STANDARD]
        for i in range(tenant.custom_fields):
            field_type = CUSTOM_TYPES[i % len(CUSTOM_TYPES)]
            stamp = 1698036945383 + i * 7919
            in_custom_category = i % 3 == 2
            field_id = (
                f"{CUSTOM_CATEGORY}.field_{stamp}"
                if in_custom_category
                else f"work.custom.field_{stamp}"
            )
            list_id = (
                f"customList{i % 3}" if field_type in ("list", "multi-list") else
                "customTree" if field_type == "hierarchy-list" else None
            )  # fmt: skip
            cached.append(
                _spec(
                    field_id,
                    field_type,
                    CUSTOM_CATEGORY if in_custom_category else "work",
                    f"Custom {field_type} {i}",
                    list_id,
                )
            )
        tenant.data["people.fields"] = cached
    return list(cached)


def _live_specs(app: FakeHibob) -> dict[str, FieldSpec]:
    dropped = set(app.options.drop_fields)
    return {s.id: s for s in field_specs(app.tenant) if s.id not in dropped}


# Named lists -------------------------------------------------------------------------


def _item(item_id: str, label: str, archived: bool = False, children: list | None = None) -> dict:
    return {
        "id": item_id,
        "value": label,
        "name": label,
        "archived": archived,
        "children": children or [],
    }


def _predefined_lists() -> dict[str, list[dict]]:
    labels = ["Engineering", "Finance", "People", "Sales", "Operations"]
    return {
        "department": [_item(i, label) for i, label in zip(DEPARTMENTS, labels, strict=True)]
        + [_item("209192160", "Legacy", archived=True)],
        "site": [_item(str(site_id), name) for site_id, name in SITES],
        "title": [
            _item("300", "Intern", archived=True),
            _item("301", "Engineer"),
            _item("302", "Analyst"),
            _item("303", "Manager"),
            _item("304", "Director"),
        ],
        # Built-in lists whose ids are the labels themselves.
        "hobbies": [
            _item(x, x) for x in ("Animals", "Be A Background TV Star", "Cooking", "Hiking")
        ],
        "pronouns": [_item(x, x) for x in ("He / Him", "She / Her", "They / Them")],
        "status": [_item("Active", "Active"), _item("Inactive", "Inactive")],
        "lifecycleStatus": [
            _item("hired", "Hired"),
            _item("employed", "Employed"),
            _item("terminated", "Terminated"),
        ],
        # Small numeric ids that repeat across lists: keys must be (listName, id).
        "honorific": [_item("1", "Mr"), _item("2", "Ms"), _item("3", "Dr")],
        "terminationreason": [
            _item("1", "Resignation"),
            _item("2", "Redundancy"),
            _item("3", "End of contract"),
            _item("4", "Relocation", archived=True),
        ],
        "familystatus": [_item("1", "Single"), _item("2", "Married"), _item("3", "Other")],
        "workingPattern_entity_list": [_item("1", "Full time"), _item("2", "Four days")],
        "employer_workLocation_tree_entity_list": [
            _item(
                "9001",
                "Acme Ltd",
                children=[_item("9101", "London office"), _item("9102", "Remote UK")],
            ),
            _item(
                "9002",
                "Acme Inc",
                children=[
                    _item("9201", "New York office"),
                    _item("9202", "Boston office", archived=True),
                ],
            ),
        ],
        "retentionRisk": [_item("1", "Low"), _item("2", "Medium"), _item("3", "High")],
        "customTree": [
            _item("1", "Hardware", children=[_item("11", "Laptop"), _item("12", "Monitor")]),
            _item("2", "Software", children=[_item("21", "IDE licence")]),
        ],
    }


def named_lists(tenant: Tenant, *, custom_tables: bool = True) -> dict[str, list[dict]]:
    """Every named list (archived items included): predefined, of table columns (ids as the
    rows carry them), of custom-table columns (`<tableId>.<columnId>`, only when the tenant
    has custom tables) or generated per listId."""
    if not custom_tables:
        return {k: v for k, v in named_lists(tenant).items() if k not in CUSTOM_TABLE_LISTS}
    cached = tenant.data.get("people.named_lists")
    if cached is None:
        cached = _predefined_lists()
        for name, pairs in {**TABLE_LISTS, **CUSTOM_TABLE_LISTS}.items():
            cached.setdefault(name, [_item(item_id, label) for item_id, label in pairs])
        for spec in field_specs(tenant):
            if spec.list_id and spec.list_id not in cached:
                cached[spec.list_id] = [
                    _item(str(1000 + k), f"{spec.list_id} option {k + 1}") for k in range(4)
                ] + [_item("999", f"{spec.list_id} retired option", archived=True)]
        tenant.data["people.named_lists"] = cached
    return cached


def _flat_items(items: list[dict]) -> list[dict]:
    out: list[dict] = []
    for item in items:
        out.append(item)
        out.extend(_flat_items(item["children"]))
    return out


def _labels(tenant: Tenant) -> dict[tuple[str, str], str]:
    cached = tenant.data.get("people.list_labels")
    if cached is None:
        cached = {
            (name, item["id"]): item["value"]
            for name, items in named_lists(tenant).items()
            for item in _flat_items(items)
        }
        tenant.data["people.list_labels"] = cached
    return cached


def _choices(tenant: Tenant, list_id: str) -> list[str]:
    """Ids an employee value may take: active leaves (hierarchy values are leaves)."""
    key = f"people.choices.{list_id}"
    cached = tenant.data.get(key)
    if cached is None:
        items = _flat_items(named_lists(tenant).get(list_id, []))
        cached = [i["id"] for i in items if not i["archived"] and not i["children"]]
        tenant.data[key] = cached
    return cached


def _without_archived(items: list[dict]) -> list[dict]:
    return [
        {**item, "children": _without_archived(item["children"])}
        for item in items
        if not item["archived"]
    ]


def _list_body(name: str, items: list[dict], key: str) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if key in ("values", "both"):
        body["values"] = items
    if key in ("items", "both"):
        body["items"] = items
    return body


# Employee values ----------------------------------------------------------------------


class _Ctx:
    """What value generators need from the tenant, looked up once per request."""

    def __init__(self, app: FakeHibob) -> None:
        self.tenant = app.tenant
        self.count = len(app.tenant.employees)
        self.by_id = _by_id(app.tenant)
        self.today = app.tenant.now.date()


def _by_id(tenant: Tenant) -> dict[str, Employee]:
    cached = tenant.data.get("people.by_id")
    if cached is None:
        cached = {e.id: e for e in tenant.employees}
        tenant.data["people.by_id"] = cached
    return cached


def _mix(index: int, salt: int) -> int:
    """A cheap deterministic hash of (employee, field)."""
    return ((index + 1) * 2654435761 + salt * 40503) & 0xFFFFFFFF


def _manager(ctx: _Ctx, e: Employee) -> Employee | None:
    return ctx.by_id.get(e.manager_id) if e.manager_id else None


def _period(start: date, end: date) -> dict[str, Any]:
    days = max(0, (end - start).days)
    years, rest = divmod(days, 365)
    months = rest // 30
    return {
        "humanize": f"{years} years, {months} months",
        "periodISO": f"P{years}Y{months}M",
        "sortFactor": days,
    }


def _currency(e: Employee) -> str:
    return ("GBP", "USD", "ILS")[e.site_id - SITES[0][0]]


def _fte(e: Employee) -> float:
    return (1.0, 0.8, 1.0, 0.5, 1.0)[e.index % 5]


def _working_pattern(e: Employee) -> dict[str, Any]:
    hours = 8.0 if _fte(e) == 1.0 else 7.5
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return {
        "days": {d: (hours if n < 5 else 0) for n, d in enumerate(days)},
        "hoursPerDay": hours,
        "workingPatternId": 1 if _fte(e) == 1.0 else 2,
        "workingPatternType": "fixed",
    }


def _specific(ctx: _Ctx, e: Employee, spec: FieldSpec) -> Any:
    """Values of standard fields that must agree with the tenant (or with each other)."""
    fid = spec.id
    if fid not in _STANDARD_IDS:
        return _generic(ctx, e, spec)  # custom fields: skip the long match below
    manager = _manager(ctx, e)
    terminated = e.lifecycle == "terminated"
    match fid:
        case "root.id":
            return e.id
        case "root.companyId":
            return 640123
        case "root.email":
            return e.email
        case "root.firstName":
            return e.first_name
        case "root.surname":
            return e.surname
        case "root.fullName" | "root.displayName":
            return e.display_name
        case "root.creationDateTime":
            created = datetime.combine(e.start_date - timedelta(days=30), datetime.min.time())
            stamp = created + timedelta(seconds=_mix(e.index, spec.salt) % 86400)
            return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{e.index * 7919 % 1000000:06d}"
        case "root.avatarUrl":
            return f"https://images.hibob.com/avatars/{e.id}.png"
        case "root.coverImageUrl":
            # A signed URL that expires: its token changes every day.
            token = _mix(e.index, spec.salt + ctx.today.toordinal()) % 16**8
            return f"https://images.hibob.com/covers/{e.id}.jpg?token={token:08x}"
        case "peopleAnalytics.lowRetentionRiskIndicator":
            return ("1", "2", "3")[_daily(ctx, e, spec) % 3]
        case "peopleAnalytics.riskCounter":
            return _daily(ctx, e, spec) % 12
        case "peopleAnalytics.lastCalculated":
            return ctx.today.isoformat()
        case "work.department":
            return e.department
        case "work.site":
            return e.site
        case "work.siteId":
            return e.site_id  # list_id values come as numbers
        case "work.startDate":
            return e.start_date.isoformat()
        case "work.shortStartDate":
            return e.start_date.strftime("%m-%d")
        case "work.reportsTo":
            return manager.reference() if manager else None
        case "work.reportsTo.email":
            return manager.email if manager else None
        case "work.manager":
            return manager.id if manager else None
        case "work.isManager":
            return 5 * e.index + 1 < ctx.count
        case "work.directReports":
            return max(0, min(5, ctx.count - 1 - 5 * e.index))
        case "work.tenureDuration":
            return _period(e.start_date, e.termination_date or ctx.today)
        case "work.tenureYears":
            end = e.termination_date or ctx.today
            return round(max(0, (end - e.start_date).days) / 365.25, 2)
        case "work.employeeIdInCompany":
            return e.index + 1
        case "payroll.employment.fte":
            return _fte(e)
        case "payroll.employment.weeklyHours":
            return round(40 * _fte(e) - (2.5 if e.index % 7 == 3 else 0), 1)
        case "payroll.employment.workingPattern" | "payroll.employment.standardWorkingPattern":
            return _working_pattern(e)
        case "payroll.employment.standardWorkingPattern.workingPatternId":
            return _working_pattern(e)["workingPatternId"]
        case "payroll.salary.payment":
            return {"value": 40000 + (e.index * 1337) % 90000 + 0.5, "currency": _currency(e)}
        case "payroll.salary.payment.currency":
            return _currency(e)
        case "payroll.salary.yearlyPayment":
            return {"value": 40000 + (e.index * 1337) % 90000 + 0.5, "currency": _currency(e)}
        case "internal.status":
            return e.status
        case "internal.lifecycleStatus":
            return e.lifecycle
        case "internal.terminationDate":
            return e.termination_date.isoformat() if e.termination_date else None
        case "internal.terminationReason":
            return ("1", "2", "3")[e.index % 3] if terminated else None
        case "internal.notice":
            return {"value": 1 + e.index % 3, "unit": "months"} if terminated else None
        case "internal.periodSinceTermination":
            return _period(e.termination_date, ctx.today) if e.termination_date else None
        case "internal.probationEndDate":
            return (e.start_date + timedelta(days=90)).isoformat()
        case "personal.birthDate":
            return date(1960 + e.index % 40, 1 + e.index % 12, 1 + e.index % 28).isoformat()
        case "personal.shortBirthDate":
            return f"{1 + e.index % 12:02d}-{1 + e.index % 28:02d}"
        case "personal.age":
            return ctx.today.year - (1960 + e.index % 40)
        case "identification.ssn":
            h = _mix(e.index, spec.salt)
            return f"{100 + h % 800:03d}-{10 + h % 89:02d}-{1000 + h % 8999:04d}"
    return _generic(ctx, e, spec)


def _daily(ctx: _Ctx, e: Employee, spec: FieldSpec) -> int:
    """A hash of (employee, field, day): People Analytics recomputes its scores daily."""
    return _mix(e.index, spec.salt + ctx.today.toordinal() * 7919) >> 7


def _generic(ctx: _Ctx, e: Employee, spec: FieldSpec) -> Any:
    """A plausible value of the field's type; about one in seven is empty."""
    h = _mix(e.index, spec.salt)
    if h % 7 == 0:
        return None
    match spec.type:
        case "text" | "text-area":
            return f"{spec.name} of {e.first_name} #{e.index}"
        case "number":
            return (h % 1000) / 4  # fractions included
        case "date":
            return (ctx.today - timedelta(days=h % 4000)).isoformat()
        case "short-date":
            return f"{1 + h % 12:02d}-{1 + h % 28:02d}"
        case "time":
            stamp = datetime.combine(ctx.today, datetime.min.time()) - timedelta(seconds=h % 10**7)
            return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{h % 1000000:06d}"
        case "boolean":
            return bool(h % 2)
        case "list" | "hierarchy-list" | "list_id":
            choices = _choices(ctx.tenant, spec.list_id or "")
            if not choices:
                return None
            value = choices[h % len(choices)]
            return int(value) if spec.type == "list_id" and value.isdigit() else value
        case "multi-list":
            choices = _choices(ctx.tenant, spec.list_id or "")
            return [choices[(h + k) % len(choices)] for k in range(h % 3)] if choices else []
        case "currency":
            return {"value": (h % 100000) / 100, "currency": _currency(e)}
        case "employee-reference":
            return ctx.tenant.employees[h % ctx.count].id
        case "employee":
            return ctx.tenant.employees[h % ctx.count].reference()
        case "document":
            return {"id": h % 100000, "name": f"document-{e.index}.pdf"}
        case "avatar":
            return f"https://images.hibob.com/avatars/{e.id}.png"
        case "period":
            return _period(e.start_date, ctx.today)
        case "ssn":
            return f"{100 + h % 800:03d}-{10 + h % 89:02d}-{1000 + h % 8999:04d}"
        case "working_pattern":
            return _working_pattern(e)
        case "duration_with_unit":
            return {"value": 1 + h % 6, "unit": "weeks"}
    return {"score": h % 5 + 1, "scale": 5}  # a type nobody documented


def _human(ctx: _Ctx, spec: FieldSpec, value: Any) -> str:
    """HiBob's humanReadable string for a non-null value (dd/MM/yyyy dates, labels)."""
    labels = _labels(ctx.tenant)
    match spec.type:
        case "date":
            return datetime.strptime(value, "%Y-%m-%d").strftime("%d/%m/%Y")
        case "time":
            return datetime.fromisoformat(value).strftime("%d/%m/%Y %H:%M")
        case "boolean":
            return "Yes" if value else "No"
        case "number":
            return f"{value:g}"
        case "list" | "list_id" | "hierarchy-list":
            return labels.get((spec.list_id or "", str(value)), str(value))
        case "multi-list":
            return ", ".join(labels.get((spec.list_id or "", str(v)), str(v)) for v in value)
        case "currency":
            return f"{value['value']:,.2f} {value['currency']}"
        case "employee":
            return str(value.get("displayName"))
        case "employee-reference":
            if spec.id == "root.id":
                return str(value)
            person = ctx.by_id.get(value)
            return person.display_name if person else str(value)
        case "period":
            return str(value["humanize"])
        case "duration_with_unit":
            return f"{value['value']} {value['unit']}"
        case "working_pattern":
            return f"{value['workingPatternType'].title()} ({value['hoursPerDay']:g} h/day)"
        case "document":
            return str(value["name"])
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _put(target: dict, path: tuple[str, ...], value: Any) -> None:
    """Set a value at a nested path; a path through a non-object is skipped."""
    node = target
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            return
        node = child
    if path[-1] in node and isinstance(node[path[-1]], dict) and isinstance(value, dict):
        node[path[-1]] = {**value, **node[path[-1]]}
    else:
        node[path[-1]] = value


# Request checks -----------------------------------------------------------------------

_FILTER_PATHS = ("root.id", "root.email")
_MODES = {"APPEND", "REPLACE", ""}


def _bad(message: str) -> Reply:
    return error_reply(400, "bad.request", message)


def _check_search(body: Any) -> Reply | None:
    if not isinstance(body, dict):
        return _bad("Request body must be a JSON object")
    if "fields" in body:
        fields = body["fields"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            return _bad("fields must be an array of field ids")
        if not fields:
            return _bad("fields must not be empty")
        if len(fields) > MAX_FIELDS:
            return _bad(f"At most {MAX_FIELDS} fields can be requested")
    if "filters" in body:
        filters = body["filters"]
        if not isinstance(filters, list) or len(filters) != 1:
            return _bad("filters must hold exactly one filter")
        only = filters[0]
        if not isinstance(only, dict):
            return _bad("A filter must be an object")
        if only.get("fieldPath") not in _FILTER_PATHS:
            return _bad("Unsupported filter fieldPath")
        if only.get("operator") != "equals":
            return _bad("Unsupported filter operator")
        values = only.get("values")
        if not isinstance(values, list) or not values:
            return _bad("Filter values must be a non-empty array")
    if "showInactive" in body and not isinstance(body["showInactive"], bool):
        return _bad("showInactive must be a boolean")
    if body.get("humanReadable", "") not in _MODES:
        return _bad("humanReadable must be APPEND or REPLACE")
    return None


def _visible_categories(app: FakeHibob) -> set[str]:
    profile = app.profile
    seen = {"root"} if profile.grants(BASIC) else set()
    for category, display in CATEGORIES.items():
        # Custom categories too: "People > Equipment > View selected employees' Equipment
        # sections" (only profile "all" has it).
        if category != "root" and profile.sees_category(display):
            seen.add(category)
    return seen


def _selected_employees(app: FakeHibob, body: dict) -> list[Employee]:
    show_inactive = body.get("showInactive", False)
    statuses = app.profile.lifecycle_statuses
    filters = body.get("filters")
    if filters:
        wanted = {str(v) for v in filters[0]["values"]}
        if filters[0]["fieldPath"] == "root.id":
            by_id = _by_id(app.tenant)
            chosen = sorted((by_id[i] for i in wanted if i in by_id), key=lambda e: e.index)
        else:
            chosen = [e for e in app.tenant.employees if e.email in wanted]
        people = [e for e in chosen if e.lifecycle in statuses]
    else:
        people = app.visible_employees()
    return people if show_inactive else [e for e in people if e.status == "Active"]


def _requested_specs(app: FakeHibob, body: dict) -> list[FieldSpec]:
    live = _live_specs(app)
    if "fields" in body:
        chosen = [live[f] for f in dict.fromkeys(body["fields"]) if f in live]
    else:
        chosen = [
            s for s in live.values() if s.category in DEFAULT_CATEGORIES and ".custom." not in s.id
        ]
    visible = _visible_categories(app)
    return [s for s in chosen if s.category in visible and not s.id.startswith(UNSEARCHABLE_PREFIX)]


def _employee_record(
    ctx: _Ctx,
    e: Employee,
    specs: list[FieldSpec],
    mode: str,
    slash_only: set[str],
    obscure: set[str],
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    human: dict[str, Any] = {}
    for spec in specs:
        value = _specific(ctx, e, spec)
        if spec.id in obscure and isinstance(value, str):
            value = "***-**-" + value[-4:]
        if value is not None and mode:
            shown = _human(ctx, spec, value)
            if mode == "APPEND":
                _put(human, spec.path, shown)
            else:
                value = shown
        if value is not None:
            record[spec.slash_key] = {"value": value}
        if spec.id not in slash_only:
            _put(record, spec.path, value)
    if mode == "APPEND" and human:
        record["humanReadable"] = human
    return record


# Routes -------------------------------------------------------------------------------


def register(app: FakeHibob) -> None:
    @app.route("GET", "/v1/company/people/fields", "fields_metadata")
    def get_fields(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        # Needs no permission (HiBob changed this so integrators can plan permissions).
        return json_reply([s.metadata() for s in _live_specs(app).values()])

    @app.route("POST", "/v1/people/search", "people_search")
    def search(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if not app.profile.in_group:
            return forbidden()
        body = request.body
        problem = _check_search(body)
        if problem is not None:
            return problem
        cap = app.options.max_filter_values
        if cap is not None and body.get("filters") and len(body["filters"][0]["values"]) > cap:
            # HiBob documents no maximum; a tenant that has one is what the tap's batch
            # halving is for (docs/development/hibob-api.md, People search).
            return error_reply(
                400,
                "people.search.filter.too.many.values",
                f"A filter accepts at most {cap} values",
            )
        if not app.profile.grants(BASIC):
            return json_reply({"employees": []})  # Basic info is what surfaces employees
        specs = _requested_specs(app, body)
        obscure: set[str] = set()
        if not app.profile.grants(IDENTIFICATION_EDIT):
            ssn_ids = {s.id for s in specs if s.type == "ssn"}
            if app.options.ssn_without_edit == "omit":
                specs = [s for s in specs if s.id not in ssn_ids]
            else:
                obscure = ssn_ids
        ctx = _Ctx(app)
        mode = body.get("humanReadable", "")
        slash_only = set(app.options.slash_only_fields)
        people = _selected_employees(app, body)
        return json_reply(
            {
                "employees": [
                    _employee_record(ctx, e, specs, mode, slash_only, obscure) for e in people
                ]
            }
        )

    @app.route("GET", "/v1/company/named-lists", "named_lists")
    def get_named_lists(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if not app.profile.in_group:
            return forbidden()
        archived = request.arg("includeArchived", "false") == "true"
        key = app.options.named_lists_items_key
        lists = {
            name: items if archived else _without_archived(items)
            for name, items in named_lists(
                app.tenant, custom_tables=app.options.custom_tables
            ).items()
        }
        if app.options.named_lists_shape == "object":
            return json_reply({name: _list_body(name, items, key) for name, items in lists.items()})
        return json_reply([_list_body(name, items, key) for name, items in lists.items()])

    @app.route("GET", r"/v1/company/named-lists/(?P<name>[^/]+)", "named_lists")
    def get_named_list(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if not app.profile.in_group:
            return forbidden()
        lists = named_lists(app.tenant, custom_tables=app.options.custom_tables)
        items = lists.get(match["name"])  # names are case-sensitive
        if items is None:
            return error_reply(404, "list.not.found", "List not found")
        if request.arg("includeArchived", "false") != "true":
            items = _without_archived(items)
        key = app.options.named_lists_items_key
        return json_reply(_list_body(match["name"], items, key))


def ids_of(app: FakeHibob, *, include_inactive: bool = True) -> list[str]:
    """The employee ids a people search would return (for test expectations)."""
    people = app.visible_employees()
    if not include_inactive:
        people = [e for e in people if e.status == "Active"]
    return [e.id for e in people]
