"""Use cases on one customer's tier: read it with its history, override it, set a subjective grade, expire overrides.

Functions take the caller's session; the request or job owning the unit of work commits.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from services.grading import evaluation
from services.grading.policy import GradingPolicy
from services.grading.tables import customer_metrics as cm
from services.grading.tables import override_log, overrides, tier_history
from shared.auth import Principal
from shared.errors import Forbidden, NotFound

METRIC_FIELDS = (
    "purchases_12m", "purchases_24m", "profit_12m", "profit_24m", "order_count", "purchases_total",
    "payments_due_12m", "on_time_ratio", "avg_days_late", "credit_score", "score", "last_order_at",
)


def money(value: Any) -> Any:
    return f"{value:.2f}" if value is not None and not isinstance(value, (int, float, str, datetime)) else value


async def customer_row(session: AsyncSession, *, customer_id: str, lock: bool = False) -> sa.RowMapping:
    query = sa.select(cm).where(cm.c.customer_id == customer_id)
    row = (await session.execute(query.with_for_update() if lock else query)).mappings().first()
    if row is None:
        raise NotFound(f"customer_id {customer_id!r} is not known to grading (no event about it yet)", field="customer_id")
    return row


def ensure_can_read(principal: Principal, row: sa.RowMapping) -> None:
    # Confidentiality applies where the customer's team is known from CustomerUpdated.
    if row["team_id"] is not None and not principal.can_see(owner_rep_id=row["owner_rep_id"], team_id=row["team_id"]):
        raise Forbidden(f"customer {row['customer_id']} belongs to another team", field="customer_id")


def ensure_manages(principal: Principal, row: sa.RowMapping) -> None:
    if principal.is_admin:
        return
    if principal.role == "manager" and row["team_id"] is not None and row["team_id"] == principal.team_id:
        return
    raise Forbidden("overrides need the manager of the customer's team or an admin", field="role")


async def tier_card(session: AsyncSession, *, principal: Principal, customer_id: str) -> dict[str, Any]:
    row = await customer_row(session, customer_id=customer_id)
    ensure_can_read(principal, row)
    history = (
        await session.execute(
            sa.select(tier_history).where(tier_history.c.customer_id == customer_id).order_by(tier_history.c.id)
        )
    ).mappings().all()
    override = (await session.execute(sa.select(overrides).where(overrides.c.customer_id == customer_id))).mappings().first()
    audit = (
        await session.execute(sa.select(override_log).where(override_log.c.customer_id == customer_id).order_by(override_log.c.id))
    ).mappings().all()
    return {
        "customer_id": customer_id,
        "tier": row["tier"],
        "computed_tier": row["computed_tier"],
        "policy": row["policy"],
        "business_unit": row["business_unit"],
        "reason": row["tier_reason"],
        "overridden": row["overridden"],
        "effective_at": row["tier_effective_at"],
        "evaluated_at": row["evaluated_at"],
        "team_id": row["team_id"],
        "strategic_partner": row["strategic_partner"],
        "high_potential": row["high_potential"],
        "subjective": {"tier": row["subjective_tier"], "reason": row["subjective_reason"], "set_by": row["subjective_by"]}
        if row["subjective_tier"]
        else None,
        "override": dict(override) if override else None,
        "metrics": {k: money(row[k]) for k in METRIC_FIELDS},
        "history": [dict(h) for h in history],
        "override_audit": [dict(a) for a in audit],
    }


async def set_override(
    session: AsyncSession, *, policy: GradingPolicy, principal: Principal, customer_id: str, tier: str, reason: str, expires_at: datetime
) -> evaluation.Outcome:
    row = await customer_row(session, customer_id=customer_id, lock=True)
    ensure_manages(principal, row)
    now = datetime.now(timezone.utc)
    values = {"tier": tier, "reason": reason, "expires_at": expires_at, "set_by": principal.user_id, "set_at": now}
    stmt = pg.insert(overrides).values(customer_id=customer_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=[overrides.c.customer_id], set_=values))
    await session.execute(
        sa.insert(override_log).values(
            customer_id=customer_id, action="set", tier=tier, reason=reason, expires_at=expires_at, actor=principal.user_id, at=now
        )
    )
    return await evaluation.evaluate(session, policy=policy, customer_ids=[customer_id], now=now)


async def remove_override(session: AsyncSession, *, policy: GradingPolicy, principal: Principal, customer_id: str) -> evaluation.Outcome:
    row = await customer_row(session, customer_id=customer_id, lock=True)
    ensure_manages(principal, row)
    gone = (await session.execute(sa.delete(overrides).where(overrides.c.customer_id == customer_id).returning(overrides.c.tier))).first()
    if gone is None:
        raise NotFound(f"customer {customer_id} has no override", field="customer_id")
    now = datetime.now(timezone.utc)
    await session.execute(sa.insert(override_log).values(customer_id=customer_id, action="removed", actor=principal.user_id, at=now))
    return await evaluation.evaluate(session, policy=policy, customer_ids=[customer_id], now=now)


async def set_subjective(
    session: AsyncSession, *, policy: GradingPolicy, principal: Principal, customer_id: str, tier: str, reason: str
) -> evaluation.Outcome:
    row = await customer_row(session, customer_id=customer_id, lock=True)
    if principal.role == "rep" and row["owner_rep_id"] != principal.user_id:
        raise Forbidden("a rep may grade only own customers", field="customer_id")
    if principal.role != "rep":
        ensure_manages(principal, row)
    await session.execute(
        sa.update(cm).where(cm.c.customer_id == customer_id).values(subjective_tier=tier, subjective_reason=reason, subjective_by=principal.user_id)
    )
    return await evaluation.evaluate(session, policy=policy, customer_ids=[customer_id])


async def expire_overrides(session: AsyncSession, *, policy: GradingPolicy, now: datetime | None = None) -> int:
    """Overrides past their expiry end; the computed tier returns (with a TierChanged if it differs)."""
    now = now or datetime.now(timezone.utc)
    expired = (
        await session.execute(
            sa.delete(overrides)
            .where(overrides.c.expires_at <= now)
            .returning(overrides.c.customer_id, overrides.c.tier, overrides.c.reason, overrides.c.expires_at)
        )
    ).all()
    if not expired:
        return 0
    await session.execute(
        sa.insert(override_log),
        [
            {"customer_id": e.customer_id, "action": "expired", "tier": e.tier, "reason": e.reason, "expires_at": e.expires_at, "actor": "system", "at": now}
            for e in expired
        ],
    )
    customers = sorted({e.customer_id for e in expired})
    await session.execute(evaluation.LOCK_CUSTOMERS, {"customer_id": customers})
    await evaluation.evaluate(session, policy=policy, customer_ids=customers, now=now)
    return len(expired)
