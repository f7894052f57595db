"""Malformed input: one clear error line and a non-zero exit, never a traceback.

A config that cannot work must fail before the first request (a typo must not cost HiBob
calls, let alone feed its firewall); a state or catalog that cannot be used must fail before
any record is written, so a loader never sees half a run. A few cases run the real CLI end to
end (exit code, stderr shape); the many variants of each check run in-process, because a CLI
start costs a second of CPU.
"""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from fake_hibob import FakeHibob, Tenant
from fake_hibob.people import field_specs
from tap_hibob import timeoff
from tap_hibob.errors import HibobCatalogError, HibobConfigError, HibobStateError
from tap_hibob.inputs import checked_catalog, checked_state
from tap_hibob.tap import TapHibob
from tests.helpers import (
    LOG_LINE,
    Run,
    discover,
    run_cli,
    run_tap,
    select,
    sync,
    tap_config,
    transform_replies,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHibob]:
    with FakeHibob() as app:
        yield app


@pytest.fixture
def fake(server: FakeHibob) -> FakeHibob:
    """One fake for the module (cheap tests), with an empty request log per test."""
    server.log.clear()
    return server


@pytest.fixture(scope="module")
def catalog(server: FakeHibob) -> dict[str, Any]:
    """The discovered catalog, and which paths discovery itself requests."""
    server.log.clear()
    return {"catalog": discover(tap_config(server)), "paths": {r.path for r in server.log}}


def assert_clean_failure(run: Run, *phrases: str) -> str:
    """Non-zero exit, no traceback, stderr only whole log lines, one ERROR naming the cause."""
    assert run.returncode != 0, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    odd = [line for line in run.stderr.splitlines() if line and not LOG_LINE.match(line)]
    assert not odd, f"stderr lines that are not single log lines: {odd}"
    matching = run.said(*phrases, level="ERROR")
    assert matching, f"no ERROR line with {phrases}: {run.errors}"
    assert not run.of("RECORD"), "records were written"
    return matching[0]


def without(config: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != key}


def bookmark(value: Any, key: str = timeoff.BOOKMARK_KEY) -> dict[str, Any]:
    state = {"replication_key": key, "replication_key_value": value}
    return {"bookmarks": {"time_off_requests": state}}


# Settings -----------------------------------------------------------------------------------

CONFIG_CASES = [
    pytest.param(
        lambda c: without(c, "service_user_token"),
        "'service_user_token' is a required property",
        id="missing-token",
    ),
    pytest.param(
        lambda c: without(c, "service_user_id"),
        "'service_user_id' is a required property",
        id="missing-user-id",
    ),
    pytest.param(
        lambda c: {**c, "service_user_id": "  "},
        "service_user_id must be a non-empty string without leading or trailing spaces",
        id="blank-id",
    ),
    pytest.param(
        lambda c: {**c, "service_user_id": " " + c["service_user_id"]},
        "service_user_id must be a non-empty string without leading or trailing spaces",
        id="id-with-leading-space",
    ),
    pytest.param(
        lambda c: {**c, "service_user_token": c["service_user_token"] + "\n"},
        "service_user_token must be a non-empty string without leading or trailing spaces",
        id="token-with-newline",
    ),
    pytest.param(
        lambda c: {**c, "people_batch_size": "two hundred"},
        "'two hundred' is not of type 'integer'",
        id="batch-size-not-integer",
    ),
    pytest.param(
        lambda c: {**c, "include_inactive": "yes"},
        "'yes' is not of type 'boolean'",
        id="flag-not-boolean",
    ),
    pytest.param(
        lambda c: {**c, "api_url": "http://api.hibob.com"},
        "api_url must use https (got http://api.hibob.com)",
        id="api-url-not-https",
    ),
    pytest.param(
        lambda c: {**c, "api_url": "api.hibob.com"},
        "api_url 'api.hibob.com' is not a URL",
        id="api-url-no-scheme",
    ),
    pytest.param(
        lambda c: {**c, "api_url": c["api_url"] + "/v1"},
        "api_url must not end with /v1",
        id="api-url-with-v1",
    ),
    pytest.param(
        lambda c: {**c, "start_date": "last tuesday"},
        "start_date 'last tuesday' is not an ISO 8601 date-time",
        id="start-date-unparsable",
    ),
    pytest.param(
        lambda c: {**c, "human_readable": "yes"},
        "'yes' is not one of ['off', 'append', 'replace']",
        id="human-readable-unknown",
    ),
    pytest.param(
        lambda c: {**c, "request_timeout": 0},
        "0 is less than the minimum of 1 in config['request_timeout']",
        id="timeout-zero",
    ),
    pytest.param(
        lambda c: {**c, "rate_limit_window_seconds": -0.5},
        "is less than or equal to the minimum of 0 in config['rate_limit_window_seconds']",
        id="window-negative-decimal",
    ),
    pytest.param(
        lambda c: {**c, "backoff_max_seconds": "fast"},
        "'fast' is not of type 'number', 'null' in config['backoff_max_seconds']",
        id="backoff-not-a-number",
    ),
    pytest.param(
        lambda c: {**c, "people_batch_size": 0},
        "0 is less than the minimum of 1 in config['people_batch_size']",
        id="batch-size-zero",
    ),
    pytest.param(
        lambda c: {**c, "on_missing_permission": "ignore"},
        "'ignore' is not one of ['fail', 'warn']",
        id="on-missing-permission-unknown",
    ),
    pytest.param(
        lambda c: {**c, "reports": [{"stream_name": "x"}]},
        "reports[0] needs a report_id or a report_name",
        id="report-without-id-or-name",
    ),
    pytest.param(
        lambda c: {**c, "balance_policy_types": "Holiday"},
        "'Holiday' is not of type 'array'",
        id="policy-types-not-a-list",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), CONFIG_CASES)
