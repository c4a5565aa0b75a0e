"""`rempart face ...`: enroll a person's face from her ordinary photos, list, export."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rempart.cli.core import EXIT_SKIPPED, err, face_app, fail, open_database, out, settings
from rempart.exchange.consent import ConsentRecord, read_consent
from rempart.lazy import lazy_module
from rempart.textsafe import safe

if TYPE_CHECKING:
    from rempart.faces.detect import FaceFinding

# imported by the commands that use them (numpy, dlib: start-up of every other command)
audit = lazy_module("rempart.store.audit")
face_templates = lazy_module("rempart.store.face_templates")
records = lazy_module("rempart.store.records")
repository = lazy_module("rempart.store.repository")


def _parse_picks(picks: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pick in picks:
        name, _, number = pick.rpartition(":")
        if not name or not number.isdigit() or int(number) < 1:
            raise ValueError(f"--pick {pick!r}: use PHOTO:N (N = 1 for the first face listed)")
        out[name] = int(number)
    return out


def _faces_of(path: Path) -> list[FaceFinding]:
    import numpy as np

    from rempart.faces.detect import ENROLL_DETECTOR, ENROLL_JITTERS, find_faces
    from rempart.media.decode import decode_image, read_file_bytes

    data = read_file_bytes(path)
    picture = decode_image(data, path, reduce_for_hashing=False).image.convert("RGB")
    return find_faces(np.asarray(picture), jitters=ENROLL_JITTERS, detector=ENROLL_DETECTOR)


def _describe(faces: list[FaceFinding]) -> str:
    return "; ".join(
        f"{i}: {f.width} px wide at x {f.box[0]}-{f.box[2]}, y {f.box[1]}-{f.box[3]}"
        + ("" if f.status == "ok" else f" ({f.status})")
        for i, f in enumerate(faces, 1)
    )


def _choose(path: Path, faces: list[FaceFinding], picks: dict[str, int]) -> FaceFinding | str:
    """The face to enroll from a photo, or why none is."""
    if not faces:
        return "no face found"
    pick = picks.get(str(path), picks.get(path.name))
    if pick is None and len(faces) > 1:
        if sys.stdin.isatty():
            err.print(f"{safe(path)} shows {len(faces)} faces: {_describe(faces)}", highlight=False)
            pick = typer.prompt("Which one is hers (number, 0 for none)", type=int)
            if pick == 0:
                return "no face chosen"
        else:
            return (
                f"{len(faces)} faces ({_describe(faces)}): say which one is hers with "
                f"--pick {path.name}:N"
            )
    chosen = faces[(pick or 1) - 1] if (pick or 1) <= len(faces) else None
    if chosen is None:
        return f"--pick asks for face {pick} but only {len(faces)} were found"
    if chosen.status != "ok":
        return f"the face is {chosen.status.replace('-', ' ')}: use a clearer, larger photo"
    return chosen


@face_app.command("enroll")
def enroll_cmd(
    photos: Annotated[list[Path], typer.Argument(help="Her ordinary photos (not intimate).")],
    case: Annotated[str, typer.Option("--case", help="Case number, e.g. CASE-123.")],
    consent: Annotated[
        Path | None, typer.Option(help="Consent record (JSON) for face search.")
    ] = None,
    pick: Annotated[
        list[str] | None,
        typer.Option(help="PHOTO:N, which face is hers in a photo with several (repeatable)."),
    ] = None,
    include_paths: Annotated[
        bool, typer.Option("--include-paths", help="Record each photo's path with its template.")
    ] = False,
) -> None:
    """Compute face templates from her photos and store them (encrypted) under her case.
    The photos themselves are never stored."""
    import numpy as np

    from rempart.media.errors import MediaError
    from rempart.media.kinds import media_kind
    from rempart.store.face_templates import NewTemplate

    try:
        record: ConsentRecord | None = read_consent(consent) if consent else None
        picks = _parse_picks(pick or [])
    except ValueError as exc:
        raise fail(str(exc)) from exc
    templates: list[NewTemplate] = []
    problems: list[str] = []
    for i, path in enumerate(photos, 1):
        if media_kind(path) != "image":
            problems.append(f"{path}: not a photo")
            continue
        try:
            faces = _faces_of(path)
        except MediaError as exc:
            problems.append(str(exc))
            continue
        chosen = _choose(path, faces, picks)
        if isinstance(chosen, str):
            problems.append(f"{path}: {chosen}")
            continue
        assert chosen.template is not None
        source = str(path) if include_paths else f"photo {i} of {len(photos)}"
        templates.append(NewTemplate(np.asarray(chosen.template), source, chosen.width))
    for why in problems:
        err.print(f"[yellow]not enrolled[/] {safe(why)}", highlight=False)
    if not templates:
        raise fail("no face template could be made from these photos")
    database = open_database()
    face_templates.enroll(database, settings().home, case, templates, record)
    err.print(
        f"Enrolled {len(templates)} face template(s) for case {safe(case)} (encrypted; the "
        "photos "
        f"were not stored)" + (f"; {len(problems)} photo(s) not used" if problems else ""),
        highlight=False,
    )
    if problems:
        raise typer.Exit(EXIT_SKIPPED)


@face_app.command("list")
def list_cmd(
    case: Annotated[str | None, typer.Option("--case", help="Only this case.")] = None,
) -> None:
    """Enrolled templates per case (counts and sources; never the templates)."""
    table = Table("case", "template", "source", "face width", "enrolled")
    for t in records.face_template_rows(open_database(), case):
        table.add_row(
            safe(t.case),
            str(t.id),
            safe(t.source),
            str(t.face_width or ""),
            t.created_at.isoformat(timespec="seconds"),
        )
    out.print(table)


@face_app.command("export")
def export_cmd(
    case: Annotated[str, typer.Option("--case", help="Case whose templates to export.")],
    out_file: Annotated[Path, typer.Option("--out", help="Write the templates here.")],
) -> None:
    """Export a case's templates for a partner, only if her consent allows exchange."""
    database = open_database()
    with database.session() as s:
        row = repository.get_case(s, case)
        consent_row = repository.active_consent(s, row) if row else None
        if row is None or consent_row is None:
            raise fail(f"case {case} has no active consent record")
        if not consent_row.allow_exchange:
            raise fail(
                f"case {case}: her consent does not allow exchanging her data "
                "(allow_exchange is false): face templates are not exported"
            )
    loaded = face_templates.load(database, settings().home, [case])
    with database.session() as s:
        audit.record(
            s,
            "face-export",
            case=case,
            details={"templates": len(loaded.ids), "file": str(out_file)},
        )
    document = {
        "format": "rempart-face-templates",
        "version": 1,
        "case": case,
        "model": "dlib_face_recognition_resnet_model_v1",
        "distance": "euclidean",
        "templates": [base64.b64encode(v.astype("<f4").tobytes()).decode() for v in loaded.vectors],
    }
    out_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    err.print(
        f"Exported {len(loaded.ids)} template(s) of case {safe(case)} to {safe(out_file)}",
        highlight=False,
    )
