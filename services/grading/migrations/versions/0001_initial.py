"""grading: chassis tables, orders seen and per-customer money facts

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_chassis_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_chassis_tables(op.get_bind())
    # Spelled out (frozen): later revisions change these tables, tables.py shows the head.
    op.create_table(
        "grading_orders",
        sa.Column("order_id", sa.String(100), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("cost", sa.Numeric(18, 2)),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_due", sa.Date),
    )
    op.create_table(
        "grading_customer_metrics",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("order_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("purchases_total", sa.Numeric(18, 2), nullable=False, server_default="0"),
        sa.Column("last_order_at", sa.DateTime(timezone=True)),
        sa.Column("strategic_partner", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("high_potential", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("customer_revision", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for table in ("grading_customer_metrics", "grading_orders", "inbox", "outbox"):
        op.drop_table(table)
