"""tap-hibob-doctor: what the configured HiBob service user can and cannot read, per stream.

HiBob admins set up the service user by hand (a permission group, its lifecycle statuses and a
dozen "View selected employees' ..." boxes). A missing box shows up as a bare 403 or, worse, as
a 200 that silently leaves data out. The doctor asks HiBob the cheapest question per stream and
names the exact permission to add, in the words of `tap_hibob.permissions` (the same module the
tap's own errors use).

Budget, because HiBob's firewall blocks a credential after 50 denied answers in 10 seconds:
well under 20 requests for a full check, at most one 401 (the first request needs no
permission, so a wrong token costs exactly one request) and at most five 401/403 answers.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.singerlib import Catalog, CatalogEntry

from tap_hibob import people, permissions, settings
from tap_hibob.client import HibobClient
from tap_hibob.errors import (
    HibobAPIError,
    HibobAuthError,
    HibobPermissionError,
    HibobWrongPathError,
)
from tap_hibob.field_types import HibobField, parse_fields
from tap_hibob.permissions import STREAM_ACCESS

LOGGER = logging.getLogger("tap-hibob-doctor")

MAX_DENIED = 5  # 401/403 answers per check; HiBob's firewall acts at 50 in 10 s
SAMPLE_SIZE = 10  # employees whose fields and table rows are inspected
MAX_FIELDS_PER_SEARCH = 400  # HiBob's limit on people-search field IDs
MAX_FIELD_GROUPS = 3  # keeps a full check under 20 requests even for 1,200 fields
TABLE_PROBE_LIMIT = 100  # rows per bulk-table probe: the sample's history, cheaply
DOCTOR_MAX_RETRIES = 2  # an admin waits at the terminal: fail fast on a broken network
DOCTOR_TIMEOUT_SECONDS = 30

# Read only to decide who is terminated and where histories start.
STATUS_FIELDS = ("internal.lifecycleStatus", "internal.status", "work.startDate")

# Streams the design leaves unselected by default. Used only for streams whose class is not
# registered in the tap (tests check it agrees with the registered classes).
OPT_IN_STREAMS = frozenset(
    {
        "salary_history",
        "variable_payments",
        "equity_grants",
        "address_history",
        "time_off_policy_types",
        "time_off_balances",
    }
)

ACCESS_SCOPE = (
    "People's data > Whose data can members access? > Select people by condition > "
    "Lifecycle status: Hired, Employed, Terminated"
)
NO_GROUP = (
    "HiBob accepts the service user's ID and token but denies it everything (403 on people "
    "search and on named lists): it is not in any permission group yet. In HiBob, add a "
    "permission group for service users with this service user as member, choose 'Select "
    "people by condition' with the lifecycle statuses Hired, Employed and Terminated, add the "
    "permissions listed by `tap-hibob-doctor --permission-matrix`, save, and run the doctor "
    "again."
)
TERMINATED_HIDDEN = (
    "No terminated employees are visible although include_inactive is on. If your company "
    "has former employees, the permission group's access excludes them (this affects every "
    "employee-data stream): in the group's People's data tab, under 'Whose data can members "
    "access?', pick 'Select people by condition', click Edit and select the lifecycle "
    "statuses Hired, Employed and Terminated."
)
BUDGET_SPENT = (
    f"not checked: the doctor stops after {MAX_DENIED} denied requests so HiBob's firewall "
    "does not block the service user; add the permissions named above and run it again"
)


class Status(StrEnum):
    """Outcome of one stream's check; the value is what --format json prints."""

    OK = "ok"
    PARTIAL = "partially_visible"
    MISSING = "missing_permission"
    NOT_APPLICABLE = "not_applicable"
    NOT_CHECKED = "not_checked"

    @property
    def label(self) -> str:
        return {
            Status.OK: "OK",
            Status.PARTIAL: "partially visible",
            Status.MISSING: "missing permission",
            Status.NOT_APPLICABLE: "not applicable",
            Status.NOT_CHECKED: "not checked",
        }[self]

    @property
    def can_run(self) -> bool:
        """Whether a selected stream in this state lets a sync finish."""
        return self in (Status.OK, Status.PARTIAL, Status.NOT_APPLICABLE)


_SEVERITY = {
    Status.OK: 0,
    Status.NOT_APPLICABLE: 0,
    Status.PARTIAL: 1,
    Status.NOT_CHECKED: 2,
    Status.MISSING: 3,
}


