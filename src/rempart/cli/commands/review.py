"""`rempart review ...`: from a match to a decision (list, decide, flag-minor, preview)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rempart.cli.core import err, open_database, open_reader, out, review_app, settings
from rempart.lazy import lazy_module
from rempart.textsafe import safe, safe_or_empty

if TYPE_CHECKING:
    from rempart.cases.review import ReviewItem
    from rempart.store.db import Database

# imported by the commands that use them (cryptography, PIL: start-up)
media_rules = lazy_module("rempart.cases.media_rules")
preview = lazy_module("rempart.cases.preview")
review_queue = lazy_module("rempart.cases.review")
listing = lazy_module("rempart.cases.queue")  # without SQLAlchemy
words = lazy_module("rempart.cases.review_words")  # without SQLAlchemy either


@review_app.command("list")
def review_list(
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    status: Annotated[
        str, typer.Option(help="pending (default), confirmed, not-her, unsure, or all.")
    ] = "pending",
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    method: Annotated[
        str | None,
        typer.Option(help="Only this method: sha256, md5, pdq, pdq-crop, vpdq, face, ..."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Only items found there: part of a room, folder, archive or URL."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only items seen on or after this day (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only items seen on or before this day (YYYY-MM-DD).")
    ] = None,
    minor: Annotated[
        bool, typer.Option("--minor", help="Only items flagged as possibly showing a minor.")
    ] = False,
    sort: Annotated[
        str, typer.Option(help="found (default), newest, oldest, closest or sightings.")
    ] = "found",
    lang: Annotated[str, typer.Option(help="Language of the words: en, fr or ko.")] = "en",
) -> None:
    """Matches waiting for a decision (or with the given one), each in words: what was
    found, how sure, where and when."""
    # only reads: an up-to-date SQLite file is read without SQLAlchemy (start-up);
    # listing.queue is rempart.cases.review.queue, the web UI's
    filters = listing.Filters(method, source, since, until, minor, sort)
    items = listing.queue(
        open_reader(), case=case, status=None if status == "all" else status, filters=filters
    )
    if fmt == "json":
        out.print_json(
            json.dumps([{**asdict(i), "words": words.describe(i, lang).as_dict()} for i in items])
        )
        return
    table = Table(
        "match", "status", "case", "kind", "distance", "file", "from", "seen", "what", "where"
    )
    for i in items:
        described = words.describe(i, lang)
        origin = i.provenance.get("chat") or i.provenance.get("url") or ""
        ref = f"{i.ref} [MINOR?]" if i.possible_minor else i.ref
        table.add_row(
            safe(ref),
            safe(i.status),
            safe_or_empty(i.case),
            safe(i.kind),
            i.measure.removeprefix("distance "),
            safe(Path(i.file).name),
            safe(origin),
            f"{i.sightings}x",
            safe(f"{described.what}: {described.how_sure}"),
            safe(f"{described.where_text}; {described.when}"),
        )
    out.print(table)
    err.print(f"{len(items)} match(es)")


@review_app.command("decide")
def review_decide(
    ref: Annotated[str, typer.Argument(help="Match reference from `review list`, e.g. m12.")],
    decision: Annotated[str, typer.Argument(help="confirmed, not-her or unsure.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the decision).")] = "",
    same_copies: Annotated[
        bool,
        typer.Option(
            "--same-copies",
            help="Also decide the other pending exact copies of this content in its case "
            "(listed first; each audited).",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="With --same-copies: apply without asking.")
    ] = False,
) -> None:
    """Record a decision on one match (logged in the audit log)."""
    db = open_database()
    if same_copies:
        copies = review_queue.same_copies(db, ref)
        err.print(f"{len(copies)} other pending exact cop(ies) of {safe(ref)} in its case:")
        for c in copies:
            err.print(f"  {safe(c.ref)}  {safe(c.file)}", highlight=False)
        if (
            copies
            and not yes
            and not typer.confirm(f"Record {decision} on {ref} and these {len(copies)}?", err=True)
        ):
            err.print("Nothing recorded.")
            raise typer.Exit(1)
        done = review_queue.decide_with_copies(db, ref, decision, reason, [c.ref for c in copies])
    else:
        done = [review_queue.decide(db, ref, decision, reason)]
    for item in done:
        err.print(
            f"{safe(item.ref)}: {safe(item.status)} by {safe(item.reviewed_by)} "
            f"({safe(item.reason)})",
            highlight=False,
        )
        if decision == "confirmed":
            _preserve(db, item)


def _preserve(db: Database, item: ReviewItem) -> None:
    """Keep the media as found, encrypted, where the rules allow it (media_rules)."""
    done = media_rules.preserve_confirmed(db, settings().home, item, settings().policy)
    if done == "minor":
        err.print("Media not preserved: it may show a minor.")
    elif done == "unreadable":
        err.print(
            f"[yellow]Media not preserved:[/] {safe(item.file)} cannot be read now.",
            highlight=False,
        )
    elif done == "preserved":
        err.print("Media preserved as evidence (encrypted).")


@review_app.command("flag-minor")
def review_flag_minor(
    ref: Annotated[str, typer.Argument(help="Match reference, e.g. m12.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Flag a match as possibly showing a minor: prioritised, routed to child-protection
    hotlines, media never stored unless the organisation is authorised."""
    review_queue.flag_minor(open_database(), ref, reason)
    err.print(f"{safe(ref)}: flagged as possibly showing a minor", highlight=False)


@review_app.command("preview")
def review_preview(
    ref: Annotated[str, typer.Argument(help="Match reference, e.g. m12.")],
    out_file: Annotated[Path, typer.Option("--out", help="Write the preview here (.png).")],
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show it unblurred (greyscale); this is logged.")
    ] = False,
) -> None:
    """A blurred greyscale preview of the found picture (or, with --reveal, a clear one)."""
    db = open_database()
    item = review_queue.get(db, ref)
    preview.show(db, item, out_file, reveal=reveal)
    err.print(
        f"{'Revealed (logged)' if reveal else 'Blurred preview'}: {safe(out_file)}", highlight=False
    )
