"""The hash cache keeps a photo's variants and local features (no pixels) and gives them
back as they were; a cache written by an older version is ignored."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rempart.samples import photo_like
from rempart.scan.hash_cache import HashCache
from rempart.signals.image_hashes import hash_image_bytes


def test_round_trip_with_variants_and_features(tmp_path: Path) -> None:
    buf = io.BytesIO()
    photo_like(5, (640, 480)).save(buf, "PNG")
    h = hash_image_bytes(buf.getvalue(), "p.png", dihedral=True, robust="query")
    assert h.variants and h.features is not None
    cache = HashCache(tmp_path)
    cache.put("image-1-query", h)
    back = cache.get(h.sha256, "image-1-query")
    assert back is not None
    assert back.variants == h.variants and back.dihedral == h.dihedral
    assert (back.features.descriptors == h.features.descriptors).all()
    stored = next(tmp_path.rglob("*.json"))
    doc = json.loads(stored.read_text())
    doc["version"] = 1
    stored.write_text(json.dumps(doc))
    assert cache.get(h.sha256, "image-1-query") is None
