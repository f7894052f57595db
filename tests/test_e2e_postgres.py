"""End to end into a real PostgreSQL: `meltano run tap-hibob target-postgres`, checked in SQL.

The loader is meltano.yml's MeltanoLabs target-postgres (`make warehouse` installs it in
its own venv); the server is the throw-away cluster tests/postgres.py starts on 127.0.0.1,
whose TimeZone is deliberately not UTC. Each scenario gets its own database and its own
Meltano system database, and talks to its own fake HiBob over HTTP on 127.0.0.1. The
loader's connection settings come from TARGET_POSTGRES_* variables, as a user's would;
everything else is meltano.yml's (upsert, add_record_metadata, default_target_schema
hibob, PGTZ=UTC). Deletions are a user's `emit_activate_version_messages: true`, with the
loader's `hard_delete` off (soft delete, its default) and then on.

The fake is changed between runs through its public objects only: an employee removed
from `fake.tenant.employees`, a history row removed from the tables' row cache
(`fake.tenant.data["tables"]`, with the per-scope cache cleared), a route's handler
replaced by one that answers 403, and new time-off changes from `fake_hibob.timeoff`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from fake_hibob import FakeHibob
from fake_hibob import tables as fake_tables
from fake_hibob.company import tasks as fake_tasks
from fake_hibob.server import forbidden
from tap_hibob import endpoints
from tests.helpers import ROOT, in_ci, require_meltano
from tests.meltano import EMPLOYEES, WINDOW, Emitted, Project, pii_example
from tests.postgres import PG_TIMEZONE, PostgresServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.xdist_group("meltano")]

LOADER = "target-postgres"
SCHEMA = "hibob"  # default_target_schema of target-postgres in meltano.yml
DOC = ROOT / "docs" / "loaders-column-types.md"
DIGITS_19 = re.compile(r"^\d{19}$")
# stream -> fake table
HISTORY = {spec.stream: spec.table for spec in endpoints.TABLES.values() if spec.bulk}
# The column holding the employee a row belongs to, per full-table stream.
EMPLOYEE_COLUMN = {
    "employees": "id",
    "whos_out": "employeeId",
    "tasks": "requestedFor__id",
    **dict.fromkeys(HISTORY, "employeeId"),
}


def _require_loader() -> None:
    require_meltano()
    venv = ROOT / ".meltano" / "loaders" / LOADER / "venv"
    if not venv.is_dir():
        message = f"{LOADER} is not installed ({venv}): run `make warehouse`"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Warehouse:
    """One database of the test server, as the loader and the tests see it."""

    server: PostgresServer
    database: str

    def env(self) -> dict[str, str]:
        """How a user points meltano.yml's target-postgres at a server."""
        return {
            "TARGET_POSTGRES_HOST": self.server.host,
            "TARGET_POSTGRES_PORT": str(self.server.port),
            "TARGET_POSTGRES_USER": self.server.user,
            "TARGET_POSTGRES_PASSWORD": self.server.password,
            "TARGET_POSTGRES_DATABASE": self.database,
        }

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.server.connect(self.database) as conn:
            return list(conn.execute(sql, params).fetchall())

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", SCHEMA
        )
        return {r[0] for r in rows}

    def columns(self, table: str) -> dict[str, str]:
        """Column name -> type as Postgres prints it (format_type)."""
        rows = self.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            f'{SCHEMA}."{table}"',
        )
        return {name: kind for name, kind in rows}

    def primary_key(self, table: str) -> list[str]:
        rows = self.query(
            "SELECT k.column_name FROM information_schema.table_constraints c "
            "JOIN information_schema.key_column_usage k USING (constraint_schema, "
            "constraint_name) WHERE c.constraint_type = 'PRIMARY KEY' "
            "AND c.table_schema = %s AND c.table_name = %s ORDER BY k.ordinal_position",
            SCHEMA,
            table,
        )
        return [r[0] for r in rows]

    def count(self, table: str, where: str = "TRUE") -> int:
        return int(self.query(f'SELECT count(*) FROM {SCHEMA}."{table}" WHERE {where}')[0][0])

    def keys(self, table: str, columns: list[str], where: str = "TRUE") -> set[tuple[str, ...]]:
        select = ", ".join(f'"{c}"::text' for c in columns)
        rows = self.query(f'SELECT {select} FROM {SCHEMA}."{table}" WHERE {where}')
        return {tuple(r) for r in rows}

    def dump(self) -> str:
        """Every row of every table as JSON text (for searching values)."""
        parts = []
        for table in sorted(self.tables()):
            rows = self.query(f'SELECT row_to_json(t)::text FROM {SCHEMA}."{table}" t')
            parts += [r[0] for r in rows]
        return "\n".join(parts)


