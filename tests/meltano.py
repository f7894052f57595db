"""The Meltano project the end-to-end tests run: the repository's own meltano.yml in a
sandbox per test (outputs, state, system database, credentials), and what the tap emitted.

Shared by tests/test_e2e_meltano.py (CSV, JSONL, DuckDB) and tests/test_e2e_postgres.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob
from tests.helpers import MELTANO, ROOT

# The fake's rate-limit window: short, so the many runs of one module never meet a 429. The
# tap keeps HiBob's 60 s windows (no run here needs more than 50 requests per endpoint:
# balances are read for one policy type), because Meltano 4.4.1 cannot pass a `decimal`
# setting such as rate_limit_window_seconds from an environment variable.
WINDOW = 2.0
EMPLOYEES = 24
#: target-duckdb's default_target_schema in meltano.yml.
SCHEMA = "hibob"


# Singer output --------------------------------------------------------------------------


@dataclass
class Emitted:
    """What the tap wrote to stdout: schemas, keys and records per stream."""

    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Emitted:
        out = cls()
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            if message["type"] == "SCHEMA":
                out.schemas[message["stream"]] = message["schema"]
                out.keys[message["stream"]] = message["key_properties"]
            elif message["type"] == "RECORD":
                out.records[message["stream"]].append(message["record"])
            elif message["type"] == "STATE":
                out.states.append(message["value"])
        return out

    def key_tuples(self, stream: str) -> list[tuple[Any, ...]]:
        keys = self.keys[stream]
        return [tuple(str(r.get(k)) for k in keys) for r in self.records[stream]]

    def distinct_keys(self, stream: str) -> set[tuple[Any, ...]]:
        return set(self.key_tuples(stream))

    def replication(self, stream: str) -> str:
        return "INCREMENTAL" if stream == "time_off_requests" else "FULL_TABLE"


# A Meltano project in a sandbox of its own -------------------------------------------------


@dataclass
class Project:
    """The repository's Meltano project with outputs, state and credentials under `home`."""

    home: Path
    fake: FakeHibob
    select: list[str] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_HIBOB", "TARGET_"))}
        env = {
            **base,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DATABASE_URI": f"sqlite:///{self.home / 'meltano.db'}",
            "TAP_HIBOB_SERVICE_USER_ID": SERVICE_USER_ID,
            "TAP_HIBOB_SERVICE_USER_TOKEN": SERVICE_USER_TOKEN,
            "TAP_HIBOB_API_URL": self.fake.url,
            "TAP_HIBOB_BALANCE_POLICY_TYPES": json.dumps(["Holiday"]),
            "TARGET_CSV_OUTPUT_PATH": str(self.home / "csv"),
            "TARGET_JSONL_DESTINATION_PATH": str(self.home / "jsonl"),
            "TARGET_JSONL_DO_TIMESTAMP_FILE": "false",
            "TARGET_DUCKDB_FILEPATH": str(self.duckdb_path),
            **self.extra_env,
        }
        if self.select is not None:
            env["TAP_HIBOB__SELECT"] = json.dumps(self.select)
        return env

    @property
    def duckdb_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    def meltano(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)  # the system database lives here
        proc = subprocess.run(
            [str(MELTANO), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=self.env(),
            timeout=600,
            check=False,
        )
        if check:
            assert proc.returncode == 0, (
                f"meltano {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stderr[-6000:]}\n{proc.stdout[-2000:]}"
            )
        return proc

    def run(self, loader: str) -> subprocess.CompletedProcess[str]:
        return self.meltano("run", "tap-hibob", loader)

    def invoke(self) -> Emitted:
        """The Singer messages `meltano run` would hand the loader (no state: a first sync)."""
        return Emitted.parse(self.meltano("invoke", "tap-hibob").stdout)

    def state(self, loader: str) -> dict[str, Any]:
        out = self.meltano("state", "get", f"dev:tap-hibob-to-{loader}").stdout.strip()
        return dict(json.loads(out.splitlines()[-1])) if out else {}

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", SCHEMA
        )
        return {r[0] for r in rows}

    def columns(self, table: str) -> dict[str, str]:
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            SCHEMA,
            table,
        )
        return {name: kind for name, kind in rows}


def pii_example() -> dict[str, Any]:
    """The YAML block between the pii-example markers of docs/meltano-and-loaders.md."""
    text = (ROOT / "docs" / "meltano-and-loaders.md").read_text(encoding="utf-8")
    block = text.split("<!-- pii-example:start -->", 1)[1].split("<!-- pii-example:end -->")[0]
    body = block.split("```yaml", 1)[1].split("```", 1)[0]
    return dict(yaml.safe_load(body))
