"""Rendering: the text table, and the permission matrix the docs carry."""

from __future__ import annotations

from collections import defaultdict

from tap_hibob import endpoints
from tap_hibob.doctor.model import Report, Status
from tap_hibob.endpoints import ACCESS_SCOPE

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
    blocked = [c.stream for c in selected if c.status == Status.MISSING]
    unchecked = [c.stream for c in selected if c.status == Status.NOT_CHECKED]
    partial = [c.stream for c in selected if c.status == Status.PARTIAL]
    # A stream left unchecked (the denial budget ran out) is not known to fail: say so apart.
    not_checked = f"; not checked: {', '.join(unchecked)}" if unchecked else ""
    if blocked:
        return (
            f"Result: {len(blocked)} of {len(selected)} selected streams cannot run: "
            f"{', '.join(blocked)}{not_checked}. {used}"
        )
    if unchecked:
        return (
            f"Result: {len(unchecked)} of {len(selected)} selected streams were not "
            f"checked: {', '.join(unchecked)}. {used}"
        )
    text = f"Result: all {len(selected)} selected streams can run"
    if partial:
        text += f"; partially visible: {', '.join(partial)}"
    return f"{text}. {used}"


def _cell(text: str) -> str:
    # '<' would start an HTML tag in rendered Markdown; '|' would end the cell.
    return text.replace("|", "\\|").replace("<", "&lt;")


def permission_matrix_markdown() -> str:
    """The permission matrix of the docs, generated from the registry (tap_hibob.endpoints)."""
    lines = [
        "| Stream | Selected by default | HiBob endpoint | Permission to add (exact HiBob "
        "wording) | Requests per sync | Notes |",
        "|---|---|---|---|---|---|",
    ]
    for spec in endpoints.known_streams():
        endpoint = spec.endpoint
        others = "".join(f"; also `{e.shown}`" for e in spec.also)
        lines.append(
            f"| `{spec.name}` | {'yes' if spec.selected_by_default else 'no'} "
            f"| `{endpoint.shown}`{others} | {_cell(endpoint.permission or 'none')} "
            f"| {_cell(spec.requests)} | {_cell(endpoint.note)} |"
        )
    custom = endpoints.CUSTOM_TABLE_ROWS
    lines.append(
        f"| `{endpoints.CUSTOM_TABLE_PREFIX}<custom table id>` | yes | `{custom.shown}` "
        f"| {_cell(custom.permission)} | ceil(rows / 200) | "
        + _cell("one stream per custom table; <category> is its category as HiBob shows it")
        + " |"
    )
    lines.append(
        f"| `{endpoints.REPORT_PREFIX}<name>` | when configured | "
        f"`{endpoints.REPORT_DOWNLOAD.shown}` | {_cell(endpoints.REPORTS)} | 1 (async: 2 + polls) "
        f"| {_cell(endpoints.REPORT_DOWNLOAD.note)} |"
    )
    lines += [
        "",
        "| Employee field category | Permission that makes its fields visible in `employees` |",
        "|---|---|",
    ]
    by_section: dict[str, list[str]] = defaultdict(list)
    for category_id, section in endpoints.CATEGORY_SECTIONS.items():
        by_section[section].append(category_id)
    for section, ids in by_section.items():
        ids_text = ", ".join(f"`{i}`" for i in ids)
        lines.append(f"| {section} ({ids_text}) | {_cell(endpoints.for_category(ids[0]))} |")
    lines += [
        f"| custom categories (`category_…`) | {_cell(endpoints.sections('*category name*'))} |",
        "",
        f"Every employee-data stream also needs the group's access scope: {ACCESS_SCOPE}.",
    ]
    return "\n".join(lines) + "\n"
