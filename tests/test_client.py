"""The HTTP layer against the fake HiBob over real sockets."""

from __future__ import annotations

import logging

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from fake_hibob import SERVICE_USER_TOKEN, FakeHibob, Faults
from tap_hibob.client import HibobClient, Pacer
from tap_hibob.errors import HibobAuthError, HibobPermissionError, HibobWrongPathError
from tests.conftest import run_tap, tap_config

LOG = logging.getLogger("test")


class FakeClock:
    """Monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record backoff sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr("backoff._sync.time.sleep", recorded.append)
    return recorded


def client_for(fake: FakeHibob, **config: object) -> HibobClient:
    return HibobClient(tap_config(fake, **config), LOG)


def test_401_is_one_request_and_never_retried(fake: FakeHibob, sleeps: list[float]) -> None:
    client = client_for(fake, service_user_token="wrong")
    with pytest.raises(HibobAuthError, match="rejected the service user ID/token"):
        client.get("/tasks", endpoint="tasks", stream="tasks")
    assert len(fake.log) == 1
    assert sleeps == []


def test_403_names_stream_endpoint_and_permission(sleeps: list[float]) -> None:
    with FakeHibob(profile="none") as fake:
        client = client_for(fake)
        with pytest.raises(HibobPermissionError) as caught:
            client.get("/tasks", endpoint="tasks", stream="tasks")
    message = str(caught.value)
    assert "GET /v1/tasks" in message
    assert "'tasks'" in message
    assert "People > Basic Info > View selected employees' Basic info sections" in message
    assert len(fake.log) == 1
    assert sleeps == []


def test_429_waits_for_the_reset_header_then_succeeds(sleeps: list[float]) -> None:
    with FakeHibob(faults=Faults(burst_429=2, burst_reset_seconds=30)) as fake:
        payload = client_for(fake).get("/tasks", endpoint="tasks").payload
    assert "tasks" in payload
    assert [r.status for r in fake.log] == [429, 429, 200]
    assert len(sleeps) == 2
    assert all(29 <= s <= 31 for s in sleeps), sleeps


def test_retry_after_is_used_when_there_is_no_reset_header() -> None:
    from tap_hibob.client import _rate_limit_wait

    assert _rate_limit_wait({"Retry-After": "7"}) == pytest.approx(7.5)
    assert _rate_limit_wait({}) == 5.0


@pytest.mark.parametrize(
    "faults",
    [
        Faults(error_rate=1.0),
        Faults(reset_rate=1.0),
        Faults(truncate_rate=1.0),
    ],
    ids=["5xx", "connection-reset", "truncated-json"],
)
def test_transient_failures_are_retried(faults: Faults, sleeps: list[float]) -> None:
    with FakeHibob(faults=faults) as fake:
        client = client_for(fake, max_retries=3)
        with pytest.raises((RetriableAPIError, requests.exceptions.ConnectionError)):
            client.get("/tasks", endpoint="tasks")
        assert len(fake.log) == 4  # first try + 3 retries
        assert len(sleeps) == 3
        faults.error_rate = faults.reset_rate = faults.truncate_rate = 0.0
        assert "tasks" in client.get("/tasks", endpoint="tasks").payload


def test_a_stall_times_out_and_is_retried(sleeps: list[float]) -> None:
    faults = Faults(stall_rate=1.0, stall_seconds=2.0)
    with FakeHibob(faults=faults) as fake:
        client = client_for(fake, max_retries=1)
        client.timeout = (1.0, 0.3)
        with pytest.raises(requests.exceptions.Timeout):
            client.get("/tasks", endpoint="tasks")
        assert len(sleeps) == 1


def test_html_200_is_an_error_not_data(fake: FakeHibob, sleeps: list[float]) -> None:
    with pytest.raises(HibobWrongPathError, match="HTML page"):
        client_for(fake).get("/people/123/variables", endpoint="x")
    assert len(fake.log) == 1


def test_headers_basic_auth_no_content_type_on_get(fake: FakeHibob) -> None:
    client = client_for(fake)
    client.get("/tasks", endpoint="tasks")
    with pytest.raises(HibobWrongPathError):
        client.post("/nowhere", {"a": 1}, endpoint="x")
    get, post = fake.log
    assert get.headers["authorization"].startswith("Basic ")
    assert get.headers["accept"] == "application/json"
    assert "content-type" not in get.headers
    assert post.headers["content-type"] == "application/json"
    assert post.body == {"a": 1}


def test_pacer_never_exceeds_the_limit_in_any_window() -> None:
    clock = FakeClock()
    pacer = Pacer(50, 60.0, clock, clock.sleep)
    sent = []
    for _ in range(175):
        pacer.wait()
        sent.append(clock.now)
    for i, start in enumerate(sent):
        in_window = [t for t in sent[i:] if t < start + 60.0]
        assert len(in_window) <= 50
    # Bursting up to the limit, then waiting: 175 requests take 3 full windows.
    assert sent[-1] - sent[0] == pytest.approx(180.0)


def test_pacing_avoids_429_against_a_real_window() -> None:
    with FakeHibob(window_seconds=1.0, limits={"tasks": 5}) as fake:
        client = client_for(fake, rate_limit_window_seconds=1.0, default_rate_limit=5)
        for _ in range(12):
            client.get("/tasks", endpoint="tasks")
    assert [r.status for r in fake.log] == [200] * 12


def test_published_limits_override_the_default(fake: FakeHibob) -> None:
    client = client_for(fake, default_rate_limit=500)
    assert client.pacer("people_search").limit == 50
    assert client.pacer("payroll_history").limit == 20
    assert client.pacer("bulk_work").limit == 500


def test_cli_wrong_token_one_request_one_line_no_secret(tmp_path, fake: FakeHibob) -> None:
    config = tap_config(fake, service_user_token=SERVICE_USER_TOKEN + "-wrong")
    run = run_tap(tmp_path, config, env={"TAP_HIBOB_LOGLEVEL": "DEBUG"})
    assert run.returncode == 1
    assert len(fake.log) == 1
    assert "HiBob rejected the service user ID/token" in run.stderr
    assert SERVICE_USER_TOKEN not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr.split("Details")[0]
