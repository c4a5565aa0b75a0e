"""The `rempart` command.

Exit codes: 0 done; 1 error (bad arguments, unreadable or malformed input file, refused
request); 2 usage error; 3 done, but some files were skipped (listed in the report).

Start-up: this module and the command modules import only what building the command line
needs (Typer, rich, light modules); the database, media, signals, index and scan modules
are imported inside the commands that use them (`rempart.lazy` for whole modules), so
`rempart --help`, `bank list` or `review list` do not pay for numpy, OpenCV, PyAV or dlib
(bench/cli_startup_bench.py).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from rempart.config import Settings, load_settings
from rempart.exchange.consent import ConsentRecord, FormatError, read_consent
from rempart.lazy import lazy_module
from rempart.textsafe import plain, safe, safe_or_empty

if TYPE_CHECKING:
    from rempart.scan.pipeline import ScanOptions, ScanResult
    from rempart.signals.vpdq import VideoHashes
    from rempart.store.bank_index import BankIndex
    from rempart.store.db import Database

audit = lazy_module("rempart.store.audit")
face_templates = lazy_module("rempart.store.face_templates")
hash_cache = lazy_module("rempart.scan.hash_cache")
repository = lazy_module("rempart.store.repository")

# = rempart.scan.face_match.DEFAULT_FACE_DISTANCE (a test checks), here for --help without
# importing the face modules
DEFAULT_FACE_DISTANCE = 0.55

EXIT_SKIPPED = 3


class _Commands(TyperGroup):
    """`rempart scan report SCAN_ID ...` runs the hidden `scan-report` command: `scan` takes
    paths, so its `report` is recognised here (when no file `report` is here to scan, or a
    scan number follows it)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if (len(args) >= 2 and args[:2] == ["scan", "report"]
                and (not Path("report").exists() or (len(args) > 2 and args[2].isdigit()))):
            command = self.get_command(ctx, "scan-report")
            if command is not None:
                return "scan report", command, args[2:]
        return super().resolve_command(ctx, args)  # fmt: skip


app = typer.Typer(
    cls=_Commands,
    help="Rempart: find, prove and remove non-consensual intimate images.",
    no_args_is_help=True,
    add_completion=False,
)
bank_app = typer.Typer(help="Hash banks: create, list, import.", no_args_is_help=True)
case_app = typer.Typer(help="Cases: show, withdraw.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")
app.add_typer(case_app, name="case")

err = Console(stderr=True)
out = Console()


class State:
    settings: Settings
    opened: list[Database]


state = State()


@app.callback()
def _main(
    ctx: typer.Context,
    db: Annotated[
        str | None, typer.Option(help="Database URL or SQLite file (default: $REMPART_DB).")
    ] = None,
    home: Annotated[
        Path | None, typer.Option(help="Working folder (default: $REMPART_HOME or ~/.rempart).")
    ] = None,
) -> None:
    state.settings = load_settings(db=db, home=home)
    state.opened = []
    ctx.call_on_close(_write_audit_heads)


def _write_audit_heads() -> None:
    """After any command (even a failed one): the audit chain's head, kept outside the DB."""
    for database in getattr(state, "opened", []):
        try:
            audit.write_head(database, state.settings.home)
        except Exception as exc:  # never hide the command's own outcome
            err.print(f"[yellow]warning:[/] could not record the audit head: {safe(exc)}")
    state.opened = []


def open_database() -> Database:
    from rempart.store.db import Database

    database = Database(state.settings.db_url)
    state.opened.append(database)
    return database


def _open() -> tuple[Database, BankIndex]:
    from rempart.store.bank_index import BankIndex

    database = open_database()
    return database, BankIndex(database, state.settings.home)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {safe(message)}", highlight=False)
    return typer.Exit(1)


def bank_hint(message: str, name: str) -> str:
    """An unknown bank's error, with the command that creates it (import and pull never
    create one: a mistyped name would fill a bank that no scan looks at)."""
    if f"no bank named {name!r}" in message:
        return f"{message}; create it first with: rempart bank create {name}"
    return message


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
        console=err,
        transient=False,
    )


def _workers(value: int | None) -> int:
    return value if value and value > 0 else (os.cpu_count() or 1)


