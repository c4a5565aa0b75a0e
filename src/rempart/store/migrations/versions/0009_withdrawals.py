"""Withdrawal records: what was withdrawn, as a one-way digest, so partners holding the same
hash can remove it too; the hash itself is not kept.

Revision ID: 0009_withdrawals
Revises: 0008_possible_minor
Create Date: 2026-11-22 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_withdrawals"
down_revision: str | None = "0008_possible_minor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("value_sha256", sa.String(length=64), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_withdrawals_value_sha256", "withdrawals", ["value_sha256"])


def downgrade() -> None:
    op.drop_table("withdrawals")
