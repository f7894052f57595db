"""The test toolkit is what the other tests assume it is.

- An in-process `sync()` writes exactly the Singer messages and log lines the CLI writes.
- The fake answers every known stream's route, so every "all streams" test covers them all.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from fake_hibob import FakeHibob
from tap_hibob.endpoints import Endpoint, known_streams
from tests.helpers import (
    LOG_LINE,
    Run,
    discover,
    run_tap,
    select,
    sync,
    tap_config,
)

STREAMS = ["employees", "named_lists", "tasks", "work_history"]


def comparable(run: Run) -> list[Any]:
    """The messages without what differs between two runs (extraction times)."""
    return [{k: v for k, v in m.items() if k != "time_extracted"} for m in run.messages]


def test_in_process_sync_writes_what_the_cli_writes(tmp_path: Path, fake: FakeHibob) -> None:
    config = tap_config(fake)
    catalog = select(discover(config), STREAMS)
    cli = run_tap(tmp_path, config, catalog=catalog)
    in_process = sync(config, catalog)
    assert cli.returncode == in_process.returncode == 0, cli.stderr[-2000:]
    assert comparable(in_process) == comparable(cli)
    assert set(in_process.records_by_stream) == set(STREAMS)
    # The same log format, so the same line checks work on both.
    assert in_process.stderr and all(
        LOG_LINE.match(line) for line in in_process.stderr.splitlines() if line
    )
    assert in_process.warnings == cli.warnings == []


def _serves(fake: FakeHibob, endpoint: Endpoint) -> bool:
    names = [name for _, name, _, _ in string.Formatter().parse(endpoint.path) if name]
    path = "/v1" + endpoint.url(**dict.fromkeys(names, "3332883894235038486"))
    return any(r.method == endpoint.method and r.pattern.match(path) for r in fake.routes)


def test_the_fake_answers_every_known_streams_route(fake: FakeHibob) -> None:
    unserved = {spec.name for spec in known_streams() if not _serves(fake, spec.endpoint)}
    assert not unserved, f"the fake has no route for: {sorted(unserved)}"
