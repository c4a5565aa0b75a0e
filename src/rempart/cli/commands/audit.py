"""`rempart audit ...`: list the audit log's entries, verify its chain."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import audit_app, err, open_database, out, settings
from rempart.lazy import lazy_module
from rempart.textsafe import safe, safe_or_empty

audit = lazy_module("rempart.store.audit")
records = lazy_module("rempart.store.records")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check that no audit entry was changed or deleted (exit code 1 if one was)."""
    database = open_database()
    verdict = audit.verify(database, settings().home)
    if verdict.ok:
        err.print(f"Audit log intact: {verdict.entries} entries, chain verified.")
        return
    for problem in verdict.problems:
        err.print(f"[bold red]tampered:[/] {safe(problem)}", highlight=False)
    raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Audit entries, oldest first."""
    rows = [
        (e.id, e.at, e.actor, e.action, e.case, e.details)
        for e in records.audit_entries(open_database(), case)
    ]
    if fmt == "json":
        out.print_json(
            json.dumps(
                [
                    {
                        "id": i,
                        "at": at,
                        "actor": who,
                        "action": what,
                        "case": c,
                        "details": json.loads(d),
                    }
                    for i, at, who, what, c, d in rows
                ]
            )
        )
        return
    table = Table("#", "when", "who", "action", "case", "details")
    for i, at, who, what, c, d in rows:
        table.add_row(str(i), safe(at[:19]), safe(who), safe(what), safe_or_empty(c), safe(d[:80]))
    out.print(table)
