"""Fake HiBob saved reports (hibob-api.md "Saved reports"), no friendlier than the real API.

- `GET /v1/company/reports`: `{"views": [...]}`, only the reports the profile may see (403
  without the Reports permission), each with its configuration (columns as `{id, label}`
  with en-US labels; a changes report has a non-empty `configuration.changes`).
- `GET /v1/company/reports/{id}/download?format&includeInfo&locale&humanReadable`: json, csv
  (the default) or xlsx. 404 for an unknown or unseen report; 400 for a bad parameter, for
  `humanReadable` without json, and (option) for a report above a row threshold
  (`report.download.too.large`). `includeInfo` defaults to true: JSON then carries an
  `info` object and CSV starts with the report name and run date lines before the header.
  Without `locale` the labels are the service user's language, French.
- `GET /v1/company/reports/{id}/download-async?format=csv|xlsx`: 202 with a `Location` header
  (`<api url>/v1/company/reports/download/<URL-encoded name>`, the name holds the report
  name with its spaces). Every call is a new generation, counted.
- `GET /v1/company/reports/download/{reportName}`: 204 for the first N polls of a generation,
  then 200 with the file; 404 for a name never generated.

Three reports are built from the tenant's employees and people.py's field values: a
headcount report, a compensation report with a formula column, and a profile-changes report.
Field columns of People sections the profile may not view come back empty; without the
profile-changes history permission the changes report has no rows.

Per-test options (fake_hibob/options.py, all prefixed `reports_`):
- `reports_sync_max_rows` (int, default None): a sync download of a report with more rows
  answers the too-large error;
- `reports_too_large_status` (400 default, or 413): how the too-large error answers;
- `reports_pending_polls` (int, default 2): polls of each generation answered 204 first;
- `reports_hidden` (ids, default ()): reports not shared with the service user;
- `reports_edit_after_list` (ids, default ()): once the list has been read, these reports
  are edited (their third column removed, `work.title` added at the end), so downloads and
  later list reads show the new columns.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from fake_hibob.people import _Ctx as _PeopleCtx
from fake_hibob.people import _labels, _specific, _visible_categories, field_specs
from fake_hibob.profiles import PROFILE_CHANGES, REPORTS
from fake_hibob.server import Reply, Request, error_reply, forbidden, json_reply
from fake_hibob.tenant import DEPARTMENTS

if TYPE_CHECKING:
    from fake_hibob.people import FieldSpec
    from fake_hibob.server import FakeHibob
    from fake_hibob.tenant import Employee

HEADCOUNT_ID = 4101
COMPENSATION_ID = 4102
CHANGES_ID = 4103
FORMULA_ID = "formula_1712000000001"
FORMULA_LABEL = "Annual cost (FTE-adjusted)"
CHANGE_COLUMNS = (
    ("change.field", "Changed field", "Champ modifié"),
    ("change.oldValue", "Old value", "Ancienne valeur"),
    ("change.newValue", "New value", "Nouvelle valeur"),
    ("change.changedAt", "Changed at", "Modifié le"),
    ("change.changedBy", "Changed by", "Modifié par"),
)
CHANGED_FIELDS = ("work.department", "work.title", "payroll.salary.payment")
EDIT_ADDS = "work.title"
EDIT_REMOVES_INDEX = 2
#: The service user's language preference: what a download without `locale` is labelled in.
DEFAULT_LOCALE = "fr-FR"
TOO_LARGE_KEY = "report.download.too.large"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
# French labels of the field columns the reports show (other fields: "<name> (fr)").
FRENCH = {
    "root.id": "Identifiant",
    "root.displayName": "Nom affiché",
    "work.department": "Service",
    "work.site": "Lieu de travail",
    "work.title": "Intitulé du poste",
    "work.startDate": "Date d'entrée",
    "work.isManager": "Est manager",
    "internal.status": "Statut",
    "payroll.employment.fte": "ETP %",
    "payroll.salary.payment": "Salaire de base",
}


@dataclass(frozen=True)
class Column:
    id: str
    label: str  # en-US
    french: str = ""


@dataclass(frozen=True)
class SavedReport:
    id: int
    name: str
    type: str
    columns: tuple[Column, ...]
    description: str = ""
    instructions: tuple[dict[str, Any], ...] = ()
    changes: dict[str, Any] | None = None
    modified: str = "2026-10-01T09:00:00.000Z"

    def view(self) -> dict[str, Any]:
        """The report as the list shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "folderId": 7001,
            "creationDate": "2026-01-15T08:30:00.000Z",
            "modificationDate": self.modified,
            "isScheduled": False,
            "isComparable": self.changes is not None,
            "configuration": {
                "fields": [{"id": c.id, "label": c.label} for c in self.columns],
                "instructions": list(self.instructions),
                "changes": self.changes or {},
                "excludeSystemChanges": True,
                "sortBy": [{"fieldId": self.columns[0].id, "order": "asc"}],
            },
        }


