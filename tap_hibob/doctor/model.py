"""What the doctor finds: statuses, per-stream results and the report."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

LOGGER = logging.getLogger("tap-hibob-doctor")

MAX_DENIED = 5  # 401/403 answers per check; HiBob's firewall acts at 50 in 10 s
SAMPLE_SIZE = 10  # employees whose fields and table rows are inspected
MAX_FIELDS_PER_SEARCH = 400  # HiBob's limit on people-search field IDs
MAX_FIELD_GROUPS = 3  # keeps a full check within 25 requests even for 1,200 fields
TABLE_PROBE_LIMIT = 100  # rows per bulk-table probe: the sample's history, cheaply
DOCTOR_MAX_RETRIES = 2  # an admin waits at the terminal: fail fast on a broken network
DOCTOR_TIMEOUT_SECONDS = 30

# Read only to decide who is terminated and where histories start.
STATUS_FIELDS = ("internal.lifecycleStatus", "internal.status", "work.startDate")

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


class FatalFindingError(Exception):
    """A finding that ends the check (401, unreachable HiBob, wrong api_url)."""
