"""Opening the database: engine, migrations (Alembic) and sessions."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from rempart.store.models import Meta

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows (withdrawn hashes) are overwritten on disk, not left in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_MIGRATE_LOCK = threading.Lock()


@functools.cache
def _head_for(script_location: str) -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    return ScriptDirectory.from_config(cfg).get_current_head()


def _head_revision(cfg: Config) -> str | None:
    return _head_for(str(cfg.get_main_option("script_location")))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Database:
    """A migrated database and a session factory."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = create_engine(url)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            self.upgrade()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration. Alembic's runner is not thread-safe,
        so one thread at a time; an up-to-date database costs one query."""
        with _MIGRATE_LOCK:
            cfg = alembic_config(self.url)
            head = _head_revision(cfg)
            with self.engine.begin() as connection:
                try:
                    current = connection.exec_driver_sql(
                        "SELECT version_num FROM alembic_version"
                    ).scalar()
                except Exception:  # no table yet: a new database
                    current = None
            if current == head:
                return
            with self.engine.begin() as connection:
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def instance_id(self) -> str:
        """A stable random id of this database, used to name its index folder."""
        with self.session() as s:
            row = s.get(Meta, "instance_id")
            if row is None:
                row = Meta(key="instance_id", value=uuid.uuid4().hex)
                s.add(row)
            return row.value

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
        """Make deletions final on disk: SQLite's write-ahead log still holds old pages
        (with the deleted rows) until it is checkpointed and truncated."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as c:
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()
