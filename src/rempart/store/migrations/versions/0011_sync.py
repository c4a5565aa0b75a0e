"""Sync between Rempart instances: the change feed of every bank (what was added, what was
withdrawn, in one strictly increasing sequence) and the checkpoints of pulls from partners.

Existing data is written into the feed: the withdrawals recorded so far (for every bank:
they never said which), then every bank entry, so a partner pulling from the start gets
the same as a full export.

Revision ID: 0011_sync
Revises: 0010_api
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_sync"
down_revision: str | None = "0010_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bank_changes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=True),  # NULL: every bank
        sa.Column("kind", sa.String(length=16), nullable=False),  # added or withdrawn
        sa.Column("item_id", sa.Integer(), nullable=True),  # added: the bank entry
        sa.Column("signal_type", sa.String(length=16), nullable=True),  # withdrawn
        sa.Column("value_sha256", sa.String(length=64), nullable=True),  # withdrawn
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,  # a sequence number is never given twice
    )
    op.create_index("ix_bank_changes_bank_seq", "bank_changes", ["bank_id", "seq"])
    op.create_table(
        "sync_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remote", sa.String(length=500), nullable=False),
        sa.Column("remote_bank", sa.String(length=100), nullable=False),
        sa.Column("local_bank", sa.String(length=100), nullable=False),
        sa.Column("checkpoint", sa.String(length=64), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("last_result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("remote", "remote_bank", "local_bank"),
    )
    op.execute(
        "INSERT INTO bank_changes (bank_id, kind, signal_type, value_sha256, at) "
        "SELECT NULL, 'withdrawn', signal_type, value_sha256, withdrawn_at FROM withdrawals "
        "ORDER BY id"
    )
    op.execute(
        "INSERT INTO bank_changes (bank_id, kind, item_id, at) "
        "SELECT bank_id, 'added', id, created_at FROM bank_items ORDER BY id"
    )


def downgrade() -> None:
    op.drop_table("sync_checkpoints")
    op.drop_table("bank_changes")
