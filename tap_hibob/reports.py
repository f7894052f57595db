"""Saved Bob reports as streams, typed from the field metadata (docs/streams/reports.md).

Each entry of the `reports` setting becomes one stream, `report_<slug of the report name>`
unless it names its own. Discovery reads HiBob's report list once (only when reports are
configured) and builds each schema from the report's configuration: a column that is a field
of `/company/people/fields` gets that field's type through the same mapping as `employees`;
any other column (a formula, a report-builder join, a change-history column) is text.

Column names never come from a download's header (HiBob translates it): a field column is
named by its field id with `.` as `__` (`work.department` → `work__department`), any other
column by its label in the report's configuration, normalised (`Annual cost (FTE-adjusted)`
→ `annual_cost_fte_adjusted`); a name taken twice gets `_2`, `_3`. Downloads pin the locale
(en-US) and send includeInfo=false.

A sync downloads the report as JSON (machine values) in one request. When HiBob answers that
the report is too large (or with `download: async`) it starts one asynchronous generation per
report and run and polls its file with backoff until `report_timeout_seconds`; that file is a
CSV of display values. A report edited since discovery is followed: its columns are mapped by
id (JSON) or label (CSV), removed columns are null, new ones are left out with a warning.
What HiBob does is described in docs/development/hibob-api.md ("Saved reports").
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_hibob import endpoints
from tap_hibob.client import StoppedError
from tap_hibob.endpoints import StreamSpec
from tap_hibob.errors import (
    HibobAPIError,
    HibobAuthError,
    HibobConfigError,
    HibobPermissionError,
)
from tap_hibob.field_types import HibobField, json_schema_for_type
from tap_hibob.stream import HibobStream

if TYPE_CHECKING:
    from tap_hibob.client import HibobClient
    from tap_hibob.metadata import Metadata
    from tap_hibob.settings import ReportSetting
    from tap_hibob.tap import TapHibob

#: Every download asks for this locale, so labels (the CSV header) never change language.
LOCALE = "en-US"
TOO_LARGE_KEY = "report.download.too.large"
EMPLOYEE_ID = "root.id"
CHANGE_FIELD = "change.field"
CHANGE_TIME = "change.changedAt"
#: Polling the asynchronous file: first wait, growth factor and longest wait (seconds).
POLL_FIRST_SECONDS = 0.5
POLL_FACTOR = 2.0
POLL_MAX_SECONDS = 30.0
SHARE_HINT = "share the report with the service user in Bob (the report's Share option)"
_STRING: dict[str, Any] = {"type": ["string", "null"]}
_NOT_NAME = re.compile(r"[^0-9A-Za-z]+")


# The report list ---------------------------------------------------------------------------


def slug(text: str) -> str:
    """Lower-case ASCII letters, digits and single underscores (`Headcount by dept.` →
    `headcount_by_dept`); empty or digit-first text gets a `col_` prefix."""
    out = _NOT_NAME.sub("_", text.lower()).strip("_")
    return out if out and not out[0].isdigit() else f"col_{out}".rstrip("_")


def field_column_name(field_id: str) -> str:
    """A field column's name: the field id, `.` as `__`, other odd characters as `_`."""
    return "__".join(_NOT_NAME.sub("_", part).strip("_") for part in field_id.split("."))


@dataclass(frozen=True)
class ReportColumn:
    """One column of a report: HiBob's id and en-US label, and the stream property."""

    id: str
    label: str
    name: str
    field: HibobField | None = None

    @property
    def schema(self) -> dict[str, Any]:
        if self.field is None:
            schema = dict(_STRING)
            schema["description"] = f"{self.label} (computed report column {self.id}, text)"
            return schema
        schema = json_schema_for_type(self.field.type)
        schema["description"] = (
            f"{self.label} (HiBob field {self.field.id}, type {self.field.type or 'unknown'})"
        )
        return schema


def report_columns(
    raw: Sequence[tuple[str, str]], fields: Mapping[str, HibobField]
) -> list[ReportColumn]:
    """(id, label) pairs in report order → columns with their stable names."""
    taken: set[str] = set()
    columns = []
    for column_id, label in raw:
        known = fields.get(column_id)
        base = field_column_name(column_id) if known else slug(label or column_id)
        columns.append(ReportColumn(column_id, label, unique(base, taken), known))
    return columns


