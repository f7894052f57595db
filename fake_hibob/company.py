"""Fake HiBob tasks (docs/development/hibob-api.md, "Tasks").

- `GET /v1/tasks` lists **open** tasks only.
- `GET /v1/tasks/people/{id}?task_status=open|closed` lists the tasks that are for one
  employee (`requestedFor`), closed ones included; without `task_status` all of them.
  An unknown employee, or one outside the access scope, is a 404.

Open tasks: two onboarding tasks for each not-yet-started employee and every seventh one.
Closed tasks (status "closed", completionDate set): about a third of the employees who have
started have finished onboarding tasks, and leavers have finished offboarding ones.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from fake_hibob.server import Reply, Request, error_reply, forbidden, json_reply

if TYPE_CHECKING:
    from fake_hibob.server import FakeHibob
    from fake_hibob.tenant import Employee, Tenant

OPEN_TITLES = ("Sign contract", "Order laptop")
ONBOARDING_DONE = ("Sign contract", "Order laptop", "Set up payroll", "Meet your buddy")
OFFBOARDING_DONE = ("Return laptop", "Exit interview")


def _task(
    task_id: int,
    title: str,
    e: Employee,
    owner: Employee,
    due: date,
    list_name: str,
    completed: date | None = None,
) -> dict[str, Any]:
    return {
        "id": task_id,
        "title": title,
        "requestedFor": e.reference(),
        "owner": owner.reference(),
        "dueDate": due.isoformat(),
        "status": "closed" if completed else "open",
        "listName": list_name,
        "setFor": owner.display_name,
        "completionDate": completed.isoformat() if completed else None,
        "linkedEntity": None,
        "description": None,
    }


def _by_id(tenant: Tenant) -> dict[str, Employee]:
    cached = tenant.data.get("company.by_id")
    if cached is None:
        cached = tenant.data["company.by_id"] = {e.id: e for e in tenant.employees}
    return cached  # type: ignore[no-any-return]


def _manager(tenant: Tenant, e: Employee) -> Employee:
    return _by_id(tenant).get(e.manager_id or "", e)


def open_tasks(tenant: Tenant, e: Employee) -> list[dict[str, Any]]:
    if e.lifecycle != "hired" and e.index % 7:
        return []
    manager = _manager(tenant, e)
    return [
        _task(
            5000000 + e.index * 10 + n,
            title,
            e,
            manager,
            e.start_date + timedelta(days=n),
            "Onboarding",
        )
        for n, title in enumerate(OPEN_TITLES)
    ]


def closed_tasks(tenant: Tenant, e: Employee) -> list[dict[str, Any]]:
    if e.lifecycle == "hired":
        return []
    manager = _manager(tenant, e)
    out = []
    if e.index % 3 == 1:
        for n, title in enumerate(ONBOARDING_DONE[: 1 + e.index % 4]):
            due = e.start_date + timedelta(days=n)
            done = due - timedelta(days=(e.index + n) % 3)
            out.append(
                _task(6000000 + e.index * 10 + n, title, e, manager, due, "Onboarding", done)
            )
    if e.termination_date is not None:
        for n, title in enumerate(OFFBOARDING_DONE):
            due = e.termination_date
            out.append(
                _task(6000000 + e.index * 10 + 5 + n, title, e, manager, due, "Offboarding", due)
            )
    return out


def tasks(app: FakeHibob) -> list[dict]:
    """The open tasks of every visible employee (what `GET /v1/tasks` lists)."""
    return [t for e in app.visible_employees() for t in open_tasks(app.tenant, e)]


def employee_tasks(app: FakeHibob, e: Employee, status: str | None = None) -> list[dict]:
    """One employee's tasks, open then closed, optionally only one status."""
    out = open_tasks(app.tenant, e) + closed_tasks(app.tenant, e)
    return [t for t in out if status is None or t["status"] == status]


def register(app: FakeHibob) -> None:
    @app.route("GET", "/v1/tasks", "tasks")
    def get_tasks(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if not app.profile.in_group:
            return forbidden()
        return json_reply({"tasks": tasks(app)})

    @app.route("GET", r"/v1/tasks/people/(?P<employee>[^/]+)", "tasks_people")
    def get_employee_tasks(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if not app.profile.in_group:
            return forbidden()
        status = request.arg("task_status")
        if status not in (None, "open", "closed"):
            return error_reply(400, "bad.request", "task_status must be open or closed")
        employee = _by_id(app.tenant).get(match["employee"])
        if employee is None or employee.lifecycle not in app.profile.lifecycle_statuses:
            return error_reply(404, "employee.not.found", "Employee not found")
        return json_reply({"tasks": employee_tasks(app, employee, status)})
