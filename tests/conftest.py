"""Shared fixtures: a fake HiBob per test and helpers to run the real CLI against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob
from tests.postgres import postgres_server  # noqa: F401  (the session's PostgreSQL server)

ROOT = Path(__file__).resolve().parent.parent


def tap_config(fake: FakeHibob, **overrides: Any) -> dict[str, Any]:
    """A config pointing the tap at a fake HiBob."""
    return {
        "service_user_id": SERVICE_USER_ID,
        "service_user_token": SERVICE_USER_TOKEN,
        "api_url": fake.url,
        **overrides,
    }


@pytest.fixture
def fake() -> Iterator[FakeHibob]:
    with FakeHibob() as server:
        yield server


@dataclass
class CliRun:
    """A finished `tap-hibob` process and its parsed Singer output."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *args: str,
    state: Any = None,
    catalog: Any = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> CliRun:
    """Run the real `tap-hibob` CLI in a subprocess, as Meltano would."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    argv = [sys.executable, "-m", "tap_hibob", "--config", str(config_path), *args]
    for flag, value, name in (
        ("--state", state, "state.json"),
        ("--catalog", catalog, "catalog.json"),
    ):
        if value is not None:
            path = tmp_path / name
            path.write_text(value if isinstance(value, str) else json.dumps(value))
            argv += [flag, str(path)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
