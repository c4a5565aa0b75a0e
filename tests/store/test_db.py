from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from rempart.store import repository
from rempart.store.db import Database, alembic_config


def test_migrations_create_every_table_in_a_real_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "rempart.db"
    db = Database(f"sqlite:///{path}")
    assert path.exists()
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "cases",
        "consents",
        "banks",
        "bank_items",
        "item_signals",
        "scan_runs",
        "scan_items",
        "matches",
        "meta",
        "alembic_version",
    } <= tables
    with db.engine.connect() as c:
        head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
        assert c.execute(text("select version_num from alembic_version")).scalar() == head
        assert c.execute(text("PRAGMA secure_delete")).scalar() == 1
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()
    # opening again runs no migration twice and keeps the data
    db2 = Database(f"sqlite:///{path}")
    with db2.session() as s:
        repository.create_bank(s, "b1")
    db3 = Database(f"sqlite:///{path}")
    with db3.session() as s:
        assert [b.name for b in repository.list_banks(s)] == ["b1"]


def test_instance_id_is_stable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert Database(url).instance_id() == Database(url).instance_id()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with db.session() as s:
            repository.create_bank(s, "half")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with db.session() as s:
        assert repository.list_banks(s) == []


def test_a_database_at_the_first_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    """A database made by the first release (schema 0001) opens: the later migrations run
    and its data stays."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "insert into banks (name, description, pdq_threshold, created_at) "
                "values ('old', '', 31, '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    db = Database(url)
    with db.session() as s:
        assert [b.name for b in repository.list_banks(s)] == ["old"]
    cols = {c["name"] for c in inspect(db.engine).get_columns("matches")}
    assert "details" in cols
