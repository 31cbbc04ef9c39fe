"""Consumers: the customer/tier read model (shared) plus, by policy, moving open deadlines on a tier change."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from services.complaints import service
from services.complaints.service import Complaints
from shared import read_models
from shared.consumer import Handler
from shared.events import CloudEvent, TierChanged


def tier_changed(ctx: Complaints) -> Handler:
    async def on_tier_changed(session: AsyncSession, envelope: CloudEvent, change: TierChanged) -> None:
        await read_models.tier_changed(session, envelope, change)
        if ctx.policy.on_tier_change == "follow_current_tier":
            await service.follow_tier(session, ctx=ctx, customer_id=change.customer_id, now=datetime.now(timezone.utc))

    return on_tier_changed
