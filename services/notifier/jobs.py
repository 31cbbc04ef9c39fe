"""Background jobs: the scheduler fires due follow-ups and SLA alerts; the delivery worker sends them.

Exactly once across restarts and replicas: a due item is claimed under a row lock
(FOR UPDATE SKIP LOCKED, so replicas share the work without waiting on each other), and
its fired mark, the outbox row of its event and its delivery rows commit in ONE transaction.
A crash before commit leaves the item scheduled for the next run; after commit it is fired.
What fell due while the service was down is simply due when it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier import deliveries, followups as followup_cases
from services.notifier.alerts import CLOSED
from services.notifier.clock import Clock
from services.notifier.domain import Rules
from services.notifier.tables import complaint_timers, contact_state, followups, sla_alerts
from shared import events, topics
from shared.outbox import add as outbox_add
from shared.outbox import add_many as outbox_add_many
from shared.read_models import known_customers

log = structlog.get_logger(__name__)
SOURCE = "crm/notifier"


async def fire_due_followups(session: AsyncSession, *, rules: Rules, now: datetime, limit: int = 500) -> int:
    """Fire what is due for a batch of customers; returns how many follow-ups changed state."""
    candidates = (
        await session.execute(
            sa.select(followups.c.customer_id)
            .where(followups.c.state == "scheduled", followups.c.fire_at <= now)
            .order_by(followups.c.fire_at)
            .limit(limit)
        )
    ).scalars()
    wanted = sorted(set(candidates))
    if not wanted:
        return 0
    await session.execute(followup_cases.ENSURE_STATE, [{"customer_id": c} for c in wanted])
    # Customers another replica is firing right now are skipped, not waited for.
    locked = list(
        (
            await session.execute(
                sa.select(contact_state.c.customer_id)
                .where(contact_state.c.customer_id.in_(wanted))
                .order_by(contact_state.c.customer_id)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    if not locked:
        return 0
    due = (
        await session.execute(
            sa.select(followups)
            .where(followups.c.customer_id.in_(locked), followups.c.state == "scheduled", followups.c.fire_at <= now)
            .order_by(followups.c.customer_id, followups.c.fire_at)
        )
    ).all()
    recent: dict[str, list[datetime]] = {}
    window = max(rules.policy.contact_cap.day, rules.policy.contact_cap.week)
    for customer_id, fired_at in (
        await session.execute(
            sa.select(followups.c.customer_id, followups.c.fired_at).where(
                followups.c.customer_id.in_(locked),
                followups.c.proactive,
                followups.c.state.in_(("fired", "done")),
                followups.c.fired_at > now - window,
            )
        )
    ).all():
        recent.setdefault(customer_id, []).append(fired_at)
    firing: list[tuple[sa.Row, list[sa.Row]]] = []
    merged: list[dict] = []
    deferred: list[dict] = []
    for customer_id in locked:
        mine = [f for f in due if f.customer_id == customer_id]
        firing += [(f, []) for f in mine if not f.proactive]  # promises are reminded whatever the cap
        proactive = {f.followup_id: f for f in mine if f.proactive}
        decision = rules.cap_contacts(
            due=[(i, f.fire_at) for i, f in proactive.items()], recent=recent.get(customer_id, []), now=now
        )
        for fid in decision.fire:
            firing.append((proactive[fid], [proactive[m] for m, into in decision.merged.items() if into == fid]))
        merged += [{"fid": m, "into": into} for m, into in decision.merged.items()]
        if decision.defer_until is not None:
            deferred += [{"fid": fid, "until": decision.defer_until} for fid in proactive]
    by_id = followups.c.followup_id == sa.bindparam("fid")
    if merged:
        await session.execute(sa.update(followups).where(by_id).values(state="merged", merged_into=sa.bindparam("into"), fired_at=now), merged)
    if deferred:
        await session.execute(
            sa.update(followups).where(by_id).values(fire_at=sa.bindparam("until"), deferrals=followups.c.deferrals + 1), deferred
        )
    if firing:
        await _fire(session, rules=rules, firing=firing, now=now)
    return len(firing) + len(merged) + len(deferred)


async def _fire(session: AsyncSession, *, rules: Rules, firing: list[tuple[sa.Row, list[sa.Row]]], now: datetime) -> None:
    """Fired mark, FollowUpDue in the outbox and deliveries for a batch, set-based (same transaction)."""
    marks, outgoing, staged = [], [], []
    for f, merged in firing:
        content = f.content + "".join(f"; also {m.kind}: {m.content}" for m in merged)
        marks.append({"fid": f.followup_id, "content": content})
        event = events.new_event(
            events.FollowUpDue(followup_id=f.followup_id, customer_id=f.customer_id, rep_id=f.rep_id, kind=f.kind, due_at=f.due_at),
            source=SOURCE,
            subject=f.customer_id,
        )
        outgoing.append((event, f.customer_id))
        staged.append((event, f"Follow-up due ({f.kind}) for customer {f.customer_id}: {content}", [f.rep_id]))
    await session.execute(
        sa.update(followups).where(followups.c.followup_id == sa.bindparam("fid")).values(state="fired", fired_at=now, content=sa.bindparam("content")),
        marks,
    )
    await stage_events(session, outgoing)
    await deliveries.stage_many(session, staged, now=now)
    # the cadence goes on from a fired cadence or resume even if the rep never marks it done
    onward = [f for f, _ in firing if f.kind in ("cadence", "resume")]
    if not onward:
        return
    resumed = [f.customer_id for f in onward if f.kind == "resume"]
    if resumed:
        await session.execute(sa.update(contact_state).where(contact_state.c.customer_id.in_(resumed)).values(paused_until=None))
    customers = {
        c.customer_id: c
        for c in (await session.execute(sa.select(known_customers).where(known_customers.c.customer_id.in_([f.customer_id for f in onward])))).all()
        if c.owner_rep_id is not None and c.lifecycle != "lost"
    }
    await followup_cases.schedule(
        session,
        rules=rules,
        items=[
            (f.customer_id, c.team_id, rules.cadence_followup(f.customer_id, rep_id=c.owner_rep_id, tier=c.tier, anchor=f.due_at))
            for f in onward
            if (c := customers.get(f.customer_id)) is not None
        ],
    )


async def stage_events(session: AsyncSession, outgoing: list[tuple[events.CloudEvent, str]]) -> None:
    """Many events into the outbox in one statement, keyed by customer."""
    await outbox_add_many(session, outgoing, topic=topics.NOTIFICATIONS)


async def fire_due_alerts(session: AsyncSession, *, rules: Rules, now: datetime, limit: int = 500) -> int:
    due = (
        await session.execute(
            sa.select(sla_alerts, complaint_timers)
            .join(complaint_timers, complaint_timers.c.complaint_id == sla_alerts.c.complaint_id)
            .where(sla_alerts.c.state == "scheduled", sla_alerts.c.fire_at <= now)
            .order_by(sla_alerts.c.fire_at)
            .limit(limit)
            .with_for_update(of=sla_alerts, skip_locked=True)
        )
    ).all()
    for a in due:
        if a.status in CLOSED:  # resolved in the same instant the timer fell due
            await session.execute(sa.update(sla_alerts).where(sla_alerts.c.alert_id == a.alert_id).values(state="cancelled"))
            continue
        manager = await deliveries.manager_of(session, rules=rules, staff_id=a.handler_id)
        to = {"warning": [a.handler_id], "breach": [a.handler_id, manager], "escalation": [manager or a.handler_id]}[a.stage]
        to = [r for r in dict.fromkeys(to) if r]
        await session.execute(
            sa.update(sla_alerts).where(sla_alerts.c.alert_id == a.alert_id).values(state="fired", fired_at=now, recipients=to)
        )
        model = events.SlaWarning if a.stage == "warning" else events.SlaBreached
        event = events.new_event(
            model(complaint_id=a.complaint_id, customer_id=a.customer_id, tier=a.tier, handler_id=a.handler_id, due_at=a.due_at, at=now),
            source=SOURCE,
            subject=a.customer_id,
        )
        await outbox_add(session, event, key=a.customer_id, topic=topics.NOTIFICATIONS)
        label = {"warning": "SLA warning", "breach": "SLA breached", "escalation": f"SLA escalation #{a.seq}"}[a.stage]
        await deliveries.stage(
            session, event=event, subject=f"{label}: complaint {a.complaint_id} (tier {a.tier}) due {a.due_at.isoformat()}",
            recipient_ids=to, now=now,
        )
        if a.stage in ("breach", "escalation"):
            await session.execute(
                sa.insert(sla_alerts).values(
                    complaint_id=a.complaint_id, stage="escalation", seq=a.seq + 1,
                    fire_at=rules.next_escalation(after=a.fire_at, now=now),
                )
            )
    return len(due)


async def _loop(name: str, tick: Callable[[], Awaitable[int]], *, poll: float, wake: Callable[[], None] | None = None) -> None:
    delay = poll
    while True:
        try:
            done = await tick()
            delay = poll
            if done and wake:
                wake()
            if done:
                continue  # more may be due: go again at once
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database away: keep the rows, retry later
            log.warning(f"{name} failed; will retry", error=repr(exc), retry_in=delay)
            delay = min(delay * 2, 10)
        await asyncio.sleep(delay)


def scheduler(rules: Rules, clock: Clock, *, poll: float) -> Callable:
    async def notifier_scheduler(runtime) -> None:  # type: ignore[no-untyped-def]
        async def tick() -> int:
            async with runtime.sessions() as session, session.begin():
                now = clock.now()
                n = await fire_due_alerts(session, rules=rules, now=now)
                n += await fire_due_followups(session, rules=rules, now=now)
            return n

        await _loop("scheduler", tick, poll=poll, wake=runtime.relay.wake)

    return notifier_scheduler


def delivery_worker(rules: Rules, clock: Clock, senders: deliveries.Senders, *, poll: float) -> Callable:
    async def notifier_delivery_worker(runtime) -> None:  # type: ignore[no-untyped-def]
        async def tick() -> int:
            async with runtime.sessions() as session, session.begin():
                return await deliveries.send_due(session, rules=rules, senders=senders, now=clock.now())

        try:
            await _loop("delivery worker", tick, poll=poll)
        finally:
            await senders.close()

    return notifier_delivery_worker

