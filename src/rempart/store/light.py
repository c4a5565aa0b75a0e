"""The light read path: listings that read the database without importing SQLAlchemy.

Why: importing SQLAlchemy and mapping the models costs about 0.35 s, more than everything
else `rempart bank list` or `rempart review list` does (issue 19: those commands must start
in under 0.5 s). A listing's query is written once, as SQL text with `:name` parameters,
in the domain function that owns it (`list_banks` here, `rempart.cases.queue.queue`), and
runs through a `Reader`:

- `SqliteReader`: Python's sqlite3 on a SQLite file that is already at the newest migration
  (`quick_reader`; the schema check reads the head from the migration files, `quick_head`,
  without importing Alembic). The connection is query-only.
- `rempart.store.db.Database` (SQLAlchemy): PostgreSQL, the API and the web UI, and any
  database that must be created or migrated first.

Both run the same text, so the CLI, the API and the web UI get the same rows; the values
SQLite keeps as text (JSON columns, times) are decoded here as SQLAlchemy would
(`json_value`, `timestamp`). tests/cli/test_light_listings.py compares the answers with
the ORM's on a populated database. This module also holds what opening a SQLite file needs
before SQLAlchemy (the file's mode check, `secure_file`); `rempart.store.db` re-exports it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("rempart")

# One query: its SQL text (`:name` parameters) and their values.
Query = tuple[str, Mapping[str, Any]]
Row = Sequence[Any]


class Reader(Protocol):
    """Runs SQL text and returns plain rows: `SqliteReader` or `rempart.store.db.Database`."""

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql": how JSON and times come back (`json_value`)."""
        ...

    def read(self, *queries: Query) -> list[list[Row]]:
        """Each query's rows, all read in one transaction (one snapshot of the data)."""
        ...


class SqliteReader:
    """A query-only sqlite3 connection to a SQLite database file."""

    backend = "sqlite"

    def __init__(self, path: Path | str) -> None:
        # isolation_level=None: transactions are begun here, explicitly (one per `read`);
        # timeout: as the SQLAlchemy engine's busy_timeout (a writer holds the lock).
        self.connection = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.connection.execute("PRAGMA query_only=ON")

    def read(self, *queries: Query) -> list[list[Row]]:
        c = self.connection
        c.execute("BEGIN")
        try:
            return [c.execute(sql, dict(params)).fetchall() for sql, params in queries]
        finally:
            c.execute("ROLLBACK")

    def close(self) -> None:
        self.connection.close()


def sqlite_path(url: str) -> str | None:
    """The file a plain SQLite URL names (`sqlite:///relative.db`, `sqlite:////abs.db`);
    None for anything else (PostgreSQL, memory, query options, escapes): those go through
    SQLAlchemy, which reads them fully."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if not path or path == ":memory:" or "?" in path or "%" in path:
                return None
            return path
    return None


def quick_reader(url: str) -> SqliteReader | None:
    """A `SqliteReader` when `url` names an existing SQLite file already at the newest
    migration; None otherwise (the caller opens the `Database`, which creates or migrates
    it, or connects to PostgreSQL)."""
    path = sqlite_path(url)
    if path is None or not os.path.isfile(path):
        return None
    secure_file(Path(path))  # the same warning as the Database gives
    head = quick_head()
    if head is None:
        return None
    try:
        reader = SqliteReader(path)
    except sqlite3.Error:
        return None
    try:
        rows = reader.read(("SELECT version_num FROM alembic_version", {}))[0]
    except sqlite3.Error:  # no such table: a new or foreign file
        rows = []
    if len(rows) != 1 or rows[0][0] != head:
        reader.close()
        return None
    return reader


def json_value(value: Any, backend: str) -> Any:
    """A JSON column's value as SQLAlchemy's JSON type gives it: SQLite keeps the text,
    PostgreSQL's driver decodes it already."""
    if backend == "sqlite" and isinstance(value, str | bytes):
        return json.loads(value)
    return value


def timestamp(value: Any) -> datetime | None:
    """A DateTime column's value as SQLAlchemy gives it: SQLite keeps text
    ("2026-12-02 04:25:49.123456", no zone, as SQLAlchemy writes it), PostgreSQL's driver
    gives a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# --- banks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankSummary:
    name: str
    description: str
    pdq_threshold: int
    items: int
    cases: int


BANKS_SQL = (
    "SELECT b.name, b.description, b.pdq_threshold, count(i.id), count(DISTINCT i.case_id)"
    " FROM banks b LEFT OUTER JOIN bank_items i ON i.bank_id = b.id"
    " GROUP BY b.id, b.name, b.description, b.pdq_threshold ORDER BY b.name"
)


def bank_summaries(rows: Sequence[Row]) -> list[BankSummary]:
    """BANKS_SQL's rows as summaries."""
    return [
        BankSummary(name, description, int(threshold), int(items), int(cases))
        for name, description, threshold, items, cases in rows
    ]


def list_banks(reader: Reader) -> list[BankSummary]:
    """Every bank with its entry and case counts, by name (`rempart bank list`)."""
    return bank_summaries(reader.read((BANKS_SQL, {}))[0])


# --- opening a SQLite file ---------------------------------------------------------------

_warned: set[str] = set()


def warn_once(path: Path, what: str, mode: int, fix: str) -> None:
    """One warning per path and process (stderr, through logging) that a file or folder
    holding a victim's data can be read by other users of the machine."""
    if str(path) in _warned:
        return
    _warned.add(str(path))
    log.warning(
        "%s %s is readable by other users of this machine (mode %o): it holds "
        "consent records with names and the hashes of a victim's images; "
        "fix: %s",
        what,
        path,
        mode,
        fix,
    )


def secure_file(path: Path) -> None:
    """The SQLite database file: its folder made 0700 and the file 0600 when they are new
    (SQLite gives its -wal and -shm files the database file's mode); a warning when
    existing ones are open to other users."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)  # the umask applied to mkdir's mode
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:  # another process made it first
            pass
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        warn_once(path, "the database file", mode, f"chmod 600 {path}")


# --- the schema's newest migration, without Alembic --------------------------------------

_REVISION = re.compile(
    r"^(down_)?revision(?:\s*:[^=\n]*)?\s*=\s*(None|\"([^\"]+)\"|'([^']+)')\s*$", re.MULTILINE
)


@functools.cache
def quick_head(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The newest migration, read from the migration files' `revision`/`down_revision`
    lines without importing Alembic (about 0.2 s of every command's start-up); None when a
    file does not read plainly (a merge, another form): Alembic decides then."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        if path.name.startswith("__"):
            continue
        found: dict[bool, str | None] = {}
        for m in _REVISION.finditer(path.read_text(encoding="utf-8")):
            found[bool(m.group(1))] = m.group(3) or m.group(4)
        if set(found) != {False, True} or found[False] is None:
            return None
        revisions.add(str(found[False]))
        if found[True] is not None:
            parents.add(str(found[True]))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
