"""`make demo`'s script: the bundled fake tenant through `meltano run` into CSV files."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from fake_hibob import PROFILES, Tenant
from tests.helpers import MELTANO, ROOT, require_meltano

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]


def test_demo_writes_csv_files_and_says_where(tmp_path: Path) -> None:
    require_meltano()
    output = tmp_path / "demo"
    argv = [sys.executable, "scripts/demo.py", "--meltano", str(MELTANO), "--employees", "12"]
    proc = subprocess.run(
        [*argv, "--output", str(output)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    files = {p.stem: p for p in output.glob("*.csv")}
    assert f"CSV file(s) in {output}" in proc.stdout
    for name, path in files.items():
        assert f"  {path.name}" in proc.stdout, f"{name} is not in the summary"
    # The demo tenant's employees, all lifecycle statuses (the default include_inactive).
    assert "employees" in files, f"no employees.csv among {sorted(files)}"
    statuses = PROFILES["all"].lifecycle_statuses
    expected = {e.id for e in Tenant.generate(12).employees if e.lifecycle in statuses}
    with files["employees"].open(newline="", encoding="utf-8") as handle:
        ids = {row["id"] for row in csv.DictReader(handle)}
    assert ids == expected
