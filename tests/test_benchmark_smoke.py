"""The benchmark harness still runs end to end (a tiny tenant), and its arithmetic is right.

The real benchmark takes minutes (benchmarks/README.md); this keeps it from rotting.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import run


def test_floor_and_pacing_arithmetic() -> None:
    requests = {"people_search": 101, "bulk_work": 50, "tasks": 1}
    limits = {"people_search": 50, "bulk_work": 50, "tasks": 50}
    # 101/50 + 50/50 + 1/50 windows of 10 s
    assert run.rate_limit_floor(requests, limits, 10.0) == (2.02 + 1.0 + 0.02) * 10.0
    # people_search waits twice (51st and 101st request); 50 or fewer never wait
    assert run.paced_floor(requests, limits, 10.0) == 20.0


def test_harness_runs_a_tiny_tenant(tmp_path: Path) -> None:
    stem = tmp_path / "results"
    run.main(
        [
            "--sizes",
            "60",
            "--window",
            "2",
            "--latency",
            "0",
            "--results",
            str(stem),
            "--workdir",
            str(tmp_path / "work"),
        ]
    )
    payload = json.loads(stem.with_suffix(".json").read_text())
    # Both read modes, side by side, on the same tenant.
    sequential, concurrent = payload["results"]
    assert (sequential["mode"], concurrent["mode"]) == ("sequential", "concurrent")
    for result in (sequential, concurrent):
        assert result["returncode"] == 0, result["error"]
        assert result["throttled"] == {}
        assert result["records"]["employees"] == 60
        assert {"people_search", "bulk_work", "tasks"} <= set(result["requests"])
        assert "work_history" in result["streams"]  # history tables are selected too
        assert result["tap_cpu"] > 0 and result["max_rss_mb"] > 0
    # The same records and the same requests whichever way they were read.
    assert sequential["records"] == concurrent["records"]
    assert sequential["requests"] == concurrent["requests"]
    assert "| 60 |" in stem.with_suffix(".md").read_text()
