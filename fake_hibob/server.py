"""A fake HiBob API on 127.0.0.1, no friendlier than the real one.

Core behaviour lives here: HTTP Basic auth, per-endpoint rate limits in fixed windows with
X-RateLimit-* headers and 429s (optionally shared between keys, or partly spent by another
client of the same service user), the web app's HTML 200 for unknown paths, 400 for a GET sent
with Content-Type, fault injection (5xx, connection resets, truncated bodies, stalls, bursts
of 429) and a request log tests assert on. Each HiBob domain registers its routes from its
own module (people, tables, custom_tables, payments, timeoff, company).
"""

from __future__ import annotations

import base64
import importlib
import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_hibob.options import FakeOptions
from fake_hibob.profiles import PROFILES, Profile
from fake_hibob.tenant import Employee, Tenant

SERVICE_USER_ID = "SERVICE-USER-FAKE-0001"
SERVICE_USER_TOKEN = "fake-token-DO-NOT-LEAK-5f3a9c1e7b2d"
# Bound at import: tests patch time.sleep to skip the tap's waits, not the fake's.
_sleep = time.sleep
DOMAINS = ("people", "tables", "custom_tables", "payments", "timeoff", "company", "reports")
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Bob</title></head><body>Bob</body></html>"

# Limits the fake enforces per endpoint key, per window. HiBob's published ones; the rest
# are not published, so the fake enforces the tap's default (50) to stay no friendlier.
LIMITS = {
    "people_search": 50,
    "payroll_history": 20,
    "timeoff_balance": 50,
    "timeoff_policies": 50,
}
DEFAULT_LIMIT = 50


@dataclass
class Faults:
    """Random failures, decided by a seeded generator so runs repeat."""

    error_rate: float = 0.0
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 10.0
    burst_429: int = 0  # answer the next N requests with 429
    burst_reset_seconds: float = 2.0
    seed: int = 1


