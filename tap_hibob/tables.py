"""Employee tables: every built-in table HiBob's metadata lists, custom tables, training and
actual payments, with schemas from HiBob's column metadata.

Built-in and custom tables are read in bulk (`GET /v1/bulk/people/{table}`,
`GET /v1/bulk/people/custom-tables/{id}`): 200 rows a page, cursor-paginated, every
employee the service user may see. What HiBob does that the reader copes with
(docs/development/hibob-api.md):
- `limit` counts rows, so one employee's rows may continue on the next page;
- an employee's `values` holds bare rows or `{values: [rows], restricted_columns}`;
- columns hidden by field-level permissions arrive as null, named in `restricted_columns`
  and flagged by the `X-Has-Restricted-Columns` header;
- entry ids repeat across employees, so the key is (employeeId, id);
- with only "View selected employees' <X> sections" HiBob returns just the current row.
Training has no bulk route (one request per employee); actual payments are a POST search
over batches of at most 200 employee ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_hibob import endpoints
from tap_hibob.batches import adaptive_batches
from tap_hibob.client import HibobResponse
from tap_hibob.endpoints import Endpoint, StreamSpec, TableSpec
from tap_hibob.errors import HibobAPIError
from tap_hibob.field_types import (
    ACTUAL_PAYMENT_PREFIX,
    HibobField,
    custom_table_schema,
    fields_schema,
    table_schema,
)
from tap_hibob.progress import Progress
from tap_hibob.stream import HibobStream, load_schema

if TYPE_CHECKING:
    from tap_hibob.metadata import Metadata
    from tap_hibob.tap import TapHibob

PAGE_SIZE = 200  # HiBob's maximum `limit`; it counts table rows, not employees.
MAX_EMPLOYEE_IDS = 200  # HiBob's cap on employee ids per table or payments request
# A table where each of at least this many employees has exactly one row, or where no row
# is a past entry (`isCurrent` false; "multi-current" tables such as deductions keep several
# current rows), most likely means the service user lacks the "section histories"
# permission (HiBob then sends current rows only).
SINGLE_ROW_WARNING_MIN_EMPLOYEES = 5


# Reading HiBob's bulk envelope -----------------------------------------------------------


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


def cursor_pages(
    fetch: Callable[[str | None], HibobResponse], shown: str, stream: str
) -> Iterator[tuple[dict[str, Any], Mapping[str, str]]]:
    """(page, headers) until HiBob's next_cursor is null; a cursor seen twice is an error
    (HiBob has returned one in a loop)."""
    cursor: str | None = None
    sent: set[str] = set()
    while True:
        response = fetch(cursor)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise HibobAPIError(
                f"HiBob answered {shown} for stream '{stream}' without a 'results' list; its "
                "API may have changed. Deselect the stream and report this to the tap's "
                "maintainers."
            )
        yield payload, response.headers
        cursor = next_cursor(payload)
        if cursor is None:
            return
        if cursor in sent:
            raise HibobAPIError(
                f"HiBob returned the same page cursor twice for {shown} (stream '{stream}'); "
                "stopped instead of reading the same pages again. Run the sync again; if it "
                "repeats, report it to HiBob support."
            )
        sent.add(cursor)


def _page_rows(
    pages: Iterable[tuple[dict[str, Any], Mapping[str, str]]], findings: Findings
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(employeeId, row) of every row of every page, noting what each page says."""
    for payload, headers in pages:
        findings.note_page(payload, headers)
        for owner, row, restricted in rows_of(payload):
            findings.note_restricted(restricted)
            yield owner, row


@dataclass
class Findings:
    """What a stream noticed while reading its table; logged once per run."""

    hidden: dict[str, set[str]] = field(default_factory=dict)  # restricted_columns kind → cols
    flagged: bool = False  # X-Has-Restricted-Columns: true
    errors: set[str] = field(default_factory=set)  # fingerprints, never logged
    duplicates: int = 0
    keyless: int = 0
    employees: set[str] = field(default_factory=set)
    rows: int = 0
    current: int = 0  # rows with isCurrent true
    past: int = 0  # rows with isCurrent false

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


# Streams ---------------------------------------------------------------------------------


