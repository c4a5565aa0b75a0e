"""Removed content that "came back": only at a new place that is not hers. Scanning her own
originals, or the same (removed) message again, once put a closed case back into review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cases.test_notices import rempart
from tests.sources.telegram_factory import chat_export
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases


def _removed(case: Restored) -> Path:
    # confirmed_telegram_match: her photo in Telegram chat 'Room A' (id 555), built once
    rempart("notice", "create", "--case", "C-7", "--platform", "telegram")
    rempart("notice", "mark", "1", "sent")
    rempart("notice", "mark", "1", "removed")
    rempart("case", "set-status", "C-7", "monitoring", "--note", "removed")
    return case.path


def _status() -> str:
    return str(json.loads(rempart("case", "show", "C-7", "--format", "json"))["status"])


def test_only_a_new_untrusted_place_is_a_return(telegram_case: Restored) -> None:
    rempart_env = _removed(telegram_case)
    # Her own originals, marked as hers: not a return.
    rempart("case", "trust-source", "C-7", str(rempart_env / "hers"))
    view = json.loads(rempart("case", "show", "C-7", "--format", "json"))
    assert view["trusted_sources"] == [str(rempart_env / "hers")]
    out = rempart("scan", str(rempart_env / "hers"), "--bank", "b")
    assert "came back" not in out and _status() == "monitoring"
    # The export of the room it was removed from, scanned again: the same copy, not a return.
    out = rempart("scan", str(rempart_env / "export"), "--bank", "b", code=3)
    assert "came back" not in out and _status() == "monitoring"
    # Posted again in another room: it came back, and the alert says where.
    chat_export(rempart_env / "export-b", name="Room B", chat_id=777, photo_seeds=(1, 3))
    out = " ".join(rempart("scan", str(rempart_env / "export-b"), "--bank", "b", code=3).split())
    assert "came back" in out and "Room B" in out
    view = json.loads(rempart("case", "show", "C-7", "--format", "json"))
    assert view["status"] == "reviewing" and "Room B" in view["history"][-1]["note"]
    events = [
        e
        for e in json.loads(rempart("audit", "list", "--format", "json"))
        if e["action"] == "content-returned"
    ]
    assert len(events) == 1 and "Room B" in events[0]["details"]["where"]
    # Untrusted again, her folder would count.
    rempart("case", "trust-source", "C-7", str(rempart_env / "hers"), "--remove")
    rempart("case", "trust-source", "C-7", str(rempart_env / "hers"), "--remove", code=1)
    rempart("case", "trust-source", "C-7", "  ", code=1)
    rempart("case", "trust-source", "C-404", str(rempart_env / "hers"), code=1)


def test_the_next_notice_names_where_it_came_back(telegram_case: Restored) -> None:
    rempart_env = _removed(telegram_case)
    chat_export(rempart_env / "export-b", name="Room B", chat_id=777, photo_seeds=(1, 3))
    assert "came back" in rempart("scan", str(rempart_env / "export-b"), "--bank", "b", code=3)
    pending = json.loads(rempart("review", "list", "--format", "json"))
    assert pending == []  # the same content on the same entry: one match, decided once
    text = rempart("notice", "create", "--case", "C-7", "--platform", "telegram")
    assert "Room B" in text and "https://t.me/c/777/2" in text
    assert "Room A" not in text  # removed there already
    notice = json.loads(rempart("notice", "list", "--format", "json"))[-1]
    assert [i["place"] for i in notice["items"]] == ["telegram:777/2"]


def test_html_export_places_of_two_chats_stay_apart() -> None:
    """HTML exports carry no chat id: message 5 of two chats must be two places, and the
    JSON form (with a chat id) keeps its key."""
    from rempart.cases.returns import place

    a = {"source": "telegram", "export": "/e/x", "chat": "Room A", "message_id": 5}
    b = {"source": "telegram", "export": "/e/x", "chat": "Room B", "message_id": 5}
    assert place(a, "x") != place(b, "x")
    assert "None" not in place(a, "x")
    assert place({"source": "telegram", "chat_id": 42, "message_id": 5}, "x") == "telegram:42/5"
