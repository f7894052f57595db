"""tap-hibob-doctor against the fake HiBob with the permission groups admins really build."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import SERVICE_USER_TOKEN, FakeHibob, Faults
from fake_hibob.people import field_specs
from fake_hibob.profiles import BASIC, PROFILES, Profile
from tap_hibob import doctor, endpoints
from tap_hibob.doctor import Person, Status
from tap_hibob.field_types import HibobField
from tests.helpers import ROOT, default_streams, discover, select, tap_config

PAYROLL_HISTORY = "People > Payroll > View selected employees' Payroll section histories"
TIME_OFF_SETTINGS = "Features > Time off > Settings > Manage company's time off settings"
ROW = re.compile(r"^(?P<stream>[a-z][a-z0-9_]*) +(?P<selected>yes|no) +(?P<result>\S.*)$")
#: Every stream with a fixed name; the fake's tenant adds two custom tables (fake_hibob/catalog.py).
KNOWN = {spec.name for spec in endpoints.known_streams()}
#: The seed guide grants no custom category, so the Equipment custom table is denied to it.
NO_CUSTOM_TABLES = {"custom_tables": False}
SELECTED_BY_DEFAULT = {
    "employees",
    "employee_fields",
    "named_lists",
    "work_history",
    "employment_history",
    "lifecycle_history",
    "time_off_requests",
    "whos_out",
    "tasks",
}


@dataclass
class DoctorRun:
    code: int
    out: str
    fake: FakeHibob

    @property
    def rows(self) -> dict[str, str]:
        """stream -> result label, read from the printed table."""
        return {
            m["stream"]: m["result"] for line in self.out.splitlines() if (m := ROW.match(line))
        }

    @property
    def requests(self) -> int:
        return len(self.fake.log)

    @property
    def denied(self) -> int:
        return sum(1 for r in self.fake.log if r.status in (401, 403))

    @property
    def custom_tables(self) -> set[str]:
        return {s for s in self.rows if s.startswith("custom_table_")}

    def custom_table(self, name: str) -> str:
        """The stream of the custom table HiBob calls `name`."""
        [stream] = [s for s in self.custom_tables if f"custom table '{name}'" in self.block(s)]
        return stream

    def block(self, stream: str) -> str:
        """The table row of `stream` plus its indented detail lines."""
        lines = self.out.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(stream + " "))
        end = start + 1
        while end < len(lines) and lines[end].startswith(" "):
            end += 1
        return "\n".join(lines[start:end])


def run_doctor(
    fake: FakeHibob,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    catalog: dict[str, Any] | None = None,
    **config: Any,
) -> DoctorRun:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(tap_config(fake, **config)))
    argv = ["--config", str(config_path), *args]
    if catalog is not None:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        argv += ["--catalog", str(catalog_path)]
    code = doctor.run(argv)
    return DoctorRun(code, capsys.readouterr().out, fake)


@pytest.fixture
def check(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """check(profile, *args, **config) -> DoctorRun against a fresh 20-employee fake."""
    fakes: list[FakeHibob] = []

    def run(
        profile: str | Profile, *args: str, options: dict | None = None, **config: Any
    ) -> DoctorRun:
        fake = FakeHibob(profile=profile, options=options).start()
        fakes.append(fake)
        return run_doctor(fake, tmp_path, capsys, *args, **config)

    yield run
    for fake in fakes:
        fake.stop()


# Budget: every profile ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile",
    ["all", "seed", "seed_minus_payroll", "no_personal", "none", "active_only", "sections_only",
     "basic_only"],
)  # fmt: skip
def test_a_full_check_stays_inside_the_request_budget(check, profile: str) -> None:
    run = check(profile)
    # The budget tap_hibob/doctor/__init__.py and docs/admin/doctor.md promise.
    assert run.requests <= 25, [r.path for r in run.fake.log]
    assert run.denied <= doctor.MAX_DENIED
    # Never a retry: each endpoint is asked at most once, the people search at most twice.
    paths = [r.path for r in run.fake.log if r.path != "/v1/people/search"]
    assert len(paths) == len(set(paths)), paths


def test_a_wrong_token_costs_exactly_one_request(check) -> None:
    run = check("all", service_user_token="not-the-token")
    assert run.code == 1
    assert run.requests == 1 and run.denied == 1
    assert run.fake.log[0].path == "/v1/company/people/fields"  # needs no permission
    assert "rejected the service user ID/token" in run.out
    assert run.rows == {}
    assert "not-the-token" not in run.out


def test_a_user_in_no_permission_group_gets_one_line(check) -> None:
    run = check("none")
    assert run.code == 1
    assert run.denied == 2  # people search and named lists, then it stops
    assert run.requests == 5  # after discovery's three metadata reads (no permission needed)
    assert "not in any permission group" in run.out
    assert "Hired, Employed and Terminated" in run.out
    assert run.rows == {}
    assert run.out.count("403") == 1  # one line, not a dozen rows of 403s


# Permission profiles --------------------------------------------------------------------


def test_everything_granted_is_all_ok(check) -> None:
    run = check("all")
    assert run.code == 0
    assert len(run.custom_tables) == 2
    assert set(run.rows) == KNOWN | run.custom_tables
    assert set(run.rows.values()) == {"OK"}, run.out
    assert run.denied == 0
    assert "Result: all 11 selected streams can run." in run.out
    assert check("all", "--strict").code == 0


def test_the_seed_list_names_what_it_lacks(check) -> None:
    run = check("seed")
    rows = run.rows
    assert rows["employees"] == "partially visible"
    employees = run.block("employees")
    # The seed guide grants neither About nor the tenant's custom category.
    assert (
        "About: 3 fields hidden; add: People > About > View selected employees' About sections"
        in employees
    )
    assert (
        f"Equipment: 1 field hidden; add: {endpoints.for_category('x', 'Equipment')}" in employees
    )
    assert "Payroll" not in employees and "Personal" not in employees
    assert rows["time_off_policy_types"] == "missing permission"
    assert f"add: {TIME_OFF_SETTINGS}" in run.block("time_off_policy_types")
    assert rows["time_off_balances"] == "missing permission"
    assert "balance_policy_types" in run.block("time_off_balances")
    # Nor the Equipment category, so its custom table (selected by default) cannot run.
    equipment = run.custom_table("Equipment")
    assert rows[equipment] == "missing permission"
    assert f"add: {endpoints.for_category('x', 'Equipment')}" in run.block(equipment)
    assert run.code == 1
    assert f"Result: 1 of 11 selected streams cannot run: {equipment}." in run.out
    others = set(rows) - {
        "employees", "time_off_policy_types", "time_off_balances", "training", equipment
    }  # fmt: skip
    assert {rows[s] for s in others} == {"OK"}
    # Policy types (that probe answers for balances too), the Equipment table and training.
    assert run.denied == 3
    # Without a catalog the fields are the tap's defaults: no SSN, nothing unsearchable.
    search = next(r.body for r in run.fake.requests_to("/v1/people/search") if "filters" in r.body)
    assert "work.department" in search["fields"]
    assert "identification.ssn" not in search["fields"]
    assert not [f for f in search["fields"] if f.startswith("actualPayment.")]
    assert check("seed", "--strict").code == 1


def test_balances_are_checked_directly_when_policy_types_are_configured(check) -> None:
    run = check("seed", balance_policy_types=["Holiday"])
    assert run.rows["time_off_balances"] == "OK"
    assert run.rows["time_off_policy_types"] == "missing permission"
    assert len(run.fake.requests_to("/v1/timeoff/employees/")) == 1


def test_seed_minus_payroll_shares_one_probe_for_the_payroll_tables(check) -> None:
    run = check("seed_minus_payroll")
    payroll = ("salary_history", "variable_payments", "equity_grants", "deductions",
               "entitlements", "actual_payments")  # fmt: skip
    for stream in payroll:
        assert run.rows[stream] == "missing permission"
        assert f"add: {PAYROLL_HISTORY}" in run.block(stream)
    assert len(run.fake.requests_to("/v1/bulk/people/salaries", 403)) == 1
    assert run.fake.requests_to("/v1/bulk/people/variable") == []
    assert run.fake.requests_to("/v1/bulk/people/equities") == []
    assert run.fake.requests_to("/v1/people/actual-payments") == []
    # 7 of the fake's 8 payroll fields: payroll.timeSinceLastSalaryChange (a counter that
    # changes daily) is not selected by default.
    assert f"Payroll: 7 fields hidden; add: {endpoints.for_category('payroll')}" in run.block(
        "employees"
    )
    # The payroll family is opt-in: only the Equipment custom table (as for the seed) blocks.
    assert run.code == 1
    assert f"cannot run: {run.custom_table('Equipment')}." in run.out


def test_a_group_without_terminated_people_is_explained(check) -> None:
    run = check("active_only")
    block = run.block("employees")
    assert run.rows["employees"] == "partially visible"
    assert "No terminated employees are visible although include_inactive is on" in block
    assert "Select people by condition" in block
    assert "Hired, Employed and Terminated" in block
    # With include_inactive off nobody expects them.
    quiet = check("active_only", include_inactive=False)
    assert "terminated" not in quiet.block("employees")


def test_terminated_people_visible_raise_no_warning(check) -> None:
    assert "No terminated employees" not in check("seed").out


def test_sections_without_histories_are_detected(check) -> None:
    run = check("sections_only", options=NO_CUSTOM_TABLES)
    for stream, section in (
        ("work_history", "Work"),
        ("employment_history", "Employment"),
        ("lifecycle_history", "Lifecycle"),
        ("salary_history", "Payroll"),
    ):
        assert run.rows[stream] == "partially visible", run.block(stream)
        block = run.block(stream)
        assert (
            f"add: People > {section} > View selected employees' {section} section histories"
            in block
        )
        assert "current row" in block
    assert run.code == 0
    assert check("sections_only", "--strict", options=NO_CUSTOM_TABLES).code == 1


def test_histories_granted_are_not_mistaken_for_current_rows(check) -> None:
    run = check("seed")
    for stream in ("work_history", "employment_history", "lifecycle_history", "salary_history"):
        assert run.rows[stream] == "OK", run.block(stream)


def test_restricted_columns_are_named(check) -> None:
    restricted = {"salaries": {"no_view_permission": ["base"], "no_view_history_permission": []}}
    run = check("all", options={"tables_restricted": restricted})
    block = run.block("salary_history")
    assert run.rows["salary_history"] == "partially visible"
    assert "columns hidden by field-level permissions: base" in block


def test_denials_stop_at_five_selected_streams_first(check) -> None:
    run = check("basic_only", options=NO_CUSTOM_TABLES)
    assert run.denied == doctor.MAX_DENIED
    rows = run.rows
    for stream in ("work_history", "employment_history", "lifecycle_history", "whos_out"):
        assert rows[stream] == "missing permission"
    # Same permission as who's out: decided without a request.
    assert rows["time_off_requests"] == "missing permission"
    assert run.fake.requests_to("/v1/timeoff/requests/changes") == []
    not_checked = [s for s, result in rows.items() if result == "not checked"]
    assert not_checked and not set(not_checked) & SELECTED_BY_DEFAULT
    assert "stops after 5 denied requests" in run.block(not_checked[0])
    assert run.code == 1


def test_selected_streams_left_unchecked_are_not_called_failures(check) -> None:
    """With custom tables the basic-only user meets five denials among the selected streams."""
    run = check("basic_only")
    assert run.denied == doctor.MAX_DENIED
    unchecked = sorted(s for s in SELECTED_BY_DEFAULT if run.rows[s] == "not checked")
    denied = sorted(
        s for s in SELECTED_BY_DEFAULT | run.custom_tables if run.rows[s] == "missing permission"
    )
    assert unchecked and len(denied) == doctor.MAX_DENIED
    assert f"cannot run: {', '.join(denied)}; not checked: {', '.join(unchecked)}." in run.out


def test_no_visible_employees_means_the_basic_permission_is_missing(check) -> None:
    without_basic = Profile("no_basic", PROFILES["seed"].permissions - {BASIC})
    run = check(without_basic)
    assert run.code == 1
    assert run.rows["employees"] == "missing permission"
    assert f"add: {endpoints.BASIC_INFO}" in run.block("employees")


# Selection: config and catalog ------------------------------------------------------------


def _catalog(streams: dict[str, bool], employee_properties: dict[str, bool] | None = None) -> dict:
    """A Singer catalog selecting `streams`; employees' schema built from the fake's fields."""
    entries = []
    for name, selected in streams.items():
        schema: dict[str, Any] = {"type": "object", "properties": {}}
        metadata: list[dict[str, Any]] = [{"breadcrumb": [], "metadata": {"selected": selected}}]
        if name == "employees":
            for spec in field_specs(FakeHibob().tenant):
                node = schema
                for part in spec.json_path.split("."):
                    node = node["properties"].setdefault(part, {"type": "object", "properties": {}})
            for prop, chosen in (employee_properties or {}).items():
                metadata.append(
                    {"breadcrumb": ["properties", prop], "metadata": {"selected": chosen}}
                )
        entries.append(
            {"tap_stream_id": name, "stream": name, "schema": schema, "metadata": metadata}
        )
    return {"streams": entries}


def test_a_catalog_selecting_payroll_tables_makes_missing_payroll_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    selected = dict.fromkeys(SELECTED_BY_DEFAULT, True) | {"salary_history": True}
    with FakeHibob(profile="seed_minus_payroll") as fake:
        run = run_doctor(fake, tmp_path, capsys, catalog=_catalog(selected))
    assert run.code == 1
    assert "Result: 1 of 10 selected streams cannot run: salary_history." in run.out
    assert run.block("salary_history").split()[:3] == ["salary_history", "yes", "missing"]


def test_a_discovered_catalog_decides_which_employee_fields_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHibob(profile="seed_minus_payroll") as fake:
        catalog = discover(tap_config(fake))
        employees = next(s for s in catalog["streams"] if s["tap_stream_id"] == "employees")
        for entry in employees["metadata"]:
            if entry["breadcrumb"] in (["properties", "payroll"], ["properties", "about"]):
                entry["metadata"]["selected"] = False
            if entry["breadcrumb"] == ["properties", "identification", "properties", "ssn"]:
                entry["metadata"]["selected"] = True  # opted in: the seed cannot unmask it
        # The seed cannot read the Equipment custom table.
        defaults = default_streams(catalog)
        catalog = select(catalog, lambda n: n in defaults and not n.startswith("custom_table_"))
        fake.log.clear()
        run = run_doctor(fake, tmp_path, capsys, catalog=catalog)
    searches = [r.body for r in fake.requests_to("/v1/people/search") if "filters" in r.body]
    assert len(searches) == 1
    requested = searches[0]["fields"]
    assert not [f for f in requested if f.startswith(("payroll.", "about."))]
    assert "work.department" in requested and "root.id" in requested
    assert "identification.ssn" in requested
    block = run.block("employees")
    assert (
        "HiBob masks identification.ssn; for full values add: People > Identification > "
        "Edit selected employees' Identification sections" in block
    )
    assert "Payroll" not in block and "About" not in block
    assert "Equipment: 1 field hidden" in block
    assert run.code == 0


def test_streams_absent_from_the_catalog_are_not_selected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHibob(profile="basic_only") as fake:
        run = run_doctor(fake, tmp_path, capsys, catalog=_catalog({"employees": True}))
    assert run.code == 0
    assert {s for s, label in run.rows.items() if label != "OK"} >= {"work_history", "whos_out"}
    assert "Result: all 1 selected streams can run" in run.out


def test_json_output_for_automation(check) -> None:
    run = check("seed_minus_payroll", "--format", "json", options=NO_CUSTOM_TABLES)
    report = json.loads(run.out)
    assert report["ok"] is True and report["allVisible"] is False
    assert report["requests"] == run.requests and report["deniedAnswers"] == run.denied
    streams = {s["stream"]: s for s in report["streams"]}
    assert set(streams) == KNOWN
    salary = streams["salary_history"]
    assert salary["status"] == Status.MISSING.value and salary["selected"] is False
    assert salary["permission"] == PAYROLL_HISTORY
    assert streams["variable_payments"]["checkedWith"] == "GET /v1/bulk/people/salaries"
    payroll = next(c for c in streams["employees"]["categories"] if c["categoryId"] == "payroll")
    assert payroll["permission"] == "People > Payroll > View selected employees' Payroll sections"
    assert payroll["missingFields"] == payroll["requestedFields"] == 7  # not the volatile one


def test_json_output_of_a_fatal_problem(check) -> None:
    report = json.loads(check("none", "--format", "json").out)
    assert report["ok"] is False
    assert "not in any permission group" in report["problem"]


# Configuration and connection problems ------------------------------------------------------


def test_a_wrong_api_url_is_one_request_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHibob() as fake:
        run = run_doctor(fake, tmp_path, capsys, api_url=fake.url + "/bob")
    assert run.code == 1
    assert run.requests == 1
    assert "HTML page, not JSON" in run.out


def test_an_unreachable_host_fails_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("backoff._sync.time.sleep", sleeps.append)
    with FakeHibob() as fake:
        url = fake.url
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**tap_config(fake), "api_url": url}))
    assert doctor.run(["--config", str(config)]) == 1
    assert "Could not talk to HiBob" in capsys.readouterr().out
    assert len(sleeps) == doctor.DOCTOR_MAX_RETRIES  # short retries: an admin is waiting


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"service_user_id": "x"}', "missing service_user_token"),
        ('{"service_user_id": "x", "service_user_token": "y", "api_url": "http://bob.example"}',
         "must use https"),
    ],
)  # fmt: skip
def test_config_problems_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    assert doctor.run(["--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_no_config_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor.run([]) == 2
    assert "--config" in capsys.readouterr().err


def test_a_catalog_that_is_not_json_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, catalog = tmp_path / "config.json", tmp_path / "catalog.json"
    config.write_text(json.dumps({"service_user_id": "x", "service_user_token": "y"}))
    catalog.write_text("nope")
    assert doctor.run(["--config", str(config), "--catalog", str(catalog)]) == 2
    assert "tap-hibob --discover" in capsys.readouterr().err


def test_config_from_environment_like_meltano(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHibob(profile="all") as fake:
        for key, value in tap_config(fake).items():
            monkeypatch.setenv(f"TAP_HIBOB_{key.upper()}", value)
        monkeypatch.setenv("TAP_HIBOB_RATE_LIMIT_WINDOW_SECONDS", "60")
        monkeypatch.chdir(tmp_path)  # no stray .env file
        code = doctor.run(["--config", "ENV"])
    assert code == 0
    assert "employees" in capsys.readouterr().out


def test_the_installed_command_never_prints_the_token(tmp_path: Path) -> None:
    with FakeHibob(profile="seed_minus_payroll", options=NO_CUSTOM_TABLES) as fake:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(tap_config(fake)))
        proc = subprocess.run(
            [sys.executable, "-m", "tap_hibob.doctor", "--config", str(config), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    assert SERVICE_USER_TOKEN not in proc.stdout + proc.stderr
    # No employee data either: names and ids of the fake's people never appear.
    employee = fake.tenant.employees[1]
    assert employee.id not in proc.stdout and employee.surname not in proc.stdout


# The permission matrix ----------------------------------------------------------------------


def test_permission_matrix_is_generated_from_the_registry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert doctor.run(["--permission-matrix"]) == 0
    matrix = capsys.readouterr().out
    assert matrix == doctor.permission_matrix_markdown()
    for spec in endpoints.known_streams():
        row = next(line for line in matrix.splitlines() if line.startswith(f"| `{spec.name}` "))
        assert f"`{spec.endpoint.shown}`" in row
        assert (spec.permission or "none") in row
        assert f"| {'yes' if spec.selected_by_default else 'no'} |" in row
    for category in ("work", "payroll", "personalContact", "internal"):
        assert endpoints.for_category(category) in matrix
    assert "Hired, Employed, Terminated" in matrix


def test_docs_carry_the_generated_permission_matrix() -> None:
    """docs/admin/permissions.md holds `tap-hibob-doctor --permission-matrix` verbatim."""
    page = (ROOT / "docs" / "admin" / "permissions.md").read_text(encoding="utf-8")
    start, end = "<!-- permission-matrix:start -->", "<!-- permission-matrix:end -->"
    assert start in page and end in page, f"docs/admin/permissions.md has no {start} block"
    block = page.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"
    assert block == doctor.permission_matrix_markdown(), (
        "docs/admin/permissions.md's permission matrix is stale (run python scripts/docs_blocks.py)"
    )


# Pure helpers -------------------------------------------------------------------------------


def _person(pid: str, start: str | None = "2020-01-01", terminated: bool | None = False) -> Person:
    return Person(pid, start, terminated)


def test_current_rows_only_needs_evidence() -> None:
    people = {"1": _person("1"), "2": _person("2", terminated=True)}
    at_start = {"1": [{"effectiveDate": "2020-01-01"}]}
    later = {"1": [{"effectiveDate": "2023-05-01"}]}
    history = {"1": [{"effectiveDate": "2020-01-01"}, {"effectiveDate": "2023-05-01"}],
               "2": [{"effectiveDate": "2024-01-01"}]}  # fmt: skip
    assert doctor.current_rows_only(at_start, people) is None  # a new hire, complete history
    assert doctor.current_rows_only(history, people) is None  # two rows prove history
    assert doctor.current_rows_only({}, people) is None
    assert "after the start date" in (doctor.current_rows_only(later, people) or "")
    leaver = {"2": [{"effectiveDate": "2020-01-01"}]}
    assert doctor.current_rows_only(leaver, people) is None
    assert "terminated" in (doctor.current_rows_only(leaver, people, lifecycle=True) or "")
    unknown_start = {"3": [{"effectiveDate": "2023-05-01"}]}
    assert doctor.current_rows_only(unknown_start, {"3": _person("3", start=None)}) is None


def test_table_rows_reads_both_shapes_restricted_columns_and_errors() -> None:
    payload = {
        "results": [
            {"employeeId": "1", "values": [{"id": 1}, {"id": 2}]},
            {
                "employeeId": "2",
                "values": [
                    {
                        "values": [{"id": 1}],
                        "restricted_columns": {"no_view_permission": ["base"],
                                               "no_view_history_permission": ["payPeriod"]},
                    }
                ],
            },
        ],
        "errors": [{"employeeId": "9"}],
    }  # fmt: skip
    rows, restricted, errors = doctor.table_rows(payload)
    assert {k: len(v) for k, v in rows.items()} == {"1": 2, "2": 1}
    assert restricted == {"base", "payPeriod"}
    assert errors == 1
    assert doctor.table_rows(None) == ({}, set(), 0)


def test_hidden_categories_count_nulls_and_slash_keys_as_visible() -> None:
    metadata = [
        {"id": "work.title", "categoryId": "work", "categoryDisplayName": "Work",
         "jsonPath": "work.title"},
        {"id": "work.site", "categoryId": "work", "categoryDisplayName": "Work",
         "jsonPath": "work.site"},
        {"id": "payroll.salary.payment", "categoryId": "payroll",
         "categoryDisplayName": "Payroll", "jsonPath": "payroll.salary.payment"},
        {"id": "category_1.field_2", "categoryId": "category_1",
         "categoryDisplayName": "Equipment", "jsonPath": "category_1.field_2"},
        {"id": "root.email", "categoryId": "root", "categoryDisplayName": "Basic info",
         "jsonPath": "email"},
    ]  # fmt: skip
    fields = [HibobField.from_metadata(meta) for meta in metadata]
    employees = [{"email": None, "work": {"title": None}, "/work/site": {"value": "London"}}]
    gaps = doctor.hidden_categories(fields, employees)
    assert [(g.category, g.missing, g.requested) for g in gaps] == [
        ("Equipment", 1, 1),
        ("Payroll", 1, 1),
    ]
    assert gaps[0].permission == "People > Equipment > View selected employees' Equipment sections"
    partial = doctor.hidden_categories(fields[:2], [{"work": {"title": "1"}}])
    assert partial[0].describe().startswith("Work: 1 of 2 fields hidden")


def test_the_sample_mixes_leavers_and_long_tenure() -> None:
    people = [_person(str(i), f"20{10 + i}-01-01", terminated=i % 3 == 0) for i in range(12)]
    sample = doctor.choose_sample(people, size=5)
    assert [p.id for p in sample] == ["0", "3", "1", "2", "4"]


def test_an_unknown_configured_policy_type_is_named_without_employee_data(check) -> None:
    run = check("all", balance_policy_types=["Sabbatical"])
    block = run.block("time_off_balances")
    assert run.rows["time_off_balances"] == "not checked"
    assert "GET /v1/timeoff/employees/{employee}/balance (404)" in block
    assert "'Sabbatical' a policy type of this company?" in block
    assert not re.search(r"\d{19}", run.out)  # no employee id anywhere


def test_a_failing_hibob_is_reported_after_short_retries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("backoff._sync.time.sleep", sleeps.append)
    with FakeHibob(faults=Faults(error_rate=1.0)) as fake:
        run = run_doctor(fake, tmp_path, capsys)
    assert run.code == 1
    assert "HiBob's field metadata could not be read" in run.out
    assert run.requests == 1 + doctor.DOCTOR_MAX_RETRIES
