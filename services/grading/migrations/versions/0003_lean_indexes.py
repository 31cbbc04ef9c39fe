"""grading: fewer indexes on the hot tables, room for in-place updates of the metrics rows

- the tier of a metrics row changes on every regrade; an index on it (three values) served no query a scan
  does not serve as well, and it made every update write all indexes (no HOT update);
- grading_orders(customer_id) is covered by grading_orders_customer_placed (customer_id, placed_at);
- metrics rows are rewritten on every evaluation: fillfactor 80 keeps the new version on the same page.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_grading_customer_metrics_tier", "grading_customer_metrics")
    op.drop_index("ix_grading_orders_customer_id", "grading_orders")
    op.execute("ALTER TABLE grading_customer_metrics SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE grading_customer_metrics RESET (fillfactor)")
    op.create_index("ix_grading_orders_customer_id", "grading_orders", ["customer_id"])
    op.create_index("ix_grading_customer_metrics_tier", "grading_customer_metrics", ["tier"])
