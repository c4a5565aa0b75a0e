"""`rempart c2pa-trust list|add|remove`: the C2PA trust lists a signer is checked against
(docs/synthetic.md, "Trust lists").

Why commands: "signed by a trusted signer" in a report is only as good as the list behind
it, and the C2PA list changes (members join, certificates expire or are revoked). An
organisation adds a newer list, a national or its own CA's list, without editing the
installed package; `list` shows each list's date, digest check, certificate count, the
first certificate to expire and whether the list is stale. None of them needs a database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rempart.cli.core import c2pa_trust_app, out
from rempart.lazy import lazy_module
from rempart.textsafe import safe

trust = lazy_module("rempart.signals.synthetic.trust")
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@c2pa_trust_app.command("list")
def trust_list_cmd(as_json: Json = False) -> None:
    """The trust lists in effect: vendored, the organisation's, or REMPART_C2PA_TRUST."""
    rows = trust.status(trust.configured_lists())
    data: list[dict[str, Any]] = [
        {
            "name": r.trust_list.name,
            "origin": r.trust_list.origin,
            "file": str(r.trust_list.path),
            "date": r.trust_list.date or None,
            "sha256": r.trust_list.sha256 or None,
            "digest_ok": r.digest_ok,
            "certificates": r.certificates,
            "age_days": r.age_days,
            "stale": r.stale,
            "earliest_expiry": r.earliest_expiry,
        }
        for r in rows
    ]
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    from rich.table import Table

    table = Table("name", "origin", "taken", "certificates", "state", "first expiry")
    for d in data:
        state = "REFUSED: file differs from its SHA-256" if not d["digest_ok"] else "ok"
        if d["digest_ok"] and d["stale"]:
            state = f"stale: older than {trust.STALE_DAYS} days, get a newer list"
        table.add_row(
            safe(d["name"]),
            d["origin"],
            d["date"] or "undated",
            str(d["certificates"]),
            state,
            d["earliest_expiry"] or "-",
        )
    out.print(table)
    if not data:
        out.print("No trust list: every signer is reported as not trusted.")


@c2pa_trust_app.command("add")
def trust_add_cmd(
    pem: Annotated[Path, typer.Argument(help="A PEM bundle of CA certificates.")],
    name: Annotated[str, typer.Option("--name", help="What reports call this list.")],
    date: Annotated[
        str | None,
        typer.Option("--date", help="When the list was taken (YYYY-MM-DD; default today)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Add a trust list for this instance (copied into REMPART_HOME/c2pa-trust with its
    date and SHA-256; checked before every use)."""
    added = trust.add_list(pem, name, date)
    if as_json:
        sys.stdout.write(
            json.dumps({"name": added.name, "date": added.date, "sha256": added.sha256}) + "\n"
        )
        return
    out.print(f"Added trust list {safe(added.label())}, SHA-256 {added.sha256}.")


@c2pa_trust_app.command("remove")
def trust_remove_cmd(
    name: Annotated[str, typer.Argument(help="The list's name, as `c2pa-trust list` shows.")],
) -> None:
    """Remove one of this instance's own trust lists."""
    gone = trust.remove_list(name)
    out.print(f"Removed trust list {safe(gone.label())}.")