@dataclass(frozen=True)
class CategoryGap:
    """People-search fields of one category that HiBob left out of its answer."""

    category_id: str
    category: str
    requested: int
    missing: int
    permission: str

    @property
    def whole_category(self) -> bool:
        return self.missing == self.requested

    def describe(self) -> str:
        if self.whole_category:
            return f"{self.category}: {_fields(self.requested)} hidden; add: {self.permission}"
        return (
            f"{self.category}: {self.missing} of {_fields(self.requested)} hidden (sensitive "
            "fields such as date of birth or SSN also need the section's Edit permission, "
            "or field-level permissions under People's data > People's fields)"
        )


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"


@dataclass
class StreamCheck:
    """The doctor's verdict on one stream."""

    stream: str
    selected: bool
    status: Status = Status.NOT_CHECKED
    permission: str = ""
    notes: list[str] = field(default_factory=list)
    categories: list[CategoryGap] = field(default_factory=list)
    checked_with: str = ""

    def set(self, status: Status, *, permission: str = "", note: str = "", via: str = "") -> None:
        self.status = status
        self.permission = permission
        if note:
            self.notes.append(note)
        if via:
            self.checked_with = via

    def worsen(self, status: Status, note: str = "") -> None:
        """Add a finding; keep the worse of the current and the new status."""
        if _SEVERITY[status] > _SEVERITY[self.status]:
            self.status = status
        if note:
            self.notes.append(note)

    def to_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "selected": self.selected,
            "status": self.status.value,
            "label": self.status.label,
            "permission": self.permission or None,
            "notes": self.notes,
            "categories": [
                {
                    "categoryId": gap.category_id,
                    "category": gap.category,
                    "requestedFields": gap.requested,
                    "missingFields": gap.missing,
                    "permission": gap.permission if gap.whole_category else None,
                }
                for gap in self.categories
            ],
            "checkedWith": self.checked_with or None,
        }


@dataclass
class Report:
    """Everything the doctor found, ready to print."""

    api_url: str
    service_user_id: str
    checks: list[StreamCheck]
    problem: str = ""
    requests: int = 0
    denied: int = 0

    @property
    def selected(self) -> list[StreamCheck]:
        return [check for check in self.checks if check.selected]

    @property
    def can_run(self) -> bool:
        """True when every selected stream can run (partial visibility included)."""
        return not self.problem and all(check.status.can_run for check in self.selected)

    @property
    def all_ok(self) -> bool:
        return self.can_run and all(
            check.status in (Status.OK, Status.NOT_APPLICABLE) for check in self.selected
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.can_run,
            "allVisible": self.all_ok,
            "apiUrl": self.api_url,
            "serviceUserId": self.service_user_id,
            "problem": self.problem or None,
            "requests": self.requests,
            "deniedAnswers": self.denied,
            "streams": [check.to_json() for check in self.checks],
        }


@dataclass(frozen=True)
class Person:
    """What the doctor needs to know about a sampled employee (never printed)."""

    id: str
    start: str | None
    terminated: bool | None  # None: lifecycle not visible


@dataclass
class Answer:
    """HiBob's answer to one probe, or why there is none."""

    payload: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    denied: bool = False
    skipped: bool = False
    error: str = ""
    status: int | None = None

    @property
    def ok(self) -> bool:
        return not (self.denied or self.skipped or self.error)


class _FatalFindingError(Exception):
    """A finding that ends the check (401, unreachable HiBob, wrong api_url)."""


# Selection ---------------------------------------------------------------------------------


def _registered_defaults() -> dict[str, bool]:
    from tap_hibob.tap import STREAM_TYPES

    return {str(getattr(cls, "name", "")): bool(cls.selected_by_default) for cls in STREAM_TYPES}


def default_selected(stream: str) -> bool:
    """Whether the tap syncs `stream` when no catalog says otherwise."""
    registered = _registered_defaults()
    if stream in registered:
        return registered[stream]
    return stream not in OPT_IN_STREAMS


@dataclass
class Selection:
    """Which streams (and which employee fields) a sync would read."""

    streams: dict[str, bool]
    employees: CatalogEntry | None = None

    @classmethod
    def default(cls) -> Selection:
        return cls({name: default_selected(name) for name in STREAM_ACCESS})

    @classmethod
    def from_catalog(cls, data: Mapping[str, Any]) -> Selection:
        """Selection as the SDK resolves it: a stream absent from the catalog is not synced."""
        catalog = Catalog.from_dict(dict(data))
        streams = {}
        for name in STREAM_ACCESS:
            entry = catalog.get_stream(name)
            streams[name] = bool(entry and entry.metadata.resolve_selection()[()])
        return cls(streams, catalog.get_stream("employees"))

    def field_selected(self, field: HibobField) -> bool:
        """Whether the employees stream would request this field (same rules as the tap:
        what the catalog selects and still has, else everything but SSN-type fields)."""
        if self.employees is None:
            return not field.sensitive
        schema: Any = self.employees.schema.to_dict()
        for part in field.path:
            properties = schema.get("properties") if isinstance(schema, dict) else None
            if not isinstance(properties, dict) or part not in properties:
                return False  # not in the catalog's schema: the tap will not ask for it
            schema = properties[part]
        breadcrumb: tuple[str, ...] = ()
        for part in field.path:
            breadcrumb += ("properties", part)
        return bool(self.employees.metadata.resolve_selection()[breadcrumb])


