"""`rempart serve`: the HTTP API and the web pages."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rempart.cli.core import app, err, fail, open_index, settings


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each holds the index).")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    check_removals_every: Annotated[
        str | None,
        typer.Option(
            help="Fetch the places of every open notice this often (24h, 90m, 2d) and record "
            "what is there (as `rempart notice check --all-due`); one worker runs it. Off "
            "by default."
        ),
    ] = None,
) -> None:
    """Start the HTTP API (docs at /docs, OpenAPI schema at /openapi.json)."""
    import uvicorn

    if workers < 1 or not 0 < port < 65536:
        raise fail("--workers must be at least 1 and --port between 1 and 65535")
    if check_removals_every is not None:
        from rempart.cases.removal_schedule import parse_every

        parse_every(check_removals_every)  # a bad interval stops here, named
        os.environ["REMPART_CHECK_REMOVALS_EVERY"] = check_removals_every
    # Every worker process reads its settings from the environment.
    os.environ["REMPART_DB"] = settings().db_url
    os.environ["REMPART_HOME"] = str(settings().home)
    database, index = open_index()  # migrate once, before the workers start
    # Nothing is served before the keys are sound and every withdrawal the ledger records
    # is applied (a restored older database): rempart.ops, docs/operations.md.
    from rempart.ops import keys as ops_keys
    from rempart.store import withdrawal_ledger

    ops_keys.check(settings().home, database)
    again = withdrawal_ledger.enforce(index, settings().home, reason="serve")
    if again.changed:
        err.print(
            f"Withdrawal ledger re-applied: {again.bank_entries} bank entries, "
            f"{again.face_templates} face templates removed, {again.cases} case(s) marked "
            "withdrawn again (recorded in the audit log).",
            highlight=False,
        )
    err.print(
        f"Rempart API on http://{host}:{port} ({workers} worker(s)); "
        f"documentation at http://{host}:{port}/docs",
        highlight=False,
    )
    uvicorn.run(
        "rempart.server:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,  # X-Forwarded-For: see access/proxies.py
        proxy_headers=False,
        # uvicorn's httptools protocol writing each answer's head and body in one write
        # (rempart.api.httpproto; issue 22 item 3)
        http=os.environ.get("REMPART_HTTP_PROTOCOL")
        or "rempart.api.httpproto:OneWriteHttpToolsProtocol",
    )
