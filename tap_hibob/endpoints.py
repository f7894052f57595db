"""The registry: every HiBob endpoint the tap calls, and what each stream needs.

Streams, the HTTP client's pacing, the doctor's probes, 403 messages and the permission
matrix in the docs all read their facts here; no other module writes an endpoint path, a
published rate limit or a permission. Adding a HiBob table is one `TableSpec` entry.
Permission wording is the one HiBob admins see (the service-user setup guide our users
follow). The API behind each entry: docs/development/hibob-api.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import quote

# Permissions, in the words of HiBob's permission-group screens --------------------------


def sections(section: str) -> str:
    """The permission that shows one People section (current rows of its tables)."""
    group = "Basic Info" if section == "Basic info" else section
    return f"People > {group} > View selected employees' {section} sections"


def section_histories(section: str) -> str:
    """The permission that shows every row of a section's tables, past ones included."""
    return f"People > {section} > View selected employees' {section} section histories"


BASIC_INFO = sections("Basic info")
WHOS_OUT = "Timeoff > See who's out today > See who's out today"
PENDING = (
    "Timeoff > Requests > Create, edit, and cancel people's requests that haven't been approved yet"
)
PRIVATE_POLICIES = "Timeoff > See who's out today > See who's out because of private policy"
BALANCES = "Timeoff > Balance > See selected people's time off and sick leave balances"
TIME_OFF_SETTINGS = "Features > Time off > Settings > Manage company's time off settings"
REPORTS = "Features > Reports > View reports according to people's data access rights"
PROFILE_CHANGES = "People > History > View selected employees' profile changes history"
IDENTIFICATION_EDIT = "People > Identification > Edit selected employees' Identification sections"
ACCESS_SCOPE = (
    "People's data > Whose data can members access? > Select people by condition > "
    "Lifecycle status: Hired, Employed, Terminated"
)
#: Appended to permissions the usual integration setup guide does not list.
OUTSIDE_SEED = "not in the usual integration permission list: add it to the permission group"

#: Field categories of people search (HiBob category id) to the People section that
#: shows them. Custom categories use their display name.
CATEGORY_SECTIONS = {
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
    "training": "Training",
}


def section_of(category_id: str, display_name: str | None = None) -> str:
    """The People section of a field category (custom categories: their display name)."""
    return CATEGORY_SECTIONS.get(category_id) or display_name or category_id


def for_category(category_id: str, display_name: str | None = None) -> str:
    """The permission that makes people-search fields of one category visible."""
    return sections(section_of(category_id, display_name))


# Endpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One HiBob route: how to call it, how fast, and what lets the service user in."""

    #: Pacing key: HiBob limits each endpoint separately, per minute.
    key: str
    method: str
    #: Path under /v1, with {placeholders} for ids.
    path: str
    #: HiBob's published requests per minute; None when unpublished (default_rate_limit).
    limit: int | None = None
    #: What a HiBob admin grants; "" when HiBob needs no permission.
    permission: str = ""
    note: str = ""

    def url(self, **values: object) -> str:
        """The path with its placeholders filled in, each value URL-encoded."""
        return self.path.format(**{k: quote(str(v), safe="") for k, v in values.items()})

    @property
    def shown(self) -> str:
        """How messages and docs name the endpoint: `GET /v1/tasks`."""
        return f"{self.method} /v1{self.path}"