def documented_types() -> dict[str, dict[str, str]]:
    """docs/loaders-column-types.md: stream -> property -> Postgres type."""
    out: dict[str, dict[str, str]] = {}
    stream = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^### `(.+)`$", line):
            stream = match.group(1)
            out[stream] = {}
        elif stream and (match := re.match(r"^\| `(.+?)` \| (.+?) \| ", line)):
            out[stream][match.group(1)] = match.group(2)
    return out


@pytest.fixture(scope="module")
def server(postgres_server: PostgresServer) -> PostgresServer:
    _require_loader()
    return postgres_server


def new_warehouse(server: PostgresServer, name: str) -> Warehouse:
    return Warehouse(server, server.create_database(name))


def new_project(
    home: Path, fake: FakeHibob, warehouse: Warehouse, select: list[str] | None = None
) -> Project:
    """Every stream and field (unless told), with deletions on as the docs tell users to."""
    extra = {**warehouse.env(), "TAP_HIBOB_EMIT_ACTIVATE_VERSION_MESSAGES": "true"}
    return Project(home, fake, select=select or ["*.*"], extra_env=extra)


# The first load of every stream ---------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHibob]:
    with FakeHibob(employees=EMPLOYEES, window_seconds=WINDOW) as server:
        yield server


@dataclass
class Loaded:
    project: Project
    warehouse: Warehouse
    emitted: Emitted
    started: datetime
    finished: datetime


@pytest.fixture(scope="module")
def loaded(
    server: PostgresServer, fake: FakeHibob, tmp_path_factory: pytest.TempPathFactory
) -> Loaded:
    """Every stream and field (`*.*`), once, after the reference output was taken."""
    warehouse = new_warehouse(server, "e2e_first_load")
    project = new_project(tmp_path_factory.mktemp("pg-first"), fake, warehouse)
    emitted = project.invoke()
    assert emitted.schemas, "meltano invoke tap-hibob emitted no SCHEMA messages"
    started = datetime.now(UTC).replace(tzinfo=None)
    project.run(LOADER)
    finished = datetime.now(UTC).replace(tzinfo=None)
    return Loaded(project, warehouse, emitted, started, finished)


def fake_row_count(fake: FakeHibob, stream: str) -> int | None:
    """What the fake says a full read of a stream returns, where it can say."""
    if stream == "employees":
        return len(fake.visible_employees())
    if stream in HISTORY:
        return len(fake_tables.expected_rows(fake, HISTORY[stream]))
    if stream == "tasks":
        return len(fake_tasks(fake))
    return None


def test_every_stream_lands_with_the_fakes_row_count_once_per_primary_key(
    loaded: Loaded,
) -> None:
    tables = loaded.warehouse.tables()
    checked = []
    for stream, keys in loaded.emitted.keys.items():
        assert stream in tables, f"{stream}: no table in Postgres"
        count = loaded.warehouse.count(stream)
        assert sorted(loaded.warehouse.primary_key(stream)) == sorted(keys), stream
        distinct = len(loaded.warehouse.keys(stream, keys))
        assert distinct == count, f"{stream}: duplicate primary keys"
        assert count == len(loaded.emitted.distinct_keys(stream)), (
            f"{stream}: {count} rows in Postgres, the tap emitted "
            f"{len(loaded.emitted.distinct_keys(stream))} distinct keys"
        )
        truth = fake_row_count(loaded.project.fake, stream)
        if truth is not None:
            assert count == truth, f"{stream}: {count} rows, the fake has {truth}"
            checked.append(stream)
    assert {"employees", "work_history", "tasks"} <= set(checked), checked


