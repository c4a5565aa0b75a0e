"""Her case page (issue 14) and limits counted across workers (issue 18 item 5).

1. `limit_buckets` and `limit_failures`: the API's token buckets and the failure limits (wrong
   secrets per case number, wrong keys at the web UI's sign-in) counted in the database,
   which every server worker shares (each worker counted for itself: with two workers,
   ten wrong secrets got through a limit of five).
2. `org_settings`: the organisation's settings (may a person open a case herself, into
   which intake bank, may what she sends be matched before a caseworker has seen it).
3. `case_intake`: how a case came (opened by her on the case page), whether a caseworker
   has taken it, and the one claim of its withdrawal (two tabs withdrawing at once: one
   withdrawal).
4. `held_submissions`: hash files she sent, held (never matched, never indexed) until a
   caseworker takes her case; deleted with her withdrawal.

Revision ID: 0013_case_page_and_limits
Revises: 0012_ids_and_occurrences
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_case_page_and_limits"
down_revision: str | None = "0012_ids_and_occurrences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "limit_buckets",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_table(
        "limit_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_limit_failures_key", "limit_failures", ["scope", "key", "at"])
    op.create_index("ix_limit_failures_at", "limit_failures", ["scope", "at"])
    op.create_table(
        "org_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "case_intake",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("self_opened", sa.Boolean(), nullable=False),
        sa.Column("taken_by", sa.String(length=200), nullable=True),
        sa.Column("taken_at", _TS, nullable=True),
        sa.Column("withdraw_claim", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "held_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_held_submissions_case_id", "held_submissions", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_held_submissions_case_id", table_name="held_submissions")
    op.drop_table("held_submissions")
    op.drop_table("case_intake")
    op.drop_table("org_settings")
    op.drop_index("ix_limit_failures_at", table_name="limit_failures")
    op.drop_index("ix_limit_failures_key", table_name="limit_failures")
    op.drop_table("limit_failures")
    op.drop_table("limit_buckets")
