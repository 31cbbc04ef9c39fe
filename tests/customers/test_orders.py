"""Orders and payments intake: idempotent on their ids; outside producers feed trading status; unknown customers listed."""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import jsonschema
import pytest

from shared import events, topics
from tests.customers.conftest import unique
from tests.harness import auth, event_bytes, eventually, produce, read_topic

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


def days_ago(n: int) -> str:
    return (NOW - timedelta(days=n)).isoformat()


async def order_events(svc, key: str) -> list[dict]:
    records = await read_topic(svc.world.bootstrap, svc.world.topic(topics.ORDERS))
    return [json.loads(r.value) for r in records if r.key == key.encode()]


async def test_repeating_an_order_or_payment_returns_the_existing_record_and_one_event(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    order = {"order_id": unique("SO"), "customer_id": cid, "amount": "12500.00", "cost": "9000.00", "placed_at": days_ago(3), "payment_due": (NOW - timedelta(days=2)).date().isoformat()}
    first = await svc.client.post("/orders", json=order, headers=headers)
    assert first.status_code == 201, first.text
    second = await svc.client.post("/orders", json=order, headers=headers)
    assert second.status_code == 200 and second.json()["order_id"] == order["order_id"] and second.json()["amount"] == "12500.00"
    reused = await svc.client.post("/orders", json={**order, "amount": "1.00"}, headers=headers)
    assert reused.status_code == 409 and reused.json()["field"] == "order_id"

    payment = {"payment_id": unique("PAY"), "order_id": order["order_id"], "customer_id": cid, "amount": "2500.00", "paid_at": days_ago(1)}
    assert (await svc.client.post("/payments", json=payment, headers=headers)).status_code == 201
    assert (await svc.client.post("/payments", json=payment, headers=headers)).status_code == 200
    wrong_order = await svc.client.post("/payments", json={**payment, "payment_id": unique("PAY"), "order_id": "SO-nope"}, headers=headers)
    assert wrong_order.status_code == 422 and wrong_order.json()["field"] == "order_id"

    docs = await eventually(lambda: order_events(svc, cid), until=lambda d: len(d) >= 2)
    assert [d["type"] for d in docs] == ["OrderPlaced", "PaymentReceived"]
    for doc in docs:
        jsonschema.validate(doc, events.json_schema(doc["type"]))
    # our own events come back through the consumer and change nothing
    await eventually(lambda: svc.world.scalar("customers", "SELECT count(*) FROM inbox WHERE event_id = :e", e=docs[1]["id"]))
    card = (await svc.client.get(f"/customers/{cid}", headers=headers)).json()
    assert card["trading_status"]["purchases_12m"] == "12500.00" and card["trading_status"]["orders_12m"] == 1
    assert card["trading_status"]["overdue_orders"] == 1 and card["trading_status"]["overdue_amount"] == "10000.00"


async def test_erp_orders_feed_trading_status_and_unknown_customers_are_listed(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    stranger = unique("ghost")
    erp = [
        event_bytes(events.OrderPlaced(order_id=unique("ERP"), customer_id=cid, amount=Decimal("300000.00"), placed_at=days_ago(50))),
        event_bytes(events.OrderPlaced(order_id=unique("ERP"), customer_id=cid, amount=Decimal("1.00"), placed_at=days_ago(800))),
        event_bytes(events.OrderPlaced(order_id=unique("ERP"), customer_id=stranger, amount=Decimal("5.00"), placed_at=days_ago(20))),
    ]
    erp.append(erp[0])  # redelivered
    await produce(svc.world.bootstrap, svc.world.topic(topics.ORDERS), erp)

    async def trading():
        return (await svc.client.get(f"/customers/{cid}", headers=headers)).json()["trading_status"]

    status = await eventually(trading, until=lambda t: t["orders_12m"] == 1 and t["last_order_at"] is not None)
    assert status["purchases_12m"] == "300000.00" and status["overdue_orders"] == 0
    unmatched = await eventually(
        lambda: svc.client.get("/orders/unmatched", headers=auth("root", "admin")),
        until=lambda r: any(o["customer_id"] == stranger for o in r.json()),
    )
    assert [o["source"] for o in unmatched.json() if o["customer_id"] == stranger] == ["test/erp"]
    assert (await svc.client.get("/orders/unmatched", headers=auth(unique("mgr"), "manager", team))).status_code == 403


async def test_tier_changes_from_grading_become_searchable(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    a = (await svc.create(owner=owner, team=team, name="甲级客户"))["customer_id"]
    c = (await svc.create(owner=owner, team=team, name="丙级客户"))["customer_id"]
    metrics = {"purchases_12m": "0.00", "profit_12m": "0.00", "credit_score": 0.0, "score": 0.0}

    def change(cid, old, new, at):
        return event_bytes(events.TierChanged(customer_id=cid, old_tier=old, new_tier=new, policy="thresholds", reason="test", overridden=False, metrics=metrics, effective_at=at), source="crm/grading")

    # the older change arrives last and must not win
    await produce(svc.world.bootstrap, svc.world.topic(topics.GRADING), [change(a, "B", "A", "2026-11-20T00:00:00Z"), change(c, None, "C", "2026-11-20T00:00:00Z"), change(a, None, "B", "2026-11-01T00:00:00Z")])

    async def tier_a():
        return [x["customer_id"] for x in (await svc.client.get("/customers", params={"tier": "A", "owner_rep_id": owner}, headers=headers)).json()["items"]]

    await eventually(tier_a, until=lambda ids: ids == [a])
    await eventually(lambda: svc.world.scalar("customers", "SELECT count(*) FROM inbox WHERE event_type = 'TierChanged'"), until=lambda n: n >= 3)
    assert await tier_a() == [a]
    portfolio = (await svc.client.get(f"/reps/{owner}/portfolio", headers=headers)).json()
    assert [x["tier"] for x in portfolio["customers"]] == ["A", "C"]
    assert portfolio["balance"]["tiers"]["A"]["count"] == 1
    assert (await svc.client.get(f"/reps/{unique('rep')}/portfolio", headers=headers)).status_code == 403
    balance = (await svc.client.get(f"/teams/{team}/portfolio-balance", headers=auth(unique("mgr"), "manager", team))).json()
    assert balance["reps"][0]["rep_id"] == owner and balance["reps"][0]["tiers"]["C"]["count"] == 1
    assert (await svc.client.get(f"/teams/{team}/portfolio-balance", headers=auth(unique("mgr"), "manager", unique("team")))).status_code == 403
