"""The Meltano Hub listing and meltano.yml describe exactly what `tap-hibob --about` says.

Both files are written by `python scripts/plugin_settings.py`; these tests check the result
independently against `--about --format json` and against the Hub's extractor format
(meltano/hub `schemas/plugin_definitions/extractors.schema.json`, yamllint's sorted keys).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import MELTANO, ROOT, about, in_ci, require_meltano

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


# The CPython versions CI runs the whole suite on. `.ci/run` runs `make test` with the
# machine's python3: 3.11 on the project's Debian 12 machines. Debian 12 packages no 3.12 or
# 3.13 and PyPI has no CPython builds, so CI cannot be sure to have them: they are not
# claimed (README, Installation, says which versions were tried by hand).
CI_PYTHONS = ["3.11"]


def test_claimed_python_versions_are_the_ones_ci_runs(
    listing: dict[str, Any], about: dict[str, Any]
) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    claimed = [
        c.split("::")[-1].strip()
        for c in pyproject["project"]["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert claimed == CI_PYTHONS, "pyproject claims Python versions CI does not run"
    assert about["supported_python_versions"] == CI_PYTHONS
    assert listing["supported_python_versions"] == CI_PYTHONS
    if in_ci():
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        assert sys.implementation.name == "cpython"
        assert running in CI_PYTHONS, f"CI ran on Python {running}: claim it, or fix CI"


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


# The Hub's own rules, reproduced offline ----------------------------------------------------
#
# The Hub's JSON schemas (meltano/hub schemas/plugin_definitions/extractors.schema.json and
# the common/ files it combines) are not published in any PyPI package; hub-utils is not on
# PyPI either. What is: the `meltano` package ships meltano.schema.json, the schema Meltano
# validates plugin definitions and settings with; the Hub's base_setting schema has the
# same keys and kinds. So: Meltano's schema for what it covers, the Hub's documented
# required keys, allowed keys and enums (the constants above) for the Hub-only metadata,
# yamllint with the Hub's style, and `meltano add --from-ref` (the Hub CI's own check).

HUB_ONLY_KEYS = {
    "quality", "maintenance_status", "domain_url", "keywords", "definition", "next_steps",
    "settings_preamble", "usage", "prereq", "supported_python_versions",
}  # fmt: skip
# The Hub's yamllint style (singer-sdk.md §3.1): sorted keys, two-space indents, lists not
# indented under their key.
HUB_YAMLLINT = """
extends: default
rules:
  key-ordering: enable
  indentation: {spaces: 2, indent-sequences: false}
  line-length: disable
  document-start: disable
"""


def _meltano_bin() -> Path:
    require_meltano()
    return MELTANO


@pytest.fixture(scope="module")
def meltano_schema() -> dict[str, Any]:
    """meltano.schema.json from the `meltano` package in Meltano's venv (`make meltano`)."""
    found = sorted(
        (ROOT / ".tools" / "meltano").glob(
            "lib/python*/site-packages/meltano/schemas/meltano.schema.json"
        )
    )
    if not found:
        _meltano_bin()  # skips, or fails in CI, with how to install Meltano
        pytest.fail("Meltano is installed but ships no meltano.schema.json")
    return dict(json.loads(found[-1].read_text(encoding="utf-8")))


def _validator(schema: dict[str, Any], ref: str | None = None) -> Any:
    from jsonschema import Draft202012Validator

    target = schema if ref is None else {"$defs": schema["$defs"], "$ref": ref}
    return Draft202012Validator(target)


