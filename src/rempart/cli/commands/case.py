"""`rempart case ...`: withdraw (all of a case, or some of its hashes or face templates),
open, show, status (hers), set-status, withdrawals (records for partners), trust-source,
close, assign (to an organisation)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rempart.cli.core import case_app, err, open_database, open_index, out, settings
from rempart.lazy import lazy_module
from rempart.textsafe import plain, plain_lines, safe, safe_or_empty

if TYPE_CHECKING:
    pass

records = lazy_module("rempart.store.records")
returns = lazy_module("rempart.cases.returns")
self_opened = lazy_module("rempart.cases.self_opened")
self_settings = lazy_module("rempart.cases.self_settings")
stats = lazy_module("rempart.cases.stats")
withdrawal = lazy_module("rempart.cases.withdrawal")
workflow = lazy_module("rempart.cases.workflow")
# = rempart.cases.workflow.STATES (a test checks), for `case set-status`'s help
CASE_STATES = ("open", "reviewing", "notices-sent", "monitoring", "closed", "withdrawn")


@case_app.command("withdraw")
def case_withdraw(
    number: Annotated[str, typer.Argument(help="Case number.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    item: Annotated[
        list[int] | None,
        typer.Option("--item", help="Withdraw only this bank entry (repeatable)."),
    ] = None,
    template: Annotated[
        list[int] | None,
        typer.Option("--template", help="Withdraw only this face template (repeatable)."),
    ] = None,
) -> None:
    """Withdraw a case (or some of its hashes or face templates): delete them from every bank
    and index, for real; a one-way withdrawal record is kept for partners."""
    _, bank_index = open_index()
    if item or template:
        some = withdrawal.withdraw_items(
            bank_index, settings().home, number, item or [], template or []
        )
        err.print(
            f"Withdrawn from case {safe(number)}: {len(some.bank_entries)} bank "
            f"entr(y/ies), {len(some.face_templates)} face template(s).",
            highlight=False,
        )
        return
    if not yes:
        typer.confirm(f"Delete every hash of case {plain(number)} from every bank?", abort=True)
    done = withdrawal.withdraw_case(bank_index, settings().home, number)
    err.print(
        f"Case {safe(number)} withdrawn: its hashes were deleted from every bank and index"
        + (f", and its {done.face_templates} face template(s)" if done.face_templates else "")
        + ".",
        highlight=False,
    )


@case_app.command("open")
def case_open(number: Annotated[str, typer.Argument(help="Case number, e.g. CASE-123.")]) -> None:
    """Open a case and print its secret once: give it to her, with the case number."""
    secret = workflow.open_case(open_database(), number)
    err.print(
        f"Case {safe(number)} opened. Her secret (shown only now; Rempart keeps "
        "only a hash of it):",
        highlight=False,
    )
    out.print(secret)


@case_app.command("show")
def case_show(
    number: Annotated[str, typer.Argument(help="Case number.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """A case for the caseworker: status and its history, what is registered and found."""
    v = workflow.view(open_database(), number)
    if fmt == "json":
        out.print_json(json.dumps(asdict(v)))
        return
    out.print(f"Case {safe(v.number)}: {safe(v.status)} (opened {v.created_at})", highlight=False)
    out.print(
        f"Registered: {v.bank_items} hash entries, {v.face_templates} face "
        f"templates. Matches: {stats.counts_text(v.matches)}. Confirmed by "
        f"place: {safe(stats.counts_text(v.platforms))}",
        highlight=False,
    )
    if v.trusted_sources:
        out.print("Trusted sources (hers): " + ", ".join(safe(t) for t in v.trusted_sources))
    table = Table("when", "by", "from", "to", "note", title="History")
    for h in v.history:
        table.add_row(
            safe(h["at"]),
            safe(h["by"]),
            safe_or_empty(h["from"]),
            safe(h["to"]),
            safe_or_empty(h["note"]),
        )
    out.print(table)


@case_app.command("status")
def case_status(
    number: Annotated[str, typer.Argument(help="Her case number.")],
    secret: Annotated[str, typer.Option(help="Her secret.", prompt=True, hide_input=True)],
) -> None:
    """What she may see of her case: counts and platforms, never images."""
    info = workflow.victim_status(open_database(), number, secret)
    out.print_json(json.dumps(info))


@case_app.command("set-status")
def case_set_status(
    number: Annotated[str, typer.Argument(help="Case number.")],
    status: Annotated[str, typer.Argument(help=", ".join(CASE_STATES))],
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Move a case to another status (recorded with who, when and why)."""
    workflow.set_status(open_database(), number, status, note)
    err.print(f"Case {number}: {status}", highlight=False)


@case_app.command("withdrawals")
def case_withdrawals(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write them here.")] = None,
) -> None:
    """Withdrawal records for partners: SHA-256 of each withdrawn hash (the hash itself
    is gone); a partner removes any hash whose SHA-256 is listed."""
    rows = records.withdrawal_records(open_database())
    doc = json.dumps({"format": "rempart-withdrawals", "version": 1, "items": rows}, indent=2)
    if out_file is not None:
        out_file.write_text(doc + "\n", encoding="utf-8")
    else:
        out.print(plain_lines(doc), highlight=False, markup=False)


