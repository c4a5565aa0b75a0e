"""`rempart bank export` and `rempart bank import-list`: hash lists shared with partners
(Rempart's own format, StopNCII records, HMA bank contents, CSV of PDQ hashes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rempart.exchange.consent import ConsentRecord, FormatError, read_consent
from rempart.textsafe import safe

PROBLEMS_PRINTED = 50


def _cli():  # noqa: ANN202 (the main CLI module; imported late to avoid a cycle)
    from rempart import cli

    return cli


def register_exchange_commands(bank_app: typer.Typer) -> None:
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
        from rempart.store.repository import StoreError

        cli = _cli()
        if fmt not in FORMATS:
            raise cli._fail(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
        database = cli.open_database()
        try:
            export = exportable(database, name)
            written = write_list(export, fmt, out_file)
        except (StoreError, FormatError) as exc:
            raise cli._fail(str(exc)) from exc
        except OSError as exc:
            raise cli._fail(f"{out_file}: cannot write ({exc.strerror or exc})") from exc
        record_export(database, name, fmt, written, export.withheld, out_file.name)
        cli.err.print(
            f"Exported {written} record(s) of bank [bold]{safe(name)}[/] to {safe(out_file)} "
            f"({safe(fmt)})"
            + (f"; {export.withheld} entr(y/ies) withheld: no consent to exchange, withdrawn "
               "or expired" if export.withheld else ""),
            highlight=False,
        )  # fmt: skip

    @bank_app.command("import-list")
    def bank_import_list(
        name: Annotated[str, typer.Argument(help="Bank to add the hashes to.")],
        list_file: Annotated[Path, typer.Argument(help="Hash list file.")],
        fmt: Annotated[
            str,
            typer.Option("--format", help="auto (default: from the content), rempart, "
                         "stopncii, hma or csv."),
        ] = "auto",
        case: Annotated[
            str | None, typer.Option("--case", help="Case the hashes belong to.")
        ] = None,
        partner: Annotated[
            str | None,
            typer.Option("--partner", help="Or: the partner who sent the list (its hashes "
                         "go under the case partner-NAME)."),
        ] = None,
        consent: Annotated[
            Path | None,
            typer.Option(help="Consent record (JSON): hers, or the partner's statement of "
                         "the consent it holds. Needed unless the case already has one."),
        ] = None,
        label: Annotated[str | None, typer.Option(help="Label for the imported items.")] = None,
        withdraw_everywhere: Annotated[
            bool,
            typer.Option("--withdraw-everywhere", help="A withdrawn hash in the list also "
                         "deletes entries of other cases holding it (default: only this "
                         "case's)."),
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

        cli = _cli()
        if label is not None and len(label) > 200:
            raise cli._fail("--label: at most 200 characters")
        if (case is None) == (partner is None):
            raise cli._fail("give either --case CASE or --partner NAME")
        case_number = case if case is not None else f"partner-{partner}"
        try:
            record: ConsentRecord | None = read_consent(consent) if consent else None
        except FormatError as exc:
            raise cli._fail(str(exc)) from exc
        _, bank_index = cli._open()
        # read as a stream and imported in batches, with a progress bar (bytes of the file)
        with Progress(TextColumn("importing {task.description}"), BarColumn(),
                      TaskProgressColumn(), TextColumn("{task.fields[added]} added"),
                      TimeRemainingColumn(), console=cli.err, transient=True) as bar:
            task = bar.add_task(safe(list_file.name[:40]), total=None, added=0)

            def progress(p: ImportProgress) -> None:
                bar.update(task, total=p.total_bytes or None, completed=p.bytes_read,
                           added=p.added)  # fmt: skip

            try:
                parsed, result = import_list_file(
                    bank_index, name, list_file, fmt, case_number=case_number,
                    consent=record, label=label, withdraw_everywhere=withdraw_everywhere,
                    progress=progress)  # fmt: skip
            except FormatError as exc:
                raise cli._fail(str(exc)) from exc
            except StoreError as exc:
                raise cli._fail(cli.bank_hint(str(exc), name)) from exc
        for problem in parsed.problems[:PROBLEMS_PRINTED]:
            cli.err.print(f"[yellow]skipped[/] {safe(problem)}", highlight=False)
        if parsed.problem_count > PROBLEMS_PRINTED:
            cli.err.print(f"... and {parsed.problem_count - PROBLEMS_PRINTED} more "
                          "problem(s)", highlight=False)  # fmt: skip
        cli.err.print(
            f"Imported {result.added} hash(es) from {safe(list_file.name)} "
            f"({safe(parsed.format)}) into [bold]{safe(name)}[/] for case {safe(case_number)}"
            + (f"; {result.duplicates} already there" if result.duplicates else "")
            + (f"; {result.low_quality} with too little detail for PDQ" if result.low_quality
               else "")
            + (f"; {result.withdrawn} withdrawn entr(y/ies) deleted" if result.withdrawn
               else "")
            + (f"; {result.withdrawn_elsewhere_kept} entr(y/ies) of other cases hold a "
               "withdrawn hash and were kept (--withdraw-everywhere deletes them)"
               if result.withdrawn_elsewhere_kept else "")
            + ("; consent recorded" if result.consent_recorded else "")
            + (f"; {parsed.problem_count} record(s) skipped" if parsed.problem_count else ""),
            highlight=False,
        )  # fmt: skip
        if parsed.problem_count:
            raise typer.Exit(cli.EXIT_SKIPPED)
