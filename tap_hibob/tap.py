"""TapHibob: settings, stream registry and input checks."""

from __future__ import annotations

import io
import json
from functools import cached_property
from typing import IO, Any

from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_hibob import company, people, settings, tables, timeoff
from tap_hibob.client import HibobClient
from tap_hibob.errors import HibobCatalogError, HibobStateError

STREAM_TYPES: list[type[Stream]] = [
    *people.STREAMS,
    *tables.STREAMS,
    *timeoff.STREAMS,
    *company.STREAMS,
]


class TapHibob(Tap):
    """Singer tap for HiBob (Bob)."""

    name = "tap-hibob"
    package_name = "tap-hibob"
    config_jsonschema = settings.CONFIG_SCHEMA
    # Discovery reads HiBob's field metadata, so it needs valid settings too.
    dynamic_catalog = True

    @cached_property
    def client(self) -> HibobClient:
        """The one HTTP client all streams share (pacing spans streams)."""
        return HibobClient(self.config, self.logger)

    def discover_streams(self) -> list[Stream]:
        """One instance of every stream the tap offers."""
        streams = [stream_type(tap=self) for stream_type in STREAM_TYPES]
        self._check_catalog({stream.name for stream in streams})
        return streams

    def _check_catalog(self, known: set[str]) -> None:
        if self.input_catalog is None:
            return
        unknown = sorted(set(self.input_catalog.keys()) - known)
        if unknown:
            raise HibobCatalogError(
                f"The catalog names stream(s) tap-hibob does not have: {', '.join(unknown)}. "
                "Run --discover again and select from its streams."
            )

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            errors = list(exc.errors)
        errors += settings.problems(self.config)
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    def load_state(self, state: dict[str, Any]) -> None:
        """Accept only Singer state shaped as {"bookmarks": {stream: {...}}}."""
        if not isinstance(state, dict):
            raise HibobStateError(
                "The state file must hold a JSON object like {\"bookmarks\": {...}}; "
                "pass the last STATE value the tap emitted, or none for a first sync."
            )
        bookmarks = state.get("bookmarks", {})
        if not isinstance(bookmarks, dict) or not all(
            isinstance(value, dict) for value in bookmarks.values()
        ):
            raise HibobStateError(
                "The state's 'bookmarks' must map stream names to objects; pass the last "
                "STATE value the tap emitted, or none for a first sync."
            )
        super().load_state(state)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
    ) -> None:
        """Run the tap; a state or catalog file that is not JSON gets a clear error."""
        super().invoke(
            about=about,
            about_format=about_format,
            config=config,
            state=_checked_json(state, "state", HibobStateError),
            catalog=_checked_json(catalog, "catalog", HibobCatalogError),
        )


def _checked_json(
    handle: IO[str] | None, what: str, error: type[Exception]
) -> IO[str] | None:
    if handle is None:
        return None
    text = handle.read()
    try:
        json.loads(text)
    except ValueError:
        name = getattr(handle, "name", what)
        raise error(
            f"The {what} file {name} is not valid JSON. "
            + (
                "Pass the last STATE value the tap emitted, or no --state for a full sync."
                if what == "state"
                else "Create it with tap-hibob --discover."
            )
        ) from None
    return io.StringIO(text)
