"""What one sync did not manage: denied and failed streams, summed up once at the end.

A stream HiBob denies (403) ends after that one request; a stream that fails for another
reason (HiBob kept answering 5xx, an answer of the wrong shape) ends where it failed. Either
way every other selected stream still syncs completely, and neither sends ACTIVATE_VERSION.
The summary names each stream, its endpoint and what to do, and the run exits non-zero
unless `on_missing_permission` is `warn` and only permissions were missing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from tap_hibob.errors import HibobIncompleteSyncError, HibobPermissionError


@dataclass(frozen=True)
class Denied:
    stream: str
    endpoint: str
    permission: str
    note: str = ""


@dataclass(frozen=True)
class Failed:
    stream: str
    reason: str


class RunReport:
    """Denied and failed streams of one run (thread-safe: read-ahead threads report too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.denied: dict[str, Denied] = {}
        self.failed: dict[str, Failed] = {}

    def deny(self, stream: str, error: HibobPermissionError) -> None:
        with self._lock:
            self.denied[stream] = Denied(stream, error.endpoint, error.permission, error.note)

    def fail(self, stream: str, reason: str) -> None:
        with self._lock:
            self.failed.setdefault(stream, Failed(stream, reason))

    def incomplete(self, stream: str) -> bool:
        with self._lock:
            return stream in self.denied or stream in self.failed

    def finish(self, logger: logging.Logger, *, on_missing_permission: str) -> None:
        """Log the one summary; raise if the run must exit non-zero."""
        if not self.denied and not self.failed:
            return
        lines = ["These selected streams were not synced (every other stream synced fully):"]
        for denied in self.denied.values():
            lines.append(
                f"  - {denied.stream}: HiBob denied {denied.endpoint} (403). Add to the "
                f"service user's permission group: {denied.permission}"
                + (f" ({denied.note})" if denied.note else "")
            )
        for failed in self.failed.values():
            lines.append(f"  - {failed.stream}: {failed.reason}")
        if self.denied:
            lines.append(
                "Run tap-hibob-doctor to check every permission at once, or deselect those streams."
            )
        log = logger.error if self.failed or on_missing_permission == "fail" else logger.warning
        for line in lines:
            log(line)
        if self.failed:
            raise HibobIncompleteSyncError(
                f"{len(self.failed) + len(self.denied)} selected stream(s) were not synced; "
                "see the summary above."
            )
        if on_missing_permission == "fail":
            raise HibobIncompleteSyncError(
                f"{len(self.denied)} selected stream(s) need a HiBob permission the service "
                "user lacks (see the summary above); set on_missing_permission to 'warn' to "
                "accept partial syncs."
            )
