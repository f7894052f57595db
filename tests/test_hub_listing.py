"""The Meltano Hub listing and meltano.yml describe exactly what `tap-hibob --about` says.

Both files are written by `python scripts/plugin_settings.py`; these tests check the result
independently against `--about --format json` and against the Hub's extractor format
(meltano/hub `schemas/plugin_definitions/extractors.schema.json`, yamllint's sorted keys).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT, about

HUB_DIR = ROOT / "hub" / "extractors" / "tap-hibob"
# The Hub's extractor schema: the only top-level keys and enum values it accepts.
HUB_KEYS = {
    "name", "pip_url", "variant", "namespace", "label", "description", "executable",
    "settings", "docs", "repo", "logo_url", "hidden", "python", "settings_group_validation",
    "commands", "capabilities", "metadata", "schema", "select", "maintenance_status",
    "quality", "domain_url", "keywords", "requires", "definition", "next_steps",
    "settings_preamble", "usage", "prereq", "supported_python_versions", "log_parser",
}  # fmt: skip
HUB_REQUIRED = {"name", "namespace", "variant", "quality"}
CAPABILITIES = {
    "properties", "catalog", "discover", "state", "about", "stream-maps",
    "schema-flattening", "activate-version", "batch", "test", "log-based",
    "structured-logging",
}  # fmt: skip
KINDS = {
    "oauth", "hidden", "password", "date_iso8601", "file", "email", "integer", "options",
    "object", "array", "boolean", "string", "decimal",
}  # fmt: skip
SETTING_KEYS = {
    "aliases", "label", "value", "placeholder", "kind", "description", "tooltip",
    "documentation", "env", "value_processor", "value_post_processor", "oauth", "options",
    "docs", "hidden", "sensitive", "name",
}  # fmt: skip
# Objects a user writes whole (a map per stream) stay one `object` setting on the Hub.
WHOLE_OBJECTS = {"stream_maps", "stream_map_config"}
# The loaders meltano.yml must define inline, by their PyPI names (singer-sdk.md §4).
LOADER_PIP_NAMES = {
    "target-csv": "meltanolabs-target-csv",
    "target-jsonl": "target-jsonl",
    "target-duckdb": "target-duckdb",
    "target-snowflake": "meltanolabs-target-snowflake",
    "target-postgres": "meltanolabs-target-postgres",
}


@pytest.fixture(scope="module", name="about")
def about_json() -> dict[str, Any]:
    return dict(json.loads(about("json")))


@pytest.fixture(scope="module")
def listing_path() -> Path:
    found = sorted(HUB_DIR.glob("*.yml"))
    assert len(found) == 1, f"expected one Hub listing in {HUB_DIR}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def listing(listing_path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(listing_path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def meltano_yml() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def extractor(meltano_yml: dict[str, Any]) -> dict[str, Any]:
    (tap,) = [p for p in meltano_yml["plugins"]["extractors"] if p["name"] == "tap-hibob"]
    return dict(tap)


def expected_settings(about: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """--about's settings by the dotted names Meltano uses for nested ones."""
    out: dict[str, dict[str, Any]] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, prop in properties.items():
            full = prefix + name
            if prop.get("properties") and full not in WHOLE_OBJECTS:
                walk(prop["properties"], full + ".")
            else:
                out[full] = prop

    walk(about["settings"]["properties"], "")
    return out


def json_types(prop: dict[str, Any]) -> set[str]:
    raw = prop.get("type", [])
    types = {raw} if isinstance(raw, str) else set(raw)
    for alt in prop.get("oneOf", []) + prop.get("anyOf", []):
        if isinstance(alt, dict):
            types |= json_types(alt)
    return types - {"null"}


def kind_matches(kind: str, prop: dict[str, Any]) -> bool:
    """Whether a Meltano kind accepts every value the JSON schema allows."""
    types = json_types(prop)
    if prop.get("format") == "date-time":
        return kind == "date_iso8601"
    if prop.get("enum"):
        return kind == "options"
    if len(types) > 1:
        return kind == ("array" if "array" in types else "string")
    expected = {
        "boolean": "boolean",
        "integer": "integer",
        "number": "decimal",  # fractions (e.g. seconds) must not be cut to integers
        "array": "array",
        "object": "object",
        "string": "string",
    }
    return len(types) == 1 and kind == expected[types.pop()]