@dataclass
class Generation:
    """One asynchronous generation: its file, fixed when it was started, and its polls."""

    name: str
    report_id: int
    body: bytes
    content_type: str
    polls: int = 0


@dataclass
class ReportsState:
    """What tests assert on: list reads, and every async generation in order."""

    list_reads: int = 0
    generations: list[Generation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def generations_of(self, report_id: int) -> list[Generation]:
        with self.lock:
            return [g for g in self.generations if g.report_id == report_id]


_STATES: weakref.WeakKeyDictionary[FakeHibob, ReportsState] = weakref.WeakKeyDictionary()


def state(app: FakeHibob) -> ReportsState:
    """The reports state of one fake (created on first use)."""
    found = _STATES.get(app)
    if found is None:
        found = _STATES[app] = ReportsState()
    return found


# The reports -------------------------------------------------------------------------------


def _specs(app: FakeHibob) -> dict[str, FieldSpec]:
    return {s.id: s for s in field_specs(app.tenant)}


def _column(specs: dict[str, FieldSpec], field_id: str) -> Column:
    spec = specs[field_id]
    return Column(field_id, spec.name, FRENCH.get(field_id, f"{spec.name} (fr)"))


def _defined(app: FakeHibob) -> list[SavedReport]:
    specs = _specs(app)

    def columns(*ids: str) -> tuple[Column, ...]:
        return tuple(_column(specs, i) for i in ids)

    return [
        SavedReport(
            HEADCOUNT_ID,
            "Headcount by department",
            "people",
            columns(
                "root.id",
                "root.displayName",
                "work.department",
                "work.site",
                "internal.status",
                "work.startDate",
                "payroll.employment.fte",
                "work.isManager",
            ),
            "Everyone, with department, site and status",
        ),
        SavedReport(
            COMPENSATION_ID,
            "Compensation snapshot",
            "people",
            (
                *columns(
                    "root.id",
                    "root.displayName",
                    "work.department",
                    "payroll.salary.payment",
                    "payroll.employment.fte",
                ),
                Column(FORMULA_ID, FORMULA_LABEL, FORMULA_LABEL),  # user text: not translated
            ),
            "Active employees' base salary and FTE-adjusted cost",
            instructions=(
                {"fieldPath": "internal.status", "operator": "equals", "values": ["Active"]},
            ),
        ),
        SavedReport(
            CHANGES_ID,
            "Profile changes (last 12 months)",
            "changes",
            (
                *columns("root.id", "root.displayName"),
                *(Column(cid, en, fr) for cid, en, fr in CHANGE_COLUMNS),
            ),
            "Who changed which field when",
            changes={"fields": list(CHANGED_FIELDS), "from": "last12Months"},
        ),
    ]


def _edited(app: FakeHibob, report: SavedReport) -> SavedReport:
    kept = [c for n, c in enumerate(report.columns) if n != EDIT_REMOVES_INDEX]
    if all(c.id != EDIT_ADDS for c in kept):
        kept.append(_column(_specs(app), EDIT_ADDS))
    return replace(report, columns=tuple(kept), modified="2026-11-30T17:45:00.000Z")


def saved_reports(app: FakeHibob) -> list[SavedReport]:
    """Every report of the tenant as it is now (edits applied), hidden ones included."""
    edit = {int(i) for i in app.options.reports_edit_after_list}
    edited = bool(edit) and state(app).list_reads > 0
    return [_edited(app, r) if edited and r.id in edit else r for r in _defined(app)]


def visible_reports(app: FakeHibob) -> list[SavedReport]:
    """The reports shared with the service user."""
    hidden = {int(i) for i in app.options.reports_hidden}
    return [r for r in saved_reports(app) if r.id not in hidden]


def _find(app: FakeHibob, raw_id: str) -> SavedReport | None:
    if not raw_id.isdigit():
        return None
    return next((r for r in visible_reports(app) if r.id == int(raw_id)), None)


# Ground truth ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One entry of the profile-change history."""

    employee: Employee
    field: str
    old: str
    new: str
    changed_at: datetime
    changed_by: str


def profile_changes(app: FakeHibob) -> list[Change]:
    """The profile changes of every visible employee: 0-2 per person, distinct times."""
    labels = _labels(app.tenant)
    by_id = {e.id: e for e in app.tenant.employees}
    out: list[Change] = []
    for e in app.visible_employees():
        for k in range(e.index % 3):
            field_id = CHANGED_FIELDS[(e.index + k) % len(CHANGED_FIELDS)]
            old, new = _change_values(e, k, field_id, labels)
            changed_at = app.tenant.now.replace(microsecond=0) - timedelta(
                days=(e.index * 37 + k * 101) % 360 + 1, seconds=e.index * 7 + k
            )
            manager = by_id.get(e.manager_id or "")
            who = manager.display_name if manager else e.display_name
            out.append(Change(e, field_id, old, new, changed_at, who))
    return out


def _change_values(
    e: Employee, k: int, field_id: str, labels: dict[tuple[str, str], str]
) -> tuple[str, str]:
    if field_id == "work.department":
        before = DEPARTMENTS[(e.index + k + 1) % len(DEPARTMENTS)]
        return labels[("department", before)], labels[("department", e.department)]
    if field_id == "work.title":
        return ("Analyst", "Engineer") if k % 2 else ("Engineer", "Manager")
    base = 40000 + (e.index * 1337) % 90000
    return f"{base - 2500 - 500 * k:.2f}", f"{base - 500 * k:.2f}"


def report_rows(app: FakeHibob, report: SavedReport) -> list[dict[str, Any]]:
    """The report's rows now, machine values by column id (None: empty)."""
    visible = _visible_categories(app)
    specs = _specs(app)
    ctx = _PeopleCtx(app)
    if report.changes is not None:
        if not app.profile.grants(PROFILE_CHANGES):
            return []
        return [_change_row(report, c) for c in profile_changes(app)]
    people = app.visible_employees()
    if report.instructions:
        people = [e for e in people if e.status == "Active"]
    rows = []
    for e in people:
        row: dict[str, Any] = {}
        for column in report.columns:
            spec = specs.get(column.id)
            if spec is not None:
                row[column.id] = _specific(ctx, e, spec) if spec.category in visible else None
            elif column.id == FORMULA_ID:
                row[column.id] = _annual_cost(ctx, e, specs)
            else:
                row[column.id] = None
        rows.append(row)
    return rows


def _annual_cost(ctx: _PeopleCtx, e: Employee, specs: dict[str, FieldSpec]) -> str:
    salary = _specific(ctx, e, specs["payroll.salary.payment"])
    fte = _specific(ctx, e, specs["payroll.employment.fte"])
    return f"{salary['value'] * fte:.2f}"


def _change_row(report: SavedReport, change: Change) -> dict[str, Any]:
    values = {
        "root.id": change.employee.id,
        "root.displayName": change.employee.display_name,
        "change.field": change.field,
        "change.oldValue": change.old,
        "change.newValue": change.new,
        "change.changedAt": change.changed_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "change.changedBy": change.changed_by,
    }
    return {c.id: values.get(c.id) for c in report.columns}


# Rendering ---------------------------------------------------------------------------------


def _french(locale: str | None) -> bool:
    return not (locale or "").lower().startswith("en")


def _label(column: Column, locale: str | None) -> str:
    return (column.french or column.label) if _french(locale) else column.label


def _display(
    app: FakeHibob, spec: FieldSpec | None, column: Column, value: Any, locale: str | None
) -> str:
    """A CSV cell: HiBob's display value (hibob-api.md, CSV cells)."""
    if value is None:
        return ""
    if column.id == "change.field":
        field_spec = _specs(app).get(str(value))
        if field_spec is None:
            return str(value)
        return _label(_column(_specs(app), field_spec.id), locale)
    if spec is None:
        return str(value)
    labels = _labels(app.tenant)
    match spec.type:
        case "list" | "list_id" | "hierarchy-list":
            return labels.get((spec.list_id or "", str(value)), str(value))
        case "multi-list":
            return ", ".join(labels.get((spec.list_id or "", str(v)), str(v)) for v in value)
        case "employee-reference":
            if spec.id == "root.id":
                return str(value)
            person = next((e for e in app.tenant.employees if e.id == value), None)
            return person.display_name if person else str(value)
        case "employee":
            return str(value.get("displayName") or "")
        case "currency":
            return f"{value['value']} {value['currency']}"
        case "boolean":
            return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _info_lines(report: SavedReport, now: datetime) -> list[list[str]]:
    return [[f"Report name: {report.name}"], [f"Report date: {now:%Y-%m-%d %H:%M}"], []]


def render_csv(
    app: FakeHibob,
    report: SavedReport,
    rows: Iterable[dict[str, Any]],
    *,
    locale: str | None,
    include_info: bool,
) -> bytes:
    """The report as HiBob's CSV export: BOM, optional info lines, labels, display values."""
    specs = _specs(app)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if include_info:
        writer.writerows(_info_lines(report, app.tenant.now))
    writer.writerow([_label(c, locale) for c in report.columns])
    for row in rows:
        writer.writerow(
            [_display(app, specs.get(c.id), c, row.get(c.id), locale) for c in report.columns]
        )
    return (BOM + out.getvalue()).encode("utf-8")


def _render_json(
    app: FakeHibob,
    report: SavedReport,
    rows: list[dict[str, Any]],
    *,
    locale: str | None,
    include_info: bool,
    human: str,
) -> dict[str, Any]:
    specs = _specs(app)
    body: dict[str, Any] = {}
    if include_info:
        body["info"] = {"name": report.name, "date": app.tenant.now.strftime("%Y-%m-%d %H:%M")}
    body["columns"] = [{"id": c.id, "label": _label(c, locale)} for c in report.columns]
    if human:
        shown = [
            {c.id: _display(app, specs.get(c.id), c, row.get(c.id), locale) or None
             for c in report.columns}
            for row in rows
        ]  # fmt: skip
        if human == "REPLACE":
            rows = shown
        else:
            rows = [{**row, "humanReadable": h} for row, h in zip(rows, shown, strict=True)]
    body["rows"] = rows
    return body


# Routes ------------------------------------------------------------------------------------


def _bad(message: str) -> Reply:
    return error_reply(400, "bad.request", message)


def _denied(app: FakeHibob) -> bool:
    return not app.profile.grants(REPORTS)


def _flag(request: Request, name: str) -> bool | None:
    """A boolean query parameter (default true); None when it is not a boolean."""
    raw = request.arg(name, "true")
    if raw not in ("true", "false"):
        return None
    return raw == "true"


def _not_found() -> Reply:
    return error_reply(404, "report.not.found", "Report not found")


def register(app: FakeHibob) -> None:
    app.limits.setdefault("report_file", 20)  # claimed for the download by name

    @app.route("GET", "/v1/company/reports", "reports")
    def get_reports(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if _denied(app):
            return forbidden()
        views = [r.view() for r in visible_reports(app)]
        reports = state(app)
        with reports.lock:
            reports.list_reads += 1
        return json_reply({"views": views})

    @app.route("GET", r"/v1/company/reports/download/(?P<name>[^/]+)", "report_file")
    def get_file(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if _denied(app):
            return forbidden()
        name = unquote(match["name"])
        reports = state(app)
        with reports.lock:
            generation = next((g for g in reports.generations if g.name == name), None)
            if generation is None:
                return error_reply(404, "report.file.not.found", "File not found")
            generation.polls += 1
            polls = generation.polls
        if polls <= int(app.options.reports_pending_polls):
            return Reply(204, b"", "application/json")
        return Reply(200, generation.body, generation.content_type)

    @app.route("GET", r"/v1/company/reports/(?P<id>[^/]+)/download", "report_download")
    def download(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if _denied(app):
            return forbidden()
        report = _find(app, match["id"])
        if report is None:
            return _not_found()
        fmt = request.arg("format", "csv")
        human = request.arg("humanReadable", "") or ""
        include_info = _flag(request, "includeInfo")
        if fmt not in ("csv", "xlsx", "json"):
            return _bad("format must be csv, xlsx or json")
        if include_info is None:
            return _bad("includeInfo must be true or false")
        if human and (fmt != "json" or human not in ("APPEND", "REPLACE")):
            return _bad("humanReadable is APPEND or REPLACE, with format json only")
        rows = report_rows(app, report)
        most = app.options.reports_sync_max_rows
        if most is not None and len(rows) > int(most):
            status = int(app.options.reports_too_large_status)
            return error_reply(status, TOO_LARGE_KEY, "The report is too large; use download-async")
        locale = request.arg("locale") or DEFAULT_LOCALE
        if fmt == "json":
            return json_reply(
                _render_json(
                    app, report, rows, locale=locale, include_info=include_info, human=human
                )
            )
        if fmt == "xlsx":
            return Reply(200, b"PK\x03\x04 a spreadsheet", XLSX_TYPE)
        body = render_csv(app, report, rows, locale=locale, include_info=include_info)
        return Reply(200, body, CSV_TYPE)

    @app.route("GET", r"/v1/company/reports/(?P<id>[^/]+)/download-async", "report_download_async")
    def download_async(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if _denied(app):
            return forbidden()
        report = _find(app, match["id"])
        if report is None:
            return _not_found()
        fmt = request.arg("format")
        include_info = _flag(request, "includeInfo")
        if fmt not in ("csv", "xlsx"):
            return _bad("format must be csv or xlsx")
        if include_info is None:
            return _bad("includeInfo must be true or false")
        locale = request.arg("locale") or DEFAULT_LOCALE
        if fmt == "csv":
            body = render_csv(
                app, report, report_rows(app, report), locale=locale, include_info=include_info
            )
            content_type = CSV_TYPE
        else:
            body, content_type = b"PK\x03\x04 a spreadsheet", XLSX_TYPE
        reports = state(app)
        with reports.lock:
            stamp = datetime.now(app.tenant.now.tzinfo).strftime("%Y-%m-%dT%H_%M_%S.%f")
            name = f"{stamp}-{report.name}.{len(reports.generations) + 1}"
            reports.generations.append(Generation(name, report.id, body, content_type))
        location = f"{app.url}/v1/company/reports/download/{quote(name, safe='')}"
        return Reply(202, b"", "application/json", {"Location": location})
