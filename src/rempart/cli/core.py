"""The `rempart` command's frame: the Typer app and its groups, the per-run context (settings
and the databases opened), the one error handler, output helpers and progress bars.

Why here and alone (named `core`, not `app`: `rempart.cli.app` stays the Typer app itself,
as `from rempart.cli import app` has always given): every command module
(`rempart.cli.commands.*`) imports this module and nothing else of the command line, so no
command module imports another, none is imported late to dodge a cycle, and each can be
imported (and tested) on its own. A command refuses by raising a `RempartError`
(`fail(...)` for the command line's own refusals); the app's group prints its message and
exits with its `exit_code`, once for every command, so the domain's errors (StoreError,
FormatError, MediaError, SyncError...) need no `except` in the commands.

Exit codes: 0 done; 1 error (bad arguments, unreadable or malformed input file, refused
request); 2 usage error; 3 done, but some files were skipped (listed in the report).

Start-up: this module imports only what building the command line needs (Typer, rich,
light modules); the database, media, signals, index and scan modules are imported inside the
commands that use them (`rempart.lazy` for whole modules), so `rempart --help`, `bank list`
or `review list` do not pay for numpy, OpenCV, PyAV or dlib (bench/cli_startup_bench.py).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from rempart.cli.coercion import defer_coercion
from rempart.config import Settings, load_settings
from rempart.errors import RempartError
from rempart.lazy import lazy_module
from rempart.textsafe import safe

if TYPE_CHECKING:
    # imported by progress_bar() (start-up: rich.progress is not needed to list or help)
    from rich.progress import Progress, TaskID

    # Typer 0.29 carries its own copy of Click: its types, for the checker only
    from typer._click.core import Command, Context

    from rempart.store.bank_index import BankIndex
    from rempart.store.db import Database
    from rempart.store.light import Reader, SqliteReader

audit = lazy_module("rempart.store.audit")
# Typer builds its Pydantic coercion only for values that need it (start-up: coercion.py)
defer_coercion()

EXIT_SKIPPED = 3

err = Console(stderr=True)
out = Console()


class CliError(RempartError):
    """A refusal of the command line itself (a bad option value, a missing argument): printed
    as `error: MESSAGE` on stderr, exit code 1, like every RempartError."""


def fail(message: str) -> CliError:
    """The error to raise for a refusal of the command line (`raise fail("...")`)."""
    return CliError(message)


def report_error(exc: RempartError) -> int:
    """Print a RempartError as the command line always has; its exit code."""
    err.print(f"[bold red]error:[/] {safe(exc.message)}", highlight=False)
    return exc.exit_code


class _Commands(TyperGroup):
    """The top group. `rempart scan report SCAN_ID ...` runs the hidden `scan-report`
    command: `scan` takes paths, so its `report` is recognised here (when no file `report`
    is here to scan, or a scan number follows it). `rempart rooms report ...` runs
    `rooms-report` (`rooms` takes no argument, so its own options are unchanged). Every
    command runs inside `invoke`, so a RempartError from any of them is reported here,
    once."""

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if (
            len(args) >= 2
            and args[:2] == ["scan", "report"]
            and (not Path("report").exists() or (len(args) > 2 and args[2].isdigit()))
        ):
            command = self.get_command(ctx, "scan-report")
            if command is not None:
                return "scan report", command, args[2:]
        if args[:2] == ["rooms", "report"]:  # `rooms` takes no argument: its report
            command = self.get_command(ctx, "rooms-report")
            if command is not None:
                return "rooms report", command, args[2:]
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except RempartError as exc:
            raise typer.Exit(report_error(exc)) from exc


app = typer.Typer(
    cls=_Commands,
    help="Rempart: find, prove and remove non-consensual intimate images.",
    no_args_is_help=True,
    add_completion=False,
)
# The groups, in the order `rempart --help` lists them (commands register themselves in
# rempart.cli.commands.*).
bank_app = typer.Typer(help="Hash banks: create, list, import.", no_args_is_help=True)
case_app = typer.Typer(help="Cases: show, withdraw.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: list entries, verify the chain.", no_args_is_help=True)
face_app = typer.Typer(
    help="Face search: enroll a person's face (with her consent), list, export.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    help="Review matches: confirm, reject, or mark unsure.", no_args_is_help=True
)
evidence_app = typer.Typer(
    help="Evidence packages: export (signed ZIP) and verify.", no_args_is_help=True
)
trust_app = typer.Typer(
    help="Keys whose evidence packages are trusted (besides this instance's own).",
    no_args_is_help=True,
)
notice_app = typer.Typer(help="Takedown notices: create, track, re-send.", no_args_is_help=True)
apikey_app = typer.Typer(
    help="API keys for the HTTP API: create (shown once), list, revoke.", no_args_is_help=True
)
sync_app = typer.Typer(
    help="Sync with another Rempart instance over HTTP (docs/sync.md).", no_args_is_help=True
)
app.add_typer(bank_app, name="bank")
app.add_typer(case_app, name="case")
app.add_typer(audit_app, name="audit")
app.add_typer(face_app, name="face")
app.add_typer(review_app, name="review")
app.add_typer(evidence_app, name="evidence")
evidence_app.add_typer(trust_app, name="trust")
app.add_typer(notice_app, name="notice")
app.add_typer(apikey_app, name="apikey")
app.add_typer(sync_app, name="sync")
backup_app = typer.Typer(
    help="Backups (encrypted with a passphrase): make one (--out FILE), verify one; "
    "`rempart restore FILE` puts one back (docs/operations.md).",
    invoke_without_command=True,
)
keys_app = typer.Typer(
    help="Keys: status (what exists, fingerprints, permissions), rotate.", no_args_is_help=True
)
app.add_typer(backup_app, name="backup")
app.add_typer(keys_app, name="keys")
detector_app = typer.Typer(
    help="The optional learned detector (an ONNX model, off by default): check its config, "
    "measure its false-positive rate (docs/synthetic.md).",
    no_args_is_help=True,
)
app.add_typer(detector_app, name="detector")
c2pa_trust_app = typer.Typer(
    help="C2PA trust lists that signers are checked against: list, add, remove "
    "(docs/synthetic.md).",
    no_args_is_help=True,
)
app.add_typer(c2pa_trust_app, name="c2pa-trust")


@dataclass
class CliContext:
    """One run of the command: its settings and the databases it opened (their audit heads
    are written when the run ends, even a failed one)."""

    settings: Settings
    opened: list[Database] = field(default_factory=list)
    readers: list[SqliteReader] = field(default_factory=list)

    def open_database(self) -> Database:
        from rempart.store.db import Database

        database = Database(self.settings.db_url)
        self.opened.append(database)
        return database

    def open_reader(self) -> Reader:
        """The database for a listing that only reads (`bank list`, `review list`): an
        up-to-date SQLite file through sqlite3, without importing SQLAlchemy (start-up);
        otherwise (PostgreSQL, a database to create or migrate) the Database. Either way
        the run writes no audit head for it: a listing changes nothing, and rewriting the
        head after entries were deleted would hide the deletion from `audit verify`."""
        from rempart.store.light import quick_reader

        reader = quick_reader(self.settings.db_url)
        if reader is None:
            from rempart.store.db import Database

            return Database(self.settings.db_url)
        self.readers.append(reader)
        return reader

    def open_index(self) -> tuple[Database, BankIndex]:
        from rempart.store.bank_index import BankIndex

        database = self.open_database()
        return database, BankIndex(database, self.settings.home)

    def close(self) -> None:
        """After any command (even a failed one): the audit chain's head, kept outside the
        DB."""
        for database in self.opened:
            try:
                audit.write_head(database, self.settings.home)
            except Exception as exc:  # never hide the command's own outcome
                err.print(f"[yellow]warning:[/] could not record the audit head: {safe(exc)}")
        self.opened = []
        for reader in self.readers:
            reader.close()
        self.readers = []


_current: ContextVar[CliContext] = ContextVar("rempart_cli_context")


def context() -> CliContext:
    """The running command's context (set by the app's callback, or by a test with
    `use_context`)."""
    try:
        return _current.get()
    except LookupError:
        raise fail("no command context: run the command through the `rempart` app") from None


def use_context(ctx: CliContext) -> None:
    """Make `ctx` the running command's context."""
    _current.set(ctx)


