"""Grading ingest benchmark: sustained OrderPlaced through a real grading process, and OrderPlaced -> TierChanged latency.

Figures (same run, same machine):
- grading ingest (decode, inbox, orders + counters, windowed metrics, tier, outbox per batch)
  vs raw aiokafka consume of the same topic, and vs the batched order upsert alone (no broker, no grading)
- OrderPlaced -> TierChanged latency p50 / p99 at a fixed offered rate (every order lifts a new customer to A)
  vs the raw broker produce -> consume latency at the same rate
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from bench.backbone import raw_consume
from bench.common import Report, args, percentile, workdir
from services.grading.handlers import RECORD_ORDERS
from services.grading.settings import GradingSettings
from shared import events, migrations, topics
from shared.local import create_topics, free_port
from shared.stack import ServiceProcess, service_database_url
from tests.harness import start_infrastructure

NOW = datetime.now(timezone.utc)


def order_event(i: int, customers: int, rng: random.Random, amount: str | None = None, customer: str | None = None) -> bytes:
    data = events.OrderPlaced(
        order_id=f"SO-{i}",
        customer_id=customer or f"c-{rng.randrange(customers)}",
        amount=Decimal(amount or f"{rng.randint(100, 200000)}.00"),
        cost=None,
        placed_at=NOW - timedelta(days=rng.randint(0, 700)),
        payment_due=None,
    )
    return events.encode(events.new_event(data, source="bench/erp", subject=data.customer_id))


async def produce_all(bootstrap: str, topic: str, payloads: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=p, key=json.loads(p)["subject"].encode(), headers=[("content-type", events.CONTENT_TYPE.encode())])
            for p in payloads
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_upsert_rate(url: str, payloads: list[bytes], batch: int) -> float:
    """The set-based order upsert alone: one transaction per batch, no broker, no inbox, no grading."""
    engine = create_async_engine(url)
    decoded = [events.decode(p)[1] for p in payloads]
    started = time.perf_counter()
    async with engine.connect() as conn:
        for k in range(0, len(decoded), batch):
            chunk = decoded[k : k + batch]
            async with conn.begin():
                await conn.execute(
                    RECORD_ORDERS,
                    {
                        "order_id": [o.order_id for o in chunk], "customer_id": [o.customer_id for o in chunk],
                        "amount": [o.amount for o in chunk], "cost": [o.cost for o in chunk],
                        "placed_at": [o.placed_at for o in chunk], "payment_due": [o.payment_due for o in chunk],
                    },
                )
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return len(decoded) / elapsed


async def wait_count(url: str, sql: str, target: int, timeout: float) -> float:
    engine = create_async_engine(url, pool_size=1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                if (await conn.scalar(sa.text(sql))) >= target:
                    return time.perf_counter()
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    raise TimeoutError(f"{sql} did not reach {target}")


async def offered_latency(bootstrap: str, source: str, sink: str, rate: int, seconds: float, make) -> list[float]:
    """Produce `rate` events/s to `source` for `seconds`; latency = arrival on `sink` (keyed by subject) - send time."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    consumer = AIOKafkaConsumer(sink, bootstrap_servers=bootstrap, group_id=f"lat-{uuid.uuid4().hex[:6]}", auto_offset_reset="latest")
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=200)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=1)
    await producer.start()
    total = int(rate * seconds)

    async def feed() -> None:
        started = time.perf_counter()
        for i in range(total):
            key, value = make(i)
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            sent[key] = time.perf_counter()
            await producer.send(source, value=value, key=key.encode(), headers=[("content-type", events.CONTENT_TYPE.encode())])
        await producer.flush()

    async def collect() -> None:
        deadline = time.monotonic() + seconds + 60
        while len(latencies) < total and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    key = r.key.decode()
                    if key in sent:
                        latencies.append(now - sent.pop(key))

    await asyncio.gather(feed(), collect())
    await producer.stop()
    await consumer.stop()
    return latencies


async def run(scale: str) -> Report:
    n, customers = (20_000, 2_000) if scale == "small" else (300_000, 30_000)
    rate, seconds = 1000, (5 if scale == "small" else 30)
    report = Report("grading_ingest", scale)
    work = workdir()
    infra = start_infrastructure(work)
    proc = None
    try:
        prefix = f"b{uuid.uuid4().hex[:6]}."
        await create_topics(infra.kafka_bootstrap, prefix=prefix)  # as `crm up` creates them: 6 partitions each
        url = service_database_url(infra.database_url, "grading", db_prefix=f"crm_{prefix[:-1]}_")
        raw_url = service_database_url(infra.database_url, "grading", db_prefix=f"crm_{prefix[:-1]}_raw_")
        await migrations.upgrade_async("grading", url)
        await migrations.upgrade_async("grading", raw_url)
        rng = random.Random(7)
        payloads = [order_event(i, customers, rng) for i in range(n)]
        orders_topic = prefix + topics.ORDERS
        await produce_all(infra.kafka_bootstrap, orders_topic, payloads)

        consume_rate = await raw_consume(infra.kafka_bootstrap, orders_topic, n)
        upsert_rate = await raw_upsert_rate(raw_url, payloads, 2000)

        env = {
            "GRADING_DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "CRM_TOPIC_PREFIX": prefix,
            "GRADING_CONSUMER_BATCH_SIZE": "2000", "GRADING_LOG_LEVEL": "WARNING",
        }
        proc = ServiceProcess("grading", free_port(), env, work / "grading.log")
        started = time.perf_counter()
        proc.start()
        proc.wait_ready()
        ready = time.perf_counter()
        first = await wait_count(url, "SELECT count(*) FROM inbox", 1, 120)
        done = await wait_count(url, "SELECT count(*) FROM inbox", n, 600)
        ingest_rate = n / (done - first)
        report.add("grading ingest OrderPlaced (batched, graded)", ingest_rate, "events/s", "raw aiokafka consume", consume_rate)
        report.add("grading ingest OrderPlaced (batched, graded)", ingest_rate, "events/s", "batched order upsert alone", upsert_rate)
        report.notes.append(
            f"{n} events over {customers} customers on 6 partitions; one grading process, "
            f"{GradingSettings().consumer_members} consumer group members, batches of up to 2000; "
            f"service start to ready {ready - started:.1f}s (not counted)"
        )

        big = "1500000.00"
        latencies = await offered_latency(
            infra.kafka_bootstrap, orders_topic, prefix + topics.GRADING, rate, seconds,
            lambda i: (f"lat-{i}", order_event(n + i, 1, rng, amount=big, customer=f"lat-{i}")),
        )
        probe_topic = prefix + topics.NOTIFICATIONS  # an idle topic for the raw broker round trip
        raw = await offered_latency(
            infra.kafka_bootstrap, probe_topic, probe_topic, rate, seconds,
            lambda i: (f"raw-{i}", b"{}"),
        )
        for p in (50, 99):
            report.add(
                f"OrderPlaced -> TierChanged p{p} at {rate}/s", percentile(latencies, p) * 1000, "ms",
                "raw broker produce -> consume", percentile(raw, p) * 1000,
            )
        report.notes.append(f"latency samples: {len(latencies)} of {int(rate * seconds)} offered")
    finally:
        if proc is not None:
            proc.kill()
        infra.close()
    return report


def main() -> None:
    opts = args(__doc__.splitlines()[0])
    report = asyncio.run(run(opts.scale))
    report.print()
    print(f"saved {report.save()}")


if __name__ == "__main__":
    main()
