"""Benchmark tap-hibob against a fake HiBob tenant of N employees.

    .venv/bin/python -m benchmarks.run --sizes 1000,5000,20000

For each size it starts the fake HiBob in its own process (short rate-limit window, optional
latency), discovers, selects every default-selected stream plus every history table, and
runs the real `tap-hibob` CLI in a subprocess with the same window
(`rate_limit_window_seconds`) once per mode, side by side on the same tenant: `sequential`
(read_ahead off: one stream after another) and `concurrent` (read_ahead on). It prints per
mode: requests per endpoint and in total, 429s, wall against Σ endpoint budgets and against
the largest single endpoint's budget, records per stream, the tap's CPU per 1,000 records
against a json.loads + json.dumps baseline of the same records, peak RSS and the bytes
spooled by read-ahead. Results also go to a Markdown and a JSON file.

See benchmarks/README.md for the options (py-spy profiles, other Pythons).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from benchmarks import profile
from fake_hibob import SERVICE_USER_ID, SERVICE_USER_TOKEN
from tap_hibob import endpoints

ROOT = Path(__file__).resolve().parent.parent
# Not all selected by default (payroll family, address, personal and identity tables), but
# part of what the benchmark syncs: every table with a bulk route.
HISTORY_TABLES = tuple(spec.stream for spec in endpoints.TABLES.values() if spec.bulk)
MODES = {"sequential": {"read_ahead": False}, "concurrent": {"read_ahead": True}}
GOAL_WALL_OVER_FLOOR = 1.2  # sequential: Σ of the endpoint budgets
GOAL_WALL_OVER_LARGEST = 1.25  # concurrent: the largest single endpoint's budget
GOAL_SPEEDUP_AT_20K = 3.0
GOAL_CPU_OVER_BASELINE = 4.0
GOAL_RSS_MB_AT_20K = 300
BASELINE_CHUNK = 5000
HIBOB_WINDOW = 60.0
_SPOOLED = re.compile(r"Read ahead: (\d+) stream\(s\) read concurrently, ([\d.]+) MB spooled")


@dataclass
class Finished:
    """A finished child process with its own resource usage (from wait4)."""

    returncode: int
    wall: float
    cpu: float
    max_rss_mb: float


@dataclass
class SizeResult:
    """Everything measured for one tenant size."""

    employees: int
    streams: list[str]
    mode: str = "sequential"
    returncode: int = 0
    error: str = ""
    discovery_requests: dict[str, int] = field(default_factory=dict)
    discovery_wall: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    floor: float = 0.0
    paced_floor: float = 0.0
    tap_cpu: float = 0.0
    startup_cpu: float = 0.0
    baseline_cpu: float = 0.0
    fake_cpu: float = 0.0
    max_rss_mb: float = 0.0
    output_mb: float = 0.0
    spool_mb: float = 0.0
    largest: float = 0.0
    largest_endpoint: str = ""
    profile_top: list[str] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    @property
    def wall_over_floor(self) -> float:
        return self.wall / self.floor if self.floor else float("nan")

    @property
    def wall_over_largest(self) -> float:
        return self.wall / self.largest if self.largest else float("nan")

    def per_1k(self, seconds: float) -> float:
        return 1000 * seconds / self.total_records if self.total_records else float("nan")

    @property
    def tap_cpu_per_1k(self) -> float:
        """Tap CPU per 1,000 records, interpreter start and imports excluded."""
        return self.per_1k(max(0.0, self.tap_cpu - self.startup_cpu))

    @property
    def cpu_over_baseline(self) -> float:
        base = self.per_1k(self.baseline_cpu)
        return self.tap_cpu_per_1k / base if base else float("nan")


# Processes ------------------------------------------------------------------------------


def run_process(argv: list[str], stdout: IO[Any] | int, stderr: IO[Any] | int) -> Finished:
    """Run argv to completion; CPU and peak RSS are the child's own (os.wait4)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    return Finished(proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


