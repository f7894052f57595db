"""People streams: `employees`, `employee_fields` and `named_lists`.

`employees` has no fixed schema: discovery reads HiBob's field metadata
(`GET /v1/company/people/fields`) and builds it from every field the company has, custom
fields and custom categories included (see field_types). A sync requests exactly the fields
selected in the catalog, in two steps that keep memory flat on any tenant size: one people
search for the employee ids, then batches of ids with one `root.id equals` filter each, and
more than 400 fields split into groups merged by id. Requests per sync:
1 (metadata) + 1 (ids) + ceil(N / people_batch_size) x ceil((F - 1) / 399).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from singer_sdk import Stream

from tap_hibob import permissions
from tap_hibob.errors import HibobAPIError
from tap_hibob.field_types import (
    HUMAN_READABLE_KEY,
    ID_TYPES,
    HibobField,
    employee_schema,
    parse_fields,
    to_utc_timestamp,
)
from tap_hibob.stream import HibobStream, load_schema

if TYPE_CHECKING:
    from singer_sdk.singerlib import CatalogEntry, MetadataMapping

    from tap_hibob.client import HibobClient

SEARCH_PATH = "/people/search"
FIELDS_PATH = "/company/people/fields"
NAMED_LISTS_PATH = "/company/named-lists"
ID_FIELD = "root.id"
MAX_FIELDS_PER_REQUEST = 400  # HiBob answers 400 to more
SSN_PERMISSION = "People > Identification > Edit selected employees' Identification sections"
_SAMPLE = 5  # field ids named per warning

# One metadata read per run, shared by `employees` (discovery and sync) and `employee_fields`.
_METADATA: WeakKeyDictionary[HibobClient, list[Any]] = WeakKeyDictionary()


def list_employee_ids(client: HibobClient, *, include_inactive: bool, stream: str) -> list[str]:
    """Ids of every employee the service user can see, as strings, in HiBob's order.

    One `POST /people/search` asking only for `root.id`. No `filters` key at all: HiBob may
    answer `filters: []` with 400, and omitting it means "everyone".
    """
    body = {"fields": [ID_FIELD], "showInactive": include_inactive}
    payload = client.post(SEARCH_PATH, body, endpoint="people_search", stream=stream).payload
    ids: dict[str, None] = {}
    for employee in _employees(payload):
        employee_id = employee.get("id")
        if employee_id is None:
            employee_id = (employee.get("/root/id") or {}).get("value")
        if employee_id is not None:
            ids[str(employee_id)] = None
    return list(ids)


def field_metadata(client: HibobClient, *, stream: str) -> list[Any]:
    """HiBob's field metadata (a bare JSON array), read once per run."""
    cached = _METADATA.get(client)
    if cached is None:
        payload = client.get(FIELDS_PATH, endpoint="fields_metadata", stream=stream).payload
        if not isinstance(payload, list):
            raise HibobAPIError(
                f"HiBob's field metadata (GET /v1{FIELDS_PATH}) is not a JSON array; "
                "check api_url points at the HiBob API"
            )
        cached = _METADATA[client] = payload
    return cached


def _employees(payload: Any) -> list[dict[str, Any]]:
    employees = payload.get("employees") if isinstance(payload, dict) else None
    return [e for e in employees or [] if isinstance(e, dict)]


def _breadcrumb(path: Iterable[str]) -> tuple[str, ...]:
    crumb: tuple[str, ...] = ()
    for key in path:
        crumb += ("properties", key)
    return crumb


# Record helpers: each walks one precomputed path, no schema work per record. ----------


