"""The robust stage for videos (issue 21 item 2): a re-posted copy of her video that is
mirrored, inside a blurred vertical frame, cropped 10% a side at a low bitrate, or shown small
in a corner of another video is found, with the method that found it; an unrelated video
edited the same way is not. Small generated videos (moving abstract scenes), her video banked
through a real SQLite bank as `rempart hash` + `bank import` store it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rempart.exchange.bank_import import import_submission
from rempart.exchange.consent import ConsentRecord
from rempart.exchange.submission import Submission, SubmissionItem, parse_submission
from rempart.scan.matcher import Matcher
from rempart.scan.video_match import consistent, match_video
from rempart.signals import video_variants
from rempart.signals.vpdq import (
    BANK_DEDUPE_DISTANCE,
    BANK_SECONDS_PER_FRAME,
    VideoHashes,
    VpdqFrame,
    hash_video_file,
)
from rempart.store import repository
from rempart.store.bank_index import BankIndex
from rempart.store.db import Database
from tests.media.video_edits import edit_video
from tests.media.video_factory import scene_frames, write_video

SIZE = (256, 192)
FPS = 10
SECONDS = 12

EDITS = [
    ("mirrored", "vpdq-mirrored"),
    ("vertical frame 70%", "vpdq-inside-frame"),
    ("crop 10% low bitrate", "vpdq-crop"),
    ("picture-in-picture", "vpdq-pip"),
]


@dataclass
class World:
    folder: Path
    hers: list[np.ndarray]
    unrelated: list[np.ndarray]
    background: list[np.ndarray]
    matcher: Matcher
    stored: VideoHashes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("video-robust")
    hers = scene_frames(31, SECONDS, FPS, SIZE)
    stored = hash_video_file(
        write_video(folder / "hers.mp4", hers, fps=FPS),
        seconds_per_frame=BANK_SECONDS_PER_FRAME,
        dedupe_distance=BANK_DEDUPE_DISTANCE,
        regions=True,
        robust="stored",
    )
    # through the submission file's JSON, as `rempart hash` writes it and `bank import` reads it
    consent = ConsentRecord.parse(
        {"given_by": "test", "given_at": "2026-12-02", "purpose": "test"}, "test"
    )
    written = Submission(items=[SubmissionItem.from_video(stored)], consent=consent).to_json()
    sub = parse_submission(json.loads(json.dumps(written)), "sub.json")
    db = Database(f"sqlite:///{folder / 'bank.db'}")
    index = BankIndex(db, folder / "home")
    with db.session() as s:
        repository.create_bank(s, "hers")
    import_submission(index, "hers", sub, case_number="C-1")
    return World(
        folder,
        hers,
        scene_frames(47, SECONDS, FPS, SIZE),
        scene_frames(59, SECONDS, FPS, SIZE),
        Matcher(db, index.load()),
        stored,
    )


def _scanned(world: World, frames: list[np.ndarray], edit: str, name: str) -> VideoHashes:
    path = edit_video(frames, edit, world.folder / f"{name}.mp4", fps=FPS, other=world.background)
    return hash_video_file(path, regions=True, robust="query")


def test_bank_keeps_crops_of_her_frames(world: World) -> None:
    written = SubmissionItem.from_video(world.stored).to_json()
    assert set(written["vpdq_crops"]) == set(video_variants.CROP_NAMES)
    assert set(written["vpdq_regions"]) == {"top", "bottom", "left", "right"}
    for name in video_variants.CROP_NAMES:  # kept per frame, deduplicated like the frames
        assert 0 < len(world.stored.regions[name]) <= len(world.stored.frames) * 2


@pytest.mark.parametrize(("edit", "method"), EDITS)
def test_edit_found_with_its_method_and_unrelated_not(world: World, edit: str, method: str) -> None:
    copy = _scanned(world, world.hers, edit, f"copy-{method}")
    hits = match_video(world.matcher, copy)
    assert [h.case for h in hits] == ["C-1"], hits
    details = hits[0].details or {}
    assert details["method"] == method
    assert details["query_percent"] >= 80.0
    if method == "vpdq-mirrored":
        assert hits[0].transform == "flip_horizontal"
    # her stored frames found in order: the matched range covers most of her 12 s
    ranges = details["stored_ranges"]
    assert ranges and ranges[-1][1] - ranges[0][0] >= SECONDS - 4
    other = _scanned(world, world.unrelated, edit, f"other-{method}")
    assert match_video(world.matcher, other) == []


def test_without_the_robust_stage_the_edits_are_missed(world: World) -> None:
    """What the stage adds: scanned without it (plain vPDQ, inside bars, halves), the copies
    are not found, but the cropped one through her frames' stored crops (bank side)."""
    for edit, method in EDITS:
        path = world.folder / f"copy-{method}.mp4"
        assert path.exists()
        hits = match_video(world.matcher, hash_video_file(path, regions=True))
        assert [(h.details or {}).get("method") for h in hits] == (
            ["vpdq-crop"] if method == "vpdq-crop" else []
        ), edit


