"""Consumers: the customer/tier read model (shared) plus, by policy, moving open deadlines on a tier change."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from services.complaints import service
from services.complaints.service import Complaints
from shared import read_models
from shared.consumer import Handler, batched
from shared.events import CloudEvent, TierChanged


def tier_changed(ctx: Complaints) -> Handler:
    @batched
    async def on_tier_changed(session: AsyncSession, batch: list[tuple[CloudEvent, TierChanged]]) -> None:
        await read_models.tier_changed(session, batch)
        if ctx.policy.on_tier_change == "follow_current_tier":
            now = datetime.now(timezone.utc)
            for customer_id in dict.fromkeys(change.customer_id for _, change in batch):
                await service.follow_tier(session, ctx=ctx, customer_id=customer_id, now=now)

    return on_tier_changed
