"""Fake HiBob custom tables (docs/development/hibob-api.md, "Custom tables").

- `GET /v1/people/custom-tables/metadata` and `/metadata/{id}` need no permission;
  an unknown id is a 404.
- `GET /v1/bulk/people/custom-tables/{id}` answers the bulk envelope of the built-in tables
  with the same code (rows-counting limit, an employee's rows split across pages, cursors
  bound to the other parameters, employeeIds, errors, wrapped/bare/mixed shapes, restricted
  columns). Rows are `{id, <column id>: value, ...}`: columns at the top level, ids
  repeating across employees. Permission: the view permission of the table's category
  ("People > Equipment > View selected employees' Equipment sections"), else 403.
- `GET /v1/people/custom-tables/{employee id}/{id}` → `{"values": [rows]}` of one employee.

The tenant has two tables (fake_hibob/catalog.py): Certifications in the Work category and
Equipment in the custom category "Equipment"; `options.custom_tables = False` removes them.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fake_hibob.catalog import CERTIFICATIONS, CUSTOM_TABLES, EQUIPMENT
from fake_hibob.people import CATEGORIES
from fake_hibob.server import Reply, Request, error_reply, forbidden, json_reply
from fake_hibob.tables import (
    Entry,
    Generator,
    serve_bulk,
    table_entries,
    typed_value,
    visible_entries,
)

if TYPE_CHECKING:
    from fake_hibob.server import FakeHibob
    from fake_hibob.tenant import Employee, Tenant

# Rows per employee are drawn from these (most employees have none or few).
ROW_COUNTS = {CERTIFICATIONS: [0, 0, 0, 1, 1, 2, 3, 4], EQUIPMENT: [0, 0, 1, 1, 2, 3]}
FIRST_ROW_ID = {CERTIFICATIONS: 4100001, EQUIPMENT: 4200001}
CERTIFICATES = ["AWS Solutions Architect", "PRINCE2", "CIPD Level 5", "Scrum Master", "CPA"]


def tables(app: FakeHibob) -> dict[str, dict[str, Any]]:
    """The tenant's custom tables by id, as their metadata shows them."""
    if not app.options.custom_tables:
        return {}
    return {t["id"]: t for t in CUSTOM_TABLES}


def _special(
    table_id: str, column_id: str, tenant: Tenant, e: Employee, k: int, rng: random.Random
) -> tuple[bool, Any]:
    """Values that must look like what they are (names, tags, dates in order)."""
    issued = e.start_date + timedelta(days=120 * k + rng.randint(0, 90))
    match column_id:
        case "column_1791380280852":
            return True, rng.choice(CERTIFICATES)
        case "column_1791380280853":
            return True, issued.isoformat()
        case "column_1791380280856":
            return True, (issued + timedelta(days=1095)).isoformat() if rng.random() < 0.7 else None
        case "column_1791380290124":
            return True, f"AST-{e.index:05d}-{k + 1}"
        case "column_1791380290126":
            manager = e.manager_id or e.id
            return True, manager if rng.random() < 0.8 else None
    return False, None


def _generator(table: dict[str, Any]) -> Generator:
    table_id = table["id"]

    def generate(tenant: Tenant, e: Employee, rng: random.Random) -> list[tuple[dict, bool]]:
        out = []
        for k in range(rng.choice(ROW_COUNTS.get(table_id, [0, 1, 2]))):
            row: dict[str, Any] = {"id": FIRST_ROW_ID.get(table_id, 4000001) + k}
            for c in table["columns"]:
                known, value = _special(table_id, c["id"], tenant, e, k, rng)
                if not known:
                    list_id = c["typeData"].get("listId")
                    value = typed_value(tenant, e, c["type"], list_id, f"{table_id}:{c['id']}:{k}")
                row[c["id"]] = value
            out.append((row, True))  # no history: every row is current
        return out

    return generate


def _source(table: dict[str, Any]) -> tuple[Generator, str]:
    return _generator(table), f"custom:{table['id']}"


def _section(table: dict[str, Any]) -> str:
    """The category's display name, as the fields metadata shows it."""
    return CATEGORIES.get(table["category"], table["category"])


def expected_rows(app: FakeHibob, table_id: str) -> list[Entry]:
    """For tests: the rows a full bulk read of one custom table must return."""
    table = tables(app).get(table_id)
    if table is None or not app.profile.sees_category(_section(table)):
        return []
    generator, key = _source(table)
    return visible_entries(app, table_id, "history", None, generator, key)


def _not_found(table_id: str) -> Reply:
    return error_reply(404, "custom.table.not.found", f"Custom table '{table_id}' was not found")


def get_metadata(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    # Metadata endpoints need no permission.
    return json_reply({"tables": list(tables(app).values())})


def get_one_metadata(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    table = tables(app).get(match["table"])
    return json_reply(table) if table is not None else _not_found(match["table"])


def get_bulk(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    table_id = match["table"]
    table = tables(app).get(table_id)
    if table is None:
        return _not_found(table_id)
    if not app.profile.sees_category(_section(table)):
        return forbidden()
    generator, key = _source(table)
    return serve_bulk(
        app,
        request,
        table_id,
        lambda ids: visible_entries(app, table_id, "history", ids, generator, key),
    )


def get_employee_rows(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
    table_id, employee_id = match["table"], match["employee"]
    table = tables(app).get(table_id)
    if table is None:
        return _not_found(table_id)
    if not app.profile.sees_category(_section(table)):
        return forbidden()
    if employee_id not in app.visible_ids():
        return error_reply(404, "employee.not.found", "Employee not found")
    index = app.tenant.data.setdefault("custom_tables_by_employee", {})
    if table_id not in index:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in table_entries(app.tenant, table_id, *_source(table)):
            grouped.setdefault(entry.employee_id, []).append(entry.row)
        index[table_id] = grouped
    return json_reply({"values": [dict(r) for r in index[table_id].get(employee_id, [])]})


def register(app: FakeHibob) -> None:
    # The metadata routes come first: `metadata` is not an employee id.
    app.route("GET", "/v1/people/custom-tables/metadata", "custom_table_metadata")(get_metadata)
    app.route(
        "GET", r"/v1/people/custom-tables/metadata/(?P<table>[^/]+)", "custom_table_metadata"
    )(get_one_metadata)
    # Each table its own route with a concrete key (tests read `route.endpoint`); any other
    # id reaches the catch-all routes, which answer 404.
    patterns = [(re.escape(t["id"]), t["id"]) for t in CUSTOM_TABLES] + [("[^/]+", "{table}")]
    for pattern, key in patterns:
        bulk_path = f"/v1/bulk/people/custom-tables/(?P<table>{pattern})"
        app.route("GET", bulk_path, f"bulk_custom_table_{key}")(get_bulk)
        employee_path = f"/v1/people/custom-tables/(?P<employee>[^/]+)/(?P<table>{pattern})"
        app.route("GET", employee_path, f"people_custom_table_{key}")(get_employee_rows)
