"""Backups of a running instance, encrypted with a passphrase; restores that never bring a
withdrawal back.

Why: the state of an instance is the database and what lives beside it in REMPART_HOME (the
face-template key: lose it and every enrolled face is gone; the evidence signing key and the
former ones; the preserved-media key and the preserved media; the notice overrides), and a
naive restore of last week's copy would bring back what a person withdrew since. So:

- `backup` takes a consistent snapshot while the server runs (SQLite: the online backup
  API, into a private temporary file in the home folder, deleted after; PostgreSQL:
  `pg_dump` streamed, inside an exported snapshot so that the manifest's audit head and
  schema revision are those of the dump), with the keys, the notice overrides, the
  preserved media and the withdrawal ledger's key (never the ledger itself: a backup
  cannot roll it back), and a manifest (every member's size and SHA-256, the schema
  revision, the audit head, the instance id).
- The file (rempart.ops.container: the format, apart from what goes in it): a short plain
  header (format, scrypt parameters and salt, a passphrase check value), then records of
  at most CHUNK bytes, each sealed with AES-256-GCM under the scrypt-derived key, its
  number as nonce, the header's digest and a "last record" flag as associated data: a
  record changed, dropped, moved or cut off at the end is found; a large database is
  streamed through, never held in memory.
- `verify` decrypts and checks everything, restoring nothing; `restore` verifies first,
  then restores into an empty home and an empty database only, re-applies the withdrawal
  ledger (store/withdrawal_ledger.py) before returning, writes the audit head and checks
  the audit chain. Anything wrong (wrong passphrase, truncated or altered file, a newer
  schema, a home or database in use, a damaged ledger) is a SetupError/Refused naming it,
  raised before anything is changed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy.engine import make_url

from rempart import __version__
from rempart.config import Settings, ledger_path
from rempart.errors import InvalidInput, Refused, SetupError
from rempart.ops import container
from rempart.ops.container import (
    CHUNK,
    FORMAT,
    SCRYPT_N,
    VERSION,
    BackupError,
    Member,
    Progress,
)
from rempart.store import audit, withdrawal_ledger
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database, normalise_url

MIN_PASSPHRASE = 10
DB_SQLITE = "database.sqlite"
DB_PGDUMP = "database.pgdump"
LEDGER_KEY = "ledger.key"
FOLDERS = ("keys", "notices", "evidence", "c2pa-trust")  # what of REMPART_HOME a backup carries


@dataclass(frozen=True)
class Manifest:
    """What a backup holds (its last record)."""

    created_at: str
    rempart: str
    backend: str
    schema: str | None
    instance_id: str | None
    audit_count: int
    audit_head: str | None
    ledger_key: str | None
    members: list[Member] = field(default_factory=list)
    ledger_seen: int = 0  # withdrawals ledgered when the backup was made
    ledger_head: str | None = None

    @property
    def size(self) -> int:
        return sum(m.size for m in self.members)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "rempart": self.rempart,
            "backend": self.backend,
            "schema": self.schema,
            "instance_id": self.instance_id,
            "audit": {"count": self.audit_count, "head": self.audit_head},
            "ledger_key": self.ledger_key,
            "ledger_seen": {"count": self.ledger_seen, "head": self.ledger_head},
            "members": [m.__dict__ for m in self.members],
        }

    @classmethod
    def from_dict(cls, doc: Any, where: Path) -> Manifest:
        try:
            return cls(
                created_at=str(doc["created_at"]),
                rempart=str(doc["rempart"]),
                backend=str(doc["backend"]),
                schema=doc.get("schema"),
                instance_id=doc.get("instance_id"),
                audit_count=int(doc["audit"]["count"]),
                audit_head=doc["audit"].get("head"),
                ledger_key=doc.get("ledger_key"),
                ledger_seen=int((doc.get("ledger_seen") or {}).get("count", 0)),
                ledger_head=(doc.get("ledger_seen") or {}).get("head"),
                members=[
                    Member(str(m["name"]), int(m["size"]), str(m["sha256"])) for m in doc["members"]
                ],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"{where}: its manifest is malformed ({exc})") from exc


# -- making a backup ----------------------------------------------------------------------


def _home_files(home: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for folder in FOLDERS:
        root = home / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.endswith(".tmp"):
                found.append((path.relative_to(home).as_posix(), path))
    return found


@dataclass(frozen=True)
class _Facts:
    schema: str | None
    instance_id: str | None
    audit_count: int
    audit_head: str | None
    ledger_seen: int = 0  # withdrawals the database had ledgered (meta withdrawal_ledger)
    ledger_head: str | None = None


def _facts(rows: Callable[[str], list[tuple[Any, ...]]]) -> _Facts:
    schema = rows("SELECT version_num FROM alembic_version")
    instance = rows("SELECT value FROM meta WHERE key = 'instance_id'")
    last = rows("SELECT id, entry_hash FROM audit_log ORDER BY id DESC LIMIT 1")
    ledger = rows(f"SELECT value FROM meta WHERE key = '{withdrawal_ledger.META_KEY}'")
    try:
        seen = json.loads(ledger[0][0]) if ledger else {}
        seen_count, seen_head = int(seen.get("count", 0)), seen.get("head")
    except (ValueError, TypeError, AttributeError):
        seen_count, seen_head = 0, None
    return _Facts(
        schema[0][0] if schema else None,
        instance[0][0] if instance else None,
        int(last[0][0]) if last else 0,
        last[0][1] if last else None,
        seen_count,
        seen_head,
    )


def _sqlite_path(url: str) -> Path:
    return Path(str(make_url(url).database))


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for a database URL (the password never on a command line)."""
    u = make_url(normalise_url(url))
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", u.host),
        ("PGPORT", u.port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value is not None:
            env[name] = str(value)
    sslmode = u.query.get("sslmode")
    if sslmode is not None:
        env["PGSSLMODE"] = str(sslmode)
    return env


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: REMPART_PG_BIN, else on PATH, else Debian's newest."""
    folder = os.environ.get("REMPART_PG_BIN")
    if folder and (Path(folder) / name).exists():
        return str(Path(folder) / name)
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if candidates:
        return str(candidates[-1])
    raise SetupError(
        f"{name} is not installed (PostgreSQL's client tools: the postgresql-client package); "
        "or set REMPART_PG_BIN to the folder that holds it"
    )


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    bytes_written: int


def backup(
    settings: Settings,
    out: Path,
    passphrase: str,
    *,
    progress: Progress | None = None,
    scrypt_n: int = SCRYPT_N,
) -> BackupResult:
    """Write an encrypted backup of the instance to `out` (see the module's docstring).
    Refuses to overwrite a file, and a passphrase shorter than MIN_PASSPHRASE."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    if out.exists():
        raise Refused(f"{out} already exists: a backup never overwrites a file")
    home = settings.home
    db = Database(settings.db_url)  # migrated: the snapshot is at this Rempart's schema
    try:
        ledger_key = withdrawal_ledger.ensure(home)  # every backup carries the ledger key
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                sealer = container.Sealer(fh, passphrase, scrypt_n)
                writer = container.Writer(sealer, progress)
                if db.backend == "sqlite":
                    facts = _backup_sqlite(db, home, writer, progress)
                elif db.backend == "postgresql":
                    facts = _backup_postgres(db, writer)
                else:
                    raise SetupError(f"backups of a {db.backend} database are not supported")
                writer.add(LEDGER_KEY, [ledger_key])
                for name, path in _home_files(home):
                    writer.add(name, container.file_chunks(path), path.stat().st_size)
                manifest = Manifest(
                    created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    rempart=__version__,
                    backend=db.backend,
                    schema=facts.schema,
                    instance_id=facts.instance_id,
                    audit_count=facts.audit_count,
                    audit_head=facts.audit_head,
                    ledger_key=withdrawal_ledger.key_fingerprint(ledger_key),
                    members=writer.members,
                    ledger_seen=facts.ledger_seen,
                    ledger_head=facts.ledger_head,
                )
                writer.finish(manifest.as_dict())
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return BackupResult(out, manifest, out.stat().st_size)
    finally:
        db.dispose()


def _backup_sqlite(
    db: Database, home: Path, writer: container.Writer, progress: Progress | None
) -> _Facts:
    source = _sqlite_path(db.url)
    scratch = Path(tempfile.mkdtemp(prefix=".backup-", dir=home))  # 0700, in her home
    try:
        copy = scratch / "snapshot.db"
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(copy)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress:
                    progress("database snapshot", total - remaining, total)

            # One step, under one read transaction: consistent, and never restarted by the
            # server's writes (a step-by-step copy starts again after each foreign write).
            src.backup(dst, pages=-1, progress=step)
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it

            def rows(sql: str) -> list[tuple[Any, ...]]:
                try:
                    return list(dst.execute(sql))
                except sqlite3.Error:
                    return []

            facts = _facts(rows)
        finally:
            dst.close()
            src.close()
        writer.add(DB_SQLITE, container.file_chunks(copy), copy.stat().st_size)
        return facts
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _backup_postgres(db: Database, writer: container.Writer) -> _Facts:
    tool = pg_tool("pg_dump")
    with db.engine.connect() as c:
        c.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = c.exec_driver_sql("SELECT pg_export_snapshot()").scalar()

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in c.exec_driver_sql(sql)]

        facts = _facts(rows)
        proc = subprocess.Popen(
            [tool, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_pg_env(db.url),
        )
        pipe, problems = proc.stdout, proc.stderr
        assert pipe is not None and problems is not None
        try:
            writer.add(DB_PGDUMP, iter(lambda: pipe.read(CHUNK), b""))
        finally:
            pipe.close()
            errors = problems.read().decode("utf-8", "replace")
            code = proc.wait()
        c.exec_driver_sql("COMMIT")
    if code != 0:
        raise SetupError(f"pg_dump failed ({code}): {errors.strip()[:500]}")
    return facts


# -- reading one ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    path: Path
    manifest: Manifest


def _read(
    path: Path,
    passphrase: str,
    sink: Callable[[str], Callable[[bytes], Any] | None] | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Decrypt and check the whole backup; `sink(name)` gives where a member's bytes go."""
    doc = container.read(path, passphrase, check_name=_check_name, sink=sink, progress=progress)
    return Manifest.from_dict(doc, path)


def _check_name(name: str, where: Path) -> None:
    p = PurePosixPath(name)
    ok = name in (DB_SQLITE, DB_PGDUMP, LEDGER_KEY) or (
        not p.is_absolute()
        and ".." not in p.parts
        and len(p.parts) >= 2
        and p.parts[0] in FOLDERS
        and "\\" not in name
        and "\0" not in name
    )
    if not ok:
        raise BackupError(f"{where}: altered (a member named {name[:80]!r})")


def _known_schema(revision: str | None, where: Path) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from rempart.store.db import alembic_config

    if revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        known = script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"{where}: made at database schema {revision}, newer than this Rempart knows "
            f"({script.get_current_head()}): upgrade Rempart to the version that made it "
            "(or newer), then restore"
        )


