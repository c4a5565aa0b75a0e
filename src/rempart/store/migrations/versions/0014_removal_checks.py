"""Removal verified by fetching (issue 16 item 4).

1. `removal_checks`: what a fetch of each place a notice names showed (up, gone, changed,
   unreachable), with the time, HTTP status, final URL and SHA-256 of the response body as
   proof (rempart.cases.removal_check).
2. `notices.removal_verified`: whether the removal time was set by a check that saw every
   place gone (true) or marked by hand (false): the report shows both apart.
3. `scheduled_jobs`: one row per scheduled job of `rempart serve` (the removal check): the
   claim that lets one worker only run it, and when it last ran.

Revision ID: 0014_removal_checks
Revises: 0013_case_page_and_limits
Create Date: 2026-12-02 05:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_removal_checks"
down_revision: str | None = "0013_case_page_and_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "removal_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("checked_at", _TS, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_removal_checks_notice_id", "removal_checks", ["notice_id"])
    with op.batch_alter_table("notices") as batch:
        batch.add_column(
            sa.Column("removal_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("last_run_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_jobs")
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("removal_verified")
    op.drop_index("ix_removal_checks_notice_id", table_name="removal_checks")
    op.drop_table("removal_checks")
