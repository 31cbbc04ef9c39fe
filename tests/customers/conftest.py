"""The customers service in-process (FastAPI lifespan) against the session's real PostgreSQL and broker.

One service per test module keeps the suite lean; tests isolate themselves by unique reps, teams and numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from services.customers.app import build
from services.customers.settings import CustomersSettings
from tests.conftest import World
from tests.harness import auth


@dataclass
class Service:
    client: httpx.AsyncClient
    world: World

    async def create(self, *, owner: str, team: str, **fields) -> dict:
        card = {"number": f"N-{uuid.uuid4().hex[:10]}", "name": fields.pop("name", "测试客户"), "owner_rep_id": owner, "team_id": team, **fields}
        response = await self.client.post("/customers", json=card, headers=auth(owner, "rep", team))
        assert response.status_code == 201, response.text
        return response.json()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest_asyncio.fixture(scope="module")
async def svc(infra, tmp_path_factory) -> AsyncIterator[Service]:
    world = World(infra, tmp_path_factory.mktemp("customers"))
    await world.prepare("customers")
    settings = CustomersSettings(
        database_url=world.database_url("customers"),
        kafka_bootstrap_servers=world.bootstrap,
        topic_prefix=world.prefix,
        retry_max_seconds=1,
        log_json=True,
        log_level="WARNING",
    )
    app = build(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://customers") as client:
            yield Service(client, world)
    await world.close()


@pytest.fixture
def rep() -> tuple[str, str]:
    """A fresh rep and team for one test."""
    return unique("rep"), unique("team")
