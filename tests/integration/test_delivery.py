"""Nothing lost, nothing doubled (architecture.md, Delivery): each guarantee against a real broker and PostgreSQL."""

import json
import os
import signal
import time
from decimal import Decimal

import httpx
import pytest

from shared import events, topics
from tests.harness import auth, event_bytes, eventually, produce, read_topic

pytestmark = pytest.mark.integration


REP = auth("rep-1", "rep", "team-east")  # the owner of every card below


def card(i: int) -> dict:
    return {"number": f"CRM-{i:05d}", "name": f"客户{i}", "owner_rep_id": "rep-1", "team_id": "team-east"}


def order(customer: str, order_id: str, amount: str) -> events.OrderPlaced:
    return events.OrderPlaced(order_id=order_id, customer_id=customer, amount=Decimal(amount), placed_at="2026-11-20T09:00:00+08:00")


async def unpublished(world) -> int:
    return await world.scalar("customers", "SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def test_killed_between_commit_and_publish_delivers_once_after_restart(world):
    await world.prepare("customers")
    doomed = world.start("customers", FAULT_POINT="relay.before_publish")
    doomed.wait_ready()
    response = httpx.post(f"{doomed.url}/customers", json=card(1), headers=REP)
    assert response.status_code == 201  # committed
    await eventually(lambda: doomed.proc.poll() is not None)  # the relay killed the process before publishing
    assert await unpublished(world) == 1
    assert await read_topic(world.bootstrap, world.topic(topics.CUSTOMERS)) == []

    world.start("customers").wait_ready()
    records = await eventually(lambda: read_topic(world.bootstrap, world.topic(topics.CUSTOMERS)))
    await eventually(lambda: unpublished(world), until=lambda v: v == 0)
    records = await read_topic(world.bootstrap, world.topic(topics.CUSTOMERS))
    assert len(records) == 1
    assert json.loads(records[0].value)["data"]["customer_id"] == response.json()["customer_id"]


async def test_killed_after_publish_before_marking_is_absorbed_by_idempotent_consumers(world):
    await world.prepare("customers", "notifier")
    notifier = world.start("notifier")
    doomed = world.start("customers", FAULT_POINT="relay.after_publish")
    notifier.wait_ready()
    doomed.wait_ready()
    customer_id = httpx.post(f"{doomed.url}/customers", json=card(2), headers=REP).json()["customer_id"]
    await eventually(lambda: doomed.proc.poll() is not None)
    world.start("customers").wait_ready()

    # The event went out twice under one id ...
    records = await eventually(lambda: read_topic(world.bootstrap, world.topic(topics.CUSTOMERS)), until=lambda r: len(r) >= 2)
    ids = {json.loads(r.value)["id"] for r in records}
    assert len(records) == 2 and len(ids) == 1
    # ... and the consumer applied it once.
    await eventually(lambda: world.scalar("notifier", "SELECT count(*) FROM inbox WHERE event_id = :e", e=ids.pop()))
    assert await world.scalar("notifier", "SELECT count(*) FROM inbox") == 1
    assert await world.scalar("notifier", "SELECT revision FROM known_customers WHERE customer_id = :c", c=customer_id) == 1
    await eventually(lambda: 'crm_events_duplicate_total{service="notifier"' in httpx.get(f"{notifier.url}/metrics").text)


async def test_an_event_delivered_twice_is_applied_once(world):
    await world.prepare("grading")
    grading = world.start("grading")
    grading.wait_ready()
    topic = world.topic(topics.ORDERS)
    first = event_bytes(order("c-1", "SO-1", "100.00"))
    same_order_new_id = event_bytes(order("c-1", "SO-1", "100.00"))  # an ERP resending the order
    await produce(world.bootstrap, topic, [first, first, same_order_new_id, event_bytes(order("c-1", "SO-2", "50.00"))])

    await eventually(lambda: world.scalar("grading", "SELECT order_count FROM grading_customer_metrics WHERE customer_id='c-1'"), until=lambda v: v == 2)
    assert await world.scalar("grading", "SELECT purchases_total FROM grading_customer_metrics WHERE customer_id='c-1'") == Decimal("150.00")
    assert await world.scalar("grading", "SELECT count(*) FROM inbox") == 3  # the exact duplicate was never applied


async def test_a_poison_message_goes_to_the_dlq_and_the_partition_moves_on(world):
    await world.prepare("grading")
    grading = world.start("grading")
    grading.wait_ready()
    topic = world.topic(topics.ORDERS)
    bad_amount = events.new_event(order("c-7", "SO-X", "1.00"), source="erp")
    bad_amount.data["amount"] = "-3.00"
    wrong_topic = events.new_event(events.TierChanged(
        customer_id="c-7", old_tier=None, new_tier="A", policy="p", reason="r", overridden=False,
        metrics={"purchases_12m": "1.00", "profit_12m": "1.00", "credit_score": 1, "score": 1}, effective_at="2026-11-20T09:00:00Z",
    ), source="x")
    unknown = events.new_event(order("c-7", "SO-Y", "1.00"), source="erp").model_copy(update={"type": "OrderCancelled"})
    await produce(world.bootstrap, topic, [
        (b"c-7", b"{not json"),
        (b"c-7", events.encode(bad_amount)),
        (b"c-7", events.encode(wrong_topic)),
        (b"c-7", events.encode(unknown)),
        event_bytes(order("c-7", "SO-OK", "9.99")),
    ])
    await eventually(lambda: world.scalar("grading", "SELECT order_count FROM grading_customer_metrics WHERE customer_id='c-7'"))
    dead = await eventually(lambda: read_topic(world.bootstrap, topics.dlq(topic)), until=lambda r: len(r) >= 4)
    reasons = sorted(dict(r.headers)["x-dlq-reason"].decode() for r in dead)
    assert reasons == ["schema_violation", "unknown_type", "unparseable", "wrong_topic"]
    by_reason = {dict(r.headers)["x-dlq-reason"]: r for r in dead}
    headers = dict(by_reason[b"schema_violation"].headers)
    assert b"amount" in headers["x-dlq-error"]
    assert headers["x-original-topic"] == topic.encode() and headers["x-dlq-service"] == b"grading"
    assert by_reason[b"unparseable"].value == b"{not json"  # the original bytes, for replay after a fix
    assert await world.scalar("grading", "SELECT order_count FROM grading_customer_metrics WHERE customer_id='c-7'") == 1


async def test_a_stalled_broker_loses_nothing(world):
    broker = world.infra.local_broker
    if broker is None:
        pytest.skip("needs the locally started broker to SIGSTOP it")
    await world.prepare("customers", "notifier")
    customers, notifier = world.start("customers"), world.start("notifier")
    customers.wait_ready()
    notifier.wait_ready()
    created = [httpx.post(f"{customers.url}/customers", json=card(i), headers=REP).status_code for i in range(10)]
    os.kill(broker.proc.pid, signal.SIGSTOP)
    try:
        # The archive keeps working while the broker is frozen: events wait in the outbox.
        created += [httpx.post(f"{customers.url}/customers", json=card(i), headers=REP, timeout=10).status_code for i in range(10, 30)]
        time.sleep(10)
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
    assert created == [201] * 30
    await eventually(lambda: world.scalar("notifier", "SELECT count(*) FROM known_customers"), until=lambda v: v == 30, timeout=120)
    await eventually(lambda: unpublished(world), until=lambda v: v == 0)
    records = await read_topic(world.bootstrap, world.topic(topics.CUSTOMERS))
    assert len({json.loads(r.value)["data"]["customer_id"] for r in records}) == 30


async def test_a_consumer_killed_mid_stream_ends_with_exact_totals(world):
    await world.prepare("grading")
    grading = world.start("grading", CONSUMER_BATCH_SIZE="50")
    grading.wait_ready()
    messages = [event_bytes(order(f"c-{i % 20}", f"SO-{i}", "10.00")) for i in range(2000)]
    await produce(world.bootstrap, world.topic(topics.ORDERS), messages[:1000])
    await eventually(lambda: (world.scalar("grading", "SELECT count(*) FROM inbox")), interval=0.05)
    grading.kill()
    await produce(world.bootstrap, world.topic(topics.ORDERS), messages[1000:])
    world.start("grading", CONSUMER_BATCH_SIZE="50").wait_ready()
    await eventually(lambda: world.scalar("grading", "SELECT sum(order_count) FROM grading_customer_metrics"), until=lambda v: v == 2000, timeout=120)
    assert await world.scalar("grading", "SELECT sum(purchases_total) FROM grading_customer_metrics") == Decimal("20000.00")
    assert await world.scalar("grading", "SELECT count(*) FROM inbox") == 2000


async def test_database_down_is_retried_never_skipped(world):
    postgres = world.infra.local_postgres
    if postgres is None:
        pytest.skip("needs the locally started PostgreSQL to restart it")
    await world.prepare("grading")
    grading = world.start("grading")
    grading.wait_ready()
    await produce(world.bootstrap, world.topic(topics.ORDERS), [event_bytes(order("c-1", "SO-1", "1.00"))])
    await eventually(lambda: world.scalar("grading", "SELECT count(*) FROM inbox"))
    for engine in world._engines.values():
        await engine.dispose()
    postgres.stop()
    try:
        await produce(world.bootstrap, world.topic(topics.ORDERS), [event_bytes(order("c-1", f"SO-{i}", "1.00")) for i in range(2, 102)])
        time.sleep(5)  # the consumer fails and retries while the database is gone
        assert grading.proc.poll() is None, "a database outage must not crash the service"
    finally:
        postgres.start()
    await eventually(lambda: world.scalar("grading", "SELECT order_count FROM grading_customer_metrics WHERE customer_id='c-1'"), until=lambda v: v == 101, timeout=120)
    assert await world.scalar("grading", "SELECT purchases_total FROM grading_customer_metrics WHERE customer_id='c-1'") == Decimal("101.00")


async def test_graceful_shutdown_finishes_the_batch_and_exits_cleanly(world):
    await world.prepare("grading")
    grading = world.start("grading", CONSUMER_BATCH_SIZE="100")
    grading.wait_ready()
    messages = [event_bytes(order(f"c-{i % 7}", f"SO-{i}", "1.00")) for i in range(1500)]
    await produce(world.bootstrap, world.topic(topics.ORDERS), messages)
    await eventually(lambda: world.scalar("grading", "SELECT count(*) FROM inbox"), interval=0.05)
    grading.stop()  # SIGTERM
    # uvicorn re-raises the signal after a clean shutdown, so -15 is the normal exit status
    assert grading.proc.returncode in (0, -15)
    log = grading.log.read_text()
    assert "service stopped" in log and "Application shutdown complete" in log
    world.start("grading").wait_ready()
    await eventually(lambda: world.scalar("grading", "SELECT sum(order_count) FROM grading_customer_metrics"), until=lambda v: v == 1500, timeout=120)
    assert await world.scalar("grading", "SELECT count(*) FROM inbox") == 1500
