"""The fake's time-off endpoints refuse what HiBob refuses (docs/development/hibob-api.md,
Time off).

If the fake were friendlier than HiBob, the tap's own tests could pass while HiBob rejects
its requests; these pin the documented 400s, 403s, 404s and visibility rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from fake_hibob import PROFILES, SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob
from fake_hibob import timeoff as fake_timeoff
from fake_hibob.profiles import BALANCES, PENDING, WHOS_OUT
from tap_hibob.endpoints import Endpoint
from tap_hibob.errors import HibobAPIError, HibobPermissionError
from tests.helpers import hibob_client

CHANGES = "/timeoff/requests/changes"


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _get(fake: FakeHibob, path: str, **params: str) -> Any:
    return (
        hibob_client(fake, max_retries=0).get(Endpoint("test", "GET", path), params=params).payload
    )


def _status(fake: FakeHibob, path: str, **params: str) -> int:
    try:
        _get(fake, path, **params)
    except HibobAPIError as exc:
        assert exc.status is not None
        return exc.status
    return 200


NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHibob]:
    """One fake for this module's read-only checks (stopping a fake costs half a second)."""
    with FakeHibob(window_seconds=1.0) as server:
        yield server


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"since": "2026-01-01"}, 400),  # a date, not a date-time
        ({"since": "2026-01-01T00:00:00"}, 400),  # no zone
        ({"since": _z(NOW - timedelta(days=30))}, 200),
        ({"since": _z(fake_timeoff.add_months(NOW, -6) - timedelta(minutes=5))}, 400),
        ({"since": _z(NOW - timedelta(days=900)), "to": _z(NOW - timedelta(days=800))}, 200),
        ({"since": _z(NOW - timedelta(days=800)), "to": _z(NOW - timedelta(days=800))}, 400),
        ({"since": _z(NOW - timedelta(days=700)), "to": _z(NOW - timedelta(days=800))}, 400),
        (
            {
                "since": "2024-08-31T00:00:00Z",
                "to": "2025-02-28T00:00:00.000Z",  # exactly 6 calendar months
            },
            200,
        ),
        ({"since": "2024-08-31T00:00:00Z", "to": "2025-02-28T00:00:00.001Z"}, 400),
        ({"since": "2024-01-01T00:00:00Z", "to": "2024-07-01T00:00:01Z"}, 400),
    ],
)
def test_change_feed_enforces_the_six_month_rules(
    fake: FakeHibob, params: dict[str, str], status: int
) -> None:
    assert _status(fake, CHANGES, **params) == status


