"""The HTTP layer against the fake HiBob over real sockets."""

from __future__ import annotations

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from fake_hibob import FakeHibob, Faults
from fake_hibob.server import Reply, Request, json_reply
from tap_hibob import endpoints
from tap_hibob.client import Pacer
from tap_hibob.endpoints import Endpoint
from tap_hibob.errors import HibobAuthError, HibobPermissionError, HibobWrongPathError
from tests.helpers import FakeClock, hibob_client

TASKS = endpoints.TASKS
NOWHERE = Endpoint("nowhere", "GET", "/people/123/variables")


def test_401_is_one_request_and_never_retried(fake: FakeHibob, backoff_sleeps: list[float]) -> None:
    client = hibob_client(fake, service_user_token="wrong")
    with pytest.raises(HibobAuthError, match="rejected the service user ID/token"):
        client.get(TASKS, stream="tasks")
    assert len(fake.log) == 1
    assert backoff_sleeps == []


def test_403_names_stream_endpoint_and_permission(backoff_sleeps: list[float]) -> None:
    with FakeHibob(profile="none") as fake:
        client = hibob_client(fake)
        with pytest.raises(HibobPermissionError) as caught:
            client.get(TASKS, stream="tasks")
    message = str(caught.value)
    assert "GET /v1/tasks" in message
    assert "'tasks'" in message
    assert "People > Basic Info > View selected employees' Basic info sections" in message
    assert len(fake.log) == 1
    assert backoff_sleeps == []


def test_429_waits_for_the_reset_header_then_succeeds(backoff_sleeps: list[float]) -> None:
    with FakeHibob(faults=Faults(burst_429=2, burst_reset_seconds=30)) as fake:
        payload = hibob_client(fake).get(TASKS).payload
    assert "tasks" in payload
    assert [r.status for r in fake.log] == [429, 429, 200]
    assert len(backoff_sleeps) == 2
    # Until the reset HiBob named (30 s ahead when it answered, plus the margin), not the
    # seconds-long exponential backoff; the slack below 30 is however busy the machine is.
    assert all(15 < s <= 31 for s in backoff_sleeps), backoff_sleeps  # 30 + 0.5 + rounding


@pytest.mark.parametrize(("retry_after", "wait"), [("7", 7.5), (None, 5.0)])
def test_retry_after_is_used_when_there_is_no_reset_header(
    fake: FakeHibob,
    backoff_sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    retry_after: str | None,
    wait: float,
) -> None:
    """Without X-RateLimit-Reset the wait is Retry-After (plus the margin), else 5 s."""
    answer = fake.handle
    answered: list[Request] = []

    def once_429(request: Request) -> Reply | None:
        answered.append(request)
        if len(answered) > 1:
            return answer(request)
        return json_reply({}, 429, {"Retry-After": retry_after} if retry_after else {})

    monkeypatch.setattr(fake, "handle", once_429)
    assert "tasks" in hibob_client(fake).get(TASKS).payload
    assert backoff_sleeps == [pytest.approx(wait)]


@pytest.mark.parametrize(
    "faults",
    [
        Faults(error_rate=1.0),
        Faults(reset_rate=1.0),
        Faults(truncate_rate=1.0),
    ],
    ids=["5xx", "connection-reset", "truncated-json"],
)
def test_transient_failures_are_retried(faults: Faults, backoff_sleeps: list[float]) -> None:
    with FakeHibob(faults=faults) as fake:
        client = hibob_client(fake, max_retries=3)
        with pytest.raises((RetriableAPIError, requests.exceptions.ConnectionError)):
            client.get(TASKS)
        assert len(fake.log) == 4  # first try + 3 retries
        assert len(backoff_sleeps) == 3
        faults.error_rate = faults.reset_rate = faults.truncate_rate = 0.0
        assert "tasks" in client.get(TASKS).payload


def test_a_stall_times_out_and_is_retried(backoff_sleeps: list[float]) -> None:
    faults = Faults(stall_rate=1.0, stall_seconds=2.0)
    with FakeHibob(faults=faults) as fake:
        client = hibob_client(fake, max_retries=1)
        client.timeout = (1.0, 0.3)
        with pytest.raises(requests.exceptions.Timeout):
            client.get(TASKS)
        assert len(backoff_sleeps) == 1


def test_html_200_is_an_error_not_data(fake: FakeHibob, backoff_sleeps: list[float]) -> None:
    with pytest.raises(HibobWrongPathError, match="HTML page"):
        hibob_client(fake).get(NOWHERE)
    assert len(fake.log) == 1


def test_headers_basic_auth_no_content_type_on_get(fake: FakeHibob) -> None:
    client = hibob_client(fake)
    client.get(TASKS)
    with pytest.raises(HibobWrongPathError):
        client.post(Endpoint("nowhere", "POST", "/nowhere"), {"a": 1})
    get, post = fake.log
    assert get.headers["authorization"].startswith("Basic ")
    assert get.headers["accept"] == "application/json"
    assert "content-type" not in get.headers
    assert post.headers["content-type"] == "application/json"
    assert post.body == {"a": 1}


def test_path_values_are_url_encoded_and_ids_kept_out_of_messages(fake: FakeHibob) -> None:
    """`path=` fills an endpoint's placeholders; an employee id never reaches a message."""
    client = hibob_client(fake, max_retries=0)
    details = client.get(endpoints.POLICY_TYPE, path={"name": "Time off in lieu"}).payload
    assert details["name"] == "Time off in lieu"
    assert fake.log[-1].path == "/v1/timeoff/policy-types/Time%20off%20in%20lieu"
    employee = Endpoint("employee_thing", "GET", "/people/{employee}/nowhere")
    with pytest.raises(HibobWrongPathError) as caught:
        client.get(employee, path={"employee": "3332883894235038486"})
    assert "/people/{id}/nowhere" in str(caught.value)
    assert "3332883894235038486" not in str(caught.value)


def test_pacer_never_exceeds_the_limit_in_any_window(clock: FakeClock) -> None:
    pacer = Pacer(50, 60.0, clock, clock.sleep)
    sent = []
    for _ in range(175):
        pacer.wait()
        pacer.done(None)
        sent.append(clock.now)
    for i, start in enumerate(sent):
        in_window = [t for t in sent[i:] if t < start + 60.0]
        assert len(in_window) <= 50
    # Bursting up to the limit, then waiting: 175 requests take 3 full windows.
    assert sent[-1] - sent[0] == pytest.approx(180.0)


def test_pacing_avoids_429_against_a_real_window() -> None:
    with FakeHibob(window_seconds=1.0, limits={"tasks": 5}) as fake:
        client = hibob_client(fake, rate_limit_window_seconds=1.0, default_rate_limit=5)
        for _ in range(12):
            client.get(TASKS)
    assert [r.status for r in fake.log] == [200] * 12


def test_published_limits_override_the_default(fake: FakeHibob) -> None:
    client = hibob_client(fake, default_rate_limit=500)
    assert client.pacer(endpoints.PEOPLE_SEARCH).limit == 50
    assert client.pacer(endpoints.BALANCE).limit == 50
    # HiBob publishes no limit for the bulk table routes: the default applies.
    assert client.pacer(endpoints.TABLES["work"].endpoint).limit == 500