def check_settings(settings: list[dict[str, Any]], about: dict[str, Any], where: str) -> None:
    wanted = expected_settings(about)
    by_name = {s["name"]: s for s in settings}
    assert len(by_name) == len(settings), f"{where}: a setting is listed twice"
    assert set(by_name) == set(wanted), (
        f"{where}: settings differ from --about. Missing: {sorted(set(wanted) - set(by_name))}; "
        f"extra: {sorted(set(by_name) - set(wanted))}. Run python scripts/plugin_settings.py"
    )
    for name, setting in by_name.items():
        prop = wanted[name]
        assert set(setting) <= SETTING_KEYS, f"{where}: {name} has unknown keys"
        assert setting.get("label"), f"{where}: {name} has no label"
        assert setting.get("description"), f"{where}: {name} has no description"
        assert " ".join(setting["description"].split()) == " ".join(
            str(prop.get("description", "")).split()
        ), f"{where}: {name} description differs from --about"
        if prop.get("title"):
            assert setting["label"] == prop["title"], f"{where}: {name} label differs"
        assert setting.get("kind") in KINDS, f"{where}: {name} kind {setting.get('kind')!r}"
        assert kind_matches(setting["kind"], prop), (
            f"{where}: {name} kind {setting['kind']!r} does not fit {prop}"
        )
        if setting["kind"] == "options":
            assert [o["value"] for o in setting["options"]] == prop["enum"], name
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), (
            f"{where}: {name} sensitive={setting.get('sensitive')} but secret={prop.get('secret')}"
        )
        assert setting.get("value") == prop.get("default"), (
            f"{where}: {name} default {setting.get('value')!r} != {prop.get('default')!r}"
        )


# The Hub listing --------------------------------------------------------------------------


def test_listing_uses_only_hub_keys_in_alphabetical_order(
    listing: dict[str, Any], listing_path: Path
) -> None:
    assert set(listing) >= HUB_REQUIRED
    assert set(listing) <= HUB_KEYS, sorted(set(listing) - HUB_KEYS)
    assert list(listing) == sorted(listing), "top-level keys must be sorted (Hub yamllint)"
    for setting in listing["settings"]:
        assert list(setting) == sorted(setting), f"keys of {setting['name']} must be sorted"
    names = [s["name"] for s in listing["settings"]]
    assert names == sorted(names), "settings must be sorted by name"
    assert listing["name"] == "tap-hibob"
    assert listing["namespace"] == "tap_hibob"
    assert listing_path.stem == listing["variant"]
    assert listing["maintenance_status"] in {"active", "beta", "development", "inactive", "unknown"}
    assert listing["quality"] in {"gold", "silver", "bronze", "unknown"}
    assert re.fullmatch(r"https://github\.com/[\w.-]+/tap-hibob", listing["repo"])
    # Hub style: two-space indent, sequences not indented under their key.
    text = listing_path.read_text(encoding="utf-8")
    assert "\nsettings:\n- " in text
    assert "\t" not in text


def test_listing_capabilities_and_python_versions_match_about(
    listing: dict[str, Any], about: dict[str, Any]
) -> None:
    assert listing["capabilities"] == sorted(about["capabilities"])
    assert set(listing["capabilities"]) <= CAPABILITIES
    assert listing["supported_python_versions"] == about["supported_python_versions"]


def test_listing_settings_match_about(listing: dict[str, Any], about: dict[str, Any]) -> None:
    check_settings(listing["settings"], about, "Hub listing")


def test_listing_settings_group_validation_is_the_required_settings(
    listing: dict[str, Any], about: dict[str, Any]
) -> None:
    required = sorted(about["settings"]["required"])
    assert required == ["service_user_id", "service_user_token"]
    assert listing["settings_group_validation"] == [required]
    token = next(s for s in listing["settings"] if s["name"] == "service_user_token")
    assert token["sensitive"] is True


