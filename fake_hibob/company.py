"""Fake HiBob company routes: open tasks."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from fake_hibob.server import Reply, Request, forbidden, json_reply

if TYPE_CHECKING:
    from fake_hibob.server import FakeHibob


def tasks(app: FakeHibob) -> list[dict]:
    """Two open onboarding tasks per visible not-yet-started or recent employee."""
    by_id = {m.id: m for m in app.tenant.employees}
    out = []
    for e in app.visible_employees():
        if e.lifecycle != "hired" and e.index % 7:
            continue
        manager = by_id.get(e.manager_id or "", e)
        for n, title in enumerate(("Sign contract", "Order laptop")):
            out.append(
                {
                    "id": 5000000 + e.index * 10 + n,
                    "title": title,
                    "requestedFor": e.reference(),
                    "owner": manager.reference(),
                    "dueDate": (e.start_date + timedelta(days=n)).isoformat(),
                    "status": "open",
                    "listName": "Onboarding",
                    "setFor": manager.display_name,
                    "completionDate": None,
                    "linkedEntity": None,
                    "description": None,
                }
            )
    return out


def register(app: FakeHibob) -> None:
    @app.route("GET", "/v1/tasks", "tasks")
    def get_tasks(app: FakeHibob, request: Request, match: re.Match[str]) -> Reply:
        if not app.profile.in_group:
            return forbidden()
        return json_reply({"tasks": tasks(app)})
