"""Ids are never given twice, and a match is recorded once however often it is seen.

1. SQLite gave a deleted row's id to the next row (no AUTOINCREMENT): after a withdrawal,
   bank entries #7 and #8 of one case became another victim's entries, so platform
   feedback, `DELETE .../entries/7` or an old `bank_content_id` hit the wrong woman. Every
   table whose ids are shown or given out (cases, consents, submissions, bank entries,
   scans, matches, face templates and matches, notices, platform feedback) is rebuilt with
   AUTOINCREMENT, which never reuses an id. The rebuild runs with foreign keys off (a DROP
   TABLE with them on deletes the rows that reference it), in its own transaction, and is
   skipped for a table already rebuilt (so a rerun after a crash is safe). PostgreSQL's
   sequences never reuse ids: nothing to do there.
2. A match is one (found content, bank entry): `matches.content_sha256` is the found
   file's SHA-256, and every sighting (the first one too) is a row of `match_occurrences`
   (which scan item: where, and when). Scanning a folder three times no longer queues each
   match three times. Existing matches get their content and their first sighting. Face
   matches the same: one per (found content, template, face), `face_match_occurrences`.
3. `trusted_sources`: places a caseworker marked as hers or trusted for a case (her own
   folder of originals): content found there is not "removed content that came back".

Revision ID: 0012_ids_and_occurrences
Revises: 0011_sync
Create Date: 2026-12-02 01:30:00
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012_ids_and_occurrences"
down_revision: str | None = "0011_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
# Tables whose ids are shown to people or given to partners.
AUTOINCREMENT_TABLES = (
    "cases",
    "consents",
    "submissions",
    "bank_items",
    "scan_runs",
    "matches",
    "face_templates",
    "face_matches",
    "notices",
    "platform_feedback",
)


def _autoincrement_sql(name: str, sql: str) -> str | None:
    """The table's CREATE statement with `id INTEGER PRIMARY KEY AUTOINCREMENT`, under the
    name `_new_<name>`; None when it already has AUTOINCREMENT."""
    if "AUTOINCREMENT" in sql.upper():
        return None
    out, n = re.subn(
        r"\bid INTEGER NOT NULL\b", "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT", sql, count=1
    )
    if n != 1:
        raise RuntimeError(f"migration 0012: unexpected schema of table {name}: {sql}")
    out, n = re.subn(r",\s*PRIMARY KEY \(id\)", "", out, count=1)
    if n != 1:
        raise RuntimeError(f"migration 0012: unexpected primary key of table {name}: {sql}")
    return re.sub(
        r'^CREATE TABLE\s+"?' + re.escape(name) + r'"?', f'CREATE TABLE "_new_{name}"', out, count=1
    )


def _sqlite_autoincrement(raw: Any) -> None:
    """Rebuild the tables on the DB-API connection `raw` (sqlite3), foreign keys off."""
    if raw.in_transaction:  # the earlier migrations' work: committed first (PRAGMA
        raw.commit()  # foreign_keys cannot change inside a transaction)
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        raw.execute("BEGIN")
        for name in AUTOINCREMENT_TABLES:
            row = raw.execute(
                "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (name,)
            ).fetchone()
            if row is None:
                continue
            new_sql = _autoincrement_sql(name, row[0])
            if new_sql is None:
                continue
            extras = [
                r[0]
                for r in raw.execute(
                    "SELECT sql FROM sqlite_master WHERE tbl_name=? AND type IN ('index', "
                    "'trigger') AND sql IS NOT NULL",
                    (name,),
                )
            ]
            raw.execute(new_sql)
            raw.execute(f'INSERT INTO "_new_{name}" SELECT * FROM "{name}"')
            raw.execute(f'DROP TABLE "{name}"')
            raw.execute(f'ALTER TABLE "_new_{name}" RENAME TO "{name}"')
            for sql in extras:
                raw.execute(sql)
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration 0012: foreign keys broken by the rebuild: {broken}")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_autoincrement(bind.connection.dbapi_connection)
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_matches_content_bank", "matches", ["content_sha256", "bank_item_id"])
    op.create_table(
        "match_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("scan_item_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["match_id"], ["matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["scan_item_id"], ["scan_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_match_occurrences_match", "match_occurrences", ["match_id"])
    op.create_index("ix_match_occurrences_scan_item", "match_occurrences", ["scan_item_id"])
    with op.batch_alter_table("face_matches") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_face_matches_content_sha256", "face_matches", ["content_sha256"])
    op.create_table(
        "face_match_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("face_match_id", sa.Integer(), nullable=False),
        sa.Column("scan_item_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["face_match_id"], ["face_matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["scan_item_id"], ["scan_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_face_match_occurrences_face_match_id", "face_match_occurrences", ["face_match_id"]
    )
    op.create_index(
        "ix_face_match_occurrences_scan_item_id", "face_match_occurrences", ["scan_item_id"]
    )
    op.execute(
        "UPDATE face_matches SET content_sha256 = (SELECT sha256 FROM scan_items "
        "WHERE scan_items.id = face_matches.scan_item_id)"
    )
    op.execute(
        "INSERT INTO face_match_occurrences (face_match_id, scan_item_id, seen_at) "
        "SELECT face_matches.id, face_matches.scan_item_id, scan_items.created_at "
        "FROM face_matches JOIN scan_items ON scan_items.id = face_matches.scan_item_id "
        "ORDER BY face_matches.id"
    )
    op.create_table(
        "trusted_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "source"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_trusted_sources_case_id", "trusted_sources", ["case_id"])
    op.execute(
        "UPDATE matches SET content_sha256 = (SELECT sha256 FROM scan_items "
        "WHERE scan_items.id = matches.scan_item_id)"
    )
    op.execute(
        "INSERT INTO match_occurrences (match_id, scan_item_id, seen_at) "
        "SELECT matches.id, matches.scan_item_id, scan_items.created_at FROM matches "
        "JOIN scan_items ON scan_items.id = matches.scan_item_id ORDER BY matches.id"
    )


def downgrade() -> None:
    # The tables keep AUTOINCREMENT (harmless for the older schema).
    op.drop_index("ix_trusted_sources_case_id", table_name="trusted_sources")
    op.drop_table("trusted_sources")
    op.drop_index("ix_face_match_occurrences_scan_item_id", table_name="face_match_occurrences")
    op.drop_index("ix_face_match_occurrences_face_match_id", table_name="face_match_occurrences")
    op.drop_table("face_match_occurrences")
    op.drop_index("ix_face_matches_content_sha256", table_name="face_matches")
    with op.batch_alter_table("face_matches") as batch:
        batch.drop_column("content_sha256")
    op.drop_index("ix_match_occurrences_scan_item", table_name="match_occurrences")
    op.drop_index("ix_match_occurrences_match", table_name="match_occurrences")
    op.drop_table("match_occurrences")
    op.drop_index("ix_matches_content_bank", table_name="matches")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("content_sha256")