class VideoBars:
    """Per-video progress bars under the main bar: one per video being hashed."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, locator: str, seconds: float, duration: float | None) -> None:
        task = self.tasks.get(locator)
        if seconds < 0:
            if task is not None:
                self.progress.remove_task(task)
                del self.tasks[locator]
            return
        if task is None:
            name = Path(locator).name
            task = self.progress.add_task(f"  video {safe(name[:30])}", total=duration,
                                          current="")
            self.tasks[locator] = task
        self.progress.update(task, completed=seconds, current=f"{seconds:.0f} s")


def _write_vpdq(videos: list[tuple[str, VideoHashes]], out_file: Path | None) -> None:
    """vPDQ text, one line per frame: to stdout or a file (one video), or a folder."""
    from rempart.signals.vpdq import frames_to_text

    if out_file is None:
        if len(videos) > 1:
            raise _fail("several videos: give --out FOLDER for one .vpdq.txt file per video")
        sys.stdout.write(frames_to_text(videos[0][1].frames))
        return
    if len(videos) == 1 and not out_file.is_dir():
        out_file.write_text(frames_to_text(videos[0][1].frames), encoding="ascii")
        return
    out_file.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for locator, h in videos:
        name = Path(locator).stem
        while name in used:
            name += "_"
        used.add(name)
        (out_file / f"{name}.vpdq.txt").write_text(frames_to_text(h.frames), encoding="ascii")


@app.command("hash")
def hash_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Photos, videos or folders to hash.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the hash-submission file here.")
    ] = None,
    include_paths: Annotated[
        bool, typer.Option("--include-paths", help="Also record each file's path.")
    ] = False,
    consent: Annotated[
        Path | None, typer.Option(help="Consent record (JSON) to carry in the submission.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes to use (default: all cores).")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="submission (JSON, default) or vpdq (videos only: one line per frame, "
            "frame,quality,pdq_hex,timestamp, as Meta's vPDQ).",
        ),
    ] = "submission",
    seconds_per_frame: Annotated[
        float | None,
        typer.Option(
            help="Videos: hash one frame every this many seconds (0: every frame). Default: "
            "every frame for submissions, 1 for --format vpdq."
        ),
    ] = None,
    robust: Annotated[
        bool,
        typer.Option(
            "--robust/--no-robust",
            help="Photos: also keep hashes of crops, rotations and regions and local "
            "features (keypoints), so cropped, framed, rotated or partly edited copies are "
            "found. Still no image data.",
        ),
    ] = True,
    keypoints: Annotated[
        bool,
        typer.Option(
            "--keypoints/--no-keypoints",
            help="With --robust: also keep local features (positions and descriptors of up "
            "to 400 keypoints, which find partly replaced copies). --no-keypoints keeps only "
            "hashes.",
        ),
    ] = True,
) -> None:
    """Hash photos and videos on this device into a hash-submission file. No image data
    leaves it."""
    from rempart.exchange.submission import Submission, SubmissionItem
    from rempart.scan.pipeline import ScanOptions, collect, hash_refs
    from rempart.signals.image_hashes import NOT_ENOUGH_CONTENT
    from rempart.signals.pdq import MIN_QUALITY
    from rempart.signals.vpdq import BANK_DEDUPE_DISTANCE, BANK_SECONDS_PER_FRAME, VideoHashes

    if fmt not in ("submission", "vpdq"):
        raise _fail(f"unknown format {fmt!r}: use submission or vpdq")
    if seconds_per_frame is not None and not 0 <= seconds_per_frame <= 3600:
        raise _fail("--seconds-per-frame must be between 0 and 3600")
    try:
        record = read_consent(consent) if consent else None
    except FormatError as exc:
        raise _fail(str(exc)) from exc
    refs, problems = collect(paths)
    vpdq_text = fmt == "vpdq"
    spf = seconds_per_frame
    if spf is None:
        spf = 1.0 if vpdq_text else BANK_SECONDS_PER_FRAME
    options = ScanOptions(
        workers=_workers(workers), seconds_per_frame=spf,
        video_dedupe=None if vpdq_text else BANK_DEDUPE_DISTANCE, video_regions=not vpdq_text,
        robust="stored" if robust and not vpdq_text else None,
    )  # fmt: skip
    items: list[SubmissionItem] = []
    videos: list[tuple[str, VideoHashes]] = []
    skipped = [p.detail for p in problems]  # each message names its file
    low: list[str] = []  # files with too little detail for PDQ (named in the summary)
    thin: list[str] = []
    with _progress() as progress:
        task = progress.add_task("Hashing", total=len(refs), current="")
        for outcome in hash_refs(refs, options, dihedral=False, on_video=VideoBars(progress)):
            progress.update(task, advance=1, current=safe(Path(outcome.ref.locator).name))
            h = outcome.hashes
            if h is None:
                skipped.append(str(outcome.error))
                continue
            locator = outcome.ref.locator if include_paths else None
            if isinstance(h, VideoHashes):
                videos.append((outcome.ref.locator, h))
                if not any(f.quality >= MIN_QUALITY for f in h.frames):
                    low.append(outcome.ref.locator)
                skipped.extend(f"{outcome.ref.locator}: {n}" for n in h.notes)
                items.append(SubmissionItem.from_video(h, locator))
                continue
            if vpdq_text:
                skipped.append(f"{outcome.ref.locator}: not a video (--format vpdq)")
                continue
            if h.pdq.quality < MIN_QUALITY:
                low.append(outcome.ref.locator)
            if any(n.startswith(NOT_ENOUGH_CONTENT) for n in h.notes):
                thin.append(outcome.ref.locator)
            if not keypoints:
                h = replace(h, features=None)
            items.append(SubmissionItem.from_image(h, locator))
    if vpdq_text:
        if videos:
            _write_vpdq(videos, out_file)
    else:
        submission = Submission(items=items, consent=record)
        if out_file is not None:
            submission.write(out_file)
        else:
            sys.stdout.write(json.dumps(submission.to_json(), indent=2) + "\n")
    for why in skipped:
        err.print(f"[yellow]skipped[/] {safe(why)}", highlight=False)
    n_video = len(videos)
    err.print(
        f"Hashed {len(items)} file(s)"
        + (f" ({n_video} video(s), {sum(len(v.frames) for _, v in videos)} frames)"
           if n_video else "")
        + (f", wrote {safe(out_file)}" if out_file else "")
        + (f"; {len(skipped)} skipped" if skipped else "")
        + (f"; {len(low)} with too little detail for PDQ (exact hashes kept): {_names(low)}"
           if low else "")
        + (f"; {len(thin)} with not enough content for crop/region/keypoint matching: "
           f"{_names(thin)}" if thin else ""),
        highlight=False,
    )  # fmt: skip
    if skipped:
        raise typer.Exit(EXIT_SKIPPED)


@bank_app.command("create")
def bank_create(
    name: str,
    threshold: Annotated[int, typer.Option(help="PDQ match distance (0-63).")] = 31,
    description: Annotated[str, typer.Option(help="What this bank holds.")] = "",
) -> None:
    """Create a hash bank."""
    from rempart.store.repository import StoreError

    database, _ = _open()
    try:
        with database.session() as s:
            repository.create_bank(s, name, description=description, pdq_threshold=threshold)
            audit.record(s, "bank-create", details={"bank": name, "threshold": threshold})
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    err.print(f"Created bank [bold]{safe(name)}[/] (PDQ threshold {threshold})")


@bank_app.command("list")
def bank_list(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List banks with their item and case counts."""
    database = open_database()  # (not the index: listing needs only the database)
    with database.session() as s:
        banks = repository.list_banks(s)
    if fmt == "json":
        out.print_json(json.dumps([asdict(b) for b in banks]))
        return
    table = Table("bank", "items", "cases", "PDQ threshold", "description")
    for b in banks:
        table.add_row(safe(b.name), str(b.items), str(b.cases), str(b.pdq_threshold),
                      safe(b.description))
    out.print(table)


