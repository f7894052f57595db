"""Employee history tables, read in bulk: one request per 200 table rows, not per employee.

HiBob's bulk endpoints (`GET /v1/bulk/people/{table}`) return a table's rows for every
employee the service user may see, 200 rows a page, cursor-paginated. One generic stream
reads them; the small classes at the bottom say which table each stream reads.

What HiBob does that the reader copes with (hibob-api.md §4):
- a page groups rows by employee, and one employee's rows may continue on the next page;
- each employee's `values` holds bare rows or `{values: [rows], restricted_columns}`;
- columns hidden by field-level permissions arrive as null, named in `restricted_columns`
  and flagged by the `X-Has-Restricted-Columns` header;
- entry ids repeat across employees, so the key is (employeeId, id);
- with only "View selected employees' <X> sections" HiBob returns just the current row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk import Stream

from tap_hibob import permissions
from tap_hibob.errors import HibobAPIError
from tap_hibob.stream import HibobStream, load_schema

PAGE_SIZE = 200  # HiBob's maximum `limit`; it counts table rows, not employees.
# A table where each of at least this many employees has exactly one row most likely means
# the service user lacks the "section histories" permission (HiBob then sends current rows).
SINGLE_ROW_WARNING_MIN_EMPLOYEES = 5
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


# Pure helpers ---------------------------------------------------------------------------


def rows_of(payload: Any) -> Iterator[tuple[Any, dict[str, Any], dict[str, Any] | None]]:
    """(employeeId, row, restricted_columns) for every row of one bulk page.

    Accepts both shapes HiBob sends for an employee's `values`: bare rows, and wrappers
    `{values: [rows], restricted_columns: {...}}` (the current spec), even mixed.
    """
    for result in payload["results"]:
        if not isinstance(result, dict):
            continue
        employee_id = result.get("employeeId")
        outer = result.get("restricted_columns")
        for item in result.get("values") or []:
            if not isinstance(item, dict):
                continue
            if _is_wrapper(item):
                restricted = item.get("restricted_columns") or outer
                for row in item["values"]:
                    if isinstance(row, dict):
                        yield employee_id, row, restricted
            else:
                yield employee_id, item, outer


def _is_wrapper(item: Mapping[str, Any]) -> bool:
    # A row has an entry id; a wrapper has a list of rows (and maybe restricted_columns).
    return isinstance(item.get("values"), list) and (
        "restricted_columns" in item or "id" not in item
    )


def next_cursor(payload: Mapping[str, Any]) -> str | None:
    """The cursor of the next page, or None on the last page."""
    metadata = payload.get("response_metadata")
    cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
    return str(cursor) if cursor else None


def conform(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` with scalars coerced to the schema's type, where that loses nothing.

    HiBob sends whole numbers as JSON integers (fte 100 next to 62.5), list item ids as
    numbers or strings, and employee ids as strings or numbers; a warehouse column needs
    one type. Values that cannot be coerced are left as they are.
    """
    return compile_conformer(schema)(value)


def compile_conformer(schema: Mapping[str, Any]) -> Callable[[Any], Any]:
    """`conform` for one schema, with the schema walked once instead of per value."""
    properties = schema.get("properties")
    items = schema.get("items")
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    coerce = next((c for name, c in _COERCIONS if name in types), None)
    children = {k: compile_conformer(v) for k, v in properties.items()} if properties else None
    item = compile_conformer(items) if isinstance(items, dict) else None

    def conformer(value: Any) -> Any:
        if isinstance(value, dict):
            if not children:
                return value  # free-form objects (customColumns) stay as HiBob sent them
            return {k: children[k](v) if k in children else v for k, v in value.items()}
        if isinstance(value, list):
            return [item(v) for v in value] if item is not None else value
        if value is None or isinstance(value, bool) or coerce is None:
            return value
        return coerce(value, schema)

    return conformer


def _as_string(value: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(value, int | float):
        return str(value)
    if schema.get("format") == "date" and isinstance(value, str) and _DATE_TIME.match(value):
        return value[:10]
    return value


def _as_integer(value: Any, _: Mapping[str, Any]) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _NUMERIC.match(value) and "." not in value:
        return int(value)
    return value


def _as_number(value: Any, _: Mapping[str, Any]) -> Any:
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str) and _NUMERIC.match(value):
        return float(value)
    return value


