"""whos_out, time_off_policy_types and time_off_balances against the fake HiBob.

Balances pace at HiBob's 50 per window: checked against a short real window (the fake
would answer 429 to a tap that went faster) and on a fake clock for the request plan,
pacing waits and the progress log with its ETA. Syncs run in-process; the CLI where the
exit code is the point.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import PROFILES, FakeHibob
from fake_hibob import timeoff as fake_timeoff
from fake_hibob.profiles import BALANCES
from tap_hibob import endpoints, progress, timeoff
from tap_hibob.client import HibobClient
from tap_hibob.tap import TapHibob
from tests.helpers import (
    FakeClock,
    Run,
    discover,
    entry,
    root_metadata,
    run_tap,
    select,
    sync,
    tap_config,
)

BALANCE = re.compile(r"^/v1/timeoff/employees/(\d+)/balance$")


def active_ids(fake: FakeHibob) -> list[str]:
    return [e.id for e in fake.visible_employees() if e.status == "Active"]


def only(fake: FakeHibob, stream: str, **config: Any) -> dict[str, Any]:
    return select(discover(tap_config(fake, **config)), [stream])


def sync_only(fake: FakeHibob, stream: str, *, check: bool = True, **config: Any) -> Run:
    return sync(tap_config(fake, **config), only(fake, stream, **config), check=check)


def balance_requests(fake: FakeHibob) -> list[tuple[str, str | None, str | None]]:
    return [
        (m[1], r.arg("policyType"), r.arg("date")) for r in fake.log if (m := BALANCE.match(r.path))
    ]


# whos_out --------------------------------------------------------------------------------------


def test_whos_out_reads_the_configured_window_once(fake: FakeHibob) -> None:
    run = sync_only(fake, "whos_out", whos_out_days_back=10, whos_out_days_ahead=45)
    [request] = fake.requests_to("/v1/timeoff/whosout")
    today = datetime.now(UTC).date()
    assert request.arg("from") == (today - timedelta(days=10)).isoformat()
    assert request.arg("to") == (today + timedelta(days=45)).isoformat()
    assert request.arg("includeHourly") == "true"
    assert request.arg("includePrivate") == "false"  # private policy names may be sensitive
    assert request.arg("includePending") == "true"  # both on by default

    records = run.records("whos_out")
    assert records
    ids = [r["requestId"] for r in records]
    assert len(ids) == len(set(ids))
    assert {r["employeeId"] for r in records} <= set(active_ids(fake))
    # Exactly what HiBob lists for that window (hourly and pending included).
    reply = fake_timeoff.get_whos_out(fake, request, None)  # type: ignore[arg-type]
    assert sorted(ids) == sorted(o["requestId"] for o in json.loads(reply.body)["outs"])
    assert {r["status"] for r in records} <= {"Approved", "Pending"}


def test_whos_out_flags_follow_the_settings(fake: FakeHibob) -> None:
    sync_only(
        fake,
        "whos_out",
        whos_out_include_private=True,
        whos_out_include_hourly=False,
        include_pending=False,
    )
    [request] = fake.requests_to("/v1/timeoff/whosout")
    assert request.arg("includePrivate") == "true"
    assert request.arg("includeHourly") == "false"
    assert request.arg("includePending") == "false"


def test_whos_out_is_full_table_keyed_by_request(fake: FakeHibob) -> None:
    catalog = discover(tap_config(fake))
    root = root_metadata(catalog, "whos_out")
    assert list(root["table-key-properties"]) == ["requestId"]
    assert entry(catalog, "whos_out")["replication_method"] == "FULL_TABLE"
    assert root["selected-by-default"] is True


# time_off_policy_types -------------------------------------------------------------------------


def test_policy_types_are_one_plus_one_per_type(fake: FakeHibob) -> None:
    fake.log.clear()
    run = sync_only(fake, "time_off_policy_types")
    names = [p.name for p in fake_timeoff.POLICY_TYPES]
    assert len(fake.requests_to("/v1/timeoff/policy-types")) == 1 + len(names)
    records = run.records("time_off_policy_types")
    assert [r["name"] for r in records] == names
    lieu = next(r for r in records if r["name"] == "Time off in lieu")
    assert lieu == {
        "name": "Time off in lieu",
        "activity": "workTime",
        "bookingWorkDaysOnly": False,
        "unit": "hours",
    }


def test_policy_types_403_says_the_permission_is_outside_the_usual_list() -> None:
    with FakeHibob(profile="seed") as fake:
        run = sync_only(fake, "time_off_policy_types", check=False)
        assert len(fake.requests_to("/v1/timeoff")) == 1  # a 403 is never retried
    assert run.returncode == 1
    [line] = run.said("(403)", "'time_off_policy_types'", level="ERROR")
    assert "Features > Time off > Settings > Manage company's time off settings" in line
    assert "not in the usual integration permission list" in line


def test_opt_in_streams_are_not_selected_by_default(fake: FakeHibob) -> None:
    catalog = discover(tap_config(fake))
    for name in ("time_off_policy_types", "time_off_balances"):
        assert root_metadata(catalog, name)["selected-by-default"] is False, name


def test_balances_are_full_table_snapshots_never_activated(fake: FakeHibob) -> None:
    """A daily snapshot that accumulates: FULL_TABLE, and never an ACTIVATE_VERSION (it
    would make loaders delete the rows of earlier days)."""
    catalog = discover(tap_config(fake))
    assert entry(catalog, "time_off_balances")["replication_method"] == "FULL_TABLE"
    run = sync(
        tap_config(fake, balance_policy_types=["Holiday"], emit_activate_version_messages=True),
        select(catalog, ["time_off_balances", "whos_out"]),
    )
    assert run.records("time_off_balances")
    assert [m["stream"] for m in run.of("ACTIVATE_VERSION")] == ["whos_out"]


# time_off_balances -----------------------------------------------------------------------------


def test_balances_are_n_times_p_requests_paced_below_the_limit() -> None:
    # A 0.5 s window stands in for HiBob's minute; N active x 6 types > 50 per window.
    with FakeHibob(employees=13, window_seconds=0.5) as fake:
        catalog = only(fake, "time_off_balances")
        fake.log.clear()
        run = sync(tap_config(fake, rate_limit_window_seconds=0.5), catalog)
        statuses = [r.status for r in fake.log]
    assert 429 not in statuses  # paced, never refused
    today = datetime.now(UTC).date().isoformat()
    names = [p.name for p in fake_timeoff.POLICY_TYPES]
    ids = active_ids(fake)
    assert len(ids) * len(names) > 50
    requested = balance_requests(fake)
    assert sorted(requested) == sorted((i, n, today) for i in ids for n in names)
    # The run's own id listing (its first check that anyone is visible), then the active ones.
    listings = [r.body["showInactive"] for r in fake.requests_to("/v1/people/search")]
    assert listings == [True, False]
    assert len(fake.requests_to("/v1/timeoff/policy-types")) == 1  # names only, no details

    records = run.records("time_off_balances")
    keys = [(r["employeeId"], r["policyType"], r["date"]) for r in records]
    assert len(keys) == len(set(keys)) == len(ids) * len(names)
    sample = records[0]
    assert isinstance(sample["employeeId"], str) and sample["date"] == today
    assert sample["pointInTime"] == today and isinstance(sample["totalBalanceAsOfDate"], float)
    assert run.said(f"= {len(ids) * len(names)} requests", level="INFO")


def test_configured_policy_types_skip_the_settings_permission() -> None:
    with FakeHibob(profile="seed") as fake:  # seed: no time-off settings permission
        run = sync_only(fake, "time_off_balances", balance_policy_types=["Holiday", "Sick"])
        assert not fake.requests_to("/v1/timeoff/policy-types")
        requested = {policy for _, policy, _ in balance_requests(fake)}
    assert requested == {"Holiday", "Sick"}
    assert len(run.records("time_off_balances")) == 2 * len(active_ids(fake))


def test_balances_without_policy_types_say_how_to_fix_it(tmp_path: Path) -> None:
    with FakeHibob(profile="seed") as fake:
        run = run_tap(tmp_path, tap_config(fake), catalog=only(fake, "time_off_balances"))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = [line for line in run.errors if "set balance_policy_types" in line]
    assert "Manage company's time off settings" in line
    [summary] = [line for line in run.errors if "  - time_off_balances: " in line]
    assert "Manage company's time off settings" in summary


def test_balances_403_names_the_balance_permission() -> None:
    profile = replace(
        PROFILES["seed"], name="nb", permissions=PROFILES["seed"].permissions - {BALANCES}
    )
    with FakeHibob(profile=profile) as fake:
        run = sync_only(fake, "time_off_balances", check=False, balance_policy_types=["Holiday"])
        assert len(balance_requests(fake)) == 1  # stops at the first 403
    assert run.returncode == 1
    assert run.said(BALANCES, "time_off_balances", level="ERROR")


def test_404s_are_skipped_and_counted_in_one_warning() -> None:
    with FakeHibob() as fake:
        gone = active_ids(fake)[3]
        fake.options["timeoff_missing_employees"] = {gone}
        run = sync_only(fake, "time_off_balances", balance_policy_types=["Holiday", "Sick", "Typo"])
        ids = active_ids(fake)
    records = run.records("time_off_balances")
    assert gone not in {r["employeeId"] for r in records}
    assert len(records) == 2 * (len(ids) - 1)
    assert len(run.said("skipped 2 balance(s) of 1 employee(s)")) == 1
    assert len(run.said("404 for policy type 'Typo' for every employee")) == 1


def test_balance_plan_pacing_and_progress_on_a_fake_clock(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    # A limit of 10 per minute keeps the request count small; the server allows everything,
    # so only the tap's own pacing on its (fake) clock is under test.
    monkeypatch.setattr(timeoff, "Progress", functools.partial(progress.Progress, clock=clock))
    with FakeHibob(limits={"timeoff_balance": 100_000}) as fake:
        config = tap_config(fake, balance_policy_types=["Holiday", "Sick"])
        tap = TapHibob(config=config, parse_env_config=False)
        client = HibobClient(tap.settings, tap.logger, clock=clock, sleep=clock.sleep)
        client.pacer(endpoints.BALANCE).limit = 10
        tap.__dict__["client"] = client  # the tap's cached client, replaced before use
        stream = tap.streams["time_off_balances"]
        with caplog.at_level(logging.INFO, logger="tap-hibob"):
            records = list(stream.read_records(None))
        total = len(active_ids(fake)) * 2

    assert len(records) == total >= 30
    # 10 per (1.02 x 60 s) sliding window: one wait per further block of 10 requests.
    assert len(clock.sleeps) == (total - 1) // 10
    assert all(55 < s <= 61.2 + 1e-6 for s in clock.sleeps)
    messages = [r.getMessage() for r in caplog.records if "time_off_balances" in r.getMessage()]
    plan = messages[0]
    assert f"= {total} requests" in plan and "HiBob allows 10 per 60 s" in plan
    assert f"about {(total - 1) // 10} min" in plan
    done = [m for m in messages if "requests done" in m]
    # At least one progress line per (fake) minute, plus the last one.
    assert len(done) >= len(clock.sleeps) + 1
    assert done[-1].startswith(f"time_off_balances: {total} of {total} requests done")
    assert re.search(r"about \d+ (s|min) left", done[0])