FIELDS = Endpoint("fields_metadata", "GET", "/company/people/fields", 50, note="no permission")
PEOPLE_SEARCH = Endpoint(
    "people_search",
    "POST",
    "/people/search",
    50,
    BASIC_INFO,
    "plus 'View selected employees' <Category> sections' for each field category read",
)
NAMED_LISTS = Endpoint(
    "named_lists",
    "GET",
    "/company/named-lists",
    50,
    note="no specific permission documented; any service user in a permission group",
)
TABLE_METADATA = Endpoint(
    "table_metadata", "GET", "/company/people/employee-tables/metadata", 50, note="no permission"
)
CUSTOM_TABLE_METADATA = Endpoint(
    "custom_table_metadata", "GET", "/people/custom-tables/metadata", 50, note="no permission"
)
CUSTOM_TABLE_ROWS = Endpoint(
    "bulk_custom_table",
    "GET",
    "/bulk/people/custom-tables/{table}",
    permission=sections("<category>"),
    note="the custom table's category, plus the access scope",
)
TRAINING = Endpoint(
    "people_training",
    "GET",
    "/people/{employee}/training",
    permission=section_histories("Training"),
    note=OUTSIDE_SEED,
)
ACTUAL_PAYMENTS = Endpoint(
    "actual_payments",
    "POST",
    "/people/actual-payments/search",
    permission=section_histories("Payroll"),
)
TIME_OFF_CHANGES = Endpoint(
    "timeoff_changes",
    "GET",
    "/timeoff/requests/changes",
    permission=WHOS_OUT,
    note=f"pending changes (include_pending, on by default) also need '{PENDING}'",
)
WHOS_OUT_ENDPOINT = Endpoint(
    "whosout",
    "GET",
    "/timeoff/whosout",
    permission=WHOS_OUT,
    note=(
        f"pending leave (include_pending, on by default) also needs '{PENDING}'; "
        f"private-policy leave (whos_out_include_private) needs '{PRIVATE_POLICIES}'"
    ),
)
POLICY_TYPES = Endpoint(
    "timeoff_policy_types",
    "GET",
    "/timeoff/policy-types",
    50,
    TIME_OFF_SETTINGS,
    OUTSIDE_SEED,
)
POLICY_TYPE = Endpoint(
    "timeoff_policy_type",
    "GET",
    "/timeoff/policy-types/{name}",
    50,
    TIME_OFF_SETTINGS,
    OUTSIDE_SEED,
)
BALANCE = Endpoint("timeoff_balance", "GET", "/timeoff/employees/{employee}/balance", 50, BALANCES)
TASKS = Endpoint(
    "tasks",
    "GET",
    "/tasks",
    permission=BASIC_INFO,
    note="HiBob documents no task-specific permission; tasks of visible employees are read",
)
EMPLOYEE_TASKS = Endpoint("tasks_people", "GET", "/tasks/people/{employee}", permission=BASIC_INFO)
REPORT_LIST = Endpoint("reports", "GET", "/company/reports", permission=REPORTS, note=OUTSIDE_SEED)
REPORT_DOWNLOAD = Endpoint(
    "report_download",
    "GET",
    "/company/reports/{report}/download",
    permission=REPORTS,
    note="plus the data permissions of what the report shows",
)
REPORT_DOWNLOAD_ASYNC = Endpoint(
    "report_download_async",
    "GET",
    "/company/reports/{report}/download-async",
    permission=REPORTS,
)
REPORT_FILE = Endpoint("report_file", "GET", "/company/reports/download/{name}", permission=REPORTS)


def bulk_table(table: str, section: str) -> Endpoint:
    """The bulk route of one built-in table; each has its own HiBob rate limit."""
    return Endpoint(
        f"bulk_{table}",
        "GET",
        f"/bulk/people/{table}",
        permission=section_histories(section),
        note=(f"with only '{sections(section)}' HiBob returns just each employee's current row"),
    )


# Streams ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSpec:
    """A stream with a fixed name: the endpoint whose answer decides whether it can run."""

    name: str
    endpoint: Endpoint
    selected_by_default: bool = True
    #: Requests per sync, for the docs (N employees visible, P policy types).
    requests: str = "1"
    #: Other endpoints it reads (their 403 names their own permission).
    also: tuple[Endpoint, ...] = ()

    @property
    def permission(self) -> str:
        return self.endpoint.permission

    @property
    def note(self) -> str:
        return self.endpoint.note


@dataclass(frozen=True)
class TableSpec:
    """A built-in HiBob employee table the tap knows by name."""

    table: str  # HiBob's table id: the bulk path segment
    stream: str
    section: str  # People section whose permissions govern it
    selected_by_default: bool = True
    #: False: HiBob has no bulk route, one request per employee instead.
    bulk: bool = True
    description: str = ""

    @property
    def endpoint(self) -> Endpoint:
        return bulk_table(self.table, self.section) if self.bulk else TRAINING

    @property
    def stream_spec(self) -> StreamSpec:
        requests = "ceil(rows / 200)" if self.bulk else "1 + N"
        also = () if self.bulk else (PEOPLE_SEARCH,)
        return StreamSpec(self.stream, self.endpoint, self.selected_by_default, requests, also)