# Pure helpers ------------------------------------------------------------------------------


def field_value(employee: Mapping[str, Any], field: HibobField) -> tuple[bool, Any]:
    """(present, value) of one field in a people-search record, nested or slash form.

    Present-but-null counts as present: HiBob omits only fields the user may not see.
    """
    node: Any = employee
    for part in field.path:
        if not isinstance(node, Mapping) or part not in node:
            break
        node = node[part]
    else:
        return True, node
    if field.slash_key in employee:
        value = employee[field.slash_key]
        return True, value.get("value") if isinstance(value, Mapping) else value
    return False, None


def hidden_categories(
    fields: Sequence[HibobField], employees: Sequence[Mapping[str, Any]]
) -> list[CategoryGap]:
    """Requested fields that no returned employee carries, grouped by HiBob category."""
    requested: dict[tuple[str, str], int] = defaultdict(int)
    missing: dict[tuple[str, str], int] = defaultdict(int)
    for f in fields:
        key = (f.category_id, f.category_name)
        requested[key] += 1
        if not any(field_value(employee, f)[0] for employee in employees):
            missing[key] += 1
    return sorted(
        (
            CategoryGap(
                cid, name, requested[(cid, name)], count, permissions.for_category(cid, name)
            )
            for (cid, name), count in missing.items()
        ),
        key=lambda gap: gap.category.lower(),
    )


def table_rows(payload: Any) -> tuple[dict[str, list[dict[str, Any]]], set[str], int]:
    """Rows per employee, restricted column names and the count of inaccessible employees.

    Accepts both shapes HiBob sends: bare rows, and {values: [rows], restricted_columns}.
    """
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    restricted: set[str] = set()
    body = payload if isinstance(payload, Mapping) else {}
    for result in body.get("results") or []:
        if not isinstance(result, Mapping):
            continue
        employee = str(result.get("employeeId", ""))
        values = result.get("values")
        items = values if isinstance(values, list) else [values] if values else []
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("values"), list):
                rows[employee].extend(r for r in item["values"] if isinstance(r, dict))
                restricted |= _restricted(item.get("restricted_columns"))
            elif isinstance(item, dict):
                rows[employee].append(item)
        restricted |= _restricted(result.get("restricted_columns"))
    restricted |= _restricted(body.get("restricted_columns"))
    errors = body.get("errors")
    return dict(rows), restricted, len(errors) if isinstance(errors, list) else 0


def _restricted(value: Any) -> set[str]:
    if not isinstance(value, Mapping):
        return set()
    return {
        str(column) for columns in value.values() if isinstance(columns, list) for column in columns
    }


def current_rows_only(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    people: Mapping[str, Person],
    *,
    lifecycle: bool = False,
) -> str | None:
    """Why a table looks cut to current rows ("sections" without "section histories").

    Any employee with two rows proves history is visible. Otherwise a single row that starts
    after the employee's start date, or a terminated employee with one lifecycle row (hired
    and terminated are two), shows that earlier rows exist but are withheld.
    """
    if not rows or any(len(employee_rows) > 1 for employee_rows in rows.values()):
        return None
    for employee, employee_rows in rows.items():
        person = people.get(employee)
        if person is None or not employee_rows:
            continue
        effective = str(employee_rows[0].get("effectiveDate") or "")[:10]
        if person.start and effective and effective > person.start[:10]:
            return (
                "no sampled employee has more than one row, and some rows start after the "
                "start date"
            )
        if lifecycle and person.terminated:
            return "a terminated employee has a single lifecycle row, without the hiring"
    return None


def choose_sample(people: Sequence[Person], size: int = SAMPLE_SIZE) -> list[Person]:
    """Employees most likely to show history: two leavers, then the longest-serving others.

    Leavers prove lifecycle history; long tenure makes work, employment and salary changes
    likely; and active employees are needed to check balances.
    """

    def tenure(person: Person) -> tuple[bool, str]:
        return (person.start is None, person.start or "")

    leavers = sorted((p for p in people if p.terminated), key=tenure)
    others = sorted((p for p in people if not p.terminated), key=tenure)
    chosen: dict[str, Person] = {}
    for person in [*leavers[:2], *others, *leavers[2:]]:
        chosen.setdefault(person.id, person)
        if len(chosen) == size:
            break
    return list(chosen.values())