def test_columns_and_types_are_the_documented_ones(loaded: Loaded) -> None:
    """The real tables equal docs/loaders-column-types.md (which the loader's code makes)."""
    documented = documented_types()
    for stream in loaded.emitted.schemas:
        assert stream in documented, f"{stream} is not in {DOC.name}"
        actual = loaded.warehouse.columns(stream)
        differences = {
            column: (actual.get(column), documented[stream].get(column))
            for column in set(actual) | set(documented[stream])
            if actual.get(column) != documented[stream].get(column)
        }
        assert not differences, f"{stream}: (server, documented) {differences}"


def test_employee_ids_are_text_with_all_19_digits(loaded: Loaded) -> None:
    fake_ids = {e.id for e in loaded.project.fake.tenant.employees}
    checked = 0
    for stream in loaded.emitted.schemas:
        for column, kind in loaded.warehouse.columns(stream).items():
            is_id = column == "employeeId" or (stream == "employees" and column == "id")
            if not (is_id or column.endswith(("reportsTo__id", "requestedFor__id", "owner__id"))):
                continue
            assert kind == "text", f"{stream}.{column} is {kind}"
            values = {
                r[0]
                for r in loaded.warehouse.query(
                    f'SELECT "{column}" FROM {SCHEMA}."{stream}" WHERE "{column}" IS NOT NULL'
                )
            }
            bad = [v for v in values if not DIGITS_19.match(v)]
            assert not bad, f"{stream}.{column}: {bad[:3]}"
            assert values <= fake_ids, f"{stream}.{column}: {sorted(values - fake_ids)[:3]}"
            checked += bool(values)
    assert checked >= 10, checked
    employees = loaded.warehouse.keys("employees", ["id"])
    assert {k[0] for k in employees} == {e.id for e in loaded.project.fake.visible_employees()}


def test_dates_are_dates_with_the_fakes_values(loaded: Loaded) -> None:
    fake = loaded.project.fake
    assert loaded.warehouse.columns("employees")["work__startDate"] == "date"
    rows = dict(loaded.warehouse.query(f'SELECT id, "work__startDate" FROM {SCHEMA}.employees'))
    assert rows == {e.id: e.start_date for e in fake.visible_employees()}
    dated = 0
    for stream, schema in loaded.emitted.schemas.items():
        columns = loaded.warehouse.columns(stream)
        for prop, spec in schema["properties"].items():
            if spec.get("format") == "date":
                assert columns[prop] == "date", f"{stream}.{prop} is {columns[prop]}"
                dated += 1
    assert dated >= 20, dated


def test_fte_and_money_are_exact_numerics(loaded: Loaded) -> None:
    """fte (62.5, 80, 100) and money keep every digit: numeric, not float."""
    fake = loaded.project.fake
    money = {
        ("employment_history", "fte"): ("employment", lambda row: row["fte"]),
        ("salary_history", "base__value"): ("salaries", lambda row: row["base"]["value"]),
        ("variable_payments", "amount__value"): ("variable", lambda row: row["amount"]["value"]),
        ("equity_grants", "exercisePrice__value"): (
            "equities",
            lambda row: row["exercisePrice"]["value"],
        ),
    }
    for (stream, column), (table, value_of) in money.items():
        assert loaded.warehouse.columns(stream)[column] == "numeric", (stream, column)
        loaded_values = {
            (employee, str(entry)): value
            for employee, entry, value in loaded.warehouse.query(
                f'SELECT "employeeId", id, "{column}" FROM {SCHEMA}."{stream}"'
            )
        }
        expected = {
            (e.employee_id, str(e.row["id"])): Decimal(str(value_of(e.row)))
            for e in fake_tables.expected_rows(fake, table)
        }
        assert loaded_values == expected, f"{stream}.{column} differs from the fake"
    assert loaded.warehouse.columns("employees")["payroll__employment__fte"] == "numeric"
    fractional = loaded.warehouse.query(
        f"SELECT count(*) FROM {SCHEMA}.employment_history WHERE fte <> trunc(fte)"
    )[0][0]
    assert fractional, "the fake's fractional fte values (62.5) did not arrive"