def _errors(validator: Any, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def test_meltano_yml_is_valid_for_meltanos_own_schema(
    meltano_yml: dict[str, Any], meltano_schema: dict[str, Any]
) -> None:
    assert not _errors(_validator(meltano_schema), meltano_yml)


def test_listing_is_a_valid_meltano_plugin_definition(
    listing: dict[str, Any], meltano_schema: dict[str, Any]
) -> None:
    """Everything but the Hub-only metadata is what Meltano itself accepts for an extractor;
    each setting fits Meltano's setting schema (the Hub's base_setting has the same keys)."""
    definition = {k: v for k, v in listing.items() if k not in HUB_ONLY_KEYS}
    extractor = _validator(meltano_schema, "#/$defs/plugins/extractors")
    assert not _errors(extractor, definition)
    setting = _validator(meltano_schema, "#/$defs/base_setting")
    for item in listing["settings"]:
        assert not _errors(setting, item), item["name"]
    # The schema really checks: an unknown setting key and a wrong kind are refused.
    assert _errors(setting, {"name": "x", "kind": "float"})
    assert _errors(extractor, {**definition, "capabilities": ["magic"]})


def test_listing_hub_metadata_follows_the_hub_schema(listing: dict[str, Any]) -> None:
    """The Hub-only keys, as meltano/hub's hub_metadata and common schemas define them."""
    assert {"name", "namespace", "variant", "quality"} <= set(listing)
    for key in ("name", "namespace", "variant", "label", "description", "pip_url", "executable"):
        assert isinstance(listing[key], str) and listing[key], key
    assert re.fullmatch(r"https://[\w.-]+(/[\w./-]*)?", listing["domain_url"])
    assert isinstance(listing["logo_url"], str)
    assert listing["keywords"] and all(isinstance(k, str) for k in listing["keywords"])
    versions = listing["supported_python_versions"]
    assert versions and all(re.fullmatch(r"3\.\d+", v) for v in versions), versions
    for setting in listing["settings"]:
        for option in setting.get("options", []):
            assert set(option) <= {"label", "value"}, setting["name"]
            assert isinstance(option["value"], str), (setting["name"], option)
        assert setting.get("kind") in KINDS, setting["name"]
    assert all(isinstance(group, list) for group in listing["settings_group_validation"])


def test_listing_passes_the_hubs_yamllint_style(listing_path: Path) -> None:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(HUB_YAMLLINT)
    text = listing_path.read_text(encoding="utf-8")
    problems = [f"{p.line}:{p.column} {p.message} ({p.rule})" for p in linter.run(text, config)]
    assert not problems, problems
    # The rules bite: unsorted keys and indented lists are reported.
    assert list(linter.run("name: a\ncapabilities:\n  - about\n", config))


def _new_project(home: Path) -> tuple[Path, dict[str, str]]:
    meltano = _meltano_bin()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_HIBOB", "MELTANO_"))},
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_VENV_BACKEND": "uv",  # as this repository's meltano.yml; pip is slower
    }
    proc = subprocess.run(
        [str(meltano), "init", "project", "--no_usage_stats"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home / "project", env


def _meltano(project: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        [str(_meltano_bin()), *args],
        cwd=project,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"meltano {' '.join(args)}:\n{proc.stderr[-4000:]}"
    return proc.stdout


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (true/false only), as Meltano reads and writes meltano.yml: it
    writes the option `off` unquoted, which YAML 1.1 (PyYAML's default) reads as false."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _project_extractor(project: Path) -> dict[str, Any]:
    text = (project / "meltano.yml").read_text(encoding="utf-8")
    config = yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass
    (tap,) = [p for p in config["plugins"]["extractors"] if p["name"] == "tap-hibob"]
    return dict(tap)


def test_meltano_add_from_ref_accepts_the_listing(
    tmp_path: Path, listing: dict[str, Any], listing_path: Path
) -> None:
    """What the Hub's CI runs on a new listing (install aside: `tap-hibob` is not on PyPI)."""
    project, env = _new_project(tmp_path)
    _meltano(project, env, "add", "--from-ref", str(listing_path), "--no-install", "tap-hibob")
    tap = _project_extractor(project)
    for key in ("namespace", "variant", "pip_url", "executable", "capabilities", "settings"):
        assert tap[key] == listing[key], key
    assert tap["settings_group_validation"] == listing["settings_group_validation"]


def _readme_add_custom() -> tuple[list[str], dict[str, Any]]:
    """The README's `meltano add --custom` answers and the meltano.yml block it shows."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- meltano-add-custom:start -->", 1)[1]
    block = block.split("<!-- meltano-add-custom:end -->", 1)[0]
    command = block.split("```bash", 1)[1].split("```", 1)[0]
    shown = block.split("```yaml", 1)[1].split("```", 1)[0]
    lines = [line.strip().rstrip("\\").strip() for line in command.strip().splitlines()]
    assert lines[0] == "printf '%s\\n'", lines[0]
    assert lines[-1] == "| meltano add --plugin-type extractor --custom tap-hibob", lines[-1]
    answers = [shlex.split(line)[0] for line in lines[1:-1]]
    return answers, yaml.safe_load(shown)["plugins"]["extractors"][0]


def test_readme_meltano_add_custom_works_as_typed(tmp_path: Path, about: dict[str, Any]) -> None:
    from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob

    answers, shown = _readme_add_custom()
    assert answers[1] == shown["pip_url"]
    answers[1] = str(ROOT)  # this checkout instead of the GitHub URL (no network here)
    project, env = _new_project(tmp_path)
    _meltano(
        project,
        env,
        "add", "--plugin-type", "extractor", "--custom", "tap-hibob",
        stdin="\n".join(answers) + "\n",
    )  # fmt: skip
    tap = _project_extractor(project)
    assert tap == {**shown, "pip_url": str(ROOT)}, "README's meltano.yml block differs"
    assert set(tap["capabilities"]) == set(about["capabilities"])
    assert {s["name"] for s in tap["settings"]} <= set(expected_settings(about))
    _meltano(project, env, "install", "tap-hibob")
    env = {
        **env,
        "TAP_HIBOB_SERVICE_USER_ID": SERVICE_USER_ID,
        "TAP_HIBOB_SERVICE_USER_TOKEN": SERVICE_USER_TOKEN,
    }
    with FakeHibob(employees=3) as fake:
        # Settings the answers did not declare are set as a user would (custom settings).
        _meltano(project, env, "config", "set", "tap-hibob", "api_url", fake.url)
        catalog = json.loads(_meltano(project, env, "invoke", "tap-hibob", "--discover"))
    assert "employees" in {s["tap_stream_id"] for s in catalog["streams"]}
