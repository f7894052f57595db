"""The fake's core: typed options and rate limits as realistic as HiBob's."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, FakeOptions, Faults


def session(auth: tuple[str, str] = (SERVICE_USER_ID, SERVICE_USER_TOKEN)) -> requests.Session:
    s = requests.Session()
    s.auth = auth
    return s


def get(fake: FakeHibob, path: str, **kwargs: Any) -> requests.Response:
    return session().get(f"{fake.url}{path}", timeout=10, **kwargs)


def remaining(response: requests.Response) -> int:
    return int(response.headers["X-RateLimit-Remaining"])


# Options --------------------------------------------------------------------------------


def test_options_are_typed_and_a_misspelt_key_fails() -> None:
    options = FakeOptions.of({"tables_shape": "bare", "max_filter_values": 5})
    assert options.tables_shape == "bare" and options.max_filter_values == 5
    assert FakeOptions.of(None) == FakeOptions()
    assert FakeOptions.of(options) is options
    with pytest.raises(TypeError):
        FakeOptions.of({"tables_shap": "bare"})
    with pytest.raises(ValueError, match="tables_shape"):
        FakeOptions(tables_shape="flat")
    with pytest.raises(TypeError):
        FakeHibob(employees=1, options={"no_such_option": True})


def test_options_can_change_between_requests_attribute_or_key() -> None:
    with FakeHibob(employees=3, options=FakeOptions(named_lists_shape="object")) as fake:
        assert isinstance(get(fake, "/v1/company/named-lists").json(), dict)
        fake.options.named_lists_shape = "array"
        assert isinstance(get(fake, "/v1/company/named-lists").json(), list)
        fake.options["named_lists_shape"] = "object"  # how older tests set options
        assert isinstance(get(fake, "/v1/company/named-lists").json(), dict)
        assert fake.options["named_lists_shape"] == "object"
        with pytest.raises(KeyError):
            fake.options["named_list_shape"] = "array"


# Rate limits ----------------------------------------------------------------------------


def test_a_lowered_limit_is_in_the_headers_and_enforced() -> None:
    with FakeHibob(employees=3, window_seconds=3600, limits={"bulk_work": 3}) as fake:
        answers = [get(fake, "/v1/bulk/people/work") for _ in range(4)]
        other = get(fake, "/v1/bulk/people/employment")
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"3"}
    assert [remaining(r) for r in answers] == [2, 1, 0, 0]
    assert float(answers[-1].headers["X-RateLimit-Reset"]) > time.time()
    assert "Retry-After" not in answers[-1].headers
    assert other.status_code == 200 and other.headers["X-RateLimit-Limit"] == "50"


def test_foreign_usage_lowers_remaining_and_can_exhaust_the_budget() -> None:
    options = {"foreign_usage": {"bulk_work": 45}}
    with FakeHibob(employees=3, window_seconds=3600, options=options) as fake:
        answers = [get(fake, "/v1/bulk/people/work") for _ in range(6)]
        untouched = get(fake, "/v1/bulk/people/salaries")
    # Another client spent 45 of 50: five requests left, then 429 until the window ends.
    assert [r.status_code for r in answers] == [200] * 5 + [429]
    assert [remaining(r) for r in answers] == [4, 3, 2, 1, 0, 0]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"50"}
    assert remaining(untouched) == 49


def test_foreign_usage_comes_back_in_every_window() -> None:
    options = {"foreign_usage": {"bulk_work": 45}}
    with FakeHibob(employees=3, window_seconds=0.4, options=options) as fake:
        first = get(fake, "/v1/bulk/people/work")
        time.sleep(0.5)  # certainly the next window
        second = get(fake, "/v1/bulk/people/work")
    assert remaining(first) == remaining(second) == 4
    assert float(second.headers["X-RateLimit-Reset"]) > float(first.headers["X-RateLimit-Reset"])


def test_a_shared_bucket_limits_bulk_reads_together() -> None:
    options = {"shared_bucket": ["bulk"]}
    with FakeHibob(employees=3, window_seconds=3600, limits={"shared": 4}, options=options) as fake:
        tables = ["work", "employment", "work", "lifecycle", "salaries", "work"]
        answers = [get(fake, f"/v1/bulk/people/{t}") for t in tables]
        fields = get(fake, "/v1/company/people/fields")
        buckets = {r.endpoint for r in fake.log}
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
    assert [remaining(r) for r in answers] == [3, 2, 1, 0, 0, 0]
    assert {"bulk_work", "bulk_employment", "bulk_salaries"} <= buckets  # keys stay apart
    assert fields.status_code == 200 and remaining(fields) == 49


def test_a_shared_bucket_of_named_keys() -> None:
    options = {"shared_bucket": ["bulk_work", "named_lists"]}
    with FakeHibob(
        employees=3, window_seconds=3600, limits={"bulk_work": 2}, options=options
    ) as fake:
        work = get(fake, "/v1/bulk/people/work")
        lists = get(fake, "/v1/company/named-lists")
        work_again = get(fake, "/v1/bulk/people/work")
        employment = get(fake, "/v1/bulk/people/employment")
    # Without limits["shared"] each key's own limit applies to the common count.
    assert work.status_code == 200 and remaining(work) == 1
    assert lists.status_code == 200 and remaining(lists) == 48
    assert work_again.status_code == 429
    assert employment.status_code == 200 and remaining(employment) == 49


def test_rate_limit_headers_on_every_api_answer() -> None:
    with FakeHibob(employees=3, faults=Faults(burst_429=1)) as fake:
        burst = get(fake, "/v1/bulk/people/work")
        wrong = session(("nobody", "nothing")).get(f"{fake.url}/v1/bulk/people/work", timeout=10)
        typed = get(fake, "/v1/bulk/people/work", headers={"Content-Type": "application/json"})
        fine = get(fake, "/v1/bulk/people/work")
    with FakeHibob(employees=3, faults=Faults(error_rate=1.0)) as fake:
        failed = get(fake, "/v1/bulk/people/work")
    for response, status in ((burst, 429), (wrong, 401), (typed, 400), (fine, 200), (failed, 0)):
        assert status in (0, response.status_code)
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
            response.headers
        ), response.status_code
    assert burst.headers["X-RateLimit-Remaining"] == "0"
    assert failed.status_code >= 500


def test_foreign_usage_of_the_shared_bucket() -> None:
    options = {"shared_bucket": ["bulk"], "foreign_usage": {"shared": 3}}
    with FakeHibob(employees=3, window_seconds=3600, limits={"shared": 5}, options=options) as fake:
        answers = [get(fake, f"/v1/bulk/people/{t}") for t in ("work", "lifecycle", "address")]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert [remaining(r) for r in answers] == [1, 0, 0]
