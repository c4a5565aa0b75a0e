"""`rempart inspect`: the JSON contract (a list of {"file", "signals": [{"type",
"indicates", ...}]}, only signals found), folders walked, the table, exit 3 with the
unreadable files listed (in JSON as "problem")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from tests.signals.conftest import TESTDATA
from tests.signals.synthetic import media_builders as mb

C2PA_RS = TESTDATA / "c2pa" / "c2pa-rs"
INDICATES = {"ai-generated", "ai-modified", "provenance-invalid"}
runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inspect")
    for name in ("ocsp.jpg", "C.jpg", "XCA.jpg", "no_manifest.jpg"):
        shutil.copy(C2PA_RS / name, root / name)
    sub = root / "sub"
    sub.mkdir()
    (sub / "gen.png").write_bytes(
        mb.png(1, mb.text("parameters", "x\nSteps: 20, Sampler: Euler a, Seed: 1"))
    )
    (sub / "xmp.jpg").write_bytes(mb.jpeg(2, xmp=mb.xmp_packet("trainedAlgorithmicMedia")))
    (sub / "photo.jpg").write_bytes(mb.jpeg(3))
    (sub / "README.txt").write_text("not a picture")  # in a folder: skipped, counted
    return root


def test_json_contract(folder: Path) -> None:
    result = runner.invoke(app, ["inspect", str(folder), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert isinstance(report, list)
    by_name = {Path(r["file"]).name: r for r in report}
    assert sorted(by_name) == sorted(
        ["ocsp.jpg", "C.jpg", "XCA.jpg", "no_manifest.jpg", "gen.png", "xmp.jpg", "photo.jpg"]
    )
    for entry in report:
        assert set(entry) == {"file", "signals"}
        for signal in entry["signals"]:
            assert signal["indicates"] in INDICATES and signal["type"]
    found = {n: [(s["type"], s["indicates"]) for s in r["signals"]] for n, r in by_name.items()}
    assert found == {
        "ocsp.jpg": [("c2pa", "ai-modified")],
        "C.jpg": [],
        "XCA.jpg": [("c2pa", "provenance-invalid")],
        "no_manifest.jpg": [],
        "gen.png": [("generator-metadata", "ai-generated")],
        "xmp.jpg": [("xmp", "ai-generated")],
        "photo.jpg": [],
    }
    xca = by_name["XCA.jpg"]["signals"][0]
    assert xca["failure_codes"] == ["assertion.dataHash.mismatch"]
    assert "1 other file(s) in the folders skipped" in result.stderr
    assert "not proof that a file is real" in result.stderr


def test_table_and_exit_3_for_unreadable(folder: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(mb.png(4, mb.ztext("prompt", b"{" * (8 << 20))))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    args = ["inspect", str(folder / "ocsp.jpg"), str(bomb), str(text), str(tmp_path / "gone")]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 3, result.output
    report = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert "inflates past" in report["bomb.png"]["problem"]
    assert "unsupported format" in report["notes.txt"]["problem"]
    assert report["gone"]["problem"] == "not found"
    assert "problem" not in report["ocsp.jpg"]
    assert "3 file(s) could not be fully read" in result.stderr
    table = runner.invoke(app, [*args], env={"COLUMNS": "200"})
    assert table.exit_code == 3
    assert "ai-modified" in table.stdout and "unreadable" in table.stdout
    assert runner.invoke(app, ["inspect", str(text), "--format", "xml"]).exit_code == 1
