"""Fixtures: real PostgreSQL and broker (see tests/harness.py), isolated per run."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared import migrations
from shared.local import create_topics, free_port
from shared.stack import SERVICES, ServiceProcess, service_database_url
from tests.harness import Infrastructure, run_id, start_infrastructure


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    workdir = Path(tempfile.mkdtemp(prefix="crm-test-"))
    infrastructure = start_infrastructure(workdir)
    yield infrastructure
    infrastructure.close()
    shutil.rmtree(workdir, ignore_errors=True)


class World:
    """One isolated world: its own topics (prefix) and service databases, on the shared infrastructure."""

    def __init__(self, infra: Infrastructure, workdir: Path) -> None:
        self.infra = infra
        self.id = run_id()
        self.prefix = f"t{self.id}."
        self.db_prefix = f"crm_t{self.id}_"
        self.workdir = workdir
        self.processes: list[ServiceProcess] = []
        self._engines: dict[str, AsyncEngine] = {}
        self._databases: list[str] = []

    @property
    def bootstrap(self) -> str:
        return self.infra.kafka_bootstrap

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def database_url(self, service: str) -> str:
        return service_database_url(self.infra.database_url, service, db_prefix=self.db_prefix)

    def env(self, service: str, **overrides: str) -> dict[str, str]:
        p = service.upper()
        return {
            f"{p}_DATABASE_URL": self.database_url(service),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CRM_TOPIC_PREFIX": self.prefix,
            f"{p}_LOG_JSON": "true",
            f"{p}_RETRY_MAX_SECONDS": "1",
            # a killed process's partitions move after 3 s instead of 10 s: the fault tests wait less
            f"{p}_CONSUMER_SESSION_TIMEOUT_MS": "3000",
            # keys are suffixed to the service prefix (FAULT_POINT -> GRADING_FAULT_POINT) except global CRM_* ones
            **{k if k.startswith((f"{p}_", "CRM_")) else f"{p}_{k}": v for k, v in overrides.items()},
        }

    async def prepare(self, *services: str) -> None:
        await create_topics(self.bootstrap, prefix=self.prefix, partitions=3)
        for service in services or tuple(SERVICES):
            await migrations.upgrade_async(service, self.database_url(service))
            self._databases.append(self.database_url(service))

    def start(self, service: str, **overrides: str) -> ServiceProcess:
        proc = ServiceProcess(service, free_port(), self.env(service, **overrides), self.workdir / f"{service}-{len(self.processes)}.log")
        proc.start()
        self.processes.append(proc)
        return proc

    def engine(self, service: str) -> AsyncEngine:
        if service not in self._engines:
            self._engines[service] = create_async_engine(self.database_url(service), pool_size=2)
        return self._engines[service]

    async def scalar(self, service: str, sql: str, **params: object) -> object:
        async with self.engine(service).connect() as conn:
            return await conn.scalar(sa.text(sql), params)

    async def rows(self, service: str, sql: str, **params: object) -> list[sa.Row]:
        async with self.engine(service).connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).all())

    async def close(self) -> None:
        for proc in self.processes:
            proc.kill()
        for engine in self._engines.values():
            await engine.dispose()
        for url in self._databases:
            await migrations.drop_database(url)


@pytest.fixture
async def world(infra: Infrastructure, tmp_path: Path) -> AsyncIterator[World]:
    w = World(infra, tmp_path)
    yield w
    await w.close()


@pytest.fixture(scope="session")
def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    return asyncio.DefaultEventLoopPolicy()
