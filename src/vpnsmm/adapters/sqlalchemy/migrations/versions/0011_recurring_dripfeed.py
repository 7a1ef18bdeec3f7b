"""smm_subscriptions: recurring orders whose every run is a drip-feed (dripfeed_runs, dripfeed_interval)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: existing subscriptions stay plain (one order per run), a live table upgrades at once.
    with op.batch_alter_table("smm_subscriptions") as batch:
        batch.add_column(sa.Column("dripfeed_runs", sa.Integer, nullable=True))
        batch.add_column(sa.Column("dripfeed_interval", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("smm_subscriptions") as batch:
        batch.drop_column("dripfeed_interval")
        batch.drop_column("dripfeed_runs")
