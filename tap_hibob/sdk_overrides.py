"""The only module that touches private Singer SDK names. Each override protects data.

- `HeldActivateVersion`: the SDK sends ACTIVATE_VERSION before a full-table stream's first
  record, so a loader drops the previous rows first; a run that then fails or is killed
  leaves the table empty. Held here, it goes out after the stream's last record, and never
  from a stream that failed, was denied, or keeps history.
- `OwnBookmark`: `time_off_requests` is INCREMENTAL but HiBob's change feed has no change
  timestamp to use as a replication key; the stream keeps its window bookmark itself, so the
  SDK's per-record bookkeeping (which raises without a replication key) is switched off.
- `NonZeroExitOnTermination`: the SDK exits 0 on SIGTERM/SIGINT, so a scheduler's timeout
  kill looked like a complete sync.
- `SecretSafeConfigErrors`: the SDK's schema errors quote the offending value, which for
  the token is the secret itself.
- `RunHooks`: `Tap.sync_all` is marked final, but a run needs a step before the first
  stream (stop at once when the service user can see no one, rather than let full-table
  streams empty the loader's tables; start reading ahead) and one after the last (the
  summary of denied or failed streams, and a non-zero exit so schedulers notice).
- `ShapedRecordMessages`, the one override for speed, not for data: the SDK walks every
  record once more to drop deselected properties and conform types, which
  `records.Shaper` has already done in its own pass. Skipping that second walk saves
  12-40 % of the tap's CPU per record, the difference between meeting the CPU goal and
  not (docs/performance.md has the measurement). Stream maps still apply.

tests/test_sdk_contract.py checks the SDK still has these methods with these signatures
and still calls them where the overrides expect, so an SDK upgrade fails loudly instead of
silently undoing a protection.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import RecordMessage


class HeldActivateVersion(Stream):
    """Full-table streams send ACTIVATE_VERSION only after a complete sync."""

    _held_version: int | None = None

    def activate_version_allowed(self) -> bool:
        """Whether this stream's sync may tell loaders to drop rows it did not send."""
        return True

    def _write_activate_version_message(self, full_table_version: int) -> None:
        self._held_version = full_table_version

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        """After the stream's sync: also release its ACTIVATE_VERSION if it may go out."""
        super().finalize_state_progress_markers(state)
        version, self._held_version = self._held_version, None
        if version is not None and self.activate_version_allowed():
            super()._write_activate_version_message(version)


class ShapedRecordMessages(Stream):
    """RECORD messages of records the stream has already shaped (typed and pruned)."""

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        # The SDK's own, minus pop_deselected_record_properties and conform_record_data_types
        # (a no-op at TYPE_CONFORMANCE_LEVEL NONE): records.Shaper did both already.
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:  # a stream map may filter the record out
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=datetime.now(UTC),
                )


class OwnBookmark(Stream):
    """INCREMENTAL without a record-level replication key; the stream keeps the bookmark."""

    def _increment_stream_state(self, latest_record: Any, *, context: Any = None) -> None:
        """No per-record bookmark: the records carry no change time."""


class NonZeroExitOnTermination(Tap):
    """SIGTERM/SIGINT: write the last consistent state, then exit 128 + signal."""

    def on_termination(self) -> None:
        """Hook for the tap: stop background work before the process exits."""

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        try:
            self.on_termination()
            self.state_writer.write_state(self.state)
        finally:
            self.logger.error(
                "Stopped by %s before the sync finished; the next run resumes from the last "
                "STATE written.",
                signal.Signals(signum).name,
            )
            sys.exit(128 + signum)


class SecretSafeConfigErrors(Tap):
    """Schema errors about secret settings never show the value; extra checks appended."""

    #: Rules the JSON schema cannot state: config -> one line per problem.
    config_problems: Callable[[Mapping[str, Any]], list[str]] = staticmethod(lambda _: [])

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            errors = list(exc.errors)
        errors = [redact(error, self.config, self.config_jsonschema) for error in errors]
        errors += type(self).config_problems(self.config)
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors


def redact(error: str, config: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """A schema error, reworded for credentials and never quoting a secret's value."""
    properties = schema.get("properties", {})
    for key, prop in properties.items():
        if f"config['{key}']" not in error:
            continue
        if key in ("service_user_id", "service_user_token") or prop.get("secret"):
            return (
                f"{key} must be a non-empty string without leading or trailing spaces (copy "
                "it again from HiBob, Settings > Integrations > Service users)"
                + ("; its value is not shown" if prop.get("secret") else "")
            )
    for key, prop in properties.items():
        value = config.get(key)
        secret = prop.get("secret") or prop.get("writeOnly")
        if secret and value is not None and len(str(value)) >= 4:
            error = error.replace(repr(value), "'***'").replace(str(value), "***")
    return error


class RunHooks(Tap):
    """`before_streams`, the SDK's own `sync_all`, then `after_streams` (cleanup always)."""

    def before_streams(self) -> None:
        """Before the first stream is synced."""

    def streams_done(self) -> None:
        """After the streams, also when one raised: release what before_streams took."""

    def after_streams(self) -> None:
        """After every stream synced (not reached when the run was interrupted)."""

    def sync_all(self) -> None:  # type: ignore[misc]
        self.before_streams()
        try:
            super().sync_all()
        finally:
            self.streams_done()
        self.after_streams()
