"""Read models other services keep of the customer, fed by events (architecture.md: services own their data)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import batched
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


_CUSTOMER_FIELDS = ("name", "owner_rep_id", "team_id", "lifecycle", "revision")
_customer_insert = pg.insert(known_customers)
# executemany of one cached statement (compiling a 1,000-row VALUES list per batch was the bottleneck)
_UPSERT_CUSTOMER = _customer_insert.on_conflict_do_update(
    index_elements=[known_customers.c.customer_id],
    set_={k: _customer_insert.excluded[k] for k in _CUSTOMER_FIELDS},
    where=known_customers.c.revision < _customer_insert.excluded.revision,
)
_tier_insert = pg.insert(known_customers)
_UPSERT_TIER = _tier_insert.on_conflict_do_update(
    index_elements=[known_customers.c.customer_id],
    set_={"tier": _tier_insert.excluded.tier, "tier_effective_at": _tier_insert.excluded.tier_effective_at},
    where=sa.or_(
        known_customers.c.tier_effective_at.is_(None),
        known_customers.c.tier_effective_at <= _tier_insert.excluded.tier_effective_at,
    ),
)


@batched
async def customer_updated(session: AsyncSession, batch: list[tuple[CloudEvent, CustomerUpdated]]) -> None:
    """One multi-row upsert per batch; snapshots carry a revision: an older one never overwrites a newer one."""
    latest: dict[str, CustomerUpdated] = {}
    for _, c in batch:
        if c.customer_id not in latest or latest[c.customer_id].revision < c.revision:
            latest[c.customer_id] = c
    rows = [
        {
            "customer_id": c.customer_id,
            "name": c.name,
            "owner_rep_id": c.owner_rep_id,
            "team_id": c.team_id,
            "lifecycle": c.lifecycle,
            "revision": c.revision,
        }
        for c in latest.values()
    ]
    await session.execute(_UPSERT_CUSTOMER, rows)


@batched
async def tier_changed(session: AsyncSession, batch: list[tuple[CloudEvent, TierChanged]]) -> None:
    latest: dict[str, TierChanged] = {}
    for _, t in batch:
        if t.customer_id not in latest or latest[t.customer_id].effective_at <= t.effective_at:
            latest[t.customer_id] = t
    await session.execute(
        _UPSERT_TIER,
        [{"customer_id": t.customer_id, "tier": t.new_tier, "tier_effective_at": t.effective_at} for t in latest.values()],
    )
