"""Synthetic-media signals of scanned items (issue 15 item 3).

`scan_items.synthetic`: the findings of rempart.signals.synthetic on the item's file as the
scan found it (a list of Finding.as_json(); [] when none was found, NULL when the scan did not
look, e.g. `--no-synthetic` or a scan from before this migration). A match's derivation
finding is computed from the match's details, so it needs no column.

Revision ID: 0016_synthetic_signals
Revises: 0015_notice_mail
Create Date: 2026-12-02 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_synthetic_signals"
down_revision: str | None = "0015_notice_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scan_items") as batch:
        batch.add_column(sa.Column("synthetic", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scan_items") as batch:
        batch.drop_column("synthetic")
