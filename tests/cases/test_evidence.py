"""Evidence packages through the CLI: export for a confirmed match, verify, detect tampering."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from tests.cases.test_review import rempart as review_rempart
from tests.cases.test_review import scanned_case
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases
runner = CliRunner()


def rempart(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", **(env or {})})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def confirmed(home: Path, consent: Path) -> str:
    """scanned_case, and its first match confirmed (tests/cases/test_evidence_trust.py)."""
    scanned_case(home, consent)
    ref = json.loads(review_rempart("review", "list", "--format", "json"))[0]["ref"]
    review_rempart("review", "decide", ref, "confirmed", "--reason", "her photo")
    return ref


def rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    zout.writestr(info.filename, change[info.filename])
                continue
            zout.writestr(info.filename, zin.read(info.filename))
        for name, data in change.items():
            if name not in zin.namelist() and data is not None:
                zout.writestr(name, data)


def _confirm_first() -> str:
    """review_case's first match confirmed (what `confirmed` does after scanned_case)."""
    ref = json.loads(review_rempart("review", "list", "--format", "json"))[0]["ref"]
    review_rempart("review", "decide", ref, "confirmed", "--reason", "her photo")
    return str(ref)


def test_export_and_verify_a_package(review_case: Restored) -> None:
    rempart_env = review_case.path
    ref = _confirm_first()
    pkg = rempart_env / "p.zip"
    rempart("evidence", "export", ref, "--out", str(pkg))
    with zipfile.ZipFile(pkg) as zf:
        names = set(zf.namelist())
        doc = json.loads(zf.read("match.json"))
        pdf = zf.read("report.pdf")
    assert names == {
        "match.json",
        "report.html",
        "report.pdf",
        "manifest.json",
        "signature.json",
    }  # no media unless asked and allowed
    assert doc["match"]["review"]["status"] == "confirmed" and doc["match"]["case"] == "C-9"
    assert doc["found"]["sha256"] and pdf.startswith(b"%PDF-1.4")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert "intact" in rempart("evidence", "verify", str(pkg))
    key = rempart("evidence", "public-key").strip()
    assert "intact" in rempart("evidence", "verify", str(pkg), "--public-key", key)
    out = rempart("evidence", "verify", str(pkg), "--public-key", "00" * 32, code=1)
    assert "not the expected key" in out
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert "evidence-export" in actions


def test_tampering_is_detected(review_case: Restored) -> None:
    rempart_env = review_case.path
    ref = _confirm_first()
    pkg = rempart_env / "p.zip"
    rempart("evidence", "export", ref, "--out", str(pkg))
    with zipfile.ZipFile(pkg) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        signature = json.loads(zf.read("signature.json"))
    cases = {
        "altered file": ({"report.html": b"<p>changed</p>"}, "report.html was altered"),
        "missing file": ({"report.pdf": None}, "report.pdf is listed in the manifest but missing"),
        "added file": ({"extra.jpg": b"\xff\xd8\xff"}, "extra.jpg is not in the manifest"),
        "manifest": (
            {"manifest.json": json.dumps({**manifest, "files": []}).encode()},
            "signature does not match",
        ),
        "signature": (
            {"signature.json": json.dumps({**signature, "signature": "00" * 64}).encode()},
            "signature does not match",
        ),
        "traversal": ({"../../evil.txt": b"x"}, "unsafe member name"),
    }
    for label, (change, message) in cases.items():
        bad = rempart_env / f"{label}.zip"
        rewrite(pkg, bad, change)
        out = rempart("evidence", "verify", str(bad), code=1)
        assert message in out, (label, out)
    truncated = rempart_env / "cut.zip"
    truncated.write_bytes(pkg.read_bytes()[: pkg.stat().st_size // 2])
    assert "damaged or truncated" in rempart("evidence", "verify", str(truncated), code=1)
    assert "no such file" in rempart("evidence", "verify", str(rempart_env / "no.zip"), code=1)


def test_only_confirmed_matches_and_media_only_when_allowed(review_case: Restored) -> None:
    rempart_env = review_case.path
    ref = json.loads(review_rempart("review", "list", "--format", "json"))[0]["ref"]
    out = rempart("evidence", "export", ref, "--out", str(rempart_env / "p.zip"), code=1)
    assert "only a confirmed match" in out and not (rempart_env / "p.zip").exists()
    review_rempart("review", "decide", ref, "confirmed", "--reason", "her photo")
    out = rempart(
        "evidence", "export", ref, "--out", str(rempart_env / "p.zip"), "--include-media", code=1
    )
    assert "does not allow storing media" in out
    rempart(
        "evidence",
        "export",
        ref,
        "--out",
        str(rempart_env / "p.zip"),
        "--include-media",
        env={"REMPART_EVIDENCE_MEDIA": "allowed"},
    )
    with zipfile.ZipFile(rempart_env / "p.zip") as zf:
        assert any(n.startswith("media/") for n in zf.namelist())
    assert "intact" in rempart("evidence", "verify", str(rempart_env / "p.zip"))


def test_confirmed_media_preserved_encrypted_survives_removal(review_case: Restored) -> None:
    rempart_env = review_case.path
    item = json.loads(review_rempart("review", "list", "--format", "json"))[0]
    original = Path(item["file"]).read_bytes()
    result = runner.invoke(
        app,
        ["review", "decide", item["ref"], "confirmed", "--reason", "hers"],
        env={"REMPART_EVIDENCE_MEDIA": "allowed"},
    )
    assert result.exit_code == 0 and "preserved" in result.output
    (kept,) = (rempart_env / "home" / "evidence").iterdir()
    assert original not in kept.read_bytes() and original[100:164] not in kept.read_bytes()
    Path(item["file"]).unlink()  # the platform removed it; the proof stays
    pkg = rempart_env / "p.zip"
    rempart(
        "evidence",
        "export",
        item["ref"],
        "--out",
        str(pkg),
        "--include-media",
        env={"REMPART_EVIDENCE_MEDIA": "allowed"},
    )
    with zipfile.ZipFile(pkg) as zf:
        (media,) = [n for n in zf.namelist() if n.startswith("media/")]
        assert zf.read(media) == original
    assert "intact" in rempart("evidence", "verify", str(pkg))
    data = kept.read_bytes()  # tampered at rest (the last byte flipped: set to 0 it
    kept.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # was unchanged 1 time in 256)
    out = rempart(
        "evidence",
        "export",
        item["ref"],
        "--out",
        str(pkg),
        "--include-media",
        env={"REMPART_EVIDENCE_MEDIA": "allowed"},
        code=1,
    )
    assert "does not decrypt" in out
