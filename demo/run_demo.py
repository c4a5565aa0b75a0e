"""The Rempart demo: hash a person's photos and video, bank the hashes, scan a folder of
found images and videos; then the same from her own hashing page: `rempart hash-page`
writes it, Debian's chromium runs it headless on her photos (as she would in her browser,
through rempart.web.hashpage.driver), `rempart bank import` takes the file it saved, and a
scan finds a cropped copy through it (skipped, saying so, when chromium is not installed).

Everything runs on bundled, generated samples (ordinary abstract scenes), in demo/out/.
Each step is a real `rempart` command, printed before it runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from rempart.samples import photo_like, scene_frames, write_video

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BIN = Path(sys.executable).parent / "rempart"


def run(*args: str, ok: tuple[int, ...] = (0,)) -> None:
    print(f"\n$ rempart {' '.join(args)}", flush=True)
    code = subprocess.run([str(BIN), *args], env=ENV).returncode
    if code not in ok:
        sys.exit(f"demo step failed with exit code {code}")


def make_samples() -> None:
    photos, found = OUT / "victim-photos", OUT / "found"
    photos.mkdir(parents=True)
    found.mkdir()
    originals = []
    for i in range(6):
        img = photo_like(1000 + i, (1600, 1200))
        img.save(photos / f"photo-{i + 1}.jpg", quality=92)
        originals.append(img)
    # What a caseworker might find: copies, re-encodes, edits, and unrelated pictures.
    originals[0].save(found / "copy.jpg", quality=92)
    shutil.copyfile(photos / "photo-1.jpg", found / "exact-copy.jpg")
    originals[1].resize((800, 600)).save(found / "smaller-recompressed.jpg", quality=50)
    ImageOps.mirror(originals[2]).save(found / "mirrored.jpg", quality=85)
    originals[3].rotate(90, expand=True).save(found / "rotated.png")
    ImageOps.grayscale(originals[4]).save(found / "greyscale.jpg", quality=80)
    # Harder copies (the robust stage): cropped, in a blurred frame, screenshotted, tilted,
    # and a fake that keeps the upper part of her photo and replaces the rest.
    w, h = originals[5].size
    originals[5].crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(
        found / "cropped.jpg", quality=88
    )
    framed = originals[0].resize((w * 7 // 5, h * 7 // 5)).filter(ImageFilter.GaussianBlur(30))
    framed.paste(originals[0], (w // 5, h // 5))
    framed.save(found / "in-a-blurred-frame.jpg", quality=85)
    shot = Image.new("RGB", (w // 2 + 40, h // 2 + 220), (245, 245, 245))
    ImageDraw.Draw(shot).rectangle((0, 0, w // 2 + 40, 90), fill=(40, 40, 60))
    shot.paste(originals[2].resize((w // 2, h // 2)), (20, 110))
    shot.save(found / "screenshot-of-a-chat.png")
    originals[3].rotate(7, expand=True).save(found / "tilted.jpg", quality=85)
    fake = photo_like(6000, (w, h))
    fake.paste(originals[4].crop((0, 0, w, h // 3)), (0, 0))
    fake.save(found / "upper-third-kept.jpg", quality=85)
    for i in range(12):
        photo_like(5000 + i, (800, 600)).save(found / f"unrelated-{i + 1:02d}.jpg", quality=85)
    Image.new("RGB", (640, 480), (120, 130, 140)).save(found / "plain-grey.png")
    (found / "empty.jpg").write_bytes(b"")
    (found / "notes.jpg").write_text("this is not a picture")
    data = (photos / "photo-6.jpg").read_bytes()
    (found / "truncated.jpg").write_bytes(data[: len(data) // 3])
    # Her 40-second video; found: a 15-second clip of it re-encoded smaller as WebM, a
    # screenshot of it, and an unrelated video.
    frames = scene_frames(77, 40, 10, (480, 320))
    write_video(photos / "video-1.mp4", frames)
    clip = [np.ascontiguousarray(f[::2, ::2]) for f in frames[200:350]]
    write_video(found / "clip-of-video.webm", clip, codec="libvpx")
    Image.fromarray(frames[123]).save(found / "screenshot-of-video.jpg", quality=80)
    write_video(found / "unrelated-video.mp4", scene_frames(78, 15, 10, (480, 320)))


def her_page_step() -> None:
    """Her page: written, run in chromium on her photos, its file imported and matched."""
    from rempart.web.hashpage.driver import chromium_missing, hash_with_page

    page, saved = OUT / "her-page.html", OUT / "her-page-hashes.json"
    run("hash-page", "--out", str(page))
    why = chromium_missing()
    if why:
        print(f"\nHer page in a browser: skipped ({why}). The rest of the demo is unchanged.")
        return
    photos = sorted((OUT / "victim-photos").glob("*.jpg"))
    print(
        f"\n$ chromium --headless {page.name}   # she opens her page, chooses "
        f"{len(photos)} photos, agrees and saves {saved.name}",
        flush=True,
    )
    sub, entries = hash_with_page(photos, saved, page=page, given_by="Demo Person")
    failed = [e["name"] for e in entries if e["status"] != "done"]
    print(
        f"  her browser hashed {len(sub['items'])} photo(s) with nothing sent"
        + (f"; could not hash: {', '.join(failed)}" if failed else "")
    )
    found = OUT / "found-later"
    found.mkdir()
    shutil.copyfile(OUT / "found" / "cropped.jpg", found / "cropped-copy.jpg")
    for name in ("unrelated-01.jpg", "unrelated-02.jpg"):
        shutil.copyfile(OUT / "found" / name, found / name)
    run("bank", "create", "her-page", "--description", "Hashes from her own page")
    run("bank", "import", "her-page", str(saved), "--case", "CASE-124")
    report = OUT / "matches-her-page.json"
    run("scan", str(found), "--bank", "her-page", "--report", str(report), ok=(0, 3))
    data = json.loads(report.read_text(encoding="utf-8"))
    hits = sorted(
        {
            f"{Path(str(m['file'])).name} ({m['case']}, {m['signal']})"
            for m in data.get("matches", [])
        }
    )
    print(f"\nFound through the file her page saved: {', '.join(hits) or 'nothing'}")


if __name__ == "__main__":
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    ENV = {**os.environ, "REMPART_HOME": str(OUT / "home"), "REMPART_DB": str(OUT / "demo.db")}
    make_samples()
    print("Sample images written to", OUT)
    run(
        "hash",
        str(OUT / "victim-photos"),
        "--out",
        str(OUT / "my-hashes.json"),
        "--consent",
        str(HERE / "consent.json"),
    )
    run("bank", "create", "victim-cases", "--description", "Demo bank")
    run("bank", "import", "victim-cases", str(OUT / "my-hashes.json"), "--case", "CASE-123")
    run("bank", "list")
    run(
        "scan",
        str(OUT / "found"),
        "--bank",
        "victim-cases",
        "--report",
        str(OUT / "matches.json"),
        ok=(0, 3),
    )
    run(
        "scan",
        str(OUT / "found"),
        "--bank",
        "victim-cases",
        "--report",
        str(OUT / "matches.csv"),
        "--format",
        "csv",
        ok=(0, 3),
    )
    her_page_step()
    print(
        f"\nDemo finished. Reports: {OUT / 'matches.json'} and {OUT / 'matches.csv'}"
        + (
            f"; her page's: {OUT / 'matches-her-page.json'}"
            if (OUT / "matches-her-page.json").exists()
            else ""
        )
    )
