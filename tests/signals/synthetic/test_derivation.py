"""The derivation signal from real scans: her generated photos banked, altered copies made
with benign edits (the lower 55% replaced by another generated photo; a region of her photo
pasted onto another one), `rempart scan` records the matches, and the finding derived from
each stored match's details puts the unchanged and changed boxes where the edit was (IoU >
0.7). Crops and whole copies are not called derivations; the schematic has no picture pixels.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from rempart.cli import app
from rempart.samples import photo_like
from rempart.signals.synthetic import derivation, schematic
from rempart.store.db import Database
from rempart.store.models import Match, ScanItem

runner = CliRunner()
W, H = 640, 480
FACE: derivation.Box = (0.3, 0.12, 0.75, 0.62)  # the pasted region of her photo


def rempart(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})  # no wrapped paths
    assert result.exit_code == 0, result.output
    return result.output


def _px(box: derivation.Box) -> tuple[int, int, int, int]:
    return (round(box[0] * W), round(box[1] * H), round(box[2] * W), round(box[3] * H))


@pytest.fixture
def scanned(rempart_env: Path, consent_file: Path) -> dict[str, dict[str, object] | None]:
    photos = rempart_env / "photos"
    photos.mkdir()
    hers = {name: photo_like(seed, (W, H)) for name, seed in (("a", 308), ("b", 301))}
    for name, img in hers.items():
        img.save(photos / f"{name}.png")
    rempart("hash", str(photos), "--out", str(rempart_env / "h.json"))
    rempart("bank", "create", "b")
    rempart(
        "bank", "import", "b", str(rempart_env / "h.json"), "--case", "C-1",
        "--consent", str(consent_file),
    )  # fmt: skip
    found = rempart_env / "found"
    found.mkdir()
    lower = hers["a"].copy()  # the lower 55% replaced by another generated photo
    lower.paste(photo_like(4242, (W, H)).crop((0, 0, W, H - int(H * 0.45))), (0, int(H * 0.45)))
    lower.save(found / "lower55.png")
    pasted = photo_like(4343, (W, H))  # her photo's region pasted onto another photo
    pasted.paste(hers["b"].crop(_px(FACE)), _px(FACE)[:2])
    pasted.save(found / "pasted.png")
    hers["a"].crop((30, 20, W - 30, H - 20)).save(found / "crop.png")
    hers["b"].save(found / "whole.jpg", quality=90)
    rempart("scan", str(found), "--bank", "b", "--workers", "1")
    db = Database(os.environ["REMPART_DB"])
    with db.session() as s:
        rows = s.execute(select(ScanItem.locator, Match.signal_type, Match.details).join(
            ScanItem, Match.scan_item_id == ScanItem.id
        )).all()  # fmt: skip
    by_file = {Path(loc).name: details for loc, _, details in rows}
    assert set(by_file) == {"lower55.png", "pasted.png", "crop.png", "whole.jpg"}, rows
    return by_file


def test_derivation_boxes_match_the_edits(
    scanned: dict[str, dict[str, object] | None], rempart_env: Path
) -> None:
    lower = derivation.from_details(scanned["lower55.png"])
    assert lower is not None, scanned["lower55.png"]
    assert (lower.type, lower.indicates, lower.strength) == ("derivation", "ai-modified", "strong")
    ev = lower.evidence
    assert derivation.iou(tuple(ev["unchanged"][0]), (0.0, 0.0, 1.0, 0.45)) > 0.7, ev
    changed = [tuple(b) for b in ev["changed"]]
    assert max(derivation.iou(b, (0.0, 0.45, 1.0, 1.0)) for b in changed) > 0.7, ev
    assert 0.3 < ev["unchanged_fraction"] < 0.6
    assert ev["wording"] == derivation.WORDING

    pasted = derivation.from_details(scanned["pasted.png"])
    assert pasted is not None, scanned["pasted.png"]
    assert derivation.iou(tuple(pasted.evidence["unchanged"][0]), FACE) > 0.7, pasted.evidence
    assert len(pasted.evidence["changed"]) == 4  # above, below, left and right of it

    # her photo cut or recompressed: nothing replaced, no derivation
    assert derivation.from_details(scanned["crop.png"]) is None, scanned["crop.png"]
    assert derivation.from_details(scanned["whole.jpg"]) is None

    # the schematic: outlines and hatching only, never a pixel of a picture
    png = schematic.draw(pasted.evidence)
    img = Image.open(io.BytesIO(png))
    colours = {tuple(c) for c in np.asarray(img.convert("RGB")).reshape(-1, 3)}
    assert colours <= schematic.COLOURS and schematic.UNCHANGED in colours
    assert schematic.CHANGED in colours
    json.dumps(pasted.as_json())  # JSON-ready
    # the same scan's evidence packages (one scan: scans are the slow part)
    _evidence_package_carries_the_finding_and_schematic(rempart_env)


def _export(ref: str, out: Path) -> dict[str, bytes]:
    rempart("review", "decide", ref, "confirmed", "--reason", "her photo")
    rempart("evidence", "export", ref, "--out", str(out))
    assert "intact" in rempart("evidence", "verify", str(out))
    with zipfile.ZipFile(out) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _evidence_package_carries_the_finding_and_schematic(rempart_env: Path) -> None:
    refs = {
        Path(m["file"]).name: m["ref"]
        for m in json.loads(rempart("review", "list", "--format", "json"))
    }
    files = _export(refs["pasted.png"], rempart_env / "pasted.zip")
    finding = json.loads(files["derivation.json"])
    assert finding["type"] == "derivation" and finding["indicates"] == "ai-modified"
    assert derivation.iou(tuple(finding["unchanged"][0]), FACE) > 0.7
    img = Image.open(io.BytesIO(files["derivation.png"]))
    assert img.size == (400 + 2 * schematic.MARGIN, 300 + 2 * schematic.MARGIN + schematic.LEGEND)
    assert {tuple(c) for c in np.asarray(img.convert("RGB")).reshape(-1, 3)} <= schematic.COLOURS
    whole = _export(refs["whole.jpg"], rempart_env / "whole.zip")
    assert "derivation.json" not in whole and "derivation.png" not in whole


def test_details_that_are_not_derivations_or_are_bad() -> None:
    assert derivation.from_details(None) is None
    assert derivation.from_details({"method": "pdq", "score": 0.2}) is None
    assert derivation.from_details({"method": "pdq-crop", "variant": "crop85"}) is None
    region = derivation.from_details({"method": "pdq-region", "variant": "top33"})
    assert region is not None and region.evidence["unchanged"] == [[0.0, 0.0, 1.0, 0.333]]
    assert region.evidence["changed"] == [[0.0, 0.333, 1.0, 1.0]]
    crop = {"bank_area": [0.1, 0.1, 0.9, 0.9], "found_area": [0.02, 0.0, 1.0, 0.97]}
    assert derivation.from_details({"method": "local-features", "local_features": crop}) is None
    for bad in (
        {"method": "local-features", "local_features": {"bank_area": "x", "found_area": None}},
        {"method": "local-features", "local_features": {"bank_area": [0.5, 0.5, 0.2, 0.2]}},
        {"method": "local-features", "local_features": [1, 2]},
        {"method": "pdq-region", "variant": "nowhere"},
        {"method": ["pdq-region"]},
    ):
        assert derivation.from_details(bad) is None, bad
    # a schematic of hostile evidence is still a blank frame
    img = Image.open(io.BytesIO(schematic.draw({"unchanged": "x", "changed": [[1, "a"]]})))
    assert {tuple(c) for c in np.asarray(img).reshape(-1, 3)} <= schematic.COLOURS
