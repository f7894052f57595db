"""Read-ahead: streams read concurrently, Singer output unchanged, nothing left behind."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from fake_hibob import FakeHibob
from tap_hibob import readahead
from tap_hibob.readahead import Checkpoint, ReadAhead, Spool
from tests.helpers import sync, tap_config

DEFAULT_STREAMS = ("employees", "work_history", "lifecycle_history", "whos_out", "tasks")


def _messages(fake: FakeHibob, **overrides: Any) -> list[dict[str, Any]]:
    """The Singer messages of a default sync (which must succeed)."""
    return sync(tap_config(fake, **overrides)).messages


def _comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without what differs between any two runs: extraction time, version and
    the bookmark (the run's start); where STATE messages fall is kept."""
    out = []
    for message in messages:
        kept = {k: v for k, v in message.items() if k not in ("time_extracted", "version")}
        if message["type"] == "STATE":
            kept = {"type": "STATE", "streams": sorted(message["value"]["bookmarks"])}
        out.append(kept)
    return out


def test_the_output_is_the_same_with_and_without_read_ahead() -> None:
    with FakeHibob(employees=60) as fake:
        sequential = _messages(fake, read_ahead=False, emit_activate_version_messages=True)
        concurrent = _messages(fake, read_ahead=True, emit_activate_version_messages=True)
    assert _comparable(concurrent) == _comparable(sequential)
    streams = [m["stream"] for m in concurrent if m["type"] == "SCHEMA"]
    assert set(DEFAULT_STREAMS) <= set(streams)
    # One stream after another: each stream's messages are contiguous.
    order = [m.get("stream") for m in concurrent if m["type"] in ("RECORD", "SCHEMA")]
    blocks = [name for i, name in enumerate(order) if i == 0 or order[i - 1] != name]
    assert len(blocks) == len(set(blocks))


def test_no_reader_thread_or_spool_file_outlives_the_sync() -> None:
    before_fds = len(list(Path("/proc/self/fd").iterdir()))
    with FakeHibob(employees=30) as fake:
        _messages(fake)
    assert not [t for t in threading.enumerate() if t.name.startswith("tap-hibob-read-")]
    assert len(list(Path("/proc/self/fd").iterdir())) <= before_fds


def test_spool_items_come_back_in_order_with_checkpoints_and_the_error_last() -> None:
    spool = Spool()
    got: list[Any] = []

    def consume() -> None:
        try:
            got.extend(spool.items())
        except RuntimeError as exc:
            got.append(exc)

    reader = threading.Thread(target=consume)
    reader.start()
    spool.put(b"R", {"id": "1", "n": 3332883894235038486})
    spool.put(b"C", "2026-01-01T00:00:00.000Z")
    spool.put(b"R", {"id": "2", "name": "Zoë\nNovák"})
    failure = RuntimeError("boom")
    spool.end(failure)
    reader.join(5)
    spool.close()
    assert got == [
        {"id": "1", "n": 3332883894235038486},
        Checkpoint("2026-01-01T00:00:00.000Z"),
        {"id": "2", "name": "Zoë\nNovák"},
        failure,
    ]


class _Slow:
    """A stream whose reader waits until told to go on."""

    def __init__(self, name: str, rows: int, gate: threading.Event, wait: float = 5) -> None:
        self.name, self.rows, self.gate, self.wait = name, rows, gate, wait
        self.timed_out = False

    def shaped_records(self, context: Any) -> Any:
        for n in range(self.rows):
            if n == 1:
                self.timed_out = not self.gate.wait(self.wait)
            yield {"n": n}


def test_readers_run_ahead_and_stop_when_closed_early() -> None:

    gate = threading.Event()
    # "second" stays blocked at its second row for 1 s, like a request in flight: well
    # inside close()'s JOIN_SECONDS, so the test does not race it on a loaded machine.
    first, second = _Slow("first", 3, gate), _Slow("second", 2, threading.Event(), wait=1)
    ahead = ReadAhead([first, second], logging.getLogger("test")).start()
    items = ahead.items(first)
    assert next(items) == {"n": 0}
    gate.set()
    assert list(items) == [{"n": 1}, {"n": 2}]
    # The first row reached the main thread while its reader was blocked, not batched up.
    assert not first.timed_out
    ahead.close()  # "second" is still blocked: close waits for it and stops it
    assert not [t for t in threading.enumerate() if t.name.startswith("tap-hibob-read-")]


def test_a_reader_that_outlives_close_writes_nothing_and_raises_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader stuck longer than close() waits (a slow request) must not write to the
    closed spool's descriptor, which the process may have reused for another file."""
    monkeypatch.setattr(readahead, "JOIN_SECONDS", 0.05)
    errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    gate = threading.Event()

    class Stuck:
        name = "stuck"

        def shaped_records(self, context: Any) -> Any:
            yield {"n": 0}  # buffered, not yet on disk
            gate.wait(10)
            yield {"n": 1}

    ahead = ReadAhead([Stuck()], logging.getLogger("test")).start()
    ahead.close()
    assert "did not stop in time" in caplog.text
    with tempfile.TemporaryFile() as other:  # most likely the spool's old descriptor
        gate.set()
        for thread in threading.enumerate():
            if thread.name == "tap-hibob-read-stuck":
                thread.join(10)
        assert os.fstat(other.fileno()).st_size == 0
    assert errors == []


def test_a_spool_read_after_its_reader_finished_was_written_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not one write per record: about one per FLUSH_BYTES when nobody waits for them."""
    writes: list[int] = []
    pwrite = os.pwrite

    def counted(fd: int, data: bytes, offset: int) -> int:
        writes.append(len(data))
        return pwrite(fd, data, offset)

    monkeypatch.setattr(readahead.os, "pwrite", counted)
    finished = threading.Event()

    class Rows:
        name = "rows"

        def shaped_records(self, context: Any) -> Any:
            yield from ({"n": n, "text": "x" * 100} for n in range(5000))
            finished.set()

    stream = Rows()
    with ReadAhead([stream], logging.getLogger("test")) as ahead:
        assert finished.wait(10)
        assert [r["n"] for r in ahead.items(stream)] == list(range(5000))
    assert sum(writes) > 2 * readahead.FLUSH_BYTES
    assert len(writes) <= 1 + sum(writes) // readahead.FLUSH_BYTES
