from pathlib import Path

from sqlalchemy import inspect, text

from rempart.store import repository
from rempart.store.db import Database


def test_migrations_create_every_table_in_a_real_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "rempart.db"
    db = Database(f"sqlite:///{path}")
    assert path.exists()
    tables = set(inspect(db.engine).get_table_names())
    assert {"cases", "consents", "banks", "bank_items", "item_signals", "scan_runs",
            "scan_items", "matches", "meta", "alembic_version"} <= tables  # fmt: skip
    with db.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == "0001"
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
