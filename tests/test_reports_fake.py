"""The fake's saved reports are no friendlier than HiBob (hibob-api.md, "Saved reports").

Plain HTTP against the fake, no tap: 403 without the Reports permission on every route, 404
for unknown or unshared reports, includeInfo lines and a BOM in CSV, labels in the service
user's language unless `locale` is sent, the too-large error, 204 polls, and a new
generation for every asynchronous call.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, Profile
from fake_hibob.profiles import EVERYTHING, PROFILE_CHANGES, REPORTS, view
from fake_hibob.reports import (
    CHANGES_ID,
    COMPENSATION_ID,
    FORMULA_ID,
    HEADCOUNT_ID,
    profile_changes,
    state,
)

CLEAN = {"includeInfo": "false", "locale": "en-US"}


class Api:
    def __init__(self, fake: FakeHibob) -> None:
        self.fake = fake
        self.session = requests.Session()
        self.session.auth = (SERVICE_USER_ID, SERVICE_USER_TOKEN)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.fake.url + "/v1" + path, params=params, timeout=10)

    def download(self, report: int, **params: Any) -> requests.Response:
        return self.get(f"/company/reports/{report}/download", **params)

    def start(self, report: int, **params: Any) -> requests.Response:
        return self.get(f"/company/reports/{report}/download-async", **params)

    def poll(self, location: str) -> requests.Response:
        return self.session.get(self.fake.url + urlsplit(location).path, timeout=10)


def _api(**kwargs: Any) -> Iterator[Api]:
    with FakeHibob(employees=15, **kwargs) as fake:
        yield Api(fake)


@pytest.fixture
def api() -> Iterator[Api]:
    yield from _api()


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


# The list ----------------------------------------------------------------------------------


def test_list_holds_the_three_reports_with_their_configuration(api: Api) -> None:
    views = api.get("/company/reports").json()["views"]
    assert [v["id"] for v in views] == [HEADCOUNT_ID, COMPENSATION_ID, CHANGES_ID]
    by_id = {v["id"]: v for v in views}
    fields = [f["id"] for f in by_id[COMPENSATION_ID]["configuration"]["fields"]]
    assert FORMULA_ID in fields and "payroll.salary.payment" in fields
    assert by_id[CHANGES_ID]["configuration"]["changes"]
    assert not by_id[HEADCOUNT_ID]["configuration"]["changes"]
    assert by_id[HEADCOUNT_ID]["configuration"]["fields"][0] == {"id": "root.id", "label": "ID"}


@pytest.mark.parametrize(
    "profile",
    [Profile("no_reports", EVERYTHING - {REPORTS}), Profile("none", frozenset(), in_group=False)],
)
def test_every_route_is_403_without_the_reports_permission(profile: Profile) -> None:
    for api in _api(profile=profile):
        assert api.get("/company/reports").status_code == 403
        assert api.download(HEADCOUNT_ID, format="json", **CLEAN).status_code == 403
        assert api.start(HEADCOUNT_ID, format="csv", **CLEAN).status_code == 403
        assert api.get("/company/reports/download/anything").status_code == 403


def test_a_report_not_shared_is_absent_and_404() -> None:
    for api in _api(options={"reports_hidden": [HEADCOUNT_ID]}):
        ids = [v["id"] for v in api.get("/company/reports").json()["views"]]
        assert HEADCOUNT_ID not in ids and CHANGES_ID in ids
        assert api.download(HEADCOUNT_ID, format="json", **CLEAN).status_code == 404
        assert api.start(HEADCOUNT_ID, format="csv", **CLEAN).status_code == 404


@pytest.mark.parametrize("report", ["999", "abc"])
def test_unknown_reports_are_404(api: Api, report: str) -> None:
    assert api.get(f"/company/reports/{report}/download", format="json").status_code == 404


# Synchronous downloads ---------------------------------------------------------------------


def test_csv_by_default_with_a_bom_and_the_info_lines(api: Api) -> None:
    response = api.download(HEADCOUNT_ID)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = _csv(response.content)
    assert rows[0][0].startswith("Report name: Headcount by department")
    assert rows[1][0].startswith("Report date: ")
    assert rows[2] == []


def test_include_info_false_starts_with_the_header(api: Api) -> None:
    rows = _csv(api.download(HEADCOUNT_ID, format="csv", **CLEAN).content)
    assert rows[0][:3] == ["ID", "Display name", "Department"]
    assert len(rows) == 1 + len(api.fake.visible_employees())


def test_without_locale_the_labels_are_french(api: Api) -> None:
    rows = _csv(api.download(HEADCOUNT_ID, format="csv", includeInfo="false").content)
    assert rows[0][:3] == ["Identifiant", "Nom affiché", "Service"]
    columns = api.download(HEADCOUNT_ID, format="json", includeInfo="false").json()["columns"]
    assert columns[2] == {"id": "work.department", "label": "Service"}


def test_json_holds_machine_values_by_column_id(api: Api) -> None:
    body = api.download(HEADCOUNT_ID, format="json", **CLEAN).json()
    assert "info" not in body
    first = api.fake.visible_employees()[0]
    row = next(r for r in body["rows"] if r["root.id"] == first.id)
    assert row["work.department"] == first.department  # the list item id, not its label
    assert row["work.startDate"] == first.start_date.isoformat()
    assert "info" in api.download(HEADCOUNT_ID, format="json", locale="en-US").json()


def test_csv_holds_display_values(api: Api) -> None:
    rows = _csv(api.download(COMPENSATION_ID, format="csv", **CLEAN).content)
    header, first = rows[0], rows[1]
    assert header[-1] == "Annual cost (FTE-adjusted)"
    department, salary = first[2], first[3]
    assert department in {"Engineering", "Finance", "People", "Sales", "Operations"}
    amount, currency = salary.split(" ")
    assert float(amount) > 0 and currency in {"GBP", "USD", "ILS"}


@pytest.mark.parametrize(
    "params",
    [
        {"format": "pdf"},
        {"format": "json", "includeInfo": "no"},
        {"format": "csv", "humanReadable": "APPEND"},
        {"format": "json", "humanReadable": "SOMETIMES"},
    ],
)
def test_bad_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    assert api.download(HEADCOUNT_ID, **params).status_code == 400


@pytest.mark.parametrize("status", [400, 413])
def test_a_report_above_the_threshold_is_too_large_for_a_sync_download(status: int) -> None:
    options = {"reports_sync_max_rows": 3, "reports_too_large_status": status}
    for api in _api(options=options):
        response = api.download(HEADCOUNT_ID, format="json", **CLEAN)
        assert response.status_code == status
        assert response.json()["key"] == "report.download.too.large"
        assert api.start(HEADCOUNT_ID, format="csv", **CLEAN).status_code == 202


def test_columns_of_sections_the_profile_may_not_view_are_empty() -> None:
    no_payroll = Profile("no_payroll", EVERYTHING - {view("Payroll")})
    for api in _api(profile=no_payroll):
        rows = api.download(COMPENSATION_ID, format="json", **CLEAN).json()["rows"]
        assert rows and all(r["payroll.salary.payment"] is None for r in rows)


def test_the_changes_report_needs_the_profile_changes_history_permission() -> None:
    for api in _api():
        rows = api.download(CHANGES_ID, format="json", **CLEAN).json()["rows"]
        assert len(rows) == len(profile_changes(api.fake)) > 5
    for api in _api(profile=Profile("no_history", EVERYTHING - {PROFILE_CHANGES})):
        assert api.download(CHANGES_ID, format="json", **CLEAN).json()["rows"] == []


def test_an_edit_after_the_list_was_read_changes_the_downloaded_columns() -> None:
    for api in _api(options={"reports_edit_after_list": [HEADCOUNT_ID]}):
        before = api.download(HEADCOUNT_ID, format="json", **CLEAN).json()["columns"]
        listed = api.get("/company/reports").json()["views"][0]["configuration"]["fields"]
        after = api.download(HEADCOUNT_ID, format="json", **CLEAN).json()["columns"]
        assert [c["id"] for c in listed] == [c["id"] for c in before]
        assert "work.department" not in [c["id"] for c in after]
        assert after[-1]["id"] == "work.title"


# Asynchronous downloads --------------------------------------------------------------------


def test_async_answers_202_with_the_file_location(api: Api) -> None:
    response = api.start(CHANGES_ID, format="csv", **CLEAN)
    assert response.status_code == 202
    location = response.headers["Location"]
    assert location.startswith(api.fake.url + "/v1/company/reports/download/")
    assert "%20" in location  # the file name holds the report name, spaces encoded


def test_json_is_not_offered_asynchronously(api: Api) -> None:
    assert api.start(CHANGES_ID, format="json", **CLEAN).status_code == 400
    assert api.start(CHANGES_ID, **CLEAN).status_code == 400  # format is required


def test_every_async_call_is_a_new_generation(api: Api) -> None:
    first = api.start(HEADCOUNT_ID, format="csv", **CLEAN).headers["Location"]
    second = api.start(HEADCOUNT_ID, format="csv", **CLEAN).headers["Location"]
    assert first != second
    assert len(state(api.fake).generations_of(HEADCOUNT_ID)) == 2


def test_the_file_is_204_until_generated_then_the_csv() -> None:
    for api in _api(options={"reports_pending_polls": 3}):
        location = api.start(HEADCOUNT_ID, format="csv", **CLEAN).headers["Location"]
        statuses = [api.poll(location).status_code for _ in range(4)]
        assert statuses == [204, 204, 204, 200]
        ready = api.poll(location)
        assert ready.content.startswith(b"\xef\xbb\xbfID,Display name,")
        [generation] = state(api.fake).generations_of(HEADCOUNT_ID)
        assert generation.polls == 5


def test_an_unknown_file_is_404(api: Api) -> None:
    assert api.get("/company/reports/download/2026-01-01T00_00_00-nothing.1").status_code == 404


def test_async_honours_include_info_and_locale(api: Api) -> None:
    location = api.start(HEADCOUNT_ID, format="csv").headers["Location"]
    for _ in range(3):
        body = api.poll(location).content
    rows = _csv(body)
    assert rows[0][0].startswith("Report name: ")
    assert rows[3][0] == "Identifiant"


def test_each_route_has_its_own_rate_limit_key(api: Api) -> None:
    api.get("/company/reports")
    api.download(HEADCOUNT_ID, format="json", **CLEAN)
    location = api.start(HEADCOUNT_ID, format="csv", **CLEAN).headers["Location"]
    api.poll(location)
    keys = [r.endpoint for r in api.fake.log]
    assert keys == ["reports", "report_download", "report_download_async", "report_file"]
    assert api.fake.limits["report_file"] == 20