def verify(path: Path, passphrase: str, *, progress: Progress | None = None) -> Verified:
    """Decrypt and check a backup without restoring anything: every record authenticates,
    nothing is missing at the end, every member matches the manifest, and this Rempart
    knows its schema."""
    manifest = _read(path, passphrase, progress=progress)
    _known_schema(manifest.schema, path)
    return Verified(path, manifest)


# -- restoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    files: int  # files put back in the home folder (keys, notices, preserved media)
    reapplied: withdrawal_ledger.Enforcement
    audit_entries: int
    audit_ok: bool
    audit_problems: list[str]


_DATA_FREE = {"alembic_version", "meta"}


def _database_in_use(url: str) -> str | None:
    """Why the database is not empty (None: it is, or it does not exist yet)."""
    from sqlalchemy import create_engine, inspect

    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return None
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            for table in inspect(c).get_table_names():
                if table in _DATA_FREE:
                    continue
                q = engine.dialect.identifier_preparer.quote(table)
                if c.exec_driver_sql(f"SELECT 1 FROM {q} LIMIT 1").first() is not None:
                    return f"its table {table} holds data"
    finally:
        engine.dispose()
    return None


def _home_in_use(home: Path, db_url: str) -> list[str]:
    allowed = {ledger_path(home), withdrawal_ledger.key_path(ledger_path(home))}
    if make_url(normalise_url(db_url)).get_backend_name() == "sqlite":
        db = _sqlite_path(db_url)
        allowed |= {db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")}
    if not home.exists():
        return []
    return sorted(
        p.name
        for p in home.iterdir()
        if p not in allowed and not (p.is_dir() and not any(p.iterdir()))
    )


def restore(
    settings: Settings,
    path: Path,
    passphrase: str,
    *,
    progress: Progress | None = None,
    ledger_lost: bool = False,
) -> RestoreResult:
    """Restore a backup into an empty home folder and an empty database (see the module's
    docstring). Nothing is changed when the backup does not verify, its schema is newer,
    the home or the database is in use, or the withdrawal ledger is damaged, or holds fewer
    withdrawals than the backed-up database had seen (unless `ledger_lost`: the operator
    says it is lost for good; audited)."""
    home, url = settings.home, normalise_url(settings.db_url)
    busy = _home_in_use(home, url)
    if busy:
        raise Refused(
            f"the home folder {home} is not empty ({', '.join(busy[:5])}): a restore never "
            "overwrites; restore into a new home (--home) or move this one away"
        )
    why = _database_in_use(url)
    if why:
        raise Refused(
            f"the database is not empty ({why}): a restore never overwrites; restore into "
            "a new, empty database"
        )
    backend = make_url(url).get_backend_name()
    lpath = ledger_path(home)
    if withdrawal_ledger.key_path(lpath).exists() or not lpath.exists():
        withdrawal_ledger.read(lpath)  # a damaged ledger stops the restore before any change

    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    # One pass: everything is decrypted and checked into a private staging folder, and
    # only a backup that verified in full is put in place.
    stage = Path(tempfile.mkdtemp(prefix=".restore-", dir=home))
    opened: dict[str, IO[bytes]] = {}

    def sink(name: str) -> Callable[[bytes], Any]:
        target = stage / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = target.open("wb")
        os.chmod(target, 0o600)
        opened[name] = fh
        return fh.write

    try:
        manifest = _read(path, passphrase, sink=sink, progress=progress)
        for fh in opened.values():
            fh.close()
        _known_schema(manifest.schema, path)
        if manifest.backend != backend:
            raise Refused(
                f"{path} holds a {manifest.backend} database; the target is {backend} "
                "(restore into the same kind of database)"
            )
        database = DB_SQLITE if backend == "sqlite" else DB_PGDUMP
        missing = [n for n in (database, LEDGER_KEY) if not (stage / n).is_file()]
        if missing:
            raise BackupError(f"{path}: incomplete (no {', '.join(missing)})")
        ledger_key = (stage / LEDGER_KEY).read_bytes()
        has_key = withdrawal_ledger.key_path(lpath).exists()
        ledger = (
            withdrawal_ledger.read(lpath)
            if has_key
            else withdrawal_ledger.check_key(lpath, ledger_key)  # the ledger opens with it
        )
        _check_ledger(manifest, ledger, lpath, ledger_lost)
        if not has_key:
            withdrawal_ledger.write_key(lpath, ledger_key)
        if backend == "sqlite":
            _restore_sqlite(stage / database, _sqlite_path(url))
        else:
            _restore_postgres(stage / database, url)
        files = 0
        for folder in FOLDERS:
            if (stage / folder).is_dir():
                files += sum(1 for p in (stage / folder).rglob("*") if p.is_file())
                (stage / folder).rename(home / folder)
                (home / folder).chmod(0o700)
    finally:
        for fh in opened.values():
            fh.close()
        shutil.rmtree(stage, ignore_errors=True)

    db = Database(url)  # migrates an older schema to this Rempart's
    try:
        index = BankIndex(db, home)
        if ledger_lost:
            withdrawal_ledger.accept_lost(index, home)
        reapplied = withdrawal_ledger.enforce(index, home, reason="restore", force=True)
        audit.write_head(db, home)
        verdict = audit.verify(db, home)
    finally:
        db.dispose()
    return RestoreResult(
        manifest, files, reapplied, verdict.entries, verdict.ok, list(verdict.problems)
    )


def _check_ledger(
    manifest: Manifest, ledger: withdrawal_ledger.Ledger | None, where: Path, lost: bool
) -> None:
    """Refused when the ledger cannot be the one the backed-up database had seen: shorter
    (truncated, an older copy, none) or another (its entry differs)."""
    have = len(ledger.entries) if ledger else 0
    seen, head = manifest.ledger_seen, manifest.ledger_head
    if lost or not seen:
        return
    if have < seen:
        problem = f"holds {have} withdrawal(s)" if ledger and where.exists() else "is missing"
    elif ledger is not None and ledger.entries[seen - 1]["mac"] != head:
        problem = "is another ledger (its entries differ)"
    else:
        return
    raise Refused(
        f"the backed-up database had ledgered {seen} withdrawal(s) but the withdrawal ledger "
        f"{where} {problem}: restoring without it could bring withdrawn data back. Point "
        "REMPART_LEDGER at the right ledger (and its .key); only if it is lost for good, "
        "restore with --ledger-lost (audited; withdrawals made after the backup cannot be "
        "re-applied then)"
    )


def _restore_sqlite(snapshot: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.chmod(snapshot, 0o600)
    shutil.move(str(snapshot), str(target))


def _restore_postgres(dump: Path, url: str) -> None:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:  # an empty schema made by opening the database: dropped, the dump brings its own
        with engine.begin() as c:
            prep = engine.dialect.identifier_preparer
            for table in inspect(c).get_table_names():
                c.exec_driver_sql(f"DROP TABLE IF EXISTS {prep.quote(table)} CASCADE")
    finally:
        engine.dispose()
    proc = subprocess.run(
        [
            pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={_pg_env(url)['PGDATABASE']}",
            str(dump),
        ],
        capture_output=True,
        text=True,
        env=_pg_env(url),
        check=False,
    )
    if proc.returncode != 0:
        raise SetupError(f"pg_restore failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
