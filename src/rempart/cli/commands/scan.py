"""`rempart scan` (files, folders, archives, Telegram exports and links against the banks),
`scan report` (the hidden `scan-report`: a finished scan's report again), `rooms` and
`match`."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rempart.cli.core import (
    EXIT_SKIPPED,
    VideoBars,
    app,
    err,
    fail,
    names,
    open_database,
    open_index,
    out,
    progress_bar,
    settings,
    workers_or_cores,
)
from rempart.lazy import lazy_module
from rempart.textsafe import safe, safe_or_empty

if TYPE_CHECKING:
    from rempart.scan.pipeline import ScanOptions, ScanResult
    from rempart.store.db import Database

face_templates = lazy_module("rempart.store.face_templates")
records = lazy_module("rempart.store.records")

# = rempart.scan.face_match.DEFAULT_FACE_DISTANCE (a test checks), here for --help without
# importing the face modules
DEFAULT_FACE_DISTANCE = 0.55
# = rempart.faces.detect's DETECTORS, DEFAULT_DETECTOR and DEFAULT_CNN_SECONDS (a test checks)
FACE_DETECTORS = ("hog", "hog+cnn", "cnn")
DEFAULT_FACE_DETECTOR = "hog+cnn"
DEFAULT_FACE_CNN_SECONDS = 600.0


def _short(path: str) -> str:
    """A path relative to the current folder when it is under it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _print_summary(result: ScanResult, report: Path | None) -> None:
    from rempart.scan.report import describe_area, describe_where

    table = Table(title=f"Scan {result.scan_id}", show_header=False)
    table.add_row("files", str(result.files))
    table.add_row("hashed", str(result.hashed))
    if result.videos:
        table.add_row("of which videos", str(result.videos))
    table.add_row("files with matches", str(result.matched_files))
    table.add_row("matches", str(len(result.matches)))
    table.add_row("too little detail to hash", str(len(result.low_quality)))
    table.add_row("skipped", str(len(result.skipped)))
    if result.not_exported:
        table.add_row("not in the export (Telegram)", str(len(result.not_exported)))
    if result.from_cache:
        table.add_row("known content (hashes reused)", str(result.from_cache))
    if result.synthetic:  # evidence, never a verdict: none found is not "real"
        table.add_row("with a synthetic-media signal", str(len(result.synthetic)))
    if result.resumed_items:
        table.add_row("already done before resuming", str(result.resumed_items))
    if result.faces_looked:
        table.add_row("faces found", str(result.faces_found))
        table.add_row("faces matching an enrolled person", str(len(result.face_matches)))
        table.add_row("faces too small or blurred to compare", str(len(result.faces_not_compared)))
    table.add_row("time", f"{result.seconds:.1f} s")
    err.print(table)
    if result.face_matches:
        ft = Table(title="Faces")
        for name in ("file", "case", "distance", "similarity", "where"):
            ft.add_column(name, overflow="fold")
        for f in result.face_matches[:50]:
            left, top, right, bottom = f.hit.box
            at = f" at {f.hit.time:.0f} s" if f.hit.time is not None else ""
            where = f"x {left}-{right}, y {top}-{bottom}{at}"
            ft.add_row(
                safe(Path(f.file).name),
                safe(f.hit.case),
                f"{f.hit.distance:.3f}",
                f"{f.hit.similarity:.3f}",
                where,
            )
        err.print(ft)
    if result.matches:
        mt = Table()
        mt.add_column("file", overflow="fold", min_width=12)
        for name in ("case", "bank entry", "match", "distance"):
            mt.add_column(name, overflow="fold")
        mt.add_column("where", overflow="fold")
        for m in result.matches[:50]:
            how = m.hit.signal + (
                f" {m.hit.transform}" if m.hit.transform not in (None, "original") else ""
            )
            variant = (m.hit.details or {}).get("variant")
            if variant and m.hit.signal in ("pdq-crop", "pdq-rotation", "pdq-region"):
                how += f" {variant}"
            distance = str(m.hit.distance)
            if m.hit.signal == "local-features":
                lf = (m.hit.details or {}).get("local_features") or {}
                distance = f"{lf.get('inliers', '?')} keypoints"
            mt.add_row(
                safe(Path(m.file).name),
                safe_or_empty(m.hit.case),
                f"{safe(m.hit.bank)} #{m.hit.bank_entry}",
                safe(how),
                distance,
                describe_where(m.hit, short=True) or describe_area(m.hit, short=True),
            )
        err.print(mt)
        if len(result.matches) > 50:
            err.print(f"... and {len(result.matches) - 50} more in the report")
    for s in result.skipped[:20]:
        err.print(f"[yellow]skipped[/] {safe(s.detail)}", highlight=False)
    if len(result.skipped) > 20:
        err.print(f"... and {len(result.skipped) - 20} more skipped, listed in the report")
    if result.low_quality:
        err.print(
            f"[yellow]too little detail to hash[/] (exact copies only): "
            f"{names(result.low_quality, 20)}",
            highlight=False,
        )
    if report is not None:
        err.print(f"Report written to {safe(report)}", highlight=False)


