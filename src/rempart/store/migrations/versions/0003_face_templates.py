"""Face search: encrypted face templates under a case and consent, face matches, and the
faces found in each scanned item.

Revision ID: 0003_face_templates
Revises: 0002
Create Date: 2026-11-22 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_face_templates"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "face_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("face_width", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    op.create_index("ix_face_templates_case_id", "face_templates", ["case_id"])
    op.create_table(
        "face_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_item_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("distance", sa.Float(), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("time", sa.Float(), nullable=True),
        sa.Column("review_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scan_item_id"], ["scan_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["template_id"], ["face_templates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_face_matches_scan_item_id", "face_matches", ["scan_item_id"])
    op.create_index("ix_face_matches_template_id", "face_matches", ["template_id"])
    with op.batch_alter_table("scan_items") as batch:
        batch.add_column(sa.Column("faces", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scan_items") as batch:
        batch.drop_column("faces")
    op.drop_table("face_matches")
    op.drop_table("face_templates")