@case_app.command("trust-source")
def case_trust_source(
    number: Annotated[str, typer.Argument(help="Case number.")],
    source: Annotated[
        str,
        typer.Argument(
            help="Her own or a trusted place: a folder or file, a URL prefix, or telegram:CHAT_ID."
        ),
    ],
    remove: Annotated[bool, typer.Option("--remove", help="No longer trusted.")] = False,
) -> None:
    """Mark a place as hers or trusted for a case (e.g. her folder of originals): her
    content found there never counts as removed content that came back."""
    value = returns.trust_source(open_database(), number, source, remove=remove)
    err.print(
        f"Case {safe(number)}: {safe(value)} is "
        f"{'no longer' if remove else 'now'} a trusted source",
        highlight=False,
    )


@case_app.command("close")
def case_close(
    number: Annotated[str, typer.Argument(help="Case number.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Close a case (it reopens if her content is found again)."""
    case_set_status(number, "closed", note)


@case_app.command("assign")
def case_assign(
    number: Annotated[str, typer.Argument(help="Case number.")],
    tenant: Annotated[str, typer.Option(help="The organisation (created if new).")],
) -> None:
    """Give a case to an organisation: its caseworkers' API keys may then see it."""
    records.assign_case(open_database(), number, tenant)
    err.print(f"Case {safe(number)} now belongs to {safe(tenant)}.", highlight=False)


@case_app.command("new-secret")
def case_new_secret(number: Annotated[str, typer.Argument(help="Case number.")]) -> None:
    """Give her a new secret (she lost hers, or someone else may know it): the old one
    stops working at once, her open sessions on the case page end; printed once."""
    secret = workflow.give_new_secret(open_database(), number)
    err.print(
        f"Case {safe(number)}: new secret (shown only now; the old one no longer works):",
        highlight=False,
    )
    out.print(secret)


@case_app.command("self-opened")
def case_self_opened(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Cases people opened themselves on the case page that no caseworker has taken yet
    (the operator sees every organisation's; the web UI shows a caseworker her own)."""
    rows = self_opened.self_opened_cases(open_database())
    if fmt == "json":
        out.print_json(json.dumps([asdict(r) for r in rows]))
        return
    table = Table("case", "opened", "hashes waiting", "status")
    for r in rows:
        table.add_row(safe(r.case), r.opened_at, str(r.hashes_waiting), r.status)
    out.print(table)
    err.print(f"{len(rows)} self-opened case(s) waiting for a caseworker.", highlight=False)


@case_app.command("take")
def case_take(number: Annotated[str, typer.Argument(help="Case number.")]) -> None:
    """Take a self-opened case (a caseworker has seen it): it leaves the separate list and
    the hash files she sent are imported into the intake bank (matched from now on). The
    case keeps the organisation it belongs to (see page-settings --intake-organisation)."""
    _, bank_index = open_index()
    done = self_opened.take_case(self_settings.direct(bank_index), number)
    err.print(
        f"Case {safe(number)} taken: {done.imported_files} held file(s) imported, "
        f"{done.added} hash(es) added to the intake bank.",
        highlight=False,
    )


@case_app.command("page-settings")
def case_page_settings(
    self_open: Annotated[
        bool | None,
        typer.Option("--self-open/--no-self-open", help="May people open cases themselves?"),
    ] = None,
    intake_bank: Annotated[
        str | None, typer.Option(help="The bank what people send goes to (created if new).")
    ] = None,
    act_before_review: Annotated[
        bool | None,
        typer.Option(
            "--act-before-review/--review-first",
            help="Match what she sends at once, or hold it until a caseworker takes the case.",
        ),
    ] = None,
    intake_organisation: Annotated[
        str | None,
        typer.Option(
            help="On a server several organisations share: the organisation (an existing "
            "one) self-opened cases belong to from the start; only its caseworkers see and "
            "take them. '' unsets it (one organisation: any caseworker sees them).",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Show or change the organisation's settings for the case page (audited)."""
    db = open_database()
    changes = (self_open, intake_bank, act_before_review, intake_organisation)
    if all(c is None for c in changes):
        current = self_settings.org_settings(db)
    else:
        current = self_settings.set_org_settings(
            db,
            self_open=self_open,
            intake_bank=intake_bank,
            act_before_review=act_before_review,
            intake_organisation=intake_organisation,
        )
    if fmt == "json":
        out.print_json(json.dumps(current.to_json()))
        return
    out.print(f"self-open: {'yes' if current.self_open else 'no'}", highlight=False)
    out.print(f"intake bank: {safe(current.intake_bank)}", highlight=False)
    out.print(f"act before review: {'yes' if current.act_before_review else 'no'}", highlight=False)
    org = current.intake_organisation
    out.print(f"intake organisation: {safe(org) if org else '(none)'}", highlight=False)
