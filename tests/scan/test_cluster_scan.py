"""Scans on a real Dask cluster (several worker processes) give the same results: files
read by the workers, archive members sent with their bytes (results come back without them),
items hashed in batches spread over two worker processes, a file that cannot be decoded.
Batches are large, and small at the end so that the workers finish together; the scan
process and the workers set glibc's allocator thresholds (rempart.scan.allocator)."""

from __future__ import annotations

import ctypes
import gc
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like, scene_frames, write_video
from rempart.scan import allocator, cluster
from rempart.sources.base import MediaRef

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def matches(report: Path) -> set[tuple[str, int, str]]:
    data = json.loads(report.read_text())
    return {(Path(m["file"]).name, m["bank_entry"], m["signal"]) for m in data["matches"]}


def test_local_cluster_and_scheduler_address_match_the_plain_scan(
    rempart_env: Path, consent_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Client, LocalCluster

    tuning: list[bool] = []  # the scan process tunes its allocator (its pool forks from it)
    monkeypatch.setattr(
        "rempart.scan.pipeline.tune_allocator", lambda: tuning.append(allocator.tune_allocator())
    )

    hers = rempart_env / "hers"
    hers.mkdir()
    for s in (1, 2, 3):
        photo_like(s, (320, 240)).save(hers / f"{s}.jpg", quality=90)
    rempart("hash", str(hers), "--out", str(rempart_env / "s.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank",
        "import",
        "b",
        str(rempart_env / "s.json"),
        "--case",
        "C",
        "--consent",
        str(consent_file),
    )
    found = rempart_env / "found"
    found.mkdir()
    photo_like(1, (320, 240)).rotate(90, expand=True).save(found / "rot.png")
    photo_like(2, (160, 120)).save(found / "small.jpg", quality=60)
    for k in range(10):  # with the others: more than one batch per worker
        photo_like(100 + k, (160, 120)).save(found / f"other{k}.jpg")
    member = io.BytesIO()
    photo_like(3, (320, 240)).save(member, "JPEG", quality=80)
    with zipfile.ZipFile(found / "sent.zip", "w") as z:
        z.writestr("inside/copy.jpg", member.getvalue())
    write_video(found / "v.mp4", scene_frames(4, 3, 10, (160, 120)))
    (found / "broken.jpg").write_bytes(b"\xff\xd8\xff nothing")
    plain, local, remote = (rempart_env / f"{n}.json" for n in ("plain", "local", "remote"))
    rempart("scan", str(found), "--bank", "b", "--report", str(plain), code=3)
    rempart(
        "scan",
        str(found),
        "--bank",
        "b",
        "--report",
        str(local),
        "--cluster",
        "local",
        "--workers",
        "1",
        code=3,
    )
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as dask_cluster,
        Client(dask_cluster) as client,
    ):
        pids = set(client.run(lambda: __import__("os").getpid()).values())
        assert len(pids) == 2
        rempart(
            "scan",
            str(found),
            "--bank",
            "b",
            "--report",
            str(remote),
            "--cluster",
            dask_cluster.scheduler_address,
            code=3,
        )
        # each worker set the thresholds on its first task, whatever its environment
        # (Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536)
        on_glibc = hasattr(ctypes.CDLL(None), "mallopt")
        assert set(client.run(allocator.tuned).values()) == {on_glibc}
        # and froze what they held then, so that they stop in a moment (cluster._settle_worker)
        assert all(n > 0 for n in client.run(gc.get_freeze_count).values())
    assert tuning and tuning[0] == on_glibc
    assert matches(plain) == matches(local) == matches(remote)
    assert {(f, sig) for f, _, sig in matches(plain)} == {
        ("rot.png", "pdq"),
        ("small.jpg", "pdq"),
        ("copy.jpg", "pdq"),  # an archive member: its bytes went to a worker
    }
    reused = {}
    for name, report in (("plain", plain), ("local", local), ("remote", remote)):
        data = json.loads(report.read_text())
        assert data["summary"]["hashed"] == 14 and data["summary"]["videos"] == 1
        reused[name] = data["summary"]["known_content_reused"]
        assert [Path(s["file"]).name for s in data["skipped"]] == ["broken.jpg"]
    # this machine's hash cache (purged on withdrawal) serves its own local cluster; the
    # workers of a cluster reached by address use none
    assert reused["plain"] == 0 and reused["local"] >= 12 and reused["remote"] == 0


def _refs(names: list[str], data: bytes | None = None) -> list[MediaRef]:
    return [MediaRef(path=Path(n), locator=n, data=data) for n in names]


def test_batches_are_large_then_shrink_at_the_end() -> None:
    names = [f"{k}.jpg" for k in range(400)]
    sizes = [len(b) for b in cluster._batches(_refs(names), 32, 1 << 30, parts=4)]
    assert sum(sizes) == 400 and max(sizes) == 32
    assert sizes[:4] == [32, 32, 32, 32]  # the end not in sight: full batches
    tail = sizes[next(i for i, n in enumerate(sizes) if n < 32) :]  # the end in sight
    assert tail == sorted(tail, reverse=True) and len(tail) >= 8
    assert tail[-2] == cluster.MIN_BATCH_ITEMS  # then what is left
    # in order, each item once
    flat = [r.locator for b in cluster._batches(_refs(names), 32, 1 << 30, parts=4) for r in b]
    assert flat == names
    # a short scan is spread over the parts from the start
    assert [len(b) for b in cluster._batches(_refs(names[:14]), 32, 1 << 30, parts=4)] == [
        4,
        3,
        2,
        2,
        2,
        1,
    ]
    # without parts: plain batches, as before
    assert [len(b) for b in cluster._batches(_refs(names[:70]), 32, 1 << 30)] == [32, 32, 6]


def test_batches_keep_videos_alone_and_bytes_bounded() -> None:
    refs = _refs(["a.jpg", "b.jpg", "v.mp4", "c.jpg", "d.jpg", "e.jpg"])
    batches = [[r.locator for r in b] for b in cluster._batches(refs, 4, 1 << 30)]
    assert batches == [["a.jpg", "b.jpg"], ["v.mp4"], ["c.jpg", "d.jpg", "e.jpg"]]
    members = _refs([f"m{k}.jpg" for k in range(10)], data=b"x" * 100)
    sizes = [len(b) for b in cluster._batches(members, 32, 250, parts=2)]
    assert sum(sizes) == 10 and max(sizes) <= 2  # 250 bytes: two members of 100 at most


@pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc 2.33+ (mallinfo2) only"
)
def test_tuned_allocator_keeps_a_decoded_picture_in_the_heap() -> None:
    """As a Dask worker starts (MALLOC_TRIM_THRESHOLD_=65536), every 3 MB buffer is mapped
    afresh; after tune_allocator, it comes from the heap."""
    code = textwrap.dedent(
        """
        import ctypes
        from rempart.scan.allocator import tune_allocator
        libc = ctypes.CDLL(None)
        class Info(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd "
                        "usmblks fsmblks uordblks fordblks keepcost".split()]
        libc.mallinfo2.restype = Info
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
        def mapped():
            before = libc.mallinfo2().hblks
            p = libc.malloc(3 << 20)
            n = libc.mallinfo2().hblks - before
            libc.free(p)
            return n
        print(mapped(), mapped(), tune_allocator(), mapped())
        """
    )
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    first, again, tuned, after = out.stdout.split()
    assert (first, again, tuned) == ("1", "1", "True")  # mapped each time, then tuned
    assert after == "0"
