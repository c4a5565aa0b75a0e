"""Opening the database: engine, migrations (Alembic) and sessions."""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rempart.store.light import MIGRATIONS as MIGRATIONS  # re-exported
from rempart.store.light import Query, Row
from rempart.store.light import quick_head as quick_head
from rempart.store.light import secure_file as secure_file
from rempart.store.light import warn_once as warn_once
from rempart.store.models import Meta

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("rempart")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows (withdrawn hashes) are overwritten on disk, not left in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_MIGRATE_LOCK = threading.Lock()
# PostgreSQL advisory lock key (any constant): migrations of one database by several
# processes at once run one after the other.
_PG_MIGRATE_LOCK_KEY = 0x52454D50  # "REMP"
# Tables holding a victim's data (hashes, templates): rewritten on PostgreSQL after a
# withdrawal, so the deleted rows leave the table files.
_PURGED_TABLES = ("item_signals", "bank_items", "submissions", "face_templates", "consents")


def normalise_url(url: str) -> str:
    """postgresql:// (and postgres://) mean PostgreSQL through psycopg 3, the driver Rempart
    ships; other URLs are kept as given."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@functools.cache
def _head_for(script_location: str) -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    return ScriptDirectory.from_config(cfg).get_current_head()


def _head_revision(cfg: Config) -> str | None:
    return _head_for(str(cfg.get_main_option("script_location")))


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Database:
    """A migrated database and a session factory."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        url = normalise_url(url)
        parsed = make_url(url)
        self.backend = parsed.get_backend_name()
        if self.backend == "sqlite" and parsed.database and parsed.database != ":memory:":
            secure_file(Path(parsed.database))
        self.url = url
        connect_args: dict[str, Any] = {}
        if self.backend == "postgresql":
            # Times are stored and read in UTC whatever the server's or client's zone.
            connect_args["options"] = "-c timezone=UTC"
        self.engine: Engine = create_engine(
            url, connect_args=connect_args, pool_pre_ping=self.backend == "postgresql"
        )
        if self.backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            self.upgrade()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration. Alembic's runner is not thread-safe,
        so one thread at a time; an up-to-date database costs one query."""
        with _MIGRATE_LOCK:
            current = self._current_revision()
            if current is not None and current == quick_head():
                return  # up to date: Alembic is not even imported
            cfg = alembic_config(self.url)
            head = _head_revision(cfg)
            if current == head:
                return
            from alembic import command

            with self.engine.begin() as connection:
                if self.backend == "postgresql":
                    # Another process may be migrating the same database: wait for it
                    # (the lock ends with this transaction); Alembic then sees its work.
                    connection.exec_driver_sql(
                        f"SELECT pg_advisory_xact_lock({_PG_MIGRATE_LOCK_KEY})"
                    )
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")

    def _current_revision(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                return connection.exec_driver_sql(
                    "SELECT version_num FROM alembic_version"
                ).scalar()
        except Exception:  # no table yet: a new database (the failed read is rolled back)
            return None

    def read(self, *queries: Query) -> list[list[Row]]:
        """Each query's rows (SQL text with `:name` parameters), all read in one
        transaction: a `rempart.store.light.Reader`, so the listings written as SQL text
        (`light.list_banks`, `rempart.cases.queue.queue`) run here too."""
        with self.engine.connect() as connection:
            return [
                [tuple(row) for row in connection.execute(text(sql), dict(params))]
                for sql, params in queries
            ]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def instance_id(self) -> str:
        """A stable random id of this database, used to name its index folder."""
        value = self.get_meta("instance_id")
        if value is not None:
            return value
        try:
            with self.session() as s:
                s.add(Meta(key="instance_id", value=uuid.uuid4().hex))
        except IntegrityError:  # another process or thread created it first: use theirs
            pass
        value = self.get_meta("instance_id")
        assert value is not None
        return value

    def get_meta(self, key: str) -> str | None:
        with self.session() as s:
            return s.scalar(select(Meta.value).where(Meta.key == key))

    def set_meta(self, key: str, value: str, session: Session | None = None) -> None:
        if session is None:
            with self.session() as s:
                self.set_meta(key, value, s)
            return
        row = session.get(Meta, key)
        if row is None:
            session.add(Meta(key=key, value=value))
        else:
            row.value = value

    def purge_deleted(self) -> None:
        """Make deletions final on disk. SQLite (secure_delete on) overwrites deleted rows,
        but its write-ahead log still holds old pages until it is checkpointed and
        truncated. PostgreSQL keeps deleted rows in the table files until they are
        vacuumed, and a plain VACUUM only marks their space free: VACUUM FULL rewrites the
        tables holding a victim's data into new files and removes the old ones, and the
        planner's statistics are recomputed and their catalog rewritten. (Its
        write-ahead log keeps the rows until its segments are recycled: see
        docs/postgresql.md.)"""
        if self.backend == "sqlite":
            with self.engine.connect() as c:
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif self.backend == "postgresql":
            tables = ", ".join(_PURGED_TABLES)
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM FULL " + tables)
                # The planner's statistics (pg_statistic, refreshed by autovacuum's ANALYZE)
                # keep sample values of columns, her hashes among them (bank entries, scanned
                # items, matches...): recompute every table's from what is left (a sample per
                # table: seconds, even on a large database), then rewrite the catalog
                # without the old rows. (A role that neither owns the database nor is a
                # superuser gets a warning, not an error, for the catalog.)
                # ANALYZE leaves an empty table's old statistics as they were: those rows are
                # deleted first (a superuser may; for another role they stay until the table
                # has rows again and is analysed: docs/postgresql.md)
                try:
                    c.exec_driver_sql(
                        "DELETE FROM pg_catalog.pg_statistic WHERE starelid IN ("
                        + ", ".join(f"'{t}'::regclass" for t in _PURGED_TABLES)
                        + ")"
                    )
                except DBAPIError:
                    pass
                c.exec_driver_sql("ANALYZE")
                c.exec_driver_sql("VACUUM FULL pg_catalog.pg_statistic")

    def dispose(self) -> None:
        self.engine.dispose()
