"""Scale-out: two replicas of a service in one consumer group rebalance mid-stream; nothing lost, nothing doubled."""

from decimal import Decimal

import pytest

from shared import events, topics
from tests.harness import event_bytes, eventually, produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def order(customer: str, order_id: str) -> events.OrderPlaced:
    return events.OrderPlaced(order_id=order_id, customer_id=customer, amount=Decimal("2.50"), placed_at="2026-11-20T09:00:00+08:00")


async def test_two_replicas_rebalance_mid_stream_and_one_dies(world):
    await world.prepare("grading")
    first = world.start("grading", CONSUMER_BATCH_SIZE="50")
    first.wait_ready()
    messages = [event_bytes(order(f"c-{i % 40}", f"SO-{i}")) for i in range(3000)]
    topic = world.topic(topics.ORDERS)
    await produce(world.bootstrap, topic, messages[:1000])
    second = world.start("grading", CONSUMER_BATCH_SIZE="50")  # joins the group: partitions move mid-stream
    await produce(world.bootstrap, topic, messages[1000:2000])
    second.wait_ready()
    await eventually(lambda: world.scalar("grading", "SELECT count(*) FROM inbox"), until=lambda v: v >= 1500, timeout=120)
    first.kill()  # its partitions go to the survivor, including anything it had not committed
    await produce(world.bootstrap, topic, messages[2000:])
    await eventually(lambda: world.scalar("grading", "SELECT count(*) FROM inbox"), until=lambda v: v == 3000, timeout=180)
    assert await world.scalar("grading", "SELECT sum(order_count) FROM grading_customer_metrics") == 3000
    assert await world.scalar("grading", "SELECT sum(purchases_total) FROM grading_customer_metrics") == Decimal("7500.00")