@bank_app.command("import")
def bank_import(
    name: Annotated[str, typer.Argument(help="Bank to add the hashes to.")],
    submission_file: Annotated[Path, typer.Argument(help="Hash-submission file (JSON).")],
    case: Annotated[str, typer.Option("--case", help="Case number, e.g. CASE-123.")],
    consent: Annotated[
        Path | None, typer.Option(help="Consent record (JSON), if the file carries none.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Label for the imported items.")] = None,
) -> None:
    """Import a hash-submission file into a bank under a case (requires a consent record)."""
    from rempart.exchange.bank_import import import_submission
    from rempart.exchange.submission import read_submission
    from rempart.store.repository import StoreError

    if label is not None and len(label) > 200:
        raise _fail("--label: at most 200 characters")
    try:
        submission = read_submission(submission_file)
        record: ConsentRecord | None = read_consent(consent) if consent else None
    except FormatError as exc:
        raise _fail(str(exc)) from exc
    _, bank_index = _open()
    try:
        result = import_submission(
            bank_index, name, submission, case_number=case, consent=record,
            source_name=submission_file.name, label=label,
        )  # fmt: skip
    except StoreError as exc:
        raise _fail(bank_hint(str(exc), name)) from exc
    err.print(
        f"Imported {result.added} item(s) into [bold]{safe(name)}[/] for case {safe(case)}"
        + (f"; {result.duplicates} already there" if result.duplicates else "")
        + (
            f"; {result.low_quality} with too little detail for PDQ (exact match only)"
            if result.low_quality
            else ""
        )
        + ("; consent recorded" if result.consent_recorded else ""),
        highlight=False,
    )


