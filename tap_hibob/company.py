"""Company-level streams: the field metadata, named lists and tasks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tap_hibob import endpoints
from tap_hibob.errors import HibobAPIError
from tap_hibob.progress import Progress
from tap_hibob.stream import HibobStream, load_schema

if TYPE_CHECKING:
    from tap_hibob.tap import TapHibob

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

    def __init__(self, tap: TapHibob) -> None:
        super().__init__(tap, schema=load_schema(self.name))

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """One record per field id (the metadata discovery read: no request of its own)."""
        seen: set[str] = set()
        for raw in self.hibob.metadata.raw_fields:
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

    def __init__(self, tap: TapHibob) -> None:
        super().__init__(tap, schema=load_schema(self.name))

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        """One record per (list, item), hierarchies flattened with `parentId`.

        Archived items are included: older employee records still point at them.
        """
        payload = self.client.get(
            endpoints.NAMED_LISTS, stream=self.name, params={"includeArchived": "true"}
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
        # Reading it as "no lists" would let ACTIVATE_VERSION delete every list downstream.
        raise HibobAPIError(
            "HiBob answered the named lists request for stream 'named_lists' with neither a "
            "list nor an object of lists; its API may have changed. Deselect the stream and "
            "report this to the maintainers."
        )
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


class TasksStream(HibobStream):
    """Tasks of the employees the service user can see.

    `GET /v1/tasks` lists open tasks only (one request). With tasks_include_closed, every
    employee's tasks are read instead (`GET /v1/tasks/people/{id}`, open and closed: one
    request per employee), into the same stream.
    """

    name = "tasks"
    primary_keys = ("id",)

    def __init__(self, tap: TapHibob) -> None:
        super().__init__(tap, schema=load_schema(self.name))

    def read_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        if self.settings.tasks_include_closed:
            yield from self._every_employees_tasks()
            return
        yield from _tasks(self.client.get(endpoints.TASKS, stream=self.name).payload)

    def _every_employees_tasks(self) -> Iterator[dict[str, Any]]:
        ids = self.hibob.employee_ids()
        endpoint = endpoints.EMPLOYEE_TASKS
        progress = Progress(self.logger, self.name, len(ids), self.client, endpoint)
        seen: set[Any] = set()
        for employee_id in ids:
            payload = self.client.get_if_found(
                endpoint, stream=self.name, path={"employee": employee_id}
            )
            progress.step()
            if payload is None:
                continue  # gone since the employee list was read
            for task in _tasks(payload):
                if task.get("id") not in seen:  # a task may be listed for two employees
                    seen.add(task.get("id"))
                    yield task


def _tasks(payload: Any) -> list[dict[str, Any]]:
    tasks = payload.get("tasks") if isinstance(payload, dict) else None
    if not isinstance(tasks, list):
        # An empty sync would let ACTIVATE_VERSION delete every task downstream.
        raise HibobAPIError(
            "HiBob answered the tasks request for stream 'tasks' without a 'tasks' list; its "
            "API may have changed. Deselect the stream and report this to the maintainers."
        )
    return [task for task in tasks if isinstance(task, dict)]
