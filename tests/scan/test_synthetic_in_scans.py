"""Synthetic-media signals where people see them (issue 15 item 3): one real scan over her
banked generated photos and found copies (a photo declaring XMP trainedAlgorithmicMedia, the
C2PA fixture ocsp.jpg banked and found, a watermark-marked PNG, her photo with the lower 55%
replaced, a plain photo), then the scan report's JSON and CSV, `review list --format json`,
the API file lookup and `rempart report` read the same findings; plain photos have none.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rempart.api import keys
from rempart.cases import notices
from rempart.cases.queue import queue
from rempart.cli import app
from rempart.samples import photo_like
from rempart.scan import synthetic
from rempart.signals.synthetic import watermark as wm
from rempart.store.db import Database
from tests.api.conftest import Server, World
from tests.signals.synthetic.media_builders import xmp_packet
from tests.signals.synthetic.wm_embed import embed

runner = CliRunner()
W, H = 640, 480
OCSP = Path("/work/shared/testdata/c2pa/c2pa-rs/ocsp.jpg")


def rempart(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})  # no wrapped paths
    assert result.exit_code == 0, result.output
    return result.output


def _xmp_jpeg(seed: int, path: Path) -> None:
    """An ordinary generated photo whose XMP says trainedAlgorithmicMedia."""
    buf = io.BytesIO()
    photo_like(seed, (W, H)).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    body = b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet("trainedAlgorithmicMedia").encode()
    segment = b"\xff\xe1" + len(body + b"..").to_bytes(2, "big") + body
    path.write_bytes(data[:2] + segment + data[2:])


@pytest.fixture
def scanned(rempart_env: Path, consent_file: Path) -> dict[str, object]:
    if not OCSP.exists():
        pytest.skip("shared C2PA fixtures not present")
    photos = rempart_env / "photos"
    photos.mkdir()
    hers = photo_like(308, (W, H))
    hers.save(photos / "a.png")
    shutil.copy(OCSP, photos / "ocsp.jpg")  # a temporary copy, outside the repository
    photo_like(311, (W, H)).save(photos / "c.png")
    rempart("hash", str(photos), "--out", str(rempart_env / "h.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(rempart_env / "h.json"), "--case", "C-1",
        "--consent", str(consent_file),
    )  # fmt: skip
    found = rempart_env / "found"
    found.mkdir()
    lower = hers.copy()  # her photo with the lower 55% replaced
    lower.paste(photo_like(4242, (W, H)).crop((0, 0, W, H - int(H * 0.45))), (0, int(H * 0.45)))
    lower.save(found / "lower55.png")
    shutil.copy(OCSP, found / "ocsp.jpg")
    _xmp_jpeg(900, found / "xmp.jpg")
    embed(photo_like(311, (W, H)), wm.PAYLOADS[2].bits, "rgb").save(found / "marked.png")
    photo_like(950, (W, H)).save(found / "plain.jpg", quality=90)
    _xmp_jpeg(901, rempart_env / "member.jpg")  # an archive member: inspected as bytes
    with zipfile.ZipFile(found / "pack.zip", "w") as zf:
        zf.write(rempart_env / "member.jpg", "inside/member.jpg")
    photo_like(951, (W, H)).save(found / "plain.png")
    report = rempart_env / "r.json"
    printed = rempart("scan", str(found), "--bank", "b", "--workers", "1", "--report", str(report))
    assert "with a synthetic-media signal" in printed
    scan_id = str(json.loads(report.read_text())["scan_id"])
    rempart("scan", "report", scan_id, "--format", "csv", "--out", str(rempart_env / "r.csv"))
    return {
        "json": json.loads(report.read_text()),
        "csv": list(csv.DictReader((rempart_env / "r.csv").open(encoding="utf-8"))),
        "env": rempart_env,
    }


def _kinds(findings: list[dict[str, object]]) -> set[str]:
    return {f"{f['indicates']}:{f['type']}" for f in findings}


def test_scan_report_review_and_report_carry_the_signals(scanned: dict[str, object]) -> None:
    report = scanned["json"]
    assert isinstance(report, dict)
    by_file = {Path(e["file"]).name: e["signals"] for e in report["synthetic"]}
    assert _kinds(by_file["xmp.jpg"]) == {"ai-generated:xmp"}
    assert _kinds(by_file["member.jpg"]) == {"ai-generated:xmp"}  # pack.zip!inside/member.jpg
    assert "ai-modified:c2pa" in _kinds(by_file["ocsp.jpg"])
    assert _kinds(by_file["marked.png"]) == {"ai-generated:invisible-watermark"}
    assert by_file["marked.png"][0]["strength"] == "fragile"
    assert not {"plain.jpg", "plain.png", "lower55.png"} & set(by_file)  # no signal found
    matches = {Path(m["file"]).name: m for m in report["matches"]}
    assert set(matches) >= {"lower55.png", "ocsp.jpg", "marked.png"}, matches
    assert [f["type"] for f in matches["lower55.png"]["synthetic"]] == ["derivation"]
    assert "ai-modified:c2pa" in _kinds(matches["ocsp.jpg"]["synthetic"])
    rows = scanned["csv"]
    assert isinstance(rows, list)
    csv_by = {(Path(r["file"]).name, r["status"]): r["synthetic"] for r in rows}
    assert csv_by[("lower55.png", "match")] == "ai-modified:derivation"
    assert "ai-modified:c2pa" in csv_by[("ocsp.jpg", "match")]
    assert csv_by[("xmp.jpg", "synthetic-signal")] == "ai-generated:xmp"
    assert ("plain.png", "synthetic-signal") not in csv_by

    listed = json.loads(rempart("review", "list", "--format", "json"))
    review = {Path(i["file"]).name: i["synthetic"] for i in listed}
    assert _kinds(review["lower55.png"]) == {"ai-modified:derivation"}
    assert "ai-modified:c2pa" in _kinds(review["ocsp.jpg"])
    review_refs = {Path(i["file"]).name: i["ref"] for i in listed}
    for name in ("lower55.png", "ocsp.jpg"):
        rempart("review", "decide", review_refs[name], "confirmed", "--reason", "hers")
    env = scanned["env"]
    assert isinstance(env, Path)
    # the evidence package of the C2PA match: the findings, the raw manifest store and the
    # validation report, inside the signed manifest (verify still passes)
    package = env / "ocsp.zip"
    rempart("evidence", "export", review_refs["ocsp.jpg"], "--out", str(package))
    assert "intact" in rempart("evidence", "verify", str(package))
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
        store = json.loads(zf.read("c2pa/manifest_store.json"))
        validation = json.loads(zf.read("c2pa/validation_report.json"))
        assert "ai-modified:c2pa" in _kinds(json.loads(zf.read("synthetic.json")))
    assert {"c2pa/manifest_store.json", "c2pa/validation_report.json"} <= names
    assert store["active_manifest"] in store["manifests"]
    assert validation["validation_state"] and validation["active_manifest"]
    rempart("report", "--out", str(env / "stats"))
    ai = json.loads((env / "stats" / "stats.json").read_text())["synthetic"]
    assert ai["matches_with_ai_signal"] >= 2
    assert ai["by_indicates"]["ai-modified"] >= 2
    assert ai["confirmed_with_strong_signal"] == 2
    _web_badges(env, {Path(i["file"]).name: i["ref"] for i in listed})
    _notice_sentences()


def _notice_sentences() -> None:
    """The notice sentence for confirmed matches with a strong signal, in each language;
    none for the fragile watermark alone."""
    data = notices.load_data(None)
    items = {Path(i.file).name: i for i in queue(Database(os.environ["REMPART_DB"]), status=None)}
    en = notices.ai_statement(items["lower55.png"], data.phrases["en"])
    assert "generated or altered with AI, evidence: comparison with her original" in en
    assert "AI-altered" in notices.ai_statement(items["ocsp.jpg"], data.phrases["en"])
    assert "modifié par IA" in notices.ai_statement(items["ocsp.jpg"], data.phrases["fr"])
    assert "AI로" in notices.ai_statement(items["lower55.png"], data.phrases["ko"])
    if "marked.png" in items:
        assert notices.ai_statement(items["marked.png"], data.phrases["en"]) == ""
    assert "--state-ai" in rempart("notice", "create", "--help")


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m is not None
    return m.group(1)


def _web_badges(env: Path, refs: dict[str, str]) -> None:
    """The review page, the match page and the case page show the badges through a real
    `rempart serve`, in English and French; a plain match says no signal found."""
    world = World(env, os.environ["REMPART_DB"], Path(os.environ["REMPART_HOME"]))
    with Database(world.db_url).session() as s:
        world.keys["admin"], _ = keys.create_key(s, "admin", None, label="admin")
    server = Server(world, REMPART_WEB_COOKIE_SECURE="0")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            token = _csrf(c.get("/ui/login").text)
            login = c.post("/ui/login", data={"csrf": token, "key": world.keys["admin"]})
            assert login.status_code == 303, login.text[-2000:]
            r = c.get("/ui/review", params={"status": "all"})
            assert r.status_code == 200, r.text[:500]
            review = r.text
            assert "AI-altered signal · altered copy of her photo · strong" in review
            assert "AI-altered signal · C2PA content credentials" in review
            match = c.get(f"/ui/matches/{refs['lower55.png']}").text
            assert 'data-type="derivation"' in match and "AI-altered signal" in match
            assert "real" not in re.sub(r"<[^>]+>", " ", match).lower().split()
            case = c.get("/ui/cases/C-1").text
            assert case.count('data-type="derivation"') == 1  # confirmed matches only
            assert 'name="state_ai"' in case  # the notice form's "state AI signals" box
            if "marked.png" in refs:
                marked = c.get(f"/ui/matches/{refs['marked.png']}").text
                assert "invisible watermark" in marked and "fragile" in marked
            fr = c.get(f"/ui/matches/{refs['ocsp.jpg']}", headers={"Accept-Language": "fr"}).text
            assert "Signal : modifié par IA" in fr or "Signal : généré par IA" in fr
    finally:
        server.stop()


def test_no_synthetic_flag_and_plain_photos(rempart_env: Path) -> None:
    found = rempart_env / "found"
    found.mkdir()
    photo_like(960, (W, H)).save(found / "plain.png")
    _xmp_jpeg(961, found / "xmp.jpg")
    rempart("bank", "create", "b")
    out = rempart_env / "r.json"
    rempart("scan", str(found), "--workers", "1", "--report", str(out), "--no-synthetic")
    assert json.loads(out.read_text())["synthetic"] == []
    # the domain function on bytes (an archive member or a URL download) and on a plain file
    data = (found / "xmp.jpg").read_bytes()
    assert _kinds(synthetic.item_findings(None, data, suffix=".jpg")) == {"ai-generated:xmp"}
    assert synthetic.item_findings(found / "plain.png") == []
    assert synthetic.item_findings(None, b"not a picture") == []


def test_watermark_runs_only_where_a_mark_survives(tmp_path: Path) -> None:
    img = photo_like(970, (320, 240))
    for quality, subsampling, expected in ((95, 0, True), (90, 0, False), (95, 2, False)):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality, subsampling=subsampling)
        assert synthetic.watermark_worthwhile("jpeg", buf.getvalue()) is expected, quality
    buf = io.BytesIO()
    img.save(buf, format="WEBP", lossless=True)
    assert synthetic.watermark_worthwhile("webp", buf.getvalue())
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=80)
    assert not synthetic.watermark_worthwhile("webp", buf.getvalue())