def test_timestamps_are_utc_on_a_server_in_another_time_zone(loaded: Loaded) -> None:
    """target-postgres 0.8 makes `timestamp without time zone` columns and converts values
    to the session's zone; meltano.yml's PGTZ=UTC makes that UTC whatever the server's."""
    assert loaded.warehouse.query("SHOW timezone")[0][0] == PG_TIMEZONE  # the server's own
    columns = loaded.warehouse.columns("time_off_requests")
    assert columns["createdOn"] == "timestamp without time zone"
    assert columns["_sdc_extracted_at"] == "timestamp without time zone"
    emitted = {
        (str(r["requestId"]), r["changeType"]): datetime.fromisoformat(r["createdOn"])
        for r in loaded.emitted.records["time_off_requests"]
    }
    assert emitted, "no time-off changes emitted"
    stored = {
        (str(request), change): created
        for request, change, created in loaded.warehouse.query(
            f'SELECT "requestId", "changeType", "createdOn" FROM {SCHEMA}.time_off_requests'
        )
    }
    assert stored == {k: v.astimezone(UTC).replace(tzinfo=None) for k, v in emitted.items()}
    for stream in loaded.emitted.schemas:
        low, high = loaded.warehouse.query(
            f'SELECT min("_sdc_batched_at"), max("_sdc_batched_at") FROM {SCHEMA}."{stream}"'
        )[0]
        if low is not None:
            slack = timedelta(seconds=5)
            assert loaded.started - slack <= low <= high <= loaded.finished + slack, stream


def test_custom_fields_land_as_typed_columns(loaded: Loaded) -> None:
    from fake_hibob.people import _STANDARD_IDS, field_specs

    custom = [s for s in field_specs(loaded.project.fake.tenant) if s.id not in _STANDARD_IDS]
    assert custom, "the fake tenant has no custom fields"
    columns = loaded.warehouse.columns("employees")
    schema = loaded.emitted.schemas["employees"]["properties"]
    expected_type = {"number": "numeric", "text": "text", "list": "text"}
    checked = 0
    for spec in custom:
        column = spec.id.replace(".", "__")
        assert column in columns, f"custom field {spec.id} has no column"
        if spec.type in expected_type:
            assert columns[column] == expected_type[spec.type], (spec.id, columns[column])
        emitted = {r["id"]: r.get(column) for r in loaded.emitted.records["employees"]}
        stored = dict(loaded.warehouse.query(f'SELECT id, "{column}" FROM {SCHEMA}.employees'))
        if "number" in schema[column]["type"]:
            emitted = {k: None if v is None else Decimal(str(v)) for k, v in emitted.items()}
        assert stored == emitted, f"custom field {spec.id}: values differ"
        checked += sum(v is not None for v in stored.values())
    assert checked, "every custom field value was empty"


def test_custom_columns_of_history_tables_arrive_as_json(loaded: Loaded) -> None:
    """HiBob's table custom columns (`customColumns`, a free-form object: the tap's schema
    does not know their ids) stay one column; with flattening on it holds JSON text."""
    columns = loaded.warehouse.columns("work_history")
    fake_rows = {
        (e.employee_id, str(e.row["id"])): e.row["customColumns"]
        for e in fake_tables.expected_rows(loaded.project.fake, "work")
    }
    split = [c for c in columns if c.startswith("customColumns__")]
    if split:  # a tap that types custom columns from HiBob's metadata
        for column in split:
            key = column.removeprefix("customColumns__")
            stored = {
                (employee, str(entry)): value
                for employee, entry, value in loaded.warehouse.query(
                    f'SELECT "employeeId", id, "{column}"::text FROM {SCHEMA}.work_history'
                )
            }
            assert stored == {
                k: None if v.get(key) is None else str(v[key]) for k, v in fake_rows.items()
            }
        return
    assert columns["customColumns"] == "text"
    stored = {
        (employee, str(entry)): value
        for employee, entry, value in loaded.warehouse.query(
            f'SELECT "employeeId", id, "customColumns"::jsonb FROM {SCHEMA}.work_history'
        )
    }
    assert stored == fake_rows
    assert any(v for v in stored.values()), "no row had a custom column value"


