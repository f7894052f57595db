"""The contract between tap_hibob/sdk_overrides.py and the Singer SDK it overrides.

Each fenced override relies on a private SDK method being called in a certain place. If an
SDK upgrade renames, re-signs or stops calling one of them, the protection it gives (held
ACTIVATE_VERSION, non-zero exit on SIGTERM, no secret in config errors, no per-record
bookmark for time off, the run's before/after steps, no second walk over each record) would
silently disappear or go wrong; these tests fail loudly instead. Behaviour is tested too,
not only the names.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import re

import pytest
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.plugin_base import PluginBase

from fake_hibob import FakeHibob
from tap_hibob import sdk_overrides
from tap_hibob.tap import TapHibob
from tests.helpers import discover, select, select_property, sync, tap_config

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


# ShapedRecordMessages ------------------------------------------------------------------------

#: sha256 of the SDK's `Stream._generate_record_messages` source that ShapedRecordMessages
#: replicates minus the pruning and conforming; any SDK change to it fails here first.
GENERATE_RECORD_MESSAGES = "9b5f9fbcdedb7a1aec5673a44f51fd9bd88840f19f0fb29cba9953b9d9095bfe"


def test_the_sdk_record_messages_are_the_ones_the_override_replicates() -> None:
    source = _source(Stream._generate_record_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == GENERATE_RECORD_MESSAGES, (
        "the SDK changed Stream._generate_record_messages: compare it with "
        "sdk_overrides.ShapedRecordMessages and update both this hash and the override"
    )
    assert _params(Stream._generate_record_messages) == ["self", "record"]
    assert "self._generate_record_messages(record)" in _source(Stream._write_record_message)


def test_records_arrive_pruned_and_stream_maps_still_apply(fake: FakeHibob) -> None:
    """What the SDK's skipped walk would have done is already done: the SDK's own pruning
    changes no emitted record; stream maps (a dropped property, a filter) still work."""
    config = tap_config(
        fake,
        stream_maps={
            "employees": {"email": None},
            "named_lists": {"__filter__": "listName != 'site'"},
        },
    )
    catalog = select(discover(config), ["employees", "named_lists", "work_history"])
    select_property(catalog, "employees", "work.department", False)
    select_property(catalog, "work_history", "customColumns", False)
    run = sync(config, catalog)
    tap = TapHibob(config=config, catalog=catalog, parse_env_config=False)
    for name in ("employees", "work_history"):
        stream = tap.streams[name]
        records = run.records(name)
        assert records
        for record in records:
            pruned = copy.deepcopy(record)
            pop_deselected_record_properties(pruned, stream.schema, stream.mask)
            assert pruned == record
    employees = run.records("employees")
    assert all("email" not in r for r in employees)
    assert all("department" not in (r.get("work") or {}) for r in employees)
    assert all("customColumns" not in r for r in run.records("work_history"))
    lists = {r["listName"] for r in run.records("named_lists")}
    assert lists and "site" not in lists
    tap.client.close()
