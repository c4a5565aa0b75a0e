"""A real, throw-away PostgreSQL server for the tests.

The server runs from Debian's postgresql package (`initdb` and `pg_ctl` under
/usr/lib/postgresql/*/bin; `make test` installs it when missing). Its data folder and unix
socket live in a fresh temporary folder; it listens on 127.0.0.1 on a free port, without
durability (fsync off: it is thrown away). PostgreSQL refuses to run as root, so as root it
runs as the `postgres` user (the package creates it) through `runuser`.

Each test gets its own database, copied from a template database that was migrated once,
and dropped after the test.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMPLATE = "rempart_template"
USER = "rempart"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started (the message says why and how to fix it)."""


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), or initdb on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        # /tmp, not $TMPDIR: the `postgres` user must reach the folder, and a unix socket's
        # path must stay short (107 bytes)
        self.root = Path(tempfile.mkdtemp(prefix="rempart-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.port = _free_port()
        self._counter = itertools.count(1)
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root and there is no `postgres` user to run the server as"
                ) from exc
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.root.chmod(0o755)

    def _run(self, *args: str) -> None:
        proc = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, check=False, cwd=self.root
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(args[:2])} failed ({proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=32MB -c TimeZone=UTC"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
        except PostgresUnavailable:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)  # type: ignore[arg-type,unused-ignore]

    def make_template(self) -> None:
        """A database migrated to the newest schema, copied for each test."""
        from rempart.store.db import Database

        self.admin(f"CREATE DATABASE {TEMPLATE}")
        db = Database(self.url(TEMPLATE))
        db.dispose()

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database at the newest schema for one test; dropped afterwards."""
        name = f"t{os.getpid()}_{next(self._counter)}"
        for attempt in range(20):  # the template is busy while another copy is made
            try:
                self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
                break
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.1)
        try:
            yield self.url(name)
        finally:
            self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_server() -> PostgresServer:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run "
            "`make test` (it installs Debian's postgresql package) or "
            "`apt-get install -y postgresql`"
        )
    server = PostgresServer(bin_dir)
    try:
        server.start()
        server.make_template()
    except BaseException:
        server.stop()
        raise
    return server


_SERVERS: list[PostgresServer | BaseException] = []


def session_server() -> PostgresServer:
    """The session's server, started on first use (PostgresUnavailable if it cannot)."""
    if not _SERVERS:
        try:
            _SERVERS.append(start_server())
        except PostgresUnavailable as exc:
            _SERVERS.append(exc)
    server = _SERVERS[0]
    if isinstance(server, BaseException):
        raise PostgresUnavailable(str(server))
    return server


def stop_session_server() -> None:
    for server in _SERVERS:
        if isinstance(server, PostgresServer):
            server.stop()
    _SERVERS.clear()


def execute(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one SQL statement on the test's database, whichever it is (to tamper with it,
    or look inside it, as an attacker or a check would); returns the rows, if any."""
    from sqlalchemy import create_engine, text

    from rempart.store.db import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as c:
            result = c.execute(text(statement))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def database_bytes(url: str) -> bytes:
    """Every byte of the database as stored on disk: the SQLite file (and its write-ahead
    log), or every table and index file of the PostgreSQL database (not its write-ahead
    log, see docs/postgresql.md)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = Path(str(parsed.database))
        return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    server = session_server()
    execute(url, "CHECKPOINT")  # write every page to its file first: else still in memory
    rows = execute(
        url,
        "SELECT pg_relation_filepath(oid) FROM pg_class "
        "WHERE relkind IN ('r', 'i', 't', 'm') AND relfilenode <> 0",
    )
    blob = b""
    for (rel,) in rows:
        for f in glob.glob(str(server.data / str(rel)) + "*"):
            blob += Path(f).read_bytes()
    return blob
