"""grading: chassis tables, orders seen and per-customer money facts

Revision ID: 0001
Revises:
"""

from alembic import op

from services.grading.tables import customer_metrics, orders
from shared.migrations import create_chassis_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    create_chassis_tables(bind)
    orders.create(bind)
    customer_metrics.create(bind)


def downgrade() -> None:
    for table in ("grading_customer_metrics", "grading_orders", "inbox", "outbox"):
        op.drop_table(table)
