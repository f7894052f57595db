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
    """HiBob answered in a way that must stop the run (never retried)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HibobAuthError(HibobAPIError):
    """401: the service user ID/token pair was rejected."""


class HibobPermissionError(HibobAPIError):
    """403: the service user lacks a permission for this endpoint."""

    def __init__(self, message: str, *, stream: str | None, endpoint: str, permission: str) -> None:
        super().__init__(message, status=403)
        self.stream = stream
        self.endpoint = endpoint
        self.permission = permission


class HibobWrongPathError(HibobAPIError):
    """HiBob answered 200 with an HTML page: the path or api_url is wrong."""
