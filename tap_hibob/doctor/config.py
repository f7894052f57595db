"""Config and catalog loading for the doctor (exit code 2 on bad input)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tap_hibob import inputs
from tap_hibob.doctor.model import DOCTOR_MAX_RETRIES, DOCTOR_TIMEOUT_SECONDS
from tap_hibob.errors import HibobCatalogError
from tap_hibob.settings import CONFIG_SCHEMA, defaults, problems


class UsageError(Exception):
    """Bad arguments or configuration: exit code 2."""


def doctor_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The tap's config with short retries and timeouts: an admin is waiting."""
    merged = {**defaults(), **config}
    return {
        **config,
        "max_retries": min(int(merged["max_retries"]), DOCTOR_MAX_RETRIES),
        "request_timeout": min(int(merged["request_timeout"]), DOCTOR_TIMEOUT_SECONDS),
    }


def load_config(sources: Sequence[str]) -> dict[str, Any]:
    """Merge --config files (later wins); `ENV` reads TAP_HIBOB_* variables like the tap."""
    config: dict[str, Any] = {}
    for source in sources:
        if source == "ENV":
            config.update(_env_config())
            continue
        try:
            loaded = json.loads(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"Cannot read config file {source}: {exc.strerror}") from None
        except ValueError:
            raise UsageError(f"Config file {source} is not valid JSON") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"Config file {source} must hold a JSON object")
        config.update(loaded)
    missing = [key for key in ("service_user_id", "service_user_token") if not config.get(key)]
    if missing:
        raise UsageError("Config is missing " + " and ".join(missing))
    found = problems(config)
    if found:
        raise UsageError("Config is invalid: " + "; ".join(found))
    return config


def _env_config() -> dict[str, Any]:
    try:
        return inputs.env_config(CONFIG_SCHEMA)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_catalog(path: str | None) -> dict[str, Any] | None:
    """The catalog the tap runs with, checked like the tap checks it (None: defaults)."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read catalog file {path}: {exc.strerror}") from None
    try:
        handle = io.StringIO(text)
        handle.name = path
        checked = inputs.checked_catalog(handle)
    except HibobCatalogError as exc:
        raise UsageError(str(exc)) from None
    assert checked is not None
    return dict(json.loads(checked.read()))
