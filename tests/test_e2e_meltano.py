"""End to end: `meltano run tap-hibob <loader>` into real CSV, JSONL and DuckDB loaders.

The Meltano project is the repository's own meltano.yml with the plugins `make test`
installs (`make meltano`); only the credentials, the fake's URL, the output paths and the
system database come from the environment, so each test has its own state. The fake HiBob
runs in this process on 127.0.0.1.

What the tap emits is read once with `meltano invoke tap-hibob` (same config, flattening and
selection as `meltano run`); every loader's result is compared with it, generically over
whatever streams the catalog has, plus checks for the streams whose facts the fake knows
(employees, employment fte, time-off changes).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fake_hibob import FakeHibob, timeoff
from tests.helpers import ROOT, require_meltano
from tests.meltano import EMPLOYEES, SCHEMA, WINDOW, Emitted, Project, pii_example

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]

#: Every stream (the tenant's custom tables too), with all its fields.
EVERY_STREAM = ["*.*"]
DIGITS_19 = re.compile(r"^\d{19}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_meltano_tests_share_one_xdist_worker(request: pytest.FixtureRequest) -> None:
    """All Meltano runs share .meltano/run/tap-hibob/; two at once corrupt its catalog.

    `make test` runs `pytest -n 2 --dist loadgroup`, which keeps an `xdist_group` on one
    worker only while pytest-xdist can suffix node ids (pytest 9.2 broke that). Under xdist
    without loadgroup the group means nothing, so that is refused; without xdist the tests
    run one after another and there is nothing to check.
    """
    workers = getattr(request.config, "workerinput", None)
    if workers is None:
        pytest.skip("not under pytest-xdist: the Meltano tests run one after another")
    # A worker's own config says dist "no"; xdist keeps the controller's mode here.
    assert getattr(request.config.option, "loadgroup", False), (
        "the Meltano tests need `--dist loadgroup` (they share .meltano/run/tap-hibob/)"
    )
    assert request.node.nodeid.endswith("@meltano"), request.node.nodeid


def table_of(stream: str) -> str:
    """target-duckdb's table name for a stream."""
    return stream.replace("-", "_").lower()


def column_of(prop: str) -> str:
    """target-duckdb lower-cases column names."""
    return prop.lower()


def json_types(prop: dict[str, Any]) -> set[str]:
    raw = prop.get("type", [])
    return ({raw} if isinstance(raw, str) else set(raw)) - {"null"}


# Fixtures: one fake tenant and one all-streams project per module -----------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHibob]:
    require_meltano()
    with FakeHibob(employees=EMPLOYEES, window_seconds=WINDOW) as server:
        yield server


