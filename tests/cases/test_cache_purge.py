"""After a withdrawal, the hash cache once kept the hashes of scanned copies that matched
her photos (near-identical to hers): they are named from the database and purged."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from rempart.scan.hash_cache import HashCache, matched_content
from rempart.signals.exact import file_digests
from rempart.store.db import Database
from rempart.store.models import BankItem, Case
from tests.cases.test_review import rempart
from tests.worlds import Restored

pytestmark = pytest.mark.both_databases


def test_cached_hashes_of_her_matched_copies_are_purged(review_case: Restored) -> None:
    rempart_env = review_case.path  # scanned_case: found/copy1.png, copy2.png match; other.jpg not
    cache = HashCache(rempart_env / "home" / "cache" / "hashes")
    digests = {p.name: file_digests(p)[1] for p in (rempart_env / "found").iterdir()}
    cached = {p.name.split(".")[0] for p in cache.folder.rglob("*.json")}
    assert set(digests.values()) <= cached, (digests, cached)
    db = Database(os.environ["REMPART_DB"])
    try:
        with db.session() as s:
            ids = (
                select(BankItem.id)
                .join(Case, BankItem.case_id == Case.id)
                .where(Case.number == "C-9")
            )
            hers = matched_content(s, ids)
            assert hers == {digests["copy1.png"], digests["copy2.png"]}
            one = s.scalars(ids).first()
            assert len(matched_content(s, [one])) == 1
            case_id = s.scalar(select(Case.id).where(Case.number == "C-9"))
            assert matched_content(s, case_id=case_id) == hers
    finally:
        db.dispose()
    assert cache.purge(hers | {"not-a-digest", "../../etc"}) == 2
    left = {p.name.split(".")[0] for p in cache.folder.rglob("*.json")}
    assert left & hers == set() and digests["other.jpg"] in left
    rempart("scan", str(rempart_env / "found"), "--bank", "b")  # hashed again, found again
