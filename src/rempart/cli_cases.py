"""`rempart review ...` and `rempart evidence ...`: from a match to proof."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rempart.lazy import lazy_module
from rempart.store.errors import StoreError
from rempart.textsafe import plain_lines, safe, safe_or_empty

if TYPE_CHECKING:
    from rempart.store.db import Database

# imported by the commands that use them (cryptography, PIL, matplotlib: start-up)
evidence = lazy_module("rempart.cases.evidence")
media_rules = lazy_module("rempart.cases.media_rules")
notices = lazy_module("rempart.cases.notices")
preview = lazy_module("rempart.cases.preview")
returns = lazy_module("rempart.cases.returns")
stats = lazy_module("rempart.cases.stats")
workflow = lazy_module("rempart.cases.workflow")
review_queue = lazy_module("rempart.cases.review")
audit = lazy_module("rempart.store.audit")
# = rempart.cases.notices.ORGANISATION (a test checks), the default of `notice write
# --organisation`, here so that building the command line does not import the notices
NOTICE_ORGANISATION = "the helpline"
# = rempart.cases.workflow.STATES (a test checks), for `case set-status`'s help
CASE_STATES = ("open", "reviewing", "notices-sent", "monitoring", "closed", "withdrawn")

review_app = typer.Typer(help="Review matches: confirm, reject, or mark unsure.",
                         no_args_is_help=True)  # fmt: skip


def _cli():  # noqa: ANN202 (the main CLI module; imported late to avoid a cycle)
    from rempart import cli

    return cli


@review_app.command("list")
def review_list(
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    status: Annotated[
        str, typer.Option(help="pending (default), confirmed, not-her, unsure, or all.")
    ] = "pending",
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Matches waiting for a decision (or with the given one)."""
    cli = _cli()
    items = review_queue.queue(cli.open_database(), case=case,
                               status=None if status == "all" else status)  # fmt: skip
    if fmt == "json":
        cli.out.print_json(json.dumps([asdict(i) for i in items]))
        return
    table = Table("match", "status", "case", "kind", "distance", "file", "from", "seen")
    for i in items:
        origin = i.provenance.get("chat") or i.provenance.get("url") or ""
        ref = f"{i.ref} [MINOR?]" if i.possible_minor else i.ref
        table.add_row(safe(ref), safe(i.status), safe_or_empty(i.case), safe(i.kind),
                      i.measure.removeprefix("distance "), safe(Path(i.file).name),
                      safe(origin), f"{i.sightings}x")  # fmt: skip
    cli.out.print(table)
    cli.err.print(f"{len(items)} match(es)")


@review_app.command("decide")
def review_decide(
    ref: Annotated[str, typer.Argument(help="Match reference from `review list`, e.g. m12.")],
    decision: Annotated[str, typer.Argument(help="confirmed, not-her or unsure.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the decision).")] = "",
) -> None:
    """Record a decision on one match (logged in the audit log)."""
    cli = _cli()
    db = cli.open_database()
    try:
        item = review_queue.decide(db, ref, decision, reason)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    cli.err.print(f"{safe(item.ref)}: {safe(item.status)} by {safe(item.reviewed_by)} "
                  f"({safe(item.reason)})", highlight=False)  # fmt: skip
    if decision == "confirmed":
        _preserve(db, item)


def _preserve(db: Database, item: review_queue.ReviewItem) -> None:
    """Keep the media as found, encrypted, where the rules allow it (media_rules)."""
    cli = _cli()
    done = media_rules.preserve_confirmed(db, cli.state.settings.home, item)
    if done == "minor":
        cli.err.print("Media not preserved: it may show a minor.")
    elif done == "unreadable":
        cli.err.print(f"[yellow]Media not preserved:[/] {safe(item.file)} cannot be read now.",
                      highlight=False)
    elif done == "preserved":
        cli.err.print("Media preserved as evidence (encrypted).")


evidence_app = typer.Typer(help="Evidence packages: export (signed ZIP) and verify.",
                           no_args_is_help=True)  # fmt: skip


@evidence_app.command("export")
def evidence_export(
    ref: Annotated[str, typer.Argument(help="A confirmed match, e.g. m12 (rempart review).")],
    out_file: Annotated[Path, typer.Option("--out", help="The package to write (.zip).")],
    include_media: Annotated[
        bool, typer.Option("--include-media", help="Add the media file as found (only where "
                           "REMPART_EVIDENCE_MEDIA=allowed).")
    ] = False,
) -> None:
    """Write a signed evidence package for a confirmed match."""
    cli = _cli()
    allowed = media_rules.evidence_media_allowed()
    try:
        manifest = evidence.export_package(cli.open_database(), cli.state.settings.home, ref,
                                           out_file, include_media=include_media,
                                           media_allowed=allowed)  # fmt: skip
    except (StoreError, OSError) as exc:
        raise cli._fail(str(exc)) from exc
    key = evidence.public_key_hex(evidence.signing_key(cli.state.settings.home))
    cli.err.print(f"Wrote {out_file}: {len(manifest['files'])} file(s), signed "
                  f"(key {evidence.fingerprint(key)})", highlight=False)  # fmt: skip