@pytest.fixture(scope="module")
def every_stream(fake: FakeHibob, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project that selects every stream the fake serves, opt-in ones included."""
    return Project(tmp_path_factory.mktemp("meltano-all"), fake, select=EVERY_STREAM)


@pytest.fixture(scope="module")
def emitted(every_stream: Project) -> Emitted:
    out = every_stream.invoke()
    assert out.schemas, "meltano invoke tap-hibob emitted no SCHEMA messages"
    return out


@pytest.fixture(scope="module")
def loaded(every_stream: Project, emitted: Emitted) -> Project:
    """`meltano run tap-hibob target-duckdb` once, after the reference output was taken."""
    every_stream.run("target-duckdb")
    return every_stream


# DuckDB ------------------------------------------------------------------------------------


def test_every_stream_with_records_lands_in_duckdb_once_per_primary_key(
    loaded: Project, emitted: Emitted
) -> None:
    tables = loaded.tables()
    for stream, schema in emitted.schemas.items():
        records = emitted.records[stream]
        if not records:
            assert (
                table_of(stream) not in tables
                or not loaded.query(f'SELECT count(*) FROM {SCHEMA}."{table_of(stream)}"')[0][0]
            ), stream
            continue
        assert table_of(stream) in tables, f"{stream}: no table in DuckDB"
        keys = [column_of(k) for k in emitted.keys[stream]]
        assert keys, f"{stream} has no primary key"
        key_list = ", ".join(f'"{k}"' for k in keys)
        table = f'{SCHEMA}."{table_of(stream)}"'
        (count,) = loaded.query(f"SELECT count(*) FROM {table}")[0]
        (distinct,) = loaded.query(
            f"SELECT count(*) FROM (SELECT DISTINCT {key_list} FROM {table})"
        )[0]
        assert count == distinct, f"{stream}: duplicate primary keys in DuckDB"
        assert count == len(emitted.distinct_keys(stream)), (
            f"{stream}: {count} rows in DuckDB, the tap emitted "
            f"{len(emitted.distinct_keys(stream))} distinct keys"
        )
        assert set(schema["properties"]) >= set(emitted.keys[stream])


def test_full_table_streams_emit_each_primary_key_once(emitted: Emitted) -> None:
    """Two rows sharing a key would silently overwrite each other in an upserting loader."""
    for stream in emitted.schemas:
        if emitted.replication(stream) != "FULL_TABLE":
            continue
        keys = emitted.key_tuples(stream)
        duplicates = {k for k in keys if keys.count(k) > 1}
        assert not duplicates, f"{stream}: primary key repeated: {sorted(duplicates)[:3]}"


def test_duckdb_column_types_follow_the_singer_schema(loaded: Project, emitted: Emitted) -> None:
    numeric = {"DOUBLE", "DECIMAL", "FLOAT"}
    integral = {"HUGEINT", "BIGINT", "INTEGER", "SMALLINT"}
    for stream, schema in emitted.schemas.items():
        if not emitted.records[stream]:
            continue
        columns = loaded.columns(table_of(stream))
        for prop, spec in schema["properties"].items():
            column = column_of(prop)
            assert column in columns, f"{stream}.{prop}: no column in DuckDB"
            actual = columns[column].upper()
            types = json_types(spec)
            where = f"{stream}.{prop} ({sorted(types)}, {spec.get('format')}) is {actual}"
            if types & {"object", "array"}:
                assert actual == "JSON", where
            elif spec.get("format") == "date-time":
                assert actual.startswith("TIMESTAMP"), where
            elif types == {"number"}:
                assert actual in numeric, where
            elif types == {"integer"}:
                assert actual in integral, where
            elif types == {"boolean"}:
                assert actual == "BOOLEAN", where
            elif types == {"string"}:
                assert actual == "VARCHAR", where


def test_dates_are_iso_dates_and_ids_are_exact_text(loaded: Project, emitted: Emitted) -> None:
    """target-duckdb stores `format: date` as text: every value must cast to a DATE."""
    fake_ids = {e.id for e in loaded.fake.tenant.employees}
    checked_dates = checked_ids = 0
    for stream, schema in emitted.schemas.items():
        if not emitted.records[stream]:
            continue
        table = f'{SCHEMA}."{table_of(stream)}"'
        for prop, spec in schema["properties"].items():
            column = f'"{column_of(prop)}"'
            if spec.get("format") == "date":
                bad = loaded.query(
                    f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND "
                    f"(TRY_CAST({column} AS DATE) IS NULL OR NOT regexp_full_match({column}, ?))",
                    DATE.pattern,
                )
                assert not bad, f"{stream}.{prop}: not YYYY-MM-DD: {bad[:3]}"
                checked_dates += 1
            if prop == "employeeId" or (stream == "employees" and prop == "id"):
                values = {r[0] for r in loaded.query(f"SELECT {column} FROM {table}")}
                assert loaded.columns(table_of(stream))[column_of(prop)] == "VARCHAR"
                assert values <= fake_ids, (
                    f"{stream}.{prop}: ids not in the tenant: {sorted(values - fake_ids)[:3]}"
                )
                checked_ids += 1
    assert checked_dates, "no date column was checked"
    assert checked_ids, "no employee id column was checked"


def test_employees_table_holds_every_visible_employee(loaded: Project, emitted: Emitted) -> None:
    assert emitted.records["employees"]
    visible = {e.id for e in loaded.fake.visible_employees()}
    rows = {r[0] for r in loaded.query(f'SELECT "id" FROM {SCHEMA}."employees"')}
    assert rows == visible


def test_fte_is_numeric_and_fractional_values_survive(loaded: Project, emitted: Emitted) -> None:
    fte_columns = [
        (stream, prop)
        for stream, schema in emitted.schemas.items()
        if emitted.records[stream]
        for prop in schema["properties"]
        if prop.lower().endswith("fte")
    ]
    # employees' payroll__employment__fte (flattened) and employment_history's fte.
    assert {stream for stream, _ in fte_columns} >= {"employees", "employment_history"}
    for stream, prop in fte_columns:
        kind = loaded.columns(table_of(stream))[column_of(prop)]
        assert kind in ("DOUBLE", "DECIMAL"), f"{stream}.{prop} is {kind}"
        emitted_values = sorted(
            float(r[prop]) for r in emitted.records[stream] if r.get(prop) is not None
        )
        loaded_values = sorted(
            r[0]
            for r in loaded.query(
                f'SELECT "{column_of(prop)}" FROM {SCHEMA}."{table_of(stream)}" '
                f'WHERE "{column_of(prop)}" IS NOT NULL'
            )
        )
        if emitted.replication(stream) == "FULL_TABLE":
            assert loaded_values == emitted_values, f"{stream}.{prop} values changed on load"


# CSV and JSONL -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_selection(fake: FakeHibob, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The project exactly as meltano.yml selects (the tap's own defaults)."""
    return Project(tmp_path_factory.mktemp("meltano-default"), fake)


@pytest.fixture(scope="module")
def csv_run(default_selection: Project) -> Project:
    """`meltano run tap-hibob target-csv`, as `make demo` runs it."""
    default_selection.run("target-csv")
    return default_selection


def _selected_by_meltano_yml(emitted: Emitted) -> set[str]:
    """Streams meltano.yml's select rules keep ('*.*' minus the '!stream.*' lines)."""
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = [p for p in config["plugins"]["extractors"] if p["name"] == "tap-hibob"]
    rules = [r[1:].split(".", 1) for r in tap["select"] if r.startswith("!")]
    excluded = {stream for stream, rest in rules if rest == "*"}  # "!stream.*" only
    return set(emitted.schemas) - excluded


def test_meltano_yml_selection_keeps_the_taps_defaults(default_selection: Project) -> None:
    """Meltano selects every stream and field unless told; meltano.yml must keep the tap's
    own defaults (opt-in streams and SSN fields stay out)."""
    dumped = json.loads(default_selection.meltano("invoke", "--dump=catalog", "tap-hibob").stdout)
    differences = []
    for entry in dumped["streams"]:
        root = next(n for n in entry["metadata"] if not n["breadcrumb"])["metadata"]
        for node in entry["metadata"]:
            meta = node["metadata"]
            if meta.get("inclusion") == "automatic" or (
                node["breadcrumb"] and not root["selected"]
            ):
                continue  # key fields always flow; fields of a skipped stream do not matter
            wanted = meta.get("selected-by-default", True)
            if meta.get("selected") is not wanted:
                differences.append((entry["tap_stream_id"], ".".join(node["breadcrumb"][1::2])))
    assert not differences, f"Meltano's selection differs from the tap's defaults: {differences}"


def test_csv_files_hold_the_default_streams_row_for_row(csv_run: Project, emitted: Emitted) -> None:
    files = {p.stem: p for p in (csv_run.home / "csv").glob("*.csv")}
    wanted = {s for s in _selected_by_meltano_yml(emitted) if emitted.records[s]}
    assert set(files) == wanted
    fake_ids = {e.id for e in csv_run.fake.tenant.employees}
    for stream in wanted:
        with files[stream].open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == len(emitted.records[stream]), stream
        header = set(rows[0])
        assert set(emitted.keys[stream]) <= header, stream
        # The reference selected every field; meltano.yml leaves SSN fields out.
        assert header <= set(emitted.schemas[stream]["properties"]), f"{stream}: unknown columns"
        assert not [c for c in header if c.endswith("ssn")], f"{stream}: SSN column in the CSV"
        for key in ("employeeId", "id" if stream == "employees" else ""):
            if key in header:
                values = {r[key] for r in rows}
                assert all(DIGITS_19.match(v) for v in values), (
                    f"{stream}.{key}: {sorted(values)[:3]}"
                )
                assert values <= fake_ids


def test_jsonl_files_hold_every_emitted_record(every_stream: Project, emitted: Emitted) -> None:
    every_stream.run("target-jsonl")
    files = {p.stem: p for p in (every_stream.home / "jsonl").glob("*.jsonl")}
    for stream, records in emitted.records.items():
        lines = files[stream].read_text(encoding="utf-8").splitlines() if records else []
        assert len(lines) == len(records), stream
        loaded_keys = {
            tuple(str(json.loads(x).get(k)) for k in emitted.keys[stream]) for x in lines
        }
        assert loaded_keys == emitted.distinct_keys(stream), stream


# Incremental time off through Meltano's state ------------------------------------------------


def _bookmark(state: dict[str, Any]) -> datetime:
    value = state["singer_state"]["bookmarks"]["time_off_requests"]["replication_key_value"]
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _keys(changes: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(c["requestId"]), str(c["changeType"])) for c in changes}


