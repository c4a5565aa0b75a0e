"""The page tells photos from videos as rempart.media.kinds does: kinds.js (run by Node) gives
the same answer as kinds.sniff on the first bytes of many file types, counts an animated
GIF as a video and a still one as a photo, and names what is neither (an empty file too)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from rempart.media.kinds import is_animated_gif, sniff
from rempart.samples import photo_like

SCRIPT = Path(__file__).with_name("page_kinds.mjs")
HEADS = {
    "jpeg.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "png.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "bmp.bmp": b"BM" + bytes(14),
    "tiff-le.tif": b"II*\x00" + bytes(12),
    "tiff-be.tif": b"MM\x00*" + bytes(12),
    "webp.webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    "heic.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
    "avif.avif": b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00",
    "mp4.mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00",
    "mov.mov": b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00",
    "webm.webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81",
    "flv.flv": b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00",
    "avi.avi": b"RIFF\x00\x00\x00\x00AVI LIST",
    "mpeg.mpg": b"\x00\x00\x01\xba" + bytes(12),
    "letter.jpg": b"Dear helpline, not a picture",
    "random.bin": bytes(range(7, 40)),
    "zip.zip": b"PK\x03\x04" + bytes(20),
}


def gif(frames: int) -> bytes:
    buf = io.BytesIO()
    images = [photo_like(seed, (64, 48)).convert("P") for seed in range(frames)]
    images[0].save(buf, "GIF", save_all=frames > 1, append_images=images[1:], duration=100)
    return buf.getvalue()


def test_kinds_like_python(tmp_path: Path) -> None:
    files: dict[str, bytes] = {n: h + bytes(32) for n, h in HEADS.items()}
    files["still.gif"] = gif(1)
    files["animated.gif"] = gif(3)
    files["empty.jpg"] = b""
    jobs = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        jobs.append({"path": str(tmp_path / name), "name": name})
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = dict(zip(files, json.loads(done.stdout), strict=True))
    for name, data in files.items():
        assert got[name]["sniff"] == sniff(data[:16]), name
    assert got["animated.gif"]["gifFrames"] == 2 and is_animated_gif(files["animated.gif"])
    assert got["animated.gif"]["kind"] == "video"
    assert got["still.gif"]["gifFrames"] == 1 and not is_animated_gif(files["still.gif"])
    assert got["still.gif"]["kind"] == "image"
    assert got["mov.mov"]["kind"] == "video" and got["heic.heic"]["kind"] == "image"
    for name in ("letter.jpg", "random.bin", "zip.zip"):
        assert got[name]["code"] == "not-media", name
    assert got["empty.jpg"]["code"] == "undecodable"
