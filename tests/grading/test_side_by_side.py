"""Two transactions of grading side by side (consumer group members on different partitions) never grade a
customer from facts the other one is changing: every handler locks the customer rows it re-grades first."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from services.grading.handlers import build_handlers
from services.grading.policy import GradingPolicy
from shared.events import new_event
from tests.grading.conftest import Feed, card, order, payment

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


async def test_a_card_change_waits_for_a_payment_regrading_the_same_customer(sessions, world):
    policy = GradingPolicy()  # strategic partners are lifted to A
    feed = Feed(sessions, policy)
    # an order without a due date: its payment changes no metric, so re-grading it writes no row by itself
    await feed.apply(card("c1"), order("c1", "O-1", "1000.00", (NOW - timedelta(days=3)).isoformat()))
    handlers = build_handlers(lambda: policy)
    paid = payment("c1", "O-1", "1000.00", NOW.isoformat())
    lifted = card("c1", revision=2, strategic=True)

    async with sessions() as payments, payments.begin():
        await handlers["PaymentReceived"](payments, [(new_event(paid, source="test"), paid)])
        pid = await payments.scalar(sa.text("SELECT pg_backend_pid()"))

        async def card_change() -> None:
            async with sessions() as cards, cards.begin():
                await handlers["CustomerUpdated"](cards, [(new_event(lifted, source="test"), lifted)])

        other = asyncio.create_task(card_change())
        # the card's transaction waits for the payment's lock on c1 (a race window without it)
        while True:
            blocked = await world.rows(
                "grading", f"SELECT 1 FROM pg_stat_activity WHERE {pid} = ANY(pg_blocking_pids(pid))"
            )
            if blocked or other.done():
                break
            await asyncio.sleep(0.05)
        assert blocked and not other.done(), "the card change did not wait for the payment's re-grading"
    await other
    rows = await world.rows("grading", "SELECT tier, strategic_partner FROM grading_customer_metrics WHERE customer_id = 'c1'")
    assert [(r.tier, r.strategic_partner) for r in rows] == [("A", True)]
