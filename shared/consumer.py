"""The consumer chassis: batches, idempotency, dead letters, retries. Written once, used by every service.

Per batch of Kafka records:
1. each record is decoded and validated against the contract; what can never be
   applied goes to `<topic>.dlq` with the reason in headers (and the partition moves on);
2. the valid events are applied in ONE database transaction together with their
   ids in the `inbox` table, so a redelivered event changes nothing;
3. only then are the Kafka offsets committed (manual ack; never ACK_FIRST).
A service whose handlers are safe to run side by side (`consumer_members` > 1) joins its consumer group with
that many members in one process: the group splits the partitions between them, and each member consumes,
applies and commits its own partitions as above, concurrently with the others.
Transient failures (database or broker unreachable) retry the same batch with
backoff forever; nothing is skipped. A handler that rejects one event as
invalid sends only that event to the DLQ.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import events
from shared.events import CloudEvent, EventData, InvalidEvent
from shared.metrics import (
    BATCH_SECONDS,
    CONSUMER_RETRIES,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
)
from shared.settings import ServiceSettings
from shared.topics import dlq

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, CloudEvent, Any], Awaitable[None]]
# A batched handler takes a run of consecutive events of the batch routed to it, in order: list[(envelope, data)].
BatchHandler = Callable[[AsyncSession, list[tuple[CloudEvent, Any]]], Awaitable[None]]


def batched(fn: BatchHandler) -> Handler:
    """Mark a handler as set-based: it is called once per run of consecutive events routed to it (for throughput)."""
    fn.batched = True  # type: ignore[attr-defined]
    return fn  # type: ignore[return-value]


@dataclass(frozen=True)
class Received:
    record: ConsumerRecord
    envelope: CloudEvent
    data: EventData
    handler: Handler


# One cached statement claims a whole batch of event ids; those returned are new (not yet applied).
CLAIM = sa.text(
    "INSERT INTO inbox (consumer, event_id, event_type) "
    "SELECT :consumer, e, t FROM unnest(CAST(:ids AS text[]), CAST(:types AS text[])) AS u(e, t) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


class Stopping(Exception):
    """Shutdown arrived while a batch was still failing: leave it uncommitted for redelivery."""


def is_transient(exc: BaseException) -> bool:
    """Errors that will pass by themselves: retry, never skip."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        exc = exc.orig if exc.orig is not None else exc
        cause = getattr(exc, "__cause__", None)
        if cause is not None and is_transient(cause):
            return True
    return isinstance(
        exc,
        (
            OSError,
            ConnectionError,
            TimeoutError,
            asyncio.TimeoutError,
            KafkaError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError,
            asyncpg.SerializationError,
            asyncpg.DeadlockDetectedError,
            asyncpg.InterfaceError,
        ),
    )


def _no_body(message: Any) -> None:
    """FastStream would json-parse every record of a batch for a body argument the handler does not take."""
    return None


