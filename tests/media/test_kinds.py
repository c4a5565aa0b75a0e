from pathlib import Path

import numpy as np
from PIL import Image

from rempart.media.kinds import is_animated_gif, media_kind, sniff
from rempart.samples import photo_like
from tests.media.video_factory import scene_frames, write_video


def test_kinds_by_extension_and_by_content(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo_like(1, (64, 48)).save(photo)
    video = write_video(tmp_path / "v.mp4", scene_frames(1, 1, 10, (64, 48)))
    webm = write_video(tmp_path / "v.webm", scene_frames(1, 1, 10, (64, 48)), codec="libvpx")
    assert media_kind(photo) == "image" and media_kind(video) == "video"
    # renamed files are recognised by their first bytes
    for src, kind in ((photo, "image"), (video, "video"), (webm, "video")):
        renamed = tmp_path / f"{src.stem}{src.suffix[1:]}.dat"
        renamed.write_bytes(src.read_bytes())
        assert media_kind(renamed) == kind, src
    (tmp_path / "notes.txt").write_text("hello")
    assert media_kind(tmp_path / "notes.txt") is None
    assert media_kind(tmp_path / "missing.bin") is None


def test_animated_gif_is_a_video_and_a_still_gif_an_image(tmp_path: Path) -> None:
    frames = [
        Image.fromarray((np.random.default_rng(i).random((40, 50, 3)) * 255).astype("uint8"))
        for i in range(4)
    ]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=200)
    frames[0].save(tmp_path / "s.gif")
    (tmp_path / "broken.gif").write_bytes(b"GIF89a\x00")
    assert media_kind(tmp_path / "a.gif") == "video"
    assert media_kind(tmp_path / "s.gif") == "image"
    assert media_kind(tmp_path / "broken.gif") == "image"  # the image decoder reports it
    # the same from bytes (archive members, downloads)
    assert is_animated_gif((tmp_path / "a.gif").read_bytes())
    assert not is_animated_gif((tmp_path / "s.gif").read_bytes())
    assert not is_animated_gif(b"GIF89a\x00")


def test_sniff_heif_is_an_image_and_mp4_brands_are_videos() -> None:
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "image"
    assert sniff(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00") == "video"
    assert sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00") == "video"
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST") == "video"
    assert sniff(b"") is None
