"""`rempart notice ...`: takedown notices (create, mark what happened, list those due)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import (
    EXIT_SKIPPED,
    err,
    fail,
    notice_app,
    open_database,
    out,
    progress_bar,
    settings,
)
from rempart.lazy import lazy_module
from rempart.textsafe import plain_lines, safe

notices = lazy_module("rempart.cases.notices")
removal_check = lazy_module("rempart.cases.removal_check")
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
    state_ai: Annotated[
        bool,
        typer.Option(
            "--state-ai",
            help="Say, for each match with a strong synthetic-media signal (C2PA, XMP, "
            "generator metadata, an altered copy of her photo), that it was generated or "
            "altered with AI, with the evidence. Weak and fragile signals are never stated.",
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
        state_ai=state_ai,
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


@notice_app.command("check")
def notice_check(
    notice_ids: Annotated[
        list[int] | None, typer.Argument(help="Notice numbers (N-12 is 12) to check.")
    ] = None,
    all_due: Annotated[
        bool,
        typer.Option("--all-due", help="Check every open notice (sent, acknowledged, no answer)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    allow_network: Annotated[
        list[str] | None,
        typer.Option(help="Let the check fetch from this private network (CIDR), e.g. a lab."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds for one address, redirects and body included.")
    ] = 60.0,
    pace: Annotated[
        float, typer.Option(help="Seconds at least between two fetches from one host.")
    ] = 2.0,
) -> None:
    """Fetch the places notices name and record what is there: up (the same content),
    gone (404/410, a removal page), changed, unreachable (tried again next time), unknown.
    A notice whose places are all gone is marked removed (verified); content still up
    makes its re-notice due. Exit code 3 when a place was unreachable or a notice unknown."""
    import ipaddress
    from dataclasses import replace

    if not notice_ids and not all_due:
        raise fail("name the notices to check (rempart notice check 12 13) or give --all-due")
    if timeout <= 0 or pace < 0:
        raise fail("--timeout must be more than 0 and --pace at least 0")
    try:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow_network or ())
    except ValueError as exc:
        raise fail(f"--allow-network: {exc}") from exc
    options = replace(
        removal_check.CHECK_OPTIONS,
        allowed_networks=networks,
        deadline=timeout,
        read_timeout=min(timeout, removal_check.CHECK_OPTIONS.read_timeout),
        connect_timeout=min(timeout, removal_check.CHECK_OPTIONS.connect_timeout),
    )
    with progress_bar() as progress:
        task = progress.add_task("Checking", total=None, current="")

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = removal_check.check_notices(
            open_database(),
            settings().home,
            notice_ids,
            all_due=all_due,
            options=options,
            pace=pace,
            progress=step,
        )
    if as_json:
        out.print_json(json.dumps(result.as_dict(), default=str))
    else:
        table = Table("notice", "place", "outcome", "why", "HTTP", "SHA-256 of the answer")
        for n in result.notices:
            if not n.places:
                table.add_row(f"N-{n.notice}", "", "", safe(n.note), "", "")
            for p in n.places:
                table.add_row(
                    f"N-{n.notice}",
                    safe(p.url),
                    p.outcome,
                    safe(p.reason),
                    str(p.http_status or ""),
                    (p.body_sha256 or "")[:16],
                )
        out.print(table)
        for n in result.notices:
            if n.removal_verified:
                err.print(f"N-{n.notice}: every place gone: marked removed (verified by fetch)")
            elif n.renotice_due:
                err.print(f"N-{n.notice}: content still up: the re-notice is due now")
        counts = result.counts()
        err.print(
            f"Checked {len(result.notices)} notice(s): "
            + (", ".join(f"{k} {v}" for k, v in counts.items()) or "no place fetched"),
            highlight=False,
        )
    for problem in result.problems:
        err.print(f"[yellow]{safe(problem)}[/]")
    if result.unreachable or result.problems:
        if not as_json:
            err.print("Unreachable places are tried again at the next check.")
        raise typer.Exit(EXIT_SKIPPED)


# ---- e-mail (rempart.cases.mail_settings, mail_letter, mailer) -------------------------

mail_settings = lazy_module("rempart.cases.mail_settings")
mail_letter = lazy_module("rempart.cases.mail_letter")
mailer = lazy_module("rempart.cases.mailer")
smtp_app = typer.Typer(
    help="The SMTP server notices leave by (per organisation; the password kept encrypted).",
    no_args_is_help=True,
)
notice_app.add_typer(smtp_app, name="smtp")
OrganisationOption = Annotated[
    str,
    typer.Option(
        "--organisation", help="Whose settings (a tenant's name; default: this instance's)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _smtp_password(path: Path | None, prompt: bool) -> str | None:
    """The password from a file (first line) or a hidden prompt; never from the command
    line. None: keep the one kept."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read the password file {safe(str(path))}: {exc}") from exc
        return text.splitlines()[0] if text.strip() else ""
    if prompt:
        return str(typer.prompt("SMTP password", hide_input=True, err=True))
    return None


