"""Follow-up use cases on the database: plan after a contact, keep the cadence, pause, hand over.

Lock order everywhere: the customer's contact-state row first, then its follow-ups; the
scheduler does the same, so writers of one customer never deadlock and fire in order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.domain import PROACTIVE_PAUSED_KINDS, ContactPlan, PlannedFollowUp, Rules
from services.notifier.tables import contact_state, followups
from shared.read_models import known_customers

OPEN = ("scheduled", "fired")
# Cached statements run as executemany: compiling a fresh multi-row VALUES per batch costs more than the database.
ENSURE_STATE = pg.insert(contact_state).on_conflict_do_nothing()
# a rule replayed (same source) plans nothing twice; one open cadence per customer (partial unique index)
INSERT_FOLLOWUP = pg.insert(followups).on_conflict_do_nothing()


async def lock_customer(session: AsyncSession, customer_id: str) -> sa.Row:
    """The customer's contact state, locked for this transaction (created on first use)."""
    await session.execute(ENSURE_STATE, [{"customer_id": customer_id}])
    return (
        await session.execute(sa.select(contact_state).where(contact_state.c.customer_id == customer_id).with_for_update())
    ).one()


async def known_customer(session: AsyncSession, customer_id: str) -> sa.Row | None:
    """The customer as CustomerUpdated described it; None until its first snapshot arrived."""
    row = (await session.execute(sa.select(known_customers).where(known_customers.c.customer_id == customer_id))).first()
    return row if row is not None and row.owner_rep_id is not None else None


async def lock_customers(session: AsyncSession, customer_ids: list[str]) -> list[sa.Row]:
    """Several customers' contact states, locked in id order (so concurrent writers never deadlock)."""
    if not customer_ids:
        return []
    await session.execute(ENSURE_STATE, [{"customer_id": c} for c in customer_ids])
    return list(
        (
            await session.execute(
                sa.select(contact_state)
                .where(contact_state.c.customer_id.in_(customer_ids))
                .order_by(contact_state.c.customer_id)
                .with_for_update()
            )
        ).all()
    )


async def schedule(session: AsyncSession, *, rules: Rules, items: list[tuple[str, str | None, PlannedFollowUp]]) -> None:
    """Insert planned follow-ups: (customer_id, team_id, plan) each."""
    if not items:
        return
    capped = set(rules.policy.contact_cap.kinds)
    await session.execute(
        INSERT_FOLLOWUP,
        [
            {
                "followup_id": str(uuid.uuid4()),
                "customer_id": customer_id,
                "rep_id": p.rep_id,
                "team_id": team_id,
                "kind": p.kind,
                "source": p.source,
                "content": p.content,
                "due_at": p.due_at,
                "fire_at": p.fire_at,
                "proactive": p.kind in capped,
            }
            for customer_id, team_id, p in items
        ],
    )


async def apply_contact(session: AsyncSession, *, rules: Rules, customer: sa.Row, plan: ContactPlan) -> None:
    """A contact happened (visit, or a follow-up done): plan what it asks for and re-anchor the cadence."""
    state = await lock_customer(session, customer.customer_id)
    last = max(filter(None, [state.last_contact_at, plan.cadence_anchor]), default=None)
    paused = state.paused_until
    if plan.pause_until is None and paused is not None and plan.cadence_anchor is not None and plan.cadence_anchor < paused:
        # a later contact that is not "not now" ends the pause; the cadence takes over from the resume
        paused = None
        await session.execute(
            sa.update(followups)
            .where(followups.c.customer_id == customer.customer_id, followups.c.state == "scheduled", followups.c.kind == "resume")
            .values(state="cancelled")
        )
    if plan.pause_until is not None:
        paused = plan.pause_until
        await session.execute(
            sa.update(followups)
            .where(
                followups.c.customer_id == customer.customer_id,
                followups.c.state == "scheduled",
                followups.c.kind.in_(PROACTIVE_PAUSED_KINDS),
            )
            .values(state="cancelled")
        )
    await session.execute(
        sa.update(contact_state)
        .where(contact_state.c.customer_id == customer.customer_id)
        .values(last_contact_at=last, paused_until=paused)
    )
    await schedule(session, rules=rules, items=[(customer.customer_id, customer.team_id, p) for p in plan.followups])
    await keep_cadence(session, rules=rules, customer=customer, anchor=last, paused_until=paused)


async def keep_cadence(
    session: AsyncSession, *, rules: Rules, customer: sa.Row, anchor: datetime | None, paused_until: datetime | None
) -> None:
    """Exactly one open cadence follow-up per active customer, due one cadence after the anchor.

    While paused (not now), the resume follow-up stands in for the cadence.
    """
    open_cadence = followups.c.customer_id == customer.customer_id, followups.c.kind == "cadence", followups.c.state == "scheduled"
    if customer.lifecycle == "lost" or anchor is None or (paused_until is not None and paused_until > anchor):
        await session.execute(sa.update(followups).where(*open_cadence).values(state="cancelled"))
        return
    due = rules.next_cadence(tier=customer.tier, anchor=anchor)
    updated = await session.execute(
        sa.update(followups).where(*open_cadence).values(due_at=due, fire_at=due, rep_id=customer.owner_rep_id, team_id=customer.team_id)
    )
    if updated.rowcount == 0:
        planned = rules.cadence_followup(customer.customer_id, rep_id=customer.owner_rep_id, tier=customer.tier, anchor=anchor)
        await schedule(session, rules=rules, items=[(customer.customer_id, customer.team_id, planned)])


async def hand_over(session: AsyncSession, *, customer_id: str, from_rep: str, to_rep: str, team_id: str | None) -> int:
    """A new owner takes the customer's open follow-ups (domain.md §1, handover)."""
    result = await session.execute(
        sa.update(followups)
        .where(followups.c.customer_id == customer_id, followups.c.state.in_(OPEN), followups.c.rep_id == from_rep)
        .values(rep_id=to_rep, team_id=team_id)
    )
    await session.execute(
        sa.update(followups)
        .where(followups.c.customer_id == customer_id, followups.c.state.in_(OPEN))
        .values(team_id=team_id)
    )
    return result.rowcount
