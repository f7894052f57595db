"""Base stream: every HiBob stream reads through the tap's one HibobClient."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import (
    _conform_primitive_property,
    _conform_record_data_types,
    _is_exclusive_boolean_type,
    _warn_unmapped_properties,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage, SelectionMask

if TYPE_CHECKING:
    from tap_hibob.client import HibobClient


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A static stream schema from `schemas/<name>.json`.

    Wheels carry the files inside the package (tap_hibob/schemas); a source checkout or an
    editable install reads them from the top-level schemas/ folder.
    """
    packaged = resources.files("tap_hibob") / "schemas" / f"{name}.json"
    if packaged.is_file():
        return dict(json.loads(packaged.read_text(encoding="utf-8")))
    source = Path(__file__).resolve().parent.parent / "schemas" / f"{name}.json"
    return dict(json.loads(source.read_text(encoding="utf-8")))


class HibobStream(Stream):
    """A stream whose records come from HiBob through the shared client."""

    #: Which HiBob rate limit paces this stream's requests (see client.PUBLISHED_LIMITS).
    endpoint: ClassVar[str] = "default"

    _conform: ObjectConformer | None = None
    _conform_schema: dict[str, Any] | None = None
    _prune: RecordPruner | None = None

    _held_version: int | None = None

    @property
    def client(self) -> HibobClient:
        """The tap's HTTP client (shared, so pacing spans all streams)."""
        return self._tap.client  # type: ignore[attr-defined]

    def _write_activate_version_message(self, full_table_version: int) -> None:
        """Hold ACTIVATE_VERSION until the stream has written its last record.

        The SDK sends it before the first record, so a loader deletes the rows of older
        versions first: a run that then fails or is killed mid-stream leaves that table
        emptied until the next complete run. Held here, it goes out only after a stream
        that finished (finalize_state_progress_markers), and never from one that failed.
        """
        self._held_version = full_table_version

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        """After a complete sync of this stream: also release its ACTIVATE_VERSION."""
        super().finalize_state_progress_markers(state)
        version, self._held_version = self._held_version, None
        if version is not None:
            super()._write_activate_version_message(version)

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD path with its two costliest steps done once per schema.

        The profile (the README's Performance section) put half of the tap's CPU in the SDK's
        per-record schema walks: `conform_record_data_types` re-derives each property's
        type from the schema for every value, and `pop_deselected_record_properties` copies
        every record and looks up every property in the selection mask. Here both are
        compiled once per schema, with the SDK's exact semantics (tests/test_conform.py
        checks them against the SDK): an `ObjectConformer`, and a `RecordPruner` that pops
        only the few paths the catalog deselects.
        """
        schema = self.effective_schema
        if self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.RECURSIVE or (
            "properties" not in schema
        ):
            for message in super()._generate_record_messages(record):
                if self.config.get("flattening_enabled"):
                    maps = {m.stream_alias: m for m in self.stream_maps}
                    message.record = _drop_unflattened_nulls(message.record, maps[message.stream])
                yield message
            return
        if self._conform_schema is not schema or self._conform is None or self._prune is None:
            self._conform = ObjectConformer(schema)
            self._conform_schema = schema
            self._prune = RecordPruner(self.mask, self.schema)
        self._prune(record)
        unmapped: list[str] = []
        record = self._conform(record, unmapped)
        if unmapped:
            _warn_unmapped_properties(self.name, tuple(unmapped), self.logger)
        flattening = bool(self.config.get("flattening_enabled"))
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                if flattening:
                    mapped_record = _drop_unflattened_nulls(mapped_record, stream_map)
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )


def _drop_unflattened_nulls(record: dict[str, Any], stream_map: Any) -> dict[str, Any]:
    """Drop null keys the flattened schema does not have.

    With flattening on, the SDK leaves a null nested object under its bare name
    (`reportsTo: null`) although the schema only has `reportsTo__id`, ...; loaders with
    fixed columns (target-csv) then reject the row (meltano/sdk#2178). Nothing is lost:
    every flattened column of a null object is null.
    """
    properties = stream_map.transformed_schema.get("properties", {})
    if all(key in properties for key in record):
        return record
    return {k: v for k, v in record.items() if v is not None or k in properties}


class RecordPruner:
    """`pop_deselected_record_properties` for one selection mask, compiled.

    The SDK walks every property of every record (copying each dict) to ask the mask.
    Only breadcrumbs the mask holds as False can be popped, and only along nested dicts,
    so this pops exactly those paths, outermost first, and does nothing when the catalog
    deselects nothing.
    """

    def __init__(self, mask: SelectionMask, schema: dict[str, Any]) -> None:
        self.mask = mask
        self.schema = schema
        self.everything = not mask[()]  # a deselected root pops every property
        self.paths = [] if self.everything else _deselected_paths(mask)

    def __call__(self, record: dict[str, Any]) -> None:
        if self.everything:
            pop_deselected_record_properties(record, self.schema, self.mask)
            return
        for names in self.paths:
            target: Any = record
            for name in names[:-1]:
                target = target.get(name)
                if not isinstance(target, dict):
                    break
            else:
                target.pop(names[-1], None)


def _deselected_paths(mask: SelectionMask) -> list[tuple[str, ...]]:
    """Property names along each deselected breadcrumb whose ancestors are all selected.

    The SDK only ever asks the mask about ("properties", name, "properties", name, ...)
    breadcrumbs, so other shapes (array items) can never pop anything.
    """
    paths = []
    for breadcrumb, selected in mask.items():
        if selected or len(breadcrumb) < 2 or len(breadcrumb) % 2:
            continue
        if any(part != "properties" for part in breadcrumb[::2]):
            continue
        if all(mask[breadcrumb[:end]] for end in range(2, len(breadcrumb), 2)):
            paths.append(tuple(breadcrumb[1::2]))
    return paths


# Values JSON decoding produces that the SDK's primitive conformance returns unchanged
# (unless the property is boolean-only, where it maps them to `value != 0`); dicts and
# lists get here when the schema gives them no properties or items (free-form objects).
_PASS_THROUGH = frozenset({str, int, bool, type(None), dict, list})

# A compiled property: (value, unmapped paths so far) -> conformed value.
PropertyConformer = Callable[[Any, list[str]], Any]


class ObjectConformer:
    """`conform_record_data_types` at RECURSIVE level, with the schema walked once.

    Same results as the SDK's function for every input: JSON scalars take a fast path,
    anything else (datetimes, Decimals, bytes, odd schemas) goes to the SDK's own code.
    `path` is where the object sits in the record ("a.b"), as the SDK names unmapped
    properties; it is fixed by the schema, so it is built here, not per record.
    """

    def __init__(self, schema: dict[str, Any], path: str | None = None) -> None:
        self.path = path
        self.additional = bool(schema.get("additionalProperties"))
        properties = schema["properties"]
        #: Properties whose JSON values the SDK returns unchanged (no boolean-only type, no
        #: nested properties or items to walk): copied without a call per value.
        self.plain = frozenset(name for name, sub in properties.items() if _is_plain(sub))
        self.properties: dict[str, PropertyConformer] = {
            name: _compile_property(sub, path, name) for name, sub in properties.items()
        }

    def __call__(self, record: dict[str, Any], unmapped: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        properties, plain, passing = self.properties, self.plain, _PASS_THROUGH
        for name, value in record.items():
            if name in plain and type(value) in passing:
                out[name] = value
                continue
            conform = properties.get(name)
            if conform is not None:
                out[name] = conform(value, unmapped)
            elif self.additional:
                out[name] = value
            else:
                unmapped.append(_path(self.path, name))
        return out


def _is_plain(schema: dict[str, Any]) -> bool:
    try:
        return not (
            _is_exclusive_boolean_type(schema)
            or is_uniform_list(schema)
            or (is_object_type(schema) and "properties" in schema)
        )
    except Exception:  # e.g. `{}`: the SDK raises on list values, so never plain
        return False


def _compile_property(schema: dict[str, Any], parent: str | None, name: str) -> PropertyConformer:
    path = _path(parent, name)
    try:
        primitive = _compile_primitive(schema)
        as_list = _compile_list(schema, path) if is_uniform_list(schema) else None
        as_object = (
            ObjectConformer(schema, path)
            if is_object_type(schema) and "properties" in schema
            else None
        )
    except Exception:  # a schema the SDK cannot type: let the SDK decide per value
        return _sdk_property(schema, parent, name)

    def conform(value: Any, unmapped: list[str]) -> Any:
        # Same order as the SDK: uniform lists, then objects with properties, then scalars.
        if as_list is not None and isinstance(value, list):
            return as_list(value, unmapped)
        if as_object is not None and isinstance(value, dict):
            return as_object(value, unmapped)
        return primitive(value)

    return conform


def _sdk_property(schema: dict[str, Any], parent: str | None, name: str) -> PropertyConformer:
    """The SDK's own code for one property (e.g. `{}`, where it raises on list values)."""
    holder = {"properties": {name: schema}}

    def conform(value: Any, unmapped: list[str]) -> Any:
        out, missing = _conform_record_data_types(
            {name: value}, holder, TypeConformanceLevel.RECURSIVE, parent
        )
        unmapped.extend(missing)
        return out[name]

    return conform


def _compile_list(schema: dict[str, Any], path: str) -> Callable[[list[Any], list[str]], list[Any]]:
    """A uniform list: its items are conformed with the list's own path as parent."""
    items = schema["items"]
    item_is_object = bool(is_object_type(items))
    if item_is_object and "properties" not in items:
        # The SDK's own handling of an object without properties (rare; not ours to copy).
        def delegate(value: list[Any], unmapped: list[str]) -> list[Any]:
            out = []
            for item in value:
                if isinstance(item, dict):
                    conformed, missing = _conform_record_data_types(
                        item, items, TypeConformanceLevel.RECURSIVE, path
                    )
                    unmapped.extend(missing)
                    out.append(conformed)
                else:
                    out.append(_conform_primitive_property(item, items))
            return out

        return delegate
    as_object = ObjectConformer(items, path) if item_is_object else None
    primitive = _compile_primitive(items)

    def conform(value: list[Any], unmapped: list[str]) -> list[Any]:
        if as_object is None:
            return [primitive(item) for item in value]
        return [
            as_object(item, unmapped) if isinstance(item, dict) else primitive(item)
            for item in value
        ]

    return conform


def _compile_primitive(schema: dict[str, Any]) -> Callable[[Any], Any]:
    boolean_only = _is_exclusive_boolean_type(schema)

    def conform(value: Any) -> Any:
        kind = type(value)
        if kind in _PASS_THROUGH:
            if boolean_only:
                return None if value is None else value != 0
            return value
        if kind is float:
            return value if math.isfinite(value) else None
        return _conform_primitive_property(value, schema)

    return conform


def _path(parent: str | None, name: str) -> str:
    return name if parent is None else f"{parent}.{name}"
