"""`rempart keys status` and `rempart keys rotate --templates|--media|--signing`.

The work is rempart.ops.keys's; these commands print what it returns (a table, or JSON
with --json). A missing key or one open to other users is a refusal naming it (exit 1).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import err, fail, keys_app, open_database, out, settings
from rempart.lazy import lazy_module
from rempart.textsafe import safe

ops_keys = lazy_module("rempart.ops.keys")
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@keys_app.command("status")
def keys_status(as_json: Json = False) -> None:
    """Every key: what it is for, where, its fingerprint (never the key), its permissions,
    and any problem (exit code 1 when a needed key is missing or one is open to others)."""
    found = ops_keys.status(settings().home, open_database())
    problems = [k for k in found if k.problem]
    if as_json:
        out.print_json(json.dumps({"keys": [k.as_dict() for k in found], "ok": not problems}))
    else:
        table = Table("key", "for", "where", "fingerprint", "mode", "status")
        for k in found:
            state = "not made yet (made on first use)" if not k.exists else "ok"
            if k.problem:
                state = f"[red]{safe(k.problem)}[/]"
            elif k.protects:
                state += f" ({k.protects} protected)"
            table.add_row(
                k.name,
                safe(k.purpose),
                safe(k.path),
                k.fingerprint or "-",
                k.mode or "-",
                state,
            )
        out.print(table)
    if problems:
        raise typer.Exit(1)


@keys_app.command("rotate")
def keys_rotate(
    templates: Annotated[
        bool, typer.Option("--templates", help="Re-encrypt every face template under a new key.")
    ] = False,
    media: Annotated[
        bool, typer.Option("--media", help="Re-encrypt every preserved media file under a new key.")
    ] = False,
    signing: Annotated[
        bool,
        typer.Option("--signing", help="A new evidence signing key (the old one stays trusted)."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Replace a key; what it protects is re-encrypted first, the old key kept until then."""
    if not (templates or media or signing):
        raise fail("say which key to rotate: --templates, --media and/or --signing")
    home = settings().home
    database = open_database()
    done = []
    if templates:
        done.append(ops_keys.rotate_templates(database, home))
    if media:
        done.append(ops_keys.rotate_media(database, home))
    if signing:
        done.append(ops_keys.rotate_signing(database, home))
    if as_json:
        out.print_json(json.dumps({"rotated": [r.as_dict() for r in done]}))
        return
    for r in done:
        what = f", {r.reencrypted} re-encrypted" if r.key != "signing" else ""
        err.print(
            f"Rotated the {r.key} key: {r.old_fingerprint or '(none)'} -> "
            f"{r.new_fingerprint}{what}.",
            highlight=False,
        )
