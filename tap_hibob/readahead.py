"""Read-ahead: every selected stream reads HiBob at once, the Singer output stays in order.

HiBob limits each endpoint separately, so reading streams one after another waits for the
sum of their budgets while the real bound is the busiest single endpoint. Here each selected
stream's `read_records` runs in its own thread from the start of the sync, paced by the
shared client per endpoint, and appends what it reads to a spool file of its own. The SDK's
stream loop is unchanged: when it reaches a stream, that stream's `get_records` reads its
spool from the start, waiting where the reader has not got yet. So the output is the same
Singer messages in the same order as a sequential run (SCHEMA, records, STATE,
ACTIVATE_VERSION per stream), memory stays bounded by the pages in flight, and checkpoints
(time off's per-window bookmark) and errors travel through the spool to be acted on in the
main thread, in order. Spool files are unlinked when created, so nothing is left on disk
even after kill -9.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from tap_hibob.client import StoppedError

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()
_RECORD, _CHECKPOINT, _END = b"R", b"C", b"E"
#: Lines go to disk in batches of about this size: one write and one wake-up of the main
#: thread per batch, not per record. While the main thread waits for a spool, batches are
#: smaller, and the main thread takes what is buffered every POLL_SECONDS (a reader may
#: stop mid-batch for a while, waiting for HiBob's rate limit).
FLUSH_BYTES = 256 * 1024
WAITED_FLUSH_BYTES = 32 * 1024
POLL_SECONDS = 0.05
#: The main thread reads at most this much of a spool at once, so reaching a stream whose
#: reader finished long ago costs no more memory than a stream read as it arrives.
READ_BYTES = 1024 * 1024
#: How long close() waits for reader threads before giving up on them (they are daemons).
JOIN_SECONDS = 5.0


@dataclass(frozen=True)
class Checkpoint:
    """A point in a stream's output where the main thread acts (e.g. writes its bookmark)."""

    value: Any


class Reading(Protocol):
    name: str

    def shaped_records(self, context: Any) -> Iterable[Any]: ...


class Spool:
    """One stream's items on disk: written by its reader thread, read by the main thread."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="tap-hibob-")  # noqa: SIM115 - closed in close()
        self._fd = self._file.fileno()
        self._written = 0  # bytes on disk, visible to the main thread
        self._buffer = bytearray()  # lines not on disk yet
        self._waiting = False  # the main thread waits for this spool
        self._done = False
        self._closed = False
        self.error: BaseException | None = None
        self._ready = threading.Condition()  # guards all of the above

    @property
    def size(self) -> int:
        return self._written

    def put(self, kind: bytes, value: Any) -> None:
        line = kind + _ENCODER.encode(value) + b"\n"
        with self._ready:
            self._buffer += line
            batch = WAITED_FLUSH_BYTES if self._waiting else FLUSH_BYTES
            # A checkpoint is acted on as soon as the records before it.
            if kind != _RECORD or len(self._buffer) >= batch:
                self._flush()

    def _flush(self) -> None:
        """Buffered lines to disk, and wake the main thread (holding the lock)."""
        if self._closed:
            # A reader that outlived close() (stuck in a request past JOIN_SECONDS) writes
            # nothing: the descriptor may already belong to another file.
            self._buffer.clear()
            return
        if self._buffer:
            os.pwrite(self._fd, self._buffer, self._written)
            self._written += len(self._buffer)
            self._buffer.clear()
        self._ready.notify_all()

    def end(self, error: BaseException | None = None) -> None:
        with self._ready:
            try:
                self._flush()
            finally:
                self.error = error
                self._done = True
                self._ready.notify_all()

    def items(self) -> Iterator[Any]:
        """Everything the reader wrote, in order; waits for more until the reader ends."""
        offset = 0
        pending = b""
        while True:
            with self._ready:
                while offset == self._written and not self._done:
                    if self._buffer:  # the reader is between batches: take what it has
                        self._flush()
                        break
                    self._waiting = True
                    self._ready.wait(POLL_SECONDS)
                    self._waiting = False
                end, done = self._written, self._done
            if end > offset:
                chunk = os.pread(self._fd, min(end - offset, READ_BYTES), offset)
                offset += len(chunk)
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    kind, body = line[:1], line[1:]
                    if kind == _RECORD:
                        yield _DECODER.decode(body)
                    elif kind == _CHECKPOINT:
                        yield Checkpoint(_DECODER.decode(body))
            elif done:
                if self.error is not None:
                    raise self.error
                return

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._file.close()


class ReadAhead:
    """Starts one reader thread per stream; hands each stream its spool in order."""

    def __init__(self, streams: Iterable[Reading], logger: logging.Logger) -> None:
        self.logger = logger
        self._streams = list(streams)
        self._spools: dict[str, Spool] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def __enter__(self) -> ReadAhead:
        return self.start()

    def start(self) -> ReadAhead:
        for stream in self._streams:
            spool = self._spools[stream.name] = Spool()
            thread = threading.Thread(
                target=self._read,
                args=(stream, spool),
                name=f"tap-hibob-read-{stream.name}",
                daemon=True,  # a killed run must not wait for them
            )
            self._threads.append(thread)
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __contains__(self, name: str) -> bool:
        return name in self._spools

    def items(self, stream: Reading) -> Iterator[Any]:
        return self._spools[stream.name].items()

    @property
    def spool_bytes(self) -> int:
        return sum(spool.size for spool in self._spools.values())

    def _read(self, stream: Reading, spool: Spool) -> None:
        try:
            for item in stream.shaped_records(None):
                self._write(spool, item)
        except BaseException as exc:  # reported in the main thread, as the stream's failure
            spool.end(exc)
        else:
            spool.end()

    def _write(self, spool: Spool, item: Any) -> None:
        if self._stopping.is_set():
            raise StoppedError
        if isinstance(item, Checkpoint):
            spool.put(_CHECKPOINT, item.value)
        else:
            spool.put(_RECORD, item)

    def close(self) -> None:
        """Stop readers that are still running, wait briefly, remove the spools."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                self.logger.warning("Reader thread %s did not stop in time.", thread.name)
        self.logger.info(
            "Read ahead: %d stream(s) read concurrently, %.1f MB spooled",
            len(self._spools),
            self.spool_bytes / 2**20,
        )
        for spool in self._spools.values():
            spool.close()
        self._spools.clear()