@evidence_app.command("verify")
def evidence_verify(
    package: Annotated[Path, typer.Argument(help="An evidence package (.zip).")],
    public_key: Annotated[
        str | None, typer.Option(help="Expected signer's public key (hex), if known.")
    ] = None,
) -> None:
    """Check an evidence package: signature, every file against the manifest, and who signed
    it. Accepted (exit 0) only when intact and signed by a trusted key: this instance's
    (current or rotated), one added with `evidence trust add`, or the --public-key given."""
    cli = _cli()
    try:
        trusted = evidence.trusted_keys(cli.state.settings.home)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    check = evidence.verify_package(package, public_key, trusted)
    if not check.ok:
        for problem in check.problems:
            cli.err.print(f"[bold red]not intact:[/] {safe(problem)}", highlight=False)
        raise typer.Exit(1)
    cli.err.print(f"{safe(str(package))}: intact. {check.files} file(s) match the signed "
                  "manifest.", highlight=False)  # fmt: skip
    cli.err.print(f"Signed by key {check.public_key}", highlight=False)
    if check.trusted:
        cli.err.print(f"Signer trusted: {safe(check.trust)}.", highlight=False)
        return
    cli.err.print("[bold red]signature valid, signer UNKNOWN:[/] this key is not this "
                  "instance's signing key nor a trusted one, so anyone could have made this "
                  "package. If you know the key is genuine (ask its owner for the output of "
                  "`rempart evidence public-key`), run `rempart evidence trust add KEY`.",
                  highlight=False)  # fmt: skip
    raise typer.Exit(1)


trust_app = typer.Typer(help="Keys whose evidence packages are trusted (besides this "
                        "instance's own).", no_args_is_help=True)  # fmt: skip
evidence_app.add_typer(trust_app, name="trust")


@trust_app.command("add")
def evidence_trust_add(
    key: Annotated[str, typer.Argument(help="Public key (hex), as `rempart evidence public-key` "
                                            "prints it on the signing instance.")],
    label: Annotated[str, typer.Option(help="Whose key it is.")] = "",
) -> None:
    """Trust evidence packages signed by this key."""
    cli = _cli()
    try:
        pub = evidence.trust_add(cli.state.settings.home, key, label)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    with cli.open_database().session() as s:
        audit.record(s, "evidence-trust-add", details={"public_key": pub, "label": label})
    cli.err.print(f"Trusted: {pub}", highlight=False)


@trust_app.command("remove")
def evidence_trust_remove(
    key: Annotated[str, typer.Argument(help="A key added with `evidence trust add`.")],
) -> None:
    """Stop trusting a key added with `evidence trust add`."""
    cli = _cli()
    try:
        pub = evidence.normal_key(key)
        evidence.trust_remove(cli.state.settings.home, pub)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    with cli.open_database().session() as s:
        audit.record(s, "evidence-trust-remove", details={"public_key": pub})
    cli.err.print(f"No longer trusted: {pub}", highlight=False)


@trust_app.command("list")
def evidence_trust_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Every trusted signer's key, and why it is trusted."""
    cli = _cli()
    try:
        keys = evidence.trusted_keys(cli.state.settings.home)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    if fmt == "json":
        cli.out.print_json(json.dumps([{"public_key": k, "trusted_as": v}
                                       for k, v in keys.items()]))  # fmt: skip
        return
    table = Table("public key", "trusted as")
    for k, v in keys.items():
        table.add_row(k, safe(v))
    cli.out.print(table)


@evidence_app.command("rotate-key")
def evidence_rotate_key() -> None:
    """Make a new signing key; the old one stays trusted here for packages it signed."""
    cli = _cli()
    old, new = evidence.rotate_key(cli.state.settings.home)
    with cli.open_database().session() as s:
        audit.record(s, "evidence-key-rotate", details={"old": old, "new": new})
    cli.err.print(f"New signing key: {new}" + (f" (retired: {old})" if old else ""),
                  highlight=False)  # fmt: skip


@evidence_app.command("public-key")
def evidence_public_key() -> None:
    """Print this installation's evidence-signing public key (hex), to give to verifiers."""
    cli = _cli()
    key = evidence.signing_key(cli.state.settings.home)
    cli.out.print(evidence.public_key_hex(key))


