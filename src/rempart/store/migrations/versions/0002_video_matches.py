"""Video in scans: a scanned item's media type and duration, and a match's details (the
vPDQ percentages and matched time ranges, or where in a video a still was found).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scan_items") as batch:
        batch.add_column(
            sa.Column("media_type", sa.String(length=16), nullable=False, server_default="image")
        )
        batch.add_column(sa.Column("duration", sa.Float(), nullable=True))
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("details")
    with op.batch_alter_table("scan_items") as batch:
        batch.drop_column("duration")
        batch.drop_column("media_type")
