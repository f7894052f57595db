"""The demo: sync the bundled fake HiBob tenant into CSV files with `meltano run`.

    python scripts/demo.py [--meltano PATH] [--employees N] [--output DIR]
    python scripts/demo.py --serve   # only serve the fake on 127.0.0.1:8765 until Ctrl-C

No credentials and no network beyond 127.0.0.1: the fake HiBob (the `fake_hibob`
development package the tests use) serves a generated tenant, and the `demo` environment
of meltano.yml points tap-hibob at it.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fake_hibob import FakeHibob

ROOT = Path(__file__).resolve().parent.parent

DEMO_PORT = 8765  # the api_url of the demo environment in meltano.yml
OUTPUT = ROOT / "output" / "demo"


def meltano_env(api_url: str, output: Path) -> dict[str, str]:
    """The environment for `meltano run`: no telemetry, the tap pointed at the fake."""
    return {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_HIBOB_API_URL": api_url,
        "TARGET_CSV_OUTPUT_PATH": str(output),
    }


def row_count(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


def report(output: Path) -> None:
    files = sorted(output.glob("*.csv"))
    print(f"\nDemo done: {len(files)} CSV file(s) in {output}")
    for path in files:
        print(f"  {path.name:<32} {row_count(path):>6} rows")


def serve() -> int:
    with FakeHibob(employees=50, port=DEMO_PORT) as fake:
        print(
            f"Fake HiBob serving on {fake.url}; try: meltano --environment=demo run "
            "tap-hibob target-csv  (Ctrl-C to stop)"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meltano", default=str(ROOT / ".tools/meltano/bin/meltano"))
    parser.add_argument("--employees", type=int, default=50)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder for the CSV files")
    parser.add_argument("--serve", action="store_true", help="only serve the fake tenant")
    args = parser.parse_args()
    if args.serve:
        return serve()
    meltano = shutil.which(args.meltano) or args.meltano
    output: Path = args.output.resolve()
    if output.exists():
        shutil.rmtree(output)  # only this demo's files, so stale streams do not linger
    output.mkdir(parents=True)
    log_path = output.parent / f"{output.name}-meltano.log"
    with FakeHibob(employees=args.employees) as fake:
        print(f"Fake HiBob tenant with {args.employees} employees on {fake.url}")
        # --full-refresh: every demo reads the whole tenant, whatever state earlier demos left.
        command = [
            meltano,
            "--environment=demo",
            "run",
            "--full-refresh",
            "tap-hibob",
            "target-csv",
        ]
        print("$ meltano --environment=demo run --full-refresh tap-hibob target-csv")
        # The full log goes to a file; the summary below says what was written.
        with log_path.open("w", encoding="utf-8") as log:
            done = subprocess.run(  # noqa: S603 - our own Meltano, fixed arguments
                command,
                cwd=ROOT,
                env=meltano_env(fake.url, output),
                stdout=log,
                stderr=log,
                check=False,
            )
    if done.returncode != 0:
        tail = log_path.read_text(encoding="utf-8").splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        print(
            f"\nmeltano run failed (exit {done.returncode}); full log: {log_path}", file=sys.stderr
        )
        return done.returncode
    report(output)
    print(f"Meltano's log: {log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
