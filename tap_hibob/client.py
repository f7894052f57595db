"""The one HTTP layer every stream and the doctor use.

It owns what HiBob requires of a client: HTTP Basic with the service user, JSON only where
there is a body, pacing below each endpoint's per-minute limit, waiting for
X-RateLimit-Reset on 429, retrying transient failures, and never retrying 401/403 (HiBob's
firewall blocks a credential after 50 such answers in 10 seconds). Errors carry the stream,
endpoint, status and permission, never a response body (bodies hold employee data).
"""

from __future__ import annotations

import json
import logging
import random
import re
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

from tap_hibob import permissions, settings
from tap_hibob.errors import (
    HibobAPIError,
    HibobAuthError,
    HibobPermissionError,
    HibobWrongPathError,
)

# HiBob's published per-minute limits, by the endpoint keys streams pass in.
PUBLISHED_LIMITS = {
    "people_search": 50,
    "payroll_history": 20,
    "timeoff_balance": 50,
    "timeoff_policies": 50,
}
MAX_RATE_LIMIT_WAIT_SECONDS = 300.0
_DECODER = msgspec.json.Decoder()
_ERROR_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,120}$")
# A path segment that identifies a person: a long numeric id or anything with an @.
_PERSON_SEGMENT = re.compile(r"/(?:\d{6,}|[^/]*@[^/]*)(?=/|$)")


