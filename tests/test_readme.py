"""The README and the settings page say what the tap does.

- The settings table of docs/configuration.md is the one `tap-hibob --about --format markdown`
  prints. The page holds it between two marker lines:

      <!-- settings:start -->
      | Setting | Required | Default | Description |
      ...
      <!-- settings:end -->

  `python scripts/plugin_settings.py` refreshes it after a setting changes.
- The README's streams table lists every stream the tap selects by default (against the fake
  HiBob), with the tap's keys, replication and default selection; a row whose name holds a
  placeholder (`custom_<table id>`) stands for a family of metadata-driven streams.
- The README names the two newcomer commands and stays short (it is the PyPI description).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fake_hibob import FakeHibob
from tests.helpers import ROOT, about, discover, root_metadata, stream_names, tap_config

SETTINGS_PAGE = ROOT / "docs" / "configuration.md"
START = "<!-- settings:start -->"
END = "<!-- settings:end -->"
README_MAX_BYTES = 15_000


def about_table() -> list[str]:
    lines = about("markdown").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Setting "))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line.rstrip())
    return table


def documented_table() -> list[str]:
    text = SETTINGS_PAGE.read_text(encoding="utf-8")
    if START not in text or END not in text:
        pytest.fail(
            f"docs/configuration.md has no settings block: put the table of `tap-hibob --about "
            f"--format markdown` between a line {START} and a line {END} "
            "(python scripts/plugin_settings.py fills it in)"
        )
    block = text.split(START, 1)[1].split(END, 1)[0]
    return [line.rstrip() for line in block.strip().splitlines()]


def test_settings_page_table_equals_about_markdown() -> None:
    expected = about_table()
    assert expected[0].startswith("| Setting | Required | Default | Description |")
    actual = documented_table()
    missing = [line for line in expected if line not in actual]
    extra = [line for line in actual if line not in expected]
    assert actual == expected, (
        "docs/configuration.md's settings table differs from `tap-hibob --about --format "
        f"markdown` (run python scripts/plugin_settings.py).\nMissing: {missing}\nExtra: {extra}"
    )


def test_readme_names_the_two_newcomer_commands() -> None:
    """DESIGN.md: the README's quick start is `make demo` and `make test`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text
    assert "make test" in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert commands[-1] == "make test", ".ci/run must run exactly the README's test command"


def test_readme_stays_short() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (at most {README_MAX_BYTES:,}): move detail to docs/"
    )


# The streams table ---------------------------------------------------------------------


def readme_streams() -> dict[str, dict[str, str]]:
    """Rows of the README's streams table, by stream name."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Streams\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not header:
            header = cells
            continue
        if set(cells[0]) <= {"-", ":"}:
            continue
        # A name with a placeholder (`custom_<table id>`) stands for a family of streams
        # built from HiBob's metadata; it matches every stream with that prefix.
        name = re.search(r"`([a-z_]+(?:<[^>`]+>)?)`", cells[0])
        assert name, f"no stream name in README row: {line}"
        rows[name.group(1)] = dict(zip(header, cells, strict=True))
    return rows


def row_for(stream: str, rows: dict[str, dict[str, str]]) -> str | None:
    """The README row naming `stream`, exactly or through a placeholder row."""
    if stream in rows:
        return stream
    for name in rows:
        prefix = name.split("<", 1)[0]
        if "<" in name and stream.startswith(prefix) and len(stream) > len(prefix):
            return name
    return None


def test_placeholder_rows_stand_for_stream_families() -> None:
    rows = {"tasks": {}, "custom_<table id>": {}}
    assert row_for("tasks", rows) == "tasks"
    assert row_for("custom_root__table_1", rows) == "custom_<table id>"
    assert row_for("custom_", rows) is None
    assert row_for("training", rows) is None


@pytest.fixture(scope="module")
def discovered() -> dict[str, dict[str, Any]]:
    """The tap's catalog against the fake HiBob: key, replication, default selection."""
    with FakeHibob() as fake:
        catalog = discover(tap_config(fake))
    entries = {e["tap_stream_id"]: e for e in catalog["streams"]}
    return {
        name: {
            "key": list(entries[name].get("key_properties") or []),
            "replication": entries[name].get("replication_method"),
            "selected": bool(root_metadata(catalog, name).get("selected-by-default")),
        }
        for name in stream_names(catalog)
    }


def test_readme_streams_table_lists_every_default_stream(
    discovered: dict[str, dict[str, Any]],
) -> None:
    rows = readme_streams()
    default = sorted(name for name, s in discovered.items() if s["selected"])
    missing = [name for name in default if row_for(name, rows) is None]
    unknown = sorted(name for name in rows if "<" not in name and name not in discovered)
    assert not missing, f"README.md's streams table lacks default streams: {missing}"
    assert not unknown, f"README.md's streams table lists streams the tap lacks: {unknown}"


def test_readme_streams_table_matches_the_tap(discovered: dict[str, dict[str, Any]]) -> None:
    rows = readme_streams()
    for name, stream in discovered.items():
        listed = row_for(name, rows)
        if listed is None:
            continue
        row = rows[listed]
        assert re.findall(r"`([A-Za-z_]+)`", row["primary key"]) == stream["key"], name
        selected = row["selected by default"].split()[0]
        assert selected == ("yes" if stream["selected"] else "no"), name
        wanted = {"full table": "FULL_TABLE", "incremental": "INCREMENTAL"}
        if row["replication"] in wanted:  # "daily snapshot" is either, depending on the SDK use
            assert wanted[row["replication"]] == stream["replication"], name
