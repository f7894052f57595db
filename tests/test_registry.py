"""The endpoint registry (tap_hibob/endpoints.py) is the one place for HiBob's facts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tap_hibob import endpoints

PACKAGE = Path(endpoints.__file__).parent
# A HiBob route (`/people/search`, `/bulk/people/work`, ...), a permission in the words of
# HiBob's permission screens, or a published per-minute limit.
ROUTE = re.compile(r"/(people|bulk|timeoff|company|tasks|reports)\b")
PERMISSION = re.compile(r"\b(People|Timeoff|Features) > |View selected employees'")


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants in code (f-string parts included), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "endpoints.py"]


def test_no_endpoint_path_or_permission_is_written_outside_the_registry() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r:.90}"
        for path in _modules()
        for line, text in _code_strings(path)
        if ROUTE.search(text) or PERMISSION.search(text)
    ]
    assert found == []


def test_no_rate_limit_is_written_outside_the_registry() -> None:
    # Published limits are Endpoint(limit=...) entries; the client reads them from there.
    pattern = re.compile(r"\b(limit|LIMIT)\w*\s*[=:]\s*\d")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in _modules()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and "PROBE" not in line
    ]
    assert found == []


def test_the_guard_catches_a_path_or_permission_written_elsewhere(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""A docstring may mention GET /v1/tasks."""\n'
        'PATH = "/bulk/people/work"\n'
        "def f(x):\n"
        '    return f"HiBob denied {x}: add People > Work > View selected employees\'"\n',
        encoding="utf-8",
    )
    texts = [text for _, text in _code_strings(sample)]
    assert any(ROUTE.search(t) for t in texts)
    assert any(PERMISSION.search(t) for t in texts)
    assert not any("GET /v1/tasks" in t for t in texts)  # docstrings are documentation


@pytest.mark.parametrize("spec", endpoints.known_streams(), ids=lambda s: s.name)
def test_every_fixed_stream_names_its_endpoint_and_permission(spec: endpoints.StreamSpec) -> None:
    endpoint = spec.endpoint
    assert endpoint.path.startswith("/") and endpoint.method in ("GET", "POST")
    assert endpoint.permission or endpoint.note, f"{spec.name}: no permission and no note"
    assert spec.requests


def test_the_design_keeps_todays_table_stream_names() -> None:
    names = {spec.table: spec.stream for spec in endpoints.TABLES.values()}
    assert names == {
        "work": "work_history",
        "employment": "employment_history",
        "lifecycle": "lifecycle_history",
        "salaries": "salary_history",
        "variable": "variable_payments",
        "equities": "equity_grants",
        "address": "address_history",
        "deduction": "deductions",
        "entitlement": "entitlements",
        "dependents": "dependents",
        "right-to-work": "right_to_work",
        "training": "training",
    }
    opt_in = {s.stream for s in endpoints.TABLES.values() if not s.selected_by_default}
    assert opt_in == {
        "salary_history", "variable_payments", "equity_grants", "address_history",
        "deductions", "entitlements", "dependents", "right_to_work", "training",
    }  # fmt: skip


def test_unknown_tables_get_a_snake_case_stream_and_custom_tables_keep_their_id() -> None:
    assert endpoints.table_stream_name("bank-accounts") == "bank_accounts"
    assert endpoints.table_stream_name("work") == "work_history"
    table_id = "root__table_1791380280851"
    assert endpoints.custom_table_stream_name(table_id) == f"custom_table_{table_id}"


def test_endpoint_paths_are_filled_url_encoded() -> None:
    assert endpoints.POLICY_TYPE.url(name="Time off / lieu") == (
        "/timeoff/policy-types/Time%20off%20%2F%20lieu"
    )
    assert endpoints.bulk_table("right-to-work", "Identification").key == "bulk_right-to-work"
