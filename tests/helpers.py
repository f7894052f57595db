"""The test toolkit: one way to configure, discover, select, sync and read what the tap said.

Every test module takes its helpers from here (and its fixtures from conftest.py); no test
module imports another. Two ways to run the tap:

- `sync()` runs it in this process (`TapHibob(...).sync_all()`), with the Singer messages
  captured from the tap's own message writer and the log captured in the CLI's format.
  Use it whenever only records, states or warnings matter: it saves a Python start and the
  imports (about a second of CPU) per run.
- `run_tap()` / `run_cli()` run the real `tap-hibob` command. Use them where a process is
  the point: exit codes, stderr wording, signals, secrets in output.

Both return a `Run`, read the same way. `run_until()` is the one kill-and-resume harness.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.logging import ConsoleFormatter

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob
from fake_hibob.people import field_specs
from fake_hibob.server import Reply, Request
from tap_hibob.client import HibobClient
from tap_hibob.errors import HibobError
from tap_hibob.settings import Settings
from tap_hibob.tap import TapHibob

ROOT = Path(__file__).resolve().parent.parent

#: One line of the SDK's console log format.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| (DEBUG|INFO|WARNING|ERROR) ")

Keyed = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


# Config ------------------------------------------------------------------------------------


def tap_config(fake: FakeHibob, **overrides: Any) -> dict[str, Any]:
    """A config pointing the tap at a fake HiBob."""
    return {
        "service_user_id": SERVICE_USER_ID,
        "service_user_token": SERVICE_USER_TOKEN,
        "api_url": fake.url,
        **overrides,
    }


def quick_config(fake: FakeHibob, **overrides: Any) -> dict[str, Any]:
    """A config for whole-tenant syncs: a fixed start_date (two runs seconds apart read the
    same time-off windows), a 1 s rate-limit window to match `FakeHibob(window_seconds=1)`
    and short backoff waits. The read timeout stays the default: a busy machine must not
    turn a slow answer into a failure (tests of timeouts set their own)."""
    start = (fake.tenant.now - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    quick = {"start_date": start, "rate_limit_window_seconds": 1, "backoff_max_seconds": 0.05}
    return tap_config(fake, **{**quick, **overrides})


def hibob_client(fake: FakeHibob, **overrides: Any) -> HibobClient:
    """The tap's HTTP client for a fake HiBob (default settings plus `overrides`)."""
    settings = Settings.from_config(tap_config(fake, **overrides))
    return HibobClient(settings, logging.getLogger("tests"))


def rfc3339(moment: datetime) -> str:
    """The form HiBob's docs use for `since`/`to`, and the tap's bookmarks: UTC,
    milliseconds, Z (`2026-03-15T12:00:00.123Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


#: HiBob's documented field types (docs/development/hibob-api.md).
HIBOB_FIELD_TYPES = frozenset(
    {
        "text", "text-area", "number", "date", "short-date", "time", "boolean", "list",
        "multi-list", "hierarchy-list", "list_id", "currency", "employee-reference",
        "employee", "document", "avatar", "period", "ssn", "working_pattern",
        "duration_with_unit",
    }
)  # fmt: skip


def about(fmt: str) -> str:
    """What `tap-hibob --about --format <fmt>` prints."""
    run = run_cli("--about", "--format", fmt)
    assert run.returncode == 0, run.stderr
    return run.stdout


# Meltano -----------------------------------------------------------------------------------

MELTANO = Path(
    os.environ.get("MELTANO_EXECUTABLE", ROOT / ".tools" / "meltano" / "bin" / "meltano")
)
#: The Meltano plugins `make meltano` installs for the end-to-end tests.
MELTANO_PLUGINS = {
    "tap-hibob": "extractors",
    "target-csv": "loaders",
    "target-jsonl": "loaders",
    "target-duckdb": "loaders",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_meltano() -> None:
    """CI must run the Meltano tests; a developer without Meltano gets a skip with the fix."""
    missing = [] if MELTANO.exists() else [str(MELTANO)]
    missing += [
        f".meltano/{kind}/{name}"
        for name, kind in MELTANO_PLUGINS.items()
        if not (ROOT / ".meltano" / kind / name / "venv").is_dir()
    ]
    if missing:
        message = (
            f"Meltano or its plugins are not installed ({', '.join(missing)}): run `make meltano`"
        )
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


# Catalogs ----------------------------------------------------------------------------------


def discover(config: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog `--discover` prints, built in this process (a JSON copy)."""
    tap = TapHibob(config=dict(config), parse_env_config=False)
    try:
        return dict(json.loads(json.dumps(tap.catalog_dict)))
    finally:
        tap.client.close()


