"""Input files and environment variables, checked before the tap starts.

A config, state or catalog file the tap cannot use gets one clear line naming the file and
the fix, instead of a traceback, and before any request to HiBob. The SDK would read a
state of [], "" or null as "no state" and silently start over; that is refused here too.
"""

from __future__ import annotations

import copy
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from singer_sdk import Tap

from tap_hibob.errors import HibobCatalogError, HibobConfigError, HibobStateError

ENV_PREFIX = "TAP_HIBOB_"
# The SDK reads these as true; anything else it silently reads as false, which for
# include_inactive would silently drop every former employee.
_ENV_BOOLEANS = {"true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n"}
_STATE_FIX = "Pass the last STATE value the tap emitted, or no --state for a full sync."
_CATALOG_FIX = "Create it with tap-hibob --discover and select streams in that output."


def read_json_object(path: str, what: str, error: type[Exception]) -> dict[str, Any]:
    """A JSON object from a file, or `error` saying what is wrong with the file."""
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


def checked_state(handle: IO[str] | None) -> IO[str] | None:
    """The --state file, re-readable, once its shape is known to be Singer state."""
    if handle is None:
        return None
    text, value = _parse(handle, "state", HibobStateError, _STATE_FIX)
    problem = state_problem(value)
    if problem:
        raise HibobStateError(problem)
    return io.StringIO(text)


def state_problem(value: Any) -> str | None:
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


def checked_catalog(handle: IO[str] | None) -> IO[str] | None:
    """The --catalog file, re-readable, once each entry has what the SDK needs."""
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


def _types(prop: Mapping[str, Any]) -> set[str]:
    kind = prop.get("type", [])
    kinds = {kind} if isinstance(kind, str) else set(kind)
    for option in prop.get("anyOf", []) + prop.get("oneOf", []):
        kinds |= _types(option)
    return kinds


def check_env_config(tap_class: type[Tap]) -> None:
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


def env_config(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Settings from TAP_HIBOB_* variables, typed by the schema (as Meltano passes them).

    Numbers are parsed too: Meltano passes decimal settings as text.
    """
    config: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        name = ENV_PREFIX + key.upper()
        raw = os.environ.get(name)
        if raw is None:
            continue
        kinds = _types(prop)
        try:
            config[key] = _env_value(raw, kinds)
        except ValueError:
            kind = " or ".join(sorted(kinds - {"null"})) or "valid"
            raise ValueError(f"{name} must be {kind} (it sets {key})") from None
    return config


def _env_value(raw: str, kinds: set[str]) -> Any:
    if "boolean" in kinds:
        text = raw.strip().lower()
        if text not in _ENV_BOOLEANS:
            raise ValueError(raw)
        return text in {"true", "1", "yes", "on", "t", "y"}
    if "integer" in kinds:
        return int(raw)
    if "number" in kinds:
        return float(raw)
    if kinds & {"object", "array"}:
        return json.loads(raw)
    return raw
