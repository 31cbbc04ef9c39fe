"""customers: chassis tables and the customer card

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
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("number", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_rep_id", sa.String(64), nullable=False, index=True),
        sa.Column("team_id", sa.String(64), nullable=False, index=True),
        sa.Column("strategic_partner", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("high_potential", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("lifecycle", sa.String(16), nullable=False),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customers")
    op.drop_table("inbox")
    op.drop_table("outbox")
