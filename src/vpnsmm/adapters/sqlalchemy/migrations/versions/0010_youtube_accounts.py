"""youtube_accounts: the managed YouTube account list of the smm-spring admin API

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "youtube_accounts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_ci", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("daily_limit", sa.Integer, nullable=False),
        sa.Column("daily_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_processed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_used_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_youtube_accounts"),
        sa.UniqueConstraint("email_ci", name="uq_youtube_accounts_email_ci"),
    )


def downgrade() -> None:
    op.drop_table("youtube_accounts")
