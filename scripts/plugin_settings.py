"""Keep meltano.yml, the Meltano Hub listing and the settings docs in step with `tap-hibob --about`.

The tap's settings are defined once, in `tap_hibob/settings.py` (plus the SDK's built-ins).
Meltano needs them twice more: in `meltano.yml` (between the `# BEGIN generated settings`
and `# END generated settings` lines) and in the Hub listing
(`hub/extractors/tap-hibob/<variant>.yml`). This script writes both from
`tap-hibob --about --format json`, the same way Meltano's hub-utils does: nested settings
are flattened with dots, keys are sorted, and sensitive settings are marked. The settings
table of docs/configuration.md (between `<!-- settings:start -->` and `<!-- settings:end -->`)
is the table of `tap-hibob --about --format markdown` (checked by tests/test_readme.py).

    python scripts/plugin_settings.py          # rewrite the stale files
    python scripts/plugin_settings.py --check  # exit 1 if any file is stale
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
SETTINGS_DOC = ROOT / "docs" / "configuration.md"
SETTINGS_START = "<!-- settings:start -->"
SETTINGS_END = "<!-- settings:end -->"
# The variant is the GitHub owner the tap is published under; change it (and REPO) in one
# place if the repository moves.
VARIANT = "hrdata"
REPO = "https://github.com/hrdata/tap-hibob"
HUB_LISTING = ROOT / "hub" / "extractors" / "tap-hibob" / f"{VARIANT}.yml"
BEGIN = "# BEGIN generated settings"
END = "# END generated settings"
# Objects users write whole (a map per stream); the Hub lists them as one object setting.
WHOLE_OBJECTS = frozenset({"stream_maps", "stream_map_config"})
KINDS = {
    "boolean": "boolean",
    "integer": "integer",
    "number": "decimal",
    "array": "array",
    "object": "object",
    "string": "string",
}


def _about_output(fmt: str) -> str:
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "tap_hibob", "--about", "--format", fmt],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def about() -> dict[str, Any]:
    """What the installed tap says about itself."""
    return dict(json.loads(_about_output("json")))


def markdown_settings_table(markdown: str) -> list[str]:
    """The settings table of `--about --format markdown`, one line per row."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Setting "))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line.rstrip())
    return table


def settings_doc_text(current: str, table: list[str]) -> str:
    """The settings page with the block between the settings markers replaced by `table`."""
    before, rest = current.split(SETTINGS_START, 1)
    _, after = rest.split(SETTINGS_END, 1)
    return f"{before}{SETTINGS_START}\n" + "\n".join(table) + f"\n{SETTINGS_END}{after}"


def _types(prop: dict[str, Any]) -> list[str]:
    """The non-null JSON types a property accepts (type, oneOf or anyOf)."""
    found: list[str] = []
    raw = prop.get("type")
    for t in [raw] if isinstance(raw, str) else raw or []:
        if t != "null" and t not in found:
            found.append(t)
    for alt in prop.get("oneOf", []) + prop.get("anyOf", []):
        if isinstance(alt, dict):
            found += [t for t in _types(alt) if t not in found]
    return found


def kind(prop: dict[str, Any]) -> str:
    """Meltano's `kind` for one JSON-schema property."""
    types = _types(prop)
    if "array" in types:
        return "array"
    if len(types) != 1:
        return "string"  # e.g. faker seed: number, string or boolean
    if types[0] == "string":
        if prop.get("format") in ("date-time", "date"):
            return "date_iso8601"
        if prop.get("enum"):
            return "options"
    return KINDS[types[0]]


def _flatten(properties: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for name, prop in properties.items():
        full = f"{prefix}{name}"
        nested = prop.get("properties")
        if nested and full not in WHOLE_OBJECTS:
            out += _flatten(nested, f"{full}.")
        else:
            out.append((full, prop))
    return out


def _label(name: str, prop: dict[str, Any]) -> str:
    if prop.get("title"):
        return str(prop["title"])
    return " ".join(w.capitalize() for w in name.replace(".", " ").replace("_", " ").split())


def settings(about_json: dict[str, Any]) -> list[dict[str, Any]]:
    """Meltano setting definitions for every setting --about lists, sorted by name."""
    out = []
    for name, prop in _flatten(about_json["settings"]["properties"]):
        setting: dict[str, Any] = {
            "name": name,
            "label": _label(name, prop),
            "description": " ".join(str(prop.get("description", "")).split()),
            "kind": kind(prop),
        }
        if setting["kind"] == "options":
            setting["options"] = [
                {"label": str(v).replace("_", " ").capitalize(), "value": v} for v in prop["enum"]
            ]
        if prop.get("secret"):
            setting["sensitive"] = True
        if prop.get("default") is not None:
            setting["value"] = prop["default"]
        out.append(dict(sorted(setting.items())))
    return sorted(out, key=lambda s: s["name"])


def settings_group_validation(about_json: dict[str, Any]) -> list[list[str]]:
    return [sorted(about_json["settings"].get("required", []))]


def hub_listing(about_json: dict[str, Any]) -> dict[str, Any]:
    """The Hub extractor definition (meltano/hub `_data/meltano/extractors/...`)."""
    listing = {
        "capabilities": sorted(about_json["capabilities"]),
        "description": "HR platform (Bob): people, history tables, payroll and time off",
        "domain_url": "https://www.hibob.com/",
        "executable": "tap-hibob",
        "keywords": ["hris", "meltano_sdk"],
        "label": "HiBob",
        "logo_url": "/assets/logos/extractors/hibob.png",
        "maintenance_status": "active",
        "name": "tap-hibob",
        "namespace": "tap_hibob",
        "pip_url": "tap-hibob",
        "quality": "unknown",
        "repo": REPO,
        "settings": settings(about_json),
        "settings_group_validation": settings_group_validation(about_json),
        "supported_python_versions": about_json["supported_python_versions"],
        "variant": VARIANT,
    }
    return dict(sorted(listing.items()))


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=True, allow_unicode=True, width=88)


def meltano_yml_text(current: str, about_json: dict[str, Any]) -> str:
    """meltano.yml with the extractor's capabilities and settings regenerated."""
    lines = current.splitlines(keepends=True)
    begin = next(i for i, line in enumerate(lines) if line.strip() == BEGIN)
    end = next(i for i, line in enumerate(lines) if line.strip() == END)
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    block = {
        "capabilities": sorted(about_json["capabilities"]),
        "settings": settings(about_json),
        "settings_group_validation": settings_group_validation(about_json),
    }
    body = "".join(f"{indent}{line}\n" for line in dump(block).splitlines())
    return "".join(lines[: begin + 1]) + body + "".join(lines[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    about_json = about()
    wanted = {
        MELTANO_YML: meltano_yml_text(MELTANO_YML.read_text(encoding="utf-8"), about_json),
        HUB_LISTING: dump(hub_listing(about_json)),
    }
    page = SETTINGS_DOC.read_text(encoding="utf-8") if SETTINGS_DOC.exists() else ""
    if SETTINGS_START in page and SETTINGS_END in page:
        table = markdown_settings_table(_about_output("markdown"))
        wanted[SETTINGS_DOC] = settings_doc_text(page, table)
    stale = [
        path
        for path, text in wanted.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run python scripts/plugin_settings.py")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
