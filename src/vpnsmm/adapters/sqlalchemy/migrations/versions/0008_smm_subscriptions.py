"""smm: recurring orders (subscriptions) and their runs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smm_subscriptions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("service_id", BigId, nullable=False),
        sa.Column("link", sa.String(1000), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=True),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("anchor_at", UtcDateTime, nullable=False),
        sa.Column("next_run", sa.Integer, nullable=False),
        sa.Column("next_run_at", UtcDateTime, nullable=False),
        sa.Column("runs_placed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_order_id", sa.BigInteger, nullable=True),
        sa.Column("pause_code", sa.String(40), nullable=False, server_default=""),
        sa.Column("pause_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=True),
        sa.Column("canceled_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_smm_subscriptions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_smm_subscriptions_user_id_users"),
        sa.ForeignKeyConstraint(["service_id"], ["smm_services.id"],
                                name="fk_smm_subscriptions_service_id_smm_services"),
    )
    op.create_index("ix_smm_subscriptions_user_id_id", "smm_subscriptions", ["user_id", "id"])
    op.create_index("ix_smm_subscriptions_status_next_run_at", "smm_subscriptions", ["status", "next_run_at"])
    op.create_table(
        "smm_subscription_runs",
        sa.Column("subscription_id", BigId, nullable=False, autoincrement=False),
        sa.Column("run", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "run", name="pk_smm_subscription_runs"),
        sa.ForeignKeyConstraint(["subscription_id"], ["smm_subscriptions.id"],
                                name="fk_smm_subscription_runs_subscription_id_smm_subscriptions"),
        sa.ForeignKeyConstraint(["order_id"], ["smm_orders.id"], name="fk_smm_subscription_runs_order_id_smm_orders"),
    )


def downgrade() -> None:
    op.drop_table("smm_subscription_runs")
    op.drop_index("ix_smm_subscriptions_status_next_run_at", table_name="smm_subscriptions")
    op.drop_index("ix_smm_subscriptions_user_id_id", table_name="smm_subscriptions")
    op.drop_table("smm_subscriptions")
