"""smm: providers, categories, services, per-user rates, orders, refills

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smm_providers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("api_url", sa.String(500), nullable=False),
        sa.Column("api_key_encrypted", sa.Text, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("exchange_rate", sa.String(40), nullable=False, server_default="1"),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_smm_providers"),
        sa.UniqueConstraint("name", name="uq_smm_providers_name"),
    )
    op.create_table(
        "smm_categories",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sort", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_smm_categories"),
        sa.UniqueConstraint("name", name="uq_smm_categories_name"),
    )
    op.create_table(
        "smm_services",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("category_id", BigId, nullable=False),
        sa.Column("rate", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("min", sa.BigInteger, nullable=False),
        sa.Column("max", sa.BigInteger, nullable=False),
        sa.Column("provider_id", BigId, nullable=False),
        sa.Column("provider_service_id", sa.String(64), nullable=False),
        sa.Column("refill", sa.Boolean, nullable=False),
        sa.Column("cancel", sa.Boolean, nullable=False),
        sa.Column("dripfeed", sa.Boolean, nullable=False),
        sa.Column("markup", sa.String(20), nullable=False, server_default="0"),
        sa.Column("provider_rate", sa.String(40), nullable=False, server_default="0"),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_smm_services"),
        sa.ForeignKeyConstraint(["category_id"], ["smm_categories.id"],
                                name="fk_smm_services_category_id_smm_categories"),
        sa.ForeignKeyConstraint(["provider_id"], ["smm_providers.id"],
                                name="fk_smm_services_provider_id_smm_providers"),
        sa.UniqueConstraint("provider_id", "provider_service_id", name="uq_smm_services_provider_service"),
        sa.CheckConstraint("rate >= 0 AND min > 0 AND max >= min", name="ck_smm_services_bounds"),
    )
    op.create_index("ix_smm_services_category_id", "smm_services", ["category_id"])
    op.create_table(
        "smm_user_rates",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("service_id", sa.BigInteger, nullable=False),
        sa.Column("rate", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(8), nullable=True),
        sa.Column("discount_bp", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_smm_user_rates"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_smm_user_rates_user_id_users",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("user_id", "service_id", name="uq_smm_user_rates_user_service"),
    )
    op.create_table(
        "smm_orders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("service_id", BigId, nullable=False),
        sa.Column("provider_id", BigId, nullable=False),
        sa.Column("link", sa.String(1000), nullable=False, server_default=""),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("runs", sa.Integer, nullable=True),
        sa.Column("interval", sa.Integer, nullable=True),
        sa.Column("charge", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_count", sa.BigInteger, nullable=True),
        sa.Column("remains", sa.BigInteger, nullable=True),
        sa.Column("provider_order_id", sa.String(64), nullable=True),
        sa.Column("submit_state", sa.String(16), nullable=False),
        sa.Column("submit_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("error", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_smm_orders"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_smm_orders_user_id_users"),
        sa.ForeignKeyConstraint(["service_id"], ["smm_services.id"], name="fk_smm_orders_service_id_smm_services"),
        sa.ForeignKeyConstraint(["provider_id"], ["smm_providers.id"],
                                name="fk_smm_orders_provider_id_smm_providers"),
        sa.CheckConstraint("charge >= 0 AND refunded >= 0 AND refunded <= charge",
                           name="ck_smm_orders_refund_bound"),
    )
    op.create_index("ix_smm_orders_user_id_id", "smm_orders", ["user_id", "id"])
    op.create_index("ix_smm_orders_submit_state_status", "smm_orders", ["submit_state", "status"])
    op.create_table(
        "smm_refills",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("provider_refill_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_smm_refills"),
        sa.ForeignKeyConstraint(["order_id"], ["smm_orders.id"], name="fk_smm_refills_order_id_smm_orders"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_smm_refills_user_id_users"),
    )
    op.create_index("ix_smm_refills_order_id", "smm_refills", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_smm_refills_order_id", table_name="smm_refills")
    op.drop_table("smm_refills")
    op.drop_index("ix_smm_orders_submit_state_status", table_name="smm_orders")
    op.drop_index("ix_smm_orders_user_id_id", table_name="smm_orders")
    op.drop_table("smm_orders")
    op.drop_table("smm_user_rates")
    op.drop_index("ix_smm_services_category_id", table_name="smm_services")
    op.drop_table("smm_services")
    op.drop_table("smm_categories")
    op.drop_table("smm_providers")