def test_bad_setting_is_refused_before_any_request(
    fake: FakeHibob, mutate: Any, message: str
) -> None:
    # Parsed as the SDK parses config files: non-integers become Decimal.
    config = json.loads(json.dumps(mutate(tap_config(fake))), parse_float=Decimal)
    with pytest.raises(ConfigValidationError) as caught:
        TapHibob(config=config, validate_config=True)
    assert any(message in error for error in caught.value.errors), caught.value.errors
    assert all("\n" not in error for error in caught.value.errors)
    assert fake.log == []


@pytest.mark.parametrize("args", [(), ("--discover",)], ids=["sync", "discover"])
def test_cli_bad_setting_one_line_no_request(fake: FakeHibob, tmp_path: Path, args: Any) -> None:
    run = run_tap(tmp_path, without(tap_config(fake), "service_user_token"), *args)
    assert_clean_failure(run, "'service_user_token' is a required property")
    assert run.stdout == ""
    assert fake.log == []


def test_cli_unparsable_start_date(fake: FakeHibob, tmp_path: Path) -> None:
    run = run_tap(tmp_path, tap_config(fake, start_date="2024-13-45"))
    assert_clean_failure(run, "start_date '2024-13-45' is not an ISO 8601 date-time")
    assert fake.log == []


def test_cli_config_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config.json"
    run = run_cli("--config", str(missing))
    assert_clean_failure(run, f"The config file {missing} was not found")


def test_cli_config_file_not_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{'service_user_id': 1}")
    run = run_cli("--config", str(path))
    assert_clean_failure(run, f"The config file {path} is not valid JSON (line 1, column 2)")


def test_config_file_must_hold_an_object(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('["id", "token"]')
    with pytest.raises(HibobConfigError, match="must hold a JSON object of settings"):
        TapHibob.cb_config(None, None, (str(path),))  # type: ignore[arg-type]


def test_cli_env_var_not_an_integer(fake: FakeHibob, tmp_path: Path) -> None:
    env = {
        "TAP_HIBOB_SERVICE_USER_ID": "someone",
        "TAP_HIBOB_SERVICE_USER_TOKEN": "secret",
        "TAP_HIBOB_API_URL": fake.url,
        "TAP_HIBOB_PEOPLE_BATCH_SIZE": "lots",
    }
    run = run_cli("--config", "ENV", env=env)
    assert_clean_failure(run, "Environment variable TAP_HIBOB_PEOPLE_BATCH_SIZE must be an integer")
    assert fake.log == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TAP_HIBOB_INCLUDE_INACTIVE", "maybe", "must be true or false"),
        ("TAP_HIBOB_MAX_RETRIES", "3.5", "must be an integer"),
        ("TAP_HIBOB_STREAM_MAPS", "{employees: null}", "must be JSON"),
    ],
)
def test_env_values_the_sdk_would_misread(
    fake: FakeHibob, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    """The SDK reads include_inactive=maybe as false: former employees would vanish."""
    monkeypatch.setenv(name, value)
    with pytest.raises(HibobConfigError, match=f"{name} {message}"):
        TapHibob(config=tap_config(fake), parse_env_config=True)
    assert fake.log == []


def test_env_booleans_the_sdk_understands_are_accepted(
    fake: FakeHibob, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAP_HIBOB_INCLUDE_INACTIVE", "False")
    tap = TapHibob(config=tap_config(fake), parse_env_config=True)
    assert tap.config["include_inactive"] is False


# State --------------------------------------------------------------------------------------


def test_cli_state_not_json(fake: FakeHibob, tmp_path: Path) -> None:
    run = run_tap(tmp_path, tap_config(fake), state="{bookmarks:")
    assert_clean_failure(run, "state file", "is not valid JSON")
    assert fake.log == []


def test_cli_state_not_an_object(fake: FakeHibob, tmp_path: Path) -> None:
    """The SDK alone reads [] as "no state" and would silently start over."""
    run = run_tap(tmp_path, tap_config(fake), state="[]")
    assert_clean_failure(run, "The state file must hold a JSON object", "not an array")
    assert fake.log == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"yesterday"', "not a string"),
        ("null", "not null"),
        ("42", "not a number"),
        ('{"bookmarks": {"tasks": "done"}}', "'bookmarks' must map stream names to objects"),
        ('{"bookmarks": ["tasks"]}', "'bookmarks' must map stream names to objects"),
    ],
)
def test_state_shapes(text: str, message: str) -> None:
    with pytest.raises(HibobStateError, match=re.escape(message)):
        checked_state(io.StringIO(text))