def _names(files: list[str], shown: int = 10) -> str:
    """The files, escaped for printing: the first `shown`, then how many more."""
    names = ", ".join(safe(f) for f in files[:shown])
    return names + (f" and {len(files) - shown} more" if len(files) > shown else "")


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
            ft.add_row(safe(Path(f.file).name), safe(f.hit.case), f"{f.hit.distance:.3f}",
                       f"{f.hit.similarity:.3f}", where)  # fmt: skip
        err.print(ft)
    if result.matches:
        mt = Table()
        mt.add_column("file", overflow="fold", min_width=12)
        for name in ("case", "bank entry", "match", "distance"):
            mt.add_column(name, overflow="fold")
        mt.add_column("where", overflow="fold")
        for m in result.matches[:50]:
            how = m.hit.signal + (f" {m.hit.transform}" if m.hit.transform not in
                                  (None, "original") else "")  # fmt: skip
            variant = (m.hit.details or {}).get("variant")
            if variant and m.hit.signal in ("pdq-crop", "pdq-rotation", "pdq-region"):
                how += f" {variant}"
            distance = str(m.hit.distance)
            if m.hit.signal == "local-features":
                lf = (m.hit.details or {}).get("local_features") or {}
                distance = f"{lf.get('inliers', '?')} keypoints"
            mt.add_row(
                safe(Path(m.file).name), safe_or_empty(m.hit.case),
                f"{safe(m.hit.bank)} #{m.hit.bank_entry}", safe(how), distance,
                describe_where(m.hit, short=True) or describe_area(m.hit, short=True),
            )  # fmt: skip
        err.print(mt)
        if len(result.matches) > 50:
            err.print(f"... and {len(result.matches) - 50} more in the report")
    for s in result.skipped[:20]:
        err.print(f"[yellow]skipped[/] {safe(s.detail)}", highlight=False)
    if len(result.skipped) > 20:
        err.print(f"... and {len(result.skipped) - 20} more skipped, listed in the report")
    if result.low_quality:
        err.print(f"[yellow]too little detail to hash[/] (exact copies only): "
                  f"{_names(result.low_quality, 20)}", highlight=False)  # fmt: skip
    if report is not None:
        err.print(f"Report written to {safe(report)}", highlight=False)


def _report_hint(scan_id: int | str, report: Path | None, fmt: str) -> str:
    return (f"rempart scan report {scan_id} --out {report or 'FILE'}"
            + (" --format csv" if fmt == "csv" else ""))  # fmt: skip


