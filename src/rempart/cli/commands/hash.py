"""`rempart hash` (her photos and videos into a hash-submission file, on her device) and
`rempart hash-page` (the page that does the same in her browser)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rempart.cli.core import (
    EXIT_SKIPPED,
    VideoBars,
    app,
    err,
    fail,
    names,
    progress_bar,
    workers_or_cores,
)
from rempart.exchange.consent import read_consent
from rempart.textsafe import safe

if TYPE_CHECKING:
    from rempart.signals.vpdq import VideoHashes


def _write_vpdq(videos: list[tuple[str, VideoHashes]], out_file: Path | None) -> None:
    """vPDQ text, one line per frame: to stdout or a file (one video), or a folder."""
    from rempart.signals.vpdq_text import frames_to_text

    if out_file is None:
        if len(videos) > 1:
            raise fail("several videos: give --out FOLDER for one .vpdq.txt file per video")
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
        raise fail(f"unknown format {fmt!r}: use submission or vpdq")
    if seconds_per_frame is not None and not 0 <= seconds_per_frame <= 3600:
        raise fail("--seconds-per-frame must be between 0 and 3600")
    record = read_consent(consent) if consent else None
    refs, problems = collect(paths)
    vpdq_text = fmt == "vpdq"
    spf = seconds_per_frame
    if spf is None:
        spf = 1.0 if vpdq_text else BANK_SECONDS_PER_FRAME
    options = ScanOptions(
        workers=workers_or_cores(workers),
        seconds_per_frame=spf,
        video_dedupe=None if vpdq_text else BANK_DEDUPE_DISTANCE,
        video_regions=not vpdq_text,
        robust="stored" if robust and not vpdq_text else None,
        full_decode=True,
    )
    items: list[SubmissionItem] = []
    videos: list[tuple[str, VideoHashes]] = []
    skipped = [p.detail for p in problems]  # each message names its file
    low: list[str] = []  # files with too little detail for PDQ (named in the summary)
    thin: list[str] = []
    with progress_bar() as progress:
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
        + (
            f" ({n_video} video(s), {sum(len(v.frames) for _, v in videos)} frames)"
            if n_video
            else ""
        )
        + (f", wrote {safe(out_file)}" if out_file else "")
        + (f"; {len(skipped)} skipped" if skipped else "")
        + (
            f"; {len(low)} with too little detail for PDQ (exact hashes kept): {names(low)}"
            if low
            else ""
        )
        + (
            f"; {len(thin)} with not enough content for crop/region/keypoint matching: "
            f"{names(thin)}"
            if thin
            else ""
        ),
        highlight=False,
    )
    if skipped:
        raise typer.Exit(EXIT_SKIPPED)


@app.command("hash-page")
def hash_page_cmd(
    out_file: Annotated[
        Path, typer.Option("--out", help="Write the page here (one self-contained HTML file).")
    ],
) -> None:
    """Write her hashing page: one HTML file she opens on her phone (no install, no network)
    to hash her photos and videos into a hash-submission file she sends herself."""
    from rempart.web.hashpage import write_page

    try:
        write_page(out_file)
    except OSError as exc:
        raise fail(f"{out_file}: cannot write ({exc.strerror or exc})") from exc
    err.print(
        f"Wrote {safe(str(out_file))}: open it in a browser, or send it to her; it works "
        "offline and sends nothing (docs/victim-page.md).",
        highlight=False,
    )
