"""`rempart notice ...`: takedown notices (create, mark what happened, list those due)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import err, notice_app, open_database, out, settings
from rempart.lazy import lazy_module
from rempart.textsafe import plain_lines, safe

notices = lazy_module("rempart.cases.notices")
# = rempart.cases.notices.ORGANISATION (a test checks), the default of `notice write
# --organisation`, here so that building the command line does not import the notices
NOTICE_ORGANISATION = "the helpline"


@notice_app.command("create")
def notice_create(
    case: Annotated[str, typer.Option("--case", help="Case number.")],
    platform: Annotated[str, typer.Option(help="Platform key from platforms.toml.")],
    language: Annotated[
        str | None, typer.Option(help="en, fr, ko... (default: the platform's).")
    ] = None,
    match: Annotated[
        list[str] | None, typer.Option("--match", help="Only these confirmed matches.")
    ] = None,
    organisation: Annotated[str, typer.Option(help="Who sends it.")] = NOTICE_ORGANISATION,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the notice here.")] = None,
    name_her: Annotated[
        bool,
        typer.Option(
            "--name-her",
            help="Name her (her consent record's name) in the "
            "letter: only when she asked for it. Otherwise the letter names "
            "only the organisation.",
        ),
    ] = False,
) -> None:
    """Write a takedown notice for a case's confirmed matches on one platform."""
    n = notices.create(
        open_database(),
        settings().home,
        case,
        platform,
        language=language,
        refs=match,
        organisation=organisation,
        name_her=name_her,
    )
    if out_file is not None:
        out_file.write_text(n.text, encoding="utf-8")
    else:
        out.print(plain_lines(n.text), highlight=False, markup=False)
    err.print(
        f"Notice N-{n.id} ({len(n.items)} item(s), {n.language}) is a draft: "
        f"after sending it, run `rempart notice mark {n.id} sent`."
    )
    hotlines = notices.hotlines_for(n, notices.load_data(settings().home))
    if hotlines:
        err.print(
            "[bold red]Possible minor:[/] also report to "
            + "; ".join(f"{h['name']} ({h['contact']})" for h in hotlines),
            highlight=False,
        )


@notice_app.command("mark")
def notice_mark(
    notice_id: Annotated[int, typer.Argument(help="Notice number (N-12 is 12).")],
    status: Annotated[str, typer.Argument(help="sent, acknowledged, removed, refused, no-answer")],
) -> None:
    """Record what happened to a notice."""
    n = notices.mark(open_database(), notice_id, status)
    extra = f"; due again {n.next_notice_at:%Y-%m-%d %H:%M} UTC" if n.next_notice_at else ""
    err.print(f"Notice N-{n.id}: {n.status}{extra}", highlight=False)


@notice_app.command("list")
def notice_list(
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    due_only: Annotated[bool, typer.Option("--due", help="Only notices due again.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Notices and their status; --due: those to send again (24 h without removal)."""
    db = open_database()
    rows = notices.due(db) if due_only else notices.all_notices(db, case)
    if fmt == "json":
        out.print_json(json.dumps([notices.as_dict(n) for n in rows], default=str))
        return
    table = Table("notice", "platform", "status", "items", "sent", "times", "due again")
    for n in rows:
        table.add_row(
            f"N-{n.id}",
            safe(n.platform),
            safe(n.status),
            str(len(n.items)),
            f"{n.sent_at:%Y-%m-%d %H:%M}" if n.sent_at else "",
            str(n.times_sent),
            f"{n.next_notice_at:%Y-%m-%d %H:%M}" if n.next_notice_at else "",
        )
    out.print(table)