def _bulk_path(stream: str) -> str:
    return STREAM_ACCESS[stream].endpoint.split(" ", 1)[1].removeprefix("/v1")


def _table_groups() -> list[list[str]]:
    """Bulk-table streams grouped by permission: one probe answers for the whole group."""
    groups: dict[str, list[str]] = {}
    for name, access in STREAM_ACCESS.items():
        if access.endpoint.startswith("GET /v1/bulk/people/"):
            groups.setdefault(access.permission, []).append(name)
    return list(groups.values())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# The check ---------------------------------------------------------------------------------


class Doctor:
    """Runs every check with one HibobClient and collects a Report."""

    def __init__(
        self,
        config: Mapping[str, Any],
        selection: Selection | None = None,
        *,
        client: HibobClient | None = None,
        now: datetime | None = None,
    ) -> None:
        self.config = config
        self.selection = selection or Selection.default()
        self.client = client or HibobClient(doctor_config(config), LOGGER)
        self.now = now or datetime.now(UTC)
        self.include_inactive = bool(config.get("include_inactive", True))
        self.checks = {
            name: StreamCheck(name, self.selection.streams.get(name, False))
            for name in STREAM_ACCESS
        }
        self.fields: list[HibobField] = []
        self.people: list[Person] | None = None  # None: HiBob would not list employees
        self.sample: list[Person] = []
        self._memo: dict[str, Answer] = {}

    # Public ---------------------------------------------------------------------------

    def run(self) -> Report:
        problem = ""
        try:
            self._check_fields_metadata()
            people = self._check_people()
            lists = self._check_named_lists()
            if people.denied and lists.denied:
                problem = NO_GROUP
            else:
                for streams, probe in self._ordered_probes():
                    if self.denied >= MAX_DENIED:
                        for name in streams:
                            self.checks[name].set(Status.NOT_CHECKED, note=BUDGET_SPENT)
                        continue
                    probe()
        except _FatalFindingError as stop:
            problem = str(stop)
        return Report(
            api_url=settings.api_base(self.config),
            service_user_id=str(self.config.get("service_user_id", "")),
            checks=list(self.checks.values()),
            problem=problem,
            requests=self.client.total_requests,
            denied=self.denied,
        )

    @property
    def denied(self) -> int:
        return self.client.statuses[401] + self.client.statuses[403]

    # Requests -------------------------------------------------------------------------

    def _ask(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        stream: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        shown: str = "",
    ) -> Answer:
        """One probe. `shown` names the request in messages when its path holds an id."""
        if self.denied >= MAX_DENIED:
            return Answer(skipped=True)
        shown = shown or f"{method} /v1{path}"
        try:
            if method == "POST":
                response = self.client.post(path, body or {}, endpoint=endpoint, stream=stream)
            else:
                response = self.client.get(path, endpoint=endpoint, stream=stream, params=params)
        except HibobAuthError as exc:
            raise _FatalFindingError(str(exc)) from None
        except HibobPermissionError:
            return Answer(denied=True, status=403)
        except HibobWrongPathError:
            return Answer(error=f"HiBob answered {shown} with its web page: no such endpoint")
        except HibobAPIError as exc:
            return Answer(error=f"HiBob refused {shown} ({exc.status})", status=exc.status)
        except RetriableAPIError:
            return Answer(error=f"HiBob kept failing on {shown} (gave up after retries)")
        except requests.exceptions.RequestException as exc:
            raise _FatalFindingError(
                f"Could not talk to HiBob at {settings.api_base(self.config)}: "
                f"{type(exc).__name__}; check api_url and the network"
            ) from None
        return Answer(response.payload, response.headers)

    def _once(self, key: str, ask: Callable[[], Answer]) -> Answer:
        """One request per question, however many checks need its answer."""
        if key not in self._memo:
            self._memo[key] = ask()
        return self._memo[key]

    def _deny(self, streams: Iterable[str], via: str, note: str = "") -> None:
        for name in streams:
            access = STREAM_ACCESS[name]
            detail = note or access.note
            if not access.permission:
                detail = "HiBob denied it (403); " + (access.note or "no permission documented")
            self.checks[name].set(
                Status.MISSING, permission=access.permission, note=detail, via=via
            )

    def _settle(self, streams: Iterable[str], answer: Answer, via: str) -> bool:
        """Record a denied/skipped/failed answer on `streams`; True when the answer is usable."""
        names = list(streams)
        if answer.denied:
            self._deny(names, via)
        elif answer.skipped:
            for name in names:
                self.checks[name].set(Status.NOT_CHECKED, note=BUDGET_SPENT)
        elif answer.error:
            for name in names:
                self.checks[name].set(Status.NOT_CHECKED, note=answer.error, via=via)
        else:
            for name in names:
                self.checks[name].set(Status.OK, via=via)
        return answer.ok

    # Checks ---------------------------------------------------------------------------

    def _check_fields_metadata(self) -> None:
        """First request: needs no permission, so a 401 here means the credentials."""
        try:
            metadata = people.field_metadata(self.client, stream="employee_fields")
        except (HibobAuthError, HibobWrongPathError) as exc:
            raise _FatalFindingError(str(exc)) from None
        except (HibobAPIError, RetriableAPIError) as exc:
            raise _FatalFindingError(f"HiBob's field metadata could not be read: {exc}") from None
        except requests.exceptions.RequestException as exc:
            raise _FatalFindingError(
                f"Could not talk to HiBob at {settings.api_base(self.config)}: "
                f"{type(exc).__name__}; check api_url and the network"
            ) from None
        self.fields = parse_fields(metadata)
        self.checks["employee_fields"].set(Status.OK, via="GET /v1/company/people/fields")

    def _status_fields(self) -> list[HibobField]:
        known = {f.id: f for f in self.fields}
        return [
            known.get(fid) or HibobField(fid, fid, "", "", "", tuple(fid.split(".")))
            for fid in ("root.id", *STATUS_FIELDS)
        ]

    def _check_people(self) -> Answer:
        """Basic access: every visible employee's id, lifecycle status and start date."""
        via = "POST /v1/people/search"
        metas = self._status_fields()
        answer = self._ask(
            "POST",
            "/people/search",
            endpoint="people_search",
            stream="employees",
            body={"fields": [m.id for m in metas], "showInactive": self.include_inactive},
        )
        if not self._settle(["employees"], answer, via):
            if answer.denied:
                # Tasks need the same Basic info permission: no second 403 for it.
                self._deny(["tasks"], f"{via} (same permission)")
            return answer
        self.people = [self._person(e, metas) for e in _employees(answer.payload)]
        self.people = [p for p in self.people if p.id]
        self.sample = choose_sample(self.people)
        check = self.checks["employees"]
        if not self.people:
            check.set(
                Status.MISSING,
                permission=permissions.BASIC_INFO,
                note="HiBob lists no employees: the group lacks this permission (it is what "
                "surfaces employees), or its 'Whose data can members access?' selects nobody "
                f"(set it to {ACCESS_SCOPE})",
                via=via,
            )
        elif self.include_inactive and all(p.terminated is False for p in self.people):
            check.worsen(Status.PARTIAL, TERMINATED_HIDDEN)
        return answer

    @staticmethod
    def _person(employee: Mapping[str, Any], metas: Sequence[HibobField]) -> Person:
        values = {m.id: field_value(employee, m) for m in metas}
        seen_id, person_id = values["root.id"]
        if not seen_id:
            person_id = employee.get("id")
        has_lifecycle, lifecycle = values["internal.lifecycleStatus"]
        has_status, status = values["internal.status"]
        terminated: bool | None = None
        if has_lifecycle and lifecycle:
            terminated = str(lifecycle).lower() == "terminated"
        elif has_status and status:
            terminated = str(status).lower() == "inactive"
        _, start = values["work.startDate"]
        return Person(str(person_id or ""), str(start) if start else None, terminated)

    def _check_named_lists(self) -> Answer:
        answer = self._ask(
            "GET",
            "/company/named-lists",
            endpoint="named_lists",
            stream="named_lists",
            params={"includeArchived": "true"},
        )
        self._settle(["named_lists"], answer, "GET /v1/company/named-lists")
        return answer

    def _ordered_probes(self) -> list[tuple[list[str], Callable[[], None]]]:
        probes: list[tuple[list[str], Callable[[], None]]] = [
            (["employees"], self._check_employee_fields),
            (["tasks"], self._check_tasks),
        ]
        for group in _table_groups():
            probes.append((group, functools.partial(self._check_table, group)))
        probes += [
            (["whos_out"], self._check_whos_out),
            (["time_off_requests"], self._check_time_off_requests),
            (["time_off_policy_types"], self._check_policy_types),
            (["time_off_balances"], self._check_balances),
        ]
        # Selected streams first: if the denial budget runs out, it runs out on the rest.
        return sorted(probes, key=lambda p: not any(self.checks[s].selected for s in p[0]))

    def _employee_fields(self) -> list[HibobField]:
        return [f for f in self.fields if self.selection.field_selected(f)]

    def _check_employee_fields(self) -> None:
        """Silent omission: all selected fields for a handful of employees, by category."""
        check = self.checks["employees"]
        if check.status == Status.MISSING or not self.sample:
            return
        fields = self._employee_fields()
        groups = [
            fields[i : i + MAX_FIELDS_PER_SEARCH]
            for i in range(0, len(fields), MAX_FIELDS_PER_SEARCH)
        ]
        if len(groups) > MAX_FIELD_GROUPS:
            check.notes.append(
                f"only the first {MAX_FIELD_GROUPS * MAX_FIELDS_PER_SEARCH} of {len(fields)} "
                "selected fields were checked"
            )
            groups = groups[:MAX_FIELD_GROUPS]
        filters = [
            {"fieldPath": "root.id", "operator": "equals", "values": [p.id for p in self.sample]}
        ]
        masked: list[str] = []
        for group in groups:
            answer = self._ask(
                "POST",
                "/people/search",
                endpoint="people_search",
                stream="employees",
                body={
                    "fields": [f.id for f in group],
                    "filters": filters,
                    "showInactive": self.include_inactive,
                },
            )
            if not answer.ok:
                check.notes.append("selected fields not checked: " + (answer.error or BUDGET_SPENT))
                return
            employees = _employees(answer.payload)
            if not employees:
                check.notes.append(
                    "selected fields not checked: HiBob returned no sampled employee"
                )
                return
            check.categories += hidden_categories(group, employees)
            masked += [f.id for f in group if f.sensitive and _masked(employees, f)]
        if masked:
            check.worsen(
                Status.PARTIAL,
                f"HiBob masks {', '.join(masked)}; for full values add: {people.SSN_PERMISSION}",
            )
        if check.categories:
            check.worsen(
                Status.PARTIAL,
                "HiBob silently leaves out the fields of these categories (200 OK, no error):",
            )

    def _check_tasks(self) -> None:
        if self.checks["tasks"].status == Status.MISSING:
            return  # decided by the people search (same permission)
        answer = self._ask("GET", "/tasks", endpoint="tasks", stream="tasks")
        self._settle(["tasks"], answer, "GET /v1/tasks")

    def _check_table(self, streams: list[str]) -> None:
        first = streams[0]
        path = _bulk_path(first)
        via = f"GET /v1{path}"
        params: dict[str, Any] = {"limit": TABLE_PROBE_LIMIT}
        if self.sample:
            params["employeeIds"] = ",".join(p.id for p in self.sample)
        answer = self._ask(
            "GET", path, endpoint="bulk_" + path.rsplit("/", 1)[1], stream=first, params=params
        )
        if not self._settle(streams, answer, via):
            return
        for name in streams[1:]:
            self.checks[name].checked_with = f"{via} (same permission as {first})"
        rows, restricted, errors = table_rows(answer.payload)
        sampled = {p.id: p for p in self.sample}
        cut = current_rows_only(
            {e: r for e, r in rows.items() if e in sampled},
            sampled,
            lifecycle=path.endswith("/lifecycle"),
        )
        flagged = _flag(answer.headers.get("X-Has-Restricted-Columns"))
        for name in streams:
            check = self.checks[name]
            if cut:
                check.permission = STREAM_ACCESS[name].permission
                check.worsen(
                    Status.PARTIAL,
                    f"only each employee's current row comes back ({cut}): the group has "
                    "'... sections' but not '... section histories'",
                )
            if restricted or flagged:
                check.worsen(
                    Status.PARTIAL,
                    "columns hidden by field-level permissions: "
                    + (", ".join(sorted(restricted)) or "HiBob does not say which")
                    + " (grant them under People's data > People's fields)",
                )
            if errors:
                check.worsen(
                    Status.PARTIAL,
                    f"{errors} sampled employee(s) are outside this table's access; check "
                    f"'Whose data can members access?' ({ACCESS_SCOPE})",
                )

    def _whos_out(self) -> Answer:
        today = self.now.date().isoformat()
        return self._once(
            "whos_out",
            lambda: self._ask(
                "GET",
                "/timeoff/whosout",
                endpoint="whosout",
                stream="whos_out",
                params={"from": today, "to": today},
            ),
        )

    def _check_whos_out(self) -> None:
        self._settle(["whos_out"], self._whos_out(), "GET /v1/timeoff/whosout")

    def _check_time_off_requests(self) -> None:
        via = "GET /v1/timeoff/requests/changes"
        whos_out = self._whos_out()
        if whos_out.denied:
            # Same permission: no second 403 for it.
            self._deny(["time_off_requests"], "GET /v1/timeoff/whosout (same permission)")
            return
        pending = bool(self.config.get("include_pending", False))
        params = {
            "since": _iso(self.now - timedelta(days=1)),
            "to": _iso(self.now),
            "includePending": "true" if pending else "false",
        }
        answer = self._ask(
            "GET",
            "/timeoff/requests/changes",
            endpoint="timeoff_changes",
            stream="time_off_requests",
            params=params,
        )
        if answer.denied and pending and whos_out.ok:
            access = STREAM_ACCESS["time_off_requests"]
            self.checks["time_off_requests"].set(
                Status.MISSING,
                permission=access.permission,
                note="who's out is readable, so the denial comes from include_pending, "
                f"which needs {access.note.removeprefix('with include_pending: ')}; "
                "add it or set include_pending to false",
                via=via,
            )
            return
        self._settle(["time_off_requests"], answer, via)

    def _policy_types(self) -> Answer:
        return self._once(
            "policy_types",
            lambda: self._ask(
                "GET",
                "/timeoff/policy-types",
                endpoint="timeoff_policies",
                stream="time_off_policy_types",
            ),
        )

    def _check_policy_types(self) -> None:
        self._settle(
            ["time_off_policy_types"], self._policy_types(), "GET /v1/timeoff/policy-types"
        )

    def _check_balances(self) -> None:
        check = self.checks["time_off_balances"]
        names = [str(n) for n in self.config.get("balance_policy_types") or []]
        if not names:
            answer = self._policy_types()
            if answer.denied:
                access = STREAM_ACCESS["time_off_policy_types"]
                check.set(
                    Status.MISSING,
                    permission=access.permission,
                    note="with balance_policy_types empty the stream reads policy type names "
                    "from HiBob; add this permission or set balance_policy_types",
                    via="GET /v1/timeoff/policy-types",
                )
                return
            if not answer.ok:
                check.set(Status.NOT_CHECKED, note=answer.error or BUDGET_SPENT)
                return
            names = [str(n) for n in (answer.payload or {}).get("policyTypes") or []]
        active = [p for p in self.sample if not p.terminated]
        if not names:
            check.set(Status.NOT_APPLICABLE, note="HiBob lists no time-off policy types")
            return
        if not active:
            check.set(Status.NOT_CHECKED, note="no visible active employee to check with")
            return
        answer = self._ask(
            "GET",
            f"/timeoff/employees/{active[0].id}/balance",
            endpoint="timeoff_balance",
            stream="time_off_balances",
            params={"policyType": names[0], "date": self.now.date().isoformat()},
            shown="GET /v1/timeoff/employees/{id}/balance",
        )
        if answer.status == 404:
            answer.error += f"; is '{names[0]}' a policy type of this company?"
        self._settle(["time_off_balances"], answer, "GET /v1/timeoff/employees/{id}/balance")


