"""Shared fixtures: an isolated Rempart home and database per test, and sample media.

Tests (or modules) marked `both_databases` run twice: on SQLite and on a real PostgreSQL
server that the session starts (tests/postgres.py). A test obtains its database through
`db_url` (an SQLAlchemy URL) or `rempart_env` (which points REMPART_DB at it).

`make test` runs the files on several worker processes (pytest-xdist, `--dist loadfile`: a
file's tests, and its module fixtures, stay on one worker). Every session fixture is per
worker: its own PostgreSQL server, migrated SQLite template, temporary folders, free ports and
chromium. The workers take the files longest first, by the times in tests/durations.json
(a hint: a file not listed there is guessed from its number of tests), so that no long file
starts last; `--store-durations PATH` writes a run's times to refresh it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import (
    PostgresServer,
    PostgresUnavailable,
    session_server,
    stop_session_server,
)

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
BACKENDS = ("sqlite", "postgresql")


DURATIONS = Path(__file__).with_name("durations.json")
# A file missing from DURATIONS (a new one) is guessed at this many seconds per test.
GUESS_PER_TEST = 1.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        metavar="PATH",
        help="write each test file's time in seconds (setup, call and teardown of its tests) "
        "to PATH as JSON: tests/durations.json orders the files of a parallel run",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run on SQLite and on PostgreSQL (a real server)"
    )
    sent = getattr(config, "workerinput", {}).get("rempart_environ")
    if sent is not None:
        # An xdist worker has a thread of its own (execnet's): a process pool forked from it
        # can hang in a lock that thread held (the face scan's pool did). Pools start from a
        # forkserver there, as the scan already does after dlib's CNN has run.
        multiprocessing.set_start_method("forkserver", force=True)
        # Each pool's processes are forked from the forkserver: with the scan's hashing
        # module imported there once (as rempart.scan.hashing does for its own forkserver),
        # a pool process starts without its ~1.3 CPU-s of imports.
        multiprocessing.set_forkserver_preload(["rempart.scan.hashing"])
        # An xdist worker starts with COLUMNS=80 and LINES=24 set by readline (stdin is not a
        # terminal): rich would then print 80 columns where a test asks for more. The
        # controller's own values (usually none) again.
        for key, value in sent.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if getattr(config.option, "dist", "no") in ("loadfile", "loadscope"):
        # the files come longest first (pytest_collection_modifyitems): xdist must keep that
        # order, not put the files with the most tests first
        config.option.loadscopereorder = False


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, on the controller: what each worker's environment must match (see above)."""
    node.workerinput["rempart_environ"] = {k: os.environ.get(k) for k in ("COLUMNS", "LINES")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, the files longest first (within a file, the tests' own order): a
    long file started last would leave the other workers idle while it runs. Every worker
    computes the same order, as xdist requires."""
    if not hasattr(config, "workerinput"):
        return
    try:
        known = {str(k): float(v) for k, v in json.loads(DURATIONS.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        known = {}
    files: dict[str, list[pytest.Item]] = defaultdict(list)
    for item in items:
        files[item.nodeid.split("::", 1)[0]].append(item)
    order = sorted(files, key=lambda f: -known.get(f, GUESS_PER_TEST * len(files[f])))
    items[:] = [item for f in order for item in files[f]]


_FILE_SECONDS: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.duration:
        _FILE_SECONDS[report.nodeid.split("::", 1)[0]] += report.duration


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
    out = session.config.getoption("store_durations")
    if out and not hasattr(session.config, "workerinput") and _FILE_SECONDS:
        times = {f: round(t, 1) for f, t in sorted(_FILE_SECONDS.items())}
        Path(out).write_text(json.dumps(times, indent=0) + "\n")
    stop_session_server()
    _stop_forkserver()
    for template in _TEMPLATE:
        shutil.rmtree(template.parent, ignore_errors=True)
    _TEMPLATE.clear()


def _stop_forkserver() -> None:
    """Stop this process's forkserver, if one was started, and wait for it: the CPU time of
    the pool processes it forked then counts in this process's children (`/usr/bin/time
    make test` would otherwise miss it)."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)  # CPython's, used by its own tests
    if stop is not None:
        try:
            stop()
        except OSError:
            pass


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
