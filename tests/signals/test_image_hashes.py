"""One read, every hash: MD5, SHA-256 and PDQ of a file, against threatexchange."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from threatexchange.signal_type.pdq.signal import PdqSignal

from rempart.media import decode as decode_module
from rempart.media.errors import MediaError
from rempart.samples import photo_like
from rempart.signals.exact import digests
from rempart.signals.image_hashes import ImageHashes, hash_image_bytes, hash_image_file
from rempart.signals.pdq import DIHEDRAL, pdq_hash


def test_digests_known_values() -> None:
    assert digests(b"") == (
        "d41d8cd98f00b204e9800998ecf8427e",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )
    assert digests(b"abc")[0] == "900150983cd24fb0d6963f7d28e17f72"


def test_file_is_read_once_and_hashed_from_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.jpg"
    photo_like(1, (640, 480)).save(path, quality=90)
    data = path.read_bytes()
    reads: list[str] = []
    real = decode_module.read_file_bytes

    def counting(p: Path, **kw: int) -> bytes:
        reads.append(str(p))
        return real(p, **kw)

    monkeypatch.setattr("rempart.signals.image_hashes.read_file_bytes", counting)
    h = hash_image_file(path)
    assert reads == [str(path)]
    assert isinstance(h, ImageHashes)
    assert (h.md5, h.sha256) == (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())
    assert (h.width, h.height, h.format, h.notes, h.dihedral) == (640, 480, "JPEG", (), None)
    assert h == hash_image_bytes(data, path)


def test_same_hash_as_threatexchange_on_small_jpegs(tmp_path: Path) -> None:
    for seed in range(4):
        path = tmp_path / f"{seed}.jpg"
        photo_like(seed, (800, 600)).save(path, quality=85)
        assert hash_image_file(path).pdq.hex == PdqSignal.hash_from_file(path)


def test_dihedral_on_request(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    img = photo_like(5, (300, 200))
    img.save(path)
    h = hash_image_file(path, dihedral=True)
    assert h.dihedral is not None
    assert tuple(n for n, _ in h.dihedral) == DIHEDRAL
    assert h.dihedral[0][1] == h.pdq == pdq_hash(img)


def test_limits_are_passed_through(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    photo_like(6, (300, 200)).save(path)
    with pytest.raises(MediaError) as info:
        hash_image_file(path, max_pixels=300 * 199)
    assert info.value.reason == "too-many-pixels"
    with pytest.raises(MediaError) as info:
        hash_image_file(path, max_bytes=100)
    assert info.value.reason == "too-large"
    with pytest.raises(MediaError) as info:
        hash_image_bytes(path.read_bytes(), "mem.png", max_pixels=100)
    assert info.value.reason == "too-many-pixels" and str(info.value).startswith("mem.png: ")
