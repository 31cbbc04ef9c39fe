"""Service chassis: a FastAPI app that also runs the FastStream broker, the consumers and the outbox relay.

Every service is `create_app(ServiceSpec(...))`; a service folder holds only its own rules.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import errors, events, logs
from shared.consumer import EventConsumer, Handler
from shared.db import create_engine, session_factory
from shared.metrics import HTTP_REQUESTS, HTTP_SECONDS
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


@dataclass
class ServiceSpec:
    settings: ServiceSettings
    title: str
    description: str
    # topic -> {event type -> handler}
    consumes: dict[str, dict[str, Handler]] = field(default_factory=dict)
    publishes: list[str] = field(default_factory=list)  # event types, for the AsyncAPI document
    routers: list[APIRouter] = field(default_factory=list)
    # long-running jobs (schedulers); each gets the runtime and runs until cancelled
    background: list[Callable[[Runtime], Awaitable[None]]] = field(default_factory=list)


class Runtime:
    """What a running service holds: database, producer, broker, relay, consumers."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.settings = spec.settings
        self.engine = create_engine(self.settings.database_url)
        self.sessions = session_factory(self.engine)
        self.producer: AIOKafkaProducer | None = None  # aiokafka objects must be born inside the event loop
        self.broker = self._new_broker()
        # One broker per consumer group member: FastStream starts a broker's subscribers one after the other
        # and each start waits for its group join; members on their own brokers join the group together.
        members = self.settings.consumer_members if spec.consumes and self.settings.consumer_enabled else 1
        self.brokers = [self.broker] + [self._new_broker() for _ in range(members - 1)]
        self.relay = OutboxRelay(sessions=self.sessions, producer=None, settings=self.settings)
        self.consumers = (
            [
                EventConsumer(
                    handlers=spec.consumes,
                    sessions=self.sessions,
                    producer=None,
                    settings=self.settings,
                    after_commit=self.relay.wake,
                )
            ]
            if spec.consumes
            else []
        )
        if self.settings.consumer_enabled:
            for consumer in self.consumers:
                for broker in self.brokers:
                    consumer.register(broker)
        for event_type in spec.publishes:
            model, topic = events.EVENT_TYPES[event_type]
            self.broker.publisher(
                self.settings.topic(topic),
                title=f"{self.settings.topic(topic)}:{event_type}",
                description=(model.__doc__ or event_type).strip(),
                schema=model,
            )
        self.tasks: list[asyncio.Task[Any]] = []

    def _new_broker(self) -> KafkaBroker:
        return KafkaBroker(
            self.settings.kafka_bootstrap_servers,
            client_id=f"crm-{self.settings.service}",
            graceful_timeout=30,
            enable_idempotence=False,
            log_level=logging.DEBUG,  # per-message "Received/Processed" lines only when debugging
        )

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"crm-{self.settings.service}",
            acks="all",
            enable_idempotence=False,  # the local broker (Tansu) has no idempotent producers; outbox + inbox suffice
            linger_ms=2,
            request_timeout_ms=int(self.settings.publish_timeout_seconds * 1000),
        )
        self.relay.producer = self.producer
        for consumer in self.consumers:
            consumer.producer = self.producer
        await self._until_up("producer", self.producer.start)
        await asyncio.gather(*(self._until_up("broker", broker.start) for broker in self.brokers))
        if self.settings.relay_enabled:
            self.tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        for job in self.spec.background:
            self.tasks.append(asyncio.create_task(job(self), name=getattr(job, "__name__", "job")))
        # Everything built so far (modules, app, models, engine) lives as long as the process: keep it out of the
        # cyclic garbage collector's generations, which otherwise re-walks it on every collection of a hot path.
        gc.collect()
        gc.freeze()
        log.info("service started", port=self.settings.http_port)

    async def _until_up(self, what: str, start: Callable[[], Awaitable[Any]]) -> None:
        delay = 0.5
        while True:
            try:
                await start()
                return
            except Exception as exc:
                log.warning(f"{what} not reachable yet; retrying", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def stop(self) -> None:
        """Graceful: the consumers finish the batch in hand and commit, the relay its batch; then exit."""
        for consumer in self.consumers:
            consumer.stopping = True
        self.relay.stop()
        await asyncio.gather(*(broker.stop() for broker in self.brokers))
        for task in self.tasks:
            if task.get_name() != "outbox-relay":
                task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.producer is not None:
            await self.producer.stop()
        await self.engine.dispose()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2):
                async with self.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            ok = await self.broker.ping(timeout=2)
            checks["broker"] = "ok" if ok else "unreachable"
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}"
        return checks

    def asyncapi(self) -> dict[str, Any]:
        return AsyncAPI(
            self.broker,
            title=self.spec.title,
            version="1.0.0",
            description=self.spec.description,
        ).to_specification().to_jsonable()


def create_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    logs.configure(service=settings.service, level=settings.log_level, json=settings.log_json)
    runtime = Runtime(spec)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=spec.title, description=spec.description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    errors.install(app)

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        HTTP_REQUESTS.labels(settings.service, request.method, route, response.status_code).inc()
        HTTP_SECONDS.labels(settings.service, request.method, route).observe(time.perf_counter() - started)
        return response

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": settings.service}

    @app.get("/ready", tags=["operations"], summary="Readiness: database and broker reachable")
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not_ready", **checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI document of this service's events")
    async def asyncapi() -> dict[str, Any]:
        return runtime.asyncapi()

    for router in spec.routers:
        app.include_router(router)
    return app


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime
