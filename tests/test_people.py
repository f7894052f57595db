"""The `employees` stream end to end: the real CLI against the fake HiBob."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

from fake_hibob import FakeHibob, Tenant
from fake_hibob.people import CUSTOM_CATEGORY, CUSTOM_TYPES, field_specs, ids_of
from fake_hibob.profiles import BASIC, SEED, Profile
from fake_hibob.server import Request
from tap_hibob.tap import TapHibob
from tests.conftest import CliRun, run_tap, tap_config

PEOPLE_STREAMS = ("employees", "employee_fields", "named_lists")


# Helpers ---------------------------------------------------------------------------------


def discover(fake: FakeHibob, **config: Any) -> dict[str, Any]:
    """The catalog `--discover` prints, built in-process (the CLI's own discovery is tested
    once, below; syncs always run the real CLI)."""
    tap = TapHibob(config=tap_config(fake, **config), parse_env_config=False)
    return copy.deepcopy(tap.catalog_dict)


def entry(catalog: dict[str, Any], stream: str) -> dict[str, Any]:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)


def only(catalog: dict[str, Any], *streams: str) -> dict[str, Any]:
    """A copy of the catalog with exactly these streams selected."""
    chosen = copy.deepcopy(catalog)
    for stream in chosen["streams"]:
        for item in stream["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = stream["tap_stream_id"] in streams
    return chosen


def crumb(path: str) -> list[str]:
    out: list[str] = []
    for key in path.split("."):
        out += ["properties", key]
    return out


def select(catalog: dict[str, Any], stream: str, path: str, selected: bool) -> None:
    metadata = entry(catalog, stream)["metadata"]
    target = crumb(path)
    for item in metadata:
        if item["breadcrumb"] == target:
            item["metadata"]["selected"] = selected
            return
    metadata.append({"breadcrumb": target, "metadata": {"selected": selected}})


def sync(tmp_path: Path, fake: FakeHibob, catalog: dict[str, Any], **config: Any) -> CliRun:
    run = run_tap(tmp_path, tap_config(fake, **config), catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def warnings(run: CliRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if "WARNING" in line]


def searches(fake: FakeHibob) -> list[Request]:
    return fake.requests_to("/v1/people/search")


def value_at(record: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    """(present, value); a null parent counts as present with no value."""
    node: Any = record
    for key in path:
        if node is None:
            return True, None
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


_CHECKER = jsonschema.FormatChecker()


@_CHECKER.checks("date-time", raises=ValueError)
def _is_rfc3339_utc(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    return parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def assert_conforms(run: CliRun, stream: str) -> list[dict[str, Any]]:
    """Every record validates against the SCHEMA message the tap sent for it."""
    [schema] = [
        m["schema"] for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == stream
    ]
    validator = jsonschema.Draft202012Validator(schema, format_checker=_CHECKER)
    records = run.records(stream)
    assert records
    for record in records:
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, (record.get("id"), [e.message for e in errors[:3]])
    assert "not found in catalog schema" not in run.stderr
    return records


def assert_unique(records: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    counts = Counter(tuple(r[k] for k in keys) for r in records)
    assert all(None not in key for key in counts)
    duplicates = [key for key, n in counts.items() if n > 1]
    assert not duplicates, duplicates[:5]


def expected_paths(fake: FakeHibob) -> dict[str, tuple[str, ...]]:
    """Fields a default sync must return with the 'all' profile: all but SSN and payments."""
    return {
        s.id: s.path
        for s in field_specs(fake.tenant)
        if s.type != "ssn" and not s.id.startswith("actualPayment.")
    }


# Discovery -----------------------------------------------------------------------------


def test_discover_lists_custom_fields_with_their_types(tmp_path: Path) -> None:
    with FakeHibob(Tenant.generate(3, custom_fields=len(CUSTOM_TYPES))) as fake:
        run = run_tap(tmp_path, tap_config(fake), "--discover")
        assert run.returncode == 0, run.stderr[-3000:]
        catalog = json.loads(run.stdout)
        assert catalog == json.loads(json.dumps(discover(fake)))
        customs = [s for s in field_specs(fake.tenant) if "field_" in s.id]
    employees = entry(catalog, "employees")
    props = employees["schema"]["properties"]
    expected_types = {
        "text": ["string", "null"],
        "number": ["number", "null"],
        "list": ["string", "null"],
        "date": ["string", "null"],
        "multi-list": ["array", "null"],
        "boolean": ["boolean", "null"],
        "currency": ["object", "null"],
        "employee-reference": ["string", "null"],
        "time": ["string", "null"],
        "text-area": ["string", "null"],
        "hierarchy-list": ["string", "null"],
    }
    permissive = ["object", "array", "string", "number", "boolean", "null"]
    assert len(customs) == len(CUSTOM_TYPES)
    for spec in customs:
        node: dict[str, Any] = {"properties": props}
        for key in spec.path:
            node = node["properties"][key]
        assert node["type"] == expected_types.get(spec.type, permissive), spec
        assert spec.id in node["description"]
    assert props[CUSTOM_CATEGORY]["type"] == ["object", "null"]
    assert employees["key_properties"] == ["id"]
    # One metadata entry per nested field, so each can be deselected; SSN off by default.
    breadcrumbs = {tuple(m["breadcrumb"]): m["metadata"] for m in employees["metadata"]}
    for spec in customs:
        assert tuple(crumb(spec.json_path)) in breadcrumbs
    assert breadcrumbs[tuple(crumb("identification.ssn"))]["selected-by-default"] is False
    assert breadcrumbs[tuple(crumb("work.department"))].get("selected-by-default") is not False


# Sync: permission profiles ------------------------------------------------------------


def test_everything_profile_emits_every_employee_with_every_field(tmp_path: Path) -> None:
    with FakeHibob(Tenant.generate(25, custom_fields=6)) as fake:
        catalog = only(discover(fake), "employees")
        fake.log.clear()
        run = sync(tmp_path, fake, catalog)
        expected = expected_paths(fake)
        everyone = ids_of(fake)
        terminated = {e.id for e in fake.tenant.employees if e.lifecycle == "terminated"}
        requests = Counter(r.endpoint for r in fake.log)
    records = assert_conforms(run, "employees")
    assert_unique(records, ("id",))
    assert [r["id"] for r in records] == everyone
    assert terminated and terminated <= {r["id"] for r in records}
    for record in records:
        missing = [fid for fid, path in expected.items() if not value_at(record, path)[0]]
        assert not missing, (record["id"], missing)
        assert "identification" not in record  # SSN is the only field there; opt-in
        assert not [key for key in record if key.startswith("/")]
    assert warnings(run) == []  # nothing left out, nothing stale, nothing unmapped
    # 1 metadata read, 1 id listing, 1 batch of 25.
    assert requests == {"fields_metadata": 1, "people_search": 2}


def test_seed_profile_warns_once_per_category_it_cannot_see(tmp_path: Path) -> None:
    with FakeHibob(profile="seed") as fake:
        catalog = only(discover(fake), "employees")
        select(catalog, "employees", "identification.ssn", True)  # opted in
        run = sync(tmp_path, fake, catalog)
        requested = {f for r in searches(fake)[1:] for f in r.body["fields"]}
    left_out = [w for w in warnings(run) if "left out" in w]
    about = "People > About > View selected employees' About sections"
    custom = "People > Equipment > View selected employees' Equipment sections"
    assert len(left_out) == 2, left_out
    assert sum(about in w for w in left_out) == 1
    assert sum(custom in w and "'Equipment' category" in w for w in left_out) == 1
    records = assert_conforms(run, "employees")
    assert all("about" not in r and "personal" in r for r in records)
    # Without the edit permission HiBob masks SSNs: said once, with the permission to add.
    assert "identification.ssn" in requested
    masked = [w for w in warnings(run) if "obscured" in w]
    assert len(masked) == 1
    assert (
        "People > Identification > Edit selected employees' Identification sections" in (masked[0])
    )


def test_no_personal_profile_names_the_missing_permissions(tmp_path: Path) -> None:
    with FakeHibob(profile="no_personal") as fake:
        catalog = only(discover(fake), "employees")
        select(catalog, "employees", "identification.ssn", True)
        run = sync(tmp_path, fake, catalog)
    left_out = "\n".join(w for w in warnings(run) if "left out" in w)
    assert "People > Personal > View selected employees' Personal sections" in left_out
    assert "People > Identification > View selected employees' Identification sections" in left_out
    assert "identification.ssn" in left_out
    assert "People > Work >" not in left_out
    records = assert_conforms(run, "employees")
    assert all("personal" not in r and "identification" not in r for r in records)


def test_no_visible_employees_is_a_warning_not_silence(tmp_path: Path) -> None:
    no_basic = Profile("no_basic", SEED - {BASIC})
    with FakeHibob(profile=no_basic) as fake:
        run = sync(tmp_path, fake, only(discover(fake), "employees"))
    assert run.records("employees") == []
    [warning] = [w for w in warnings(run) if "no employees" in w]
    assert BASIC in warning


def test_service_user_in_no_group_fails_with_the_permission(tmp_path: Path) -> None:
    with FakeHibob(profile="none") as fake:
        catalog = only(discover(fake), "employees")  # metadata needs no permission
        run = run_tap(tmp_path, tap_config(fake), catalog=catalog)
        denied = fake.requests_to("/v1/people/search", status=403)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "'employees'" in run.stderr and BASIC in run.stderr
    assert len(denied) == 1  # never retried