def _resumable(
    database: Database, scan_id: int | None, options: ScanOptions,
    report: Path | None = None, fmt: str = "json",
) -> tuple[int, list[Path], ScanOptions]:  # fmt: skip
    """The scan to resume (the given one, or the last unfinished), its folders and options
    (with the report it was started with)."""
    from sqlalchemy import select

    from rempart.store.models import ScanRun
    from rempart.store.repository import StoreError

    with database.session() as s:
        if scan_id is not None:
            run = s.get(ScanRun, scan_id)
            if run is None:
                raise StoreError(f"no scan {scan_id}")
        else:
            run = s.scalars(
                select(ScanRun).where(ScanRun.status != "finished").order_by(ScanRun.id.desc())
            ).first()
            if run is None:
                raise StoreError("no unfinished scan to resume (to write a finished scan's "
                                 f"report again: {_report_hint('SCAN_ID', report, fmt)})")
        if run.status == "finished":
            raise StoreError(f"scan {run.id} is finished; nothing to resume. To write its "
                             f"report again: {_report_hint(run.id, report, fmt)}")
        stored = run.options or {}
        roots = [Path(p) for p in (run.sources or {}).get("folders", [])]
        resumed = replace(
            options,
            banks=tuple(stored.get("banks", options.banks)),
            seconds_per_frame=float(stored.get("seconds_per_frame", options.seconds_per_frame)),
            faces=bool(stored.get("faces", options.faces)),
            robust=stored.get("robust", options.robust),
            report=stored.get("report"),
            report_format=str(stored.get("report_format") or "json"),
        )
        return run.id, roots, resumed


def _stored_urls(database: Database, scan_id: int) -> Path | None:
    from rempart.store.models import ScanRun

    with database.session() as s:
        run = s.get(ScanRun, scan_id)
        value = (run.sources or {}).get("urls") if run is not None else None
    return Path(value) if value else None


