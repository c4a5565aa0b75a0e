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
        "media_type", "pdq", "pdq_quality", "md5", "sha256", "width", "height"
    }  # fmt: skip
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
        ('{"format": "rempart-hash-submission", "version": 1, "items": [{"pdq": "zz"}]}',
         "item 1: 'pdq' is not a valid"),
        ('{"format": "rempart-hash-submission", "version": 1, "items": [{}]}', "no hash"),
        ('{"format": "rempart-hash-submission", "version": 1, "items": '
         '[{"md5": "' + "a" * 32 + '", "pdq_quality": 500}]}', "pdq_quality"),
    ],
)  # fmt: skip
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
