"""A cache of computed hashes by content (SHA-256), so a re-scan skips decoding known files.

One small JSON file per content and hashing recipe under REMPART_HOME/cache/hashes/. It
holds hashes of scanned media only (never a victim's own hashes, which live in the banks),
and never pixels. A damaged or foreign cache file is ignored and rewritten.

A scanned copy that matched her content has hashes near-identical to hers: when she
withdraws, `matched_content` (read before her bank entries and their matches are deleted)
names those copies and `HashCache.purge` deletes their files, so nothing close to her
hashes stays in the home folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.signals.image_hashes import ImageHashes
from rempart.signals.local_features import Features
from rempart.signals.pdq import PdqHash
from rempart.signals.pdq_variants import Variant
from rempart.signals.vpdq import VideoHashes, VpdqFrame
from rempart.store.models import BankItem, Match, MatchOccurrence, ScanItem

VERSION = 3  # 2: photos carry PDQ variants and local features; 3: mirrored features


class HashCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, sha256: str, recipe: str) -> Path:
        return self.folder / sha256[:2] / f"{sha256}.{recipe}.json"

    def get(self, sha256: str, recipe: str) -> ImageHashes | VideoHashes | None:
        path = self._path(sha256, recipe)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("version") != VERSION or doc.get("sha256") != sha256:
                return None
            return _decode(doc)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def purge(self, sha256s: Iterable[str]) -> int:
        """Delete every cached file (all recipes) of these contents; returns how many."""
        removed = 0
        for sha in set(sha256s):
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                continue
            for path in (self.folder / sha[:2]).glob(f"{sha}.*.json"):
                try:
                    path.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    def put(self, recipe: str, hashes: ImageHashes | VideoHashes) -> None:
        path = self._path(hashes.sha256, recipe)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            doc = {"version": VERSION, "sha256": hashes.sha256, **_encode(hashes)}
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time


def _encode(h: ImageHashes | VideoHashes) -> dict[str, Any]:
    if isinstance(h, ImageHashes):
        plain = asdict(replace(h, features=None, mirrored_features=None))
        for key in ("features", "mirrored_features"):
            f = getattr(h, key)
            plain[key] = f.to_text() if f is not None else None
        return {"kind": "image", "hashes": plain}
    return {"kind": "video", "hashes": asdict(h)}


def _frames(items: Any) -> tuple[VpdqFrame, ...]:
    return tuple(VpdqFrame(**f) for f in items)


def _decode(doc: dict[str, Any]) -> ImageHashes | VideoHashes:
    h = doc["hashes"]
    if doc["kind"] == "image":
        dihedral = h.get("dihedral")
        return ImageHashes(
            h["md5"],
            h["sha256"],
            PdqHash(**h["pdq"]),
            h["width"],
            h["height"],
            h["format"],
            tuple(h["notes"]),
            tuple((name, PdqHash(**p)) for name, p in dihedral) if dihedral else None,
            tuple(
                Variant(v["kind"], v["name"], PdqHash(**v["hash"])) for v in h.get("variants", ())
            ),
            Features.from_text(h["features"]) if h.get("features") else None,
            Features.from_text(h["mirrored_features"]) if h.get("mirrored_features") else None,
        )
    return VideoHashes(
        h["md5"],
        h["sha256"],
        _frames(h["frames"]),
        h["duration"],
        h["width"],
        h["height"],
        _frames(h["trimmed_frames"]),
        tuple(h["notes"]),
        {k: _frames(v) for k, v in h["regions"].items()},
        h["seconds_per_frame"],
    )


def matched_content(
    s: Session, bank_item_ids: Iterable[int] | Any = None, *, case_id: int | None = None
) -> set[str]:
    """The SHA-256 of every scanned copy that matched these bank entries (ids or a select
    of them), or every entry of case `case_id`, at any sighting: to purge from the cache
    when they are withdrawn. Call it before the entries (and their matches) are deleted."""
    if case_id is not None:
        bank_item_ids = select(BankItem.id).where(BankItem.case_id == case_id)
    ids = (
        bank_item_ids if not isinstance(bank_item_ids, list | tuple | set) else list(bank_item_ids)
    )
    first = (
        select(ScanItem.sha256)
        .join(Match, Match.scan_item_id == ScanItem.id)
        .where(Match.bank_item_id.in_(ids))
    )
    seen = (
        select(ScanItem.sha256)
        .join(MatchOccurrence, MatchOccurrence.scan_item_id == ScanItem.id)
        .join(Match, MatchOccurrence.match_id == Match.id)
        .where(Match.bank_item_id.in_(ids))
    )
    return {sha for sha in list(s.scalars(first)) + list(s.scalars(seen)) if sha}


def purge_withdrawn(home: Path, sha256s: Iterable[str]) -> int:
    """After a withdrawal: delete the cached hashes of these contents from REMPART_HOME's
    cache (see matched_content); returns how many files went."""
    return HashCache(home / "cache" / "hashes").purge(sha256s)
