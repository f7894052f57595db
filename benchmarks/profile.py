"""Summarise a py-spy raw (collapsed-stack) profile: where the tap's CPU goes.

    python -m benchmarks.profile /tmp/tap-hibob-bench-*/n20000/py-spy.txt

Prints the share of samples by area (SDK record path, JSON encoding, HTTP, the tap's own
code, ...) and the functions with the most inclusive and self time.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# "func (path/to/module.py:123)" -> ("func", "path/to/module.py")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")
# Areas by file, tested in order against each frame (the innermost match wins); the tap's
# own modules are their own areas (tap_hibob/stream.py holds the compiled conformance).
AREAS = (
    ("JSON encode/decode", ("json/", "simplejson", "msgspec")),
    ("logging", ("logging/",)),
    ("HTTP (requests, urllib3, socket)", ("requests/", "urllib3/", "http/client", "socket")),
    ("SDK type conformance", ("helpers/_typing",)),
    ("SDK catalog/selection", ("helpers/_catalog", "singerlib/catalog")),
    ("SDK messages/writer", ("singerlib/", "io_base", "plugin_base")),
    ("SDK stream loop", ("singer_sdk/streams", "singer_sdk/metrics", "singer_sdk/mapper")),
    ("imports/startup", ("<frozen importlib", "importlib/")),
)
# (function, file) of leaf frames that wait: for HiBob's answer, or for the rate limit.
WAITING = {
    ("SocketIO.readinto", "socket.py"),
    ("Pacer.wait", "client.py"),
}


def _frame(raw: str) -> tuple[str, str]:
    match = _FRAME.match(raw.strip())
    if not match:
        return raw.strip(), ""
    return match["func"], match["file"]


def _short(file: str) -> str:
    for marker in ("site-packages/", "lib/python3.", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            if marker == "lib/python3.":
                file = file.split("/", 1)[-1]
    return file


def _area(stack: list[tuple[str, str]]) -> str:
    for _, file in reversed(stack):
        if "tap_hibob/" in file:
            return "tap_hibob/" + file.rsplit("tap_hibob/", 1)[1]
        for area, needles in AREAS:
            if any(n in file for n in needles):
                return area
    return "other"


def load(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        stacks.append(([_frame(f) for f in frames.split(";")], int(count)))
    return stacks


def _waiting(stack: list[tuple[str, str]]) -> bool:
    """py-spy counts a thread blocked in recv() or sleeping in the pacer as busy."""
    func, file = stack[-1]
    return (func, file.rsplit("/", 1)[-1]) in WAITING


def summary(path: Path, top: int = 15) -> list[str]:
    """Lines: areas by self samples, then functions by inclusive and by self samples.

    Samples that wait (on the socket for the fake's answer, or in the pacer's sleep) are
    left out, so the shares are of the tap's CPU.
    """
    loaded = load(path)
    stacks = [(stack, count) for stack, count in loaded if not _waiting(stack)]
    waited = sum(count for _, count in loaded) - sum(count for _, count in stacks)
    total = sum(count for _, count in stacks) or 1
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in stacks:
        areas[_area(stack)] += count
        names = [f"{func} ({_short(file)})" for func, file in stack]
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
    lines = [f"{total} CPU samples ({waited} more waiting on the socket or pacer, left out)"]
    lines += [f"area {share(n, total)}  {area}" for area, n in areas.most_common()]
    lines += [f"incl {share(n, total)}  {name}" for name, n in inclusive.most_common(top)]
    lines += [f"self {share(n, total)}  {name}" for name, n in own.most_common(top)]
    return lines


def share(count: int, total: int) -> str:
    return f"{100 * count / total:5.1f}%"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"== {arg}")
        print("\n".join(summary(Path(arg), top=30)))