class TableStream(HibobStream):
    """Rows of one employee table, keyed (employeeId, id)."""

    primary_keys = ("employeeId", "id")
    #: The People section whose "sections" permission gives current rows only.
    section: str = ""
    #: Whether HiBob cuts this table to current rows without "section histories" (built-in
    #: tables; custom tables have one permission for all their rows).
    has_history_permission = True

    def __init__(self, tap: TapHibob, schema: dict[str, Any], spec: StreamSpec, **kw: Any) -> None:
        super().__init__(tap, schema=schema, name=spec.name, spec=spec)
        self.selected_by_default = spec.selected_by_default
        self.section = kw.get("section", "")

    @property
    def endpoint(self) -> Endpoint:
        assert self.spec is not None
        return self.spec.endpoint

    def _record(self, employee_id: Any, row: dict[str, Any]) -> dict[str, Any]:
        record = row  # a row of a decoded page: the tap's own to change
        if self.settings.human_readable == "off":
            record.pop("humanReadable", None)
        # Employee ids exceed 2^53: keep them as the exact digits HiBob sent.
        record["employeeId"] = str(employee_id) if employee_id is not None else None
        return record

    def _keyed(
        self, rows: Iterable[tuple[Any, dict[str, Any]]], findings: Findings
    ) -> Iterator[dict[str, Any]]:
        """Records of (employeeId, row) pairs, each key once."""
        seen: set[tuple[str, int]] = set()
        for owner, row in rows:
            record = self._record(owner, row)
            employee_id, entry_id = record.get("employeeId"), record.get("id")
            if isinstance(entry_id, str) and entry_id.isdigit():
                entry_id = record["id"] = int(entry_id)
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
            flag = record.get("isCurrent")
            findings.current += flag is True
            findings.past += flag is False
            yield record

    def _report(self, findings: Findings) -> None:
        if findings.hidden or findings.flagged:
            self.logger.warning(self._restricted_message(findings))
        if findings.errors:
            self.logger.warning(
                "%s: HiBob could not return rows for %d employee(s) (listed under 'errors' "
                "in its answer); their rows are missing from this stream. Check the "
                "permission group's 'Whose data can members access?' scope (%s).",
                self.name,
                len(findings.errors),
                endpoints.ACCESS_SCOPE,
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
        parts = []
        if cols := findings.hidden.pop("no_view_permission", None):
            parts.append(f"{', '.join(sorted(cols))} (needs '{endpoints.sections(self.section)}')")
        if cols := findings.hidden.pop("no_view_history_permission", None):
            parts.append(f"{', '.join(sorted(cols))} in past rows (needs '{self._history()}')")
        for kind, cols in sorted(findings.hidden.items()):
            parts.append(f"{', '.join(sorted(cols))} ({kind})")
        hidden = "; ".join(parts) if parts else "columns it did not name"
        return (
            f"{self.name}: HiBob hid {hidden} from the service user and sent them as null. "
            "Grant the permission named, or with field-level permissions grant these fields "
            "under People's data > People's fields."
        )

    def _history(self) -> str:
        return endpoints.section_histories(self.section)

    def _warn_if_current_rows_only(self, findings: Findings) -> None:
        employees = len(findings.employees)
        if not self.has_history_permission or employees < SINGLE_ROW_WARNING_MIN_EMPLOYEES:
            return
        # HiBob gives no signal when it truncates history, so this is a heuristic; the
        # message says how to tell. Silently missing payroll history is the worse outcome.
        if findings.rows == employees:
            seen = f"each of the {employees} employees has exactly one row"
        elif findings.past == 0 and findings.current == findings.rows:
            seen = f"none of the {findings.rows} rows of {employees} employees is a past entry"
        else:
            return
        self.logger.warning(
            "%s: %s. If the service user only has '%s', HiBob returns just the current "
            "rows; add '%s' to read the history (ignore this if that is really all there is).",
            self.name,
            seen,
            endpoints.sections(self.section),
            self._history(),
        )


class BulkTableStream(TableStream):
    """A built-in or custom table read page by page from its bulk route."""

    def __init__(
        self,
        tap: TapHibob,
        schema: dict[str, Any],
        spec: StreamSpec,
        *,
        section: str = "",
        path_values: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        super().__init__(tap, schema, spec, section=section)
        self.path_values = dict(path_values or {})
        self.description = description

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """Every row of the table, page by page, each with its employeeId."""
        findings = Findings()

        yield from self._keyed(_page_rows(self._pages(), findings), findings)
        self._report(findings)

    def _pages(self) -> Iterator[tuple[dict[str, Any], Mapping[str, str]]]:
        """Pages until HiBob's next_cursor is null."""

        def fetch(cursor: str | None) -> HibobResponse:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor is not None:
                params["cursor"] = cursor  # `requests` URL-encodes it (HiBob's hold +, / and =)
            return self.client.get(
                self.endpoint, stream=self.name, params=params, path=self.path_values
            )

        shown = f"GET /v1{self.endpoint.url(**self.path_values)}"
        return cursor_pages(fetch, shown, self.name)


class PerEmployeeTableStream(TableStream):
    """A table HiBob serves one employee at a time (training): 1 + N requests."""

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        ids = self.hibob.employee_ids()
        progress = Progress(self.logger, self.name, len(ids), self.client, self.endpoint)
        findings = Findings()
        gone = 0

        def rows() -> Iterator[tuple[Any, dict[str, Any]]]:
            nonlocal gone
            for employee_id in ids:
                payload = self.client.get_if_found(
                    self.endpoint, stream=self.name, path={"employee": employee_id}
                )
                if payload is None:
                    gone += 1  # left the tenant (or the access scope) since the listing
                progress.step()
                values = payload.get("values") if isinstance(payload, dict) else None
                for row in values or []:
                    if isinstance(row, dict):
                        yield employee_id, row

        yield from self._keyed(rows(), findings)
        if gone:
            self.logger.warning(
                "%s: HiBob answered 404 for %d employee(s) listed at the start of the run "
                "(removed, or out of the service user's reach since).",
                self.name,
                gone,
            )
        self._report(findings)


class ActualPaymentsStream(TableStream):
    """Payments actually paid (`POST /v1/people/actual-payments/search`), 200 employees a
    search, each search cursor-paginated."""

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        findings = Findings()
        ids = self.hibob.employee_ids()

        batches = adaptive_batches(ids, MAX_EMPLOYEE_IDS, self._search, self.logger, self.name)
        pages = (page for _, searched in batches for page in searched)
        yield from self._keyed(_page_rows(pages, findings), findings)
        self._report(findings)

    def _search(self, batch: list[str]) -> list[tuple[dict[str, Any], Mapping[str, str]]]:
        """Every page of one search; raises on the first page's 400 (batch too large)."""

        def fetch(cursor: str | None) -> HibobResponse:
            body = {
                "filters": [{"fieldPath": "employeeId", "operator": "equals", "values": batch}],
                "pagination": {"limit": PAGE_SIZE, "cursor": cursor},
            }
            return self.client.post(self.endpoint, body, stream=self.name)

        return list(cursor_pages(fetch, self.endpoint.shown, self.name))


# Which streams the tenant's tables become ------------------------------------------------


def table_streams(tap: TapHibob, metadata: Metadata) -> list[TableStream]:
    """One stream per built-in table: every table in HiBob's metadata with a known or
    assumed bulk route, the known tables HiBob does not list, and training."""
    listed = {t.id: t for t in metadata.tables or []}
    streams: list[TableStream] = []
    for table_id, known in endpoints.TABLES.items():
        table = listed.pop(table_id, None)
        always = table_id in endpoints.UNLISTED_TABLES or not known.bulk
        if table is None and metadata.tables is not None and not always:
            continue  # HiBob's metadata says the tenant has no such table
        columns = table.columns if table is not None else None
        schema = table_schema(columns, base=load_schema(known.stream))
        stream_class = BulkTableStream if known.bulk else PerEmployeeTableStream
        stream = stream_class(tap, schema, known.stream_spec, section=known.section)
        streams.append(stream)
    for table in listed.values():  # tables HiBob added after this release
        section = metadata.category_name(table.category) if table.category else table.name
        spec = TableSpec(
            table.id,
            endpoints.table_stream_name(table.id),
            endpoints.section_of(table.category, section),
            selected_by_default=False,
        )
        schema = table_schema(table.columns)
        schema["description"] = f"HiBob table '{table.name}' ({table.id}), new since this release"
        streams.append(
            BulkTableStream(
                tap, schema, spec.stream_spec, section=spec.section, description=table.name
            )
        )
    return streams


def custom_table_streams(tap: TapHibob, metadata: Metadata) -> list[TableStream]:
    """One stream per custom table, `custom_table_<id>`, selected by default."""
    streams: list[TableStream] = []
    for table in metadata.custom_tables:
        category = metadata.category_name(table.category)
        endpoint = endpoints.custom_table_rows(table.id, category, table.name)
        spec = StreamSpec(
            endpoints.custom_table_stream_name(table.id), endpoint, True, "ceil(rows / 200)"
        )
        schema = custom_table_schema(table.columns)
        schema["description"] = f"HiBob custom table '{table.name}' (category {category})"
        stream = BulkTableStream(
            tap,
            schema,
            spec,
            section=category,
            path_values={"table": table.id},
            description=table.name,
        )
        stream.has_history_permission = False
        streams.append(stream)
    return streams


def actual_payments_stream(tap: TapHibob, metadata: Metadata) -> ActualPaymentsStream:
    """Columns from the fields metadata's `actualPayment.*` entries (people search cannot
    read them)."""
    fields = [HibobField.from_metadata(raw) for raw in metadata.raw_fields]
    schema = fields_schema(
        [f for f in fields if f is not None], load_schema("actual_payments"), ACTUAL_PAYMENT_PREFIX
    )
    spec = endpoints.STREAMS["actual_payments"]
    return ActualPaymentsStream(tap, schema, spec, section="Payroll")
