"""The built wheel, installed into a fresh venv, is a working tap-hibob (schemas included).

The wheel is what `pip install tap-hibob`, `pipx install .` and `uv tool install .` put on a
user's machine, so it is tested the way a user meets it: built with `uv build`, installed
into a new venv with the locked dependency versions, and run from a folder outside the
source tree so nothing can fall back to the checkout's `schemas/`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

from fake_hibob import FakeHibob
from tests.helpers import ROOT, tap_config

pytestmark = pytest.mark.xdist_group("packaging")


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        message = "uv is not installed; run `make venv` (it installs .tools/bin/uv)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(_uv(), "build", "--wheel", "--out-dir", out, ROOT, cwd=ROOT)
    (built,) = out.glob("tap_hibob-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel and its locked runtime dependencies."""
    where = tmp_path_factory.mktemp("venv")
    venv = where / "venv"
    uv = _uv()
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv, cwd=where)
    requirements = where / "requirements.txt"
    # The runtime dependencies at the versions uv.lock pins (no dev or test groups).
    _run(
        uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes",
        "--output-file", requirements, cwd=ROOT,
    )  # fmt: skip
    python = venv / "bin" / "python"
    _run(uv, "pip", "install", "--quiet", "--python", python, "-r", requirements, wheel, cwd=where)
    return venv


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory with no schemas/ folder anywhere above it in the source tree."""
    assert not (tmp_path / "schemas").exists()
    return tmp_path


@pytest.fixture(scope="module")
def demo_fake() -> Iterator[FakeHibob]:
    with FakeHibob(employees=8) as server:
        yield server


def test_wheel_carries_every_schema_file_inside_the_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"tap_hibob/schemas/{p.name}" for p in (ROOT / "schemas").glob("*.json")}
    assert expected, "the source tree has no schemas/*.json to ship"
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    # Not as a stray top-level package, which would clash with other distributions.
    assert not any(n.startswith("schemas/") for n in names)


def test_wheel_metadata_declares_python_dependencies_and_entry_points(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (meta_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    meta = Parser().parsestr(archive.read(meta_name).decode())
    assert meta["Name"] == "tap-hibob"
    assert meta["Requires-Python"] == ">=3.11"
    requires = meta.get_all("Requires-Dist") or []
    assert any(
        re.match(r"singer-sdk(\[[a-z,]+\])?~=0\.54\.9", r.replace(" ", "")) for r in requires
    ), requires
    (entry_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    entry_points = archive.read(entry_name).decode()
    assert "tap-hibob = tap_hibob.cli:main" in entry_points


def test_installed_tap_reports_version_and_about(installed: Path, outside: Path) -> None:
    tap = installed / "bin" / "tap-hibob"
    assert _run(tap, "--version", cwd=outside).strip().startswith("tap-hibob v")
    about = json.loads(_run(tap, "--about", "--format", "json", cwd=outside))
    assert about["name"] == "tap-hibob"
    assert "service_user_token" in about["settings"]["properties"]


def test_installed_tap_discovers_the_same_catalog_as_the_source_tree(
    installed: Path, outside: Path, demo_fake: FakeHibob
) -> None:
    config = outside / "config.json"
    config.write_text(json.dumps(tap_config(demo_fake)))
    from_wheel = json.loads(
        _run(installed / "bin" / "tap-hibob", "--discover", "--config", config, cwd=outside)
    )
    from_source = json.loads(
        _run(sys.executable, "-m", "tap_hibob", "--discover", "--config", config, cwd=ROOT)
    )

    def by_stream(catalog: dict) -> dict[str, dict]:
        return {s["tap_stream_id"]: s["schema"] for s in catalog["streams"]}

    wheel_streams, source_streams = by_stream(from_wheel), by_stream(from_source)
    assert wheel_streams, "the installed tap discovered no streams"
    assert wheel_streams.keys() == source_streams.keys()
    for name, schema in wheel_streams.items():
        assert schema == source_streams[name], f"{name}: schema differs in the installed wheel"
