"""`employees`: every field HiBob's metadata lists, custom fields included.

The schema is built at discovery from the field metadata (field_types.employee_schema). A
sync requests exactly the fields selected in the catalog, in two steps that keep memory
flat on any tenant size: one people search for the employee ids (shared by every stream
that needs them, and the run's first check that the service user can see anyone), then
batches of ids with one `root.id equals` filter each, more than 400 fields split into
groups merged by id. Requests per sync: 1 (ids) + ceil(N / people_batch_size) x
ceil((F - 1) / 399). A batch HiBob refuses as too large is halved (batches.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_hibob import endpoints
from tap_hibob.batches import adaptive_batches
from tap_hibob.field_types import HUMAN_READABLE_KEY, HibobField, employee_schema
from tap_hibob.stream import HibobStream

if TYPE_CHECKING:
    from singer_sdk.singerlib import MetadataMapping

    from tap_hibob.client import HibobClient
    from tap_hibob.tap import TapHibob

ID_FIELD = "root.id"
MAX_FIELDS_PER_REQUEST = 400  # HiBob answers 400 to more
_SAMPLE = 5  # field ids named per warning


def list_employee_ids(client: HibobClient, *, include_inactive: bool, stream: str) -> list[str]:
    """Ids of every employee the service user can see, as strings, in HiBob's order.

    One `POST /people/search` asking only for `root.id`. No `filters` key at all: HiBob may
    answer `filters: []` with 400, and omitting it means "everyone".
    """
    body = {"fields": [ID_FIELD], "showInactive": include_inactive}
    payload = client.post(endpoints.PEOPLE_SEARCH, body, stream=stream).payload
    ids: dict[str, None] = {}
    for employee in _employees(payload):
        employee_id = employee.get("id")
        if employee_id is None:
            employee_id = (employee.get("/root/id") or {}).get("value")
        if employee_id is not None:
            ids[str(employee_id)] = None
    return list(ids)


def _employees(payload: Any) -> list[dict[str, Any]]:
    employees = payload.get("employees") if isinstance(payload, dict) else None
    return [e for e in employees or [] if isinstance(e, dict)]


def field_value(employee: Mapping[str, Any], field: HibobField) -> tuple[bool, Any]:
    """(present, value) of one field in a people-search record, nested or slash form.

    Present-but-null counts as present: HiBob omits only fields the user may not see.
    """
    node: Any = employee
    for part in field.path:
        if not isinstance(node, Mapping) or part not in node:
            break
        node = node[part]
    else:
        return True, node
    if field.slash_key in employee:
        value = employee[field.slash_key]
        return True, value.get("value") if isinstance(value, Mapping) else value
    return False, None


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
    ssn_fields: list[HibobField]
    pending: dict[str, HibobField]  # requested fields no employee has returned yet
    obscured: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, fields: list[HibobField], selected: list[HibobField], mode: str) -> _Plan:
        ids = [f.id for f in selected if f.id != ID_FIELD]
        size = MAX_FIELDS_PER_REQUEST - 1  # every group also carries root.id to merge on
        groups = [[ID_FIELD, *ids[i : i + size]] for i in range(0, len(ids), size)]
        return cls(
            groups=groups or [[ID_FIELD]],
            slash_paths={f.slash_key: f.path for f in fields},
            ssn_fields=[f for f in selected if f.sensitive],
            pending={f.id: f for f in selected if f.id != ID_FIELD},
        )

    def normalize(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """HiBob's employee as the nested record: slash-key duplicates folded in, then
        dropped (records.Shaper then types the values)."""
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
                endpoints.BASIC_INFO,
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
                endpoints.for_category(category_id, category_name),
            )
        if sensitive:
            logger.warning(
                "%s: HiBob silently left out %s. Add these permissions to the service user's "
                "permission group: %s and %s, or deselect those fields.",
                stream,
                ", ".join(sensitive),
                endpoints.for_category("identification", "Identification"),
                endpoints.IDENTIFICATION_EDIT,
            )
        if self.obscured:
            logger.warning(
                "%s: HiBob sent %s obscured (masked). For full values add this permission "
                "to the service user's permission group: %s.",
                stream,
                ", ".join(sorted(self.obscured)),
                endpoints.IDENTIFICATION_EDIT,
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

    def __init__(self, tap: TapHibob, fields: list[HibobField]) -> None:
        self.fields = fields
        schema = employee_schema(fields, human_readable=tap.settings.human_readable)
        super().__init__(tap, schema=schema)
        self._defaults_applied = False

    @property
    def human_readable(self) -> str:
        return self.settings.human_readable

    @property
    def metadata(self) -> MetadataMapping:
        """Standard metadata with one entry per nested field. Without a catalog entry for
        this stream, SSN fields and volatile fields are not selected by default."""
        mapping = super().metadata
        if not self._defaults_applied:
            self._defaults_applied = True
            catalog = self.hibob.input_catalog
            if catalog is None or catalog.get_stream(self.tap_stream_id) is None:
                for f in self.fields:
                    if f.sensitive or f.volatile:
                        self._deselect_by_default(mapping, f)
        return mapping

    def _deselect_by_default(self, mapping: MetadataMapping, f: HibobField) -> None:
        mapping[_breadcrumb(f.path)].selected_by_default = False
        if self.human_readable == "append":
            mapping[_breadcrumb((HUMAN_READABLE_KEY, *f.path))].selected_by_default = False

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

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """Ids first, then full records in batches of ids (x field groups), merged by id."""
        self._warn_stale()
        plan = _Plan.build(self.fields, self.selected_fields(), self.human_readable)
        emitted = 0
        batches = adaptive_batches(
            self.hibob.employee_ids(),
            self.settings.people_batch_size,
            lambda batch: self._read_batch(batch, plan),
            self.logger,
            self.name,
        )
        for _, records in batches:
            for record in records:
                plan.observe(record)
                emitted += 1
                yield record
        plan.report(self.logger, self.name, emitted)

    def _read_batch(self, batch: list[str], plan: _Plan) -> Iterable[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for group in plan.groups:
            body: dict[str, Any] = {
                "fields": group,
                "filters": [{"fieldPath": ID_FIELD, "operator": "equals", "values": batch}],
                "showInactive": self.settings.include_inactive,
            }
            if self.human_readable != "off":
                body["humanReadable"] = self.human_readable.upper()
            payload = self.client.post(endpoints.PEOPLE_SEARCH, body, stream=self.name).payload
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
        return list(merged.values())


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