def test_second_run_loads_only_new_time_off_changes_plus_the_overlap(
    tmp_path: Path,
) -> None:
    require_meltano()
    start = (datetime.now(UTC) - timedelta(days=120)).replace(microsecond=0)
    overlap = timedelta(minutes=60)  # the documented default of time_off_overlap_minutes
    with FakeHibob(employees=EMPLOYEES, window_seconds=WINDOW) as fake:
        project = Project(
            tmp_path,
            fake,
            select=["time_off_requests.*"],
            extra_env={"TAP_HIBOB_START_DATE": start.isoformat()},
        )
        project.run("target-duckdb")
        first = _bookmark(project.state("target-duckdb"))
        first_keys = _keys(timeoff.visible_changes(fake, start, first, pending=True))
        table = f'{SCHEMA}."time_off_requests"'
        assert project.query(f"SELECT count(*) FROM {table}")[0][0] == len(first_keys)

        late = timeoff.add_changes(fake, created=2, at=first - overlap / 2)
        too_late = timeoff.add_changes(fake, created=1, at=first - 3 * overlap)
        new = timeoff.add_changes(fake, created=3, canceled=1)
        second_started = datetime.now(UTC)
        project.run("target-duckdb")
        second = _bookmark(project.state("target-duckdb"))
        assert second > first, "Meltano's stored bookmark did not move"

        arrived = {
            (str(r[0]), str(r[1]))
            for r in project.query(
                f'SELECT "requestid", "changetype" FROM {table} WHERE "_sdc_extracted_at" >= ?',
                second_started.replace(tzinfo=None),
            )
        }
        expected = _keys(timeoff.visible_changes(fake, first - overlap, second, pending=True))
        assert _keys(new) <= arrived, "new changes did not arrive"
        assert _keys(late) <= arrived, "changes inside the overlap window were not re-read"
        assert not _keys(too_late) & arrived, "a change older than the overlap was re-read"
        assert arrived == expected, "the second run read more than the new changes and overlap"
        total = project.query(f"SELECT count(*) FROM {table}")[0][0]
        assert total == len(first_keys | arrived)


