"""The README's settings table is the one `tap-hibob --about --format markdown` prints.

The README holds the table between two marker lines:

    <!-- settings:start -->
    | Setting | Required | Default | Description |
    ...
    <!-- settings:end -->

`python scripts/plugin_settings.py` refreshes it after a setting changes.
"""

from __future__ import annotations

import pytest

from tests.helpers import ROOT, about

START = "<!-- settings:start -->"
END = "<!-- settings:end -->"


def about_table() -> list[str]:
    lines = about("markdown").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Setting "))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line.rstrip())
    return table


def readme_table() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    if START not in text or END not in text:
        pytest.fail(
            f"README.md has no settings block: put the table of `tap-hibob --about --format "
            f"markdown` between a line {START} and a line {END} "
            "(python scripts/plugin_settings.py fills it in)"
        )
    block = text.split(START, 1)[1].split(END, 1)[0]
    return [line.rstrip() for line in block.strip().splitlines()]


def test_readme_settings_table_equals_about_markdown() -> None:
    expected = about_table()
    assert expected[0].startswith("| Setting | Required | Default | Description |")
    actual = readme_table()
    missing = [line for line in expected if line not in actual]
    extra = [line for line in actual if line not in expected]
    assert actual == expected, (
        "README settings table differs from `tap-hibob --about --format markdown` "
        f"(run python scripts/plugin_settings.py).\nMissing: {missing}\nExtra: {extra}"
    )


def test_ci_runs_exactly_make_test() -> None:
    """CI's last command is the one a newcomer runs (`make test`), so a green CI means the
    documented command passes."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert commands[-1] == "make test", ".ci/run must run exactly the README's test command"
