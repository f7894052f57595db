"""Id lists HiBob may find too long: halve the batch on a 400 that says so, never loop.

HiBob caps some id lists (200 employee ids for tables and actual payments) and documents no
cap for others (people search's `root.id` filter). A batch HiBob refuses as too large is
halved and retried, down to one id; the size that worked is kept for the rest of the run
and logged once. A 400 at one id is an ordinary error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from tap_hibob.errors import HibobAPIError

T = TypeVar("T")
# HiBob names the filter, its values or their number when it refuses a batch.
_TOO_LARGE = re.compile(
    r"filter|values|employeeid|\bids?\b|size|too (many|long|large)|max|exceed|limit", re.I
)


def refused_as_too_large(exc: HibobAPIError) -> bool:
    """Whether HiBob's answer says the id list was too long."""
    if exc.status in (413, 414):
        return True
    return exc.status == 400 and bool(_TOO_LARGE.search(exc.detail))


def adaptive_batches(
    ids: Sequence[str],
    size: int,
    call: Callable[[list[str]], T],
    logger: logging.Logger,
    stream: str,
) -> Iterator[tuple[list[str], T]]:
    """(batch, call(batch)) for consecutive batches covering `ids` in order."""
    start = 0
    reduced = False
    while start < len(ids):
        batch = list(ids[start : start + size])
        try:
            result = call(batch)
        except HibobAPIError as exc:
            if len(batch) == 1 or not refused_as_too_large(exc):
                raise
            size = max(1, len(batch) // 2)
            reduced = True
            continue
        if reduced:
            logger.warning(
                "%s: HiBob refused larger batches of employee ids; using %d per request for "
                "the rest of the run.",
                stream,
                size,
            )
            reduced = False
        yield batch, result
        start += len(batch)
