"""A throw-away PostgreSQL server for the warehouse tests, started by pytest itself.

`make test` installs Debian's `postgresql` package when it is missing and make runs as root
(scripts/ensure_postgresql.sh); this module only uses the binaries it finds under
/usr/lib/postgresql/*/bin (or pg_ctl on PATH). Per pytest session (per xdist worker that
needs one) it creates a cluster in a temporary directory, listening on 127.0.0.1 on a free
port only, and removes it in the fixture's finalizer, whether the tests passed or failed.

PostgreSQL refuses to run as root (`pg_ctl: cannot be run as root`). Running as root (CI,
a fresh machine), the cluster belongs to the `postgres` account the Debian package creates
(else `nobody`), and initdb/pg_ctl run through `runuser -u <account> --` (or `setpriv`);
its directory is owned by that account. As any other user it runs as that user.

Why not pytest-postgresql: its `postgresql_proc` factory (10.0) runs pg_ctl and initdb as
the pytest process's own user, with no option to switch the OS user (its issues #341 and
#455, "cannot be run as root", were closed without one), and CI runs as root. What is
needed here is small: one server, one database per test module or test.

Without a server (no binaries, a developer without root, a start that fails) the tests that
need it are skipped with a message saying how to get one; with CI=true they fail instead.
The cluster's time zone is deliberately not UTC (PG_TIMEZONE), so a loader that converts
timestamps to the session's zone is caught.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import in_ci

PREFIX = "tap-hibob-pg-"
SUPERUSER = "hibob_test"
# Not UTC on purpose, and without daylight saving so expected values are fixed: +05:30.
PG_TIMEZONE = "Asia/Kolkata"
HOW_TO_GET_IT = (
    "install PostgreSQL's server (Debian/Ubuntu: `sudo apt-get install postgresql`; "
    "`make test` run as root installs it), or point PG_BINDIR at a folder holding "
    "initdb and pg_ctl"
)


def unavailable(reason: str) -> None:
    """Skip a test that needs PostgreSQL, or fail it in CI, where the server must run."""
    message = f"PostgreSQL is not available: {reason}. To run these tests, {HOW_TO_GET_IT}."
    if in_ci():
        pytest.fail(message + " (CI=true: the Postgres tests must run, not skip)")
    pytest.skip(message)


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binaries: $PG_BINDIR, Debian's layout, then PATH."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).resolve().parent)
    for path in candidates:
        if (path / "pg_ctl").is_file() and (path / "initdb").is_file():
            return path
    return None


def _service_account() -> pwd.struct_passwd | None:
    """The account that owns the cluster when pytest runs as root."""
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


def _as_user(account: pwd.struct_passwd | None) -> list[str]:
    if account is None:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", account.pw_name, "--"]
    if shutil.which("setpriv"):
        return [
            "setpriv",
            f"--reuid={account.pw_uid}",
            f"--regid={account.pw_gid}",
            "--init-groups",
            "--",
        ]
    raise RuntimeError("running as root, but neither runuser nor setpriv is installed")


def temp_root() -> Path:
    """Where clusters live: the temp folder, if another account can reach into it."""
    root = Path(tempfile.gettempdir()).resolve()
    if os.geteuid() == 0 and any(
        not (folder.stat().st_mode & 0o001) for folder in (root, *root.parents)
    ):
        return Path("/tmp")  # e.g. TMPDIR=/root/tmp: the postgres account cannot enter it
    return root


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class PostgresServer:
    """One running cluster: connection facts and helpers."""

    bindir: Path
    base: Path
    port: int
    password: str
    account: pwd.struct_passwd | None
    host: str = "127.0.0.1"
    user: str = SUPERUSER

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def logfile(self) -> Path:
        return self.base / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(self.url(database), **kwargs)

    def create_database(self, name: str) -> str:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.logfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    # Life cycle -------------------------------------------------------------------------

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_as_user(self.account), *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.base,  # the account may not be able to enter the caller's directory
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )

    def initdb(self) -> None:
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        self._chown(pwfile)
        proc = self._run(
            str(self.bindir / "initdb"),
            "--pgdata",
            str(self.datadir),
            "--username",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        pwfile.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed ({proc.returncode}): {proc.stderr.strip()}")

    def start(self) -> None:
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-k {self.base}",  # the Unix socket stays in the cluster's own folder
                f"-c timezone={PG_TIMEZONE}",
                # A throw-away cluster: durability only costs time.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        proc = self._run(
            str(self.bindir / "pg_ctl"),
            "--pgdata",
            str(self.datadir),
            "--log",
            str(self.logfile),
            "--options",
            options,
            "--wait",
            "--timeout=60",
            "start",
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed ({proc.returncode}): {proc.stderr.strip()}\n{self.log_tail()}"
            )

    def stop(self) -> None:
        """Stop the server (immediate: nothing here needs a clean shutdown) and delete it."""
        if (self.datadir / "postmaster.pid").exists():
            proc = self._run(
                str(self.bindir / "pg_ctl"), "--pgdata", str(self.datadir), "-m", "immediate",
                "--wait", "stop",
            )  # fmt: skip
            if proc.returncode != 0:
                _kill_postmaster(self.datadir)
        shutil.rmtree(self.base, ignore_errors=True)

    def _chown(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)


def _kill_postmaster(datadir: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((datadir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)


def sweep_stale_clusters(bindir: Path) -> None:
    """Remove clusters left by a pytest that was killed before its finalizers ran."""
    for owner in temp_root().glob(f"{PREFIX}*/owner.pid"):
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if _pid_alive(pid):
            continue
        base = owner.parent
        datadir = base / "data"
        if (datadir / "postmaster.pid").exists():
            account = _service_account() if os.geteuid() == 0 else None
            stale = PostgresServer(bindir, base, 0, "", account)
            stale.stop()
        shutil.rmtree(base, ignore_errors=True)


def start_server() -> PostgresServer:
    """initdb and start a cluster; raises RuntimeError with the reason if it cannot."""
    bindir = find_bindir()
    if bindir is None:
        raise LookupError(
            "no initdb/pg_ctl found under /usr/lib/postgresql/*/bin, $PG_BINDIR or PATH"
        )
    sweep_stale_clusters(bindir)
    account = None
    if os.geteuid() == 0:
        account = _service_account()
        if account is None:
            raise RuntimeError("running as root and there is no postgres or nobody account")
    base = Path(tempfile.mkdtemp(prefix=PREFIX, dir=temp_root()))
    (base / "owner.pid").write_text(str(os.getpid()), encoding="utf-8")
    server = PostgresServer(bindir, base, 0, secrets.token_hex(16), account)
    try:
        if account is not None:
            os.chown(base, account.pw_uid, account.pw_gid)
        base.chmod(0o700)
        server.initdb()
        last_error: Exception | None = None
        for _ in range(3):  # a free port can be taken between probing and binding
            server.port = _free_port()
            try:
                server.start()
                return server
            except RuntimeError as error:
                last_error = error
                if "already in use" not in str(error):
                    break
        raise RuntimeError(str(last_error))
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this session (or xdist worker), removed at its end."""
    try:
        server = start_server()
    except (LookupError, RuntimeError, OSError, subprocess.SubprocessError) as error:
        unavailable(str(error))
        raise  # unreachable: unavailable() skips or fails
    try:
        yield server
    finally:
        server.stop()