def test_custom_tables_land_as_tables(loaded: Loaded) -> None:
    """TODO(custom tables): `custom_table_<id>` streams are being added to the tap (one
    stream per HiBob custom table). Once the catalog has them, this checks each lands once
    per key with its documented column types; extend it with the fake's rows."""
    streams = [s for s in loaded.emitted.schemas if s.startswith("custom_table_")]
    if not streams:
        pytest.skip("TODO(custom tables): no custom_table_<id> stream in the catalog yet")
    documented = documented_types()
    for stream in streams:
        keys = loaded.emitted.keys[stream]
        assert loaded.warehouse.count(stream) == len(loaded.emitted.distinct_keys(stream))
        assert len(loaded.warehouse.keys(stream, keys)) == loaded.warehouse.count(stream)
        assert loaded.warehouse.columns(stream) == documented[stream]


# Deletions through ACTIVATE_VERSION, soft then hard ---------------------------------------


def _snapshot(warehouse: Warehouse, streams: dict[str, list[str]]) -> dict[str, set[tuple]]:
    return {stream: warehouse.keys(stream, keys) for stream, keys in streams.items()}


def _rows_of_employee(
    warehouse: Warehouse, streams: dict[str, list[str]], employee: str
) -> dict[str, set[tuple]]:
    out = {}
    for stream, keys in streams.items():
        # Every employee table (custom tables, payments, training...) carries employeeId.
        default = "employeeId" if "employeeId" in warehouse.columns(stream) else None
        column = EMPLOYEE_COLUMN.get(stream, default)
        if column:
            out[stream] = warehouse.keys(stream, keys, f"\"{column}\" = '{employee}'")
    return out


def _forget_table_row(fake: FakeHibob, table: str, entry: fake_tables.Entry) -> None:
    """Delete a history row in the fake: drop it from the cached rows every page reads."""
    fake.tenant.data["tables"][table].remove(entry)
    fake.tenant.data.pop("tables_visible", None)


def _fail_endpoint(fake: FakeHibob, endpoint: str) -> None:
    """Every request to one endpoint answers 403 from now on (the run stops there)."""
    for route in fake.routes:
        if route.endpoint == endpoint:
            route.handler = lambda app, request, match: forbidden()


