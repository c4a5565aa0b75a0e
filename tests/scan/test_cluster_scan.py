"""Scans on a real Dask cluster (several worker processes) give the same results: files
read by the workers, archive members sent with their bytes (results come back without them),
items hashed in batches spread over two worker processes, a file that cannot be decoded."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like, scene_frames, write_video

runner = CliRunner()


def rempart(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def matches(report: Path) -> set[tuple[str, int, str]]:
    data = json.loads(report.read_text())
    return {(Path(m["file"]).name, m["bank_entry"], m["signal"]) for m in data["matches"]}


def test_local_cluster_and_scheduler_address_match_the_plain_scan(
    rempart_env: Path, consent_file: Path
) -> None:
    from distributed import Client, LocalCluster

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
        ) as cluster,
        Client(cluster) as client,
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
            cluster.scheduler_address,
            code=3,
        )
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