def test_cli_bookmark_in_the_future_stops_before_any_data_request(
    fake: FakeHibob, catalog: dict[str, Any], tmp_path: Path
) -> None:
    """Checked up front: a bad bookmark must not fail halfway, after other streams ran."""
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    run = run_tap(tmp_path, tap_config(fake), state=bookmark(future))
    assert_clean_failure(run, "time_off_requests", "is in the future")
    assert {r.path for r in fake.log} <= catalog["paths"]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (bookmark(1717171717), "not an ISO 8601 date-time"),
        (bookmark("last week"), "not an ISO 8601 date-time"),
        (bookmark("2024-01-01T00:00:00Z", key="modified_at"), "replication_key 'modified_at'"),
        (bookmark((datetime.now(UTC) + timedelta(days=3)).isoformat()), "is in the future"),
    ],
    ids=["number", "garbage", "foreign-key", "future"],
)
def test_unusable_bookmark_stops_the_tap_at_start(
    fake: FakeHibob, catalog: dict[str, Any], state: Any, message: str
) -> None:
    with pytest.raises(HibobStateError, match=re.escape(message)):
        TapHibob(config=tap_config(fake), state=state)
    assert {r.path for r in fake.log} <= catalog["paths"]


def test_bookmark_of_a_deselected_stream_is_not_judged(
    fake: FakeHibob, catalog: dict[str, Any]
) -> None:
    """A bad bookmark only matters to a run that reads the stream."""
    tap = TapHibob(
        config=tap_config(fake),
        state=bookmark("never"),
        catalog=select(catalog["catalog"], ["tasks"]),
    )
    assert not tap.streams["time_off_requests"].selected


def test_cli_documented_state_fallbacks(fake: FakeHibob, tmp_path: Path) -> None:
    """Retired streams' bookmarks are ignored and a bookmark up to a day ahead is clock skew:
    both are said once in a warning, and the run goes on."""
    ahead = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    state = bookmark(ahead)
    state["bookmarks"]["retired_stream"] = {"replication_key_value": "2024-01-01T00:00:00Z"}
    run = run_tap(tmp_path, tap_config(fake), state=state)
    assert run.returncode == 0, run.stderr
    warnings = run.warnings
    assert len([w for w in warnings if "'retired_stream'" in w and "ignoring it" in w]) == 1
    assert len([w for w in warnings if "clock skew" in w]) == 1, warnings
    final = run.states[-1]["bookmarks"]["time_off_requests"]["replication_key_value"]
    assert final < ahead  # read from the run start, not from the future bookmark


# Catalog ------------------------------------------------------------------------------------


def test_cli_catalog_not_json(fake: FakeHibob, tmp_path: Path) -> None:
    run = run_tap(tmp_path, tap_config(fake), catalog="streams: all")
    assert_clean_failure(run, "catalog file", "is not valid JSON", "--discover")
    assert fake.log == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must hold a JSON object with a 'streams' list, not an array"),
        ({"streams": "tasks"}, "must hold a JSON object with a 'streams' list"),
        ({"streams": [{"stream": "tasks"}]}, "a stream entry without a 'tap_stream_id'"),
        ({"streams": [{"tap_stream_id": "tasks"}]}, "'tasks' has no schema with properties"),
        (
            {"streams": [{"tap_stream_id": "tasks", "schema": {"properties": {}}, "metadata": {}}]},
            "'metadata' of stream 'tasks' must be a list",
        ),
    ],
)
def test_catalog_shapes(value: Any, message: str) -> None:
    with pytest.raises(HibobCatalogError, match=re.escape(message)):
        checked_catalog(io.StringIO(json.dumps(value)))


