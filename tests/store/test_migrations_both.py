"""Migrations and the database layer on both SQLite and a real PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from rempart.cli import app
from rempart.config import load_settings
from rempart.store import repository
from rempart.store.db import Database, alembic_config, normalise_url
from tests.postgres import PostgresServer

pytestmark = pytest.mark.both_databases
_names = itertools.count(1)


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with no schema at all (not copied from the migrated template)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"empty_{next(_names)}"
    server.admin(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migrations_create_every_table_and_run_down_and_up_again(empty_db_url: str) -> None:
    db = Database(empty_db_url)
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
        "audit_log",
        "notices",
        "withdrawals",
        "face_templates",
        "alembic_version",
    } <= tables
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    with db.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == head
    db.dispose()
    # every downgrade runs, then every upgrade again
    cfg = alembic_config(normalise_url(empty_db_url))
    engine = create_engine(normalise_url(empty_db_url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    db = Database(empty_db_url)
    with db.session() as s:
        repository.create_bank(s, "again")
        assert [b.name for b in repository.list_banks(s)] == ["again"]
    db.dispose()


def test_a_database_at_the_first_schema_is_upgraded_in_place(empty_db_url: str) -> None:
    url = normalise_url(empty_db_url)
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
        conn.execute(
            text(
                "insert into cases (number, status, created_at, updated_at) "
                "values ('C-OLD', 'open', '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()
    db = Database(empty_db_url)
    with db.session() as s:
        assert [b.name for b in repository.list_banks(s)] == ["old"]
        assert repository.get_case(s, "C-OLD") is not None
    cols = {c["name"] for c in inspect(db.engine).get_columns("matches")}
    assert {"details", "possible_minor", "reviewed_by"} <= cols
    db.dispose()


def test_many_threads_open_a_new_database_at_once(empty_db_url: str) -> None:
    """Migrations and the instance id, from 8 threads opening one new database: one
    schema, one id."""

    def open_one(_: int) -> str:
        db = Database(empty_db_url)
        try:
            return db.instance_id()
        finally:
            db.dispose()

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(open_one, range(8)))
    assert len(ids) == 1


def test_transaction_rolls_back_on_error(db_url: str) -> None:
    db = Database(db_url)
    with pytest.raises(RuntimeError):
        with db.session() as s:
            repository.create_bank(s, "half")
            raise RuntimeError("boom")
    with db.session() as s:
        assert repository.list_banks(s) == []
    db.dispose()


def test_the_cli_runs_on_the_url_in_rempart_db(rempart_env: Path, db_url: str) -> None:
    """REMPART_DB=postgresql://... (the plain form) works: it means psycopg 3."""
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    runner = CliRunner()
    result = runner.invoke(app, ["bank", "create", "pg-bank"], env={"REMPART_DB": plain})
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["bank", "list", "--format", "json"], env={"REMPART_DB": plain})
    assert result.exit_code == 0 and "pg-bank" in result.output
    assert load_settings(db=plain).db_url == plain
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_long_inputs_are_refused_or_fitted_never_a_crash(rempart_env: Path, tmp_path: Path) -> None:
    """SQLite stores any length; PostgreSQL refuses text longer than its column: a long
    user name, consent signer or label must not crash a command there."""
    runner = CliRunner()
    env = {"REMPART_USER": "u" * 500, "COLUMNS": "200"}
    assert runner.invoke(app, ["bank", "create", "b"], env=env).exit_code == 0
    sub = tmp_path / "s.json"
    sub.write_text(
        '{"format": "rempart-hash-submission", "version": 1, "items": '
        '[{"pdq": "' + "ab" * 32 + '", "pdq_quality": 100}]}'
    )
    consent = tmp_path / "c.json"
    consent.write_text(
        '{"given_by": "' + "n" * 300 + '", "given_at": "2026-11-01", "purpose": "p"}'
    )
    args = ["bank", "import", "b", str(sub), "--case", "C-1", "--consent", str(consent)]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 1 and "longer than 200" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    consent.write_text('{"given_by": "n", "given_at": "2026-11-01", "purpose": "p"}')
    result = runner.invoke(app, [*args, "--label", "l" * 300], env=env)
    assert result.exit_code == 1 and "at most 200" in result.output
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["audit", "list", "--format", "json"], env=env)
    assert '"actor": "' + "u" * 200 + '"' in listed.output
