"""A match may be flagged as possibly showing a minor: prioritised and routed apart.

Revision ID: 0008_possible_minor
Revises: 0007_notices
Create Date: 2026-11-22 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_possible_minor"
down_revision: str | None = "0007_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("matches", "face_matches"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("possible_minor", sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    for table in ("matches", "face_matches"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("possible_minor")
