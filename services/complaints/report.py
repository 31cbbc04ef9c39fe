"""The complaint delay report (domain.md §4): complaints past or near their deadline by tier, handler,
team and cause category, with average resolution time and SLA attainment per tier."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.complaints.queries import OPEN, judged_at
from services.complaints.tables import complaints as c

DIMENSIONS = {"tier": c.c.sla_tier, "handler": c.c.handler_id, "team": c.c.team_id,
              "cause_category": sa.func.coalesce(c.c.cause_category, "not_analyzed")}
CSV_COLUMNS = ["complaint_id", "customer_id", "tier", "status", "sla_status", "team_id", "handler_id",
               "cause_category", "received_at", "due_at", "overdue_seconds"]


def _delayed(scope: sa.ColumnElement[bool], now: datetime) -> tuple[list, sa.ColumnElement]:
    moment = judged_at(now)
    state = sa.case((moment >= c.c.due_at, "breached"), else_="at_risk").label("sla_status")
    return [OPEN, scope, moment >= c.c.at_risk_at], state


async def delay_report(session: AsyncSession, *, scope: sa.ColumnElement[bool], now: datetime, limit: int) -> dict[str, Any]:
    where, state = _delayed(scope, now)
    # one pass over the late complaints, grouped four ways (GROUPING SETS)
    keys = [column.label(name) for name, column in DIMENSIONS.items()]
    rows = (await session.execute(
        sa.select(*keys, sa.func.count().filter(state == "at_risk").label("at_risk"),
                  sa.func.count().filter(state == "breached").label("breached"),
                  *[sa.func.grouping(column).label(f"g_{name}") for name, column in DIMENSIONS.items()])
        .where(*where).group_by(sa.func.grouping_sets(*[sa.tuple_(column) for column in DIMENSIONS.values()]))
    )).all()
    groups: dict[str, list[dict[str, Any]]] = {name: [] for name in DIMENSIONS}
    for r in rows:
        name = next(n for n in DIMENSIONS if getattr(r, f"g_{n}") == 0)
        groups[name].append({name: getattr(r, name), "at_risk": r.at_risk, "breached": r.breached})
    for name, entries in groups.items():
        entries.sort(key=lambda e, n=name: (e[n] is None, e[n] or ""))
    attainment = (await session.execute(
        sa.select(c.c.sla_tier.label("tier"), sa.func.count().label("resolved"),
                  sa.func.count().filter(c.c.within_sla).label("within_sla"),
                  sa.func.avg(sa.extract("epoch", c.c.resolved_at - c.c.received_at)).label("avg_seconds"))
        .where(c.c.resolved_at.is_not(None), scope).group_by(c.c.sla_tier).order_by(c.c.sla_tier)
    )).all()
    return {
        "generated_at": now,
        "totals": {k: sum(g[k] for g in groups["tier"]) for k in ("at_risk", "breached")},
        "by_tier": groups["tier"], "by_handler": groups["handler"], "by_team": groups["team"],
        "by_cause_category": groups["cause_category"],
        "attainment_by_tier": [
            {"tier": r.tier, "resolved": r.resolved, "within_sla": r.within_sla,
             "sla_attainment": round(r.within_sla / r.resolved, 4) if r.resolved else None,
             "average_resolution_hours": round(float(r.avg_seconds) / 3600, 2) if r.avg_seconds is not None else None}
            for r in attainment
        ],
        "complaints": await delayed_complaints(session, scope=scope, now=now, limit=limit),
    }


async def delayed_complaints(session: AsyncSession, *, scope: sa.ColumnElement[bool], now: datetime, limit: int | None) -> list[dict[str, Any]]:
    where, state = _delayed(scope, now)
    moment = judged_at(now)
    stmt = (
        sa.select(c.c.complaint_id, c.c.customer_id, c.c.sla_tier.label("tier"), c.c.status, state, c.c.team_id,
                  c.c.handler_id, c.c.cause_category, c.c.received_at, c.c.due_at,
                  sa.extract("epoch", moment - c.c.due_at).label("overdue_seconds"))
        .where(*where).order_by(c.c.sla_tier, c.c.due_at, c.c.complaint_id).limit(limit)
    )
    return [{**r._asdict(), "overdue_seconds": float(r.overdue_seconds)} for r in (await session.execute(stmt)).all()]


def as_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.items()})
    return out.getvalue()