def _report_hint(scan_id: int | str, report: Path | None, fmt: str) -> str:
    return f"rempart scan report {scan_id} --out {report or 'FILE'}" + (
        " --format csv" if fmt == "csv" else ""
    )


def _resumable(
    database: Database,
    scan_id: int | None,
    options: ScanOptions,
    report: Path | None = None,
    fmt: str = "json",
) -> tuple[int, list[Path], ScanOptions]:
    """The scan to resume (the given one, or the last unfinished), its folders and options
    (with the report it was started with)."""
    from rempart.store.repository import StoreError

    if scan_id is not None:
        run = records.scan_run(database, scan_id)
        if run is None:
            raise StoreError(f"no scan {scan_id}")
    else:
        run = records.last_unfinished_scan(database)
        if run is None:
            raise StoreError(
                "no unfinished scan to resume (to write a finished scan's "
                f"report again: {_report_hint('SCAN_ID', report, fmt)})"
            )
    if run.status == "finished":
        raise StoreError(
            f"scan {run.id} is finished; nothing to resume. To write its "
            f"report again: {_report_hint(run.id, report, fmt)}"
        )
    stored = run.options
    roots = [Path(p) for p in run.sources.get("folders", [])]
    resumed = replace(
        options,
        banks=tuple(stored.get("banks", options.banks)),
        seconds_per_frame=float(stored.get("seconds_per_frame", options.seconds_per_frame)),
        faces=bool(stored.get("faces", options.faces)),
        face_detector=str(stored.get("face_detector", options.face_detector)),
        robust=stored.get("robust", options.robust),
        report=stored.get("report"),
        report_format=str(stored.get("report_format") or "json"),
    )
    return run.id, roots, resumed


def _stored_urls(database: Database, scan_id: int) -> Path | None:
    run = records.scan_run(database, scan_id)
    value = run.sources.get("urls") if run is not None else None
    return Path(value) if value else None


