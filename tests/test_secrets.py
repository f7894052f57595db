"""Security: HiBob's firewall is never fed, secrets and employee data never reach the logs.

WAF: HiBob blocks a credential after 50 answers of 401/403 in 10 seconds, so wrong
credentials must cost exactly one request (discovery included) and a missing permission at
most one 403 per endpoint, with the exact permission named in the seed guide's words.

Secrets and PII: every path (sync, discovery, --about, config errors, 401, 403, 400, HTML,
retries) runs at DEBUG with the fake's recognisable token, a canary planted in every error
body HiBob sends, and the tenant's employee names and emails; none of them may appear on
stderr or in a log file. Records on stdout carry employee data by design and the token never.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, Faults, Profile
from fake_hibob.profiles import EVERYTHING, PROFILES, history, view
from fake_hibob.server import Reply, Request, error_reply
from tap_hibob import endpoints
from tap_hibob.tap import TapHibob
from tests.helpers import (
    LOG_LINE,
    Run,
    ScriptedFaults,
    discover,
    quick_config,
    run_cli,
    run_tap,
    select,
    select_all,
    sync,
    tap_config,
)

CANARY = "CANARY-BODY-7d1e4b"  # planted in every non-200 body and HTML page the fake sends
WRONG_TOKEN = "wrong-token-CANARY-93be0c"
DEBUG = {"TAP_HIBOB_LOGLEVEL": "DEBUG"}
#: Streams with a fixed name the fake serves, and what HiBob needs for each (the registry).
PERMISSIONS = {spec.name: spec.permission for spec in endpoints.known_streams()}
STREAMS = sorted(PERMISSIONS)
# HiBob documents no permission of their own for these.
NO_OWN_PERMISSION = {name for name, permission in PERMISSIONS.items() if not permission}


class CanaryHibob(FakeHibob):
    """The fake, with a canary and employee data in every error body and HTML page."""

    def handle(self, request: Request) -> Reply | None:
        reply = super().handle(request)
        if reply is None or (reply.status == 200 and "html" not in reply.content_type):
            return reply
        person = self.tenant.employees[0]
        leak = f"{CANARY} {person.display_name} <{person.email}>"
        if "html" in reply.content_type:
            reply.body = reply.body.replace(b"<body>", f"<body>{leak}".encode())
        else:
            body = json.loads(reply.body or b"{}")
            body.update({"error": leak, "message": leak, "details": {"employee": person.email}})
            reply.body = json.dumps(body).encode()
        return reply


class ScriptedCanary(CanaryHibob, ScriptedFaults):
    """Canary bodies, and every fault kind on some endpoint whatever the dice say."""


def secrets(user_id: str = SERVICE_USER_ID, token: str = SERVICE_USER_TOKEN) -> list[str]:
    basic = base64.b64encode(f"{user_id}:{token}".encode()).decode()
    return [token, basic, basic[:24], base64.b64encode(token.encode()).decode()]


def personal(fake: FakeHibob) -> list[str]:
    """Employee values that must never be logged: names and emails of the whole tenant."""
    values: set[str] = set()
    for e in fake.tenant.employees:
        values |= {e.display_name, e.email}
        values |= {name for name in (e.first_name, e.surname) if len(name) >= 6}
    return sorted(values)


def assert_no_leak(text: str, fake: FakeHibob, *, extra: tuple[str, ...] = ()) -> None:
    for secret in (*secrets(), *extra):
        assert secret not in text, "a credential was written out"
    assert CANARY not in text, "a HiBob response body was written out"
    leaked = [value for value in personal(fake) if value in text]
    assert not leaked, f"employee data in the logs: {leaked[:3]}"


def assert_stdout_clean(run: Run) -> None:
    for secret in (*secrets(), WRONG_TOKEN):
        assert secret not in run.stdout
    assert CANARY not in run.stdout


def one_error(run: Run, *phrases: str, debug: bool = True) -> str:
    """The run failed with an ERROR line naming the cause. At the default level stderr is
    whole log lines only; at DEBUG the CLI adds the traceback on purpose."""
    assert run.returncode != 0, run.stderr[-2000:]
    if not debug:
        assert "Traceback" not in run.stderr
        odd = [line for line in run.stderr.splitlines() if line and not LOG_LINE.match(line)]
        assert not odd, odd
    found = run.said(*phrases, level="ERROR")
    assert found, run.errors
    return found[0]


def warnings_and_errors(run: Run) -> list[str]:
    return run.warnings + run.errors


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    """Every stream the fake serves selected (opt-in ones too)."""
    with FakeHibob() as fake:
        return select_all(discover(tap_config(fake)))


@pytest.fixture
def canary_fake() -> Iterator[CanaryHibob]:
    with CanaryHibob(window_seconds=1.0) as app:
        yield app


# WAF: one 401, at most one 403 per endpoint -------------------------------------------------


@pytest.mark.parametrize("mode", ["default-selection", "all-streams", "discover"])
def test_wrong_token_costs_exactly_one_request(
    mode: str, canary_fake: CanaryHibob, catalog: dict[str, Any], tmp_path: Path
) -> None:
    config = tap_config(canary_fake, service_user_token=WRONG_TOKEN)
    args = ("--discover",) if mode == "discover" else ()
    run = run_tap(
        tmp_path, config, *args, catalog=catalog if mode == "all-streams" else None, env=DEBUG
    )
    one_error(run, "HiBob rejected the service user ID/token (401", "service_user_token")
    assert [r.status for r in canary_fake.log] == [401]
    assert run.stdout == "" or mode != "discover"
    assert not [m for m in run.messages if m["type"] in ("RECORD", "STATE")]
    assert_no_leak(run.stderr, canary_fake, extra=(WRONG_TOKEN, *secrets(token=WRONG_TOKEN)))
    assert_stdout_clean(run)


def test_no_permission_group_stops_at_the_first_403(
    catalog: dict[str, Any], tmp_path: Path
) -> None:
    """A service user in no permission group: one 403, the run stops, the message says what
    to grant in HiBob's words."""
    with CanaryHibob(profile="none") as fake:
        run = run_tap(tmp_path, tap_config(fake), catalog=catalog, env=DEBUG)
        log = list(fake.log)
    line = one_error(run, "(403)", "probably in no permission group")
    assert sum(r.status == 403 for r in log) == 1
    assert endpoints.BASIC_INFO in line and endpoints.BASIC_INFO in EVERYTHING
    assert not run.of("RECORD")
    assert_no_leak(run.stderr, fake)