def test_generated_files_are_up_to_date() -> None:
    """Catches a setting added to the tap without re-running the generator."""
    proc = subprocess.run(
        [sys.executable, "scripts/plugin_settings.py", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# meltano.yml --------------------------------------------------------------------------------


def test_meltano_extractor_settings_match_about(
    extractor: dict[str, Any], about: dict[str, Any], listing: dict[str, Any]
) -> None:
    check_settings(extractor["settings"], about, "meltano.yml")
    assert extractor["settings"] == listing["settings"]
    assert extractor["settings_group_validation"] == listing["settings_group_validation"]
    assert sorted(extractor["capabilities"]) == sorted(about["capabilities"])
    assert extractor["pip_url"] == "-e ."
    assert extractor["namespace"] == "tap_hibob"
    assert extractor["executable"] == "tap-hibob"


def test_meltano_extractor_config_is_warehouse_friendly(extractor: dict[str, Any]) -> None:
    config = extractor["config"]
    assert config["flattening_enabled"] is True
    assert isinstance(config["flattening_max_depth"], int)
    assert config["flattening_max_depth"] >= 1
    # Meltano selects everything ("*.*") unless told; the opt-in streams stay opt-in.
    select = extractor["select"]
    assert select[0] == "*.*"
    for stream in (
        "salary_history",
        "variable_payments",
        "equity_grants",
        "time_off_balances",
        "address_history",
    ):
        assert f"!{stream}.*" in select, f"{stream} must be opt-in under Meltano too"


def test_meltano_loaders_are_inline_with_pypi_names(meltano_yml: dict[str, Any]) -> None:
    loaders = {p["name"]: p for p in meltano_yml["plugins"]["loaders"]}
    assert set(LOADER_PIP_NAMES) <= set(loaders)
    for name, loader in loaders.items():
        # A namespace makes it a custom (inline) plugin: nothing is fetched from the Hub.
        assert loader.get("namespace"), f"{name} has no namespace, Meltano would ask the Hub"
        assert loader.get("pip_url"), name
        assert loader.get("executable"), name
        pip_name = re.split(r"[~=<>! \[]", loader["pip_url"], maxsplit=1)[0]
        assert pip_name == LOADER_PIP_NAMES[name], f"{name}: {loader['pip_url']}"
        for setting in loader.get("settings", []):
            assert {"name", "label", "kind", "description"} <= set(setting), (name, setting)
    assert loaders["target-duckdb"]["variant"] == "jwills"
    # target-duckdb 0.8 with duckdb >= 1.1 drops the first row of every batch (see
    # meltano.yml); the e2e tests prove the pinned pair loads every row.
    assert loaders["target-duckdb"]["pip_url"].split() == ["target-duckdb~=0.8", "duckdb==1.0.0"]


def test_meltano_yml_keeps_secrets_out_of_the_file(meltano_yml: dict[str, Any]) -> None:
    """Sensitive settings get their values from the environment, except the demo's fake."""
    plugins = [*meltano_yml["plugins"]["extractors"], *meltano_yml["plugins"]["loaders"]]
    for plugin in plugins:
        sensitive = {s["name"] for s in plugin.get("settings", []) if s.get("sensitive")}
        assert not sensitive & set(plugin.get("config", {})), plugin["name"]
    environments = {e["name"]: e for e in meltano_yml["environments"]}
    assert {"dev", "demo"} <= set(environments)
    for name, env in environments.items():
        for plugin in env.get("config", {}).get("plugins", {}).get("extractors", []):
            if "service_user_token" in plugin.get("config", {}):
                assert name == "demo", f"environment {name} holds a token"


def test_meltano_demo_environment_points_at_the_bundled_fake(meltano_yml: dict[str, Any]) -> None:
    from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN

    demo = next(e for e in meltano_yml["environments"] if e["name"] == "demo")
    (tap,) = [p for p in demo["config"]["plugins"]["extractors"] if p["name"] == "tap-hibob"]
    assert tap["config"]["api_url"].startswith("http://127.0.0.1:")
    assert tap["config"]["service_user_id"] == SERVICE_USER_ID
    assert tap["config"]["service_user_token"] == SERVICE_USER_TOKEN
    assert meltano_yml["default_environment"] == "dev"
    assert meltano_yml["send_anonymous_usage_stats"] is False