def entry(catalog: Mapping[str, Any], stream: str) -> dict[str, Any]:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)


def stream_names(catalog: Mapping[str, Any]) -> list[str]:
    return [s["tap_stream_id"] for s in catalog["streams"]]


def root_metadata(catalog: Mapping[str, Any], stream: str) -> dict[str, Any]:
    """The stream-level metadata of one catalog entry."""
    return next(m["metadata"] for m in entry(catalog, stream)["metadata"] if not m["breadcrumb"])


def default_streams(catalog: Mapping[str, Any]) -> set[str]:
    """The streams the tap selects when the catalog says nothing."""
    return {
        name
        for name in stream_names(catalog)
        if root_metadata(catalog, name).get("selected-by-default", True)
    }


def select(
    catalog: Mapping[str, Any], which: Iterable[str] | Callable[[str], bool]
) -> dict[str, Any]:
    """A copy of the catalog with exactly the streams `which` names (or accepts) selected."""
    wanted = which if callable(which) else set(which).__contains__
    chosen = copy.deepcopy(dict(catalog))
    for stream in chosen["streams"]:
        for meta in stream["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = bool(wanted(stream["tap_stream_id"]))
    return chosen


def select_all(catalog: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the catalog with every stream selected, those off by default too."""
    return select(catalog, lambda _: True)


def crumb(path: str | Iterable[str]) -> list[str]:
    """The catalog breadcrumb of a dotted property path (`work.department`)."""
    keys = path.split(".") if isinstance(path, str) else list(path)
    out: list[str] = []
    for key in keys:
        out += ["properties", key]
    return out


def select_property(
    catalog: dict[str, Any], stream: str, path: str, selected: bool
) -> dict[str, Any]:
    """Select or deselect one (nested) property of a stream, in place."""
    metadata = entry(catalog, stream)["metadata"]
    target = crumb(path)
    for item in metadata:
        if item["breadcrumb"] == target:
            item["metadata"]["selected"] = selected
            return catalog
    metadata.append({"breadcrumb": target, "metadata": {"selected": selected}})
    return catalog


# What a run said ---------------------------------------------------------------------------


@dataclass
class Run:
    """A finished tap run (a CLI process or an in-process sync) and what it wrote.

    `stdout` holds the Singer messages, `stderr` the log in the CLI's console format.
    In-process, `returncode` is 1 where the CLI would exit 1, and `error` is the exception.
    """

    returncode: int
    stdout: str
    stderr: str
    error: BaseException | None = None

    @cached_property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def of(self, kind: str, stream: str | None = None) -> list[dict[str, Any]]:
        """Messages of one type (RECORD, SCHEMA, ...), of one stream if given."""
        return [
            m
            for m in self.messages
            if m["type"] == kind and (stream is None or m.get("stream") == stream)
        ]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.of("RECORD", stream)]

    @cached_property
    def records_by_stream(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for message in self.of("RECORD"):
            out.setdefault(message["stream"], []).append(message["record"])
        return out

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.of("STATE")]

    @property
    def schemas(self) -> dict[str, dict[str, Any]]:
        return {m["stream"]: m["schema"] for m in self.of("SCHEMA")}

    @property
    def key_properties(self) -> dict[str, list[str]]:
        return {m["stream"]: m["key_properties"] for m in self.of("SCHEMA")}

    @property
    def streams(self) -> set[str]:
        """Streams that sent a SCHEMA message."""
        return {m["stream"] for m in self.of("SCHEMA")}

    def lines(self, level: str) -> list[str]:
        return [line for line in self.stderr.splitlines() if f"| {level} " in line]

    @property
    def warnings(self) -> list[str]:
        return self.lines("WARNING")

    @property
    def errors(self) -> list[str]:
        return self.lines("ERROR")

    def said(self, *phrases: str, level: str = "WARNING") -> list[str]:
        """Log lines of `level` containing every phrase."""
        return [line for line in self.lines(level) if all(p in line for p in phrases)]


def keyed(run: Run) -> tuple[Keyed, Counter[str]]:
    """Records per stream by primary key (last one wins), and duplicate keys per stream."""
    keys = run.key_properties
    out: Keyed = {stream: {} for stream in keys}
    duplicates: Counter[str] = Counter()
    for message in run.of("RECORD"):
        stream, record = message["stream"], message["record"]
        key = tuple(json.dumps(record.get(k), sort_keys=True) for k in keys[stream])
        if key in out[stream]:
            duplicates[stream] += 1
        out[stream][key] = record
    return out, duplicates


# Running the tap in this process -----------------------------------------------------------


class CapturingWriter(MsgSpecWriter):
    """The tap's own message writer, writing its JSON lines to memory instead of stdout."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def write_message(self, message: Any) -> None:
        line = bytes(self.format_message(message)).decode()
        with self._lock:
            self.lines.append(line)


class _LogCapture(logging.Handler):
    """Every log record of the run, formatted like the CLI's stderr."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(ConsoleFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def _captured() -> Iterator[tuple[CapturingWriter, _LogCapture]]:
    """The tap's messages and log for the duration of the block (INFO and up)."""
    writer, handler = CapturingWriter(), _LogCapture()
    root, tap_logger = logging.getLogger(), logging.getLogger(TapHibob.name)
    level = tap_logger.level
    root.addHandler(handler)
    tap_logger.setLevel(logging.INFO)
    try:
        yield writer, handler
    finally:
        root.removeHandler(handler)
        tap_logger.setLevel(level)


def sync(
    config: Mapping[str, Any],
    catalog: Mapping[str, Any] | None = None,
    state: Mapping[str, Any] | None = None,
    *,
    check: bool = True,
) -> Run:
    """One sync in this process, as `tap-hibob --config --catalog --state` would run it.

    Failures the CLI turns into one ERROR line and exit 1 (the tap's own errors, and HiBob
    still failing after the retries) give returncode 1 here; anything else is a bug and
    propagates. With `check`, a failed run fails the test with the end of its log.
    """
    error: BaseException | None = None
    with _captured() as (writer, log):
        try:
            tap = TapHibob(
                config=dict(config),
                catalog=copy.deepcopy(dict(catalog)) if catalog is not None else None,
                state=copy.deepcopy(dict(state)) if state is not None else None,
                parse_env_config=False,
                message_writer=writer,
            )
            try:
                tap.sync_all()
            finally:
                tap.client.close()
        except (HibobError, RetriableAPIError, requests.exceptions.RequestException) as exc:
            logging.getLogger(TapHibob.name).error("%s", exc)
            error = exc
    run = Run(1 if error else 0, "".join(writer.lines), "\n".join(log.lines), error)
    if check:
        assert run.returncode == 0, run.stderr[-3000:]
    return run


# Running the real command ------------------------------------------------------------------


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> Run:
    """`python -m tap_hibob <args>` in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "tap_hibob", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def _cli_args(tmp_path: Path, config: Mapping[str, Any], state: Any, catalog: Any) -> list[str]:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    argv = ["--config", str(config_path)]
    for flag, value, name in (
        ("--state", state, "state.json"),
        ("--catalog", catalog, "catalog.json"),
    ):
        if value is not None:
            path = tmp_path / name
            path.write_text(value if isinstance(value, str) else json.dumps(value))
            argv += [flag, str(path)]
    return argv


def run_tap(
    tmp_path: Path,
    config: Mapping[str, Any],
    *args: str,
    state: Any = None,
    catalog: Any = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> Run:
    """The real `tap-hibob` CLI with config, state and catalog files, as Meltano runs it.

    `state` and `catalog` may be objects (written as JSON) or raw text.
    """
    argv = _cli_args(tmp_path, config, state, catalog)
    return run_cli(*argv, *args, env=env, timeout=timeout)


# Kill and resume ---------------------------------------------------------------------------


class Gate:
    """Holds the n-th request matching `match` open (in the fake) until released."""

    def __init__(self, fake: FakeHibob, match: Callable[[Request], bool], nth: int = 1) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        self._match, self._nth, self._seen = match, nth, 0
        self._lock = threading.Lock()
        for route in fake.routes:
            route.handler = self._wrap(route.handler)

    def _wrap(self, handler: Any) -> Any:
        def wrapped(app: FakeHibob, request: Request, match: Any) -> Reply:
            if self._match(request):
                with self._lock:
                    self._seen += 1
                    hold = self._seen == self._nth
                if hold:
                    self.reached.set()
                    self.released.wait(timeout=120)
            return handler(app, request, match)

        return wrapped


def run_until(
    tmp_path: Path,
    config: Mapping[str, Any],
    catalog: Mapping[str, Any],
    until: Callable[[list[dict[str, Any]]], bool],
    *,
    gate: Gate | None = None,
    sig: int = signal.SIGKILL,
    state: Any = None,
    timeout: float = 120,
) -> Run:
    """Start the real CLI and send it `sig` (SIGKILL by default) as soon as its output so far
    satisfies `until` and, with a gate, the fake holds the gate's request: a kill at a
    chosen, deterministic point. Returns everything it wrote."""
    argv = [sys.executable, "-m", "tap_hibob", *_cli_args(tmp_path, config, state, catalog)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    err: list[str] = []
    messages: list[dict[str, Any]] = []
    ready = threading.Event()

    def read_stdout() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            out.append(line)
            if line.startswith("{"):
                messages.append(json.loads(line))
                if not ready.is_set() and until(messages):
                    ready.set()
        ready.set()  # the process ended: stop waiting (the caller finds out below)

    # Read both pipes all along, so a full pipe never stalls the tap before the kill point.
    readers = [
        threading.Thread(target=read_stdout),
        threading.Thread(target=lambda: err.extend(proc.stderr)),  # type: ignore[arg-type]
    ]
    for reader in readers:
        reader.start()
    try:
        reached = ready.wait(timeout) and (gate is None or gate.reached.wait(timeout))
        assert reached and proc.poll() is None, (
            "the run ended or stalled before the kill point:\n" + "".join(err)[-3000:]
        )
        os.kill(proc.pid, sig)
    finally:
        if gate is not None:
            gate.released.set()
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for reader in readers:
                reader.join(timeout=60)
    return Run(proc.returncode, "".join(out), "".join(err))


def committed(run: Run) -> tuple[Run, dict[str, Any] | None]:
    """What a loader has committed of a killed run (up to its last STATE), and that STATE."""
    lines = run.stdout.splitlines()
    last = max((i for i, line in enumerate(lines) if '"type":"STATE"' in line), default=-1)
    if last < 0:
        return Run(0, "", ""), None
    kept = "\n".join(lines[: last + 1])
    return Run(0, kept, ""), json.loads(lines[last])["value"]


# The fake, adjusted per test ---------------------------------------------------------------


def transform_replies(
    fake: FakeHibob,
    change: Callable[[Request, Any], Any],
    *,
    only: Callable[[Request], bool] = lambda _: True,
) -> None:
    """Rewrite the JSON of every 200 the fake's routes send (the fake runs in this process)."""

    def wrap(handler: Any) -> Any:
        def wrapped(app: FakeHibob, request: Request, match: Any) -> Reply:
            reply: Reply = handler(app, request, match)
            if reply.status == 200 and "json" in reply.content_type and only(request):
                payload = change(request, json.loads(reply.body))
                reply.body = json.dumps(payload).encode()
            return reply

        return wrapped

    for route in fake.routes:
        route.handler = wrap(route.handler)


def replace_route(
    fake: FakeHibob, endpoint: str, handler: Callable[[FakeHibob, Request, Any], Reply]
) -> Callable[[FakeHibob, Request, Any], Reply]:
    """Answer one of the fake's endpoints with `handler`; returns the original handler."""
    [route] = [route for route in fake.routes if route.endpoint == endpoint]
    original = route.handler
    route.handler = handler
    return original


QUICK_FAULTS = ("error", "reset", "truncate")


class ScriptedFaults(FakeHibob):
    """Random faults as configured, plus scripted ones: the first request to each endpoint
    fails, and so does its first request that carries a page cursor (a retried page 2 must
    resend the same cursor and must not emit page 2 twice).

    The first scripted fault is a stall; then 5xx, reset and truncation rotate in the order
    the tap meets the endpoints, so a full sync puts each on several endpoints.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._current = threading.local()
        self.scripted: dict[tuple[str, bool], str] = {}

    def handle(self, request: Request) -> Reply | None:
        route, _ = self._match(request)
        endpoint = route.endpoint if route else "unknown"
        self._current.key = (endpoint, "cursor" in request.query)
        return super().handle(request)

    def _roll_fault(self) -> str:
        rolled = super()._roll_fault()  # always roll, so the seeded sequence stays stable
        key = self._current.key
        with self._lock:
            if key not in self.scripted:
                # One scripted stall is enough (each costs a full request_timeout).
                n = len(self.scripted)
                self.scripted[key] = "stall" if n == 0 else QUICK_FAULTS[(n - 1) % 3]
                return self.scripted[key]
        return rolled


_PER_EMPLOYEE = re.compile(r"/(\d{6,}|\d{1,5})(?=/|$)")


def request_counts(log: Iterable[Request]) -> Counter[str]:
    """Requests per `METHOD path`, employee ids in paths shown as {id}."""
    return Counter(f"{r.method} {_PER_EMPLOYEE.sub('/{id}', r.path)}" for r in log)


# A clock for pacing tests ------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# The employees stream ----------------------------------------------------------------------

#: Fields of the fake tenant whose values change daily without an HR change (issue 13):
#: not selected by default. Spelled out here, not taken from the tap, so a drift shows.
VOLATILE_FIELDS = frozenset(
    {
        "root.avatarUrl",
        "root.coverImageUrl",
        "peopleAnalytics.lowRetentionRiskIndicator",
        "peopleAnalytics.riskCounter",
        "peopleAnalytics.lastCalculated",
        "work.tenureDuration",
        "work.tenureYears",
        "personal.age",
        "payroll.timeSinceLastSalaryChange",
        "internal.periodSinceTermination",
    }
)


def default_employee_fields(fake: FakeHibob) -> dict[str, tuple[str, ...]]:
    """Field id -> record path of what a default `employees` sync returns with the "all"
    profile: every field but SSNs, volatile fields and actual payments (another route)."""
    return {
        s.id: s.path
        for s in field_specs(fake.tenant)
        if s.type != "ssn" and s.id not in VOLATILE_FIELDS and not s.id.startswith("actualPayment.")
    }


def searches(fake: FakeHibob) -> list[Request]:
    """The people-search requests the fake received."""
    return fake.requests_to("/v1/people/search")


# Records -----------------------------------------------------------------------------------

_CHECKER = jsonschema.FormatChecker()


@_CHECKER.checks("date-time", raises=ValueError)
def _is_rfc3339_utc(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    offset = parsed.utcoffset()
    return offset is not None and offset.total_seconds() == 0


def assert_conforms(run: Run, stream: str) -> list[dict[str, Any]]:
    """Every record of `stream` validates against the SCHEMA message the tap sent for it
    (date-times in UTC); returns the records, which must not be none."""
    [schema] = [m["schema"] for m in run.of("SCHEMA", stream)]
    validator = jsonschema.Draft202012Validator(schema, format_checker=_CHECKER)
    records = run.records(stream)
    assert records, f"{stream}: no records"
    for record in records:
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, (stream, [e.message for e in errors[:3]])
    return records


def assert_unique(records: list[dict[str, Any]], keys: Iterable[str]) -> None:
    """Each record has its whole primary key, and no key repeats."""
    names = tuple(keys)
    counts = Counter(tuple(r.get(k) for k in names) for r in records)
    assert all(None not in key for key in counts), "a record without its primary key"
    duplicates = [key for key, n in counts.items() if n > 1]
    assert not duplicates, duplicates[:5]


def value_at(record: Mapping[str, Any], path: Iterable[str]) -> tuple[bool, Any]:
    """(present, value) of a nested property; a null parent counts as present, no value."""
    node: Any = record
    for key in path:
        if node is None:
            return True, None
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node
