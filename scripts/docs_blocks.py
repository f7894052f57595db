"""Refresh the generated blocks of the docs from their sources.

Each block sits between two marker lines, `<!-- NAME:start -->` and `<!-- NAME:end -->`:

- `permission-matrix` in docs/admin/permissions.md: `tap-hibob-doctor --permission-matrix`
  (generated from tap_hibob/permissions.py; checked by tests/test_doctor.py);
- `benchmark` in docs/performance.md: the first table of benchmarks/results.md, which
  `python -m benchmarks.run` writes (checked by tests/test_docs.py).

The settings table in docs/configuration.md is written by scripts/plugin_settings.py, with
meltano.yml and the Meltano Hub listing.

    python scripts/docs_blocks.py          # rewrite the stale blocks
    python scripts/docs_blocks.py --check  # exit 1 if any block is stale
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def block(text: str, name: str) -> str | None:
    """The text between the markers of block `name` (None when the markers are missing)."""
    start, end = markers(name)
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def with_block(text: str, name: str, body: str) -> str:
    """`text` with the block `name` replaced by `body`."""
    start, end = markers(name)
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{body.rstrip()}\n{end}{after}"


def permission_matrix() -> str:
    """What `tap-hibob-doctor --permission-matrix` prints."""
    return subprocess.run(
        [sys.executable, "-m", "tap_hibob.doctor", "--permission-matrix"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def benchmark_table() -> str:
    """The first Markdown table of benchmarks/results.md."""
    lines = (ROOT / "benchmarks" / "results.md").read_text(encoding="utf-8").splitlines()
    table: list[str] = []
    for line in lines:
        if line.startswith("|"):
            table.append(line.rstrip())
        elif table:
            break
    return "\n".join(table) + "\n"


BLOCKS: dict[str, tuple[Path, Callable[[], str]]] = {
    "permission-matrix": (DOCS / "admin" / "permissions.md", permission_matrix),
    "benchmark": (DOCS / "performance.md", benchmark_table),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    args = parser.parse_args()
    stale = 0
    for name, (path, source) in BLOCKS.items():
        text = path.read_text(encoding="utf-8")
        if block(text, name) is None:
            start, end = markers(name)
            print(f"{path.relative_to(ROOT)} has no {start} ... {end} block")
            return 1
        wanted = with_block(text, name, source())
        if wanted == text:
            continue
        stale += 1
        if args.check:
            where = path.relative_to(ROOT)
            print(f"{where}: block '{name}' is stale: run python scripts/docs_blocks.py")
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote block '{name}' of {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