@app.command("scan")
def scan_cmd(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files, folders, archives or Telegram exports to scan."),
    ] = None,
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="Bank to match against (repeatable).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the report to this file.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Report format: json or csv.")] = "json",
    workers: Annotated[
        int | None, typer.Option(help="Processes to use (default: all cores).")
    ] = None,
    seconds_per_frame: Annotated[
        float, typer.Option(help="Videos: hash one frame every this many seconds.")
    ] = 1.0,
    faces: Annotated[
        bool, typer.Option("--faces", help="Also look for enrolled faces (rempart face enroll).")
    ] = False,
    face_threshold: Annotated[
        float, typer.Option(help="Face distance at or under which faces match.")
    ] = DEFAULT_FACE_DISTANCE,
    face_detector: Annotated[
        str,
        typer.Option(
            envvar="REMPART_FACE_DETECTOR",
            help="Face detector: hog (fast, frontal faces), hog+cnn (when HOG finds no face: "
            "HOG on the picture turned 45 degrees each way, then the CNN detector: tilted and "
            "turned faces) or cnn (slow).",
        ),
    ] = DEFAULT_FACE_DETECTOR,
    face_cnn_seconds: Annotated[
        float,
        typer.Option(
            help="CPU seconds of second-pass face detection (turned copies and CNN) the scan "
            "may spend (all workers)."
        ),
    ] = DEFAULT_FACE_CNN_SECONDS,
    no_synthetic: Annotated[
        bool,
        typer.Option(
            "--no-synthetic",
            help="Do not look for synthetic-media signals (C2PA, XMP, generator metadata, "
            "invisible watermark) in found media.",
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Finish the last scan that did not finish (or --scan-id)."),
    ] = False,
    scan_id: Annotated[int | None, typer.Option(help="With --resume: the scan to finish.")] = None,
    urls: Annotated[
        Path | None,
        typer.Option("--urls", help="A file of links (one per line) to fetch and scan."),
    ] = None,
    allow_network: Annotated[
        list[str] | None,
        typer.Option(help="Let --urls fetch from this private network (CIDR), e.g. a lab server."),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Hash on a Dask cluster: tcp://SCHEDULER:8786, or 'local' for a "
            "cluster of --workers processes on this machine."
        ),
    ] = None,
    robust: Annotated[
        bool,
        typer.Option(
            "--robust/--no-robust",
            help="Photos: also find crops, pads, frames, screenshots, rotations and partly "
            "edited copies (crop/region hashes and keypoints; about 0.6 x the speed).",
        ),
    ] = True,
) -> None:
    """Scan files, folders, archives and Telegram exports (photos and videos) against the
    banks. An interrupted scan is finished with --resume (it writes the report it was
    started with). A finished scan's report is written again with `rempart scan report
    SCAN_ID --out FILE [--format csv]`."""
    import ipaddress

    from rempart.cases.returns import reopen_returned
    from rempart.scan.face_match import FaceMatcher
    from rempart.scan.pipeline import ScanOptions, run_scan
    from rempart.scan.report import write_report
    from rempart.sources.urls import FetchOptions

    if fmt not in ("json", "csv"):
        raise fail(f"unknown format {fmt!r}: use json or csv")
    if not 0 < seconds_per_frame <= 3600:
        raise fail("--seconds-per-frame must be more than 0 and at most 3600")
    if face_detector not in FACE_DETECTORS:
        raise fail(f"--face-detector {face_detector!r}: use {', '.join(FACE_DETECTORS)}")
    if face_cnn_seconds < 0:
        raise fail("--face-cnn-seconds must be 0 or more")
    database, bank_index = open_index()
    options = ScanOptions(
        banks=tuple(bank or ()),
        workers=workers_or_cores(workers),
        seconds_per_frame=seconds_per_frame,
        faces=faces,
        face_detector=face_detector,
        face_cnn_seconds=face_cnn_seconds,
        robust="query" if robust else None,
        report=str(report.resolve()) if report is not None else None,
        report_format=fmt,
        synthetic=not no_synthetic,
    )
    resume_id: int | None = None
    if resume:
        resume_id, roots, options = _resumable(database, scan_id, options, report, fmt)
        if report is None and options.report:  # the report the killed scan was to write
            report, fmt = Path(options.report), options.report_format
        paths = roots
        faces = options.faces
        urls = urls or _stored_urls(database, resume_id)
        err.print(
            f"Resuming scan {resume_id} of {safe(', '.join(map(str, roots)))}", highlight=False
        )
    elif not paths and urls is None:
        raise fail("give the files or folders to scan, --urls FILE, or --resume")
    try:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow_network or ())
    except ValueError as exc:
        raise fail(f"--allow-network: {exc}") from exc
    fetch_options = FetchOptions(allowed_networks=networks)
    options = replace(options, cache_dir=str(settings().home / "cache" / "hashes"), cluster=cluster)
    face_matcher = None
    if faces:
        loaded = face_templates.load(database, settings().home)
        face_matcher = FaceMatcher(loaded, face_threshold)
        if not len(face_matcher):
            err.print("[yellow]No face enrolled yet:[/] faces are found and listed, not matched.")
    with progress_bar() as progress:
        task = progress.add_task("Scanning", total=None, current="")

        def on_progress(done: int, total: int, current: str) -> None:
            progress.update(task, completed=done, total=total, current=safe(Path(current).name))

        result = run_scan(
            database,
            bank_index,
            paths or [],
            options,
            on_progress,
            VideoBars(progress),
            face_matcher,
            resume=resume_id,
            url_file=urls,
            fetch_options=fetch_options,
        )
    returned = reopen_returned(database, result.scan_id)
    if report is not None:
        try:
            write_report(result, report, fmt)
        except OSError as exc:
            _print_summary(result, None)
            raise fail(
                f"{report}: cannot write the report ({exc.strerror or exc}); the scan "
                f"is kept: {_report_hint(result.scan_id, report, fmt)}"
            ) from exc
    _print_summary(result, report)
    if returned:
        err.print(
            f"[bold yellow]{len(returned)} match(es) are content that was removed "
            f"before and came back:[/] {safe(', '.join(returned))}; their cases are back "
            "in review."
        )
    if result.skipped:
        raise typer.Exit(EXIT_SKIPPED)