def _profile_without(*missing: str) -> Profile:
    return Profile("without", frozenset(EVERYTHING - set(missing)))


PERMISSION_CASES = [
    pytest.param(name, (PERMISSIONS[name],), id=name)
    for name in STREAMS
    if name not in NO_OWN_PERMISSION
] + [
    # A history table without even the current-row permission: HiBob answers 403.
    pytest.param(
        "salary_history", (history("Payroll"), view("Payroll")), id="salary_history-no-view"
    ),
    pytest.param("work_history", (history("Work"), view("Work")), id="work_history-no-view"),
]


@pytest.mark.parametrize(("stream", "missing"), PERMISSION_CASES)
def test_missing_permission_is_named_with_at_most_one_403(
    stream: str, missing: tuple[str, ...], catalog: dict[str, Any], tmp_path: Path
) -> None:
    """Either one 403 skips the stream (exit 1) naming the permission the registry gives for
    it, or HiBob degrades silently (current rows only, nobody listed) and a line names it."""
    wanted = PERMISSIONS[stream]
    assert wanted in EVERYTHING, f"{stream}: permission not in HiBob's wording: {wanted}"
    with CanaryHibob(profile=_profile_without(*missing), window_seconds=1.0) as fake:
        only = select(catalog, [stream])
        run = run_tap(tmp_path, quick_config(fake), catalog=only, env=DEBUG)
        denied = Counter(r.endpoint for r in fake.log if r.status == 403)
    assert all(n == 1 for n in denied.values()), denied
    if denied:
        line = one_error(run, "(403)", f"'{stream}'")
        assert sum(denied.values()) == 1
        assert wanted in line, line
        assert wanted in one_error(run, f"  - {stream}: ", "(403)")  # the summary
    else:
        assert run.returncode == 0 or run.errors, run.stderr[-2000:]
        with CanaryHibob(window_seconds=1.0) as everything:  # every permission granted
            complete = sync(quick_config(everything), only).records(stream)
        if run.records(stream) != complete:
            assert any(wanted in line for line in warnings_and_errors(run)), (
                f"{stream}: HiBob hid data and no warning named {wanted!r}"
            )
        else:  # HiBob had nothing to hide (no dependent ever ends): nothing to warn about
            assert not warnings_and_errors(run), run.stderr[-2000:]
            assert complete, stream  # the fake's tenant has rows
    assert_no_leak(run.stderr, fake)


