"""customers: full card (JSONB, unverified fields), history, tiers, contacts, visits, commitments, orders, payments, revoked reps, search indexes

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
MONEY = sa.Numeric(16, 2)


def upgrade() -> None:
    op.execute("ALTER TABLE customers ALTER COLUMN card TYPE JSONB USING card::jsonb")
    op.add_column("customers", sa.Column("region", sa.String(200)))
    op.add_column("customers", sa.Column("unverified", JSONB, nullable=False, server_default="[]"))
    op.alter_column("customers", "name", type_=sa.String(200))
    # Substring search on names (Chinese included) and numbers: trigram GIN indexes; keyset order (name, id).
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX customers_name_trgm ON customers USING gin (name gin_trgm_ops)")
    op.execute("CREATE INDEX customers_number_trgm ON customers USING gin (number gin_trgm_ops)")
    op.create_index("customers_name_order", "customers", ["name", "customer_id"])
    op.create_index("customers_owner_order", "customers", ["owner_rep_id", "name", "customer_id"])
    op.create_index("customers_team_order", "customers", ["team_id", "name", "customer_id"])

    op.create_table(
        "customer_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_by_role", sa.String(16), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("changes", JSONB, nullable=False),
    )
    op.create_index("customer_history_by_customer", "customer_history", ["customer_id", "revision"])

    op.create_table(
        "customer_tiers",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("effective_at", TZ, nullable=False),
    )
    op.create_table(
        "customer_contacts",
        sa.Column("contact_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
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
    op.create_table(
        "visits",
        sa.Column("visit_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("rep_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ),
        sa.Column("first_visit", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("record", JSONB, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("recorded_late", sa.Boolean, nullable=False),
    )
    # At most one first visit per customer, whatever the concurrency.
    op.execute("CREATE UNIQUE INDEX visits_one_first ON visits (customer_id) WHERE first_visit")
    op.create_table(
        "commitments",
        sa.Column("commitment_id", sa.String(64), primary_key=True),
        sa.Column("visit_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("content", sa.String(1000), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_at", TZ),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("note", sa.String(1000)),
    )
    op.create_table(
        "customer_orders",
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
    op.create_index("customer_orders_by_customer", "customer_orders", ["customer_id", "placed_at"])
    op.create_table(
        "customer_payments",
        sa.Column("payment_id", sa.String(100), primary_key=True),
        sa.Column("order_id", sa.String(100), nullable=False, index=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("paid_at", TZ, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
    )
    op.create_table(
        "revoked_reps",
        sa.Column("rep_id", sa.String(64), primary_key=True),
        sa.Column("successor_rep_id", sa.String(64), nullable=False),
        sa.Column("revoked_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("revoked_reps", "customer_payments", "customer_orders", "commitments", "visits", "customer_contacts", "customer_tiers", "customer_history"):
        op.drop_table(table)
    for index in ("customers_team_order", "customers_owner_order", "customers_name_order"):
        op.drop_index(index, table_name="customers")
    op.execute("DROP INDEX customers_number_trgm")
    op.execute("DROP INDEX customers_name_trgm")
    op.drop_column("customers", "unverified")
    op.drop_column("customers", "region")
    op.execute("ALTER TABLE customers ALTER COLUMN card TYPE JSON USING card::json")
