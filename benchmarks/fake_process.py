"""The fake HiBob in its own process, driven over stdin/stdout by benchmarks.run.

A separate process keeps the fake's CPU (building pages, encoding JSON) out of the tap's
rusage figures, and lets it use the second core.

Protocol, one JSON object per line on stdout:
- on start: {"url": ...} once the server listens (tenant generated first, so it is not timed);
- on stdin "stats": requests since the last "stats" per endpoint key and per status,
  then the log is cleared (the harness reads discovery and sync separately);
- on stdin "quit" or EOF: {"cpu_seconds": ...} and exit.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from collections import Counter
from typing import Any

from fake_hibob import FakeHibob, Tenant


def _stats(app: FakeHibob) -> dict[str, Any]:
    # Swap the log under the lock so requests in flight land in the next batch.
    with app._lock:
        log, app.log = app.log, []
    by_endpoint: Counter[str] = Counter(r.endpoint for r in log)
    by_status: Counter[int] = Counter(r.status for r in log)
    throttled: Counter[str] = Counter(r.endpoint for r in log if r.status == 429)
    return {
        "requests": dict(by_endpoint),
        "statuses": {str(k): v for k, v in by_status.items()},
        "throttled": dict(throttled),
        "limits": {key: app._limit(key) for key in by_endpoint},
    }


def _say(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, required=True)
    parser.add_argument("--window", type=float, default=3.0, help="rate-limit window, seconds")
    parser.add_argument("--latency", type=float, default=0.0, help="added per request, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", default="all", help="permission profile of the fake")
    args = parser.parse_args(argv)

    tenant = Tenant.generate(args.employees, seed=args.seed)
    app = FakeHibob(
        tenant,
        profile=args.profile,
        window_seconds=args.window,
        latency=args.latency,
    ).start()
    _say({"url": app.url})
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                _say(_stats(app))
            elif command == "quit":
                break
    finally:
        app.stop()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        _say({"cpu_seconds": usage.ru_utime + usage.ru_stime})


if __name__ == "__main__":
    main()
