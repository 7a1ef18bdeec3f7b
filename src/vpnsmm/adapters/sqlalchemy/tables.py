"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/versions`` create exactly these.

Money columns are BIGINT minor units with a currency code beside them; never floating point.
"""

from __future__ import annotations

import sqlalchemy as sa

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

users = sa.Table(
    "users", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("username_ci", sa.String(64), nullable=False, unique=True),  # casefolded, for uniqueness
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("email_ci", sa.String(254), nullable=True, unique=True),
    sa.Column("telegram_id", sa.BigInteger, nullable=True, unique=True),
    sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False, server_default="user"),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("ban_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("joined_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("role IN ('user','reseller','operator','admin')", name="role"),
    sa.CheckConstraint("status IN ('active','banned')", name="status"),
)

auth_sessions = sa.Table(
    "auth_sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revoke_reason", sa.String(100), nullable=False, server_default=""),
)

refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("session_id", sa.String(64), sa.ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime, nullable=True),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)

# ------------------------------------------------------------------------------------------- ledger
# A system account has owner_id 0 (NULL would not take part in the unique key).
ledger_accounts = sa.Table(
    "ledger_accounts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("owner_id", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("flags", sa.String(40), nullable=False),
    sa.Column("debits_posted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credits_posted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("debits_pending", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credits_pending", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("owner_id", "currency", "purpose", name="uq_ledger_accounts_owner"),
    sa.CheckConstraint("debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
                       name="counters_non_negative"),
    # Backstop for the rules: a bounded account can never be found beyond its bound, whatever the code does.
    sa.CheckConstraint("flags <> 'debits_must_not_exceed_credits' OR debits_posted + debits_pending <= credits_posted",
                       name="debits_bound"),
    sa.CheckConstraint("flags <> 'credits_must_not_exceed_debits' OR credits_posted + credits_pending <= debits_posted",
                       name="credits_bound"),
)

ledger_transfers = sa.Table(
    "ledger_transfers", metadata,
    sa.Column("id", sa.String(128), primary_key=True),  # the caller's idempotency key
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("debit_account_id", BigId, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    sa.Column("credit_account_id", BigId, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("pending_id", sa.String(128), nullable=True, index=True),
    sa.Column("pending_status", sa.String(16), nullable=True),  # holds only: pending | posted | voided
    sa.Column("reference", sa.String(255), nullable=True, index=True),
    sa.Column("memo", sa.String(500), nullable=False, server_default=""),
    sa.Column("rate_source", sa.String(8), nullable=True),
    sa.Column("rate_target", sa.String(8), nullable=True),
    sa.Column("rate_numerator", sa.BigInteger, nullable=True),
    sa.Column("rate_denominator", sa.BigInteger, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
)

ledger_entries = sa.Table(
    "ledger_entries", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("transfer_id", sa.String(128), sa.ForeignKey("ledger_transfers.id"), nullable=False, index=True),
    sa.Column("account_id", BigId, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("delta", sa.BigInteger, nullable=False),
    sa.Column("pending_delta", sa.BigInteger, nullable=False),
    sa.Column("balance_before", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("available_before", sa.BigInteger, nullable=False),
    sa.Column("available_after", sa.BigInteger, nullable=False),
    sa.Index("ix_ledger_entries_account_id_id", "account_id", "id"),
)

# ------------------------------------------------------------------------------------------ billing
invoices = sa.Table(
    "invoices", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("description", sa.String(255), nullable=False),
    sa.Column("item", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("idempotency_key", sa.String(100), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("paid_at", UtcDateTime, nullable=True),
    sa.Column("fulfilled_at", UtcDateTime, nullable=True),
    sa.Column("paid_by_payment_id", sa.BigInteger, nullable=True),
    sa.Column("fulfilment_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.UniqueConstraint("user_id", "idempotency_key", name="uq_invoices_user_id_idempotency_key"),
    sa.Index("ix_invoices_user_id_id", "user_id", "id"),
    sa.Index("ix_invoices_status_expires_at", "status", "expires_at"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
)

payments = sa.Table(
    "payments", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("invoice_id", BigId, sa.ForeignKey("invoices.id"), nullable=False, index=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("gateway", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("external_id", sa.String(128), nullable=True),
    sa.Column("redirect_url", sa.String(1000), nullable=True),
    sa.Column("provider_ref", sa.String(128), nullable=True),
    sa.Column("card_pan", sa.String(32), nullable=True),
    sa.Column("raw_status", sa.String(64), nullable=False, server_default=""),
    sa.Column("claim", sa.JSON, nullable=True),
    sa.Column("decision", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
    sa.Column("paid_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("gateway", "external_id", name="uq_payments_gateway_external_id"),
    sa.Index("ix_payments_status_gateway", "status", "gateway"),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("actor_id", sa.BigInteger, nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_audit_log_target", "target"),
)

# Background jobs (adapters/jobs/sql.py). A job row is inserted in the business transaction that needs it.
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("task", sa.String(128), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON text
    sa.Column("key", sa.String(200), nullable=True),  # at most one running job per key
    sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),  # periodic slots: once per slot
    sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_token", sa.String(32), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.CheckConstraint("status IN ('queued','running','succeeded','failed')", name="status"),
    sa.Index("ix_jobs_status_run_at", "status", "run_at"),
    sa.Index("ix_jobs_key", "key"),
)

# ---------------------------------------------------------------------------------------------- SMM
smm_providers = sa.Table(
    "smm_providers", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("api_url", sa.String(500), nullable=False),
    sa.Column("api_key_encrypted", sa.Text, nullable=False),  # Fernet token, never the key in clear
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("exchange_rate", sa.String(40), nullable=False, server_default="1"),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

smm_categories = sa.Table(
    "smm_categories", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("sort", sa.Integer, nullable=False, server_default="0"),
)

smm_services = sa.Table(
    "smm_services", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("category_id", BigId, sa.ForeignKey("smm_categories.id"), nullable=False, index=True),
    sa.Column("rate", sa.BigInteger, nullable=False),  # per 1000 units, minor units of currency
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("min", sa.BigInteger, nullable=False),
    sa.Column("max", sa.BigInteger, nullable=False),
    sa.Column("provider_id", BigId, sa.ForeignKey("smm_providers.id"), nullable=False),
    sa.Column("provider_service_id", sa.String(64), nullable=False),
    sa.Column("refill", sa.Boolean, nullable=False),
    sa.Column("cancel", sa.Boolean, nullable=False),
    sa.Column("dripfeed", sa.Boolean, nullable=False),
    sa.Column("markup", sa.String(20), nullable=False, server_default="0"),
    sa.Column("provider_rate", sa.String(40), nullable=False, server_default="0"),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.UniqueConstraint("provider_id", "provider_service_id", name="uq_smm_services_provider_service"),
    sa.CheckConstraint("rate >= 0 AND min > 0 AND max >= min", name="bounds"),
)

# service_id 0 = every service (NULL would not take part in the unique key).
smm_user_rates = sa.Table(
    "smm_user_rates", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("service_id", sa.BigInteger, nullable=False),
    sa.Column("rate", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(8), nullable=True),
    sa.Column("discount_bp", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("user_id", "service_id", name="uq_smm_user_rates_user_service"),
)

smm_orders = sa.Table(
    "smm_orders", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("service_id", BigId, sa.ForeignKey("smm_services.id"), nullable=False),
    sa.Column("provider_id", BigId, sa.ForeignKey("smm_providers.id"), nullable=False),
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
    # A subscription's child order (one per post) points at its parent; a provider child id is adopted once.
    sa.Column("parent_order_id", BigId, nullable=True),
    sa.Index("ix_smm_orders_user_id_id", "user_id", "id"),
    sa.Index("ix_smm_orders_submit_state_status", "submit_state", "status"),
    sa.Index("uq_smm_orders_parent_provider_order", "parent_order_id", "provider_order_id", unique=True),
    sa.CheckConstraint("charge >= 0 AND refunded >= 0 AND refunded <= charge", name="refund_bound"),
)

smm_refills = sa.Table(
    "smm_refills", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("order_id", BigId, sa.ForeignKey("smm_orders.id"), nullable=False, index=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("provider_refill_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
)

# Recurring orders (domain/smm_subscriptions.py): each run is a normal smm_orders row; smm_subscription_runs
# holds one row per placed run, so a run index can never be charged twice.
smm_subscriptions = sa.Table(
    "smm_subscriptions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("service_id", BigId, sa.ForeignKey("smm_services.id"), nullable=False),
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
    sa.Column("dripfeed_runs", sa.Integer, nullable=True),  # each run a drip-feed order (0011)
    sa.Column("dripfeed_interval", sa.Integer, nullable=True),  # minutes between its drip-feed runs
    sa.Index("ix_smm_subscriptions_user_id_id", "user_id", "id"),
    sa.Index("ix_smm_subscriptions_status_next_run_at", "status", "next_run_at"),
)

smm_subscription_runs = sa.Table(
    "smm_subscription_runs", metadata,
    sa.Column("subscription_id", BigId, sa.ForeignKey("smm_subscriptions.id"), primary_key=True, autoincrement=False),
    sa.Column("run", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_id", BigId, sa.ForeignKey("smm_orders.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# --------------------------------------------------------------------------------------------- vpn
vpn_plans = sa.Table(
    "vpn_plans", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("prices", sa.JSON, nullable=False),  # {"IRR": 1500000, ...} minor units
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
    sa.Column("traffic_reset", sa.String(8), nullable=False, server_default="no_reset"),
    sa.Column("transport", sa.String(16), nullable=False, server_default="any"),
)

vpn_servers = sa.Table(
    "vpn_servers", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("credentials", sa.Text, nullable=False),  # Fernet ciphertext
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
)

vpn_accounts = sa.Table(
    "vpn_accounts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("plan_id", BigId, sa.ForeignKey("vpn_plans.id"), nullable=False),
    sa.Column("server_id", BigId, sa.ForeignKey("vpn_servers.id"), nullable=False),
    sa.Column("invoice_id", sa.BigInteger, nullable=True, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("subscription_token", sa.String(64), nullable=False, unique=True),
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
    sa.Column("traffic_reset", sa.String(8), nullable=False, server_default="no_reset"),
    sa.Column("next_traffic_reset_at", UtcDateTime, nullable=True),
    sa.Index("ix_vpn_accounts_user_id_id", "user_id", "id"),
    sa.Index("ix_vpn_accounts_server_id_status", "server_id", "status"),
    sa.Index("ix_vpn_accounts_status_expires_at", "status", "expires_at"),
    sa.Index("ix_vpn_accounts_next_traffic_reset_at", "next_traffic_reset_at"),
)

# WireGuard peers of the servers we drive ourselves (adapters/sqlalchemy/repositories/vpn.py).
vpn_price_lists = sa.Table(  # a user's own VPN prices (resellers); plan_id 0 = every plan
    "vpn_price_lists", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("plan_id", sa.BigInteger, nullable=False),
    sa.Column("discount_bp", sa.Integer, nullable=False, server_default="0"),
    sa.Column("prices", sa.JSON, nullable=False),  # {"IRR": 1200000} minor units; replaces the plan's price
    sa.UniqueConstraint("user_id", "plan_id", name="uq_vpn_price_lists_user_plan"),
)

vpn_wg_peers = sa.Table(
    "vpn_wg_peers", metadata,
    sa.Column("server_id", BigId, sa.ForeignKey("vpn_servers.id"), primary_key=True),
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("public_key", sa.String(64), nullable=False, unique=True),
    sa.Column("secrets", sa.Text, nullable=False),  # sealed private and preshared keys
    sa.Column("ipv4", sa.String(15), nullable=False),
    sa.Column("ipv6", sa.String(39), nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("traffic_limit_bytes", sa.BigInteger, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("device_limit", sa.Integer, nullable=True),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
    sa.Column("rx_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("tx_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("server_id", "ipv4", name="uq_vpn_wg_peers_server_id_ipv4"),
    sa.UniqueConstraint("server_id", "ipv6", name="uq_vpn_wg_peers_server_id_ipv6"),
)

# --------------------------------------------------------------------------------------------- webhooks
webhook_endpoints = sa.Table(
    "webhook_endpoints", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret_encrypted", sa.Text, nullable=False),  # Fernet ciphertext; the secret is shown once
    sa.Column("events", sa.JSON, nullable=False),  # ["order.completed", ...]
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", BigId, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("event_id", sa.String(100), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the exact JSON sent (and signed)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    sa.CheckConstraint("status IN ('pending','succeeded','failed')", name="status"),
)

webhook_attempts = sa.Table(
    "webhook_attempts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", BigId, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.String(500), nullable=False, server_default=""),
    sa.Column("next_retry_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("delivery_id", "attempt", name="uq_webhook_attempts_delivery_attempt"),
)

# --------------------------------------------------------------------------------------------- candypanel
# The CandyPanel dialect's own records (application/candypanel.py): its key/value settings, the names its
# clients go by (each a VPN account), card-to-card orders of its bot (each a card payment), API tokens, and
# the outbox of messages its Telegram bot delivers (broadcasts, support requests).
candypanel_settings = sa.Table(
    "candypanel_settings", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

candypanel_clients = sa.Table(
    "candypanel_clients", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("account_id", BigId, sa.ForeignKey("vpn_accounts.id"), nullable=False, unique=True),
    sa.Column("wg", sa.Integer, nullable=False),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

candypanel_orders = sa.Table(
    "candypanel_orders", metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("telegram_id", sa.BigInteger, nullable=False),
    # null while the order id is claimed but its invoice and card payment are not made yet
    sa.Column("invoice_id", BigId, sa.ForeignKey("invoices.id"), nullable=True),
    sa.Column("payment_id", BigId, sa.ForeignKey("payments.id"), nullable=True, unique=True),
    sa.Column("purchase_type", sa.String(8), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # toman (IRT minor units)
    sa.Column("card_number_sent", sa.String(255), nullable=False),
    sa.Column("admin_note", sa.String(500), nullable=True),
    sa.Column("requested_at", UtcDateTime, nullable=False),
)

candypanel_api_tokens = sa.Table(
    "candypanel_api_tokens", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex; the token is never stored
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

candypanel_outbox = sa.Table(
    "candypanel_outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # broadcast | support
    sa.Column("sender_telegram_id", sa.BigInteger, nullable=False),
    sa.Column("recipients", sa.JSON, nullable=False),  # telegram ids
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# The managed YouTube account list of the smm-spring admin API (adapters/sqlalchemy/repositories/youtube.py).
youtube_accounts = sa.Table(
    "youtube_accounts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("email_ci", sa.String(254), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("daily_limit", sa.Integer, nullable=False),
    sa.Column("daily_used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("total_processed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
)
