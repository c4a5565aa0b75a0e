"""The test PostgreSQL server: missing PostgreSQL is an error with the fix, never a skip."""

from __future__ import annotations

import pytest

from tests import postgres


def test_missing_postgresql_is_an_error_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_bin_dir", lambda: None)
    with pytest.raises(postgres.PostgresUnavailable, match="apt-get install -y postgresql"):
        postgres.start_server()


def test_the_session_server_is_real(postgres_server: postgres.PostgresServer) -> None:
    with postgres_server.database() as url:
        (version,) = postgres.execute(url, "show server_version")[0]
        assert int(str(version).split(".")[0]) >= 12
        assert postgres.execute(url, "show fsync") == [("off",)]  # thrown away: no durability


def test_processes_opening_a_new_database_at_once_migrate_it_once(
    postgres_server: postgres.PostgresServer,
) -> None:
    """Four processes (machines, API workers) open one new PostgreSQL database together:
    the advisory lock makes them migrate it one after the other; all end at the head."""
    import subprocess
    import sys

    postgres_server.admin("CREATE DATABASE racing")
    try:
        url = postgres_server.url("racing")
        code = (
            "import sys; from rempart.store.db import Database; "
            "print(Database(sys.argv[1]).instance_id())"
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _, err in results]
        assert len({out.strip() for out, _ in results}) == 1  # one instance id
        assert len(postgres.execute(url, "select version_num from alembic_version")) == 1
    finally:
        postgres_server.admin("DROP DATABASE IF EXISTS racing WITH (FORCE)")