def unique(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... whichever is free first; the result is taken."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


@dataclass(frozen=True)
class SavedReport:
    """One report of HiBob's list, as far as the tap uses it."""

    id: str
    name: str
    type: str
    description: str
    columns: tuple[tuple[str, str], ...]  # (id, en-US label), in report order
    changes: bool

    @property
    def kind(self) -> str:
        """'changes' (profile-change history), 'people' (one row per employee) or 'other'."""
        if self.changes:
            return "changes"
        return "people" if any(cid == EMPLOYEE_ID for cid, _ in self.columns) else "other"

    @property
    def shown(self) -> str:
        """How messages name the report: its name and id, never its contents."""
        return f"'{self.name}' (id {self.id})"

    @classmethod
    def parse(cls, raw: Any) -> SavedReport | None:
        if not isinstance(raw, Mapping) or raw.get("id") is None:
            return None
        config = raw.get("configuration")
        config = config if isinstance(config, Mapping) else {}
        columns: list[tuple[str, str]] = []
        for item in config.get("fields") or []:
            if isinstance(item, str) and item:
                columns.append((item, item))
            elif isinstance(item, Mapping) and item.get("id") is not None:
                column_id = str(item["id"])
                label = item.get("label") or item.get("name") or column_id
                columns.append((column_id, str(label)))
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name") or raw["id"]),
            type=str(raw.get("type") or ""),
            description=str(raw.get("description") or ""),
            columns=tuple(columns),
            changes=bool(config.get("changes")),
        )


@dataclass
class ReportListing:
    """HiBob's report list as discovery read it: the reports, or why there are none."""

    reports: list[SavedReport]
    error: HibobAPIError | None = None

    @property
    def denied(self) -> bool:
        return isinstance(self.error, HibobPermissionError)

    def find(self, setting: ReportSetting) -> tuple[SavedReport | None, str]:
        """The configured report, or None and why not (empty when it is simply absent)."""
        if setting.report_id is not None:
            found = [r for r in self.reports if r.id == setting.report_id]
        else:
            found = [r for r in self.reports if r.name == setting.report_name]
            if len(found) > 1:
                ids = ", ".join(r.id for r in found)
                return None, (
                    f"several reports are named '{setting.report_name}' (ids {ids}); set "
                    "report_id instead of report_name"
                )
        return (found[0] if found else None), ""


def read_listing(client: HibobClient, stream: str | None = None) -> ReportListing:
    """HiBob's report list (endpoints.REPORT_LIST): one request. A 401 raises; anything else
    is kept for the streams to report."""
    endpoint = endpoints.REPORT_LIST
    try:
        payload = client.get(endpoint, stream=stream).payload
    except HibobAuthError:
        raise
    except HibobAPIError as exc:
        return ReportListing([], exc)
    except RetriableAPIError as exc:
        return ReportListing([], HibobAPIError(f"{exc} (gave up after the retries)"))
    except requests.exceptions.RequestException as exc:
        return ReportListing(
            [],
            HibobAPIError(f"could not talk to HiBob for {endpoint.shown} ({type(exc).__name__})"),
        )
    views = payload.get("views") if isinstance(payload, Mapping) else payload
    if not isinstance(views, list):
        return ReportListing(
            [], HibobAPIError(f"HiBob answered {endpoint.shown} without a 'views' list")
        )
    return ReportListing([r for r in map(SavedReport.parse, views) if r is not None])


def config_entry(report: SavedReport) -> dict[str, Any]:
    """The `reports` setting entry that syncs this report (what --list-reports prints)."""
    report_id: int | str = int(report.id) if report.id.isdigit() else report.id
    return {"report_id": report_id, "stream_name": stream_name_of(report.name)}


# Tables read from a download ---------------------------------------------------------------


@dataclass
class Table:
    """A downloaded report: the stream property of each column, and rows in that order."""

    names: list[str]
    rows: list[list[Any]]
    via: str  # "JSON" or "CSV", for messages


def _money(text: str) -> Any:
    amount, _, currency = text.strip().rpartition(" ")
    try:
        return {"value": float(amount.replace(",", "")), "currency": currency or None}
    except ValueError:
        return text  # the shaper counts it as mistyped


