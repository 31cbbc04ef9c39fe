"""Notifier service tests: handlers and scheduler against a real PostgreSQL, with `now` injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifier import jobs
from services.notifier.domain import Rules
from services.notifier.handlers import NotifierHandlers
from services.notifier.policy import NotifierPolicy
from shared import events, migrations
from services.notifier.policy import NotifierCalendar as BusinessCalendar
from shared.db import session_factory, unit_of_work

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


class Notifier:
    """The notifier's handlers and scheduler on one database, driven by hand."""

    def __init__(self, url: str, policy: NotifierPolicy) -> None:
        self.engine = create_async_engine(url, pool_size=4)
        self.sessions = session_factory(self.engine)
        self.rules = Rules(policy, BusinessCalendar())
        self.handlers = NotifierHandlers(self.rules)

    async def apply(self, data: events.EventData, *, time: datetime | None = None) -> None:
        event = events.new_event(data, source="test", subject=getattr(data, "customer_id", None))
        if time is not None:
            event = event.model_copy(update={"time": time})
        handler = {t: h for by_type in self.handlers.table().values() for t, h in by_type.items()}[event.type]
        async with unit_of_work(self.sessions) as session:
            if getattr(handler, "batched", False):
                await handler(session, [(event, data)])
            else:
                await handler(session, event, data)

    async def tick(self, now: datetime) -> int:
        async with unit_of_work(self.sessions) as session:
            return await jobs.fire_due_alerts(session, rules=self.rules, now=now) + await jobs.fire_due_followups(
                session, rules=self.rules, now=now
            )

    async def rows(self, sql: str, **params: object) -> list[sa.Row]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).all())

    async def scalar(self, sql: str, **params: object) -> object:
        async with self.engine.connect() as conn:
            return await conn.scalar(sa.text(sql), params)

    async def published(self, event_type: str) -> list[dict]:
        import json

        rows = await self.rows("SELECT payload FROM outbox WHERE event_type = :t ORDER BY id", t=event_type)
        return [json.loads(r.payload)["data"] for r in rows]


@pytest.fixture
async def db_url(infra) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    from shared.stack import service_database_url
    from tests.harness import run_id

    url = service_database_url(infra.database_url, "notifier", db_prefix=f"crm_t{run_id()}_")
    await migrations.upgrade_async("notifier", url)
    yield url
    await migrations.drop_database(url)


@pytest.fixture
async def notifier(db_url: str) -> AsyncIterator[Notifier]:
    n = Notifier(db_url, NotifierPolicy())
    yield n
    await n.engine.dispose()


def customer(cid: str = "c1", *, owner: str = "rep-1", team: str = "team-east", revision: int = 1, lifecycle: str = "existing") -> events.CustomerUpdated:
    return events.CustomerUpdated(
        customer_id=cid, number=f"N-{cid}", name=f"客户{cid}", owner_rep_id=owner, team_id=team,
        strategic_partner=False, high_potential=False, lifecycle=lifecycle, revision=revision,
    )


def tier(cid: str, new: str, effective_at: datetime, old: str | None = None) -> events.TierChanged:
    return events.TierChanged.model_validate(
        dict(customer_id=cid, old_tier=old, new_tier=new, policy="thresholds", reason="test", overridden=False,
             metrics=dict(purchases_12m="0.00", profit_12m="0.00", credit_score=0, score=0), effective_at=effective_at)
    )


def visit(cid: str = "c1", vid: str = "v1", **kw: object) -> events.VisitLogged:
    base = dict(visit_id=vid, customer_id=cid, rep_id="rep-1", channel="on_site", started_at=at(23), first_visit=False, outcome="interested")
    return events.VisitLogged.model_validate({**base, **kw})