class Pacer:
    """Sliding-window request log: never more than `limit` sends in any `window` seconds.

    Small on purpose (pyrate-limiter 4 runs a leak thread per bucket and binds its clock
    at import); the clock and sleep are injectable so tests run on a fake clock.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque(maxlen=limit)
        self.waited = 0.0

    def wait(self) -> None:
        """Block until one more request fits in the window, then record it."""
        if len(self._sent) == self.limit:
            delay = self._sent[0] + self.window - self._clock()
            if delay > 0:
                self.waited += delay
                self._sleep(delay)
        self._sent.append(self._clock())


@dataclass
class HibobResponse:
    """A validated HiBob answer: parsed JSON plus the headers streams may need."""

    payload: Any
    headers: Mapping[str, str]


class _RateLimitedError(RetriableAPIError):
    """429 from HiBob; carries how long to wait."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class HibobClient:
    """Session, auth, pacing, retries and error mapping for HiBob's API."""

    def __init__(
        self,
        config: Mapping[str, Any],
        logger: logging.Logger,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = settings.api_base(config) + "/v1"
        self.logger = logger
        self.timeout = (10.0, float(config.get("request_timeout") or 60))
        self.max_tries = int(config.get("max_retries", 8)) + 1
        self.backoff_max = float(
            config.get(settings.BACKOFF_MAX_KEY) or settings.DEFAULT_BACKOFF_MAX_SECONDS
        )
        self.window = float(config.get("rate_limit_window_seconds") or 60)
        self.default_limit = int(config.get("default_rate_limit") or 50)
        self._clock = clock
        self._sleep = sleep
        self._pacers: dict[str, Pacer] = {}
        self.requests_by_endpoint: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.session = requests.Session()
        self.session.auth = (str(config["service_user_id"]), str(config["service_user_token"]))
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": "tap-hibob (Meltano Singer SDK)"}
        )

    # Public API ---------------------------------------------------------------------

    def get(
        self,
        path: str,
        *,
        endpoint: str,
        stream: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> HibobResponse:
        """GET a HiBob path (no body, so no Content-Type)."""
        return self._call("GET", path, endpoint=endpoint, stream=stream, params=params)

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        endpoint: str,
        stream: str | None = None,
    ) -> HibobResponse:
        """POST a JSON body (HiBob's searches are reads, so they are safe to retry)."""
        return self._call("POST", path, endpoint=endpoint, stream=stream, body=body)

    def pacer(self, endpoint: str) -> Pacer:
        """The pacer of one endpoint: its published limit, or the configured default."""
        if endpoint not in self._pacers:
            limit = PUBLISHED_LIMITS.get(endpoint, self.default_limit)
            # A 2% longer window absorbs clock and network jitter at HiBob's side.
            self._pacers[endpoint] = Pacer(limit, self.window * 1.02, self._clock, self._sleep)
        return self._pacers[endpoint]

    @property
    def total_requests(self) -> int:
        """Requests sent so far, retries included."""
        return sum(self.requests_by_endpoint.values())

    # Internals ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        stream: str | None,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> HibobResponse:
        url = self.base_url + path

        def attempt() -> HibobResponse:
            self.pacer(endpoint).wait()
            self.requests_by_endpoint[endpoint] += 1
            response = self.session.request(
                method, url, params=params, json=body, timeout=self.timeout
            )
            self.statuses[response.status_code] += 1
            return self._validate(response, method=method, path=path, stream=stream)

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
            on_backoff=lambda details: self._log_retry(details, method, path),
            on_giveup=lambda details: self._log_giveup(details, method, path),
            logger=None,
        )(attempt)
        return retrying()

    def _validate(
        self, response: requests.Response, *, method: str, path: str, stream: str | None
    ) -> HibobResponse:
        status = response.status_code
        where = f"{method} /v1{public_path(path)}"
        if status == 401:
            raise HibobAuthError(
                f"HiBob rejected the service user ID/token (401 on {where}). Check "
                "service_user_id and service_user_token, and that the service user still "
                "exists in HiBob (Settings > Integrations > Service users).",
                status=401,
            )
        if status == 403:
            raise self._permission_error(where, stream)
        if status == 429:
            wait = _rate_limit_wait(response.headers)
            raise _RateLimitedError(f"HiBob rate limit reached on {where} (429)", wait)
        if status >= 500:
            raise RetriableAPIError(f"HiBob server error {status} on {where}")
        if status >= 400:
            raise HibobAPIError(
                f"HiBob refused {where} with {status}{_error_key(response)}", status=status
            )
        content_type = response.headers.get("Content-Type", "")
        body = response.content
        if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
            raise HibobWrongPathError(
                f"HiBob answered {where} with an HTML page, not JSON: the path or api_url is "
                f"wrong (api_url is the API host, e.g. {settings.PRODUCTION_URL}, without /v1)",
                status=status,
            )
        if not body.strip() and status != 204:
            # An empty 200 is a cut-off answer, not "no data": read as empty, a full-table
            # stream would emit nothing and ACTIVATE_VERSION would empty the loader's table.
            raise RetriableAPIError(f"HiBob sent an empty body for {where}")
        try:
            payload = _decode(body) if body else None
        except ValueError:
            # Truncated or garbled body: transient on HiBob's side, so retry.
            raise RetriableAPIError(f"HiBob sent an incomplete JSON body for {where}") from None
        return HibobResponse(payload, response.headers)

    def _permission_error(self, where: str, stream: str | None) -> HibobPermissionError:
        access = permissions.STREAM_ACCESS.get(stream or "")
        permission = access.permission if access and access.permission else "unknown"
        message = f"HiBob denied {where} (403)"
        if stream:
            message += f" for stream '{stream}'"
        if access and access.permission:
            message += f". Add this permission to the service user's permission group: {permission}"
            if access.note:
                message += f" ({access.note})"
        else:
            message += ". The service user may not be in any permission group yet"
        message += ", or deselect the stream."
        return HibobPermissionError(message, stream=stream, endpoint=where, permission=permission)

    def _wait_generator(self) -> Generator[float, Any, None]:
        exc = yield 0.0  # primed by backoff with send(None)
        attempt = 0
        while True:
            attempt += 1
            if isinstance(exc, _RateLimitedError):
                wait = exc.wait
            else:
                base = min(self.backoff_max, 2.0**attempt)
                wait = base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            exc = yield wait

    def _log_retry(self, details: Any, method: str, path: str) -> None:
        exc = details.get("exception")
        reason = str(exc) if isinstance(exc, RetriableAPIError) else type(exc).__name__
        self.logger.warning(
            "Retrying %s /v1%s in %.1f s (attempt %d of %d): %s",
            method,
            public_path(path),
            details.get("wait", 0.0),
            details.get("tries", 0),
            self.max_tries,
            reason,
        )

    def _log_giveup(self, details: Any, method: str, path: str) -> None:
        self.logger.error(
            "Giving up on %s /v1%s after %d attempts",
            method,
            public_path(path),
            details.get("tries", 0),
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


def _rate_limit_wait(headers: Mapping[str, str]) -> float:
    """Seconds until HiBob's window resets: X-RateLimit-Reset (epoch), else Retry-After."""
    wait: float | None = None
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            wait = float(reset) - time.time()
        except ValueError:
            wait = None
    retry_after = headers.get("Retry-After")
    if wait is None and retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            try:
                wait = parsedate_to_datetime(retry_after).timestamp() - time.time()
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        return 5.0
    return min(MAX_RATE_LIMIT_WAIT_SECONDS, max(0.0, wait) + 0.5)


def _error_key(response: requests.Response) -> str:
    """HiBob's machine error key (e.g. 'exception.x.y'), never its free-text message."""
    try:
        key = response.json().get("key")
    except (ValueError, AttributeError):
        return ""
    return f" ({key})" if isinstance(key, str) and _ERROR_KEY.match(key) else ""
