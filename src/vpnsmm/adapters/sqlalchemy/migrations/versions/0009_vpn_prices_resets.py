"""vpn: per-user price lists (resellers), plan traffic reset strategy and transport label

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vpn_plans", sa.Column("traffic_reset", sa.String(8), nullable=False, server_default="no_reset"))
    op.add_column("vpn_plans", sa.Column("transport", sa.String(16), nullable=False, server_default="any"))
    op.add_column("vpn_accounts", sa.Column("traffic_reset", sa.String(8), nullable=False,
                                            server_default="no_reset"))
    op.add_column("vpn_accounts", sa.Column("next_traffic_reset_at", UtcDateTime, nullable=True))
    op.create_index("ix_vpn_accounts_next_traffic_reset_at", "vpn_accounts", ["next_traffic_reset_at"])
    op.create_table(
        "vpn_price_lists",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("plan_id", sa.BigInteger, nullable=False),
        sa.Column("discount_bp", sa.Integer, nullable=False, server_default="0"),
        sa.Column("prices", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vpn_price_lists"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_vpn_price_lists_user_id_users",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("user_id", "plan_id", name="uq_vpn_price_lists_user_plan"),
    )


def downgrade() -> None:
    op.drop_table("vpn_price_lists")
    op.drop_index("ix_vpn_accounts_next_traffic_reset_at", table_name="vpn_accounts")
    with op.batch_alter_table("vpn_accounts") as batch:
        batch.drop_column("next_traffic_reset_at")
        batch.drop_column("traffic_reset")
    with op.batch_alter_table("vpn_plans") as batch:
        batch.drop_column("transport")
        batch.drop_column("traffic_reset")
