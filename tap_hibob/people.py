"""People streams: `employees`, `employee_fields` and `named_lists`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk import Stream

if TYPE_CHECKING:
    from tap_hibob.client import HibobClient

SEARCH_PATH = "/people/search"


def list_employee_ids(client: HibobClient, *, include_inactive: bool, stream: str) -> list[str]:
    """Ids of every employee the service user can see, as strings, in HiBob's order.

    One `POST /people/search` asking only for `root.id`. No `filters` key at all: HiBob may
    answer `filters: []` with 400, and omitting it means "everyone".
    """
    body = {"fields": ["root.id"], "showInactive": include_inactive}
    payload = client.post(SEARCH_PATH, body, endpoint="people_search", stream=stream).payload
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


STREAMS: list[type[Stream]] = []
