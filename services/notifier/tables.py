"""Tables owned by the notifier service. Timers are rows (architecture.md §5): a scheduler fires them."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import metadata

# The notifier's view of each open complaint, for SLA timers.
complaint_timers = sa.Table(
    "notifier_complaints",
    metadata,
    sa.Column("complaint_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("tier", sa.String(1)),
    sa.Column("handler_id", sa.String(64)),
    sa.Column("received_at", sa.DateTime(timezone=True)),
    sa.Column("due_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Per customer: the last contact (cadence anchor) and a `not now` pause. Its row lock serialises
# everything that fires for one customer, across scheduler replicas (contact cap, event order).
contact_state = sa.Table(
    "notifier_contact_state",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("last_contact_at", sa.DateTime(timezone=True)),
    sa.Column("paused_until", sa.DateTime(timezone=True)),
)

# One row per follow-up. state: scheduled -> fired -> done; or merged / cancelled.
followups = sa.Table(
    "followups",
    metadata,
    sa.Column("followup_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("rep_id", sa.String(64), nullable=False),
    sa.Column("team_id", sa.String(64)),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(200), unique=True),
    sa.Column("content", sa.Text, nullable=False, server_default=""),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default="scheduled"),
    sa.Column("proactive", sa.Boolean, nullable=False),
    sa.Column("deferrals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("merged_into", sa.String(64)),
    sa.Column("fired_at", sa.DateTime(timezone=True)),
    sa.Column("done_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# SLA alert timers of complaints. stage: warning | breach | escalation (seq 1, 2, ...).
sla_alerts = sa.Table(
    "sla_alerts",
    metadata,
    sa.Column("alert_id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("complaint_id", sa.String(64), nullable=False, index=True),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default="scheduled"),
    sa.Column("recipients", pg.ARRAY(sa.String(64))),
    sa.Column("fired_at", sa.DateTime(timezone=True)),
)

# Channels per recipient (rep, handler, manager), set through PUT /recipients/{id}.
recipients = sa.Table(
    "notification_recipients",
    metadata,
    sa.Column("recipient_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("webhook_url", sa.String(2000)),
    sa.Column("webhook_secret", sa.String(200)),
    sa.Column("manager_id", sa.String(64)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Outgoing e-mails and webhook calls; a worker sends them, retrying with backoff. status: pending | sent | failed.
deliveries = sa.Table(
    "deliveries",
    metadata,
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
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# The delivery log: every attempt with its result.
delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("attempt_id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("delivery_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("detail", sa.Text),
)

# Events about customers the notifier does not know yet; replayed when their CustomerUpdated arrives.
parked_events = sa.Table(
    "parked_events",
    metadata,
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("envelope", pg.JSONB, nullable=False),
    sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
