"""Bad input at scale: on every topic, malformed, oversized, wrongly-typed and unknown-type events end in the
DLQ with a reason — once per consuming service — and the stream keeps flowing (the valid event after them is applied)."""

import importlib
import json
import uuid
from decimal import Decimal

import pytest

from shared import events, topics
from shared.stack import SERVICES
from tests.harness import eventually, produce, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMER = "c-poison-1"
NOW = "2026-11-20T09:00:00+08:00"


def consumers_by_topic() -> dict[str, dict[str, set[str]]]:
    """topic -> service -> event types it handles, read from each service's own wiring."""
    found: dict[str, dict[str, set[str]]] = {}
    for service in SERVICES:
        consumes = importlib.import_module(f"services.{service}.app").build().state.runtime.spec.consumes
        for topic, handlers in consumes.items():
            found.setdefault(topic, {})[service] = set(handlers)
    return found


def valid_event(topic: str) -> events.CloudEvent:
    data = {
        topics.CUSTOMERS: events.CustomerUpdated(
            customer_id=CUSTOMER, number="P-1", name="毒药测试", owner_rep_id="rep-1", team_id="team-1",
            strategic_partner=False, high_potential=False, lifecycle="existing", revision=1,
        ),
        topics.ORDERS: events.OrderPlaced(order_id="SO-P1", customer_id=CUSTOMER, amount=Decimal("10.00"), placed_at=NOW),
        topics.GRADING: events.TierChanged(
            customer_id=CUSTOMER, old_tier=None, new_tier="B", policy="thresholds", reason="test", overridden=False,
            metrics={"purchases_12m": "10.00", "profit_12m": "1.00", "credit_score": 50, "score": 10}, effective_at=NOW,
        ),
        topics.COMPLAINTS: events.ComplaintFiled(
            complaint_id="K-P1", customer_id=CUSTOMER, tier="B", received_at=NOW, due_at="2026-11-24T09:00:00+08:00",
            handler_id="rep-1", summary="test",
        ),
    }[topic]
    return events.new_event(data, source="test", subject=CUSTOMER)


def poison(topic: str) -> list[tuple[str, bytes]]:
    good = json.loads(events.encode(valid_event(topic)))
    wrong_type = {**good, "id": str(uuid.uuid4()), "data": {**good["data"], "customer_id": {"nested": True}}}
    unknown = {**good, "id": str(uuid.uuid4()), "type": "SomethingNew"}
    oversized = b'{"specversion": "1.0", "junk": "' + b"x" * 600_000 + b'"}'
    return [
        ("unparseable", b"\x00\x01 definitely not json"),
        ("envelope_violation", oversized),
        ("schema_violation", json.dumps(wrong_type).encode()),
        ("unknown_type", json.dumps(unknown).encode()),
    ]


async def test_every_topic_dead_letters_bad_events_and_keeps_flowing(world):
    wiring = consumers_by_topic()
    await world.prepare()
    procs = [world.start(name) for name in SERVICES]
    for proc in procs:
        proc.wait_ready()
    valid: dict[str, str] = {}
    for topic in (topics.CUSTOMERS, topics.ORDERS, topics.GRADING, topics.COMPLAINTS):
        good = valid_event(topic)
        valid[topic] = good.id
        await produce(world.bootstrap, world.topic(topic), [(CUSTOMER.encode(), raw) for _, raw in poison(topic)] + [(CUSTOMER.encode(), events.encode(good))])

    for topic, services in wiring.items():
        expected = sorted((service, reason) for service in services for reason, _ in poison(topic))
        dead = await eventually(
            lambda t=topic: read_topic(world.bootstrap, topics.dlq(world.topic(t))),
            until=lambda records, n=len(expected): len(records) >= n,
            timeout=120,
        )
        got = sorted((dict(r.headers)["x-dlq-service"].decode(), dict(r.headers)["x-dlq-reason"].decode()) for r in dead)
        assert got == expected, topic
        assert all(dict(r.headers)["x-dlq-error"] for r in dead)
        good_type = valid_event(topic).type
        for service in (s for s, types in services.items() if good_type in types):
            # the valid event after the poison was applied by every consumer of the topic that handles it
            await eventually(lambda s=service, t=topic: world.scalar(s, "SELECT count(*) FROM inbox WHERE event_id = :e", e=valid[t]), timeout=60)