@app.callback()
def _main(
    ctx: typer.Context,
    db: Annotated[
        str | None, typer.Option(help="Database URL or SQLite file (default: $REMPART_DB).")
    ] = None,
    home: Annotated[
        Path | None, typer.Option(help="Working folder (default: $REMPART_HOME or ~/.rempart).")
    ] = None,
) -> None:
    run = CliContext(load_settings(db=db, home=home))
    use_context(run)
    ctx.obj = run
    ctx.call_on_close(run.close)


def settings() -> Settings:
    return context().settings


def open_database() -> Database:
    return context().open_database()


def open_index() -> tuple[Database, BankIndex]:
    return context().open_index()


def open_reader() -> Reader:
    return context().open_reader()


def bank_hint(message: str, name: str) -> str:
    """An unknown bank's error, with the command that creates it (import and pull never
    create one: a mistyped name would fill a bank that no scan looks at)."""
    if f"no bank named {name!r}" in message:
        return f"{message}; create it first with: rempart bank create {name}"
    return message


def progress_bar() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
        console=err,
        transient=False,
    )


def workers_or_cores(value: int | None) -> int:
    return value if value and value > 0 else (os.cpu_count() or 1)


def names(files: list[str], shown: int = 10) -> str:
    """The files, escaped for printing: the first `shown`, then how many more."""
    listed = ", ".join(safe(f) for f in files[:shown])
    return listed + (f" and {len(files) - shown} more" if len(files) > shown else "")


class VideoBars:
    """Per-video progress bars under the main bar: one per video being hashed."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, locator: str, seconds: float, duration: float | None) -> None:
        task = self.tasks.get(locator)
        if seconds < 0:
            if task is not None:
                self.progress.remove_task(task)
                del self.tasks[locator]
            return
        if task is None:
            name = Path(locator).name
            task = self.progress.add_task(f"  video {safe(name[:30])}", total=duration, current="")
            self.tasks[locator] = task
        self.progress.update(task, completed=seconds, current=f"{seconds:.0f} s")