@app.command("hash-page")
def hash_page_cmd(
    out_file: Annotated[
        Path, typer.Option("--out", help="Write the page here (one self-contained HTML file).")
    ],
) -> None:
    """Write her hashing page: one HTML file she opens on her phone (no install, no network)
    to hash her photos and videos into a hash-submission file she sends herself."""
    from rempart.web.hashpage import HashPageError, write_page

    try:
        write_page(out_file)
    except HashPageError as exc:
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"{out_file}: cannot write ({exc.strerror or exc})") from exc
    err.print(f"Wrote {safe(str(out_file))}: open it in a browser, or send it to her; it works "
              "offline and sends nothing (docs/victim-page.md).", highlight=False)  # fmt: skip


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
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Finish the last scan that did not finish (or --scan-id)."),
    ] = False,
    scan_id: Annotated[
        int | None, typer.Option(help="With --resume: the scan to finish.")
    ] = None,
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
        typer.Option(help="Hash on a Dask cluster: tcp://SCHEDULER:8786, or 'local' for a "
                     "cluster of --workers processes on this machine."),
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
    from rempart.faces.crypto import TemplateKeyError
    from rempart.scan.face_match import FaceMatcher
    from rempart.scan.pipeline import ScanOptions, run_scan
    from rempart.scan.report import write_report
    from rempart.sources.urls import FetchOptions
    from rempart.store.repository import StoreError

    if fmt not in ("json", "csv"):
        raise _fail(f"unknown format {fmt!r}: use json or csv")
    if not 0 < seconds_per_frame <= 3600:
        raise _fail("--seconds-per-frame must be more than 0 and at most 3600")
    database, bank_index = _open()
    options = ScanOptions(
        banks=tuple(bank or ()), workers=_workers(workers), seconds_per_frame=seconds_per_frame,
        faces=faces, robust="query" if robust else None,
        report=str(report.resolve()) if report is not None else None, report_format=fmt,
    )  # fmt: skip
    resume_id: int | None = None
    if resume:
        try:
            resume_id, roots, options = _resumable(database, scan_id, options, report, fmt)
        except StoreError as exc:
            raise _fail(str(exc)) from exc
        if report is None and options.report:  # the report the killed scan was to write
            report, fmt = Path(options.report), options.report_format
        paths = roots
        faces = options.faces
        urls = urls or _stored_urls(database, resume_id)
        err.print(f"Resuming scan {resume_id} of {safe(', '.join(map(str, roots)))}",
                  highlight=False)
    elif not paths and urls is None:
        raise _fail("give the files or folders to scan, --urls FILE, or --resume")
    try:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow_network or ())
    except ValueError as exc:
        raise _fail(f"--allow-network: {exc}") from exc
    fetch_options = FetchOptions(allowed_networks=networks)
    options = replace(options, cache_dir=str(state.settings.home / "cache" / "hashes"),
                      cluster=cluster)  # fmt: skip
    face_matcher = None
    if faces:
        try:
            loaded = face_templates.load(database, state.settings.home)
        except TemplateKeyError as exc:
            raise _fail(str(exc)) from exc
        face_matcher = FaceMatcher(loaded, face_threshold)
        if not len(face_matcher):
            err.print("[yellow]No face enrolled yet:[/] faces are found and listed, not matched.")
    with _progress() as progress:
        task = progress.add_task("Scanning", total=None, current="")

        def on_progress(done: int, total: int, current: str) -> None:
            progress.update(task, completed=done, total=total, current=safe(Path(current).name))

        try:
            result = run_scan(
                database, bank_index, paths or [], options, on_progress, VideoBars(progress),
                face_matcher, resume=resume_id, url_file=urls, fetch_options=fetch_options,
            )  # fmt: skip
        except StoreError as exc:
            raise _fail(str(exc)) from exc
    returned = reopen_returned(database, result.scan_id)
    if report is not None:
        try:
            write_report(result, report, fmt)
        except OSError as exc:
            _print_summary(result, None)
            raise _fail(f"{report}: cannot write the report ({exc.strerror or exc}); the scan "
                        f"is kept: {_report_hint(result.scan_id, report, fmt)}") from exc
    _print_summary(result, report)
    if returned:
        err.print(f"[bold yellow]{len(returned)} match(es) are content that was removed "
                  f"before and came back:[/] {safe(', '.join(returned))}; their cases are back "
                  "in review.")  # fmt: skip
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
    from rempart.store.repository import StoreError

    if fmt not in ("json", "csv"):
        raise _fail(f"unknown format {fmt!r}: use json or csv")
    database = open_database()
    try:
        result = stored_result(database, scan_id)
        write_report(result, out_file, fmt)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"{out_file}: cannot write the report ({exc.strerror or exc})") from exc
    err.print(f"Report of scan {scan_id} written to {safe(out_file)} ({len(result.matches)} "
              f"match(es), {len(result.skipped)} skipped)", highlight=False)  # fmt: skip


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

    database, _ = _open()
    rooms = load_rooms(database)
    links = link_rooms(rooms, min_members=min_members)
    if fmt == "json":
        out.print_json(json.dumps({
            "rooms": [r.summary() for r in rooms.values()],
            "links": [{"a": k.a, "b": k.b, "strength": k.strength, "evidence": k.evidence}
                      for k in links],
        }))  # fmt: skip
        return
    if not rooms:
        err.print("No Telegram room in any scan yet: scan an export first.")
        return
    number = {key: i for i, key in enumerate(sorted(rooms), 1)}
    rt = Table("room", "names", "chat id", "media", "members", "bots", "dates", "export",
               title="Rooms")  # fmt: skip
    for key in sorted(rooms):
        r = rooms[key]
        rt.add_row(f"#{number[key]}", safe(", ".join(sorted(r.names))), safe(r.chat_id),
                   str(len(r.media_sha)), str(len(r.members)), safe(", ".join(sorted(r.bots))),
                   safe(f"{r.first[:10]} - {r.last[:10]}"), safe(r.export))  # fmt: skip
    out.print(rt)
    lt = Table("rooms", "strength", "evidence", title="Links")
    for k in links:
        ev = k.evidence
        parts = []
        if "same_chat_id" in ev:
            parts.append(f"same chat id {ev['same_chat_id']}"
                         + (" (renamed)" if "renamed" in ev else ""))  # fmt: skip
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
    from rempart.store.repository import StoreError

    database, bank_index = _open()
    try:
        matcher = Matcher(database, bank_index.load(), tuple(bank or ()))
        hits = lookup_hex(matcher, hash_hex, threshold)
    except (StoreError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if fmt == "json":
        out.print_json(json.dumps([asdict(h) for h in hits]))
        return
    if not hits:
        err.print("No bank entry within the threshold.")
        return
    table = Table("bank", "entry", "case", "signal", "distance")
    for h in hits:
        table.add_row(safe(h.bank), str(h.bank_entry), safe_or_empty(h.case), safe(h.signal),
                      str(h.distance))
    out.print(table)


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
    from rempart.store.models import CaseEvent, utcnow
    from rempart.store.repository import StoreError

    _, bank_index = _open()
    if item or template:
        _withdraw_some(bank_index, number, item or [], template or [])
        return
    if not yes:
        typer.confirm(f"Delete every hash of case {plain(number)} from every bank?", abort=True)
    counts: dict[str, Any] = {}
    copies: set[str] = set()  # scanned copies of her pictures: their cached hashes go too

    def apply(s: Any) -> tuple[list[tuple[int, str]], list[int]]:
        case = repository.get_case(s, number)
        if case is None:
            raise StoreError(f"no case {number}")
        copies.update(hash_cache.matched_content(s, case_id=case.id))
        removed = repository.delete_case_items(s, case)
        counts["templates"] = face_templates.delete_case_templates(s, case)
        audit.record(s, "case-withdraw", case=number,
                     details={"hashes": len(removed), "face_templates": counts["templates"]})
        for consent in case.consents:
            consent.withdrawn_at = consent.withdrawn_at or utcnow()
        s.add(CaseEvent(case_id=case.id, actor=audit.current_actor(), from_status=case.status,
                        to_status="withdrawn", note="withdrawn by her"))  # fmt: skip
        case.status = "withdrawn"
        counts["pdq"] = len(removed)
        return [], removed

    try:
        bank_index.change(apply)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    bank_index.db.purge_deleted()  # deleted rows (hashes, face templates) leave the files
    hash_cache.purge_withdrawn(state.settings.home, copies)
    err.print(
        f"Case {safe(number)} withdrawn: its hashes were deleted from every bank and index"
        + (f", and its {counts['templates']} face template(s)" if counts.get("templates") else "")
        + ".",
        highlight=False,
    )


def _withdraw_some(bank_index: BankIndex, number: str, items: list[int],
                   templates: list[int]) -> None:  # fmt: skip
    from rempart.store.repository import StoreError

    copies: set[str] = set()

    def apply(s: Any) -> tuple[list[tuple[int, str]], list[int]]:
        case = repository.get_case(s, number)
        if case is None:
            raise StoreError(f"no case {number}")
        if items:
            copies.update(hash_cache.matched_content(s, items))
        removed = repository.delete_items(s, case, items) if items else []
        if templates:
            face_templates.delete_templates(s, case, templates)
        audit.record(s, "withdraw-items", case=number,
                     details={"bank_entries": items, "face_templates": templates})
        return [], removed

    try:
        bank_index.change(apply)
    except StoreError as exc:
        raise _fail(str(exc)) from exc
    bank_index.db.purge_deleted()
    hash_cache.purge_withdrawn(state.settings.home, copies)
    err.print(f"Withdrawn from case {safe(number)}: {len(items)} bank entr(y/ies), "
              f"{len(templates)} face template(s).", highlight=False)  # fmt: skip


audit_app = typer.Typer(help="The audit log: list entries, verify the chain.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check that no audit entry was changed or deleted (exit code 1 if one was)."""
    database = open_database()
    verdict = audit.verify(database, state.settings.home)
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
    from sqlalchemy import select

    from rempart.store.models import AuditEntry

    database = open_database()
    with database.session() as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if case:
            query = query.where(AuditEntry.case_number == case)
        rows = [(e.id, e.at, e.actor, e.action, e.case_number, e.details)
                for e in s.scalars(query)]  # fmt: skip
    if fmt == "json":
        out.print_json(json.dumps([
            {"id": i, "at": at, "actor": who, "action": what, "case": c, "details": json.loads(d)}
            for i, at, who, what, c, d in rows
        ]))  # fmt: skip
        return
    table = Table("#", "when", "who", "action", "case", "details")
    for i, at, who, what, c, d in rows:
        table.add_row(str(i), safe(at[:19]), safe(who), safe(what), safe_or_empty(c),
                      safe(d[:80]))
    out.print(table)


def _register_subcommands() -> None:
    from rempart.cli_cases import (
        evidence_app,
        notice_app,
        register_case_commands,
        register_report,
        review_app,
    )

    register_report(app)
    from rempart.cli_faces import face_app

    register_case_commands(case_app)
    from rempart.cli_exchange import register_exchange_commands

    register_exchange_commands(bank_app)
    app.add_typer(face_app, name="face")
    app.add_typer(review_app, name="review")
    app.add_typer(evidence_app, name="evidence")
    app.add_typer(notice_app, name="notice")
    from rempart.cli_api import register_api_commands

    register_api_commands(app, bank_app, case_app)
    from rempart.cli_sync import register_sync_commands

    register_sync_commands(app)


_register_subcommands()


def main() -> None:
    app()
