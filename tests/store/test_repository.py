import pytest

from rempart.store import repository
from rempart.store.db import Database
from rempart.store.repository import StoreError

pytestmark = pytest.mark.both_databases


@pytest.fixture
def db(db_url: str) -> Database:
    return Database(db_url)


def test_bank_names_are_checked_and_unique(db: Database) -> None:
    with db.session() as s:
        repository.create_bank(s, "victim-cases", pdq_threshold=20)
    with pytest.raises(StoreError, match="already exists"):
        with db.session() as s:
            repository.create_bank(s, "victim-cases")
    for bad in ("", "../etc", "a b", "x" * 101):
        with pytest.raises(StoreError, match="invalid bank name"):
            with db.session() as s:
                repository.create_bank(s, bad)
    with pytest.raises(StoreError, match="threshold"):
        with db.session() as s:
            repository.create_bank(s, "t", pdq_threshold=64)
    with db.session() as s:
        [summary] = repository.list_banks(s)
        assert (summary.name, summary.pdq_threshold, summary.items) == ("victim-cases", 20, 0)
        with pytest.raises(StoreError, match="no bank named"):
            repository.get_bank(s, "missing")
