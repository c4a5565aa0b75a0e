"""`rempart rooms-report` (also `rempart rooms report`): the rooms intelligence report over
the Telegram exports scanned so far, as an offline HTML page with PNG charts and a network
picture, or JSON; in English, French or Korean.

Why a module apart from `rooms` (scan.py): `rooms` lists rooms and links on the terminal and
keeps its output; the report writes files for an investigator to read or hand over. The
figures come from rempart.cases.rooms_report, which the web UI's rooms page calls too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import EXIT_SKIPPED, app, err, fail, open_database, out
from rempart.lazy import lazy_module
from rempart.textsafe import safe

rooms_report = lazy_module("rempart.cases.rooms_report")
rooms_render = lazy_module("rempart.cases.rooms_render")  # matplotlib: start-up

FORMATS = ("html", "json")
LANGUAGES = ("en", "fr", "ko")  # = rempart.cases.rooms_render.LANGUAGES (a test checks)


@app.command("rooms-report")
def rooms_report_cmd(
    room: Annotated[
        list[str] | None,
        typer.Option(
            "--room",
            help="Only this room (its key, a name or its chat id; again for more). "
            "Default: every room.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for report.html, the charts and report.json."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="html (page + PNG charts + report.json in --out) or json (report.json in "
            "--out, or printed without --out).",
        ),
    ] = "html",
    lang: Annotated[str, typer.Option("--lang", help="en, fr or ko.")] = "en",
    min_members: Annotated[
        int, typer.Option(help="Shared members needed to link rooms on members alone.")
    ] = 2,
) -> None:
    """The rooms intelligence report: per room its activity, members, bots, media and what
    matched banked cases, the network of links between rooms, and how each banked photo
    spread. Counts, names, ids and dates only: never a picture."""
    if fmt not in FORMATS:
        raise fail(f"--format must be html or json, not {fmt!r}")
    if lang not in LANGUAGES:
        raise fail(f"--lang must be en, fr or ko, not {lang!r}")
    if fmt == "html" and out_dir is None:
        raise fail("--out FOLDER is needed for the HTML report")
    with err.status("Reading the rooms, their links and matches..."):
        report = rooms_report.collect(open_database(), room or None, min_members=min_members)
    missing = report["scope"]["rooms_not_found"]
    for name in missing:
        err.print(f"[yellow]room not found:[/] {safe(name)}", highlight=False)
    if out_dir is None:
        out.print_json(json.dumps(report, ensure_ascii=False))
    else:
        try:
            with err.status("Drawing the charts and writing the report..."):
                files = rooms_render.write(report, out_dir, fmt, lang)
        except OSError as exc:
            raise fail(f"cannot write the report in {out_dir}: {exc}") from exc
        _summary(report)
        err.print(f"Report written: {safe(', '.join(str(f) for f in files))}", highlight=False)
    if missing:
        raise typer.Exit(EXIT_SKIPPED)


def _summary(report: dict[str, object]) -> None:
    totals = report["totals"]
    assert isinstance(totals, dict)
    table = Table(title="Rooms report", show_header=False)
    for key, value in totals.items():
        table.add_row(key.replace("_", " "), str(value))
    err.print(table)
