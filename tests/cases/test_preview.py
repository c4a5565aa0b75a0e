from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.cases.test_review import rempart
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases


def test_blurred_by_default_reveal_logged(review_case: Restored) -> None:
    rempart_env = review_case.path  # scanned_case
    ref = json.loads(rempart("review", "list", "--format", "json"))[0]["ref"]
    rempart("review", "preview", ref, "--out", str(rempart_env / "p.png"))
    blurred = Image.open(rempart_env / "p.png")
    assert blurred.mode == "L" and max(blurred.size) <= 320
    arr = np.asarray(blurred, dtype=float)
    assert np.abs(np.diff(arr, axis=1)).mean() < 2.0  # no sharp detail left
    actions = [e["action"] for e in json.loads(rempart("audit", "list", "--format", "json"))]
    assert "reveal" not in actions
    rempart("review", "preview", ref, "--out", str(rempart_env / "r.png"), "--reveal")
    clear = np.asarray(Image.open(rempart_env / "r.png"), dtype=float)
    assert np.abs(np.diff(clear, axis=1)).mean() > 2.0
    reveals = [
        e
        for e in json.loads(rempart("audit", "list", "--format", "json"))
        if e["action"] == "reveal"
    ]
    assert len(reveals) == 1 and reveals[0]["details"]["match"] == ref
    assert reveals[0]["actor"] == "reviewer-a"
    rempart("review", "preview", "m999", "--out", str(rempart_env / "x.png"), code=1)
