"""Tables owned by the grading service (SQLAlchemy Core: the ingest path is set-based SQL)."""

import sqlalchemy as sa

from shared.db import metadata

orders = sa.Table(
    "grading_orders",
    metadata,
    sa.Column("order_id", sa.String(100), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("cost", sa.Numeric(18, 2)),
    sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payment_due", sa.Date),
)

customer_metrics = sa.Table(
    "grading_customer_metrics",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("order_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("purchases_total", sa.Numeric(18, 2), nullable=False, server_default="0"),
    sa.Column("last_order_at", sa.DateTime(timezone=True)),
    sa.Column("strategic_partner", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("high_potential", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("customer_revision", sa.Integer, nullable=False, server_default="0"),
)
