"""The contract between tap_hibob/sdk_overrides.py and the Singer SDK it overrides.

Each fenced override relies on a private SDK method being called in a certain place. If an
SDK upgrade renames, re-signs or stops calling one of them, the protection it gives (held
ACTIVATE_VERSION, non-zero exit on SIGTERM, no secret in config errors, no per-record
bookmark for time off, the run's before/after steps) would silently disappear; these tests
fail loudly instead. Behaviour is tested too, not only the names.
"""

from __future__ import annotations

import inspect
import re

import pytest
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import PluginBase

from tap_hibob import sdk_overrides
from tap_hibob.tap import TapHibob

SDK_VERSION = re.compile(r"^0\.54\.")


def _source(function: object) -> str:
    return inspect.getsource(function)  # type: ignore[arg-type]


def _params(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_sdk_is_the_minor_version_the_overrides_were_written_for() -> None:
    from importlib.metadata import version

    assert SDK_VERSION.match(version("singer-sdk")), "re-check every test in this module"


def test_activate_version_is_written_by_sync_before_the_records() -> None:
    assert _params(Stream._write_activate_version_message) == ["self", "full_table_version"]
    sync = _source(Stream.sync)
    assert sync.index("self._write_activate_version_message(") < sync.index("_sync_records(")


def test_streams_are_finalized_after_their_sync_by_sync_all() -> None:
    body = _source(Tap.sync_all)
    assert body.index("stream.sync()") < body.index("stream.finalize_state_progress_markers()")
    assert _params(Stream.finalize_state_progress_markers) == ["self", "state"]


def test_records_reach_the_per_record_bookmark_hook() -> None:
    assert _params(Stream._increment_stream_state) == ["self", "latest_record", "context"]
    assert "self._increment_stream_state(record" in _source(Stream._sync_records)


def test_termination_signals_go_to_handle_termination() -> None:
    assert _params(PluginBase._handle_termination) == ["self", "signum", "frame"]
    sources = "".join(_source(m) for _, m in inspect.getmembers(PluginBase, inspect.isfunction))
    assert "self._handle_termination" in sources  # registered as the signal handler


def test_config_errors_name_the_setting_as_redact_expects() -> None:
    assert _params(PluginBase._validate_config) == ["self", "raise_errors"]
    with pytest.raises(ConfigValidationError) as caught:
        TapHibob(
            config={"service_user_id": "x", "service_user_token": " padded-secret-token "},
            parse_env_config=False,
        )
    errors = caught.value.errors
    assert any("service_user_token must be a non-empty string" in e for e in errors), errors
    assert not any("padded-secret-token" in e for e in errors)


def test_sync_all_is_still_what_a_run_calls() -> None:
    assert _params(Tap.sync_all) == ["self"]
    assert "tap.sync_all()" in _source(Tap.invoke)


def test_the_overrides_module_is_the_only_one_touching_private_sdk_names() -> None:
    from pathlib import Path

    package = Path(sdk_overrides.__file__).parent
    private = re.compile(r"singer_sdk(\.\w+)*\._\w|super\(\)\._(?!_)")
    offenders = [
        str(path.relative_to(package.parent))
        for path in package.rglob("*.py")
        if path.name != "sdk_overrides.py" and private.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
