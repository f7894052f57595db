"""Config and catalog loading for the doctor (exit code 2 on bad input)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tap_hibob import settings
from tap_hibob.doctor.model import DOCTOR_MAX_RETRIES, DOCTOR_TIMEOUT_SECONDS, Selection

# Configuration -----------------------------------------------------------------------------


def doctor_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The tap's config with short retries and timeouts: an admin is waiting."""
    retries = int(config.get("max_retries", DOCTOR_MAX_RETRIES))
    timeout = int(config.get("request_timeout") or DOCTOR_TIMEOUT_SECONDS)
    return {
        **config,
        "max_retries": min(retries, DOCTOR_MAX_RETRIES),
        "request_timeout": min(timeout, DOCTOR_TIMEOUT_SECONDS),
    }


class UsageError(Exception):
    """Bad arguments or configuration: exit code 2."""


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
    problems = settings.problems(config)
    if problems:
        raise UsageError("Config is invalid: " + "; ".join(problems))
    return config


def _env_config() -> dict[str, Any]:
    from singer_sdk.configuration._dict_config import parse_environment_config

    parsed = parse_environment_config(settings.CONFIG_SCHEMA, prefix="TAP_HIBOB_")
    for key, schema in settings.CONFIG_SCHEMA["properties"].items():
        types = schema.get("type")
        if key in parsed and "number" in (types if isinstance(types, list) else [types]):
            try:
                parsed[key] = float(parsed[key])
            except ValueError:
                raise UsageError(f"TAP_HIBOB_{key.upper()} must be a number") from None
    return parsed


def load_selection(path: str | None) -> Selection:
    if path is None:
        return Selection.default()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read catalog file {path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(
            f"Catalog file {path} is not valid JSON; create it with tap-hibob --discover"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("streams"), list):
        raise UsageError(f"Catalog file {path} has no 'streams' list")
    return Selection.from_catalog(data)
