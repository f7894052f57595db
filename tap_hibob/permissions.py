"""Which HiBob permission each stream needs, in the words HiBob admins see.

This is the single source for 403 messages, silent-omission warnings, the permission
doctor and the README's permission matrix. Wording follows the permission list of the
service-user setup guide our users follow ("People > Work > View selected employees' ...").
"""

from __future__ import annotations

from dataclasses import dataclass

BASIC_INFO = "People > Basic Info > View selected employees' Basic info sections"
OUTSIDE_SEED = "not in the usual integration permission list: add it to the permission group"


@dataclass(frozen=True)
class StreamAccess:
    """What one stream reads and the permission a HiBob admin grants for it."""

    stream: str
    endpoint: str
    permission: str
    note: str = ""


def _history(section: str) -> str:
    return f"People > {section} > View selected employees' {section} section histories"


STREAM_ACCESS: dict[str, StreamAccess] = {
    access.stream: access
    for access in (
        StreamAccess(
            "employees",
            "POST /v1/people/search",
            BASIC_INFO,
            "plus 'View selected employees' <Category> sections' for each field category read",
        ),
        StreamAccess(
            "employee_fields", "GET /v1/company/people/fields", "", "no permission needed"
        ),
        StreamAccess(
            "named_lists",
            "GET /v1/company/named-lists",
            "",
            "no specific permission documented; any service user in a permission group",
        ),
        *(
            StreamAccess(
                stream,
                f"GET /v1/bulk/people/{table}",
                _history(section),
                f"with only 'View selected employees' {section} sections' HiBob returns just "
                "each employee's current row",
            )
            for stream, table, section in (
                ("work_history", "work", "Work"),
                ("employment_history", "employment", "Employment"),
                ("lifecycle_history", "lifecycle", "Lifecycle"),
                ("salary_history", "salaries", "Payroll"),
                ("variable_payments", "variable", "Payroll"),
                ("equity_grants", "equities", "Payroll"),
                ("address_history", "address", "Address"),
            )
        ),
        StreamAccess(
            "time_off_requests",
            "GET /v1/timeoff/requests/changes",
            "Timeoff > See who's out today > See who's out today",
            "with include_pending: also 'Timeoff > Requests > Create, edit, and cancel "
            "people's requests that haven't been approved yet'",
        ),
        StreamAccess(
            "whos_out",
            "GET /v1/timeoff/whosout",
            "Timeoff > See who's out today > See who's out today",
        ),
        StreamAccess(
            "time_off_policy_types",
            "GET /v1/timeoff/policy-types",
            "Features > Time off > Settings > Manage company's time off settings",
            OUTSIDE_SEED,
        ),
        StreamAccess(
            "time_off_balances",
            "GET /v1/timeoff/employees/{id}/balance",
            "Timeoff > Balance > See selected people's time off and sick leave balances",
        ),
        StreamAccess(
            "tasks",
            "GET /v1/tasks",
            BASIC_INFO,
            "HiBob documents no task-specific permission; tasks of visible employees are read",
        ),
    )
}

# Field categories of people search, by HiBob category id, to the section name shown in
# the permission group's "People" tab. Custom categories use their display name.
_CATEGORY_SECTIONS = {
    "root": "Basic info",
    "about": "About",
    "work": "Work",
    "employment": "Employment",
    "personal": "Personal",
    "identification": "Identification",
    "address": "Address",
    "home": "Home",
    "payroll": "Payroll",
    "internal": "Lifecycle",
    "lifecycle": "Lifecycle",
    "eeo": "EEO",
    "personalContact": "Personal contact details",
    "workContact": "Work contact details",
    "financial": "Financial",
}
_GROUP_NAMES = {"Basic info": "Basic Info"}


def for_stream(stream: str) -> StreamAccess:
    """The access entry of a stream (KeyError for unknown streams is a programming error)."""
    return STREAM_ACCESS[stream]


def for_category(category_id: str, display_name: str | None = None) -> str:
    """The permission that makes people-search fields of one category visible."""
    section = _CATEGORY_SECTIONS.get(category_id) or display_name or category_id
    group = _GROUP_NAMES.get(section, section)
    return f"People > {group} > View selected employees' {section} sections"
