"""Tables of the complaints service (migrations/versions/0002 creates them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import metadata

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("team_id", sa.String(64)),
    sa.Column("handler_id", sa.String(64), nullable=False),  # responsible now (changes when an escalation is accepted)
    sa.Column("filed_by", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("tier", sa.String(1), nullable=False),  # at filing
    sa.Column("sla_tier", sa.String(1), nullable=False),  # the deadlines' tier (policy on_tier_change)
    sa.Column("clock", sa.String(16), nullable=False),
    # the record (template 3)
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
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
    # escalation
    sa.Column("escalated_to", sa.String(64)),
    sa.Column("escalated_by", sa.String(64)),
    sa.Column("escalation_accepted_by", sa.String(64)),
    sa.Column("escalation_accepted_at", sa.DateTime(timezone=True)),
    # SLA
    sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_responded_at", sa.DateTime(timezone=True)),
    sa.Column("at_risk_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("filed_due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("paused_since", sa.DateTime(timezone=True)),
    sa.Column("paused_for", sa.Interval, nullable=False, server_default=sa.text("interval '0'")),
    sa.Column("calendar_flags", pg.JSONB, nullable=False, server_default="[]"),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("within_sla", sa.Boolean),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Every change of a complaint, who made it and when (audit).
complaint_history = sa.Table(
    "complaint_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("complaint_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # filed | transition | escalation_accepted
    sa.Column("from_status", sa.String(32)),
    sa.Column("to_status", sa.String(32)),
    sa.Column("actor_id", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("details", pg.JSONB, nullable=False, server_default="{}"),
)
