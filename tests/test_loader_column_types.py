"""Snowflake's (and Postgres') column types for every stream, from the loaders' own code.

A real Snowflake cannot run here, and fakesnow cannot load what MeltanoLabs target-snowflake
stages (PUT, COPY INTO, MERGE). What can be checked without a server is the part users meet
first: the DDL. scripts/column_types.py discovers every stream against the fake HiBob
(custom fields included), flattens the schemas as meltano.yml does, and asks each loader's
connector, in the loader's own venv (`make warehouse`), for every column's name and type.
These tests assert the result is what a warehouse user expects, that no two properties
collide once Snowflake folds their case, and that docs/loaders-column-types.md shows it.
The Postgres types are checked against a real server in tests/test_e2e_postgres.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers import ROOT, in_ci

pytestmark = pytest.mark.xdist_group("column_types")


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "column_types", ROOT / "scripts" / "column_types.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


column_types = load_script()


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    try:
        for loader in column_types.LOADERS:
            column_types.loader_python(loader)
    except FileNotFoundError as error:
        if in_ci():
            pytest.fail(str(error))
        pytest.skip(str(error))
    return dict(column_types.compute())


def json_types(prop: dict[str, Any]) -> set[str]:
    raw = prop.get("type", [])
    return ({raw} if isinstance(raw, str) else set(raw)) - {"null"}


# What a warehouse user expects for each kind of Singer property: (Postgres, Snowflake).
EXPECTED = {
    "date-time": ("timestamp without time zone", "TIMESTAMP_NTZ"),
    "date": ("date", "DATE"),
    "integer": ("bigint", "DECIMAL"),  # Snowflake's DECIMAL is NUMBER(38,0)
    "number": ("numeric", "FLOAT"),
    "boolean": ("boolean", "BOOLEAN"),
    "string": ("text", "VARCHAR"),
    "object": ("jsonb", "VARIANT"),
}


def kind(prop: dict[str, Any]) -> str:
    types = json_types(prop)
    if prop.get("format") in ("date-time", "date") and types == {"string"}:
        return str(prop["format"])
    if types & {"object", "array"}:
        return "object"
    if types == {"integer", "number"}:
        return "number"
    if len(types) == 1:
        return types.pop()
    if "string" in types:
        return "string"  # a union with text in it can only be text
    raise AssertionError(f"no expectation for {prop}")


def is_employee_id(stream: str, prop: str) -> bool:
    return prop == "employeeId" or (stream == "employees" and prop == "id")


def test_every_stream_of_the_catalog_is_mapped(computed: dict[str, Any]) -> None:
    streams = [s["tap_stream_id"] for s in computed["catalog"]["streams"]]
    assert len(streams) >= 15, streams
    for loader in ("postgres", "snowflake", "snowflake_unflattened"):
        assert sorted(computed[loader]) == sorted(streams), loader
        for stream, result in computed[loader].items():
            assert result["error"] is None, f"{loader}: {stream}: {result['error']}"
            failed = [c for c in result["columns"] if c.get("error") or not c.get("type")]
            assert not failed, f"{loader}: {stream}: {failed[:3]}"


def test_custom_fields_of_the_tenant_are_columns(computed: dict[str, Any]) -> None:
    from fake_hibob import Tenant
    from fake_hibob.people import _STANDARD_IDS, field_specs

    custom = [
        s.id.replace(".", "__")
        for s in field_specs(Tenant.generate(column_types.EMPLOYEES))
        if s.id not in _STANDARD_IDS
    ]
    assert len(custom) == 3, custom
    for loader in ("postgres", "snowflake"):
        columns = {c["property"] for c in computed[loader]["employees"]["columns"]}
        assert set(custom) <= columns, (loader, sorted(set(custom) - columns))


@pytest.mark.parametrize("loader", ["postgres", "snowflake"])
def test_each_column_has_the_type_users_expect(computed: dict[str, Any], loader: str) -> None:
    """With meltano.yml's flattening: typed columns; deeper objects and lists as JSON text."""
    column = 0 if loader == "postgres" else 1
    checked: dict[str, int] = {}
    wrong = []
    for entry in computed["flattened"]["streams"]:
        stream = entry["tap_stream_id"]
        properties = entry["schema"]["properties"]
        for item in computed[loader][stream]["columns"]:
            prop = item["property"]
            if prop.startswith("_sdc_"):
                continue  # the loader's own metadata columns: checked below
            expected_kind = kind(properties[prop])
            checked[expected_kind] = checked.get(expected_kind, 0) + 1
            expected = EXPECTED[expected_kind][column]
            if is_employee_id(stream, prop):
                expected = EXPECTED["string"][column]
                assert expected_kind == "string", f"{stream}.{prop} must be a string"
            if item["type"] != expected:
                wrong.append(f"{stream}.{prop} ({expected_kind}): {item['type']} != {expected}")
    assert not wrong, "\n".join(wrong)
    # Flattening leaves no object or list column: they arrive as JSON text.
    assert "object" not in checked, checked
    assert {"date-time", "date", "integer", "number", "boolean", "string"} <= set(checked)


