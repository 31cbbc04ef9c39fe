"""notifier: follow-ups, SLA alerts, recipients, deliveries and their log, parked events

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifier_contact_state",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("last_contact_at", TS),
        sa.Column("paused_until", TS),
    )
    op.create_table(
        "followups",
        sa.Column("followup_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("rep_id", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(64)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), unique=True),
        sa.Column("content", sa.Text, nullable=False, server_default=""),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("fire_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="scheduled"),
        sa.Column("proactive", sa.Boolean, nullable=False),
        sa.Column("deferrals", sa.Integer, nullable=False, server_default="0"),
        sa.Column("merged_into", sa.String(64)),
        sa.Column("fired_at", TS),
        sa.Column("done_at", TS),
        sa.Column("outcome", sa.String(16)),
        sa.Column("note", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    # The scheduler reads only what is due: cost follows the number due, not the total.
    op.create_index("followups_due", "followups", ["fire_at"], postgresql_where=sa.text("state = 'scheduled'"))
    op.create_index("followups_customer", "followups", ["customer_id", "state"])
    op.create_index("followups_rep_due", "followups", ["rep_id", "due_at"])
    op.create_index("followups_team_due", "followups", ["team_id", "due_at"])
    # At most one open cadence follow-up per customer.
    op.create_index(
        "followups_one_open_cadence",
        "followups",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'cadence' AND state = 'scheduled'"),
    )
    op.create_table(
        "sla_alerts",
        sa.Column("alert_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("complaint_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fire_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="scheduled"),
        sa.Column("recipients", pg.ARRAY(sa.String(64))),
        sa.Column("fired_at", TS),
    )
    op.create_index("sla_alerts_complaint", "sla_alerts", ["complaint_id"])
    op.create_index("sla_alerts_due", "sla_alerts", ["fire_at"], postgresql_where=sa.text("state = 'scheduled'"))
    op.create_table(
        "notification_recipients",
        sa.Column("recipient_id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("webhook_url", sa.String(2000)),
        sa.Column("webhook_secret", sa.String(200)),
        sa.Column("manager_id", sa.String(64)),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "deliveries",
        sa.Column("delivery_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("recipient_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", TS),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("deliveries_due", "deliveries", ["next_attempt_at"], postgresql_where=sa.text("status = 'pending'"))
    op.create_index("deliveries_event", "deliveries", ["event_id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("attempt_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "parked_events",
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("envelope", pg.JSONB, nullable=False),
        sa.Column("parked_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("parked_events_customer", "parked_events", ["customer_id"])


def downgrade() -> None:
    for table in (
        "parked_events",
        "delivery_attempts",
        "deliveries",
        "notification_recipients",
        "sla_alerts",
        "followups",
        "notifier_contact_state",
    ):
        op.drop_table(table)
