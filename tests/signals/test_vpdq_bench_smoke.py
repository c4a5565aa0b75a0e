"""The video benchmark runs (--smoke: 3 short sample videos, one run, a 30 s generated video)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_video_bench_quick(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # importable by name: its workers unpickle it
    bench = importlib.import_module("video_bench")
    try:
        assert bench.main(["--smoke", "--workers", "2"]) == 0
    finally:
        sys.modules.pop("video_bench", None)
    out = capsys.readouterr().out
    assert "x real time" in out and "pairs right:" in out and "clip found and located" in out