TABLES: dict[str, TableSpec] = {
    spec.table: spec
    for spec in (
        TableSpec("work", "work_history", "Work", description="title, department, site, manager"),
        TableSpec(
            "employment",
            "employment_history",
            "Employment",
            description="contract, employment type, FTE, weekly hours, working pattern",
        ),
        TableSpec(
            "lifecycle",
            "lifecycle_history",
            "Lifecycle",
            description="hired, employed, leave and termination entries",
        ),
        TableSpec(
            "salaries",
            "salary_history",
            "Payroll",
            False,
            description="base pay, pay period and frequency",
        ),
        TableSpec(
            "variable",
            "variable_payments",
            "Payroll",
            False,
            description="bonus and commission plans",
        ),
        TableSpec("equities", "equity_grants", "Payroll", False, description="equity grants"),
        TableSpec("deduction", "deductions", "Payroll", False, description="payroll deductions"),
        TableSpec(
            "entitlement", "entitlements", "Payroll", False, description="payroll entitlements"
        ),
        TableSpec("dependents", "dependents", "Home", False, description="children and dependents"),
        TableSpec(
            "right-to-work",
            "right_to_work",
            "Identification",
            False,
            description="right-to-work documents",
        ),
        # Observed route, not in HiBob's table metadata: the bundled schema describes it.
        TableSpec(
            "address",
            "address_history",
            "Address",
            False,
            description="addresses (undocumented bulk route; always the whole tenant)",
        ),
        TableSpec(
            "training",
            "training",
            "Training",
            False,
            bulk=False,
            description="training records (no bulk route: one request per employee)",
        ),
    )
}
#: HiBob's table metadata does not list these tables, but they have a bulk route.
UNLISTED_TABLES = ("address",)

STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec("employees", PEOPLE_SEARCH, requests="1 + ceil(N / 200) x field groups"),
        StreamSpec("employee_fields", FIELDS),
        StreamSpec("named_lists", NAMED_LISTS),
        StreamSpec(
            "actual_payments",
            ACTUAL_PAYMENTS,
            False,
            "1 + ceil(N / 200) x pages",
            also=(PEOPLE_SEARCH,),
        ),
        StreamSpec("time_off_requests", TIME_OFF_CHANGES, requests="1 per 6-month window"),
        StreamSpec("whos_out", WHOS_OUT_ENDPOINT),
        StreamSpec("time_off_policy_types", POLICY_TYPES, False, "1 + P", also=(POLICY_TYPE,)),
        StreamSpec(
            "time_off_balances",
            BALANCE,
            False,
            "1 (+1) + active N x P",
            also=(PEOPLE_SEARCH, POLICY_TYPES),
        ),
        StreamSpec(
            "tasks", TASKS, requests="1 (+ N with tasks_include_closed)", also=(EMPLOYEE_TASKS,)
        ),
    )
}

CUSTOM_TABLE_PREFIX = "custom_table_"
REPORT_PREFIX = "report_"


def table_stream_name(table: str) -> str:
    """The stream of a HiBob table id: the known name, else the id in snake case."""
    known = TABLES.get(table)
    if known is not None:
        return known.stream
    return re.sub(r"[^0-9A-Za-z]+", "_", table).strip("_").lower() or "table"


def custom_table_stream_name(table_id: str) -> str:
    """Custom tables are named by id (stable) rather than by name (editable)."""
    return CUSTOM_TABLE_PREFIX + table_id


def custom_table_permission(category_display_name: str) -> str:
    return sections(category_display_name)


def custom_table_rows(table_id: str, category_display_name: str, table_name: str) -> Endpoint:
    """The bulk route of one custom table. Each table is paced on its own, like each built-in
    table's bulk route (HiBob publishes no limit for either); a tenant that counts them
    together shows it in its X-RateLimit headers, which the pacing follows."""
    return replace(
        CUSTOM_TABLE_ROWS,
        key=f"{CUSTOM_TABLE_ROWS.key}_{table_id}",
        permission=custom_table_permission(category_display_name),
        note=f"custom table '{table_name}'",
    )


def known_streams() -> list[StreamSpec]:
    """Every stream with a fixed name, in the order the docs list them."""
    people = [STREAMS[name] for name in ("employees", "employee_fields", "named_lists")]
    rest = [spec for spec in STREAMS.values() if spec not in people]
    return [*people, *(table.stream_spec for table in TABLES.values()), *rest]


def spec_for(stream: str) -> StreamSpec | None:
    """The registry entry of a fixed-name stream, or None (custom tables, reports)."""
    return next((spec for spec in known_streams() if spec.name == stream), None)
