"""`rempart apikey ...`: API keys for the HTTP API (create, list, revoke)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import apikey_app, err, open_database, out
from rempart.lazy import lazy_module
from rempart.textsafe import safe, safe_or_empty

keys = lazy_module("rempart.access.keys")
# = rempart.api.settings.ROLES (a test checks), here so that building the command line does
# not import the API's modules (start-up)
ROLES = ("admin", "caseworker", "platform", "victim", "partner")


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    tenant: Annotated[
        str | None,
        typer.Option(help="The caseworker's organisation or the platform (created if new)."),
    ] = None,
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
    rate: Annotated[
        float | None, typer.Option(help="Requests per second (default: the role's).")
    ] = None,
) -> None:
    """Create an API key. The key is printed once: Rempart keeps only its SHA-256."""

    key, info = keys.issue_key(open_database(), role, tenant, label=label, rate_limit=rate)
    err.print(
        f"Created {safe(role)} key {info.key_id}"
        + (f" for {safe(tenant)}" if tenant else "")
        + ". The key (shown only now):",
        highlight=False,
    )
    out.print(key, highlight=False)


@apikey_app.command("list")
def apikey_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """API keys: id, role, tenant, whether revoked (never the keys)."""
    with open_database().session() as s:
        rows = keys.list_keys(s)
    if fmt == "json":
        out.print_json(json.dumps([asdict(k) for k in rows], default=str))
        return
    table = Table("key id", "role", "tenant", "label", "rate/s", "created", "revoked")
    for k in rows:
        table.add_row(
            safe(k.key_id),
            safe(k.role),
            safe_or_empty(k.tenant),
            safe(k.label),
            f"{k.rate_limit:g}" if k.rate_limit else "default",
            k.created_at.isoformat(timespec="seconds"),
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    out.print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="The key id (8 hex).")]) -> None:
    """Revoke a key: refused by running servers within seconds."""

    keys.withdraw_key(open_database(), key_id)
    err.print(f"Revoked key {safe(key_id)}.", highlight=False)