class EventConsumer:
    """Consumes a service's topics (one subscriber, one consumer group) with the guarantees above."""

    def __init__(
        self,
        *,
        handlers: dict[str, dict[str, Handler]],  # topic -> event type -> handler
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer | None,
        settings: ServiceSettings,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        for topic, by_type in handlers.items():
            wrong = [t for t in by_type if t not in events.EVENT_TYPES or events.topic_of(t) != topic]
            if wrong:
                raise ValueError(f"{topic}: handlers for event types not on this topic in the contract: {wrong}")
        self.handlers = handlers
        self.topic = ",".join(handlers)  # for metrics and logs
        self.sessions = sessions
        self.producer = producer
        self.settings = settings
        self.consumer_name = settings.service
        self.after_commit = after_commit
        self.stopping = False

    def register(self, broker: KafkaBroker) -> None:
        """Subscribe on `broker` as a member of the service's consumer group (several members: a broker each)."""
        subscriber = broker.subscriber(
            *(self.settings.topic(t) for t in self.handlers),
            group_id=self.settings.group_id,
            batch=True,
            max_records=self.settings.consumer_batch_size,
            batch_timeout_ms=50,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=max(300, self.settings.consumer_session_timeout_ms // 4),
            ack_policy=AckPolicy.MANUAL,
            decoder=_no_body,  # records are decoded (and validated) by `sort`, not parsed twice
            title=f"{self.settings.service}:{self.topic}",
            description="Handles " + "; ".join(f"{t}: {', '.join(h)}" for t, h in self.handlers.items()),
        )

        async def on_batch(message: KafkaMessage = Context("message")) -> None:
            await self.on_batch(message)

        subscriber(on_batch)

    async def on_batch(self, message: KafkaMessage) -> None:
        raw = message.raw_message
        records: Sequence[ConsumerRecord] = raw if isinstance(raw, tuple) else (raw,)
        try:
            await self.process(records)
        except BaseException:
            # Seek back to the batch start so no later ack can commit past it.
            await message.nack()
            raise
        await message.ack()

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        started = time.perf_counter()
        valid, poison = self.sort(records)
        if poison:
            await self.retrying(lambda: self.dead_letter(poison))
        if valid:
            await self.retrying(lambda: self.apply(valid))
            if self.after_commit:
                self.after_commit()
        BATCH_SECONDS.labels(self.settings.service, self.topic).observe(time.perf_counter() - started)

    def sort(self, records: Sequence[ConsumerRecord]) -> tuple[list[Received], list[tuple[ConsumerRecord, InvalidEvent]]]:
        valid: list[Received] = []
        poison: list[tuple[ConsumerRecord, InvalidEvent]] = []
        for record in records:
            topic = record.topic.removeprefix(self.settings.topic_prefix)
            try:
                envelope, data = events.decode(record.value)
                if events.topic_of(envelope.type) != topic:
                    raise InvalidEvent("wrong_topic", f"{envelope.type} belongs on {events.topic_of(envelope.type)}")
            except InvalidEvent as exc:
                poison.append((record, exc))
                continue
            handler = self.handlers.get(topic, {}).get(envelope.type)
            if handler is not None:  # contract types this service does not need are skipped
                valid.append(Received(record, envelope, data, handler))
        return valid, poison

    async def retrying(self, attempt: Callable[[], Awaitable[None]]) -> None:
        delay = self.settings.retry_initial_seconds
        while True:
            try:
                await attempt()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if self.stopping:
                    raise Stopping() from exc
                CONSUMER_RETRIES.labels(self.settings.service, self.topic).inc()
                log.warning("transient failure; retrying batch", topic=self.topic, error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)

    async def apply(self, batch: list[Received]) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await self.apply_in(session, batch)
        except Exception as exc:
            if is_transient(exc):
                raise
            # Someone in the batch is bad: isolate it, one transaction per event.
            log.warning("batch failed; applying one by one", topic=self.topic, error=repr(exc))
            for item in batch:
                try:
                    async with self.sessions() as session, session.begin():
                        await self.apply_in(session, [item])
                except Exception as one_exc:
                    if is_transient(one_exc):
                        raise
                    reason = one_exc if isinstance(one_exc, InvalidEvent) else InvalidEvent("handler_error", repr(one_exc))
                    await self.dead_letter([(item.record, reason)])

    async def apply_in(self, session: AsyncSession, batch: list[Received]) -> None:
        unique: dict[str, Received] = {}
        for item in batch:
            unique.setdefault(item.envelope.id, item)
        claimed = set(
            (
                await session.execute(
                    CLAIM,
                    {
                        "consumer": self.consumer_name,
                        "ids": list(unique),
                        "types": [i.envelope.type for i in unique.values()],
                    },
                )
            ).scalars()
        )
        duplicates = len(batch) - len(claimed)
        if duplicates:
            EVENTS_DUPLICATE.labels(self.settings.service, self.topic).inc(duplicates)
        # Batch order is kept: consecutive events of one batched handler form a run applied in one call;
        # any other event first flushes the run, so a customer's events are applied in the order they came.
        run_handler: Any = None
        run: list[tuple[CloudEvent, Any]] = []
        consumed: Counter[tuple[str, str]] = Counter()
        for event_id, item in unique.items():
            if event_id not in claimed:
                continue
            if run and item.handler is not run_handler:
                await run_handler(session, run)
                run = []
            if getattr(item.handler, "batched", False):
                run_handler = item.handler
                run.append((item.envelope, item.data))
            else:
                await item.handler(session, item.envelope, item.data)
            consumed[item.record.topic, item.envelope.type] += 1
        if run:
            await run_handler(session, run)
        for (topic, event_type), count in consumed.items():
            EVENTS_CONSUMED.labels(self.settings.service, topic, event_type).inc(count)

    async def dead_letter(self, poison: list[tuple[ConsumerRecord, InvalidEvent]]) -> None:
        futures = []
        for record, error in poison:
            headers = list(record.headers or ()) + [
                ("x-dlq-reason", error.reason.encode()),
                ("x-dlq-error", error.detail.encode("utf-8", "replace")[:4000]),
                ("x-dlq-service", self.settings.service.encode()),
                ("x-original-topic", record.topic.encode()),
                ("x-original-partition", str(record.partition).encode()),
                ("x-original-offset", str(record.offset).encode()),
            ]
            futures.append(
                await self.producer.send(dlq(record.topic), value=record.value, key=record.key, headers=headers)
            )
            log.warning("dead-lettered", topic=record.topic, offset=record.offset, reason=error.reason, error=error.detail)
        await asyncio.wait_for(asyncio.gather(*futures), self.settings.publish_timeout_seconds)
        for record, error in poison:
            EVENTS_DEAD_LETTERED.labels(self.settings.service, record.topic, error.reason).inc()