def _as_boolean(value: Any, _: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


_COERCIONS: tuple[tuple[str, Callable[[Any, Mapping[str, Any]], Any]], ...] = (
    ("string", _as_string),
    ("integer", _as_integer),
    ("number", _as_number),
    ("boolean", _as_boolean),
)


# What one table read saw, reported once at its end --------------------------------------


@dataclass
class Findings:
    """What a stream noticed while reading its table; logged once per run."""

    hidden: dict[str, set[str]] = field(default_factory=dict)  # restricted_columns kind → cols
    flagged: bool = False  # X-Has-Restricted-Columns: true
    errors: set[str] = field(default_factory=set)  # fingerprints, never logged
    unknown_columns: set[str] = field(default_factory=set)
    duplicates: int = 0
    keyless: int = 0
    employees: set[str] = field(default_factory=set)
    rows: int = 0

    def note_page(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        if str(headers.get("X-Has-Restricted-Columns", "")).lower() == "true":
            self.flagged = True
        for error in payload.get("errors") or []:
            self.errors.add(json.dumps(error, sort_keys=True, default=str))

    def note_restricted(self, restricted: Mapping[str, Any] | None) -> None:
        if not isinstance(restricted, dict):
            return
        for kind, columns in restricted.items():
            if isinstance(columns, list) and columns:
                self.hidden.setdefault(str(kind), set()).update(str(c) for c in columns)


# The stream -----------------------------------------------------------------------------


class BulkTableStream(HibobStream):
    """One employee table read through `GET /v1/bulk/people/{table}`.

    Subclasses set `name`, `table` (the path segment) and `category` (the HiBob category
    whose People permissions govern the table).
    """

    table: ClassVar[str]
    category: ClassVar[str]
    primary_keys = ("employeeId", "id")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.endpoint = f"bulk_{cls.table}"
        cls.schema = load_schema(cls.name)  # type: ignore[method-assign, assignment, misc]

    @property
    def path(self) -> str:
        return f"/bulk/people/{self.table}"

    @cached_property
    def _coerce_row(self) -> Callable[[Any], Any]:
        return compile_conformer(self.schema)

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Every row of the table, page by page, each with its employeeId."""
        findings = Findings()
        seen: set[tuple[str, int]] = set()
        known = set(self.schema["properties"])
        drop_human_readable = self.config.get("human_readable", "append") == "off"
        for payload, headers in self._pages():
            findings.note_page(payload, headers)
            for owner, row, restricted in rows_of(payload):
                findings.note_restricted(restricted)
                record = self._record(owner, row, drop_human_readable)
                employee_id, entry_id = record.get("employeeId"), record.get("id")
                if not isinstance(employee_id, str) or not isinstance(entry_id, int):
                    findings.keyless += 1
                    continue
                key = (employee_id, entry_id)
                if key in seen:
                    findings.duplicates += 1
                    continue
                seen.add(key)
                findings.employees.add(employee_id)
                findings.rows += 1
                findings.unknown_columns.update(record.keys() - known)
                yield record
        self._report(findings)

    def _pages(self) -> Iterator[tuple[dict[str, Any], Mapping[str, str]]]:
        """Pages until HiBob's next_cursor is null; a cursor seen before is an error."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        sent: set[str] = set()
        while True:
            response = self.client.get(
                self.path, endpoint=self.endpoint, stream=self.name, params=params
            )
            payload = response.payload
            if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
                raise HibobAPIError(
                    f"HiBob answered GET /v1{self.path} for stream '{self.name}' without a "
                    "'results' list; its bulk table API may have changed. Deselect the "
                    "stream and report this to the tap's maintainers."
                )
            yield payload, response.headers
            cursor = next_cursor(payload)
            if cursor is None:
                return
            if cursor in sent:
                raise HibobAPIError(
                    f"HiBob returned the same page cursor twice for GET /v1{self.path} "
                    f"(stream '{self.name}'); stopped instead of reading the same pages "
                    "again. Run the sync again; if it repeats, report it to HiBob support."
                )
            sent.add(cursor)
            # `requests` URL-encodes the cursor (HiBob's contain +, / and =).
            params = {"limit": PAGE_SIZE, "cursor": cursor}

    def _record(
        self, employee_id: Any, row: Mapping[str, Any], drop_human_readable: bool
    ) -> dict[str, Any]:
        record = dict(row)
        if drop_human_readable:
            record.pop("humanReadable", None)
        # Employee ids exceed 2^53: keep them as the exact digits HiBob sent.
        record["employeeId"] = str(employee_id) if employee_id is not None else None
        return self._coerce_row(record)

    # Reporting ------------------------------------------------------------------------

    def _report(self, findings: Findings) -> None:
        if findings.hidden or findings.flagged:
            self.logger.warning(self._restricted_message(findings))
        if findings.errors:
            self.logger.warning(
                "%s: HiBob could not return rows for %d employee(s) (listed under 'errors' "
                "in its answer); their rows are missing from this stream. Check the "
                "permission group's 'Whose data can members access?' scope.",
                self.name,
                len(findings.errors),
            )
        if findings.unknown_columns:
            self.logger.warning(
                "%s: HiBob sent columns the stream schema does not declare: %s. They are "
                "passed through untyped; loaders that build tables from the schema may "
                "drop them.",
                self.name,
                ", ".join(sorted(findings.unknown_columns)),
            )
        if findings.duplicates:
            self.logger.warning(
                "%s: skipped %d row(s) HiBob sent twice (same employeeId and id).",
                self.name,
                findings.duplicates,
            )
        if findings.keyless:
            self.logger.warning(
                "%s: skipped %d row(s) without an employeeId or entry id (the primary key).",
                self.name,
                findings.keyless,
            )
        self._warn_if_current_rows_only(findings)

    def _restricted_message(self, findings: Findings) -> str:
        view = permissions.for_category(self.category)
        history = permissions.for_stream(self.name).permission
        parts = []
        if cols := findings.hidden.pop("no_view_permission", None):
            parts.append(f"{', '.join(sorted(cols))} (needs '{view}')")
        if cols := findings.hidden.pop("no_view_history_permission", None):
            parts.append(f"{', '.join(sorted(cols))} in past rows (needs '{history}')")
        for kind, cols in sorted(findings.hidden.items()):
            parts.append(f"{', '.join(sorted(cols))} ({kind})")
        hidden = "; ".join(parts) if parts else "columns it did not name"
        return (
            f"{self.name}: HiBob hid {hidden} from the service user and sent them as null. "
            "Grant the permission named, or with field-level permissions grant these fields "
            "under People's data > People's fields."
        )

    def _warn_if_current_rows_only(self, findings: Findings) -> None:
        employees = len(findings.employees)
        # HiBob gives no signal when it truncates history, so this is a heuristic; the
        # message says how to tell. Silently missing payroll history is the worse outcome.
        if employees >= SINGLE_ROW_WARNING_MIN_EMPLOYEES and findings.rows == employees:
            self.logger.warning(
                "%s: each of the %d employees has exactly one row. If the service user only "
                "has '%s', HiBob returns just the current row; add '%s' to read the history "
                "(ignore this if each employee really has one entry).",
                self.name,
                employees,
                permissions.for_category(self.category),
                permissions.for_stream(self.name).permission,
            )


# The tables -----------------------------------------------------------------------------


class WorkHistoryStream(BulkTableStream):
    """Work table: title, department, site and manager over time."""

    name = "work_history"
    table = "work"
    category = "work"


class EmploymentHistoryStream(BulkTableStream):
    """Employment table: contract, employment type, FTE, weekly hours, working pattern."""

    name = "employment_history"
    table = "employment"
    category = "employment"


class LifecycleHistoryStream(BulkTableStream):
    """Lifecycle table: hired, employed, leave and termination entries."""

    name = "lifecycle_history"
    table = "lifecycle"
    category = "lifecycle"


class SalaryHistoryStream(BulkTableStream):
    """Payroll salary table: base pay, pay period and frequency over time."""

    name = "salary_history"
    table = "salaries"
    category = "payroll"
    selected_by_default = False


class VariablePaymentsStream(BulkTableStream):
    """Variable pay table: bonus and commission plans (observed bulk route)."""

    name = "variable_payments"
    table = "variable"
    category = "payroll"
    selected_by_default = False


class EquityGrantsStream(BulkTableStream):
    """Equity table: option and RSU grants (observed bulk route)."""

    name = "equity_grants"
    table = "equities"
    category = "payroll"
    selected_by_default = False


class AddressHistoryStream(BulkTableStream):
    """Address table (observed, undocumented bulk route; always the whole tenant)."""

    name = "address_history"
    table = "address"
    category = "address"
    selected_by_default = False


STREAMS: list[type[Stream]] = [
    WorkHistoryStream,
    EmploymentHistoryStream,
    LifecycleHistoryStream,
    SalaryHistoryStream,
    VariablePaymentsStream,
    EquityGrantsStream,
    AddressHistoryStream,
]
