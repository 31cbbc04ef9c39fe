"""The grading report (domain.md §3): tier distribution with revenue and profit shares (Pareto view),
per-customer metrics, a tier migration matrix between two dates, and a what-if of a candidate policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.grading import evaluation
from services.grading.evaluation import Clock, Sql
from services.grading.policy import GradingPolicy, RanksPolicy
from shared.auth import Principal

TIERS = ("A", "B", "C")


@dataclass(frozen=True)
class Filters:
    tier: str | None = None
    team_id: str | None = None
    business_unit: str | None = None
    policy: str | None = None
    min_purchases_12m: Any = None


def scope_sql(q: Sql, principal: Principal, f: Filters, alias: str = "c") -> str:
    """Confidentiality first (rep: own customers, manager: own team), then the caller's filters."""
    where = ["TRUE"]
    if principal.role == "rep":
        where.append(f"{alias}.owner_rep_id = {q.bind(principal.user_id, 'text')}")
    elif principal.role == "manager":
        where.append(f"{alias}.team_id = {q.bind(principal.team_id, 'text')}")
    for column, value in (("tier", f.tier), ("team_id", f.team_id), ("business_unit", f.business_unit), ("policy", f.policy)):
        if value is not None:
            where.append(f"{alias}.{column} = {q.bind(value, 'text')}")
    if f.min_purchases_12m is not None:
        where.append(f"{alias}.purchases_12m >= {q.bind(f.min_purchases_12m, 'numeric')}")
    return " AND ".join(where)


async def tier_report(session: AsyncSession, *, principal: Principal, filters: Filters, limit: int, offset: int) -> dict[str, Any]:
    q = Sql()
    where = scope_sql(q, principal, filters)
    rows = (
        await session.execute(
            sa.text(
                f"""
                SELECT coalesce(c.tier, '-') AS tier, count(*) AS customers,
                       sum(c.purchases_12m) AS purchases_12m, sum(c.profit_12m) AS profit_12m
                FROM grading_customer_metrics c WHERE {where} GROUP BY 1 ORDER BY 1
                """
            ),
            q.params,
        )
    ).all()
    n = sum(r.customers for r in rows) or 1
    revenue = sum(r.purchases_12m for r in rows) or 1
    profit = sum(r.profit_12m for r in rows) or 1
    distribution = [
        {
            "tier": r.tier,
            "customers": r.customers,
            "customer_share": round(r.customers / n, 4),
            "purchases_12m": f"{r.purchases_12m:.2f}",
            "revenue_share": round(float(r.purchases_12m / revenue), 4),
            "profit_12m": f"{r.profit_12m:.2f}",
            "profit_share": round(float(r.profit_12m / profit), 4),
        }
        for r in rows
    ]
    q.params.update(limit=limit, offset=offset)
    customers = (
        await session.execute(
            sa.text(
                f"""
                SELECT c.customer_id, c.team_id, c.owner_rep_id, c.business_unit, c.policy, c.tier, c.computed_tier,
                       c.overridden, c.tier_reason AS reason, c.purchases_12m, c.purchases_24m, c.profit_12m, c.profit_24m,
                       c.order_count, c.on_time_ratio, c.avg_days_late, c.credit_score, c.score, c.last_order_at
                FROM grading_customer_metrics c WHERE {where}
                ORDER BY c.purchases_12m DESC, c.customer_id LIMIT :limit OFFSET :offset
                """
            ),
            q.params,
        )
    ).mappings().all()
    return {
        "distribution": distribution,
        "customers": [{k: (f"{v:.2f}" if k.startswith(("purchases", "profit")) else v) for k, v in r.items()} for r in customers],
        "total": sum(r.customers for r in rows),
    }


def end_of_day(day: date, tz: str) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(tz)).astimezone(timezone.utc)


