"""Streams of this HiBob domain (filled in by its issue)."""

from __future__ import annotations

from singer_sdk import Stream

STREAMS: list[type[Stream]] = []