@app.command("scan-report", hidden=True)
def scan_report_cmd(
    scan_id: Annotated[int, typer.Argument(help="The scan (its number, shown by `scan`).")],
    out_file: Annotated[Path, typer.Option("--out", help="Write the report to this file.")],
    fmt: Annotated[str, typer.Option("--format", help="Report format: json or csv.")] = "json",
) -> None:
    """Write a finished scan's report again (`rempart scan report SCAN_ID --out FILE`)."""
    from rempart.scan.report import stored_result, write_report

    if fmt not in ("json", "csv"):
        raise fail(f"unknown format {fmt!r}: use json or csv")
    database = open_database()
    try:
        result = stored_result(database, scan_id)
        write_report(result, out_file, fmt)
    except OSError as exc:
        raise fail(f"{out_file}: cannot write the report ({exc.strerror or exc})") from exc
    err.print(
        f"Report of scan {scan_id} written to {safe(out_file)} ({len(result.matches)} "
        f"match(es), {len(result.skipped)} skipped)",
        highlight=False,
    )


@app.command("rooms")
def rooms_cmd(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    min_members: Annotated[
        int, typer.Option(help="Shared members needed to link rooms on members alone.")
    ] = 2,
) -> None:
    """Telegram rooms seen in scans, and the links between them (same room exported again,
    renamed, sharing media, members or bots, forwarding from each other), with evidence."""
    from rempart.scan.rooms import link_rooms, load_rooms

    database, _ = open_index()
    rooms = load_rooms(database)
    links = link_rooms(rooms, min_members=min_members)
    if fmt == "json":
        out.print_json(
            json.dumps(
                {
                    "rooms": [r.summary() for r in rooms.values()],
                    "links": [
                        {"a": k.a, "b": k.b, "strength": k.strength, "evidence": k.evidence}
                        for k in links
                    ],
                }
            )
        )
        return
    if not rooms:
        err.print("No Telegram room in any scan yet: scan an export first.")
        return
    number = {key: i for i, key in enumerate(sorted(rooms), 1)}
    rt = Table(
        "room", "names", "chat id", "media", "members", "bots", "dates", "export", title="Rooms"
    )
    for key in sorted(rooms):
        r = rooms[key]
        rt.add_row(
            f"#{number[key]}",
            safe(", ".join(sorted(r.names))),
            safe(r.chat_id),
            str(len(r.media_sha)),
            str(len(r.members)),
            safe(", ".join(sorted(r.bots))),
            safe(f"{r.first[:10]} - {r.last[:10]}"),
            safe(r.export),
        )
    out.print(rt)
    lt = Table("rooms", "strength", "evidence", title="Links")
    for k in links:
        ev = k.evidence
        parts = []
        if "same_chat_id" in ev:
            parts.append(
                f"same chat id {ev['same_chat_id']}" + (" (renamed)" if "renamed" in ev else "")
            )
        if ev.get("identical_media"):
            parts.append(f"{len(ev['identical_media'])} identical media")
        if ev.get("similar_media"):
            parts.append(f"{ev['similar_media']} look-alike pictures")
        if ev.get("shared_members"):
            parts.append("members: " + ", ".join(ev["shared_members"][:5]))
        if ev.get("shared_bots"):
            parts.append("bots: " + ", ".join(ev["shared_bots"]))
        parts += ev.get("forwards", [])
        lt.add_row(f"#{number[k.a]} - #{number[k.b]}", str(k.strength), safe("; ".join(parts)))
    out.print(lt)


@app.command("match")
def match_cmd(
    hash_hex: Annotated[str, typer.Argument(help="A PDQ, SHA-256 (64 hex) or MD5 (32 hex).")],
    bank: Annotated[list[str] | None, typer.Option("--bank", help="Only these banks.")] = None,
    threshold: Annotated[
        int | None, typer.Option(help="PDQ distance (default: each bank's threshold).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Which bank entries lie within the threshold of a hash, with distances."""
    from rempart.scan.matcher import Matcher, lookup_hex

    database, bank_index = open_index()
    try:
        matcher = Matcher(database, bank_index.load(), tuple(bank or ()))
        hits = lookup_hex(matcher, hash_hex, threshold)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if fmt == "json":
        out.print_json(json.dumps([asdict(h) for h in hits]))
        return
    if not hits:
        err.print("No bank entry within the threshold.")
        return
    table = Table("bank", "entry", "case", "signal", "distance")
    for h in hits:
        table.add_row(
            safe(h.bank), str(h.bank_entry), safe_or_empty(h.case), safe(h.signal), str(h.distance)
        )
    out.print(table)
