"""grading: payments, windowed metrics, tiers, overrides, history, rank cut-offs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(18, 2)
TS = sa.DateTime(timezone=True)


def metric_columns() -> list[sa.Column]:  # a fresh list per call (Column objects bind to one table)
    return [
        sa.Column("team_id", sa.String(64), index=True),
        sa.Column("owner_rep_id", sa.String(64)),
        sa.Column("purchases_12m", MONEY, nullable=False, server_default="0"),
        sa.Column("purchases_24m", MONEY, nullable=False, server_default="0"),
        sa.Column("profit_12m", MONEY, nullable=False, server_default="0"),
        sa.Column("profit_24m", MONEY, nullable=False, server_default="0"),
        sa.Column("payments_due_12m", sa.Integer, nullable=False, server_default="0"),
        sa.Column("on_time_ratio", sa.Float),
        sa.Column("avg_days_late", sa.Float, nullable=False, server_default="0"),
        sa.Column("credit_score", sa.Float, nullable=False, server_default="0"),
        sa.Column("score", sa.Float, nullable=False, server_default="0"),
        sa.Column("subjective_tier", sa.String(1)),
        sa.Column("subjective_reason", sa.Text),
        sa.Column("subjective_by", sa.String(64)),
        sa.Column("business_unit", sa.String(64)),
        sa.Column("policy", sa.String(64)),
        sa.Column("computed_tier", sa.String(1)),
        sa.Column("tier", sa.String(1), index=True),
        sa.Column("previous_tier", sa.String(1)),
        sa.Column("tier_reason", sa.Text),
        sa.Column("overridden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("tier_effective_at", TS),
        sa.Column("evaluated_at", TS),
    ]


def upgrade() -> None:
    op.add_column("grading_orders", sa.Column("paid_amount", MONEY, nullable=False, server_default="0"))
    op.add_column("grading_orders", sa.Column("settled_at", TS))
    op.create_index("grading_orders_customer_placed", "grading_orders", ["customer_id", "placed_at"])
    op.create_table(
        "grading_payments",
        sa.Column("payment_id", sa.String(100), primary_key=True),
        sa.Column("order_id", sa.String(100), nullable=False, index=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid_at", TS, nullable=False),
    )
    for column in metric_columns():
        op.add_column("grading_customer_metrics", column)
    op.create_table(
        "grading_overrides",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("expires_at", TS, nullable=False, index=True),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", TS, nullable=False),
    )
    op.create_table(
        "grading_override_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),  # set | expired | removed
        sa.Column("tier", sa.String(1)),
        sa.Column("reason", sa.Text),
        sa.Column("expires_at", TS),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "grading_tier_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("old_tier", sa.String(1)),
        sa.Column("new_tier", sa.String(1), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("overridden", sa.Boolean, nullable=False),
        sa.Column("metrics", pg.JSONB, nullable=False),
        sa.Column("effective_at", TS, nullable=False),
        sa.Index("grading_tier_history_customer", "customer_id", "effective_at"),
        sa.Index("grading_tier_history_effective", "effective_at"),
    )
    op.create_table(
        "grading_rank_cutoffs",
        sa.Column("policy", sa.String(64), primary_key=True),
        sa.Column("business_unit", sa.String(64), primary_key=True),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("a_min", sa.Float),
        sa.Column("b_min", sa.Float),
        sa.Column("ranked_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("grading_rank_cutoffs", "grading_tier_history", "grading_override_log", "grading_overrides", "grading_payments"):
        op.drop_table(table)
    for column in metric_columns():
        op.drop_column("grading_customer_metrics", column.name)
    op.drop_index("grading_orders_customer_placed", "grading_orders")
    op.drop_column("grading_orders", "settled_at")
    op.drop_column("grading_orders", "paid_amount")
