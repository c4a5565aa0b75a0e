"""`rempart bank ...`: create, list, import (a hash-submission file), export and
import-list (hash lists shared with partners: Rempart's own format, StopNCII records, HMA
bank contents, CSV of PDQ hashes), share (with a platform)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import (
    EXIT_SKIPPED,
    bank_app,
    bank_hint,
    err,
    fail,
    open_database,
    open_index,
    open_reader,
    out,
)
from rempart.exchange.consent import ConsentRecord, read_consent
from rempart.lazy import lazy_module
from rempart.textsafe import safe

sharing = lazy_module("rempart.exchange.sharing")
light = lazy_module("rempart.store.light")

PROBLEMS_PRINTED = 50


@bank_app.command("create")
def bank_create(
    name: str,
    threshold: Annotated[int, typer.Option(help="PDQ match distance (0-63).")] = 31,
    description: Annotated[str, typer.Option(help="What this bank holds.")] = "",
) -> None:
    """Create a hash bank."""
    database, _ = open_index()
    sharing.create_bank(database, name, description=description, pdq_threshold=threshold)
    err.print(f"Created bank [bold]{safe(name)}[/] (PDQ threshold {threshold})")


@bank_app.command("list")
def bank_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List banks with their item and case counts."""
    # only reads: an up-to-date SQLite file is read without SQLAlchemy (start-up)
    banks = light.list_banks(open_reader())
    if fmt == "json":
        out.print_json(json.dumps([asdict(b) for b in banks]))
        return
    table = Table("bank", "items", "cases", "PDQ threshold", "description")
    for b in banks:
        table.add_row(
            safe(b.name), str(b.items), str(b.cases), str(b.pdq_threshold), safe(b.description)
        )
    out.print(table)


@bank_app.command("import")
def bank_import(
    name: Annotated[str, typer.Argument(help="Bank to add the hashes to.")],
    submission_file: Annotated[Path, typer.Argument(help="Hash-submission file (JSON).")],
    case: Annotated[str, typer.Option("--case", help="Case number, e.g. CASE-123.")],
    consent: Annotated[
        Path | None, typer.Option(help="Consent record (JSON), if the file carries none.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Label for the imported items.")] = None,
) -> None:
    """Import a hash-submission file into a bank under a case (requires a consent record)."""
    from rempart.exchange.bank_import import import_submission
    from rempart.exchange.submission import read_submission
    from rempart.store.repository import StoreError

    if label is not None and len(label) > 200:
        raise fail("--label: at most 200 characters")
    submission = read_submission(submission_file)
    record: ConsentRecord | None = read_consent(consent) if consent else None
    _, bank_index = open_index()
    try:
        result = import_submission(
            bank_index,
            name,
            submission,
            case_number=case,
            consent=record,
            source_name=submission_file.name,
            label=label,
        )
    except StoreError as exc:
        raise fail(bank_hint(str(exc), name)) from exc
    err.print(
        f"Imported {result.added} item(s) into [bold]{safe(name)}[/] for case {safe(case)}"
        + (f"; {result.duplicates} already there" if result.duplicates else "")
        + (
            f"; {result.low_quality} with too little detail for PDQ (exact match only)"
            if result.low_quality
            else ""
        )
        + ("; consent recorded" if result.consent_recorded else ""),
        highlight=False,
    )


@bank_app.command("export")
def bank_export(
    name: Annotated[str, typer.Argument(help="Bank to export.")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help="rempart (default), stopncii, hma or csv.")
    ] = "rempart",
) -> None:
    """Export a bank's hashes for a partner: only entries whose case's consent allows
    exchange (and not expired); Rempart's format also lists withdrawn hashes (as
    one-way digests) so the partner deletes them too."""
    from rempart.exchange.hashlist import exportable, record_export
    from rempart.exchange.lists import FORMATS, write_list

    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    database = open_database()
    try:
        export = exportable(database, name)
        written = write_list(export, fmt, out_file)
    except OSError as exc:
        raise fail(f"{out_file}: cannot write ({exc.strerror or exc})") from exc
    record_export(database, name, fmt, written, export.withheld, out_file.name)
    err.print(
        f"Exported {written} record(s) of bank [bold]{safe(name)}[/] to {safe(out_file)} "
        f"({safe(fmt)})"
        + (
            f"; {export.withheld} entr(y/ies) withheld: no consent to exchange, withdrawn "
            "or expired"
            if export.withheld
            else ""
        ),
        highlight=False,
    )


