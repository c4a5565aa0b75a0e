"""`rempart evidence ...`: signed evidence packages (export, verify), the keys trusted to
sign them, this instance's signing key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rempart.cli.core import err, evidence_app, fail, open_database, out, settings, trust_app
from rempart.lazy import lazy_module
from rempart.textsafe import safe

# imported by the commands that use them (cryptography: start-up)
evidence = lazy_module("rempart.cases.evidence")
media_rules = lazy_module("rempart.cases.media_rules")
audit = lazy_module("rempart.store.audit")


@evidence_app.command("export")
def evidence_export(
    ref: Annotated[str, typer.Argument(help="A confirmed match, e.g. m12 (rempart review).")],
    out_file: Annotated[Path, typer.Option("--out", help="The package to write (.zip).")],
    include_media: Annotated[
        bool,
        typer.Option(
            "--include-media",
            help="Add the media file as found (only where REMPART_EVIDENCE_MEDIA=allowed).",
        ),
    ] = False,
) -> None:
    """Write a signed evidence package for a confirmed match."""
    allowed = media_rules.evidence_media_allowed(settings().policy)
    try:
        manifest = evidence.export_package(
            open_database(),
            settings().home,
            ref,
            out_file,
            include_media=include_media,
            media_allowed=allowed,
        )
    except OSError as exc:
        raise fail(str(exc)) from exc
    key = evidence.public_key_hex(evidence.signing_key(settings().home))
    err.print(
        f"Wrote {out_file}: {len(manifest['files'])} file(s), signed "
        f"(key {evidence.fingerprint(key)})",
        highlight=False,
    )


@evidence_app.command("export-room")
def evidence_export_room(
    room: Annotated[
        str,
        typer.Argument(
            help="The room: its key, a name or its chat id (every export of that chat), "
            "as `rempart rooms` lists them."
        ),
    ],
    out_file: Annotated[Path, typer.Option("--out", help="The package to write (.zip).")],
) -> None:
    """Write a signed evidence package for a room: every confirmed match found in it with
    its provenance, the room's timeline and its links to other rooms (no media)."""
    room_evidence = lazy_module("rempart.cases.room_evidence")
    try:
        manifest = room_evidence.export_room(open_database(), settings().home, room, out_file)
    except OSError as exc:
        raise fail(str(exc)) from exc
    key = evidence.public_key_hex(evidence.signing_key(settings().home))
    err.print(
        f"Wrote {safe(str(out_file))}: {manifest['rooms']} room(s), "
        f"{manifest['confirmed_matches']} confirmed match(es), "
        f"{len(manifest['files'])} file(s), signed (key {evidence.fingerprint(key)})",
        highlight=False,
    )


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
    trusted = evidence.trusted_keys(settings().home)
    check = evidence.verify_package(package, public_key, trusted)
    if not check.ok:
        for problem in check.problems:
            err.print(f"[bold red]not intact:[/] {safe(problem)}", highlight=False)
        raise typer.Exit(1)
    err.print(
        f"{safe(str(package))}: intact. {check.files} file(s) match the signed manifest.",
        highlight=False,
    )
    err.print(f"Signed by key {check.public_key}", highlight=False)
    if check.trusted:
        err.print(f"Signer trusted: {safe(check.trust)}.", highlight=False)
        return
    err.print(
        "[bold red]signature valid, signer UNKNOWN:[/] this key is not this "
        "instance's signing key nor a trusted one, so anyone could have made this "
        "package. If you know the key is genuine (ask its owner for the output of "
        "`rempart evidence public-key`), run `rempart evidence trust add KEY`.",
        highlight=False,
    )
    raise typer.Exit(1)


@trust_app.command("add")
def evidence_trust_add(
    key: Annotated[
        str,
        typer.Argument(
            help="Public key (hex), as `rempart evidence public-key` "
            "prints it on the signing instance."
        ),
    ],
    label: Annotated[str, typer.Option(help="Whose key it is.")] = "",
) -> None:
    """Trust evidence packages signed by this key."""
    pub = evidence.trust_add(settings().home, key, label)
    with open_database().session() as s:
        audit.record(s, "evidence-trust-add", details={"public_key": pub, "label": label})
    err.print(f"Trusted: {pub}", highlight=False)


@trust_app.command("remove")
def evidence_trust_remove(
    key: Annotated[str, typer.Argument(help="A key added with `evidence trust add`.")],
) -> None:
    """Stop trusting a key added with `evidence trust add`."""
    pub = evidence.normal_key(key)
    evidence.trust_remove(settings().home, pub)
    with open_database().session() as s:
        audit.record(s, "evidence-trust-remove", details={"public_key": pub})
    err.print(f"No longer trusted: {pub}", highlight=False)


@trust_app.command("list")
def evidence_trust_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Every trusted signer's key, and why it is trusted."""
    keys = evidence.trusted_keys(settings().home)
    if fmt == "json":
        out.print_json(json.dumps([{"public_key": k, "trusted_as": v} for k, v in keys.items()]))
        return
    table = Table("public key", "trusted as")
    for k, v in keys.items():
        table.add_row(k, safe(v))
    out.print(table)


@evidence_app.command("rotate-key")
def evidence_rotate_key() -> None:
    """Make a new signing key; the old one stays trusted here for packages it signed."""
    old, new = evidence.rotate_key(settings().home)
    with open_database().session() as s:
        audit.record(s, "evidence-key-rotate", details={"old": old, "new": new})
    err.print(f"New signing key: {new}" + (f" (retired: {old})" if old else ""), highlight=False)


@evidence_app.command("public-key")
def evidence_public_key() -> None:
    """Print this installation's evidence-signing public key (hex), to give to verifiers."""
    key = evidence.signing_key(settings().home)
    out.print(evidence.public_key_hex(key))
