"""Tables owned by the customers service (SQLAlchemy Core; migrations spell them out separately)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()  # own metadata: other services may name tables alike in one test process

MONEY = sa.Numeric(16, 2)
TZ = sa.DateTime(timezone=True)

# The card: searchable columns plus the whole card document (`card`), at its current revision.
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("number", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("owner_rep_id", sa.String(64), nullable=False),
    sa.Column("team_id", sa.String(64), nullable=False),
    sa.Column("strategic_partner", sa.Boolean, nullable=False),
    sa.Column("high_potential", sa.Boolean, nullable=False),
    sa.Column("lifecycle", sa.String(16), nullable=False),
    sa.Column("region", sa.String(200)),
    sa.Column("card", JSONB, nullable=False),
    sa.Column("unverified", JSONB, nullable=False, server_default="[]"),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("updated_at", TZ, nullable=False),
)

# Every revision's change: who, when, what (old and new value per field path).
customer_history = sa.Table(
    "customer_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("changed_by", sa.String(64), nullable=False),
    sa.Column("changed_by_role", sa.String(16), nullable=False),
    sa.Column("changed_at", TZ, nullable=False),
    sa.Column("changes", JSONB, nullable=False),
)

# Tier read model, fed by crm.grading.v1 TierChanged.
customer_tiers = sa.Table(
    "customer_tiers",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("tier", sa.String(1), nullable=False),
    sa.Column("effective_at", TZ, nullable=False),
)

contacts = sa.Table(
    "customer_contacts",
    metadata,
    sa.Column("contact_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("title", sa.String(100)),
    sa.Column("phone", sa.String(40)),
    sa.Column("email", sa.String(254)),
    sa.Column("birthday", sa.Date),
    sa.Column("interests", sa.String(500)),
    sa.Column("decision_role", sa.String(32), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("replaces_contact_id", sa.String(64)),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("ended_at", TZ),
    sa.Column("ended_reason", sa.String(500)),
)

visits = sa.Table(
    "visits",
    metadata,
    sa.Column("visit_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("rep_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("started_at", TZ, nullable=False),
    sa.Column("ended_at", TZ),
    sa.Column("first_visit", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("record", JSONB, nullable=False),  # the whole follow-up record (template 1)
    sa.Column("recorded_at", TZ, nullable=False),
    sa.Column("recorded_late", sa.Boolean, nullable=False),
)

commitments = sa.Table(
    "commitments",
    metadata,
    sa.Column("commitment_id", sa.String(64), primary_key=True),
    sa.Column("visit_id", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("party", sa.String(16), nullable=False),
    sa.Column("content", sa.String(1000), nullable=False),
    sa.Column("due_at", TZ, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("resolved_at", TZ),
    sa.Column("resolved_by", sa.String(64)),
    sa.Column("note", sa.String(1000)),
)

orders = sa.Table(
    "customer_orders",
    metadata,
    sa.Column("order_id", sa.String(100), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("cost", MONEY),
    sa.Column("placed_at", TZ, nullable=False),
    sa.Column("payment_due", sa.Date),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("received_at", TZ, nullable=False),
)

payments = sa.Table(
    "customer_payments",
    metadata,
    sa.Column("payment_id", sa.String(100), primary_key=True),
    sa.Column("order_id", sa.String(100), nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column("paid_at", TZ, nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("received_at", TZ, nullable=False),
)

# Reps who left: checked on every request; their tokens no longer open anything here.
revoked_reps = sa.Table(
    "revoked_reps",
    metadata,
    sa.Column("rep_id", sa.String(64), primary_key=True),
    sa.Column("successor_rep_id", sa.String(64), nullable=False),
    sa.Column("revoked_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", TZ, nullable=False),
)
