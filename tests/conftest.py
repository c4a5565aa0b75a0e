"""Shared fixtures: an isolated Rempart home and database per test, and sample media.

Tests (or modules) marked `both_databases` run twice: on SQLite and on a real PostgreSQL
server that the session starts (tests/postgres.py). A test obtains its database through
`db_url` (an SQLAlchemy URL) or `rempart_env` (which points REMPART_DB at it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import (
    PostgresServer,
    PostgresUnavailable,
    session_server,
    stop_session_server,
)

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run on SQLite and on PostgreSQL (a real server)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_databases"
    ):
        metafunc.parametrize("db_backend", BACKENDS, indirect=True)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """sqlite (or REMPART_TEST_BACKEND), unless the test is marked both_databases (then
    each in turn). REMPART_TEST_BACKEND=postgresql runs every test on PostgreSQL, to find
    what breaks there (tests that read SQLite's file directly fail then, as they should)."""
    return str(getattr(request, "param", os.environ.get("REMPART_TEST_BACKEND", "sqlite")))


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """One PostgreSQL server for the whole session, started on first use. If it cannot
    start, every PostgreSQL test fails with the reason (never a silent skip; a skip only
    when asked for with REMPART_SKIP_POSTGRES=1, and never in CI)."""
    if os.environ.get("REMPART_SKIP_POSTGRES") == "1" and not os.environ.get("CI"):
        pytest.skip("REMPART_SKIP_POSTGRES=1: PostgreSQL tests not run")
    try:
        return session_server()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL test server unavailable: {exc}", pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_session_server()
    for template in _TEMPLATE:
        shutil.rmtree(template.parent, ignore_errors=True)
    _TEMPLATE.clear()


_TEMPLATE: list[Path] = []


def migrated_sqlite_url(target: Path) -> str:
    """A private copy (mode 0600, as Rempart creates it) at `target` of an SQLite database
    migrated to the newest schema once per session; its SQLAlchemy URL. Alembic's run costs
    about a second of CPU and some forty fsyncs: `db_url` and the module worlds (tests/api,
    tests/web, tests/sync) copy this file instead, as the PostgreSQL tests copy their
    template database. Tests of the migrations themselves open an empty file of their own
    (their `empty_db_url`)."""
    if not _TEMPLATE:
        from rempart.store.db import Database

        folder = Path(tempfile.mkdtemp(prefix="rempart-template-"))
        path = folder / "rempart.db"
        Database(f"sqlite:///{path}").dispose()
        assert not path.with_name("rempart.db-wal").exists(), "the template's log not merged"
        _TEMPLATE.append(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE[0], target)
    target.chmod(0o600)
    return f"sqlite:///{target}"


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of the test's backend at the newest schema and with no data, as an
    SQLAlchemy URL (SQLite: a copy of the session's migrated file; PostgreSQL: a copy of the
    server's migrated template database)."""
    if db_backend == "sqlite":
        yield migrated_sqlite_url(tmp_path / "rempart.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield url


@pytest.fixture
def rempart_env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """REMPART_HOME and REMPART_DB pointing into a fresh temporary folder (or, on
    PostgreSQL, a fresh database)."""
    home = tmp_path / "home"
    monkeypatch.setenv("REMPART_HOME", str(home))
    monkeypatch.setenv("REMPART_DB", db_url)
    yield tmp_path


@pytest.fixture
def consent_file(tmp_path: Path) -> Path:
    path = tmp_path / "consent.json"
    path.write_text(
        '{"given_by": "Test Person", "given_at": "2026-11-01", '
        '"purpose": "find and remove copies of my images"}'
    )
    return path
