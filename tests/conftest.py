"""Fixtures shared by every test module (helpers live in tests/helpers.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from fake_hibob import FakeHibob
from tests.helpers import FakeClock
from tests.postgres import postgres_server  # noqa: F401  (the session's PostgreSQL server)


@pytest.fixture
def fake() -> Iterator[FakeHibob]:
    """A fresh 20-employee fake HiBob (the "all" permission profile)."""
    with FakeHibob() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    """A monotonic clock that only moves when slept on (pass `clock.sleep` as the sleep)."""
    return FakeClock()


@pytest.fixture
def backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's retry waits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("backoff._sync.time.sleep", recorded.append)
    return recorded


@pytest.fixture(autouse=True)
def _keep_signal_handlers() -> Iterator[None]:
    """A TapHibob built in this process installs its SIGINT/SIGTERM handlers (the SDK does
    it in __init__); put pytest's back after each test."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