def _fill(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put a slash-key value at its nested place unless the nested form already has it."""
    node = record
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            return
        node = child
    if node.get(path[-1]) is None and value is not None:
        node[path[-1]] = value


def _apply(record: dict[str, Any], path: tuple[str, ...], convert: Callable[[Any], Any]) -> None:
    node: Any = record
    for key in path[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return
    last = path[-1]
    if last in node and node[last] is not None:
        node[last] = convert(node[last])


def _has(record: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether HiBob returned the field (a null parent counts: the field has no value)."""
    node: Any = record
    for key in path[:-1]:
        if key not in node:
            return False
        node = node[key]
        if not isinstance(node, dict):
            return node is None
    return path[-1] in node


def _as_id(value: Any) -> Any:
    """Ids as strings: list item ids and employee ids may come as JSON numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


def _merge(into: dict[str, Any], part: Mapping[str, Any]) -> None:
    """Deep-merge a partial record of another field group into the record."""
    for key, value in part.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        elif key not in into or current is None:
            into[key] = value


# The employees sync, planned once per run. -----------------------------------------


@dataclass
class _Plan:
    """What to request and how to shape each answer, computed before the first record."""

    groups: list[list[str]]
    slash_paths: dict[str, tuple[str, ...]]
    time_paths: list[tuple[str, ...]]
    id_paths: list[tuple[str, ...]]
    ssn_fields: list[HibobField]
    pending: dict[str, HibobField]  # requested fields no employee has returned yet
    obscured: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, fields: list[HibobField], selected: list[HibobField], mode: str) -> _Plan:
        ids = [f.id for f in selected if f.id != ID_FIELD]
        size = MAX_FIELDS_PER_REQUEST - 1  # every group also carries root.id to merge on
        groups = [[ID_FIELD, *ids[i : i + size]] for i in range(0, len(ids), size)]
        machine = mode != "replace"
        return cls(
            groups=groups or [[ID_FIELD]],
            slash_paths={f.slash_key: f.path for f in fields},
            time_paths=[f.path for f in selected if machine and f.type == "time"],
            id_paths=[f.path for f in selected if machine and f.type in ID_TYPES],
            ssn_fields=[f for f in selected if f.sensitive],
            pending={f.id: f for f in selected if f.id != ID_FIELD},
        )

    def normalize(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """HiBob's employee as the nested record: slash-key duplicates folded in, then
        dropped; `time` values in UTC; ids as strings."""
        record: dict[str, Any] = {}
        slashed: list[tuple[str, Any]] = []
        for key, value in raw.items():
            if key[:1] == "/":
                slashed.append((key, value))
            else:
                record[key] = value
        for key, wrapped in slashed:
            path = self.slash_paths.get(key)
            if path is not None:
                value = wrapped.get("value") if isinstance(wrapped, dict) else wrapped
                _fill(record, path, value)
        for path in self.time_paths:
            _apply(record, path, to_utc_timestamp)
        for path in self.id_paths:
            _apply(record, path, _as_id)
        return record

    def observe(self, record: Mapping[str, Any]) -> None:
        """Note which requested fields came back (HiBob drops unpermitted ones silently)."""
        if self.pending:
            for field_id, f in list(self.pending.items()):
                if _has(record, f.path):
                    del self.pending[field_id]
        for f in self.ssn_fields:
            if f.id not in self.obscured:
                value = _value_at(record, f.path)
                if isinstance(value, str) and "*" in value:
                    self.obscured.add(f.id)

    def report(self, logger: logging.Logger, stream: str, employees: int) -> None:
        """Once per run: one warning per category HiBob left out, and for masked SSNs."""
        if not employees:
            logger.warning(
                "%s: HiBob returned no employees. The service user needs '%s' and access to "
                "the people (permission group > People's data > Whose data can members "
                "access?, with the lifecycle statuses Hired, Employed and Terminated).",
                stream,
                permissions.BASIC_INFO,
            )
            return
        by_category: dict[tuple[str, str], list[str]] = {}
        sensitive: list[str] = []
        for f in self.pending.values():
            if f.sensitive:
                sensitive.append(f.id)  # HiBob may hide SSNs from groups that can only view
            else:
                by_category.setdefault((f.category_id, f.category_name), []).append(f.id)
        for (category_id, category_name), ids in sorted(by_category.items()):
            sample = ", ".join(ids[:_SAMPLE]) + (", ..." if len(ids) > _SAMPLE else "")
            logger.warning(
                "%s: HiBob silently left out %d requested field(s) of the '%s' category "
                "(%s). Add this permission to the service user's permission group: %s, or "
                "deselect those fields.",
                stream,
                len(ids),
                category_name,
                sample,
                permissions.for_category(category_id, category_name),
            )
        if sensitive:
            logger.warning(
                "%s: HiBob silently left out %s. Add these permissions to the service user's "
                "permission group: %s and %s, or deselect those fields.",
                stream,
                ", ".join(sensitive),
                permissions.for_category("identification", "Identification"),
                SSN_PERMISSION,
            )
        if self.obscured:
            logger.warning(
                "%s: HiBob sent %s obscured (masked). For full values add this permission "
                "to the service user's permission group: %s.",
                stream,
                ", ".join(sorted(self.obscured)),
                SSN_PERMISSION,
            )


def _value_at(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = record
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _stale_paths(
    properties: Mapping[str, Any],
    known: set[tuple[str, ...]],
    prefixes: set[tuple[str, ...]],
    selected: Callable[[tuple[str, ...]], bool],
    *,
    path: tuple[str, ...] = (),
    inside_field: bool = False,
) -> list[str]:
    """Selected catalog properties that are no field of HiBob's metadata any more.

    Properties inside a field (a currency's `value`) belong to its type, not to metadata.
    """
    stale: list[str] = []
    for key, schema in properties.items():
        here = (*path, key)
        if not path and key in (HUMAN_READABLE_KEY, "id"):
            continue
        below = schema.get("properties") if isinstance(schema, Mapping) else None
        if here in known or here in prefixes:
            if here in prefixes and isinstance(below, Mapping):
                stale += _stale_paths(
                    below,
                    known,
                    prefixes,
                    selected,
                    path=here,
                    inside_field=inside_field or here in known,
                )
        elif not inside_field and selected(here):
            stale.append(".".join(here))
    return stale


class EmployeesStream(HibobStream):
    """Employees with every selected field (`POST /v1/people/search`), schema from metadata."""

    name = "employees"
    primary_keys = ("id",)
    endpoint = "people_search"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fields: list[HibobField] | None = None

    @property
    def human_readable(self) -> str:
        """The human_readable setting: off, append (default) or replace."""
        return str(self.config.get("human_readable") or "append")

    @property
    def fields(self) -> list[HibobField]:
        """Fields people search can read, from HiBob's metadata."""
        if self._fields is None:
            self._fields = parse_fields(field_metadata(self.client, stream=self.name))
        return self._fields

    @property
    def schema(self) -> dict[str, Any]:
        """Built from the field metadata on first use (discovery, or a sync)."""
        if self._schema is None:
            self._schema = employee_schema(self.fields, human_readable=self.human_readable)
        return self._schema

    @property
    def metadata(self) -> MetadataMapping:
        """Standard metadata with one entry per nested field; SSN fields not selected by
        default."""
        fresh = self._metadata is None
        mapping = super().metadata
        if fresh and self._catalog_entry() is None:
            for f in self.fields:
                if f.sensitive:
                    mapping[_breadcrumb(f.path)].selected_by_default = False
                    if self.human_readable == "append":
                        label = _breadcrumb((HUMAN_READABLE_KEY, *f.path))
                        mapping[label].selected_by_default = False
        return mapping

    def _catalog_entry(self) -> CatalogEntry | None:
        catalog = self._tap_input_catalog
        return catalog.get_stream(self.tap_stream_id) if catalog else None

    def selected_fields(self) -> list[HibobField]:
        """Fields to request: selected in the catalog and still in HiBob's metadata."""
        mask = self.mask
        present = _paths(self.effective_schema.get("properties", {}))
        chosen = [f for f in self.fields if f.path in present and mask[_breadcrumb(f.path)]]
        if not any(f.id == ID_FIELD for f in chosen):
            root = next((f for f in self.fields if f.id == ID_FIELD), None)
            chosen.insert(0, root or HibobField(ID_FIELD, "ID", "employee-reference",
                                                "root", "Basic info", ("id",)))  # fmt: skip
        return chosen

    def _warn_stale(self) -> None:
        known = {f.path for f in self.fields}
        prefixes = {f.path[:i] for f in self.fields for i in range(1, len(f.path))}
        mask = self.mask
        stale = _stale_paths(
            self.effective_schema.get("properties", {}),
            known,
            prefixes,
            lambda path: bool(mask[_breadcrumb(path)]),
        )
        if stale:
            sample = ", ".join(stale[:_SAMPLE]) + (", ..." if len(stale) > _SAMPLE else "")
            self.logger.warning(
                "%s: %d selected catalog field(s) are no longer in HiBob's field metadata and "
                "are not requested (%s). Run --discover again to refresh the catalog.",
                self.name,
                len(stale),
                sample,
            )
        present = _paths(self.effective_schema.get("properties", {}))
        new = [f.id for f in self.fields if f.path not in present]
        if new:
            sample = ", ".join(new[:_SAMPLE]) + (", ..." if len(new) > _SAMPLE else "")
            self.logger.warning(
                "%s: HiBob has %d field(s) the catalog does not list, so they are not read "
                "(%s). Run --discover again and select them to load them.",
                self.name,
                len(new),
                sample,
            )

    def get_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """Ids first, then full records in batches of ids (x field groups), merged by id."""
        self._warn_stale()
        plan = _Plan.build(self.fields, self.selected_fields(), self.human_readable)
        include_inactive = self.config.get("include_inactive") is not False  # default true
        batch_size = int(self.config.get("people_batch_size") or 200)
        ids = list_employee_ids(self.client, include_inactive=include_inactive, stream=self.name)
        emitted = 0
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            for record in self._read_batch(batch, plan, include_inactive):
                plan.observe(record)
                emitted += 1
                yield record
        plan.report(self.logger, self.name, emitted)

    def _read_batch(
        self, batch: list[str], plan: _Plan, include_inactive: bool
    ) -> Iterable[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for group in plan.groups:
            body: dict[str, Any] = {
                "fields": group,
                "filters": [{"fieldPath": ID_FIELD, "operator": "equals", "values": batch}],
                "showInactive": include_inactive,
            }
            if self.human_readable != "off":
                body["humanReadable"] = self.human_readable.upper()
            payload = self.client.post(
                SEARCH_PATH, body, endpoint=self.endpoint, stream=self.name
            ).payload
            for raw in _employees(payload):
                record = plan.normalize(raw)
                employee_id = record.get("id")
                if employee_id is None:
                    continue  # not an employee record; nothing to key it by
                record["id"] = employee_id = str(employee_id)
                if employee_id in merged:
                    _merge(merged[employee_id], record)
                else:
                    merged[employee_id] = record
        return merged.values()


def _paths(properties: Mapping[str, Any], path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every property path of a schema (nested included)."""
    found: set[tuple[str, ...]] = set()
    for key, schema in properties.items():
        here = (*path, key)
        found.add(here)
        below = schema.get("properties") if isinstance(schema, Mapping) else None
        if isinstance(below, Mapping):
            found |= _paths(below, here)
    return found


# Metadata streams -----------------------------------------------------------------------

_FIELD_KEYS = (
    "id",
    "name",
    "category",
    "categoryId",
    "categoryDisplayName",
    "description",
    "jsonPath",
    "type",
    "typeData",
    "historical",
)


class EmployeeFieldsStream(HibobStream):
    """Every employee field HiBob knows (`GET /v1/company/people/fields`), custom included."""

    name = "employee_fields"
    primary_keys = ("id",)
    endpoint = "fields_metadata"
    schema = load_schema("employee_fields")

    def get_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """One record per field id (the same metadata read discovery used)."""
        seen: set[str] = set()
        for raw in field_metadata(self.client, stream=self.name):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
                continue
            if raw["id"] in seen:
                continue
            seen.add(raw["id"])
            record = {key: raw.get(key) for key in _FIELD_KEYS}
            if not isinstance(record["typeData"], Mapping):
                record["typeData"] = None
            yield record


class NamedListsStream(HibobStream):
    """Items of every named list (`GET /v1/company/named-lists?includeArchived=true`)."""

    name = "named_lists"
    primary_keys = ("listName", "id")
    endpoint = "named_lists"
    schema = load_schema("named_lists")

    def get_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """One record per (list, item), hierarchies flattened with `parentId`.

        Archived items are included: older employee records still point at them.
        """
        payload = self.client.get(
            NAMED_LISTS_PATH,
            endpoint=self.endpoint,
            stream=self.name,
            params={"includeArchived": "true"},
        ).payload
        seen: set[tuple[str, str]] = set()
        for list_name, items in _named_lists(payload):
            for record in list_items(list_name, items):
                key = (record["listName"], record["id"])
                if key not in seen:  # items may come under both `values` and `items`
                    seen.add(key)
                    yield record


def _named_lists(payload: Any) -> Iterator[tuple[str, list[Any]]]:
    """(list name, items) from either documented shape: an array of `{name, items}` or an
    object keyed by list name; items under `values`, `items` or both."""
    if isinstance(payload, Mapping):
        entries: Iterable[tuple[Any, Any]] = payload.items()
    elif isinstance(payload, list):
        entries = ((entry.get("name") if isinstance(entry, Mapping) else None, entry)
                   for entry in payload)  # fmt: skip
    else:
        return
    for key, entry in entries:
        name = key
        if isinstance(entry, Mapping):
            if name is None:
                name = entry.get("name")
            items = [*_list_or_empty(entry.get("values")), *_list_or_empty(entry.get("items"))]
        elif isinstance(entry, list):
            items = entry
        else:
            continue
        if name is not None:
            yield str(name), items


def _list_or_empty(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def list_items(
    list_name: str, items: list[Any], parent_id: str | None = None
) -> Iterator[dict[str, Any]]:
    """Records of one named list's items, depth first, children after their parent."""
    for item in items:
        if not isinstance(item, Mapping) or item.get("id") is None:
            continue
        item_id = str(item["id"])
        yield {
            "listName": list_name,
            "id": item_id,
            "value": item.get("value"),
            "name": item.get("name"),
            "archived": bool(item.get("archived", False)),
            "parentId": parent_id,
        }
        children = item.get("children")
        if isinstance(children, list):
            yield from list_items(list_name, children, item_id)


STREAMS: list[type[Stream]] = [EmployeesStream, EmployeeFieldsStream, NamedListsStream]
