"""A video's centre crops (`vpdq_crops`: the robust stage's crop90/crop80 of her frames, that
find cropped re-posts) travel in Rempart's hash list: exported with the halves, imported by
the partner into its bank (as vpdq-region signals), and the same after a round trip. A list
written before crops were exported (no `vpdq_crops`) still imports."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.exchange.test_lists import consent, rand_hex, rempart, submission, video


def cropped_video(rng: random.Random) -> dict[str, Any]:
    item = video(rng)
    item["vpdq_crops"] = {
        name: [f"{rand_hex(rng, 256)},100,{t:.3f}" for t in (0.0, 1.0)]
        for name in ("crop90", "crop80")
    }
    return item


def test_crops_round_trip(rempart_env: Path) -> None:
    home = rempart_env
    rng = random.Random(11)
    item = cropped_video(rng)
    rempart("bank", "create", "src")
    rempart("bank", "create", "dst")
    rempart(
        "bank",
        "import",
        "src",
        str(submission(home / "s.json", [item])),
        "--case",
        "C-1",
        "--consent",
        str(consent(home / "c1.json", exchange=True)),
    )
    rempart("bank", "export", "src", "--out", str(home / "a.json"))
    exported = json.loads((home / "a.json").read_text())["items"]
    assert [e.get("vpdq_crops") for e in exported] == [item["vpdq_crops"]]
    assert exported[0]["vpdq_regions"] == item["vpdq_regions"]
    rempart(
        "bank",
        "import-list",
        "dst",
        str(home / "a.json"),
        "--case",
        "C-2",
        "--consent",
        str(consent(home / "c2.json", exchange=True)),
    )
    # what the partner's bank holds, exported again: the crops came in
    rempart("bank", "export", "dst", "--out", str(home / "b.json"))
    again = json.loads((home / "b.json").read_text())["items"]
    assert again == exported


def test_a_list_without_crops_still_imports(rempart_env: Path) -> None:
    home = rempart_env
    rng = random.Random(12)
    item = video(rng)  # halves only, as lists written before crops were exported
    doc = {
        "format": "rempart-hash-list",
        "version": 1,
        "bank": {"name": "old", "pdq_threshold": 31},
        "items": [item],
        "withdrawn": [],
    }
    (home / "old.json").write_text(json.dumps(doc))
    rempart("bank", "create", "dst")
    said = rempart(
        "bank",
        "import-list",
        "dst",
        str(home / "old.json"),
        "--case",
        "C-3",
        "--consent",
        str(consent(home / "c3.json", exchange=True)),
    )
    assert "Imported" in said
    rempart("bank", "export", "dst", "--out", str(home / "b.json"))
    (back,) = json.loads((home / "b.json").read_text())["items"]
    assert "vpdq_crops" not in back and back["vpdq"] == item["vpdq"]
