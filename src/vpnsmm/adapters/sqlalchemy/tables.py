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