def csv_cell(text: str, schema: Mapping[str, Any]) -> Any:
    """One CSV cell as the value its column's schema expects (the shaper coerces the rest).

    CSV holds display values: empty is null, money is `<amount> <currency>`, people are
    display names and multi-lists are labels joined by `, `.
    """
    if text == "":
        return None
    declared = schema.get("type")
    kinds = {declared} if isinstance(declared, str) else set(declared or ())
    properties = schema.get("properties") or {}
    if "object" in kinds and "value" in properties and "currency" in properties:
        return _money(text)
    if "object" in kinds and "displayName" in properties:
        return {"displayName": text}
    if "array" in kinds:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


# The stream --------------------------------------------------------------------------------


class ReportStream(HibobStream):
    """One configured saved report, full table; keys from the setting or the report's kind."""

    def __init__(
        self,
        tap: TapHibob,
        *,
        name: str,
        setting: ReportSetting,
        listing: ReportListing,
        report: SavedReport | None,
        columns: list[ReportColumn],
        keys: tuple[str, ...],
        fields: Mapping[str, HibobField],
        problem: str = "",
    ) -> None:
        schema = {"type": "object", "properties": {c.name: c.schema for c in columns}}
        spec = StreamSpec(
            name,
            endpoints.REPORT_DOWNLOAD,
            True,
            "1 (async: 1 + polls); the report list: 1 per run",
            also=(endpoints.REPORT_LIST, endpoints.REPORT_DOWNLOAD_ASYNC, endpoints.REPORT_FILE),
        )
        super().__init__(tap, schema=schema, name=name, spec=spec)
        self.primary_keys = keys
        self.selected_by_default = True
        self.setting = setting
        self.listing = listing
        self.report = report
        self.columns = columns
        self.fields = fields
        self.problem = problem
        #: The asynchronous file of this run: never a second generation for the report.
        self.generation: str | None = None
        self.polls = 0

    @property
    def emit_activate_version_messages(self) -> bool:
        """Without a key, rows can only be replaced: always ACTIVATE_VERSION (sent only
        after a complete sync, see sdk_overrides.HeldActivateVersion)."""
        return not self.primary_keys or bool(super().emit_activate_version_messages)

    @property
    def shown(self) -> str:
        if self.report is not None:
            return self.report.shown
        if self.setting.report_id is not None:
            return f"id {self.setting.report_id}"
        return f"'{self.setting.report_name}'"

    # Reading -------------------------------------------------------------------------

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        report = self._report()
        table = self._download(report)
        records = self._records(table)
        self._check_keys(records, table)
        if not records and report.kind == "changes":
            self.logger.warning(
                "%s: HiBob returned no rows for the changes report %s. If the report lists "
                "changes in Bob, the service user probably lacks '%s'.",
                self.name,
                report.shown,
                endpoints.PROFILE_CHANGES,
            )
        yield from records

    def _report(self) -> SavedReport:
        """The configured report from discovery's list, or the error explaining its absence."""
        error = self.listing.error
        permission = f"{endpoints.REPORTS} ({endpoints.OUTSIDE_SEED}), and {SHARE_HINT}"
        if isinstance(error, HibobPermissionError):
            raise HibobPermissionError(
                f"HiBob denied {endpoints.REPORT_LIST.shown} (403) for stream '{self.name}' "
                f"(report {self.shown}). Add this permission to the service user's permission "
                f"group: {endpoints.REPORTS}, and {SHARE_HINT}; or deselect the stream.",
                stream=self.name,
                endpoint=endpoints.REPORT_LIST.shown,
                permission=permission,
            )
        if error is not None:
            raise HibobAPIError(
                f"{self.name}: HiBob's report list could not be read, so report {self.shown} "
                f"was not synced: {error}"
            )
        if self.problem:
            raise HibobAPIError(f"{self.name}: report {self.shown} was not synced: {self.problem}")
        if self.report is None:
            raise HibobAPIError(
                f"report {self.shown} is not among the reports HiBob lists for the service "
                f"user ({endpoints.REPORT_LIST.shown}): {SHARE_HINT}, and check that its "
                f"permission group has '{endpoints.REPORTS}' plus the data permissions of "
                "what the report shows (tap-hibob-doctor --list-reports shows what it sees)."
            )
        return self.report

    def _download(self, report: SavedReport) -> Table:
        mode = self.setting.download
        if mode == "async":
            return self._async(report)
        try:
            return self._sync_json(report)
        except HibobAPIError as exc:
            if not _too_large(exc):
                raise self._explained(exc, report) from None
            if mode == "sync":
                raise HibobAPIError(
                    f"{self.name}: HiBob refuses a synchronous download of report "
                    f"{report.shown} as too large, and its download setting is 'sync'; set "
                    "download to 'async' (or 'auto') for this report."
                ) from None
        self.logger.warning(
            "%s: HiBob refuses a synchronous download of report %s as too large; reading it "
            "through an asynchronous CSV export instead. CSV holds display values (list "
            "labels, names) where JSON holds ids: set download to 'async' for this report so "
            "its values stay consistent from run to run (and to save the refused request).",
            self.name,
            report.shown,
        )
        return self._async(report)

    def _explained(self, exc: HibobAPIError, report: SavedReport) -> HibobAPIError:
        if isinstance(exc, HibobPermissionError) or exc.status != 404:
            return exc
        return HibobAPIError(
            f"{self.name}: HiBob answered 404 for report {report.shown}: it was deleted or is "
            f"no longer shared with the service user since the list was read; {SHARE_HINT}.",
            status=404,
        )

    def _params(self, fmt: str) -> dict[str, str]:
        return {"format": fmt, "includeInfo": "false", "locale": LOCALE}

    def _sync_json(self, report: SavedReport) -> Table:
        endpoint = endpoints.REPORT_DOWNLOAD
        path = {"report": report.id}
        payload = self.client.get(
            endpoint, stream=self.name, params=self._params("json"), path=path
        ).payload
        table = self._json_table(payload)
        if table is not None:
            return table
        self.logger.warning(
            "%s: HiBob's JSON download of report %s has no 'columns' and 'rows' lists (an "
            "answer shape the tap does not know); reading its CSV export instead.",
            self.name,
            report.shown,
        )
        content = self.client.get(
            endpoint, stream=self.name, params=self._params("csv"), path=path, raw=True
        ).content
        return self._csv_table(content)

    def _async(self, report: SavedReport) -> Table:
        if self.generation is None:
            response = self.client.get(
                endpoints.REPORT_DOWNLOAD_ASYNC,
                stream=self.name,
                params=self._params("csv"),
                path={"report": report.id},
                raw=True,
            )
            name = file_name(response.headers.get("Location"))
            if name is None:
                raise HibobAPIError(
                    f"{self.name}: HiBob started the asynchronous export of report "
                    f"{report.shown} (HTTP {response.status}) without a usable Location "
                    "header, so its file cannot be polled."
                )
            self.generation = name
        return self._csv_table(self._poll(report, self.generation))

    def _poll(self, report: SavedReport, name: str) -> bytes:
        """The file once HiBob has generated it: backoff between polls, bounded by
        report_timeout_seconds."""
        timeout = float(self.settings.report_timeout_seconds)
        start = time.monotonic()
        delay = POLL_FIRST_SECONDS
        while True:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                raise HibobAPIError(
                    f"{self.name}: HiBob had not finished generating report {report.shown} "
                    f"after {timeout:.0f} s ({self.polls} polls); the report_timeout_seconds "
                    "setting allows that long. Raise report_timeout_seconds for large "
                    "reports, or run the sync again later."
                )
            if self.client.stopping.wait(min(delay, left)):
                raise StoppedError
            try:
                response = self.client.get(
                    endpoints.REPORT_FILE, stream=self.name, path={"name": name}, raw=True
                )
            except HibobAPIError as exc:
                if exc.status == 404:
                    raise HibobAPIError(
                        f"{self.name}: HiBob no longer has the asynchronous export of report "
                        f"{report.shown} (404 while polling it); run the sync again.",
                        status=404,
                    ) from None
                raise
            self.polls += 1
            if response.status == 200 and response.content.strip():
                return response.content
            delay = min(delay * POLL_FACTOR, POLL_MAX_SECONDS)

    def _json_table(self, payload: Any) -> Table | None:
        if not isinstance(payload, Mapping):
            return None
        raw_columns, rows = payload.get("columns"), payload.get("rows")
        if not isinstance(raw_columns, list) or not isinstance(rows, list):
            return None
        pairs = [
            (str(c["id"]), str(c.get("label") or c["id"]))
            for c in raw_columns
            if isinstance(c, Mapping) and c.get("id") is not None
        ]
        known = {c.id: c.name for c in self.columns}
        names = self._names([known.get(cid) for cid, _ in pairs], pairs, by_label=False)
        ids = [cid for cid, _ in pairs]
        body = [[row.get(cid) for cid in ids] for row in rows if isinstance(row, Mapping)]
        return Table(names, body, "JSON")

    def _csv_table(self, content: bytes) -> Table:
        text = content.decode("utf-8-sig", errors="replace")  # HiBob may start with a BOM
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header is None:
            raise HibobAPIError(
                f"{self.name}: HiBob sent an empty CSV file for report {self.shown}"
            )
        labels = [cell.strip() for cell in header]
        # Labels are en-US (pinned): match them to the report's columns in order.
        unused = list(self.columns)
        matched: list[str | None] = []
        for label in labels:
            hit = next((c for c in unused if c.label.casefold() == label.casefold()), None)
            if hit is not None:
                unused.remove(hit)
            matched.append(hit.name if hit else None)
        names = self._names(matched, [("", label) for label in labels], by_label=True)
        properties = self.effective_schema.get("properties", {})
        schemas = [properties.get(name) or _STRING for name in names]
        rows = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = [*row, *[""] * (len(names) - len(row))][: len(names)]
            rows.append(
                [csv_cell(cell, schema) for cell, schema in zip(cells, schemas, strict=True)]
            )
        return Table(names, rows, "CSV")

    def _names(
        self, matched: list[str | None], pairs: list[tuple[str, str]], *, by_label: bool
    ) -> list[str]:
        """Stream properties of a download's columns: matched ones as they are, the others
        by the naming rule (a field found by id or, in CSV, by its unique en-US name)."""
        by_name: dict[str, list[HibobField]] = {}
        for f in self.fields.values():
            by_name.setdefault(f.name.casefold(), []).append(f)
        taken = {name for name in matched if name}
        names = []
        for found, (column_id, label) in zip(matched, pairs, strict=True):
            if found is not None:
                names.append(found)
                continue
            known = self.fields.get(column_id)
            if known is None and by_label:
                candidates = by_name.get(label.casefold(), [])
                known = candidates[0] if len(candidates) == 1 else None
            base = field_column_name(known.id) if known else slug(label or column_id)
            names.append(unique(base, taken))
        return names

    def _records(self, table: Table) -> list[dict[str, Any]]:
        """Rows as records of the stream's schema; a changed report is followed, said once."""
        declared = list(self.effective_schema.get("properties", {}))
        if not declared:
            # Empty records would replace the loader's table with nothing useful.
            raise HibobAPIError(
                f"{self.name}: the catalog declares no columns for report {self.shown} (it "
                "was discovered while HiBob did not list the report); run --discover again."
            )
        added = [n for n in table.names if n not in declared]
        removed = [n for n in declared if n not in table.names]
        if added or removed:
            self.logger.warning(
                "%s: report %s has changed since the catalog was discovered (%s: columns "
                "added: %s; removed: %s). Following HiBob's columns: removed ones are null, "
                "added ones are left out. Run --discover again to pick them up.",
                self.name,
                self.shown,
                table.via,
                ", ".join(added) or "none",
                ", ".join(removed) or "none",
            )
        missing = dict.fromkeys(removed)
        return [{**missing, **dict(zip(table.names, row, strict=True))} for row in table.rows]

    def _check_keys(self, records: list[dict[str, Any]], table: Table) -> None:
        """Before any record goes out: every row has its key, and no key twice (a loader
        would keep one of them and lose the other rows)."""
        keys = tuple(self.primary_keys or ())
        if not keys:
            return
        seen: set[tuple[str, ...]] = set()
        empty = twice = 0
        for record in records:
            values = tuple(record.get(k) for k in keys)
            if any(v is None or v == "" for v in values):
                empty += 1
                continue
            key = tuple(str(v) for v in values)
            if key in seen:
                twice += 1
            seen.add(key)
        if empty or twice:
            raise HibobAPIError(
                f"{self.name}: the rows of report {self.shown} ({table.via}) do not fit the "
                f"stream's key ({', '.join(keys)}): {empty} row(s) without a key value and "
                f"{twice} row(s) repeating another row's key, so nothing was synced. Set "
                "primary_keys for this report to columns that identify a row, or [] for no "
                "key (the whole table is replaced each run)."
            )