def _employees(payload: Any) -> list[Mapping[str, Any]]:
    found = payload.get("employees") if isinstance(payload, Mapping) else None
    return [e for e in found or [] if isinstance(e, Mapping)]


def _masked(employees: Sequence[Mapping[str, Any]], field: HibobField) -> bool:
    """Whether HiBob obscures this (sensitive) field, e.g. an SSN as ***-**-1234."""
    return any("*" in str(field_value(e, field)[1] or "") for e in employees)


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() == "true"


# Configuration -----------------------------------------------------------------------------


def doctor_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The tap's config with short retries and timeouts: an admin is waiting."""
    retries = int(config.get("max_retries", DOCTOR_MAX_RETRIES))
    timeout = int(config.get("request_timeout") or DOCTOR_TIMEOUT_SECONDS)
    return {
        **config,
        "max_retries": min(retries, DOCTOR_MAX_RETRIES),
        "request_timeout": min(timeout, DOCTOR_TIMEOUT_SECONDS),
    }


class UsageError(Exception):
    """Bad arguments or configuration: exit code 2."""


def load_config(sources: Sequence[str]) -> dict[str, Any]:
    """Merge --config files (later wins); `ENV` reads TAP_HIBOB_* variables like the tap."""
    config: dict[str, Any] = {}
    for source in sources:
        if source == "ENV":
            config.update(_env_config())
            continue
        try:
            loaded = json.loads(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"Cannot read config file {source}: {exc.strerror}") from None
        except ValueError:
            raise UsageError(f"Config file {source} is not valid JSON") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"Config file {source} must hold a JSON object")
        config.update(loaded)
    missing = [key for key in ("service_user_id", "service_user_token") if not config.get(key)]
    if missing:
        raise UsageError("Config is missing " + " and ".join(missing))
    problems = settings.problems(config)
    if problems:
        raise UsageError("Config is invalid: " + "; ".join(problems))
    return config