def test_deleted_rows_are_retired_exactly_and_a_failed_stream_deletes_nothing(
    server: PostgresServer, tmp_path: Path
) -> None:
    with FakeHibob(employees=EMPLOYEES, window_seconds=WINDOW) as fake:
        warehouse = new_warehouse(server, "e2e_deletions")
        # The full-table streams: the incremental ones never get ACTIVATE_VERSION.
        incremental = ["!time_off_requests.*", "!time_off_balances.*"]
        project = new_project(tmp_path / "meltano", fake, warehouse, ["*.*", *incremental])
        project.run(LOADER)
        full_table = {stream: warehouse.primary_key(stream) for stream in warehouse.tables()}
        assert not {"time_off_requests", "time_off_balances"} & set(full_table)
        assert set(HISTORY) | {"employees", "tasks", "whos_out"} <= set(full_table)
        before = _snapshot(warehouse, full_table)

        # HiBob deletes one work history entry, and one employee leaves the scope: a leaf
        # (nobody reports to them, so no other row changes its key), with history rows.
        work = fake_tables.expected_rows(fake, "work")
        gone = next(e for e in fake.tenant.employees if e.index >= 5 and e.lifecycle == "employed")
        entry = next(w for w in work if w.employee_id != gone.id and not w.current)
        _forget_table_row(fake, "work", entry)
        fake.tenant.employees.remove(gone)
        fake.tenant.data.pop("tables_visible", None)
        expected = _rows_of_employee(warehouse, full_table, gone.id)
        expected["work_history"].add((entry.employee_id, str(entry.row["id"])))
        assert sum(map(len, expected.values())) >= 5, expected

        # Second run, soft delete (target-postgres' default): the rows get _sdc_deleted_at.
        project.run(LOADER)
        for stream, keys in full_table.items():
            marked = warehouse.keys(stream, keys, '"_sdc_deleted_at" IS NOT NULL')
            assert marked == expected.get(stream, set()), f"{stream}: soft-deleted rows"
            live = warehouse.keys(stream, keys, '"_sdc_deleted_at" IS NULL')
            assert live == before[stream] - expected.get(stream, set()), f"{stream}: live rows"
            truth = fake_row_count(fake, stream)
            assert truth is None or len(live) == truth, f"{stream}: {len(live)} != {truth}"

        # Third run with hard_delete: rows of older versions are deleted, the marked ones
        # too, and a second history row deleted in HiBob since.
        employment = next(e for e in fake_tables.expected_rows(fake, "employment") if not e.current)
        _forget_table_row(fake, "employment", employment)
        expected["employment_history"] = expected.get("employment_history", set()) | {
            (employment.employee_id, str(employment.row["id"]))
        }
        project.extra_env["TARGET_POSTGRES_HARD_DELETE"] = "true"
        project.run(LOADER)
        for stream, keys in full_table.items():
            assert not warehouse.count(stream, '"_sdc_deleted_at" IS NOT NULL'), stream
            rows = warehouse.keys(stream, keys)
            assert rows == before[stream] - expected.get(stream, set()), f"{stream}: rows"
        after_hard = _snapshot(warehouse, full_table)

        # A run that fails in a stream must not retire that stream's rows: the tap holds
        # ACTIVATE_VERSION until the stream's last record (tap_hibob/stream.py).
        _fail_endpoint(fake, "bulk_lifecycle")
        failing = Project(
            project.home, fake, select=["lifecycle_history.*"], extra_env=dict(project.extra_env)
        )
        proc = failing.meltano("run", "tap-hibob", LOADER, check=False)
        assert proc.returncode != 0, "the run with a 403 on lifecycle_history succeeded"
        assert "403" in proc.stderr, proc.stderr[-3000:]
        assert _snapshot(warehouse, full_table) == after_hard, "a failed stream deleted rows"


# Increments: only new time-off changes plus the overlap -----------------------------------


def _bookmark(state: dict[str, Any]) -> datetime:
    value = state["singer_state"]["bookmarks"]["time_off_requests"]["replication_key_value"]
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _change_keys(changes: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(c["requestId"]), str(c["changeType"])) for c in changes}


def test_second_run_upserts_only_new_time_off_changes_and_the_overlap(
    server: PostgresServer, tmp_path: Path
) -> None:
    from fake_hibob import timeoff

    start = (datetime.now(UTC) - timedelta(days=120)).replace(microsecond=0)
    overlap = timedelta(minutes=60)  # the documented default of time_off_overlap_minutes
    with FakeHibob(employees=EMPLOYEES, window_seconds=WINDOW) as fake:
        warehouse = new_warehouse(server, "e2e_time_off")
        project = Project(
            tmp_path,
            fake,
            select=["time_off_requests.*"],
            extra_env={**warehouse.env(), "TAP_HIBOB_START_DATE": start.isoformat()},
        )
        project.run(LOADER)
        first = _bookmark(project.state(LOADER))
        first_keys = _change_keys(timeoff.visible_changes(fake, start, first, pending=True))
        table = "time_off_requests"
        assert sorted(warehouse.primary_key(table)) == ["changeType", "requestId"]
        assert warehouse.keys(table, ["requestId", "changeType"]) == first_keys

        late = timeoff.add_changes(fake, created=2, at=first - overlap / 2)
        too_late = timeoff.add_changes(fake, created=1, at=first - 3 * overlap)
        new = timeoff.add_changes(fake, created=3, canceled=1)
        project.run(LOADER)
        second = _bookmark(project.state(LOADER))
        assert second > first, "Meltano's stored bookmark did not move"

        # Rows the second run wrote carry its sync start (_sdc_sync_started_at).
        arrived = warehouse.keys(
            table,
            ["requestId", "changeType"],
            f'"_sdc_sync_started_at" = (SELECT max("_sdc_sync_started_at") FROM {SCHEMA}.{table})',
        )
        expected = _change_keys(
            timeoff.visible_changes(fake, first - overlap, second, pending=True)
        )
        assert _change_keys(new) <= arrived, "new changes did not arrive"
        assert _change_keys(late) <= arrived, "changes inside the overlap were not re-read"
        assert not _change_keys(too_late) & arrived, "a change older than the overlap arrived"
        assert arrived == expected, "the second run read more than new changes and overlap"
        assert warehouse.keys(table, ["requestId", "changeType"]) == first_keys | arrived
        assert warehouse.count(table) == len(first_keys | arrived), "an upsert duplicated a row"


