"""Requests per stream: each stream synced alone, in-process, against a fake tenant.

    .venv/bin/python -m benchmarks.requests --sizes 1000,5000

Counts what the fake HiBob answered, by endpoint, for a sync of one stream: the stream's own
requests plus the run's one shared employee-id listing (every people stream needs it). The
three metadata reads of discovery (fields, tables, custom tables) are the same for every
run and listed once. Windows are short on both sides so the one-request-per-employee
streams finish quickly; request counts do not depend on the window.
"""

from __future__ import annotations

import argparse
import copy
import io
from collections import Counter
from contextlib import redirect_stdout
from typing import Any

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, Tenant
from tap_hibob.tap import TapHibob

METADATA = ("fields_metadata", "table_metadata", "custom_table_metadata")
# Optional behaviours measured as their own rows: (row name, stream, extra settings).
VARIANTS = (("tasks (tasks_include_closed)", "tasks", {"tasks_include_closed": True}),)


def _selected(catalog: dict[str, Any], stream: str) -> dict[str, Any]:
    chosen = copy.deepcopy(catalog)
    for entry in chosen["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return chosen


def count(employees: int) -> dict[str, Counter[str]]:
    """Requests by endpoint key, per stream (metadata reads left out)."""
    out: dict[str, Counter[str]] = {}
    with FakeHibob(Tenant.generate(employees), window_seconds=0.05) as fake:
        config = {
            "service_user_id": SERVICE_USER_ID,
            "service_user_token": SERVICE_USER_TOKEN,
            "api_url": fake.url,
            "rate_limit_window_seconds": 0.05,
        }
        catalog = TapHibob(config=config, parse_env_config=False).catalog_dict
        rows = [(e["tap_stream_id"], e["tap_stream_id"], {}) for e in catalog["streams"]]
        for row, stream, extra in [*sorted(rows), *VARIANTS]:
            fake.log.clear()
            tap = TapHibob(
                config={**config, **extra},
                catalog=_selected(catalog, stream),
                parse_env_config=False,
            )
            with redirect_stdout(io.TextIOWrapper(io.BytesIO())):
                tap.sync_all()
            out[row] = Counter(r.endpoint for r in fake.log if r.endpoint not in METADATA)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000", help="employee counts")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = {n: count(n) for n in sizes}
    print("| stream | " + " | ".join(f"N={n:,}" for n in sizes) + " | by endpoint (last N) |")
    print("|---|" + "---:|" * len(sizes) + "---|")
    for row in counts[sizes[0]]:
        totals = " | ".join(f"{sum(counts[n][row].values()):,}" for n in sizes)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts[sizes[-1]][row].items()))
        print(f"| `{row}` | {totals} | {detail} |")
    print(f"\nEvery run also reads the metadata once each: {', '.join(METADATA)}.")


if __name__ == "__main__":
    main()
