"""Fault injection at scale (issue 7.2): kill -9 of each service in the middle of a stream of thousands of
events, and a PostgreSQL restart under load with the whole stack. Each test compares the final state with
the fault-free expectation computed from the stream itself.

What holds after kill -9 (architecture.md, Delivery): a batch is applied with its event ids in one
transaction, so a replayed batch changes nothing; an outbox row may be published again when the process
died between publish and mark, so an event id may appear twice on the wire, but never two ids for one
fact. The assertions are on state, on the inboxes and on distinct event ids per fact.

Covered elsewhere, not repeated here: tests/integration/test_delivery.py (grading kill -9, broker SIGSTOP,
PostgreSQL restart with grading alone, relay fault points, SIGTERM) and tests/e2e/test_rebalance.py.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared import events, topics
from tests.harness import auth, event_bytes, eventually, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REP = auth("rep-1", "rep", "team-east")
ADMIN = auth()
NOW = datetime.now(timezone.utc)
PLACED = (NOW - timedelta(days=20)).isoformat()  # inside every 12-month window
DUE_PAST = (NOW - timedelta(days=10)).date()  # unpaid remainder is overdue
TIER_RANK = {"C": 0, "B": 1, "A": 2}
B_MIN, A_MIN = Decimal("300000"), Decimal("1000000")  # config/policy.toml [grading.policies.thresholds]
WAIT = 180  # seconds a catch-up may take on a loaded 2-core machine (a hang guard, not a speed claim)


# --- helpers -------------------------------------------------------------------------------------------


async def blast(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> None:
    """Produce many messages fast: enqueue all (per-partition order kept), then await every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=5)
    await producer.start()
    try:
        headers = [("content-type", events.CONTENT_TYPE.encode())]
        futures = [await producer.send(topic, value=value, key=key, headers=headers) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def threshold_tier(purchases: Decimal) -> str:
    return "A" if purchases >= A_MIN else "B" if purchases >= B_MIN else "C"


def order(customer: str, order_id: str, amount: Decimal, *, due=None) -> events.OrderPlaced:
    return events.OrderPlaced(order_id=order_id, customer_id=customer, amount=amount, placed_at=PLACED, payment_due=due)


def payment(customer: str, payment_id: str, order_id: str, amount: Decimal) -> events.PaymentReceived:
    return events.PaymentReceived(payment_id=payment_id, order_id=order_id, customer_id=customer, amount=amount, paid_at=PLACED)


def snapshot(customer: str, revision: int, *, owner: str = "rep-1", lifecycle: str = "existing", name: str | None = None) -> events.CustomerUpdated:
    return events.CustomerUpdated(
        customer_id=customer, number=f"N-{customer}", name=name or f"客户 {customer} r{revision}", owner_rep_id=owner,
        team_id="team-east", strategic_partner=False, high_potential=False, lifecycle=lifecycle, revision=revision,
    )


def tier_change(customer: str, old: str | None, new: str, at: datetime) -> events.TierChanged:
    return events.TierChanged(
        customer_id=customer, old_tier=old, new_tier=new, policy="thresholds", reason="test stream", overridden=False,
        metrics={"purchases_12m": "1.00", "profit_12m": "0.00", "credit_score": 50, "score": 10}, effective_at=at,
    )


async def on_topic(world, name: str, event_type: str | None = None) -> list[dict]:
    """Every CloudEvent on the world's topic, in partition order (so per customer, in publish order)."""
    docs = [json.loads(r.value) for r in await read_topic(world.bootstrap, world.topic(name))]
    return [d for d in docs if event_type is None or d["type"] == event_type]


def first_occurrences(docs: list[dict]) -> list[dict]:
    """Drop republished copies (same event id): what an idempotent consumer applies."""
    seen: set[str] = set()
    out = []
    for d in docs:
        if d["id"] not in seen:
            seen.add(d["id"])
            out.append(d)
    return out


async def count(world, service: str, sql: str, **params) -> int:
    return int(await world.scalar(service, sql, **params) or 0)


def assert_one_chain_per_customer(wire: list[dict], current: dict[str, str], history: Counter) -> None:
    """TierChanged per customer, republished copies dropped: one chain (each old_tier is the previous
    new_tier) from no tier to grading's current tier, rising only (the stream only adds purchases), so a
    transition seen twice can only be a replayed batch; one event per row of grading's tier history."""
    chains: dict[str, list[dict]] = defaultdict(list)
    for d in first_occurrences(wire):
        chains[d["data"]["customer_id"]].append(d["data"])
    assert sorted(chains) == sorted(current)
    for c, tier in current.items():
        chain = chains[c]
        assert chain[0]["old_tier"] is None, (c, chain)
        for before, after in zip(chain, chain[1:]):
            assert after["old_tier"] == before["new_tier"], (c, chain)
        transitions = [(t["old_tier"], t["new_tier"]) for t in chain]
        assert len(set(transitions)) == len(transitions), f"{c}: a transition published under two event ids: {transitions}"
        assert [TIER_RANK[t["new_tier"]] for t in chain] == sorted({TIER_RANK[t["new_tier"]] for t in chain}), (c, chain)
        assert chain[-1]["new_tier"] == tier, (c, chain)
        assert len(chain) == history[c], c


async def kill_mid_stream(world, service: str, proc, *, at_least: int) -> int:
    """kill -9 once the service has applied `at_least` events; returns how many it had applied."""
    await eventually(lambda: count(world, service, "SELECT count(*) FROM inbox"), until=lambda v: v >= at_least, timeout=WAIT, interval=0.02)
    proc.kill()
    return await count(world, service, "SELECT count(*) FROM inbox")


class HttpWriter:
    """Writes over HTTP while faults happen. An idempotent write (keyed by a client id) is retried until it
    is confirmed, across the restart (the new process has a new port): afterwards it exists exactly once.
    A write that is not idempotent is sent once; a transport error leaves it unknown (committed or not)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.stop = asyncio.Event()
        self.confirmed: dict[str, dict] = {}  # idempotent writes confirmed (key -> body)
        self.statuses: Counter = Counter()
        self.transport_errors = 0
        self.client = httpx.AsyncClient(timeout=10)

    async def call(self, method: str, path: str, body: dict) -> httpx.Response | None:
        try:
            response = await self.client.request(method, f"{self.url}{path}", json=body, headers=self.headers)
        except httpx.TransportError:
            self.transport_errors += 1
            await asyncio.sleep(0.1)
            return None
        self.statuses[(method, path.split("/")[1], response.status_code)] += 1
        assert response.status_code < 500, response.text
        return response

    async def until_confirmed(self, key: str, path: str, body: dict) -> None:
        while True:
            response = await self.call("POST", path, body)
            if response is not None:
                assert response.status_code in (200, 201), response.text  # 200: it was committed before
                self.confirmed[key] = body
                return

    async def close(self) -> None:
        await self.client.aclose()


async def restart(world, service: str, writer: HttpWriter | None = None, **env: str):
    """A new process of `service` (new port); waits in a thread so writers keep running meanwhile."""
    proc = world.start(service, **env)
    await asyncio.to_thread(proc.wait_ready)
    if writer is not None:
        writer.url = proc.url
    return proc


def card(i: int) -> dict:
    return {"number": f"CRM-F{i:04d}", "name": f"故障客户{i}", "owner_rep_id": "rep-1", "team_id": "team-east"}


# --- 1. customers ----------------------------------------------------------------------------------------


async def test_customers_killed_mid_stream_keeps_exact_orders_and_one_event_per_revision(world):
    """ERP orders and payments for 30 customers on crm.orders.v1 (with exact resends and resends under new
    ids) while reps write over HTTP (orders: idempotent, retried until confirmed; card changes: sent once);
    kill -9 mid-stream, restart. Trading status per customer is exact, the inbox holds each event once, and
    every card revision went out under exactly one event id (revisions 1..current, none missing)."""
    await world.prepare("customers")
    env = {"CONSUMER_BATCH_SIZE": "100", "RELAY_BATCH_SIZE": "50"}
    customers = world.start("customers", **env)
    await asyncio.to_thread(customers.wait_ready)
    async with httpx.AsyncClient(base_url=customers.url, headers=REP, timeout=10) as client:
        ids = [(await client.post("/customers", json=card(i))).json()["customer_id"] for i in range(30)]

    expected: dict[str, dict] = {c: {"orders": 0, "purchases": Decimal(0), "overdue_orders": 0, "overdue": Decimal(0)} for c in ids}
    stream: list[tuple[bytes, bytes]] = []
    for k in range(50):
        for i, c in enumerate(ids):
            amount = Decimal(f"{(i + 1) * 10 + k}.50")
            due = DUE_PAST if k % 2 == 0 else None
            stream.append(event_bytes(order(c, f"{c}-ERP-{k}", amount, due=due)))
            e = expected[c]
            e["orders"] += 1
            e["purchases"] += amount
            if k % 4 == 0:  # paid in full
                stream.append(event_bytes(payment(c, f"{c}-PAY-{k}", f"{c}-ERP-{k}", amount)))
            elif k % 4 == 2:  # half paid, the rest overdue
                stream.append(event_bytes(payment(c, f"{c}-PAY-{k}", f"{c}-ERP-{k}", amount / 2)))
                e["overdue_orders"] += 1
                e["overdue"] += amount - amount / 2
    rng = random.Random(1)
    for dup in rng.sample(range(len(stream)), 100):
        stream.insert(rng.randrange(dup, len(stream)), stream[dup])
    resent = [event_bytes(order(c, f"{c}-ERP-7", Decimal(f"{(i + 1) * 10 + 7}.50"))) for i, c in enumerate(ids)]
    erp_ids = {json.loads(v)["id"] for _, v in stream + resent}

    writer = HttpWriter(customers.url, REP)

    async def write() -> None:
        n = 0
        while not writer.stop.is_set():
            c = ids[n % len(ids)]
            body = {"order_id": f"HTTP-{n}", "customer_id": c, "amount": f"{n + 1}.00", "placed_at": PLACED}
            await writer.until_confirmed(body["order_id"], "/orders", body)
            if n % 3 == 0:
                await writer.call("PATCH", f"/customers/{ids[(n * 7) % len(ids)]}", {"address": f"杭州路 {n} 号"})
            n += 1

    writing = asyncio.create_task(write())
    try:
        half = len(stream) // 2
        await blast(world.bootstrap, world.topic(topics.ORDERS), stream[:half])
        await kill_mid_stream(world, "customers", customers, at_least=half // 3)
        await blast(world.bootstrap, world.topic(topics.ORDERS), stream[half:] + resent)
        await restart(world, "customers", writer, **env)
        confirmed_before = len(writer.confirmed)
        await eventually(lambda: len(writer.confirmed), until=lambda v: v >= confirmed_before + 20)
    finally:
        writer.stop.set()
        await writing
        await writer.close()
    assert writer.transport_errors > 0  # the process really died under the writers

    http_orders = writer.confirmed
    for body in http_orders.values():
        e = expected[body["customer_id"]]
        e["orders"] += 1
        e["purchases"] += Decimal(body["amount"])
    total_orders = sum(e["orders"] for e in expected.values())
    await eventually(lambda: count(world, "customers", "SELECT count(*) FROM inbox"), until=lambda v: v == len(erp_ids) + len(http_orders), timeout=WAIT)
    await eventually(lambda: count(world, "customers", "SELECT count(*) FROM outbox WHERE published_at IS NULL"), until=lambda v: v == 0)
    assert await count(world, "customers", "SELECT count(*) FROM customer_orders") == total_orders
    assert await count(world, "customers", "SELECT count(*) FROM customer_payments") == 30 * 25

    async with httpx.AsyncClient(base_url=writer.url, headers=REP, timeout=10) as client:
        for c in ids:
            trading = (await client.get(f"/customers/{c}")).json()["trading_status"]
            e = expected[c]
            assert (trading["orders_12m"], trading["purchases_12m"], trading["overdue_orders"], trading["overdue_amount"]) == (
                e["orders"], f"{e['purchases']:.2f}", e["overdue_orders"], f"{e['overdue']:.2f}"
            ), c

    # Every committed revision of a card went out under exactly one event id (a republished row keeps its id).
    revisions = dict(await world.rows("customers", "SELECT customer_id, revision FROM customers"))
    ids_by_revision: dict[tuple[str, int], set[str]] = defaultdict(set)
    for d in await on_topic(world, topics.CUSTOMERS, "CustomerUpdated"):
        ids_by_revision[(d["data"]["customer_id"], d["data"]["revision"])].add(d["id"])
    assert {k: v for k, v in ids_by_revision.items() if len(v) > 1} == {}
    assert sorted(ids_by_revision) == sorted((c, r) for c, last in revisions.items() for r in range(1, last + 1))
    changes = sum(revisions.values()) - len(ids)  # revisions after creation: the PATCHes that committed
    confirmed_changes = writer.statuses[("PATCH", "customers", 200)]
    assert confirmed_changes > 0 and confirmed_changes <= changes <= confirmed_changes + writer.transport_errors
    # Our own orders went out once each, under one event id per order.
    ours: dict[str, set[str]] = defaultdict(set)
    for d in await on_topic(world, topics.ORDERS, "OrderPlaced"):
        if d["source"] == "crm/customers":
            ours[d["data"]["order_id"]].add(d["id"])
    assert {k: len(v) for k, v in ours.items()} == {k: 1 for k in http_orders}


# --- 2. complaints ---------------------------------------------------------------------------------------


async def test_complaints_killed_mid_stream_keeps_its_read_model_and_files_each_complaint_once(world):
    """3,200 CustomerUpdated/TierChanged events for 40 customers flow into the read model while the service
    desk files complaints over HTTP; kill -9 mid-stream, restart. Each customer's tier, revision and name are
    those of its last event; every complaint that exists went out as exactly one ComplaintFiled (one event
    id), every 201 exists, and at most the requests cut by the kill left one without an answer."""
    await world.prepare("complaints")
    env = {"CONSUMER_BATCH_SIZE": "100", "RELAY_BATCH_SIZE": "50"}
    complaints = world.start("complaints", **env)
    ids = [f"k-{i:02d}" for i in range(40)]
    start = NOW - timedelta(days=1)
    stream: list[tuple[bytes, bytes]] = []
    last: dict[str, tuple] = {}
    tier = {c: None for c in ids}
    for k in range(1, 41):
        for i, c in enumerate(ids):
            stream.append(event_bytes(snapshot(c, k + 1, name=f"客户 {c} 第{k + 1}版")))
            new_tier = "ABC"[(i + k) % 3]
            effective = start + timedelta(seconds=k)
            stream.append(event_bytes(tier_change(c, tier[c], new_tier, effective)))
            tier[c] = new_tier
            last[c] = (k + 1, f"客户 {c} 第{k + 1}版", new_tier, effective)
    rng = random.Random(2)
    for dup in rng.sample(range(len(stream)), 100):
        stream.insert(rng.randrange(dup, len(stream)), stream[dup])
    by_topic: dict[str, list] = defaultdict(list)
    for key, value in stream:
        by_topic[topics.CUSTOMERS if json.loads(value)["type"] == "CustomerUpdated" else topics.GRADING].append((key, value))
    stream_ids = {json.loads(v)["id"] for _, v in stream}
    await asyncio.to_thread(complaints.wait_ready)
    await blast(world.bootstrap, world.topic(topics.CUSTOMERS), [event_bytes(snapshot(c, 1)) for c in ids])
    await eventually(lambda: count(world, "complaints", "SELECT count(*) FROM known_customers"), until=lambda v: v == len(ids))

    writer = HttpWriter(complaints.url, auth("desk-1", "rep", "team-east"))
    filed: dict[str, str] = {}  # complaint_id -> customer_id, for every 201

    async def file() -> None:
        n = 0
        while not writer.stop.is_set():
            body = {"customer_id": ids[n % len(ids)], "complainant": {"name": "王经理"}, "channel": "phone", "content": f"投诉 {n}: 交货延迟"}
            response = await writer.call("POST", "/complaints", body)
            if response is not None:
                assert response.status_code == 201, response.text
                filed[response.json()["complaint_id"]] = body["customer_id"]
            n += 1

    filing = asyncio.create_task(file())
    try:
        for topic in (topics.CUSTOMERS, topics.GRADING):  # each half of both topics, then the kill
            await blast(world.bootstrap, world.topic(topic), by_topic[topic][: len(by_topic[topic]) // 2])
        await kill_mid_stream(world, "complaints", complaints, at_least=len(ids) + len(stream) // 6)
        for topic in (topics.CUSTOMERS, topics.GRADING):
            await blast(world.bootstrap, world.topic(topic), by_topic[topic][len(by_topic[topic]) // 2 :])
        await restart(world, "complaints", writer, **env)
        filed_before = len(filed)
        await eventually(lambda: len(filed), until=lambda v: v >= filed_before + 20)
    finally:
        writer.stop.set()
        await filing
        await writer.close()
    assert writer.transport_errors > 0  # the process really died under the filers

    await eventually(lambda: count(world, "complaints", "SELECT count(*) FROM inbox"), until=lambda v: v == len(ids) + len(stream_ids), timeout=WAIT)
    await eventually(lambda: count(world, "complaints", "SELECT count(*) FROM outbox WHERE published_at IS NULL"), until=lambda v: v == 0)
    known = {
        r.customer_id: (r.revision, r.name, r.tier, r.tier_effective_at)
        for r in await world.rows("complaints", "SELECT customer_id, revision, name, tier, tier_effective_at FROM known_customers")
    }
    assert known == last

    stored = {r.complaint_id: (r.customer_id, r.tier) for r in await world.rows("complaints", "SELECT complaint_id, customer_id, tier FROM complaints")}
    assert set(filed) <= set(stored)
    assert {c: stored[c][0] for c in filed} == filed
    assert len(stored) - len(filed) <= writer.transport_errors  # committed, but the kill cut the answer
    event_ids: dict[str, set[str]] = defaultdict(set)
    announced: dict[str, tuple] = {}
    for d in await on_topic(world, topics.COMPLAINTS, "ComplaintFiled"):
        event_ids[d["data"]["complaint_id"]].add(d["id"])
        announced[d["data"]["complaint_id"]] = (d["data"]["customer_id"], d["data"]["tier"])
    assert {c: len(e) for c, e in event_ids.items()} == {c: 1 for c in stored}
    assert announced == stored


# --- 3. notifier -----------------------------------------------------------------------------------------


def visit(customer: str, visit_id: str, rep: str, at: datetime, *, first: bool, outcome: str, commitments: int = 0) -> events.VisitLogged:
    return events.VisitLogged(
        visit_id=visit_id, customer_id=customer, rep_id=rep, channel="on_site", started_at=at, first_visit=first, outcome=outcome,
        commitments=[{"party": "us", "content": f"报价 {visit_id}", "due_at": NOW + timedelta(days=10)} for _ in range(commitments)],
    )


async def test_notifier_killed_mid_stream_plans_each_follow_up_exactly_once(world):
    """3,000 CustomerUpdated and VisitLogged events for 60 customers (first visits, undecided outcomes,
    commitments, one change of owner each, some visits arriving before the customer); kill -9 mid-stream,
    restart. Per customer and kind exactly the expected follow-ups exist, all with the current owner,
    nothing stays parked, and the inbox holds each event once. (Scheduler off: the plan is what is checked.)"""
    await world.prepare("notifier")
    env = {"CONSUMER_BATCH_SIZE": "100", "SCHEDULER_ENABLED": "false"}
    notifier = world.start("notifier", **env)
    ids = [f"n-{i:02d}" for i in range(60)]
    expected: dict[tuple[str, str], int] = Counter()
    owner: dict[str, str] = {}
    stream: list[tuple[bytes, bytes]] = []
    lifecycles = ("prospect", "new", "existing")
    per_customer: dict[str, list[tuple[bytes, bytes]]] = {}
    for i, c in enumerate(ids):
        rep_a, rep_b = f"rep-{i % 4}", f"rep-{i % 4 + 10}"
        began = NOW - timedelta(days=2)
        seq: list[tuple[bytes, bytes]] = []
        first_pending = True
        if i % 5 == 0:  # a visit before the customer's first snapshot: parked, replayed when it arrives
            seq.append(event_bytes(visit(c, f"{c}-V0", rep_a, began, first=True, outcome="undecided")))
            expected[(c, "thank_you")] += 1
            expected[(c, "decision_call")] += 1
            first_pending = False
        revision = 1
        seq.append(event_bytes(snapshot(c, revision, owner=rep_a, lifecycle="prospect")))
        rep = rep_a
        for j in range(1, 49):
            if j % 2 == 1:
                outcome = ("interested", "undecided", "won")[j % 3]
                commitments = 1 if j % 6 == 1 else 0
                seq.append(event_bytes(visit(c, f"{c}-V{j}", rep, began + timedelta(minutes=j), first=first_pending, outcome=outcome, commitments=commitments)))
                expected[(c, "thank_you")] += first_pending
                expected[(c, "decision_call")] += outcome == "undecided"
                expected[(c, "commitment")] += commitments
                first_pending = False
            else:
                revision += 1
                rep = rep_b if j >= 24 else rep_a
                seq.append(event_bytes(snapshot(c, revision, owner=rep, lifecycle=lifecycles[(j // 2) % 3])))
        expected[(c, "cadence")] = 1
        owner[c] = rep_b
        per_customer[c] = seq
    for j in range(max(len(v) for v in per_customer.values())):  # interleave the customers
        stream.extend(per_customer[c][j] for c in ids if j < len(per_customer[c]))
    rng = random.Random(3)
    for dup in rng.sample(range(len(stream)), 100):
        stream.insert(rng.randrange(dup, len(stream)), stream[dup])
    stream_ids = {json.loads(v)["id"] for _, v in stream}
    await asyncio.to_thread(notifier.wait_ready)

    half = len(stream) // 2
    await blast(world.bootstrap, world.topic(topics.CUSTOMERS), stream[:half])
    await kill_mid_stream(world, "notifier", notifier, at_least=half // 3)
    await blast(world.bootstrap, world.topic(topics.CUSTOMERS), stream[half:])
    await restart(world, "notifier", **env)

    await eventually(lambda: count(world, "notifier", "SELECT count(*) FROM inbox"), until=lambda v: v == len(stream_ids), timeout=WAIT)
    rows = await world.rows("notifier", "SELECT customer_id, kind, state, rep_id FROM followups")
    assert Counter((r.customer_id, r.kind) for r in rows) == expected
    assert {(r.customer_id, r.rep_id) for r in rows} == set(owner.items())  # handed over to the new owner
    assert {r.state for r in rows} == {"scheduled"}
    assert await count(world, "notifier", "SELECT count(*) FROM parked_events") == 0
    assert dict(await world.rows("notifier", "SELECT customer_id, owner_rep_id FROM known_customers")) == owner


# --- 4. grading ------------------------------------------------------------------------------------------


async def test_grading_killed_while_tiers_change_publishes_each_transition_once(world):
    """Orders push 50 customers through C -> B -> A (thresholds); kill -9 mid-stream. Every order counts
    once, the tier equals the thresholds of the totals, and the TierChanged stream of each customer is one
    chain (old_tier of each = new_tier of the previous) ending at grading's tier, with no transition twice."""
    await world.prepare("grading")
    env = {"CONSUMER_BATCH_SIZE": "100", "RELAY_BATCH_SIZE": "50"}
    grading = world.start("grading", **env)
    customers = [f"g-{i:02d}" for i in range(1, 51)]
    unit = {c: Decimal(800 * i) for i, c in enumerate(customers, start=1)}  # 60 orders: 48,000 x i in total
    stream: list[tuple[bytes, bytes]] = []
    for k in range(60):  # round robin, so every customer crosses its thresholds mid-stream
        for c in customers:
            stream.append(event_bytes(order(c, f"{c}-SO-{k}", unit[c])))
            if k % 6 == 0:
                stream.append(event_bytes(payment(c, f"{c}-PAY-{k}", f"{c}-SO-{k}", unit[c])))
    rng = random.Random(7)
    for dup in rng.sample(range(len(stream)), 100):  # an ERP resending exactly the same message
        stream.insert(rng.randrange(dup, len(stream)), stream[dup])
    resent = [event_bytes(order(c, f"{c}-SO-3", unit[c])) for c in customers]  # same order, new event id
    distinct_ids = len({json.loads(v)["id"] for _, v in stream}) + len(resent)
    grading.wait_ready()

    half = len(stream) // 2
    await blast(world.bootstrap, world.topic(topics.ORDERS), stream[:half])
    await kill_mid_stream(world, "grading", grading, at_least=half // 3)
    await blast(world.bootstrap, world.topic(topics.ORDERS), stream[half:] + resent)
    world.start("grading", **env).wait_ready()

    await eventually(lambda: count(world, "grading", "SELECT count(*) FROM inbox"), until=lambda v: v == distinct_ids, timeout=WAIT)
    await eventually(lambda: count(world, "grading", "SELECT count(*) FROM outbox WHERE published_at IS NULL"), until=lambda v: v == 0)
    metrics = {
        r.customer_id: r
        for r in await world.rows("grading", "SELECT customer_id, order_count, purchases_total, purchases_12m, tier FROM grading_customer_metrics")
    }
    assert sorted(metrics) == customers
    for c in customers:
        assert (metrics[c].order_count, metrics[c].purchases_total, metrics[c].purchases_12m) == (60, unit[c] * 60, unit[c] * 60), c
        assert metrics[c].tier == threshold_tier(unit[c] * 60), c
    assert Counter(m.tier for m in metrics.values()) == {"A": 30, "B": 14, "C": 6}  # the stream covers every tier

    history = Counter(r.customer_id for r in await world.rows("grading", "SELECT customer_id FROM grading_tier_history"))
    assert_one_chain_per_customer(await on_topic(world, topics.GRADING, "TierChanged"), {c: m.tier for c, m in metrics.items()}, history)


# --- 5. PostgreSQL restart under load, whole stack -----------------------------------------------------------


async def test_postgres_restart_under_load_with_the_whole_stack_ends_in_the_expected_state(world):
    """The four services run while 2,500 ERP events flow (orders push 20 customers through the tiers, the
    TierChanged fan out to customers, complaints and notifier); PostgreSQL stops mid-stream and comes back.
    Nothing crashes, nothing is skipped or doubled: trading status, metrics, tiers in every read model, the
    TierChanged chains and the follow-ups of the visits are exactly those of a fault-free run."""
    postgres = world.infra.local_postgres
    if postgres is None:
        pytest.skip("needs the locally started PostgreSQL to restart it")
    await world.prepare()
    env = {"CONSUMER_BATCH_SIZE": "100", "RELAY_BATCH_SIZE": "50"}
    procs = {name: world.start(name, **env, **({"SCHEDULER_ENABLED": "false"} if name == "notifier" else {})) for name in ("customers", "grading", "complaints", "notifier")}
    for proc in procs.values():
        await asyncio.to_thread(proc.wait_ready)
    async with httpx.AsyncClient(base_url=procs["customers"].url, headers=REP, timeout=10) as client:
        ids = [(await client.post("/customers", json=card(i))).json()["customer_id"] for i in range(20)]
        for n, c in enumerate(ids):
            response = await client.post(f"/customers/{c}/visits", json={
                "visit_id": f"V-{n}", "channel": "on_site", "started_at": (NOW - timedelta(hours=2)).isoformat(), "outcome": "undecided",
            })
            assert response.status_code == 201, response.text

    unit = {c: Decimal(1000 * (i + 1)) for i, c in enumerate(ids)}  # 100 orders: 100,000 x (i + 1) in total
    stream = []
    for k in range(100):
        for c in ids:
            stream.append(event_bytes(order(c, f"{c}-SO-{k}", unit[c], due=DUE_PAST)))
            if k % 4 == 0:
                stream.append(event_bytes(payment(c, f"{c}-PAY-{k}", f"{c}-SO-{k}", unit[c])))
    third = len(stream) // 3
    topic = world.topic(topics.ORDERS)
    await blast(world.bootstrap, topic, stream[:third])
    await eventually(lambda: count(world, "grading", "SELECT count(*) FROM inbox"), until=lambda v: v >= third // 3, timeout=WAIT, interval=0.05)
    for engine in world._engines.values():  # our own pooled connections would die with the server
        await engine.dispose()
    postgres.stop()
    try:
        await blast(world.bootstrap, topic, stream[third : 2 * third])  # the broker is up: the stream flows on
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:  # every service retries meanwhile; none may crash
            assert {n: p.proc.poll() for n, p in procs.items()} == dict.fromkeys(procs), "a database outage must not crash a service"
            await asyncio.sleep(0.5)
    finally:
        postgres.start()
    await blast(world.bootstrap, topic, stream[2 * third :])

    await eventually(lambda: count(world, "grading", "SELECT sum(order_count) FROM grading_customer_metrics"), until=lambda v: v == 2000, timeout=WAIT)
    await eventually(lambda: count(world, "customers", "SELECT count(*) FROM customer_orders"), until=lambda v: v == 2000, timeout=WAIT)
    for name in procs:
        await eventually(lambda n=name: count(world, n, "SELECT count(*) FROM outbox WHERE published_at IS NULL"), until=lambda v: v == 0, timeout=WAIT)
    metrics = {r.customer_id: r for r in await world.rows("grading", "SELECT customer_id, order_count, purchases_total, tier FROM grading_customer_metrics")}
    assert sorted(metrics) == sorted(ids)
    tiers = {c: threshold_tier(unit[c] * 100) for c in ids}
    assert {c: (m.order_count, m.purchases_total, m.tier) for c, m in metrics.items()} == {c: (100, unit[c] * 100, tiers[c]) for c in ids}
    assert Counter(tiers.values()) == {"A": 11, "B": 7, "C": 2}
    assert await count(world, "grading", "SELECT count(*) FROM grading_payments") == 500
    history = Counter(r.customer_id for r in await world.rows("grading", "SELECT customer_id FROM grading_tier_history"))
    assert_one_chain_per_customer(await on_topic(world, topics.GRADING, "TierChanged"), tiers, history)

    # Every read model of the tier converges on grading's, the complaints desk files at it.
    read_models = {
        "customers": "SELECT customer_id, tier FROM customer_tiers",
        "complaints": "SELECT customer_id, tier FROM known_customers",
        "notifier": "SELECT customer_id, tier FROM known_customers",
    }
    for name, sql in read_models.items():
        await eventually(lambda n=name, q=sql: world.rows(n, q), until=lambda rows: dict(rows) == tiers, timeout=WAIT)
    async with httpx.AsyncClient(timeout=10) as client:
        for c in ids:
            trading = (await client.get(f"{procs['customers'].url}/customers/{c}", headers=REP)).json()["trading_status"]
            total = unit[c] * 100
            assert (trading["orders_12m"], trading["purchases_12m"], trading["overdue_orders"], trading["overdue_amount"]) == (
                100, f"{total:.2f}", 75, f"{total * 3 / 4:.2f}"
            ), c
            filed = await client.post(f"{procs['complaints'].url}/complaints", headers=ADMIN, json={
                "customer_id": c, "complainant": {"name": "李工"}, "channel": "phone", "content": "恢复后的投诉",
            })
            assert filed.status_code == 201, filed.text
            assert filed.json()["tier"] == tiers[c]
    followups = Counter((r.customer_id, r.kind) for r in await world.rows("notifier", "SELECT customer_id, kind FROM followups"))
    assert followups == {(c, kind): 1 for c in ids for kind in ("thank_you", "decision_call", "cadence")}
    assert {n: p.proc.poll() for n, p in procs.items()} == dict.fromkeys(procs)
