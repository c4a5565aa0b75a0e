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