# Secrets and employee data on every other path ----------------------------------------------


def test_debug_sync_with_retries_and_a_log_file(catalog: dict[str, Any], tmp_path: Path) -> None:
    """A full sync at DEBUG through 5xx, resets, truncated bodies and 429s, also logged to a
    file through SINGER_SDK_LOG_CONFIG."""
    log_file = tmp_path / "tap.log"
    log_config = tmp_path / "logging.yml"
    log_config.write_text(
        "version: 1\n"
        "disable_existing_loggers: false\n"
        "formatters: {plain: {format: '%(levelname)s %(name)s %(message)s'}}\n"
        "handlers:\n"
        f"  file: {{class: logging.FileHandler, filename: '{log_file}', formatter: plain}}\n"
        "  err: {class: logging.StreamHandler, stream: ext://sys.stderr, formatter: plain}\n"
        "root: {level: DEBUG, handlers: [file, err]}\n"
    )
    # A scripted stall of 4 s against a 2 s read timeout: one timeout and retry.
    faults = Faults(
        error_rate=0.08, reset_rate=0.04, truncate_rate=0.04, stall_seconds=4, burst_429=2, seed=4
    )
    with ScriptedCanary(window_seconds=1.0, faults=faults) as fake:
        run = run_tap(
            tmp_path,
            quick_config(fake, request_timeout=2),
            catalog=catalog,
            env={**DEBUG, "SINGER_SDK_LOG_CONFIG": str(log_config)},
        )
        log = list(fake.log)
    assert run.returncode == 0, run.stderr[-3000:]
    assert {r.fault for r in log} >= {"error", "reset", "truncate", "stall"}
    assert any(r.status >= 500 for r in log)  # error bodies carrying the canary were sent
    written = log_file.read_text()
    assert "Retrying" in written and "DEBUG" in written  # the file really got the debug log
    assert_no_leak(run.stderr, fake)
    assert_no_leak(written, fake)
    assert_stdout_clean(run)
    assert any(r["firstName"] for r in run.records("employees"))  # data did flow


def test_errors_carry_no_response_body(canary_fake: CanaryHibob, tmp_path: Path) -> None:
    """A 400 whose body holds employee data and HiBob's free-text message: only the machine
    error key is shown."""
    for route in canary_fake.routes:
        if route.endpoint == "tasks":
            route.handler = lambda app, request, match: error_reply(
                400, "exception.bad.request", "Employee Ada Lovelace is invalid"
            )
    catalog = select(discover(tap_config(canary_fake)), ["tasks"])
    canary_fake.log.clear()
    run = run_tap(tmp_path, tap_config(canary_fake), catalog=catalog, env=DEBUG)
    one_error(run, "HiBob refused GET /v1/tasks with 400 (exception.bad.request)")
    assert "Ada Lovelace" not in run.stderr and "is invalid" not in run.stderr
    assert_no_leak(run.stderr, canary_fake)
    assert [r.status for r in canary_fake.log if r.endpoint == "tasks"] == [400]  # not retried


def test_html_page_is_not_logged(canary_fake: CanaryHibob, tmp_path: Path) -> None:
    run = run_tap(tmp_path, tap_config(canary_fake, api_url=canary_fake.url + "/app"), env=DEBUG)
    one_error(run, "HTML page, not JSON")
    assert_no_leak(run.stderr, canary_fake)


