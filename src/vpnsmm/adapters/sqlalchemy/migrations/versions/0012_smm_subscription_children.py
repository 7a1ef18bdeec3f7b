"""smm: child orders of prepaid Subscriptions orders (parent_order_id, one child per provider id)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vpnsmm.adapters.sqlalchemy.types import BigId

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("smm_orders", sa.Column("parent_order_id", BigId, nullable=True))
    op.create_index("uq_smm_orders_parent_provider_order", "smm_orders", ["parent_order_id", "provider_order_id"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_smm_orders_parent_provider_order", table_name="smm_orders")
    with op.batch_alter_table("smm_orders") as batch:
        batch.drop_column("parent_order_id")
