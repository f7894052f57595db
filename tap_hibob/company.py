"""Company-level streams: open tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk import Stream

from tap_hibob.errors import HibobAPIError
from tap_hibob.stream import HibobStream, load_schema


class TasksStream(HibobStream):
    """Open tasks of the employees the service user can see (`GET /v1/tasks`)."""

    name = "tasks"
    primary_keys = ("id",)
    schema = load_schema("tasks")

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """One request; HiBob does not paginate tasks."""
        payload = self.client.get("/tasks", endpoint="tasks", stream=self.name).payload
        tasks = payload.get("tasks") if isinstance(payload, dict) else None
        if not isinstance(tasks, list):
            # An empty sync would let ACTIVATE_VERSION delete every task downstream.
            raise HibobAPIError(
                "HiBob answered GET /v1/tasks for stream 'tasks' without a 'tasks' list; its "
                "API may have changed. Deselect the stream and report this to the maintainers."
            )
        yield from tasks


STREAMS: list[type[Stream]] = [TasksStream]
