"""ledger (accounts, transfers, entries), invoices, payments, audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("owner_id", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("flags", sa.String(40), nullable=False),
        sa.Column("debits_posted", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("credits_posted", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("debits_pending", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("credits_pending", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
        sa.UniqueConstraint("owner_id", "currency", "purpose", name="uq_ledger_accounts_owner"),
        sa.CheckConstraint("debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 "
                           "AND credits_pending >= 0", name="ck_ledger_accounts_counters_non_negative"),
        sa.CheckConstraint("flags <> 'debits_must_not_exceed_credits' OR debits_posted + debits_pending "
                           "<= credits_posted", name="ck_ledger_accounts_debits_bound"),
        sa.CheckConstraint("flags <> 'credits_must_not_exceed_debits' OR credits_posted + credits_pending "
                           "<= debits_posted", name="ck_ledger_accounts_credits_bound"),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("debit_account_id", BigId, nullable=False),
        sa.Column("credit_account_id", BigId, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("pending_id", sa.String(128), nullable=True),
        sa.Column("pending_status", sa.String(16), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("memo", sa.String(500), nullable=False, server_default=""),
        sa.Column("rate_source", sa.String(8), nullable=True),
        sa.Column("rate_target", sa.String(8), nullable=True),
        sa.Column("rate_numerator", sa.BigInteger, nullable=True),
        sa.Column("rate_denominator", sa.BigInteger, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_transfers"),
        sa.ForeignKeyConstraint(["debit_account_id"], ["ledger_accounts.id"],
                                name="fk_ledger_transfers_debit_account_id_ledger_accounts"),
        sa.ForeignKeyConstraint(["credit_account_id"], ["ledger_accounts.id"],
                                name="fk_ledger_transfers_credit_account_id_ledger_accounts"),
        sa.CheckConstraint("amount > 0", name="ck_ledger_transfers_amount_positive"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="ck_ledger_transfers_two_accounts"),
    )
    op.create_index("ix_ledger_transfers_pending_id", "ledger_transfers", ["pending_id"])
    op.create_index("ix_ledger_transfers_reference", "ledger_transfers", ["reference"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("transfer_id", sa.String(128), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.Column("pending_delta", sa.BigInteger, nullable=False),
        sa.Column("balance_before", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("available_before", sa.BigInteger, nullable=False),
        sa.Column("available_after", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.ForeignKeyConstraint(["transfer_id"], ["ledger_transfers.id"],
                                name="fk_ledger_entries_transfer_id_ledger_transfers"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"],
                                name="fk_ledger_entries_account_id_ledger_accounts"),
    )
    op.create_index("ix_ledger_entries_transfer_id", "ledger_entries", ["transfer_id"])
    op.create_index("ix_ledger_entries_account_id_id", "ledger_entries", ["account_id", "id"])
    op.create_table(
        "invoices",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_invoices_user_id_users"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_invoices_user_id_idempotency_key"),
        sa.CheckConstraint("amount > 0", name="ck_invoices_amount_positive"),
    )
    op.create_index("ix_invoices_user_id_id", "invoices", ["user_id", "id"])
    op.create_index("ix_invoices_status_expires_at", "invoices", ["status", "expires_at"])
    op.create_table(
        "payments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("invoice_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_payments_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_payments_user_id_users"),
        sa.UniqueConstraint("gateway", "external_id", name="uq_payments_gateway_external_id"),
    )
    op.create_index("ix_payments_invoice_id", "payments", ["invoice_id"])
    op.create_index("ix_payments_user_id", "payments", ["user_id"])
    op.create_index("ix_payments_status_gateway", "payments", ["status", "gateway"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target"])


def downgrade() -> None:
    for table in ("audit_log", "payments", "invoices", "ledger_entries", "ledger_transfers", "ledger_accounts"):
        op.drop_table(table)
