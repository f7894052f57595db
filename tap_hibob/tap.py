"""TapHibob: settings, stream registry and input checks."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import FrameType
from typing import IO, Any

import click
from singer_sdk import Stream, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError

from tap_hibob import company, people, settings, tables, timeoff
from tap_hibob.client import HibobClient
from tap_hibob.errors import HibobCatalogError, HibobConfigError, HibobStateError

STREAM_TYPES: list[type[Stream]] = [
    *people.STREAMS,
    *tables.STREAMS,
    *timeoff.STREAMS,
    *company.STREAMS,
]
ENV_PREFIX = "TAP_HIBOB_"
# The SDK reads these as true; anything else it silently reads as false, which for
# include_inactive would silently drop every former employee.
_ENV_BOOLEANS = {"true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n"}
# read_bookmark warns on clock skew when the stream runs; checking early must not repeat it.
_QUIET = logging.getLogger("tap-hibob.state-check")
_QUIET.disabled = True


class TapHibob(Tap):
    """Singer tap for HiBob (Bob)."""

    name = "tap-hibob"
    package_name = "tap-hibob"
    config_jsonschema = settings.CONFIG_SCHEMA
    # Discovery reads HiBob's field metadata, so it needs valid settings too.
    dynamic_catalog = True
    # msgspec encodes Singer messages at about 2/3 of the default writer's CPU (README,
    # Performance); the output is the same JSON lines.
    message_writer_class = MsgSpecWriter

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("parse_env_config"):
            # The SDK would die with a traceback on TAP_HIBOB_PEOPLE_BATCH_SIZE=lots.
            _check_env_config(type(self))
        super().__init__(**kwargs)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: write the state, then exit non-zero.

        The SDK exits 0 here, so a scheduler's timeout kill looked like a complete sync. The
        stream that was interrupted sends no ACTIVATE_VERSION (HibobStream holds it), and the
        state written is the last consistent one, so the next run resumes from it.
        """
        try:
            self._state_writer.write_state(self.state)
        finally:
            name = signal.Signals(signum).name
            self.logger.error(
                "Stopped by %s before the sync finished; the next run resumes from the last "
                "STATE written.",
                name,
            )
            sys.exit(128 + signum)

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
        errors = [_redact(error, self.config) for error in errors]
        errors += settings.problems(self.config)
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    def load_state(self, state: dict[str, Any]) -> None:
        """Accept only Singer state shaped as {"bookmarks": {stream: {...}}}.

        Bookmarks are checked here, before the first stream runs, so an unusable one stops
        the run before any record is written rather than halfway through.
        """
        problem = _state_problem(state)
        if problem:
            raise HibobStateError(problem)
        self._check_bookmarks(state.get("bookmarks", {}))
        super().load_state(state)

    def _check_bookmarks(self, bookmarks: Mapping[str, dict[str, Any]]) -> None:
        known = {str(getattr(stream_type, "name", "")) for stream_type in STREAM_TYPES}
        for name in sorted(set(bookmarks) - known):
            self.logger.warning(
                "The state has a bookmark for '%s', which tap-hibob does not have (renamed or "
                "retired); ignoring it.",
                name,
            )
        requests = bookmarks.get(timeoff.TimeOffRequestsStream.name)
        if requests and self._uses_bookmark(timeoff.TimeOffRequestsStream.name):
            timeoff.read_bookmark(requests, datetime.now(UTC), _QUIET)

    def _uses_bookmark(self, name: str) -> bool:
        """Whether the catalog leaves the stream selected and incremental."""
        stream = self.streams.get(name)
        return stream is not None and stream.selected and stream.replication_method != "FULL_TABLE"

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read --config files, with a clear error for a missing or malformed file."""
        for path in value:
            if path != "ENV":
                _read_json_object(path, "config", HibobConfigError)
        return super().cb_config(ctx, param, value)

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
        """Run the tap; a state or catalog file that cannot be used gets a clear error."""
        super().invoke(
            about=about,
            about_format=about_format,
            config=config,
            state=_checked_state(state),
            catalog=_checked_catalog(catalog),
        )


# Input files -------------------------------------------------------------------------------

_STATE_FIX = "Pass the last STATE value the tap emitted, or no --state for a full sync."
_CATALOG_FIX = "Create it with tap-hibob --discover and select streams in that output."


def _read_json_object(path: str, what: str, error: type[Exception]) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise error(f"The {what} file {path} was not found.")
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise error(
            f"The {what} file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from None
    except UnicodeDecodeError:
        raise error(f"The {what} file {path} is not UTF-8 text.") from None
    if not isinstance(value, dict):
        raise error(f"The {what} file {path} must hold a JSON object of settings.")
    return value


def _parse(handle: IO[str], what: str, error: type[Exception], fix: str) -> tuple[str, Any]:
    text = handle.read()
    try:
        return text, json.loads(text)
    except ValueError:
        name = getattr(handle, "name", what)
        raise error(f"The {what} file {name} is not valid JSON. {fix}") from None


def _checked_state(handle: IO[str] | None) -> IO[str] | None:
    if handle is None:
        return None
    text, value = _parse(handle, "state", HibobStateError, _STATE_FIX)
    # Checked before the tap starts (and so before discovery's requests); the SDK itself
    # would read [], "" or null as "no state" and silently start over.
    problem = _state_problem(value)
    if problem:
        raise HibobStateError(problem)
    return io.StringIO(text)


def _state_problem(value: Any) -> str | None:
    """Why a parsed state cannot be used, or None."""
    if not isinstance(value, dict):
        return (
            f'The state file must hold a JSON object like {{"bookmarks": {{...}}}}, not '
            f"{_json_type(value)}. {_STATE_FIX}"
        )
    bookmarks = value.get("bookmarks", {})
    if not isinstance(bookmarks, dict) or not all(
        isinstance(bookmark, dict) for bookmark in bookmarks.values()
    ):
        return f"The state's 'bookmarks' must map stream names to objects. {_STATE_FIX}"
    return None


def _checked_catalog(handle: IO[str] | None) -> IO[str] | None:
    if handle is None:
        return None
    text, value = _parse(handle, "catalog", HibobCatalogError, _CATALOG_FIX)
    streams = value.get("streams") if isinstance(value, dict) else None
    if not isinstance(streams, list):
        raise HibobCatalogError(
            f"The catalog file must hold a JSON object with a 'streams' list, not "
            f"{_json_type(value)}. {_CATALOG_FIX}"
        )
    for entry in streams:
        _check_catalog_entry(entry)
    return io.StringIO(text)


def _check_catalog_entry(entry: Any) -> None:
    stream_id = entry.get("tap_stream_id") if isinstance(entry, dict) else None
    if not isinstance(stream_id, str):
        raise HibobCatalogError(
            f"The catalog has a stream entry without a 'tap_stream_id'. {_CATALOG_FIX}"
        )
    schema = entry.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        raise HibobCatalogError(
            f"The catalog's entry for stream '{stream_id:.80}' has no schema with "
            f"properties. Run --discover again and select from its output."
        )
    if not isinstance(entry.get("metadata", []), list):
        raise HibobCatalogError(
            f"The catalog's 'metadata' of stream '{stream_id:.80}' must be a list. {_CATALOG_FIX}"
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


# Config -------------------------------------------------------------------------------------


def _secret_keys(schema: Mapping[str, Any]) -> list[str]:
    return [
        key
        for key, prop in schema.get("properties", {}).items()
        if prop.get("secret") or prop.get("writeOnly")
    ]


def _redact(error: str, config: Mapping[str, Any]) -> str:
    """A schema error about a secret setting, without the secret's value."""
    for key in _secret_keys(settings.CONFIG_SCHEMA):
        if f"config['{key}']" in error:
            return f"{key} must be a non-empty string (its value is not shown)"
        value = config.get(key)
        if value is not None and len(str(value)) >= 4:
            error = error.replace(repr(value), "'***'").replace(str(value), "***")
    return error