def _too_large(exc: HibobAPIError) -> bool:
    if isinstance(exc, HibobPermissionError):
        return False
    return exc.status == 413 or (exc.status == 400 and TOO_LARGE_KEY in exc.detail)


def file_name(location: str | None) -> str | None:
    """The generated file's name: the part of the Location after `/download/`, decoded."""
    if not location:
        return None
    path = urlsplit(location).path
    marker = "/download/"
    if marker not in path:
        return None
    name = unquote(path.rsplit(marker, 1)[1])
    return name or None


# Discovery ---------------------------------------------------------------------------------


def _keys(
    setting: ReportSetting, report: SavedReport | None, columns: list[ReportColumn]
) -> tuple[tuple[str, ...], str]:
    """The stream's key and, if the configured one does not fit, why."""
    if setting.primary_keys is None:
        return (natural_key(report, columns) if report is not None else ()), ""
    if report is None:
        return tuple(setting.primary_keys), ""
    by_id = {c.id: c.name for c in columns}
    names = {c.name for c in columns}
    keys = [key if key in names else by_id.get(key, "") for key in setting.primary_keys]
    unknown = [key for key, name in zip(setting.primary_keys, keys, strict=True) if not name]
    if unknown:
        return (), (
            f"primary_keys {', '.join(unknown)} are not columns of the report (its "
            f"columns: {', '.join(c.name for c in columns)})"
        )
    return tuple(keys), ""


