"""Real infrastructure for tests: PostgreSQL and a Kafka-protocol broker.

Found in this order (architecture.md, Tests): environment variables
(CRM_TEST_DATABASE_URL or DATABASE_URL; KAFKA_BOOTSTRAP_SERVERS); testcontainers
when a Docker engine answers; otherwise started locally like `crm up`
(embedded PostgreSQL, Tansu). Each run isolates itself with its own topic
prefix and database names, so reruns and parallel runs do not collide.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared import events
from shared.local import LocalBroker, LocalPostgres, free_port


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@dataclass
class Infrastructure:
    database_url: str  # server URL (any database); services get their own databases
    kafka_bootstrap: str
    local_broker: LocalBroker | None = None
    local_postgres: LocalPostgres | None = None
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for fn in reversed(self._cleanup):
            try:
                fn()
            except Exception:
                pass


def start_infrastructure(workdir: Path) -> Infrastructure:
    cleanup: list[Callable[[], None]] = []
    db_url = os.environ.get("CRM_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    local_pg = local_broker = None
    use_docker = (db_url is None or kafka is None) and docker_answers()
    if db_url is None:
        if use_docker:
            from testcontainers.postgres import PostgresContainer

            pg = PostgresContainer("postgres:17", driver="asyncpg").start()
            cleanup.append(pg.stop)
            db_url = pg.get_connection_url()
        else:
            local_pg = LocalPostgres(workdir / "pgdata", free_port())
            local_pg.start()
            cleanup.append(local_pg.stop)
            db_url = local_pg.url
    if kafka is None:
        if use_docker:
            from testcontainers.kafka import KafkaContainer

            kc = KafkaContainer().with_kraft().start()
            cleanup.append(kc.stop)
            kafka = kc.get_bootstrap_server()
        else:
            local_broker = LocalBroker(free_port(), workdir / "broker.log")
            local_broker.start()
            cleanup.append(local_broker.stop)
            kafka = local_broker.bootstrap
    return Infrastructure(db_url, kafka, local_broker, local_pg, cleanup)


def run_id() -> str:
    return uuid.uuid4().hex[:8]


async def eventually(
    check: Callable[[], Any], *, until: Callable[[Any], bool] = bool, timeout: float = 60, interval: float = 0.2
) -> Any:
    """Poll `check()` (sync or async) until `until(value)` holds; fail after `timeout` seconds of waiting."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if until(last):
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


async def read_topic(bootstrap: str, topic: str, *, idle_ms: int = 1500) -> list[Any]:
    """Every record currently on `topic` (all partitions), without joining a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        meta = await consumer._client.fetch_all_metadata()  # noqa: SLF001
        partitions = meta.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps):
                break
            batch = await consumer.getmany(timeout_ms=idle_ms)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(
                topic, value=value, key=key, headers=[("content-type", events.CONTENT_TYPE.encode())]
            )
    finally:
        await producer.stop()


def event_bytes(data: events.EventData, *, event_id: str | None = None, source: str = "test/erp") -> tuple[bytes, bytes]:
    event = events.new_event(data, source=source, subject=getattr(data, "customer_id", None))
    if event_id:
        event = event.model_copy(update={"id": event_id})
    return (getattr(data, "customer_id", "k")).encode(), events.encode(event)


def auth(user: str = "admin", role: str = "admin", team: str | None = None) -> dict[str, str]:
    """Authorization header for a user (tests share the services' default CRM_AUTH_SECRET)."""
    from shared.auth import mint

    return {"Authorization": f"Bearer {mint(user, role, team)}"}  # type: ignore[arg-type]


ADMIN = auth()


def cloud_events(records: list[Any]) -> list[dict]:
    return [json.loads(r.value) for r in records]
