import json
from pathlib import Path

import pytest

from rempart.exchange.consent import FormatError, read_consent
from rempart.exchange.submission import Submission, SubmissionItem, read_submission

PDQ = "f" * 64


def _item(**kw: object) -> SubmissionItem:
    base = dict(md5="a" * 32, sha256="b" * 64, pdq=PDQ, pdq_quality=90, width=10, height=20)
    base.update(kw)
    return SubmissionItem(**base)  # type: ignore[arg-type]


def test_round_trip_without_paths(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    Submission(items=[_item()]).write(path)
    raw = json.loads(path.read_text())
    assert raw["format"] == "rempart-hash-submission" and raw["version"] == 1
    assert set(raw["items"][0]) == {
        "media_type",
        "pdq",
        "pdq_quality",
        "md5",
        "sha256",
        "width",
        "height",
    }
    assert read_submission(path).items == [_item()]


def test_path_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    Submission(items=[_item(path="a/b.jpg")]).write(path)
    assert json.loads(path.read_text())["items"][0]["path"] == "a/b.jpg"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "malformed JSON at line 1"),
        ("[]", "top level must be a JSON object"),
        ('{"format": "other"}', "not a Rempart hash-submission"),
        ('{"format": "rempart-hash-submission", "version": 9, "items": []}', "unsupported version"),
        ('{"format": "rempart-hash-submission", "version": 1, "items": {}}', "'items' must be"),
        (
            '{"format": "rempart-hash-submission", "version": 1, "items": [{"pdq": "zz"}]}',
            "item 1: 'pdq' is not a valid",
        ),
        ('{"format": "rempart-hash-submission", "version": 1, "items": [{}]}', "no hash"),
        (
            '{"format": "rempart-hash-submission", "version": 1, "items": '
            '[{"md5": "' + "a" * 32 + '", "pdq_quality": 500}]}',
            "pdq_quality",
        ),
    ],
)
def test_malformed_files_are_refused_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FormatError, match=message) as info:
        read_submission(path)
    assert str(path) in str(info.value)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FormatError, match="not UTF-8"):
        read_submission(path)
    with pytest.raises(FormatError, match="cannot read"):
        read_submission(tmp_path / "missing.json")


def test_consent_needs_who_when_what_for(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"given_by": "X", "purpose": "removal"}')
    with pytest.raises(FormatError, match="given_at"):
        read_consent(path)
    path.write_text('{"given_by": "X", "given_at": "yesterday", "purpose": "removal"}')
    with pytest.raises(FormatError, match="ISO 8601"):
        read_consent(path)
    path.write_text('{"given_by": "X", "given_at": "2026-01-02", "purpose": "removal"}')
    record = read_consent(path)
    assert record.given_at.year == 2026 and record.allow_exchange is False


def _video(**kw: object) -> SubmissionItem:
    from rempart.signals.vpdq import VpdqFrame

    frames = tuple(VpdqFrame(i, 90, f"{i:064x}", i / 30) for i in range(3))
    base: dict[str, object] = dict(
        md5="a" * 32,
        sha256="b" * 64,
        pdq=None,
        pdq_quality=None,
        width=320,
        height=240,
        media_type="video",
        duration=12.5,
        frames=frames,
        inside=frames[:1],
        regions={"top": frames[1:], "bottom": frames[:2]},
        seconds_per_frame=0.0,
    )
    base.update(kw)
    return SubmissionItem(**base)  # type: ignore[arg-type]


def test_video_items_round_trip_in_threatexchange_vpdq_form(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    Submission(items=[_video()]).write(path)
    raw = json.loads(path.read_text())["items"][0]
    assert raw["vpdq"][1] == f"{1:064x},90,0.033"  # pdq_hex,quality,timestamp
    assert set(raw["vpdq_regions"]) == {"top", "bottom"}
    (back,) = read_submission(path).items
    assert back.duration == 12.5 and len(back.frames) == 3 and len(back.regions["top"]) == 2
    assert [f.pdq_hex for f in back.frames] == [f.pdq_hex for f in _video().frames]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vpdq": "nope"}, "expected a JSON list"),
        ({"vpdq": ["zz,90,0.0"]}, "item 0"),
        ({"vpdq": [f"{'a' * 64},900,0.0"]}, "quality 900"),
        ({"vpdq_regions": {"middle": []}}, "'vpdq_regions' must map"),
        ({"duration": "long"}, "'duration' must be"),
        ({"duration": 1e300}, "'duration' must be"),
        ({"media_type": "image"}, "not a video"),
    ],
)
def test_malformed_video_items_are_refused(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    item = _video().to_json() | change
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"format": "rempart-hash-submission", "version": 1, "items": [item]})
    )
    with pytest.raises(FormatError, match=message) as info:
        read_submission(path)
    assert str(path) in str(info.value) and "item 1" in str(info.value)
