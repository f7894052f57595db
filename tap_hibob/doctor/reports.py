"""The doctor's side of saved reports: `--list-reports`, and the check of configured reports.

Both read HiBob's report list and nothing else about reports (no download: a report can be
large). The check costs no request of its own: the tap's discovery, which the doctor runs,
already read the list once because reports are configured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tap_hibob import endpoints
from tap_hibob.client import HibobClient
from tap_hibob.doctor.config import doctor_config
from tap_hibob.doctor.model import LOGGER, Status
from tap_hibob.errors import HibobAPIError, HibobAuthError
from tap_hibob.field_types import HibobField
from tap_hibob.metadata import read_fields
from tap_hibob.reports import (
    SHARE_HINT,
    ReportStream,
    SavedReport,
    config_entry,
    natural_key,
    read_listing,
    report_columns,
)
from tap_hibob.settings import Settings

if TYPE_CHECKING:
    from tap_hibob.doctor.checks import Doctor

KINDS = {
    "people": "one row per employee",
    "changes": "profile-change history",
    "other": "no natural key",
}


def check_reports(doctor: Doctor) -> None:
    """Each configured report: is the Reports permission there, and is the report shared
    with the service user? Read from the list the tap's discovery fetched."""
    via = endpoints.REPORT_LIST.shown
    for name, stream in doctor.streams.items():
        if not isinstance(stream, ReportStream):
            continue
        check = doctor.checks[name]
        listing = stream.listing
        if listing.denied:
            check.set(
                Status.MISSING,
                permission=endpoints.REPORTS,
                note=f"{endpoints.OUTSIDE_SEED}; then {SHARE_HINT}",
                via=via,
            )
        elif listing.error is not None:
            note = f"the report list could not be read: {listing.error}"
            check.set(Status.NOT_CHECKED, note=note, via=via)
        elif stream.report is None:
            check.set(
                Status.MISSING,
                permission=endpoints.REPORTS,
                note=f"report {stream.shown} is not among the reports HiBob lists for the "
                f"service user: {SHARE_HINT} (or correct the reports setting; "
                "tap-hibob-doctor --list-reports shows what it sees)",
                via=via,
            )
        elif stream.problem:
            check.set(Status.NOT_CHECKED, note=stream.problem, via=via)
        else:
            report = stream.report
            keys = ", ".join(stream.primary_keys) or "none (replaced each run)"
            check.set(
                Status.OK,
                note=f"report {report.shown}: {KINDS[report.kind]}, {len(stream.columns)} "
                f"columns, key {keys}; its rows follow the data permissions of what it shows",
                via=via,
            )


def list_reports(config: Mapping[str, Any], output: str) -> tuple[int, str]:
    """What `--list-reports` prints, and its exit code (2 requests: the list, the fields)."""
    settings = Settings.from_config(doctor_config(config))
    client = HibobClient(settings, LOGGER)
    try:
        listing = read_listing(client)
        if listing.error is not None:
            return 1, _refused(listing.error, listing.denied)
        fields = {
            f.id: f for f in (HibobField.from_metadata(raw) for raw in read_fields(client)) if f
        }
    except HibobAuthError as exc:
        return 1, f"{exc}\n"
    except HibobAPIError as exc:
        return 1, f"HiBob's field metadata could not be read: {exc}\n"
    finally:
        client.close()
    rows = [_describe(report, fields) for report in listing.reports]
    if output == "json":
        return 0, json.dumps({"reports": rows, "requests": client.total_requests}, indent=2) + "\n"
    return 0, _text(rows, client.total_requests)


def _refused(error: HibobAPIError, denied: bool) -> str:
    if denied:
        return (
            f"HiBob denied {endpoints.REPORT_LIST.shown} (403): add '{endpoints.REPORTS}' to "
            f"the service user's permission group ({endpoints.OUTSIDE_SEED}).\n"
        )
    return f"HiBob's report list could not be read: {error}\n"


def _describe(report: SavedReport, fields: Mapping[str, HibobField]) -> dict[str, Any]:
    columns = report_columns(report.columns, fields)
    return {
        "id": report.id,
        "name": report.name,
        "type": report.type,
        "kind": report.kind,
        "columns": [c.name for c in columns],
        "key": list(natural_key(report, columns)),
        "entry": config_entry(report),
    }


def _text(rows: list[dict[str, Any]], requests: int) -> str:
    if not rows:
        return (
            f"HiBob lists no saved reports for the service user ({endpoints.REPORT_LIST.shown}, "
            f"{requests} requests). A report appears here once it is shared with the service "
            "user in Bob.\n"
        )
    header = ("ID", "NAME", "TYPE", "KIND", "COLUMNS", "KEY")
    table = [
        (r["id"], r["name"], r["type"], r["kind"], str(len(r["columns"])), ", ".join(r["key"]))
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in (header, *table)) for i in range(len(header))]
    lines = [
        f"Saved reports the service user can see ({len(rows)}, {endpoints.REPORT_LIST.shown}, "
        f"{requests} requests):",
        "",
    ]
    for line in (header, *table):
        lines.append("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)))
    lines += [
        "",
        "To sync a report, add its entry to the tap's `reports` setting (a JSON list), e.g.:",
    ]
    lines += [f"  {json.dumps(r['entry'], ensure_ascii=False)}" for r in rows]
    lines += [
        "",
        "Each stream's columns are named by field id (`.` as `__`) or, for computed columns, "
        "by their label; primary_keys may name other columns (see Saved reports in the docs).",
        "A report missing here is not shared with the service user.",
    ]
    return "\n".join(lines) + "\n"
