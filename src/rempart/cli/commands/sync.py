"""`rempart sync pull` (a partner's shared bank, since the last checkpoint, into a bank of
this instance) and `rempart sync list` (the checkpoints). See docs/sync.md."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rempart.cli.core import (
    EXIT_SKIPPED,
    bank_hint,
    err,
    fail,
    open_database,
    open_index,
    out,
    sync_app,
)
from rempart.exchange.consent import ConsentRecord, read_consent
from rempart.textsafe import safe

if TYPE_CHECKING:
    from rempart.exchange.sync_client import PullResult

# = rempart.exchange.sync_feed's DEFAULT_LIMIT and MAX_LIMIT (a test checks), here so that
# building the command line does not import the sync modules (start-up)
DEFAULT_LIMIT = 500  # changes per page
MAX_LIMIT = 1000
PROBLEMS_PRINTED = 50


def _read_key_file(path: Path) -> str:
    from rempart.exchange.sync_client import SyncError, read_key

    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncError(f"{path}: cannot read the key ({exc})") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        err.print(
            f"[yellow]warning:[/] {safe(path)} can be read by other users: chmod 600 {safe(path)}",
            highlight=False,
        )
    return read_key(text, str(path))


def _say(result: PullResult) -> str:
    parts = [
        f"{result.pages} page(s), {result.received} hash record(s) received, {result.added} added"
    ]
    if result.duplicates:
        parts.append(f"{result.duplicates} already there")
    if result.low_quality:
        parts.append(f"{result.low_quality} with too little detail for PDQ")
    parts.append(
        f"{result.withdrawn_received} withdrawn hash(es) received, "
        f"{result.withdrawn} entr(y/ies) deleted here"
    )
    if result.withdrawn_elsewhere_kept:
        parts.append(
            f"{result.withdrawn_elsewhere_kept} entr(y/ies) of other cases hold a "
            "withdrawn hash and were kept (--withdraw-everywhere deletes them)"
        )
    if result.withheld_by_partner:
        parts.append(
            f"{result.withheld_by_partner} entr(y/ies) withheld by the partner "
            "(no consent to exchange)"
        )
    if result.consent_recorded:
        parts.append("consent recorded")
    if result.problem_count:
        parts.append(f"{result.problem_count} record(s) skipped")
    return "; ".join(parts)


@sync_app.command("pull")
def sync_pull(
    url: Annotated[
        str, typer.Argument(help="The partner's Rempart server, e.g. https://rempart.example.org")
    ],
    bank: Annotated[str, typer.Option("--bank", help="The partner's bank to pull.")],
    into: Annotated[str, typer.Option("--into", help="The bank here to add its hashes to.")],
    key_file: Annotated[
        Path,
        typer.Option(
            "--key-file", help="File holding the partner key the partner gave you (rmp_...)."
        ),
    ],
    partner: Annotated[
        str | None,
        typer.Option("--partner", help="The partner (its hashes go under the case partner-NAME)."),
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="Or: the case they belong to.")] = None,
    consent: Annotated[
        Path | None,
        typer.Option(
            help="Consent record (JSON): the partner's statement of the consent it holds. "
            "Needed unless the case already has one."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help=f"Changes per page (1-{MAX_LIMIT}).")] = DEFAULT_LIMIT,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow plain http to a host other than this machine.")
    ] = False,
    withdraw_everywhere: Annotated[
        bool,
        typer.Option(
            "--withdraw-everywhere",
            help="A withdrawn hash also deletes entries of other cases "
            "holding it (default: only this case's).",
        ),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or json (the summary).")] = "text",
) -> None:
    """Pull what changed in a partner's shared bank since the last pull: new hashes (under a
    case, refused without a consent record) and withdrawn ones (deleted here). Resumable:
    an interrupted pull goes on from the last page applied. Exit code 3 if some records
    were malformed (reported and skipped)."""
    from rempart.exchange.sync_client import PageFetcher, SyncError, check_url, pull

    if (case is None) == (partner is None):
        raise fail("give either --case CASE or --partner NAME")
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(f"--limit must be between 1 and {MAX_LIMIT}")
    case_number = case if case is not None else f"partner-{partner}"
    base = check_url(url, insecure=insecure)
    key = _read_key_file(key_file)
    record: ConsentRecord | None = read_consent(consent) if consent else None
    _, bank_index = open_index()
    fetcher = PageFetcher(base, key, insecure=insecure)

    def progress(r: PullResult) -> None:
        if fmt != "json":
            err.print(
                f"  page {r.pages}: {r.received} received, {r.added} added, "
                f"{r.withdrawn} deleted so far",
                highlight=False,
            )

    try:
        result = pull(
            bank_index,
            fetcher,
            bank,
            into,
            case_number=case_number,
            consent=record,
            limit=limit,
            withdraw_everywhere=withdraw_everywhere,
            on_page=progress,
        )
    except SyncError as exc:
        partial: PullResult | None = getattr(exc, "result", None)
        if partial is not None and partial.pages:
            err.print(
                f"Before the error: {safe(_say(partial))}. Checkpoint kept: the "
                "next pull goes on from there.",
                highlight=False,
            )
        raise fail(bank_hint(str(exc), into)) from exc
    finally:
        fetcher.close()
    for problem in result.problems[:PROBLEMS_PRINTED]:
        err.print(f"[yellow]skipped[/] {safe(problem)}", highlight=False)
    for why in result.restarted:
        err.print(
            f"[yellow]note:[/] the partner started its feed again from the beginning: {safe(why)}",
            highlight=False,
        )
    if fmt == "json":
        out.print_json(json.dumps(result.to_json()))
    err.print(
        f"Pulled bank [bold]{safe(bank)}[/] of {safe(base)} into [bold]{safe(into)}[/] "
        f"for case {safe(case_number)}: {safe(_say(result))}.",
        highlight=False,
    )
    if result.problem_count:
        raise typer.Exit(EXIT_SKIPPED)


@sync_app.command("list")
def sync_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Partners' banks pulled here: from where, into which bank, how far, last result."""
    from rempart.exchange.sync_client import list_checkpoints

    rows = list_checkpoints(open_database())
    if fmt == "json":
        out.print_json(json.dumps(rows))
        return
    table = Table(
        "partner", "their bank", "our bank", "checkpoint", "last pull", "added", "deleted", "error"
    )
    for r in rows:
        last = r["last_result"]
        table.add_row(
            safe(r["remote"]),
            safe(r["remote_bank"]),
            safe(r["local_bank"]),
            safe(r["checkpoint"]),
            safe(r["updated_at"]),
            safe(last.get("added", "")),
            safe(last.get("withdrawn", "")),
            safe(last.get("error") or ""),
        )
    out.print(table)
