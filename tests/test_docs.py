"""The documentation builds strictly and stays true to the repository.

- `mkdocs build --strict` succeeds: no broken link or anchor, no page missing from the nav;
- every relative link of README.md (also the PyPI long description) points at a file here,
  and the README links every page of the site;
- the generated benchmark table of docs/performance.md is benchmarks/results.md's;
- the layout in docs/development.md names every module of tap_hibob/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# [text](target) and [text](target "title"); images included.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = ("http://", "https://", "mailto:")


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _block(text: str, name: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        pytest.fail(f"no {start} ... {end} block")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    """A warning (broken link or anchor, page missing from the nav) fails the build."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    warnings = [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert proc.returncode == 0 and not warnings, (
        "mkdocs build --strict failed (fix the links, or add the page to nav in mkdocs.yml):\n"
        + output
    )
    assert (tmp_path / "site" / "troubleshooting" / "index.html").is_file()


def _github_slug(heading: str) -> str:
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_readme_links_resolve_to_files_in_the_repository() -> None:
    readme = _readme()
    anchors = {_github_slug(h) for h in re.findall(r"^#{1,6} (.+)$", readme, re.MULTILINE)}
    broken = []
    relative = 0
    for target in LINK.findall(readme):
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in anchors:
                broken.append(f"{target} (no such heading)")
            continue
        relative += 1
        resolved = (ROOT / path).resolve()
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
    assert relative, "the README links no docs page"
    assert not broken, f"README.md has broken links: {broken}"


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav] if nav.endswith(".md") else []
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    return []


def test_readme_links_every_page_of_the_site() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = _nav_pages(config["nav"])
    assert "index.md" in pages
    linked = {target.partition("#")[0] for target in LINK.findall(_readme())}
    missing = [page for page in pages if f"docs/{page}" not in linked]
    assert not missing, f"README.md's documentation list does not link {missing}"


def test_docs_link_nothing_outside_the_repository() -> None:
    """mkdocs checks links inside docs/; a page must not point above the repository either."""
    outside = []
    for page in sorted(DOCS.rglob("*.md")):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(EXTERNAL) or target.startswith("#"):
                continue
            resolved = (page.parent / target.partition("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT):
                outside.append(f"{page.relative_to(ROOT)}: {target}")
    assert not outside, f"links to files outside the repository: {outside}"


def test_performance_page_carries_the_benchmark_results_table() -> None:
    lines = (ROOT / "benchmarks" / "results.md").read_text(encoding="utf-8").splitlines()
    table: list[str] = []
    for line in lines:
        if line.startswith("|"):
            table.append(line.rstrip())
        elif table:
            break
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    assert _block(page, "benchmark") == "\n".join(table) + "\n", (
        "docs/performance.md's benchmark table differs from benchmarks/results.md "
        "(run python scripts/docs_blocks.py)"
    )


def test_development_layout_names_every_tap_module() -> None:
    layout = _block((DOCS / "development.md").read_text(encoding="utf-8"), "layout")
    package = ROOT / "tap_hibob"
    modules = [p.name for p in package.glob("*.py") if not p.name.startswith("__")]
    modules += [f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    missing = [name for name in sorted(modules) if f"  {name} " not in layout]
    assert not missing, f"docs/development.md's layout does not name {missing}: add a line for each"
