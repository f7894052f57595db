"""Progress of streams that make one request per employee: the plan, then an ETA a minute."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tap_hibob.timeutil import duration

if TYPE_CHECKING:
    from tap_hibob.client import HibobClient
    from tap_hibob.endpoints import Endpoint

PROGRESS_EVERY_SECONDS = 60.0


class Progress:
    """Logs the plan once, then done/total with an ETA at most every minute and at the end."""

    def __init__(
        self,
        logger: logging.Logger,
        stream: str,
        total: int,
        client: HibobClient,
        endpoint: Endpoint,
        *,
        plan: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.stream = stream
        self.total = total
        self.clock = clock
        self.done = 0
        self.started = clock()
        self.last_log = self.started
        limit = client.pacer(endpoint).limit
        window = client.window
        seconds = max(0, total - 1) // limit * window
        logger.info(
            "%s: %s%d requests; HiBob allows %d per %.0f s, so this takes about %s",
            stream,
            f"{plan} = " if plan else "",
            total,
            limit,
            window,
            duration(seconds),
        )

    def step(self) -> None:
        self.done += 1
        now = self.clock()
        if now - self.last_log >= PROGRESS_EVERY_SECONDS or self.done == self.total:
            self.last_log = now
            elapsed = now - self.started
            remaining = elapsed / self.done * (self.total - self.done)
            self.logger.info(
                "%s: %d of %d requests done (%.0f%%), about %s left",
                self.stream,
                self.done,
                self.total,
                100.0 * self.done / max(1, self.total),
                duration(remaining),
            )