def test_cli_catalog_naming_an_unknown_stream(
    fake: FakeHibob, catalog: dict[str, Any], tmp_path: Path
) -> None:
    edited = json.loads(json.dumps(catalog["catalog"]))
    edited["streams"][0]["tap_stream_id"] = "ghosts"
    run = run_tap(tmp_path, tap_config(fake), catalog=edited)
    assert_clean_failure(run, "The catalog names stream(s) tap-hibob does not have: ghosts")


def test_cli_catalog_without_schemas(
    fake: FakeHibob, catalog: dict[str, Any], tmp_path: Path
) -> None:
    edited = json.loads(json.dumps(catalog["catalog"]))
    for entry in edited["streams"]:
        entry.pop("schema")
    run = run_tap(tmp_path, tap_config(fake), catalog=edited)
    assert_clean_failure(run, "has no schema with properties", "--discover")
    assert fake.log == []


# What HiBob answers to a wrong setup --------------------------------------------------------


def test_cli_html_200_from_a_wrong_api_url(fake: FakeHibob, tmp_path: Path) -> None:
    """The web app answers unknown paths with a 200 HTML page; that is an error, not data."""
    run = run_tap(tmp_path, tap_config(fake, api_url=fake.url + "/app"))
    assert_clean_failure(run, "HTML page, not JSON", "api_url")
    assert len(fake.log) == 1  # never retried: the same path gives the same page


def test_cli_unreachable_host_gives_up_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "service_user_id": "x",
        "service_user_token": "y",
        "api_url": f"http://127.0.0.1:{port}",
        "max_retries": 1,
        "backoff_max_seconds": 0.1,
    }
    run = run_tap(tmp_path, config)
    assert_clean_failure(run, "Could not talk to HiBob: ConnectionError", "max_retries")
    assert len(run.said("Retrying")) == 1


# Field metadata the catalog or the schema did not expect -------------------------------------


def _custom_text_field(fake: FakeHibob) -> Any:
    return next(s for s in field_specs(fake.tenant) if ".custom." in s.id and s.type == "text")


def test_a_catalog_selecting_a_field_hibob_no_longer_has() -> None:
    """Documented fallback: the field is not requested (HiBob would drop it anyway), a
    warning names it and says to rediscover, every other field still arrives."""
    with FakeHibob(Tenant.generate(6, seed=2)) as fake:
        spec = _custom_text_field(fake)
        catalog = select(discover(tap_config(fake)), ["employees"])
        fake.options["drop_fields"] = [spec.id]
        fake.log.clear()
        run = sync(tap_config(fake), catalog)
        bodies = [r.body for r in fake.log if r.path == "/v1/people/search"]
    said = run.said(spec.id)
    assert said and "--discover" in said[0], run.warnings
    assert all(spec.id not in body.get("fields", []) for body in bodies)
    assert len(run.records("employees")) == 6


def test_unknown_field_type_in_metadata_passes_values_through() -> None:
    """Documented fallback: a type HiBob adds later gets a permissive schema; the values
    arrive exactly as they would under the type we know."""
    with FakeHibob(Tenant.generate(6, seed=2)) as fake:
        spec = _custom_text_field(fake)
        known = sync(tap_config(fake), select(discover(tap_config(fake)), ["employees"]))

        def new_type(_: Any, fields: Any) -> Any:
            for field in fields:
                if field.get("id") == spec.id:
                    field["type"] = "hologram"
            return fields

        transform_replies(fake, new_type, only=lambda r: r.path == "/v1/company/people/fields")
        fresh = discover(tap_config(fake))
        run = sync(tap_config(fake), select(fresh, ["employees"]))
    [entry] = [e for e in fresh["streams"] if e["tap_stream_id"] == "employees"]
    node = entry["schema"]
    for key in spec.path:
        node = node["properties"][key]
    assert "string" in node["type"] and "object" in node["type"], node
    assert run.records("employees") == known.records("employees")
    assert any(_value(r, spec.path) for r in run.records("employees"))


def _value(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = record
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node