def test_unflattened_objects_and_lists_become_variant(computed: dict[str, Any]) -> None:
    """Without flattening (flattening_enabled: false) Snowflake gets VARIANT columns."""
    seen = 0
    for entry in computed["catalog"]["streams"]:
        stream = entry["tap_stream_id"]
        columns = {c["property"]: c for c in computed["snowflake_unflattened"][stream]["columns"]}
        for prop, spec in entry["schema"]["properties"].items():
            if json_types(spec) & {"object", "array"}:
                assert columns[prop]["type"] == "VARIANT", (stream, prop, columns[prop])
                seen += 1
    assert seen >= 20, seen


def test_metadata_columns(computed: dict[str, Any]) -> None:
    """add_record_metadata (meltano.yml) adds the _sdc_ columns ACTIVATE_VERSION relies on."""
    for loader in ("postgres", "snowflake"):
        for stream, result in computed[loader].items():
            types = {c["property"]: c["type"] for c in result["columns"]}
            timestamp, integer = EXPECTED["date-time"], EXPECTED["integer"]
            index = 0 if loader == "postgres" else 1
            for name in ("_sdc_extracted_at", "_sdc_batched_at", "_sdc_deleted_at"):
                assert types.get(name) == timestamp[index], (loader, stream, name)
            assert types.get("_sdc_table_version") == integer[index], (loader, stream)


def test_no_two_properties_collide_in_the_warehouse(computed: dict[str, Any]) -> None:
    """Snowflake folds identifiers to upper case (QUOTED_IDENTIFIERS_IGNORE_CASE); Postgres
    truncates them past 63 bytes. Either could make two properties one column."""
    tables: dict[str, list[str]] = {"postgres": [], "snowflake": []}
    for stream, result in computed["snowflake"].items():
        upper = [c["column"].upper() for c in result["columns"]]
        clashes = sorted({u for u in upper if upper.count(u) > 1})
        assert not clashes, f"{stream}: properties collide in Snowflake as {clashes}"
        tables["snowflake"].append(result["table"].upper())
    for stream, result in computed["postgres"].items():
        names = [c["column"] for c in result["columns"]]
        assert len(set(names)) == len(names), stream
        long = [n for n in names if len(n.encode()) > 63]
        assert not long, f"{stream}: Postgres would truncate {long}"
        truncated = [n.encode()[:63] for n in names]
        assert len(set(truncated)) == len(truncated), stream
        tables["postgres"].append(result["table"])
    for loader, names in tables.items():
        assert len(set(names)) == len(names), f"{loader}: two streams share a table: {names}"


def test_docs_page_shows_the_current_column_types(computed: dict[str, Any]) -> None:
    path = column_types.DOC
    text = Path(path).read_text(encoding="utf-8")
    current = column_types.doc_block(text)
    assert current is not None, f"{path} has no generated block"
    expected = column_types.render(computed)
    if current != expected:
        old, new = set(current.splitlines()), set(expected.splitlines())
        pytest.fail(
            f"{path} is stale: run `python scripts/column_types.py --write`.\n"
            f"Missing: {sorted(new - old)[:10]}\nObsolete: {sorted(old - new)[:10]}"
        )
