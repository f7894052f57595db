"""Command-line entry point: the SDK's CLI, with errors reported as one clear line."""

from __future__ import annotations

import logging
import sys

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


def _fail(message: str, exc: BaseException) -> None:
    logger.error(message)
    logger.debug("Details", exc_info=exc)
    sys.exit(1)