def natural_key(report: SavedReport, columns: list[ReportColumn]) -> tuple[str, ...]:
    """A people report: its employee id column; a changes report: employee, field and
    change time; anything else: no key."""
    by_id = {c.id: c.name for c in columns}
    wanted = {"people": (EMPLOYEE_ID,), "changes": (EMPLOYEE_ID, CHANGE_FIELD, CHANGE_TIME)}
    ids = wanted.get(report.kind, ())
    return tuple(by_id[i] for i in ids) if all(i in by_id for i in ids) else ()


def _stream_name(setting: ReportSetting, report: SavedReport | None) -> str:
    if setting.stream_name:
        return setting.stream_name
    name = report.name if report is not None else setting.report_name or setting.report_id
    return stream_name_of(str(name))


def stream_name_of(report_name: str) -> str:
    """`report_` and the slug of the report's name (or id): `report_headcount_by_dept`."""
    return endpoints.REPORT_PREFIX + (_NOT_NAME.sub("_", report_name.lower()).strip("_") or "x")


def report_streams(tap: TapHibob, metadata: Metadata) -> list[ReportStream]:
    """One stream per configured report; the list is read only when reports are configured."""
    configured = tap.settings.reports
    if not configured:
        return []
    listing = read_listing(tap.client)
    if listing.error is not None:
        tap.logger.warning(
            "The report list could not be read at discovery (%s); the configured report "
            "streams have no columns in this catalog and fail when synced.",
            listing.error,
        )
    fields = {f.id: f for f in (HibobField.from_metadata(raw) for raw in metadata.raw_fields) if f}
    fixed = {spec.name for spec in endpoints.known_streams()}
    streams: list[ReportStream] = []
    taken: set[str] = set()
    for index, setting in enumerate(configured):
        report, problem = listing.find(setting)
        name = _stream_name(setting, report)
        if name in fixed or name.startswith(endpoints.CUSTOM_TABLE_PREFIX):
            raise HibobConfigError(
                f"reports[{index}] would be stream '{name}', the name of another tap-hibob "
                "stream; set a different stream_name"
            )
        if name in taken:
            if setting.stream_name:
                raise HibobConfigError(
                    f"reports[{index}]: stream_name '{name}' is used twice; give each report "
                    "its own stream_name"
                )
            unique = f"{name}_{report.id if report else index}"
            tap.logger.warning(
                "reports[%d]: two reports would both be stream '%s'; this one is '%s' (set "
                "stream_name to choose).",
                index,
                name,
                unique,
            )
            name = unique
        taken.add(name)
        columns = report_columns(report.columns, fields) if report is not None else []
        keys, key_problem = _keys(setting, report, columns)
        streams.append(
            ReportStream(
                tap,
                name=name,
                setting=setting,
                listing=listing,
                report=report,
                columns=columns,
                keys=keys,
                fields=fields,
                problem=problem or key_problem,
            )
        )
    return streams