def test_change_feed_filters_by_change_time_inclusively(fake: FakeHibob) -> None:
    data = fake_timeoff.store(fake)
    public = [c for c in data.changes if c.policy.visibility == "Public"]
    middle = public[len(public) // 2]
    at = _z(middle.at)
    payload = _get(fake, CHANGES, since=at, to=_z(middle.at + timedelta(microseconds=1)))
    assert middle.item["requestId"] in {c["requestId"] for c in payload["changes"]}
    payload = _get(fake, CHANGES, since=_z(middle.at - timedelta(seconds=1)), to=at)
    assert middle.item["requestId"] in {c["requestId"] for c in payload["changes"]}


def test_edits_create_a_new_request_id_and_delete_the_old_one(fake: FakeHibob) -> None:
    items = [c.item for c in fake_timeoff.store(fake).changes]
    edited = [i for i in items if i["previousRequestId"] is not None]
    assert edited, "the fake should contain edited requests"
    for item in edited:
        previous = item["previousRequestId"]
        assert any(i["requestId"] == previous and i["changeType"] == "Deleted" for i in items)
        assert item["originalRequestId"] != item["requestId"]


def test_changes_are_spread_over_thirty_months(fake: FakeHibob) -> None:
    times = [c.at for c in fake_timeoff.store(fake).changes]
    assert min(times) < fake.tenant.now - timedelta(days=700)
    assert max(times) > fake.tenant.now - timedelta(days=120)
    assert all(isinstance(c.item["requestId"], int) for c in fake_timeoff.store(fake).changes)


def test_pending_changes_need_the_flag_and_the_permission() -> None:
    since, to = _z(NOW - timedelta(days=900)), _z(NOW - timedelta(days=730))
    no_pending = replace(
        PROFILES["seed"], name="no_pending", permissions=PROFILES["seed"].permissions - {PENDING}
    )

    def kinds(profile: object, **flags: str) -> set[str]:
        with FakeHibob(profile=profile) as fake:  # type: ignore[arg-type]
            payload = _get(fake, CHANGES, since=since, to=to, **flags)
        return {c["changeType"] for c in payload["changes"]}

    assert "Pending" not in kinds("seed")
    assert "Pending" in kinds("seed", includePending="true")
    assert "Pending" not in kinds(no_pending, includePending="true")


def test_private_policy_requests_are_invisible_without_the_private_permission() -> None:
    since, to = NOW - timedelta(days=913), NOW
    with FakeHibob(employees=80) as fake:
        public = fake_timeoff.visible_changes(fake, since, to)
    private_profile = replace(
        PROFILES["all"],
        name="private",
        permissions=PROFILES["all"].permissions | {fake_timeoff.PRIVATE},
    )
    with FakeHibob(employees=80, profile=private_profile) as fake:
        everything = fake_timeoff.visible_changes(fake, since, to)
    names = {c["policyTypeDisplayName"] for c in public}
    assert "Medical" not in names
    assert "Wellbeing" not in names and "Personal day" in names
    assert {"Medical", "Wellbeing"} <= {c["policyTypeDisplayName"] for c in everything}


@pytest.mark.parametrize(
    ("path", "permission", "params"),
    [
        (CHANGES, WHOS_OUT, {"since": _z(NOW - timedelta(days=1))}),
        ("/timeoff/whosout", WHOS_OUT, {"from": "2026-01-01", "to": "2026-02-01"}),
        ("/timeoff/employees/1/balance", BALANCES, {"policyType": "Sick", "date": "2026-01-01"}),
    ],
)
def test_time_off_endpoints_answer_403_without_their_permission(
    path: str, permission: str, params: dict[str, str]
) -> None:
    profile = replace(
        PROFILES["all"], name="without", permissions=PROFILES["all"].permissions - {permission}
    )
    with FakeHibob(profile=profile) as fake, pytest.raises(HibobPermissionError):
        _get(fake, path, **params)


def test_policy_types_need_the_settings_feature_permission() -> None:
    with FakeHibob(profile="seed") as fake, pytest.raises(HibobPermissionError):
        _get(fake, "/timeoff/policy-types")
    with FakeHibob() as fake:
        names = _get(fake, "/timeoff/policy-types")["policyTypes"]
        details = _get(fake, "/timeoff/policy-types/Time%20off%20in%20lieu")
        assert _status(fake, "/timeoff/policy-types/Nope") == 404
    assert "Time off in lieu" in names
    assert details == {
        "name": "Time off in lieu",
        "activity": "workTime",
        "bookingWorkDaysOnly": False,
        "unit": "hours",
    }


def test_whosout_needs_dates_and_lists_only_active_employees(fake: FakeHibob) -> None:
    assert _status(fake, "/timeoff/whosout", to="2026-01-01") == 400
    assert _status(fake, "/timeoff/whosout", **{"from": "2026-02-01", "to": "2026-01-01"}) == 400
    start = (NOW - timedelta(days=900)).date().isoformat()
    end = (NOW + timedelta(days=200)).date().isoformat()
    outs = _get(fake, "/timeoff/whosout", **{"from": start, "to": end})["outs"]
    with_hourly = _get(
        fake, "/timeoff/whosout", **{"from": start, "to": end}, includeHourly="true"
    )["outs"]
    inactive = {e.id for e in fake.tenant.employees if e.status != "Active"}
    assert outs and not inactive & {o["employeeId"] for o in with_hourly}
    assert all(o["type"] != "hours" for o in outs)
    assert any(o["type"] == "hours" for o in with_hourly)


def test_balance_needs_both_parameters_and_a_known_employee(fake: FakeHibob) -> None:
    employee = fake.tenant.employees[1].id
    path = f"/timeoff/employees/{employee}/balance"
    assert _status(fake, path, policyType="Holiday") == 400
    assert _status(fake, path, date="2026-01-01") == 400
    assert _status(fake, path, policyType="Holiday", date="2026-01-01T00:00:00Z") == 400
    assert (
        _status(fake, "/timeoff/employees/42/balance", policyType="Holiday", date="2026-01-01")
        == 404
    )
    assert _status(fake, path, policyType="Nope", date="2026-01-01") == 404
    balance = _get(fake, path, policyType="Holiday", date="2026-01-01")
    assert balance["employeeId"] == employee and balance["pointInTime"] == "2026-01-01"


# Pending requests without the pending permission (plain requests) -----------------------


def _raw(fake: FakeHibob, path: str, **params: str) -> requests.Response:
    session = requests.Session()
    session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)
    return session.get(f"{fake.url}/v1{path}", params=params, timeout=10)