def register_case_commands(case_app: typer.Typer) -> None:
    """`rempart case open/show/status/set-status/close` (withdraw lives in cli.py)."""

    @case_app.command("open")
    def case_open(number: Annotated[str, typer.Argument(help="Case number, e.g. CASE-123.")]
                  ) -> None:  # fmt: skip
        """Open a case and print its secret once: give it to her, with the case number."""
        cli = _cli()
        try:
            secret = workflow.open_case(cli.open_database(), number)
        except StoreError as exc:
            raise cli._fail(str(exc)) from exc
        cli.err.print(f"Case {safe(number)} opened. Her secret (shown only now; Rempart keeps "
                      "only a hash of it):", highlight=False)  # fmt: skip
        cli.out.print(secret)

    @case_app.command("show")
    def case_show(
        number: Annotated[str, typer.Argument(help="Case number.")],
        fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    ) -> None:
        """A case for the caseworker: status and its history, what is registered and found."""
        cli = _cli()
        try:
            v = workflow.view(cli.open_database(), number)
        except StoreError as exc:
            raise cli._fail(str(exc)) from exc
        if fmt == "json":
            cli.out.print_json(json.dumps(asdict(v)))
            return
        cli.out.print(f"Case {safe(v.number)}: {safe(v.status)} (opened {v.created_at})",
                      highlight=False)
        cli.out.print(f"Registered: {v.bank_items} hash entries, {v.face_templates} face "
                      f"templates. Matches: {stats.counts_text(v.matches)}. Confirmed by "
                      f"place: {safe(stats.counts_text(v.platforms))}", highlight=False)
        if v.trusted_sources:
            cli.out.print("Trusted sources (hers): " + ", ".join(safe(t) for t in
                                                              v.trusted_sources))  # fmt: skip
        table = Table("when", "by", "from", "to", "note", title="History")
        for h in v.history:
            table.add_row(safe(h["at"]), safe(h["by"]), safe_or_empty(h["from"]),
                          safe(h["to"]), safe_or_empty(h["note"]))
        cli.out.print(table)

    @case_app.command("status")
    def case_status(
        number: Annotated[str, typer.Argument(help="Her case number.")],
        secret: Annotated[str, typer.Option(help="Her secret.", prompt=True, hide_input=True)],
    ) -> None:
        """What she may see of her case: counts and platforms, never images."""
        cli = _cli()
        try:
            info = workflow.victim_status(cli.open_database(), number, secret)
        except StoreError as exc:
            raise cli._fail(str(exc)) from exc
        cli.out.print_json(json.dumps(info))

    @case_app.command("set-status")
    def case_set_status(
        number: Annotated[str, typer.Argument(help="Case number.")],
        status: Annotated[str, typer.Argument(help=", ".join(CASE_STATES))],
        note: Annotated[str, typer.Option(help="Why.")] = "",
    ) -> None:
        """Move a case to another status (recorded with who, when and why)."""
        cli = _cli()
        try:
            workflow.set_status(cli.open_database(), number, status, note)
        except StoreError as exc:
            raise cli._fail(str(exc)) from exc
        cli.err.print(f"Case {number}: {status}", highlight=False)

    @case_app.command("withdrawals")
    def case_withdrawals(
        out_file: Annotated[Path | None, typer.Option("--out", help="Write them here.")] = None,
    ) -> None:
        """Withdrawal records for partners: SHA-256 of each withdrawn hash (the hash itself
        is gone); a partner removes any hash whose SHA-256 is listed."""
        cli = _cli()
        from sqlalchemy import select

        from rempart.store.models import Withdrawal

        with cli.open_database().session() as s:
            rows = [{"signal_type": w.signal_type, "value_sha256": w.value_sha256,
                     "withdrawn_at": w.withdrawn_at.isoformat(timespec="seconds")}
                    for w in s.scalars(select(Withdrawal).order_by(Withdrawal.id))]  # fmt: skip
        doc = json.dumps({"format": "rempart-withdrawals", "version": 1, "items": rows},
                         indent=2)  # fmt: skip
        if out_file is not None:
            out_file.write_text(doc + "\n", encoding="utf-8")
        else:
            cli.out.print(plain_lines(doc), highlight=False, markup=False)

    @case_app.command("trust-source")
    def case_trust_source(
        number: Annotated[str, typer.Argument(help="Case number.")],
        source: Annotated[str, typer.Argument(help="Her own or a trusted place: a folder or "
                                                   "file, a URL prefix, or telegram:CHAT_ID.")],
        remove: Annotated[bool, typer.Option("--remove", help="No longer trusted.")] = False,
    ) -> None:
        """Mark a place as hers or trusted for a case (e.g. her folder of originals): her
        content found there never counts as removed content that came back."""
        cli = _cli()
        try:
            value = returns.trust_source(cli.open_database(), number, source, remove=remove)
        except StoreError as exc:
            raise cli._fail(str(exc)) from exc
        cli.err.print(f"Case {safe(number)}: {safe(value)} is "
                      f"{'no longer' if remove else 'now'} a trusted source", highlight=False)

    @case_app.command("close")
    def case_close(
        number: Annotated[str, typer.Argument(help="Case number.")],
        note: Annotated[str, typer.Option(help="Why.")] = "",
    ) -> None:
        """Close a case (it reopens if her content is found again)."""
        case_set_status(number, "closed", note)


