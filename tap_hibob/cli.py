"""Command-line entry point: the SDK's CLI, with errors reported as one clear line."""

from __future__ import annotations

import logging
import sys
import traceback

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_hibob.errors import HibobError
from tap_hibob.tap import TapHibob

logger = logging.getLogger("tap-hibob")


def main() -> None:
    """Run tap-hibob; known failures exit 1 with one line and no traceback."""
    try:
        TapHibob.cli()
    except HibobError as exc:
        _fail(str(exc), exc)
    except RetriableAPIError as exc:
        _fail(f"{exc} (gave up after the configured max_retries)", exc)
    except requests.exceptions.RequestException as exc:
        _fail(
            f"Could not talk to HiBob: {type(exc).__name__} (gave up after the configured "
            "max_retries; check api_url and the network)",
            exc,
        )
    except Exception as exc:  # the last line of defence, see _unexpected
        _fail(_unexpected(exc), exc)


def _unexpected(exc: BaseException) -> str:
    """One line for a bug: where it happened, never the exception's text.

    An unexpected exception's message may quote the data it choked on (an employee's name,
    a response body), so the default log gets its type and place; the traceback, message
    included, goes to the DEBUG log only.
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "tap_hibob" in f.filename]
    place = ""
    if frames:
        frame = frames[-1]
        module = frame.filename.rsplit("tap_hibob", 1)[-1].lstrip("/\\")
        place = f" in tap_hibob/{module} line {frame.lineno} ({frame.name})"
    return (
        f"tap-hibob stopped on an unexpected {type(exc).__name__}{place}. This is a bug: "
        "rerun with TAP_HIBOB_LOGLEVEL=DEBUG for the details and report it."
    )


def _fail(message: str, exc: BaseException) -> None:
    logger.error(message)
    logger.debug("Details", exc_info=exc)
    sys.exit(1)
