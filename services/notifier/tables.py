"""Tables owned by the notifier service."""

import sqlalchemy as sa

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