def _types(prop: Mapping[str, Any]) -> set[str]:
    kind = prop.get("type", [])
    kinds = {kind} if isinstance(kind, str) else set(kind)
    for option in prop.get("anyOf", []) + prop.get("oneOf", []):
        kinds |= _types(option)
    return kinds


def _check_env_config(tap_class: type[Tap]) -> None:
    """Refuse TAP_HIBOB_* values the SDK would crash on or silently misread."""
    schema = copy.deepcopy(tap_class.config_jsonschema)
    tap_class.append_builtin_config(schema)
    for key, prop in schema.get("properties", {}).items():
        name = ENV_PREFIX + key.upper().replace("-", "_")
        raw = os.environ.get(name)
        if raw is None:
            continue
        kinds = _types(prop)
        if "integer" in kinds:
            try:
                int(raw)
            except ValueError:
                raise HibobConfigError(
                    f"Environment variable {name} must be an integer (it sets {key})."
                ) from None
        elif "boolean" in kinds and raw.strip().lower() not in _ENV_BOOLEANS:
            raise HibobConfigError(
                f"Environment variable {name} must be true or false (it sets {key})."
            )
        elif kinds & {"object", "array"} and "string" not in _item_types(prop):
            try:
                json.loads(raw)
            except ValueError:
                raise HibobConfigError(
                    f"Environment variable {name} must be JSON (it sets {key})."
                ) from None


def _item_types(prop: Mapping[str, Any]) -> set[str]:
    items = prop.get("items")
    return _types(items) if isinstance(items, dict) else set()
