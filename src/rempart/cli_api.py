"""`rempart serve` (the HTTP API), `rempart apikey create/list/revoke`, `rempart bank
share/unshare` (with a platform) and `rempart case assign` (to an organisation)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from rempart.lazy import lazy_module
from rempart.textsafe import safe, safe_or_empty

keys = lazy_module("rempart.api.keys")
audit = lazy_module("rempart.store.audit")
repository = lazy_module("rempart.store.repository")
# = rempart.api.settings.ROLES (a test checks), here so that building the command line does
# not import the API's modules (start-up)
ROLES = ("admin", "caseworker", "platform", "victim", "partner")

apikey_app = typer.Typer(help="API keys for the HTTP API: create (shown once), list, revoke.",
                         no_args_is_help=True)  # fmt: skip


def _cli():  # noqa: ANN202 (the main CLI module; imported late to avoid a cycle)
    from rempart import cli

    return cli


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each holds the index).")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Start the HTTP API (docs at /docs, OpenAPI schema at /openapi.json)."""
    import uvicorn

    cli = _cli()
    if workers < 1 or not 0 < port < 65536:
        raise cli._fail("--workers must be at least 1 and --port between 1 and 65535")
    # Every worker process reads its settings from the environment.
    os.environ["REMPART_DB"] = cli.state.settings.db_url
    os.environ["REMPART_HOME"] = str(cli.state.settings.home)
    cli.open_database()  # migrate once, before the workers start
    cli.err.print(f"Rempart API on http://{host}:{port} ({workers} worker(s)); "
                  f"documentation at http://{host}:{port}/docs", highlight=False)  # fmt: skip
    uvicorn.run("rempart.api.app:create_app", factory=True, host=host, port=port,
                workers=workers, access_log=access_log, log_level="info",
                timeout_graceful_shutdown=10,  # X-Forwarded-For: see api/proxies.py
                proxy_headers=False)  # fmt: skip


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
    from rempart.store.repository import StoreError

    cli = _cli()
    database = cli.open_database()
    try:
        with database.session() as s:
            key, info = keys.create_key(s, role, tenant, label=label, rate_limit=rate,
                                        created_by=audit.current_actor())  # fmt: skip
            audit.record(s, "apikey-create", details={"key_id": info.key_id, "role": role,
                                                      "tenant": tenant})
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    cli.err.print(f"Created {safe(role)} key {info.key_id}"
                  + (f" for {safe(tenant)}" if tenant else "")
                  + ". The key (shown only now):", highlight=False)  # fmt: skip
    cli.out.print(key, highlight=False)


@apikey_app.command("list")
def apikey_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """API keys: id, role, tenant, whether revoked (never the keys)."""
    cli = _cli()
    with cli.open_database().session() as s:
        rows = keys.list_keys(s)
    if fmt == "json":
        cli.out.print_json(json.dumps([asdict(k) for k in rows], default=str))
        return
    table = Table("key id", "role", "tenant", "label", "rate/s", "created", "revoked")
    for k in rows:
        table.add_row(safe(k.key_id), safe(k.role), safe_or_empty(k.tenant), safe(k.label),
                      f"{k.rate_limit:g}" if k.rate_limit else "default",
                      k.created_at.isoformat(timespec="seconds"),
                      k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "")
    cli.out.print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="The key id (8 hex).")]) -> None:
    """Revoke a key: refused by running servers within seconds."""
    from rempart.store.repository import StoreError

    cli = _cli()
    try:
        with cli.open_database().session() as s:
            keys.revoke_key(s, key_id)
            audit.record(s, "apikey-revoke", details={"key_id": key_id})
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    cli.err.print(f"Revoked key {safe(key_id)}.", highlight=False)


def register_api_commands(app: typer.Typer, bank_app: typer.Typer, case_app: typer.Typer
                          ) -> None:  # fmt: skip
    app.command("serve")(serve)
    app.add_typer(apikey_app, name="apikey")

    @bank_app.command("share")
    def bank_share(
        name: Annotated[str, typer.Argument(help="Bank.")],
        tenant: Annotated[str, typer.Option(help="The platform (created if new).")],
        stop: Annotated[bool, typer.Option("--stop", help="Stop sharing instead.")] = False,
    ) -> None:
        """Let a platform match against a bank through the API (or stop, with --stop)."""
        from sqlalchemy import select

        from rempart.store.models import BankShare
        from rempart.store.repository import StoreError

        cli = _cli()
        try:
            with cli.open_database().session() as s:
                bank = repository.get_bank(s, name)
                t = keys.get_or_create_tenant(s, tenant, "platform")
                row = s.scalar(select(BankShare).where(BankShare.bank_id == bank.id,
                                                       BankShare.tenant_id == t.id))
                if not stop and row is None:
                    s.add(BankShare(bank_id=bank.id, tenant_id=t.id))
                if stop and row is not None:
                    s.delete(row)
                audit.record(s, "bank-unshare" if stop else "bank-share",
                             details={"bank": name, "tenant": tenant})  # fmt: skip
        except StoreError as exc:
            raise cli._fail(str(exc)) from exc
        cli.err.print(f"Bank {safe(name)} {'no longer ' if stop else ''}shared with "
                      f"{safe(tenant)}.", highlight=False)  # fmt: skip

    @case_app.command("assign")
    def case_assign(
        number: Annotated[str, typer.Argument(help="Case number.")],
        tenant: Annotated[str, typer.Option(help="The organisation (created if new).")],
    ) -> None:
        """Give a case to an organisation: its caseworkers' API keys may then see it."""
        from rempart.store.models import CaseOwner
        from rempart.store.repository import StoreError

        cli = _cli()
        try:
            with cli.open_database().session() as s:
                case = repository.get_case(s, number)
                if case is None:
                    raise StoreError(f"no case {number}")
                t = keys.get_or_create_tenant(s, tenant, "organisation")
                owner = s.get(CaseOwner, case.id)
                if owner is None:
                    s.add(CaseOwner(case_id=case.id, tenant_id=t.id))
                else:
                    owner.tenant_id = t.id
                audit.record(s, "case-assign", case=number, details={"tenant": tenant})
        except StoreError as exc:
            raise cli._fail(str(exc)) from exc
        cli.err.print(f"Case {safe(number)} now belongs to {safe(tenant)}.", highlight=False)
