"""TapHibob: settings, the streams HiBob's metadata describes, and one sync's run."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import IO, Any

import click
from singer_sdk import Stream, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_hibob import company, endpoints, inputs, metadata, reports, settings, tables, timeoff
from tap_hibob.client import HibobClient
from tap_hibob.errors import (
    HibobCatalogError,
    HibobConfigError,
    HibobNoAccessError,
    HibobPermissionError,
    HibobStateError,
)
from tap_hibob.people import EmployeesStream, list_employee_ids
from tap_hibob.readahead import ReadAhead
from tap_hibob.run import RunReport
from tap_hibob.sdk_overrides import NonZeroExitOnTermination, RunHooks, SecretSafeConfigErrors
from tap_hibob.stream import HibobStream
from tap_hibob.timeutil import from_epoch_millis

#: Streams that read no employee data: they can run even if HiBob lists no one.
_NO_PEOPLE_NEEDED = ("employee_fields", "named_lists")
_DYNAMIC_PREFIXES = (endpoints.CUSTOM_TABLE_PREFIX, endpoints.REPORT_PREFIX)

NO_GROUP = (
    "HiBob denied {endpoint} (403), the sync's first data request, so nothing was synced. "
    "The service user is probably in no permission group yet (HiBob then denies "
    "everything), or its group lacks '{permission}'. In HiBob, add a permission group for "
    "service users with this service user as member, choose 'Select people by condition' "
    "with the lifecycle statuses Hired, Employed and Terminated, add the permissions "
    "`tap-hibob-doctor --permission-matrix` lists, save, and run the sync again "
    "(tap-hibob-doctor checks them all at once)."
)
NO_EMPLOYEES = (
    "HiBob lists no employees for this service user ({endpoint} answered an empty list), so "
    "nothing was synced and no loader table is emptied. The permission group needs "
    "'{permission}' and people in 'Whose data can members access?' ({scope})."
)


class TapHibob(RunHooks, NonZeroExitOnTermination, SecretSafeConfigErrors, Tap):
    """Singer tap for HiBob (Bob)."""

    name = "tap-hibob"
    package_name = "tap-hibob"
    config_jsonschema = settings.CONFIG_SCHEMA
    config_problems = staticmethod(settings.problems)
    # Discovery reads HiBob's metadata, so it needs valid settings too.
    dynamic_catalog = True
    # msgspec encodes Singer messages at about 2/3 of the default writer's CPU
    # (docs/performance.md); the output is the same JSON lines.
    message_writer_class = MsgSpecWriter

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("parse_env_config"):
            # The SDK would die with a traceback on TAP_HIBOB_PEOPLE_BATCH_SIZE=lots.
            inputs.check_env_config(type(self))
        self._ids_lock = threading.Lock()
        self._employee_ids: list[str] | None = None
        self._reader: ReadAhead | None = None
        super().__init__(**kwargs)

    # Shared by every stream ----------------------------------------------------------

    @cached_property
    def settings(self) -> settings.Settings:
        """The validated config, typed, defaults applied (read once)."""
        return settings.Settings.from_config(self.config)

    @cached_property
    def client(self) -> HibobClient:
        """The one HTTP client all streams share (pacing spans streams)."""
        return HibobClient(self.settings, self.logger)

    @cached_property
    def run(self) -> RunReport:
        return RunReport()

    @cached_property
    def metadata(self) -> metadata.Metadata:
        """HiBob's fields, tables and custom tables (read once, before any stream)."""
        return metadata.read(self.client, self.logger)

    @property
    def run_start(self) -> datetime:
        """When this run started: the newest moment a bookmark may reach."""
        return from_epoch_millis(self.initialized_at)

    def employee_ids(self) -> list[str]:
        """Every employee the service user can see (include_inactive applies), read once per
        run and shared by every stream that reads employees one by one or in batches."""
        with self._ids_lock:
            if self._employee_ids is None:
                self._employee_ids = list_employee_ids(
                    self.client, include_inactive=self.settings.include_inactive, stream="employees"
                )
            return self._employee_ids

    # Streams --------------------------------------------------------------------------

    def discover_streams(self) -> list[Stream]:
        """The streams of this tenant, in sync order."""
        tenant = self.metadata
        streams: list[Stream] = [
            EmployeesStream(self, tenant.fields),
            company.EmployeeFieldsStream(self),
            company.NamedListsStream(self),
            *tables.table_streams(self, tenant),
            *tables.custom_table_streams(self, tenant),
            tables.actual_payments_stream(self, tenant),
            timeoff.TimeOffRequestsStream(self),
            timeoff.WhosOutStream(self),
            timeoff.TimeOffPolicyTypesStream(self),
            timeoff.TimeOffBalancesStream(self),
            company.TasksStream(self),
            *reports.report_streams(self, tenant),
        ]
        self._check_catalog({stream.name for stream in streams})
        return streams

    def _check_catalog(self, known: set[str]) -> None:
        if self.input_catalog is None:
            return
        unknown = sorted(set(self.input_catalog.keys()) - known)
        tables = {spec.stream for spec in endpoints.TABLES.values()}
        gone = [n for n in unknown if n.startswith(_DYNAMIC_PREFIXES) or n in tables]
        for name in gone:
            self.logger.warning(
                "The catalog selects '%s', which HiBob no longer has (a table, custom table "
                "or report deleted or renamed?); it is skipped. Run --discover to refresh the "
                "catalog.",
                name,
            )
        typos = [name for name in unknown if name not in gone]
        if typos:
            raise HibobCatalogError(
                f"The catalog names stream(s) tap-hibob does not have: {', '.join(typos)}. "
                "Run --discover again and select from its streams."
            )

    def items_of(self, stream: HibobStream, context: Mapping[str, Any] | None) -> Iterable[Any]:
        """A stream's records: from its read-ahead spool, or read right now."""
        reader = self._reader
        if reader is not None and stream.name in reader:
            return reader.items(stream)
        return stream.shaped_records(context)

    # The run (sdk_overrides.RunHooks) -------------------------------------------------

    def before_streams(self) -> None:
        """Check that the service user sees anyone, then start reading ahead."""
        selected = [s for s in self.streams.values() if isinstance(s, HibobStream) and s.selected]
        if any(s.name not in _NO_PEOPLE_NEEDED for s in selected):
            self._check_people_access()
        for stream in selected:
            stream.prepare()
        # What exists now (modules, catalog, schemas, shapers) lives until the run ends; the
        # cyclic GC need not scan it again on every collection the records trigger
        # (about 10 % of the CPU per record, docs/performance.md). Garbage first, so none is
        # kept; streams_done unfreezes.
        gc.collect()
        gc.freeze()
        if self.settings.read_ahead and len(selected) > 1:
            self._reader = ReadAhead(selected, self.logger).start()

    def streams_done(self) -> None:
        gc.unfreeze()
        self._stop_reading()
        self.client.close()  # the reader threads' connections too

    def after_streams(self) -> None:
        """One summary of what was denied or failed (run.py); non-zero exit if any."""
        self.run.finish(self.logger, on_missing_permission=self.settings.on_missing_permission)

    def _check_people_access(self) -> None:
        """The first data request lists employee ids (every people stream needs them):
        a service user that sees no one stops here, after one request."""
        search = endpoints.PEOPLE_SEARCH
        try:
            ids = self.employee_ids()
        except HibobPermissionError:
            raise HibobNoAccessError(
                NO_GROUP.format(endpoint=search.shown, permission=search.permission)
            ) from None
        if not ids:
            raise HibobNoAccessError(
                NO_EMPLOYEES.format(
                    endpoint=search.shown,
                    permission=search.permission,
                    scope=endpoints.ACCESS_SCOPE,
                )
            )

    def _stop_reading(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            self.client.stop()
            reader.close()

    def on_termination(self) -> None:
        self._stop_reading()

    # Input files ----------------------------------------------------------------------

    def load_state(self, state: dict[str, Any]) -> None:
        """Accept only Singer state shaped as {"bookmarks": {stream: {...}}}.

        Checked here too (not only for --state files) so in-process use gets the same
        errors; an unusable bookmark stops the run before any record is written.
        """
        problem = inputs.state_problem(state)
        if problem:
            raise HibobStateError(problem)
        bookmarks = state.get("bookmarks", {})
        for name in sorted(set(bookmarks) - self._stream_names()):
            self.logger.warning(
                "The state has a bookmark for '%s', which tap-hibob does not have (renamed or "
                "retired); ignoring it.",
                name,
            )
        requests = bookmarks.get(timeoff.TimeOffRequestsStream.name)
        if requests and self._uses_bookmark(timeoff.TimeOffRequestsStream.name):
            bookmark = timeoff.check_bookmark(requests)
            if bookmark is not None:
                timeoff.clamp_bookmark(bookmark, datetime.now(UTC), None)
        super().load_state(state)

    def _stream_names(self) -> set[str]:
        return set(self.streams)

    def _uses_bookmark(self, name: str) -> bool:
        """Whether the catalog leaves the stream selected and incremental."""
        stream = self.streams.get(name)
        return stream is not None and stream.selected and stream.replication_method != "FULL_TABLE"

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read --config files, with a clear error for a missing or malformed file."""
        for path in value:
            if path != "ENV":
                inputs.read_json_object(path, "config", HibobConfigError)
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
            state=inputs.checked_state(state),
            catalog=inputs.checked_catalog(catalog),
        )
