"""The whole system as processes: infrastructure (local or given), topics, migrations, four services."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from shared import migrations
from shared.local import LocalBroker, LocalPostgres, create_topics, port_open, stop_process

SERVICES: dict[str, int] = {"customers": 8001, "grading": 8002, "complaints": 8003, "notifier": 8004}
ROOT = Path(__file__).resolve().parent.parent


def service_database_url(server_url: str, service: str, *, db_prefix: str = "crm_") -> str:
    """Each service owns its database on the shared server: crm_customers, crm_grading, ..."""
    url = make_url(server_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+asyncpg")
    return url.set(database=f"{db_prefix}{service}").render_as_string(hide_password=False)


class ServiceProcess:
    """One service as its own OS process (python -m shared.cli serve <name>)."""

    def __init__(self, name: str, port: int, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = port
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, f"{self.name.upper()}_HTTP_PORT": str(self.port)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "serve", self.name],
            env=env,
            cwd=ROOT,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log {self.log}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready within {timeout}s; log {self.log}")

    def stop(self) -> None:
        """Graceful: SIGTERM lets the service finish its batch and commit."""
        stop_process(self.proc, signal.SIGTERM, timeout=40)

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class Stack:
    data_dir: Path
    database_url: str | None = None  # server URL; None = start embedded PostgreSQL
    kafka_bootstrap: str | None = None  # None = start Tansu
    pg_port: int = 55432
    broker_port: int = 19092
    topic_prefix: str = ""
    db_prefix: str = "crm_"
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    env: dict[str, str] = field(default_factory=dict)
    postgres: LocalPostgres | None = None
    broker: LocalBroker | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def start_infrastructure(self) -> None:
        if self.database_url is None:
            if port_open(self.pg_port):
                raise RuntimeError(f"port {self.pg_port} is taken: stop what runs there or pass --pg-port")
            self.postgres = LocalPostgres(self.data_dir / "pgdata", self.pg_port)
            self.postgres.start()
            self.database_url = self.postgres.url
        if self.kafka_bootstrap is None:
            if port_open(self.broker_port):
                raise RuntimeError(f"port {self.broker_port} is taken: stop what runs there or pass --broker-port")
            self.broker = LocalBroker(self.broker_port, self.data_dir / "broker.log")
            self.broker.start()
            self.kafka_bootstrap = self.broker.bootstrap
        asyncio.run(create_topics(self.kafka_bootstrap, prefix=self.topic_prefix))

    def service_env(self, name: str) -> dict[str, str]:
        assert self.database_url and self.kafka_bootstrap
        p = name.upper()
        return {
            f"{p}_DATABASE_URL": service_database_url(self.database_url, name, db_prefix=self.db_prefix),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "CRM_TOPIC_PREFIX": self.topic_prefix,
            **self.env,
        }

    def migrate(self) -> None:
        assert self.database_url
        for name in self.ports:
            migrations.upgrade(name, service_database_url(self.database_url, name, db_prefix=self.db_prefix))

    def start_services(self, names: list[str] | None = None) -> None:
        for name in names or list(self.ports):
            svc = ServiceProcess(name, self.ports[name], self.service_env(name), self.data_dir / "logs" / f"{name}.log")
            svc.start()
            self.services[name] = svc
        for name in names or list(self.ports):
            self.services[name].wait_ready()

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop()
        if self.broker:
            self.broker.stop()
        if self.postgres:
            self.postgres.stop()
