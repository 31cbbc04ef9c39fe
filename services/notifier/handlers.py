"""Event handlers of the notifier: thin; the rules are in domain.py, the use cases in followups.py / alerts.py.

Events about a customer the notifier has not seen a CustomerUpdated for are parked and
replayed when it arrives (they are listed by GET /parked-events meanwhile).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier import alerts, followups
from services.notifier.domain import Rules
from services.notifier.tables import parked_events
from shared import read_models, topics
from shared.consumer import Handler, batched
from shared.events import (
    CloudEvent,
    ComplaintFiled,
    ComplaintResolved,
    ComplaintStatusChanged,
    CustomerUpdated,
    TierChanged,
    VisitLogged,
)
from shared.read_models import known_customers


class NotifierHandlers:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def table(self) -> dict[str, dict[str, Handler]]:
        return {
            topics.CUSTOMERS: {"CustomerUpdated": self.customer_updated, "VisitLogged": self.visit_logged},
            topics.GRADING: {"TierChanged": self.tier_changed},
            topics.COMPLAINTS: {
                "ComplaintFiled": self.complaint_filed,
                "ComplaintStatusChanged": self.complaint_status_changed,
                "ComplaintResolved": self.complaint_resolved,
            },
        }

    @batched
    async def customer_updated(self, session: AsyncSession, batch: list[tuple[CloudEvent, CustomerUpdated]]) -> None:
        """Set-based per batch (the customer stream is the busiest); per customer only for rare cases."""
        latest: dict[str, tuple[CloudEvent, CustomerUpdated]] = {}
        for envelope, c in batch:
            if c.customer_id not in latest or latest[c.customer_id][1].revision < c.revision:
                latest[c.customer_id] = (envelope, c)
        ids = sorted(latest)
        states = {s.customer_id: s for s in await followups.lock_customers(session, ids)}
        before = {
            r.customer_id: r
            for r in (await session.execute(sa.select(known_customers).where(known_customers.c.customer_id.in_(ids)))).all()
        }
        await read_models.customer_updated(session, list(latest.values()))
        fresh = [cid for cid in ids if cid not in before or before[cid].revision < latest[cid][1].revision]
        first_seen = [cid for cid in fresh if cid not in before or before[cid].owner_rep_id is None]
        await followups.schedule(
            session,
            rules=self.rules,
            items=[
                (cid, latest[cid][1].team_id, self.rules.cadence_followup(
                    cid, rep_id=latest[cid][1].owner_rep_id, tier=before[cid].tier if cid in before else None,
                    anchor=states[cid].last_contact_at or latest[cid][0].time,
                ))
                for cid in first_seen
                if latest[cid][1].lifecycle != "lost" and states[cid].paused_until is None
            ],
        )
        for cid in fresh:
            if cid in first_seen:
                continue
            old, (envelope, c) = before[cid], latest[cid]
            if old.owner_rep_id != c.owner_rep_id:
                await followups.hand_over(session, customer_id=cid, from_rep=old.owner_rep_id, to_rep=c.owner_rep_id, team_id=c.team_id)
            if old.lifecycle != c.lifecycle:  # (other card changes leave the cadence alone)
                customer = await followups.known_customer(session, cid)
                anchor = states[cid].last_contact_at or envelope.time
                await followups.keep_cadence(session, rules=self.rules, customer=customer, anchor=anchor, paused_until=states[cid].paused_until)
        if first_seen:
            await self.replay_parked(session, first_seen)

    async def tier_changed(self, session: AsyncSession, envelope: CloudEvent, t: TierChanged) -> None:
        state = await followups.lock_customer(session, t.customer_id)
        await read_models.tier_changed(session, [(envelope, t)])
        customer = await followups.known_customer(session, t.customer_id)
        if customer is not None:  # otherwise the cadence starts with its CustomerUpdated
            anchor = state.last_contact_at or t.effective_at
            await followups.keep_cadence(session, rules=self.rules, customer=customer, anchor=anchor, paused_until=state.paused_until)

    async def visit_logged(self, session: AsyncSession, envelope: CloudEvent, v: VisitLogged) -> None:
        await followups.lock_customer(session, v.customer_id)
        customer = await followups.known_customer(session, v.customer_id)
        if customer is None:
            await session.execute(
                pg.insert(parked_events)
                .values(event_id=envelope.id, customer_id=v.customer_id, event_type=envelope.type, envelope=envelope.model_dump(mode="json"))
                .on_conflict_do_nothing()
            )
            return
        await followups.apply_contact(session, rules=self.rules, customer=customer, plan=self.rules.after_visit(v))

    async def replay_parked(self, session: AsyncSession, customer_ids: list[str]) -> None:
        parked = (
            await session.execute(
                sa.delete(parked_events).where(parked_events.c.customer_id.in_(customer_ids)).returning(parked_events.c.envelope)
            )
        ).scalars()
        for doc in sorted(parked, key=lambda d: d["time"]):
            envelope = CloudEvent.model_validate(doc)
            await self.visit_logged(session, envelope, envelope.payload())  # type: ignore[arg-type]

    async def complaint_filed(self, session: AsyncSession, _: CloudEvent, c: ComplaintFiled) -> None:
        await alerts.complaint_filed(
            session, rules=self.rules, complaint_id=c.complaint_id, customer_id=c.customer_id, tier=c.tier,
            handler_id=c.handler_id, received_at=c.received_at, due_at=c.due_at,
        )

    async def complaint_status_changed(self, session: AsyncSession, _: CloudEvent, c: ComplaintStatusChanged) -> None:
        await alerts.status_changed(session, rules=self.rules, complaint_id=c.complaint_id, customer_id=c.customer_id, status=c.to, at=c.at)

    async def complaint_resolved(self, session: AsyncSession, _: CloudEvent, c: ComplaintResolved) -> None:
        await alerts.status_changed(
            session, rules=self.rules, complaint_id=c.complaint_id, customer_id=c.customer_id, status="resolved", at=c.resolved_at
        )
