"""whos_out, time_off_policy_types and time_off_balances against the fake HiBob.

Balances pace at HiBob's 50 per window: checked through the CLI with a short window (the
fake would answer 429 to a tap that went faster) and in-process on a fake clock for the
request plan, pacing waits and the progress log with its ETA.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fake_hibob import PROFILES, FakeHibob
from fake_hibob import timeoff as fake_timeoff
from fake_hibob.profiles import BALANCES
from tap_hibob.client import PUBLISHED_LIMITS, HibobClient
from tap_hibob.tap import TapHibob
from tests.conftest import run_tap, tap_config
from tests.test_client import FakeClock
from tests.test_timeoff import catalog

BALANCE = re.compile(r"^/v1/timeoff/employees/(\d+)/balance$")


def active_ids(fake: FakeHibob) -> list[str]:
    return [e.id for e in fake.visible_employees() if e.status == "Active"]


def balance_requests(fake: FakeHibob) -> list[tuple[str, str | None, str | None]]:
    return [
        (m[1], r.arg("policyType"), r.arg("date")) for r in fake.log if (m := BALANCE.match(r.path))
    ]


# whos_out --------------------------------------------------------------------------------------


def test_whos_out_reads_the_configured_window_once(tmp_path: Path, fake: FakeHibob) -> None:
    config = tap_config(fake, whos_out_days_back=10, whos_out_days_ahead=45, include_pending=True)
    run = run_tap(tmp_path, config, catalog=catalog(fake, "whos_out"))
    assert run.returncode == 0, run.stderr[-2000:]
    [request] = fake.requests_to("/v1/timeoff/whosout")
    today = datetime.now(UTC).date()
    assert request.arg("from") == (today - timedelta(days=10)).isoformat()
    assert request.arg("to") == (today + timedelta(days=45)).isoformat()
    assert request.arg("includeHourly") == "true"
    assert request.arg("includePrivate") == "true"
    assert request.arg("includePending") == "true"

    records = run.records("whos_out")
    assert records
    ids = [r["requestId"] for r in records]
    assert len(ids) == len(set(ids))
    assert {r["employeeId"] for r in records} <= set(active_ids(fake))
    # Exactly what HiBob lists for that window (hourly and pending included).
    reply = fake_timeoff.get_whos_out(fake, request, None)  # type: ignore[arg-type]
    assert sorted(ids) == sorted(o["requestId"] for o in json.loads(reply.body)["outs"])
    assert {r["status"] for r in records} <= {"Approved", "Pending"}


def test_whos_out_is_full_table_keyed_by_request(fake: FakeHibob) -> None:
    entry = catalog(fake, "whos_out")["streams"][0]
    root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
    assert list(root["table-key-properties"]) == ["requestId"]
    assert root.get("forced-replication-method", "FULL_TABLE") == "FULL_TABLE"
    assert root["selected-by-default"] is True


# time_off_policy_types -------------------------------------------------------------------------


def test_policy_types_are_one_plus_one_per_type(tmp_path: Path, fake: FakeHibob) -> None:
    run = run_tap(tmp_path, tap_config(fake), catalog=catalog(fake, "time_off_policy_types"))
    assert run.returncode == 0, run.stderr[-2000:]
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


def test_policy_types_403_says_the_permission_is_outside_the_usual_list(
    tmp_path: Path,
) -> None:
    with FakeHibob(profile="seed") as fake:
        run = run_tap(tmp_path, tap_config(fake), catalog=catalog(fake, "time_off_policy_types"))
        assert len(fake.requests_to("/v1/timeoff")) == 1  # a 403 is never retried
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "Features > Time off > Settings > Manage company's time off settings" in run.stderr
    assert "not in the usual integration permission list" in run.stderr


def test_opt_in_streams_are_not_selected_by_default(fake: FakeHibob) -> None:
    tap = TapHibob(config=tap_config(fake), parse_env_config=False)
    entries = {e["tap_stream_id"]: e for e in tap.catalog_dict["streams"]}
    for name in ("time_off_policy_types", "time_off_balances"):
        root = next(m["metadata"] for m in entries[name]["metadata"] if m["breadcrumb"] == [])
        assert root["selected-by-default"] is False, name


# time_off_balances -----------------------------------------------------------------------------


def test_balances_are_n_times_p_requests_paced_below_the_limit(tmp_path: Path) -> None:
    # A 0.5 s window stands in for HiBob's minute; N active x 6 types > 50 per window.
    with FakeHibob(employees=13, window_seconds=0.5) as fake:
        config = tap_config(fake, rate_limit_window_seconds=0.5)
        run = run_tap(tmp_path, config, catalog=catalog(fake, "time_off_balances"))
        statuses = [r.status for r in fake.log]
    assert run.returncode == 0, run.stderr[-2000:]
    assert 429 not in statuses  # paced, never refused
    today = datetime.now(UTC).date().isoformat()
    names = [p.name for p in fake_timeoff.POLICY_TYPES]
    ids = active_ids(fake)
    assert len(ids) * len(names) > 50
    requested = balance_requests(fake)
    assert sorted(requested) == sorted((i, n, today) for i in ids for n in names)
    assert len(fake.requests_to("/v1/people/search")) == 1
    assert len(fake.requests_to("/v1/timeoff/policy-types")) == 1  # names only, no details

    records = run.records("time_off_balances")
    keys = [(r["employeeId"], r["policyType"], r["date"]) for r in records]
    assert len(keys) == len(set(keys)) == len(ids) * len(names)
    sample = records[0]
    assert isinstance(sample["employeeId"], str) and sample["date"] == today
    assert sample["pointInTime"] == today and isinstance(sample["totalBalanceAsOfDate"], float)
    assert f"= {len(ids) * len(names)} requests" in run.stderr
    # Snapshots accumulate day after day: never an ACTIVATE_VERSION that would delete them.
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def test_configured_policy_types_skip_the_settings_permission(tmp_path: Path) -> None:
    with FakeHibob(profile="seed") as fake:  # seed: no time-off settings permission
        config = tap_config(fake, balance_policy_types=["Holiday", "Sick"])
        run = run_tap(tmp_path, config, catalog=catalog(fake, "time_off_balances"))
        assert not fake.requests_to("/v1/timeoff/policy-types")
        requested = {policy for _, policy, _ in balance_requests(fake)}
    assert run.returncode == 0, run.stderr[-2000:]
    assert requested == {"Holiday", "Sick"}
    assert len(run.records("time_off_balances")) == 2 * len(active_ids(fake))


def test_balances_without_policy_types_say_how_to_fix_it(tmp_path: Path) -> None:
    with FakeHibob(profile="seed") as fake:
        run = run_tap(tmp_path, tap_config(fake), catalog=catalog(fake, "time_off_balances"))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "set balance_policy_types" in run.stderr
    assert "Manage company's time off settings" in run.stderr


def test_balances_403_names_the_balance_permission(tmp_path: Path) -> None:
    profile = replace(
        PROFILES["seed"], name="nb", permissions=PROFILES["seed"].permissions - {BALANCES}
    )
    with FakeHibob(profile=profile) as fake:
        config = tap_config(fake, balance_policy_types=["Holiday"])
        run = run_tap(tmp_path, config, catalog=catalog(fake, "time_off_balances"))
        assert len(balance_requests(fake)) == 1  # stops at the first 403
    assert run.returncode == 1
    assert "Timeoff > Balance > See selected people's time off and sick leave balances" in (
        run.stderr
    )


def test_404s_are_skipped_and_counted_in_one_warning(tmp_path: Path) -> None:
    with FakeHibob() as fake:
        gone = active_ids(fake)[3]
        fake.options["timeoff_missing_employees"] = {gone}
        config = tap_config(fake, balance_policy_types=["Holiday", "Sick", "Typo"])
        run = run_tap(tmp_path, config, catalog=catalog(fake, "time_off_balances"))
        ids = active_ids(fake)
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("time_off_balances")
    assert gone not in {r["employeeId"] for r in records}
    assert len(records) == 2 * (len(ids) - 1)
    assert "skipped 2 balance(s) of 1 employee(s)" in run.stderr
    assert "404 for policy type 'Typo' for every employee" in run.stderr


def test_balance_plan_pacing_and_progress_on_a_fake_clock(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A limit of 10 per minute keeps the request count small; the server allows everything,
    # so only the tap's own pacing on its (fake) clock is under test.
    monkeypatch.setitem(PUBLISHED_LIMITS, "timeoff_balance", 10)
    with FakeHibob(limits={"timeoff_balance": 100_000}) as fake:
        clock = FakeClock()
        config = tap_config(fake, balance_policy_types=["Holiday", "Sick"])
        tap = TapHibob(config=config, parse_env_config=False)
        tap.__dict__["client"] = HibobClient(config, tap.logger, clock=clock, sleep=clock.sleep)
        stream = tap.streams["time_off_balances"]
        stream.clock = clock  # type: ignore[attr-defined]
        with caplog.at_level(logging.INFO, logger="tap-hibob"):
            records = list(stream.get_records(None))
        total = len(active_ids(fake)) * 2

    assert len(records) == total >= 30
    # 10 per (1.02 x 60 s) sliding window: one wait per further block of 10 requests.
    assert len(clock.sleeps) == (total - 1) // 10
    assert all(55 < s <= 61.2 + 1e-6 for s in clock.sleeps)
    messages = [r.getMessage() for r in caplog.records if "time_off_balances" in r.getMessage()]
    plan = messages[0]
    assert f"= {total} requests" in plan and "HiBob allows 10 per 60 s" in plan
    assert f"about {(total - 1) // 10} min" in plan
    progress = [m for m in messages if "requests done" in m]
    # At least one progress line per (fake) minute, plus the last one.
    assert len(progress) >= len(clock.sleeps) + 1
    assert progress[-1].startswith(f"time_off_balances: {total} of {total} requests done")
    assert re.search(r"about \d+ (s|min) left", progress[0])
