"""complaints: the complaint record with its SLA columns, and the audit history

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

OPEN = "status NOT IN ('resolved', 'closed')"


def upgrade() -> None:
    ts = lambda name, **kw: sa.Column(name, sa.DateTime(timezone=True), **kw)  # noqa: E731
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(64)),
        sa.Column("handler_id", sa.String(64), nullable=False),
        sa.Column("filed_by", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("sla_tier", sa.String(1), nullable=False),
        sa.Column("clock", sa.String(16), nullable=False),
        ts("received_at", nullable=False),
        sa.Column("complainant_name", sa.String(100), nullable=False),
        sa.Column("complainant_role", sa.String(100)),
        sa.Column("contact", sa.String(200)),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(64)),
        sa.Column("requested_remedy", sa.Text),
        sa.Column("cause_category", sa.String(32)),
        sa.Column("cause_analysis", sa.Text),
        sa.Column("plan_actions", pg.JSONB, nullable=False, server_default="[]"),
        sa.Column("compensation", sa.Numeric(14, 2), nullable=False, server_default="0"),
        sa.Column("compensation_kind", sa.String(100)),
        sa.Column("feedback_accepted", sa.Boolean),
        sa.Column("satisfaction", sa.SmallInteger),
        sa.Column("feedback_comment", sa.Text),
        sa.Column("improvement_measures", sa.Text),
        sa.Column("escalated_to", sa.String(64)),
        sa.Column("escalated_by", sa.String(64)),
        sa.Column("escalation_accepted_by", sa.String(64)),
        ts("escalation_accepted_at"),
        ts("first_response_due_at", nullable=False),
        ts("first_responded_at"),
        ts("at_risk_at", nullable=False),
        ts("due_at", nullable=False),
        ts("filed_due_at", nullable=False),
        ts("paused_since"),
        sa.Column("paused_for", sa.Interval, nullable=False, server_default=sa.text("interval '0'")),
        sa.Column("calendar_flags", pg.JSONB, nullable=False, server_default="[]"),
        ts("resolved_at"),
        sa.Column("within_sla", sa.Boolean),
        ts("closed_at"),
        ts("created_at", nullable=False, server_default=sa.func.now()),
        ts("updated_at", nullable=False, server_default=sa.func.now()),
    )
    # The queue: open complaints by tier then deadline; scoped by team or handler.
    op.create_index("complaints_open_queue", "complaints", ["sla_tier", "due_at"], postgresql_where=sa.text(OPEN))
    op.create_index("complaints_open_team", "complaints", ["team_id", "sla_tier", "due_at"], postgresql_where=sa.text(OPEN))
    op.create_index("complaints_open_handler", "complaints", ["handler_id", "sla_tier", "due_at"], postgresql_where=sa.text(OPEN))
    op.create_index("complaints_customer", "complaints", ["customer_id"])
    op.create_index("complaints_resolved_tier", "complaints", ["tier"], postgresql_where=sa.text("resolved_at IS NOT NULL"))
    op.create_table(
        "complaint_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("complaint_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32)),
        sa.Column("actor_id", sa.String(64), nullable=False),
        ts("at", nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("details", pg.JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("complaint_history_complaint", "complaint_history", ["complaint_id", "id"])


def downgrade() -> None:
    op.drop_table("complaint_history")
    op.drop_table("complaints")
