"""Base stream: records come from HiBob through the tap's one client, shaped to the schema.

Subclasses implement `read_records`, which may run in a read-ahead thread (readahead.py);
it yields records, and `Checkpoint`s where the stream must act in order (time off's
bookmark). `get_records` hands the SDK those records in order and turns a failure into the
run's report (run.py): a 403 ends only this stream, and so does a failure HiBob keeps
repeating, so every other selected stream still syncs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_hibob.endpoints import StreamSpec, spec_for
from tap_hibob.errors import HibobAPIError, HibobAuthError, HibobPermissionError
from tap_hibob.readahead import Checkpoint
from tap_hibob.records import Shaper
from tap_hibob.sdk_overrides import HeldActivateVersion, ShapedRecordMessages

if TYPE_CHECKING:
    from tap_hibob.client import HibobClient
    from tap_hibob.settings import Settings
    from tap_hibob.tap import TapHibob

_SCHEMAS = "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled stream schema (`schemas/<name>.json`), from a wheel or a checkout."""
    packaged = resources.files("tap_hibob") / _SCHEMAS / f"{name}.json"
    if packaged.is_file():
        return dict(json.loads(packaged.read_text(encoding="utf-8")))
    source = Path(__file__).resolve().parent.parent / _SCHEMAS / f"{name}.json"
    return dict(json.loads(source.read_text(encoding="utf-8")))


class HibobStream(ShapedRecordMessages, HeldActivateVersion):
    """A stream whose records come from HiBob through the shared client."""

    # The tap types every value itself (records.Shaper): the SDK need not walk the schema
    # per record again.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: True for streams whose rows must never be deleted downstream (daily snapshots).
    keeps_history: ClassVar[bool] = False

    def __init__(
        self,
        tap: TapHibob,
        schema: dict[str, Any] | None = None,
        name: str | None = None,
        *,
        spec: StreamSpec | None = None,
    ) -> None:
        self.hibob = tap
        super().__init__(tap, schema=schema, name=name)
        self._spec = spec

    # What the stream reads -------------------------------------------------------------

    @property
    def spec(self) -> StreamSpec | None:
        """This stream's registry entry (endpoint, permission, default selection)."""
        return self._spec or spec_for(self.name)

    @property
    def client(self) -> HibobClient:
        return self.hibob.client

    @property
    def settings(self) -> Settings:
        return self.hibob.settings

    def read_records(self, context: Mapping[str, Any] | None) -> Iterable[Any]:
        """HiBob's rows for this stream (records and Checkpoints); may run in a thread."""
        raise NotImplementedError

    def shaped_records(self, context: Mapping[str, Any] | None) -> Iterator[Any]:
        """`read_records`, each record shaped (typed, pruned to the selection) as it is read:
        in a reader thread when reading ahead, so the main thread only writes messages."""
        shaper = self.shaper
        for item in self.read_records(context):
            yield item if isinstance(item, Checkpoint) else shaper(item)

    def checkpoint(self, value: Any) -> None:
        """Act on a Checkpoint the reader passed (in the main thread, in output order)."""

    def prepare(self) -> None:
        """Before any stream is read (main thread): settle what reading needs from shared
        state, so reader threads never touch the tap's state or the catalog lazily."""
        _ = self.shaper  # built from the mask and the effective schema

    # The SDK's side ----------------------------------------------------------------------

    @cached_property
    def shaper(self) -> Shaper:
        flatten = self.config.get("flattening_enabled")
        depth = int(self.config.get("flattening_max_depth") or 0) if flatten else 0
        return Shaper(self.effective_schema, flatten_depth=depth, mask=self.mask)

    def get_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """The records in order; a denied or failing stream ends here, reported once."""
        try:
            for item in self.hibob.items_of(self, context):
                if isinstance(item, Checkpoint):
                    self.checkpoint(item.value)
                else:
                    yield item
        except HibobAuthError:
            raise  # every other request would earn a 401 too (and feed HiBob's firewall)
        except HibobPermissionError as exc:
            self.logger.error("%s", exc)
            self.hibob.run.deny(self.name, exc)
        except (HibobAPIError, RetriableAPIError) as exc:
            self.logger.error("%s", exc)
            self.hibob.run.fail(self.name, str(exc))
        except requests.exceptions.RequestException as exc:
            reason = f"could not talk to HiBob ({type(exc).__name__}) after the retries"
            self.logger.error("%s: %s", self.name, reason)
            self.hibob.run.fail(self.name, reason)
        finally:
            for line in self.shaper.warnings(self.name):
                self.logger.warning(line)

    def activate_version_allowed(self) -> bool:
        return not self.keeps_history and not self.hibob.run.incomplete(self.name)
