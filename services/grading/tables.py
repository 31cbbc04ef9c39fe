"""Tables owned by the grading service (SQLAlchemy Core; the head of migrations/versions)."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import metadata

MONEY = sa.Numeric(18, 2)
TS = sa.DateTime(timezone=True)

# Every order seen once (order_id is unique even if an ERP resends it under a new event id).
orders = sa.Table(
    "grading_orders",
    metadata,
    sa.Column("order_id", sa.String(100), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("cost", MONEY),
    sa.Column("placed_at", TS, nullable=False),
    sa.Column("payment_due", sa.Date),
    sa.Column("paid_amount", MONEY, nullable=False, server_default="0"),
    sa.Column("settled_at", TS),  # when payments first covered the amount
    sa.Column("amount_cents", sa.BigInteger, sa.Computed("(amount * 100)::bigint", persisted=True)),
    sa.Column("cost_cents", sa.BigInteger, sa.Computed("(cost * 100)::bigint", persisted=True)),
    sa.Index("grading_orders_customer_placed", "customer_id", "placed_at"),
)

payments = sa.Table(
    "grading_payments",
    metadata,
    sa.Column("payment_id", sa.String(100), primary_key=True),
    sa.Column("order_id", sa.String(100), nullable=False, index=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("paid_at", TS, nullable=False),
)

# One row per customer: all-time counters, windowed metrics, flags, and the current tier with its reason.
customer_metrics = sa.Table(
    "grading_customer_metrics",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("order_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("purchases_total", MONEY, nullable=False, server_default="0"),
    sa.Column("last_order_at", TS),
    sa.Column("strategic_partner", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("high_potential", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("customer_revision", sa.Integer, nullable=False, server_default="0"),
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
    sa.Column("tier", sa.String(1)),
    sa.Column("previous_tier", sa.String(1)),
    sa.Column("tier_reason", sa.Text),
    sa.Column("overridden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("tier_effective_at", TS),
    sa.Column("evaluated_at", TS),
    postgresql_with={"fillfactor": 80},
)

overrides = sa.Table(
    "grading_overrides",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("tier", sa.String(1), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("expires_at", TS, nullable=False, index=True),
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.Column("set_at", TS, nullable=False),
)

override_log = sa.Table(
    "grading_override_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("tier", sa.String(1)),
    sa.Column("reason", sa.Text),
    sa.Column("expires_at", TS),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", TS, nullable=False),
)

tier_history = sa.Table(
    "grading_tier_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("old_tier", sa.String(1)),
    sa.Column("new_tier", sa.String(1), nullable=False),
    sa.Column("policy", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("overridden", sa.Boolean, nullable=False),
    sa.Column("metrics", pg.JSONB, nullable=False),
    sa.Column("effective_at", TS, nullable=False),
)

rank_cutoffs = sa.Table(
    "grading_rank_cutoffs",
    metadata,
    sa.Column("policy", sa.String(64), primary_key=True),
    sa.Column("business_unit", sa.String(64), primary_key=True),
    sa.Column("population", sa.Integer, nullable=False),
    sa.Column("a_min", sa.Float),
    sa.Column("b_min", sa.Float),
    sa.Column("ranked_at", TS, nullable=False),
)