@dataclass
class Request:
    """What the handler saw; also the entry in the request log."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    endpoint: str = ""
    status: int = 0
    fault: str = ""
    #: When the request arrived and when its answer was ready (time.monotonic()): tests
    #: check that the tap reads endpoints concurrently.
    started: float = 0.0
    finished: float = 0.0

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers or {})


def error_reply(status: int, key: str, message: str) -> Reply:
    return json_reply({"key": key, "error": message}, status)


def forbidden() -> Reply:
    return error_reply(403, "forbidden", "Forbidden")


Handler = Callable[["FakeHibob", Request, "re.Match[str]"], Reply]
Accept = Callable[["FakeHibob", "re.Match[str]"], bool]


@dataclass
class Route:
    """`endpoint` is the rate-limit key; `{group}` in it is filled from the path match.
    A route whose `accept` says no is not there: the path falls through to the web app."""

    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: Handler
    accept: Accept | None = None

    def key(self, match: re.Match[str]) -> str:
        return self.endpoint.format(**match.groupdict()) if "{" in self.endpoint else self.endpoint


class FakeHibob:
    """The fake API. Use as a context manager; `url` is the api_url to configure."""

    def __init__(
        self,
        tenant: Tenant | None = None,
        *,
        employees: int = 20,
        profile: str | Profile = "all",
        window_seconds: float = 60.0,
        limits: dict[str, int] | None = None,
        latency: float = 0.0,
        faults: Faults | None = None,
        user_id: str = SERVICE_USER_ID,
        token: str = SERVICE_USER_TOKEN,
        port: int = 0,
        options: FakeOptions | dict[str, Any] | None = None,
    ) -> None:
        self.tenant = tenant or Tenant.generate(employees)
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.window_seconds = window_seconds
        self.limits = {**LIMITS, **(limits or {})}
        self.latency = latency
        self.faults = faults or Faults()
        self.options = FakeOptions.of(options)
        self._auth = "Basic " + base64.b64encode(f"{user_id}:{token}".encode()).decode()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self.log: list[Request] = []
        self.routes: list[Route] = []
        for domain in DOMAINS:
            importlib.import_module(f"fake_hibob.{domain}").register(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # Registration and state -----------------------------------------------------------

    def route(
        self, method: str, pattern: str, endpoint: str, accept: Accept | None = None
    ) -> Callable[[Handler], Handler]:
        """Register a handler for `method` on paths matching `pattern` (anchored)."""

        def add(handler: Handler) -> Handler:
            route = Route(method, re.compile(f"^{pattern}$"), endpoint, handler, accept)
            self.routes.append(route)
            return handler

        return add

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def visible_employees(self) -> list[Employee]:
        """Employees inside the service user's access scope (its lifecycle statuses)."""
        statuses = self.profile.lifecycle_statuses
        return [e for e in self.tenant.employees if e.lifecycle in statuses]

    def visible_ids(self) -> frozenset[str]:
        """Ids of `visible_employees()`, cached: per-employee routes check one id each."""
        key = ("visible_ids", self.profile.lifecycle_statuses, len(self.tenant.employees))
        ids = self.tenant.data.get(key)
        if ids is None:
            ids = self.tenant.data[key] = frozenset(e.id for e in self.visible_employees())
        return ids  # type: ignore[no-any-return]

    def requests_to(self, path_prefix: str = "", status: int | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.log
                if r.path.startswith(path_prefix) and (status is None or r.status == status)
            ]

    def start(self) -> FakeHibob:
        # A short poll interval: stop() waits for the serving loop to notice, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeHibob:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # Request handling -----------------------------------------------------------------

    def handle(self, request: Request) -> Reply | None:
        """The reply for one request; None means drop the connection (reset)."""
        if self.latency:
            _sleep(self.latency)
        route, match = self._match(request)
        endpoint = route.key(match) if route is not None and match is not None else "unknown"
        request.endpoint = endpoint
        if request.headers.get("authorization") != self._auth:
            reply = error_reply(401, "unauthorized", "Unauthorized")
            if route is not None:
                reply.headers.update(self._window_headers(endpoint))
            return reply
        if route is None or match is None:
            return Reply(200, HTML_PAGE, "text/html; charset=utf-8")
        if request.method == "GET" and "content-type" in request.headers:
            reply = Reply(400, HTML_PAGE, "text/html; charset=utf-8")
            reply.headers.update(self._window_headers(endpoint))
            return reply
        limited = self._rate_limit(endpoint)
        if limited is not None:
            return limited
        fault = self._roll_fault()
        request.fault = fault
        if fault == "reset":
            return None
        if fault == "error":
            status = self._rng.choice([500, 502, 503, 504])
            reply = error_reply(status, "error", "Server error")
        else:
            if fault == "stall":
                _sleep(self.faults.stall_seconds)
            reply = route.handler(self, request, match)
        reply.headers.update(self._window_headers(endpoint))
        if fault == "truncate" and reply.status == 200 and len(reply.body) > 2:
            reply.body = reply.body[: len(reply.body) // 2]
        return reply

    def _match(self, request: Request) -> tuple[Route | None, re.Match[str] | None]:
        for route in self.routes:
            if route.method != request.method or not (m := route.pattern.match(request.path)):
                continue
            if route.accept is None or route.accept(self, m):
                return route, m
        return None, None

    # Rate limits: fixed windows per bucket. A bucket is an endpoint key, or "shared" for
    # the keys in `options.shared_bucket` (a tenant limiting, say, all bulk reads together).
    # Another client of the same service user spends `options.foreign_usage[bucket]`
    # requests at the start of every window (docs/development/hibob-api.md, General rules).

    def _bucket(self, endpoint: str) -> str:
        shared = self.options.shared_bucket
        if endpoint in shared or ("bulk" in shared and endpoint.startswith("bulk_")):
            return "shared"
        return endpoint

    def _limit(self, endpoint: str) -> int:
        if self._bucket(endpoint) == "shared" and "shared" in self.limits:
            return self.limits["shared"]
        return self.limits.get(endpoint, DEFAULT_LIMIT)

    def _window(self) -> int:
        return int(time.time() // self.window_seconds)

    def _used(self, bucket: str) -> tuple[int, int]:
        """(window, requests used in it) of one bucket; call with the lock held."""
        window = self._window()
        stored = self._windows.get(bucket)
        if stored is None or stored[0] != window:
            stored = (window, max(0, int(self.options.foreign_usage.get(bucket, 0))))
            self._windows[bucket] = stored
        return stored

    def _headers(self, endpoint: str) -> dict[str, str]:
        """X-RateLimit-* of the endpoint's bucket; call with the lock held."""
        window, used = self._used(self._bucket(endpoint))
        reset = (window + 1) * self.window_seconds
        limit = self._limit(endpoint)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": f"{reset:.3f}".rstrip("0").rstrip("."),
        }

    def _window_headers(self, endpoint: str) -> dict[str, str]:
        with self._lock:
            return self._headers(endpoint)

    def _rate_limit(self, endpoint: str) -> Reply | None:
        with self._lock:
            if self.faults.burst_429 > 0:
                self.faults.burst_429 -= 1
                reset = time.time() + self.faults.burst_reset_seconds
                headers = {**self._headers(endpoint), "X-RateLimit-Remaining": "0"}
                return error_reply_with(429, {**headers, "X-RateLimit-Reset": f"{reset:.3f}"})
            bucket = self._bucket(endpoint)
            window, used = self._used(bucket)
            used += 1
            self._windows[bucket] = (window, used)
            if used > self._limit(endpoint):
                return error_reply_with(429, self._headers(endpoint))
        return None

    def _roll_fault(self) -> str:
        f = self.faults
        with self._lock:
            roll = self._rng.random()
        for name, rate in (
            ("error", f.error_rate),
            ("reset", f.reset_rate),
            ("truncate", f.truncate_rate),
            ("stall", f.stall_rate),
        ):
            if roll < rate:
                return name
            roll -= rate
        return ""

    def record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)


def error_reply_with(status: int, headers: dict[str, str]) -> Reply:
    reply = error_reply(status, "too.many.requests", "Too many requests")
    reply.headers.update(headers)
    return reply


def _handler_class(app: FakeHibob) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus
            # delayed ACKs add ~40 ms to every keep-alive request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the request log is the record."""

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                body,
                {k.lower(): v for k, v in self.headers.items()},
            )
            request.started = time.monotonic()
            reply = app.handle(request)
            request.finished = time.monotonic()
            request.status = reply.status if reply else 0
            app.record(request)
            if reply is None:
                # An abrupt close with RST, like a dropped connection.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = _serve  # noqa: N815
        do_POST = _serve  # noqa: N815

    return _Handler
