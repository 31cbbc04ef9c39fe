"""Backbone benchmark: the outbox relay and the consumer chassis against the raw broker and database.

Figures (same run, same machine):
- outbox relay publish rate        vs  raw aiokafka produce rate
- consumer chassis apply rate      vs  raw aiokafka consume rate and raw batched upsert rate
  (a real notifier process applying CustomerUpdated events: decode, validate, inbox, upsert, commit)
- one-transaction-per-row insert rate (why batches matter)
"""

from __future__ import annotations

import asyncio
import time
import uuid

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Report, args, workdir
from shared import events, migrations, topics
from shared.db import outbox, session_factory
from shared.local import create_topics, free_port
from shared.outbox import OutboxRelay
from shared.stack import ServiceProcess, service_database_url
from tests.harness import start_infrastructure


def customer_event(i: int) -> events.CloudEvent:
    data = events.CustomerUpdated(
        customer_id=f"c-{i}", number=f"N-{i}", name=f"客户{i}", owner_rep_id=f"rep-{i % 50}",
        team_id=f"team-{i % 5}", strategic_partner=False, high_potential=False, lifecycle="existing", revision=1,
    )
    return events.new_event(data, source="bench", subject=f"c-{i}")


async def raw_produce(bootstrap: str, topic: str, payloads: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2)
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topic, value=p, key=str(i).encode()) for i, p in enumerate(payloads)]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    await producer.stop()
    return len(payloads) / elapsed


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got, started = 0, None
    while got < n:
        batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
        if batch and started is None:
            started = time.perf_counter()
        got += sum(len(v) for v in batch.values())
    await consumer.commit()
    elapsed = time.perf_counter() - (started or time.perf_counter())
    await consumer.stop()
    return n / elapsed


async def db_rates(url: str, n: int) -> tuple[float, float]:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_rows (id text PRIMARY KEY, name text, n int)"))
        await conn.execute(sa.text("TRUNCATE bench_rows"))
    single = min(n, 2000)
    started = time.perf_counter()
    for i in range(single):
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO bench_rows VALUES (:id, :name, 1)"), {"id": f"s{i}", "name": "x"})
    per_txn = single / (time.perf_counter() - started)
    rows = [{"id": f"b{i}", "name": f"客户{i}"} for i in range(n)]
    started = time.perf_counter()
    for k in range(0, n, 500):
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("INSERT INTO bench_rows VALUES (:id, :name, 1) ON CONFLICT (id) DO UPDATE SET n = bench_rows.n + 1"),
                rows[k : k + 500],
            )
    batched = n / (time.perf_counter() - started)
    await engine.dispose()
    return per_txn, batched


async def relay_rate(url: str, bootstrap: str, prefix: str, evs: list[events.CloudEvent]) -> float:
    from services.notifier.settings import NotifierSettings

    settings = NotifierSettings(database_url=url, kafka_bootstrap_servers=bootstrap, topic_prefix=prefix, relay_batch_size=1000)
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    async with engine.begin() as conn:
        for k in range(0, len(evs), 1000):
            await conn.execute(
                sa.insert(outbox),
                [{"event_id": e.id, "topic": topics.CUSTOMERS, "key": e.subject, "event_type": e.type, "payload": events.encode(e)} for e in evs[k : k + 1000]],
            )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2)
    await producer.start()
    relay = OutboxRelay(sessions=sessions, producer=producer, settings=settings)
    started = time.perf_counter()
    while await relay.relay_once():
        pass
    elapsed = time.perf_counter() - started
    await producer.stop()
    await engine.dispose()
    return len(evs) / elapsed


async def chassis_rate(infra, prefix: str, db_prefix: str, n: int, tmp) -> float:  # type: ignore[no-untyped-def]
    url = service_database_url(infra.database_url, "notifier", db_prefix=db_prefix)
    proc = ServiceProcess("notifier", free_port(), {
        "NOTIFIER_DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "CRM_TOPIC_PREFIX": prefix,
        "NOTIFIER_CONSUMER_BATCH_SIZE": "1000", "NOTIFIER_LOG_LEVEL": "WARNING",
    }, tmp / "notifier.log")
    proc.start()
    proc.wait_ready()
    engine = create_async_engine(url)
    started = time.perf_counter()
    first = None
    while True:
        async with engine.connect() as conn:
            done = await conn.scalar(sa.text("SELECT count(*) FROM inbox"))
        if done and first is None:
            first = time.perf_counter()
        if done >= n:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - (first or started)
    proc.stop()
    await engine.dispose()
    return n / elapsed


async def run(scale: str) -> Report:
    n = 20_000 if scale == "small" else 100_000
    tmp = workdir()
    infra = start_infrastructure(tmp)
    report = Report("backbone", scale)
    try:
        run = uuid.uuid4().hex[:6]
        prefix, db_prefix = f"b{run}.", f"crm_b{run}_"
        await create_topics(infra.kafka_bootstrap, prefix=prefix, partitions=6)
        await create_topics(infra.kafka_bootstrap, prefix=f"raw{run}.", partitions=6)
        url = service_database_url(infra.database_url, "notifier", db_prefix=db_prefix)
        await migrations.upgrade_async("notifier", url)
        evs = [customer_event(i) for i in range(n)]
        payloads = [events.encode(e) for e in evs]

        produce = await raw_produce(infra.kafka_bootstrap, f"raw{run}.{topics.CUSTOMERS}", payloads)
        consume = await raw_consume(infra.kafka_bootstrap, f"raw{run}.{topics.CUSTOMERS}", n)
        per_txn, batched = await db_rates(url, n)
        relay = await relay_rate(url, infra.kafka_bootstrap, prefix, evs)
        chassis = await chassis_rate(infra, prefix, db_prefix, n, tmp)

        report.add("outbox relay publish", relay, "events/s", "raw aiokafka produce (acks=all)", produce)
        report.add("consumer chassis apply (notifier process)", chassis, "events/s", "raw aiokafka consume", consume)
        report.add("consumer chassis apply (notifier process)", chassis, "events/s", "raw batched upsert (500/txn)", batched)
        report.add("one transaction per row", per_txn, "rows/s", "raw batched upsert (500/txn)", batched)
        report.notes.append(f"{n:,} CustomerUpdated events of ~{sum(map(len, payloads)) // n} bytes; broker {infra.kafka_bootstrap}")
    finally:
        infra.close()
    return report


def main() -> None:
    report = asyncio.run(run(args("Backbone: outbox relay and consumer chassis vs raw broker and database").scale))
    report.print()
    print(f"results: {report.save()}")


if __name__ == "__main__":
    main()