async def migration_matrix(
    session: AsyncSession, *, principal: Principal, policy: GradingPolicy, since: date, until: date
) -> dict[str, Any]:
    """How many customers held tier X at the end of `since` and tier Y at the end of `until` (from the tier history)."""
    q = Sql()
    where = scope_sql(q, principal, Filters())
    t0, t1 = q.bind(end_of_day(since, policy.timezone), "timestamptz"), q.bind(end_of_day(until, policy.timezone), "timestamptz")
    rows = (
        await session.execute(
            sa.text(
                f"""
                WITH scoped AS (SELECT c.customer_id FROM grading_customer_metrics c WHERE {where}),
                at_start AS (
                    SELECT DISTINCT ON (h.customer_id) h.customer_id, h.new_tier AS tier
                    FROM grading_tier_history h JOIN scoped USING (customer_id)
                    WHERE h.effective_at < {t0} ORDER BY h.customer_id, h.id DESC
                ),
                at_end AS (
                    SELECT DISTINCT ON (h.customer_id) h.customer_id, h.new_tier AS tier
                    FROM grading_tier_history h JOIN scoped USING (customer_id)
                    WHERE h.effective_at < {t1} ORDER BY h.customer_id, h.id DESC
                )
                SELECT coalesce(s.tier, '-') AS from_tier, coalesce(e.tier, '-') AS to_tier, count(*) AS customers
                FROM at_start s FULL JOIN at_end e USING (customer_id)
                GROUP BY 1, 2
                """
            ),
            q.params,
        )
    ).all()
    matrix: dict[str, dict[str, int]] = {}
    for r in rows:
        matrix.setdefault(r.from_tier, {})[r.to_tier] = r.customers
    return {"from": since.isoformat(), "to": until.isoformat(), "matrix": matrix, "note": "'-' = no tier yet"}


async def what_if(
    session: AsyncSession, *, principal: Principal, policy: GradingPolicy, candidate: Any, filters: Filters, limit: int
) -> dict[str, Any]:
    """Grade the customers in scope under `candidate` against current data; nothing is written."""
    trial = policy.model_copy(update={"policies": {"candidate": candidate}, "default_policy": "candidate", "units": {}})
    clock = Clock(datetime.now(timezone.utc), policy.timezone)
    q = Sql()
    scored = evaluation.scored_sql(q, trial, clock, scoped=False)
    where = scope_sql(q, principal, filters)
    population = f"SELECT s.* FROM scored s JOIN grading_customer_metrics c USING (customer_id) WHERE {where}"
    if isinstance(candidate, RanksPolicy):
        ranked = evaluation.cutoffs_sql(q, "candidate", candidate, "SELECT * FROM population")
        cutoffs = f"(SELECT 'candidate'::text AS policy, x.* FROM ({ranked}) x)"
    else:
        cutoffs = "(SELECT NULL::text AS policy, NULL::text AS business_unit, NULL::float8 AS a_min, NULL::float8 AS b_min)"
    graded = evaluation.graded_sql(q, trial, "SELECT * FROM population", clock, cutoffs=cutoffs)
    q.params["limit"] = limit
    with_ = f"WITH scored AS MATERIALIZED ({scored}), population AS MATERIALIZED ({population}), e AS ({graded})"
    cells = (
        await session.execute(
            sa.text(
                f"""{with_}
                SELECT coalesce(c.tier, '-') AS current_tier, e.tier AS candidate_tier, count(*) AS customers
                FROM e JOIN grading_customer_metrics c USING (customer_id) GROUP BY 1, 2"""
            ),
            q.params,
        )
    ).all()
    moves = (
        await session.execute(
            sa.text(
                f"""{with_}
                SELECT e.customer_id, c.tier AS current_tier, e.tier AS candidate_tier, e.reason, e.score,
                       to_char(e.purchases_12m, 'FM9999999999999990.00') AS purchases_12m
                FROM e JOIN grading_customer_metrics c USING (customer_id)
                WHERE c.tier IS DISTINCT FROM e.tier ORDER BY e.customer_id LIMIT :limit"""
            ),
            q.params,
        )
    ).mappings().all()
    matrix: dict[str, dict[str, int]] = {}
    for r in cells:
        matrix.setdefault(r.current_tier, {})[r.candidate_tier] = r.customers
    return {
        "policy": candidate.model_dump(mode="json"),
        "evaluated": sum(r.customers for r in cells),
        "would_move": sum(r.customers for r in cells if r.current_tier != r.candidate_tier),
        "matrix": matrix,
        "moves": [dict(m) for m in moves],
    }
