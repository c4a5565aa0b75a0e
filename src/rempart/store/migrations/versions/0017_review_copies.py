"""Review copies of matched media that came as bytes (issue 20 item 2).

`review_copies`: for a match whose file was an archive member or a download (gone after the
scan), a small greyscale copy (longest side 512 px; a video's keyframe at the matched
moment) kept encrypted under the media key in REMPART_HOME/review/, so that its preview and
audited reveal work as for a folder file. One row per match (`match_id` or
`face_match_id`), with the encrypted file's path; deleted with the file on withdrawal and
rejection (rempart.cases.review_copies).

Revision ID: 0017_review_copies
Revises: 0016_synthetic_signals
Create Date: 2026-12-02 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_review_copies"
down_revision: str | None = "0016_synthetic_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("face_match_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["match_id"], ["matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["face_match_id"], ["face_matches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_id"),
        sa.UniqueConstraint("face_match_id"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("review_copies")
