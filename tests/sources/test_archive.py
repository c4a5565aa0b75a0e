import io
import tarfile
import zipfile
from pathlib import Path

import py7zr

from rempart.samples import photo_like, scene_frames, write_video
from rempart.sources.archive import ArchiveLimits, iter_archive
from rempart.sources.base import MediaRef, SourceProblem
from rempart.sources.folder import iter_folder


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, (200, 150)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def split(items: list) -> tuple[list[MediaRef], list[SourceProblem]]:
    return (
        [i for i in items if isinstance(i, MediaRef)],
        [i for i in items if isinstance(i, SourceProblem)],
    )


def test_zip_with_nested_tar_and_videos(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", scene_frames(1, 2, 10, (96, 64)))
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        for name, data in (("deep/a.jpg", jpeg(1)), ("deep/readme.txt", b"hello")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path = tmp_path / "case.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("photos/b.jpg", jpeg(2))
        zf.writestr("photos/renamed.dat", jpeg(3))  # found by its first bytes
        zf.writestr("videos/v.mp4", video.read_bytes())
        zf.writestr("inner.tar.gz", inner.getvalue())
        zf.writestr("notes.txt", "nothing to see")
    refs, problems = split(list(iter_archive(path)))
    assert not problems
    names = {r.provenance["member"] for r in refs}
    assert names == {"photos/b.jpg", "photos/renamed.dat", "videos/v.mp4", "deep/a.jpg"}
    nested = next(r for r in refs if r.provenance["member"] == "deep/a.jpg")
    assert nested.locator == f"{path}!inner.tar.gz!deep/a.jpg"
    assert nested.data == jpeg(1) and nested.provenance["archive"] == str(path)


def test_hostile_members_are_refused_and_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../../escape.jpg", jpeg(1))
        zf.writestr("/abs/olute.jpg", jpeg(2))
        zf.writestr("bomb.jpg", b"\xff\xd8\xff" + bytes(30 * 1024 * 1024))
        zf.writestr("fine.jpg", jpeg(3))
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    refs, problems = split(list(iter_archive(path)))
    assert [r.provenance["member"] for r in refs] == ["fine.jpg"]
    reasons = {p.locator.split("!")[-1]: p.reason for p in problems}
    assert reasons == {
        "../../escape.jpg": "unsafe-name",
        "/abs/olute.jpg": "unsafe-name",
        "bomb.jpg": "archive-bomb",
        "link.jpg": "link-member",
    }
    assert all(str(path) in p.detail for p in problems)


def test_encrypted_member_truncated_archive_and_depth_limit(tmp_path: Path) -> None:
    path = tmp_path / "enc.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("secret.jpg", jpeg(1))
    raw = bytearray(path.read_bytes())
    raw[6] |= 1  # "encrypted" flag in the local header
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 8] |= 1  # and in the central directory
    path.write_bytes(bytes(raw))
    (_, problems) = split(list(iter_archive(path)))
    assert [p.reason for p in problems] == ["encrypted"]

    tar_path = tmp_path / "cut.tar"
    with tarfile.open(tar_path, "w") as tf:
        for k in range(3):
            data = jpeg(10 + k)
            info = tarfile.TarInfo(f"p{k}.jpg")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    tar_path.write_bytes(tar_path.read_bytes()[: -3000 - 1024 * 2])
    refs, problems = split(list(iter_archive(tar_path)))
    assert len(refs) >= 1 and problems and problems[-1].reason == "corrupt-archive"

    nested = jpeg(5)
    for level in range(5):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("inner.zip" if level else "deep.jpg", nested)
        nested = buf.getvalue()
    (tmp_path / "deep.zip").write_bytes(nested)
    refs, problems = split(list(iter_archive(tmp_path / "deep.zip", ArchiveLimits(max_depth=3))))
    assert not refs and [p.reason for p in problems] == ["archive-too-deep"]


def test_7z_and_total_size_limit(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    for k in range(3):
        (folder / f"p{k}.jpg").write_bytes(jpeg(20 + k))
    path = tmp_path / "a.7z"
    with py7zr.SevenZipFile(path, "w") as z:
        z.writeall(folder, arcname="photos")
    refs, problems = split(list(iter_archive(path)))
    assert not problems and len(refs) == 3
    limits = ArchiveLimits(max_total_bytes=2 * len(jpeg(20)))
    refs, problems = split(list(iter_archive(path, limits)))
    assert len(refs) == 1 and problems[0].reason == "archive-bomb"


def test_folder_walk_opens_archives(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as zf:
        zf.writestr("a.jpg", jpeg(1))
    (tmp_path / "b.jpg").write_bytes(jpeg(2))
    refs = [i for i in iter_folder([tmp_path]) if isinstance(i, MediaRef)]
    assert sorted(r.locator.rsplit("/", 1)[-1] for r in refs) == ["b.jpg", "x.zip!a.jpg"]
