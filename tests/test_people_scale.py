"""`employees` at scale: request counts for 1000 employees and more than 400 fields."""

from __future__ import annotations

import math

import pytest

from fake_hibob import FakeHibob, Tenant
from fake_hibob.people import ids_of
from tests.helpers import (
    assert_conforms,
    assert_unique,
    default_employee_fields,
    discover,
    searches,
    select,
    sync,
    tap_config,
    value_at,
)


@pytest.mark.parametrize(
    ("employees", "batch", "custom_fields", "groups"),
    [(1000, 150, 3, 1), (1000, 250, 420, 2)],
)
def test_requests_are_one_plus_batches_times_field_groups(
    employees: int, batch: int, custom_fields: int, groups: int
) -> None:
    tenant = Tenant.generate(employees, custom_fields=custom_fields)
    with FakeHibob(tenant) as fake:
        config = tap_config(fake, people_batch_size=batch, human_readable="off")
        catalog = select(discover(config), ["employees"])
        fake.log.clear()
        run = sync(config, catalog)
        requests = searches(fake)
        everyone = ids_of(fake)
    n = len(everyone)
    assert n > 900
    assert len(requests) == 1 + math.ceil(n / batch) * groups
    listing, *reads = requests
    assert listing.body == {"fields": ["root.id"], "showInactive": True}
    for request in reads:
        assert request.body.get("filters")
        [only_filter] = request.body["filters"]
        assert only_filter["fieldPath"] == "root.id" and only_filter["operator"] == "equals"
        assert 0 < len(only_filter["values"]) <= batch
        assert len(request.body["fields"]) <= 400
        assert request.body["fields"][0] == "root.id"
    group_fields = [set(r.body["fields"]) for r in reads[:groups]]
    if groups > 1:
        assert set.intersection(*group_fields) == {"root.id"}
    records = run.records("employees")
    assert [r["id"] for r in records] == everyone
    assert_unique(records, ("id",))


@pytest.mark.parametrize("custom_fields", [420, 800])
def test_more_than_400_fields_are_merged_into_whole_records(custom_fields: int) -> None:
    """Field groups of at most 400, each with root.id to merge on: ceil((F - 1) / 399)."""
    with FakeHibob(Tenant.generate(12, custom_fields=custom_fields)) as fake:
        catalog = select(discover(tap_config(fake)), ["employees"])
        fake.log.clear()
        run = sync(tap_config(fake), catalog)
        expected = default_employee_fields(fake)
        reads = searches(fake)[1:]
    assert len(expected) > 400
    sizes = [len(r.body["fields"]) for r in reads]
    groups = math.ceil((len(expected) - 1) / 399)
    assert sizes == [400] * (groups - 1) + [len(expected) - 399 * (groups - 1)]
    assert all(r.body["fields"][0] == "root.id" for r in reads)
    assert sum(size - 1 for size in sizes) == len(expected) - 1  # each field once
    records = assert_conforms(run, "employees")
    for record in records:
        missing = [fid for fid, path in expected.items() if not value_at(record, path)[0]]
        assert not missing, (record["id"], missing[:5])
