"""The hash-list formats on their own: shapes checked against python-threatexchange (Meta's
reference for StopNCII records and HMA signal types), hostile files, bad records."""

from __future__ import annotations

import enum
import json
import random
from pathlib import Path
from typing import Any

import dacite
import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.exchange import hma, list_model, pdq_csv, rempart_list, stopncii
from rempart.exchange.consent import FormatError
from rempart.exchange.hashlist import ExportItem, ExportSet, image_item, video_item
from rempart.exchange.lists import detect, read_list
from rempart.store.models import utcnow

runner = CliRunner()
RNG = random.Random(5)


def hexs(bits: int) -> str:
    return format(RNG.getrandbits(bits), f"0{bits // 4}x")


def export_set() -> ExportSet:
    now = utcnow()
    items = [
        ExportItem(image_item(hexs(256), 90), "C-1", None, now, None),
        ExportItem(video_item(md5=hexs(128), sha256=hexs(256)), "C-1", None, now, None),
    ]
    return ExportSet("b", 31, "", items, 0, [])


def test_stopncii_export_reads_as_threatexchange_records(tmp_path: Path) -> None:
    from threatexchange.exchanges.clients.stopncii import api

    export = export_set()
    stopncii.write(export, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    cfg = dacite.Config(cast=[enum.Enum, set])
    records = [dacite.from_dict(api.StopNCIIHashRecord, r, config=cfg) for r in doc["hashRecords"]]
    assert [r.signalType for r in records] == [
        api.StopNCIISignalType.ImagePDQ,
        api.StopNCIISignalType.VideoMD5,
    ]
    assert records[0].hashValue == export.items[0].item.pdq
    assert records[1].hashValue == export.items[1].item.md5
    page = dacite.from_dict(api.FetchHashesResponse, {**doc, "hashRecords": []}, config=cfg)
    assert page.count == 2 and page.hasMoreRecords is False


def test_a_withdrawn_stopncii_record_removes_the_hash_unlike_metas_adapter() -> None:
    from threatexchange.exchanges.clients.stopncii import api
    from threatexchange.exchanges.impl import stop_ncii_api

    value = hexs(256)
    raw = {
        "lastModtimestamp": 1,
        "signalType": "ImagePDQ",
        "hashValue": value,
        "hashStatus": "Withdrawn",
        "caseNumbers": {"SN-1": "Withdrawn"},
        "CSPFeedbacks": [],
    }
    record = dacite.from_dict(
        api.StopNCIIHashRecord, raw, config=dacite.Config(cast=[enum.Enum, set])
    )
    (_, _), metadata = stop_ncii_api._get_delta_mapping(record)
    assert metadata is not None  # Meta's adapter keeps the withdrawn hash (compares hashValue)
    parsed = stopncii.parse({"hashRecords": [raw]}, "f")
    assert parsed.items == [] and parsed.withdrawn == [("pdq", value)]
    # every linked case withdrawn or deleted: withdrawn too, whatever the aggregate says
    raw2 = {**raw, "hashStatus": "Active", "caseNumbers": {"A": "Deleted", "B": "Withdrawn"}}
    assert stopncii.parse([raw2], "f").withdrawn == [("pdq", value)]


def test_hma_export_uses_threatexchange_signal_names_and_values(tmp_path: Path) -> None:
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    doc = hma.to_json(export_set())
    photo, vid = (c["signals"] for c in doc["contents"])
    assert PdqSignal.validate_signal_str(photo[PdqSignal.get_name()])
    assert VideoMD5Signal.validate_signal_str(vid[VideoMD5Signal.get_name()])
    # threatexchange's signal file (HMA's "file" exchange) reads as the same bank
    lines = tmp_path / "signals.txt"
    lines.write_text(f"pdq {photo['pdq']}\nvideo_md5 {vid['video_md5']}\n\n# comment\n")
    parsed = read_list(lines)
    assert parsed.format == "hma" and [i.pdq for i in parsed.items][0] == photo["pdq"]
    assert parsed.items[1].md5 == vid["video_md5"] and not parsed.problems


def test_formats_are_detected(tmp_path: Path) -> None:
    e = export_set()
    for fmt, writer in (
        ("rempart", rempart_list.write),
        ("stopncii", stopncii.write),
        ("hma", hma.write),
        ("csv", pdq_csv.write),
    ):
        path = tmp_path / f"x.{fmt}"
        writer(e, path)
        assert detect(path) == fmt
    (tmp_path / "odd.json").write_text('{"something": 1}')
    with pytest.raises(FormatError, match="give --format"):
        detect(tmp_path / "odd.json")


def test_bad_records_are_named_and_the_rest_goes_on() -> None:
    good, other = hexs(256), hexs(256)
    records: list[Any] = [
        {"signalType": "ImagePDQ", "hashValue": good, "hashStatus": "Active"},
        "not an object",
        {"signalType": "ImagePDQ", "hashValue": "zz" * 32, "hashStatus": "Active"},
        {"signalType": "ImagePDQ", "hashValue": good[:-2], "hashStatus": "Active"},
        {"signalType": "ImagePDQ", "hashValue": 12345, "hashStatus": "Active"},
        {"signalType": "Telepathy", "hashValue": good, "hashStatus": "Active"},
        {"signalType": "ImagePDQ", "hashValue": other, "hashStatus": "Maybe"},
        {"signalType": "URL", "hashValue": "a link", "hashStatus": "Active"},
        {"signalType": "ImagePDQ", "hashValue": good.upper(), "hashStatus": "Active"},
        {
            "signalType": "ImagePDQ",
            "hashValue": other,
            "hashStatus": "Active",
            "caseNumbers": [],
            "lastModtimestamp": True,
        },
        {
            "signalType": "ImagePDQ",
            "hashValue": other,
            "hashStatus": "Active",
            "caseNumbers": {"A": 3},
        },
        {
            "signalType": "ImagePDQ",
            "hashValue": other,
            "hashStatus": "Active",
            "CSPFeedbacks": [{"feedbackValue": "Loved"}],
        },
        {"signalType": "ImagePDQ", "hashValue": other, "hashStatus": "Active", "caseNumbers": []},
    ]
    parsed = stopncii.parse({"hashRecords": records}, "list.json")
    assert [i.pdq for i in parsed.items] == [good, other]
    numbers = [int(p.split("record ")[1].split(":")[0]) for p in parsed.problems]
    assert numbers == list(range(2, 13))
    assert all(p.startswith("list.json: record ") for p in parsed.problems)
    assert "duplicate" in parsed.problems[7]  # record 9: the same hash in capitals


def test_a_withdrawal_wins_over_an_earlier_record_of_the_same_hash() -> None:
    value = hexs(256)
    parsed = stopncii.parse(
        [
            {"signalType": "ImagePDQ", "hashValue": value, "hashStatus": "Active"},
            {"signalType": "ImagePDQ", "hashValue": value, "hashStatus": "Deleted"},
            {"signalType": "ImagePDQ", "hashValue": value, "hashStatus": "Active"},
        ],
        "f",
    )
    assert parsed.items == [] and parsed.withdrawn == [("pdq", value)]
    assert len(parsed.problems) == 2


def test_rempart_list_records(tmp_path: Path) -> None:
    good = hexs(256)
    doc = {
        "format": "rempart-hash-list",
        "version": 1,
        "items": [
            {"pdq": good, "pdq_quality": 100},
            {"pdq": good, "pdq_quality": 100},
            {"pdq": "nothex"},
            {"media_type": "image", "vpdq": []},
            {"pdq": hexs(256), "label": 5},
            7,
        ],
        "withdrawn": [{"signal_type": "pdq", "value_sha256": hexs(256)}, {"signal_type": "x"}],
    }
    parsed = rempart_list.parse(doc, "r.json")
    assert [i.pdq for i in parsed.items] == [good] and len(parsed.withdrawn_digests) == 1
    assert len(parsed.problems) == 6
    with pytest.raises(FormatError, match="not a Rempart hash list"):
        rempart_list.parse({"format": "rempart-hash-submission"}, "r.json")


def test_hma_records() -> None:
    good = hexs(256)
    parsed = hma.parse_json(
        {
            "bank": {"name": "X"},
            "contents": [
                {"id": 1, "signals": {"pdq": good}},
                {"id": 2, "signals": {"pdq": "12"}},
                {"id": 3, "signals": {"vpdq": "..."}},
                {"id": 4, "signals": {}},
                {"id": 5, "signals": {"pdq": hexs(256)}, "disable_until_ts": "soon"},
                {"video_md5": hexs(128)},
                {"tmk": "x", "banana": "y"},
                None,
            ],
        },
        "h.json",
    )
    assert len(parsed.items) == 2 and parsed.items[0].pdq == good
    assert parsed.items[1].media_type == "video"
    assert len(parsed.problems) == 7  # 2, 3, 4, 5, 7 (twice: two unknown types), 8
    with pytest.raises(FormatError, match="no 'contents'"):
        hma.parse_json({"bank": {}}, "h.json")


def test_csv_rows(tmp_path: Path) -> None:
    a, b, c = hexs(256), hexs(256), hexs(256)
    path = tmp_path / "l.csv"
    path.write_bytes(
        f"id,PDQ,Quality\n1,{a},90\n2,{b},101\n3,nothex,\n4,{c}\n5,{a},80\n\n".encode()
        + b"6,\xff\xfe,1\n"
        + b"7,"
        + b"f" * 5000
        + b"\n"
        + f'8,"{b}",7\n'.encode()
    )
    parsed = pdq_csv.read(path)
    assert [(i.pdq, i.pdq_quality) for i in parsed.items] == [(a, 90), (c, None), (b, 7)]
    assert len(parsed.problems) == 5
    headless = tmp_path / "h.csv"
    headless.write_text(f"{a},100\n{b}\n")
    assert [i.pdq for i in pdq_csv.read(headless).items] == [a, b]


HOSTILE = {
    "malformed": b'{"hashRecords": [ {"signalType": ',
    "not-utf8": b'\xff\xfe{"a": 1}',
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "wrong-top": b'"just a string"',
    "empty": b"",
    "binary": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("fmt", ("rempart", "stopncii", "hma", "csv", "auto"))
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_never_crash(tmp_path: Path, fmt: str, name: str) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(HOSTILE[name])
    try:
        parsed = read_list(path, fmt)
    except FormatError as exc:
        assert path.name in str(exc)
    else:
        assert parsed.items == [] and all(path.name in p for p in parsed.problems)


def test_huge_files_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_model, "MAX_JSON_BYTES", 1000)
    monkeypatch.setattr(list_model, "MAX_TEXT_BYTES", 1000)
    for name, fmt in (("big.json", "stopncii"), ("big.csv", "csv")):
        path = tmp_path / name
        path.write_bytes(b" " * 2000)
        with pytest.raises(FormatError, match="over the 1000 byte limit"):
            read_list(path, fmt)
    with pytest.raises(FormatError, match="cannot read"):
        read_list(tmp_path / "missing.json", "hma")


def test_cli_imports_the_good_records_and_exits_3(rempart_env: Path, consent_file: Path) -> None:
    good = hexs(256)
    path = rempart_env / "mixed.json"
    path.write_text(
        json.dumps(
            [
                {"signalType": "ImagePDQ", "hashValue": good, "hashStatus": "Active"},
                {"signalType": "ImagePDQ", "hashValue": "bad", "hashStatus": "Active"},
            ]
        )
    )
    env = {"COLUMNS": "300"}
    assert runner.invoke(app, ["bank", "create", "b"], env=env).exit_code == 0
    result = runner.invoke(
        app,
        ["bank", "import-list", "b", str(path), "--case", "C-1", "--consent", str(consent_file)],
        env=env,
    )
    assert result.exit_code == 3, result.output
    out = " ".join(result.output.split())
    assert "mixed.json: record 2" in out and "Imported 1 hash(es)" in out
    hits = runner.invoke(app, ["match", good, "--format", "json"], env=env)
    assert json.loads(hits.output)[0]["case"] == "C-1"
    bad_format = runner.invoke(
        app, ["bank", "export", "b", "--format", "xml", "--out", str(rempart_env / "x")], env=env
    )
    assert bad_format.exit_code == 1


def test_a_line_without_end_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    good = hexs(256)
    path.write_bytes(b"f" * 10_000_000 + b"\n" + good.encode() + b"\n" + b"e" * 9000)
    parsed = pdq_csv.read(path)
    assert [i.pdq for i in parsed.items] == [good]
    assert [p.split(": ", 1)[1] for p in parsed.problems] == [
        "record 1: line longer than 4096 characters",
        "record 3: line longer than 4096 characters",
    ]
