"""Fixtures of the grading tests: the grading database of an isolated world, and helpers to feed it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grading.handlers import build_handlers
from services.grading.policy import GradingPolicy
from shared.db import session_factory
from shared.events import CustomerUpdated, OrderPlaced, PaymentReceived, new_event

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc)


@pytest.fixture
async def sessions(world) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await world.prepare("grading")
    yield session_factory(world.engine("grading"))


class Feed:
    """Applies events through the real batched handlers, one transaction per call (as the consumer does)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], policy: GradingPolicy) -> None:
        self.sessions = sessions
        self.policy = policy

    async def apply(self, *payloads) -> None:
        handlers = build_handlers(lambda: self.policy)
        async with self.sessions() as session, session.begin():
            for payload in payloads:
                await handlers[type(payload).__name__](session, [(new_event(payload, source="test"), payload)])


def order(customer: str, order_id: str, amount: str, placed_at: str, cost: str | None = None, due: str | None = None) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id, customer_id=customer, amount=Decimal(amount), cost=Decimal(cost) if cost else None,
        placed_at=placed_at, payment_due=due,
    )


def payment(customer: str, order_id: str, amount: str, paid_at: str, payment_id: str | None = None) -> PaymentReceived:
    return PaymentReceived(
        payment_id=payment_id or f"P-{order_id}-{paid_at}", order_id=order_id, customer_id=customer, amount=Decimal(amount), paid_at=paid_at
    )


def card(customer: str, team: str = "team-east", rep: str = "rep-1", revision: int = 1, strategic: bool = False, potential: bool = False) -> CustomerUpdated:
    return CustomerUpdated(
        customer_id=customer, number=f"N-{customer}", name=customer, owner_rep_id=rep, team_id=team,
        strategic_partner=strategic, high_potential=potential, lifecycle="existing", revision=revision,
    )
