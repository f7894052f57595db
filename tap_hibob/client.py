"""The one HTTP layer every stream and the doctor use.

It owns what HiBob requires of a client: HTTP Basic with the service user, JSON only where
there is a body, pacing below each endpoint's per-minute limit and below what HiBob's
X-RateLimit-* headers say is left, waiting for X-RateLimit-Reset on 429, retrying transient
failures, and never retrying 401/403 (HiBob's firewall blocks a credential after 50 such
answers in 10 seconds). Errors carry the stream, endpoint, status and permission, never a
response body (bodies hold employee data). It is thread-safe: streams read ahead share it.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import backoff
import msgspec
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_hibob.endpoints import Endpoint
from tap_hibob.errors import (
    HibobAPIError,
    HibobAuthError,
    HibobPermissionError,
    HibobWrongPathError,
)
from tap_hibob.settings import PRODUCTION_URL, Settings

MAX_RATE_LIMIT_WAIT_SECONDS = 300.0
#: Margin after X-RateLimit-Reset before sending again (clock skew between us and HiBob).
RESET_MARGIN_SECONDS = 0.5
_DECODER = msgspec.json.Decoder()
_ERROR_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,120}$")
# A path segment that identifies a person: a long numeric id or anything with an @.
_PERSON_SEGMENT = re.compile(r"/(?:\d{6,}|[^/]*@[^/]*)(?=/|$)")


class StoppedError(Exception):
    """The tap is shutting down: a request of a read-ahead stream was abandoned."""


class Pacer:
    """The send budget of one HiBob endpoint.

    Two limits apply, whichever is tighter: never more than `limit` sends in any `window`
    seconds (HiBob's published or default limit, lowered for the rest of the run when HiBob's
    X-RateLimit-Limit says less), and never a send when HiBob's X-RateLimit-Remaining,
    minus what is in flight, says nothing is left before X-RateLimit-Reset (another
    integration may share the service user's budget). Clocks and sleep are injectable so
    tests run on a fake clock.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._remaining: int | None = None  # HiBob's count, minus our sends since
        self._reset_at: float | None = None  # wall-clock epoch of HiBob's window reset
        self._in_flight = 0
        self.waited = 0.0
        self.lowered_to: int | None = None

    def wait(self) -> None:
        """Block until one more request fits both budgets, then count it as sent."""
        while True:
            with self._lock:
                delay = self._delay()
                if delay <= 0:
                    self._sent.append(self._clock())
                    self._in_flight += 1
                    if self._remaining is not None:
                        self._remaining -= 1
                    return
            self.waited += delay
            self._sleep(delay)

    def _delay(self) -> float:
        now = self._clock()
        while self._sent and self._sent[0] + self.window <= now:
            self._sent.popleft()
        delay = 0.0
        if len(self._sent) >= self.limit:
            delay = self._sent[0] + self.window - now
        if self._reset_at is not None:
            until_reset = self._reset_at - self._wall()
            if until_reset <= 0:
                self._remaining, self._reset_at = None, None
            elif self._remaining is not None and self._remaining <= 0:
                delay = max(delay, until_reset)
        return delay

    def done(self, headers: Mapping[str, str] | None) -> None:
        """A response arrived: learn what HiBob says about this endpoint's budget."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if not headers:
                return
            limit = _int(headers.get("X-RateLimit-Limit"))
            if limit is not None and 0 < limit < self.limit:
                self.limit = self.lowered_to = limit
            remaining = _int(headers.get("X-RateLimit-Remaining"))
            reset = _float(headers.get("X-RateLimit-Reset"))
            if remaining is None or reset is None:
                return
            # Requests sent after this one are not in HiBob's count yet.
            left = remaining - self._in_flight
            new_window = self._reset_at is None or reset > self._reset_at + 1
            if new_window or self._remaining is None:
                self._remaining = left
            else:
                self._remaining = min(self._remaining, left)
            self._reset_at = reset + RESET_MARGIN_SECONDS


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(str(value).strip()) if value is not None else None
    except ValueError:
        return None


@dataclass
class HibobResponse:
    """A validated HiBob answer: parsed JSON (or the raw body) plus its headers."""

    payload: Any
    headers: Mapping[str, str]
    status: int = 200
    content: bytes = b""


class _RateLimitedError(RetriableAPIError):
    """429 from HiBob; carries how long to wait."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class HibobClient:
    """Sessions, auth, pacing, retries and error mapping for HiBob's API."""

    def __init__(
        self,
        settings: Settings,
        logger: logging.Logger,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.base_url = settings.base_url + "/v1"
        self.logger = logger
        self.timeout = (10.0, float(settings.request_timeout))
        self.max_tries = settings.max_retries + 1
        self.window = settings.rate_limit_window_seconds
        self._clock = clock
        self._wall = wall
        self.stopping = threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        self._lock = threading.Lock()
        self._pacers: dict[str, Pacer] = {}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self.requests_by_endpoint: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        #: The first 401: after it, nothing more is sent (HiBob's firewall counts them).
        self._rejected: HibobAuthError | None = None

    # Public API ---------------------------------------------------------------------

    def get(
        self,
        endpoint: Endpoint,
        *,
        stream: str | None = None,
        params: Mapping[str, Any] | None = None,
        path: Mapping[str, object] | None = None,
        raw: bool = False,
    ) -> HibobResponse:
        """GET an endpoint (no body, so no Content-Type); `path` fills its placeholders."""
        return self._call(endpoint, stream=stream, params=params, raw=raw, ids=path or {})

    def get_if_found(
        self,
        endpoint: Endpoint,
        *,
        stream: str | None = None,
        params: Mapping[str, Any] | None = None,
        path: Mapping[str, object] | None = None,
    ) -> Any:
        """The payload, or None when HiBob answers 404 (an employee or policy type that
        disappeared since it was listed)."""
        try:
            return self.get(endpoint, stream=stream, params=params, path=path).payload
        except HibobAPIError as exc:
            if exc.status == 404:
                return None
            raise

    def post(
        self,
        endpoint: Endpoint,
        body: Mapping[str, Any],
        *,
        stream: str | None = None,
        path: Mapping[str, object] | None = None,
    ) -> HibobResponse:
        """POST a JSON body (HiBob's searches are reads, so they are safe to retry)."""
        return self._call(endpoint, stream=stream, body=body, ids=path or {})

    def pacer(self, endpoint: Endpoint) -> Pacer:
        """The pacer of one endpoint: its published limit, or the configured default."""
        with self._lock:
            if endpoint.key not in self._pacers:
                limit = endpoint.limit or self.settings.default_rate_limit
                # A 2% longer window absorbs clock and network jitter at HiBob's side.
                self._pacers[endpoint.key] = Pacer(
                    limit, self.window * 1.02, self._clock, self._sleep, self._wall
                )
            return self._pacers[endpoint.key]

    def pacers(self) -> dict[str, Pacer]:
        with self._lock:
            return dict(self._pacers)

    @property
    def total_requests(self) -> int:
        """Requests sent so far, retries included."""
        with self._lock:
            return sum(self.requests_by_endpoint.values())

    def stop(self) -> None:
        """Abandon waits and retries of requests still running in other threads."""
        self.stopping.set()

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    # Internals ----------------------------------------------------------------------

    def _interruptible_sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise StoppedError

    @property
    def _session(self) -> requests.Session:
        # requests.Session is not documented as thread-safe: one per thread.
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = (self.settings.service_user_id, self.settings.service_user_token)
            session.headers.update(
                {"Accept": "application/json", "User-Agent": "tap-hibob (Meltano Singer SDK)"}
            )
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _call(
        self,
        endpoint: Endpoint,
        *,
        stream: str | None,
        ids: Mapping[str, object],
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        raw: bool = False,
    ) -> HibobResponse:
        filled = endpoint.url(**ids)
        url = self.base_url + filled
        where = f"{endpoint.method} /v1{public_path(filled)}"
        pacer = self.pacer(endpoint)

        def attempt() -> HibobResponse:
            if self.stopping.is_set():
                raise StoppedError
            if self._rejected is not None:
                raise self._rejected
            pacer.wait()
            with self._lock:
                self.requests_by_endpoint[endpoint.key] += 1
            headers: Mapping[str, str] | None = None
            try:
                response = self._session.request(
                    endpoint.method, url, params=params, json=body, timeout=self.timeout
                )
                headers = response.headers
            finally:
                pacer.done(headers)
            with self._lock:
                self.statuses[response.status_code] += 1
            return self._validate(response, endpoint, where=where, stream=stream, raw=raw)

        retrying = backoff.on_exception(
            self._wait_generator,
            (
                RetriableAPIError,
                requests.exceptions.Timeout,
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
                ConnectionResetError,
            ),
            max_tries=self.max_tries,
            jitter=None,
            on_backoff=lambda details: self._log_retry(details, where),
            on_giveup=lambda details: self._log_giveup(details, where),
            logger=None,
        )(attempt)
        return retrying()

    def _validate(
        self,
        response: requests.Response,
        endpoint: Endpoint,
        *,
        where: str,
        stream: str | None,
        raw: bool,
    ) -> HibobResponse:
        status = response.status_code
        if status == 401:
            self._rejected = HibobAuthError(
                f"HiBob rejected the service user ID/token (401 on {where}). Check "
                "service_user_id and service_user_token, and that the service user still "
                "exists in HiBob (Settings > Integrations > Service users).",
                status=401,
            )
            raise self._rejected
        if status == 403:
            raise permission_error(endpoint, where, stream)
        if status == 429:
            wait = _rate_limit_wait(response.headers, self._wall())
            raise _RateLimitedError(f"HiBob rate limit reached on {where} (429)", wait)
        if status >= 500:
            raise RetriableAPIError(f"HiBob server error {status} on {where}")
        if status >= 400:
            key, detail = _error_key(response)
            raise HibobAPIError(
                f"HiBob refused {where} with {status}{key}", status=status, detail=detail
            )
        content_type = response.headers.get("Content-Type", "")
        body = response.content
        if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
            raise HibobWrongPathError(
                f"HiBob answered {where} with an HTML page, not JSON: the path or api_url is "
                f"wrong (api_url is the API host, e.g. {PRODUCTION_URL}, without /v1)",
                status=status,
            )
        if raw:
            return HibobResponse(None, response.headers, status, body)
        if not body.strip() and status not in (202, 204):
            # An empty 200 is a cut-off answer, not "no data": read as empty, a full-table
            # stream would emit nothing and ACTIVATE_VERSION would empty the loader's table.
            raise RetriableAPIError(f"HiBob sent an empty body for {where}")
        try:
            payload = _decode(body) if body.strip() else None
        except ValueError:
            # Truncated or garbled body: transient on HiBob's side, so retry.
            raise RetriableAPIError(f"HiBob sent an incomplete JSON body for {where}") from None
        return HibobResponse(payload, response.headers, status, b"")

    def _wait_generator(self) -> Generator[float, Any, None]:
        exc = yield 0.0  # primed by backoff with send(None)
        attempt = 0
        while True:
            attempt += 1
            if self.stopping.is_set():
                raise StoppedError
            if isinstance(exc, _RateLimitedError):
                wait = exc.wait
            else:
                base = min(self.settings.backoff_max_seconds, 2.0**attempt)
                wait = base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            exc = yield wait

    def _log_retry(self, details: Any, where: str) -> None:
        exc = details.get("exception")
        reason = str(exc) if isinstance(exc, RetriableAPIError) else type(exc).__name__
        self.logger.warning(
            "Retrying %s in %.1f s (attempt %d of %d): %s",
            where,
            details.get("wait", 0.0),
            details.get("tries", 0),
            self.max_tries,
            reason,
        )

    def _log_giveup(self, details: Any, where: str) -> None:
        self.logger.error("Giving up on %s after %d attempts", where, details.get("tries", 0))


def permission_error(endpoint: Endpoint, where: str, stream: str | None) -> HibobPermissionError:
    """The 403 message: which stream, which endpoint, and the permission to add."""
    message = f"HiBob denied {where} (403)"
    if stream:
        message += f" for stream '{stream}'"
    if endpoint.permission:
        message += (
            f". Add this permission to the service user's permission group: {endpoint.permission}"
        )
        if endpoint.note:
            message += f" ({endpoint.note})"
    else:
        message += ". The service user may not be in any permission group yet"
    message += ", or deselect the stream."
    return HibobPermissionError(
        message,
        stream=stream,
        endpoint=where,
        permission=endpoint.permission or "unknown",
        note=endpoint.note,
    )


def public_path(path: str) -> str:
    """The path as logs may show it: employee ids and emails in it become {id}.

    Error and retry lines end up in schedulers' logs; the path template is enough to act on.
    """
    return _PERSON_SEGMENT.sub("/{id}", path)


def _decode(body: bytes) -> Any:
    """Parse JSON with msgspec (faster); json.loads decides the odd cases msgspec refuses
    (NaN, 1e400, lone surrogates), so what counts as valid JSON is unchanged."""
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError:
        return json.loads(body)


def _rate_limit_wait(headers: Mapping[str, str], now: float) -> float:
    """Seconds until HiBob's window resets: X-RateLimit-Reset (epoch), else Retry-After."""
    wait: float | None = None
    reset = _float(headers.get("X-RateLimit-Reset"))
    if reset is not None:
        wait = reset - now
    retry_after = headers.get("Retry-After")
    if wait is None and retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            try:
                wait = parsedate_to_datetime(retry_after).timestamp() - now
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        return 5.0
    return min(MAX_RATE_LIMIT_WAIT_SECONDS, max(0.0, wait) + RESET_MARGIN_SECONDS)


def _error_key(response: requests.Response) -> tuple[str, str]:
    """(" (key)" for messages, "key message" for the tap's decisions).

    Only HiBob's machine error key is ever shown, never its free-text message.
    """
    try:
        payload = response.json()
    except ValueError:
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    key = payload.get("key")
    shown = f" ({key})" if isinstance(key, str) and _ERROR_KEY.match(key) else ""
    detail = " ".join(str(payload.get(k) or "") for k in ("key", "error", "message"))
    return shown, detail.strip()
