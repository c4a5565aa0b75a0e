"""State that many tests start from, built once per module or session and backend, copied per test.

Many case tests begin with the same dozen CLI commands (hash her photo, bank it, scan a chat
export, confirm the match) before the lines that check something; the commands cost more CPU
than the checks (tests/cases/test_notices.py, test_returns.py, test_notice_privacy.py,
test_evidence.py). A `Worlds` runs those commands once per module (or session: per xdist
worker) and database backend, in the same way as before (the same CLI commands, on the same
kind of database), and gives each test a copy of the result: nothing a test changes reaches
the next one.

How a copy is made, so that it is the same as if the test had run the commands itself:
- the folder the commands ran in (her photos, the export, REMPART_HOME with its keys, blobs and
  hash cache) is restored at the same path for every test that uses the world (the
  database holds absolute paths into it: a scanned file's path, a trusted source), after the
  previous test's folder is deleted;
- the database is a new one per test: on SQLite the built file and its write-ahead log copied
  byte for byte (what a check of the file's bytes reads is what the commands wrote) to the
  test's tmp_path, so its URL is the test's own and no engine cached in the process (tests/api's
  rate limits) reaches another test's file; on PostgreSQL `CREATE DATABASE ... TEMPLATE` of
  the built database on the session's server (its files hold what the commands wrote, as
  the template copy of tests/conftest.py's `db_url` does);
- REMPART_HOME and REMPART_DB point at them, as `rempart_env` does.
"""

from __future__ import annotations

import copy
import itertools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import TEMPLATE, PostgresServer

_names = itertools.count(1)


@dataclass
class Restored:
    """A test's copy: `path` is the folder (rempart_env's layout: home/ inside), `value`
    a copy of what the build returned (a match reference, ...)."""

    path: Path
    value: Any
    db_url: str


@dataclass
class _Built:
    snapshot: Path
    value: Any
    db: str  # SQLite: the built file's path; PostgreSQL: the built database's name


class Worlds:
    """`build(folder, consent_file)` run once per backend on first use (with REMPART_HOME
    and REMPART_DB set, as under `rempart_env`); `restore` gives each test its copy."""

    def __init__(self, root: Path, build: Callable[[Path, Path], Any]) -> None:
        self.root = root
        self.build = build
        self._built: dict[str, _Built] = {}
        self._servers: dict[str, PostgresServer] = {}

    def _live(self, backend: str) -> Path:
        return self.root / f"live-{backend}"

    def _consent(self) -> Path:
        path = self.root / "consent.json"  # as tests/conftest.py's consent_file
        if not path.exists():
            path.write_text(
                '{"given_by": "Test Person", "given_at": "2026-11-01", '
                '"purpose": "find and remove copies of my images"}'
            )
        return path

    def _make(self, backend: str, request: pytest.FixtureRequest) -> _Built:
        from tests.conftest import migrated_sqlite_url

        live = self._live(backend)
        live.mkdir(parents=True)
        if backend == "sqlite":
            path = self.root / f"built-{backend}.db"
            url = migrated_sqlite_url(path)
            db = str(path)
        else:
            server: PostgresServer = request.getfixturevalue("postgres_server")
            self._servers[backend] = server
            db = f"w{os.getpid()}_{next(_names)}"
            server.admin(f"CREATE DATABASE {db} TEMPLATE {TEMPLATE}")
            url = server.url(db)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REMPART_HOME", str(live / "home"))
            mp.setenv("REMPART_DB", url)
            value = self.build(live, self._consent())
        if backend != "sqlite":
            # a template must have no other session: end the ones the commands left open
            self._servers[backend].admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            )
        snapshot = self.root / f"snapshot-{backend}"
        shutil.copytree(live, snapshot, symlinks=True)
        if backend == "sqlite":  # its bytes now: a connection closed later would merge the log
            kept = self.root / f"snapshot-{backend}.db"
            for suffix in ("", "-wal"):
                if Path(db + suffix).exists():
                    shutil.copyfile(db + suffix, str(kept) + suffix)
            db = str(kept)
        return _Built(snapshot, value, db)

    def restore(
        self, backend: str, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Iterator[Restored]:
        built = self._built.get(backend)
        if built is None:
            built = self._built[backend] = self._make(backend, request)
        live = self._live(backend)
        shutil.rmtree(live, ignore_errors=True)
        shutil.copytree(built.snapshot, live, symlinks=True)
        name = ""
        if backend == "sqlite":
            target = tmp_path / "rempart.db"
            for suffix in ("", "-wal"):  # byte for byte, its log as the commands left it
                made = Path(built.db + suffix)
                if made.exists():
                    shutil.copyfile(made, str(target) + suffix)
                    Path(str(target) + suffix).chmod(0o600)  # as Rempart creates them
            url = f"sqlite:///{target}"
        else:
            server = self._servers[backend]
            name = f"t{os.getpid()}_w{next(_names)}"
            for attempt in range(20):  # a template is busy while another copy is made
                try:
                    server.admin(f"CREATE DATABASE {name} TEMPLATE {built.db}")
                    break
                except Exception:
                    if attempt == 19:
                        raise
                    time.sleep(0.1)
            url = server.url(name)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REMPART_HOME", str(live / "home"))
            mp.setenv("REMPART_DB", url)
            try:
                yield Restored(live, copy.deepcopy(built.value), url)
            finally:
                if name:
                    self._servers[backend].admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        for backend, built in self._built.items():
            if backend != "sqlite":
                try:
                    self._servers[backend].admin(f"DROP DATABASE IF EXISTS {built.db} WITH (FORCE)")
                except Exception:  # the session's server may be gone already
                    pass
        self._built.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def worlds_fixture(build: Callable[[Path, Path], Any], scope: str = "module") -> Any:
    """A fixture of `Worlds` for `build` (module- or session-scoped: built once per module,
    or once per session and xdist worker, for each backend): pair it with a function-scoped
    fixture that calls `restore` with the test's `db_backend` (see tests/cases/conftest.py)."""

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
        worlds = Worlds(tmp_path_factory.mktemp("world"), build)
        yield worlds
        worlds.close()

    return fixture