# The README's PII recipe ----------------------------------------------------------------


def test_pii_example_leaves_no_ssn_or_salary_in_the_warehouse(
    server: PostgresServer, loaded: Loaded, tmp_path: Path
) -> None:
    """The README's stream maps and select rules, with meltano.yml's own selection, into
    Postgres: no column and no value holds an SSN or a salary."""
    raw = loaded.emitted  # every stream and field: the values that must not arrive
    ssns = {r["identification__ssn"] for r in raw.records["employees"]} - {None}
    salaries = set()
    for record in raw.records["employees"]:
        for column in ("payroll__salary__payment", "payroll__salary__yearlyPayment"):
            if record.get(column):
                salaries.add(str(json.loads(record[column])["value"]))
    salaries |= {str(r["base__value"]) for r in raw.records["salary_history"]}
    assert ssns and salaries, "the reference output holds no SSN or salary to look for"

    example = pii_example()
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = [p for p in config["plugins"]["extractors"] if p["name"] == "tap-hibob"]
    warehouse = new_warehouse(server, "e2e_pii")
    seed = "pii-seed-7d1e"
    project = Project(
        tmp_path,
        loaded.project.fake,
        select=[*tap["select"], *example["select"]],
        extra_env={
            **warehouse.env(),
            "TAP_HIBOB_STREAM_MAPS": json.dumps(example["config"]["stream_maps"]),
            "TAP_HIBOB_STREAM_MAP_CONFIG": json.dumps({"hash_seed": seed}),
        },
    )
    project.run(LOADER)
    from fake_hibob.people import field_specs

    # Columns HiBob's SSN fields and base salary fields become (custom SSN fields included).
    sensitive = {
        s.id.replace(".", "__")
        for s in field_specs(loaded.project.fake.tenant)
        if s.type == "ssn" or s.id.startswith("payroll.salary.")
    }
    assert "identification__ssn" in sensitive and "payroll__salary__payment" in sensitive
    names = warehouse.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
        SCHEMA,
    )
    found = [f"{t}.{c}" for t, c in names if c in sensitive]
    assert "salary_history" not in {t for t, _ in names}, "salary_history is opt-in"
    dump = warehouse.dump()
    leaked_ssn = [s for s in ssns if s in dump]
    leaked_salary = [s for s in salaries if re.search(rf"(?<![\d.]){re.escape(s)}(?!\d)", dump)]
    assert not (found or leaked_ssn or leaked_salary), (
        f"columns for SSNs or salaries: {found}; SSNs: {leaked_ssn[:3]}; "
        f"salary amounts: {leaked_salary[:3]}"
    )
    emails = {e.email for e in loaded.project.fake.tenant.employees}
    assert not [e for e in emails if e in dump], "email addresses in the warehouse"
    hashed = dict(warehouse.query(f"SELECT id, email FROM {SCHEMA}.employees"))
    by_id = {e.id: e for e in loaded.project.fake.tenant.employees}
    assert hashed and all(
        v == hashlib.md5((seed + by_id[k].email).encode()).hexdigest() for k, v in hashed.items()
    )