NO_PENDING = replace(
    PROFILES["seed"], name="no_pending_raw", permissions=PROFILES["seed"].permissions - {PENDING}
)


def test_pending_without_permission_is_omitted_or_a_403() -> None:
    since = _z(NOW - timedelta(days=150))
    window = {"from": (NOW - timedelta(days=30)).date().isoformat(), "to": NOW.date().isoformat()}
    with FakeHibob(profile=NO_PENDING) as fake:
        omitted = _raw(fake, CHANGES, since=since, includePending="true")
        plain = _raw(fake, CHANGES, since=since)
        fake.options.pending_without_permission = "403"
        refused = _raw(fake, CHANGES, since=since, includePending="true")
        still_fine = _raw(fake, CHANGES, since=since)
        whosout_refused = _raw(fake, "/timeoff/whosout", **window, includePending="true")
        whosout_fine = _raw(fake, "/timeoff/whosout", **window)
    assert omitted.status_code == 200 and omitted.json() == plain.json()
    assert "Pending" not in {c["changeType"] for c in omitted.json()["changes"]}
    assert refused.status_code == 403 and still_fine.status_code == 200
    assert whosout_refused.status_code == 403 and whosout_fine.status_code == 200
    # With the permission (the seed guide grants it) the option changes nothing.
    assert PENDING in PROFILES["seed"].permissions
    with FakeHibob(profile="seed", options={"pending_without_permission": "403"}) as fake:
        granted = _raw(fake, CHANGES, since=since, includePending="true")
        outs = _raw(fake, "/timeoff/whosout", **window, includePending="true")
    assert granted.status_code == 200 and outs.status_code == 200
    assert "Pending" in {c["changeType"] for c in granted.json()["changes"]}


def test_the_feed_holds_a_realistic_number_of_pending_changes() -> None:
    with FakeHibob(employees=200) as fake:
        data = fake_timeoff.store(fake)
        kinds = [c.item["changeType"] for c in data.changes]
        waiting = [r for r in data.requests.values() if r.status == "Pending"]
        start = (NOW - timedelta(days=60)).date().isoformat()
        end = (NOW + timedelta(days=120)).date().isoformat()
        outs = _raw(fake, "/timeoff/whosout", **{"from": start, "to": end}, includePending="true")
    share = kinds.count("Pending") / len(kinds)
    assert 0.15 < share < 0.5, share  # every request under an approval policy starts Pending
    assert waiting, "some recent requests should still wait for approval"
    assert len(waiting) < 0.05 * len(data.requests)
    assert "Pending" in {o["status"] for o in outs.json()["outs"]}
