"""Notices sent by e-mail (issue 20 item 3).

1. `smtp_settings`: one row per organisation (`organisation`: a tenant's name, or "" for
   the instance's own settings the command line uses): host, port, security (none,
   starttls, tls), user, the password encrypted under the mail key (REMPART_HOME/keys/
   mail.key, rempart.cases.mail_settings; never stored in clear), From and Reply-To.
2. `notice_sendings`: each e-mail a notice left by: the Message-ID, time, recipient, the
   SMTP server's answer and who sent it.

Revision ID: 0015_notice_mail
Revises: 0014_removal_checks
Create Date: 2026-12-02 05:06:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_notice_mail"
down_revision: str | None = "0014_removal_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "smtp_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_enc", sa.LargeBinary(), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation"),
    )
    op.create_table(
        "notice_sendings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sent_at", _TS, nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("smtp_answer", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notice_sendings_notice_id", "notice_sendings", ["notice_id"])


def downgrade() -> None:
    op.drop_index("ix_notice_sendings_notice_id", table_name="notice_sendings")
    op.drop_table("notice_sendings")
    op.drop_table("smtp_settings")
