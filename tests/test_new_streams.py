"""The streams issue 12 and 13 add: training, actual payments, closed tasks, volatile fields
left out by default, and people-search batches HiBob refuses as too large."""

from __future__ import annotations

from typing import Any

from fake_hibob import FakeHibob
from fake_hibob import company as fake_company
from fake_hibob import payments as fake_payments
from fake_hibob import tables as fake_tables
from fake_hibob.people import ids_of
from tests.helpers import Run, discover, entry, select, sync, tap_config


def _config(fake: FakeHibob, **overrides: Any) -> dict[str, Any]:
    # A short window on both sides: one-request-per-employee streams stay fast.
    return tap_config(fake, **{"rate_limit_window_seconds": 0.2, **overrides})


def _sync(fake: FakeHibob, *streams: str, **overrides: Any) -> Run:
    config = _config(fake, **overrides)
    return sync(config, select(discover(config), streams))


def _fake(employees: int, **kw: Any) -> FakeHibob:
    return FakeHibob(employees=employees, window_seconds=0.2, **kw)


def test_training_is_one_request_per_employee_with_a_plan_and_progress() -> None:
    with _fake(60) as fake:
        run = _sync(fake, "training")
        records = run.records("training")
        requests = fake.requests_to("/v1/people/")
        training = [r for r in requests if r.path.endswith("/training")]
        ids = ids_of(fake)
        truth = {
            (e, row["id"]) for e in ids for row in fake_tables.employee_rows(fake, "training", e)
        }
    assert len(training) == len(ids)  # 1 + N in all, the +1 being the shared id listing
    assert {(r["employeeId"], r["id"]) for r in records} == truth
    assert run.said("| tap-hibob.training ", "60 requests", "takes about", level="INFO")
    assert run.said("| tap-hibob.training ", "60 of 60 requests done (100%)", level="INFO")


def test_actual_payments_search_200_employees_at_a_time_every_page_kept() -> None:
    with _fake(450) as fake:
        records = _sync(fake, "actual_payments").records("actual_payments")
        searches = fake.requests_to("/v1/people/actual-payments/search")
        ids = ids_of(fake)
        truth = {(e.employee_id, e.row["id"]) for e in fake_payments.expected_rows(fake, ids)}
    batches = [
        s.body["filters"][0]["values"] for s in searches if not s.body["pagination"]["cursor"]
    ]
    assert [len(b) for b in batches] == [200, 200, 50]
    assert sum(len(b) for b in batches) == len(ids)
    keys = [(r["employeeId"], r["id"]) for r in records]
    assert len(keys) == len(set(keys)) and set(keys) == truth
    assert all(isinstance(r["amount"]["value"], float) for r in records if r.get("amount"))


def test_open_tasks_by_default_and_every_task_of_every_employee_on_request() -> None:
    with _fake(50) as fake:
        default = _sync(fake, "tasks").records("tasks")
        everything = _sync(fake, "tasks", tasks_include_closed=True).records("tasks")
        per_employee = fake.requests_to("/v1/tasks/people/")
        people = [e for e in fake.visible_employees() if e.id in set(ids_of(fake))]
        all_tasks = {t["id"] for e in people for t in fake_company.employee_tasks(fake, e)}
    assert {t["status"] for t in default} == {"open"}
    assert {t["status"] for t in everything} == {"open", "closed"}
    assert {t["id"] for t in everything} == all_tasks
    assert len(per_employee) == len(people)
    assert {t["id"] for t in default} <= {t["id"] for t in everything}


def test_volatile_fields_are_not_selected_by_default_but_can_be() -> None:
    with _fake(10) as fake:
        employees = entry(discover(_config(fake)), "employees")
    off = {
        tuple(m["breadcrumb"][1::2])
        for m in employees["metadata"]
        if m["breadcrumb"] and m["metadata"].get("selected-by-default") is False
    }
    for path in [("avatarUrl",), ("coverImageUrl",), ("personal", "age"), ("work", "tenureYears")]:
        assert path in off, path
    assert any(p[0] == "peopleAnalytics" for p in off)
    assert ("work", "department") not in off and ("email",) not in off


def test_a_batch_hibob_refuses_as_too_large_is_halved_and_nothing_is_lost() -> None:
    with _fake(130, options={"max_filter_values": 50}) as fake:
        run = _sync(fake, "employees")
        records = run.records("employees")
        searches = [r for r in fake.requests_to("/v1/people/search") if "filters" in r.body]
        ids = ids_of(fake)
    assert sorted(r["id"] for r in records) == sorted(ids)
    sizes = [len(r.body["filters"][0]["values"]) for r in searches]
    # 130 asked, refused; 65 refused; 32 works and stays for the rest of the run.
    assert sizes[:3] == [130, 65, 32] and set(sizes[2:]) <= {32, 130 - 4 * 32}
    assert [r.status for r in searches[:2]] == [400, 400]
    assert run.said("using 32 per request for the rest of the run")


def test_a_400_at_one_id_is_an_error_not_a_loop() -> None:
    with _fake(5, options={"max_filter_values": 0}) as fake:
        run = sync(_config(fake, people_batch_size=4), check=False)
        searches = [r for r in fake.requests_to("/v1/people/search") if "filters" in r.body]
    assert run.returncode == 1 and "not synced" in str(run.error)
    assert [len(r.body["filters"][0]["values"]) for r in searches] == [4, 2, 1]
