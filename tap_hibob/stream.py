"""Base stream: every HiBob stream reads through the tap's one HibobClient."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream

if TYPE_CHECKING:
    from tap_hibob.client import HibobClient


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A static stream schema from `schemas/<name>.json`.

    Wheels carry the files inside the package (tap_hibob/schemas); a source checkout or an
    editable install reads them from the top-level schemas/ folder.
    """
    packaged = resources.files("tap_hibob") / "schemas" / f"{name}.json"
    if packaged.is_file():
        return dict(json.loads(packaged.read_text(encoding="utf-8")))
    source = Path(__file__).resolve().parent.parent / "schemas" / f"{name}.json"
    return dict(json.loads(source.read_text(encoding="utf-8")))


class HibobStream(Stream):
    """A stream whose records come from HiBob through the shared client."""

    #: Which HiBob rate limit paces this stream's requests (see client.PUBLISHED_LIMITS).
    endpoint: ClassVar[str] = "default"

    @property
    def client(self) -> HibobClient:
        """The tap's HTTP client (shared, so pacing spans all streams)."""
        return self._tap.client  # type: ignore[attr-defined, no-any-return]
