"""candypanel: the CandyPanel dialect's settings, client names, card orders, API tokens and bot outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "candypanel_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_candypanel_settings"),
    )
    op.create_table(
        "candypanel_clients",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("wg", sa.Integer, nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_candypanel_clients"),
        sa.ForeignKeyConstraint(["account_id"], ["vpn_accounts.id"],
                                name="fk_candypanel_clients_account_id_vpn_accounts"),
        sa.UniqueConstraint("account_id", name="uq_candypanel_clients_account_id"),
    )
    op.create_table(
        "candypanel_orders",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("telegram_id", sa.BigInteger, nullable=False),
        sa.Column("invoice_id", BigId, nullable=True),
        sa.Column("payment_id", BigId, nullable=True),
        sa.Column("purchase_type", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("card_number_sent", sa.String(255), nullable=False),
        sa.Column("admin_note", sa.String(500), nullable=True),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_candypanel_orders"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_candypanel_orders_user_id_users"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_candypanel_orders_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name="fk_candypanel_orders_payment_id_payments"),
        sa.UniqueConstraint("payment_id", name="uq_candypanel_orders_payment_id"),
    )
    op.create_index("ix_candypanel_orders_user_id", "candypanel_orders", ["user_id"])
    op.create_table(
        "candypanel_api_tokens",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_candypanel_api_tokens"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_candypanel_api_tokens_user_id_users"),
        sa.UniqueConstraint("token_hash", name="uq_candypanel_api_tokens_token_hash"),
    )
    op.create_table(
        "candypanel_outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sender_telegram_id", sa.BigInteger, nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_candypanel_outbox"),
    )


def downgrade() -> None:
    op.drop_table("candypanel_outbox")
    op.drop_table("candypanel_api_tokens")
    op.drop_index("ix_candypanel_orders_user_id", table_name="candypanel_orders")
    op.drop_table("candypanel_orders")
    op.drop_table("candypanel_clients")
    op.drop_table("candypanel_settings")