class FakeProcess:
    """benchmarks.fake_process as a child: start, read request stats, stop."""

    def __init__(self, employees: int, window: float, latency: float) -> None:
        argv = [
            sys.executable,
            "-m",
            "benchmarks.fake_process",
            f"--employees={employees}",
            f"--window={window}",
            f"--latency={latency}",
        ]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.url = self._read()["url"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake HiBob process exited early (see its stderr above)")
        return dict(json.loads(line))

    def _send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stats(self) -> dict[str, Any]:
        self._send("stats")
        return self._read()

    def stop(self) -> float:
        """Stop the fake; returns its CPU seconds."""
        self._send("quit")
        cpu = float(self._read()["cpu_seconds"])
        self.proc.wait(timeout=30)
        return cpu


# Catalog ----------------------------------------------------------------------------------


def stream_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    for item in entry.get("metadata", []):
        if item.get("breadcrumb") == []:
            return dict(item.get("metadata", {}))
    return {}


def select_streams(catalog: dict[str, Any], wanted: set[str] | None) -> list[str]:
    """Select default-selected streams plus the history tables (or exactly `wanted`)."""
    chosen = []
    for entry in catalog["streams"]:
        name = entry["tap_stream_id"]
        meta = stream_metadata(entry)
        if wanted is not None:
            on = name in wanted
        else:
            on = bool(meta.get("selected-by-default", True)) or name in HISTORY_TABLES
        for item in entry.get("metadata", []):
            if item.get("breadcrumb") == []:
                item.setdefault("metadata", {})["selected"] = on
        if on:
            chosen.append(name)
    return chosen


# Output analysis -------------------------------------------------------------------------


def _baseline_seconds(chunk: list[str]) -> float:
    """CPU to json.loads + json.dumps these records: the least any tap must spend. The
    median of three passes: one pass varies by a fifth from run to run."""
    passes = []
    for _ in range(3):
        start = time.process_time()
        for text in chunk:
            json.dumps(json.loads(text))
        passes.append(time.process_time() - start)
    return sorted(passes)[1]


def read_output(path: Path) -> tuple[Counter[str], float, int]:
    """Records per stream in a Singer output file, the baseline CPU for them, and how many
    lines were not JSON (py-spy prints its own lines to stdout; the tap must print none)."""
    counts: Counter[str] = Counter()
    baseline = 0.0
    chunk: list[str] = []
    stray = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.startswith(b"{"):
                stray += 1
                continue
            message = json.loads(line)
            if message.get("type") != "RECORD":
                continue
            counts[message["stream"]] += 1
            chunk.append(json.dumps(message["record"]))
            if len(chunk) >= BASELINE_CHUNK:
                baseline += _baseline_seconds(chunk)
                chunk.clear()
    baseline += _baseline_seconds(chunk)
    return counts, baseline, stray


def rate_limit_floor(requests: dict[str, int], limits: dict[str, int], window: float) -> float:
    """Σ over endpoints of requests ÷ limit, in windows, as seconds (the issue's floor)."""
    return sum(count / limits[key] for key, count in requests.items()) * window


def largest_budget(
    requests: dict[str, int], limits: dict[str, int], window: float
) -> tuple[float, str]:
    """The busiest single endpoint's requests ÷ limit, in windows, as seconds: what a client
    reading every endpoint at once cannot beat."""
    key = max(requests, key=lambda k: requests[k] / limits[k], default="")
    return (requests[key] / limits[key] * window if key else 0.0), key


def paced_floor(requests: dict[str, int], limits: dict[str, int], window: float) -> float:
    """Least a one-request-at-a-time client waits: the first `limit` sends are free."""
    return sum(max(0, -(-count // limits[key]) - 1) for key, count in requests.items()) * window


# One size -----------------------------------------------------------------------------------


@dataclass
class Options:
    python: str
    module: str
    window: float
    latency: float
    extra_config: dict[str, Any]
    streams: set[str] | None
    modes: list[str]
    workdir: Path
    py_spy: str | None
    keep_output: bool


def tap_argv(opts: Options, *args: str) -> list[str]:
    return [opts.python, "-m", opts.module, *args]


def startup_cpu(opts: Options) -> float:
    """CPU of starting the tap (interpreter, imports) without syncing anything."""
    runs = [
        run_process(tap_argv(opts, "--about", "--format", "json"), subprocess.DEVNULL, sys.stderr)
        for _ in range(3)
    ]
    return min(run.cpu for run in runs)


def _six_months_ago() -> str:
    start = datetime.now(UTC) - timedelta(days=183)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def bench_size(n: int, opts: Options, startup: float) -> list[SizeResult]:
    """Discover once, then sync once per mode on the same fake tenant."""
    workdir = opts.workdir / f"n{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    fake = FakeProcess(n, opts.window, opts.latency)
    results: list[SizeResult] = []
    try:
        base = {
            "service_user_id": SERVICE_USER_ID,
            "service_user_token": SERVICE_USER_TOKEN,
            "api_url": fake.url,
            "rate_limit_window_seconds": opts.window,
            # Fixed, so every mode reads the same time-off windows (the default start is
            # relative to the run's own start, and the modes run minutes apart).
            "start_date": _six_months_ago(),
            **opts.extra_config,
        }
        discovery = SizeResult(employees=n, streams=[], startup_cpu=startup)
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(base))
        if not _discover(opts, config_path, workdir, fake, discovery):
            return [discovery]
        for mode in opts.modes:
            # Let every endpoint's window reset, so each mode starts with full budgets.
            time.sleep(opts.window + 1)
            fake.stats()
            result = SizeResult(
                employees=n, streams=discovery.streams, mode=mode, startup_cpu=startup
            )
            result.discovery_requests = discovery.discovery_requests
            result.discovery_wall = discovery.discovery_wall
            mode_path = workdir / f"config-{mode}.json"
            mode_path.write_text(json.dumps({**base, **MODES[mode]}))
            _sync(opts, mode_path, workdir, fake, result)
            results.append(result)
    finally:
        cpu = fake.stop()
        for result in results:
            result.fake_cpu = cpu / max(1, len(results))
    return results


def _discover(
    opts: Options, config_path: Path, workdir: Path, fake: FakeProcess, result: SizeResult
) -> bool:
    catalog_path = workdir / "catalog.json"
    with catalog_path.open("w") as out, (workdir / "discover.log").open("w") as err:
        done = run_process(tap_argv(opts, "--config", str(config_path), "--discover"), out, err)
    result.discovery_requests = fake.stats()["requests"]
    result.discovery_wall = done.wall
    if done.returncode:
        result.returncode = done.returncode
        result.error = "discovery failed: " + _tail(workdir / "discover.log")
        return False
    catalog = json.loads(catalog_path.read_text())
    result.streams = select_streams(catalog, opts.streams)
    catalog_path.write_text(json.dumps(catalog))
    return True


def _sync(
    opts: Options, config_path: Path, workdir: Path, fake: FakeProcess, result: SizeResult
) -> None:
    output = workdir / f"output-{result.mode}.jsonl"
    argv = tap_argv(opts, "--config", str(config_path), "--catalog", str(workdir / "catalog.json"))
    spy_path = workdir / f"py-spy-{result.mode}.txt"
    if opts.py_spy:
        argv = [opts.py_spy, "record", "-r", "200", "-f", "raw", "-o", str(spy_path), "--", *argv]
    log = workdir / f"sync-{result.mode}.log"
    with output.open("wb") as out, log.open("w") as err:
        done = run_process(argv, out, err)
    stats = fake.stats()
    result.returncode = done.returncode
    if done.returncode:
        result.error = "sync failed: " + _tail(log)
    spooled = _SPOOLED.search(log.read_text(errors="replace"))
    result.spool_mb = float(spooled.group(2)) if spooled else 0.0
    result.requests = stats["requests"]
    result.limits = stats["limits"]
    result.throttled = stats["throttled"]
    result.statuses = stats["statuses"]
    result.wall, result.tap_cpu, result.max_rss_mb = done.wall, done.cpu, done.max_rss_mb
    result.floor = rate_limit_floor(result.requests, result.limits, opts.window)
    result.paced_floor = paced_floor(result.requests, result.limits, opts.window)
    result.largest, result.largest_endpoint = largest_budget(
        result.requests, result.limits, opts.window
    )
    result.output_mb = output.stat().st_size / 2**20
    counts, result.baseline_cpu, stray = read_output(output)
    if stray and not opts.py_spy:
        result.error += f" {stray} line(s) of the tap's stdout are not Singer JSON"
    result.records = dict(sorted(counts.items()))
    if opts.py_spy and spy_path.exists():
        result.profile_top = profile.summary(spy_path)
    if not opts.keep_output:
        output.unlink()


def _tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


# Reporting --------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def print_size(r: SizeResult, opts: Options) -> None:
    print(f"\n== N = {r.employees:,} employees, {r.mode} ==")
    if r.error:
        print(f"!! {r.error}")
    disc = sum(r.discovery_requests.values())
    print(f"discovery: {disc} requests, {r.discovery_wall:.1f} s wall (not in the figures below)")
    print(f"{'endpoint':<44}{'requests':>9}{'limit':>7}{'429s':>6}{'windows':>9}")
    for key in sorted(r.requests):
        count, limit = r.requests[key], r.limits[key]
        print(f"{key:<44}{count:>9}{limit:>7}{r.throttled.get(key, 0):>6}{count / limit:>9.2f}")
    throttled = sum(r.throttled.values())
    print(f"{'total':<44}{r.total_requests:>9}{'':>7}{throttled:>6}")
    if r.mode == "concurrent":
        goal = (
            f"wall/largest {r.wall_over_largest:.2f} (goal ≤ {GOAL_WALL_OVER_LARGEST}) "
            f"{_mark(r.wall_over_largest <= GOAL_WALL_OVER_LARGEST)}"
        )
    else:
        goal = (
            f"wall/Σ {r.wall_over_floor:.2f} (goal ≤ {GOAL_WALL_OVER_FLOOR}) "
            f"{_mark(r.wall_over_floor <= GOAL_WALL_OVER_FLOOR)}"
        )
    print(
        f"Σ endpoint budgets {r.floor:.1f} s | largest single budget {r.largest:.1f} s "
        f"({r.largest_endpoint}) | wall {r.wall:.1f} s | {goal} | 429s {throttled} "
        f"{_mark(throttled == 0)}"
    )
    print(f"{'stream':<44}{'records':>10}")
    for name in r.streams:
        print(f"{name:<44}{r.records.get(name, 0):>10,}")
    print(f"{'total':<44}{r.total_records:>10,}")
    base = r.per_1k(r.baseline_cpu)
    print(
        f"CPU: tap {r.tap_cpu:.1f} s, less {r.startup_cpu:.2f} s startup = "
        f"{r.tap_cpu_per_1k:.3f} s per 1k records; baseline loads+dumps {base:.3f} s per 1k "
        f"→ {r.cpu_over_baseline:.1f}x (goal ≤ {GOAL_CPU_OVER_BASELINE:g}x) "
        f"{_mark(r.cpu_over_baseline <= GOAL_CPU_OVER_BASELINE)}"
    )
    rss_ok = r.max_rss_mb < GOAL_RSS_MB_AT_20K
    print(
        f"peak RSS {r.max_rss_mb:.0f} MB (goal < {GOAL_RSS_MB_AT_20K} MB at 20k) "
        f"{_mark(rss_ok)} | spooled {r.spool_mb:.1f} MB | Singer output {r.output_mb:.0f} MB"
    )
    if r.profile_top:
        print("py-spy (share of CPU samples):")
        for line in r.profile_top:
            print("  " + line)


def _speedup(r: SizeResult, results: list[SizeResult]) -> str:
    sequential = next(
        (x for x in results if x.employees == r.employees and x.mode == "sequential"), None
    )
    if sequential is None or r.mode == "sequential" or not r.wall:
        return ""
    return f"{sequential.wall / r.wall:.1f}x"


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(results: list[SizeResult], opts: Options, info: dict[str, Any], cmd: str) -> str:
    """The tables of docs/performance.md."""
    lines = [
        "| N employees | mode | requests | 429s | Σ budgets (s) | largest budget (s) "
        "| wall (s) | wall ÷ Σ | wall ÷ largest | speed-up | records | tap CPU s/1k rec "
        "| tap ÷ baseline | peak RSS (MB) | spooled (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.employees:,} | {r.mode} | {r.total_requests:,} | {sum(r.throttled.values())} "
            f"| {r.floor:.1f} | {r.largest:.1f} | {r.wall:.1f} | {r.wall_over_floor:.2f} "
            f"| {r.wall_over_largest:.2f} | {_speedup(r, results)} | {r.total_records:,} "
            f"| {r.tap_cpu_per_1k:.3f} | {r.cpu_over_baseline:.1f}x "
            f"| {r.max_rss_mb:.0f} | {r.spool_mb:.1f} |"
        )
    scale = HIBOB_WINDOW / opts.window
    lines += [
        "",
        f"At HiBob's {HIBOB_WINDOW:g}-second windows the waiting scales by {scale:g} "
        "(the work between requests does not): the least a sync can take is the Σ of the "
        "endpoint budgets one stream after another, and the largest single budget when every "
        "endpoint is read at once.",
        "",
        "| N employees | sequential floor at 60 s (min) | concurrent floor at 60 s (min) |",
        "|---:|---:|---:|",
    ]
    for n in dict.fromkeys(r.employees for r in results):
        rows = [r for r in results if r.employees == n]
        floor = max(r.floor for r in rows) * scale / 60
        largest = max(r.largest for r in rows) * scale / 60
        lines.append(f"| {n:,} | {floor:.1f} | {largest:.1f} |")
    keys = sorted({k for r in results for k in r.requests})
    columns = [r for r in results if r.mode == results[-1].mode]
    lines += ["", f"Requests per endpoint ({columns[0].mode if columns else ''} runs):", ""]
    lines.append("| endpoint | limit | " + " | ".join(f"N={r.employees:,}" for r in columns) + " |")
    lines.append("|---|---:|" + "---:|" * len(columns))
    for key in keys:
        limit = next(r.limits[key] for r in results if key in r.limits)
        row = " | ".join(str(r.requests.get(key, 0)) for r in columns)
        lines.append(f"| `{key}` | {limit} | {row} |")
    streams = sorted({s for r in results for s in r.streams})
    lines += ["", "Records per stream:", ""]
    lines.append("| stream | " + " | ".join(f"N={r.employees:,}" for r in columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    for name in streams:
        row = " | ".join(f"{r.records.get(name, 0):,}" for r in columns)
        lines.append(f"| `{name}` | {row} |")
    errors = [f"- N={r.employees:,} {r.mode}: {r.error}" for r in results if r.error]
    lines += ["", *errors] if errors else []
    lines += [
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, "
        f"{info['os']}, Python {info['python']}; load average {info['load_average_start']} "
        f"at start, {info.get('load_average_end')} at end (other work shared the machine). "
        f"Rate-limit window {opts.window:g} s on both sides (HiBob's is 60 s), fake latency "
        f"{opts.latency * 1000:g} ms per request, tap module `{opts.module}`, tap startup "
        f"{results[0].startup_cpu if results else 0:.2f} s CPU (left out of the per-1k "
        "figures). Σ budgets = Σ over endpoints of requests ÷ limit windows; largest "
        "budget = the same for the busiest endpoint alone.",
        "",
        f"Command: `{cmd}`",
    ]
    return "\n".join(lines) + "\n"


# Entry point ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,5000,20000", help="employee counts")
    parser.add_argument("--window", type=float, default=10.0, help="rate-limit window (s)")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="fake HiBob delay per request (s)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the tap")
    parser.add_argument("--streams", help="comma-separated streams instead of the default set")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="extra tap setting, e.g. --set people_batch_size=500",
    )
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const="py-spy",
        help="profile the sync with py-spy (path to the binary; CPU figures then include it)",
    )
    parser.add_argument(
        "--modes", default="sequential,concurrent", help="read modes to compare, in order"
    )
    parser.add_argument("--results", default="benchmarks/results", help="results file stem")
    parser.add_argument("--workdir", help="keep catalogs, logs and profiles here")
    parser.add_argument("--keep-output", action="store_true", help="keep Singer output files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = json.loads(value)
    py_spy = None
    if args.py_spy:
        py_spy = shutil.which(args.py_spy) or shutil.which(
            "py-spy", path=str(Path(args.python).parent)
        )
        if not py_spy:
            sys.exit(f"py-spy not found ({args.py_spy}); install it in a throwaway venv")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tap-hibob-bench-"))
    opts = Options(
        python=args.python,
        module="tap_hibob",
        window=args.window,
        latency=args.latency,
        extra_config=extra,
        streams=set(args.streams.split(",")) if args.streams else None,
        modes=[m for m in args.modes.split(",") if m],
        workdir=workdir,
        py_spy=py_spy,
        keep_output=args.keep_output,
    )
    info = machine()
    print(f"machine: {info}")
    print(f"workdir: {workdir}")
    startup = startup_cpu(opts)
    results: list[SizeResult] = []
    for size in (int(s.replace("_", "")) for s in args.sizes.split(",")):
        for result in bench_size(size, opts, startup):
            print_size(result, opts)
            results.append(result)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    cmd = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown(results, opts, info, cmd)
    print("\n" + table)
    if args.results != "-":
        stem = ROOT / args.results
        stem.with_suffix(".md").write_text(table)
        payload = {"machine": info, "options": vars(args), "results": [asdict(r) for r in results]}
        stem.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {stem.with_suffix('.md')} and {stem.with_suffix('.json')}")
    if any(r.returncode for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
