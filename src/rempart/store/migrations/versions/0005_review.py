"""Review decisions on matches and face matches: who decided, when, and why.

Revision ID: 0005_review
Revises: 0004_audit_log
Create Date: 2026-11-22 16:12:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_review"
down_revision: str | None = "0004_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("matches", "face_matches"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reviewed_by", sa.String(length=200), nullable=True))
            batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("review_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("matches", "face_matches"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("review_reason")
            batch.drop_column("reviewed_at")
            batch.drop_column("reviewed_by")