# The PII recipe in the docs --------------------------------------------------


def test_pii_example_in_the_docs_hashes_and_drops_what_it_says(
    default_selection: Project,
) -> None:
    example = pii_example()
    seed = "test-seed-0f9c"
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = [p for p in config["plugins"]["extractors"] if p["name"] == "tap-hibob"]
    # The docs take the seed from $HIBOB_HASH_SEED, which Meltano expands in meltano.yml;
    # here the config arrives through environment variables, which it does not expand.
    assert example["config"]["stream_map_config"] == {"hash_seed": "$HIBOB_HASH_SEED"}
    project = Project(
        default_selection.home / "pii",
        default_selection.fake,
        select=[*tap["select"], *example["select"]],
        extra_env={
            "TAP_HIBOB_STREAM_MAPS": json.dumps(example["config"]["stream_maps"]),
            "TAP_HIBOB_STREAM_MAP_CONFIG": json.dumps({"hash_seed": seed}),
        },
    )
    out = project.meltano("invoke", "tap-hibob").stdout
    emitted = Emitted.parse(out)
    assert emitted.records["employees"], "no employees emitted"
    tenant = default_selection.fake.tenant
    emails = {e.email for e in tenant.employees}
    leaked = [e for e in emails if e in out]
    assert not leaked, f"email addresses left in the output: {leaked[:3]}"
    by_id = {e.id: e for e in tenant.employees}
    for record in emitted.records["employees"]:
        expected = hashlib.md5((seed + by_id[record["id"]].email).encode()).hexdigest()
        assert record["email"] == expected
        dropped = [
            k
            for k, v in record.items()
            if k.startswith(("personal", "home", "identification", "financial", "address"))
            and v is not None
        ]
        assert not dropped, f"fields the example drops are still there: {dropped}"
        assert not any(k.startswith("humanReadable") for k in record)
    birth_dates = {str(r.get("personal__birthDate")) for r in emitted.records["employees"]} - {
        "None"
    }
    assert not birth_dates