def _show_smtp(cfg: object, as_json: bool) -> None:
    d = cfg.as_dict()  # type: ignore[attr-defined]
    if as_json:
        out.print_json(json.dumps(d, default=str))
        return
    d["organisation"] = d["organisation"] or "(this instance)"
    for key in ("organisation", "host", "port", "security", "username", "from_address"):
        out.print(f"{key}: {safe(str(d[key]))}", highlight=False, markup=False)
    out.print(f"reply_to: {safe(d['reply_to'])}", highlight=False, markup=False)
    out.print(
        "password: " + ("kept (encrypted)" if d["has_password"] else "none"),
        highlight=False,
        markup=False,
    )


@smtp_app.command("set")
def smtp_set(
    host: Annotated[str, typer.Option("--host", help="The SMTP server's host name.")],
    from_address: Annotated[
        str, typer.Option("--from", help="The From address, e.g. 'Helpline <notices@org.example>'.")
    ],
    port: Annotated[
        int | None, typer.Option(help="Port (default: 587 starttls, 465 tls, 25 none).")
    ] = None,
    security: Annotated[str, typer.Option(help="starttls (default), tls or none.")] = "starttls",
    user: Annotated[str, typer.Option("--user", help="The user name to sign in with.")] = "",
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from this file (else a hidden prompt when --user)."),
    ] = None,
    keep_password: Annotated[
        bool, typer.Option("--keep-password", help="Keep the password already kept.")
    ] = False,
    reply_to: Annotated[str, typer.Option("--reply-to", help="The Reply-To address.")] = "",
    organisation: OrganisationOption = "",
    as_json: JsonOption = False,
) -> None:
    """Keep the SMTP settings notices leave by (the password encrypted under the mail key,
    never shown again)."""
    password = None if keep_password else _smtp_password(password_file, bool(user))
    if password is None and not user and not keep_password:
        password = ""  # no user: no password kept
    cfg = mail_settings.set_settings(
        open_database(),
        settings().home,
        organisation=organisation,
        host=host,
        port=port,
        security=security,
        username=user,
        password=password,
        from_address=from_address,
        reply_to=reply_to,
    )
    _show_smtp(cfg, as_json)
    if not as_json:
        err.print("SMTP settings kept; check them with `rempart notice smtp test`.")


@smtp_app.command("show")
def smtp_show(organisation: OrganisationOption = "", as_json: JsonOption = False) -> None:
    """The SMTP settings (never the password: only whether one is kept)."""
    cfg = mail_settings.get_settings(open_database(), organisation)
    if cfg is None:
        raise fail(f"no SMTP settings for {safe(organisation) or 'this instance'}")
    _show_smtp(cfg, as_json)


@smtp_app.command("test")
def smtp_test(
    organisation: OrganisationOption = "",
    timeout: Annotated[float, typer.Option(help="Seconds for each exchange.")] = 30.0,
) -> None:
    """Connect, verify TLS, sign in and say NOOP: sends nothing."""
    answer = mailer.check_server(open_database(), settings().home, organisation, timeout=timeout)
    err.print(f"The SMTP server answered: {safe(answer)}", highlight=False, markup=False)


@notice_app.command("preview")
def notice_preview(
    notice_id: Annotated[int, typer.Argument(help="Notice number (N-12 is 12).")],
    as_json: JsonOption = False,
) -> None:
    """The exact message a notice leaves as (headers and body), or, for a platform that
    takes a web form, the letter and the form's address to copy."""
    p = mail_letter.build(open_database(), settings().home, notice_id)
    if as_json:
        out.print_json(json.dumps(p.as_dict(), default=str))
        return
    if not p.by_email:
        err.print(
            f"{safe(p.platform)} takes notices through a web form: copy the letter into "
            f"{safe(p.form_url or '')}",
            highlight=False,
            markup=False,
        )
    out.print(plain_lines(p.as_text()), highlight=False, markup=False)


@notice_app.command("send")
def notice_send(
    notice_id: Annotated[int, typer.Argument(help="Notice number (N-12 is 12).")],
    yes: Annotated[bool, typer.Option("--yes", help="Send without asking.")] = False,
    again: Annotated[
        bool, typer.Option("--again", help="Send even if it left minutes ago (10 min guard).")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds for each exchange.")] = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Send a notice by e-mail: show the message, ask, send, record it and mark the notice
    sent. A web-form platform: nothing is sent; the letter and the form's address are
    shown to copy (exit code 1)."""
    db, home = open_database(), settings().home
    p = mail_letter.build(db, home, notice_id)
    if not as_json or not yes:
        (err if as_json else out).print(plain_lines(p.as_text()), highlight=False, markup=False)
    if not p.by_email:
        if as_json:
            out.print_json(json.dumps(mailer.send(db, home, notice_id).as_dict(), default=str))
        raise fail(
            f"{safe(p.platform)} takes notices through a web form, not e-mail: copy the letter "
            f"above into {safe(p.form_url or '')}, then run `rempart notice mark {notice_id} sent`"
        )
    if not yes and not typer.confirm(f"Send it to {safe(p.recipient or '')}?", err=True):
        raise fail("not sent")
    result = mailer.send(db, home, notice_id, preview=p, timeout=timeout, again=again)
    if as_json:
        out.print_json(json.dumps(result.as_dict(), default=str))
        return
    err.print(
        f"Notice N-{notice_id} sent to {safe(result.recipient or '')} "
        f"(Message-ID {safe(result.message_id or '')}; the server said: "
        f"{safe(result.answer or '')}); due again in 24 hours unless removed.",
        highlight=False,
        markup=False,
    )