notice_app = typer.Typer(help="Takedown notices: create, track, re-send.", no_args_is_help=True)


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
        bool, typer.Option("--name-her", help="Name her (her consent record's name) in the "
                           "letter: only when she asked for it. Otherwise the letter names "
                           "only the organisation.")
    ] = False,
) -> None:
    """Write a takedown notice for a case's confirmed matches on one platform."""
    cli = _cli()
    try:
        n = notices.create(cli.open_database(), cli.state.settings.home, case, platform,
                           language=language, refs=match, organisation=organisation,
                           name_her=name_her)  # fmt: skip
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    if out_file is not None:
        out_file.write_text(n.text, encoding="utf-8")
    else:
        cli.out.print(plain_lines(n.text), highlight=False, markup=False)
    cli.err.print(f"Notice N-{n.id} ({len(n.items)} item(s), {n.language}) is a draft: "
                  f"after sending it, run `rempart notice mark {n.id} sent`.")  # fmt: skip
    hotlines = notices.hotlines_for(n, notices.load_data(cli.state.settings.home))
    if hotlines:
        cli.err.print("[bold red]Possible minor:[/] also report to "
                      + "; ".join(f"{h['name']} ({h['contact']})" for h in hotlines),
                      highlight=False)  # fmt: skip


@notice_app.command("mark")
def notice_mark(
    notice_id: Annotated[int, typer.Argument(help="Notice number (N-12 is 12).")],
    status: Annotated[str, typer.Argument(help="sent, acknowledged, removed, refused, "
                                                "no-answer")],
) -> None:
    """Record what happened to a notice."""
    cli = _cli()
    try:
        n = notices.mark(cli.open_database(), notice_id, status)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    extra = f"; due again {n.next_notice_at:%Y-%m-%d %H:%M} UTC" if n.next_notice_at else ""
    cli.err.print(f"Notice N-{n.id}: {n.status}{extra}", highlight=False)


@notice_app.command("list")
def notice_list(
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    due_only: Annotated[bool, typer.Option("--due", help="Only notices due again.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Notices and their status; --due: those to send again (24 h without removal)."""
    cli = _cli()
    db = cli.open_database()
    rows = notices.due(db) if due_only else notices.all_notices(db, case)
    if fmt == "json":
        cli.out.print_json(json.dumps([notices.as_dict(n) for n in rows], default=str))
        return
    table = Table("notice", "platform", "status", "items", "sent", "times", "due again")
    for n in rows:
        table.add_row(f"N-{n.id}", safe(n.platform), safe(n.status), str(len(n.items)),
                      f"{n.sent_at:%Y-%m-%d %H:%M}" if n.sent_at else "", str(n.times_sent),
                      f"{n.next_notice_at:%Y-%m-%d %H:%M}" if n.next_notice_at else "")
    cli.out.print(table)


@review_app.command("flag-minor")
def review_flag_minor(
    ref: Annotated[str, typer.Argument(help="Match reference, e.g. m12.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Flag a match as possibly showing a minor: prioritised, routed to child-protection
    hotlines, media never stored unless the organisation is authorised."""
    cli = _cli()
    try:
        review_queue.flag_minor(cli.open_database(), ref, reason)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    cli.err.print(f"{safe(ref)}: flagged as possibly showing a minor", highlight=False)


@review_app.command("preview")
def review_preview(
    ref: Annotated[str, typer.Argument(help="Match reference, e.g. m12.")],
    out_file: Annotated[Path, typer.Option("--out", help="Write the preview here (.png).")],
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show it unblurred (greyscale); this is logged.")
    ] = False,
) -> None:
    """A blurred greyscale preview of the found picture (or, with --reveal, a clear one)."""
    cli = _cli()
    db = cli.open_database()
    try:
        item = review_queue.get(db, ref)
        preview.show(db, item, out_file, reveal=reveal)
    except StoreError as exc:
        raise cli._fail(str(exc)) from exc
    cli.err.print(f"{'Revealed (logged)' if reveal else 'Blurred preview'}: {safe(out_file)}",
                  highlight=False)


def register_report(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.html + charts.")],
        case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
    ) -> None:
        """Statistics with charts: matches over time, removal rate and median time to
        removal per platform (HTML, PNG and JSON)."""
        cli = _cli()
        data = stats.collect(cli.open_database(), case)
        files = stats.write(data, out_dir)
        cli.err.print(f"Report written: {safe(', '.join(str(f) for f in files))}",
                      highlight=False)