def test_consistent_keeps_frames_in_order() -> None:
    # query time, stored time, distance: one stray pair going back in time is left out
    pairs = [(0.0, 10.0, 5), (1.0, 11.0, 5), (2.0, 3.0, 4), (3.0, 13.0, 6), (4.0, 14.0, 2)]
    assert [q for q, _, _ in consistent(pairs)] == [0.0, 1.0, 3.0, 4.0]
    # a still scene: stored times may repeat or step back a little
    still = [(0.0, 5.0, 1), (1.0, 4.8, 1), (2.0, 5.0, 1)]
    assert len(consistent(still)) == 3
    # several stored frames per query time: one pair per query time
    many = [(0.0, 1.0, 3), (0.0, 2.0, 3), (1.0, 2.5, 3)]
    assert [q for q, _, _ in consistent(many)] == [0.0, 1.0]


def _short_copy(world: World, matched: int, frames: int) -> VideoHashes:
    """A scanned clip of `frames` seconds (1 frame/s) whose mirrored frames are her frames
    2 s on for the first `matched` seconds, and unrelated (random hashes) for the rest."""
    rng = np.random.default_rng(frames * 10 + matched)
    hers = sorted(world.stored.frames, key=lambda f: f.timestamp)

    def at(t: float) -> str:
        return min(hers, key=lambda f: abs(f.timestamp - t)).pdq_hex

    def random_hex() -> str:
        return bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()

    whole = tuple(VpdqFrame(t, 100, random_hex(), float(t)) for t in range(frames))
    flipped = tuple(
        VpdqFrame(t, 100, at(t + 2.0) if t < matched else random_hex(), float(t))
        for t in range(frames)
    )
    return VideoHashes(
        "0" * 32,
        "0" * 64,
        whole,
        float(frames),
        SIZE[0],
        SIZE[1],
        regions={"whole/flip_horizontal": flipped},
    )


@pytest.mark.parametrize(
    ("matched", "frames", "found"),
    [
        (5, 7, True),  # 71% of a 7-second clip: missed under a plain 80% share
        (4, 6, True),  # 67%
        (4, 8, True),  # 50%
        (2, 2, True),  # a clip with two usable frames, both hers
        (3, 7, False),  # 43%: too little of the clip
        (2, 7, False),  # under 3 frames of a longer clip
        (1, 1, False),  # one frame is never enough for a robust method
    ],
)
def test_short_clips_found_by_frame_count_not_plain_share(
    world: World, matched: int, frames: int, found: bool
) -> None:
    """Short clips (issue 21 item 2): a robust run of at least 3 consistent frames (all of a
    clip's if it has fewer, at least 2) holding 50% of the clip is a match; 80% left a 7 s
    clip found in 5 of its 7 frames unmatched."""
    hits = match_video(world.matcher, _short_copy(world, matched, frames))
    assert [h.case for h in hits] == (["C-1"] if found else []), hits
    if found:
        assert (hits[0].details or {})["method"] == "vpdq-mirrored"


def test_inset_edge_is_the_step_nearest_the_middle() -> None:
    """An inset whose own picture has a stronger straight step than its edge (black bars
    beside colour bars, as a padded test pattern) is cut at its edge, not at that step."""
    h = w = 256
    ys, xs = np.mgrid[0:h, 0:w]
    frame = (90 + 30 * np.sin(xs / 40.0) * np.cos(ys / 50.0)).astype(np.float32)  # background
    x0, y0, x1, y1 = 120, 8, 248, 136  # the inset, top right
    inset = np.zeros((y1 - y0, x1 - x0), np.float32)  # black bars left and right...
    stripes = ((np.arange(64) // 8) % 2) * 200 + 40
    inset[:, 32:96] = stripes[None, :]  # ...around bright vertical stripes
    inset[:, 110:116] = 250  # and a bright line near its outer edge
    frame[y0:y1, x0:x1] = inset
    boxes = video_variants.pip_boxes(frame.astype(np.uint8), (w, h))
    left, top, right, bottom = boxes["top-right"]
    assert abs(left - x0) <= 2 and abs(bottom - y1) <= 2, boxes
    assert abs(right - x1) <= 2, boxes  # the outer edge: the clear step nearest the frame's


def test_a_layout_seen_on_most_frames_is_hashed_where_a_frame_hides_it() -> None:
    """A textured picture hides its inset's edges on some frames: the inset seen on 2 frames
    and on at least half of those so far is still hashed where it was; one seen once is not."""
    box = (10, 20, 110, 90)
    votes = video_variants._Votes()
    assert votes.add(box) == box
    assert votes.add(None) is None  # seen once
    assert votes.add(box) == box
    assert votes.add(None) == box  # seen on 2 of 4 frames
    assert votes.add(None) is None  # 2 of 5
