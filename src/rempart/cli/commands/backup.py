"""`rempart backup --out FILE`, `rempart backup verify FILE`, `rempart restore FILE`.

The work is rempart.ops.backup's; these commands ask for the passphrase (never on the
command line: a prompt, REMPART_BACKUP_PASSPHRASE or --passphrase-file), show progress and
print a summary, or JSON with --json (docs/operations.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rempart.cli.core import app, backup_app, err, fail, out, progress_bar, settings
from rempart.lazy import lazy_module
from rempart.textsafe import safe

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from rempart.ops.backup import Manifest

ops_backup = lazy_module("rempart.ops.backup")

PASSPHRASE_ENV = "REMPART_BACKUP_PASSPHRASE"
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the passphrase from this file (else ${PASSPHRASE_ENV}, else a prompt).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _passphrase(path: Path | None, *, confirm: bool) -> str:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read the passphrase file {safe(str(path))}: {exc}") from exc
        value = text.rstrip("\r\n")
        if not value:
            raise fail(f"the passphrase file {safe(str(path))} is empty")
        return value
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    value = typer.prompt(
        "Backup passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return str(value)


class _Bar:
    """The byte counts rempart.ops.backup reports, as one progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task("", total=None, current="")

    def __call__(self, what: str, done: int, total: int) -> None:
        self.progress.update(
            self.task,
            description=safe(what[:40]),
            completed=done,
            total=total or None,
            current=f"{done / 1e6:.1f} MB",
        )


def _manifest_summary(m: Manifest) -> dict[str, Any]:
    names = [x.name for x in m.members]
    return {
        "created_at": m.created_at,
        "rempart": m.rempart,
        "backend": m.backend,
        "schema": m.schema,
        "instance_id": m.instance_id,
        "audit_entries": m.audit_count,
        "audit_head": m.audit_head,
        "bytes": m.size,
        "members": len(names),
        "keys": sum(1 for n in names if n.startswith("keys/")),
        "notice_files": sum(1 for n in names if n.startswith("notices/")),
        "preserved_media": sum(1 for n in names if n.startswith("evidence/")),
    }


@backup_app.callback()
def backup(
    ctx: typer.Context,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the backup to this file (never replaced).")
    ] = None,
    passphrase_file: PassphraseFile = None,
    as_json: Json = False,
) -> None:
    """Back up this instance (database, keys, notice overrides, preserved media), encrypted
    with a passphrase, while the server runs."""
    if ctx.invoked_subcommand is not None:
        return
    if out_file is None:
        raise fail("give the file to write: rempart backup --out FILE (or: backup verify FILE)")
    passphrase = _passphrase(passphrase_file, confirm=True)
    with progress_bar() as progress:
        result = ops_backup.backup(settings(), out_file, passphrase, progress=_Bar(progress))
    summary = {"file": str(result.path), "file_bytes": result.bytes_written}
    summary.update(_manifest_summary(result.manifest))
    if as_json:
        out.print_json(json.dumps(summary))
        return
    err.print(
        f"Backup written: {safe(str(result.path))} ({result.bytes_written / 1e6:.1f} MB, "
        f"{summary['members']} members: the {summary['backend']} database at schema "
        f"{summary['schema']}, {summary['keys']} key file(s), {summary['notice_files']} "
        f"notice file(s), {summary['preserved_media']} preserved media file(s); audit log "
        f"{summary['audit_entries']} entries). Keep the passphrase apart from the file: "
        "without it the backup cannot be read.",
        highlight=False,
    )


@backup_app.command("verify")
def backup_verify(
    file: Annotated[Path, typer.Argument(help="The backup file.")],
    passphrase_file: PassphraseFile = None,
    as_json: Json = False,
) -> None:
    """Check a backup without restoring it: passphrase, every record, the manifest's
    SHA-256s, and that this Rempart knows its schema (exit code 1 if not)."""
    passphrase = _passphrase(passphrase_file, confirm=False)
    with progress_bar() as progress:
        verified = ops_backup.verify(file, passphrase, progress=_Bar(progress))
    summary = {"file": str(file), "ok": True}
    summary.update(_manifest_summary(verified.manifest))
    if as_json:
        out.print_json(json.dumps(summary))
        return
    err.print(
        f"Backup intact: {safe(str(file))}, made {summary['created_at']} by Rempart "
        f"{safe(str(summary['rempart']))} ({summary['backend']}, schema {summary['schema']}, "
        f"{summary['members']} members, every SHA-256 matches its manifest).",
        highlight=False,
    )


@app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="The backup file (rempart backup --out).")],
    passphrase_file: PassphraseFile = None,
    ledger_lost: Annotated[
        bool,
        typer.Option(
            "--ledger-lost",
            help="The withdrawal ledger is lost for good: restore anyway (audited; "
            "withdrawals made after the backup cannot be re-applied).",
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Restore a backup into an empty home folder and an empty database (never over
    existing data), then re-apply the withdrawal ledger and check the audit chain."""
    passphrase = _passphrase(passphrase_file, confirm=False)
    with progress_bar() as progress:
        result = ops_backup.restore(
            settings(), file, passphrase, progress=_Bar(progress), ledger_lost=ledger_lost
        )
    again = result.reapplied
    summary: dict[str, Any] = {
        "file": str(file),
        "home": str(settings().home),
        "files": result.files,
        "withdrawals_reapplied": {
            "ledger_entries": again.entries,
            "bank_entries": again.bank_entries,
            "face_templates": again.face_templates,
            "cases": again.cases,
        },
        "audit": {
            "ok": result.audit_ok,
            "entries": result.audit_entries,
            "problems": result.audit_problems,
        },
    }
    summary.update(_manifest_summary(result.manifest))
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        err.print(
            f"Restored {safe(str(file))} (made {result.manifest.created_at}) into "
            f"{safe(str(settings().home))}: the {result.manifest.backend} database, "
            f"{result.files} file(s). Withdrawal ledger: {again.entries} withdrawal(s) "
            f"re-applied, removing {again.bank_entries} bank entr(y/ies) and "
            f"{again.face_templates} face template(s) withdrawn after the backup; "
            f"{again.cases} case(s) marked withdrawn again. Audit log: "
            f"{result.audit_entries} entries, "
            + ("chain verified." if result.audit_ok else "CHAIN BROKEN:"),
            highlight=False,
        )
        for problem in result.audit_problems:
            err.print(f"[bold red]tampered:[/] {safe(problem)}", highlight=False)
    if not result.audit_ok:
        raise typer.Exit(1)
