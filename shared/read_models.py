"""Read models other services keep of the customer, fed by events (architecture.md: services own their data)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import metadata
from shared.events import CloudEvent, CustomerUpdated, TierChanged

# A service's local view of a customer: owner and team from CustomerUpdated, tier from TierChanged.
known_customers = sa.Table(
    "known_customers",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("owner_rep_id", sa.String(64), index=True),
    sa.Column("team_id", sa.String(64), index=True),
    sa.Column("lifecycle", sa.String(16)),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tier", sa.String(1)),
    sa.Column("tier_effective_at", sa.DateTime(timezone=True)),
)


async def customer_updated(session: AsyncSession, _: CloudEvent, customer: CustomerUpdated) -> None:
    values = {
        "customer_id": customer.customer_id,
        "name": customer.name,
        "owner_rep_id": customer.owner_rep_id,
        "team_id": customer.team_id,
        "lifecycle": customer.lifecycle,
        "revision": customer.revision,
    }
    stmt = pg.insert(known_customers).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[known_customers.c.customer_id],
            set_={k: stmt.excluded[k] for k in values if k != "customer_id"},
            # snapshots carry a revision: an older one never overwrites a newer one
            where=known_customers.c.revision < stmt.excluded.revision,
        )
    )


async def tier_changed(session: AsyncSession, _: CloudEvent, change: TierChanged) -> None:
    stmt = pg.insert(known_customers).values(
        customer_id=change.customer_id, tier=change.new_tier, tier_effective_at=change.effective_at
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[known_customers.c.customer_id],
            set_={"tier": stmt.excluded.tier, "tier_effective_at": stmt.excluded.tier_effective_at},
            where=sa.or_(
                known_customers.c.tier_effective_at.is_(None),
                known_customers.c.tier_effective_at <= stmt.excluded.tier_effective_at,
            ),
        )
    )
