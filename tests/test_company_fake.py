"""The fake's task routes: open tasks company-wide, open and closed ones per employee."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHibob]:
    with FakeHibob(employees=60, limits={"tasks_people": 10_000, "tasks": 10_000}) as server:
        yield server


def get(fake: FakeHibob, path: str, **params: Any) -> requests.Response:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    return session.get(f"{fake.url}{path}", params=params, timeout=10)


def test_company_tasks_are_open_only(fake: FakeHibob) -> None:
    tasks = get(fake, "/v1/tasks").json()["tasks"]
    assert tasks and {t["status"] for t in tasks} == {"open"}
    assert all(t["completionDate"] is None for t in tasks)


def test_employee_tasks_include_closed_ones_the_company_list_does_not(fake: FakeHibob) -> None:
    fake.log.clear()
    open_ids = {t["id"] for t in get(fake, "/v1/tasks").json()["tasks"]}
    closed_total, with_closed = 0, 0
    for employee in fake.visible_employees():
        tasks = get(fake, f"/v1/tasks/people/{employee.id}").json()["tasks"]
        assert all(t["requestedFor"]["id"] == employee.id for t in tasks)
        closed = [t for t in tasks if t["status"] == "closed"]
        assert all(t["completionDate"] for t in closed)
        assert not {t["id"] for t in closed} & open_ids
        assert {t["id"] for t in tasks if t["status"] == "open"} <= open_ids
        closed_total += len(closed)
        with_closed += bool(closed)
    assert closed_total > 0
    assert len(fake.visible_employees()) / 5 < with_closed < len(fake.visible_employees())
    assert {r.endpoint for r in fake.log} == {"tasks", "tasks_people"}


def test_task_status_filters_and_absent_means_all(fake: FakeHibob) -> None:
    employee = next(
        e
        for e in fake.visible_employees()
        if {t["status"] for t in get(fake, f"/v1/tasks/people/{e.id}").json()["tasks"]}
        == {"open", "closed"}
    )
    path = f"/v1/tasks/people/{employee.id}"
    everything = get(fake, path).json()["tasks"]
    opened = get(fake, path, task_status="open").json()["tasks"]
    closed = get(fake, path, task_status="closed").json()["tasks"]
    assert {t["status"] for t in opened} == {"open"}
    assert {t["status"] for t in closed} == {"closed"}
    assert sorted(t["id"] for t in opened + closed) == sorted(t["id"] for t in everything)
    assert get(fake, path, task_status="done").status_code == 400


def test_unknown_or_out_of_scope_employees_are_a_404(fake: FakeHibob) -> None:
    assert get(fake, "/v1/tasks/people/42").status_code == 404
    with FakeHibob(employees=40, profile="active_only") as scoped:
        gone = next(e for e in scoped.tenant.employees if e.lifecycle == "terminated")
        assert get(scoped, f"/v1/tasks/people/{gone.id}").status_code == 404
    with FakeHibob(employees=5, profile="none") as outside:
        employee = outside.tenant.employees[0].id
        assert get(outside, f"/v1/tasks/people/{employee}").status_code == 403