def test_error_lines_name_no_employee(tmp_path: Path, catalog: dict[str, Any]) -> None:
    """A 403 on a per-employee path: the message shows the path without the employee id."""
    profile = _profile_without(PERMISSIONS["time_off_balances"])
    with CanaryHibob(profile=profile) as fake:
        only = select(catalog, ["time_off_balances"])
        run = run_tap(tmp_path, tap_config(fake), catalog=only)
        ids = [e.id for e in fake.tenant.employees]
    line = one_error(run, "(403)", "/v1/timeoff/employees/{id}/balance")
    assert not [i for i in ids if i in line]
    assert_no_leak(run.stderr, fake)


@pytest.mark.parametrize("about_format", [None, "json", "markdown"])
def test_about_shows_no_config_values(
    about_format: str | None, fake: FakeHibob, tmp_path: Path
) -> None:
    args = ["--about"] + ([f"--format={about_format}"] if about_format else [])
    run = run_tap(tmp_path, tap_config(fake), *args, env=DEBUG)
    assert run.returncode == 0, run.stderr
    assert "service_user_token" in run.stdout  # the setting is described...
    assert_no_leak(run.stdout + run.stderr, fake)  # ...its value is not
    assert fake.log == []


@pytest.mark.parametrize(
    "token",
    [98765432101234, ["fake-token", "DO-NOT-LEAK-list"], {"value": "fake-token-in-an-object"}],
    ids=["number", "list", "object"],
)
def test_config_errors_do_not_echo_the_token(token: Any, fake: FakeHibob, tmp_path: Path) -> None:
    """JSON-schema errors quote the offending value; for the token they must not."""
    run = run_tap(tmp_path, tap_config(fake, service_user_token=token), env=DEBUG)
    one_error(run, "service_user_token must be a non-empty string", "its value is not shown")
    for part in ("98765432101234", "DO-NOT-LEAK-list", "fake-token-in-an-object"):
        assert part not in run.stderr
    assert fake.log == []


def test_config_errors_in_process_redact_the_token(fake: FakeHibob) -> None:
    """The same check without a subprocess, for the other settings' errors too."""
    from singer_sdk.exceptions import ConfigValidationError

    config = tap_config(fake, service_user_token=12345678, api_url="ftp://x")
    with pytest.raises(ConfigValidationError) as caught:
        TapHibob(config=config)
    assert not [e for e in caught.value.errors if "12345678" in e]


def test_env_config_at_debug(canary_fake: CanaryHibob, tmp_path: Path) -> None:
    """Settings from TAP_HIBOB_* variables (Meltano's way) log names, never values."""
    env = {
        **DEBUG,
        "TAP_HIBOB_SERVICE_USER_ID": SERVICE_USER_ID,
        "TAP_HIBOB_SERVICE_USER_TOKEN": SERVICE_USER_TOKEN,
        "TAP_HIBOB_API_URL": canary_fake.url,
    }
    run = run_cli("--config", "ENV", "--discover", env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "service_user_token" in run.stderr  # the SDK says which settings it read
    assert_no_leak(run.stderr, canary_fake)
    assert_stdout_clean(run)


def test_every_stream_permission_is_in_hibobs_words() -> None:
    """The wording compared above is the fake's copy of the seed guide, not the tap's."""
    assert PROFILES["none"].permissions == frozenset()
    for stream in STREAMS:
        if stream not in NO_OWN_PERMISSION:
            assert PERMISSIONS[stream] in EVERYTHING, f"{stream}: {PERMISSIONS[stream]!r}"


def test_an_unexpected_error_is_one_line_without_its_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug's exception text may quote the data it choked on: the default log names the
    exception type and place only; the details are for DEBUG."""
    from tap_hibob import cli
    from tap_hibob.settings import Settings

    def choke() -> None:
        Settings.from_config({"service_user_id": "x", "service_user_token": "y",
                              "max_retries": "Ada Lovelace"})  # fmt: skip

    monkeypatch.setattr(TapHibob, "cli", choke)
    with caplog.at_level("INFO", logger="tap-hibob"), pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "unexpected ValueError in tap_hibob/settings.py line" in line
    assert "Ada Lovelace" not in caplog.text