@bank_app.command("import-list")
def bank_import_list(
    name: Annotated[str, typer.Argument(help="Bank to add the hashes to.")],
    list_file: Annotated[Path, typer.Argument(help="Hash list file.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="auto (default: from the content), rempart, stopncii, hma or csv."
        ),
    ] = "auto",
    case: Annotated[str | None, typer.Option("--case", help="Case the hashes belong to.")] = None,
    partner: Annotated[
        str | None,
        typer.Option(
            "--partner",
            help="Or: the partner who sent the list (its hashes go under the case partner-NAME).",
        ),
    ] = None,
    consent: Annotated[
        Path | None,
        typer.Option(
            help="Consent record (JSON): hers, or the partner's statement of "
            "the consent it holds. Needed unless the case already has one."
        ),
    ] = None,
    label: Annotated[str | None, typer.Option(help="Label for the imported items.")] = None,
    withdraw_everywhere: Annotated[
        bool,
        typer.Option(
            "--withdraw-everywhere",
            help="A withdrawn hash in the list also "
            "deletes entries of other cases holding it (default: only this "
            "case's).",
        ),
    ] = False,
) -> None:
    """Import a partner's hash list into a bank under a case (refused without a consent
    record). Withdrawn hashes in the list (StopNCII Withdrawn/Deleted, Rempart's
    withdrawn digests) are deleted from every bank and the index. A malformed record
    is reported and skipped (exit code 3); the rest is imported."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from rempart.exchange.hashlist import ImportProgress, import_list_file
    from rempart.store.repository import StoreError

    if label is not None and len(label) > 200:
        raise fail("--label: at most 200 characters")
    if (case is None) == (partner is None):
        raise fail("give either --case CASE or --partner NAME")
    case_number = case if case is not None else f"partner-{partner}"
    record: ConsentRecord | None = read_consent(consent) if consent else None
    _, bank_index = open_index()
    # read as a stream and imported in batches, with a progress bar (bytes of the file)
    with Progress(
        TextColumn("importing {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[added]} added"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(safe(list_file.name[:40]), total=None, added=0)

        def progress(p: ImportProgress) -> None:
            bar.update(task, total=p.total_bytes or None, completed=p.bytes_read, added=p.added)

        try:
            parsed, result = import_list_file(
                bank_index,
                name,
                list_file,
                fmt,
                case_number=case_number,
                consent=record,
                label=label,
                withdraw_everywhere=withdraw_everywhere,
                progress=progress,
            )
        except StoreError as exc:
            raise fail(bank_hint(str(exc), name)) from exc
    for problem in parsed.problems[:PROBLEMS_PRINTED]:
        err.print(f"[yellow]skipped[/] {safe(problem)}", highlight=False)
    if parsed.problem_count > PROBLEMS_PRINTED:
        err.print(
            f"... and {parsed.problem_count - PROBLEMS_PRINTED} more problem(s)", highlight=False
        )
    err.print(
        f"Imported {result.added} hash(es) from {safe(list_file.name)} "
        f"({safe(parsed.format)}) into [bold]{safe(name)}[/] for case {safe(case_number)}"
        + (f"; {result.duplicates} already there" if result.duplicates else "")
        + (f"; {result.low_quality} with too little detail for PDQ" if result.low_quality else "")
        + (f"; {result.withdrawn} withdrawn entr(y/ies) deleted" if result.withdrawn else "")
        + (
            f"; {result.withdrawn_elsewhere_kept} entr(y/ies) of other cases hold a "
            "withdrawn hash and were kept (--withdraw-everywhere deletes them)"
            if result.withdrawn_elsewhere_kept
            else ""
        )
        + ("; consent recorded" if result.consent_recorded else "")
        + (f"; {parsed.problem_count} record(s) skipped" if parsed.problem_count else ""),
        highlight=False,
    )
    if parsed.problem_count:
        raise typer.Exit(EXIT_SKIPPED)


@bank_app.command("share")
def bank_share(
    name: Annotated[str, typer.Argument(help="Bank.")],
    tenant: Annotated[str, typer.Option(help="The platform (created if new).")],
    stop: Annotated[bool, typer.Option("--stop", help="Stop sharing instead.")] = False,
) -> None:
    """Let a platform match against a bank through the API (or stop, with --stop)."""
    change = sharing.unshare_bank if stop else sharing.share_bank
    change(open_database(), name, tenant, create=True)
    err.print(
        f"Bank {safe(name)} {'no longer ' if stop else ''}shared with {safe(tenant)}.",
        highlight=False,
    )
