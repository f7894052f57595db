"""tap-hibob-doctor: what the configured HiBob service user can and cannot read, per stream.

HiBob admins set up the service user by hand (a permission group, its lifecycle statuses and a
dozen "View selected employees' ..." boxes). A missing box shows up as a bare 403 or, worse, as
a 200 that silently leaves data out. The doctor asks HiBob the cheapest question per stream and
names the exact permission to add, in the words of the tap's registry (`tap_hibob.endpoints`,
which the tap's own errors use).

Budget, because HiBob's firewall blocks a credential after 50 denied answers in 10 seconds:
at most 25 requests for a full check, at most one 401 (the first request needs no
permission, so a wrong token costs exactly one request) and at most five 401/403 answers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from tap_hibob.doctor.checks import Doctor
from tap_hibob.doctor.config import UsageError, load_catalog, load_config
from tap_hibob.doctor.findings import (
    choose_sample,
    current_rows_only,
    hidden_categories,
    table_rows,
)
from tap_hibob.doctor.model import DOCTOR_MAX_RETRIES, MAX_DENIED, Person, Status
from tap_hibob.doctor.report import permission_matrix_markdown, render_text
from tap_hibob.doctor.reports import list_reports

__all__ = [
    "DOCTOR_MAX_RETRIES",
    "MAX_DENIED",
    "Doctor",
    "Person",
    "Status",
    "choose_sample",
    "current_rows_only",
    "hidden_categories",
    "main",
    "permission_matrix_markdown",
    "run",
    "table_rows",
]

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
        "--list-reports",
        action="store_true",
        help="print the saved reports the service user can see, with the `reports` entry "
        "that syncs each, and exit",
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
        if args.list_reports:
            code, text = list_reports(config, args.format)
            sys.stdout.write(text)
            return code
        catalog = load_catalog(args.catalog)
        report = Doctor(config, catalog).run()
    except UsageError as exc:
        sys.stderr.write(f"tap-hibob-doctor: {exc}\n")
        return 2
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
