"""vpn: plans, servers (sealed credentials), accounts, WireGuard peers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vpn_plans",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("prices", sa.JSON, nullable=False),
        sa.Column("extra_gb_prices", sa.JSON, nullable=False),
        sa.Column("extra_day_prices", sa.JSON, nullable=False),
        sa.Column("duration_days", sa.Integer, nullable=False),
        sa.Column("traffic_bytes", sa.BigInteger, nullable=True),
        sa.Column("device_limit", sa.Integer, nullable=True),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("server_group", sa.String(32), nullable=False),
        sa.Column("start_on_first_use", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vpn_plans"),
    )
    op.create_table(
        "vpn_servers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("credentials", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("server_group", sa.String(32), nullable=False),
        sa.Column("location", sa.String(64), nullable=False, server_default=""),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("weight", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("online", sa.Boolean, nullable=True),
        sa.Column("checked_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_vpn_servers"),
        sa.UniqueConstraint("name", name="uq_vpn_servers_name"),
    )
    op.create_table(
        "vpn_accounts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("plan_id", BigId, nullable=False),
        sa.Column("server_id", BigId, nullable=False),
        sa.Column("invoice_id", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subscription_token", sa.String(64), nullable=False),
        sa.Column("duration_days", sa.Integer, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Column("traffic_limit_bytes", sa.BigInteger, nullable=True),
        sa.Column("device_limit", sa.Integer, nullable=True),
        sa.Column("used_upload", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("used_download", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("period_start_upload", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("period_start_download", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("panel_upload", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("panel_download", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("start_on_first_use", sa.Boolean, nullable=False),
        sa.Column("remote_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("links", sa.JSON, nullable=False),
        sa.Column("config", sa.Text, nullable=True),
        sa.Column("subscription_url", sa.String(1000), nullable=True),
        sa.Column("applied_invoices", sa.JSON, nullable=False),
        sa.Column("pending_reset", sa.Boolean, nullable=False),
        sa.Column("needs_push", sa.Boolean, nullable=False),
        sa.Column("usage_synced_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_vpn_accounts"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_vpn_accounts_user_id_users"),
        sa.ForeignKeyConstraint(["plan_id"], ["vpn_plans.id"], name="fk_vpn_accounts_plan_id_vpn_plans"),
        sa.ForeignKeyConstraint(["server_id"], ["vpn_servers.id"], name="fk_vpn_accounts_server_id_vpn_servers"),
        sa.UniqueConstraint("invoice_id", name="uq_vpn_accounts_invoice_id"),
        sa.UniqueConstraint("subscription_token", name="uq_vpn_accounts_subscription_token"),
    )
    op.create_index("ix_vpn_accounts_user_id_id", "vpn_accounts", ["user_id", "id"])
    op.create_index("ix_vpn_accounts_server_id_status", "vpn_accounts", ["server_id", "status"])
    op.create_index("ix_vpn_accounts_status_expires_at", "vpn_accounts", ["status", "expires_at"])
    op.create_table(
        "vpn_wg_peers",
        sa.Column("server_id", BigId, nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("ipv4", sa.String(15), nullable=False),
        sa.Column("ipv6", sa.String(39), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("traffic_limit_bytes", sa.BigInteger, nullable=True),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Column("device_limit", sa.Integer, nullable=True),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("rx_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("tx_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("server_id", "key", name="pk_vpn_wg_peers"),
        sa.ForeignKeyConstraint(["server_id"], ["vpn_servers.id"], name="fk_vpn_wg_peers_server_id_vpn_servers"),
        sa.UniqueConstraint("public_key", name="uq_vpn_wg_peers_public_key"),
        sa.UniqueConstraint("server_id", "ipv4", name="uq_vpn_wg_peers_server_id_ipv4"),
        sa.UniqueConstraint("server_id", "ipv6", name="uq_vpn_wg_peers_server_id_ipv6"),
    )


def downgrade() -> None:
    op.drop_table("vpn_wg_peers")
    op.drop_index("ix_vpn_accounts_status_expires_at", table_name="vpn_accounts")
    op.drop_index("ix_vpn_accounts_server_id_status", table_name="vpn_accounts")
    op.drop_index("ix_vpn_accounts_user_id_id", table_name="vpn_accounts")
    op.drop_table("vpn_accounts")
    op.drop_table("vpn_servers")
    op.drop_table("vpn_plans")
