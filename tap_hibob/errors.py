"""Errors the tap reports to the user as one clear line, never with response bodies."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class HibobError(Exception):
    """An error with a message fit to show a user as it is (no secrets, no employee data)."""


class HibobConfigError(HibobError):
    """The configuration cannot work."""


class HibobStateError(HibobError):
    """The state passed with --state cannot be used."""


class HibobCatalogError(HibobError):
    """The catalog passed with --catalog cannot be used."""


class HibobAPIError(HibobError, FatalAPIError):
    """HiBob answered in a way that ends the request (never retried).

    `detail` holds HiBob's error key and message for the tap's own decisions (a batch HiBob
    finds too large); it is never part of the message, which may be logged.
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class HibobAuthError(HibobAPIError):
    """401: the service user ID/token pair was rejected."""


class HibobPermissionError(HibobAPIError):
    """403: the service user lacks a permission for this endpoint."""

    def __init__(
        self, message: str, *, stream: str | None, endpoint: str, permission: str, note: str = ""
    ) -> None:
        super().__init__(message, status=403)
        self.stream = stream
        self.endpoint = endpoint
        self.permission = permission
        #: What else the endpoint may need (e.g. the pending permission of time off).
        self.note = note


class HibobWrongPathError(HibobAPIError):
    """HiBob answered 200 with an HTML page: the path or api_url is wrong."""


class HibobNoAccessError(HibobError):
    """The service user cannot list employees: nothing else can be read."""


class HibobIncompleteSyncError(HibobError):
    """Some selected streams were denied or failed; the others synced completely."""