def _env_config() -> dict[str, Any]:
    from singer_sdk.configuration._dict_config import parse_environment_config

    parsed = parse_environment_config(settings.CONFIG_SCHEMA, prefix="TAP_HIBOB_")
    for key, schema in settings.CONFIG_SCHEMA["properties"].items():
        types = schema.get("type")
        if key in parsed and "number" in (types if isinstance(types, list) else [types]):
            try:
                parsed[key] = float(parsed[key])
            except ValueError:
                raise UsageError(f"TAP_HIBOB_{key.upper()} must be a number") from None
    return parsed


def load_selection(path: str | None) -> Selection:
    if path is None:
        return Selection.default()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read catalog file {path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(
            f"Catalog file {path} is not valid JSON; create it with tap-hibob --discover"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("streams"), list):
        raise UsageError(f"Catalog file {path} has no 'streams' list")
    return Selection.from_catalog(data)


# Output ------------------------------------------------------------------------------------


def render_text(report: Report) -> str:
    """The table an admin reads: one row per stream, what to add underneath."""
    lines = [f"tap-hibob doctor: service user {report.service_user_id} on {report.api_url}", ""]
    if report.problem:
        lines.append(report.problem)
    else:
        width = max(len(check.stream) for check in report.checks) + 2
        lines.append(f"{'STREAM':<{width}}{'SELECTED':<10}RESULT")
        for check in report.checks:
            lines.append(
                f"{check.stream:<{width}}{'yes' if check.selected else 'no':<10}"
                f"{check.status.label}"
            )
            indent = " " * (width + 2)
            if check.status in (Status.MISSING, Status.PARTIAL) and check.permission:
                lines.append(f"{indent}add: {check.permission}")
            lines.extend(f"{indent}{note}" for note in check.notes)
            lines.extend(f"{indent}- {gap.describe()}" for gap in check.categories)
    lines.append("")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def _summary(report: Report) -> str:
    used = f"({report.requests} requests, {report.denied} denied)"
    if report.problem:
        return f"Result: the selected streams cannot run. {used}"
    selected = report.selected
    blocked = [c.stream for c in selected if not c.status.can_run]
    partial = [c.stream for c in selected if c.status == Status.PARTIAL]
    if blocked:
        return (
            f"Result: {len(blocked)} of {len(selected)} selected streams cannot run: "
            f"{', '.join(blocked)}. {used}"
        )
    text = f"Result: all {len(selected)} selected streams can run"
    if partial:
        text += f"; partially visible: {', '.join(partial)}"
    return f"{text}. {used}"


def _cell(text: str) -> str:
    # '<' would start an HTML tag in rendered Markdown; '|' would end the cell.
    return text.replace("|", "\\|").replace("<", "&lt;")


def permission_matrix_markdown() -> str:
    """The README's permission matrix, generated from `tap_hibob.permissions`."""
    lines = [
        "| Stream | HiBob endpoint | Permission to add (exact HiBob wording) | Notes |",
        "|---|---|---|---|",
    ]
    for access in STREAM_ACCESS.values():
        lines.append(
            f"| `{access.stream}` | `{access.endpoint}` | {_cell(access.permission or 'none')} "
            f"| {_cell(access.note)} |"
        )
    lines += [
        "",
        "| Employee field category | Permission that makes its fields visible in `employees` |",
        "|---|---|",
    ]
    by_section: dict[str, list[str]] = defaultdict(list)
    for category_id, section in permissions._CATEGORY_SECTIONS.items():
        by_section[section].append(category_id)
    for section, ids in by_section.items():
        ids_text = ", ".join(f"`{i}`" for i in ids)
        lines.append(f"| {section} ({ids_text}) | {_cell(permissions.for_category(ids[0]))} |")
    lines += [
        "| custom categories (`category_…`) | People > *category name* > View selected "
        "employees' *category name* sections |",
        "",
        f"Every employee-data stream also needs the group's access scope: {ACCESS_SCOPE}.",
    ]
    return "\n".join(lines) + "\n"


# Command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tap-hibob-doctor",
        description="Check which tap-hibob streams the configured HiBob service user can read "
        "and name the HiBob permissions to add.",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="PATH|ENV",
        help="tap-hibob config file (repeatable; ENV reads TAP_HIBOB_* variables)",
    )
    parser.add_argument(
        "--catalog", help="catalog the tap runs with (default: streams selected by default)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also exit 1 when a selected stream is only partially visible",
    )
    parser.add_argument(
        "--permission-matrix",
        action="store_true",
        help="print the stream/permission matrix (Markdown) and exit",
    )
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Run the doctor; returns the exit code (0 = every selected stream can run)."""
    args = _parser().parse_args(argv)
    if args.permission_matrix:
        sys.stdout.write(permission_matrix_markdown())
        return 0
    if not args.config:
        sys.stderr.write("tap-hibob-doctor: pass --config config.json (or --config ENV)\n")
        return 2
    try:
        config = load_config(args.config)
        selection = load_selection(args.catalog)
    except UsageError as exc:
        sys.stderr.write(f"tap-hibob-doctor: {exc}\n")
        return 2
    report = Doctor(config, selection).run()
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    if not report.can_run:
        return 1
    return 1 if args.strict and not report.all_ok else 0


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point `tap-hibob-doctor`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
