"""The rooms intelligence report and the room evidence package, over Telegram JSON exports of
four rooms scanned through the real pipeline: a room renamed (same chat id, exported twice),
a room re-created under its old name with a new chat id that forwards a banked photo from
the first, a bot (via_bot), members shared between rooms, media the export lacks, and a room
with hostile names (HTML, script) that only another organisation's case was found in.

Only ordinary generated photos (rempart.samples.photo_like) are used. The world (database,
keys, organisations) is built once for the module; tests/web/test_rooms_page.py builds its
own with `build_rooms_world`."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rempart.samples import photo_like
from tests.api.conftest import CONSENT, World, item
from tests.sources.telegram_factory import NOT_INCLUDED, message

runner = CliRunner()
HOSTILE = "<script>window.__owned=1</script><img src=x onerror=alert(1)>"
BOT = "@f4ke_bot"


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    photo_like(seed, (320, 240)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _export(root: Path, name: str, chat_id: int, posts: list[dict[str, Any]]) -> None:
    """One single-chat export: `posts` are messages, with `seed` for a photo."""
    root.mkdir(parents=True)
    messages = []
    for p in posts:
        p = dict(p)
        seed = p.pop("seed", None)
        if seed is not None:
            rel = f"photos/photo_{p['mid']}.jpg"
            (root / "photos").mkdir(exist_ok=True)
            (root / rel).write_bytes(jpeg(seed))
            p["photo"] = rel
        mid = p.pop("mid")
        messages.append(message(mid, **p))
    doc = {"name": name, "type": "private_supergroup", "id": chat_id, "messages": messages}
    (root / "result.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _who(uid: str, name: str) -> dict[str, str]:
    return {"from_id": uid, "from": name}


def build_rooms_world(root: Path) -> World:
    """Banks, cases, organisations and keys (org-a: CASE-A, photos 101-103; org-b: CASE-B,
    photo 201), four exported rooms, one scan of them all."""
    from rempart.access import keys
    from rempart.exchange.bank_import import import_submission
    from rempart.exchange.consent import ConsentRecord
    from rempart.exchange.submission import Submission
    from rempart.scan.pipeline import ScanOptions, run_scan
    from rempart.store import repository
    from rempart.store.bank_index import BankIndex
    from rempart.store.db import Database
    from rempart.store.models import CaseOwner

    world = World(root, f"sqlite:///{root / 'rempart.db'}", root / "home")
    db = Database(world.db_url)
    bank_index = BankIndex(db, world.home)
    consent = ConsentRecord.parse(CONSENT, "consent")
    with db.session() as s:
        repository.create_bank(s, "ncii")
        for name, role, tenant in (
            ("admin", "admin", None),
            ("ca", "caseworker", "org-a"),
            ("cb", "caseworker", "org-b"),
        ):
            key, info = keys.create_key(s, role, tenant, label=name)
            world.keys[name] = key
            world.key_ids[name] = info.key_id
    for number, seeds in (("CASE-A", (101, 102, 103)), ("CASE-B", (201,))):
        import_submission(
            bank_index,
            "ncii",
            Submission([item(jpeg(seed)) for seed in seeds]),
            case_number=number,
            consent=consent,
        )
    with db.session() as s:
        for number, org in (("CASE-A", "org-a"), ("CASE-B", "org-b")):
            case = repository.get_case(s, number)
            assert case is not None
            s.add(CaseOwner(case_id=case.id, tenant_id=keys.get_tenant(s, org).id))
    exports = root / "exports"
    kim, lee, park, choi = (
        _who("user1", "Kim"),
        _who("user2", "Lee"),
        _who("user3", "Park"),
        _who("user4", "Choi"),
    )
    _export(
        exports / "2024-05-alpha",
        "Room Alpha",
        1001,
        [
            {"mid": 1, "seed": 101, "date": "2024-05-01T10:00:00", **kim},
            {"mid": 2, "seed": 300, "date": "2024-05-01T11:00:00", "via_bot": BOT, **lee},
            {"mid": 3, "seed": 102, "date": "2024-05-02T09:00:00", "via_bot": BOT, **lee},
            {"mid": 4, "text": "no media", "date": "2024-05-02T09:30:00", **kim},
            {"mid": 5, "photo": NOT_INCLUDED, "date": "2024-05-03T08:00:00", **kim},
        ],
    )
    _export(  # the same chat, exported again after it was renamed
        exports / "2024-06-alpha",
        "Room Alpha 2",
        1001,
        [
            {"mid": 10, "seed": 103, "date": "2024-06-01T10:00:00", **kim},
            {"mid": 11, "seed": 301, "date": "2024-06-01T12:00:00", **park},
        ],
    )
    _export(  # re-created under the old name, with a new chat id
        exports / "2024-07-alpha-new",
        "Room Alpha",
        2002,
        [
            {
                "mid": 1,
                "seed": 101,
                "date": "2024-07-01T10:00:00",
                "forwarded_from": "Room Alpha",
                **choi,
            },
            {"mid": 2, "seed": 302, "date": "2024-07-02T10:00:00", **kim},
        ],
    )
    _export(
        exports / "2024-08-hostile",
        HOSTILE,
        3003,
        [
            {
                "mid": 1,
                "seed": 201,
                "date": "2024-08-01T10:00:00",
                "text": HOSTILE,
                "from_id": "user9",
                "from": "<b>evil</b>",
            }
        ],
    )
    run_scan(db, bank_index, [exports], ScanOptions(workers=1, robust=None))
    db.dispose()
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_rooms_world(tmp_path_factory.mktemp("rooms"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REMPART_DB", w.db_url)
        mp.setenv("REMPART_HOME", str(w.home))
        yield w


def rempart(*args: str, code: int = 0) -> str:
    from rempart.cli import app

    result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, result.output
    return result.output


def _db(world: World) -> Any:
    from rempart.store.db import Database

    return Database(world.db_url)


def _by_name(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["chat_id"], r["names"][0]): r for r in report["rooms"]}


def test_report_numbers(world: World) -> None:
    from rempart.cases import rooms_report

    db = _db(world)
    report = rooms_report.collect(db)
    db.dispose()
    assert report["totals"] == {
        "rooms": 4,
        "messages": 4 + 2 + 2 + 1,  # message 4 (text only) is no item of any scan
        "media": 3 + 2 + 2 + 1,
        "matched_media": 2 + 1 + 1 + 1,
        "cases_targeted": 2,
        "face_matches": 0,
        "members": 5,
        "bots": 1,
        "links": 2,
        "banked_photos_seen": 4,
    }
    rooms = _by_name(report)
    first, renamed = rooms[("1001", "Room Alpha")], rooms[("1001", "Room Alpha 2")]
    recreated, hostile = rooms[("2002", "Room Alpha")], rooms[("3003", HOSTILE)]
    assert [r["number"] for r in (first, renamed, recreated, hostile)] == [1, 2, 3, 4]
    assert first["timeline"] == [
        {"day": "2024-05-01", "messages": 2, "media": 2},
        {"day": "2024-05-02", "messages": 1, "media": 1},
        {"day": "2024-05-03", "messages": 1, "media": 0},  # the photo the export lacks
    ]
    assert (first["messages"], first["media"], first["matched_media"]) == (4, 3, 2)
    assert first["members"] == [
        {"id": "user2", "name": "Lee", "media": 2},
        {"id": "user1", "name": "Kim", "media": 1},
    ]
    assert first["bots"] == [{"bot": BOT, "media": 2}]
    assert (first["matches"], first["cases"], first["cases_targeted"]) == (2, ["CASE-A"], 1)
    assert first["face_matches"] == 0 and first["synthetic_media"] == 0  # looked: none
    assert (renamed["media"], renamed["matched_media"], renamed["bots"]) == (2, 1, [])
    assert recreated["forwarded_from"] == [{"name": "Room Alpha", "media": 1}]
    assert (hostile["cases"], hostile["members"][0]["name"]) == (["CASE-B"], "<b>evil</b>")

    links = {frozenset((k["a_number"], k["b_number"])): k for k in report["links"]}
    assert set(links) == {frozenset((1, 2)), frozenset((1, 3))}
    assert links[frozenset((1, 2))]["kinds"] == ["renamed", "shared-members"]
    assert links[frozenset((1, 2))]["evidence"]["renamed"] == [["Room Alpha"], ["Room Alpha 2"]]
    assert links[frozenset((1, 3))]["kinds"] == [
        "re-created",
        "shared-media",
        "forwarded",
        "shared-members",
    ]

    spread = {
        (s["first_seen"]["room_number"], s["first_seen"]["message_id"]): s for s in report["banked"]
    }
    photo_101 = spread[(1, "1")]
    assert photo_101["first_seen"]["date"] == "2024-05-01T10:00:00"
    assert photo_101["first_seen"]["from"] == "Kim"
    assert photo_101["rooms"] == [1, 3]
    assert photo_101["sightings"][1]["forwarded_from"] == "Room Alpha"
    assert [s["first_seen"]["date"][:10] for s in report["banked"]] == [
        "2024-05-01",
        "2024-05-02",
        "2024-06-01",
        "2024-08-01",
    ]


def test_organisation_scope_and_room_choice(world: World) -> None:
    from rempart.cases import rooms_report

    db = _db(world)
    theirs = rooms_report.collect(db, cases=["CASE-B"])
    ours = rooms_report.collect(db, cases=["CASE-A"])
    chosen = rooms_report.collect(db, rooms=["1001", "no such room"])
    db.dispose()
    assert [r["names"] for r in theirs["rooms"]] == [[HOSTILE]]
    assert theirs["totals"]["cases_targeted"] == 1 and theirs["links"] == []
    assert [r["chat_id"] for r in ours["rooms"]] == ["1001", "1001", "2002"]
    assert {s["case"] for s in ours["banked"]} == {"CASE-A"}
    assert ours["scope"]["cases"] == "organisation"
    assert [r["names"] for r in chosen["rooms"]] == [["Room Alpha"], ["Room Alpha 2"]]
    assert chosen["scope"]["rooms_not_found"] == ["no such room"]


def test_cli_report_html_json_languages(world: World) -> None:
    from rempart.cases import rooms_render
    from rempart.cli.commands import rooms as rooms_cli

    assert rooms_cli.LANGUAGES == rooms_render.LANGUAGES
    out = world.root / "report-en"
    rempart("rooms-report", "--out", str(out))
    assert {p.name for p in out.iterdir()} == {
        "report.html",
        "report.json",
        "activity.png",
        "media.png",
        "network.png",
        "spread.png",
    }
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and HOSTILE not in page and "<b>evil</b>" not in page
    assert "&lt;script&gt;window.__owned=1&lt;/script&gt;" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched: no CDN, no link
    assert json.loads((out / "report.json").read_text())["totals"]["rooms"] == 4
    # `rempart rooms report` is the same command; `rempart rooms` keeps its own output
    fr, ko = world.root / "report-fr", world.root / "report-ko"
    rempart("rooms", "report", "--out", str(fr), "--lang", "fr", "--room", "Room Alpha")
    assert "Rapport de renseignement sur les salons" in (fr / "report.html").read_text()
    assert "recréé (même nom, nouvel identifiant)" in (fr / "report.html").read_text()
    rempart("rooms-report", "--out", str(ko), "--lang", "ko")
    assert "대화방 정보 보고서" in (ko / "report.html").read_text(encoding="utf-8")
    printed = json.loads(rempart("rooms", "report", "--format", "json", "--room", "2002"))
    assert [r["chat_id"] for r in printed["rooms"]] == ["2002"]
    listing = json.loads(rempart("rooms", "--format", "json"))
    assert set(listing) == {"rooms", "links"} and len(listing["rooms"]) == 4
    assert "same chat id 1001" in rempart("rooms", "--min-members", "2")
    # bad input: named, the rest still reported; bad options refused
    rempart("rooms-report", "--format", "json", "--room", "nowhere", code=3)
    rempart("rooms-report", "--format", "pdf", code=1)
    rempart("rooms-report", "--lang", "de", "--out", str(out), code=1)


def test_room_evidence_package_verifies_and_tamper_fails(world: World) -> None:
    from rempart.cases import review

    db = _db(world)
    refs = {}
    for i in review.queue(db, status=None):
        refs[(i.provenance.get("chat_id"), i.provenance.get("message_id"))] = i.ref
    db.dispose()
    rempart("review", "decide", refs[("1001", "1")], "confirmed", "--reason", "her photo")
    rempart("review", "decide", refs[("1001", "3")], "confirmed", "--reason", "her photo")
    package = world.root / "room.zip"
    rempart("evidence", "export-room", "1001", "--out", str(package))
    verified = rempart("evidence", "verify", str(package))
    assert "intact" in verified and "this instance's signing key" in verified
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
        doc = json.loads(zf.read("room.json"))
    assert names == {"room.json", "report.html", "report.pdf", "manifest.json", "signature.json"}
    assert [r["names"] for r in doc["rooms"]] == [["Room Alpha"], ["Room Alpha 2"]]
    assert [m["ref"] for m in doc["confirmed_matches"]] == sorted(
        [refs[("1001", "1")], refs[("1001", "3")]], key=lambda r: int(r[1:])
    )
    first = doc["confirmed_matches"][0]["found_in_room"]
    assert len(first) == 1 and first[0]["provenance"]["from"] == "Kim"
    assert doc["confirmed_matches"][0]["possible_minor"] is False
    assert {k["b_number"] for k in doc["links"]} == {2, 3} and doc["cases"] == ["CASE-A"]
    assert doc["rooms"][0]["timeline"][0] == {"day": "2024-05-01", "messages": 2, "media": 2}
    # tampered: one byte of room.json changed
    tampered = world.root / "tampered.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "room.json":
                data = data.replace(b"Kim", b"Kom")
            dst.writestr(name, data)
    assert "room.json was altered" in rempart("evidence", "verify", str(tampered), code=1)
    rempart("evidence", "export-room", "no such room", "--out", str(package), code=1)


def test_similar_media_from_one_search_equal_the_pairwise_count() -> None:
    """rempart.scan.rooms counts look-alike pictures between rooms from one radius search
    over all rooms (the report's 100 rooms are 4,950 pairs); the counts are those of the
    pairwise comparison, at distances around the threshold (31) too."""
    import random

    from rempart.scan.rooms import Room, _similar, _similar_pairs

    rng = random.Random(3)
    base = [rng.getrandbits(256) for _ in range(60)]

    def near(x: int, bits: int) -> str:
        for _ in range(bits):
            x ^= 1 << rng.randrange(256)
        return f"{x:064x}"

    rooms = {}
    for r in range(12):
        room = Room(f"e{r}|{r}", f"e{r}", str(r))
        for _ in range(25):
            room.media_pdq.add(near(rng.choice(base), rng.choice([0, 5, 20, 31, 32, 40, 90])))
        rooms[room.key] = room
    pairs = _similar_pairs(rooms)
    assert sum(1 for v in pairs.values() if v) > 50
    for ka, a in rooms.items():
        for kb, b in rooms.items():
            if ka != kb:
                want = _similar(a.media_pdq - b.media_pdq, b.media_pdq - a.media_pdq)
                assert pairs.get((ka, kb), 0) == want, (ka, kb)


def test_html_export_rooms_have_no_chat_id(rempart_env: Path) -> None:
    """A room read from an HTML export (no chat id, no sender ids): its members are counted
    by name, and a room of the same name is linked as "same name", not as re-created (the
    export cannot tell a new room from the same one)."""
    from tests.sources.telegram_html_writer import Chat, Msg, write_html_chat

    root = rempart_env / "exports"
    html_root = root / "html-alpha"
    (html_root / "photos").mkdir(parents=True)
    for name, seed in (("a", 401), ("b", 402)):
        (html_root / "photos" / f"{name}.jpg").write_bytes(jpeg(seed))
    chat = Chat(
        "Room Alpha",
        [
            Msg(1, 1714557600, sender="Kim", photo="photos/a.jpg"),
            Msg(2, 1714561200, sender="Lee", photo="photos/b.jpg", via_bot=BOT),
        ],
    )
    write_html_chat(html_root, chat)
    _export(
        root / "json-alpha",
        "Room Alpha",
        4004,
        [{"mid": 1, "seed": 403, "date": "2024-05-03T10:00:00", **_who("user1", "Kim")}],
    )
    from rempart.cli import app

    result = runner.invoke(app, ["scan", str(root)], env={"COLUMNS": "300"})
    assert result.exit_code in (0, 3), result.output  # 3: the writer's "joined" messages
    report = json.loads(rempart("rooms", "report", "--format", "json"))
    rooms = {r["chat_id"]: r for r in report["rooms"]}
    html_room = rooms[""]
    assert html_room["names"] == ["Room Alpha"] and html_room["media"] == 2
    assert [m["id"] for m in html_room["members"]] == ["name:Kim", "name:Lee"]
    assert html_room["bots"] == [{"bot": BOT, "media": 1}]
    assert html_room["timeline"][0]["day"] == "2024-05-01"
    assert [k["kinds"] for k in report["links"]] == [["same-name"]]


def test_face_matches_count_and_widen_the_scope(world: World) -> None:
    """A face match (as a face scan records it) of CASE-B's person on a photo of the renamed
    room: counted there, the room's cases targeted grow, and org-b's scope now holds that
    room (its face match only: CASE-A's matches stay out of org-b's figures)."""
    from sqlalchemy import select

    from rempart.cases import rooms_report
    from rempart.store import repository
    from rempart.store.models import FaceMatch, FaceTemplate, ScanItem

    db = _db(world)
    with db.session() as s:
        case = repository.get_case(s, "CASE-B")
        assert case is not None
        template = FaceTemplate(case_id=case.id, ref="t-rooms-test", ciphertext=b"\0" * 16)
        s.add(template)
        s.flush()
        item = next(
            i
            for i in s.scalars(select(ScanItem).where(ScanItem.sha256.is_not(None)))
            if i.provenance.get("chat") == "Room Alpha 2" and i.provenance["message_id"] == "11"
        )
        s.add(
            FaceMatch(
                scan_item_id=item.id,
                template_id=template.id,
                distance=0.4,
                box=[1, 2, 3, 4],
                content_sha256=item.sha256,
            )
        )
    everything = rooms_report.collect(db)
    theirs = rooms_report.collect(db, cases=["CASE-B"])
    db.dispose()
    renamed = _by_name(everything)[("1001", "Room Alpha 2")]
    assert (renamed["face_matches"], renamed["cases"]) == (1, ["CASE-A", "CASE-B"])
    assert everything["totals"]["face_matches"] == 1
    assert everything["totals"]["cases_targeted"] == 2
    scoped = _by_name(theirs)[("1001", "Room Alpha 2")]
    assert (scoped["face_matches"], scoped["matched_media"], scoped["cases"]) == (1, 0, ["CASE-B"])
    assert len(theirs["rooms"]) == 2 and {s["case"] for s in theirs["banked"]} == {"CASE-B"}


def test_chats_without_chat_id_in_one_export_stay_apart() -> None:
    """A whole-account HTML export holds every chat under one folder and gives no chat id:
    its chats are rooms of their own (by name), not one room."""
    from rempart.scan.rooms import add_item

    rooms: dict[str, Any] = {}
    for chat in ("Room X", "Room Y", "Room X"):
        prov = {"source": "telegram", "export": "/exp", "chat": chat, "from_id": None}
        add_item(rooms, prov, None, None, None)
    assert sorted(rooms) == ["/exp|name:Room X", "/exp|name:Room Y"]
    assert all(r.chat_id == "" for r in rooms.values())


def test_synthetic_signals_stored_by_the_scan_are_counted(rempart_env: Path) -> None:
    """The room's synthetic-media column counts items whose stored findings (the scan's
    scan_items.synthetic) indicate AI generation or alteration; a room whose scan did not
    look stays None (unknown), and plain algorithmicMedia markers are not counted."""
    from rempart.cases import rooms_report

    assert rooms_report._stored_synthetic([], {}) is False
    assert rooms_report._stored_synthetic(None, {}) is None
    found = [{"type": "xmp", "indicates": "ai-generated", "strength": "strong"}]
    assert rooms_report._stored_synthetic(found, {}) is True
    invalid = [{"type": "c2pa", "indicates": "provenance-invalid", "strength": "strong"}]
    assert rooms_report._stored_synthetic(invalid, {}) is False
    plain = {
        "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
    }
    assert not rooms_report._stored_synthetic(None, plain)
    trained = {
        "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    }
    assert rooms_report._stored_synthetic(None, trained) is True
